//! АРМ ИС ЦОН: the operators' JSON API (`/api/v1`, described by `openapi.json`, served
//! at `/api/openapi.json`), and the public status look-up by application number.
//! Operators log in with IIN and password and send `Authorization: Bearer <token>`.
//! Errors are `{"error": {"code", "message", "details"?}}` in the operator's language
//! ([`error`]).

pub mod error;

use egov_system::api::bearer;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Core;
use crate::centres::{self, Centre};
use crate::desk::{self, Application, NewDraft, SubmitInput};
use crate::operators::{self, Operator};
use crate::paper::{self, IssueInput, NewRegister, ScanInput};
use crate::{inbox, receipt, steps};
pub use error::ApiError;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

type S = State<Arc<Core>>;

/// A JSON body, parsed when the handler asks ([`Body::parsed`]): after the session is
/// checked, so that a caller without one learns nothing from the body's problems. Its
/// rejection is an [`ApiError`] (400, naming the problem).
pub struct Body<T>(Result<T, ApiError>);

impl<T> Body<T> {
    /// The parsed body, or why it does not parse.
    pub fn parsed(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for Body<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        Ok(Body(
            axum::Json::<T>::from_request(req, state)
                .await
                .map(|axum::Json(v)| v)
                .map_err(|e| ApiError::bad_request(&e.body_text())),
        ))
    }
}

/// The routes, every answer with the workstation's hardened headers and errors in the
/// request's language.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/services", get(services))
        .route("/api/v1/applications", get(list).post(create))
        .route("/api/v1/applications/{number}", get(view))
        .route("/api/v1/applications/{number}/submit", post(submit))
        .route(
            "/api/v1/applications/{number}/sign-request",
            post(sign_request),
        )
        .route("/api/v1/applications/{number}/signature", post(signature))
        .route(
            "/api/v1/applications/{number}/receipt.pdf",
            get(receipt_pdf),
        )
        .route("/api/v1/applications/{number}/result.pdf", get(result_pdf))
        .route("/api/v1/applications/{number}/cover.pdf", get(cover_pdf))
        .route("/api/v1/applications/{number}/return", post(return_result))
        .route("/api/v1/applications/{number}/issue", post(issue))
        .route("/api/v1/registers", get(registers).post(form_register))
        .route("/api/v1/registers/{number}", get(register))
        .route("/api/v1/registers/{number}/handover", post(hand_over))
        .route("/api/v1/registers/{number}/register.pdf", get(register_pdf))
        .route("/api/v1/scan", post(scan))
        .route("/api/v1/public/applications/{number}", get(public))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "нет такого адреса",
                "мұндай мекенжай жоқ",
            )
        })
        .merge(crate::ui::router(core.public_url.clone()))
        .with_state(core)
        .layer(axum::middleware::from_fn(error::localize))
        .layer(axum::middleware::map_response(egov_system::api::hardened))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The operator of the request, when the session began, and their centre.
async fn operator(
    core: &Core,
    headers: &HeaderMap,
) -> Result<(Operator, time::OffsetDateTime, Centre), ApiError> {
    let token = bearer(headers).ok_or_else(error::unauthorized)?;
    let (who, since) = operators::session(&core.pool, &token, core.clock.now())
        .await?
        .ok_or_else(error::unauthorized)?;
    let centre = centres::get(&core.pool, &who.centre_id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("centre {} is gone", who.centre_id)))?;
    Ok((who, since, centre))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    iin: String,
    password: String,
}

async fn login(State(core): S, body: Body<Login>) -> Result<axum::Json<Value>, ApiError> {
    let l = body.parsed()?;
    let iin = egov_iin::Iin::parse(l.iin.trim())
        .map_err(|_| ApiError::invalid_iin(&l.iin, "ИИН", "ЖСН"))?
        .as_string();
    match operators::login(
        &core.pool,
        &iin,
        &l.password,
        core.clock.now(),
        core.session_lifetime,
    )
    .await?
    {
        operators::Login::Ok(token, who) => {
            Ok(axum::Json(json!({"token": token, "operator": who})))
        }
        operators::Login::Refused => Err(ApiError::invalid_credentials()),
        operators::Login::Throttled { until } => Err(ApiError::too_many_attempts(
            (until - core.clock.now()).whole_seconds().max(1),
        )),
    }
}

