//! The operator's signature, the two ways of the АРМ РШЭП: on the operator's own client
//! over the exact bytes handed out (NCALayer style), every failed check under its own
//! code and nothing sent; and by the workstation's keystore, whose keys are kept sealed.
//! The application's message leaves through the outbox: recorded while the gateway is
//! out of reach, delivered once when it is back.

use base64::Engine as _;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::common::{Env, Signer, cms, registered};
use crate::world::*;

const REGULATION: &str = "akzhar-2012-housing-queue";

/// A draft of the citizen `akzhar` at Akzhar's centre; its number.
async fn draft(desk: &Desk) -> String {
    let (s, v) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": REGULATION, "iin": egov_synth::fixtures::iin_of("akzhar").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["number"].as_str().unwrap().to_string()
}

/// A certificate of the test PKI for `iin` in the State Corporation's name, valid
/// `from..until`, of `profile`.
fn certificate(
    env: &Env,
    iin: &str,
    profile: egov_pki::CertProfile,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Signer {
    let pki = env.w.authority();
    let mut spec =
        egov_pki::SubjectSpec::person(egov_iin::Iin::parse(iin).unwrap(), "ОПЕРАТОРОВ ОПЕРАТОР");
    spec.organization = Some(egov_con_is::operators::ORGANIZATION.into());
    spec.bin = Some(egov_con_is::desk::STATE_CORPORATION_BIN.into());
    let issued = pki
        .issue(&spec, profile, pki.issuing.key.algorithm(), from, until)
        .unwrap();
    Signer {
        iin: iin.into(),
        name: "ОПЕРАТОРОВ ОПЕРАТОР".into(),
        key: issued.key.unwrap(),
        cert: issued.cert,
    }
}

async fn outbox_rows(con: &Con) -> i64 {
    rows(con, "outbox").await
}

/// Without the server-held keys the operator signs on their own client: the bytes to
/// sign are the application document itself; a signature by another person, over other
/// bytes, broken, of an expired, authentication-only or revoked certificate, or for no
/// request is refused under its own code with nothing sent and the draft kept; the
/// operator's own signature sends exactly those bytes, which ИС МИО registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_sign_on_their_own_client() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (env, con) = world_with(
        &["mio-nko"],
        Options {
            server_keystore: false,
            switch: false,
        },
    )
    .await;
    let desk = Desk::inspector(&con, "akzhar").await;
    let number = draft(&desk).await;
    let reg = regulation(REGULATION);
    let body = submission(&reg);

    // the workstation signs nothing itself
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            body.clone(),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("SIGN_ON_CLIENT")),
        "{v}"
    );

    // the bytes to sign: the application document, with its digest
    let (s, req) = desk
        .post(
            &format!("/api/v1/applications/{number}/sign-request"),
            body.clone(),
        )
        .await;
    assert_eq!(s, 200, "{req}");
    assert_eq!(req["media_type"], "application/json");
    let bytes = b64.decode(req["bytes"].as_str().unwrap()).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["channel"], "con");
    assert_eq!(doc["operator"]["iin"], desk.iin.as_str());
    assert_eq!(
        req["digest"]["value"].as_str().unwrap(),
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref())
    );
    let request = req["request"].as_str().unwrap().to_string();

    let now = OffsetDateTime::now_utc();
    let own = certificate(
        &env,
        &desk.iin,
        egov_pki::CertProfile::Signing,
        now - Duration::days(1),
        now + Duration::days(365),
    );
    let expired = certificate(
        &env,
        &desk.iin,
        egov_pki::CertProfile::Signing,
        now - Duration::hours(20),
        now - Duration::hours(1),
    );
    let login_only = certificate(
        &env,
        &desk.iin,
        egov_pki::CertProfile::Authentication,
        now - Duration::days(1),
        now + Duration::days(365),
    );
    let revoked = certificate(
        &env,
        &desk.iin,
        egov_pki::CertProfile::Signing,
        now - Duration::days(1),
        now + Duration::days(365),
    );
    env.w
        .authority()
        .revoke(&revoked.cert, 1, now - Duration::minutes(1))
        .unwrap();
    let stranger = env.citizen("akzhar");
    for (what, request, signature, status, code) in [
        (
            "another person's certificate",
            request.clone(),
            cms(&stranger, &bytes),
            422,
            "SIGNER_NOT_OPERATOR",
        ),
        (
            "other bytes",
            request.clone(),
            cms(&own, b"{\"another\": \"document\"}"),
            422,
            "SIGNATURE_MISMATCH",
        ),
        (
            "not base64",
            request.clone(),
            "%%%".to_string(),
            422,
            "SIGNATURE_MALFORMED",
        ),
        (
            "not CMS",
            request.clone(),
            b64.encode(b"not a signature"),
            422,
            "SIGNATURE_MALFORMED",
        ),
        (
            "an expired certificate",
            request.clone(),
            cms(&expired, &bytes),
            422,
            "CERT_EXPIRED",
        ),
        (
            "a certificate for logins only",
            request.clone(),
            cms(&login_only, &bytes),
            422,
            "CERT_WRONG_USAGE",
        ),
        (
            "a revoked certificate",
            request.clone(),
            cms(&revoked, &bytes),
            422,
            "CERT_REVOKED",
        ),
        (
            "no such request",
            uuid::Uuid::new_v4().to_string(),
            cms(&own, &bytes),
            404,
            "SIGN_REQUEST_NOT_FOUND",
        ),
    ] {
        let (s, v) = desk
            .post(
                &format!("/api/v1/applications/{number}/signature"),
                json!({"request": request, "signature": signature}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("подпись не принята")
                || status == 404,
            "{what}: {v}"
        );
    }
    // in Kazakh too
    let kk = Desk::login(&con, &desk.iin).await.kazakh();
    let (_, v) = kk
        .post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"request": request, "signature": cms(&stranger, &bytes)}),
        )
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("қолтаңба қабылданбады"),
        "{v}"
    );
    // nothing sent, the draft as it was
    assert_eq!(outbox_rows(&con).await, 0);
    let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(v["state"], "draft", "{v}");

    // another inspector of the centre cannot use this operator's request
    let other = Desk::login(
        &con,
        &operator("akzhar", egov_con_is::operators::Role::Inspector, 1),
    )
    .await;
    let (s, v) = other
        .post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"request": request, "signature": cms(&own, &bytes)}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("SIGN_REQUEST_NOT_FOUND")),
        "{v}"
    );

    // the operator's own signature: sent with exactly those bytes
    let (s, sent) = desk
        .post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"request": request, "signature": cms(&own, &bytes)}),
        )
        .await;
    assert_eq!(s, 200, "{sent}");
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["delivery"]["state"], "delivered", "{sent}");
    let message_id = sent["message_id"].as_str().unwrap();
    let app = registered(&env, "mio-nko", message_id).await;
    assert_eq!(
        app.applicant_iin,
        egov_synth::fixtures::iin_of("akzhar").as_string()
    );
    // the request is used up
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"request": request, "signature": cms(&own, &bytes)}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("SIGN_REQUEST_NOT_FOUND")),
        "{v}"
    );
    // the workstation issued no key of its own for the operator
    let keyed: i64 =
        sqlx::query_scalar("select count(*) from operators where key_sealed is not null")
            .fetch_one(&con.core.pool)
            .await
            .unwrap();
    assert_eq!(keyed, 0);
}

