//! The provider's procedure (`[[steps]]`): kinds, actors, deadlines, ways out, what
//! changes per channel, and its graph (every step reached from the first, an end reached
//! from every step).

use super::*;

pub(super) fn steps(ctx: &mut Ctx<'_>, raw: &RawRegulation, known: &Known<'_>) -> Vec<Step> {
    ctx.unique(raw.steps.iter().map(|p| &p.id), "step");
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        steps.push(step(ctx, i, s, known));
    }
    if steps.iter().any(|s| s.actor == Actor::Assigned)
        && !steps.iter().any(|s| s.kind == StepKind::Assign)
        && !known.roles.contains("executor")
        && let Some(s) = raw.steps.iter().find(|s| s.actor.get_ref() == "assigned")
    {
        ctx.at(
            &s.actor,
            "steps of actor \"assigned\" need an assign step or a role \"executor\"",
        );
    }
    graph(ctx, raw, &steps);
    steps
}

fn kind(ctx: &mut Ctx<'_>, s: &RawStep, sid: &str) -> StepKind {
    StepKind::parse(s.kind.get_ref()).unwrap_or_else(|| {
        ctx.at(
            &s.kind,
            format!(
                "step {sid:?}: unknown kind {:?} (known: register, accept, assign, task, check, commission, draft, sign, deliver, issue, end)",
                s.kind.get_ref()
            ),
        );
        StepKind::Task
    })
}

fn actor(ctx: &mut Ctx<'_>, s: &RawStep, sid: &str, kind: StepKind, known: &Known<'_>) -> Actor {
    let actor = match s.actor.get_ref().as_str() {
        "system" => Actor::System,
        "assigned" => Actor::Assigned,
        r if known.roles.contains(r) => Actor::Role(r.to_string()),
        r => {
            ctx.at(
                &s.actor,
                format!(
                    "step {sid:?}: unknown actor {r:?} (a role id, \"system\" or \"assigned\")"
                ),
            );
            Actor::System
        }
    };
    if kind.is_human() && actor == Actor::System {
        ctx.at(
            &s.actor,
            format!(
                "step {sid:?}: a {} step needs a person (a role or \"assigned\"), not the system",
                kind.as_str()
            ),
        );
    }
    if kind.is_automatic() && actor != Actor::System {
        ctx.at(
            &s.actor,
            format!(
                "step {sid:?}: a {} step is done by the system (actor = \"system\")",
                kind.as_str()
            ),
        );
    }
    actor
}

fn check_lane(ctx: &mut Ctx<'_>, s: &RawStep, sid: &str, known: &Known<'_>) {
    match known.lanes.iter().find(|l| l.id == *s.lane.get_ref()) {
        None => ctx.at(
            &s.lane,
            format!("step {sid:?}: unknown lane {:?}", s.lane.get_ref()),
        ),
        Some(l) if l.system != "mio" => ctx.at(
            &s.lane,
            format!(
                "step {sid:?}: lane {:?} is not a lane of ИС МИО (system = \"mio\")",
                l.id
            ),
        ),
        _ => {}
    }
}

fn check_result(ctx: &mut Ctx<'_>, r: &Option<S>, sid: &str, known: &Known<'_>) {
    if let Some(r) = r
        && !known.results.contains(r.get_ref().as_str())
    {
        ctx.at(r, format!("step {sid:?}: unknown result {:?}", r.get_ref()));
    }
}

fn check_next(ctx: &mut Ctx<'_>, n: &S, sid: &str, known: &Known<'_>) {
    if !known.steps.contains(n.get_ref().as_str()) {
        ctx.at(
            n,
            format!("step {sid:?}: next step {:?} does not exist", n.get_ref()),
        );
    }
}

fn check_channel(ctx: &mut Ctx<'_>, c: &S, sid: &str, known: &Known<'_>) {
    if !known.channels.contains(c.get_ref().as_str()) {
        ctx.at(
            c,
            format!(
                "step {sid:?}: variant for channel {:?}, which the file does not have",
                c.get_ref()
            ),
        );
    }
}

