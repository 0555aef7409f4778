//! The АРМ's small server-rendered web UI: login, the worklist of the employee's role,
//! a task with its documents and the form that completes it, channel B (look the
//! citizen up in ГБД ФЛ, mark the paper documents, attach scans, sign and register), the
//! commission's meetings, agenda and protocol, and the waiting list. Plain HTML forms:
//! no script is needed.
//!
//! Every page is an askama template under `services/mio-is/templates/arm/` extending
//! `layout.html`; askama escapes every value by default and checks the templates when
//! the crate compiles. No value that holds user or database data is marked safe. The
//! pages speak Russian or Kazakh (`i18n.rs`), chosen with the language switch.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use egov_regulation::Regulation;
use uuid::Uuid;

use super::i18n::{self, Lang, Speak as _, Words};
use super::views;
use super::{ApiError, Arm, Lookup, NewApplication};
use crate::commission::MeetingStatus;
use crate::employees::{self, Employee};
use crate::engine::Completion;
use crate::queue::QueueStatus;
use crate::store::{self, Channel, RunKind, RunStatus};
use egov_pages::when;

type S = State<Arc<Arm>>;
type Pairs = axum::Form<Vec<(String, String)>>;

/// The language of a request, the page to come back to after switching it, and the
/// session's CSRF token for the page's forms.
struct Ui {
    lang: Lang,
    here: String,
    csrf: String,
}

impl<St: Send + Sync> FromRequestParts<St> for Ui {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_cookie(&parts.headers, i18n::COOKIE);
        Ok(Ui {
            lang,
            here: page_of(parts.uri.path()),
            csrf: super::cookie_token(&parts.headers)
                .map(|t| csrf_token(&t))
                .unwrap_or_default(),
        })
    }
}

/// The page (a GET route) a request's path shows again: the forms that only post go
/// back to the page they were sent from.
fn page_of(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "applications"] => "/applications/new".into(),
        ["", "logout"] => "/login".into(),
        [
            "",
            "commission",
            "meetings",
            id,
            "agenda" | "decisions" | "close",
        ] => {
            format!("/commission/meetings/{id}")
        }
        _ => path.to_string(),
    }
}

/// Who is signed in, as the header shows them.
struct Who {
    name: String,
    position: String,
    provider: String,
    provider_id: String,
}

/// The navigation's entries.
#[derive(Default)]
struct Nav {
    new_application: bool,
    commission: bool,
    queue: bool,
}

/// What `layout.html` shows around every page.
struct Page {
    lang: &'static str,
    t: &'static Words,
    title: String,
    who: Option<Who>,
    nav: Nav,
    here: String,
    /// The session's CSRF token, a hidden field of every form.
    csrf: String,
}

/// The CSRF token of a session: SHA-256 of a label and the session's secret token. Only
/// who holds the session cookie (the АРМ's own pages) knows it; it lives as long as the
/// session.
pub fn csrf_token(session: &str) -> String {
    egov_accounts::web::csrf_token("arm-csrf", session)
}

/// The name of the forms' hidden field with the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// Largest form body the UI takes (a channel B form with its scans).
const MAX_FORM_BYTES: usize = 32 << 20;

/// Every POST of the UI: refused (403, a page in the UI's language) when its `Origin`
/// (or, without one, its `Referer`) is not the АРМ's own, and, but for the login form,
/// when its CSRF field is not the session's token. Requests with neither header (not a
/// browser's) still need the token.
pub async fn guard(
    State(arm): S,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() != axum::http::Method::POST || req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let ui = match Ui::from_request_parts(&mut parts, &()).await {
        Ok(ui) => ui,
        Err(never) => match never {},
    };
    if !arm.same_origin(&parts.headers) {
        return error_page(&arm, None, &ui, &ApiError::ForeignOrigin);
    }
    let session = super::cookie_token(&parts.headers);
    if parts.uri.path() == "/login" || session.is_none() {
        // the login has no session yet; without one the page sends to the login
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error_page(
                &arm,
                None,
                &ui,
                &ApiError::BadRequest("the form is too large".into()),
            );
        }
    };
    let sent = form_field(&parts, &bytes, CSRF_FIELD).await;
    let expected = session.map(|t| csrf_token(&t)).unwrap_or_default();
    if !egov_accounts::web::csrf_matches(sent.as_deref(), &expected) {
        return error_page(&arm, None, &ui, &ApiError::CsrfToken);
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// A field of a form body, URL-encoded or multipart.
async fn form_field(parts: &Parts, bytes: &axum::body::Bytes, name: &str) -> Option<String> {
    let kind = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut req = axum::extract::Request::new(axum::body::Body::from(bytes.clone()));
    *req.headers_mut() = parts.headers.clone();
    *req.method_mut() = axum::http::Method::POST;
    if kind.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &()).await.ok()?;
        while let Ok(Some(f)) = mp.next_field().await {
            if f.name() == Some(name) {
                return f.text().await.ok();
            }
        }
        None
    } else {
        let axum::Form(pairs): Pairs = axum::Form::from_request(req, &()).await.ok()?;
        pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

fn regs_of<'a>(arm: &'a Arm, provider: &str) -> Vec<&'a Arc<Regulation>> {
    arm.engine.catalog.of_provider(provider)
}

