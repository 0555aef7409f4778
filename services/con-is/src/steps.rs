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
pub use egov_steps::{Overdue, Recorder, Sla, StepRun};
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

/// The path of the channel's steps from its first, forward (`yes`), up to `handoff`.
pub fn forward_path(reg: &Regulation) -> Vec<&ChannelStep> {
    egov_steps::forward_path(con(reg))
}

/// The steps taken along `no` from `from` (the refusal's branch) up to `end`.
pub fn refusal_path<'a>(reg: &'a Regulation, from: &ChannelStep) -> Vec<&'a ChannelStep> {
    egov_steps::refusal_path(con(reg), from)
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

/// ИС ЦОН's steps on the `con` channel and its SLA metrics.
pub const SLA: Sla = Sla {
    system: EXECUTED_BY,
    channel: CON,
    overdue_total: "egov_con_steps_overdue_total",
    open_overdue: "egov_con_open_overdue_steps",
};

/// A recorder of one application's steps, done by `by` now.
pub fn recorder<'a>(
    core: &'a Core,
    reg: &'a Regulation,
    application: Uuid,
    by: &'a str,
    now: OffsetDateTime,
) -> Recorder<'a> {
    Recorder::new(&SLA, core.calendar, reg, application, by, now)
}

/// The steps of an application, in order.
pub async fn of(pool: &sqlx::PgPool, application: Uuid) -> sqlx::Result<Vec<StepRun>> {
    egov_steps::of(pool, application).await
}

/// Flags the open steps past their due time now, once each; returns those newly flagged.
pub async fn scan(core: &Core) -> sqlx::Result<Vec<Overdue>> {
    egov_steps::scan(&SLA, &core.pool, core.clock.now()).await
}

/// Scans every `every` until `shutdown`.
pub async fn monitor(core: Core, every: Duration, shutdown: CancellationToken) {
    let clock = core.clock.clone();
    egov_steps::monitor(SLA, core.pool.clone(), move || clock.now(), every, shutdown).await
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
