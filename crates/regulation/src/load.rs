//! Loading and validating regulation files: every problem names the file, the line and
//! what is wrong.
//!
//! The file is parsed into the raw types below, then each section of it (the top level,
//! `[[providers]]`, `[[roles]]`, ... `[[channels]]`, `[[spans]]`) is validated by its own
//! module, in the order `build` calls them.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use egov_calendar::Deadline;
use time::Date;
use toml::Spanned;

use crate::model::*;

mod categories;
mod channel;
mod conditions;
mod documents;
mod fields;
mod header;
mod lanes;
mod procedure;
mod providers;
mod refusal_grounds;
mod results;
mod roles;
mod spans;
mod statuses;

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

impl<'a> Known<'a> {
    /// The steps and channels as the file declares them, the rest as validated.
    fn new(
        raw: &'a RawRegulation,
        roles: &'a [Named],
        lanes: &'a [Lane],
        conditions: &'a [Condition],
        results: &'a [ResultDoc],
        statuses: &'a [StatusDef],
    ) -> Self {
        Known {
            steps: raw.steps.iter().map(|s| s.id.get_ref().as_str()).collect(),
            roles: roles.iter().map(|r| r.id.as_str()).collect(),
            lanes,
            conditions: conditions.iter().map(|c| c.id.as_str()).collect(),
            results: results.iter().map(|r| r.id.as_str()).collect(),
            channels: raw
                .channels
                .iter()
                .map(|c| c.id.get_ref().as_str())
                .collect(),
            statuses,
        }
    }
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

/// What an id may be made of besides lower-case letters, digits and `-`.
#[derive(Clone, Copy)]
enum IdRule {
    /// Nothing else.
    Plain,
    /// Or letters of either case, digits and `-`: the digest's `C-docs`.
    Condition,
    /// Or lower-case letters, digits, `_` and `.`: a dotted path into the application
    /// JSON (`applicant.birth_date`).
    Field,
}

impl IdRule {
    fn allows(self, v: &str) -> bool {
        let all = |ok: fn(u8) -> bool| !v.is_empty() && v.bytes().all(ok);
        all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || match self {
                IdRule::Plain => false,
                IdRule::Condition => all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                IdRule::Field => {
                    all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
                }
            }
    }
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

    /// An id of lower-case letters, digits and `-`.
    fn id(&mut self, s: &S, what: &str) -> String {
        self.id_by(s, what, IdRule::Plain)
    }

    /// An id of lower-case letters, digits and `-`, or of what `rule` also allows.
    fn id_by(&mut self, s: &S, what: &str, rule: IdRule) -> String {
        let v = s.get_ref();
        if !rule.allows(v) {
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

/// The entries of a table of ids and names (roles, categories).
fn named(ctx: &mut Ctx<'_>, v: &[RawNamed], what: &str) -> Vec<Named> {
    v.iter()
        .map(|n| Named {
            id: ctx.id(&n.id, what),
            name: ctx.text(&n.name, &format!("{what} name")),
        })
        .collect()
}

/// Validates a parsed file section by section, in the order of the format: each section
/// may name what those before it declare (the procedure and the channels also name each
/// other's steps).
fn build(ctx: &mut Ctx<'_>, raw: &RawRegulation) -> Regulation {
    let mut reg = header::header(ctx, raw);
    reg.providers = providers::providers(ctx, raw);
    reg.roles = roles::roles(ctx, raw);
    reg.lanes = lanes::lanes(ctx, raw);
    reg.categories = categories::categories(ctx, raw);
    reg.fields = fields::fields(ctx, raw);
    reg.documents = documents::documents(ctx, raw, &reg.categories);
    reg.refusal_grounds = refusal_grounds::refusal_grounds(ctx, raw);
    reg.conditions = conditions::conditions(ctx, raw, &reg.lanes);
    reg.statuses = statuses::statuses(ctx, raw);
    reg.results = results::results(ctx, raw);
    let known = Known::new(
        raw,
        &reg.roles,
        &reg.lanes,
        &reg.conditions,
        &reg.results,
        &reg.statuses,
    );
    reg.steps = procedure::steps(ctx, raw, &known);
    reg.channels = channel::channels(ctx, raw, &known);
    reg.spans = spans::spans(ctx, raw, &reg.steps, &reg.channels);
    spans::check(ctx, raw, &reg);
    reg
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
