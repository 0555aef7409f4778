//! Signing as a frontend signs: `ncalayer-js-client` in Node against the stand-in, the
//! signatures checked by OpenSSL and by the portal's C-sign check.

use std::path::Path;

use base64::Engine as _;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::verify::{Usage, VerifyOptions};
use serde_json::{Value, json};

use crate::world::*;

const DATA: &str = "Заявление о постановке на учёт № 42\n";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_else(|| panic!("a base64 string: {v}")))
        .unwrap()
}

/// The portal's C-sign check: the test PKI's verifier (its CRL), a signing key, the
/// citizen's IIN.
async fn c_sign(
    pki: &Path,
    data: &[u8],
    sig: &[u8],
    iin: &str,
) -> Result<egov_pki::Signer, egov_pki::VerifyError> {
    let verifier = egov_pki::Trust::open(pki).unwrap().verifier().unwrap();
    verifier
        .verify_detached(
            data,
            sig,
            &VerifyOptions {
                expected_iin: Some(egov_iin::Iin::parse(iin).unwrap()),
                usage: Usage::Signing,
                require_revocation: true,
                at: None,
            },
        )
        .await
}

/// `openssl cms -verify` of a detached signature over `data.bin` in `dir`, trusting the
/// test root alone.
fn openssl_detached(dir: &Path, pki: &Path, sig: &str, inform: &str) -> (bool, String) {
    let root = pki.join("root.cert.pem");
    openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            inform,
            "-in",
            sig,
            "-content",
            "data.bin",
            "-CAfile",
            root.to_str().unwrap(),
            "-out",
            "/dev/null",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncalayer_js_client_signs_and_openssl_and_the_portal_accept_the_cms() {
    let s = standin_with(KeyAlgorithm::Rsa2048, |_| {}).await;
    let father = iin("family-father");
    let v = control(&s, "select", json!([father])).await;
    assert_eq!(v["code"], "200", "{v}");
    let v = node(&s, "sign", &b64(DATA.as_bytes())).await;

    // what the client saw
    assert_eq!(v["version"], "1.4", "{v}");
    assert_eq!(
        v["tokens"],
        json!([]),
        "no hardware token: the keys are files"
    );
    let info = &v["keyInfo"];
    assert_eq!(info["algorithm"], "RSA", "{info}");
    assert!(
        info["subjectDn"]
            .as_str()
            .unwrap()
            .contains(&format!("SERIALNUMBER=IIN{father}")),
        "{info}"
    );
    assert_eq!(
        info["issuerCn"],
        "TEST egov-mirror Issuing CA (НУЦ РК model)"
    );

    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(dir.join("data.bin"), DATA).unwrap();

    // the detached ones: OpenSSL and C-sign accept them over the exact bytes
    for field in ["cadesDetached", "cmsDetached", "hashDetached"] {
        let sig = unb64(&v[field]);
        let parsed = egov_pki::cms::parse(&sig).unwrap();
        assert!(parsed.content.is_none(), "{field} is detached");
        assert_eq!(
            parsed.certificates.len(),
            2,
            "{field}: signer and issuing CA"
        );
        let file = format!("{field}.der");
        std::fs::write(dir.join(&file), &sig).unwrap();
        let (ok, text) = openssl_detached(dir, &s.pki, &file, "DER");
        assert!(ok, "openssl cms -verify {field}: {text}");
        let signer = c_sign(&s.pki, DATA.as_bytes(), &sig, &father)
            .await
            .unwrap_or_else(|e| panic!("C-sign of {field}: {e}"));
        assert_eq!(signer.identity.iin.unwrap().as_string(), father);
        assert_eq!(signer.revocation, egov_pki::verify::Revocation::Crl);
    }
    // the checks bite: another payload, another IIN
    std::fs::write(dir.join("data.bin"), format!("{DATA}!")).unwrap();
    let (ok, _) = openssl_detached(dir, &s.pki, "cadesDetached.der", "DER");
    assert!(!ok, "openssl accepted a changed payload");
    std::fs::write(dir.join("data.bin"), DATA).unwrap();
    let sig = unb64(&v["cadesDetached"]);
    let e = c_sign(&s.pki, DATA.as_bytes(), &sig, &iin("atyrau"))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "iin-mismatch");
    let e = c_sign(&s.pki, b"another document", &sig, &father)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "bad-signature");

    // attached: OpenSSL gives the content back
    std::fs::write(dir.join("attached.der"), unb64(&v["cadesAttached"])).unwrap();
    let root = s.pki.join("root.cert.pem");
    let (ok, text) = openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "attached.der",
            "-CAfile",
            root.to_str().unwrap(),
            "-out",
            "content.out",
        ],
    );
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(dir.join("content.out")).unwrap(),
        DATA.as_bytes()
    );

    // basics: PEM, detached and attached, and one per document
    let pem_sig = v["basicsDetached"].as_str().unwrap();
    assert!(pem_sig.starts_with("-----BEGIN CMS-----"), "{pem_sig}");
    std::fs::write(dir.join("basics.pem"), pem_sig).unwrap();
    let (ok, text) = openssl_detached(dir, &s.pki, "basics.pem", "PEM");
    assert!(ok, "{text}");
    c_sign(&s.pki, DATA.as_bytes(), pem_sig.as_bytes(), &father)
        .await
        .unwrap();
    let attached = v["basicsAttached"].as_str().unwrap();
    let verifier = egov_pki::Trust::open(&s.pki).unwrap().verifier().unwrap();
    let signer = verifier
        .verify_attached(attached.as_bytes(), &VerifyOptions::default())
        .await
        .unwrap();
    // basics signs the data as given: base64 decoded only with `decode`, as here
    assert_eq!(signer.content, DATA.as_bytes());
    let many = v["basicsMany"].as_array().unwrap();
    assert_eq!(many.len(), 2, "{v}");
    for sig in many {
        c_sign(
            &s.pki,
            DATA.as_bytes(),
            sig.as_str().unwrap().as_bytes(),
            &father,
        )
        .await
        .unwrap();
    }

    // the authentication key's signature: C-sign refuses it, as the portal must
    let auth = unb64(&v["authDetached"]);
    let e = c_sign(&s.pki, DATA.as_bytes(), &auth, &father)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "wrong-usage");
    std::fs::write(dir.join("auth.der"), &auth).unwrap();
    let (ok, _) = openssl_detached(dir, &s.pki, "auth.der", "DER");
    assert!(
        !ok,
        "openssl's S/MIME purpose refuses a clientAuth-only signer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_selection_decides_who_signs() {
    // by configuration
    let atyrau = iin("atyrau");
    let s = standin_with(KeyAlgorithm::EcdsaP256, |c| c.select = Some(atyrau.clone())).await;
    let mut ws = connect(&s).await;
    let who = |v: &Value| {
        let sig = unb64(&v["responseObject"]);
        let parsed = egov_pki::cms::parse(&sig).unwrap();
        parsed
            .certificates
            .iter()
            .find(|c| !c.is_ca)
            .unwrap()
            .identity
            .iin
            .unwrap()
            .as_string()
    };
    let sign = common(
        "createCAdESFromBase64",
        json!(["PKCS12", "SIGNATURE", b64(b"x"), false]),
    );
    assert_eq!(who(&ask(&mut ws, sign.clone()).await), atyrau);
    // by the control module, from another connection, for every connection
    let father = iin("family-father");
    let v = control(&s, "select", json!([father])).await;
    let named = v["responseObject"].as_array().unwrap();
    assert_eq!(named.len(), 2, "a signing and an authentication key: {v}");
    assert_eq!(who(&ask(&mut ws, sign.clone()).await), father);
    // by file name
    let akzhar = iin(SIGN_ONLY);
    control(&s, "select", json!([format!("{akzhar}-sign.p12")])).await;
    assert_eq!(who(&ask(&mut ws, sign.clone()).await), akzhar);
    // the held keys, listed
    let keys = control(&s, "keys", json!([])).await;
    let keys = keys["responseObject"].as_array().unwrap();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(
        keys.iter().filter(|k| k["selected"] == true).count(),
        1,
        "{keys:?}"
    );
    // reset: the configured selection again
    control(&s, "reset", json!([])).await;
    assert_eq!(who(&ask(&mut ws, sign).await), atyrau);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_tls_certificate_is_a_server_certificate_of_the_test_pki() {
    let s = standin().await;
    let root = s.pki.join("root.cert.pem");
    for host in ["127.0.0.1", "localhost"] {
        let (_, greeting) = connect_as(&s, host, &root).await.unwrap();
        assert_eq!(greeting, json!({"result": {"version": "1.4"}}));
    }
    // trusting another PKI's root, the connection fails: the chain is really checked
    let other = tempfile::tempdir().unwrap();
    let (other_pki, _) = pki(other.path(), KeyAlgorithm::EcdsaP256);
    let e = connect_as(&s, "127.0.0.1", &other_pki.join("root.cert.pem"))
        .await
        .unwrap_err();
    assert!(e.starts_with("TLS"), "{e}");
    // and OpenSSL sees a serverAuth certificate for 127.0.0.1 chaining to the root
    let (cert, _) = egov_ncalayer::provision::tls_paths(&s.pki);
    let (ok, text) = openssl(
        s.dir.path(),
        &[
            "verify",
            "-purpose",
            "sslserver",
            "-verify_ip",
            "127.0.0.1",
            "-CAfile",
            s.pki.join("chain.pem").to_str().unwrap(),
            cert.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
}
