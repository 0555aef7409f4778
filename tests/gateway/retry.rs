//! A retried async message is never lost. A failure between the checks and the delivery
//! (the inbox unavailable, the message log failing, the next gateway failing) leaves no
//! mark, so the sender's retry with the same messageId and content is delivered, exactly
//! once; a retry of a delivered message gets the first attempt's outcome and is not
//! delivered again; the same messageId with other content is a replay (SE009).
//! Deduplication keys on the sender and the messageId together, in the gateway, in
//! JetStream and in the recipient's inbox table.

use egov_grpc::Listening as _;
use std::time::Duration;

use crate::common::*;
use egov_proto::shep::v1::MessageType;
use egov_shep_client::codes;
use egov_shep_client::inbox;

/// How many messages the inboxes of this world hold.
async fn in_inboxes(w: &World) -> u64 {
    match w.js().get_stream(w.names().stream()).await {
        Ok(mut s) => s.info().await.unwrap().state.messages,
        Err(_) => 0,
    }
}

/// The inboxes become unavailable: the stream is gone.
async fn break_inboxes(w: &World) {
    w.js().delete_stream(w.names().stream()).await.unwrap();
}

async fn mend_inboxes(w: &World) {
    w.names()
        .ensure_stream(&w.js(), Duration::from_secs(120), Duration::from_secs(3600))
        .await
        .unwrap();
}

fn submit(c: &egov_shep_client::Client) -> egov_proto::shep::v1::RequestInfo {
    c.signer().request_info(
        "mio.application.submit",
        MessageType::Request,
        "almaty",
        "corr-retry",
    )
}

/// The inbox fails at the last gateway (РШЭП): it answers SE011, ШЭП relays it, and
/// neither keeps a mark; the retry goes through both and lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_inbox_failed_is_delivered_once() {
    let w = world().await;
    let portal = w.portal();
    let info = submit(&portal);
    let payload = b"{\"application\":\"retry\"}".to_vec();

    break_inboxes(&w).await;
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::UNAVAILABLE, "{:?}", r.info);
    mend_inboxes(&w).await;
    assert_eq!(in_inboxes(&w).await, 0);

    // the retry: the same messageId and content, a new header date and signature
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 1);

    // a retry of the delivered message: the first outcome, not a second copy
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    let msg = r.info.status.clone().unwrap().message;
    assert!(msg.contains("a retry: delivered once"), "{msg}");
    assert_eq!(in_inboxes(&w).await, 1);

    // the same messageId with other content is a replay
    let r = portal
        .send_async_with(info.clone(), b"{\"application\":\"other\"}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::DUPLICATE, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 1);
}

/// The inbox fails at the first gateway (ИС МИО's status to the portal lands on ШЭП).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_inbox_failed_at_the_central_gateway_is_delivered_once() {
    let w = world().await;
    let mio = w.mio();
    let info = mio.signer().request_info(
        "portal.status.update",
        MessageType::Notification,
        "",
        "corr-status",
    );
    let payload = b"{\"status\":\"received\"}".to_vec();
    break_inboxes(&w).await;
    let r = mio
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::UNAVAILABLE, "{:?}", r.info);
    mend_inboxes(&w).await;
    let r = mio
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    let r = mio
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 1);
}

/// The message log fails for this message at ШЭП (SE014, nothing forwarded); the retry
/// is logged, forwarded and delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_message_log_failed_is_delivered_once() {
    let w = world().await;
    let portal = w.portal();
    let info = submit(&portal);
    let payload = b"{\"application\":\"log\"}".to_vec();
    let pool = egov_db::pool(&w.db.url, &w.config.schema, 1).await.unwrap();
    sqlx::raw_sql(&format!(
        "create function fail_one() returns trigger language plpgsql as $$
         begin
           if new.message_id = '{id}' and new.gateway_id = 'shep' then
             raise exception 'injected failure';
           end if;
           return new;
         end $$;
         create trigger fail_one before insert on journal for each row execute function fail_one();",
        id = info.message_id
    ))
    .execute(&pool)
    .await
    .unwrap();
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::INTERNAL, "{:?}", r.info);
    assert_eq!(
        in_inboxes(&w).await,
        0,
        "nothing forwarded that is not logged"
    );
    sqlx::raw_sql("drop trigger fail_one on journal; drop function fail_one();")
        .execute(&pool)
        .await
        .unwrap();
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 1);
    // the chain is intact after the failed batch
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

/// The message log fails for this message at РШЭП, the gateway that publishes into the
/// inbox and records the delivery state while it logs: SE014, nothing in the inbox, and
/// no delivery state left behind; the retry is logged, published and delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_message_log_failed_at_the_publishing_gateway_is_delivered_once() {
    let w = world().await;
    let portal = w.portal();
    let info = submit(&portal);
    let payload = b"{\"application\":\"log at rshep\"}".to_vec();
    let pool = egov_db::pool(&w.db.url, &w.config.schema, 1).await.unwrap();
    sqlx::raw_sql(&format!(
        "create function fail_one() returns trigger language plpgsql as $$
         begin
           if new.message_id = '{id}' and new.gateway_id = 'rshep-almaty' then
             raise exception 'injected failure';
           end if;
           return new;
         end $$;
         create trigger fail_one before insert on journal for each row execute function fail_one();",
        id = info.message_id
    ))
    .execute(&pool)
    .await
    .unwrap();
    let states = async || -> Vec<String> {
        sqlx::query_scalar("select status from deliveries where message_id = $1")
            .bind(&info.message_id)
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::INTERNAL, "{:?}", r.info);
    assert_eq!(r.responder, "rshep-almaty");
    assert_eq!(
        in_inboxes(&w).await,
        0,
        "nothing forwarded that is not logged"
    );
    assert_eq!(
        states().await,
        Vec::<String>::new(),
        "no delivery state for a message that went nowhere"
    );
    sqlx::raw_sql("drop trigger fail_one on journal; drop function fail_one();")
        .execute(&pool)
        .await
        .unwrap();
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 1);
    assert_eq!(states().await, ["ON_DELIVERY"]);
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