fn page(arm: &Arm, who: Option<&Employee>, ui: &Ui, title: impl Into<String>) -> Page {
    let l = ui.lang.code();
    let (who, nav) = match who {
        Some(w) => {
            let regs = regs_of(arm, &w.provider_id);
            let provider = regs
                .iter()
                .find_map(|r| r.provider(&w.provider_id))
                .map(|p| p.name.get(l).to_string())
                .unwrap_or_else(|| w.provider_id.clone());
            let position = regs
                .iter()
                .find_map(|r| r.role(&w.role))
                .map(|r| r.name.get(l).to_string())
                .unwrap_or_else(|| w.position.clone());
            let m = views::menu(&arm.engine.catalog, w);
            (
                Some(Who {
                    name: w.full_name(),
                    position,
                    provider,
                    provider_id: w.provider_id.clone(),
                }),
                Nav {
                    new_application: !m.channel_b.is_empty(),
                    commission: m.commission,
                    queue: m.queue,
                },
            )
        }
        None => (None, Nav::default()),
    };
    Page {
        lang: l,
        t: ui.lang.words(),
        title: title.into(),
        who,
        nav,
        here: ui.here.clone(),
        csrf: ui.csrf.clone(),
    }
}

fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %crate::mask::text(&e.to_string()), "АРМ page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "arm/error.html")]
struct ErrorPage {
    page: Page,
    code: String,
    text: &'static str,
}

/// An error on a page of the request's language: the error's status, its code and the
/// UI's text for it.
fn error_page(arm: &Arm, who: Option<&Employee>, ui: &Ui, e: &ApiError) -> Response {
    let page = page(arm, who, ui, ui.lang.words().error);
    render(
        e.status(),
        &ErrorPage {
            page,
            code: e.code().to_string(),
            text: i18n::error_text(e.code(), ui.lang),
        },
    )
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("not offered to this employee".into())
}

/// The signed-in employee of a page; without a live session the page sends to the
/// login form.
struct Session(Employee);

impl FromRequestParts<Arc<Arm>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, arm: &Arc<Arm>) -> Result<Self, Response> {
        arm.employee(&parts.headers)
            .await
            .map(Session)
            .map_err(|_| Redirect::to("/login").into_response())
    }
}

/// The UI's routes.
pub fn router() -> Router<Arc<Arm>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/worklist") }))
        .route("/lang/{lang}", get(switch_language))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/worklist", get(worklist))
        .route("/tasks/{id}", get(task).post(complete))
        .route("/applications/new", get(new_form).post(new_lookup))
        .route("/applications", post(new_submit))
        .route("/applications/{key}", get(application))
        .route("/applications/{key}/result.pdf", get(result_pdf))
        .route("/applications/{key}/journey", get(journey))
        .route("/applications/{key}/journey/{which}", get(journey_svg))
        .route("/commission", get(commission).post(schedule))
        .route("/commission/meetings/{id}", get(meeting))
        .route("/commission/meetings/{id}/agenda", post(agenda_add))
        .route("/commission/meetings/{id}/decisions", post(decide))
        .route("/commission/meetings/{id}/close", post(close))
        .route("/queue", get(queue))
}

#[derive(serde::Deserialize)]
struct Back {
    back: Option<String>,
}

/// The language switch: keeps the language in a cookie and goes back to the page (a
/// path of this site only).
async fn switch_language(
    State(arm): S,
    Path(lang): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let back = egov_accounts::web::local_path(q.back, "/worklist");
    let Some(lang) = Lang::parse(&lang) else {
        return Redirect::to(&back).into_response();
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, back),
            (
                header::SET_COOKIE,
                format!(
                    "{}={}; Path=/; SameSite=Lax; Max-Age=31536000{}",
                    i18n::COOKIE,
                    lang.code(),
                    arm.cookie_flags()
                ),
            ),
        ],
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "arm/login.html")]
struct LoginPage {
    page: Page,
    error: Option<String>,
}

fn login_page(arm: &Arm, ui: &Ui, status: StatusCode, error: Option<String>) -> Response {
    let page = page(arm, None, ui, ui.lang.words().login_title);
    render(status, &LoginPage { page, error })
}

async fn login_form(State(arm): S, ui: Ui) -> Response {
    login_page(&arm, &ui, StatusCode::OK, None)
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

async fn login(State(arm): S, ui: Ui, axum::Form(f): Pairs) -> Response {
    let iin = field(&f, "iin").unwrap_or("").trim().to_string();
    let password = field(&f, "password").unwrap_or("");
    let t = ui.lang.words();
    match employees::login(
        &arm.engine.pool,
        &iin,
        password,
        arm.engine.clock.now(),
        arm.session_lifetime,
    )
    .await
    {
        Ok(employees::Login::Ok(token, _)) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/worklist".to_string()),
                (
                    header::SET_COOKIE,
                    format!(
                        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                        super::COOKIE,
                        arm.session_lifetime.whole_seconds(),
                        arm.cookie_flags()
                    ),
                ),
            ],
        )
            .into_response(),
        Ok(employees::Login::Refused) => login_page(
            &arm,
            &ui,
            ApiError::InvalidCredentials.status(),
            Some(t.login_refused.to_string()),
        ),
        Ok(employees::Login::Throttled { until }) => {
            let local = until.to_offset(egov_calendar::LOCAL_OFFSET);
            let time = format!("{:02}:{:02}", local.hour(), local.minute());
            let retry_after = (until - arm.engine.clock.now()).whole_seconds().max(1);
            login_page(
                &arm,
                &ui,
                ApiError::TooManyAttempts { retry_after }.status(),
                Some(t.login_throttled.replace("{time}", &time)),
            )
        }
        Err(e) => error_page(&arm, None, &ui, &e.into()),
    }
}

