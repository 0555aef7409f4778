//! Rows of ИС МИО's schema and the queries shared by the engine and the АРМ.

use std::fmt;

use sqlx::{PgConnection, PgPool};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// The channel an application arrived by (`applications.channel`): the portal (A), the
/// provider's desk (B), the ЦОН (C). A regulation file's `[[channels]]` take these ids
/// and no others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `portal`: sent from the e-government portal.
    Portal,
    /// `provider`: taken at the provider's desk and entered in the АРМ.
    Provider,
    /// `con`: taken at a ЦОН and sent from ИС ЦОН.
    Con,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::Portal, Channel::Provider, Channel::Con];

    /// The id stored, sent and named in the regulation files.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Provider => "provider",
            Channel::Con => "con",
        }
    }

    /// The channel of an id (see [`Channel::as_str`]).
    pub fn parse(id: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == id)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The base status of a registered application (`applications.status`,
/// `status_history.status`, the API's `status`) and the kind of a result document
/// (`results.kind`): the regulation's own types, stored under their names (its `sqlx`
/// feature). The intake's rejection is a status only for completeness: nothing rejected
/// is stored.
pub use egov_regulation::{ResultKind as ResultDocKind, Status as BaseStatus};

/// An application.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Application {
    /// Id.
    pub id: Uuid,
    /// Its number.
    pub number: String,
    /// The regulation it runs.
    pub regulation_id: String,
    /// Service.
    pub service: String,
    /// Provider.
    pub provider_id: String,
    /// The channel it arrived by.
    pub channel: Channel,
    /// Status (the base status the systems exchange).
    pub status: BaseStatus,
    /// The regulation file's own status id behind `status`, if the file names one.
    pub stage: Option<String>,
    /// The step it is at.
    pub current_step: Option<String>,
    /// Applicant's IIN.
    pub applicant_iin: String,
    /// Applicant's name.
    pub applicant_name: String,
    /// Category.
    pub category: String,
    /// Representative's IIN.
    pub representative_iin: Option<String>,
    /// The signed document.
    #[serde(skip)]
    pub document: Vec<u8>,
    /// Its signature.
    #[serde(skip)]
    pub signature: Vec<u8>,
    /// Who signed it.
    pub signer_iin: String,
    /// Their name.
    pub signer_name: String,
    /// The system it came from.
    pub sender_system: String,
    /// The messageId it came with.
    pub message_id: String,
    /// The correlationId.
    pub correlation_id: String,
    /// Registered.
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    /// The service's overall due time.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// Past the overall deadline.
    pub overdue: bool,
    /// The assigned executor.
    pub assignee_iin: Option<String>,
    /// The result document chosen on the way.
    pub result_id: Option<String>,
    /// Refusal grounds chosen.
    pub grounds: Vec<String>,
    /// Missing documents.
    pub missing_documents: Vec<String>,
    /// The protocol that decided.
    pub decision_number: Option<String>,
    /// Its date.
    #[serde(with = "egov_contracts::date::option")]
    pub decision_date: Option<Date>,
    /// The amount assigned (S2), tenge a month.
    pub amount: Option<i64>,
    /// Queue category.
    pub queue_category: Option<String>,
    /// Queue number.
    pub queue_number: Option<i64>,
    /// Date of registration on the waiting list.
    #[serde(with = "egov_contracts::date::option")]
    pub registration_date: Option<Date>,
    /// When the result was issued.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Whether a step run is still to be done (`step_runs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// `open`: entered and not completed (a task on a worklist, for human steps).
    Open,
    /// `done`: completed, by the system or an employee.
    Done,
}

impl RunStatus {
    /// Both states.
    pub const ALL: [RunStatus; 2] = [RunStatus::Open, RunStatus::Done];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Open => "open",
            RunStatus::Done => "done",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of the step a run is of (`step_runs.kind`, a task's `kind` in the API): the
/// regulation's [`egov_regulation::StepKind`], stored under its names.
pub use egov_regulation::StepKind as RunKind;

/// A step an application went through (a task, for human steps).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StepRun {
    /// Id (the task id in the АРМ).
    pub id: i64,
    /// The application.
    pub application_id: Uuid,
    /// The step of the regulation.
    pub step_id: String,
    /// Its kind.
    pub kind: RunKind,
    /// The role that does it.
    pub role: Option<String>,
    /// The employee it is assigned to.
    pub assignee_iin: Option<String>,
    /// Open or done.
    pub status: RunStatus,
    /// Started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    /// Completed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// By whom (IIN, or `system`).
    pub completed_by: Option<String>,
    /// The outcome chosen.
    pub outcome: Option<String>,
    /// A note.
    pub note: Option<String>,
    /// Past its deadline.
    pub overdue: bool,
    /// When that was noticed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub overdue_at: Option<OffsetDateTime>,
}

pub(crate) const APP_COLUMNS: &str = "id, number, regulation_id, service, provider_id, channel, status, stage, current_step, applicant_iin, applicant_name, category, representative_iin, document, signature, signer_iin, signer_name, sender_system, message_id, correlation_id, registered_at, due_at, overdue, assignee_iin, result_id, grounds, missing_documents, decision_number, decision_date, amount, queue_category, queue_number, registration_date, completed_at, updated_at";

pub(crate) const RUN_COLUMNS: &str = "id, application_id, step_id, kind, role, assignee_iin, status, started_at, due_at, completed_at, completed_by, outcome, note, overdue, overdue_at";

/// The next value of a gap-free counter, inside the caller's transaction (the row stays
/// locked until it commits; a rollback gives the number back).
pub async fn next_number(conn: &mut PgConnection, scope: &str, key: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into counters (scope, key, value) values ($1, $2, 1)
         on conflict (scope, key) do update set value = counters.value + 1
         returning value",
    )
    .bind(scope)
    .bind(key)
    .fetch_one(conn)
    .await
}

