//! What the API returns and the UI shows: worklist rows, task details, applications.

use std::sync::Arc;

use egov_regulation::{Actor, Effect, Regulation, StepKind};
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::employees::{self, Employee};
use crate::engine::Engine;
use crate::queue::QueueStatus;
use crate::store::{
    self, Application, AttachmentRow, BaseStatus, Channel, ResultDocKind, RunKind, StatusChange,
    StepRun,
};

/// A row of the worklist.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Task {
    /// Task id.
    pub id: i64,
    /// Step.
    pub step_id: String,
    /// Kind.
    pub kind: RunKind,
    /// Role.
    pub role: Option<String>,
    /// Assigned employee.
    pub assignee_iin: Option<String>,
    /// Started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    /// Past its deadline (flagged by the SLA monitor).
    pub overdue: bool,
    /// The application.
    pub application_id: Uuid,
    /// Its number.
    pub number: String,
    /// The regulation.
    pub regulation_id: String,
    /// Applicant.
    pub applicant_name: String,
    /// Category.
    pub category: String,
    /// Status.
    pub status: BaseStatus,
    /// Channel.
    pub channel: Channel,
    /// What to do, from the regulation (Russian for the API).
    #[sqlx(skip)]
    pub action: String,
}

/// The worklist of an employee: the open tasks of their role at their provider and the
/// tasks assigned to them, due first; the regulation's texts in `lang` (`ru`, `kk`).
pub async fn worklist(engine: &Engine, who: &Employee, lang: &str) -> sqlx::Result<Vec<Task>> {
    tasks(
        engine,
        "(r.assignee_iin = $2 or (r.assignee_iin is null and r.role = $3))",
        &who.provider_id,
        Some((&who.iin, &who.role)),
        lang,
    )
    .await
}

/// Open tasks of a provider matching `condition` (over `step_runs r`), due first, with
/// their action from the regulation.
async fn tasks(
    engine: &Engine,
    condition: &str,
    provider: &str,
    who: Option<(&str, &str)>,
    lang: &str,
) -> sqlx::Result<Vec<Task>> {
    let sql = format!(
        "select r.id, r.step_id, r.kind, r.role, r.assignee_iin, r.started_at, r.due_at, r.overdue,
                a.id as application_id, a.number, a.regulation_id, a.applicant_name, a.category, a.status, a.channel
         from step_runs r join applications a on a.id = r.application_id
         where r.status = 'open' and a.provider_id = $1 and {condition}
         order by r.due_at nulls last, r.id"
    );
    let mut q = sqlx::query_as::<_, Task>(&sql).bind(provider);
    if let Some((iin, role)) = who {
        q = q.bind(iin).bind(role);
    }
    let mut tasks = q.fetch_all(&engine.pool).await?;
    for t in &mut tasks {
        t.action = engine
            .catalog
            .get(&t.regulation_id)
            .and_then(|r| r.step(&t.step_id))
            .map(|s| s.action.get(lang).to_string())
            .unwrap_or_default();
    }
    Ok(tasks)
}

/// One way out of a task.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutcomeView {
    /// Id.
    pub id: String,
    /// Name (Russian).
    pub name: String,
    /// The result it produces.
    pub result: Option<String>,
}

/// A document of the regulation's list and whether it is present.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentCheck {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Required for the applicant's category.
    pub required: bool,
    /// A scan or the paper original is there.
    pub present: bool,
}

/// A task with everything needed to complete it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskDetail {
    /// The task.
    pub task: StepRun,
    /// The step's kind.
    pub kind: RunKind,
    /// What to do.
    pub action: String,
    /// The form of completion.
    pub completion: String,
    /// The condition decided here.
    pub condition: Option<String>,
    /// Ways out.
    pub outcomes: Vec<OutcomeView>,
    /// For assign steps: the employees to choose from.
    pub candidates: Vec<Employee>,
    /// The documents of the list.
    pub documents: Vec<DocumentCheck>,
    /// Refusal grounds of the regulation.
    pub refusal_grounds: Vec<OutcomeView>,
    /// The application.
    pub application: ApplicationView,
}

