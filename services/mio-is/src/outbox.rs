//! The outbox: every message a transaction must send is a row written in that
//! transaction, with its messageId fixed at that moment; a relay sends the rows through
//! the gateway after commit. A resend after a crash carries the same messageId, which
//! the gateway and JetStream deduplicate.

use std::sync::Arc;

use egov_contracts::mio::{QueuePlace, Reason, ResultDocument, StatusUpdate, services};
use egov_proto::shep::v1::MessageType;
use egov_regulation::{Regulation, Status};
use egov_shep_client::Client;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::Application;

/// Writes one message to send (a notification, its messageId fixed now), under the trace
/// of the application it is about (a message about none: the current one).
pub async fn enqueue(
    conn: &mut PgConnection,
    service_id: &str,
    route_id: &str,
    correlation_id: &str,
    payload: &[u8],
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let application_trace: Option<String> = sqlx::query_scalar(
        "select trace_parent from applications where correlation_id = $1 and trace_parent is not null
         order by registered_at desc limit 1",
    )
    .bind(correlation_id)
    .fetch_optional(&mut *conn)
    .await?;
    egov_shep_client::outbox::enqueue(
        conn,
        egov_shep_client::outbox::Outgoing {
            service_id,
            route_id,
            message_type: MessageType::Notification,
            correlation_id,
            message_id: uuid::Uuid::new_v4().to_string(),
            trace_parent: application_trace.or_else(egov_telemetry::current_traceparent),
        },
        payload,
        now,
    )
    .await
    .map(|_| ())
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

/// Sends pending rows until `shutdown` (the shared relay,
/// [`egov_shep_client::outbox::relay`]), log lines masked.
pub async fn relay(
    pool: PgPool,
    client: Client,
    clock: Clock,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    egov_shep_client::outbox::relay(
        pool,
        client,
        clock,
        wake,
        crate::mask::text,
        crate::LANE,
        shutdown,
    )
    .await
}

pub use egov_shep_client::outbox::{Sent, sent_for};
