//! The diagram of a real application: the same lanes as the regulation's, with what
//! actually happened in time order: each gateway hop from the message log and each step
//! from ИС МИО's history, with its times, and each step that outlived its deadline (or hop
//! that failed) in red. Drawn beside the channel's expected diagram, it shows where an
//! application went another way or waited too long.

use time::OffsetDateTime;

use egov_regulation::Regulation;

use crate::graph::{Builder, Graph, Node, NodeKind};

/// One application's trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    /// Its number.
    pub application: String,
    /// The channel it came by (`portal`, `provider`, `con`).
    pub channel: String,
    /// The system that sent it.
    pub sender: String,
    /// The hops of its messages through the gateways (the message log).
    pub hops: Vec<Hop>,
    /// The steps it went through (ИС МИО's history).
    pub steps: Vec<StepRun>,
}

/// A message passing one gateway: the events the gateway logged for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// The gateway (`shep`, `rshep-almaty`, ...).
    pub gateway: String,
    /// The message.
    pub message_id: String,
    /// Its service id.
    pub service: String,
    /// Its sender.
    pub sender: String,
    /// Its recipient.
    pub recipient: Option<String>,
    /// When the gateway first logged it.
    pub first_at: OffsetDateTime,
    /// When it last logged it.
    pub last_at: OffsetDateTime,
    /// The last status code the gateway gave it.
    pub status: String,
    /// Whether the gateway refused it or could not deliver it.
    pub failed: bool,
}

/// A step the application went through.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    /// The regulation's step id.
    pub step: String,
    /// Started.
    pub started: OffsetDateTime,
    /// Completed, when it is.
    pub completed: Option<OffsetDateTime>,
    /// Due.
    pub due: Option<OffsetDateTime>,
    /// It outlived its deadline.
    pub overdue: bool,
    /// The outcome chosen.
    pub outcome: Option<String>,
}

/// `HH:MM:SS` in Kazakhstan's time (UTC+5), with the date when it is not `day`.
fn clock(t: OffsetDateTime, day: time::Date) -> String {
    let t = t.to_offset(time::UtcOffset::from_hms(5, 0, 0).expect("a valid offset"));
    if t.date() == day {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    } else {
        format!(
            "{:02}.{:02} {:02}:{:02}",
            t.day(),
            u8::from(t.month()),
            t.hour(),
            t.minute()
        )
    }
}

fn span_ms(a: OffsetDateTime, b: OffsetDateTime) -> i64 {
    ((b - a).whole_milliseconds()).max(0) as i64
}

/// The lane of a gateway: the file's lane of that system (`shep`, else the regional
/// gateways' `rshep`, where the seeds draw ШЭП and РШЭП as one column), else its own.
fn gateway_lane(reg: &Regulation, gateway: &str) -> String {
    let kind = if gateway == "shep" { "shep" } else { "rshep" };
    reg.lanes
        .iter()
        .find(|l| l.system == kind)
        .or_else(|| reg.lanes.iter().find(|l| l.system == "rshep"))
        .map(|l| l.id.clone())
        .unwrap_or_else(|| gateway.to_string())
}

/// The lane of a system: the file's lane of that system, else its own.
fn system_lane(reg: &Regulation, system: &str) -> String {
    let kind = if system.starts_with("mio") {
        "mio"
    } else {
        system
    };
    reg.lanes
        .iter()
        .find(|l| l.system == kind)
        .map(|l| l.id.clone())
        .unwrap_or_else(|| system.to_string())
}

