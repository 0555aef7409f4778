//! The diagram as a graph: the lanes (СФЕ), the nodes (processes, conditions, the
//! procedure, start and end) and the arrows between them, built from a regulation file.
//! Every renderer draws the same graph, so that the SVG, the BPMN and the Mermaid text
//! never disagree about what the regulation says.

use egov_calendar::Deadline;
use egov_regulation::{Channel, ChannelStep, Regulation, Step, StepKind};

use crate::words::Words;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Where the diagram starts.
    Start,
    /// Where a path ends.
    End,
    /// A process (a box): a step of the channel or of the procedure.
    Task,
    /// A condition or a choice (a diamond) with its labelled ways out.
    Decision,
    /// Where several arrows meet before a process (an unlabelled diamond in BPMN style).
    Join,
    /// The provider's procedure, drawn as one box in a channel's diagram.
    Procedure,
}

/// A node of the diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// A key unique in the diagram, usable as an XML id after a prefix.
    pub key: String,
    /// The file's step id, for the nodes drawn for a step (its box and its diamond).
    pub step: Option<String>,
    /// What it is.
    pub kind: NodeKind,
    /// The lane (index into [`Graph::lanes`]).
    pub lane: usize,
    /// The short text in the node.
    pub label: String,
    /// The long text (the action, the conditions' wording), shown on hover.
    pub detail: String,
    /// Its deadline.
    pub deadline: Option<Deadline>,
    /// The deadline in words of the diagram's language.
    pub deadline_label: Option<String>,
    /// The information system that executes it.
    pub system: Option<String>,
    /// Whether the system does it without a person (a service task, not a user task).
    pub automatic: bool,
    /// In a journey: it outlived its deadline, or failed (drawn in red).
    pub overdue: bool,
}

/// An arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// From (index into [`Graph::nodes`]).
    pub from: usize,
    /// To.
    pub to: usize,
    /// The label of a way out of a decision («да», «нет», an outcome's name).
    pub label: Option<String>,
    /// The file's name of that way out (`yes`, `no`, an outcome id).
    pub when: Option<String>,
}

/// A lane: one structural-functional unit.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneBand {
    /// The file's lane id.
    pub id: String,
    /// Its name in the diagram's language.
    pub name: String,
    /// The information system of the lane.
    pub system: String,
    /// The file names the unit among the СФЕ, but no step or condition of it runs there.
    pub idle: bool,
}

/// A whole diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// What the diagram shows (the channel or the procedure).
    pub title: String,
    /// The regulation.
    pub subtitle: String,
    /// A key naming the diagram (`con`, `procedure`), for ids.
    pub key: String,
    /// The language (`ru`, `kk`).
    pub lang: String,
    /// Lanes, top to bottom, in the file's order.
    pub lanes: Vec<LaneBand>,
    /// Nodes; the first is the start.
    pub nodes: Vec<Node>,
    /// Arrows.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The arrows into node `i`.
    pub fn incoming(&self, i: usize) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.to == i)
    }

    /// The arrows out of node `i`.
    pub fn outgoing(&self, i: usize) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.from == i)
    }
}

/// Why a diagram cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The regulation has no such channel.
    #[error("the regulation {regulation} has no channel {channel:?} (its channels: {known})")]
    UnknownChannel {
        /// The regulation.
        regulation: String,
        /// The channel asked for.
        channel: String,
        /// The channels it has.
        known: String,
    },
    /// A step leads to a step the file does not have (a file the loader did not check).
    #[error("step {from:?} leads to {to:?}, which is not a step of {diagram}")]
    UnknownStep {
        /// The step.
        from: String,
        /// Where it leads.
        to: String,
        /// The diagram.
        diagram: String,
    },
}

