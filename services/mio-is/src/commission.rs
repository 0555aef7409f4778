//! The commission (the housing commission; for S2 the housing-assistance commission):
//! meetings, the applications on their agenda, a protocol with a decision per
//! application. Closing the protocol applies every decision in one transaction: each
//! application leaves its commission step by the decided outcome (registration on the
//! waiting list with its number, or refusal with its grounds, or the assignment).

use std::fmt;

use sqlx::PgPool;
use time::Date;
use uuid::Uuid;

use egov_regulation::StepKind;

use crate::employees::Employee;
use crate::engine::{Completion, Engine, Error};
use crate::store::{self, RunKind};

/// Whether a meeting's protocol is still open (`meetings.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    /// `open`: the agenda and the decisions may change.
    Open,
    /// `closed`: the protocol is closed and its decisions applied.
    Closed,
}

impl MeetingStatus {
    /// Both states.
    pub const ALL: [MeetingStatus; 2] = [MeetingStatus::Open, MeetingStatus::Closed];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Open => "open",
            MeetingStatus::Closed => "closed",
        }
    }
}

impl fmt::Display for MeetingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A meeting.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Meeting {
    /// Id.
    pub id: Uuid,
    /// Provider.
    pub provider_id: String,
    /// Its number within the provider.
    pub number: i64,
    /// When it meets.
    #[serde(with = "egov_contracts::date")]
    pub meeting_date: Date,
    /// Open or closed.
    pub status: MeetingStatus,
    /// The protocol's number, once closed.
    pub protocol_number: Option<String>,
    /// Who scheduled it.
    pub created_by: String,
    /// When the protocol was closed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<time::OffsetDateTime>,
}

/// An application on a meeting's agenda.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Item {
    /// The application.
    pub application_id: Uuid,
    /// Its number.
    pub number: String,
    /// The applicant.
    pub applicant_name: String,
    /// The category.
    pub category: String,
    /// Its place on the agenda.
    pub position: i32,
    /// The decision recorded.
    pub decision: Option<String>,
    /// Refusal grounds.
    pub grounds: Vec<String>,
    /// Amount (S2).
    pub amount: Option<i64>,
    /// A note.
    pub note: Option<String>,
}

const MEETING_COLUMNS: &str =
    "id, provider_id, number, meeting_date, status, protocol_number, created_by, closed_at";

fn secretary(who: &Employee) -> Result<(), Error> {
    if who.role != "commission" {
        return Err(Error::Forbidden(format!(
            "only the commission's secretary (role commission) keeps the protocol; {} is {}",
            who.iin, who.role
        )));
    }
    Ok(())
}

/// The meetings of a provider, newest first.
pub async fn meetings(pool: &PgPool, provider: &str) -> sqlx::Result<Vec<Meeting>> {
    sqlx::query_as(&format!(
        "select {MEETING_COLUMNS} from meetings where provider_id = $1 order by number desc"
    ))
    .bind(provider)
    .fetch_all(pool)
    .await
}