/// Two systems may pick the same messageId: each message is delivered, and the
/// recipient's deduplication tells them apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_id_from_two_senders_is_two_messages() {
    let w = world().await;
    let portal = w.portal();
    let con = w.client_on("con-is", "shep", &w.shep);
    let a = submit(&portal);
    let mut b = con.signer().request_info(
        "mio.application.submit",
        MessageType::Request,
        "almaty",
        "corr-retry",
    );
    b.message_id = a.message_id.clone();
    let r = portal
        .send_async_with(a, b"{\"from\":\"portal\"}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    let r = con
        .send_async_with(b.clone(), b"{\"from\":\"con\"}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 2);
    // each sender asks after its own message
    assert!(portal.status(&b.message_id).await.is_ok());
    assert!(con.status(&b.message_id).await.is_ok());

    // the recipient's table keys on both
    let pool = egov_db::pool(&w.db.url, "dedup_test", 1).await.unwrap();
    sqlx::query(inbox::DEDUP_TABLE_SQL)
        .execute(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert!(
        inbox::first_time(&mut tx, "portal", &b.message_id)
            .await
            .unwrap()
    );
    assert!(
        inbox::first_time(&mut tx, "con-is", &b.message_id)
            .await
            .unwrap()
    );
    assert!(
        !inbox::first_time(&mut tx, "con-is", &b.message_id)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

/// After a restart the gateway still answers a retry of a delivered message with its
/// outcome (the marks come back from the message log), and refuses other content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gateway_remembers_what_it_delivered() {
    let w = world().await;
    let mio = w.mio();
    let info = mio.signer().request_info(
        "portal.status.update",
        MessageType::Notification,
        "",
        "corr-restart",
    );
    let payload = b"{\"status\":\"received\"}".to_vec();
    let r = mio
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(in_inboxes(&w).await, 1);

    // РШЭП Алматы starts again (a new instance on the same log)
    let rshep = w.start_gateway("rshep-almaty").await;
    let mio = w.client_on("mio-almaty", "rshep-almaty", &rshep);
    let r = mio
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(
        r.responder, "rshep-almaty",
        "answered from the restarted gateway's own marks, not forwarded"
    );
    let msg = r.info.status.clone().unwrap().message;
    assert!(msg.contains("a retry: delivered once"), "{msg}");
    assert_eq!(in_inboxes(&w).await, 1);
    let r = mio
        .send_async_with(info.clone(), b"{\"status\":\"other\"}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::DUPLICATE, "{:?}", r.info);
}

/// The CA out of reach (OCSP and the CRL distribution point) with no current CRL: the
/// sender's certificate status is unknown for now. The gateway answers SE017, a
/// transient code senders retry, never SE004.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_out_of_reach_is_a_transient_refusal() {
    let w = world().await;
    // the same PKI, with a CRL past its nextUpdate, and an OCSP responder nobody answers
    let pki = w.dir.path().join("pki-stale");
    copy_dir(&w.pki, &pki);
    let ca = w.dir.path().join("ca-stale");
    copy_dir(&w.ca, &ca);
    egov_pki::PkiDir::open(&pki, &ca)
        .unwrap()
        .write_crl(time::OffsetDateTime::now_utc() - time::Duration::days(400))
        .unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ocsp = format!("http://{}/ocsp", dead.local_addr().unwrap());
    let crl = format!("http://{}/crl", dead.local_addr().unwrap());
    drop(dead);
    let mut g = egov_gateway::Gateway::build(egov_gateway::Config {
        gateway_id: "shep".into(),
        pki_dir: pki.clone(),
        ocsp_url: Some(ocsp),
        crl_url: Some(crl),
        ..w.config.clone()
    })
    .await
    .unwrap();
    g.set_endpoint("rshep-almaty", &w.rshep);
    let addr = g.grpc_addr().to_string();
    tokio::spawn(g.run(w.cancel.clone()));
    let portal = w.client_on("portal", "shep", &addr);
    let r = portal
        .send_async(
            "mio.application.submit",
            "almaty",
            MessageType::Request,
            "",
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::REVOCATION_UNKNOWN, "{:?}", r.info);
    assert!(codes::is_transient(r.code()));
    assert_eq!(in_inboxes(&w).await, 0);
    // the same message through a gateway that reaches the CA: delivered
    let r = w
        .portal()
        .send_async(
            "mio.application.submit",
            "almaty",
            MessageType::Request,
            "",
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