pub(crate) struct Builder<'a> {
    pub(crate) reg: &'a Regulation,
    pub(crate) w: &'static Words,
    lang: &'a str,
    /// Lane ids in use (node lanes index into this before [`Builder::finish`]).
    lanes: Vec<String>,
    pub(crate) nodes: Vec<Node>,
    edges: Vec<Edge>,
    ends: usize,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(reg: &'a Regulation, lang: &'a str) -> Self {
        Builder {
            reg,
            w: Words::of(lang),
            lang,
            lanes: Vec::new(),
            nodes: Vec::new(),
            edges: Vec::new(),
            ends: 0,
        }
    }

    pub(crate) fn lane(&mut self, id: &str) -> usize {
        match self.lanes.iter().position(|l| l == id) {
            Some(i) => i,
            None => {
                self.lanes.push(id.to_string());
                self.lanes.len() - 1
            }
        }
    }

    pub(crate) fn add(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub(crate) fn edge(
        &mut self,
        from: usize,
        to: usize,
        label: Option<String>,
        when: Option<String>,
    ) {
        self.edges.push(Edge {
            from,
            to,
            label,
            when,
        });
    }

    pub(crate) fn plain(&self, key: String, kind: NodeKind, lane: usize, label: String) -> Node {
        Node {
            key,
            step: None,
            kind,
            lane,
            label,
            detail: String::new(),
            deadline: None,
            deadline_label: None,
            system: None,
            automatic: true,
            overdue: false,
        }
    }

    pub(crate) fn start(&mut self, lane: &str) -> usize {
        let lane = self.lane(lane);
        let n = self.plain("start".into(), NodeKind::Start, lane, self.w.start.into());
        self.add(n)
    }

    /// A new end event in `lane` (one per arrow that ends, so that no end joins).
    pub(crate) fn end(&mut self, lane: usize) -> usize {
        self.ends += 1;
        let n = self.plain(
            format!("end-{}", self.ends),
            NodeKind::End,
            lane,
            self.w.end.into(),
        );
        self.add(n)
    }

    /// The lane a step's diamond is drawn in: the lane that checks its first condition
    /// when the file names one, else the step's own.
    fn decision_lane(&mut self, conditions: &[String], own: usize) -> usize {
        let checked = conditions
            .first()
            .and_then(|c| self.reg.conditions.iter().find(|x| &x.id == c))
            .map(|c| c.checked_by.clone())
            .filter(|l| self.reg.lanes.iter().any(|x| &x.id == l));
        match checked {
            Some(l) => self.lane(&l),
            None => own,
        }
    }

    fn decision(
        &mut self,
        step: &str,
        conditions: &[String],
        own_lane: usize,
        fallback: &str,
    ) -> usize {
        let lane = self.decision_lane(conditions, own_lane);
        let label = if conditions.is_empty() {
            fallback.to_string()
        } else {
            format!("{}?", conditions.join(", "))
        };
        let detail = conditions
            .iter()
            .filter_map(|c| self.reg.conditions.iter().find(|x| &x.id == c))
            .map(|c| format!("{}: {}", c.id, c.text.get(self.lang)))
            .collect::<Vec<_>>()
            .join("\n");
        let n = Node {
            key: format!("d-{step}"),
            step: Some(step.to_string()),
            kind: NodeKind::Decision,
            lane,
            label,
            detail,
            deadline: None,
            deadline_label: None,
            system: None,
            automatic: true,
            overdue: false,
        };
        self.add(n)
    }

    fn when_label(&self, when: &str) -> String {
        match when {
            "yes" => self.w.yes.to_string(),
            "no" => self.w.no.to_string(),
            other => other.to_string(),
        }
    }

    /// Lanes in the file's order, node lanes renumbered; joins before every process and
    /// end that more than one arrow enters.
    pub(crate) fn finish(mut self, key: &str, title: String) -> Graph {
        let mut order: Vec<usize> = (0..self.lanes.len()).collect();
        let file_pos = |id: &str| {
            self.reg
                .lanes
                .iter()
                .position(|l| l.id == id)
                .unwrap_or(usize::MAX)
        };
        order.sort_by_key(|&i| (file_pos(&self.lanes[i]), i));
        let mut renumber = vec![0; self.lanes.len()];
        for (new, &old) in order.iter().enumerate() {
            renumber[old] = new;
        }
        for n in &mut self.nodes {
            n.lane = renumber[n.lane];
        }
        let lanes = order
            .iter()
            .map(|&i| {
                let id = &self.lanes[i];
                let lane = self.reg.lanes.iter().find(|l| &l.id == id);
                LaneBand {
                    id: id.clone(),
                    name: lane
                        .map(|l| l.name.get(self.lang).to_string())
                        .unwrap_or_else(|| id.clone()),
                    system: lane.map(|l| l.system.clone()).unwrap_or_default(),
                    idle: idle_lanes(self.reg).contains(&id.as_str()),
                }
            })
            .collect();
        let mut g = Graph {
            title,
            subtitle: self.reg.title.get(self.lang).to_string(),
            key: key.to_string(),
            lang: self.lang.to_string(),
            lanes,
            nodes: self.nodes,
            edges: self.edges,
        };
        insert_joins(&mut g);
        g
    }
}