async fn logout(State(core): S, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    operator(&core, &headers).await?;
    if let Some(t) = bearer(&headers) {
        operators::logout(&core.pool, &t).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(core): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    Ok(axum::Json(json!({"operator": who, "centre": centre})))
}

/// The services (regulations with a `con` channel) of the operator's region, with their
/// categories and documents.
async fn services(State(core): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let (_, _, centre) = operator(&core, &headers).await?;
    let list: Vec<Value> = core
        .catalog
        .of_region(&centre.region)
        .into_iter()
        .map(|r| {
            json!({
                "regulation": r.id,
                "service": r.service,
                "name": {"ru": r.service_name.ru, "kk": r.service_name.kk},
                "in_force": {"from": egov_contracts::date::format(r.in_force_from), "until": r.in_force_until.map(egov_contracts::date::format)},
                "providers": r.providers.iter().map(|p| json!({"id": p.id, "name": {"ru": p.name.ru, "kk": p.name.kk}})).collect::<Vec<_>>(),
                "categories": r.categories.iter().map(|c| json!({"id": c.id, "name": {"ru": c.name.ru, "kk": c.name.kk}})).collect::<Vec<_>>(),
                "documents": r.documents.iter().map(|d| json!({"id": d.id, "required": d.required, "categories": d.categories, "name": {"ru": d.name.ru, "kk": d.name.kk}})).collect::<Vec<_>>(),
                "fields": r.fields.iter().map(|f| json!({"id": f.id, "required": f.required, "name": {"ru": f.name.ru, "kk": f.name.kk}})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({"centre": centre.id, "services": list})))
}

/// The view of an application for the operator.
async fn application_view(core: &Core, app: &Application) -> Result<Value, ApiError> {
    let steps = steps::of(&core.pool, app.id).await?;
    let statuses = inbox::history(&core.pool, app.id).await?;
    let delivery = match &app.message_id {
        Some(id) => egov_shep_client::outbox::delivery(&core.pool, id).await?,
        None => None,
    };
    let reg = core.catalog.get(&app.regulation_id);
    let rfc = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    };
    let result = app.result.as_ref().map(|r| {
        json!({
            "kind": r["kind"], "title": r["title"], "number": r["number"],
            "signer_iin": r["signer_iin"], "signer_name": r["signer_name"],
            "pdf": format!("/api/v1/applications/{}/result.pdf", app.number),
        })
    });
    let paper = paper::paper(&core.pool, app.id).await?;
    Ok(json!({
        "number": app.number,
        "centre": app.centre_id,
        "operator": app.operator_iin,
        "regulation": app.regulation_id,
        "service": app.service,
        "service_name": reg.map(|r| json!({"ru": r.service_name.ru, "kk": r.service_name.kk})),
        "provider": app.provider_id,
        "state": app.state,
        "applicant": app.applicant,
        "representative_iin": app.representative_iin,
        "poa_number": app.poa_number,
        "category": app.category,
        "documents": app.documents,
        "refusal": app.refusal_code.as_ref().map(|c| json!({"code": c, "message": app.refusal_message, "missing": app.missing_documents})),
        "message_id": app.message_id,
        "sent_at": rfc(app.sent_at),
        "delivery": delivery,
        "mio_number": app.mio_number,
        "status": app.status.as_ref().map(|s| json!({"status": s, "stage": app.stage, "ru": app.status_ru, "kk": app.status_kk, "at": rfc(app.status_at)})),
        "due_at": rfc(app.due_at),
        "result": result,
        "receipt": (app.state != "draft").then(|| format!("/api/v1/applications/{}/receipt.pdf", app.number)),
        "steps": steps,
        "statuses": statuses,
        "paper": paper::view(reg.map(|r| r.as_ref()), app, &paper),
        "created_at": rfc(Some(app.created_at)),
    }))
}

async fn list(State(core): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let (_, _, centre) = operator(&core, &headers).await?;
    let apps = desk::of_centre(&core.pool, &centre.id).await?;
    let results = paper::result_states(&core, &centre.id).await?;
    let list: Vec<Value> = apps
        .iter()
        .map(|a| {
            json!({
                "number": a.number, "regulation": a.regulation_id, "applicant_iin": a.applicant_iin,
                "state": a.state, "mio_number": a.mio_number, "status": a.status, "status_ru": a.status_ru,
                "result_state": results.get(&a.number),
            })
        })
        .collect();
    Ok(axum::Json(json!({"applications": list})))
}

async fn create(
    State(core): S,
    headers: HeaderMap,
    body: Body<NewDraft>,
) -> Result<Response, ApiError> {
    let (who, since, centre) = operator(&core, &headers).await?;
    let n = body.parsed()?;
    let app = desk::draft(&core, &who, since, &centre, n).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(application_view(&core, &app).await?),
    )
        .into_response())
}

async fn view(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    let app = desk::own(&core, &who, &number).await?;
    Ok(axum::Json(application_view(&core, &app).await?))
}

/// The application recorded and sent: 200 when the gateway took it within the wait,
/// 202 while the outbox is still sending it (or when the gateway refused it for good:
/// `delivery` says which).
async fn sent(
    core: &Core,
    app: &Application,
    delivery: &desk::Delivery,
) -> Result<Response, ApiError> {
    let status = match delivery {
        desk::Delivery::Delivered { .. } => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    Ok((status, axum::Json(application_view(core, app).await?)).into_response())
}

async fn submit(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<SubmitInput>,
) -> Result<Response, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    let input = body.parsed()?;
    let (app, delivery) = desk::submit(&core, &who, &centre, &number, input).await?;
    sent(&core, &app, &delivery).await
}

async fn sign_request(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<SubmitInput>,
) -> Result<axum::Json<desk::SignRequest>, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    let input = body.parsed()?;
    Ok(axum::Json(
        desk::sign_request(&core, &who, &centre, &number, input).await?,
    ))
}

