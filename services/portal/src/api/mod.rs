//! The portal's JSON API (`/api/v1`, described by `openapi.json`, served at
//! `/api/openapi.json`): registration and login, the catalogue, the citizen's
//! applications from the draft to the signed result, server-sent events of every change,
//! and the check of any signed document. Citizens send `Authorization: Bearer <token>`.
//! Errors are `{"error": {"code", "message", "details"?}}` in the caller's language
//! ([`egov_system::api`]). Browsers of the configured origins may call it (CORS).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use egov_system::api::{ApiError, Body, bearer};
use futures::Stream;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use tokio_stream::StreamExt as _;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::Core;
use crate::applications::{self, Application, NewApplication, NewAttachment, Survey};
use crate::catalog;
use crate::citizens::{self, Citizen, Registration};
use crate::inbox;
use crate::steps;
use crate::tickets::{self, Redeemed};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

type S = State<Arc<Core>>;

/// The CORS layer of `origins` (`https://host[:port]` each); an origin that is not one
/// is a start-up error.
pub fn cors(origins: &[String]) -> Result<CorsLayer, String> {
    let mut list = Vec::new();
    for o in origins {
        let ok = (o.starts_with("https://") || o.starts_with("http://"))
            && !o.ends_with('/')
            && o.split("://")
                .nth(1)
                .is_some_and(|h| !h.is_empty() && !h.contains('/'));
        let v = HeaderValue::from_str(o)
            .ok()
            .filter(|_| ok)
            .ok_or_else(|| {
                format!("cors_origins: {o:?} is not an origin (scheme://host[:port], no path)")
            })?;
        list.push(v);
    }
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT_LANGUAGE,
        ])
        .max_age(std::time::Duration::from_secs(600)))
}

/// The routes, with hardened headers, errors in the request's language and CORS for
/// `origins`.
pub fn router(core: Arc<Core>, origins: &[String]) -> Result<Router, String> {
    let attachment_limit = core.max_attachment_bytes.div_ceil(3) * 4 + 64 * 1024;
    Ok(Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/services", get(services))
        .route("/api/v1/services/{regulation}", get(service))
        .route("/api/v1/applications", get(list).post(create))
        .route("/api/v1/applications/{number}", get(view))
        .route(
            "/api/v1/applications/{number}/attachments",
            post(attach).layer(DefaultBodyLimit::max(attachment_limit)),
        )
        .route(
            "/api/v1/applications/{number}/attachments/{id}",
            delete(detach),
        )
        .route(
            "/api/v1/applications/{number}/sign-request",
            get(sign_request),
        )
        .route(
            "/api/v1/applications/{number}/signature",
            post(signature).layer(DefaultBodyLimit::max(256 * 1024)),
        )
        .route("/api/v1/applications/{number}/result.pdf", get(result_pdf))
        .route("/api/v1/applications/{number}/result.p7s", get(result_cms))
        .route("/api/v1/applications/{number}/survey", post(survey))
        .route(
            "/api/v1/applications/{number}/queue-position",
            get(queue_position),
        )
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/ticket", post(event_ticket))
        .route(
            "/api/v1/verify",
            post(verify).layer(DefaultBodyLimit::max(attachment_limit * 2)),
        )
        .merge(crate::ui::router(&core))
        .fallback(|| async { ApiError::no_route() })
        .with_state(core)
        .layer(axum::middleware::from_fn(egov_system::api::localize))
        .layer(axum::middleware::map_response(egov_system::api::hardened))
        .layer(cors(origins)?))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "войдите на портал (ИИН и пароль)",
        "порталға кіріңіз (ЖСН және құпиясөз)",
    )
}

/// The citizen of the request's session. An expired token is `TOKEN_EXPIRED`, any
/// other missing or unknown one `UNAUTHORIZED`.
async fn citizen(core: &Core, headers: &HeaderMap) -> Result<Citizen, ApiError> {
    let token = bearer(headers).ok_or_else(unauthorized)?;
    let now = core.clock.now();
    let Some(iin) = citizens::session(&core.pool, &token, now).await? else {
        if citizens::expired(&core.pool, &token, now).await? {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_EXPIRED",
                "сеанс истёк: войдите снова",
                "сеанс аяқталды: қайта кіріңіз",
            ));
        }
        return Err(unauthorized());
    };
    citizens::get(&core.pool, &iin)
        .await?
        .ok_or_else(|| ApiError::internal(format!("citizen {iin} of a live session is gone")))
}