/// The lanes of `reg` in which no step runs and no condition is checked.
pub fn idle_lanes(reg: &Regulation) -> Vec<&str> {
    reg.lanes
        .iter()
        .map(|l| l.id.as_str())
        .filter(|id| {
            !reg.steps.iter().any(|s| s.lane == *id)
                && !reg
                    .channels
                    .iter()
                    .flat_map(|c| c.steps.iter().chain(&c.after))
                    .any(|s| s.lane == *id)
                && !reg.conditions.iter().any(|c| c.checked_by == *id)
        })
        .collect()
}

/// Every process, procedure or end that several arrows enter gets a join in front of it,
/// so that each element has one way in (BPMN's rule against implicit joins).
fn insert_joins(g: &mut Graph) {
    let mut joins = 0;
    for i in 0..g.nodes.len() {
        if !matches!(
            g.nodes[i].kind,
            NodeKind::Task | NodeKind::Procedure | NodeKind::End
        ) {
            continue;
        }
        if g.incoming(i).count() < 2 {
            continue;
        }
        joins += 1;
        let j = g.nodes.len();
        g.nodes.push(Node {
            key: format!("join-{joins}"),
            step: None,
            kind: NodeKind::Join,
            lane: g.nodes[i].lane,
            label: String::new(),
            detail: String::new(),
            deadline: None,
            deadline_label: None,
            system: None,
            automatic: true,
            overdue: false,
        });
        for e in g.edges.iter_mut().filter(|e| e.to == i) {
            e.to = j;
        }
        g.edges.push(Edge {
            from: j,
            to: i,
            label: None,
            when: None,
        });
    }
}

fn task(b: &Builder<'_>, id: &str, lane: usize, s: TaskText<'_>) -> Node {
    Node {
        key: format!("s-{id}"),
        step: Some(id.to_string()),
        kind: NodeKind::Task,
        lane,
        label: s.completion.to_string(),
        detail: s.action.to_string(),
        deadline: s.deadline,
        deadline_label: s.deadline_text.map(str::to_string).or_else(|| {
            s.deadline
                .map(|d| egov_regulation::deadline_words(d, b.lang))
        }),
        system: Some(s.system.to_string()),
        automatic: s.automatic,
        overdue: false,
    }
}

struct TaskText<'a> {
    completion: &'a str,
    action: &'a str,
    deadline: Option<Deadline>,
    deadline_text: Option<&'a str>,
    system: &'a str,
    automatic: bool,
}

fn channel_task<'a>(s: &'a ChannelStep, lang: &str) -> TaskText<'a> {
    TaskText {
        completion: s.completion.get(lang),
        action: s.action.get(lang),
        deadline: s.deadline.or(s.wait),
        deadline_text: s.deadline_text.as_deref(),
        system: &s.executed_by,
        automatic: s.actor == "system",
    }
}

