//! The outbox: every message a transaction must send is a row written in that
//! transaction, with its messageId fixed at that moment; a relay sends the rows through
//! the gateway after commit. A resend after a crash carries the same messageId, which
//! the gateway and JetStream deduplicate.

use std::sync::Arc;
use std::time::Duration;

use egov_contracts::mio::{QueuePlace, Reason, ResultDocument, StatusUpdate, services};
use egov_proto::shep::v1::MessageType;
use egov_regulation::{Regulation, Status};
use egov_shep_client::{Client, codes};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::clock::Clock;
use crate::store::Application;

/// Writes one message to send.
pub async fn enqueue(
    conn: &mut PgConnection,
    service_id: &str,
    route_id: &str,
    correlation_id: &str,
    payload: &[u8],
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into outbox (service_id, route_id, message_type, correlation_id, payload, created_at, next_attempt_at, message_id, trace_parent)
         values ($1, $2, $3, $4, $5, $6, $6, $7,
                 coalesce((select trace_parent from applications where correlation_id = $4 and trace_parent is not null
                           order by registered_at desc limit 1), $8))",
    )
    .bind(service_id)
    .bind(route_id)
    .bind(MessageType::Notification as i32)
    .bind(correlation_id)
    .bind(payload)
    .bind(now)
    .bind(uuid::Uuid::new_v4().to_string())
    // the application's trace; a message about no application joins the current one
    .bind(egov_telemetry::current_traceparent())
    .execute(conn)
    .await?;
    Ok(())
}

/// The extras a status message may carry.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The place on the waiting list.
    pub queue: Option<QueuePlace>,
    /// The result document.
    pub result: Option<ResultDocument>,
}

/// A status message about a registered application: its base status, the file's own
/// status id and the file's name for it.
pub fn status_update(
    app: &Application,
    reg: &Regulation,
    at: OffsetDateTime,
    extras: Extras,
) -> StatusUpdate {
    let status = app.status;
    let label = reg.status_label(status, app.stage.as_deref());
    StatusUpdate {
        application_number: Some(app.number.clone()),
        application_message_id: app.message_id.clone(),
        service: app.service.clone(),
        provider: app.provider_id.clone(),
        regulation: Some(app.regulation_id.clone()),
        channel: app.channel.as_str().into(),
        applicant_iin: app.applicant_iin.clone(),
        status: status.as_str().into(),
        stage: app.stage.clone(),
        status_ru: label.ru,
        status_kk: label.kk,
        at,
        due: Some(app.due_at),
        reason: None,
        queue: extras.queue,
        result: extras.result,
    }
}

/// Records the application's new status in the history and sends it to the systems its
/// channel names (`status_to` in the regulation file); the result document goes only to
/// the one that issues it (`result_to`), the others get the status alone.
pub async fn notify_status(
    conn: &mut PgConnection,
    app: &Application,
    reg: &Regulation,
    step: Option<&str>,
    now: OffsetDateTime,
    extras: Extras,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into status_history (application_id, status, stage, step_id, at) values ($1, $2, $3, $4, $5)",
    )
    .bind(app.id)
    .bind(app.status)
    .bind(&app.stage)
    .bind(step)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let Some(channel) = reg.channel(app.channel.as_str()) else {
        return Ok(());
    };
    let issuer = channel.result_to();
    let mut to: Vec<&str> = channel.status_to.iter().map(String::as_str).collect();
    // the issuing system gets the result even where it shows no statuses
    if let Some(i) = issuer
        && extras.result.is_some()
        && !to.contains(&i)
    {
        to.push(i);
    }
    for system in to {
        let Some(service) = status_service(system) else {
            continue;
        };
        let mut e = extras.clone();
        if Some(system) != issuer {
            e.result = None;
        }
        let payload = serde_json::to_vec(&status_update(app, reg, now, e)).expect("serializes");
        enqueue(conn, service, "", &app.correlation_id, &payload, now).await?;
    }
    Ok(())
}

/// The service through which `system` receives statuses.
pub fn status_service(system: &str) -> Option<&'static str> {
    match system {
        "portal" => Some(services::PORTAL_STATUS),
        "con-is" => Some(services::CON_STATUS),
        _ => None,
    }
}

