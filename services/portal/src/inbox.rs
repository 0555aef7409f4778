//! The portal's inbox: the statuses and results ИС МИО sends (`portal.status.update`, a
//! [`StatusUpdate`]), each matched to the application by the messageId it was sent with.
//! One transaction records the deduplication row (sender and messageId), the status in
//! the application's history and the application's current status, ИС МИО's number, the
//! due date, the place on the waiting list, the reason of a rejection and the result;
//! the message is acknowledged only after the commit, and a redelivery finds its row
//! and changes nothing. Each recorded status is announced to the cabinet's event
//! streams.
//!
//! Statuses are handled several at once (`inbox_concurrency`); those of one application
//! wait for each other on its row, and the current status is the latest by ИС МИО's
//! time whatever order they are recorded in.
//!
//! A status for a messageId no application has yet is delivered again a few times
//! ([`UNKNOWN_ATTEMPTS`]): the relay may not have recorded the send yet. An application
//! taken at a ЦОН (channel `con`), whose statuses the regulation also shows on the portal,
//! enters the history of its applicant at its first status, kept by the applicant's IIN
//! whether or not they have an account here yet (state `at-centre`, under ИС МИО's
//! number). After that a status for no
//! application of the portal, or one from another system than the application's ИС МИО,
//! is logged and acknowledged without effect. A payload that is
//! not a status update is refused for good.

use egov_contracts::mio::{StatusUpdate, services};
use egov_shep_client::inbox::{Delivery, Outcome, first_time};
use uuid::Uuid;

use crate::Core;

/// How many deliveries a status for an unknown application gets before it is dropped.
pub const UNKNOWN_ATTEMPTS: u64 = 5;

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
    if service != services::PORTAL_STATUS {
        return Outcome::Reject(format!("the portal takes no {service:?} in its inbox"));
    }
    let update: StatusUpdate = match serde_json::from_slice(&d.opened.payload) {
        Ok(u) => u,
        Err(e) => return Outcome::Reject(format!("not a status update: {e}")),
    };
    // an application taken at a centre was never sent from here: nothing to wait for
    let last_try = d.attempt >= UNKNOWN_ATTEMPTS || update.channel == "con";
    match record(core, &sender, &message_id, &update, last_try).await {
        Ok(true) => Outcome::Done,
        Ok(false) => Outcome::Retry(format!(
            "no application sent with messageId {} yet",
            update.application_message_id
        )),
        Err(e) => Outcome::Retry(format!("database: {e}")),
    }
}

