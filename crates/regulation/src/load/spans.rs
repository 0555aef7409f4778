//! Deadlines over spans of steps, and the totals: along every channel, every path from a
//! span's first step to its last must fit in its deadline; a step without a deadline of
//! its own must lie inside a span.

use time::Duration;

use super::*;

pub(super) fn spans(
    ctx: &mut Ctx<'_>,
    raw: &RawRegulation,
    steps: &[Step],
    channels: &[Channel],
) -> Vec<Span> {
    ctx.unique(raw.spans.iter().map(|s| &s.id), "span");
    let mut out = Vec::new();
    for s in &raw.spans {
        let id = ctx.id(&s.id, "span");
        let channel = match &s.channel {
            Some(c) => match channels.iter().find(|x| x.id == *c.get_ref()) {
                Some(x) => Some(x),
                None => {
                    ctx.at(
                        c,
                        format!("span {id:?}: the file has no channel {:?}", c.get_ref()),
                    );
                    continue;
                }
            },
            None => None,
        };
        let mut ok = true;
        for end in [&s.from, &s.to] {
            let n = end.get_ref().as_str();
            let found =
                steps.iter().any(|x| x.id == n) || channel.is_some_and(|c| c.step(n).is_some());
            if !found {
                ok = false;
                let msg = match channel {
                    Some(c) => format!(
                        "span {id:?}: {n:?} is neither a procedure step nor a step of channel {:?}",
                        c.id
                    ),
                    None => format!(
                        "span {id:?}: {n:?} is not a procedure step (name `channel` to span a channel's steps)"
                    ),
                };
                ctx.at(end, msg);
            }
        }
        let Some(deadline) = ctx.deadline(&s.deadline, &format!("span {id:?}")) else {
            continue;
        };
        if !ok {
            continue;
        }
        out.push(Span {
            derived: reason(ctx, &s.derived, &format!("span {id:?}")),
            id,
            channel: channel.map(|c| c.id.clone()),
            from: s.from.get_ref().clone(),
            to: s.to.get_ref().clone(),
            deadline,
            deadline_text: s.deadline_text.clone(),
            line: ctx.line(s.id.span().start),
        });
    }
    out
}

/// A step of the graph of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Before(usize),
    Proc(usize),
    After(usize),
}

/// The graph of the procedure as one channel runs it, with the channel's legs before
/// and after.
struct Graph<'a> {
    channel: &'a Channel,
    steps: &'a [Step],
}

