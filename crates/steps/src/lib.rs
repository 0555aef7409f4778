//! The steps of a regulation's channel that an entry system executes (ИС ЦОН on the
//! `con` channel, ПЭП on the `portal` channel), recorded as the system goes through
//! them, and the SLA over them.
//!
//! A channel is walked from its first step along `next` or, at a diamond, along the
//! branch its outcome takes (`yes` while the application goes forward, `no` into the
//! refusal). Only the steps the system executes are recorded; the others (a registry's
//! message, the gateway's routing) belong to the systems they name.
//!
//! Each record holds when the step began, when it is due (its deadline along the
//! channel, else the shortest span over it, counted from its start), when and by whom
//! it was done, its outcome, and whether it went past its due time. The monitor flags
//! open steps past their due time, once, in a metric and the log.
//!
//! The records live in the system's own database, in a table of this shape (each
//! system's migrations create it):
//!
//! ```sql
//! create table step_runs (
//!     id             bigserial primary key,
//!     application_id uuid not null references applications (id),
//!     step_id        text not null,
//!     lane           text not null,
//!     started_at     timestamptz not null,
//!     due_at         timestamptz,
//!     completed_at   timestamptz,
//!     completed_by   text,
//!     outcome        text,
//!     overdue        boolean not null default false,
//!     overdue_at     timestamptz,
//!     unique (application_id, step_id)
//! );
//! ```
//!
//! and `applications` has `number` and `regulation_id`.

use std::time::Duration;

use egov_calendar::Calendar;
use egov_regulation::{Channel, ChannelStep, Regulation};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Which system's steps, on which channel, and the names of its SLA metrics.
#[derive(Debug, Clone, Copy)]
pub struct Sla {
    /// The system id channel steps name in `executed_by` (`con-is`, `portal`).
    pub system: &'static str,
    /// The channel it executes (`con`, `portal`).
    pub channel: &'static str,
    /// The counter of steps found past their due time (labels `regulation`, `step`).
    pub overdue_total: &'static str,
    /// The gauge of open steps past their due time.
    pub open_overdue: &'static str,
}

/// The step a step leads to when its diamond goes `when` (`yes`/`no`), else its `next`.
pub fn successor<'a>(s: &'a ChannelStep, when: &str) -> Option<&'a str> {
    s.branches
        .iter()
        .find(|(w, _)| w == when)
        .map(|(_, n)| n.as_str())
        .or(s.next.as_deref())
}

/// The path of a channel's steps from its first, forward (`yes`), up to `handoff`.
pub fn forward_path(ch: &Channel) -> Vec<&ChannelStep> {
    walk(&ch.steps, ch.steps.first())
}

/// The steps taken along `no` from `from` (the refusal's branch) up to `end`.
pub fn refusal_path<'a>(ch: &'a Channel, from: &ChannelStep) -> Vec<&'a ChannelStep> {
    let first = successor(from, "no").and_then(|n| ch.steps.iter().find(|x| x.id == n));
    walk(&ch.steps, first)
}

/// The channel's leg after the procedure (the result's way back), in order.
pub fn after_path(ch: &Channel) -> Vec<&ChannelStep> {
    walk(&ch.after, ch.after.first())
}

/// Steps from `first` along `yes` (or `next`) within `steps`, each once.
fn walk<'a>(steps: &'a [ChannelStep], first: Option<&'a ChannelStep>) -> Vec<&'a ChannelStep> {
    let mut out: Vec<&ChannelStep> = Vec::new();
    let mut at = first;
    while let Some(s) = at {
        if out.iter().any(|o| o.id == s.id) {
            break;
        }
        out.push(s);
        at = successor(s, "yes").and_then(|n| steps.iter().find(|x| x.id == n));
    }
    out
}

/// When a step of `channel` begun at `start` is due: its deadline, else the shortest
/// span over it.
pub fn due(
    calendar: &Calendar,
    reg: &Regulation,
    channel: &str,
    step: &ChannelStep,
    start: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let d = step
        .deadline
        .or_else(|| reg.span_over(&step.id, channel).map(|s| s.deadline))?;
    Some(d.due(calendar, start))
}

/// Records the steps of one application, done by one person or system at one moment.
pub struct Recorder<'a> {
    /// Whose steps.
    pub sla: &'a Sla,
    /// The working-day calendar the due times are counted in.
    pub calendar: &'a Calendar,
    /// The application's regulation.
    pub reg: &'a Regulation,
    /// The application.
    pub application: Uuid,
    /// Who does the steps (an IIN, or the system's id for its own steps).
    pub by: &'a str,
    /// When they are done.
    pub now: OffsetDateTime,
}