fn rfc(t: Option<time::OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

async fn register(State(core): S, body: Body<Registration>) -> Result<Response, ApiError> {
    let c = citizens::register(&core, body.parsed()?).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(c))).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    iin: String,
    password: String,
}

async fn login(State(core): S, body: Body<Login>) -> Result<axum::Json<Value>, ApiError> {
    let l = body.parsed()?;
    let iin = citizens::parse_iin(&l.iin)?;
    match citizens::login(&core, &iin, &l.password).await? {
        citizens::Login::Ok(token, expires) => Ok(axum::Json(
            json!({"token": token, "expires_at": rfc(Some(expires))}),
        )),
        citizens::Login::Refused => Err(ApiError::invalid_credentials()),
        citizens::Login::Throttled { until } => Err(ApiError::too_many_attempts(
            (until - core.clock.now()).whole_seconds().max(1),
        )),
    }
}

async fn logout(State(core): S, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    citizen(&core, &headers).await?;
    if let Some(t) = bearer(&headers) {
        citizens::logout(&core.pool, &t).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(core): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(json!(citizen(&core, &headers).await?)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesQuery {
    #[serde(default)]
    region: Option<String>,
}

/// The catalogue (no login needed), of one region if asked.
async fn services(
    State(core): S,
    q: Result<Query<ServicesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(&e.body_text()))?;
    let list: Vec<Value> = core
        .catalog
        .regulations
        .iter()
        .filter(|r| q.region.as_deref().is_none_or(|x| r.region == x))
        .map(|r| catalog::describe(r))
        .collect();
    Ok(axum::Json(json!({"services": list})))
}

async fn service(
    State(core): S,
    Path(regulation): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let r = core.catalog.get(&regulation).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("услуги «{regulation}» на портале нет"),
            format!("порталда «{regulation}» қызметі жоқ"),
        )
    })?;
    Ok(axum::Json(catalog::describe(r)))
}

/// An application as the cabinet shows it.
async fn application_view(core: &Core, app: &Application) -> Result<Value, ApiError> {
    let reg = core.catalog.get(&app.regulation_id);
    let statuses = inbox::history(&core.pool, app.id).await?;
    let files = applications::attachments(&core.pool, app.id).await?;
    let steps = steps::of(&core.pool, app.id).await?;
    let base = format!("/api/v1/applications/{}", app.number);
    let result = app.result.as_ref().map(|r| {
        json!({
            "kind": r["kind"], "title": r["title"], "number": r["number"],
            "signer_iin": r["signer_iin"], "signer_name": r["signer_name"],
            "pdf": format!("{base}/result.pdf"), "signature": format!("{base}/result.p7s"),
        })
    });
    Ok(json!({
        "number": app.number,
        "iin": app.citizen_iin,
        "regulation": app.regulation_id,
        "service": app.service,
        "service_name": reg.map(|r| json!({"ru": r.service_name.ru, "kk": r.service_name.kk})),
        "provider": app.provider_id,
        "region": app.region,
        "category": app.category,
        "phone": app.phone,
        "email": app.email,
        "notify_email": app.notify_email,
        "form": app.form,
        "attachments": files,
        "state": app.state,
        "signer": app.signer,
        "message_id": app.message_id,
        "signed_at": rfc(app.signed_at),
        "delivered_at": rfc(app.delivered_at),
        "mio_number": app.mio_number,
        "status": app.status.as_ref().map(|s| json!({
            "status": s, "stage": app.stage, "ru": app.status_ru, "kk": app.status_kk, "at": rfc(app.status_at),
        })),
        "statuses": statuses,
        "steps": steps,
        "due_at": rfc(app.due_at),
        "queue": app.queue,
        "reason": app.reason,
        "result": result,
        "survey": app.survey,
        "created_at": rfc(Some(app.created_at)),
    }))
}

