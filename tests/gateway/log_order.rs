//! The message log's two promises, watched from outside the gateways, on both channels
//! and across one and two hops:
//!
//! - nothing is forwarded that is not logged: when a request reaches its recipient (the
//!   recipient's SyncChannel, or the recipient's inbox), every gateway it crossed already
//!   holds its `request_in` row;
//! - every answer is logged before it is relayed: when the answer reaches the sender,
//!   every gateway it crossed already holds the row of that answer (`response_out`, or
//!   `published` where the message entered the inbox).
//!
//! The rows are read on a connection of their own at the moment the request or the
//! answer arrives, without waiting: a gateway that forwarded or relayed before its row
//! was committed would be caught by a row missing then.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egov_gateway::journal::{Event, Filter, Journal};
use egov_proto::shep::v1::sync_channel_server::{SyncChannel, SyncChannelServer};
use egov_proto::shep::v1::{MessageType, SyncSendMessageRequest, SyncSendMessageResponse};
use egov_shep_client::envelope::{self, SystemSigner};
use egov_shep_client::{Client, codes};
use futures::StreamExt;

/// (gateway, event) of every row of a message.
type Rows = Vec<(String, Event)>;

/// The rows of `message_id` in every gateway's log, as committed now.
async fn rows_now(journal: &Journal, message_id: &str) -> Rows {
    journal
        .search(&Filter {
            message_id: Some(message_id.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.record.gateway_id, r.record.event))
        .collect()
}

fn holds(rows: &Rows, gateway: &str, event: Event) -> bool {
    rows.iter().any(|(g, e)| g == gateway && *e == event)
}

/// A ГБД ФЛ that, as each request reaches it, reads the request's rows in the gateways'
/// log, then answers with the payload, signed.
struct Watching {
    signer: SystemSigner,
    verifier: Arc<egov_pki::Verifier>,
    journal: Journal,
    /// The rows found at each request's arrival, by messageId.
    seen: Arc<Mutex<HashMap<String, Rows>>>,
}

#[tonic::async_trait]
impl SyncChannel for Watching {
    async fn send_message(
        &self,
        request: tonic::Request<SyncSendMessageRequest>,
    ) -> Result<tonic::Response<SyncSendMessageResponse>, tonic::Status> {
        let env = request.into_inner().envelope.unwrap_or_default();
        let opened = envelope::open_request(&env, &self.verifier)
            .await
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let rows = rows_now(&self.journal, &opened.header.message_id).await;
        self.seen
            .lock()
            .unwrap()
            .insert(opened.header.message_id.clone(), rows);
        let info = self
            .signer
            .response_info(&opened.header, codes::SUCCESS, "processed");
        let out = self
            .signer
            .seal_response(&info, opened.payload)
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(SyncSendMessageResponse {
            envelope: Some(out),
        }))
    }
}

