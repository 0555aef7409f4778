//! The regulation as ИС МИО executes it (`docs/regulation-format.md`), checked and with
//! deadlines parsed. Each element keeps the line of the file it was declared on.

use egov_calendar::Deadline;
use time::Date;

/// A text in Russian and Kazakh.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Russian.
    pub ru: String,
    /// Kazakh.
    pub kk: String,
}

impl Text {
    /// The text in `lang` (`kk` or anything else for Russian).
    pub fn get(&self, lang: &str) -> &str {
        if lang == "kk" { &self.kk } else { &self.ru }
    }
}

/// The status of an application, as the portal and ИС ЦОН show it (and, with the
/// `sqlx` feature, as a system's schema stores it: the same names, as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum Status {
    /// «поступившие»: registered, a number assigned.
    Received,
    /// «в работе»: accepted for execution.
    InProgress,
    /// «исполнено»: the positive result was issued.
    Completed,
    /// «отказано»: the motivated refusal was issued.
    Refused,
    /// «возвращено»: documents returned as incomplete.
    Returned,
    /// «не принято»: refused at intake (bad signature, unknown service, missing fields);
    /// nothing was registered.
    Rejected,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 6] = [
        Status::Received,
        Status::InProgress,
        Status::Completed,
        Status::Refused,
        Status::Returned,
        Status::Rejected,
    ];

    /// The name in the files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Refused => "refused",
            Status::Returned => "returned",
            Status::Rejected => "rejected",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Received,
            Status::InProgress,
            Status::Completed,
            Status::Refused,
            Status::Returned,
            Status::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// The label the portal shows.
    pub fn label(self) -> Text {
        let (ru, kk) = match self {
            Status::Received => ("поступившие", "түскен"),
            Status::InProgress => ("в работе", "жұмыста"),
            Status::Completed => ("исполнено", "орындалды"),
            Status::Refused => ("отказано", "бас тартылды"),
            Status::Returned => ("возвращено", "қайтарылды"),
            Status::Rejected => ("не принято", "қабылданбады"),
        };
        Text {
            ru: ru.into(),
            kk: kk.into(),
        }
    }

    /// Whether no further status follows.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Refused | Status::Returned | Status::Rejected
        )
    }
}

/// The kinds of procedure steps the engine knows (with the `sqlx` feature, stored as
/// their names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum StepKind {
    /// Registration (automatic, the first step).
    Register,
    /// Acceptance for execution.
    Accept,
    /// The head chooses the executor.
    Assign,
    /// Generic human work.
    Task,
    /// C-docs: completeness of the documents.
    Check,
    /// The commission decides in a protocol.
    Commission,
    /// The result document is prepared.
    Draft,
    /// The result document is signed.
    Sign,
    /// The result is registered and sent.
    Deliver,
    /// The result chosen on the way is formed, signed by the actor and sent, in one task
    /// (the seed's «формирование мотивированного отказа» straight from a condition).
    Issue,
    /// The end.
    End,
}

impl StepKind {
    /// Every kind.
    pub const ALL: [StepKind; 11] = [
        StepKind::Register,
        StepKind::Accept,
        StepKind::Assign,
        StepKind::Task,
        StepKind::Check,
        StepKind::Commission,
        StepKind::Draft,
        StepKind::Sign,
        StepKind::Deliver,
        StepKind::Issue,
        StepKind::End,
    ];

    /// Parses a kind.
    pub fn parse(s: &str) -> Option<StepKind> {
        Some(match s {
            "register" => StepKind::Register,
            "accept" => StepKind::Accept,
            "assign" => StepKind::Assign,
            "task" => StepKind::Task,
            "check" => StepKind::Check,
            "commission" => StepKind::Commission,
            "draft" => StepKind::Draft,
            "sign" => StepKind::Sign,
            "deliver" => StepKind::Deliver,
            "issue" => StepKind::Issue,
            "end" => StepKind::End,
            _ => return None,
        })
    }

