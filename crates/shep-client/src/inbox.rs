//! The JetStream inboxes: one stream for every information system's inbox, a subject
//! and a durable consumer per recipient. Only the gateway publishes; each recipient
//! reads its own consumer and acknowledges after its own transaction commits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, stream::Stream};
use egov_pki::Verifier;
use egov_proto::shep::v1::{Envelope, RequestInfo};
use futures::StreamExt;
use prost::Message;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::envelope::{self, Opened};

/// Header naming the gateways the message crossed (comma separated).
pub const ROUTE_HEADER: &str = "Egov-Route";
/// Header with the sender id.
pub const SENDER_HEADER: &str = "Egov-Sender";

/// Names of the stream, subjects and consumers, under an optional prefix that keeps
/// tests (or several deployments on one broker) apart.
#[derive(Debug, Clone)]
pub struct InboxNames {
    prefix: String,
}

impl InboxNames {
    /// `prefix` may be empty; otherwise letters, digits and `_`.
    pub fn new(prefix: &str) -> Self {
        InboxNames {
            prefix: prefix.to_string(),
        }
    }

    /// The stream holding every inbox.
    pub fn stream(&self) -> String {
        if self.prefix.is_empty() {
            "EGOV_INBOX".into()
        } else {
            format!("{}_EGOV_INBOX", self.prefix.to_ascii_uppercase())
        }
    }

    fn base(&self) -> String {
        if self.prefix.is_empty() {
            "egov.inbox".into()
        } else {
            format!("{}.egov.inbox", self.prefix)
        }
    }

    /// Every inbox subject (`<base>.>`).
    pub fn all_subjects(&self) -> String {
        format!("{}.>", self.base())
    }

    /// The subject of one recipient's inbox.
    pub fn subject(&self, system_id: &str) -> String {
        format!("{}.{system_id}", self.base())
    }

    /// The durable consumer of one recipient.
    pub fn consumer(&self, system_id: &str) -> String {
        format!("inbox_{system_id}")
    }

    /// Creates (or updates) the stream: file storage, deduplication by message id over
    /// `duplicate_window`, messages kept at most `max_age`.
    pub async fn ensure_stream(
        &self,
        js: &jetstream::Context,
        duplicate_window: Duration,
        max_age: Duration,
    ) -> Result<Stream, String> {
        self.ensure_stream_limited(js, duplicate_window, max_age, -1)
            .await
    }

    /// [`InboxNames::ensure_stream`], the stream also holding at most `max_bytes` (-1: no
    /// limit); when full, new messages are refused rather than old ones dropped.
    pub async fn ensure_stream_limited(
        &self,
        js: &jetstream::Context,
        duplicate_window: Duration,
        max_age: Duration,
        max_bytes: i64,
    ) -> Result<Stream, String> {
        self.ensure_stream_replicated(js, duplicate_window, max_age, max_bytes, 1)
            .await
    }

