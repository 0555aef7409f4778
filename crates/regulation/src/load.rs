//! Loading and validating regulation files: every problem names the file, the line and
//! what is wrong.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use egov_calendar::Deadline;
use time::Date;
use toml::Spanned;

use crate::model::*;

mod channel;
mod procedure;
mod spans;

/// What the sections of a file declare, for the references of the others.
struct Known<'a> {
    steps: HashSet<&'a str>,
    roles: HashSet<&'a str>,
    lanes: &'a [Lane],
    conditions: HashSet<&'a str>,
    results: HashSet<&'a str>,
    channels: HashSet<&'a str>,
    statuses: &'a [StatusDef],
}

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
    #[serde(default)]
    derived: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    id: S,
    base: S,
    name: Spanned<RawText>,
    #[serde(default)]
    derived: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpan {
    id: S,
    #[serde(default)]
    channel: Option<S>,
    from: S,
    to: S,
    deadline: S,
    #[serde(default)]
    deadline_text: Option<String>,
    #[serde(default)]
    derived: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStepVariant {
    channel: S,
    #[serde(default)]
    deadline: Option<S>,
    #[serde(default)]
    deadline_text: Option<String>,
    #[serde(default)]
    deadline_derived: Option<S>,
    #[serde(default)]
    completion: Option<Spanned<RawText>>,
    #[serde(default)]
    status: Option<S>,
    #[serde(default)]
    result: Option<S>,
    #[serde(default)]
    derived: Option<S>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcomeVariant {
    channel: S,
    #[serde(default)]
    result: Option<S>,
    #[serde(default)]
    next: Option<S>,
    #[serde(default)]
    status: Option<S>,
    #[serde(default)]
    derived: Option<S>,
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
    #[serde(default)]
    derived: Option<S>,
    #[serde(default)]
    variants: Vec<RawOutcomeVariant>,
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
    deadline_derived: Option<S>,
    #[serde(default)]
    status: Option<S>,
    #[serde(default)]
    next: Option<S>,
    #[serde(default)]
    condition: Option<S>,
    #[serde(default)]
    conditions: Vec<S>,
    #[serde(default)]
    outcomes: Vec<RawOutcome>,
    #[serde(default)]
    assigns: Option<S>,
    #[serde(default)]
    result: Option<S>,
    #[serde(default)]
    derived: Option<S>,
    #[serde(default)]
    variants: Vec<RawStepVariant>,
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
    executed_by: S,
    action: Spanned<RawText>,
    completion: Spanned<RawText>,
    #[serde(default)]
    deadline: Option<S>,
    #[serde(default)]
    deadline_text: Option<String>,
    #[serde(default)]
    deadline_derived: Option<S>,
    #[serde(default)]
    wait: Option<S>,
    #[serde(default)]
    status: Option<S>,
    #[serde(default)]
    derived: Option<S>,
    #[serde(default)]
    condition: Option<S>,
    #[serde(default)]
    conditions: Vec<S>,
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
    total_deadline_text: Option<String>,
    #[serde(default)]
    status_to: Option<Vec<S>>,
    #[serde(default)]
    result_to: Option<S>,
    #[serde(default)]
    steps: Vec<RawChannelStep>,
    #[serde(default)]
    after: Vec<RawChannelStep>,
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
    #[serde(default)]
    total_deadline_text: Option<String>,
    #[serde(default)]
    total_deadline_derived: Option<S>,
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
    #[serde(default)]
    statuses: Vec<RawStatus>,
    #[serde(default)]
    spans: Vec<RawSpan>,
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

/// A status as a step names it: a file status (`[[statuses]]`) or a base status, as
/// `(base, the id written)`.
fn status(
    ctx: &mut Ctx<'_>,
    statuses: &[StatusDef],
    s: &Option<S>,
) -> (Option<Status>, Option<String>) {
    let Some(s) = s.as_ref() else {
        return (None, None);
    };
    if let Some(def) = statuses.iter().find(|d| d.id == *s.get_ref()) {
        return (Some(def.base), Some(def.id.clone()));
    }
    match Status::parse(s.get_ref()) {
        Some(Status::Rejected) | None => {
            let mut known: Vec<&str> = statuses.iter().map(|d| d.id.as_str()).collect();
            known.extend([
                "received",
                "in_progress",
                "completed",
                "refused",
                "returned",
            ]);
            ctx.at(
                s,
                format!(
                    "unknown status {:?} (known: {})",
                    s.get_ref(),
                    known.join(", ")
                ),
            );
            (None, None)
        }
        Some(x) => (Some(x), Some(x.as_str().to_string())),
    }
}

/// A `derived = "<why>"`: the reason must say something.
fn reason(ctx: &mut Ctx<'_>, s: &Option<S>, what: &str) -> Option<String> {
    let s = s.as_ref()?;
    if s.get_ref().trim().is_empty() {
        ctx.at(
            s,
            format!("{what}: say why it is derived (the reason is empty)"),
        );
    }
    Some(s.get_ref().clone())
}

/// `condition` or `conditions`, each one known.
fn conditions(
    ctx: &mut Ctx<'_>,
    one: &Option<S>,
    many: &[S],
    known: &HashSet<&str>,
    what: &str,
) -> Vec<String> {
    if let (Some(c), false) = (one, many.is_empty()) {
        ctx.at(
            c,
            format!("{what}: give `condition` or `conditions`, not both"),
        );
    }
    let mut out = Vec::new();
    for c in one.iter().chain(many) {
        if !known.contains(c.get_ref().as_str()) {
            ctx.at(c, format!("{what}: unknown condition {:?}", c.get_ref()));
        }
        if out.contains(c.get_ref()) {
            ctx.at(
                c,
                format!("{what}: condition {:?} named twice", c.get_ref()),
            );
        }
        out.push(c.get_ref().clone());
    }
    out
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
    let region = raw.region.get_ref();
    if !(region.len() <= 32
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    {
        ctx.at(
            &raw.region,
            format!(
                "invalid region code {region:?} (lowercase latin letters, digits and -, starting with a letter)"
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
                derived: reason(ctx, &c.derived, &format!("condition {:?}", c.id.get_ref())),
            }
        })
        .collect();
    let condition_ids: HashSet<&str> = conditions.iter().map(|c| c.id.as_str()).collect();
    let statuses = statuses(ctx, &raw.statuses);
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
    let channel_ids: HashSet<&str> = raw
        .channels
        .iter()
        .map(|c| c.id.get_ref().as_str())
        .collect();
    let known = Known {
        steps: raw.steps.iter().map(|s| s.id.get_ref().as_str()).collect(),
        roles: role_ids,
        lanes: &lanes,
        conditions: condition_ids,
        results: result_ids,
        channels: channel_ids,
        statuses: &statuses,
    };
    let steps = procedure::steps(ctx, raw, &known);
    graph_checks(ctx, raw, &steps);
    let channels = channel::channels(ctx, raw, &known);
    let spans = spans::spans(ctx, raw, &steps, &channels);
    let total = ctx.deadline(&raw.total_deadline, "total_deadline");
    if let Some(total) = total {
        spans::check(
            ctx,
            &steps,
            &channels,
            &spans,
            total,
            raw.total_deadline.span().start,
        );
    }
    let total_deadline = total.unwrap_or(Deadline::CalendarDays(30));
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
        total_deadline_text: raw.total_deadline_text.clone(),
        total_deadline_derived: reason(ctx, &raw.total_deadline_derived, "total_deadline"),
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
        statuses,
        spans,
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

fn statuses(ctx: &mut Ctx<'_>, raw: &[RawStatus]) -> Vec<StatusDef> {
    ctx.unique(raw.iter().map(|s| &s.id), "status");
    raw.iter()
        .map(|s| {
            let id = ctx.id(&s.id, "status");
            if Status::parse(&id).is_some() {
                ctx.at(
                    &s.id,
                    format!("status id {id:?} is a base status: give the file's own id"),
                );
            }
            let base = match Status::parse(s.base.get_ref()) {
                Some(Status::Rejected) | None => {
                    ctx.at(
                        &s.base,
                        format!(
                            "status {id:?}: base {:?} must be received, in_progress, completed, refused or returned",
                            s.base.get_ref()
                        ),
                    );
                    Status::Received
                }
                Some(b) => b,
            };
            StatusDef {
                derived: reason(ctx, &s.derived, &format!("status {id:?}")),
                id,
                base,
                name: ctx.text(&s.name, "status name"),
            }
        })
        .collect()
}

/// Which steps the first one reaches, given each step's successors (indices).
fn reached_from_first(succ: &[Vec<usize>]) -> Vec<bool> {
    let mut reached = vec![false; succ.len()];
    let mut stack: Vec<usize> = if succ.is_empty() { vec![] } else { vec![0] };
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut reached[i], true) {
            continue;
        }
        stack.extend(succ[i].iter().copied());
    }
    reached
}

/// Which steps can reach one of those marked in `goal` (a fixpoint over successors).
fn can_reach(mut goal: Vec<bool>, succ: &[Vec<usize>]) -> Vec<bool> {
    loop {
        let mut changed = false;
        for i in 0..succ.len() {
            if !goal[i] && succ[i].iter().any(|&j| goal[j]) {
                goal[i] = true;
                changed = true;
            }
        }
        if !changed {
            return goal;
        }
    }
}
