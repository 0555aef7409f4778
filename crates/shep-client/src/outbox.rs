//! The outbox, shared by the systems that send asynchronous messages from a transaction
//! (ИС МИО's statuses, ИС ЦОН's applications): every message a transaction must send is
//! a row of that transaction's `outbox` table, with its messageId fixed at that moment; a
//! relay sends the rows through the gateway after commit (woken by the commit, and every
//! second), each as soon as it is leased, the messages of one correlation id in order and
//! different ones at once, retrying transient failures with back-off. A resend carries the same messageId, which
//! the gateway and JetStream deduplicate, so a message is delivered once however often it
//! is sent.
//!
//! The table (in the system's own schema):
//!
//! ```sql
//! create table outbox (
//!     id bigserial primary key, service_id text not null, route_id text not null default '',
//!     message_type int not null, correlation_id text not null, payload bytea not null,
//!     created_at timestamptz not null, attempts int not null default 0,
//!     next_attempt_at timestamptz not null, sent_at timestamptz, message_id text,
//!     gateway_code text, last_error text, trace_parent text);
//! ```
//!
//! Each message is sent under a span of the system's lane (`outbox.send`) whose parent is
//! the message's `trace_parent`: the trace of the application it is about, so that a
//! status sent days after the application arrived joins the application's one trace.

use std::sync::Arc;
use std::time::Duration;

use egov_calendar::Clock;
use egov_proto::shep::v1::MessageType;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Client, codes};

/// A message to send, as a transaction writes it.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The service (`mio.application.submit`, `con-is.status.update`, ...).
    pub service_id: &'a str,
    /// The routeId (the region for a regional system; empty otherwise).
    pub route_id: &'a str,
    /// Request or notification.
    pub message_type: MessageType,
    /// The correlation id: the messages of one go in order.
    pub correlation_id: &'a str,
    /// The messageId, fixed now (every resend carries it).
    pub message_id: String,
    /// The W3C `traceparent` to send it under (the application's trace), if any.
    pub trace_parent: Option<String>,
}

/// Writes one message to send in the caller's transaction; returns its messageId.
pub async fn enqueue(
    conn: &mut PgConnection,
    m: Outgoing<'_>,
    payload: &[u8],
    now: OffsetDateTime,
) -> sqlx::Result<String> {
    sqlx::query(
        "insert into outbox (service_id, route_id, message_type, correlation_id, payload, created_at, next_attempt_at, message_id, trace_parent)
         values ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
    )
    .bind(m.service_id)
    .bind(m.route_id)
    .bind(m.message_type as i32)
    .bind(m.correlation_id)
    .bind(payload)
    .bind(now)
    .bind(&m.message_id)
    .bind(&m.trace_parent)
    .execute(conn)
    .await?;
    Ok(m.message_id)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    service_id: String,
    route_id: String,
    message_type: i32,
    correlation_id: String,
    payload: Vec<u8>,
    attempts: i32,
    message_id: Option<String>,
    trace_parent: Option<String>,
}

/// Codes after which sending again cannot help.
fn permanent(code: &str) -> bool {
    !(codes::is_success(code) || codes::is_transient(code))
}

/// How a log line shows an error (a system masks personal data in it).
pub type Mask = fn(&str) -> String;

/// Messages on their way through the gateway at once, at most.
pub const SENDS_AT_ONCE: usize = 16;