/// The diagram of a channel: its steps before the procedure, the handoff into the
/// procedure (one box), and the leg after the provider's decision.
pub fn channel(reg: &Regulation, channel: &str, lang: &str) -> Result<Graph, Error> {
    let ch: &Channel = reg.channel(channel).ok_or_else(|| Error::UnknownChannel {
        regulation: reg.id.clone(),
        channel: channel.to_string(),
        known: reg
            .channels
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let mut b = Builder::new(reg, lang);
    let proc_lane_id = reg.first_step().lane.clone();
    let first_lane = ch
        .steps
        .first()
        .map(|s| s.lane.clone())
        .unwrap_or_else(|| proc_lane_id.clone());
    let start = b.start(&first_lane);

    let mut index = std::collections::HashMap::new();
    for s in ch.steps.iter().chain(&ch.after) {
        let lane = b.lane(&s.lane);
        let n = task(&b, &s.id, lane, channel_task(s, lang));
        index.insert(s.id.clone(), b.add(n));
    }
    let proc_lane = b.lane(&proc_lane_id);
    let total = ch.total_deadline.unwrap_or(reg.total_deadline);
    let total_text = ch
        .total_deadline_text
        .clone()
        .or_else(|| reg.total_deadline_text.clone());
    let procedure = b.add(Node {
        key: "procedure".into(),
        step: Some(reg.first_step().id.clone()),
        kind: NodeKind::Procedure,
        lane: proc_lane,
        label: b.w.procedure.to_string(),
        detail: reg.service_name.get(lang).to_string(),
        deadline: Some(total),
        deadline_label: Some(
            total_text.unwrap_or_else(|| egov_regulation::deadline_words(total, lang)),
        ),
        system: Some(reg.system.clone()),
        automatic: false,
        overdue: false,
    });

    let diagram = format!("channel {}", ch.id);
    let target =
        |b: &mut Builder<'_>, from: &str, next: &str, lane: usize| -> Result<usize, Error> {
            match next {
                "handoff" => Ok(procedure),
                "end" => Ok(b.end(lane)),
                id => index.get(id).copied().ok_or_else(|| Error::UnknownStep {
                    from: from.to_string(),
                    to: id.to_string(),
                    diagram: diagram.clone(),
                }),
            }
        };

    match ch.steps.first() {
        Some(s) => b.edge(start, index[&s.id], None, None),
        None => b.edge(start, procedure, None, None),
    }
    for s in ch.steps.iter().chain(&ch.after) {
        let from = index[&s.id];
        let lane = b.nodes[from].lane;
        if !s.conditions.is_empty() || !s.branches.is_empty() {
            let d = b.decision(&s.id, &s.conditions, lane, b.w.choice);
            b.edge(from, d, None, None);
            let d_lane = b.nodes[d].lane;
            for (when, next) in &s.branches {
                let t = target(&mut b, &s.id, next, d_lane)?;
                let label = b.when_label(when);
                b.edge(d, t, Some(label), Some(when.clone()));
            }
            if let Some(next) = &s.next {
                let t = target(&mut b, &s.id, next, d_lane)?;
                let label = b.when_label("yes");
                b.edge(d, t, Some(label), Some("yes".into()));
            }
        } else if let Some(next) = &s.next {
            let t = target(&mut b, &s.id, next, lane)?;
            b.edge(from, t, None, None);
        }
    }
    match ch.after.first() {
        Some(a) => b.edge(procedure, index[&a.id], None, None),
        None => {
            let e = b.end(proc_lane);
            b.edge(procedure, e, None, None);
        }
    }
    // the units that check the channel's conditions, and those the file names among the
    // СФЕ without an action, are drawn too
    for s in ch.steps.iter().chain(&ch.after) {
        for c in &s.conditions {
            if let Some(c) = reg.conditions.iter().find(|x| &x.id == c)
                && reg.lanes.iter().any(|l| l.id == c.checked_by)
            {
                b.lane(&c.checked_by);
            }
        }
    }
    for id in idle_lanes(reg) {
        b.lane(id);
    }
    let title = format!("{}: {}", b.w.channel, ch.name.get(lang));
    Ok(b.finish(&ch.id, title))
}

fn procedure_task<'a>(reg: &'a Regulation, s: &'a Step, lang: &str) -> TaskText<'a> {
    TaskText {
        completion: s.completion.get(lang),
        action: s.action.get(lang),
        deadline: s.deadline,
        deadline_text: s.deadline_text.as_deref(),
        system: &reg.system,
        automatic: s.actor == egov_regulation::Actor::System,
    }
}

/// The diagram of the provider's procedure: every step with its base deadline, every
/// outcome as a labelled way out of a diamond (and the ways a channel's variant takes
/// elsewhere, named with the channel).
pub fn procedure(reg: &Regulation, lang: &str) -> Result<Graph, Error> {
    let mut b = Builder::new(reg, lang);
    let start = b.start(&reg.first_step().lane.clone());
    let mut index = std::collections::HashMap::new();
    for s in &reg.steps {
        let lane = b.lane(&s.lane);
        let n = if s.kind == StepKind::End {
            Node {
                key: format!("s-{}", s.id),
                step: Some(s.id.clone()),
                kind: NodeKind::End,
                lane,
                label: s.completion.get(lang).to_string(),
                detail: s.action.get(lang).to_string(),
                deadline: None,
                deadline_label: None,
                system: Some(reg.system.clone()),
                automatic: true,
                overdue: false,
            }
        } else {
            let mut n = task(&b, &s.id, lane, procedure_task(reg, s, lang));
            if n.deadline_label.is_none() {
                // no deadline of its own: the channels' (a variant per channel)
                let per_channel: Vec<String> = s
                    .variants
                    .iter()
                    .filter_map(|v| {
                        let d = v.deadline?;
                        Some(format!(
                            "{}: {}",
                            v.channel,
                            v.deadline_text
                                .clone()
                                .unwrap_or_else(|| egov_regulation::deadline_words(d, lang))
                        ))
                    })
                    .collect();
                if !per_channel.is_empty() {
                    n.deadline_label = Some(per_channel.join("; "));
                }
            }
            n
        };
        index.insert(s.id.clone(), b.add(n));
    }
    let lookup = |from: &str, to: &str| {
        index.get(to).copied().ok_or_else(|| Error::UnknownStep {
            from: from.to_string(),
            to: to.to_string(),
            diagram: "the procedure".into(),
        })
    };
    b.edge(start, index[&reg.first_step().id], None, None);
    for s in &reg.steps {
        let from = index[&s.id];
        let lane = b.nodes[from].lane;
        if s.outcomes.len() > 1 || (!s.outcomes.is_empty() && !s.conditions.is_empty()) {
            let d = b.decision(&s.id, &s.conditions, lane, b.w.choice);
            b.edge(from, d, None, None);
            for o in &s.outcomes {
                let name = o
                    .name
                    .as_ref()
                    .map(|n| n.get(lang).to_string())
                    .unwrap_or_else(|| o.id.clone());
                b.edge(
                    d,
                    lookup(&s.id, &o.next)?,
                    Some(name.clone()),
                    Some(o.id.clone()),
                );
                for v in &o.variants {
                    if let Some(next) = v.next.as_deref().filter(|n| *n != o.next) {
                        let channel = reg
                            .channel(&v.channel)
                            .map(|c| c.id.clone())
                            .unwrap_or_else(|| v.channel.clone());
                        b.edge(
                            d,
                            lookup(&s.id, next)?,
                            Some(format!("{name} ({channel})")),
                            Some(format!("{}@{}", o.id, v.channel)),
                        );
                    }
                }
            }
        } else {
            for o in &s.outcomes {
                b.edge(from, lookup(&s.id, &o.next)?, None, None);
            }
        }
        if let Some(next) = &s.next {
            b.edge(from, lookup(&s.id, next)?, None, None);
        }
    }
    let title = b.w.procedure_title.to_string();
    Ok(b.finish("procedure", title))
}
