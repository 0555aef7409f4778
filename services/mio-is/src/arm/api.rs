//! The АРМ's JSON API (`/api/v1`, described by `openapi.json`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use super::views;
use super::{ApiError, Arm, Lookup, NewApplication};
use crate::employees;
use crate::engine::Completion;
use crate::store;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

type S = State<Arc<Arm>>;

/// A JSON body whose rejection is an [`ApiError`] (400, naming the problem).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// The API's routes.
pub fn router() -> Router<Arc<Arm>> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/worklist", get(worklist))
        .route("/api/v1/tasks/{id}", get(task))
        .route("/api/v1/tasks/{id}/complete", post(complete))
        .route("/api/v1/tasks/{id}/sign-request", get(task_sign_request))
        .route("/api/v1/tasks/{id}/signature", post(task_signature))
        .route("/api/v1/persons/lookup", post(lookup))
        .route("/api/v1/applications", get(applications).post(submit))
        .route(
            "/api/v1/applications/sign-request",
            post(application_sign_request),
        )
        .route(
            "/api/v1/applications/signature",
            post(application_signature),
        )
        .route("/api/v1/applications/{key}", get(application))
        .route(
            "/api/v1/applications/{key}/attachments/{id}",
            get(attachment),
        )
        .route("/api/v1/applications/{key}/result.pdf", get(result_pdf))
        .route(
            "/api/v1/applications/{key}/result.p7s",
            get(result_signature),
        )
        .route("/api/v1/commission/meetings", get(meetings).post(schedule))
        .route("/api/v1/commission/meetings/{id}", get(meeting))
        .route(
            "/api/v1/commission/meetings/{id}/agenda",
            post(add_to_agenda),
        )
        .route("/api/v1/commission/meetings/{id}/decisions", post(decide))
        .route("/api/v1/commission/meetings/{id}/close", post(close))
        .route("/api/v1/queue", get(queue))
        .route("/api/v1/sla", get(sla))
}

/// The OpenAPI document as this АРМ serves it: [`OPENAPI`] with the regulations it takes
/// filled in, so that a request valid by the document is not refused for its regulation.
/// For a logged-in employee (Bearer token or cookie), those they may name: the
/// regulations they take channel B applications under (`NewApplication.regulation`) and
/// their provider's (`LookupRequest.regulation`); else every one of this ИС МИО that
/// has the `provider` channel, and every one.
pub fn document(catalog: &crate::catalog::Catalog, who: Option<&employees::Employee>) -> Value {
    let mut doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
    let mut all: Vec<String> = Vec::new();
    for (_, regs) in catalog.providers() {
        for r in regs {
            if !all.contains(&r.id) {
                all.push(r.id.clone());
            }
        }
    }
    let (channel_b, lookup): (Vec<String>, Vec<String>) = match who {
        Some(w) => (
            views::menu(catalog, w)
                .channel_b
                .iter()
                .map(|r| r.id.clone())
                .collect(),
            catalog
                .of_provider(&w.provider_id)
                .iter()
                .map(|r| r.id.clone())
                .collect(),
        ),
        None => (
            all.iter()
                .filter(|id| {
                    catalog
                        .get(id)
                        .is_some_and(|r| r.channel(store::Channel::Provider.as_str()).is_some())
                })
                .cloned()
                .collect(),
            all.clone(),
        ),
    };
    let schemas = &mut doc["components"]["schemas"];
    for (schema, ids) in [("NewApplication", channel_b), ("LookupRequest", lookup)] {
        let mut values: Vec<Value> = ids.into_iter().map(Value::String).collect();
        values.push(Value::Null);
        schemas[schema]["properties"]["regulation"]["enum"] = Value::Array(values);
    }
    doc
}

async fn openapi(State(arm): S, headers: HeaderMap) -> Response {
    let who = arm.employee(&headers).await.ok();
    let doc = document(&arm.engine.catalog, who.as_ref());
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string_pretty(&doc).expect("serializes"),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    iin: String,
    password: String,
}

