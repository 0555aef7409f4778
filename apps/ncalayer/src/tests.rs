//! The protocol without sockets: every answer from the request text alone.

use std::sync::LazyLock;

use egov_pki::authority::{Authority, CertProfile, SubjectSpec};
use egov_pki::keys::KeyAlgorithm;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::keys::{HeldKey, Keyring, Usage};

/// Has a signing and an authentication key.
const BOTH: &str = "870312300046";
/// Has a signing key only.
const SIGN_ONLY: &str = "950101400002";

struct Fixture {
    ca: Authority,
    keys: Vec<(String, &'static str, Vec<u8>, Vec<u8>)>,
}

/// Keys made once (ECDSA: fast) and held anew by each test.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let now = OffsetDateTime::now_utc();
    let alg = KeyAlgorithm::EcdsaP256;
    let root = Authority::new_root("TEST root", alg, now, 2).unwrap();
    let ca = root.new_issuing("TEST issuing", alg, now, 1).unwrap();
    let mut keys = Vec::new();
    for (iin, name, profile, suffix) in [
        (
            BOTH,
            "АХМЕТОВ ЕРЛАН САБИТОВИЧ",
            CertProfile::Signing,
            "sign",
        ),
        (
            BOTH,
            "АХМЕТОВ ЕРЛАН САБИТОВИЧ",
            CertProfile::Authentication,
            "auth",
        ),
        (SIGN_ONLY, "СЕРИКОВА АЙГУЛЬ", CertProfile::Signing, "sign"),
    ] {
        let spec = SubjectSpec::person(egov_iin::Iin::parse(iin).unwrap(), name);
        let issued = ca
            .issue(&spec, profile, alg, now, now + Duration::days(30))
            .unwrap();
        keys.push((
            format!("{iin}-{suffix}.p12"),
            suffix,
            issued.key.unwrap().pkcs8_der().to_vec(),
            issued.cert.der.clone(),
        ));
    }
    Fixture { ca, keys }
});

fn shared_with(select: Option<&str>, control: bool) -> Shared {
    let f = &*FIXTURE;
    let keys = f
        .keys
        .iter()
        .map(|(file, _, key, cert)| {
            let cert = egov_pki::CertInfo::from_der(cert).unwrap();
            let key = egov_pki::PrivateKey::from_pkcs8_der(key).unwrap();
            HeldKey {
                alias: egov_pki::pkcs12::alias_of(&cert),
                file: PathBuf::from("/keys").join(file),
                usage: if cert.allows_document_signing() {
                    Usage::Signing
                } else {
                    Usage::Authentication
                },
                key,
                cert,
                chain: vec![f.ca.cert.clone()],
            }
        })
        .collect::<Vec<_>>();
    Shared::new(
        Keyring::from(keys),
        Dialog {
            select: select.map(str::to_string),
            cancel: false,
        },
        control,
    )
}

fn ask(shared: &Shared, request: Value) -> Value {
    serde_json::from_str(&protocol::answer(&request.to_string(), shared)).unwrap()
}

fn common(method: &str, args: Value) -> Value {
    json!({"module": "kz.gov.pki.knca.commonUtils", "method": method, "args": args})
}

fn failure(v: &Value) -> &str {
    assert_eq!(v["code"], "500", "{v}");
    v["message"].as_str().unwrap()
}

/// The signer's certificate among a CMS's (the set is sorted, the CA may come first).
fn signer(parsed: &egov_pki::cms::Parsed) -> &egov_pki::CertInfo {
    parsed
        .certificates
        .iter()
        .find(|c| !c.is_ca)
        .expect("a signer")
}

/// The signer's IIN and the encapsulated content of a base64 CMS.
fn signed(b64: &str) -> (String, Option<Vec<u8>>) {
    let der = protocol::decode_base64(b64).unwrap();
    let parsed = egov_pki::cms::parse(&der).unwrap();
    (
        signer(&parsed).identity.iin.unwrap().as_string(),
        parsed.content,
    )
}

const DATA: &str = "0JfQsNGP0LLQu9C10L3QuNC1"; // "Заявление"

#[test]
fn the_greeting_and_the_heartbeat() {
    let v: Value = serde_json::from_str(&protocol::greeting()).unwrap();
    assert_eq!(v, json!({"result": {"version": "1.4"}}));
    assert_eq!(
        protocol::answer("--heartbeat--", &shared_with(None, true)),
        "--heartbeat--"
    );
}