impl<'a> Recorder<'a> {
    /// A recorder of `application`'s steps of `sla`'s channel, done by `by` at `now`.
    pub fn new(
        sla: &'a Sla,
        calendar: &'a Calendar,
        reg: &'a Regulation,
        application: Uuid,
        by: &'a str,
        now: OffsetDateTime,
    ) -> Recorder<'a> {
        Recorder {
            sla,
            calendar,
            reg,
            application,
            by,
            now,
        }
    }

    fn due(&self, step: &ChannelStep, start: OffsetDateTime) -> Option<OffsetDateTime> {
        due(self.calendar, self.reg, self.sla.channel, step, start)
    }

    fn count_overdue(&self, step: &ChannelStep) {
        metrics::counter!(self.sla.overdue_total, "regulation" => self.reg.id.clone(), "step" => step.id.clone()).increment(1);
    }

    /// Records `steps` as done one after another, the first begun at `start`, all ended
    /// now (the last with `last_outcome`, a diamond before it with `yes`). A step
    /// already recorded is left as it was. Returns when the last ended.
    pub async fn done(
        &self,
        tx: &mut sqlx::PgConnection,
        steps: &[&ChannelStep],
        start: OffsetDateTime,
        last_outcome: Option<&str>,
    ) -> sqlx::Result<OffsetDateTime> {
        let now = self.now;
        let mut begun = start.min(now);
        for (i, s) in steps.iter().enumerate() {
            let due_at = self.due(s, begun);
            let overdue = due_at.is_some_and(|d| now > d);
            let outcome = if i + 1 == steps.len() {
                last_outcome
            } else if s.conditions.is_empty() {
                None
            } else {
                Some("yes")
            };
            let written = sqlx::query(
                "insert into step_runs (application_id, step_id, lane, started_at, due_at, completed_at, completed_by, outcome, overdue, overdue_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 on conflict (application_id, step_id) do nothing",
            )
            .bind(self.application)
            .bind(&s.id)
            .bind(&s.lane)
            .bind(begun)
            .bind(due_at)
            .bind(now)
            .bind(self.by)
            .bind(outcome)
            .bind(overdue)
            .bind(overdue.then_some(now))
            .execute(&mut *tx)
            .await?;
            if overdue && written.rows_affected() == 1 {
                self.count_overdue(s);
            }
            begun = now;
        }
        Ok(begun)
    }

    /// Completes `step` now with `outcome`: its open record where it was opened as a
    /// task (begun and due as then; past its due time it keeps `overdue`), else a record
    /// begun at `start`. A step already done stays as it was. Returns whether a record
    /// was completed or written.
    pub async fn finish(
        &self,
        tx: &mut sqlx::PgConnection,
        step: &ChannelStep,
        start: OffsetDateTime,
        outcome: Option<&str>,
    ) -> sqlx::Result<bool> {
        if self.complete(tx, step, outcome, false).await? {
            return Ok(true);
        }
        let recorded: bool = sqlx::query_scalar(
            "select exists (select 1 from step_runs where application_id = $1 and step_id = $2)",
        )
        .bind(self.application)
        .bind(&step.id)
        .fetch_one(&mut *tx)
        .await?;
        if recorded {
            return Ok(false);
        }
        self.done(tx, &[step], start, outcome).await?;
        Ok(true)
    }

    /// Completes the record of `step` now with `outcome` (keeping its start and due time;
    /// past its due time it is marked `overdue`, counted once) where it is open, or,
    /// `again`, where it was closed with `no` (a diamond decided again: a signature tried
    /// again after a refusal). Returns whether a record was completed.
    pub async fn complete(
        &self,
        tx: &mut sqlx::PgConnection,
        step: &ChannelStep,
        outcome: Option<&str>,
        again: bool,
    ) -> sqlx::Result<bool> {
        let newly: Option<bool> = sqlx::query_scalar(
            "update step_runs set completed_at = $3, completed_by = $4, outcome = $5,
               overdue = overdue or coalesce(due_at < $3, false),
               overdue_at = case when not overdue and due_at < $3 then $3 else overdue_at end
             where application_id = $1 and step_id = $2
               and (completed_at is null or ($6 and outcome = 'no'))
             returning coalesce(overdue_at = $3, false)",
        )
        .bind(self.application)
        .bind(&step.id)
        .bind(self.now)
        .bind(self.by)
        .bind(outcome)
        .bind(again)
        .fetch_optional(&mut *tx)
        .await?;
        if newly == Some(true) {
            self.count_overdue(step);
        }
        Ok(newly.is_some())
    }

    /// Sets the outcome of the diamond `step` where it is recorded (decided after the
    /// step was done: the citizen came for the result, or did not).
    pub async fn decide(
        &self,
        tx: &mut sqlx::PgConnection,
        step: &ChannelStep,
        outcome: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("update step_runs set outcome = $3 where application_id = $1 and step_id = $2")
            .bind(self.application)
            .bind(&step.id)
            .bind(outcome)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Opens `step` as a task begun at `start`, due by its deadline. A step already
    /// recorded is left as it was; returns whether it was opened.
    pub async fn open(
        &self,
        tx: &mut sqlx::PgConnection,
        step: &ChannelStep,
        start: OffsetDateTime,
    ) -> sqlx::Result<bool> {
        let opened = sqlx::query(
            "insert into step_runs (application_id, step_id, lane, started_at, due_at)
             values ($1, $2, $3, $4, $5)
             on conflict (application_id, step_id) do nothing",
        )
        .bind(self.application)
        .bind(&step.id)
        .bind(&step.lane)
        .bind(start)
        .bind(self.due(step, start))
        .execute(&mut *tx)
        .await?;
        Ok(opened.rows_affected() == 1)
    }
}