async fn login(State(arm): S, Body(l): Body<Login>) -> Result<axum::Json<Value>, ApiError> {
    if egov_iin::Iin::parse(l.iin.trim()).is_err() {
        return Err(ApiError::InvalidIin(format!(
            "{:?} is not a valid IIN",
            l.iin
        )));
    }
    match employees::login(
        &arm.engine.pool,
        l.iin.trim(),
        &l.password,
        arm.engine.clock.now(),
        arm.session_lifetime,
    )
    .await?
    {
        employees::Login::Ok(token, employee) => {
            Ok(axum::Json(json!({"token": token, "employee": employee})))
        }
        employees::Login::Refused => Err(ApiError::InvalidCredentials),
        employees::Login::Throttled { until } => Err(ApiError::TooManyAttempts {
            retry_after: (until - arm.engine.clock.now()).whole_seconds().max(1),
        }),
    }
}

async fn logout(State(arm): S, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    arm.employee(&headers).await?;
    if let Some(t) = super::bearer_token(&headers).or_else(|| super::cookie_token(&headers)) {
        employees::logout(&arm.engine.pool, &t).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(arm): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let regs: Vec<Value> = arm
        .engine
        .catalog
        .of_provider(&who.provider_id)
        .into_iter()
        .map(|r| json!({"id": r.id, "service": r.service, "title": r.service_name.ru, "channels": r.channels.iter().map(|c| c.id.clone()).collect::<Vec<_>>()}))
        .collect();
    Ok(axum::Json(json!({"employee": who, "regulations": regs})))
}

async fn worklist(State(arm): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let tasks = views::worklist(&arm.engine, &who, "ru").await?;
    Ok(axum::Json(json!({"tasks": tasks})))
}

async fn task(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<axum::Json<views::TaskDetail>, ApiError> {
    let who = arm.employee(&headers).await?;
    Ok(axum::Json(views::task(&arm.engine, &who, id, "ru").await?))
}

async fn complete(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Body(c): Body<Completion>,
) -> Result<axum::Json<views::ApplicationView>, ApiError> {
    let who = arm.employee(&headers).await?;
    let app = arm.engine.complete(id, &who, c).await?;
    Ok(axum::Json(
        views::application(&arm.engine, app, "ru").await?,
    ))
}

/// Bytes handed out for signing on the employee's client.
fn sign_request_answer(
    id: Uuid,
    bytes: &[u8],
    media_type: &str,
    expires: time::OffsetDateTime,
) -> Value {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    json!({
        "request": id,
        "media_type": media_type,
        "bytes": base64::engine::general_purpose::STANDARD.encode(bytes),
        "digest": {"algorithm": "SHA-256", "value": hex::encode(digest.as_ref())},
        "expires_at": expires.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}

async fn task_sign_request(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let (request, pdf, expires) = arm.engine.sign_request(id, &who).await?;
    Ok(axum::Json(sign_request_answer(
        request,
        &pdf,
        "application/pdf",
        expires,
    )))
}

/// A detached CMS signature over the bytes of a sign request.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureBody {
    request: Uuid,
    signature: String,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn decode_signature(b64: &str) -> Result<Vec<u8>, ApiError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| ApiError::SignatureMalformed(format!("the signature is not base64: {e}")))
}

async fn task_signature(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Body(b): Body<SignatureBody>,
) -> Result<axum::Json<views::ApplicationView>, ApiError> {
    let who = arm.employee(&headers).await?;
    let bytes = arm.sign_request_bytes(&who, b.request, Some(id)).await?;
    let signature = decode_signature(&b.signature)?;
    arm.check_client_signature(&who, &bytes, &signature).await?;
    let c = Completion {
        outcome: b.outcome,
        note: b.note,
        signed: Some(crate::engine::ClientSigned { bytes, signature }),
        ..Default::default()
    };
    let app = arm.engine.complete(id, &who, c).await?;
    arm.drop_sign_request(b.request).await?;
    Ok(axum::Json(
        views::application(&arm.engine, app, "ru").await?,
    ))
}

async fn application_sign_request(
    State(arm): S,
    headers: HeaderMap,
    Body(n): Body<NewApplication>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let bytes = arm.prepare(&who, n).await?;
    let (request, expires) = arm.keep_sign_request(&who, &bytes).await?;
    Ok(axum::Json(sign_request_answer(
        request,
        &bytes,
        "application/json",
        expires,
    )))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationSignatureBody {
    request: Uuid,
    signature: String,
}

async fn application_signature(
    State(arm): S,
    headers: HeaderMap,
    Body(b): Body<ApplicationSignatureBody>,
) -> Result<Response, ApiError> {
    let who = arm.employee(&headers).await?;
    let bytes = arm.sign_request_bytes(&who, b.request, None).await?;
    let signature = decode_signature(&b.signature)?;
    arm.check_client_signature(&who, &bytes, &signature).await?;
    // one application per request: a second signature of the same bytes finds none
    arm.drop_sign_request(b.request).await?;
    let s = arm
        .send_signed(bytes, signature, Duration::from_secs(15))
        .await?;
    submitted(&arm, s).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupBody {
    iin: String,
    #[serde(default)]
    regulation: Option<String>,
}

async fn lookup(
    State(arm): S,
    headers: HeaderMap,
    Body(b): Body<LookupBody>,
) -> Result<Response, ApiError> {
    let who = arm.employee(&headers).await?;
    let reg = arm.regulation_for(&who, b.regulation.as_deref())?;
    arm.may_look_up(&who, &b.iin).await?;
    match arm.lookup(&who, &b.iin, &reg.service).await? {
        Lookup::Found(p) => {
            Ok(axum::Json(json!({"person": p, "regulation": reg.id})).into_response())
        }
        Lookup::Refused(e) => Err(ApiError::lookup_refused(e)),
    }
}

async fn submit(
    State(arm): S,
    headers: HeaderMap,
    Body(n): Body<NewApplication>,
) -> Result<Response, ApiError> {
    let who = arm.employee(&headers).await?;
    let s = arm.submit(&who, n, Duration::from_secs(15)).await?;
    submitted(&arm, s).await
}

/// The answer to a channel B submission: the registered application (201), the
/// rejection (422), or 202 while it is on its way.
async fn submitted(arm: &Arm, s: super::Submitted) -> Result<Response, ApiError> {
    match (&s.application, &s.rejection) {
        (Some(app), _) => {
            let view = views::application(&arm.engine, app.clone(), "ru").await?;
            Ok((StatusCode::CREATED, axum::Json(view)).into_response())
        }
        (None, Some(r)) => Err(ApiError::Refused {
            code: r.code.clone(),
            message: r.message.clone(),
        }),
        (None, None) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"message_id": s.message_id, "status": "submitted"})),
        )
            .into_response()),
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
    category: Option<String>,
}