/// An application as the АРМ shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplicationView {
    /// The application.
    #[serde(flatten)]
    pub application: Application,
    /// The regulation's title.
    pub regulation_title: String,
    /// The status label.
    pub status_label: String,
    /// The application document as signed (JSON).
    pub document: serde_json::Value,
    /// Attachments.
    pub attachments: Vec<AttachmentRow>,
    /// Status history.
    pub history: Vec<StatusChange>,
    /// Every step run.
    pub steps: Vec<StepRun>,
    /// The result document, once drafted.
    pub result: Option<ResultView>,
}

/// A result document's state.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ResultView {
    /// Which result.
    pub result_id: String,
    /// Kind.
    pub kind: ResultDocKind,
    /// Signed by.
    pub signer_name: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    pub signed_at: Option<OffsetDateTime>,
    /// Outgoing number, once issued.
    pub outgoing_number: Option<String>,
}

/// The application view, the regulation's texts in `lang` (`ru`, `kk`).
pub async fn application(
    engine: &Engine,
    app: Application,
    lang: &str,
) -> sqlx::Result<ApplicationView> {
    let pool = &engine.pool;
    let reg = engine.catalog.get(&app.regulation_id).cloned();
    // the file's own name for the status where it names one
    let status = app.status;
    let status_label = match &reg {
        Some(r) => r
            .status_label(status, app.stage.as_deref())
            .get(lang)
            .to_string(),
        None => status.label().get(lang).to_string(),
    };
    let result: Option<ResultView> = sqlx::query_as(
        "select result_id, kind, signer_name, signed_at, outgoing_number from results where application_id = $1 order by drafted_at desc limit 1",
    )
    .bind(app.id)
    .fetch_optional(pool)
    .await?;
    Ok(ApplicationView {
        regulation_title: reg
            .map(|r| r.service_name.get(lang).to_string())
            .unwrap_or_default(),
        status_label,
        document: serde_json::from_slice(&app.document).unwrap_or(serde_json::Value::Null),
        attachments: store::attachments(pool, app.id).await?,
        history: store::history(pool, app.id).await?,
        steps: store::runs(pool, app.id).await?,
        result,
        application: app,
    })
}