/// A rejection at intake, to the system that sent the application.
#[allow(clippy::too_many_arguments)]
pub async fn notify_rejection(
    conn: &mut PgConnection,
    sender: &str,
    message_id: &str,
    correlation_id: &str,
    doc: Option<&egov_contracts::mio::ApplicationDocument>,
    reason: Reason,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let service = match sender {
        "portal" => services::PORTAL_STATUS,
        "con-is" => services::CON_STATUS,
        _ => return Ok(()),
    };
    let label = Status::Rejected.label();
    let update = StatusUpdate {
        application_number: None,
        application_message_id: message_id.into(),
        service: doc.map(|d| d.service.clone()).unwrap_or_default(),
        provider: doc.map(|d| d.provider.clone()).unwrap_or_default(),
        regulation: doc.and_then(|d| d.regulation.clone()),
        channel: doc.map(|d| d.channel.clone()).unwrap_or_default(),
        applicant_iin: doc.map(|d| d.applicant.iin.clone()).unwrap_or_default(),
        status: Status::Rejected.as_str().into(),
        stage: None,
        status_ru: label.ru,
        status_kk: label.kk,
        at: now,
        due: None,
        reason: Some(reason),
        queue: None,
        result: None,
    };
    let payload = serde_json::to_vec(&update).expect("serializes");
    enqueue(conn, service, "", correlation_id, &payload, now).await
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

/// Sends pending rows until `shutdown`; woken by `wake` after each commit that wrote
/// some, and every second otherwise.
pub async fn relay(
    pool: PgPool,
    client: Client,
    clock: Clock,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        match send_batch(&pool, &client, &clock).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %crate::mask::text(&e.to_string()), "outbox relay"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Sends one batch of due rows; returns how many were tried.
pub async fn send_batch(pool: &PgPool, client: &Client, clock: &Clock) -> sqlx::Result<usize> {
    let now = clock.now();
    // lease the rows: a concurrent relay skips them, a crash frees them after 30 s
    let rows: Vec<Row> = sqlx::query_as(
        "update outbox set attempts = attempts + 1, next_attempt_at = $2
         where id in (select id from outbox where sent_at is null and next_attempt_at <= $1
                      order by id limit 32 for update skip locked)
         returning id, service_id, route_id, message_type, correlation_id, payload, attempts, message_id, trace_parent",
    )
    .bind(now)
    .bind(now + time::Duration::seconds(30))
    .fetch_all(pool)
    .await?;
    let n = rows.len();
    // the messages of one application go in order; different applications at once
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    let mut rows = rows;
    rows.sort_by_key(|r| r.id);
    for r in rows {
        match groups.iter_mut().find(|(c, _)| *c == r.correlation_id) {
            Some((_, g)) => g.push(r),
            None => groups.push((r.correlation_id.clone(), vec![r])),
        }
    }
    let results = futures::future::join_all(groups.into_iter().map(|(_, group)| async move {
        for r in group {
            send_one(pool, client, clock, r).await?;
        }
        Ok::<(), sqlx::Error>(())
    }))
    .await;
    for r in results {
        r?;
    }
    Ok(n)
}

/// Sends one row and records the outcome: sent, refused for good, or retried later.
async fn send_one(pool: &PgPool, client: &Client, clock: &Clock, r: Row) -> sqlx::Result<()> {
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
        egov.sfe = crate::LANE,
        service = %r.service_id,
        message_id = %info.message_id,
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
            tracing::warn!(id = r.id, attempt = r.attempts, why = %crate::mask::text(&why.to_string()), "outbox send failed, will retry");
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

/// A message ИС МИО sent (or is still sending) about an application.
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

/// The messages of the outbox under `correlation_id` (an application's statuses and
/// results), oldest first: the other half of the application's trail in the message log.
pub async fn sent_for(pool: &sqlx::PgPool, correlation_id: &str) -> sqlx::Result<Vec<Sent>> {
    sqlx::query_as(
        "select message_id, service_id, created_at, sent_at from outbox
         where correlation_id = $1 and message_id is not null order by id",
    )
    .bind(correlation_id)
    .fetch_all(pool)
    .await
}