#[test]
fn text_that_is_no_json_object_gets_a_json_error() {
    let s = shared_with(None, true);
    for bad in ["not json", "[1,2]", "42", "\"x\"", "{\"module\": ", ""] {
        let v: Value = serde_json::from_str(&protocol::answer(bad, &s)).unwrap();
        assert!(
            failure(&v).starts_with("org.json.JSONException: "),
            "{bad}: {v}"
        );
    }
}

#[test]
fn an_unknown_module_is_module_not_found() {
    let s = shared_with(None, false);
    for req in [
        json!({"module": "kz.digiflow.mobile.extensions", "method": "getVersion"}),
        json!({"method": "browseKeyStore", "args": []}),
        json!({"module": 7, "method": "x"}),
        // the control module when turned off
        json!({"module": "egov.ncalayer.control", "method": "keys"}),
    ] {
        assert_eq!(
            ask(&s, req),
            json!({"success": false, "errorCode": "MODULE_NOT_FOUND"})
        );
    }
}

#[test]
fn an_unknown_method_and_the_xml_ones_are_refused() {
    let s = shared_with(None, true);
    let m = ask(&s, common("createCMSFromFile", json!([])));
    assert_eq!(
        failure(&m),
        "java.lang.NoSuchMethodException: kz.gov.pki.knca.commonUtils.createCMSFromFile. Method: createCMSFromFile"
    );
    let m = ask(
        &s,
        common("signXml", json!(["PKCS12", "SIGNATURE", "<a/>", "", ""])),
    );
    assert!(failure(&m).contains("not supported"), "{m}");
    let m = ask(
        &s,
        json!({"module": "kz.gov.pki.knca.basics", "method": "verify", "args": {}}),
    );
    assert_eq!(m["status"], false);
    assert_eq!(m["code"], "INVOCATION_ERROR");
}

#[test]
fn wrong_argument_counts_and_types_are_java_s_complaints() {
    let s = shared_with(None, true);
    let count = |m: &str| {
        format!("java.lang.IllegalArgumentException: wrong number of arguments. Method: {m}")
    };
    let types = |m: &str| {
        format!("java.lang.IllegalArgumentException: argument type mismatch. Method: {m}")
    };
    let cases = [
        (
            "getActiveTokens",
            json!(["PKCS12"]),
            count("getActiveTokens"),
        ),
        ("getKeyInfo", json!([]), count("getKeyInfo")),
        ("getKeyInfo", Value::Null, count("getKeyInfo")),
        ("getKeyInfo", json!([null]), types("getKeyInfo")),
        ("getKeyInfo", json!([1]), types("getKeyInfo")),
        (
            "getKeyInfo",
            json!({"storage": "PKCS12"}),
            types("getKeyInfo"),
        ),
        (
            "createCAdESFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA]),
            count("createCAdESFromBase64"),
        ),
        (
            "createCAdESFromBase64",
            json!(["PKCS12", 123, DATA, false]),
            types("createCAdESFromBase64"),
        ),
        (
            "createCMSSignatureFromBase64",
            json!(["PKCS12", [7, 7, 7], DATA, false]),
            types("createCMSSignatureFromBase64"),
        ),
        (
            "createCMSSignatureFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA, "true"]),
            types("createCMSSignatureFromBase64"),
        ),
        (
            "createCAdESFromBase64Hash",
            json!(["PKCS12", "SIGNATURE"]),
            count("createCAdESFromBase64Hash"),
        ),
        ("changeLocale", json!([2]), types("changeLocale")),
    ];
    for (method, args, want) in cases {
        let v = ask(&s, common(method, args.clone()));
        assert_eq!(failure(&v), want, "{method} {args}");
    }
}

#[test]
fn bad_base64_is_refused_before_any_key_is_picked() {
    let s = shared_with(None, true);
    let v = ask(
        &s,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "SIGNATURE", "не base64", false]),
        ),
    );
    assert!(
        failure(&v).starts_with("java.lang.IllegalArgumentException: Illegal base64 character"),
        "{v}"
    );
    assert!(
        failure(&v).ends_with(". Method: createCAdESFromBase64"),
        "{v}"
    );
    let v = ask(
        &s,
        common(
            "createCMSSignatureFromBase64",
            json!(["PKCS12", "SIGNATURE", "QUJDRA", false]),
        ),
    );
    assert!(failure(&v).contains("4-byte ending unit"), "{v}");
    let v = ask(
        &s,
        common(
            "createCAdESFromBase64Hash",
            json!(["PKCS12", "SIGNATURE", DATA]),
        ),
    );
    assert!(failure(&v).contains("32 bytes"), "{v}");
}

