//! The channels (`[[channels]]`): the steps before the procedure, the leg after it, the
//! systems that execute each step and those that receive the statuses.

use super::*;

/// The channels an application may arrive by: the portal (A), the provider's desk (B),
/// the ЦОН (C).
const CHANNELS: [&str; 3] = ["portal", "provider", "con"];

/// The information systems a channel step may be executed by.
const EXECUTORS: [&str; 8] = [
    "portal", "con-is", "mio", "shep", "rshep", "gbd-fl", "enis", "uc",
];

/// The systems that show an application's statuses.
const STATUS_SIDES: [&str; 2] = ["portal", "con-is"];

/// The systems a result document may be issued from (`mio`: at the provider's desk).
const RESULT_SIDES: [&str; 3] = ["portal", "con-is", "mio"];

pub(super) fn channels(ctx: &mut Ctx<'_>, raw: &RawRegulation, known: &Known<'_>) -> Vec<Channel> {
    ctx.unique(raw.channels.iter().map(|p| &p.id), "channel");
    if raw.channels.is_empty() {
        ctx.at(&raw.id, "no [[channels]]: how do applications arrive?");
    }
    let mut out = Vec::new();
    for c in &raw.channels {
        out.push(channel(ctx, c, known));
    }
    out
}

fn channel(ctx: &mut Ctx<'_>, c: &RawChannel, known: &Known<'_>) -> Channel {
    let cid = ctx.id(&c.id, "channel");
    if !CHANNELS.contains(&cid.as_str()) {
        ctx.at(
            &c.id,
            format!("unknown channel {cid:?} (known: {})", CHANNELS.join(", ")),
        );
    }
    if !known.steps.contains(c.handoff.get_ref().as_str()) {
        ctx.at(
            &c.handoff,
            format!(
                "channel {cid:?}: handoff step {:?} does not exist",
                c.handoff.get_ref()
            ),
        );
    }
    ctx.unique(
        c.steps.iter().chain(&c.after).map(|s| &s.id),
        &format!("step of channel {cid:?}"),
    );
    for s in c.steps.iter().chain(&c.after) {
        if known.steps.contains(s.id.get_ref().as_str()) {
            ctx.at(
                &s.id,
                format!(
                    "channel {cid:?} step {:?} has the id of a procedure step: give it another, so that spans are never ambiguous",
                    s.id.get_ref()
                ),
            );
        }
    }
    let before: HashSet<&str> = c.steps.iter().map(|s| s.id.get_ref().as_str()).collect();
    let after: HashSet<&str> = c.after.iter().map(|s| s.id.get_ref().as_str()).collect();
    let steps: Vec<ChannelStep> = c
        .steps
        .iter()
        .map(|s| step(ctx, s, &cid, known, &before, true))
        .collect();
    let after_steps: Vec<ChannelStep> = c
        .after
        .iter()
        .map(|s| step(ctx, s, &cid, known, &after, false))
        .collect();
    channel_graph(ctx, c, &steps, &cid);
    after_graph(ctx, &after_steps, &cid);
    let status_to = match &c.status_to {
        Some(v) => {
            ctx.unique(v.iter(), &format!("status_to system of channel {cid:?}"));
            v.iter()
                .map(|s| {
                    if !STATUS_SIDES.contains(&s.get_ref().as_str()) {
                        ctx.at(
                            s,
                            format!(
                                "channel {cid:?}: status_to {:?} is not one of {}",
                                s.get_ref(),
                                STATUS_SIDES.join(", ")
                            ),
                        );
                    }
                    s.get_ref().clone()
                })
                .collect()
        }
        None => STATUS_SIDES
            .iter()
            .filter(|side| {
                steps
                    .iter()
                    .chain(&after_steps)
                    .any(|s| s.executed_by == **side)
            })
            .map(|s| s.to_string())
            .collect(),
    };
    let result_to = c.result_to.as_ref().map(|r| {
        if !RESULT_SIDES.contains(&r.get_ref().as_str()) {
            ctx.at(
                r,
                format!(
                    "channel {cid:?}: result_to {:?} is not one of {}",
                    r.get_ref(),
                    RESULT_SIDES.join(", ")
                ),
            );
        }
        r.get_ref().clone()
    });
    Channel {
        id: cid,
        result_to_system: result_to,
        name: ctx.text(&c.name, "channel name"),
        handoff: c.handoff.get_ref().clone(),
        total_deadline: c
            .total_deadline
            .as_ref()
            .and_then(|d| ctx.deadline(d, "channel total_deadline")),
        total_deadline_text: c.total_deadline_text.clone(),
        steps,
        after: after_steps,
        status_to,
    }
}

