//! Bad input on every endpoint of the workstation: each a specific code and a message
//! in the operator's language; logins throttled; roles and centres kept apart.

use serde_json::{Value, json};

use crate::world::*;
use egov_con_is::operators::Role;
use egov_synth::fixtures::iin_of;

async fn raw_post(con: &Con, path: &str, body: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("{}{path}", con.http))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_checked_and_throttled() {
    let (_env, con) = world(&[]).await;
    let iin = operator("almaty-almaly", Role::Inspector, 0);
    for (body, status, want) in [
        (
            json!({"iin": "12345", "password": "x"}).to_string(),
            422,
            "INVALID_IIN",
        ),
        (
            json!({"iin": iin_of("absent").as_string(), "password": "x"}).to_string(),
            401,
            "INVALID_CREDENTIALS",
        ),
        ("{not json".to_string(), 400, "BAD_REQUEST"),
        (
            json!({"iin": iin, "password": "x", "extra": 1}).to_string(),
            400,
            "BAD_REQUEST",
        ),
        (json!({"iin": iin}).to_string(), 400, "BAD_REQUEST"),
    ] {
        let (s, v) = raw_post(&con, "/api/v1/login", &body, None).await;
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
    }
    // five wrong passwords lock the account, even for the right one
    for _ in 0..5 {
        let (s, _) = raw_post(
            &con,
            "/api/v1/login",
            &json!({"iin": iin, "password": "wrong"}).to_string(),
            None,
        )
        .await;
        assert_eq!(s, 401);
    }
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/login", con.http))
        .header("accept-language", "kk")
        .json(&json!({"iin": iin, "password": egov_con_is::DEV_OPERATOR_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "TOO_MANY_ATTEMPTS");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("сәтсіз"),
        "{v}"
    );
    // another operator is not locked
    Desk::login(&con, &operator("almaty-almaly", Role::Inspector, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_bad_input_specifically() {
    let (_env, con) = world(&[]).await;
    let desk = Desk::inspector(&con, "almaty-almaly").await;
    let father = iin_of("family-father").as_string();
    let draft = |body: Value| {
        let desk = &desk;
        async move { desk.post("/api/v1/applications", body).await }
    };
    for (body, status, want) in [
        (
            json!({"regulation": "almaty-2013-housing-queue", "iin": "870312300047"}),
            422,
            "INVALID_IIN",
        ),
        (
            json!({"regulation": "almaty-2013-housing-queue", "iin": "abc"}),
            422,
            "INVALID_IIN",
        ),
        (
            json!({"regulation": "no-such", "iin": father}),
            422,
            "UNKNOWN_REGULATION",
        ),
        // a regulation of another region than the centre's
        (
            json!({"regulation": "akzhar-2012-housing-queue", "iin": father}),
            422,
            "UNKNOWN_REGULATION",
        ),
        (
            json!({"regulation": "almaty-2013-housing-queue", "iin": father, "provider": "no-such"}),
            422,
            "UNKNOWN_PROVIDER",
        ),
        (
            json!({"regulation": "almaty-2013-housing-queue", "iin": father, "representative": {"iin": "1", "poa_number": "1"}}),
            422,
            "INVALID_IIN",
        ),
        (
            json!({"regulation": "almaty-2013-housing-queue", "iin": father, "representative": {"iin": father, "poa_number": "1"}}),
            422,
            "INVALID",
        ),
        (
            json!({"regulation": "almaty-2013-housing-queue"}),
            400,
            "BAD_REQUEST",
        ),
        (
            json!({"regulation": "almaty-2013-housing-queue", "iin": father, "x": 1}),
            400,
            "BAD_REQUEST",
        ),
    ] {
        let (s, v) = draft(body.clone()).await;
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(rows(&con, "applications").await, 0, "nothing was written");

    // a draft, then bad submissions
    let (s, d) = draft(json!({"regulation": "almaty-2013-housing-queue", "iin": father})).await;
    assert_eq!(s, 201, "{d}");
    let number = d["number"].as_str().unwrap().to_string();
    let reg = regulation("almaty-2013-housing-queue");
    let submit = format!("/api/v1/applications/{number}/submit");
    let mut unknown_category = submission(&reg);
    unknown_category["category"] = json!("no-such");
    let mut unknown_kind = submission(&reg);
    unknown_kind["documents"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "no-such", "paper": true}));
    let mut not_base64 = submission(&reg);
    not_base64["documents"][0]["content"] = json!("***");
    for (body, status, want) in [
        (unknown_category, 422, "UNKNOWN_CATEGORY"),
        (unknown_kind, 422, "INVALID_FORM"),
        (not_base64, 422, "INVALID_FORM"),
        (json!({"documents": []}), 400, "BAD_REQUEST"),
    ] {
        let (s, v) = desk.post(&submit, body.clone()).await;
        assert_eq!((s, code(&v)), (status, want), "{body}: {v}");
    }
    let (s, v) = desk
        .post(
            "/api/v1/applications/ALM-ALM-2026-999999/submit",
            submission(&reg),
        )
        .await;
    assert_eq!((s, code(&v)), (404, "NOT_FOUND"), "{v}");
    // the receipt of a draft does not exist yet
    let (s, v) = desk
        .get(&format!("/api/v1/applications/{number}/receipt.pdf"))
        .await;
    assert_eq!((s, code(&v)), (409, "CONFLICT"), "{v}");
    let (s, v) = desk
        .get(&format!("/api/v1/applications/{number}/result.pdf"))
        .await;
    assert_eq!((s, code(&v)), (404, "NO_RESULT"), "{v}");

    // another centre's operator sees nothing of it
    let other = Desk::inspector(&con, "almaty-medeu").await;
    for path in [
        format!("/api/v1/applications/{number}"),
        format!("/api/v1/applications/{number}/receipt.pdf"),
    ] {
        let (s, v) = other.get(&path).await;
        assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{path}: {v}");
    }
    let (s, v) = other.post(&submit, submission(&reg)).await;
    assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{v}");
    let (_, list) = other.get("/api/v1/applications").await;
    assert_eq!(list["applications"], json!([]));
    // only the inspector takes applications
    let courier = Desk::login(&con, &operator("almaty-almaly", Role::Courier, 0)).await;
    let (s, v) = courier
        .post(
            "/api/v1/applications",
            json!({"regulation": "almaty-2013-housing-queue", "iin": father}),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{v}");
    let (s, v) = courier.post(&submit, submission(&reg)).await;
    assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{v}");
    let (_, app) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(app["state"], "draft", "the refusals changed nothing: {app}");

    // no token, a wrong token, a logged-out token
    for token in [None, Some("0".repeat(64))] {
        let (s, v) = raw_post(&con, "/api/v1/applications", "{}", token.as_deref()).await;
        assert_eq!((s, code(&v)), (401, "UNAUTHORIZED"), "{v}");
    }
    let (s, _) = desk.post("/api/v1/logout", json!({})).await;
    assert_eq!(s, 204);
    let (s, v) = desk.get("/api/v1/me").await;
    assert_eq!((s, code(&v)), (401, "UNAUTHORIZED"), "{v}");

    // the public look-up
    for (n, status, want) in [
        ("ALM-ALM-2026-999999", 404, "NOT_FOUND"),
        ("bad number", 422, "INVALID_NUMBER"),
        ("alm-alm-1", 422, "INVALID_NUMBER"),
    ] {
        let r = reqwest::get(format!("{}/api/v1/public/applications/{n}", con.http))
            .await
            .unwrap();
        let s = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!((s, code(&v)), (status, want), "{n}: {v}");
    }
    let r = reqwest::get(format!("{}/api/v1/public/applications/{number}", con.http))
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "draft");
    assert!(!v.to_string().contains(&father), "{v}");
    // an unknown path
    let r = reqwest::get(format!("{}/api/v1/nothing", con.http))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // every answer, errors included, hardened against sniffing and framing
    for path in ["/api/v1/nothing", "/api/openapi.json", "/api/v1/me"] {
        let r = reqwest::get(format!("{}{path}", con.http)).await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            h["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
    }
}