#[test]
fn the_tokens_and_the_key_info() {
    let s = shared_with(None, true);
    assert_eq!(
        ask(&s, common("getActiveTokens", json!([]))),
        json!({"code": "200", "responseObject": []})
    );
    assert_eq!(
        ask(&s, common("changeLocale", json!(["kk"]))),
        json!({"code": "200"})
    );
    let v = ask(&s, common("getKeyInfo", json!(["PKCS12"])));
    assert_eq!(v["code"], "200", "{v}");
    let info = &v["responseObject"];
    assert_eq!(info["subjectCn"], "АХМЕТОВ ЕРЛАН");
    assert_eq!(
        info["subjectDn"],
        "CN=АХМЕТОВ ЕРЛАН,SURNAME=АХМЕТОВ,SERIALNUMBER=IIN870312300046,C=KZ,G=САБИТОВИЧ"
    );
    assert_eq!(info["issuerCn"], "TEST issuing");
    assert_eq!(info["algorithm"], "EC");
    let key_id = info["keyId"].as_str().unwrap();
    assert!(
        key_id.len() >= 32 && key_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "the key id in hex: {key_id}"
    );
    assert_eq!(key_id.to_ascii_lowercase(), info["alias"].as_str().unwrap());
    assert!(
        info["serialNumber"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
    let before: i64 = info["certNotBefore"].as_str().unwrap().parse().unwrap();
    let after: i64 = info["certNotAfter"].as_str().unwrap().parse().unwrap();
    assert!(
        before < after && after - before >= 29 * 86_400_000,
        "{info}"
    );
    assert!(
        info["pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(!info["authorityKeyIdentifier"].as_str().unwrap().is_empty());
    // another storage than the key files
    let v = ask(&s, common("getKeyInfo", json!(["AKKZIDCardStore"])));
    assert_eq!(failure(&v), "UNKNOWN_STORAGE");
}

#[test]
fn signing_picks_the_key_of_the_usage_asked_for() {
    let s = shared_with(None, true);
    let sign = |key_type: &str, attach: bool| {
        let v = ask(
            &s,
            common(
                "createCAdESFromBase64",
                json!(["PKCS12", key_type, DATA, attach]),
            ),
        );
        assert_eq!(v["code"], "200", "{v}");
        let der = protocol::decode_base64(v["responseObject"].as_str().unwrap()).unwrap();
        egov_pki::cms::parse(&der).unwrap()
    };
    let detached = sign("SIGNATURE", false);
    assert!(detached.content.is_none());
    assert!(signer(&detached).allows_document_signing());
    assert_eq!(
        detached.certificates.len(),
        2,
        "the signer and the issuing CA"
    );
    let attached = sign("SIGNATURE", true);
    assert_eq!(attached.content.as_deref(), Some("Заявление".as_bytes()));
    let auth = sign("AUTHENTICATION", false);
    assert!(!signer(&auth).allows_document_signing());
    // any other key type: any key, the first in the dialog
    let any = sign("123", false);
    assert_eq!(signer(&any).der, signer(&detached).der);
    let v = ask(
        &s,
        common(
            "createCMSSignatureFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA, false]),
        ),
    );
    assert_eq!(signed(v["responseObject"].as_str().unwrap()).0, BOTH);
}

#[test]
fn a_hash_is_signed_detached_over_that_digest() {
    use sha2::Digest as _;
    let s = shared_with(Some(SIGN_ONLY), true);
    let digest = sha2::Sha256::digest("Заявление".as_bytes());
    let v = ask(
        &s,
        common(
            "createCAdESFromBase64Hash",
            json!(["PKCS12", "SIGNATURE", protocol::encode_base64(&digest)]),
        ),
    );
    let (iin, content) = signed(v["responseObject"].as_str().unwrap());
    assert_eq!((iin.as_str(), content), (SIGN_ONLY, None));
}

#[test]
fn the_selected_person_signs_and_has_no_other_key() {
    let s = shared_with(Some(SIGN_ONLY), true);
    let v = ask(
        &s,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA, false]),
        ),
    );
    assert_eq!(signed(v["responseObject"].as_str().unwrap()).0, SIGN_ONLY);
    // a key for authentication: this person has none
    let v = ask(
        &s,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "AUTHENTICATION", DATA, false]),
        ),
    );
    assert_eq!(failure(&v), "EMPTY_KEY_LIST");
    let v = ask(
        &s,
        json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
            "allowedStorages": ["PKCS12"], "format": "cms", "data": DATA,
            "signingParams": {"decode": true, "encapsulate": false},
            "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"]}, "locale": "ru"}}),
    );
    assert_eq!(v["status"], false);
    assert_eq!(
        (v["code"].as_str(), v["message"].as_str()),
        (Some("SIGNING_FAILURE"), Some("EMPTY_KEY_LIST"))
    );
}

