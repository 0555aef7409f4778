//! The steps of a regulation's `con` channel that ИС ЦОН executes, as the desk goes
//! through them, and the SLA over them.
//!
//! The channel is walked from its first step along `next` or, at a diamond, along the
//! branch its outcome takes (`yes` while the application goes forward). Only the steps
//! `executed_by = "con-is"` are recorded; the others (a registry's message, the
//! gateway's routing) belong to the systems they name. The desk is the lane of the
//! channel's first step: the steps in it are done by the inspector's operations (the
//! draft with the registries' request, then the completeness check, the signature and
//! the sending; the lanes of the steps up to the registries' request count as the desk
//! too); the first step of another lane after them (the accumulation sector's
//! transfer, the courier) is opened as a task with its due time, for the paper side.
//!
//! Each record holds when the step began (when the one before it ended; the first when
//! the operator's session began), when it is due (its deadline along the channel, else
//! the shortest span over it, counted from its start), when and by whom it was done, its
//! outcome, and whether it went past its due time. The SLA monitor flags open steps past
//! their due time, once, in a metric and the log, as ИС МИО's does.

use std::time::Duration;

use egov_regulation::{ChannelStep, Regulation};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Core;
use crate::catalog::{CON, con};

/// The system id channel steps name when ИС ЦОН executes them.
pub const EXECUTED_BY: &str = "con-is";

/// Whether a step decides C-person or C-poa (the registries' request).
pub fn is_registries(s: &ChannelStep) -> bool {
    s.conditions.iter().any(|c| c == "C-person" || c == "C-poa")
}

/// The step a step leads to when its diamond goes `when` (`yes`/`no`), else its `next`.
fn successor<'a>(s: &'a ChannelStep, when: &str) -> Option<&'a str> {
    s.branches
        .iter()
        .find(|(w, _)| w == when)
        .map(|(_, n)| n.as_str())
        .or(s.next.as_deref())
}

/// The path of the channel's steps from its first, forward (`yes`), up to `handoff`.
pub fn forward_path(reg: &Regulation) -> Vec<&ChannelStep> {
    let ch = con(reg);
    let mut out = Vec::new();
    let mut at = ch.steps.first();
    while let Some(s) = at {
        if out.iter().any(|o: &&ChannelStep| o.id == s.id) {
            break;
        }
        out.push(s);
        at = successor(s, "yes").and_then(|n| ch.steps.iter().find(|x| x.id == n));
    }
    out
}

/// The steps taken along `no` from `from` (the refusal's branch) up to `end`.
pub fn refusal_path<'a>(reg: &'a Regulation, from: &ChannelStep) -> Vec<&'a ChannelStep> {
    let ch = con(reg);
    let mut out = Vec::new();
    let mut at = successor(from, "no").and_then(|n| ch.steps.iter().find(|x| x.id == n));
    while let Some(s) = at {
        if out.iter().any(|o: &&ChannelStep| o.id == s.id) {
            break;
        }
        out.push(s);
        at = s
            .next
            .as_deref()
            .and_then(|n| ch.steps.iter().find(|x| x.id == n));
    }
    out
}

/// The lanes of the desk: the lane of the channel's first step, and the lanes of the
/// steps up to the registries' request (ИС ЦОН's own lane where the login is its step).
pub fn desk_lanes(reg: &Regulation) -> Vec<&str> {
    let path = forward_path(reg);
    let mut lanes: Vec<&str> = path.first().map(|s| s.lane.as_str()).into_iter().collect();
    if let Some(i) = path.iter().position(|s| is_registries(s)) {
        for s in &path[..=i] {
            if s.executed_by == EXECUTED_BY && !lanes.contains(&s.lane.as_str()) {
                lanes.push(&s.lane);
            }
        }
    }
    lanes
}

