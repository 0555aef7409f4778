//! The citizen's requests: the screen of one (the regulation's: IIN, request number,
//! service, status and deadline; «обновить статус», «просмотр результата», «сохранить»
//! as PDF), a draft's scans added or removed and its request sent, and «История получения
//! услуг».

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use egov_pages::{Lang, render, upload, when};
use egov_system::api::ApiError;

use super::{
    Mine, Page, Posted, S, Session, deadline, error_page, full_name, i18n, service_name,
    status_text,
};
use crate::Core;
use crate::applications::{self, Application, Scan};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A row of «История получения услуг».
struct Row {
    number: String,
    service: String,
    status: String,
    created: String,
    due: String,
    result: bool,
}

#[derive(askama::Template)]
#[template(path = "ui/history.html")]
struct HistoryPage {
    page: Page,
    rows: Vec<Row>,
}

/// «История получения услуг»: the citizen's requests, newest first.
pub async fn history(State(core): S, lang: Lang, s: Session) -> Response {
    let t = i18n::words(lang);
    let apps = match applications::of_citizen(&core.pool, &s.citizen.iin).await {
        Ok(a) => a,
        Err(e) => return error_page(lang, Some(&s), "/ui/applications", &e.into()),
    };
    let rows = apps
        .iter()
        .map(|a| Row {
            number: a.number.clone(),
            service: service_name(&core, &a.regulation_id, lang),
            status: status_text(t, lang, a),
            created: when(Some(a.created_at)),
            due: when(a.due_at),
            result: a.result.is_some(),
        })
        .collect();
    let page = super::page(lang, Some(&s), "/ui/applications", t.history);
    egov_pages::render(StatusCode::OK, &HistoryPage { page, rows })
}

struct StatusRow {
    name: String,
    at: String,
    reason: Option<String>,
}

struct ScanRow {
    id: String,
    document: String,
    name: String,
    size: i32,
}

#[derive(askama::Template)]
#[template(path = "ui/application.html")]
struct AppPage {
    page: Page,
    number: String,
    iin: String,
    full_name: String,
    service: String,
    status: String,
    due: String,
    deadline: String,
    draft: bool,
    mio_number: Option<String>,
    queue_number: Option<i64>,
    reason: Option<String>,
    result: bool,
    statuses: Vec<StatusRow>,
    steps: Vec<StepRow>,
    scans: Vec<ScanRow>,
    documents: Vec<egov_pages::form::Document>,
}

/// A step of the portal channel as the request's screen lists it.
struct StepRow {
    id: String,
    name: String,
    started: String,
    due: String,
    done: String,
    overdue: bool,
}