async fn logout(State(arm): S, headers: HeaderMap) -> Response {
    if let Some(t) = super::cookie_token(&headers) {
        let _ = employees::logout(&arm.engine.pool, &t).await;
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
                    super::COOKIE,
                    arm.cookie_flags()
                ),
            ),
        ],
    )
        .into_response()
}

struct TaskRow {
    id: i64,
    number: String,
    applicant: String,
    action: String,
    started: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "arm/worklist.html")]
struct WorklistPage {
    page: Page,
    tasks: Vec<TaskRow>,
}

async fn worklist(State(arm): S, ui: Ui, Session(w): Session) -> Response {
    let tasks = match views::worklist(&arm.engine, &w, ui.lang.code()).await {
        Ok(t) => t,
        Err(e) => return error_page(&arm, Some(&w), &ui, &e.into()),
    };
    let tasks = tasks
        .into_iter()
        .map(|t| TaskRow {
            id: t.id,
            number: t.number,
            applicant: t.applicant_name,
            action: t.action,
            started: when(Some(t.started_at)),
            due: when(t.due_at),
            overdue: t.overdue,
        })
        .collect();
    let page = page(&arm, Some(&w), &ui, ui.lang.words().worklist);
    render(StatusCode::OK, &WorklistPage { page, tasks })
}

/// An id and its name in the page's language.
struct Choice {
    id: String,
    name: String,
}

struct AttachmentRow {
    id: Uuid,
    kind: String,
    paper: bool,
    scan: Option<String>,
}

struct StepRow {
    step_id: String,
    started: String,
    due: String,
    completed: String,
    by: String,
    outcome: String,
    note: String,
    overdue: bool,
}

struct ResultRow {
    result_id: String,
    signer: Option<String>,
}

/// An application as `application_block.html` shows it.
struct AppBlock {
    id: Uuid,
    number: String,
    service: String,
    applicant: String,
    iin: String,
    category: String,
    channel: Channel,
    channel_name: String,
    status: String,
    registered: String,
    due: String,
    overdue: bool,
    queue_number: Option<i64>,
    attachments: Vec<AttachmentRow>,
    steps: Vec<StepRow>,
    result: Option<ResultRow>,
}

fn app_block(arm: &Arm, v: views::ApplicationView, lang: Lang) -> AppBlock {
    let l = lang.code();
    let a = v.application;
    let reg = arm.engine.catalog.get(&a.regulation_id).cloned();
    let reg = reg.as_deref();
    let category = reg
        .and_then(|r| r.category(&a.category))
        .map(|c| c.name.get(l).to_string())
        .unwrap_or_else(|| a.category.clone());
    let channel_name = reg
        .and_then(|r| r.channel(a.channel.as_str()))
        .map(|c| c.name.get(l).to_string())
        .unwrap_or_else(|| a.channel.to_string());
    let attachments = v
        .attachments
        .into_iter()
        .map(|d| AttachmentRow {
            id: d.id,
            kind: reg
                .and_then(|r| r.documents.iter().find(|x| x.id == d.kind))
                .map(|x| x.name.get(l).to_string())
                .unwrap_or(d.kind),
            paper: d.paper,
            scan: d.scanned.then_some(d.name),
        })
        .collect();
    let steps = v
        .steps
        .into_iter()
        .map(|r| {
            let outcome = r
                .outcome
                .as_deref()
                .map(|o| {
                    reg.and_then(|g| g.step(&r.step_id))
                        .and_then(|s| s.outcome(o))
                        .and_then(|x| x.name.as_ref())
                        .map(|n| n.get(l).to_string())
                        .unwrap_or_else(|| o.to_string())
                })
                .unwrap_or_default();
            StepRow {
                started: when(Some(r.started_at)),
                due: when(r.due_at),
                completed: when(r.completed_at),
                by: r.completed_by.unwrap_or_default(),
                outcome,
                note: r.note.unwrap_or_default(),
                overdue: r.overdue,
                step_id: r.step_id,
            }
        })
        .collect();
    AppBlock {
        id: a.id,
        number: a.number,
        service: v.regulation_title,
        applicant: a.applicant_name,
        iin: a.applicant_iin,
        category,
        channel: a.channel,
        channel_name,
        status: v.status_label,
        registered: when(Some(a.registered_at)),
        due: when(Some(a.due_at)),
        overdue: a.overdue,
        queue_number: a.queue_number,
        attachments,
        steps,
        result: v.result.map(|r| ResultRow {
            result_id: r.result_id,
            signer: r.signer_name,
        }),
    }
}

struct DocumentRow {
    id: String,
    name: String,
    required: bool,
    present: bool,
}

struct CompleteForm {
    completion: String,
    outcomes: Vec<Choice>,
    candidates: Vec<Choice>,
    documents: Vec<DocumentRow>,
    grounds: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "arm/task.html")]