fn step(
    ctx: &mut Ctx<'_>,
    s: &RawChannelStep,
    cid: &str,
    known: &Known<'_>,
    ids: &HashSet<&str>,
    before: bool,
) -> ChannelStep {
    let sid = ctx.id(&s.id, "step");
    let what = format!("channel {cid:?} step {sid:?}");
    if !known.lanes.iter().any(|l| l.id == *s.lane.get_ref()) {
        ctx.at(
            &s.lane,
            format!("{what}: unknown lane {:?}", s.lane.get_ref()),
        );
    }
    if !EXECUTORS.contains(&s.executed_by.get_ref().as_str()) {
        ctx.at(
            &s.executed_by,
            format!(
                "{what}: executed_by {:?} is not one of {}",
                s.executed_by.get_ref(),
                EXECUTORS.join(", ")
            ),
        );
    }
    let deadline = s.deadline.as_ref().and_then(|d| ctx.deadline(d, &what));
    let deadline_derived = reason(ctx, &s.deadline_derived, &format!("{what} deadline"));
    if deadline_derived.is_some() && s.deadline.is_none() {
        ctx.at(
            &s.id,
            format!("{what}: deadline_derived without a deadline"),
        );
    }
    let wait = s
        .wait
        .as_ref()
        .and_then(|d| ctx.deadline(d, &format!("{what} wait")));
    if let (Some(w), true) = (&s.wait, before) {
        ctx.at(
            w,
            format!("{what}: only the steps after the procedure ([[channels.after]]) wait"),
        );
    }
    let target_ok = |n: &str| ids.contains(n) || n == "end" || (before && n == "handoff");
    let bad_target = |ctx: &mut Ctx<'_>, n: &S| {
        let msg = if !before && n.get_ref() == "handoff" {
            format!("{what}: a step after the procedure cannot hand over to it again")
        } else {
            format!("{what}: next step {:?} does not exist", n.get_ref())
        };
        ctx.at(n, msg);
    };
    if let Some(n) = &s.next
        && !target_ok(n.get_ref())
    {
        bad_target(ctx, n);
    }
    for b in &s.branches {
        if !target_ok(b.next.get_ref()) {
            bad_target(ctx, &b.next);
        }
        if !["yes", "no"].contains(&b.when.get_ref().as_str()) {
            ctx.at(
                &b.when,
                format!(
                    "branch `when` must be \"yes\" or \"no\", not {:?}",
                    b.when.get_ref()
                ),
            );
        }
    }
    match (s.next.is_some(), s.branches.is_empty()) {
        (true, false) => ctx.at(&s.id, format!("{what} has both `next` and branches")),
        (false, true) => ctx.at(
            &s.id,
            format!("{what} leads nowhere: give `next` or branches"),
        ),
        _ => {}
    }
    let conds = conditions::decided(ctx, &s.condition, &s.conditions, &known.conditions, &what);
    if !s.branches.is_empty() && conds.is_empty() {
        ctx.at(&s.id, format!("{what} branches without a condition"));
    }
    let (status, stage) = statuses::resolve(ctx, known.statuses, &s.status);
    ChannelStep {
        lane: s.lane.get_ref().clone(),
        actor: s.actor.get_ref().clone(),
        executed_by: s.executed_by.get_ref().clone(),
        action: ctx.text(&s.action, "step action"),
        completion: ctx.text(&s.completion, "step completion"),
        deadline,
        deadline_text: s.deadline_text.clone(),
        deadline_derived,
        wait,
        status,
        stage,
        derived: reason(ctx, &s.derived, &what),
        conditions: conds,
        next: s.next.as_ref().map(|n| n.get_ref().clone()),
        branches: s
            .branches
            .iter()
            .map(|b| (b.when.get_ref().clone(), b.next.get_ref().clone()))
            .collect(),
        line: ctx.line(s.id.span().start),
        id: sid,
    }
}

/// Each step's successors among `steps` (indices; `handoff` and `end` left out).
fn successors(steps: &[ChannelStep]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    steps
        .iter()
        .map(|s| {
            s.successors()
                .iter()
                .filter_map(|n| index.get(n).copied())
                .collect()
        })
        .collect()
}

/// The problems of a channel's graph: steps not reached from the first, steps from which
/// no exit (one of `exits`: `handoff`, `end`) can be reached.
fn graph(
    ctx: &mut Ctx<'_>,
    steps: &[ChannelStep],
    exits: &[&str],
    unreached: impl Fn(&str) -> String,
    cid: &str,
) -> Vec<bool> {
    let succ = successors(steps);
    let reached = reached_from_first(&succ);
    let done = can_reach(
        steps
            .iter()
            .map(|s| s.successors().iter().any(|n| exits.contains(n)))
            .collect(),
        &succ,
    );
    for (i, s) in steps.iter().enumerate() {
        let message = if !reached[i] {
            unreached(&s.id)
        } else if !done[i] {
            format!(
                "channel {cid:?}: step {:?} is in a cycle without exit",
                s.id
            )
        } else {
            continue;
        };
        ctx.problems.push(Problem {
            file: ctx.file.to_string(),
            line: s.line,
            message,
        });
    }
    reached
}

/// The steps before the procedure: reached from the first, handing over to the procedure,
/// each reaching `handoff` or `end`.
fn channel_graph(ctx: &mut Ctx<'_>, c: &RawChannel, steps: &[ChannelStep], cid: &str) {
    if steps.is_empty() {
        ctx.at(&c.id, format!("channel {cid:?} has no steps"));
        return;
    }
    let reached = graph(
        ctx,
        steps,
        &["handoff", "end"],
        |id| format!("channel {cid:?}: step {id:?} cannot be reached from its first step"),
        cid,
    );
    if !steps
        .iter()
        .zip(&reached)
        .any(|(s, r)| *r && s.successors().contains(&"handoff"))
    {
        ctx.at(
            &c.id,
            format!("channel {cid:?} never hands over to the procedure (next = \"handoff\")"),
        );
    }
}

/// The leg after the procedure: every step reached from the first, every step reaches
/// `end`.
fn after_graph(ctx: &mut Ctx<'_>, steps: &[ChannelStep], cid: &str) {
    let Some(first) = steps.first() else {
        return;
    };
    let _ = graph(
        ctx,
        steps,
        &["end"],
        |id| {
            format!(
                "channel {cid:?}: step {id:?} after the procedure cannot be reached from its first step {:?}",
                first.id
            )
        },
        cid,
    );
}