/// The details of a task the employee may see, the regulation's texts in `lang`.
pub async fn task(
    engine: &Engine,
    who: &Employee,
    id: i64,
    lang: &str,
) -> Result<TaskDetail, crate::engine::Error> {
    use crate::engine::Error;
    let run = store::run(&engine.pool, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no task {id}")))?;
    let app = store::application(&engine.pool, &run.application_id.to_string())
        .await?
        .ok_or_else(|| Error::NotFound("no application".into()))?;
    if app.provider_id != who.provider_id {
        return Err(Error::Forbidden(format!(
            "task {id} belongs to another provider"
        )));
    }
    let reg: std::sync::Arc<Regulation> = engine.regulation(&app)?;
    let step = reg
        .step(&run.step_id)
        .ok_or_else(|| Error::Internal("unknown step".into()))?
        .clone();
    let candidates = match (&step.kind, &step.assigns) {
        (StepKind::Assign, Some(role)) => {
            employees::of_role(&engine.pool, &app.provider_id, role).await?
        }
        _ => vec![],
    };
    let category = app.category.clone();
    let application = application(engine, app, lang).await?;
    let documents = reg
        .documents
        .iter()
        .filter(|d| d.applies_to(&category))
        .map(|d| DocumentCheck {
            id: d.id.clone(),
            name: d.name.get(lang).to_string(),
            required: d.required,
            present: application
                .attachments
                .iter()
                .any(|a| a.kind == d.id && (a.paper || a.scanned)),
        })
        .collect();
    Ok(TaskDetail {
        kind: step.kind,
        action: step.action.get(lang).to_string(),
        completion: step
            .completion_along(application.application.channel.as_str())
            .get(lang)
            .to_string(),
        condition: (!step.conditions.is_empty()).then(|| step.conditions.join(", ")),
        outcomes: step
            .outcomes
            .iter()
            .map(|o| OutcomeView {
                id: o.id.clone(),
                name: o
                    .name
                    .as_ref()
                    .map(|n| n.get(lang).to_string())
                    .unwrap_or_else(|| o.id.clone()),
                result: o.along(application.application.channel.as_str()).result,
            })
            .collect(),
        candidates,
        documents,
        refusal_grounds: reg
            .refusal_grounds
            .iter()
            .map(|g| OutcomeView {
                id: g.id.clone(),
                name: g.name.get(lang).to_string(),
                result: None,
            })
            .collect(),
        application,
        task: run,
    })
}

/// The applications of a provider, newest first.
pub async fn applications(
    pool: &PgPool,
    provider: &str,
    status: Option<BaseStatus>,
    limit: i64,
) -> sqlx::Result<Vec<Application>> {
    sqlx::query_as(&format!(
        "select {} from applications where provider_id = $1 and ($2::text is null or status = $2)
         order by registered_at desc limit $3",
        store::APP_COLUMNS
    ))
    .bind(provider)
    .bind(status)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The waiting list of a provider and category.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct QueueEntry {
    /// Category.
    pub category: String,
    /// Ordinal number.
    pub number: i64,
    /// Application number.
    pub application_number: String,
    /// Applicant.
    pub applicant_name: String,
    /// Registered on.
    #[serde(with = "egov_contracts::date")]
    pub registered_on: time::Date,
    /// Waiting, housed or removed.
    pub status: QueueStatus,
}

/// The waiting list of a provider (one category, or all).
pub async fn queue(
    pool: &PgPool,
    provider: &str,
    category: Option<&str>,
) -> sqlx::Result<Vec<QueueEntry>> {
    if category.is_some_and(|c| c.contains('\0')) {
        // no category holds a NUL, and PostgreSQL takes none in text
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "select q.category, q.number, a.number as application_number, a.applicant_name, q.registered_on, q.status
         from queue_entries q join applications a on a.id = q.application_id
         where q.provider_id = $1 and ($2::text is null or q.category = $2)
         order by q.category, q.number",
    )
    .bind(provider)
    .bind(category)
    .fetch_all(pool)
    .await
}

/// The open tasks of a provider past their deadline.
pub async fn overdue(engine: &Engine, provider: &str) -> sqlx::Result<Vec<Task>> {
    tasks(engine, "r.overdue", provider, None, "ru").await
}

/// What the workstation offers an employee: what the provider's regulations and the
/// employee's role allow. The UI's navigation shows these entries and no others, and
/// its pages refuse the rest.
#[derive(Debug, Clone, Default)]
pub struct Menu {
    /// The regulations whose applications the employee may take at the provider's desk
    /// (channel B, `[[channels]] id = "provider"`).
    pub channel_b: Vec<Arc<Regulation>>,
    /// Whether some regulation of the provider has a channel B at all (for any role).
    pub provider_channel: bool,
    /// The commission's meetings: the employee is of the role of a commission step of
    /// the provider's procedure.
    pub commission: bool,
    /// The waiting list: an outcome of the provider's procedure registers on one.
    pub queue: bool,
}

/// Whether an employee of `role` takes applications along the regulation's channel B:
/// the channel exists, and the lanes of its employee steps name that role, or name no
/// role of the regulation at all (any employee of the provider, as the intake accepts).
pub fn takes_channel_b(reg: &Regulation, role: &str) -> bool {
    let Some(channel) = reg.channel(Channel::Provider.as_str()) else {
        return false;
    };
    let roles: Vec<&str> = channel
        .steps
        .iter()
        .filter(|s| s.actor == "employee")
        .map(|s| s.lane.as_str())
        .filter(|lane| reg.role(lane).is_some())
        .collect();
    roles.is_empty() || roles.contains(&role)
}

/// What the workstation offers `who` (see [`Menu`]).
pub fn menu(catalog: &Catalog, who: &Employee) -> Menu {
    let regs = catalog.of_provider(&who.provider_id);
    Menu {
        channel_b: regs
            .iter()
            .filter(|r| takes_channel_b(r, &who.role))
            .map(|r| (*r).clone())
            .collect(),
        provider_channel: regs
            .iter()
            .any(|r| r.channel(Channel::Provider.as_str()).is_some()),
        commission: regs.iter().any(|r| {
            r.steps
                .iter()
                .any(|s| s.kind == StepKind::Commission && s.actor == Actor::Role(who.role.clone()))
        }),
        queue: regs.iter().any(|r| {
            r.steps
                .iter()
                .flat_map(|s| &s.outcomes)
                .any(|o| o.effect == Some(Effect::Enqueue))
        }),
    }
}