impl Graph<'_> {
    fn id(&self, n: Node) -> &str {
        match n {
            Node::Before(i) => &self.channel.steps[i].id,
            Node::Proc(i) => &self.steps[i].id,
            Node::After(i) => &self.channel.after[i].id,
        }
    }

    fn node(&self, id: &str) -> Option<Node> {
        if let Some(i) = self.steps.iter().position(|s| s.id == id) {
            return Some(Node::Proc(i));
        }
        if let Some(i) = self.channel.steps.iter().position(|s| s.id == id) {
            return Some(Node::Before(i));
        }
        self.channel
            .after
            .iter()
            .position(|s| s.id == id)
            .map(Node::After)
    }

    fn proc(&self, id: &str) -> Option<Node> {
        self.steps.iter().position(|s| s.id == id).map(Node::Proc)
    }

    fn succ(&self, n: Node) -> Vec<Node> {
        match n {
            Node::Before(i) => self.channel.steps[i]
                .successors()
                .into_iter()
                .filter_map(|x| match x {
                    "handoff" => self.proc(&self.channel.handoff),
                    "end" => None,
                    x => self
                        .channel
                        .steps
                        .iter()
                        .position(|s| s.id == x)
                        .map(Node::Before),
                })
                .collect(),
            Node::Proc(i) if self.steps[i].kind == StepKind::End => {
                if self.channel.after.is_empty() {
                    vec![]
                } else {
                    vec![Node::After(0)]
                }
            }
            Node::Proc(i) => self.steps[i]
                .successors_along(&self.channel.id)
                .iter()
                .filter_map(|x| self.proc(x))
                .collect(),
            Node::After(i) => self.channel.after[i]
                .successors()
                .into_iter()
                .filter_map(|x| {
                    self.channel
                        .after
                        .iter()
                        .position(|s| s.id == x)
                        .map(Node::After)
                })
                .collect(),
        }
    }

    /// The step's own time along the channel: its deadline and its wait.
    fn own(&self, n: Node) -> Option<Duration> {
        let (d, w) = match n {
            Node::Before(i) => (self.channel.steps[i].deadline, None),
            Node::Proc(i) => (self.steps[i].deadline_along(&self.channel.id), None),
            Node::After(i) => (self.channel.after[i].deadline, self.channel.after[i].wait),
        };
        match (d, w) {
            (None, None) => None,
            (d, w) => Some(
                d.map(|d| d.approx_duration()).unwrap_or_default()
                    + w.map(|w| w.approx_duration()).unwrap_or_default(),
            ),
        }
    }

    fn needs_deadline(&self, n: Node) -> bool {
        match n {
            Node::Proc(i) => self.steps[i].kind != StepKind::End,
            _ => true,
        }
    }

    /// Every simple path from `a` to `b` (at most `LIMIT`).
    fn paths(&self, a: Node, b: Node) -> Vec<Vec<Node>> {
        const LIMIT: usize = 10_000;
        let mut out = Vec::new();
        let mut path = vec![a];
        self.walk(&mut path, b, &mut out, LIMIT);
        out
    }

    fn walk(&self, path: &mut Vec<Node>, b: Node, out: &mut Vec<Vec<Node>>, limit: usize) {
        if out.len() >= limit {
            return;
        }
        let last = *path.last().expect("never empty");
        if last == b {
            out.push(path.clone());
            return;
        }
        for n in self.succ(last) {
            if !path.contains(&n) {
                path.push(n);
                self.walk(path, b, out, limit);
                path.pop();
            }
        }
    }
}

/// A span resolved on one channel's graph.
struct Bound {
    name: String,
    from: Node,
    to: Node,
    deadline: Deadline,
    line: usize,
    inner: bool,
}

/// The time a stretch of a path takes: each step its own deadline, except that a span
/// lying within counts as its deadline when that is longer than its steps.
fn cost(g: &Graph<'_>, path: &[Node], bounds: &[Bound], skip: usize) -> Duration {
    let mut total = Duration::ZERO;
    let mut i = 0;
    while i < path.len() {
        // the widest inner span starting here and ending on this stretch
        let inner = bounds
            .iter()
            .enumerate()
            .filter(|(k, b)| *k != skip && b.inner && b.from == path[i])
            .filter_map(|(k, b)| {
                path[i..]
                    .iter()
                    .position(|n| *n == b.to)
                    .map(|j| (k, i + j))
            })
            .filter(|&(_, j)| j + 1 - i < path.len() || i > 0)
            .max_by_key(|&(_, j)| j);
        match inner {
            Some((k, j)) => {
                let steps = cost(g, &path[i..=j], bounds, k);
                total += steps.max(bounds[k].deadline.approx_duration());
                i = j + 1;
            }
            None => {
                total += g.own(path[i]).unwrap_or_default();
                i += 1;
            }
        }
    }
    total
}

