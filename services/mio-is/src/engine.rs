//! The engine: runs an application through its regulation. Automatic steps run at once;
//! a human step becomes an open task for its role (or its assigned employee) with a due
//! time computed from the step's deadline; completing a task applies its outcome (the
//! result chosen, the waiting list, the status) and enters the next step, all in one
//! transaction, with the status messages in the outbox of that transaction.

use std::sync::Arc;

use egov_calendar::Calendar;
use egov_contracts::mio::{QueuePlace, ResultDocument};
use egov_pki::Verifier;
use egov_regulation::{Actor, Effect, Regulation, ResultKind, Status, Step, StepKind};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::documents::{self, Values};
use crate::employees::{self, Employee};
use crate::outbox::{self, Extras};
use crate::store::{self, Application, ResultDocKind, RunStatus, StepRun};

/// Engine errors, each with a stable code (the АРМ maps them to HTTP statuses).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such task, application, meeting...
    #[error("{0}")]
    NotFound(String),
    /// The employee may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The state does not allow it (a task completed already, ...).
    #[error("{0}")]
    Conflict(String),
    /// The input is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The server holds no usable key for the employee (the keystore is a development
    /// option): the employee signs on their own client (`sign-request`, `signature`).
    #[error("{0}")]
    SignOnClient(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Something that should not happen.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "NOT_FOUND",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::Conflict(_) => "CONFLICT",
            Error::Invalid(_) => "INVALID",
            Error::SignOnClient(_) => "SIGN_ON_CLIENT",
            Error::Db(_) | Error::Internal(_) => "INTERNAL",
        }
    }
}

/// What an employee gives when completing a task.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Completion {
    /// The outcome (steps with several ways out).
    pub outcome: Option<String>,
    /// The executor chosen (assign steps).
    pub assignee: Option<String>,
    /// Documents found missing (check: incomplete).
    pub missing_documents: Vec<String>,
    /// Refusal grounds (check: refuse).
    pub grounds: Vec<String>,
    /// A note.
    pub note: Option<String>,
    /// The amount (S2 assignment), tenge a month: a whole number (`18500` or `18500.0`).
    #[serde(deserialize_with = "whole_number")]
    pub amount: Option<i64>,
    /// A signing step's signature made on the employee's client, already checked
    /// against the bytes handed out (never from the JSON body of `complete`).
    #[serde(skip)]
    pub signed: Option<ClientSigned>,
}

/// An optional whole number that JSON may write as `18500` or `18500.0` (JSON Schema's
/// `integer` admits both); a fraction or a number past i64 is refused.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize as _;
    use serde::de::Error as _;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                    Ok(Some(f as i64))
                }
                _ => Err(D::Error::custom(format!("{n} is not a whole number"))),
            }
        }
    }
}

/// A detached CMS signature an employee made on their own client over bytes the АРМ
/// handed out ([`Engine::sign_request`]).
#[derive(Debug, Clone)]
pub struct ClientSigned {
    /// The bytes handed out (the result document).
    pub bytes: Vec<u8>,
    /// The detached CMS signature over them.
    pub signature: Vec<u8>,
}

/// How long bytes handed out for signing wait for their signature.
pub const SIGN_REQUEST_LIFETIME: time::Duration = time::Duration::minutes(15);

/// The engine of one ИС МИО.
#[derive(Clone)]
pub struct Engine {
    /// Its database.
    pub pool: PgPool,
    /// Its regulations.
    pub catalog: Arc<Catalog>,
    /// Its clock.
    pub clock: Clock,
    /// Kazakhstan's working days.
    pub calendar: &'static Calendar,
    /// Wakes the outbox relay after a commit.
    pub outbox_wake: Arc<Notify>,
    /// Verifies the signatures it makes and receives.
    pub verifier: Arc<Verifier>,
    /// The employees' keys, sealed (see [`employees::Keystore`]).
    pub keystore: Arc<employees::Keystore>,
    /// Whether the server signs with them (a development option); else employees sign
    /// on their own client.
    pub server_keystore: bool,
    /// The system id.
    pub system_id: String,
    /// Certificates sent with the signatures it makes (the issuing CA).
    pub chain: Vec<egov_pki::CertInfo>,
    /// The gateway client, once the system runs (the intake asks ЕНИС through it).
    pub gateway: Arc<std::sync::OnceLock<egov_shep_client::Client>>,
}

fn date_ru(d: time::Date) -> String {
    format!("{:02}.{:02}.{}", d.day(), d.month() as u8, d.year())
}