    /// The name in the files.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Register => "register",
            StepKind::Accept => "accept",
            StepKind::Assign => "assign",
            StepKind::Task => "task",
            StepKind::Check => "check",
            StepKind::Commission => "commission",
            StepKind::Draft => "draft",
            StepKind::Sign => "sign",
            StepKind::Deliver => "deliver",
            StepKind::Issue => "issue",
            StepKind::End => "end",
        }
    }

    /// Whether a person must do it (the actor is a role).
    pub fn is_human(self) -> bool {
        matches!(
            self,
            StepKind::Accept
                | StepKind::Assign
                | StepKind::Check
                | StepKind::Commission
                | StepKind::Draft
                | StepKind::Sign
                | StepKind::Issue
        )
    }

    /// Whether only the system does it.
    pub fn is_automatic(self) -> bool {
        matches!(self, StepKind::Register | StepKind::End)
    }
}

/// Who does a step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The information system itself.
    System,
    /// An employee of this role.
    Role(String),
    /// The employee the head assigned (or, without an assignment, any of the assigned role).
    Assigned,
}

/// What an outcome does besides leading on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Registers the applicant on the waiting list (queue number) in the same transaction.
    Enqueue,
}

/// A way out of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Its id (what the employee chooses).
    pub id: String,
    /// The next step.
    pub next: String,
    /// Its name.
    pub name: Option<Text>,
    /// The result document this path produces.
    pub result: Option<String>,
    /// Its effect.
    pub effect: Option<Effect>,
    /// The application's status once chosen.
    pub status: Option<Status>,
    /// The file's status id behind `status` (a `[[statuses]]` id or the base name).
    pub stage: Option<String>,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
    /// What changes along one channel.
    pub variants: Vec<OutcomeVariant>,
    /// Line in the file.
    pub line: usize,
}

/// What an outcome does differently along one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeVariant {
    /// The channel.
    pub channel: String,
    /// The result document along it.
    pub result: Option<String>,
    /// The next step along it.
    pub next: Option<String>,
    /// The status along it.
    pub status: Option<Status>,
    /// The file's status id.
    pub stage: Option<String>,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
    /// Line in the file.
    pub line: usize,
}

/// An outcome as it holds along one channel (its variant applied).
#[derive(Debug, Clone, PartialEq)]
pub struct Way {
    /// The outcome's id.
    pub id: String,
    /// The next step.
    pub next: String,
    /// The result document.
    pub result: Option<String>,
    /// The effect.
    pub effect: Option<Effect>,
    /// The status.
    pub status: Option<Status>,
    /// The file's status id.
    pub stage: Option<String>,
}

impl Outcome {
    /// The outcome along `channel`.
    pub fn along(&self, channel: &str) -> Way {
        let v = self.variants.iter().find(|v| v.channel == channel);
        let (status, stage) = match v {
            Some(v) if v.status.is_some() => (v.status, v.stage.clone()),
            _ => (self.status, self.stage.clone()),
        };
        Way {
            id: self.id.clone(),
            next: v
                .and_then(|v| v.next.clone())
                .unwrap_or_else(|| self.next.clone()),
            result: v
                .and_then(|v| v.result.clone())
                .or_else(|| self.result.clone()),
            effect: self.effect,
            status,
            stage,
        }
    }
}

/// What a procedure step does differently along one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct StepVariant {
    /// The channel.
    pub channel: String,
    /// The deadline along it.
    pub deadline: Option<Deadline>,
    /// The seed's wording of that deadline.
    pub deadline_text: Option<String>,
    /// Why that deadline is there though the seed does not state it.
    pub deadline_derived: Option<String>,
    /// The form of completion along it.
    pub completion: Option<Text>,
    /// The status along it.
    pub status: Option<Status>,
    /// The file's status id.
    pub stage: Option<String>,
    /// The result document along it.
    pub result: Option<String>,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
    /// Line in the file.
    pub line: usize,
}