fn step(ctx: &mut Ctx<'_>, i: usize, s: &RawStep, known: &Known<'_>) -> Step {
    let sid = ctx.id(&s.id, "step");
    let kind = kind(ctx, s, &sid);
    check_lane(ctx, s, &sid, known);
    let actor = actor(ctx, s, &sid, kind, known);
    if i == 0 && kind != StepKind::Register {
        ctx.at(
            &s.kind,
            format!("the first step {sid:?} must be the registration (kind = \"register\")"),
        );
    }
    if i > 0 && kind == StepKind::Register {
        ctx.at(
            &s.kind,
            format!("step {sid:?}: only the first step registers"),
        );
    }
    // a step without a deadline needs a span that covers it (checked with the spans)
    let deadline = match (&s.deadline, kind) {
        (Some(d), StepKind::End) => {
            ctx.at(d, format!("the end step {sid:?} has no deadline"));
            None
        }
        (Some(d), _) => ctx.deadline(d, &format!("step {sid:?}")),
        (None, _) => None,
    };
    let deadline_derived = reason(ctx, &s.deadline_derived, &format!("step {sid:?} deadline"));
    if deadline_derived.is_some() && s.deadline.is_none() {
        ctx.at(
            &s.id,
            format!("step {sid:?}: deadline_derived without a deadline"),
        );
    }
    let (st, stage) = statuses::resolve(ctx, known.statuses, &s.status);
    if let Some(n) = &s.next {
        check_next(ctx, n, &sid, known);
    }
    let outcomes = outcomes(ctx, s, &sid, known);
    match (kind, s.next.is_some(), outcomes.is_empty()) {
        (StepKind::End, false, true) => {}
        (StepKind::End, _, _) => ctx.at(
            &s.id,
            format!("the end step {sid:?} has no next step and no outcomes"),
        ),
        (_, true, false) => ctx.at(
            &s.id,
            format!("step {sid:?} has both `next` and outcomes; give one"),
        ),
        (_, false, true) => ctx.at(
            &s.id,
            format!("step {sid:?} leads nowhere: give `next` or outcomes"),
        ),
        _ => {}
    }
    if kind == StepKind::Check && !outcomes.is_empty() {
        for o in &outcomes {
            if !["complete", "incomplete", "refuse"].contains(&o.id.as_str()) {
                ctx.at(&s.id, format!("check step {sid:?}: outcome {:?} (line {}) must be complete, incomplete or refuse", o.id, o.line));
            }
        }
        if !outcomes.iter().any(|o| o.id == "complete") {
            ctx.at(
                &s.id,
                format!("check step {sid:?} has no outcome \"complete\""),
            );
        }
    }
    if kind == StepKind::Commission && outcomes.is_empty() {
        ctx.at(
            &s.id,
            format!("commission step {sid:?} needs outcomes (the decisions)"),
        );
    }
    match (&s.assigns, kind) {
        (Some(a), StepKind::Assign) if !known.roles.contains(a.get_ref().as_str()) => ctx.at(
            a,
            format!("step {sid:?}: assigns unknown role {:?}", a.get_ref()),
        ),
        (None, StepKind::Assign) => ctx.at(
            &s.id,
            format!("assign step {sid:?} needs `assigns` (the role of the executor)"),
        ),
        (Some(a), k) if k != StepKind::Assign => {
            ctx.at(a, format!("step {sid:?}: only assign steps have `assigns`"))
        }
        _ => {}
    }
    let conds = conditions::decided(
        ctx,
        &s.condition,
        &s.conditions,
        &known.conditions,
        &format!("step {sid:?}"),
    );
    check_result(ctx, &s.result, &sid, known);
    let variants = variants(ctx, s, &sid, known);
    Step {
        lane: s.lane.get_ref().clone(),
        actor,
        kind,
        action: ctx.text(&s.action, "step action"),
        completion: ctx.text(&s.completion, "step completion"),
        deadline,
        deadline_text: s.deadline_text.clone(),
        deadline_derived,
        status: st,
        stage,
        next: s.next.as_ref().map(|n| n.get_ref().clone()),
        conditions: conds,
        outcomes,
        assigns: s.assigns.as_ref().map(|a| a.get_ref().clone()),
        result: s.result.as_ref().map(|r| r.get_ref().clone()),
        derived: reason(ctx, &s.derived, &format!("step {sid:?}")),
        variants,
        line: ctx.line(s.id.span().start),
        id: sid,
    }
}