#[test]
fn the_control_module_selects_cancels_and_resets() {
    let s = shared_with(None, true);
    let control = |method: &str, args: Value| {
        ask(
            &s,
            json!({"module": "egov.ncalayer.control", "method": method, "args": args}),
        )
    };
    let keys = control("keys", json!([]));
    assert_eq!(
        keys["responseObject"].as_array().unwrap().len(),
        3,
        "{keys}"
    );
    assert_eq!(keys["responseObject"][1]["keyType"], "AUTHENTICATION");
    let v = control("select", json!(["000000000000"]));
    assert!(failure(&v).contains("no held key"), "{v}");
    let v = control("select", json!([SIGN_ONLY]));
    assert_eq!(v["responseObject"].as_array().unwrap().len(), 1, "{v}");
    let sign = || {
        ask(
            &s,
            common(
                "createCAdESFromBase64",
                json!(["PKCS12", "SIGNATURE", DATA, false]),
            ),
        )
    };
    assert_eq!(
        signed(sign()["responseObject"].as_str().unwrap()).0,
        SIGN_ONLY
    );
    // by file name too
    control("select", json!([format!("{BOTH}-sign")]));
    assert_eq!(signed(sign()["responseObject"].as_str().unwrap()).0, BOTH);
    assert_eq!(control("cancel", json!([true])), json!({"code": "200"}));
    assert_eq!(failure(&sign()), "action.canceled");
    assert_eq!(
        failure(&ask(&s, common("getKeyInfo", json!(["PKCS12"])))),
        "action.canceled"
    );
    let v = ask(
        &s,
        json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
            "allowedStorages": null, "format": "cms", "data": DATA,
            "signingParams": {}, "signerParams": {"extKeyUsageOids": []}, "locale": "ru"}}),
    );
    assert_eq!(v, json!({"status": true, "body": {}}));
    assert_eq!(control("reset", json!([])), json!({"code": "200"}));
    assert_eq!(sign()["code"], "200");
    assert_eq!(s.dialog(), Dialog::default());
    // bad control input
    assert!(failure(&control("cancel", json!(["yes"]))).contains("type mismatch"));
    assert!(failure(&control("select", json!([]))).contains("wrong number"));
    assert!(failure(&control("shutdown", json!([]))).contains("NoSuchMethodException"));
}

fn basics(args: Value) -> Value {
    json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": args})
}

