//! The outbox: a signed application's `mio.application.submit` is a row written in the
//! transaction that accepts the signature, its messageId fixed there; the relay sends
//! the rows through the gateway after the commit, every retry with the same messageId
//! (the gateway and JetStream deduplicate it), backing off while the gateway cannot take
//! it. When the gateway takes it the application is `delivered`; a refusal that sending
//! again cannot change is recorded on the row and not retried.
//!
//! Each row is one application's, so the relay sends rows at once ([`SENDS_AT_ONCE`] at
//! most), each as soon as it is leased: a signature committed while other applications
//! are on their way is sent without waiting for them.

use std::sync::Arc;
use std::time::Duration;

use egov_proto::shep::v1::MessageType;
use egov_shep_client::outbox::InFlight;
use egov_shep_client::{Client, codes};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::Core;

/// Writes one message to send for `application`.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    conn: &mut PgConnection,
    application: Uuid,
    service_id: &str,
    route_id: &str,
    correlation_id: &str,
    payload: &[u8],
    message_id: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into outbox (application_id, service_id, route_id, correlation_id, payload, message_id, created_at, next_attempt_at, trace_parent)
         values ($1, $2, $3, $4, $5, $6, $7, $7, (select trace_parent from applications where id = $1))",
    )
    .bind(application)
    .bind(service_id)
    .bind(route_id)
    .bind(correlation_id)
    .bind(payload)
    .bind(message_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    application_id: Uuid,
    service_id: String,
    route_id: String,
    correlation_id: String,
    payload: Vec<u8>,
    message_id: String,
    attempts: i32,
    trace_parent: Option<String>,
}

/// Rows on their way through the gateway at once, at most.
pub const SENDS_AT_ONCE: usize = 16;

/// Sends due rows until `shutdown`, each on a task of its own as soon as it is leased;
/// woken after each commit that wrote one, when a send ends, and every second otherwise.
/// On shutdown the sends under way are finished.
pub async fn relay(core: Core, client: Client, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(SENDS_AT_ONCE));
    let mut sending = JoinSet::new();
    let in_flight = InFlight::default();
    loop {
        while sending.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free > 0 {
            match lease(&core, free, &in_flight.ids()).await {
                Ok(rows) if !rows.is_empty() => {
                    for r in rows {
                        let Ok(slot) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        let (core, client) = (core.clone(), client.clone());
                        let sending_row = in_flight.take(r.id);
                        sending.spawn(async move {
                            if let Err(e) = send_one(&core, &core.pool, &client, r).await {
                                tracing::warn!(error = %e, "portal outbox relay");
                            }
                            drop(sending_row);
                            drop(slot);
                        });
                    }
                    // more may be due
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "portal outbox relay"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = core.wake.notified() => {}
            Some(_) = sending.join_next(), if !sending.is_empty() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    while sending.join_next().await.is_some() {}
}

/// Leases up to `limit` due rows, oldest first, none of `sending` (the rows this relay
/// has on their way, see [`InFlight`]): a concurrent relay skips them, and a crash frees
/// them after 30 s.
async fn lease(core: &Core, limit: usize, sending: &[i64]) -> sqlx::Result<Vec<Row>> {
    let now = core.clock.now();
    let mut rows: Vec<Row> = sqlx::query_as(
        "update outbox set attempts = attempts + 1, next_attempt_at = $2
         where id in (select id from outbox where sent_at is null and next_attempt_at <= $1
                      and id <> all($4) order by id limit $3 for update skip locked)
         returning id, application_id, service_id, route_id, correlation_id, payload, message_id, attempts, trace_parent",
    )
    .bind(now)
    .bind(now + time::Duration::seconds(30))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(sending)
    .fetch_all(&core.pool)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Sends one batch of due rows ([`SENDS_AT_ONCE`] at most) at once and waits for them;
/// returns how many were tried.
pub async fn send_batch(core: &Core, client: &Client) -> sqlx::Result<usize> {
    let rows = lease(core, SENDS_AT_ONCE, &[]).await?;
    let n = rows.len();
    let sent = futures::future::join_all(
        rows.into_iter()
            .map(|r| send_one(core, &core.pool, client, r)),
    )
    .await;
    for r in sent {
        r?;
    }
    Ok(n)
}

async fn send_one(core: &Core, pool: &PgPool, client: &Client, r: Row) -> sqlx::Result<()> {
    let mut info = client.signer().request_info(
        &r.service_id,
        MessageType::Request,
        &r.route_id,
        &r.correlation_id,
    );
    info.message_id = r.message_id.clone();
    let span = tracing::info_span!(
        "outbox.send",
        egov.sfe = crate::LANE,
        service = %r.service_id,
        message_id = %r.message_id,
        egov.correlation = %r.correlation_id,
    );
    egov_telemetry::set_parent(
        &span,
        egov_telemetry::extract_traceparent(r.trace_parent.as_deref()),
    );
    let result = client
        .send_async_with(info, r.payload)
        .instrument(span)
        .await;
    let now = core.clock.now();
    match result {
        Ok(reply) if reply.is_success() => {
            let mut tx = pool.begin().await?;
            sqlx::query("update outbox set sent_at = $2, gateway_code = $3, last_error = null where id = $1")
                .bind(r.id)
                .bind(now)
                .bind(reply.code())
                .execute(&mut *tx)
                .await?;
            let owner: Option<(String, String)> = sqlx::query_as(
                "update applications set state = 'delivered', delivered_at = $2, updated_at = $2
                 where id = $1 and state = 'sent' returning citizen_iin, regulation_id",
            )
            .bind(r.application_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((iin, reg)) = &owner
                && let Some(reg) = core.catalog.get(reg)
            {
                crate::steps::delivered(core, &mut tx, reg, r.application_id, iin, now).await?;
            }
            tx.commit().await?;
            if let Some((iin, _)) = owner {
                core.announce(r.application_id, &iin, "delivered");
            }
            metrics::counter!("egov_portal_outbox_sent_total").increment(1);
        }
        Ok(reply) if !(codes::is_success(reply.code()) || codes::is_transient(reply.code())) => {
            tracing::error!(id = r.id, code = reply.code(), service = %r.service_id, "the gateway refused the application for good; not retried");
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
            tracing::warn!(id = r.id, attempt = r.attempts, %why, "the application's send failed, will retry");
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