fn outcomes(ctx: &mut Ctx<'_>, s: &RawStep, sid: &str, known: &Known<'_>) -> Vec<Outcome> {
    ctx.unique(
        s.outcomes.iter().map(|o| &o.id),
        &format!("outcome of step {sid:?}"),
    );
    let mut outcomes = Vec::new();
    for o in &s.outcomes {
        check_next(ctx, &o.next, sid, known);
        check_result(ctx, &o.result, sid, known);
        let effect = match &o.effect {
            None => None,
            Some(e) if e.get_ref() == "enqueue" => Some(Effect::Enqueue),
            Some(e) => {
                ctx.at(
                    e,
                    format!("unknown effect {:?} (known: enqueue)", e.get_ref()),
                );
                None
            }
        };
        let oid = ctx.id(&o.id, "outcome");
        ctx.unique(
            o.variants.iter().map(|v| &v.channel),
            &format!("variant of outcome {oid:?} of step {sid:?} for the channel"),
        );
        let variants = o
            .variants
            .iter()
            .map(|v| {
                check_channel(ctx, &v.channel, sid, known);
                check_result(ctx, &v.result, sid, known);
                if let Some(n) = &v.next {
                    check_next(ctx, n, sid, known);
                }
                if v.result.is_none() && v.next.is_none() && v.status.is_none() && v.derived.is_none() {
                    ctx.at(
                        &v.channel,
                        format!("step {sid:?}, outcome {oid:?}: a variant changes nothing (give result, next or status, or mark it derived along the channel)"),
                    );
                }
                let (status, stage) = statuses::resolve(ctx, known.statuses, &v.status);
                OutcomeVariant {
                    channel: v.channel.get_ref().clone(),
                    result: v.result.as_ref().map(|r| r.get_ref().clone()),
                    next: v.next.as_ref().map(|r| r.get_ref().clone()),
                    status,
                    stage,
                    derived: reason(ctx, &v.derived, &format!("step {sid:?} outcome {oid:?} variant")),
                    line: ctx.line(v.channel.span().start),
                }
            })
            .collect();
        let (status, stage) = statuses::resolve(ctx, known.statuses, &o.status);
        outcomes.push(Outcome {
            next: o.next.get_ref().clone(),
            name: o.name.as_ref().map(|n| ctx.text(n, "outcome name")),
            result: o.result.as_ref().map(|r| r.get_ref().clone()),
            effect,
            status,
            stage,
            derived: reason(ctx, &o.derived, &format!("step {sid:?} outcome {oid:?}")),
            variants,
            line: ctx.line(o.id.span().start),
            id: oid,
        });
    }
    outcomes
}

fn variants(ctx: &mut Ctx<'_>, s: &RawStep, sid: &str, known: &Known<'_>) -> Vec<StepVariant> {
    ctx.unique(
        s.variants.iter().map(|v| &v.channel),
        &format!("variant of step {sid:?} for the channel"),
    );
    s.variants
        .iter()
        .map(|v| {
            check_channel(ctx, &v.channel, sid, known);
            check_result(ctx, &v.result, sid, known);
            if v.deadline.is_none()
                && v.completion.is_none()
                && v.status.is_none()
                && v.result.is_none()
                && v.derived.is_none()
            {
                ctx.at(
                    &v.channel,
                    format!("step {sid:?}: a variant changes nothing (give deadline, completion, status or result, or mark the step derived along the channel)"),
                );
            }
            if v.deadline.is_none() && (v.deadline_text.is_some() || v.deadline_derived.is_some()) {
                ctx.at(
                    &v.channel,
                    format!("step {sid:?}: a variant's deadline_text or deadline_derived needs its deadline"),
                );
            }
            let (status, stage) = statuses::resolve(ctx, known.statuses, &v.status);
            StepVariant {
                channel: v.channel.get_ref().clone(),
                deadline: v
                    .deadline
                    .as_ref()
                    .and_then(|d| ctx.deadline(d, &format!("step {sid:?} variant"))),
                deadline_text: v.deadline_text.clone(),
                deadline_derived: reason(ctx, &v.deadline_derived, &format!("step {sid:?} variant deadline")),
                completion: v.completion.as_ref().map(|c| ctx.text(c, "variant completion")),
                status,
                stage,
                result: v.result.as_ref().map(|r| r.get_ref().clone()),
                derived: reason(ctx, &v.derived, &format!("step {sid:?} variant")),
                line: ctx.line(v.channel.span().start),
            }
        })
        .collect()
}

/// Reachability from the first step, and that every step can reach an end.
fn graph(ctx: &mut Ctx<'_>, raw: &RawRegulation, steps: &[Step]) {
    if steps.is_empty() {
        ctx.at(&raw.id, "no [[steps]]");
        return;
    }
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let succ: Vec<Vec<usize>> = steps
        .iter()
        .map(|s| {
            s.successors()
                .iter()
                .filter_map(|n| index.get(n).copied())
                .collect()
        })
        .collect();
    let reached = reached_from_first(&succ);
    for (i, r) in reached.iter().enumerate() {
        if !r {
            let line = steps[i].line;
            ctx.problems.push(Problem {
                file: ctx.file.to_string(),
                line,
                message: format!(
                    "step {:?} cannot be reached from the first step {:?}",
                    steps[i].id, steps[0].id
                ),
            });
        }
    }
    if !steps.iter().any(|s| s.kind == StepKind::End) {
        ctx.at(&raw.id, "the procedure has no end step (kind = \"end\")");
        return;
    }
    let ends = can_reach(
        steps.iter().map(|s| s.kind == StepKind::End).collect(),
        &succ,
    );
    for (i, e) in ends.iter().enumerate() {
        if !e && reached[i] {
            let line = steps[i].line;
            ctx.problems.push(Problem {
                file: ctx.file.to_string(),
                line,
                message: format!(
                    "step {:?} is in a cycle without exit: no end step can be reached from it",
                    steps[i].id
                ),
            });
        }
    }
}