fn summary(core: &Core, a: &Application) -> Value {
    let reg = core.catalog.get(&a.regulation_id);
    json!({
        "number": a.number,
        "regulation": a.regulation_id,
        "service_name": reg.map(|r| json!({"ru": r.service_name.ru, "kk": r.service_name.kk})),
        "state": a.state,
        "status": a.status,
        "status_ru": a.status_ru,
        "status_kk": a.status_kk,
        "status_at": rfc(a.status_at),
        "mio_number": a.mio_number,
        "due_at": rfc(a.due_at),
        "queue_number": a.queue.as_ref().and_then(|q| q["number"].as_i64()),
        "result_ready": a.result.is_some(),
        "created_at": rfc(Some(a.created_at)),
    })
}

/// «История получения услуг».
async fn list(State(core): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let c = citizen(&core, &headers).await?;
    let apps = applications::of_citizen(&core.pool, &c.iin).await?;
    let list: Vec<Value> = apps.iter().map(|a| summary(&core, a)).collect();
    Ok(axum::Json(json!({"applications": list})))
}

async fn create(
    State(core): S,
    headers: HeaderMap,
    body: Body<NewApplication>,
) -> Result<Response, ApiError> {
    let c = citizen(&core, &headers).await?;
    let app = applications::create(&core, &c, body.parsed()?).await?;
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
    let c = citizen(&core, &headers).await?;
    let app = applications::own(&core, &c.iin, &number).await?;
    steps::received_by(&core, &app).await;
    Ok(axum::Json(application_view(&core, &app).await?))
}

async fn attach(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<NewAttachment>,
) -> Result<Response, ApiError> {
    let c = citizen(&core, &headers).await?;
    let a = applications::attach(&core, &c.iin, &number, body.parsed()?).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(a))).into_response())
}

async fn detach(
    State(core): S,
    headers: HeaderMap,
    Path((number, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let c = citizen(&core, &headers).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("в заявке № {number} нет файла {id}"),
            format!("№ {number} өтінімде {id} файлы жоқ"),
        )
    })?;
    applications::detach(&core, &c.iin, &number, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sign_request(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let c = citizen(&core, &headers).await?;
    let bytes = applications::sign_request(&core, &c, &number).await?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    Ok(axum::Json(json!({
        "number": number,
        "document": B64.encode(&bytes),
        "sha256": hex::encode(digest.as_ref()),
    })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureBody {
    signature: String,
}

async fn signature(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<SignatureBody>,
) -> Result<Response, ApiError> {
    let c = citizen(&core, &headers).await?;
    let b = body.parsed()?;
    let app = applications::sign(&core, &c, &number, &b.signature).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(application_view(&core, &app).await?),
    )
        .into_response())
}

fn no_result(number: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NO_RESULT",
        format!("результат по заявке № {number} ещё не поступил"),
        format!("№ {number} өтінім бойынша нәтиже әлі түспеді"),
    )
}

/// The result's field `field` (base64) of the citizen's application, decoded.
async fn result_part(
    core: &Core,
    headers: &HeaderMap,
    number: &str,
    field: &str,
) -> Result<Vec<u8>, ApiError> {
    let c = citizen(core, headers).await?;
    let app = applications::own(core, &c.iin, number).await?;
    steps::received_by(core, &app).await;
    let b64 = app
        .result
        .as_ref()
        .and_then(|r| r[field].as_str().map(str::to_string))
        .ok_or_else(|| no_result(number))?;
    B64.decode(b64).map_err(ApiError::internal)
}

async fn result_pdf(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = result_part(&core, &headers, &number, "pdf").await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"result-{number}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn result_cms(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = result_part(&core, &headers, &number, "signature").await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/pkcs7-signature".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"result-{number}.p7s\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn survey(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Body<Survey>,
) -> Result<StatusCode, ApiError> {
    let c = citizen(&core, &headers).await?;
    applications::survey(&core, &c.iin, &number, body.parsed()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn queue_position(
    State(core): S,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let c = citizen(&core, &headers).await?;
    Ok(axum::Json(
        applications::queue_position(&core, &c.iin, &number).await?,
    ))
}

/// A ticket that opens the event stream once without the `Authorization` header (a
/// browser's `EventSource` cannot send it), for the session of the request.
async fn event_ticket(State(core): S, headers: HeaderMap) -> Result<Response, ApiError> {
    citizen(&core, &headers).await?;
    let token = bearer(&headers).ok_or_else(unauthorized)?;
    let (ticket, expires) = tickets::issue(&core.pool, &token, core.clock.now()).await?;
    let url = format!("/api/v1/events?ticket={ticket}");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"ticket": ticket, "expires_at": rfc(Some(expires)), "url": url})),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    ticket: Option<String>,
}

