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

/// The status of an application, as the portal and ИС ЦОН show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// The kinds of procedure steps the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The end.
    End,
}

impl StepKind {
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
    /// Status once completed.
    pub status: Option<Status>,
    /// The next step (steps with one way out).
    pub next: Option<String>,
    /// The condition decided here.
    pub condition: Option<String>,
    /// Outcomes (steps with several ways out).
    pub outcomes: Vec<Outcome>,
    /// For `assign`: the role the executor is chosen from.
    pub assigns: Option<String>,
    /// The result document this step always produces.
    pub result: Option<String>,
    /// Line in the file.
    pub line: usize,
}

impl Step {
    /// The outcome with this id.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// Every step this one can lead to.
    pub fn successors(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.outcomes.iter().map(|o| o.next.as_str()).collect();
        if let Some(n) = &self.next {
            v.push(n);
        }
        v
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
}

/// The kind of a result document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
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

/// A step of a channel (not executed by ИС МИО; validated and drawn).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStep {
    /// Id.
    pub id: String,
    /// Lane.
    pub lane: String,
    /// Actor.
    pub actor: String,
    /// Action.
    pub action: Text,
    /// Completion.
    pub completion: Text,
    /// Deadline.
    pub deadline: Deadline,
    /// The seed's wording.
    pub deadline_text: Option<String>,
    /// Condition decided here.
    pub condition: Option<String>,
    /// Next step, `handoff` or `end`.
    pub next: Option<String>,
    /// Branches: `(when, next)`.
    pub branches: Vec<(String, String)>,
    /// Line.
    pub line: usize,
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
    /// Its overall deadline.
    pub total_deadline: Option<Deadline>,
    /// Its steps.
    pub steps: Vec<ChannelStep>,
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