/// The request's screen; `error` shown at the top (with the answer's status).
async fn app_page(
    core: &Core,
    lang: Lang,
    s: &Session,
    app: &Application,
    error: Option<&ApiError>,
) -> Result<Response, ApiError> {
    let t = i18n::words(lang);
    let l = lang.code();
    let reg = core.catalog.get(&app.regulation_id);
    let history = crate::inbox::history(&core.pool, app.id).await?;
    crate::steps::received_by(core, app).await;
    let steps = crate::steps::of(&core.pool, app.id).await?;
    let step_name = |id: &str| {
        reg.and_then(|r| r.channel(crate::catalog::PORTAL))
            .and_then(|c| c.step(id))
            .map(|s| s.completion.get(l).to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let files = applications::attachments(&core.pool, app.id).await?;
    let document_name = |kind: &str| {
        reg.and_then(|r| r.documents.iter().find(|d| d.id == kind))
            .map(|d| d.name.get(l).to_string())
            .unwrap_or_else(|| kind.to_string())
    };
    let reason = |r: &Option<serde_json::Value>| {
        r.as_ref()
            .and_then(|r| r["message"].as_str())
            .map(str::to_string)
    };
    let mut page = super::page(
        lang,
        Some(s),
        &format!("/ui/applications/{}", app.number),
        &format!("{} № {}", t.request, app.number),
    );
    if let Some(e) = error {
        page = page.failed(e);
    }
    let draft = app.state == "draft";
    Ok(render(
        error.map_or(StatusCode::OK, |e| e.status),
        &AppPage {
            page,
            number: app.number.clone(),
            iin: app.citizen_iin.clone(),
            full_name: full_name(&s.citizen),
            service: service_name(core, &app.regulation_id, lang),
            status: status_text(t, lang, app),
            due: when(app.due_at),
            deadline: deadline(core, &app.regulation_id, lang),
            draft,
            mio_number: app.mio_number.clone(),
            queue_number: app.queue.as_ref().and_then(|q| q["number"].as_i64()),
            reason: reason(&app.reason),
            result: app.result.is_some(),
            statuses: history
                .iter()
                .map(|h| StatusRow {
                    name: lang.pick(&h.status_ru, &h.status_kk).clone(),
                    at: when(Some(h.at)),
                    reason: reason(&h.reason),
                })
                .collect(),
            steps: steps
                .iter()
                .map(|r| StepRow {
                    id: r.step_id.clone(),
                    name: step_name(&r.step_id),
                    started: when(Some(r.started_at)),
                    due: when(r.due_at),
                    done: when(r.completed_at),
                    overdue: r.overdue,
                })
                .collect(),
            scans: files
                .iter()
                .map(|f| ScanRow {
                    id: f.id.to_string(),
                    document: document_name(&f.kind),
                    name: f.name.clone(),
                    size: f.size,
                })
                .collect(),
            documents: match (draft, reg) {
                (true, Some(r)) => egov_pages::form::documents(r, l),
                _ => Vec::new(),
            },
        },
    ))
}

/// The request's page with `error`, or the error page when even that cannot be shown.
async fn again(core: &Core, lang: Lang, s: &Session, number: &str, error: &ApiError) -> Response {
    let here = format!("/ui/applications/{number}");
    match applications::own(core, &s.citizen.iin, number).await {
        Ok(app) => app_page(core, lang, s, &app, Some(error))
            .await
            .unwrap_or_else(|e| error_page(lang, Some(s), &here, &e)),
        Err(_) => error_page(lang, Some(s), &here, error),
    }
}

/// The request's screen; «обновить статус» is this page again.
pub async fn view(State(core): S, Mine { s, lang, app }: Mine) -> Response {
    app_page(&core, lang, &s, &app, None)
        .await
        .unwrap_or_else(|e| error_page(lang, Some(&s), "/ui/applications", &e))
}

/// The media type of an uploaded file: what the browser declared, or, where it declared
/// none it knows, what the content begins as (else left for the check to refuse).
fn media_type(file: &upload::File) -> String {
    let declared = file.media_type.as_str();
    if applications::MEDIA_TYPES
        .iter()
        .any(|(t, _)| *t == declared)
    {
        return declared.to_string();
    }
    if declared == "application/octet-stream"
        && let Some((t, _)) = applications::MEDIA_TYPES
            .iter()
            .find(|(_, magic)| file.bytes.starts_with(magic))
    {
        return t.to_string();
    }
    declared.to_string()
}

/// The scans of a posted form: each file of an input `scan.<document>`.
pub(super) fn scans(posted: &upload::Posted) -> Vec<Scan> {
    posted
        .files
        .iter()
        .filter_map(|f| {
            f.input.strip_prefix("scan.").map(|kind| Scan {
                kind: kind.to_string(),
                name: f.name.clone(),
                media_type: media_type(f),
                content: f.bytes.clone(),
            })
        })
        .collect()
}

/// More scans for a draft; refused, the page again with the error.
pub async fn attach(
    State(core): S,
    Path(number): Path<String>,
    Posted { s, lang, form }: Posted,
) -> Response {
    for scan in scans(&form) {
        if let Err(e) = applications::attach_scan(&core, &s.citizen.iin, &number, scan).await {
            return again(&core, lang, &s, &number, &e).await;
        }
    }
    Redirect::to(&format!("/ui/applications/{number}")).into_response()
}

/// A scan removed from a draft.
pub async fn remove(
    State(core): S,
    Path((number, id)): Path<(String, String)>,
    Posted { s, lang, .. }: Posted,
) -> Response {
    let here = format!("/ui/applications/{number}");
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Redirect::to(&here).into_response();
    };
    match applications::detach(&core, &s.citizen.iin, &number, id).await {
        Ok(()) => Redirect::to(&here).into_response(),
        Err(e) => again(&core, lang, &s, &number, &e).await,
    }
}

/// «отправить запрос»: the bytes to sign fixed (the form and the documents checked
/// again), then the signing page; refused, the request's page with what is missing.
pub(super) async fn send_request(core: &Core, lang: Lang, s: &Session, number: &str) -> Response {
    match applications::sign_request(core, &s.citizen, number).await {
        Ok(_) => Redirect::to(&format!("/ui/applications/{number}/sign")).into_response(),
        Err(e) => again(core, lang, s, number, &e).await,
    }
}

/// «отправить запрос» of a draft's page.
pub async fn send(
    State(core): S,
    Path(number): Path<String>,
    Posted { s, lang, .. }: Posted,
) -> Response {
    send_request(&core, lang, &s, &number).await
}

#[derive(serde::Deserialize)]
pub struct Save {
    save: Option<String>,
}

/// The result document: «просмотр результата» shows it, «сохранить» (`?save=1`) saves it
/// as a PDF file. No result yet: back to the request's page.
pub async fn result(Mine { app, .. }: Mine, Query(q): Query<Save>) -> Response {
    let number = &app.number;
    let pdf = app
        .result
        .as_ref()
        .and_then(|r| r["pdf"].as_str())
        .and_then(|b| B64.decode(b).ok());
    match pdf {
        Some(bytes) => egov_pages::pdf(bytes, &format!("result-{number}.pdf"), q.save.is_some()),
        None => Redirect::to(&format!("/ui/applications/{number}")).into_response(),
    }
}