/// The citizen of an event stream's ticket, each refusal its own code.
async fn ticket_holder(core: &Core, ticket: &str) -> Result<String, ApiError> {
    let refused =
        |code: &str, ru: &str, kk: &str| Err(ApiError::new(StatusCode::UNAUTHORIZED, code, ru, kk));
    match tickets::redeem(&core.pool, ticket, core.clock.now()).await? {
        Redeemed::Citizen(iin) => Ok(iin),
        Redeemed::Used => refused(
            "TICKET_USED",
            "билет уже использован: получите новый",
            "билет пайдаланылған: жаңасын алыңыз",
        ),
        Redeemed::Expired => refused(
            "TICKET_EXPIRED",
            "срок билета истёк: получите новый",
            "билеттің мерзімі өтті: жаңасын алыңыз",
        ),
        Redeemed::SessionExpired => refused(
            "TOKEN_EXPIRED",
            "сеанс истёк: войдите снова",
            "сеанс аяқталды: қайта кіріңіз",
        ),
        Redeemed::Unknown => refused(
            "TICKET_INVALID",
            "такого билета нет: получите новый",
            "мұндай билет жоқ: жаңасын алыңыз",
        ),
    }
}

/// Server-sent events: one `application` event for each change of any of the citizen's
/// applications (sent, delivered, a new status), with its summary. The citizen is the
/// bearer token's, or the ticket's (`?ticket=`, [`tickets`]).
async fn events(
    State(core): S,
    headers: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(&e.body_text()))?;
    let iin = match q.ticket {
        Some(t) => ticket_holder(&core, &t).await?,
        None => citizen(&core, &headers).await?.iin,
    };
    let rx = tokio_stream::wrappers::BroadcastStream::new(core.changes.subscribe());
    let stream = rx
        .filter_map(move |m| m.ok().filter(|ch| ch.citizen_iin == iin))
        .then(move |ch| {
            let core = core.clone();
            async move {
                let app = applications::by_id(&core.pool, ch.application)
                    .await
                    .ok()??;
                let mut v = summary(&core, &app);
                v["change"] = json!(ch.kind);
                Some(Event::default().event("application").data(v.to_string()))
            }
        })
        .filter_map(|e| e.map(Ok));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    document: String,
    signature: String,
}

/// Checks any signed document (a result PDF and the provider's CMS over it): the
/// signature, the chain, the validity and revocation; no login needed.
async fn verify(
    State(core): S,
    headers: HeaderMap,
    body: Body<VerifyBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let b = body.parsed()?;
    let decode = |v: &str, what: &str| {
        B64.decode(v.trim()).map_err(|_| {
            ApiError::refused(
                "NOT_BASE64",
                format!("{what}: не base64"),
                format!("{what}: base64 емес"),
            )
        })
    };
    let document = decode(&b.document, "document")?;
    let signature = decode(&b.signature, "signature")?;
    let checked = core
        .verifier
        .verify_detached(
            &document,
            &signature,
            &egov_pki::VerifyOptions {
                usage: egov_pki::verify::Usage::Signing,
                require_revocation: true,
                // at the system's time (the stack's, where it is moved)
                at: Some(core.clock.now()),
                ..Default::default()
            },
        )
        .await;
    Ok(axum::Json(match checked {
        Ok(s) => json!({
            "valid": true,
            "signer": {
                "iin": s.identity.iin.map(|i| i.as_string()),
                "name": s.identity.common_name,
                "organization": s.identity.organization,
                "bin": s.identity.bin,
                "serial": s.cert.serial_hex,
            },
            "signing_time": rfc(Some(s.signing_time)),
            "revocation": s.revocation,
        }),
        Err(e) if e.is_transient() => {
            return Err(applications::sign_error(&e));
        }
        Err(e) => {
            let err = applications::sign_error(&e);
            json!({"valid": false, "reason": e.reason(), "code": err.code, "message": err.message(egov_system::api::lang(&headers))})
        }
    }))
}