/// Records one status update; `false` when its application is not known yet and nothing
/// was written (deliver it again).
pub async fn record(
    core: &Core,
    sender: &str,
    message_id: &str,
    u: &StatusUpdate,
    last_try: bool,
) -> sqlx::Result<bool> {
    let mut tx = core.pool.begin().await?;
    if !first_time(&mut tx, sender, message_id).await? {
        tx.commit().await?;
        return Ok(true);
    }
    let found: Option<Found> = sqlx::query_as(
        "select id, regulation_id, citizen_iin, number, notify_email, email from applications where message_id = $1 for update",
    )
    .bind(&u.application_message_id)
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() && !last_try {
        return Ok(false);
    }
    // sent from here (its portal channel's steps are the portal's), or taken at a centre
    let sent_here = found.is_some();
    let found = match found {
        Some(f) => Some(f),
        None if u.channel == "con" => taken_at_a_centre(core, &mut tx, sender, u).await?,
        None => None,
    };
    let app = found.filter(|Found { regulation_id: regulation, .. }| {
        let ours = core
            .catalog
            .get(regulation)
            .is_some_and(|r| r.system == sender);
        if !ours {
            tracing::warn!(%sender, %message_id, %regulation, "a status from another system than the application's ИС МИО");
        }
        ours
    });
    let Some(found) = app else {
        tracing::info!(%sender, %message_id, application = %u.application_message_id, status = %u.status,
            "a status for no application of the portal");
        tx.commit().await?;
        return Ok(true);
    };
    let (app, citizen) = (found.id, found.citizen_iin.clone());
    let now = core.clock.now();
    let reason = u
        .reason
        .as_ref()
        .map(|r| serde_json::json!({"code": r.code, "message": r.message}));
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
    .bind(&reason)
    .execute(&mut *tx)
    .await?;
    // the current status is the latest by its own time (messages may overtake each other)
    let latest = "status_at is null or status_at <= $2";
    sqlx::query(&format!(
        "update applications set
           status = case when {latest} then $3 else status end,
           stage = case when {latest} then $4 else stage end,
           status_ru = case when {latest} then $5 else status_ru end,
           status_kk = case when {latest} then $6 else status_kk end,
           status_at = greatest(status_at, $2),
           mio_number = coalesce(mio_number, $7),
           due_at = coalesce($8, due_at),
           queue = coalesce($9, queue),
           reason = coalesce($10, reason),
           result = coalesce($11, result),
           updated_at = $12
         where id = $1"
    ))
    .bind(app)
    .bind(u.at)
    .bind(&u.status)
    .bind(&u.stage)
    .bind(&u.status_ru)
    .bind(&u.status_kk)
    .bind(&u.application_number)
    .bind(u.due)
    .bind(
        u.queue
            .as_ref()
            .map(|q| serde_json::to_value(q).expect("serializes")),
    )
    .bind(&reason)
    .bind(
        u.result
            .as_ref()
            .map(|r| serde_json::to_value(r).expect("serializes")),
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let answered = u.result.is_some()
        || egov_regulation::Status::parse(&u.status).is_some_and(|s| s.is_final());
    if sent_here
        && answered
        && let Some(reg) = core.catalog.get(&found.regulation_id)
    {
        crate::steps::answered(core, &mut tx, reg, app, u.at, now).await?;
    }
    let mail = match (&found.email, found.notify_email && core.mail) {
        (Some(to), true) => {
            let (subject, body) = letter(&found.number, u);
            crate::mail::enqueue(&mut tx, app, to, &subject, &body, now).await?;
            true
        }
        _ => false,
    };
    tx.commit().await?;
    if mail {
        core.mail_wake.notify_one();
    }
    core.announce(app, &citizen, "status");
    metrics::counter!("egov_portal_statuses_total", "status" => u.status.clone()).increment(1);
    Ok(true)
}

#[derive(sqlx::FromRow)]
struct Found {
    id: Uuid,
    regulation_id: String,
    citizen_iin: String,
    number: String,
    notify_email: bool,
    email: Option<String>,
}

/// An application taken at a ЦОН, entered into its applicant's history (by IIN, whether or
/// not they have an account here yet) at its first status from the regulation's ИС МИО;
/// `None` when the status names no regulation of the portal's catalogue, or comes from
/// another system than the regulation's.
async fn taken_at_a_centre(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    sender: &str,
    u: &StatusUpdate,
) -> sqlx::Result<Option<Found>> {
    let Some(reg) = u
        .regulation
        .as_deref()
        .and_then(|r| core.catalog.get(r))
        .filter(|r| r.system == sender)
    else {
        return Ok(None);
    };
    let Some(number) = u.application_number.clone() else {
        return Ok(None);
    };
    let Ok(applicant) = egov_iin::Iin::parse(&u.applicant_iin) else {
        tracing::warn!(number = %number, "a centre's application without a valid applicant IIN");
        return Ok(None);
    };
    let now = core.clock.now();
    let entered: Option<Found> = sqlx::query_as(
        "insert into applications (id, number, citizen_iin, regulation_id, service, provider_id, region,
             category, state, channel, message_id, mio_number, created_at, updated_at)
         values ($1, $2, $9, $3, $4, $5, $6, '', 'at-centre', 'con', $7, $2, $8, $8)
         on conflict do nothing
         returning id, regulation_id, citizen_iin, number, notify_email, email",
    )
    .bind(Uuid::new_v4())
    .bind(&number)
    .bind(&reg.id)
    .bind(&u.service)
    .bind(&u.provider)
    .bind(&reg.region)
    .bind(&u.application_message_id)
    .bind(now)
    .bind(applicant.as_string())
    .fetch_optional(&mut *tx)
    .await?;
    if entered.is_some() {
        return Ok(entered);
    }
    // another status of the same application, handled at the same time, entered it
    // first (the insert waited for its commit): this one is recorded on it
    sqlx::query_as(
        "select id, regulation_id, citizen_iin, number, notify_email, email from applications where message_id = $1 for update",
    )
    .bind(&u.application_message_id)
    .fetch_optional(&mut *tx)
    .await
}

/// The mail about a status: the subject and the text, in Russian and Kazakh.
pub fn letter(number: &str, u: &StatusUpdate) -> (String, String) {
    let subject = format!(
        "Заявка № {number}: {} / Өтінім № {number}: {}",
        u.status_ru, u.status_kk
    );
    let mut body = format!(
        "Статус вашей заявки № {number} на портале электронного правительства: «{}».\n",
        u.status_ru
    );
    if let Some(n) = &u.application_number {
        body.push_str(&format!("Номер у услугодателя: {n}.\n"));
    }
    if let Some(r) = &u.reason {
        body.push_str(&format!("Причина: {}.\n", r.message));
    }
    if u.result.is_some() {
        body.push_str("Результат оказания услуги доступен в личном кабинете.\n");
    }
    body.push_str(&format!(
        "\nЭлектрондық үкімет порталындағы № {number} өтініміңіздің мәртебесі: «{}».\n",
        u.status_kk
    ));
    (subject, body)
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
    /// When the portal received it.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: time::OffsetDateTime,
    /// Why it was rejected.
    pub reason: Option<serde_json::Value>,
}

/// The statuses of an application, in the order they came.
pub async fn history(pool: &sqlx::PgPool, application: Uuid) -> sqlx::Result<Vec<StatusRow>> {
    sqlx::query_as(
        "select status, stage, status_ru, status_kk, at, received_at, reason from statuses where application_id = $1 order by id",
    )
    .bind(application)
    .fetch_all(pool)
    .await
}