    /// [`InboxNames::ensure_stream_limited`] with `replicas` copies of the stream on a
    /// clustered NATS (1 on a single server; 3 keeps the inbox through the loss of one
    /// node of three). An existing stream keeps the replicas it was created with.
    pub async fn ensure_stream_replicated(
        &self,
        js: &jetstream::Context,
        duplicate_window: Duration,
        max_age: Duration,
        max_bytes: i64,
        replicas: usize,
    ) -> Result<Stream, String> {
        js.get_or_create_stream(jetstream::stream::Config {
            name: self.stream(),
            subjects: vec![self.all_subjects()],
            storage: jetstream::stream::StorageType::File,
            duplicate_window,
            max_age,
            max_bytes,
            discard: jetstream::stream::DiscardPolicy::New,
            num_replicas: replicas.max(1),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {}: {e}", self.stream()))
    }

    /// The recipient's durable pull consumer (created if missing).
    pub async fn consumer_for(
        &self,
        js: &jetstream::Context,
        system_id: &str,
        ack_wait: Duration,
        max_deliver: i64,
    ) -> Result<PullConsumer, String> {
        let stream = js
            .get_stream(self.stream())
            .await
            .map_err(|e| format!("stream {}: {e}", self.stream()))?;
        stream
            .get_or_create_consumer(
                &self.consumer(system_id),
                jetstream::consumer::pull::Config {
                    durable_name: Some(self.consumer(system_id)),
                    filter_subject: self.subject(system_id),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait,
                    max_deliver,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("consumer {}: {e}", self.consumer(system_id)))
    }
}

/// Encodes an envelope for the inbox.
pub fn encode(env: &Envelope) -> Vec<u8> {
    env.encode_to_vec()
}

/// A verified message from the inbox.
#[derive(Debug)]
pub struct Delivery {
    /// The verified request.
    pub opened: Opened<RequestInfo>,
    /// The gateways it crossed.
    pub route: Vec<String>,
    /// 1 on the first delivery.
    pub attempt: u64,
}

/// What the handler decided.
#[derive(Debug)]
pub enum Outcome {
    /// Committed: acknowledge.
    Done,
    /// Not committed (a transient failure): deliver again later.
    Retry(String),
    /// Refused for good (e.g. an invalid application): do not deliver again.
    Reject(String),
}

/// Delivery notifications back to the gateway (the [`crate::Client`] implements it).
pub trait Notifier: Send + Sync + 'static {
    /// Reports the final fate of the message `message_id` of `sender`.
    fn notify(
        &self,
        sender: String,
        message_id: String,
        delivered: bool,
        detail: String,
    ) -> impl Future<Output = ()> + Send;
}

impl Notifier for crate::Client {
    async fn notify(&self, sender: String, message_id: String, delivered: bool, detail: String) {
        if let Err(e) = self
            .notify_delivery(&sender, &message_id, delivered, &detail)
            .await
        {
            tracing::warn!(%message_id, error = %e, "delivery notification failed");
        }
    }
}

/// Inbox consumption settings.
#[derive(Debug, Clone)]
pub struct InboxConfig {
    /// The recipient system.
    pub system_id: String,
    /// Its lane in the regulations' diagrams (the `egov.sfe` of its spans; default: the
    /// system id).
    pub lane: String,
    /// How long a delivery may stay unacknowledged before redelivery.
    pub ack_wait: Duration,
    /// Deliveries before giving up (the last failure is reported NOT_DELIVERED).
    pub max_deliver: i64,
    /// Delay before a retried message comes back.
    pub retry_delay: Duration,
    /// Messages fetched per batch.
    pub batch: usize,
    /// Messages handled at once (1: one after the other, in order).
    pub concurrency: usize,
}

impl InboxConfig {
    /// Defaults for `system_id`.
    pub fn new(system_id: &str) -> Self {
        InboxConfig {
            system_id: system_id.to_string(),
            lane: system_id.to_string(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 20,
            retry_delay: Duration::from_millis(500),
            batch: 64,
            concurrency: 1,
        }
    }
}

/// Consumes the inbox until `shutdown`: verifies each message, runs `handler` (which
/// commits its own transaction, deduplicating by messageId with [`first_time`]),
/// acknowledges only after it returns [`Outcome::Done`], and notifies the gateway. Up to
/// `config.concurrency` messages are handled at once; on shutdown the ones in hand are
/// finished first.
pub async fn consume<H, F, N>(
    js: jetstream::Context,
    names: InboxNames,
    config: InboxConfig,
    verifier: Arc<Verifier>,
    notifier: Arc<N>,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), String>
where
    H: Fn(Delivery) -> F + Send + Sync + 'static,
    F: Future<Output = Outcome> + Send + 'static,
    N: Notifier,
{
    let consumer = names
        .consumer_for(&js, &config.system_id, config.ack_wait, config.max_deliver)
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(config.batch)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| format!("inbox {}: {e}", config.system_id))?;
    let handler = Arc::new(handler);
    let config = Arc::new(config);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let result = loop {
        while let Some(done) = running.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "an inbox handler panicked");
            }
        }
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
        };
        let next = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            m = messages.next() => m,
        };
        let msg = match next {
            None => break Err("inbox stream ended".into()),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "inbox receive error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Some(Ok(m)) => m,
        };
        let (handler, verifier, notifier, config) = (
            handler.clone(),
            verifier.clone(),
            notifier.clone(),
            config.clone(),
        );
        running.spawn(async move {
            handle_one(msg, &*handler, &verifier, &*notifier, &config).await;
            drop(slot);
        });
    };
    // what is in hand is finished: committed and acknowledged, or left for redelivery
    while running.join_next().await.is_some() {}
    result
}