async fn signature(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<desk::SignatureInput>,
) -> Result<Response, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    let input = body.parsed()?;
    let (app, delivery) = desk::signature(&core, &who, &number, input).await?;
    sent(&core, &app, &delivery).await
}

fn pdf(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn receipt_pdf(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    receipt(&core, &who, &centre, &number).await
}

/// The receipt of the operator's application `number` as a PDF answer (the API's and
/// the pages').
pub async fn receipt(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    number: &str,
) -> Result<Response, ApiError> {
    let app = desk::own(core, who, number).await?;
    let reg = core
        .catalog
        .get(&app.regulation_id)
        .ok_or_else(|| ApiError::internal(format!("regulation {} is gone", app.regulation_id)))?;
    let inspector = operators::get(&core.pool, &app.operator_iin)
        .await?
        .ok_or_else(|| ApiError::internal("the inspector is gone"))?;
    let parts = receipt::parts(&app, reg, centre, &inspector).ok_or_else(|| {
        ApiError::conflict(
            format!("заявление № {} ещё не подано: расписки нет", app.number),
            format!("№ {} өтініш әлі берілмеген: қолхат жоқ", app.number),
        )
    })?;
    let bytes = receipt::render(&parts).map_err(ApiError::internal)?;
    Ok(pdf(bytes, &format!("receipt-{}.pdf", app.number)))
}

async fn result_pdf(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    result(&core, &who, &number).await
}

/// The result document of the operator's application `number` as a PDF answer (the
/// API's and the pages').
pub async fn result(core: &Core, who: &Operator, number: &str) -> Result<Response, ApiError> {
    let app = desk::own(core, who, number).await?;
    let b64 = app
        .result
        .as_ref()
        .and_then(|r| r["pdf"].as_str())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NO_RESULT",
                format!("результат по заявлению № {} ещё не поступил", app.number),
                format!("№ {} өтініш бойынша нәтиже әлі түспеді", app.number),
            )
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(ApiError::internal)?;
    Ok(pdf(bytes, &format!("result-{}.pdf", app.number)))
}