/// A refusal names its grounds, each one of the regulation's.
pub fn check_grounds(reg: &Regulation, grounds: &[String]) -> Result<(), Error> {
    if grounds.is_empty() {
        return Err(Error::Invalid(format!(
            "a refusal names its grounds (known: {})",
            reg.refusal_grounds
                .iter()
                .map(|g| g.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for g in grounds {
        if !reg.refusal_grounds.iter().any(|x| x.id == *g) {
            return Err(Error::Invalid(format!("unknown refusal ground {g:?}")));
        }
    }
    Ok(())
}

/// What a way out needs besides its id: known grounds for a refusal (one for
/// incomplete documents names the documents instead), a positive amount for an
/// assignment.
pub fn outcome_inputs(
    reg: &Regulation,
    outcome: &egov_regulation::Way,
    grounds: &[String],
    amount: Option<i64>,
) -> Result<(), Error> {
    match outcome
        .result
        .as_deref()
        .and_then(|r| reg.result(r))
        .map(|r| r.kind)
    {
        Some(ResultKind::Refusal) if outcome.id != "incomplete" => check_grounds(reg, grounds),
        Some(ResultKind::Assignment) if amount.is_none_or(|a| a <= 0) => Err(Error::Invalid(
            "the assignment needs the amount (tenge a month, > 0)".into(),
        )),
        _ => Ok(()),
    }
}

/// Texts joined by "; ", in both languages.
fn joined<'a>(texts: impl Iterator<Item = &'a egov_regulation::Text>) -> (String, String) {
    let (ru, kk): (Vec<&str>, Vec<&str>) = texts.map(|t| (t.ru.as_str(), t.kk.as_str())).unzip();
    (ru.join("; "), kk.join("; "))
}

/// Thousands separated by spaces.
pub fn money(v: i64) -> String {
    let s = v.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

impl Engine {
    /// The regulation an application runs.
    pub fn regulation(&self, app: &Application) -> Result<Arc<Regulation>, Error> {
        self.catalog
            .get(&app.regulation_id)
            .cloned()
            .ok_or_else(|| {
                Error::Internal(format!("regulation {} is not loaded", app.regulation_id))
            })
    }

    /// Wakes the outbox relay (after a commit that wrote to the outbox).
    pub fn wake(&self) {
        self.outbox_wake.notify_one();
    }

    /// Saves the mutable columns of an application.
    pub async fn save(conn: &mut PgConnection, app: &Application) -> sqlx::Result<()> {
        sqlx::query(
            "update applications set status = $2, current_step = $3, assignee_iin = $4, result_id = $5,
                grounds = $6, missing_documents = $7, decision_number = $8, decision_date = $9, amount = $10,
                queue_category = $11, queue_number = $12, registration_date = $13, completed_at = $14,
                overdue = $15, updated_at = $16, stage = $17
             where id = $1",
        )
        .bind(app.id)
        .bind(app.status)
        .bind(&app.current_step)
        .bind(&app.assignee_iin)
        .bind(&app.result_id)
        .bind(&app.grounds)
        .bind(&app.missing_documents)
        .bind(&app.decision_number)
        .bind(app.decision_date)
        .bind(app.amount)
        .bind(&app.queue_category)
        .bind(app.queue_number)
        .bind(app.registration_date)
        .bind(app.completed_at)
        .bind(app.overdue)
        .bind(app.updated_at)
        .bind(&app.stage)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Changes the status (history and outbox) when it differs: the base status, and
    /// the file's own status id (`stage`) when the file names one.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_status(
        &self,
        conn: &mut PgConnection,
        app: &mut Application,
        reg: &Regulation,
        status: Status,
        stage: Option<&str>,
        step: Option<&str>,
        now: OffsetDateTime,
        extras: Extras,
    ) -> sqlx::Result<()> {
        let stage = stage.filter(|s| *s != status.as_str());
        if app.status == status && app.stage.as_deref() == stage && extras.result.is_none() {
            return Ok(());
        }
        self.record_status(conn, app, reg, status, stage, step, now, extras)
            .await
    }

    /// Gives the application `status` (and the file's status id `stage`), records it in
    /// the history and sends it, whether or not it is the one the application has: the
    /// registration's first status is always recorded.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_status(
        &self,
        conn: &mut PgConnection,
        app: &mut Application,
        reg: &Regulation,
        status: Status,
        stage: Option<&str>,
        step: Option<&str>,
        now: OffsetDateTime,
        extras: Extras,
    ) -> sqlx::Result<()> {
        let stage = stage.filter(|s| *s != status.as_str());
        app.status = status;
        app.stage = stage.map(str::to_string);
        app.updated_at = now;
        outbox::notify_status(conn, app, reg, step, now, extras).await?;
        metrics::counter!("egov_mio_status_changes_total", "system" => self.system_id.clone(), "status" => status.as_str()).increment(1);
        Ok(())
    }

    /// When a step entered at `now` is due: by its own deadline along the application's
    /// channel, else by the span over it, counted from when the span's first step began
    /// (from the registration when the span begins in the channel's own steps).
    pub(crate) async fn due(
        &self,
        conn: &mut PgConnection,
        app: &Application,
        reg: &Regulation,
        step: &Step,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, Error> {
        if let Some(d) = step.deadline_along(app.channel.as_str()) {
            return Ok(Some(d.due(self.calendar, now)));
        }
        let Some(span) = reg.span_over(&step.id, app.channel.as_str()) else {
            return Ok(None);
        };
        let start: Option<OffsetDateTime> = if reg.step(&span.from).is_some() {
            sqlx::query_scalar(
                "select started_at from step_runs where application_id = $1 and step_id = $2 order by id desc limit 1",
            )
            .bind(app.id)
            .bind(&span.from)
            .fetch_optional(&mut *conn)
            .await?
        } else {
            Some(app.registered_at)
        };
        Ok(Some(span.deadline.due(self.calendar, start.unwrap_or(now))))
    }

    /// The status a step sets (base and the file's id), if any, without extras.
    async fn step_status(
        &self,
        conn: &mut PgConnection,
        app: &mut Application,
        reg: &Regulation,
        (status, stage): (Option<Status>, Option<String>),
        step: &str,
        now: OffsetDateTime,
    ) -> sqlx::Result<()> {
        match status {
            Some(s) => {
                self.set_status(
                    conn,
                    app,
                    reg,
                    s,
                    stage.as_deref(),
                    Some(step),
                    now,
                    Extras::default(),
                )
                .await
            }
            None => Ok(()),
        }
    }

    fn who(reg: &Regulation, step: &Step, app: &Application) -> (Option<String>, Option<String>) {
        match &step.actor {
            Actor::System => (None, None),
            Actor::Role(r) => (Some(r.clone()), None),
            Actor::Assigned => (Some(reg.assigned_role()), app.assignee_iin.clone()),
        }
    }

    /// Enters `step_id` and runs on through automatic steps until a human step (an open
    /// task) or the end.
    pub async fn enter(
        &self,
        conn: &mut PgConnection,
        app: &mut Application,
        reg: &Regulation,
        step_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut step_id = step_id.to_string();
        for _ in 0..reg.steps.len() + 1 {
            let step = reg
                .step(&step_id)
                .ok_or_else(|| Error::Internal(format!("{}: no step {step_id}", reg.id)))?
                .clone();
            app.current_step = Some(step.id.clone());
            app.updated_at = now;
            let due = self.due(conn, app, reg, &step, now).await?;
            let (role, assignee) = Self::who(reg, &step, app);
            if step.kind == StepKind::End || step.actor == Actor::System {
                sqlx::query(
                    "insert into step_runs (application_id, step_id, kind, status, started_at, due_at, completed_at, completed_by)
                     values ($1, $2, $3, 'done', $4, $5, $4, 'system')",
                )
                .bind(app.id)
                .bind(&step.id)
                .bind(step.kind)
                .bind(now)
                .bind(due)
                .execute(&mut *conn)
                .await?;
                if step.kind == StepKind::End {
                    break;
                }
                if step.kind == StepKind::Deliver {
                    self.deliver(conn, app, reg, &step, now).await?;
                } else {
                    let status = step.status_along(app.channel.as_str());
                    self.step_status(conn, app, reg, status, &step.id, now)
                        .await?;
                }
                step_id = match (&step.next, step.outcomes.first()) {
                    (Some(n), _) => n.clone(),
                    (None, Some(o)) => o.along(app.channel.as_str()).next,
                    (None, None) => {
                        return Err(Error::Internal(format!("step {} leads nowhere", step.id)));
                    }
                };
                continue;
            }
            sqlx::query(
                "insert into step_runs (application_id, step_id, kind, role, assignee_iin, status, started_at, due_at)
                 values ($1, $2, $3, $4, $5, 'open', $6, $7)",
            )
            .bind(app.id)
            .bind(&step.id)
            .bind(step.kind)
            .bind(&role)
            .bind(&assignee)
            .bind(now)
            .bind(due)
            .execute(&mut *conn)
            .await?;
            break;
        }
        Self::save(conn, app).await?;
        Ok(())
    }

    /// Completes task `run_id` as `who`, in a transaction of its own.
    pub async fn complete(
        &self,
        run_id: i64,
        who: &Employee,
        c: Completion,
    ) -> Result<Application, Error> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let run = store::run_for_update(&mut tx, run_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {run_id}")))?;
        let mut app = store::application_for_update(&mut tx, run.application_id)
            .await?
            .ok_or_else(|| Error::Internal("the task's application is gone".into()))?;
        may_complete(&run, &app, who)?;
        let reg = self.regulation(&app)?;
        let step = reg
            .step(&run.step_id)
            .ok_or_else(|| Error::Internal(format!("no step {}", run.step_id)))?
            .clone();
        if step.kind == StepKind::Commission {
            return Err(Error::Conflict(format!(
                "task {run_id} is decided by the commission: put the application on a meeting's agenda and close its protocol"
            )));
        }
        self.apply(&mut tx, run, &mut app, &reg, &step, Some(who), &c, now)
            .await?;
        tx.commit().await?;
        self.wake();
        Ok(app)
    }

    /// The bytes `who` is to sign on their own client to complete task `run_id` (a sign
    /// or issue step): the result document as it will be issued, naming its signer. They
    /// are kept as a sign request for [`SIGN_REQUEST_LIFETIME`]; the signature that comes
    /// back is checked against exactly these bytes. Returns the request's id, the bytes
    /// and when the request expires.
    pub async fn sign_request(
        &self,
        run_id: i64,
        who: &Employee,
    ) -> Result<(Uuid, Vec<u8>, OffsetDateTime), Error> {
        let now = self.clock.now();
        let run = store::run(&self.pool, run_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {run_id}")))?;
        let app: Application = store::application(&self.pool, &run.application_id.to_string())
            .await?
            .ok_or_else(|| Error::Internal("the task's application is gone".into()))?;
        may_complete(&run, &app, who)?;
        let reg = self.regulation(&app)?;
        let step = reg
            .step(&run.step_id)
            .ok_or_else(|| Error::Internal(format!("no step {}", run.step_id)))?;
        let result_id = match step.kind {
            StepKind::Sign => sqlx::query_scalar::<_, String>(
                "select result_id from results where application_id = $1 and signed_at is null order by drafted_at desc limit 1",
            )
            .bind(app.id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::Conflict("there is no drafted result to sign".into()))?,
            StepKind::Issue => app
                .result_id
                .clone()
                .or_else(|| step.result_along(app.channel.as_str()).map(str::to_string))
                .ok_or_else(|| {
                    Error::Internal(format!("no result was chosen on the way to step {}", step.id))
                })?,
            _ => {
                return Err(Error::Conflict(format!(
                    "task {run_id} ({}) signs nothing",
                    run.step_id
                )));
            }
        };
        let pdf = self.render(&app, &reg, &result_id, Some(who)).await?;
        let id = Uuid::new_v4();
        let expires = now + SIGN_REQUEST_LIFETIME;
        forget_expired_sign_requests(&self.pool, now).await?;
        sqlx::query(
            "insert into sign_requests (id, employee_iin, run_id, bytes, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&who.iin)
        .bind(run_id)
        .bind(&pdf)
        .bind(now)
        .bind(expires)
        .execute(&self.pool)
        .await?;
        Ok((id, pdf, expires))
    }
}

/// Forgets the bytes handed out for signing whose time has passed (they are never signed
/// now), so that unanswered requests do not pile up.
pub async fn forget_expired_sign_requests(
    pool: &sqlx::PgPool,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("delete from sign_requests where expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether `who` may complete `run` of `app`: it is open, of the employee's provider,
/// and assigned to them or for their role.
fn may_complete(run: &StepRun, app: &Application, who: &Employee) -> Result<(), Error> {
    let run_id = run.id;
    {
        if run.status != RunStatus::Open {
            return Err(Error::Conflict(format!(
                "task {run_id} ({}) was completed already by {} at {}",
                run.step_id,
                run.completed_by.clone().unwrap_or_default(),
                run.completed_at.map(|t| t.to_string()).unwrap_or_default()
            )));
        }
        if who.provider_id != app.provider_id {
            return Err(Error::Forbidden(format!(
                "task {run_id} belongs to provider {}, not to {}",
                app.provider_id, who.provider_id
            )));
        }
        match (&run.assignee_iin, &run.role) {
            (Some(a), _) if *a != who.iin => {
                return Err(Error::Forbidden(format!(
                    "task {run_id} is assigned to employee {a}"
                )));
            }
            (None, Some(role)) if *role != who.role => {
                return Err(Error::Forbidden(format!(
                    "task {run_id} ({}) is for the role {role}, not {}",
                    run.step_id, who.role
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Engine {
    /// Applies a completion to an open run (the АРМ's tasks and the commission's protocol).
    #[allow(clippy::too_many_arguments)]
    pub async fn apply(
        &self,
        conn: &mut PgConnection,
        run: StepRun,
        app: &mut Application,
        reg: &Regulation,
        step: &Step,
        who: Option<&Employee>,
        c: &Completion,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let outcome = match (&c.outcome, step.outcomes.is_empty()) {
            (None, true) => None,
            (Some(o), false) => Some(
                step.outcome(o)
                    .map(|o| o.along(app.channel.as_str()))
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "step {} has no outcome {o:?} (its outcomes: {})",
                            step.id,
                            step.outcomes
                                .iter()
                                .map(|o| o.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?,
            ),
            (None, false) => {
                return Err(Error::Invalid(format!(
                    "step {} needs an outcome: {}",
                    step.id,
                    step.outcomes
                        .iter()
                        .map(|o| o.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            (Some(o), true) => {
                return Err(Error::Invalid(format!(
                    "step {} has a single way out; outcome {o:?} does not apply",
                    step.id
                )));
            }
        };
        let by = who
            .map(|w| w.iin.clone())
            .unwrap_or_else(|| "commission".into());
        match step.kind {
            StepKind::Assign => {
                let iin = c
                    .assignee
                    .as_deref()
                    .ok_or_else(|| Error::Invalid("choose the executor: assignee".into()))?;
                let role = step.assigns.clone().unwrap_or_else(|| reg.assigned_role());
                let candidates = employees::of_role(&self.pool, &app.provider_id, &role).await?;
                if !candidates.iter().any(|e| e.iin == iin) {
                    return Err(Error::Invalid(format!(
                        "{iin} is not an active employee of the role {role} at {}",
                        app.provider_id
                    )));
                }
                app.assignee_iin = Some(iin.to_string());
            }
            StepKind::Check => {
                let o = outcome.as_ref().expect("check steps have outcomes");
                let missing = self.missing_documents(conn, app, reg).await?;
                match o.id.as_str() {
                    "complete" if !missing.is_empty() => {
                        return Err(Error::Invalid(format!(
                            "documents are missing: {}; choose incomplete",
                            missing.join(", ")
                        )));
                    }
                    "incomplete" => {
                        for d in &c.missing_documents {
                            if !reg.documents.iter().any(|x| x.id == *d) {
                                return Err(Error::Invalid(format!("unknown document {d:?}")));
                            }
                        }
                        let mut all: Vec<String> = missing.clone();
                        for d in &c.missing_documents {
                            if !all.contains(d) {
                                all.push(d.clone());
                            }
                        }
                        if all.is_empty() {
                            return Err(Error::Invalid(
                                "every required document is attached; name the documents that are inadequate (missing_documents)".into(),
                            ));
                        }
                        app.missing_documents = all;
                    }
                    "refuse" => {
                        check_grounds(reg, &c.grounds)?;
                        app.grounds = c.grounds.clone();
                    }
                    _ => {}
                }
            }
            StepKind::Draft | StepKind::Issue => {
                let result = app
                    .result_id
                    .clone()
                    .or_else(|| step.result_along(app.channel.as_str()).map(str::to_string))
                    .ok_or_else(|| {
                        Error::Internal(format!(
                            "no result was chosen on the way to step {}",
                            step.id
                        ))
                    })?;
                app.result_id = Some(result.clone());
                self.draft(conn, app, reg, &result, &by, now).await?;
                if step.kind == StepKind::Issue {
                    // the seed's one act: the actor forms the result, signs it, and it leaves
                    let who =
                        who.ok_or_else(|| Error::Internal("a signature needs a person".into()))?;
                    self.sign(conn, app, reg, who, c.signed.as_ref(), now)
                        .await?;
                    self.deliver(conn, app, reg, step, now).await?;
                }
            }
            StepKind::Sign => {
                let who =
                    who.ok_or_else(|| Error::Internal("a signature needs a person".into()))?;
                self.sign(conn, app, reg, who, c.signed.as_ref(), now)
                    .await?;
            }
            StepKind::Deliver => {
                self.deliver(conn, app, reg, step, now).await?;
            }
            _ => {}
        }
        if let Some(o) = &outcome {
            if let Some(r) = &o.result {
                app.result_id = Some(r.clone());
                // grounds chosen earlier on the path (a check's refusal, the protocol) stand
                let grounds = if app.grounds.is_empty() {
                    c.grounds.clone()
                } else {
                    app.grounds.clone()
                };
                outcome_inputs(reg, o, &grounds, c.amount)?;
                match reg.result(r).map(|x| x.kind) {
                    Some(ResultKind::Refusal) if o.id != "incomplete" => app.grounds = grounds,
                    Some(ResultKind::Assignment) => app.amount = c.amount,
                    _ => {}
                }
            }
            if o.effect == Some(Effect::Enqueue) && app.queue_number.is_none() {
                self.enqueue(conn, app, now).await?;
            }
        }
        let overdue = run.overdue || run.due_at.is_some_and(|d| now > d);
        sqlx::query(
            "update step_runs set status = 'done', completed_at = $2, completed_by = $3, outcome = $4, note = $5,
                overdue = $6, overdue_at = coalesce(overdue_at, case when $6 then $2 end)
             where id = $1",
        )
        .bind(run.id)
        .bind(now)
        .bind(&by)
        .bind(outcome.as_ref().map(|o| o.id.clone()))
        .bind(&c.note)
        .bind(overdue)
        .execute(&mut *conn)
        .await?;
        metrics::counter!(
            "egov_mio_steps_completed_total",
            "system" => self.system_id.clone(),
            "regulation" => reg.id.clone(),
            "step" => step.id.clone(),
            "overdue" => if overdue { "true" } else { "false" },
        )
        .increment(1);
        metrics::histogram!(
            "egov_mio_step_duration_seconds",
            "system" => self.system_id.clone(),
            "regulation" => reg.id.clone(),
            "step" => step.id.clone(),
        )
        .record((now - run.started_at).as_seconds_f64().max(0.0));
        let (status, stage) = match outcome.as_ref().filter(|o| o.status.is_some()) {
            Some(o) => (o.status, o.stage.clone()),
            None => step.status_along(app.channel.as_str()),
        };
        if !(step.kind == StepKind::Deliver || step.kind == StepKind::Issue) {
            self.step_status(conn, app, reg, (status, stage), &step.id, now)
                .await?;
        }
        let next = match (&outcome, &step.next) {
            (Some(o), _) => o.next.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => return Err(Error::Internal(format!("step {} leads nowhere", step.id))),
        };
        self.enter(conn, app, reg, &next, now).await
    }

    /// The required documents of the applicant's category with neither a scan nor a
    /// paper original.
    pub async fn missing_documents(
        &self,
        conn: &mut PgConnection,
        app: &Application,
        reg: &Regulation,
    ) -> Result<Vec<String>, Error> {
        let present: Vec<String> = sqlx::query_scalar(
            "select distinct kind from attachments where application_id = $1 and (paper or content is not null)",
        )
        .bind(app.id)
        .fetch_all(conn)
        .await?;
        Ok(reg
            .required_documents(&app.category)
            .into_iter()
            .filter(|d| !present.contains(&d.id))
            .map(|d| d.id.clone())
            .collect())
    }

    /// Registers the applicant on the waiting list of the provider and category: the
    /// next number, in the caller's transaction (gap-free and unique under concurrency).
    pub async fn enqueue(
        &self,
        conn: &mut PgConnection,
        app: &mut Application,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let key = format!("{}/{}", app.provider_id, app.category);
        let number = store::next_number(conn, "queue", &key).await?;
        let today = egov_calendar::local_date(now);
        sqlx::query(
            "insert into queue_entries (provider_id, category, number, application_id, applicant_iin, registered_on)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&app.provider_id)
        .bind(&app.category)
        .bind(number)
        .bind(app.id)
        .bind(&app.applicant_iin)
        .bind(today)
        .execute(&mut *conn)
        .await?;
        app.queue_category = Some(app.category.clone());
        app.queue_number = Some(number);
        app.registration_date = Some(today);
        Ok(())
    }

    async fn values(
        &self,
        app: &Application,
        reg: &Regulation,
        signer: Option<&Employee>,
    ) -> Result<Values, Error> {
        let mut v = Values::new();
        let both = |s: String| (s.clone(), s);
        let provider = reg
            .provider(&app.provider_id)
            .ok_or_else(|| Error::Internal("unknown provider".into()))?;
        v.insert("applicant_name", both(app.applicant_name.clone()));
        v.insert("applicant_iin", both(app.applicant_iin.clone()));
        v.insert("application_number", both(app.number.clone()));
        let reg_date = egov_calendar::local_date(app.registered_at);
        v.insert("application_date", both(date_ru(reg_date)));
        v.insert(
            "provider",
            (provider.name.ru.clone(), provider.name.kk.clone()),
        );
        let cat = reg.category(&app.category);
        v.insert(
            "category",
            cat.map(|c| (c.name.ru.clone(), c.name.kk.clone()))
                .unwrap_or_else(|| both(app.category.clone())),
        );
        v.insert("registration_number", both(app.number.clone()));
        v.insert(
            "registration_date",
            both(app.registration_date.map(date_ru).unwrap_or_default()),
        );
        v.insert(
            "queue_number",
            both(app.queue_number.map(|n| n.to_string()).unwrap_or_default()),
        );
        v.insert(
            "grounds",
            joined(app.grounds.iter().filter_map(|g| {
                reg.refusal_grounds
                    .iter()
                    .find(|x| x.id == *g)
                    .map(|g| &g.name)
            })),
        );
        v.insert(
            "missing_documents",
            joined(
                app.missing_documents
                    .iter()
                    .filter_map(|d| reg.documents.iter().find(|x| x.id == *d).map(|d| &d.name)),
            ),
        );
        v.insert(
            "decision_number",
            both(app.decision_number.clone().unwrap_or_default()),
        );
        v.insert(
            "decision_date",
            both(app.decision_date.map(date_ru).unwrap_or_default()),
        );
        v.insert(
            "amount",
            (
                app.amount
                    .map(|a| format!("{} тенге", money(a)))
                    .unwrap_or_default(),
                app.amount
                    .map(|a| format!("{} теңге", money(a)))
                    .unwrap_or_default(),
            ),
        );
        let signer = match signer {
            Some(s) => Some(s.clone()),
            None => {
                // the draft names the person who will sign: the first of the signing role
                let role = reg
                    .steps
                    .iter()
                    .find(|s| s.kind == StepKind::Sign)
                    .and_then(|s| match &s.actor {
                        Actor::Role(r) => Some(r.clone()),
                        _ => None,
                    });
                match role {
                    Some(r) => employees::of_role(&self.pool, &app.provider_id, &r)
                        .await?
                        .into_iter()
                        .next(),
                    None => None,
                }
            }
        };
        if let Some(s) = &signer {
            let pos = reg.role(&s.role).map(|r| r.name.clone());
            v.insert("signer_name", both(s.full_name()));
            v.insert(
                "signer_position",
                pos.map(|p| (p.ru, p.kk))
                    .unwrap_or_else(|| both(s.position.clone())),
            );
        }
        Ok(v)
    }

    async fn render(
        &self,
        app: &Application,
        reg: &Regulation,
        result_id: &str,
        signer: Option<&Employee>,
    ) -> Result<Vec<u8>, Error> {
        let result = reg
            .result(result_id)
            .ok_or_else(|| Error::Internal(format!("no result {result_id}")))?;
        let provider = reg.provider(&app.provider_id).expect("checked in values");
        let v = self.values(app, reg, signer).await?;
        let reg_date = egov_calendar::local_date(app.registered_at);
        let parts = documents::parts(provider, result, &v, &app.number, &date_ru(reg_date));
        documents::render(&parts, &result.title.ru).map_err(Error::Internal)
    }

    async fn draft(
        &self,
        conn: &mut PgConnection,
        app: &Application,
        reg: &Regulation,
        result_id: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let pdf = self.render(app, reg, result_id, None).await?;
        let kind = reg
            .result(result_id)
            .map_or(ResultKind::Refusal, |r| r.kind);
        // a new draft replaces an unsigned earlier one (a path sent back and drafted again)
        sqlx::query("delete from results where application_id = $1 and signed_at is null")
            .bind(app.id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "insert into results (id, application_id, result_id, kind, pdf, drafted_at, drafted_by) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::new_v4())
        .bind(app.id)
        .bind(result_id)
        .bind(kind)
        .bind(pdf)
        .bind(now)
        .bind(by)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn sign(
        &self,
        conn: &mut PgConnection,
        app: &Application,
        reg: &Regulation,
        who: &Employee,
        client: Option<&ClientSigned>,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let row: Option<(Uuid, String)> = sqlx::query_as(
            "select id, result_id from results where application_id = $1 and signed_at is null order by drafted_at desc limit 1",
        )
        .bind(app.id)
        .fetch_optional(&mut *conn)
        .await?;
        let (id, result_id) =
            row.ok_or_else(|| Error::Conflict("there is no drafted result to sign".into()))?;
        let (pdf, signature) = match client {
            // the bytes handed out (naming their signer) and the client's signature
            Some(s) => (s.bytes.clone(), s.signature.clone()),
            None if !self.server_keystore => {
                return Err(Error::SignOnClient(
                    "the server holds no signing keys: sign the document on your own client (GET /api/v1/tasks/{id}/sign-request, POST /api/v1/tasks/{id}/signature)".into(),
                ));
            }
            None => {
                // the signed document names its actual signer
                let pdf = self.render(app, reg, &result_id, Some(who)).await?;
                let (key, cert) = employees::keys(&self.pool, &self.keystore, &who.iin)
                    .await
                    .map_err(Error::Internal)?;
                let signature = egov_pki::cms::sign(&pdf, &key, &cert, &self.chain, true, now)
                    .map_err(|e| Error::Internal(format!("signing: {e}")))?;
                (pdf, signature)
            }
        };
        // the signature must verify, by the employee, before the document leaves
        self.verifier
            .verify_detached(
                &pdf,
                &signature,
                &egov_pki::VerifyOptions {
                    expected_iin: egov_iin::Iin::parse(&who.iin).ok(),
                    usage: egov_pki::verify::Usage::Signing,
                    // at the system's time, at which it was signed
                    at: Some(now),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| Error::Internal(format!("the new signature does not verify: {e}")))?;
        sqlx::query(
            "update results set pdf = $2, signature = $3, signer_iin = $4, signer_name = $5, signed_at = $6 where id = $1",
        )
        .bind(id)
        .bind(pdf)
        .bind(signature)
        .bind(&who.iin)
        .bind(who.full_name())
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Registers the outgoing result and sends it with the final status.
    async fn deliver(
        &self,
        conn: &mut PgConnection,
        app: &mut Application,
        reg: &Regulation,
        step: &Step,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        #[derive(sqlx::FromRow)]
        struct Issued {
            id: Uuid,
            result_id: String,
            kind: ResultDocKind,
            pdf: Vec<u8>,
            signature: Option<Vec<u8>>,
            signer_iin: Option<String>,
            signer_name: Option<String>,
        }
        let row: Option<Issued> = sqlx::query_as(
            "select id, result_id, kind, pdf, signature, signer_iin, signer_name from results
             where application_id = $1 and issued_at is null order by drafted_at desc limit 1",
        )
        .bind(app.id)
        .fetch_optional(&mut *conn)
        .await?;
        let mut extras = Extras::default();
        let (step_status, step_stage) = step.status_along(app.channel.as_str());
        let mut final_status = step_status.unwrap_or(Status::Completed);
        let mut stage = step_stage;
        if let Some(r) = row {
            let signature = r
                .signature
                .ok_or_else(|| Error::Conflict("the result is not signed yet".into()))?;
            let year = egov_calendar::local_date(now).year();
            let n = store::next_number(conn, "outgoing", &format!("{}/{year}", app.provider_id))
                .await?;
            let number = format!("{}-{year}-{n:06}", outgoing_prefix(&app.provider_id));
            sqlx::query("update results set outgoing_number = $2, issued_at = $3 where id = $1")
                .bind(r.id)
                .bind(&number)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            let result = reg.result(&r.result_id);
            // the step's own final status (a file status on the result's base) names it;
            // else the result's
            if let Some(res) = result
                && step_status.is_none_or(|s| s != res.final_status)
            {
                final_status = res.final_status;
                stage = None;
            }
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            extras.result = Some(ResultDocument {
                kind: r.kind.as_str().into(),
                title: result.map(|x| x.title.ru.clone()).unwrap_or_default(),
                number,
                pdf: b64.encode(&r.pdf),
                signature: b64.encode(&signature),
                signer_iin: r.signer_iin.unwrap_or_default(),
                signer_name: r.signer_name.unwrap_or_default(),
            });
        }
        if let (Some(n), Some(cat), Some(d)) =
            (app.queue_number, &app.queue_category, app.registration_date)
        {
            extras.queue = Some(QueuePlace {
                provider: app.provider_id.clone(),
                category: cat.clone(),
                number: n,
                registered: d,
            });
        }
        app.completed_at = Some(now);
        self.set_status(
            conn,
            app,
            reg,
            final_status,
            stage.as_deref(),
            Some(&step.id),
            now,
            extras,
        )
        .await?;
        Ok(())
    }
}

/// The prefix of a provider's outgoing numbers: its id's first letters, upper case.
fn outgoing_prefix(provider: &str) -> String {
    provider
        .split('-')
        .filter_map(|w| w.chars().next())
        .collect::<String>()
        .to_uppercase()
}

#[cfg(test)]
mod tests {

    #[test]
    fn amounts_are_whole_numbers_however_json_writes_them() {
        let amount = |json: &str| {
            serde_json::from_str::<Completion>(json)
                .map(|c| c.amount)
                .map_err(|e| e.to_string())
        };
        assert_eq!(amount(r#"{"amount": 18500}"#), Ok(Some(18500)));
        assert_eq!(amount(r#"{"amount": 18500.0}"#), Ok(Some(18500)));
        assert_eq!(amount(r#"{"amount": -1.0}"#), Ok(Some(-1)));
        assert_eq!(amount(r#"{"amount": null}"#), Ok(None));
        assert_eq!(amount("{}"), Ok(None));
        assert!(amount(r#"{"amount": 18500.5}"#).is_err());
        assert!(amount(r#"{"amount": 1e300}"#).is_err());
        assert!(amount(r#"{"amount": "18500"}"#).is_err());
    }
    use super::*;

    #[test]
    fn money_and_prefixes() {
        assert_eq!(money(1234567), "1\u{a0}234\u{a0}567");
        assert_eq!(money(12), "12");
        assert_eq!(outgoing_prefix("almaty-housing"), "AH");
    }
}
