//! АРМ ИС ЦОН's server-rendered pages under `/ui`, in Russian and Kazakh, that need no
//! script: the login (the same accounts and sessions as the API, the session in the
//! cookie `con_session`), the centre's applications, a new application (the service,
//! the citizen's IIN, a representative's power of attorney: ГБД ФЛ and ЕНИС asked through
//! the gateway), its documents (paper originals marked, scans uploaded) and its
//! submission signed by the workstation's keystore, the receipt, and the application's
//! page with its steps, ИС МИО's statuses and the result; the paper side over
//! [`crate::paper`] by role: the registers (formed by the accumulation sector, handed
//! over by the courier), the courier's return, the cover's barcode scanned and the
//! result issued with the survey by the issuing inspector. Plain HTML forms, each
//! answered by a redirect (POST-redirect-GET); an error is shown in the page in its
//! language.
//!
//! Every form carries the session's CSRF token (`csrf`), and a POST whose `Origin` (or
//! `Referer`) is another site's is refused, the login's included ([`egov_pages::Site`],
//! shared with the portal's pages). Pages are askama templates under
//! `services/con-is/templates/ui/`, escaping every value; none is marked safe.

pub mod i18n;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use egov_contracts::mio::Attachment;
use egov_pages::form::{Choice, Document as DocRow, Field as FieldRow};
use egov_pages::upload::{self, Posted};
use egov_pages::{Site, field, render, when};
use egov_regulation::Regulation;

use crate::Core;
use crate::api::ApiError;
use crate::centres::{self, Centre};
use crate::desk::{self, Application, NewDraft, RepresentativeInput, SubmitInput};
use crate::operators::{self, Operator};
use crate::{inbox, steps};
use i18n::{Lang, Words};

/// The session cookie of the pages.
pub const COOKIE: &str = "con_session";

/// The pages as a site: their cookies, CSRF tokens, login and home.
pub const SITE: Site = Site {
    name: "АРМ ИС ЦОН",
    lang_cookie: i18n::COOKIE,
    session_cookie: COOKIE,
    csrf_label: "con-csrf",
    prefix: "/ui",
    home: "/ui/applications",
    login: "/ui/login",
};
/// Largest form the pages take (an application with its scans).
const MAX_FORM_BYTES: usize = 32 << 20;

type S = State<Arc<Core>>;

/// The pages' routes, served at `public` ([`crate::Config::public_url`]).
pub fn router(public: egov_pages::PublicUrl) -> Router<Arc<Core>> {
    let routes = Router::new()
        .route("/ui", get(|| async { Redirect::to(SITE.home) }))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/applications", get(list).post(create))
        .route("/ui/applications/new", get(new_form))
        .route("/ui/applications/{number}", get(view))
        .route(
            "/ui/applications/{number}/submit",
            post(submit).layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES)),
        )
        .route("/ui/applications/{number}/receipt.pdf", get(receipt_pdf))
        .route("/ui/applications/{number}/result.pdf", get(result_pdf))
        .route("/ui/applications/{number}/cover.pdf", get(cover_pdf))
        .route("/ui/applications/{number}/return", post(return_result))
        .route("/ui/applications/{number}/issue", post(issue))
        .route("/ui/registers", get(registers).post(form_register))
        .route("/ui/registers/{number}/handover", post(hand_over))
        .route("/ui/registers/{number}/register.pdf", get(register_pdf))
        .route(
            "/ui/scan",
            get(scan_form)
                .post(scan)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES)),
        );
    SITE.mount(routes, public)
}

/// Who is signed in, as the header shows them.
pub struct Who {
    /// The role (`inspector`, `accumulation`, `courier`, `issuer`): what the
    /// navigation offers.
    pub role: &'static str,
    /// Full name.
    pub name: String,
    /// Position.
    pub position: String,
    /// Centre.
    pub centre: String,
}

/// What `layout.html` shows around every page.
pub type Page = egov_pages::Page<Words, Who>;

