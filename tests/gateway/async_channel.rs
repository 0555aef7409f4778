//! The async channel: accepted into the recipient's JetStream inbox through ШЭП and
//! РШЭП, consumed with acknowledgement after commit, delivery states, polling, and a
//! recipient that restarts in the middle of a stream with nothing lost and nothing
//! processed twice.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use egov_proto::shep::v1::{DeliveryStatus, GetMessagesRequest, MessageType};
use egov_shep_client::codes;
use egov_shep_client::inbox::{self, Delivery, InboxConfig, Outcome};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

async fn recipient_db(w: &World) -> PgPool {
    let pool = egov_db::pool(&w.db.url, "mio_test", 4).await.unwrap();
    sqlx::query(inbox::DEDUP_TABLE_SQL)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "create table if not exists applications (message_id text primary key, body text not null)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

/// The recipient's handler: registers the application and the message id in one
/// transaction; a redelivery of something committed is acknowledged and skipped.
async fn register(pool: PgPool, d: Delivery, lose_ack_for: Option<String>) -> Outcome {
    let id = d.opened.header.message_id.clone();
    let mut tx = match pool.begin().await {
        Ok(t) => t,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let sender = d
        .opened
        .header
        .sender
        .as_ref()
        .map(|s| s.sender_id.clone())
        .unwrap_or_default();
    match inbox::first_time(&mut tx, &sender, &id).await {
        Ok(true) => {}
        Ok(false) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    let body = String::from_utf8_lossy(&d.opened.payload).to_string();
    if let Err(e) = sqlx::query("insert into applications (message_id, body) values ($1, $2)")
        .bind(&id)
        .bind(body)
        .execute(&mut *tx)
        .await
    {
        return Outcome::Retry(e.to_string());
    }
    if let Err(e) = tx.commit().await {
        return Outcome::Retry(e.to_string());
    }
    if lose_ack_for.as_deref() == Some(id.as_str()) {
        // committed, but the acknowledgement is lost: it must come back and be absorbed
        return Outcome::Retry("simulated crash after commit".into());
    }
    Outcome::Done
}

fn start_consumer(w: &World, pool: PgPool, lose_ack_for: Option<String>) -> CancellationToken {
    let stop = CancellationToken::new();
    let mio = Arc::new(w.mio());
    let mut cfg = InboxConfig::new("mio-almaty");
    cfg.retry_delay = Duration::from_millis(50);
    cfg.ack_wait = Duration::from_secs(2);
    tokio::spawn(inbox::consume(
        w.js(),
        w.names(),
        cfg,
        w.verifier(),
        mio,
        move |d| register(pool.clone(), d, lose_ack_for.clone()),
        stop.clone(),
    ));
    stop
}

async fn count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from applications")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_for(pool: &PgPool, n: i64) {
    for _ in 0..300 {
        if count(pool).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("only {} of {n} applications arrived", count(pool).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_delivered_and_status_tracked() {
    let w = world().await;
    let portal = w.portal();
    let r = portal
        .send_async(
            "mio.application.submit",
            "almaty",
            MessageType::Request,
            "",
            b"{\"application\":1}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
    assert_eq!(
        r.responder, "rshep-almaty",
        "the regional gateway accepts into its region's inbox"
    );
    assert_eq!(
        portal.status(&r.message_id).await.unwrap(),
        DeliveryStatus::OnDelivery
    );

    let pool = recipient_db(&w).await;
    let stop = start_consumer(&w, pool.clone(), None);
    wait_for(&pool, 1).await;
    let mut status = DeliveryStatus::OnDelivery;
    for _ in 0..100 {
        status = portal.status(&r.message_id).await.unwrap();
        if status == DeliveryStatus::Delivered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(status, DeliveryStatus::Delivered);
    stop.cancel();

    // the log shows the message at both gateways (the delivery row is written right
    // after the state changes, so give it a moment)
    let mut events = Vec::new();
    for _ in 0..100 {
        let rows = w
            .journal
            .search(&egov_gateway::journal::Filter {
                message_id: Some(r.message_id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        events = rows
            .iter()
            .map(|r| (r.record.gateway_id.clone(), r.record.event))
            .collect();
        if events.contains(&(
            "rshep-almaty".into(),
            egov_gateway::journal::Event::Delivered,
        )) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    use egov_gateway::journal::Event;
    assert!(
        events.contains(&("rshep-almaty".into(), Event::Published)),
        "{events:?}"
    );
    assert!(
        events.contains(&("rshep-almaty".into(), Event::Delivered)),
        "{events:?}"
    );
    assert!(
        events.contains(&("shep".into(), Event::RequestIn)),
        "{events:?}"
    );

    // a refused async message is not put into any inbox
    let r = portal
        .send_async(
            "mio.application.submit",
            "mars",
            MessageType::Request,
            "",
            b"x".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::UNKNOWN_REGION);
    let e = portal.status(&r.message_id).await.unwrap_err();
    assert!(e.to_string().contains("unknown-message"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_stream_loses_nothing_and_repeats_nothing() {
    let w = world().await;
    let portal = w.portal();
    let pool = recipient_db(&w).await;
    // the recipient is down: messages wait in the inbox
    let mut ids = Vec::new();
    for i in 0..40 {
        let r = portal
            .send_async(
                "mio.application.submit",
                "almaty",
                MessageType::Request,
                "",
                format!("application {i}").into_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(r.code(), codes::ACCEPTED);
        ids.push(r.message_id);
    }
    assert_eq!(count(&pool).await, 0);
    // it comes up, loses one acknowledgement after committing, and is stopped midway
    let stop = start_consumer(&w, pool.clone(), Some(ids[5].clone()));
    wait_for(&pool, 10).await;
    stop.cancel();
    // more arrive while it is down
    for i in 40..60 {
        let r = portal
            .send_async(
                "mio.application.submit",
                "almaty",
                MessageType::Request,
                "",
                format!("application {i}").into_bytes(),
            )
            .await
            .unwrap();
        ids.push(r.message_id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // it restarts and drains everything
    let stop = start_consumer(&w, pool.clone(), None);
    wait_for(&pool, 60).await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // past ack_wait: any stray redelivery would show
    stop.cancel();
    assert_eq!(count(&pool).await, 60, "every message exactly once");
    let seen: i64 = sqlx::query_scalar("select count(*) from shep_inbox_seen")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(seen, 60);
    for id in &ids {
        assert_eq!(
            portal.status(id).await.unwrap(),
            DeliveryStatus::Delivered,
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_recipient_gets_and_acknowledges() {
    let w = world().await;
    let portal = w.portal();
    let r = portal
        .send_async(
            "mio.application.submit",
            "almaty",
            MessageType::Request,
            "",
            b"poll me".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED);
    let mio = w.mio();
    let got = mio
        .async_channel()
        .get_messages(GetMessagesRequest {
            recipient_id: "mio-almaty".into(),
            max_messages: 10,
            wait_millis: 2000,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.messages.len(), 1);
    let m = &got.messages[0];
    let opened =
        egov_shep_client::envelope::open_request(m.envelope.as_ref().unwrap(), &w.verifier())
            .await
            .unwrap();
    assert_eq!(opened.payload, b"poll me");
    assert_eq!(
        m.route,
        vec!["shep".to_string(), "rshep-almaty".to_string()]
    );
    // another system cannot acknowledge (or terminate) mio-almaty's delivery: ИС ЦОН on
    // РШЭП Алматы names itself as the recipient but passes mio-almaty's delivery id
    let con = w.client_on("con-is", "rshep-almaty", &w.rshep);
    for delivered in [true, false] {
        let e = con
            .async_channel()
            .send_delivery_notification(egov_proto::shep::v1::SendDeliveryNotificationRequest {
                recipient_id: "con-is".into(),
                message_id: opened.header.message_id.clone(),
                delivery_id: m.delivery_id.clone(),
                delivered,
                detail: "not mine".into(),
                sender_id: "portal".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(
            e.message().contains("is not one of con-is's inbox"),
            "{e:?}"
        );
    }
    assert_eq!(
        portal.status(&r.message_id).await.unwrap(),
        DeliveryStatus::OnDelivery,
        "nothing changed"
    );
    let st = mio
        .async_channel()
        .send_delivery_notification(egov_proto::shep::v1::SendDeliveryNotificationRequest {
            recipient_id: "mio-almaty".into(),
            message_id: opened.header.message_id.clone(),
            delivery_id: m.delivery_id.clone(),
            delivered: true,
            detail: String::new(),
            sender_id: "portal".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.status, DeliveryStatus::Delivered as i32);
    assert_eq!(
        portal.status(&r.message_id).await.unwrap(),
        DeliveryStatus::Delivered
    );
    // acknowledged: nothing comes back
    let again = mio
        .async_channel()
        .get_messages(GetMessagesRequest {
            recipient_id: "mio-almaty".into(),
            max_messages: 10,
            wait_millis: 300,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.messages.is_empty());
    // another system may not read ИС МИО's inbox
    let e = portal
        .async_channel()
        .get_messages(GetMessagesRequest {
            recipient_id: "mio-almaty".into(),
            max_messages: 1,
            wait_millis: 10,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_by_the_recipient_is_not_delivered() {
    let w = world().await;
    let portal = w.portal();
    let r = portal
        .send_async(
            "mio.application.submit",
            "almaty",
            MessageType::Request,
            "",
            b"invalid form".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED);
    let stop = CancellationToken::new();
    tokio::spawn(inbox::consume(
        w.js(),
        w.names(),
        InboxConfig::new("mio-almaty"),
        w.verifier(),
        Arc::new(w.mio()),
        |_d| async { Outcome::Reject("the form misses required fields".into()) },
        stop.clone(),
    ));
    let mut status = DeliveryStatus::OnDelivery;
    for _ in 0..100 {
        status = portal.status(&r.message_id).await.unwrap();
        if status != DeliveryStatus::OnDelivery {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    stop.cancel();
    assert_eq!(status, DeliveryStatus::NotDelivered);
}