/// A step of the procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Id.
    pub id: String,
    /// Lane.
    pub lane: String,
    /// Actor.
    pub actor: Actor,
    /// Kind.
    pub kind: StepKind,
    /// What is done.
    pub action: Text,
    /// The form of completion.
    pub completion: Text,
    /// The deadline (none only for `end`).
    pub deadline: Option<Deadline>,
    /// The seed's wording of the deadline.
    pub deadline_text: Option<String>,
    /// Why the deadline is there though the seed does not state it.
    pub deadline_derived: Option<String>,
    /// Status once completed.
    pub status: Option<Status>,
    /// The file's status id behind `status`.
    pub stage: Option<String>,
    /// The next step (steps with one way out).
    pub next: Option<String>,
    /// The conditions decided here (one diamond).
    pub conditions: Vec<String>,
    /// Outcomes (steps with several ways out).
    pub outcomes: Vec<Outcome>,
    /// For `assign`: the role the executor is chosen from.
    pub assigns: Option<String>,
    /// The result document this step always produces.
    pub result: Option<String>,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
    /// What changes per channel.
    pub variants: Vec<StepVariant>,
    /// Line in the file.
    pub line: usize,
}

impl Step {
    /// The outcome with this id.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// Every step this one can lead to, along any channel.
    pub fn successors(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.outcomes.iter().map(|o| o.next.as_str()).collect();
        v.extend(
            self.outcomes
                .iter()
                .flat_map(|o| o.variants.iter().filter_map(|x| x.next.as_deref())),
        );
        if let Some(n) = &self.next {
            v.push(n);
        }
        v
    }

    /// The steps this one leads to along `channel`.
    pub fn successors_along(&self, channel: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .outcomes
            .iter()
            .map(|o| o.along(channel).next)
            .collect();
        if let Some(n) = &self.next {
            v.push(n.clone());
        }
        v
    }

    /// The variant for `channel`, if any.
    pub fn variant(&self, channel: &str) -> Option<&StepVariant> {
        self.variants.iter().find(|v| v.channel == channel)
    }

    /// The deadline along `channel` (its variant's, else its own).
    pub fn deadline_along(&self, channel: &str) -> Option<Deadline> {
        self.variant(channel)
            .and_then(|v| v.deadline)
            .or(self.deadline)
    }

    /// The seed's wording of the deadline along `channel`.
    pub fn deadline_text_along(&self, channel: &str) -> Option<&str> {
        match self.variant(channel) {
            Some(v) if v.deadline.is_some() => v.deadline_text.as_deref(),
            _ => self.deadline_text.as_deref(),
        }
    }

    /// The status this step sets along `channel`, with the file's status id.
    pub fn status_along(&self, channel: &str) -> (Option<Status>, Option<String>) {
        match self.variant(channel) {
            Some(v) if v.status.is_some() => (v.status, v.stage.clone()),
            _ => (self.status, self.stage.clone()),
        }
    }

    /// The result this step always produces along `channel`.
    pub fn result_along(&self, channel: &str) -> Option<&str> {
        self.variant(channel)
            .and_then(|v| v.result.as_deref())
            .or(self.result.as_deref())
    }

    /// The form of completion along `channel`.
    pub fn completion_along(&self, channel: &str) -> &Text {
        self.variant(channel)
            .and_then(|v| v.completion.as_ref())
            .unwrap_or(&self.completion)
    }
}

/// A provider (услугодатель).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Provider {
    /// Id.
    pub id: String,
    /// BIN.
    pub bin: String,
    /// Name.
    pub name: Text,
    /// Address.
    pub address: Option<Text>,
    /// Phone.
    pub phone: Option<String>,
    /// Working hours.
    pub hours: Option<Text>,
}

/// A role, a lane, a category, a refusal ground: an id and a name.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Named {
    /// Id.
    pub id: String,
    /// Name (or text).
    pub name: Text,
}

/// A lane of the diagrams.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Lane {
    /// Id.
    pub id: String,
    /// The system it belongs to (`mio` for the lanes ИС МИО executes).
    pub system: String,
    /// Name.
    pub name: Text,
}