/// A sign request lasts fifteen minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_request_expires() {
    let (env, con) = world_with(
        &[],
        Options {
            server_keystore: false,
            switch: false,
        },
    )
    .await;
    let desk = Desk::inspector(&con, "akzhar").await;
    let number = draft(&desk).await;
    let (s, req) = desk
        .post(
            &format!("/api/v1/applications/{number}/sign-request"),
            submission(&regulation(REGULATION)),
        )
        .await;
    assert_eq!(s, 200, "{req}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(req["bytes"].as_str().unwrap())
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let own = certificate(
        &env,
        &desk.iin,
        egov_pki::CertProfile::Signing,
        now - Duration::days(1),
        now + Duration::days(365),
    );
    env.clock.advance(Duration::minutes(16));
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"request": req["request"], "signature": cms(&own, &bytes)}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("SIGN_REQUEST_NOT_FOUND")),
        "{v}"
    );
    assert_eq!(outbox_rows(&con).await, 0);
}

/// The keys the workstation signs with are sealed under its keystore key, never in
/// clear; a key an earlier version kept in clear is sealed and still signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workstations_keys_are_sealed() {
    let (_env, con) = world(&[]).await;
    let pool = &con.core.pool;
    let who = egov_con_is::operators::get(
        pool,
        &operator("akzhar", egov_con_is::operators::Role::Inspector, 0),
    )
    .await
    .unwrap()
    .unwrap();
    let issuer = con.core.issuer.get().unwrap().clone();
    let now = con.core.clock.now();
    let (key, cert) =
        egov_con_is::operators::keys(pool, &con.core.keystore, Some(issuer.as_ref()), &who, now)
            .await
            .unwrap();
    let (clear, sealed): (Option<String>, Vec<u8>) =
        sqlx::query_as("select key_pem, key_sealed from operators where iin = $1")
            .bind(&who.iin)
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(clear.is_none());
    assert!(!sealed.windows(5).any(|w| w == b"BEGIN"), "not in clear");
    assert!(
        String::from_utf8_lossy(&sealed)
            .find("PRIVATE KEY")
            .is_none(),
        "not in clear"
    );
    // the same key again, unsealed
    let (again, _) = egov_con_is::operators::keys(pool, &con.core.keystore, None, &who, now)
        .await
        .unwrap();
    assert_eq!(again.to_pem(), key.to_pem());
    // an earlier version's key in clear: sealed at the next start, and it still signs
    sqlx::query(
        "update operators set key_pem = $2, key_nonce = null, key_sealed = null where iin = $1",
    )
    .bind(&who.iin)
    .bind(key.to_pem())
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(
        egov_con_is::operators::seal_clear_keys(pool, &con.core.keystore)
            .await
            .unwrap(),
        1
    );
    let in_clear: i64 =
        sqlx::query_scalar("select count(*) from operators where key_pem is not null")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(in_clear, 0);
    let (after, cert_after) =
        egov_con_is::operators::keys(pool, &con.core.keystore, None, &who, now)
            .await
            .unwrap();
    assert_eq!(after.to_pem(), key.to_pem());
    assert_eq!(cert_after.to_pem(), cert.to_pem());
    // another keystore key does not open it
    let other = egov_con_is::operators::Keystore::new(&[9; 32]);
    assert!(
        egov_con_is::operators::keys(pool, &other, None, &who, now)
            .await
            .is_err()
    );
}

