//! Bad input and the refusals NCALayer answers with: on a raw connection, frame by frame,
//! and as `ncalayer-js-client` raises them; never a dropped connection for a bad request.

use egov_pki::keys::KeyAlgorithm;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::world::*;

const DATA: &str = "0JfQsNGP0LLQu9C10L3QuNC1";

fn message(v: &Value) -> &str {
    assert_eq!(v["code"], "500", "{v}");
    v["message"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_ncalayer_s_answer_and_the_connection_serves_on() {
    let s = standin().await;
    let mut ws = connect(&s).await;
    // not JSON, or JSON but no object
    for text in ["not json", "[]", "42", "{\"module\":"] {
        let v: Value = serde_json::from_str(&ask_text(&mut ws, text).await).unwrap();
        assert!(
            message(&v).starts_with("org.json.JSONException: "),
            "{text}: {v}"
        );
    }
    assert_eq!(ask_text(&mut ws, "--heartbeat--").await, "--heartbeat--");
    // unknown module, as KAZTOKEN's probe that ncalayer-js-client sends on connect
    let v = ask(
        &mut ws,
        json!({"module": "kz.digiflow.mobile.extensions", "method": "getVersion"}),
    )
    .await;
    assert_eq!(
        v,
        json!({"success": false, "errorCode": "MODULE_NOT_FOUND"})
    );
    // unknown method
    let v = ask(&mut ws, common("getBundles", json!([]))).await;
    assert_eq!(
        message(&v),
        "java.lang.NoSuchMethodException: kz.gov.pki.knca.commonUtils.getBundles. Method: getBundles"
    );
    // wrong argument count and type (the latter's wording recorded from NCALayer)
    let v = ask(&mut ws, common("getKeyInfo", json!([]))).await;
    assert_eq!(
        message(&v),
        "java.lang.IllegalArgumentException: wrong number of arguments. Method: getKeyInfo"
    );
    let v = ask(
        &mut ws,
        common("createCAdESFromBase64", json!(["PKCS12", 123, DATA, false])),
    )
    .await;
    assert_eq!(
        message(&v),
        "java.lang.IllegalArgumentException: argument type mismatch. Method: createCAdESFromBase64"
    );
    let v = ask(&mut ws, common("getKeyInfo", json!([null]))).await;
    assert!(message(&v).contains("argument type mismatch"), "{v}");
    // bad base64
    let v = ask(
        &mut ws,
        common(
            "createCMSSignatureFromBase64",
            json!(["PKCS12", "SIGNATURE", "#не base64#", true]),
        ),
    )
    .await;
    assert_eq!(
        message(&v),
        "java.lang.IllegalArgumentException: Illegal base64 character 23. Method: createCMSSignatureFromBase64"
    );
    // another storage than the key files
    let v = ask(&mut ws, common("getKeyInfo", json!(["AKKaztokenStore"]))).await;
    assert_eq!(message(&v), "UNKNOWN_STORAGE");
    // basics: its own shape (recorded from NCALayer)
    let v = ask(
        &mut ws,
        json!({"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {
            "allowedStorages": null, "format": "cms", "data": "MTEK", "signingParams": 555,
            "signerParams": {"extKeyUsageOids": []}, "locale": "ru"}}),
    )
    .await;
    assert_eq!(
        v,
        json!({"status": false, "code": "INVOCATION_ERROR",
            "message": "An invoked method threw an exception.",
            "details": "org.json.JSONException: JSONObject[\"signingParams\"] is not a JSONObject."})
    );
    // a binary frame is read as text
    ws.send(Message::binary(
        common("getActiveTokens", json!([]))
            .to_string()
            .into_bytes(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"code": "200", "responseObject": []})
    );
    // after all that, the same connection signs
    let v = ask(
        &mut ws,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA, true]),
        ),
    )
    .await;
    assert_eq!(v["code"], "200", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_dialog_is_action_canceled_and_basics_empty_body() {
    let s = standin().await;
    assert_eq!(
        control(&s, "cancel", json!([true])).await,
        json!({"code": "200"})
    );
    let mut ws = connect(&s).await;
    let v = ask(&mut ws, common("getKeyInfo", json!(["PKCS12"]))).await;
    assert_eq!(v, json!({"code": "500", "message": "action.canceled"}));
    let v = ask(
        &mut ws,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA, false]),
        ),
    )
    .await;
    assert_eq!(message(&v), "action.canceled");
    // the client raises them as a frontend sees them
    let v = node(&s, "cancelled", DATA).await;
    assert_eq!(v["keyInfo"]["message"], "500: action.canceled", "{v}");
    assert_eq!(v["cades"]["message"], "500: action.canceled", "{v}");
    assert_eq!(v["basics"]["message"], "cancelled by user", "{v}");
    assert_eq!(v["basics"]["canceledByUser"], true, "{v}");
    // and signing resumes when the dialog is no longer cancelled
    control(&s, "cancel", json!([false])).await;
    let v = ask(&mut ws, common("getKeyInfo", json!(["PKCS12"]))).await;
    assert_eq!(v["code"], "200", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_a_usage_the_person_has_none_of_is_refused() {
    let s = standin().await;
    let akzhar = iin(SIGN_ONLY);
    control(&s, "select", json!([akzhar])).await;
    let mut ws = connect(&s).await;
    let v = ask(
        &mut ws,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "AUTHENTICATION", DATA, false]),
        ),
    )
    .await;
    assert_eq!(message(&v), "EMPTY_KEY_LIST");
    let v = ask(
        &mut ws,
        common(
            "createCAdESFromBase64",
            json!(["PKCS12", "SIGNATURE", DATA, false]),
        ),
    )
    .await;
    assert_eq!(v["code"], "200", "the signing key signs: {v}");
    // a selector naming nobody changes nothing
    let v = control(&s, "select", json!(["000000000000"])).await;
    assert!(message(&v).contains("no held key"), "{v}");
    // as the client raises them
    let v = node(&s, "refused", DATA).await;
    assert_eq!(v["noAuthKey"]["message"], "500: EMPTY_KEY_LIST", "{v}");
    assert_eq!(
        v["basicsNoAuthKey"]["message"],
        "SIGNING_FAILURE: EMPTY_KEY_LIST (no held key is of the storage, usage and holder asked for)",
        "{v}"
    );
    assert_eq!(v["otherStorage"]["message"], "500: UNKNOWN_STORAGE", "{v}");
    assert!(
        v["badBase64"]["message"]
            .as_str()
            .unwrap()
            .starts_with("500: java.lang.IllegalArgumentException: Illegal base64 character"),
        "{v}"
    );
    assert_eq!(
        v["badType"]["message"],
        "500: java.lang.IllegalArgumentException: argument type mismatch. Method: createCAdESFromBase64",
        "{v}"
    );
    assert_eq!(
        v["badParams"]["message"],
        "INVOCATION_ERROR: An invoked method threw an exception. (org.json.JSONException: JSONObject[\"signingParams\"] is not a JSONObject.)",
        "{v}"
    );
    assert_eq!(v["tokensAfter"], json!([]), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_is_closed_with_1009_and_others_are_served() {
    let s = standin_with(KeyAlgorithm::EcdsaP256, |c| c.max_message_bytes = 64 << 10).await;
    let mut ws = connect(&s).await;
    let big = common(
        "createCAdESFromBase64",
        json!(["PKCS12", "SIGNATURE", "A".repeat(100 << 10), false]),
    );
    // the server may close while the frame is still being written
    let _ = ws.send(Message::text(big.to_string())).await;
    let mut closed_with = None;
    while let Ok(Some(msg)) =
        tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await
    {
        match msg {
            Ok(Message::Close(Some(frame))) => {
                closed_with = Some(frame.code);
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert_eq!(closed_with, Some(CloseCode::Size));
    let mut other = connect(&s).await;
    let v = ask(&mut other, common("getActiveTokens", json!([]))).await;
    assert_eq!(v["code"], "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_module_can_be_turned_off() {
    let s = standin_with(KeyAlgorithm::EcdsaP256, |c| c.control = false).await;
    let v = control(&s, "cancel", json!([true])).await;
    assert_eq!(
        v,
        json!({"success": false, "errorCode": "MODULE_NOT_FOUND"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_closes_the_connections() {
    let s = standin().await;
    let mut ws = connect(&s).await;
    let addr = s.addr;
    drop(s);
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the connection was not closed");
    // nobody listens any more
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, keys) = pki(dir.path(), KeyAlgorithm::EcdsaP256);
    let base = egov_ncalayer::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        pki_dir: pki.clone(),
        keys_password: PASSWORD.into(),
        ..Default::default()
    };
    let start = |cfg: egov_ncalayer::Config| async move {
        match egov_ncalayer::StandIn::build(cfg).await {
            Ok(_) => panic!("the start was not refused"),
            Err(e) => e.to_string(),
        }
    };
    // the folder's files do not open with the default password
    let e = start(egov_ncalayer::Config {
        keys_password: egov_pki::pkcs12::TEST_PASSWORD.into(),
        ..base.clone()
    })
    .await;
    assert!(e.contains(".p12") && e.contains("wrong password"), "{e}");
    // a selection naming no held key
    let e = start(egov_ncalayer::Config {
        select: Some("999999999999".into()),
        ..base.clone()
    })
    .await;
    assert!(e.contains("names no held key"), "{e}");
    // a named key folder that does not exist
    let e = start(egov_ncalayer::Config {
        keys_dir: Some(dir.path().join("nowhere")),
        ..base.clone()
    })
    .await;
    assert!(e.contains("nowhere"), "{e}");
    // a file that is no PKCS#12
    std::fs::write(keys.join("broken.p12"), b"not a key file").unwrap();
    let e = start(base.clone()).await;
    assert!(e.contains("broken.p12") && e.contains("PKCS#12"), "{e}");
    std::fs::remove_file(keys.join("broken.p12")).unwrap();
    // a listed file with its own (wrong) password
    let listed = std::fs::read_dir(&keys)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let e = start(egov_ncalayer::Config {
        keys: vec![egov_ncalayer::KeyFile {
            path: listed.clone(),
            password: Some("not it".into()),
        }],
        ..base.clone()
    })
    .await;
    assert!(e.contains("wrong password"), "{e}");
    // no TLS identity
    let e = start(egov_ncalayer::Config {
        tls_cert: Some(dir.path().join("none.pem")),
        ..base.clone()
    })
    .await;
    assert!(
        e.starts_with("TLS identity") && e.contains("egov up"),
        "{e}"
    );
    // a TLS key of another certificate
    let e = start(egov_ncalayer::Config {
        tls_key: Some(pki.join("systems/egovctl.tls.key.pem")),
        ..base.clone()
    })
    .await;
    assert!(e.contains("does not belong"), "{e}");
    // an address in use
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let e = start(egov_ncalayer::Config {
        addr: taken.local_addr().unwrap(),
        ..base.clone()
    })
    .await;
    assert!(e.contains("cannot listen"), "{e}");
    // and what the settings check refuses before anything is opened
    for (cfg, var) in [
        (
            egov_ncalayer::Config {
                keys_password: String::new(),
                ..base.clone()
            },
            "EGOV_NCALAYER__KEYS_PASSWORD",
        ),
        (
            egov_ncalayer::Config {
                max_message_bytes: 100,
                ..base.clone()
            },
            "EGOV_NCALAYER__MAX_MESSAGE_BYTES",
        ),
        (
            egov_ncalayer::Config {
                select: Some(" ".into()),
                ..base.clone()
            },
            "EGOV_NCALAYER__SELECT",
        ),
    ] {
        let e = cfg.check("ncalayer").unwrap_err().to_string();
        assert!(e.contains(var), "{e}");
    }
    // the right settings start
    egov_ncalayer::StandIn::build(base).await.unwrap();
}