enum Item<'a> {
    Hop(&'a Hop),
    Step(&'a StepRun),
}

/// The journey's diagram: one box per hop and per step, in time order, in their lanes.
pub fn graph(j: &Journey, reg: &Regulation, lang: &str) -> Graph {
    let mut b = Builder::new(reg, lang);
    let ru = lang != "kk";
    let mut items: Vec<(OffsetDateTime, Item<'_>)> = j
        .hops
        .iter()
        .map(|h| (h.first_at, Item::Hop(h)))
        .chain(j.steps.iter().map(|s| (s.started, Item::Step(s))))
        .collect();
    items.sort_by_key(|(t, _)| *t);
    let day = items
        .first()
        .map(|(t, _)| {
            t.to_offset(time::UtcOffset::from_hms(5, 0, 0).expect("valid"))
                .date()
        })
        .unwrap_or(time::Date::MIN);
    let start = b.start(&system_lane(reg, &j.sender));
    let mut prev = start;
    for (k, (_, item)) in items.iter().enumerate() {
        let node = match item {
            Item::Hop(h) => {
                let lane = b.lane(&gateway_lane(reg, &h.gateway));
                let to = h.recipient.as_deref().unwrap_or("?");
                let ms = span_ms(h.first_at, h.last_at);
                let mut timing = format!("{} · {ms} ms", clock(h.first_at, day));
                if h.failed {
                    timing.push_str(&format!(" · {}", h.status));
                }
                Node {
                    key: format!("hop-{k}"),
                    step: None,
                    kind: NodeKind::Task,
                    lane,
                    label: format!("{}: {} → {to} ({})", h.gateway, h.sender, h.service),
                    detail: format!("message {} · status {}", h.message_id, h.status),
                    deadline: None,
                    deadline_label: Some(timing),
                    system: Some(h.gateway.clone()),
                    automatic: true,
                    overdue: h.failed,
                }
            }
            Item::Step(s) => {
                let step = reg.step(&s.step);
                let lane_id = step
                    .map(|x| x.lane.clone())
                    .unwrap_or_else(|| system_lane(reg, &reg.system));
                let lane = b.lane(&lane_id);
                let label = step
                    .map(|x| x.completion.get(lang).to_string())
                    .unwrap_or_else(|| s.step.clone());
                let mut timing = clock(s.started, day);
                if let Some(c) = s.completed {
                    timing.push_str(&format!("–{}", clock(c, day)));
                }
                if let Some(d) = s.due {
                    timing.push_str(&format!(
                        " ({} {})",
                        if ru { "до" } else { "дейін" },
                        clock(d, day)
                    ));
                }
                let mut detail = s.outcome.clone().unwrap_or_default();
                if s.overdue {
                    detail = format!("{} {detail}", b.w.overdue);
                }
                Node {
                    key: format!("run-{k}"),
                    step: Some(s.step.clone()),
                    kind: NodeKind::Task,
                    lane,
                    label,
                    detail,
                    deadline: None,
                    deadline_label: Some(timing),
                    system: Some(reg.system.clone()),
                    automatic: step.is_none_or(|x| x.kind.is_automatic()),
                    overdue: s.overdue,
                }
            }
        };
        let n = b.add(node);
        b.edge(prev, n, None, None);
        prev = n;
    }
    let lane = b.nodes[prev].lane;
    let end = b.end(lane);
    b.edge(prev, end, None, None);
    let title = format!(
        "{} {}",
        if ru {
            "Заявление"
        } else {
            "Өтініш"
        },
        j.application
    );
    b.finish(&format!("journey-{}", j.channel), title)
}

/// The page body of an application's journey, in Russian or Kazakh (`lang`): the two
/// diagrams side by side (the channel as the regulation draws it, and what happened),
/// then the table of its steps and the table of its messages' hops through the gateways,
/// the late steps and the failed hops marked `late`. Every text is escaped; the ops page
/// and the АРМ put it in their own layouts. `hop_link` makes a hop's code a link (the ops
/// page links the message log's search).
pub fn html(
    j: &Journey,
    reg: &Regulation,
    lang: &str,
    hop_link: Option<&dyn Fn(&Hop) -> String>,
) -> String {
    use crate::text::esc;
    use std::fmt::Write as _;
    let kk = lang == "kk";
    let w = |ru: &'static str, kz: &'static str| if kk { kz } else { ru };
    let expected = crate::draw(reg, &j.channel, lang, crate::Format::Svg)
        .unwrap_or_else(|e| format!("<p>{}</p>", esc(&e.to_string())));
    let actual = crate::render(&graph(j, reg, lang), &reg.id, crate::Format::Svg);
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<div class="diagrams"><section id="expected"><h2>{}</h2>{expected}</section><section id="actual"><h2>{}</h2>{actual}</section></div><h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"#,
        w("По регламенту", "Регламент бойынша"),
        w("Как было", "Қалай болды"),
        w("Шаги", "Қадамдар"),
        w("шаг", "қадам"),
        w("начат", "басталды"),
        w("завершен", "аяқталды"),
        w("срок", "мерзім"),
        w("исход", "нәтиже"),
    );
    for s in &j.steps {
        let _ = write!(
            b,
            r#"<tr class="step{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            if s.overdue { " late" } else { "" },
            esc(&s.step),
            s.started,
            s.completed.map(|t| t.to_string()).unwrap_or_default(),
            s.due.map(|t| t.to_string()).unwrap_or_default(),
            esc(s.outcome.as_deref().unwrap_or("")),
        );
    }
    let _ = write!(
        b,
        "</table><h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        w("Переходы через шлюзы", "Шлюздар арқылы өтулер"),
        w("шлюз", "шлюз"),
        w("сервис", "сервис"),
        w("отправитель → получатель", "жіберуші → алушы"),
        w("первое событие", "алғашқы оқиға"),
        w("последнее", "соңғы"),
        w("код", "код"),
    );
    for h in &j.hops {
        let code = match hop_link {
            Some(link) => format!(r#"<a href="{}">{}</a>"#, esc(&link(h)), esc(&h.status)),
            None => esc(&h.status),
        };
        let _ = write!(
            b,
            r#"<tr class="hop{}"><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{code}</td></tr>"#,
            if h.failed { " late" } else { "" },
            esc(&h.gateway),
            esc(&h.service),
            esc(&h.sender),
            esc(h.recipient.as_deref().unwrap_or("-")),
            h.first_at,
            h.last_at,
        );
    }
    b.push_str("</table>");
    b
}