#[test]
fn basics_sign_as_ncalayer_js_client_calls_it() {
    let s = shared_with(None, true);
    let v = ask(
        &s,
        basics(
            json!({"allowedStorages": ["PKCS12"], "format": "cms", "data": DATA,
            "signingParams": {"decode": true, "encapsulate": false, "digested": false, "tsaProfile": {}},
            "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.1"]},
            "locale": "ru"}),
        ),
    );
    assert_eq!(v["status"], true, "{v}");
    let pem_text = v["body"]["result"].as_str().unwrap();
    assert!(pem_text.starts_with("-----BEGIN CMS-----\n"), "{pem_text}");
    assert!(pem_text.ends_with("-----END CMS-----\n"), "{pem_text}");
    let parsed = egov_pki::cms::parse(pem_text.as_bytes()).unwrap();
    assert!(parsed.content.is_none());
    assert!(signer(&parsed).allows_document_signing());
    // several documents, attached by default, the text itself without decode
    let v = ask(
        &s,
        basics(
            json!({"allowedStorages": null, "format": "cms", "data": ["один", "два"],
            "signingParams": {}, "signerParams": {"extKeyUsageOids": []}, "locale": "kk"}),
        ),
    );
    let results = v["body"]["result"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{v}");
    let second = egov_pki::cms::parse(results[1].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(second.content.as_deref(), Some("два".as_bytes()));
    // the signer named by IIN; an organisation's key asked for: this PKI's holders are individuals
    let v = ask(
        &s,
        basics(
            json!({"format": "cms", "data": DATA, "signingParams": {"decode": "true", "encapsulate": "false"},
            "signerParams": {"iin": SIGN_ONLY}}),
        ),
    );
    let parsed = egov_pki::cms::parse(v["body"]["result"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(signer(&parsed).identity.iin.unwrap().as_string(), SIGN_ONLY);
    let v = ask(
        &s,
        basics(json!({"format": "cms", "data": DATA, "signingParams": {},
            "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.2.1"]}})),
    );
    assert_eq!(v["message"], "EMPTY_KEY_LIST", "{v}");
    // only hardware storages allowed: no key
    let v = ask(
        &s,
        basics(
            json!({"allowedStorages": ["AKKaztokenStore"], "format": "cms", "data": DATA,
            "signingParams": {}, "signerParams": {}}),
        ),
    );
    assert_eq!(v["message"], "EMPTY_KEY_LIST", "{v}");
}

#[test]
fn basics_refusals_are_in_its_own_shape() {
    let s = shared_with(None, true);
    let refused = |args: Value| {
        let v = ask(&s, basics(args.clone()));
        assert_eq!(v["status"], false, "{args}: {v}");
        assert!(v.get("body").is_none(), "{v}");
        (
            v["code"].as_str().unwrap().to_string(),
            v["details"].as_str().unwrap_or("").to_string(),
        )
    };
    // as recorded from NCALayer
    assert_eq!(
        refused(
            json!({"allowedStorages": null, "format": "cms", "data": "MTEK",
            "signingParams": 555, "signerParams": {"extKeyUsageOids": []}, "locale": "ru"})
        ),
        (
            "INVOCATION_ERROR".into(),
            "org.json.JSONException: JSONObject[\"signingParams\"] is not a JSONObject.".into()
        )
    );
    let cases = [
        (
            json!([1, 2]),
            "INVOCATION_ERROR",
            "\"args\"] is not a JSONObject",
        ),
        (
            json!({"data": DATA, "signingParams": {}}),
            "INVOCATION_ERROR",
            "\"format\"] not found",
        ),
        (
            json!({"format": "cms", "signingParams": {}}),
            "INVOCATION_ERROR",
            "\"data\"] not found",
        ),
        (
            json!({"format": "cms", "data": DATA}),
            "INVOCATION_ERROR",
            "\"signingParams\"] not found",
        ),
        (
            json!({"format": "cms", "data": [], "signingParams": {}}),
            "INVOCATION_ERROR",
            "\"data\"] is not",
        ),
        (
            json!({"format": "cms", "data": [1], "signingParams": {}}),
            "INVOCATION_ERROR",
            "\"data\"] is not",
        ),
        (
            json!({"format": "cms", "data": DATA, "signingParams": {"decode": 1}}),
            "INVOCATION_ERROR",
            "\"decode\"] is not a Boolean",
        ),
        (
            json!({"format": "cms", "data": "!!", "signingParams": {"decode": true}}),
            "INVOCATION_ERROR",
            "Illegal base64 character 21",
        ),
        (
            json!({"format": "cms", "data": DATA, "signingParams": {}, "signerParams": "any"}),
            "INVOCATION_ERROR",
            "\"signerParams\"] is not",
        ),
        (
            json!({"format": "cms", "data": DATA, "signingParams": {}, "allowedStorages": "PKCS12"}),
            "INVOCATION_ERROR",
            "\"allowedStorages\"] is not",
        ),
        (
            json!({"format": "xml", "data": "<a/>", "signingParams": {}}),
            "INVALID_SIGNING_PARAMS",
            "",
        ),
        (
            json!({"format": "pdf", "data": DATA, "signingParams": {}}),
            "INVALID_SIGNING_PARAMS",
            "",
        ),
        (
            json!({"format": "cms", "data": DATA, "signingParams": {"digested": true}}),
            "INVALID_SIGNING_PARAMS",
            "",
        ),
        (
            json!({"format": "cms", "data": DATA, "signingParams": {"digested": true, "encapsulate": false}}),
            "INVALID_SIGNING_PARAMS",
            "",
        ),
    ];
    for (args, code, details) in cases {
        let (c, d) = refused(args.clone());
        assert_eq!(c, code, "{args}");
        assert!(d.contains(details), "{args}: {d}");
    }
}