/// The kind of a form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// An IIN.
    Iin,
    /// Text.
    Text,
    /// `YYYY-MM-DD`.
    Date,
    /// A number.
    Number,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// One of the regulation's categories.
    Category,
    /// Yes or no.
    Bool,
}

impl FieldKind {
    /// Parses a kind.
    pub fn parse(s: &str) -> Option<FieldKind> {
        Some(match s {
            "iin" => FieldKind::Iin,
            "text" => FieldKind::Text,
            "date" => FieldKind::Date,
            "number" => FieldKind::Number,
            "email" => FieldKind::Email,
            "phone" => FieldKind::Phone,
            "category" => FieldKind::Category,
            "bool" => FieldKind::Bool,
            _ => return None,
        })
    }
}

/// A field of the application form.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Field {
    /// Dotted path in the application JSON.
    pub id: String,
    /// Kind.
    pub kind: FieldKind,
    /// Whether the intake refuses an application without it.
    pub required: bool,
    /// Name.
    pub name: Text,
}

/// A required (or optional) document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Document {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Required.
    pub required: bool,
    /// Only for these categories (empty: all).
    pub categories: Vec<String>,
}

impl Document {
    /// Whether it applies to an applicant of `category`.
    pub fn applies_to(&self, category: &str) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| c == category)
    }
}

/// A condition (diamond).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Condition {
    /// Id.
    pub id: String,
    /// The lane that checks it.
    pub checked_by: String,
    /// The condition.
    pub text: Text,
    /// What happens when it fails.
    pub on_failure: Text,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
}

/// A status the file names, on one of the base statuses the systems exchange.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusDef {
    /// Id (what steps name in `status`).
    pub id: String,
    /// The base status.
    pub base: Status,
    /// Its name as the citizen sees it.
    pub name: Text,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
}

/// A deadline over a span of steps: every path from `from` to `to` (both included) must
/// fit in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Id.
    pub id: String,
    /// Only along this channel (else along every channel).
    pub channel: Option<String>,
    /// The first step covered (a procedure step or a step of the channel).
    pub from: String,
    /// The last step covered.
    pub to: String,
    /// The deadline.
    pub deadline: Deadline,
    /// The seed's wording.
    pub deadline_text: Option<String>,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
    /// Line in the file.
    pub line: usize,
}

/// The kind of a result document (with the `sqlx` feature, stored as its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "lowercase")
)]
pub enum ResultKind {
    /// Notification of registration (queue number).
    Registration,
    /// Motivated refusal.
    Refusal,
    /// Return of documents as incomplete.
    Return,
    /// Notification of assignment (S2).
    Assignment,
}

impl ResultKind {
    /// Every kind.
    pub const ALL: [ResultKind; 4] = [
        ResultKind::Registration,
        ResultKind::Refusal,
        ResultKind::Return,
        ResultKind::Assignment,
    ];

    /// Parses a kind.
    pub fn parse(s: &str) -> Option<ResultKind> {
        Some(match s {
            "registration" => ResultKind::Registration,
            "refusal" => ResultKind::Refusal,
            "return" => ResultKind::Return,
            "assignment" => ResultKind::Assignment,
            _ => return None,
        })
    }

    /// The name in the files.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Registration => "registration",
            ResultKind::Refusal => "refusal",
            ResultKind::Return => "return",
            ResultKind::Assignment => "assignment",
        }
    }
}

/// A result document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultDoc {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: ResultKind,
    /// The application's status once issued.
    pub final_status: Status,
    /// Title.
    pub title: Text,
    /// Body with placeholders.
    pub body: Text,
}