async fn applications(
    State(arm): S,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid("limit must be 1 to 1000".into()));
    }
    let status = match &q.status {
        Some(s) => match egov_regulation::Status::parse(s) {
            Some(s) => Some(s),
            None => return Err(ApiError::Invalid(format!("unknown status {s:?}"))),
        },
        None => None,
    };
    let list = views::applications(&arm.engine.pool, &who.provider_id, status, limit).await?;
    Ok(axum::Json(json!({"applications": list})))
}

async fn own_application(
    arm: &Arm,
    headers: &HeaderMap,
    key: &str,
) -> Result<store::Application, ApiError> {
    let who = arm.employee(headers).await?;
    let app = store::application(&arm.engine.pool, key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no application {key}")))?;
    if app.provider_id != who.provider_id {
        return Err(ApiError::Forbidden(
            "the application is another provider's".into(),
        ));
    }
    Ok(app)
}

async fn application(
    State(arm): S,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<axum::Json<views::ApplicationView>, ApiError> {
    let app = own_application(&arm, &headers, &key).await?;
    Ok(axum::Json(
        views::application(&arm.engine, app, "ru").await?,
    ))
}

async fn attachment(
    State(arm): S,
    headers: HeaderMap,
    Path((key, id)): Path<(String, Uuid)>,
) -> Result<Response, ApiError> {
    let app = own_application(&arm, &headers, &key).await?;
    let row: Option<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
        "select name, media_type, content from attachments where id = $1 and application_id = $2",
    )
    .bind(id)
    .bind(app.id)
    .fetch_optional(&arm.engine.pool)
    .await?;
    match row {
        Some((name, media, Some(content))) => Ok((
            [
                (header::CONTENT_TYPE, media),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", name.replace('"', "")),
                ),
            ],
            content,
        )
            .into_response()),
        Some((_, _, None)) => Err(ApiError::NotFound(
            "only the paper original was presented; there is no scan".into(),
        )),
        None => Err(ApiError::NotFound("no such attachment".into())),
    }
}