/// An application by id, locked for update.
pub async fn application_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "select {APP_COLUMNS} from applications where id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// An application by id, number, or the messageId it arrived with (what its sender knows
/// it by).
pub async fn application(pool: &PgPool, key: &str) -> sqlx::Result<Option<Application>> {
    if key.contains('\0') {
        // no number holds a NUL, and PostgreSQL takes none in text
        return Ok(None);
    }
    let by_id = Uuid::parse_str(key).ok();
    sqlx::query_as(&format!(
        "select {APP_COLUMNS} from applications where id = $1 or number = $2 or message_id = $2"
    ))
    .bind(by_id)
    .bind(key)
    .fetch_optional(pool)
    .await
}

/// An application by the messageId it arrived with.
pub async fn application_by_message(
    pool: &PgPool,
    message_id: &str,
) -> sqlx::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "select {APP_COLUMNS} from applications where message_id = $1"
    ))
    .bind(message_id)
    .fetch_optional(pool)
    .await
}

/// The steps of an application, oldest first.
pub async fn runs(pool: &PgPool, application: Uuid) -> sqlx::Result<Vec<StepRun>> {
    sqlx::query_as(&format!(
        "select {RUN_COLUMNS} from step_runs where application_id = $1 order by id"
    ))
    .bind(application)
    .fetch_all(pool)
    .await
}

/// A step run, locked for update.
pub async fn run_for_update(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<StepRun>> {
    sqlx::query_as(&format!(
        "select {RUN_COLUMNS} from step_runs where id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A step run.
pub async fn run(pool: &PgPool, id: i64) -> sqlx::Result<Option<StepRun>> {
    sqlx::query_as(&format!(
        "select {RUN_COLUMNS} from step_runs where id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The open step of an application.
pub async fn open_run(conn: &mut PgConnection, application: Uuid) -> sqlx::Result<Option<StepRun>> {
    sqlx::query_as(&format!(
        "select {RUN_COLUMNS} from step_runs where application_id = $1 and status = 'open' order by id desc limit 1"
    ))
    .bind(application)
    .fetch_optional(conn)
    .await
}

/// An attachment's metadata.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AttachmentRow {
    /// Id.
    pub id: Uuid,
    /// The document kind.
    pub kind: String,
    /// File name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Whether the paper original was presented.
    pub paper: bool,
    /// Whether a scan is attached.
    pub scanned: bool,
    /// SHA-256 of the scan.
    pub sha256: Option<String>,
}

/// The attachments of an application.
pub async fn attachments(pool: &PgPool, application: Uuid) -> sqlx::Result<Vec<AttachmentRow>> {
    sqlx::query_as(
        "select id, kind, name, media_type, paper, content is not null as scanned, sha256
         from attachments where application_id = $1 order by kind, name",
    )
    .bind(application)
    .fetch_all(pool)
    .await
}

/// A status change of the history.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StatusChange {
    /// Status.
    pub status: BaseStatus,
    /// The regulation file's own status id behind it.
    pub stage: Option<String>,
    /// The step that set it.
    pub step_id: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The status history of an application.
pub async fn history(pool: &PgPool, application: Uuid) -> sqlx::Result<Vec<StatusChange>> {
    sqlx::query_as(
        "select status, stage, step_id, at from status_history where application_id = $1 order by id",
    )
    .bind(application)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name a value is stored and sent under, as serde writes it.
    fn json_name<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn channels_keep_their_ids() {
        let ids: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(ids, ["portal", "provider", "con"]);
        for c in Channel::ALL {
            assert_eq!(json_name(c), c.as_str());
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("con-is"), None);
    }

    #[test]
    fn base_statuses_keep_the_regulations_names() {
        // stored, sent and written in the files under one name
        for s in BaseStatus::ALL {
            assert_eq!(json_name(s), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(BaseStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn runs_keep_their_names() {
        let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["open", "done"]);
        for s in RunStatus::ALL {
            assert_eq!(json_name(s), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
        for k in RunKind::ALL {
            assert_eq!(json_name(k), k.as_str());
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(RunKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn result_kinds_keep_the_regulations_names() {
        for k in ResultDocKind::ALL {
            assert_eq!(json_name(k), k.as_str());
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(ResultDocKind::parse(k.as_str()), Some(k));
        }
    }
}
