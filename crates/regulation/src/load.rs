//! Loading and validating regulation files: every problem names the file, the line and
//! what is wrong.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use egov_calendar::Deadline;
use time::Date;
use toml::Spanned;

use crate::model::*;

/// One problem in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Problems of one or more files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct Problems(pub Vec<Problem>);

type S = Spanned<String>;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    ru: String,
    kk: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecree {
    number: String,
    date: S,
    issuer: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInForce {
    from: S,
    #[serde(default)]
    until: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: S,
    bin: S,
    name: Spanned<RawText>,
    #[serde(default)]
    address: Option<Spanned<RawText>>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    hours: Option<Spanned<RawText>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    id: S,
    name: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    id: S,
    system: S,
    name: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    id: S,
    kind: S,
    required: bool,
    name: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    id: S,
    name: Spanned<RawText>,
    required: bool,
    #[serde(default)]
    categories: Vec<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGround {
    id: S,
    text: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    id: S,
    checked_by: S,
    text: Spanned<RawText>,
    on_failure: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResult {
    id: S,
    kind: S,
    final_status: S,
    title: Spanned<RawText>,
    body: Spanned<RawText>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    id: S,
    next: S,
    #[serde(default)]
    name: Option<Spanned<RawText>>,
    #[serde(default)]
    result: Option<S>,
    #[serde(default)]
    effect: Option<S>,
    #[serde(default)]
    status: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: S,
    lane: S,
    actor: S,
    kind: S,
    action: Spanned<RawText>,
    completion: Spanned<RawText>,
    #[serde(default)]
    deadline: Option<S>,
    #[serde(default)]
    deadline_text: Option<String>,
    #[serde(default)]
    status: Option<S>,
    #[serde(default)]
    next: Option<S>,
    #[serde(default)]
    condition: Option<S>,
    #[serde(default)]
    outcomes: Vec<RawOutcome>,
    #[serde(default)]
    assigns: Option<S>,
    #[serde(default)]
    result: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    when: S,
    next: S,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelStep {
    id: S,
    lane: S,
    actor: S,
    action: Spanned<RawText>,
    completion: Spanned<RawText>,
    #[serde(default)]
    deadline: Option<S>,
    #[serde(default)]
    deadline_text: Option<String>,
    #[serde(default)]
    condition: Option<S>,
    #[serde(default)]
    next: Option<S>,
    #[serde(default)]
    branches: Vec<RawBranch>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: S,
    name: Spanned<RawText>,
    handoff: S,
    #[serde(default)]
    total_deadline: Option<S>,
    #[serde(default)]
    steps: Vec<RawChannelStep>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegulation {
    id: S,
    service: S,
    region: S,
    system: S,
    seed: String,
    language: S,
    automation: S,
    transactional: bool,
    result_form: S,
    total_deadline: S,
    title: Spanned<RawText>,
    service_name: Spanned<RawText>,
    decree: RawDecree,
    standard: Spanned<RawText>,
    refusal_grounds_clause: Spanned<RawText>,
    in_force: RawInForce,
    providers: Vec<RawProvider>,
    roles: Vec<RawNamed>,
    lanes: Vec<RawLane>,
    categories: Vec<RawNamed>,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    documents: Vec<RawDocument>,
    #[serde(default)]
    refusal_grounds: Vec<RawGround>,
    #[serde(default)]
    conditions: Vec<RawCondition>,
    results: Vec<RawResult>,
    steps: Vec<RawStep>,
    #[serde(default)]
    channels: Vec<RawChannel>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn at<T>(&mut self, s: &Spanned<T>, message: impl Into<String>) {
        let line = self.line(s.span().start);
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            message: message.into(),
        });
    }

    fn text(&mut self, t: &Spanned<RawText>, what: &str) -> Text {
        let r = t.get_ref();
        if r.ru.trim().is_empty() {
            self.at(t, format!("{what}: the Russian text is empty"));
        }
        if r.kk.trim().is_empty() {
            self.at(t, format!("{what}: the Kazakh text is empty"));
        }
        Text {
            ru: r.ru.clone(),
            kk: r.kk.clone(),
        }
    }

    fn id(&mut self, s: &S, what: &str) -> String {
        let v = s.get_ref();
        let ok = !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || (what == "condition"
                && !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            || (what == "field"
                && !v.is_empty()
                && v.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                }));
        if !ok {
            self.at(
                s,
                format!("{what} id {v:?}: use lower-case letters, digits and '-'"),
            );
        }
        v.clone()
    }

    fn deadline(&mut self, s: &S, what: &str) -> Option<Deadline> {
        match s.get_ref().parse::<Deadline>() {
            Ok(d) => Some(d),
            Err(e) => {
                self.at(s, format!("{what}: deadline {:?}: {e}", s.get_ref()));
                None
            }
        }
    }

    fn date(&mut self, s: &S, what: &str) -> Date {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        match Date::parse(s.get_ref(), fmt) {
            Ok(d) => d,
            Err(_) => {
                self.at(
                    s,
                    format!("{what}: {:?} is not a YYYY-MM-DD date", s.get_ref()),
                );
                Date::MIN
            }
        }
    }

    fn unique<'b>(&mut self, ids: impl Iterator<Item = &'b S>, what: &str) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for s in ids {
            let line = self.line(s.span().start);
            if let Some(first) = seen.get(s.get_ref()) {
                let msg = format!(
                    "duplicate {what} id {:?} (first declared on line {first})",
                    s.get_ref()
                );
                self.at(s, msg);
            } else {
                seen.insert(s.get_ref().clone(), line);
            }
        }
    }
}