async fn result_bytes(
    arm: &Arm,
    headers: &HeaderMap,
    key: &str,
    signature: bool,
) -> Result<Response, ApiError> {
    let app = own_application(arm, headers, key).await?;
    let row: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
        "select pdf, signature from results where application_id = $1 order by drafted_at desc limit 1",
    )
    .bind(app.id)
    .fetch_optional(&arm.engine.pool)
    .await?;
    let (pdf, sig) = row.ok_or_else(|| ApiError::NotFound("no result document yet".into()))?;
    if signature {
        let sig = sig.ok_or_else(|| ApiError::NotFound("the result is not signed yet".into()))?;
        Ok(([(header::CONTENT_TYPE, "application/pkcs7-signature")], sig).into_response())
    } else {
        Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
    }
}

async fn result_pdf(
    State(arm): S,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    result_bytes(&arm, &headers, &key, false).await
}

async fn result_signature(
    State(arm): S,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    result_bytes(&arm, &headers, &key, true).await
}

async fn meetings(State(arm): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let m = crate::commission::meetings(&arm.engine.pool, &who.provider_id).await?;
    let waiting = crate::commission::waiting(&arm.engine.pool, &who.provider_id).await?;
    let waiting: Vec<Value> = waiting
        .into_iter()
        .map(|a| json!({"id": a.id, "number": a.number, "applicant_name": a.applicant_name, "category": a.category}))
        .collect();
    Ok(axum::Json(json!({"meetings": m, "waiting": waiting})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Schedule {
    #[serde(with = "egov_contracts::date")]
    date: time::Date,
}

async fn schedule(
    State(arm): S,
    headers: HeaderMap,
    Body(b): Body<Schedule>,
) -> Result<Response, ApiError> {
    let who = arm.employee(&headers).await?;
    let m = arm.engine.schedule_meeting(&who, b.date).await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

async fn meeting(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let m = crate::commission::meeting(&arm.engine.pool, id)
        .await?
        .filter(|m| m.provider_id == who.provider_id)
        .ok_or_else(|| ApiError::NotFound(format!("no meeting {id}")))?;
    let agenda = crate::commission::agenda(&arm.engine.pool, id).await?;
    Ok(axum::Json(json!({"meeting": m, "agenda": agenda})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgendaBody {
    application: String,
}

async fn add_to_agenda(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Body(b): Body<AgendaBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let agenda = arm.engine.add_to_agenda(&who, id, &b.application).await?;
    Ok(axum::Json(json!({"agenda": agenda})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    application: String,
    decision: String,
    #[serde(default)]
    grounds: Vec<String>,
    #[serde(default, deserialize_with = "crate::engine::whole_number")]
    amount: Option<i64>,
    #[serde(default)]
    note: Option<String>,
}

async fn decide(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Body(b): Body<DecisionBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let agenda = arm
        .engine
        .decide(
            &who,
            id,
            &b.application,
            &b.decision,
            &b.grounds,
            b.amount,
            b.note.as_deref(),
        )
        .await?;
    Ok(axum::Json(json!({"agenda": agenda})))
}

async fn close(
    State(arm): S,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let m = arm.engine.close_protocol(&who, id).await?;
    let agenda = crate::commission::agenda(&arm.engine.pool, id).await?;
    Ok(axum::Json(json!({"meeting": m, "agenda": agenda})))
}

async fn queue(
    State(arm): S,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let entries = views::queue(&arm.engine.pool, &who.provider_id, q.category.as_deref()).await?;
    Ok(axum::Json(
        json!({"provider": who.provider_id, "entries": entries}),
    ))
}

async fn sla(State(arm): S, headers: HeaderMap) -> Result<axum::Json<Value>, ApiError> {
    let who = arm.employee(&headers).await?;
    let tasks = views::overdue(&arm.engine, &who.provider_id).await?;
    Ok(axum::Json(json!({"overdue": tasks})))
}
