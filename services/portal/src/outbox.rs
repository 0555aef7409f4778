//! The outbox: a signed application's `mio.application.submit` is a row written in the
//! transaction that accepts the signature, its messageId fixed there; the relay sends
//! the rows through the gateway after the commit, every retry with the same messageId
//! (the gateway and JetStream deduplicate it), backing off while the gateway cannot take
//! it. When the gateway takes it the application is `delivered`; a refusal that sending
//! again cannot change is recorded on the row and not retried.

use std::time::Duration;

use egov_proto::shep::v1::MessageType;
use egov_shep_client::{Client, codes};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
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

/// Sends due rows until `shutdown`; woken after each commit that wrote one, and every
/// second otherwise.
pub async fn relay(core: Core, client: Client, shutdown: CancellationToken) {
    loop {
        match send_batch(&core, &client).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "portal outbox relay"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = core.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Sends one batch of due rows, in order; returns how many were tried.
pub async fn send_batch(core: &Core, client: &Client) -> sqlx::Result<usize> {
    let now = core.clock.now();
    // leased: a concurrent relay skips them, a crash frees them after 30 s
    let rows: Vec<Row> = sqlx::query_as(
        "update outbox set attempts = attempts + 1, next_attempt_at = $2
         where id in (select id from outbox where sent_at is null and next_attempt_at <= $1
                      order by id limit 16 for update skip locked)
         returning id, application_id, service_id, route_id, correlation_id, payload, message_id, attempts, trace_parent",
    )
    .bind(now)
    .bind(now + time::Duration::seconds(30))
    .fetch_all(&core.pool)
    .await?;
    let n = rows.len();
    let mut rows = rows;
    rows.sort_by_key(|r| r.id);
    for r in rows {
        send_one(core, &core.pool, client, r).await?;
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
            let owner: Option<String> = sqlx::query_scalar(
                "update applications set state = 'delivered', delivered_at = $2, updated_at = $2
                 where id = $1 and state = 'sent' returning citizen_iin",
            )
            .bind(r.application_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            if let Some(iin) = owner {
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