struct TaskPage {
    page: Page,
    id: i64,
    step_id: String,
    action: String,
    due: String,
    overdue: bool,
    form: Option<CompleteForm>,
    commission: bool,
    done_at: String,
    done_by: String,
    app: AppBlock,
}

async fn task(State(arm): S, ui: Ui, Session(w): Session, Path(id): Path<i64>) -> Response {
    let t = match views::task(&arm.engine, &w, id, ui.lang.code()).await {
        Ok(t) => t,
        Err(e) => return error_page(&arm, Some(&w), &ui, &e.into()),
    };
    // the commission's tasks are completed by its protocol, not by a form
    let completable = t.task.status == RunStatus::Open && t.kind != RunKind::Commission;
    let form = completable.then(|| CompleteForm {
        completion: t.completion.clone(),
        outcomes: t
            .outcomes
            .iter()
            .map(|o| Choice {
                id: o.id.clone(),
                name: o.name.clone(),
            })
            .collect(),
        candidates: t
            .candidates
            .iter()
            .map(|c| Choice {
                id: c.iin.clone(),
                name: c.full_name(),
            })
            .collect(),
        documents: if t.kind == RunKind::Check {
            t.documents
                .iter()
                .map(|d| DocumentRow {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    required: d.required,
                    present: d.present,
                })
                .collect()
        } else {
            vec![]
        },
        grounds: if t.outcomes.iter().any(|o| o.id == "refuse") {
            t.refusal_grounds
                .iter()
                .map(|g| Choice {
                    id: g.id.clone(),
                    name: g.name.clone(),
                })
                .collect()
        } else {
            vec![]
        },
    });
    let title = format!("{} {id}", ui.lang.words().task);
    let p = TaskPage {
        page: page(&arm, Some(&w), &ui, title),
        id,
        step_id: t.task.step_id.clone(),
        action: t.action.clone(),
        due: when(t.task.due_at),
        overdue: t.task.overdue,
        form,
        commission: t.kind == RunKind::Commission,
        done_at: when(t.task.completed_at),
        done_by: t.task.completed_by.clone().unwrap_or_default(),
        app: app_block(&arm, t.application, ui.lang),
    };
    render(StatusCode::OK, &p)
}