/// The test kit's world with ШЭП and РШЭП Алматы, a watching ГБД ФЛ, and what it saw.
async fn world_watching() -> (
    egov_testkit::World,
    Arc<Mutex<HashMap<String, Rows>>>,
    Client,
    Client,
) {
    let mut w = egov_testkit::World::new(&["shep", "rshep-almaty"]).await;
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let recipient = Watching {
        signer: SystemSigner::load(&w.pki, "gbd-fl").unwrap(),
        verifier: w.verifier(),
        journal: w.journal.clone(),
        seen: seen.clone(),
    };
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "gbd-fl").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = w.cancel.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls.server_tls())
            .unwrap()
            .add_service(SyncChannelServer::new(recipient))
            .serve_with_incoming_shutdown(egov_grpc::incoming(listener), async move {
                cancel.cancelled().await
            }),
    );
    w.register("gbd-fl", addr);
    w.start();
    w.ready().await;
    let (portal, mio) = (w.client("portal"), w.client("mio-almaty"));
    (w, seen, portal, mio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_request_is_logged_before_it_goes_on_and_its_answer_before_it_comes_back() {
    let (w, seen, portal, mio) = world_watching().await;
    for (client, path) in [
        (&portal, vec!["shep"]),
        (&mio, vec!["rshep-almaty", "shep"]),
    ] {
        for _ in 0..5 {
            let r = client
                .call("gbd-fl.person.get", "", "", b"{\"iin\":\"1\"}".to_vec())
                .await
                .unwrap();
            assert_eq!(r.code(), codes::SUCCESS, "{:?}", r.info);
            // read before anything else can happen: the answer is in the sender's hands
            let at_sender = rows_now(&w.journal, &r.message_id).await;
            let at_recipient = seen
                .lock()
                .unwrap()
                .remove(&r.message_id)
                .expect("the request reached ГБД ФЛ");
            for gateway in &path {
                assert!(
                    holds(&at_recipient, gateway, Event::RequestIn),
                    "{gateway} forwarded before its row was in the log: {at_recipient:?}"
                );
                assert!(
                    holds(&at_sender, gateway, Event::ResponseOut),
                    "{gateway} relayed the answer before its row was in the log: {at_sender:?}"
                );
            }
        }
    }
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_message_is_logged_before_it_enters_the_inbox_and_its_acceptance_before_it_comes_back()
 {
    let (w, _, portal, _) = world_watching().await;
    let consumer = w
        .names()
        .consumer_for(&w.js(), "mio-almaty", Duration::from_secs(30), 5)
        .await
        .unwrap();
    for i in 0..5 {
        // the inbox is watched before the message is sent
        let journal = w.journal.clone();
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .unwrap();
        let watcher = tokio::spawn(async move {
            let m = batch.next().await.expect("a message in the inbox").unwrap();
            let env =
                <egov_proto::shep::v1::Envelope as prost::Message>::decode(m.payload.as_ref())
                    .unwrap();
            let id = envelope::decode_request(&env).unwrap().message_id;
            let rows = rows_now(&journal, &id).await;
            m.ack().await.unwrap();
            (id, rows)
        });
        let r = portal
            .send_async(
                "mio.application.submit",
                "almaty",
                MessageType::Request,
                "",
                format!("{{\"application\":{i}}}").into_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
        let at_sender = rows_now(&w.journal, &r.message_id).await;
        let (id, in_inbox) = watcher.await.unwrap();
        assert_eq!(id, r.message_id);
        for gateway in ["shep", "rshep-almaty"] {
            assert!(
                holds(&in_inbox, gateway, Event::RequestIn),
                "{gateway} passed the message on before its row was in the log: {in_inbox:?}"
            );
        }
        assert!(
            holds(&at_sender, "rshep-almaty", Event::Published),
            "РШЭП answered before its row was in the log: {at_sender:?}"
        );
        assert!(
            holds(&at_sender, "shep", Event::ResponseOut),
            "ШЭП relayed the acceptance before its row was in the log: {at_sender:?}"
        );
    }
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

/// Makes ШЭП's log refuse the `response_out` rows of `service` until the returned SQL
/// drops the trigger.
async fn fail_answers_at_shep(w: &egov_testkit::World, service: &str) -> sqlx::PgPool {
    let cfg = w.gateway_config("shep");
    let pool = egov_db::pool(&w.db.url, &cfg.schema, 1).await.unwrap();
    sqlx::raw_sql(&format!(
        "create function fail_answers() returns trigger language plpgsql as $$
         begin
           if new.gateway_id = 'shep' and new.event = 'response_out' and new.service_id = '{service}' then
             raise exception 'injected failure';
           end if;
           return new;
         end $$;
         create trigger fail_answers before insert on journal for each row execute function fail_answers();"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool
}

async fn mend_answers(pool: &sqlx::PgPool) {
    sqlx::raw_sql("drop trigger fail_answers on journal; drop function fail_answers();")
        .execute(pool)
        .await
        .unwrap();
}

/// A sync answer ШЭП cannot log is not relayed: the caller gets SE014 (transient), and its
/// retry goes to the recipient again and comes back logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_answer_the_log_cannot_take_is_not_relayed() {
    let (w, seen, portal, _) = world_watching().await;
    let pool = fail_answers_at_shep(&w, "gbd-fl.person.get").await;
    let client = &portal;
    let mut info = client
        .signer()
        .request_info("gbd-fl.person.get", MessageType::Request, "", "");
    info.message_id = uuid::Uuid::new_v4().to_string();
    let payload = b"{\"iin\":\"1\"}".to_vec();
    let r = client
        .call_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::INTERNAL, "{:?}", r.info);
    assert!(
        seen.lock().unwrap().remove(&info.message_id).is_some(),
        "ГБД ФЛ answered"
    );
    let rows = rows_now(&w.journal, &info.message_id).await;
    assert!(!holds(&rows, "shep", Event::ResponseOut), "{rows:?}");
    mend_answers(&pool).await;
    let r = client.call_with(info.clone(), payload).await.unwrap();
    assert_eq!(r.code(), codes::SUCCESS, "the retry: {:?}", r.info);
    let rows = rows_now(&w.journal, &info.message_id).await;
    assert!(holds(&rows, "shep", Event::ResponseOut), "{rows:?}");
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

/// An async acceptance ШЭП cannot log is not relayed: the sender gets SE014 and retries;
/// the message, already in the inbox, is not delivered again, and the retry's answer is
/// logged before it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_acceptance_the_log_cannot_take_is_not_relayed() {
    let (w, _, portal, _) = world_watching().await;
    let pool = fail_answers_at_shep(&w, "mio.application.submit").await;
    let mut info = portal.signer().request_info(
        "mio.application.submit",
        MessageType::Request,
        "almaty",
        "corr-log",
    );
    info.message_id = uuid::Uuid::new_v4().to_string();
    let payload = b"{\"application\":\"unlogged acceptance\"}".to_vec();
    let r = portal
        .send_async_with(info.clone(), payload.clone())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::INTERNAL, "{:?}", r.info);
    assert!(codes::is_transient(r.code()));
    mend_answers(&pool).await;
    let r = portal.send_async_with(info.clone(), payload).await.unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "the retry: {:?}", r.info);
    let rows = rows_now(&w.journal, &info.message_id).await;
    assert!(holds(&rows, "shep", Event::ResponseOut), "{rows:?}");
    let published = rows
        .iter()
        .filter(|(g, e)| g == "rshep-almaty" && *e == Event::Published)
        .count();
    assert_eq!(published, 1, "in the inbox once: {rows:?}");
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}