/// Sends pending rows until `shutdown`, each on a task of its own as soon as it is
/// leased (no send waits for another's answer unless they share a correlation id); woken
/// by `wake` after each commit that wrote some, when a send ends, and every second
/// otherwise. On shutdown the sends under way are finished. `lane` names the sending
/// system's lane in the spans (`egov.sfe`).
pub async fn relay(
    pool: PgPool,
    client: Client,
    clock: Clock,
    wake: Arc<Notify>,
    mask: Mask,
    lane: &'static str,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(SENDS_AT_ONCE));
    let mut sending = JoinSet::new();
    let in_flight = InFlight::default();
    loop {
        while sending.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free > 0 {
            match lease(&pool, &clock, free, &in_flight.ids()).await {
                Ok(rows) if !rows.is_empty() => {
                    for r in rows {
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        let (pool, client, clock) = (pool.clone(), client.clone(), clock.clone());
                        let sending_row = in_flight.take(r.id);
                        sending.spawn(async move {
                            if let Err(e) = send_one(&pool, &client, &clock, mask, lane, r).await {
                                tracing::warn!(error = %mask(&e.to_string()), "outbox relay");
                            }
                            drop(sending_row);
                            drop(slot);
                        });
                    }
                    // more may be due
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %mask(&e.to_string()), "outbox relay"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    while sending.join_next().await.is_some() {}
}

/// The rows a relay is sending now. A lease runs out on the system's clock, which tests
/// and demonstrations move forward by days at a stroke; a row still on its way is then
/// due again by the clock, and this keeps the relay from sending it a second time
/// beside the first (the gateway would refuse the copy as a replay).
#[derive(Clone, Default)]
pub struct InFlight(Arc<std::sync::Mutex<std::collections::HashSet<i64>>>);

impl InFlight {
    /// The ids being sent, for the lease to pass over.
    pub fn ids(&self) -> Vec<i64> {
        self.0
            .lock()
            .expect("in-flight set")
            .iter()
            .copied()
            .collect()
    }

    /// Marks row `id` as being sent until the returned guard is dropped.
    pub fn take(&self, id: i64) -> Sending {
        self.0.lock().expect("in-flight set").insert(id);
        Sending(self.clone(), id)
    }
}

/// A row being sent: removed from its [`InFlight`] set when dropped.
pub struct Sending(InFlight, i64);

impl Drop for Sending {
    fn drop(&mut self) {
        if let Ok(mut set) = (self.0).0.lock() {
            set.remove(&self.1);
        }
    }
}

/// Leases up to `limit` due rows, oldest first, each the oldest pending one of its
/// correlation id (the next of a correlation is leased once the one before it is sent or
/// given up, so the messages of one application go in order, also across relays), none
/// of `sending` (the rows this relay has on their way): a concurrent relay skips them,
/// and a crash frees them after 30 s.
async fn lease(
    pool: &PgPool,
    clock: &Clock,
    limit: usize,
    sending: &[i64],
) -> sqlx::Result<Vec<Row>> {
    let now = clock.now();
    let mut rows: Vec<Row> = sqlx::query_as(
        "update outbox set attempts = attempts + 1, next_attempt_at = $2
         where id in (
            select o.id from outbox o
            where o.sent_at is null and o.next_attempt_at <= $1 and o.id <> all($4)
              and not exists (
                select 1 from outbox e
                where e.correlation_id = o.correlation_id and e.id < o.id
                  and e.sent_at is null and e.gateway_code is null)
            order by o.id limit $3 for update skip locked)
         returning id, service_id, route_id, message_type, correlation_id, payload, attempts, message_id, trace_parent",
    )
    .bind(now)
    .bind(now + time::Duration::seconds(30))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(sending)
    .fetch_all(pool)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Sends the due rows that can go now ([`SENDS_AT_ONCE`] at most, one per correlation id)
/// at once and waits for them; returns how many were tried.
pub async fn send_batch(
    pool: &PgPool,
    client: &Client,
    clock: &Clock,
    mask: Mask,
    lane: &'static str,
) -> sqlx::Result<usize> {
    let rows = lease(pool, clock, SENDS_AT_ONCE, &[]).await?;
    let n = rows.len();
    let results = futures::future::join_all(
        rows.into_iter()
            .map(|r| send_one(pool, client, clock, mask, lane, r)),
    )
    .await;
    for r in results {
        r?;
    }
    Ok(n)
}

/// Sends one row and records the outcome: sent, refused for good, or retried later.
async fn send_one(
    pool: &PgPool,
    client: &Client,
    clock: &Clock,
    mask: Mask,
    lane: &'static str,
    r: Row,
) -> sqlx::Result<()> {
    let mut info = client.signer().request_info(
        &r.service_id,
        MessageType::try_from(r.message_type).unwrap_or(MessageType::Notification),
        &r.route_id,
        &r.correlation_id,
    );
    if let Some(id) = &r.message_id {
        info.message_id = id.clone();
    }
    let span = tracing::info_span!(
        "outbox.send",
        egov.sfe = lane,
        service = %r.service_id,
        message_id = %info.message_id,
        egov.correlation = %r.correlation_id,
    );
    egov_telemetry::set_parent(
        &span,
        egov_telemetry::extract_traceparent(r.trace_parent.as_deref()),
    );
    let result =
        tracing::Instrument::instrument(client.send_async_with(info, r.payload), span).await;
    let now = clock.now();
    match result {
        // a retry of a delivered message is answered with its first outcome (accepted);
        // SE009 means the gateway holds other content under this messageId: never "sent"
        Ok(reply) if reply.is_success() => {
            sqlx::query(
                "update outbox set sent_at = $2, gateway_code = $3, last_error = null where id = $1",
            )
            .bind(r.id)
            .bind(now)
            .bind(reply.code())
            .execute(pool)
            .await?;
        }
        Ok(reply) if permanent(reply.code()) => {
            tracing::error!(id = r.id, code = reply.code(), service = %r.service_id, "outbox message refused by the gateway; not retried");
            sqlx::query(
                "update outbox set gateway_code = $2, last_error = $3, next_attempt_at = $4 where id = $1",
            )
            .bind(r.id)
            .bind(reply.code())
            .bind(reply.info.status.clone().map(|s| s.message).unwrap_or_default())
            .bind(now + time::Duration::days(36500))
            .execute(pool)
            .await?;
        }
        other => {
            let why = match other {
                Ok(reply) => format!("{}: {:?}", reply.code(), reply.info.status),
                Err(e) => e.to_string(),
            };
            let backoff = 1i64 << r.attempts.clamp(0, 6);
            tracing::warn!(id = r.id, attempt = r.attempts, why = %mask(&why), "outbox send failed, will retry");
            sqlx::query("update outbox set last_error = $2, next_attempt_at = $3 where id = $1")
                .bind(r.id)
                .bind(why)
                .bind(now + time::Duration::seconds(backoff))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// A message a system sent (or is still sending).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Sent {
    /// Its messageId.
    pub message_id: String,
    /// The service it was sent to.
    pub service_id: String,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// When the gateway took it, if it did.
    pub sent_at: Option<OffsetDateTime>,
}

/// The messages of the outbox under `correlation_id`, oldest first.
pub async fn sent_for(pool: &PgPool, correlation_id: &str) -> sqlx::Result<Vec<Sent>> {
    sqlx::query_as(
        "select message_id, service_id, created_at, sent_at from outbox
         where correlation_id = $1 and message_id is not null order by id",
    )
    .bind(correlation_id)
    .fetch_all(pool)
    .await
}

/// Where one message of the outbox is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Delivery {
    /// The gateway took it.
    Delivered {
        /// The gateway's code.
        code: String,
    },
    /// Not yet: the gateway could not be reached or answered a transient failure; sent
    /// again with back-off.
    Queued {
        /// Attempts so far.
        attempts: i32,
        /// The last failure.
        last_error: Option<String>,
    },
    /// The gateway refused it for good (not retried).
    Refused {
        /// The gateway's code.
        code: String,
        /// Its message.
        message: Option<String>,
    },
}

/// The delivery of the message `message_id`, if the outbox has it.
pub async fn delivery(pool: &PgPool, message_id: &str) -> sqlx::Result<Option<Delivery>> {
    type Row = (Option<OffsetDateTime>, Option<String>, Option<String>, i32);
    let row: Option<Row> = sqlx::query_as(
        "select sent_at, gateway_code, last_error, attempts from outbox where message_id = $1",
    )
    .bind(message_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(sent, code, error, attempts)| match (sent, code) {
        (Some(_), code) => Delivery::Delivered {
            code: code.unwrap_or_default(),
        },
        (None, Some(code)) if permanent(&code) => Delivery::Refused {
            code,
            message: error,
        },
        _ => Delivery::Queued {
            attempts,
            last_error: error,
        },
    }))
}