/// A step of a channel, before the procedure or after it (executed by the system it
/// names, never by ИС МИО).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStep {
    /// Id.
    pub id: String,
    /// Lane.
    pub lane: String,
    /// Actor.
    pub actor: String,
    /// The information system that executes it, or in which a person does it.
    pub executed_by: String,
    /// Action.
    pub action: Text,
    /// Completion.
    pub completion: Text,
    /// Deadline (none when a span covers it).
    pub deadline: Option<Deadline>,
    /// The seed's wording.
    pub deadline_text: Option<String>,
    /// Why the deadline is there though the seed does not state it.
    pub deadline_derived: Option<String>,
    /// How long after the previous step it is taken (the archive after a month).
    pub wait: Option<Deadline>,
    /// The status it sets.
    pub status: Option<Status>,
    /// The file's status id behind `status`.
    pub stage: Option<String>,
    /// Why it is there though the seed does not state it.
    pub derived: Option<String>,
    /// Conditions decided here (one diamond).
    pub conditions: Vec<String>,
    /// Next step, `handoff` or `end`.
    pub next: Option<String>,
    /// Branches: `(when, next)`.
    pub branches: Vec<(String, String)>,
    /// Line.
    pub line: usize,
}

impl ChannelStep {
    /// The steps (or `handoff`, `end`) this one leads to.
    pub fn successors(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.branches.iter().map(|(_, n)| n.as_str()).collect();
        if let Some(n) = &self.next {
            v.push(n);
        }
        v
    }
}

/// A channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// `portal`, `provider`, `con`.
    pub id: String,
    /// Name.
    pub name: Text,
    /// The procedure step it hands over to.
    pub handoff: String,
    /// Its overall deadline (from its first step to the procedure's end).
    pub total_deadline: Option<Deadline>,
    /// The seed's wording of it.
    pub total_deadline_text: Option<String>,
    /// Its steps before the procedure.
    pub steps: Vec<ChannelStep>,
    /// Its steps after the procedure (the result's way back to the citizen).
    pub after: Vec<ChannelStep>,
    /// The systems that receive the application's statuses (`portal`, `con-is`).
    pub status_to: Vec<String>,
    /// The system that issues the result, when the file names it (`result_to`).
    pub result_to_system: Option<String>,
}

impl Channel {
    /// A step before or after the procedure, by id.
    pub fn step(&self, id: &str) -> Option<&ChannelStep> {
        self.steps.iter().chain(&self.after).find(|s| s.id == id)
    }

    /// The system that issues the result document: `result_to` when the file names it
    /// (`mio` for the provider's own desk); else the first of `status_to` that executes
    /// a step of the leg after the procedure, else the first of `status_to`.
    pub fn result_to(&self) -> Option<&str> {
        if let Some(r) = &self.result_to_system {
            return Some(r);
        }
        self.status_to
            .iter()
            .find(|s| self.after.iter().any(|a| a.executed_by == **s))
            .map(String::as_str)
            .or_else(|| {
                self.after
                    .iter()
                    .map(|a| a.executed_by.as_str())
                    .find(|s| ["portal", "con-is"].contains(s))
            })
            .or(self.status_to.first().map(String::as_str))
    }
}

/// A whole regulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Regulation {
    /// The file it was loaded from.
    pub file: String,
    /// Id.
    pub id: String,
    /// Public service code.
    pub service: String,
    /// Region (routeId).
    pub region: String,
    /// The ИС МИО system id.
    pub system: String,
    /// The seed.
    pub seed: String,
    /// Original language.
    pub language: String,
    /// `partial` or `full`.
    pub automation: String,
    /// Requires ЭЦП.
    pub transactional: bool,
    /// The result's form.
    pub result_form: String,
    /// The overall deadline.
    pub total_deadline: Deadline,
    /// The seed's wording of it.
    pub total_deadline_text: Option<String>,
    /// Why it is there though the seed does not state it.
    pub total_deadline_derived: Option<String>,
    /// Title.
    pub title: Text,
    /// Service name.
    pub service_name: Text,
    /// Decree number.
    pub decree_number: String,
    /// Decree date.
    pub decree_date: Date,
    /// Decree issuer.
    pub decree_issuer: Text,
    /// The Standard.
    pub standard: Text,
    /// The clause of refusal grounds.
    pub refusal_grounds_clause: Text,
    /// In force from.
    pub in_force_from: Date,
    /// In force until.
    pub in_force_until: Option<Date>,
    /// Providers.
    pub providers: Vec<Provider>,
    /// Roles.
    pub roles: Vec<Named>,
    /// Lanes.
    pub lanes: Vec<Lane>,
    /// Categories.
    pub categories: Vec<Named>,
    /// The form.
    pub fields: Vec<Field>,
    /// Documents.
    pub documents: Vec<Document>,
    /// Refusal grounds.
    pub refusal_grounds: Vec<Named>,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// The statuses the file names.
    pub statuses: Vec<StatusDef>,
    /// Deadlines over spans of steps.
    pub spans: Vec<Span>,
    /// Results.
    pub results: Vec<ResultDoc>,
    /// The procedure; the first step is the registration.
    pub steps: Vec<Step>,
    /// Channels.
    pub channels: Vec<Channel>,
}