/// How the desk's operations split the forward path.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Done when the draft is made (up to the registries' request, included).
    pub draft: Vec<&'a ChannelStep>,
    /// Done when the application is signed and sent.
    pub submit: Vec<&'a ChannelStep>,
    /// The first step of another lane, opened as a task once the application is sent.
    pub next_task: Option<&'a ChannelStep>,
    /// The step that decides completeness at the desk (a diamond other than the
    /// registries'), if the channel has one.
    pub completeness: Option<&'a ChannelStep>,
}

/// The plan of a regulation's `con` channel.
pub fn plan(reg: &Regulation) -> Plan<'_> {
    let path = forward_path(reg);
    let lanes = desk_lanes(reg);
    let ours: Vec<&ChannelStep> = path
        .iter()
        .copied()
        .filter(|s| s.executed_by == EXECUTED_BY)
        .collect();
    let split = ours
        .iter()
        .position(|s| is_registries(s))
        .map(|i| i + 1)
        .unwrap_or(0);
    let (draft, rest) = ours.split_at(split);
    let mut submit = Vec::new();
    let mut next_task = None;
    for s in rest {
        if lanes.contains(&s.lane.as_str()) {
            submit.push(*s);
        } else {
            next_task = Some(*s);
            break;
        }
    }
    let completeness = submit
        .iter()
        .copied()
        .find(|s| !s.conditions.is_empty() && !is_registries(s));
    Plan {
        draft: draft.to_vec(),
        submit,
        next_task,
        completeness,
    }
}

/// When a step begun at `start` is due along the channel: its deadline, else the
/// shortest span over it.
pub fn due(
    core: &Core,
    reg: &Regulation,
    step: &ChannelStep,
    start: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let d = step
        .deadline
        .or_else(|| reg.span_over(&step.id, CON).map(|s| s.deadline))?;
    Some(d.due(core.calendar, start))
}

/// Records the steps of one application, done by one operator at one moment.
pub struct Recorder<'a> {
    /// What the operations share.
    pub core: &'a Core,
    /// The application's regulation.
    pub reg: &'a Regulation,
    /// The application.
    pub application: Uuid,
    /// Who does the steps (IIN).
    pub by: &'a str,
    /// When they are done.
    pub now: OffsetDateTime,
}