async fn complete(
    State(arm): S,
    ui: Ui,
    Session(w): Session,
    Path(id): Path<i64>,
    axum::Form(f): Pairs,
) -> Response {
    let amount = match field(&f, "amount").filter(|s| !s.trim().is_empty()) {
        Some(a) => match a.trim().parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                return error_page(
                    &arm,
                    Some(&w),
                    &ui,
                    &ApiError::Invalid("the amount is a whole number of tenge".into()),
                );
            }
        },
        None => None,
    };
    let c = Completion {
        outcome: field(&f, "outcome").map(String::from),
        assignee: field(&f, "assignee").map(String::from),
        missing_documents: all(&f, "missing_documents"),
        grounds: all(&f, "grounds"),
        note: field(&f, "note")
            .filter(|s| !s.trim().is_empty())
            .map(String::from),
        amount,
        signed: None,
    };
    match arm.engine.complete(id, &w, c).await {
        Ok(_) => Redirect::to(&format!("/tasks/{id}")).into_response(),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

#[derive(Template)]
#[template(path = "arm/application.html")]
struct ApplicationPage {
    page: Page,
    app: AppBlock,
}

async fn application(
    State(arm): S,
    ui: Ui,
    Session(w): Session,
    Path(key): Path<String>,
) -> Response {
    match store::application(&arm.engine.pool, &key).await {
        Ok(Some(a)) if a.provider_id == w.provider_id => {
            match views::application(&arm.engine, a, ui.lang.code()).await {
                Ok(v) => {
                    let title = format!("{} {}", ui.lang.words().application, v.application.number);
                    let p = ApplicationPage {
                        page: page(&arm, Some(&w), &ui, title),
                        app: app_block(&arm, v, ui.lang),
                    };
                    render(StatusCode::OK, &p)
                }
                Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
            }
        }
        Ok(_) => error_page(
            &arm,
            Some(&w),
            &ui,
            &ApiError::NotFound(format!("no application {key}")),
        ),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

/// One step of the journey page.
struct JourneyStep {
    step: String,
    started: String,
    completed: String,
    due: String,
    outcome: String,
    late: bool,
}

/// One hop of the journey page.
struct JourneyHop {
    gateway: String,
    service: String,
    sender: String,
    recipient: String,
    first: String,
    last: String,
    status: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "arm/journey.html")]
struct JourneyPage {
    page: Page,
    id: String,
    number: String,
    regulation: String,
    channel: String,
    journal: bool,
    steps: Vec<JourneyStep>,
    hops: Vec<JourneyHop>,
}

/// The application of `key` (the employee's provider's), its journey and its regulation;
/// or the error page.
async fn journey_of(
    arm: &Arm,
    w: &Employee,
    ui: &Ui,
    key: &str,
) -> Result<
    (
        store::Application,
        egov_diagram::journey::Journey,
        Arc<Regulation>,
    ),
    Response,
> {
    let not_found = || {
        error_page(
            arm,
            Some(w),
            ui,
            &ApiError::NotFound(format!("no application {key}")),
        )
    };
    let app = match store::application(&arm.engine.pool, key).await {
        Ok(Some(a)) if a.provider_id == w.provider_id => a,
        Ok(_) => return Err(not_found()),
        Err(e) => return Err(error_page(arm, Some(w), ui, &e.into())),
    };
    let loaded = match &arm.journal {
        Some(j) => crate::journey::load(&arm.engine.pool, j, &app.number).await,
        None => crate::journey::steps_only(&arm.engine.pool, &app.number).await,
    };
    let (j, regulation) = match loaded {
        Ok(Some(x)) => x,
        Ok(None) => return Err(not_found()),
        Err(e) => {
            tracing::warn!(error = %crate::mask::text(&e.to_string()), "journey");
            return Err(error_page(
                arm,
                Some(w),
                ui,
                &ApiError::GatewayUnavailable("the message log does not answer".into()),
            ));
        }
    };
    let Some(reg) = arm.engine.catalog.get(&regulation).cloned() else {
        return Err(error_page(
            arm,
            Some(w),
            ui,
            &ApiError::NotFound(format!("no regulation {regulation}")),
        ));
    };
    Ok((app, j, reg))
}

/// The application's journey: the regulation's diagram of its channel beside what
/// happened (both drawn as SVG images, `journey/expected.svg` and `journey/actual.svg`),
/// each step with its times and each hop of its messages through the gateways (from the
/// РШЭП's message log, when the АРМ reads it).
async fn journey(State(arm): S, ui: Ui, Session(w): Session, Path(key): Path<String>) -> Response {
    let (app, j, reg) = match journey_of(&arm, &w, &ui, &key).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let lang = ui.lang.code();
    let t = |x: time::OffsetDateTime| x.to_string();
    let p = JourneyPage {
        page: page(
            &arm,
            Some(&w),
            &ui,
            format!("{} {}", ui.lang.words().journey, app.number),
        ),
        id: app.id.to_string(),
        number: app.number.clone(),
        regulation: reg.title.get(lang).to_string(),
        channel: j.channel.clone(),
        journal: arm.journal.is_some(),
        steps: j
            .steps
            .iter()
            .map(|s| JourneyStep {
                step: s.step.clone(),
                started: t(s.started),
                completed: s.completed.map(t).unwrap_or_default(),
                due: s.due.map(t).unwrap_or_default(),
                outcome: s.outcome.clone().unwrap_or_default(),
                late: s.overdue,
            })
            .collect(),
        hops: j
            .hops
            .iter()
            .map(|h| JourneyHop {
                gateway: h.gateway.clone(),
                service: h.service.clone(),
                sender: h.sender.clone(),
                recipient: h.recipient.clone().unwrap_or_else(|| "-".into()),
                first: t(h.first_at),
                last: t(h.last_at),
                status: h.status.clone(),
                failed: h.failed,
            })
            .collect(),
    };
    render(StatusCode::OK, &p)
}

/// One of the journey's two diagrams as SVG: `expected` (the regulation's channel) or
/// `actual` (what happened).
async fn journey_svg(
    State(arm): S,
    ui: Ui,
    Session(w): Session,
    Path((key, which)): Path<(String, String)>,
) -> Response {
    let (_, j, reg) = match journey_of(&arm, &w, &ui, &key).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let lang = ui.lang.code();
    let svg = match which.as_str() {
        "expected.svg" => {
            match egov_diagram::draw(&reg, &j.channel, lang, egov_diagram::Format::Svg) {
                Ok(s) => s,
                Err(e) => {
                    return error_page(&arm, Some(&w), &ui, &ApiError::Invalid(e.to_string()));
                }
            }
        }
        "actual.svg" => egov_diagram::render(
            &egov_diagram::journey::graph(&j, &reg, lang),
            &reg.id,
            egov_diagram::Format::Svg,
        ),
        other => {
            return error_page(
                &arm,
                Some(&w),
                &ui,
                &ApiError::NotFound(format!("no diagram {other}")),
            );
        }
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}

async fn result_pdf(
    State(arm): S,
    ui: Ui,
    Session(w): Session,
    Path(key): Path<String>,
) -> Response {
    let row: Result<Option<Vec<u8>>, sqlx::Error> = sqlx::query_scalar(
        "select r.pdf from results r join applications a on a.id = r.application_id
         where (a.id::text = $1 or a.number = $1) and a.provider_id = $2 order by r.drafted_at desc limit 1",
    )
    .bind(&key)
    .bind(&w.provider_id)
    .fetch_optional(&arm.engine.pool)
    .await;
    match row {
        Ok(Some(pdf)) => ([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response(),
        Ok(None) => error_page(
            &arm,
            Some(&w),
            &ui,
            &ApiError::NotFound("no result document".into()),
        ),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

/// The regulation of a channel B page: one of those the menu offers the employee (the
/// one named, or the latest in force of them); without one, why not.
#[derive(Template)]
#[template(path = "arm/new.html")]
struct NewPage {
    page: Page,
    regulations: Vec<Choice>,
}

async fn new_form(State(arm): S, ui: Ui, Session(w): Session) -> Response {
    let menu = views::menu(&arm.engine.catalog, &w);
    if let Err(e) = arm.channel_b_regulation(&w, None) {
        return error_page(&arm, Some(&w), &ui, &e);
    }
    let regulations = menu
        .channel_b
        .iter()
        .map(|r| Choice {
            id: r.id.clone(),
            name: r.service_name.get(ui.lang.code()).to_string(),
        })
        .collect();
    let p = NewPage {
        page: page(&arm, Some(&w), &ui, ui.lang.words().new_application),
        regulations,
    };
    render(StatusCode::OK, &p)
}

struct FieldRow {
    id: String,
    name: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "arm/new_person.html")]
struct PersonPage {
    page: Page,
    person: String,
    iin: String,
    address: String,
    regulation: String,
    categories: Vec<Choice>,
    fields: Vec<FieldRow>,
    documents: Vec<FieldRow>,
}

async fn new_lookup(State(arm): S, ui: Ui, Session(w): Session, axum::Form(f): Pairs) -> Response {
    let reg = match arm.channel_b_regulation(&w, field(&f, "regulation")) {
        Ok(r) => r,
        Err(e) => return error_page(&arm, Some(&w), &ui, &e),
    };
    let iin = field(&f, "iin").unwrap_or("").trim().to_string();
    let person = match arm.lookup(&w, &iin, &reg.service).await {
        Ok(Lookup::Found(p)) => p,
        Ok(Lookup::Refused(e)) => {
            // the page shows every refusal of the look-up as not found, an invalid IIN
            // too (the API's look-up answers that one with 422)
            return error_page(
                &arm,
                Some(&w),
                &ui,
                &ApiError::PersonNotFound {
                    code: e.code,
                    message: e.message,
                },
            );
        }
        Err(e) => return error_page(&arm, Some(&w), &ui, &e),
    };
    let l = ui.lang.code();
    let address = person
        .address
        .as_ref()
        .map(|a| format!("{}, {}, {}, {}", a.region, a.locality, a.street, a.house))
        .unwrap_or_default();
    let p = PersonPage {
        page: page(&arm, Some(&w), &ui, ui.lang.words().new_application),
        person: person.full_name().unwrap_or_default(),
        iin: person.iin.clone(),
        address,
        regulation: reg.id.clone(),
        categories: reg
            .categories
            .iter()
            .map(|c| Choice {
                id: c.id.clone(),
                name: c.name.get(l).to_string(),
            })
            .collect(),
        fields: reg
            .fields
            .iter()
            .filter(|fl| {
                !(fl.id.starts_with("applicant.")
                    || fl.id == "category"
                    || fl.id.starts_with("representative.")
                    || fl.id.starts_with("poa."))
            })
            .map(|fl| FieldRow {
                id: fl.id.clone(),
                name: fl.name.get(l).to_string(),
                required: fl.required,
            })
            .collect(),
        documents: reg
            .documents
            .iter()
            .map(|d| FieldRow {
                id: d.id.clone(),
                name: d.name.get(l).to_string(),
                required: d.required,
            })
            .collect(),
    };
    render(StatusCode::OK, &p)
}

#[derive(Template)]
#[template(path = "arm/sent.html")]
struct SentPage {
    page: Page,
    message: String,
}

async fn new_submit(State(arm): S, ui: Ui, Session(w): Session, mut mp: Multipart) -> Response {
    let mut n = NewApplication::default();
    let mut papers: Vec<String> = Vec::new();
    let mut scans: Vec<(String, String, String, Vec<u8>)> = Vec::new();
    loop {
        let part = match mp.next_field().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                return error_page(&arm, Some(&w), &ui, &ApiError::BadRequest(e.to_string()));
            }
        };
        let name = part.name().unwrap_or("").to_string();
        let file_name = part.file_name().map(String::from);
        let media = part
            .content_type()
            .map(String::from)
            .unwrap_or_else(|| "application/octet-stream".into());
        let bytes = match part.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                return error_page(&arm, Some(&w), &ui, &ApiError::BadRequest(e.to_string()));
            }
        };
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "regulation" => n.regulation = Some(text),
            "iin" => n.iin = text,
            "category" => n.category = text,
            "phone" => n.phone = Some(text).filter(|s| !s.is_empty()),
            "email" => n.email = Some(text).filter(|s| !s.is_empty()),
            "address" => n.address = Some(text).filter(|s| !s.is_empty()),
            other => {
                if let Some(k) = other.strip_prefix("form.") {
                    if !text.is_empty() {
                        let v = text
                            .parse::<i64>()
                            .map(serde_json::Value::from)
                            .unwrap_or(serde_json::Value::String(text));
                        n.form.insert(k.to_string(), v);
                    }
                } else if let Some(k) = other.strip_prefix("paper.") {
                    papers.push(k.to_string());
                } else if let Some(k) = other.strip_prefix("scan.")
                    && !bytes.is_empty()
                {
                    scans.push((
                        k.to_string(),
                        file_name.unwrap_or_else(|| format!("{k}.bin")),
                        media,
                        bytes,
                    ));
                }
            }
        }
    }
    match arm.channel_b_regulation(&w, n.regulation.as_deref()) {
        Ok(reg) => n.regulation = Some(reg.id.clone()),
        Err(e) => return error_page(&arm, Some(&w), &ui, &e),
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut kinds: Vec<String> = papers.clone();
    for (k, ..) in &scans {
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    for k in kinds {
        let scan = scans.iter().find(|s| s.0 == k);
        n.documents.push(egov_contracts::mio::Attachment {
            kind: k.clone(),
            name: scan.map(|s| s.1.clone()).unwrap_or_default(),
            media_type: scan.map(|s| s.2.clone()).unwrap_or_default(),
            content: scan.map(|s| b64.encode(&s.3)),
            paper: papers.contains(&k),
        });
    }
    match arm.submit(&w, n, Duration::from_secs(15)).await {
        Ok(s) => match (s.application, s.rejection) {
            (Some(a), _) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
            (None, Some(r)) => error_page(
                &arm,
                Some(&w),
                &ui,
                &ApiError::Refused {
                    code: r.code,
                    message: r.message,
                },
            ),
            (None, None) => {
                let t = ui.lang.words();
                let p = SentPage {
                    page: page(&arm, Some(&w), &ui, t.sent_title),
                    message: t.sent.replace("{id}", &s.message_id),
                };
                render(StatusCode::OK, &p)
            }
        },
        Err(e) => error_page(&arm, Some(&w), &ui, &e),
    }
}

fn meeting_status(status: MeetingStatus, t: &Words) -> String {
    match status {
        MeetingStatus::Open => t.meeting_open,
        MeetingStatus::Closed => t.meeting_closed,
    }
    .into()
}

fn category_name(arm: &Arm, provider: &str, id: &str, lang: Lang) -> String {
    regs_of(arm, provider)
        .iter()
        .find_map(|r| r.category(id))
        .map(|c| c.name.get(lang.code()).to_string())
        .unwrap_or_else(|| id.to_string())
}

struct MeetingRow {
    id: Uuid,
    number: i64,
    date: String,
    status: String,
    protocol: String,
}

struct WaitingRow {
    number: String,
    applicant: String,
    category: String,
}

#[derive(Template)]
#[template(path = "arm/commission.html")]
struct CommissionPage {
    page: Page,
    meetings: Vec<MeetingRow>,
    today: String,
    waiting: Vec<WaitingRow>,
}

async fn commission(State(arm): S, ui: Ui, Session(w): Session) -> Response {
    if !views::menu(&arm.engine.catalog, &w).commission {
        return error_page(&arm, Some(&w), &ui, &forbidden());
    }
    let pool = &arm.engine.pool;
    let (meetings, waiting) = match (
        crate::commission::meetings(pool, &w.provider_id).await,
        crate::commission::waiting(pool, &w.provider_id).await,
    ) {
        (Ok(m), Ok(x)) => (m, x),
        (Err(e), _) | (_, Err(e)) => return error_page(&arm, Some(&w), &ui, &e.into()),
    };
    let t = ui.lang.words();
    let p = CommissionPage {
        page: page(&arm, Some(&w), &ui, t.commission),
        meetings: meetings
            .into_iter()
            .map(|m| MeetingRow {
                id: m.id,
                number: m.number,
                date: m.meeting_date.to_string(),
                status: meeting_status(m.status, t),
                protocol: m.protocol_number.unwrap_or_default(),
            })
            .collect(),
        today: arm.engine.clock.today().to_string(),
        waiting: waiting
            .into_iter()
            .map(|a| WaitingRow {
                category: category_name(&arm, &w.provider_id, &a.category, ui.lang),
                number: a.number,
                applicant: a.applicant_name,
            })
            .collect(),
    };
    render(StatusCode::OK, &p)
}

async fn schedule(State(arm): S, ui: Ui, Session(w): Session, axum::Form(f): Pairs) -> Response {
    let date = match field(&f, "date").map(egov_contracts::date::parse) {
        Some(Ok(d)) => d,
        _ => {
            return error_page(
                &arm,
                Some(&w),
                &ui,
                &ApiError::Invalid("the date is YYYY-MM-DD".into()),
            );
        }
    };
    match arm.engine.schedule_meeting(&w, date).await {
        Ok(m) => Redirect::to(&format!("/commission/meetings/{}", m.id)).into_response(),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

struct AgendaRow {
    position: i32,
    number: String,
    applicant: String,
    decision: String,
}

#[derive(Template)]
#[template(path = "arm/meeting.html")]
struct MeetingPage {
    page: Page,
    id: Uuid,
    heading: String,
    status: String,
    protocol: Option<String>,
    open: bool,
    agenda: Vec<AgendaRow>,
    decisions: Vec<Choice>,
    grounds: Vec<Choice>,
    waiting: Vec<Choice>,
}

async fn meeting(State(arm): S, ui: Ui, Session(w): Session, Path(id): Path<Uuid>) -> Response {
    if !views::menu(&arm.engine.catalog, &w).commission {
        return error_page(&arm, Some(&w), &ui, &forbidden());
    }
    let pool = &arm.engine.pool;
    let m = match crate::commission::meeting(pool, id).await {
        Ok(Some(m)) if m.provider_id == w.provider_id => m,
        Ok(_) => {
            return error_page(
                &arm,
                Some(&w),
                &ui,
                &ApiError::NotFound("no such meeting".into()),
            );
        }
        Err(e) => return error_page(&arm, Some(&w), &ui, &e.into()),
    };
    let agenda = crate::commission::agenda(pool, id)
        .await
        .unwrap_or_default();
    let waiting = crate::commission::waiting(pool, &w.provider_id)
        .await
        .unwrap_or_default();
    let l = ui.lang.code();
    let regs = regs_of(&arm, &w.provider_id);
    // the decisions: the outcomes of the commission steps, named in the page's language
    let mut decisions: Vec<Choice> = Vec::new();
    for s in regs
        .iter()
        .flat_map(|r| &r.steps)
        .filter(|s| s.kind == egov_regulation::StepKind::Commission)
    {
        for o in &s.outcomes {
            if !decisions.iter().any(|d| d.id == o.id) {
                decisions.push(Choice {
                    id: o.id.clone(),
                    name: o
                        .name
                        .as_ref()
                        .map(|n| n.get(l).to_string())
                        .unwrap_or_else(|| o.id.clone()),
                });
            }
        }
    }
    let mut grounds: Vec<Choice> = Vec::new();
    for g in regs.iter().flat_map(|r| &r.refusal_grounds) {
        if !grounds.iter().any(|x| x.id == g.id) {
            grounds.push(Choice {
                id: g.id.clone(),
                name: g.name.get(l).to_string(),
            });
        }
    }
    let t = ui.lang.words();
    let p = MeetingPage {
        page: page(&arm, Some(&w), &ui, t.meeting_title),
        id,
        heading: t
            .meeting
            .replace("{number}", &m.number.to_string())
            .replace("{date}", &m.meeting_date.to_string()),
        status: meeting_status(m.status, t),
        protocol: m.protocol_number.clone(),
        open: m.status == MeetingStatus::Open,
        agenda: agenda
            .into_iter()
            .map(|i| AgendaRow {
                position: i.position,
                number: i.number,
                applicant: i.applicant_name,
                decision: i
                    .decision
                    .map(|d| {
                        decisions
                            .iter()
                            .find(|x| x.id == d)
                            .map(|x| x.name.clone())
                            .unwrap_or(d)
                    })
                    .unwrap_or_else(|| "—".into()),
            })
            .collect(),
        decisions,
        grounds,
        waiting: waiting
            .into_iter()
            .map(|a| Choice {
                id: a.number,
                name: a.applicant_name,
            })
            .collect(),
    };
    render(StatusCode::OK, &p)
}

async fn agenda_add(
    State(arm): S,
    ui: Ui,
    Session(w): Session,
    Path(id): Path<Uuid>,
    axum::Form(f): Pairs,
) -> Response {
    match arm
        .engine
        .add_to_agenda(&w, id, field(&f, "application").unwrap_or(""))
        .await
    {
        Ok(_) => Redirect::to(&format!("/commission/meetings/{id}")).into_response(),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

async fn decide(
    State(arm): S,
    ui: Ui,
    Session(w): Session,
    Path(id): Path<Uuid>,
    axum::Form(f): Pairs,
) -> Response {
    let amount = field(&f, "amount").and_then(|a| a.trim().parse::<i64>().ok());
    match arm
        .engine
        .decide(
            &w,
            id,
            field(&f, "application").unwrap_or(""),
            field(&f, "decision").unwrap_or(""),
            &all(&f, "grounds"),
            amount,
            field(&f, "note"),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/commission/meetings/{id}")).into_response(),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

async fn close(State(arm): S, ui: Ui, Session(w): Session, Path(id): Path<Uuid>) -> Response {
    match arm.engine.close_protocol(&w, id).await {
        Ok(_) => Redirect::to(&format!("/commission/meetings/{id}")).into_response(),
        Err(e) => error_page(&arm, Some(&w), &ui, &e.into()),
    }
}

struct QueueRow {
    category: String,
    number: i64,
    application: String,
    applicant: String,
    registered_on: String,
    status: String,
}

#[derive(Template)]
#[template(path = "arm/queue.html")]
struct QueuePage {
    page: Page,
    entries: Vec<QueueRow>,
}

async fn queue(State(arm): S, ui: Ui, Session(w): Session) -> Response {
    if !views::menu(&arm.engine.catalog, &w).queue {
        return error_page(&arm, Some(&w), &ui, &forbidden());
    }
    let entries = match views::queue(&arm.engine.pool, &w.provider_id, None).await {
        Ok(e) => e,
        Err(e) => return error_page(&arm, Some(&w), &ui, &e.into()),
    };
    let t = ui.lang.words();
    let p = QueuePage {
        page: page(&arm, Some(&w), &ui, t.queue),
        entries: entries
            .into_iter()
            .map(|e| QueueRow {
                category: category_name(&arm, &w.provider_id, &e.category, ui.lang),
                number: e.number,
                application: e.application_number,
                applicant: e.applicant_name,
                registered_on: e.registered_on.to_string(),
                status: match e.status {
                    QueueStatus::Waiting => t.queue_waiting,
                    QueueStatus::Housed => t.queue_housed,
                    QueueStatus::Removed => t.queue_removed,
                }
                .into(),
            })
            .collect(),
    };
    render(StatusCode::OK, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_forms_come_back_to_their_page() {
        assert_eq!(page_of("/applications"), "/applications/new");
        assert_eq!(page_of("/logout"), "/login");
        assert_eq!(
            page_of("/commission/meetings/abc/decisions"),
            "/commission/meetings/abc"
        );
        assert_eq!(page_of("/tasks/7"), "/tasks/7");
    }

    #[test]
    fn no_template_turns_escaping_off() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/arm");
        let mut seen = 0;
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for off in ["|safe", "| safe", "escape(", "escape=", "autoescape"] {
                assert!(!text.contains(off), "{}: {off}", path.display());
            }
            seen += 1;
        }
        assert!(seen >= 10, "{seen} templates in {}", dir.display());
    }
}