impl Regulation {
    /// A step by id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The first step (the registration).
    pub fn first_step(&self) -> &Step {
        &self.steps[0]
    }

    /// A provider by id.
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// A result document by id.
    pub fn result(&self, id: &str) -> Option<&ResultDoc> {
        self.results.iter().find(|r| r.id == id)
    }

    /// A category by id.
    pub fn category(&self, id: &str) -> Option<&Named> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// A role by id.
    pub fn role(&self, id: &str) -> Option<&Named> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// A channel by id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The span whose deadline a step without its own runs by along `channel`: of the
    /// spans that hold along the channel and lie over the step, the shortest.
    pub fn span_over(&self, step: &str, channel: &str) -> Option<&Span> {
        let is_proc = |id: &str| self.step(id).is_some();
        self.spans
            .iter()
            .filter(|s| s.channel.as_deref().is_none_or(|c| c == channel))
            .filter(|s| !is_proc(&s.from) || self.leads(&s.from, step, channel))
            .filter(|s| !is_proc(&s.to) || self.leads(step, &s.to, channel))
            .min_by_key(|s| s.deadline.approx_duration())
    }

    /// Whether the procedure leads from step `a` to step `b` (or `a` is `b`) along
    /// `channel`.
    pub fn leads(&self, a: &str, b: &str, channel: &str) -> bool {
        let mut seen: Vec<&str> = Vec::new();
        let mut stack = vec![a.to_string()];
        while let Some(id) = stack.pop() {
            if id == b {
                return true;
            }
            let Some(s) = self.step(&id) else { continue };
            if seen.contains(&s.id.as_str()) {
                continue;
            }
            seen.push(&s.id);
            stack.extend(s.successors_along(channel));
        }
        false
    }

    /// The name of a status as the citizen sees it: the file's name for a file status
    /// id, else the base status's label.
    pub fn status_label(&self, base: Status, stage: Option<&str>) -> Text {
        stage
            .and_then(|id| self.statuses.iter().find(|s| s.id == id))
            .map(|s| s.name.clone())
            .unwrap_or_else(|| base.label())
    }

    /// The roles whose employees work on this procedure (actors of human steps and the
    /// roles executors are assigned from).
    pub fn working_roles(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in &self.steps {
            if let Actor::Role(r) = &s.actor
                && !v.contains(r)
            {
                v.push(r.clone());
            }
            if let Some(a) = &s.assigns
                && !v.contains(a)
            {
                v.push(a.clone());
            }
        }
        v
    }

    /// The role of `assigned` steps: the role an `assign` step chooses from, or the role
    /// named `executor`.
    pub fn assigned_role(&self) -> String {
        self.steps
            .iter()
            .find_map(|s| s.assigns.clone())
            .unwrap_or_else(|| "executor".to_string())
    }

    /// The required documents for an applicant of `category`.
    pub fn required_documents(&self, category: &str) -> Vec<&Document> {
        self.documents
            .iter()
            .filter(|d| d.required && d.applies_to(category))
            .collect()
    }

    /// The outcome ids of the procedure's commission steps.
    pub fn commission_decisions(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.kind == StepKind::Commission)
            .flat_map(|s| s.outcomes.iter().map(|o| o.id.clone()))
            .collect()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for ResultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