/// One meeting.
pub async fn meeting(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Meeting>> {
    sqlx::query_as(&format!(
        "select {MEETING_COLUMNS} from meetings where id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The agenda of a meeting.
pub async fn agenda(pool: &PgPool, meeting: Uuid) -> sqlx::Result<Vec<Item>> {
    sqlx::query_as(
        "select i.application_id, a.number, a.applicant_name, a.category, i.position, i.decision, i.grounds, i.amount, i.note
         from agenda_items i join applications a on a.id = i.application_id
         where i.meeting_id = $1 order by i.position",
    )
    .bind(meeting)
    .fetch_all(pool)
    .await
}

/// Applications of the provider waiting for the commission and on no open agenda.
pub async fn waiting(pool: &PgPool, provider: &str) -> sqlx::Result<Vec<store::Application>> {
    sqlx::query_as(&format!(
        "select {} from applications a
         where a.provider_id = $1
           and exists (select 1 from step_runs r where r.application_id = a.id and r.status = 'open' and r.kind = 'commission')
           and not exists (select 1 from agenda_items i join meetings m on m.id = i.meeting_id
                           where i.application_id = a.id and m.status = 'open')
         order by a.registered_at",
        store::APP_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(provider)
    .fetch_all(pool)
    .await
}

impl Engine {
    /// Schedules a meeting of the employee's provider.
    pub async fn schedule_meeting(&self, who: &Employee, date: Date) -> Result<Meeting, Error> {
        secretary(who)?;
        if date < self.clock.today() - time::Duration::days(1) {
            return Err(Error::Invalid(format!(
                "the meeting date {date} is in the past"
            )));
        }
        let mut tx = self.pool.begin().await?;
        let number = store::next_number(&mut tx, "meeting", &who.provider_id).await?;
        let id = Uuid::new_v4();
        sqlx::query(
            "insert into meetings (id, provider_id, number, meeting_date, status, created_by) values ($1, $2, $3, $4, 'open', $5)",
        )
        .bind(id)
        .bind(&who.provider_id)
        .bind(number)
        .bind(date)
        .bind(&who.iin)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(meeting(&self.pool, id).await?.expect("just inserted"))
    }

    async fn open_meeting(
        &self,
        conn: &mut sqlx::PgConnection,
        who: &Employee,
        id: Uuid,
    ) -> Result<Meeting, Error> {
        let m: Meeting = sqlx::query_as(&format!(
            "select {MEETING_COLUMNS} from meetings where id = $1 for update"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no meeting {id}")))?;
        if m.provider_id != who.provider_id {
            return Err(Error::Forbidden("the meeting is another provider's".into()));
        }
        if m.status != MeetingStatus::Open {
            return Err(Error::Conflict(format!(
                "meeting {} is closed (protocol {})",
                m.number,
                m.protocol_number.clone().unwrap_or_default()
            )));
        }
        Ok(m)
    }

    /// Puts an application waiting for the commission on the agenda.
    pub async fn add_to_agenda(
        &self,
        who: &Employee,
        meeting_id: Uuid,
        application: &str,
    ) -> Result<Vec<Item>, Error> {
        secretary(who)?;
        let app = store::application(&self.pool, application)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no application {application}")))?;
        let mut tx = self.pool.begin().await?;
        self.open_meeting(&mut tx, who, meeting_id).await?;
        let app = store::application_for_update(&mut tx, app.id)
            .await?
            .expect("exists");
        if app.provider_id != who.provider_id {
            return Err(Error::Forbidden(
                "the application is another provider's".into(),
            ));
        }
        let run = store::open_run(&mut tx, app.id).await?;
        if run.as_ref().is_none_or(|r| r.kind != RunKind::Commission) {
            return Err(Error::Conflict(format!(
                "application {} is not waiting for the commission (it is at {})",
                app.number,
                app.current_step.clone().unwrap_or_default()
            )));
        }
        let on_open: Option<i64> = sqlx::query_scalar(
            "select m.number from agenda_items i join meetings m on m.id = i.meeting_id
             where i.application_id = $1 and m.status = 'open'",
        )
        .bind(app.id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(n) = on_open {
            return Err(Error::Conflict(format!(
                "application {} is on the agenda of meeting {n} already",
                app.number
            )));
        }
        sqlx::query(
            "insert into agenda_items (meeting_id, application_id, position)
             values ($1, $2, (select coalesce(max(position), 0) + 1 from agenda_items where meeting_id = $1))",
        )
        .bind(meeting_id)
        .bind(app.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(agenda(&self.pool, meeting_id).await?)
    }

    /// Records the decision on one application of the agenda.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide(
        &self,
        who: &Employee,
        meeting_id: Uuid,
        application: &str,
        decision: &str,
        grounds: &[String],
        amount: Option<i64>,
        note: Option<&str>,
    ) -> Result<Vec<Item>, Error> {
        secretary(who)?;
        let app = store::application(&self.pool, application)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no application {application}")))?;
        let reg = self.regulation(&app)?;
        let step = app
            .current_step
            .as_deref()
            .and_then(|s| reg.step(s))
            .filter(|s| s.kind == StepKind::Commission)
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "application {} is not at the commission",
                    app.number
                ))
            })?;
        let outcome = step.outcome(decision).ok_or_else(|| {
            Error::Invalid(format!(
                "the commission decides one of: {}",
                step.outcomes
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        crate::engine::outcome_inputs(&reg, &outcome.along(app.channel.as_str()), grounds, amount)?;
        let mut tx = self.pool.begin().await?;
        self.open_meeting(&mut tx, who, meeting_id).await?;
        let r = sqlx::query(
            "update agenda_items set decision = $3, grounds = $4, amount = $5, note = $6 where meeting_id = $1 and application_id = $2",
        )
        .bind(meeting_id)
        .bind(app.id)
        .bind(decision)
        .bind(grounds)
        .bind(amount)
        .bind(note)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(Error::NotFound(format!(
                "application {} is not on this meeting's agenda",
                app.number
            )));
        }
        tx.commit().await?;
        Ok(agenda(&self.pool, meeting_id).await?)
    }

    /// Closes the protocol: every decision applies, in one transaction.
    pub async fn close_protocol(&self, who: &Employee, meeting_id: Uuid) -> Result<Meeting, Error> {
        secretary(who)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let m = self.open_meeting(&mut tx, who, meeting_id).await?;
        type Row = (
            Uuid,
            Option<String>,
            Vec<String>,
            Option<i64>,
            Option<String>,
        );
        let items: Vec<Row> = sqlx::query_as(
            "select application_id, decision, grounds, amount, note from agenda_items where meeting_id = $1 order by position",
        )
        .bind(meeting_id)
        .fetch_all(&mut *tx)
        .await?;
        if items.is_empty() {
            return Err(Error::Conflict("the agenda is empty".into()));
        }
        let undecided = items.iter().filter(|i| i.1.is_none()).count();
        if undecided > 0 {
            return Err(Error::Conflict(format!(
                "{undecided} application(s) on the agenda have no decision yet"
            )));
        }
        let year = egov_calendar::local_date(now).year();
        let protocol = format!("{}/{year}", m.number);
        for (app_id, decision, grounds, amount, note) in items {
            let mut app = store::application_for_update(&mut tx, app_id)
                .await?
                .expect("exists");
            let run = store::open_run(&mut tx, app_id)
                .await?
                .filter(|r| r.kind == RunKind::Commission)
                .ok_or_else(|| {
                    Error::Conflict(format!(
                        "application {} left the commission step",
                        app.number
                    ))
                })?;
            let reg = self.regulation(&app)?;
            let step = reg.step(&run.step_id).expect("checked").clone();
            app.decision_number = Some(protocol.clone());
            app.decision_date = Some(m.meeting_date);
            app.grounds = grounds.clone();
            let completion = Completion {
                outcome: decision,
                grounds,
                amount,
                note,
                ..Default::default()
            };
            self.apply(&mut tx, run, &mut app, &reg, &step, None, &completion, now)
                .await?;
        }
        sqlx::query(
            "update meetings set status = 'closed', protocol_number = $2, closed_at = $3, closed_by = $4 where id = $1",
        )
        .bind(meeting_id)
        .bind(&protocol)
        .bind(now)
        .bind(&who.iin)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.wake();
        Ok(meeting(&self.pool, meeting_id).await?.expect("exists"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_states_keep_their_names() {
        let names: Vec<&str> = MeetingStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["open", "closed"]);
        for s in MeetingStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.to_string(), s.as_str());
        }
    }
}