fn status(ctx: &mut Ctx<'_>, s: &Option<S>) -> Option<Status> {
    let s = s.as_ref()?;
    match Status::parse(s.get_ref()) {
        Some(Status::Rejected) | None => {
            ctx.at(
                s,
                format!(
                    "unknown status {:?} (known: received, in_progress, completed, refused, returned)",
                    s.get_ref()
                ),
            );
            None
        }
        Some(x) => Some(x),
    }
}

/// Loads and validates one regulation from its text; `file` names it in problems.
pub fn parse(file: &str, text: &str) -> Result<Regulation, Problems> {
    let mut ctx = Ctx {
        file,
        text,
        problems: Vec::new(),
    };
    let raw: RawRegulation = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map(|s| ctx.line(s.start)).unwrap_or(1);
            let message = e.message().trim().replace('\n', " ");
            return Err(Problems(vec![Problem {
                file: file.to_string(),
                line,
                message,
            }]));
        }
    };
    let reg = build(&mut ctx, &raw);
    if ctx.problems.is_empty() {
        Ok(reg)
    } else {
        ctx.problems.sort_by_key(|p| p.line);
        Err(Problems(ctx.problems))
    }
}

/// Loads and validates one regulation file.
pub fn load_file(path: &Path) -> Result<Regulation, Problems> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: file.clone(),
            line: 1,
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    parse(&file, &text)
}

/// Loads every `*.toml` of a folder (sorted by name), collecting all problems; ids must
/// be unique across the folder.
pub fn load_dir(dir: &Path) -> Result<Vec<Regulation>, Problems> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Problems(vec![Problem {
            file: dir.display().to_string(),
            line: 1,
            message: format!("cannot read the folder: {e}"),
        }])
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    load_files(&paths)
}

/// Loads several files, collecting all problems; ids must be unique among them.
pub fn load_files(paths: &[std::path::PathBuf]) -> Result<Vec<Regulation>, Problems> {
    let mut regs: Vec<Regulation> = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match load_file(p) {
            Ok(r) => {
                if let Some(other) = regs.iter().find(|o| o.id == r.id) {
                    problems.push(Problem {
                        file: r.file.clone(),
                        line: 1,
                        message: format!(
                            "regulation id {:?} is also the id of {}",
                            r.id, other.file
                        ),
                    });
                } else {
                    regs.push(r);
                }
            }
            Err(Problems(mut v)) => problems.append(&mut v),
        }
    }
    if problems.is_empty() {
        Ok(regs)
    } else {
        Err(Problems(problems))
    }
}