async fn handle_one<H, F, N>(
    msg: jetstream::Message,
    handler: &H,
    verifier: &Verifier,
    notifier: &N,
    config: &InboxConfig,
) where
    H: Fn(Delivery) -> F,
    F: Future<Output = Outcome>,
    N: Notifier,
{
    let attempt = msg.info().map(|i| i.delivered as u64).unwrap_or(1);
    let system = config.system_id.clone();
    if let Ok(info) = msg.info() {
        // how long it waited in the stream before this delivery
        let lag = (time::OffsetDateTime::now_utc() - info.published).as_seconds_f64();
        metrics::histogram!("egov_inbox_lag_seconds", "system" => system.clone())
            .record(lag.max(0.0));
    }
    if attempt > 1 {
        metrics::counter!("egov_inbox_redeliveries_total", "system" => system.clone()).increment(1);
    }
    let counted = |outcome: &'static str| {
        metrics::counter!("egov_inbox_messages_total", "system" => system.clone(), "outcome" => outcome)
            .increment(1);
    };
    let route = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(ROUTE_HEADER))
        .map(|v| crate::route::parse(v.as_str()))
        .unwrap_or_default();
    let span = tracing::info_span!("inbox", egov.sfe = %config.lane, system = %config.system_id, attempt, service = tracing::field::Empty, message_id = tracing::field::Empty, egov.correlation = tracing::field::Empty, egov.regulation = tracing::field::Empty, egov.step = tracing::field::Empty, egov.application = tracing::field::Empty);
    if let Some(h) = &msg.headers {
        egov_telemetry::set_parent(&span, egov_telemetry::extract_nats(h));
    }
    // the span is attached to the futures, never entered across an await: a task
    // moves between worker threads, an entered span must not
    let verified = async {
        let env = match Envelope::decode(msg.payload.as_ref()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "undecodable inbox message, terminated");
                counted("undecodable");
                let _ = msg.ack_with(jetstream::AckKind::Term).await;
                return None;
            }
        };
        match envelope::open_request(&env, verifier).await {
            Ok(o) => Some(o),
            Err(e) if e.is_transient() => {
                // the signer's status is unknown for now: deliver again later, refuse
                // nothing
                tracing::warn!(error = %e, "inbox message cannot be verified now; delivered again later");
                counted("unverified-for-now");
                let _ = msg
                    .ack_with(jetstream::AckKind::Nak(Some(config.retry_delay.max(Duration::from_secs(1)))))
                    .await;
                None
            }
            Err(e) => {
                let (sender, id) = envelope::decode_request(&env)
                    .map(|h| (h.sender.map(|s| s.sender_id).unwrap_or_default(), h.message_id))
                    .unwrap_or_default();
                tracing::error!(error = %e, message_id = %id, "inbox message failed verification, refused");
                counted("verification-failed");
                let _ = msg.ack_with(jetstream::AckKind::Term).await;
                notifier
                    .notify(sender, id, false, format!("verification failed: {e}"))
                    .await;
                None
            }
        }
    }
    .instrument(span.clone())
    .await;
    let Some(opened) = verified else {
        return;
    };
    let message_id = opened.header.message_id.clone();
    span.record("service", opened.header.service_id.as_str());
    span.record("message_id", message_id.as_str());
    span.record("egov.correlation", opened.header.correlation_id.as_str());
    let sender = opened
        .header
        .sender
        .as_ref()
        .map(|s| s.sender_id.clone())
        .unwrap_or_default();
    let outcome = handler(Delivery {
        opened,
        route,
        attempt,
    })
    .instrument(span.clone())
    .await;
    match outcome {
        Outcome::Done => {
            counted("done");
            if let Err(e) = msg.double_ack().await {
                // committed but not acknowledged: it comes back and the handler's
                // deduplication absorbs it
                tracing::warn!(%message_id, error = %e, "ack failed");
            } else {
                notifier
                    .notify(sender, message_id, true, String::new())
                    .await;
            }
        }
        Outcome::Retry(why) if (attempt as i64) < config.max_deliver => {
            tracing::warn!(%message_id, attempt, %why, "handler failed, will retry");
            counted("retry");
            let _ = msg
                .ack_with(jetstream::AckKind::Nak(Some(config.retry_delay)))
                .await;
        }
        Outcome::Retry(why) | Outcome::Reject(why) => {
            tracing::warn!(%message_id, attempt, %why, "message refused");
            counted("refused");
            let _ = msg.ack_with(jetstream::AckKind::Term).await;
            notifier.notify(sender, message_id, false, why).await;
        }
    }
}

/// SQL a recipient adds to its migrations for [`first_time`]: messageIds are unique per
/// sender, so the key is both.
pub const DEDUP_TABLE_SQL: &str = "create table if not exists shep_inbox_seen (
    sender_id   text not null,
    message_id  text not null,
    received_at timestamptz not null default now(),
    primary key (sender_id, message_id)
)";

/// Records the message `message_id` of `sender` in the recipient's transaction; false
/// when it was seen before (a redelivery of something already committed: acknowledge and
/// skip it).
pub async fn first_time(
    conn: &mut sqlx::PgConnection,
    sender: &str,
    message_id: &str,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "insert into shep_inbox_seen (sender_id, message_id) values ($1, $2) on conflict do nothing",
    )
    .bind(sender)
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A recipient's way to its inbox: connects to NATS (as the system's own user when
/// `credentials`, with its password from the PKI folder, for a broker with per-system
/// users), and waits up to 30 s for the inbox stream the gateways create. The error says
/// which of the three failed.
pub async fn open_inbox(
    nats_url: &str,
    pki_dir: &std::path::Path,
    system_id: &str,
    credentials: bool,
    prefix: &str,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Result<(jetstream::Context, InboxNames), String> {
    let password = if credentials {
        Some(
            egov_pki::dir::nats_password(pki_dir, system_id)
                .map_err(|e| format!("NATS credentials: {e}"))?,
        )
    } else {
        None
    };
    let nats = crate::nats_auth::connect(nats_url, password.as_deref().map(|p| (system_id, p)))
        .await
        .map_err(|e| format!("NATS {nats_url}: {e}"))?;
    let js = jetstream::new(nats);
    let names = InboxNames::new(prefix);
    // the gateway creates the stream; a system that starts first waits for it
    let mut waited = 0;
    while js.get_stream(names.stream()).await.is_err() {
        if waited > 300 || shutdown.is_cancelled() {
            return Err(format!(
                "the inbox stream {} does not exist",
                names.stream()
            ));
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((js, names))
}