/// The operator of a page's session, their session's start and centre, and the
/// session's CSRF token.
pub struct Session {
    /// The operator.
    pub who: Operator,
    /// Their centre.
    pub centre: Centre,
    /// When the session began.
    pub since: time::OffsetDateTime,
    /// The CSRF token of the session.
    pub csrf: String,
}

/// The session of the request's cookie; none: the page sends to the login.
async fn session(core: &Core, headers: &HeaderMap) -> Result<Session, Response> {
    let to_login = || SITE.to_login();
    let token = SITE.token(headers).ok_or_else(to_login)?;
    let (who, since) = operators::session(&core.pool, &token, core.clock.now())
        .await
        .ok()
        .flatten()
        .ok_or_else(to_login)?;
    let centre = centres::get(&core.pool, &who.centre_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(to_login)?;
    Ok(Session {
        who,
        centre,
        since,
        csrf: SITE.csrf(&token),
    })
}

/// A POST of the pages: refused when posted from another site, or, with a session,
/// without the session's CSRF token.
fn guard(
    core: &Core,
    headers: &HeaderMap,
    s: Option<&Session>,
    sent: Option<&str>,
) -> Result<(), ApiError> {
    SITE.guard(headers, &core.public_url, s.map(|s| s.csrf.as_str()), sent)
}

fn page(lang: Lang, s: Option<&Session>, here: &str, title: &str) -> Page {
    let l = lang.code();
    let page = Page::new(lang, i18n::words(lang), here, title);
    match s {
        None => page,
        Some(s) => {
            let (ru, kk) = s.who.role.position();
            let who = Who {
                role: s.who.role.as_str(),
                name: s.who.full_name(),
                position: lang.pick(ru, kk).to_string(),
                centre: s.centre.name.get(l).to_string(),
            };
            page.of(who, &s.csrf)
        }
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    page: Page,
    code: String,
}

/// An error as a page in the request's language: its status, its code and its message.
fn error_page(lang: Lang, s: Option<&Session>, here: &str, e: &ApiError) -> Response {
    let mut page = page(lang, s, here, i18n::words(lang).error);
    page.error = Some(e.message(lang.code()).to_string());
    render(
        e.status,
        &ErrorPage {
            page,
            code: e.code.clone(),
        },
    )
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    page: Page,
    iin: String,
}

async fn login_form(lang: Lang) -> Response {
    let page = page(lang, None, "/ui/login", i18n::words(lang).login_title);
    render(
        StatusCode::OK,
        &LoginPage {
            page,
            iin: String::new(),
        },
    )
}

async fn login(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = guard(&core, &headers, None, None) {
        return error_page(lang, None, "/ui/login", &e);
    }
    let iin = field(&f, "iin").trim().to_string();
    let t = i18n::words(lang);
    let again = |status: StatusCode, error: String| {
        let mut page = page(lang, None, "/ui/login", t.login_title);
        page.error = Some(error);
        render(
            status,
            &LoginPage {
                page,
                iin: iin.clone(),
            },
        )
    };
    let Ok(valid) = egov_iin::Iin::parse(&iin) else {
        let e = ApiError::invalid_iin(&iin, "ИИН", "ЖСН");
        return again(e.status, e.message(lang.code()).to_string());
    };
    match operators::login(
        &core.pool,
        &valid.as_string(),
        field(&f, "password"),
        core.clock.now(),
        core.session_lifetime,
    )
    .await
    {
        Ok(operators::Login::Ok(token, _)) => {
            SITE.open_session(SITE.home, &token, core.session_lifetime, &core.public_url)
        }
        Ok(operators::Login::Refused) => {
            again(StatusCode::UNAUTHORIZED, t.login_refused.to_string())
        }
        Ok(operators::Login::Throttled { until }) => {
            let l = until.to_offset(egov_calendar::LOCAL_OFFSET);
            again(
                StatusCode::TOO_MANY_REQUESTS,
                t.login_throttled
                    .replace("{time}", &format!("{:02}:{:02}", l.hour(), l.minute())),
            )
        }
        Err(e) => error_page(lang, None, "/ui/login", &e.into()),
    }
}

async fn logout(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = guard(&core, &headers, Some(&s), Some(field(&f, "csrf"))) {
        return error_page(lang, Some(&s), "/ui/applications", &e);
    }
    if let Some(t) = SITE.token(&headers) {
        let _ = operators::logout(&core.pool, &t).await;
    }
    SITE.close_session(&core.public_url)
}

/// A row of the centre's applications.
struct Row {
    number: String,
    service: String,
    applicant: String,
    state: String,
    status: String,
    result: String,
    created: String,
}

#[derive(Template)]
#[template(path = "ui/applications.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
}

fn state_name(t: &Words, state: &str) -> String {
    match state {
        "draft" => t.state_draft,
        "refused" => t.state_refused,
        "sent" => t.state_sent,
        other => other,
    }
    .to_string()
}

fn result_state_name(t: &Words, r: crate::paper::ResultState) -> &'static str {
    use crate::paper::ResultState as R;
    match r {
        R::Pending => t.result_pending,
        R::InTransit => t.result_in_transit,
        R::Ready => t.result_ready,
        R::Issued => t.result_issued,
        R::Archived => t.result_archived,
    }
}