/// A step record.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StepRun {
    /// The step.
    pub step_id: String,
    /// Its lane.
    pub lane: String,
    /// Begun.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    /// Done (none: open).
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// By whom (an IIN, or the system's id).
    pub completed_by: Option<String>,
    /// The diamond's outcome.
    pub outcome: Option<String>,
    /// Past its due time.
    pub overdue: bool,
}

/// The steps of an application, in order.
pub async fn of(db: impl sqlx::PgExecutor<'_>, application: Uuid) -> sqlx::Result<Vec<StepRun>> {
    sqlx::query_as(
        "select step_id, lane, started_at, due_at, completed_at, completed_by, outcome, overdue
         from step_runs where application_id = $1 order by id",
    )
    .bind(application)
    .fetch_all(db)
    .await
}

/// An open step found past its due time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Overdue {
    /// The application number.
    pub number: String,
    /// The regulation.
    pub regulation_id: String,
    /// The step.
    pub step_id: String,
    /// Its due time.
    pub due_at: OffsetDateTime,
}

/// Flags the open steps past their due time at `now`, once each; returns those newly
/// flagged.
pub async fn scan(
    sla: &Sla,
    pool: &sqlx::PgPool,
    now: OffsetDateTime,
) -> sqlx::Result<Vec<Overdue>> {
    let flagged: Vec<Overdue> = sqlx::query_as(
        "with f as (
            update step_runs set overdue = true, overdue_at = $1
            where completed_at is null and not overdue and due_at < $1
            returning application_id, step_id, due_at)
         select a.number, a.regulation_id, f.step_id, f.due_at
         from f join applications a on a.id = f.application_id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for o in &flagged {
        metrics::counter!(
            sla.overdue_total,
            "regulation" => o.regulation_id.clone(),
            "step" => o.step_id.clone(),
        )
        .increment(1);
        tracing::warn!(
            system = sla.system,
            application = %o.number,
            regulation = %o.regulation_id,
            step = %o.step_id,
            due = %o.due_at,
            "step past its deadline"
        );
    }
    let open: i64 =
        sqlx::query_scalar("select count(*) from step_runs where completed_at is null and overdue")
            .fetch_one(pool)
            .await?;
    metrics::gauge!(sla.open_overdue).set(open as f64);
    Ok(flagged)
}

/// Scans every `every` until `shutdown`, at the time `now` gives.
pub async fn monitor(
    sla: Sla,
    pool: sqlx::PgPool,
    now: impl Fn() -> OffsetDateTime,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = scan(&sla, &pool, now()).await {
            tracing::warn!(system = sla.system, error = %e, "SLA scan failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Vec<Regulation> {
        egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap()
    }

    #[test]
    fn every_channel_walks_forward_to_the_handoff() {
        for r in regs() {
            for ch in &r.channels {
                let path = forward_path(ch);
                assert!(!path.is_empty(), "{} {}", r.id, ch.id);
                let last = path.last().unwrap();
                assert_eq!(
                    successor(last, "yes"),
                    Some("handoff"),
                    "{} {}: the forward path ends at the handoff",
                    r.id,
                    ch.id
                );
            }
        }
    }

    #[test]
    fn a_refusal_ends_the_channel() {
        let regs = regs();
        let r = regs
            .iter()
            .find(|r| r.id == "almaty-2016-housing-assistance")
            .unwrap();
        let ch = r.channel("portal").unwrap();
        let sign = ch.step("portal-fill-form").unwrap();
        let ids: Vec<_> = refusal_path(ch, sign).iter().map(|s| &s.id).collect();
        assert_eq!(ids, ["portal-sign-refused"]);
        let ids: Vec<_> = after_path(ch).iter().map(|s| &s.id).collect();
        assert_eq!(ids, ["portal-receive"]);
    }

    #[test]
    fn a_step_without_a_deadline_is_due_by_its_span() {
        let regs = regs();
        let r = regs
            .iter()
            .find(|r| r.id == "almaty-2013-housing-queue")
            .unwrap();
        let ch = r.channel("portal").unwrap();
        let login = ch.step("portal-login").unwrap();
        assert!(login.deadline.is_none());
        let start = time::macros::datetime!(2026-12-07 10:00 +5);
        let d = due(Calendar::kazakhstan(), r, "portal", login, start);
        assert!(d.is_some_and(|d| d > start), "{d:?}");
    }
}