const SYSTEMS: [&str; 14] = [
    "mio",
    "portal",
    "shep",
    "rshep",
    "gbd-fl",
    "enis",
    "con-is",
    "uc",
    "citizen",
    "employee",
    "operator",
    "courier",
    "state-corp",
    "notary",
];

fn build(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Regulation {
    let id = ctx.id(&raw.id, "regulation");
    if !["housing-queue", "housing-assistance"].contains(&raw.service.get_ref().as_str()) {
        ctx.at(
            &raw.service,
            format!(
                "unknown service {:?} (known: housing-queue, housing-assistance)",
                raw.service.get_ref()
            ),
        );
    }
    if !["almaty", "atyrau", "nko"].contains(&raw.region.get_ref().as_str()) {
        ctx.at(
            &raw.region,
            format!(
                "unknown region {:?} (known: almaty, atyrau, nko)",
                raw.region.get_ref()
            ),
        );
    }
    if !raw.system.get_ref().starts_with("mio-") {
        ctx.at(
            &raw.system,
            format!(
                "system {:?} is not an ИС МИО (mio-...)",
                raw.system.get_ref()
            ),
        );
    }
    if !["ru", "kk"].contains(&raw.language.get_ref().as_str()) {
        ctx.at(&raw.language, "language must be ru or kk");
    }
    if !["partial", "full"].contains(&raw.automation.get_ref().as_str()) {
        ctx.at(&raw.automation, "automation must be partial or full");
    }
    if !["electronic", "paper", "electronic-and-paper"]
        .contains(&raw.result_form.get_ref().as_str())
    {
        ctx.at(
            &raw.result_form,
            "result_form must be electronic, paper or electronic-and-paper",
        );
    }
    let total_deadline = ctx
        .deadline(&raw.total_deadline, "total_deadline")
        .unwrap_or(Deadline::CalendarDays(30));

    // tables with ids
    ctx.unique(raw.providers.iter().map(|p| &p.id), "provider");
    ctx.unique(raw.roles.iter().map(|p| &p.id), "role");
    ctx.unique(raw.lanes.iter().map(|p| &p.id), "lane");
    ctx.unique(raw.categories.iter().map(|p| &p.id), "category");
    ctx.unique(raw.fields.iter().map(|p| &p.id), "field");
    ctx.unique(raw.documents.iter().map(|p| &p.id), "document");
    ctx.unique(raw.refusal_grounds.iter().map(|p| &p.id), "refusal ground");
    ctx.unique(raw.conditions.iter().map(|p| &p.id), "condition");
    ctx.unique(raw.results.iter().map(|p| &p.id), "result");
    ctx.unique(raw.steps.iter().map(|p| &p.id), "step");
    ctx.unique(raw.channels.iter().map(|p| &p.id), "channel");

    if raw.providers.is_empty() {
        ctx.at(&raw.id, "no [[providers]]");
    }
    if raw.categories.is_empty() {
        ctx.at(&raw.id, "no [[categories]]");
    }
    let providers: Vec<Provider> = raw
        .providers
        .iter()
        .map(|p| {
            let bin = p.bin.get_ref();
            if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                ctx.at(&p.bin, format!("BIN {bin:?} must be 12 digits"));
            }
            Provider {
                id: ctx.id(&p.id, "provider"),
                bin: bin.clone(),
                name: ctx.text(&p.name, "provider name"),
                address: p.address.as_ref().map(|a| ctx.text(a, "provider address")),
                phone: p.phone.clone(),
                hours: p.hours.as_ref().map(|a| ctx.text(a, "provider hours")),
            }
        })
        .collect();
    let named = |ctx: &mut Ctx<'_>, v: &[RawNamed], what: &str| -> Vec<Named> {
        v.iter()
            .map(|n| Named {
                id: ctx.id(&n.id, what),
                name: ctx.text(&n.name, &format!("{what} name")),
            })
            .collect()
    };
    let roles = named(ctx, &raw.roles, "role");
    let categories = named(ctx, &raw.categories, "category");
    let lanes: Vec<Lane> = raw
        .lanes
        .iter()
        .map(|l| {
            if !SYSTEMS.contains(&l.system.get_ref().as_str()) {
                ctx.at(
                    &l.system,
                    format!(
                        "lane system {:?} is not one of {}",
                        l.system.get_ref(),
                        SYSTEMS.join(", ")
                    ),
                );
            }
            Lane {
                id: ctx.id(&l.id, "lane"),
                system: l.system.get_ref().clone(),
                name: ctx.text(&l.name, "lane name"),
            }
        })
        .collect();
    let lane_ids: HashSet<&str> = lanes.iter().map(|l| l.id.as_str()).collect();
    let role_ids: HashSet<&str> = roles.iter().map(|r| r.id.as_str()).collect();
    let category_ids: HashSet<&str> = categories.iter().map(|c| c.id.as_str()).collect();

    let fields: Vec<Field> = raw
        .fields
        .iter()
        .map(|f| {
            let kind = FieldKind::parse(f.kind.get_ref()).unwrap_or_else(|| {
                ctx.at(
                    &f.kind,
                    format!(
                        "unknown field kind {:?} (known: iin, text, date, number, email, phone, category, bool)",
                        f.kind.get_ref()
                    ),
                );
                FieldKind::Text
            });
            Field {
                id: ctx.id(&f.id, "field"),
                kind,
                required: f.required,
                name: ctx.text(&f.name, "field name"),
            }
        })
        .collect();
    let documents: Vec<Document> = raw
        .documents
        .iter()
        .map(|d| {
            for c in &d.categories {
                if !category_ids.contains(c.get_ref().as_str()) {
                    ctx.at(
                        c,
                        format!(
                            "document {:?}: unknown category {:?}",
                            d.id.get_ref(),
                            c.get_ref()
                        ),
                    );
                }
            }
            Document {
                id: ctx.id(&d.id, "document"),
                name: ctx.text(&d.name, "document name"),
                required: d.required,
                categories: d.categories.iter().map(|c| c.get_ref().clone()).collect(),
            }
        })
        .collect();
    let refusal_grounds: Vec<Named> = raw
        .refusal_grounds
        .iter()
        .map(|g| Named {
            id: ctx.id(&g.id, "refusal ground"),
            name: ctx.text(&g.text, "refusal ground"),
        })
        .collect();
    let conditions: Vec<Condition> = raw
        .conditions
        .iter()
        .map(|c| {
            if !lane_ids.contains(c.checked_by.get_ref().as_str()) {
                ctx.at(
                    &c.checked_by,
                    format!(
                        "condition {:?}: unknown lane {:?}",
                        c.id.get_ref(),
                        c.checked_by.get_ref()
                    ),
                );
            }
            Condition {
                id: ctx.id(&c.id, "condition"),
                checked_by: c.checked_by.get_ref().clone(),
                text: ctx.text(&c.text, "condition"),
                on_failure: ctx.text(&c.on_failure, "condition on_failure"),
            }
        })
        .collect();
    let condition_ids: HashSet<&str> = conditions.iter().map(|c| c.id.as_str()).collect();
    let results: Vec<ResultDoc> = raw
        .results
        .iter()
        .map(|r| {
            let kind = ResultKind::parse(r.kind.get_ref()).unwrap_or_else(|| {
                ctx.at(&r.kind, format!("unknown result kind {:?} (known: registration, refusal, return, assignment)", r.kind.get_ref()));
                ResultKind::Refusal
            });
            let final_status = match Status::parse(r.final_status.get_ref()) {
                Some(s @ (Status::Completed | Status::Refused | Status::Returned)) => s,
                _ => {
                    ctx.at(&r.final_status, format!("final_status {:?} must be completed, refused or returned", r.final_status.get_ref()));
                    Status::Completed
                }
            };
            ResultDoc {
                id: ctx.id(&r.id, "result"),
                kind,
                final_status,
                title: ctx.text(&r.title, "result title"),
                body: ctx.text(&r.body, "result body"),
            }
        })
        .collect();
    let result_ids: HashSet<&str> = results.iter().map(|r| r.id.as_str()).collect();

    // the procedure
    let step_ids: HashSet<&str> = raw.steps.iter().map(|s| s.id.get_ref().as_str()).collect();
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let sid = ctx.id(&s.id, "step");
        let kind = StepKind::parse(s.kind.get_ref()).unwrap_or_else(|| {
            ctx.at(
                &s.kind,
                format!(
                    "step {sid:?}: unknown kind {:?} (known: register, accept, assign, task, check, commission, draft, sign, deliver, end)",
                    s.kind.get_ref()
                ),
            );
            StepKind::Task
        });
        match lanes.iter().find(|l| l.id == *s.lane.get_ref()) {
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
        let actor = match s.actor.get_ref().as_str() {
            "system" => Actor::System,
            "assigned" => Actor::Assigned,
            r if role_ids.contains(r) => Actor::Role(r.to_string()),
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
            ctx.at(&s.actor, format!("step {sid:?}: a {} step needs a person (a role or \"assigned\"), not the system", kind.as_str()));
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
        let deadline = match (&s.deadline, kind) {
            (Some(d), _) => ctx.deadline(d, &format!("step {sid:?}")),
            (None, StepKind::End) => None,
            (None, _) => {
                ctx.at(&s.id, format!("step {sid:?} has no deadline"));
                None
            }
        };
        let st = status(ctx, &s.status);
        let check_next = |ctx: &mut Ctx<'_>, n: &S| {
            if !step_ids.contains(n.get_ref().as_str()) {
                ctx.at(
                    n,
                    format!("step {sid:?}: next step {:?} does not exist", n.get_ref()),
                );
            }
        };
        if let Some(n) = &s.next {
            check_next(ctx, n);
        }
        let mut outcomes = Vec::new();
        ctx.unique(
            s.outcomes.iter().map(|o| &o.id),
            &format!("outcome of step {sid:?}"),
        );
        for o in &s.outcomes {
            check_next(ctx, &o.next);
            if let Some(r) = &o.result
                && !result_ids.contains(r.get_ref().as_str())
            {
                ctx.at(r, format!("step {sid:?}: unknown result {:?}", r.get_ref()));
            }
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
            outcomes.push(Outcome {
                id: ctx.id(&o.id, "outcome"),
                next: o.next.get_ref().clone(),
                name: o.name.as_ref().map(|n| ctx.text(n, "outcome name")),
                result: o.result.as_ref().map(|r| r.get_ref().clone()),
                effect,
                status: status(ctx, &o.status),
                line: ctx.line(o.id.span().start),
            });
        }
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
            (Some(a), StepKind::Assign) if !role_ids.contains(a.get_ref().as_str()) => ctx.at(
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
        if let Some(c) = &s.condition
            && !condition_ids.contains(c.get_ref().as_str())
        {
            ctx.at(
                c,
                format!("step {sid:?}: unknown condition {:?}", c.get_ref()),
            );
        }
        if let Some(r) = &s.result
            && !result_ids.contains(r.get_ref().as_str())
        {
            ctx.at(r, format!("step {sid:?}: unknown result {:?}", r.get_ref()));
        }
        steps.push(Step {
            id: sid,
            lane: s.lane.get_ref().clone(),
            actor,
            kind,
            action: ctx.text(&s.action, "step action"),
            completion: ctx.text(&s.completion, "step completion"),
            deadline,
            deadline_text: s.deadline_text.clone(),
            status: st,
            next: s.next.as_ref().map(|n| n.get_ref().clone()),
            condition: s.condition.as_ref().map(|c| c.get_ref().clone()),
            outcomes,
            assigns: s.assigns.as_ref().map(|a| a.get_ref().clone()),
            result: s.result.as_ref().map(|r| r.get_ref().clone()),
            line: ctx.line(s.id.span().start),
        });
    }
    if steps.iter().any(|s| s.actor == Actor::Assigned)
        && !steps.iter().any(|s| s.kind == StepKind::Assign)
        && !role_ids.contains("executor")
        && let Some(s) = raw.steps.iter().find(|s| s.actor.get_ref() == "assigned")
    {
        ctx.at(
            &s.actor,
            "steps of actor \"assigned\" need an assign step or a role \"executor\"",
        );
    }
    graph_checks(ctx, raw, &steps);

    // channels
    let mut channels = Vec::new();
    for c in &raw.channels {
        let cid = ctx.id(&c.id, "channel");
        if !["portal", "provider", "con"].contains(&cid.as_str()) {
            ctx.at(
                &c.id,
                format!("unknown channel {cid:?} (known: portal, provider, con)"),
            );
        }
        if !step_ids.contains(c.handoff.get_ref().as_str()) {
            ctx.at(
                &c.handoff,
                format!(
                    "channel {cid:?}: handoff step {:?} does not exist",
                    c.handoff.get_ref()
                ),
            );
        }
        ctx.unique(
            c.steps.iter().map(|s| &s.id),
            &format!("step of channel {cid:?}"),
        );
        let ids: HashSet<&str> = c.steps.iter().map(|s| s.id.get_ref().as_str()).collect();
        let mut csteps = Vec::new();
        for s in &c.steps {
            let sid = ctx.id(&s.id, "step");
            if !lane_ids.contains(s.lane.get_ref().as_str()) {
                ctx.at(
                    &s.lane,
                    format!(
                        "channel {cid:?} step {sid:?}: unknown lane {:?}",
                        s.lane.get_ref()
                    ),
                );
            }
            let deadline = match &s.deadline {
                Some(d) => ctx.deadline(d, &format!("channel {cid:?} step {sid:?}")),
                None => {
                    ctx.at(
                        &s.id,
                        format!("channel {cid:?} step {sid:?} has no deadline"),
                    );
                    None
                }
            };
            let target_ok = |n: &str| n == "handoff" || n == "end" || ids.contains(n);
            if let Some(n) = &s.next
                && !target_ok(n.get_ref())
            {
                ctx.at(
                    n,
                    format!(
                        "channel {cid:?} step {sid:?}: next step {:?} does not exist",
                        n.get_ref()
                    ),
                );
            }
            for b in &s.branches {
                if !target_ok(b.next.get_ref()) {
                    ctx.at(
                        &b.next,
                        format!(
                            "channel {cid:?} step {sid:?}: next step {:?} does not exist",
                            b.next.get_ref()
                        ),
                    );
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
                (true, false) => ctx.at(
                    &s.id,
                    format!("channel {cid:?} step {sid:?} has both `next` and branches"),
                ),
                (false, true) => ctx.at(
                    &s.id,
                    format!("channel {cid:?} step {sid:?} leads nowhere: give `next` or branches"),
                ),
                _ => {}
            }
            if !s.branches.is_empty() && s.condition.is_none() {
                ctx.at(
                    &s.id,
                    format!("channel {cid:?} step {sid:?} branches without a condition"),
                );
            }
            if let Some(cond) = &s.condition
                && !condition_ids.contains(cond.get_ref().as_str())
            {
                ctx.at(
                    cond,
                    format!(
                        "channel {cid:?} step {sid:?}: unknown condition {:?}",
                        cond.get_ref()
                    ),
                );
            }
            csteps.push(ChannelStep {
                id: sid,
                lane: s.lane.get_ref().clone(),
                actor: s.actor.get_ref().clone(),
                action: ctx.text(&s.action, "step action"),
                completion: ctx.text(&s.completion, "step completion"),
                deadline: deadline.unwrap_or(Deadline::Minutes(1)),
                deadline_text: s.deadline_text.clone(),
                condition: s.condition.as_ref().map(|c| c.get_ref().clone()),
                next: s.next.as_ref().map(|n| n.get_ref().clone()),
                branches: s
                    .branches
                    .iter()
                    .map(|b| (b.when.get_ref().clone(), b.next.get_ref().clone()))
                    .collect(),
                line: ctx.line(s.id.span().start),
            });
        }
        channel_graph(ctx, c, &csteps, &cid);
        channels.push(Channel {
            id: cid,
            name: ctx.text(&c.name, "channel name"),
            handoff: c.handoff.get_ref().clone(),
            total_deadline: c
                .total_deadline
                .as_ref()
                .and_then(|d| ctx.deadline(d, "channel total_deadline")),
            steps: csteps,
        });
    }
    if channels.is_empty() {
        ctx.at(&raw.id, "no [[channels]]: how do applications arrive?");
    }

    Regulation {
        file: ctx.file.to_string(),
        id,
        service: raw.service.get_ref().clone(),
        region: raw.region.get_ref().clone(),
        system: raw.system.get_ref().clone(),
        seed: raw.seed.clone(),
        language: raw.language.get_ref().clone(),
        automation: raw.automation.get_ref().clone(),
        transactional: raw.transactional,
        result_form: raw.result_form.get_ref().clone(),
        total_deadline,
        title: ctx.text(&raw.title, "title"),
        service_name: ctx.text(&raw.service_name, "service_name"),
        decree_number: raw.decree.number.clone(),
        decree_date: ctx.date(&raw.decree.date, "decree date"),
        decree_issuer: ctx.text(&raw.decree.issuer, "decree issuer"),
        standard: ctx.text(&raw.standard, "standard"),
        refusal_grounds_clause: ctx.text(&raw.refusal_grounds_clause, "refusal_grounds_clause"),
        in_force_from: ctx.date(&raw.in_force.from, "in_force.from"),
        in_force_until: raw
            .in_force
            .until
            .as_ref()
            .map(|u| ctx.date(u, "in_force.until")),
        providers,
        roles,
        lanes,
        categories,
        fields,
        documents,
        refusal_grounds,
        conditions,
        results,
        steps,
        channels,
    }
}

/// Reachability from the first step, and that every step can reach an end.
fn graph_checks(ctx: &mut Ctx<'_>, raw: &RawRegulation, steps: &[Step]) {
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
    let mut reached = vec![false; steps.len()];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut reached[i], true) {
            continue;
        }
        stack.extend(succ[i].iter().copied());
    }
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
    // steps that can reach an end: fixpoint over successors
    let mut ends: Vec<bool> = steps.iter().map(|s| s.kind == StepKind::End).collect();
    loop {
        let mut changed = false;
        for i in 0..steps.len() {
            if !ends[i] && succ[i].iter().any(|&j| ends[j]) {
                ends[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
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

fn channel_graph(ctx: &mut Ctx<'_>, c: &RawChannel, steps: &[ChannelStep], cid: &str) {
    if steps.is_empty() {
        ctx.at(&c.id, format!("channel {cid:?} has no steps"));
        return;
    }
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let succ = |s: &ChannelStep| -> Vec<String> {
        let mut v: Vec<String> = s.branches.iter().map(|(_, n)| n.clone()).collect();
        if let Some(n) = &s.next {
            v.push(n.clone());
        }
        v
    };
    let mut reached = vec![false; steps.len()];
    let mut stack = vec![0usize];
    let mut hands_over = false;
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut reached[i], true) {
            continue;
        }
        for n in succ(&steps[i]) {
            if n == "handoff" {
                hands_over = true;
            }
            if let Some(&j) = index.get(n.as_str()) {
                stack.push(j);
            }
        }
    }
    for (i, r) in reached.iter().enumerate() {
        if !r {
            ctx.problems.push(Problem {
                file: ctx.file.to_string(),
                line: steps[i].line,
                message: format!(
                    "channel {cid:?}: step {:?} cannot be reached from its first step",
                    steps[i].id
                ),
            });
        }
    }
    if !hands_over {
        ctx.at(
            &c.id,
            format!("channel {cid:?} never hands over to the procedure (next = \"handoff\")"),
        );
    }
    // every step reaches handoff or end
    let mut done: Vec<bool> = steps
        .iter()
        .map(|s| succ(s).iter().any(|n| n == "handoff" || n == "end"))
        .collect();
    loop {
        let mut changed = false;
        for i in 0..steps.len() {
            if !done[i]
                && succ(&steps[i])
                    .iter()
                    .any(|n| index.get(n.as_str()).is_some_and(|&j| done[j]))
            {
                done[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (i, d) in done.iter().enumerate() {
        if !d && reached[i] {
            ctx.problems.push(Problem {
                file: ctx.file.to_string(),
                line: steps[i].line,
                message: format!(
                    "channel {cid:?}: step {:?} is in a cycle without exit",
                    steps[i].id
                ),
            });
        }
    }
}
