//! Bad applications: each is rejected with a signed negative status to its sender, with
//! its own code, and nothing is registered; a redelivered message is registered once.

use crate::common::*;
use base64::Engine as _;
use egov_contracts::mio::rejections;
use egov_shep_client::envelope;

struct Case {
    env: Env,
    portal: Inbox,
}

async fn case() -> Case {
    let env = env(&["mio-almaty"]).await;
    let portal = Inbox::open(&env, "portal").await;
    Case { env, portal }
}

fn reg(env: &Env, id: &str) -> std::sync::Arc<egov_regulation::Regulation> {
    env.mio("mio-almaty")
        .engine
        .catalog
        .get(id)
        .unwrap()
        .clone()
}

async fn rejected(c: &Case, message_id: &str, code: &str) -> String {
    let got = c.portal.statuses_until(message_id, "rejected").await;
    let (from, s) = got.last().unwrap();
    assert_eq!(from, "mio-almaty", "the rejection is signed by ИС МИО");
    assert_eq!(s.application_number, None);
    let reason = s.reason.as_ref().unwrap();
    assert_eq!(reason.code, code, "{}", reason.message);
    let registered: i64 = sqlx::query_scalar("select count(*) from applications")
        .fetch_one(&c.env.mio("mio-almaty").engine.pool)
        .await
        .unwrap();
    assert_eq!(registered, 0, "nothing is registered");
    // the gateway knows the recipient refused it
    for _ in 0..100 {
        let st = c.env.client("portal").status(message_id).await.unwrap();
        if st == egov_proto::shep::v1::DeliveryStatus::NotDelivered {
            return reason.message.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("the delivery of {message_id} did not become NOT_DELIVERED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_whose_signature_fails_is_rejected() {
    let c = case().await;
    let r = reg(&c.env, "almaty-2013-housing-queue");
    let doc = application(&r, "family-father", "portal", c.env.clock.today());
    let s = c.env.citizen("family-father");
    let bytes = serde_json::to_vec(&doc).unwrap();
    let sig = egov_pki::cms::sign(
        &bytes,
        &s.key,
        &s.cert,
        &[],
        true,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    // the signed bytes changed after signing
    let mut tampered = bytes.clone();
    let pos = tampered
        .windows(7)
        .position(|w| w == b"family_")
        .unwrap_or(10);
    tampered[pos] ^= 1;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(&egov_contracts::mio::Submission {
        document: b64.encode(&tampered),
        signature: b64.encode(&sig),
    })
    .unwrap();
    let reply = c
        .env
        .client("portal")
        .send_async(
            egov_contracts::mio::services::SUBMIT,
            "almaty",
            egov_proto::shep::v1::MessageType::Request,
            "",
            payload,
        )
        .await
        .unwrap();
    let m = rejected(&c, &reply.message_id, rejections::SIGNATURE_NOT_CONFIRMED).await;
    assert!(
        m.contains("bad-signature") || m.contains("malformed"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_rejected() {
    let c = case().await;
    let r = reg(&c.env, "almaty-2013-housing-queue");
    let doc = application(&r, "family-father", "portal", c.env.clock.today());
    let s = c.env.citizen("family-father");
    let mut pki = c.env.w.authority();
    pki.revoke(
        &s.cert,
        1,
        time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    )
    .unwrap();
    let reply = send(&c.env, "portal", "almaty", &doc, &s).await;
    let m = rejected(&c, &reply.message_id, rejections::SIGNATURE_NOT_CONFIRMED).await;
    assert!(m.contains("revoked"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_signed_by_someone_else_is_rejected() {
    let c = case().await;
    let r = reg(&c.env, "almaty-2013-housing-queue");
    let doc = application(&r, "family-father", "portal", c.env.clock.today());
    let other = c.env.citizen("family-mother");
    let reply = send(&c.env, "portal", "almaty", &doc, &other).await;
    let m = rejected(&c, &reply.message_id, rejections::IIN_MISMATCH).await;
    assert!(m.contains(&other.iin), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_services_providers_and_channels_are_rejected() {
    let c = case().await;
    let r = reg(&c.env, "almaty-2013-housing-queue");
    let s = c.env.citizen("family-father");
    let mut doc = application(&r, "family-father", "portal", c.env.clock.today());
    doc.regulation = None;
    doc.service = "vehicle-registration".into();
    let reply = send(&c.env, "portal", "almaty", &doc, &s).await;
    rejected(&c, &reply.message_id, rejections::UNKNOWN_SERVICE).await;

    let c = case().await;
    let s = c.env.citizen("family-father");
    let mut doc = application(&r, "family-father", "portal", c.env.clock.today());
    doc.provider = "atyrau-city-housing".into();
    let reply = send(&c.env, "portal", "almaty", &doc, &s).await;
    rejected(&c, &reply.message_id, rejections::UNKNOWN_PROVIDER).await;

    // the portal cannot send an application of the ЦОН's channel
    let c = case().await;
    let s = c.env.citizen("family-father");
    let mut doc = application(&r, "family-father", "con", c.env.clock.today());
    operator_for(&mut doc, &s);
    let reply = send(&c.env, "portal", "almaty", &doc, &s).await;
    rejected(&c, &reply.message_id, rejections::WRONG_CHANNEL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_invalid_fields_are_named() {
    let c = case().await;
    let r = reg(&c.env, "almaty-2013-housing-queue");
    let s = c.env.citizen("family-father");
    let mut doc = application(&r, "family-father", "portal", c.env.clock.today());
    doc.applicant.phone = None;
    doc.form.remove("family_size");
    doc.form
        .insert("current_housing".into(), serde_json::json!(""));
    doc.category = "astronauts".into();
    let reply = send(&c.env, "portal", "almaty", &doc, &s).await;
    let m = rejected(&c, &reply.message_id, rejections::INVALID_FORM).await;
    for needle in [
        "applicant.phone",
        "family_size",
        "current_housing",
        "astronauts",
    ] {
        assert!(m.contains(needle), "{needle} in {m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_submission_is_rejected() {
    let c = case().await;
    let reply = c
        .env
        .client("portal")
        .send_async(
            egov_contracts::mio::services::SUBMIT,
            "almaty",
            egov_proto::shep::v1::MessageType::Request,
            "",
            b"{\"document\": 5}".to_vec(),
        )
        .await
        .unwrap();
    rejected(&c, &reply.message_id, rejections::MALFORMED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_application_is_registered_once() {
    let env = env(&["mio-almaty"]).await;
    let r = reg(&env, "almaty-2013-housing-queue");
    let doc = application(&r, "family-father", "portal", env.clock.today());
    let s = env.citizen("family-father");
    let bytes = serde_json::to_vec(&doc).unwrap();
    let sig = egov_pki::cms::sign(
        &bytes,
        &s.key,
        &s.cert,
        &[],
        true,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(&egov_contracts::mio::Submission {
        document: b64.encode(&bytes),
        signature: b64.encode(&sig),
    })
    .unwrap();
    // the same envelope handed to the intake twice, as a redelivery after a lost ack would
    let portal = egov_shep_client::SystemSigner::load(&env.w.pki, "portal").unwrap();
    let info = portal.request_info(
        egov_contracts::mio::services::SUBMIT,
        egov_proto::shep::v1::MessageType::Request,
        "almaty",
        "",
    );
    let sealed = portal.seal_request(&info, payload).unwrap();
    let engine = &env.mio("mio-almaty").engine;
    for attempt in 1..=2 {
        let opened = envelope::open_request(&sealed, &env.w.verifier())
            .await
            .unwrap();
        let outcome = engine
            .intake(egov_shep_client::inbox::Delivery {
                opened,
                route: vec!["shep".into(), "rshep-almaty".into()],
                attempt,
            })
            .await;
        assert!(
            matches!(outcome, egov_shep_client::inbox::Outcome::Done),
            "{outcome:?}"
        );
    }
    let n: i64 = sqlx::query_scalar("select count(*) from applications where message_id = $1")
        .bind(&info.message_id)
        .fetch_one(&engine.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let statuses: i64 = sqlx::query_scalar("select count(*) from status_history")
        .fetch_one(&engine.pool)
        .await
        .unwrap();
    assert_eq!(statuses, 1, "one «поступившие», not two");
}

/// The outbox never takes SE009 for "sent": the gateway says so only when it holds other
/// content under the messageId (a retry of the same message is answered as accepted).
/// The row stays unsent and parked, with the code and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_does_not_take_a_replay_refusal_for_sent() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let client = env.client("mio-almaty");
    let mut info = client.signer().request_info(
        "portal.status.update",
        egov_proto::shep::v1::MessageType::Notification,
        "",
        "corr-outbox",
    );
    info.message_id = uuid::Uuid::new_v4().to_string();
    // the gateway first takes other content under the messageId
    let r = client
        .send_async_with(info.clone(), b"{\"other\":true}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), egov_shep_client::codes::ACCEPTED, "{:?}", r.info);
    let now = env.clock.now();
    sqlx::query(
        "insert into outbox (service_id, route_id, message_type, correlation_id, payload, created_at, next_attempt_at, message_id)
         values ('portal.status.update', '', $1, 'corr-outbox', $2, $3, $3, $4)",
    )
    .bind(egov_proto::shep::v1::MessageType::Notification as i32)
    .bind(b"{\"mine\":true}".to_vec())
    .bind(now)
    .bind(&info.message_id)
    .execute(&mio.engine.pool)
    .await
    .unwrap();
    mio.engine.wake();
    let mut row: (Option<time::OffsetDateTime>, Option<String>, Option<String>) =
        (None, None, None);
    for _ in 0..100 {
        row = sqlx::query_as(
            "select sent_at, gateway_code, last_error from outbox where message_id = $1",
        )
        .bind(&info.message_id)
        .fetch_one(&mio.engine.pool)
        .await
        .unwrap();
        if row.1.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(row.1.as_deref(), Some("SE009"), "{row:?}");
    assert!(row.0.is_none(), "not sent: {row:?}");
    assert!(
        row.2
            .as_deref()
            .unwrap_or_default()
            .contains("other content"),
        "{row:?}"
    );
}

/// C-poa for every representative, whatever the channel: on the portal too, ЕНИС must
/// confirm the power of attorney for this principal, representative and service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_representative_needs_a_power_of_attorney_that_enis_confirms() {
    let c = case().await;
    let r = reg(&c.env, "almaty-2013-housing-queue");
    let today = c.env.clock.today();
    let poas = egov_synth::fixtures::named_poas(today);
    let number = |key: &str| {
        poas.iter()
            .find(|p| p.key == key)
            .unwrap()
            .poa
            .number
            .clone()
    };
    let rep = c.env.citizen("representative");
    let represented = |applicant: &str, poa: Option<String>| {
        let mut doc = application(&r, applicant, "portal", today);
        doc.representative = Some(egov_contracts::mio::Representative {
            iin: rep.iin.clone(),
            name: Some(rep.name.clone()),
        });
        doc.poa = poa.map(|number| egov_contracts::mio::PowerOfAttorney { number });
        doc
    };

    // no number: refused before any question
    let reply = send(
        &c.env,
        "portal",
        "almaty",
        &represented("family-father", None),
        &rep,
    )
    .await;
    let m = rejected(&c, &reply.message_id, rejections::POA_NOT_CONFIRMED).await;
    assert!(m.contains("без номера"), "{m}");
    // a power of attorney that expired: ЕНИС says so, the application is refused
    let reply = send(
        &c.env,
        "portal",
        "almaty",
        &represented("family-father", Some(number("expired"))),
        &rep,
    )
    .await;
    let m = rejected(&c, &reply.message_id, rejections::POA_NOT_CONFIRMED).await;
    assert!(m.contains("expired"), "{m}");
    // another principal's power of attorney
    let reply = send(
        &c.env,
        "portal",
        "almaty",
        &represented("family-father", Some(number("valid-all"))),
        &rep,
    )
    .await;
    let m = rejected(&c, &reply.message_id, rejections::POA_NOT_CONFIRMED).await;
    assert!(m.contains("other-principal"), "{m}");

    // a valid one: registered, and ЕНИС logged the question with ИС МИО as the caller
    let reply = send(
        &c.env,
        "portal",
        "almaty",
        &represented("akzhar", Some(number("valid-all"))),
        &rep,
    )
    .await;
    let app = registered(&c.env, "mio-almaty", &reply.message_id).await;
    assert_eq!(app.representative_iin.as_deref(), Some(rep.iin.as_str()));
    let asked: i64 = sqlx::query_scalar("select count(*) from enis.check_log")
        .fetch_one(&c.env.mio("mio-almaty").engine.pool)
        .await
        .unwrap();
    assert!(asked >= 3, "{asked}");
}

/// The relay sends each message as soon as it can go, and the messages of one
/// correlation id in order: one waits while an older one of its application is pending,
/// and goes once that is sent or given up; another application's does not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_keeps_each_applications_messages_in_order() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let client = env.client("mio-almaty");
    let pool = &mio.engine.pool;
    let now = env.clock.now();
    let put = |corr: &'static str, due: time::OffsetDateTime, id: String| async move {
        sqlx::query(
            "insert into outbox (service_id, route_id, message_type, correlation_id, payload, created_at, next_attempt_at, message_id)
             values ('portal.status.update', '', $1, $2, $3, $4, $5, $6)",
        )
        .bind(egov_proto::shep::v1::MessageType::Notification as i32)
        .bind(corr)
        .bind(format!("{{\"message\":\"{id}\"}}").into_bytes())
        .bind(now)
        .bind(due)
        .bind(&id)
        .execute(pool)
        .await
        .unwrap();
        id
    };
    let sent = |id: String| async move {
        sqlx::query_as::<_, (Option<time::OffsetDateTime>, Option<String>)>(
            "select sent_at, gateway_code from outbox where message_id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let until = |id: String, what: &'static str| async move {
        for _ in 0..200 {
            let row = sent(id.clone()).await;
            if row.1.is_some() {
                return row;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{what}: never tried");
    };
    let new_id = || uuid::Uuid::new_v4().to_string();
    // the first of application 1 not due for an hour; its second due now; application 2's
    // one due now
    let first = put("corr-order-1", now + time::Duration::hours(1), new_id()).await;
    let second = put("corr-order-1", now, new_id()).await;
    let other = put("corr-order-2", now, new_id()).await;
    mio.engine.wake();
    let o = until(other.clone(), "another application's").await;
    assert!(o.0.is_some(), "{o:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        sent(second.clone()).await,
        (None, None),
        "waits behind the first"
    );
    // the first due: sent, then the second
    sqlx::query("update outbox set next_attempt_at = $2 where message_id = $1")
        .bind(&first)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    mio.engine.wake();
    let s2 = until(second.clone(), "the second").await;
    let s1 = sent(first.clone()).await;
    assert!(s1.0.is_some() && s2.0.is_some(), "{s1:?} {s2:?}");
    assert!(s1.0 <= s2.0, "in order: {s1:?} {s2:?}");

    // an older message the gateway refuses for good (other content under its messageId)
    // does not hold the next one back
    let taken = new_id();
    let mut info = client.signer().request_info(
        "portal.status.update",
        egov_proto::shep::v1::MessageType::Notification,
        "",
        "corr-order-3",
    );
    info.message_id = taken.clone();
    let r = client
        .send_async_with(info, b"{\"other\":true}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), egov_shep_client::codes::ACCEPTED, "{:?}", r.info);
    let refused = put("corr-order-3", env.clock.now(), taken).await;
    let next = put("corr-order-3", env.clock.now(), new_id()).await;
    mio.engine.wake();
    let r = until(refused, "the refused one").await;
    assert_eq!((r.0, r.1.as_deref()), (None, Some("SE009")));
    let n = until(next, "the one after it").await;
    assert!(n.0.is_some(), "{n:?}");
}

/// A lease runs out on the system's clock, which a test or a demonstration moves by a
/// month at a stroke: a message still on its way then is due again by that clock, and
/// the relay must not send it a second time beside the first. The gateway here is a
/// black hole (it takes the connection and never answers), so the send stays under way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_on_its_way_is_not_sent_again_when_the_clock_jumps() {
    let env = env(&["mio-almaty"]).await;
    let pool = egov_db::pool(&env.w.db.url, "relay_jump", 4).await.unwrap();
    sqlx::raw_sql(
        "create table outbox (
            id bigserial primary key, service_id text not null, route_id text not null default '',
            message_type int not null, correlation_id text not null, payload bytea not null,
            created_at timestamptz not null, attempts int not null default 0,
            next_attempt_at timestamptz not null, sent_at timestamptz, message_id text,
            gateway_code text, last_error text, trace_parent text)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = hole.accept().await {
            conns.push(c);
        }
    });
    let client = env.w.client_to("mio-almaty", "mio-almaty", "shep", addr);
    let clock = env.clock.clone();
    let mut tx = pool.begin().await.unwrap();
    egov_shep_client::outbox::enqueue(
        &mut tx,
        egov_shep_client::outbox::Outgoing {
            service_id: "portal.status.update",
            route_id: "",
            message_type: egov_proto::shep::v1::MessageType::Notification,
            correlation_id: "corr-jump",
            message_id: uuid::Uuid::new_v4().to_string(),
            trace_parent: None,
        },
        b"{}",
        clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let stop = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(egov_shep_client::outbox::relay(
        pool.clone(),
        client,
        clock.clone(),
        wake.clone(),
        |s| s.to_string(),
        "test",
        stop.clone(),
    ));
    let attempts = || async {
        sqlx::query_scalar::<_, i32>("select attempts from outbox")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let mut leased = false;
    for _ in 0..100 {
        if attempts().await == 1 {
            leased = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(leased, "the relay leased the message");
    // a month passes while the gateway holds the send
    clock.advance(time::Duration::days(31));
    wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(attempts().await, 1, "leased again while on its way");
    relay.abort();
    held.abort();
}