fn service_name(core: &Core, regulation: &str, lang: Lang) -> String {
    core.catalog
        .get(regulation)
        .map(|r| r.service_name.get(lang.code()).to_string())
        .unwrap_or_else(|| regulation.to_string())
}

fn applicant_name(app: &Application) -> String {
    let p = &app.applicant;
    [&p["surname"], &p["name"], &p["patronymic"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn list(State(core): S, lang: Lang, headers: HeaderMap) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (apps, results) = match tokio::try_join!(
        desk::of_centre(&core.pool, &s.centre.id),
        crate::paper::result_states(&core, &s.centre.id)
    ) {
        Ok(a) => a,
        Err(e) => return error_page(lang, Some(&s), "/ui/applications", &e.into()),
    };
    let t = i18n::words(lang);
    let rows = apps
        .iter()
        .map(|a| Row {
            number: a.number.clone(),
            service: service_name(&core, &a.regulation_id, lang),
            applicant: format!("{} ({})", applicant_name(a), a.applicant_iin),
            state: state_name(t, &a.state),
            status: match lang {
                Lang::Ru => a.status_ru.clone(),
                Lang::Kk => a.status_kk.clone(),
            }
            .unwrap_or_else(|| "—".into()),
            result: match (a.state.as_str(), results.get(&a.number)) {
                ("sent", Some(r)) => result_state_name(t, *r).to_string(),
                _ => "—".into(),
            },
            created: when(Some(a.created_at)),
        })
        .collect();
    let page = page(lang, Some(&s), "/ui/applications", t.applications);
    render(StatusCode::OK, &ListPage { page, rows })
}

#[derive(Template)]
#[template(path = "ui/new.html")]
struct NewPage {
    page: Page,
    services: Vec<Choice>,
    iin: String,
    representative_iin: String,
    poa_number: String,
}

fn new_page(
    core: &Core,
    lang: Lang,
    s: &Session,
    status: StatusCode,
    entered: &[(String, String)],
    error: Option<String>,
) -> Response {
    let chosen = field(entered, "regulation");
    let services = core
        .catalog
        .of_region(&s.centre.region)
        .into_iter()
        .map(|r| Choice {
            id: r.id.clone(),
            name: format!("{} — {}", r.service_name.get(lang.code()), r.id),
            selected: r.id == chosen,
        })
        .collect();
    let mut page = page(
        lang,
        Some(s),
        "/ui/applications/new",
        i18n::words(lang).new_application,
    );
    page.error = error;
    render(
        status,
        &NewPage {
            page,
            services,
            iin: field(entered, "iin").to_string(),
            representative_iin: field(entered, "representative_iin").to_string(),
            poa_number: field(entered, "poa_number").to_string(),
        },
    )
}

async fn new_form(State(core): S, lang: Lang, headers: HeaderMap) -> Response {
    match session(&core, &headers).await {
        Ok(s) => new_page(&core, lang, &s, StatusCode::OK, &[], None),
        Err(r) => r,
    }
}

/// The draft: ГБД ФЛ and ЕНИС asked; on success to the application's page, else the
/// form again with the error and what was entered.
async fn create(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = guard(&core, &headers, Some(&s), Some(field(&f, "csrf"))) {
        return error_page(lang, Some(&s), "/ui/applications/new", &e);
    }
    let rep_iin = field(&f, "representative_iin").trim();
    let poa = field(&f, "poa_number").trim();
    let n = NewDraft {
        regulation: field(&f, "regulation").to_string(),
        iin: field(&f, "iin").to_string(),
        provider: None,
        representative: (!rep_iin.is_empty() || !poa.is_empty()).then(|| RepresentativeInput {
            iin: rep_iin.to_string(),
            poa_number: poa.to_string(),
        }),
    };
    match desk::draft(&core, &s.who, s.since, &s.centre, n).await {
        Ok(app) => Redirect::to(&format!("/ui/applications/{}", app.number)).into_response(),
        Err(e) => new_page(
            &core,
            lang,
            &s,
            e.status,
            &f,
            Some(e.message(lang.code()).to_string()),
        ),
    }
}

struct StepRow {
    name: String,
    started: String,
    due: String,
    completed: String,
    overdue: bool,
}

struct StatusRow {
    name: String,
    at: String,
}

#[derive(Template)]
#[template(path = "ui/application.html")]
struct AppPage {
    page: Page,
    number: String,
    service: String,
    applicant: String,
    iin: String,
    representative: Option<String>,
    state: String,
    draft: bool,
    refusal: Option<String>,
    mio_number: Option<String>,
    status: Option<String>,
    due: String,
    delivery: Option<String>,
    receipt: bool,
    result: bool,
    steps: Vec<StepRow>,
    statuses: Vec<StatusRow>,
    categories: Vec<Choice>,
    fields: Vec<FieldRow>,
    documents: Vec<DocRow>,
    address: String,
    paper: Option<PaperBlock>,
}

/// The paper side on the application's page, with what the operator's role may do.
struct PaperBlock {
    state: String,
    register: Option<String>,
    handed_over: String,
    returned: String,
    scanned: String,
    issued: String,
    archived: String,
    cover: bool,
    can_return: bool,
    can_issue: bool,
    survey: Vec<Question>,
    survey_answers: Vec<Choice>,
}

struct Question {
    id: String,
    text: String,
}

/// The application's page; `error` shown at the top (a submission refused).
async fn app_page(
    core: &Core,
    lang: Lang,
    s: &Session,
    app: &Application,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let t = i18n::words(lang);
    let l = lang.code();
    let reg = core.catalog.get(&app.regulation_id);
    let steps = steps::of(&core.pool, app.id).await?;
    let history = inbox::history(&core.pool, app.id).await?;
    let step_name = |id: &str| {
        reg.and_then(|r| r.channel(crate::catalog::CON))
            .and_then(|c| c.step(id))
            .map(|st| st.action.get(l).to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let steps = steps
        .iter()
        .map(|st| StepRow {
            name: step_name(&st.step_id),
            started: when(Some(st.started_at)),
            due: when(st.due_at),
            completed: when(st.completed_at),
            overdue: st.overdue,
        })
        .collect();
    let statuses = history
        .iter()
        .map(|h| StatusRow {
            name: if l == "kk" {
                &h.status_kk
            } else {
                &h.status_ru
            }
            .clone(),
            at: when(Some(h.at)),
        })
        .collect();
    let delivery = match &app.message_id {
        Some(id) => egov_shep_client::outbox::delivery(&core.pool, id)
            .await?
            .map(|d| match d {
                desk::Delivery::Delivered { .. } => t.delivered.to_string(),
                desk::Delivery::Queued { .. } => t.queued.to_string(),
                desk::Delivery::Refused { code, .. } => format!("{} ({code})", t.gateway_refused),
            }),
        None => None,
    };
    let paper = if app.state == "sent" {
        Some(paper_block(core, lang, s, app, reg.map(|r| r.as_ref())).await?)
    } else {
        None
    };
    let draft = app.state == "draft";
    let (categories, fields, documents) = match (draft, reg) {
        (true, Some(r)) => form_of(r, l),
        _ => (vec![], vec![], vec![]),
    };
    let address = app
        .applicant
        .get("address")
        .filter(|a| a.is_object())
        .map(|a| {
            let part = |k: &str| a[k].as_str().unwrap_or("").to_string();
            format!(
                "{}, {}, {}, {}",
                part("region"),
                part("locality"),
                part("street"),
                part("house")
            )
        })
        .unwrap_or_default();
    let mut page = page(
        lang,
        Some(s),
        &format!("/ui/applications/{}", app.number),
        &format!("{} № {}", t.number, app.number),
    );
    page.error = error;
    Ok(render(
        status,
        &AppPage {
            page,
            number: app.number.clone(),
            service: service_name(core, &app.regulation_id, lang),
            applicant: applicant_name(app),
            iin: app.applicant_iin.clone(),
            representative: app
                .representative_iin
                .as_ref()
                .map(|r| format!("{r}, № {}", app.poa_number.clone().unwrap_or_default())),
            state: state_name(t, &app.state),
            draft,
            refusal: app.refusal_message.clone(),
            mio_number: app.mio_number.clone(),
            status: match lang {
                Lang::Ru => app.status_ru.clone(),
                Lang::Kk => app.status_kk.clone(),
            },
            due: when(app.due_at),
            delivery,
            receipt: app.state != "draft",
            result: app.result.is_some(),
            steps,
            statuses,
            categories,
            fields,
            documents,
            address,
            paper,
        },
    ))
}

async fn paper_block(
    core: &Core,
    lang: Lang,
    s: &Session,
    app: &Application,
    reg: Option<&Regulation>,
) -> Result<PaperBlock, ApiError> {
    use crate::paper::ResultState as R;
    let t = i18n::words(lang);
    let l = lang.code();
    let p = crate::paper::paper(&core.pool, app.id).await?;
    let state = crate::paper::result_state(reg, app, &p);
    let survey = reg.and_then(crate::survey::of);
    let role = s.who.role;
    Ok(PaperBlock {
        state: result_state_name(t, state).to_string(),
        register: p.register.clone(),
        handed_over: when(p.handed_over_at),
        returned: when(p.returned_at),
        scanned: when(p.scanned_at),
        issued: match (&p.issued_at, &p.issued_to_iin) {
            (Some(at), Some(to)) => format!("{} ({to})", when(Some(*at))),
            _ => when(p.issued_at),
        },
        archived: when(p.archived_at),
        cover: app.result.is_some(),
        can_return: role == operators::Role::Courier && state == R::InTransit,
        can_issue: role == operators::Role::Issuer
            && matches!(state, R::Ready | R::Archived)
            && p.scanned_at.is_some(),
        survey: survey
            .map(|sv| {
                sv.questions
                    .iter()
                    .map(|q| Question {
                        id: q.id.clone(),
                        text: if l == "kk" { &q.text.kk } else { &q.text.ru }.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        survey_answers: survey
            .map(|sv| {
                sv.answers
                    .iter()
                    .map(|a| Choice {
                        id: a.id.clone(),
                        name: if l == "kk" { &a.text.kk } else { &a.text.ru }.clone(),
                        selected: false,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The submission form of a regulation: its categories, its fields (but the applicant's
/// and the category), its documents.
fn form_of(reg: &Regulation, l: &str) -> (Vec<Choice>, Vec<FieldRow>, Vec<DocRow>) {
    (
        egov_pages::form::categories(reg, l, ""),
        egov_pages::form::fields(reg, l, &[]),
        egov_pages::form::documents(reg, l),
    )
}

/// The session's own application `number` (another centre's: 403), or the error page.
async fn own(core: &Core, lang: Lang, s: &Session, number: &str) -> Result<Application, Response> {
    desk::own(core, &s.who, number)
        .await
        .map_err(|e| error_page(lang, Some(s), "/ui/applications", &e))
}

async fn view(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let app = match own(&core, lang, &s, &number).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    app_page(&core, lang, &s, &app, StatusCode::OK, None)
        .await
        .unwrap_or_else(|e| error_page(lang, Some(&s), "/ui/applications", &e))
}

/// The submission the form describes: the category, contacts, the regulation's fields
/// by their kinds, the documents (paper marks `paper`, scans `scan.<document>`).
fn submission(reg: &Regulation, p: &Posted) -> SubmitInput {
    let opt = |k: &str| Some(field(&p.fields, k).trim().to_string()).filter(|v| !v.is_empty());
    let form = egov_pages::form::values(reg, &p.fields);
    let b64 = base64::engine::general_purpose::STANDARD;
    let documents = reg
        .documents
        .iter()
        .filter_map(|d| {
            let paper = p.fields.iter().any(|(k, v)| k == "paper" && *v == d.id);
            let scan = p
                .files
                .iter()
                .find(|f| f.input.strip_prefix("scan.") == Some(d.id.as_str()));
            (paper || scan.is_some()).then(|| Attachment {
                kind: d.id.clone(),
                name: scan.map(|s| s.name.clone()).unwrap_or_default(),
                media_type: scan.map(|s| s.media_type.clone()).unwrap_or_default(),
                content: scan.map(|s| b64.encode(&s.bytes)),
                paper,
            })
        })
        .collect();
    SubmitInput {
        category: field(&p.fields, "category").to_string(),
        phone: opt("phone"),
        email: opt("email"),
        address: opt("address"),
        form,
        documents,
    }
}

/// The submission signed by the workstation's keystore: on success (or a refusal of
/// acceptance, which the application's page then shows with its receipt) back to the
/// application's page; otherwise the page again with the error.
async fn submit(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
    mp: Multipart,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let here = format!("/ui/applications/{number}");
    let posted = match upload::read(mp).await {
        Ok(p) => p,
        Err(e) => return error_page(lang, Some(&s), &here, &e),
    };
    if let Err(e) = guard(
        &core,
        &headers,
        Some(&s),
        Some(field(&posted.fields, "csrf")),
    ) {
        return error_page(lang, Some(&s), &here, &e);
    }
    let app = match own(&core, lang, &s, &number).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(reg) = core.catalog.get(&app.regulation_id).cloned() else {
        return error_page(
            lang,
            Some(&s),
            &here,
            &ApiError::internal("regulation gone"),
        );
    };
    let input = submission(&reg, &posted);
    match desk::submit(&core, &s.who, &s.centre, &app.number, input).await {
        Ok(_) => Redirect::to(&here).into_response(),
        Err(e) if e.code == "DOCUMENTS_INCOMPLETE" => Redirect::to(&here).into_response(),
        Err(e) => {
            let app = match own(&core, lang, &s, &number).await {
                Ok(a) => a,
                Err(r) => return r,
            };
            app_page(
                &core,
                lang,
                &s,
                &app,
                e.status,
                Some(e.message(lang.code()).to_string()),
            )
            .await
            .unwrap_or_else(|e| error_page(lang, Some(&s), &here, &e))
        }
    }
}

async fn receipt_pdf(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    crate::api::receipt(&core, &s.who, &s.centre, &number)
        .await
        .unwrap_or_else(|e| error_page(lang, Some(&s), "/ui/applications", &e))
}

async fn result_pdf(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    crate::api::result(&core, &s.who, &number)
        .await
        .unwrap_or_else(|e| error_page(lang, Some(&s), "/ui/applications", &e))
}

/// The register on paper, for the courier to take and sign.
async fn register_pdf(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match crate::paper::register_pdf(&core, &s.who, &s.centre, &number).await {
        Ok(bytes) => egov_pages::pdf(bytes, &format!("register-{number}.pdf"), false),
        Err(e) => error_page(lang, Some(&s), "/ui/registers", &e),
    }
}

async fn cover_pdf(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match crate::paper::cover(&core, &s.who, &s.centre, &number).await {
        Ok(bytes) => egov_pages::pdf(bytes, &format!("cover-{number}.pdf"), false),
        Err(e) => error_page(lang, Some(&s), "/ui/applications", &e),
    }
}

/// A POST of the paper side on an application: the session, the form's token, then
/// `act`; back to the application's page, or the page again with the error.
async fn on_application<F, Fut>(
    core: &Core,
    lang: Lang,
    headers: &HeaderMap,
    number: &str,
    form: &[(String, String)],
    act: F,
) -> Response
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = (Session, Result<(), ApiError>)>,
{
    let s = match session(core, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let here = format!("/ui/applications/{number}");
    if let Err(e) = guard(core, headers, Some(&s), Some(field(form, "csrf"))) {
        return error_page(lang, Some(&s), &here, &e);
    }
    let (s, done) = act(s).await;
    match done {
        Ok(()) => Redirect::to(&here).into_response(),
        Err(e) => match desk::own(core, &s.who, number).await {
            Ok(app) => app_page(
                core,
                lang,
                &s,
                &app,
                e.status,
                Some(e.message(lang.code()).to_string()),
            )
            .await
            .unwrap_or_else(|e| error_page(lang, Some(&s), &here, &e)),
            Err(_) => error_page(lang, Some(&s), &here, &e),
        },
    }
}

/// The courier brings the paper result back ([`crate::paper::return_result`]).
async fn return_result(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    let c = core.clone();
    let n = number.clone();
    on_application(&core, lang, &headers, &number, &f, |s| async move {
        let r = crate::paper::return_result(&c, &s.who, &n)
            .await
            .map(|_| ());
        (s, r)
    })
    .await
}

/// The issue to the citizen with the survey ([`crate::paper::issue`]): no answer
/// chosen is the survey declined.
async fn issue(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    let answers: crate::survey::Answers = f
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("survey.")
                .filter(|_| !v.is_empty())
                .map(|q| (q.to_string(), v.clone()))
        })
        .collect();
    let input = crate::paper::IssueInput {
        iin: field(&f, "iin").to_string(),
        survey: (!answers.is_empty()).then_some(answers),
    };
    let c = core.clone();
    let n = number.clone();
    on_application(&core, lang, &headers, &number, &f, |s| async move {
        let r = crate::paper::issue(&c, &s.who, &n, input).await.map(|_| ());
        (s, r)
    })
    .await
}

struct RegisterRow {
    number: String,
    formed: String,
    handed_over: Option<String>,
    applications: String,
}

#[derive(Template)]
#[template(path = "ui/registers.html")]
struct RegistersPage {
    page: Page,
    awaiting: Vec<String>,
    registers: Vec<RegisterRow>,
    can_form: bool,
    can_hand_over: bool,
}

async fn registers_page(
    core: &Core,
    lang: Lang,
    s: &Session,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let awaiting = crate::paper::awaiting_register(core, &s.centre.id).await?;
    let registers = crate::paper::registers(core, &s.who)
        .await?
        .into_iter()
        .map(|r| RegisterRow {
            number: r.number,
            formed: when(Some(r.formed_at)),
            handed_over: r.handed_over_at.map(|t| when(Some(t))),
            applications: r.applications.join(", "),
        })
        .collect();
    let mut page = page(lang, Some(s), "/ui/registers", i18n::words(lang).registers);
    page.error = error;
    Ok(render(
        status,
        &RegistersPage {
            page,
            awaiting,
            registers,
            can_form: s.who.role == operators::Role::Accumulation,
            can_hand_over: s.who.role == operators::Role::Courier,
        },
    ))
}

async fn registers(State(core): S, lang: Lang, headers: HeaderMap) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    registers_page(&core, lang, &s, StatusCode::OK, None)
        .await
        .unwrap_or_else(|e| error_page(lang, Some(&s), "/ui/registers", &e))
}

/// A POST of the registers' page: the session, the token, then `act`; back to the page,
/// or the page again with the error.
async fn on_registers<F, Fut>(
    core: &Core,
    lang: Lang,
    headers: &HeaderMap,
    form: &[(String, String)],
    act: F,
) -> Response
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = (Session, Result<(), ApiError>)>,
{
    let s = match session(core, headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = guard(core, headers, Some(&s), Some(field(form, "csrf"))) {
        return error_page(lang, Some(&s), "/ui/registers", &e);
    }
    let (s, done) = act(s).await;
    match done {
        Ok(()) => Redirect::to("/ui/registers").into_response(),
        Err(e) => registers_page(
            core,
            lang,
            &s,
            e.status,
            Some(e.message(lang.code()).to_string()),
        )
        .await
        .unwrap_or_else(|e| error_page(lang, Some(&s), "/ui/registers", &e)),
    }
}

/// The accumulation sector forms a register of every application waiting for one.
async fn form_register(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    let c = core.clone();
    on_registers(&core, lang, &headers, &f, |s| async move {
        let r = crate::paper::form_register(
            &c,
            &s.who,
            &s.centre,
            crate::paper::NewRegister::default(),
        )
        .await
        .map(|_| ());
        (s, r)
    })
    .await
}

/// The courier takes a register to the provider.
async fn hand_over(
    State(core): S,
    lang: Lang,
    headers: HeaderMap,
    Path(number): Path<String>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Response {
    let c = core.clone();
    on_registers(&core, lang, &headers, &f, |s| async move {
        let r = crate::paper::hand_over(&c, &s.who, &number)
            .await
            .map(|_| ());
        (s, r)
    })
    .await
}

#[derive(Template)]
#[template(path = "ui/scan.html")]
struct ScanPage {
    page: Page,
    text: String,
}

fn scan_page(
    lang: Lang,
    s: &Session,
    status: StatusCode,
    text: &str,
    error: Option<String>,
) -> Response {
    let mut page = page(lang, Some(s), "/ui/scan", i18n::words(lang).scan_title);
    page.error = error;
    render(
        status,
        &ScanPage {
            page,
            text: text.to_string(),
        },
    )
}

async fn scan_form(State(core): S, lang: Lang, headers: HeaderMap) -> Response {
    match session(&core, &headers).await {
        Ok(s) => scan_page(lang, &s, StatusCode::OK, "", None),
        Err(r) => r,
    }
}

/// The cover's barcode, typed by a hand scanner or as the scanned image: to the
/// application's page, where the issue follows.
async fn scan(State(core): S, lang: Lang, headers: HeaderMap, mp: Multipart) -> Response {
    let s = match session(&core, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let posted = match upload::read(mp).await {
        Ok(p) => p,
        Err(e) => return error_page(lang, Some(&s), "/ui/scan", &e),
    };
    if let Err(e) = guard(
        &core,
        &headers,
        Some(&s),
        Some(field(&posted.fields, "csrf")),
    ) {
        return error_page(lang, Some(&s), "/ui/scan", &e);
    }
    let text = field(&posted.fields, "text").trim().to_string();
    let image = posted
        .files
        .iter()
        .find(|f| f.input == "image")
        .map(|f| base64::engine::general_purpose::STANDARD.encode(&f.bytes));
    let input = crate::paper::ScanInput {
        text: (image.is_none() || !text.is_empty()).then(|| text.clone()),
        image,
    };
    match crate::paper::scan(&core, &s.who, input).await {
        Ok(done) => {
            Redirect::to(&format!("/ui/applications/{}", done.application.number)).into_response()
        }
        Err(e) => scan_page(
            lang,
            &s,
            e.status,
            &text,
            Some(e.message(lang.code()).to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_template_turns_escaping_off() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/ui");
        egov_pages::check_escaping(&dir).unwrap();
    }
}