impl Recorder<'_> {
    /// Records `steps` as done one after another, the first begun at `start`, all ended
    /// now (the last with `last_outcome`, a diamond before it with `yes`). Returns when
    /// the last ended.
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
            let due_at = due(self.core, self.reg, s, begun);
            let overdue = due_at.is_some_and(|d| now > d);
            let outcome = if i + 1 == steps.len() {
                last_outcome
            } else if s.conditions.is_empty() {
                None
            } else {
                Some("yes")
            };
            sqlx::query(
                "insert into step_runs (application_id, step_id, lane, started_at, due_at, completed_at, completed_by, outcome, overdue, overdue_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
            if overdue {
                metrics::counter!("egov_con_steps_overdue_total", "regulation" => self.reg.id.clone(), "step" => s.id.clone()).increment(1);
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
        let done: Option<(bool, bool)> = sqlx::query_as(
            "update step_runs set completed_at = $3, completed_by = $4, outcome = $5,
               overdue = overdue or coalesce(due_at < $3, false),
               overdue_at = case when not overdue and due_at < $3 then $3 else overdue_at end
             where application_id = $1 and step_id = $2 and completed_at is null
             returning overdue, coalesce(overdue_at = $3, false)",
        )
        .bind(self.application)
        .bind(&step.id)
        .bind(self.now)
        .bind(self.by)
        .bind(outcome)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((_, newly)) = done {
            if newly {
                metrics::counter!("egov_con_steps_overdue_total", "regulation" => self.reg.id.clone(), "step" => step.id.clone()).increment(1);
            }
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

    /// Opens `step` as a task begun at `start`, due by its deadline.
    pub async fn open(
        &self,
        tx: &mut sqlx::PgConnection,
        step: &ChannelStep,
        start: OffsetDateTime,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "insert into step_runs (application_id, step_id, lane, started_at, due_at)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(self.application)
        .bind(&step.id)
        .bind(&step.lane)
        .bind(start)
        .bind(due(self.core, self.reg, step, start))
        .execute(&mut *tx)
        .await?;
        Ok(())
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
    /// By whom (IIN).
    pub completed_by: Option<String>,
    /// The diamond's outcome.
    pub outcome: Option<String>,
    /// Past its due time.
    pub overdue: bool,
}

/// The steps of an application, in order.
pub async fn of(pool: &sqlx::PgPool, application: Uuid) -> sqlx::Result<Vec<StepRun>> {
    sqlx::query_as(
        "select step_id, lane, started_at, due_at, completed_at, completed_by, outcome, overdue
         from step_runs where application_id = $1 order by id",
    )
    .bind(application)
    .fetch_all(pool)
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

/// Flags the open steps past their due time now, once each; returns those newly flagged.
pub async fn scan(core: &Core) -> sqlx::Result<Vec<Overdue>> {
    let now = core.clock.now();
    let flagged: Vec<Overdue> = sqlx::query_as(
        "with f as (
            update step_runs set overdue = true, overdue_at = $1
            where completed_at is null and not overdue and due_at < $1
            returning application_id, step_id, due_at)
         select a.number, a.regulation_id, f.step_id, f.due_at
         from f join applications a on a.id = f.application_id",
    )
    .bind(now)
    .fetch_all(&core.pool)
    .await?;
    for o in &flagged {
        metrics::counter!(
            "egov_con_steps_overdue_total",
            "regulation" => o.regulation_id.clone(),
            "step" => o.step_id.clone(),
        )
        .increment(1);
        tracing::warn!(
            application = %o.number,
            regulation = %o.regulation_id,
            step = %o.step_id,
            due = %o.due_at,
            "step past its deadline"
        );
    }
    let open: i64 =
        sqlx::query_scalar("select count(*) from step_runs where completed_at is null and overdue")
            .fetch_one(&core.pool)
            .await?;
    metrics::gauge!("egov_con_open_overdue_steps").set(open as f64);
    Ok(flagged)
}

/// Scans every `every` until `shutdown`.
pub async fn monitor(core: Core, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = scan(&core).await {
            tracing::warn!(error = %e, "SLA scan failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Vec<Regulation> {
        egov_regulation::load_dir(&egov_regulation::shipped_dir())
            .unwrap()
            .into_iter()
            .filter(|r| r.channel(CON).is_some())
            .collect()
    }

    #[test]
    fn every_con_channel_has_a_desk_plan() {
        let regs = regs();
        assert_eq!(regs.len(), 5);
        for r in &regs {
            let p = plan(r);
            assert!(
                !p.draft.is_empty() || !p.submit.is_empty(),
                "{}: the desk executes something",
                r.id
            );
            for s in p.draft.iter().chain(&p.submit) {
                assert_eq!(s.executed_by, EXECUTED_BY, "{} {}", r.id, s.id);
                assert!(
                    desk_lanes(r).contains(&s.lane.as_str()),
                    "{} {}",
                    r.id,
                    s.id
                );
            }
        }
    }

    #[test]
    fn the_registries_request_ends_the_draft() {
        let regs = regs();
        let akzhar = regs.iter().find(|r| r.id.starts_with("akzhar")).unwrap();
        let p = plan(akzhar);
        let ids = |v: &[&ChannelStep]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&p.draft),
            ["con-login", "con-enter-data", "con-request-registries"]
        );
        assert_eq!(ids(&p.submit), ["con-attach-and-sign", "con-send"]);
        assert!(p.next_task.is_none());
        let atyrau = regs
            .iter()
            .find(|r| r.id == "atyrau-2014-housing-queue")
            .unwrap();
        let p = plan(atyrau);
        assert!(p.draft.is_empty());
        assert_eq!(p.completeness.unwrap().id, "con-receive-documents");
        assert_eq!(
            ids(&refusal_path(atyrau, p.completeness.unwrap())),
            ["con-refuse-acceptance"]
        );
        assert_eq!(p.next_task.unwrap().id, "con-send-to-provider");
    }
}