/// The gateway out of reach at the submission: the application is recorded with its
/// message in the outbox (202, queued); when the gateway is back the relay delivers it,
/// and ИС МИО registers it once, whatever the retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_taken_while_the_gateway_is_down_is_delivered_once_when_it_is_back() {
    let (env, con) = world_with(
        &["mio-nko"],
        Options {
            server_keystore: true,
            switch: true,
        },
    )
    .await;
    let desk = Desk::inspector(&con, "akzhar").await;
    let number = draft(&desk).await;
    let switch = con.switch.as_ref().unwrap();
    switch.off();
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            submission(&regulation(REGULATION)),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["state"], "sent", "recorded: {v}");
    assert_eq!(v["delivery"]["state"], "queued", "{v}");
    assert!(v["delivery"]["attempts"].as_i64().unwrap() >= 1, "{v}");
    let message_id = v["message_id"].as_str().unwrap().to_string();
    let mio_pool = env.mio("mio-nko").engine.pool.clone();
    let at_mio = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from applications where message_id = $1")
            .bind(&message_id)
            .fetch_one(&mio_pool)
            .await
            .unwrap()
    };
    assert_eq!(at_mio().await, 0);
    // the gateway is back; the retries' back-off passes on the clock
    switch.on();
    env.clock.advance(Duration::minutes(2));
    con.core.outbox_wake.notify_one();
    let app = registered(&env, "mio-nko", &message_id).await;
    let v = desk
        .until(&number, "delivery", |v| {
            v["delivery"]["state"] == "delivered"
        })
        .await;
    assert_eq!(v["message_id"], message_id.as_str());
    // the relay sends it no more; ИС МИО registered it once
    env.clock.advance(Duration::minutes(5));
    con.core.outbox_wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(at_mio().await, 1);
    let attempts: i32 = sqlx::query_scalar("select attempts from outbox where message_id = $1")
        .bind(&message_id)
        .fetch_one(&con.core.pool)
        .await
        .unwrap();
    assert!(attempts >= 2, "retried: {attempts}");
    // its status comes back to the application
    desk.until(&number, "status from ИС МИО", |v| {
        v["mio_number"] == app.number.as_str()
    })
    .await;
}
