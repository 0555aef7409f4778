//! ИС ЦОН's inbox: the statuses and results ИС МИО sends back
//! (`con-is.status.update`, a [`StatusUpdate`]), each matched to the application by the
//! messageId it was sent with. One transaction records the deduplication row (sender and
//! messageId), the status in the application's history and the application's current
//! status, ИС МИО's number, the due date and the result; the message is acknowledged only
//! after the commit, and a redelivery finds its row and changes nothing. With the result,
//! the first step of the channel's leg after the procedure that waits on the centre (the
//! courier's return, or the barcode mark where no paper travels) is opened as a task
//! ([`crate::paper::on_result`]); the step begins when the citizen is at the desk.
//!
//! A status for a messageId no application has yet is delivered again a few times
//! ([`UNKNOWN_ATTEMPTS`]): ИС МИО may answer before the transaction that sent the
//! application has committed. A status for no application of this system after that
//! (sent before a failed commit, or not ours), or from another ИС МИО than the one the application went to (the regulation's
//! `system`), is logged and acknowledged without effect: delivering it again would not
//! change that. A payload that is not a status update is refused for good.

use egov_contracts::mio::{StatusUpdate, services};
use egov_shep_client::inbox::{Delivery, Outcome, first_time};
use uuid::Uuid;

use crate::Core;

/// Handles one message of the inbox.
pub async fn handle(core: &Core, d: Delivery) -> Outcome {
    let header = &d.opened.header;
    let service = header.service_id.clone();
    let sender = header
        .sender
        .as_ref()
        .map(|s| s.sender_id.clone())
        .unwrap_or_default();
    let message_id = header.message_id.clone();
    if service != services::CON_STATUS {
        return Outcome::Reject(format!("ИС ЦОН takes no {service:?} in its inbox"));
    }
    let update: StatusUpdate = match serde_json::from_slice(&d.opened.payload) {
        Ok(u) => u,
        Err(e) => return Outcome::Reject(format!("not a status update: {e}")),
    };
    // the first deliveries of a status for a messageId not (yet) known wait: the
    // application's send may still be committing
    let last_try = d.attempt >= UNKNOWN_ATTEMPTS;
    match record(core, &sender, &message_id, &update, last_try).await {
        Ok(Recorded::Done) => Outcome::Done,
        Ok(Recorded::NotYet) => Outcome::Retry(format!(
            "no application sent with messageId {} yet",
            update.application_message_id
        )),
        Err(e) => Outcome::Retry(format!("database: {e}")),
    }
}

/// How many deliveries a status for an unknown application gets before it is dropped
/// (with the inbox's retry delay of half a second between them).
pub const UNKNOWN_ATTEMPTS: u64 = 5;

/// What became of a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded (or deliberately dropped, or a redelivery): acknowledge.
    Done,
    /// No application of its messageId yet, nothing written: deliver it again.
    NotYet,
}

/// Records one status update (see the module's guarantees).
pub async fn record(
    core: &Core,
    sender: &str,
    message_id: &str,
    u: &StatusUpdate,
    last_try: bool,
) -> sqlx::Result<Recorded> {
    let mut tx = core.pool.begin().await?;
    if !first_time(&mut tx, sender, message_id).await? {
        tx.commit().await?;
        return Ok(Recorded::Done);
    }
    let found: Option<(Uuid, String)> = sqlx::query_as(
        "select id, regulation_id from applications where message_id = $1 for update",
    )
    .bind(&u.application_message_id)
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() && !last_try {
        // nothing written: the deduplication row goes with the transaction
        return Ok(Recorded::NotYet);
    }
    // only the ИС МИО the application went to speaks for it
    let app = found.filter(|(_, regulation)| {
        let ours = core
            .catalog
            .get(regulation)
            .is_some_and(|r| r.system == sender);
        if !ours {
            tracing::warn!(%sender, %message_id, %regulation, "a status from another system than the application's ИС МИО");
        }
        ours
    });
    let Some((app, regulation)) = app else {
        tracing::warn!(
            %sender,
            %message_id,
            application = %u.application_message_id,
            status = %u.status,
            "a status for no application of ИС ЦОН"
        );
        tx.commit().await?;
        return Ok(Recorded::Done);
    };
    let now = core.clock.now();
    sqlx::query(
        "insert into statuses (application_id, sender_id, message_id, status, stage, status_ru, status_kk, at, received_at, reason)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(app)
    .bind(sender)
    .bind(message_id)
    .bind(&u.status)
    .bind(&u.stage)
    .bind(&u.status_ru)
    .bind(&u.status_kk)
    .bind(u.at)
    .bind(now)
    .bind(u.reason.as_ref().map(|r| serde_json::json!({"code": r.code, "message": r.message})))
    .execute(&mut *tx)
    .await?;
    // the current status is the latest by its own time (messages may overtake each other)
    sqlx::query(
        "update applications set
           status = case when status_at is null or status_at <= $2 then $3 else status end,
           stage = case when status_at is null or status_at <= $2 then $4 else stage end,
           status_ru = case when status_at is null or status_at <= $2 then $5 else status_ru end,
           status_kk = case when status_at is null or status_at <= $2 then $6 else status_kk end,
           status_at = greatest(status_at, $2),
           mio_number = coalesce(mio_number, $7),
           due_at = coalesce($8, due_at),
           result = coalesce($9, result),
           updated_at = $10
         where id = $1",
    )
    .bind(app)
    .bind(u.at)
    .bind(&u.status)
    .bind(&u.stage)
    .bind(&u.status_ru)
    .bind(&u.status_kk)
    .bind(&u.application_number)
    .bind(u.due)
    .bind(
        u.result
            .as_ref()
            .map(|r| serde_json::to_value(r).expect("serializes")),
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // the result is here: the channel's leg after the procedure begins at ИС ЦОН
    if u.result.is_some()
        && let Some(reg) = core.catalog.get(&regulation)
    {
        crate::paper::on_result(core, &mut tx, reg, app, sender, now).await?;
    }
    tx.commit().await?;
    metrics::counter!("egov_con_statuses_total", "status" => u.status.clone()).increment(1);
    Ok(Recorded::Done)
}

/// A status of an application's history.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StatusRow {
    /// Base status.
    pub status: String,
    /// The file's status id.
    pub stage: Option<String>,
    /// Name (Russian).
    pub status_ru: String,
    /// Name (Kazakh).
    pub status_kk: String,
    /// When ИС МИО set it.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    /// Why it was rejected.
    pub reason: Option<serde_json::Value>,
}

/// The statuses of an application, in the order they came.
pub async fn history(pool: &sqlx::PgPool, application: Uuid) -> sqlx::Result<Vec<StatusRow>> {
    sqlx::query_as(
        "select status, stage, status_ru, status_kk, at, reason from statuses where application_id = $1 order by id",
    )
    .bind(application)
    .fetch_all(pool)
    .await
}