/// A duration as people read it: "31 days 2 hours", "2 minutes 30 seconds".
fn human(d: Duration) -> String {
    let mut s = d.whole_seconds();
    let mut parts = Vec::new();
    for (unit, len) in [
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ] {
        let n = s / len;
        s %= len;
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

/// Every path past a span or a total, and every step with no deadline outside any span;
/// nothing when the top-level `total_deadline` does not parse (the header reported it).
pub(super) fn check(ctx: &mut Ctx<'_>, raw: &RawRegulation, reg: &Regulation) {
    let Ok(total) = raw.total_deadline.get_ref().parse::<Deadline>() else {
        return;
    };
    let total_offset = raw.total_deadline.span().start;
    let (steps, channels, spans) = (&reg.steps[..], &reg.channels[..], &reg.spans[..]);
    if steps.is_empty() {
        return;
    }
    let end = steps.iter().position(|s| s.kind == StepKind::End);
    let mut uncovered: Vec<(String, usize)> = Vec::new();
    for c in channels {
        let g = Graph { channel: c, steps };
        let mut bounds: Vec<Bound> = spans
            .iter()
            .filter(|s| s.channel.as_deref().is_none_or(|x| x == c.id))
            .filter_map(|s| {
                Some(Bound {
                    name: format!("the span {:?}", s.id),
                    from: g.node(&s.from)?,
                    to: g.node(&s.to)?,
                    deadline: s.deadline,
                    line: s.line,
                    inner: true,
                })
            })
            .collect();
        if let Some(e) = end {
            bounds.push(Bound {
                name: "the total_deadline".into(),
                from: Node::Proc(0),
                to: Node::Proc(e),
                deadline: total,
                line: ctx.line(total_offset),
                inner: false,
            });
            if let (Some(t), Some(first)) = (c.total_deadline, c.steps.first()) {
                bounds.push(Bound {
                    name: "the channel's total_deadline".into(),
                    from: Node::Before(0),
                    to: Node::Proc(e),
                    deadline: t,
                    line: first.line.saturating_sub(1).max(1),
                    inner: false,
                });
            }
        }
        let mut covered: HashSet<String> = HashSet::new();
        for (k, b) in bounds.iter().enumerate() {
            let paths = g.paths(b.from, b.to);
            if paths.is_empty() && b.inner {
                ctx.problems.push(Problem {
                    file: ctx.file.to_string(),
                    line: b.line,
                    message: format!(
                        "channel {:?}: no path leads from {:?} to {:?}, the ends of {}",
                        c.id,
                        g.id(b.from),
                        g.id(b.to),
                        b.name
                    ),
                });
            }
            let limit = b.deadline.approx_duration();
            let mut past = 0;
            for p in &paths {
                if b.inner {
                    covered.extend(p.iter().map(|n| g.id(*n).to_string()));
                }
                let took = cost(&g, p, &bounds, k);
                if took > limit {
                    past += 1;
                    if past <= 12 {
                        let route: Vec<&str> = p.iter().map(|n| g.id(*n)).collect();
                        ctx.problems.push(Problem {
                            file: ctx.file.to_string(),
                            line: b.line,
                            message: format!(
                                "channel {:?}: path {} takes {}, past {} ({})",
                                c.id,
                                route.join(" → "),
                                human(took),
                                b.name,
                                b.deadline
                            ),
                        });
                    }
                }
            }
            if past > 12 {
                ctx.problems.push(Problem {
                    file: ctx.file.to_string(),
                    line: b.line,
                    message: format!(
                        "channel {:?}: {} more paths past {}",
                        c.id,
                        past - 12,
                        b.name
                    ),
                });
            }
        }
        // steps this channel runs that have no deadline and lie in no span
        let mut seen = vec![Node::Before(0)];
        let mut stack: Vec<Node> = if c.steps.is_empty() {
            vec![]
        } else {
            vec![Node::Before(0)]
        };
        while let Some(n) = stack.pop() {
            if g.own(n).is_none() && g.needs_deadline(n) && !covered.contains(g.id(n)) {
                let line = match n {
                    Node::Before(i) => c.steps[i].line,
                    Node::Proc(i) => steps[i].line,
                    Node::After(i) => c.after[i].line,
                };
                let id = g.id(n).to_string();
                if !uncovered.iter().any(|(x, _)| *x == id) {
                    uncovered.push((id, line));
                }
            }
            for s in g.succ(n) {
                if !seen.contains(&s) {
                    seen.push(s);
                    stack.push(s);
                }
            }
        }
    }
    for (id, line) in uncovered {
        ctx.problems.push(Problem {
            file: ctx.file.to_string(),
            line,
            message: format!(
                "step {id:?} has no deadline and no span covers it (give `deadline`, or a [[spans]] entry from a step before it to one after)"
            ),
        });
    }
}