/// The public look-up: the status of an application by its journal number or ИС МИО's,
/// with no login and nothing about the person.
async fn public(State(core): S, Path(number): Path<String>) -> Result<axum::Json<Value>, ApiError> {
    paper::valid_number(&number)?;
    let app = desk::by_number(&core.pool, &number)
        .await?
        .ok_or_else(|| crate::api::error::no_application(&number))?;
    let reg = core.catalog.get(&app.regulation_id);
    let rfc = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    };
    let paper = paper::paper(&core.pool, app.id).await?;
    let result_state = paper::result_state(reg.map(|r| r.as_ref()), &app, &paper);
    let (ru, kk) = match (&app.status_ru, &app.status_kk, app.state.as_str()) {
        (Some(r), Some(k), _) => (r.clone(), k.clone()),
        (_, _, "refused") => (
            "в приеме отказано".into(),
            "қабылдаудан бас тартылды".into(),
        ),
        (_, _, "sent") => (
            "направлено услугодателю".into(),
            "көрсетілетін қызметті берушіге жіберілді".into(),
        ),
        _ => ("оформляется".into(), "рәсімделуде".into()),
    };
    Ok(axum::Json(json!({
        "number": app.number,
        "mio_number": app.mio_number,
        "service_name": reg.map(|r| json!({"ru": r.service_name.ru, "kk": r.service_name.kk})),
        "state": app.state,
        "status": app.status,
        "status_ru": ru,
        "status_kk": kk,
        "status_at": rfc(app.status_at.or(app.sent_at)),
        "due_at": rfc(app.due_at),
        "result_ready": app.result.is_some(),
        "result_state": result_state,
        "archived_at": rfc(paper.archived_at),
    })))
}

async fn cover_pdf(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    let bytes = paper::cover(&core, &who, &centre, &number).await?;
    Ok(pdf(bytes, &format!("cover-{number}.pdf")))
}

async fn return_result(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    paper::return_result(&core, &who, &number).await?;
    let app = desk::own(&core, &who, &number).await?;
    Ok(axum::Json(application_view(&core, &app).await?))
}

async fn issue(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<IssueInput>,
) -> Result<axum::Json<Value>, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    let input = body.parsed()?;
    paper::issue(&core, &who, &number, input).await?;
    let app = desk::own(&core, &who, &number).await?;
    Ok(axum::Json(application_view(&core, &app).await?))
}

async fn scan(
    State(core): S,
    headers: HeaderMap,
    body: Body<ScanInput>,
) -> Result<axum::Json<Value>, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    let input = body.parsed()?;
    let found = paper::scan(&core, &who, input).await?;
    let app = desk::own(&core, &who, &found.application.number).await?;
    Ok(axum::Json(json!({
        "barcode": found.text,
        "application": application_view(&core, &app).await?,
    })))
}

async fn registers(State(core): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    let list = paper::registers(&core, &who).await?;
    let awaiting = paper::awaiting_register(&core, &centre.id).await?;
    Ok(axum::Json(json!({"registers": list, "awaiting": awaiting})))
}

async fn form_register(
    State(core): S,
    headers: HeaderMap,
    body: Body<NewRegister>,
) -> Result<Response, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    let input = body.parsed()?;
    let r = paper::form_register(&core, &who, &centre, input).await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

async fn register(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<axum::Json<paper::Register>, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    Ok(axum::Json(paper::register(&core, &who, &number).await?))
}

async fn hand_over(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<axum::Json<paper::Register>, ApiError> {
    let (who, _, _) = operator(&core, &headers).await?;
    Ok(axum::Json(paper::hand_over(&core, &who, &number).await?))
}

async fn register_pdf(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let (who, _, centre) = operator(&core, &headers).await?;
    let bytes = paper::register_pdf(&core, &who, &centre, &number).await?;
    Ok(pdf(bytes, &format!("register-{number}.pdf")))
}
