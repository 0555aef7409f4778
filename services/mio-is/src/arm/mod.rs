//! АРМ РШЭП: the employees' workstation. A JSON API under `/api/v1` (documented in
//! `services/mio-is/openapi.json`, served at `/api/openapi.json`) and a small
//! server-rendered web UI on the same port. Both authenticate an employee by IIN and
//! password; the API with `Authorization: Bearer <token>`, the UI with a session cookie.

pub mod api;
pub mod i18n;
pub mod ui;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use egov_contracts::gbd_fl::{PersonAnswer, PersonRequest};
use egov_contracts::mio::{
    Applicant, ApplicationDocument, Attachment, Operator, Submission, services,
};
use egov_contracts::{ErrorBody, Purpose};
use egov_proto::shep::v1::MessageType;
use egov_regulation::Regulation;
use egov_shep_client::Client;

use crate::employees::{self, Employee};
use crate::engine::{Engine, Error};
use crate::store::Channel;

/// The session cookie of the web UI.
pub const COOKIE: &str = "arm_session";

/// The АРМ's state.
#[derive(Clone)]
pub struct Arm {
    /// The engine.
    pub engine: Engine,
    /// The gateway (ГБД ФЛ look-ups, channel B submissions).
    pub client: Client,
    /// The region (routeId of this ИС МИО).
    pub region: String,
    /// How long a login lasts.
    pub session_lifetime: time::Duration,
}

/// An API error: an HTTP status, a stable code and a human message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// 401.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "log in first (IIN and password)",
        )
    }

    /// 400 for a body that does not parse.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Db(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &e {
            Error::Db(_) | Error::Internal(_) => {
                tracing::error!(error = %e, "АРМ request failed");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        ApiError::new(status, e.code(), message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

/// A person found in ГБД ФЛ, or why not (C-person).
pub enum Lookup {
    /// Found (alive).
    Found(Box<egov_contracts::gbd_fl::Person>),
    /// Not found, cancelled, deceased, or an invalid IIN.
    Refused(ErrorBody),
}

/// What an employee enters for channel B.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// The regulation (default: the one in force for the employee's provider).
    #[serde(default)]
    pub regulation: Option<String>,
    /// The applicant's IIN (looked up in ГБД ФЛ again).
    pub iin: String,
    /// Category.
    pub category: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Address of residence (default: the registered address from ГБД ФЛ).
    #[serde(default)]
    pub address: Option<String>,
    /// Other fields of the form.
    #[serde(default)]
    pub form: serde_json::Map<String, serde_json::Value>,
    /// The documents: paper originals marked, scans attached.
    #[serde(default)]
    pub documents: Vec<Attachment>,
}

/// The result of a channel B submission.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Submitted {
    /// The messageId of the submission.
    pub message_id: String,
    /// The application, once registered.
    pub application: Option<crate::store::Application>,
    /// The rejection, if it was rejected.
    pub rejection: Option<egov_contracts::mio::Reason>,
}

impl Arm {
    /// The employee of the request (Bearer token or session cookie).
    pub async fn employee(&self, headers: &HeaderMap) -> Result<Employee, ApiError> {
        let token = bearer_token(headers)
            .or_else(|| cookie_token(headers))
            .ok_or_else(ApiError::unauthorized)?;
        employees::session(&self.engine.pool, &token, self.engine.clock.now())
            .await?
            .ok_or_else(ApiError::unauthorized)
    }

    /// The regulations the employee's provider runs.
    pub fn regulation_for(
        &self,
        who: &Employee,
        named: Option<&str>,
    ) -> Result<Arc<Regulation>, ApiError> {
        let regs = self.engine.catalog.of_provider(&who.provider_id);
        let reg = match named {
            Some(id) => regs.into_iter().find(|r| r.id == id),
            None => regs.into_iter().max_by_key(|r| r.in_force_from),
        };
        reg.cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNKNOWN_REGULATION",
                format!("no such regulation for provider {}", who.provider_id),
            )
        })
    }

    /// C-person: asks ГБД ФЛ through the gateway for the applicant, on behalf of the
    /// employee.
    pub async fn lookup(
        &self,
        who: &Employee,
        iin: &str,
        service: &str,
    ) -> Result<Lookup, ApiError> {
        let body = PersonRequest {
            iin: iin.trim().to_string(),
            purpose: Purpose {
                service: Some(service.to_string()),
                application: None,
                requester_iin: Some(who.iin.clone()),
            },
            fields: None,
        };
        let reply = self
            .client
            .call(
                egov_contracts::gbd_fl::services::PERSON_GET,
                "",
                "",
                serde_json::to_vec(&body).expect("serializes"),
            )
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "GATEWAY_UNAVAILABLE",
                    format!("ГБД ФЛ could not be asked: {e}"),
                )
            })?;
        if reply.is_success() {
            let a: PersonAnswer = serde_json::from_slice(&reply.payload).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "BAD_ANSWER",
                    format!("ГБД ФЛ answered: {e}"),
                )
            })?;
            if a.person.status == egov_contracts::gbd_fl::PersonStatus::Deceased {
                return Ok(Lookup::Refused(ErrorBody {
                    code: "PERSON_DECEASED".into(),
                    message: format!("по данным ГБД ФЛ лицо с ИИН {iin} умерло"),
                    details: Default::default(),
                }));
            }
            return Ok(Lookup::Found(Box::new(a.person)));
        }
        match serde_json::from_slice::<ErrorBody>(&reply.payload) {
            Ok(e) if reply.code() == egov_shep_client::codes::BUSINESS_ERROR => {
                Ok(Lookup::Refused(e))
            }
            _ => Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "GATEWAY_REFUSED",
                format!(
                    "{}: {}",
                    reply.code(),
                    reply
                        .info
                        .status
                        .clone()
                        .map(|s| s.message)
                        .unwrap_or_default()
                ),
            )),
        }
    }

    /// Channel B: builds the application from ГБД ФЛ's data and the employee's entries,
    /// signs it with the employee's key and sends it through the gateway to this ИС МИО's
    /// inbox; waits up to `wait` for its registration.
    pub async fn submit(
        &self,
        who: &Employee,
        n: NewApplication,
        wait: Duration,
    ) -> Result<Submitted, ApiError> {
        let reg = self.regulation_for(who, n.regulation.as_deref())?;
        if reg.channel(Channel::Provider.as_str()).is_none() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "WRONG_CHANNEL",
                format!(
                    "the regulation {} has no channel through the provider",
                    reg.id
                ),
            ));
        }
        let person = match self.lookup(who, &n.iin, &reg.service).await? {
            Lookup::Found(p) => p,
            Lookup::Refused(e) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &e.code,
                    e.message,
                ));
            }
        };
        let address = n.address.clone().or_else(|| {
            person.address.as_ref().map(|a| {
                let mut s = format!("{}, {}, {}, д. {}", a.region, a.locality, a.street, a.house);
                if let Some(f) = &a.flat {
                    s.push_str(&format!(", кв. {f}"));
                }
                s
            })
        });
        let now = self.engine.clock.now();
        let doc = ApplicationDocument {
            regulation: Some(reg.id.clone()),
            service: reg.service.clone(),
            provider: who.provider_id.clone(),
            channel: Channel::Provider.as_str().into(),
            applicant: Applicant {
                iin: person.iin.clone(),
                surname: person.surname.clone(),
                name: person.name.clone(),
                patronymic: person.patronymic.clone(),
                birth_date: person.birth_date.map(egov_contracts::date::format),
                phone: n.phone.clone(),
                email: n.email.clone(),
                address,
            },
            category: n.category.clone(),
            representative: None,
            poa: None,
            operator: Some(Operator {
                iin: who.iin.clone(),
                name: Some(who.full_name()),
                office: reg.provider(&who.provider_id).map(|p| p.name.ru.clone()),
            }),
            form: n.form.clone(),
            documents: n.documents.clone(),
            submitted_at: now,
        };
        // the same checks the intake makes, before anything is signed or sent
        crate::intake::check_form(&reg, &doc)
            .map_err(|r| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.code, r.message))?;
        let bytes = serde_json::to_vec(&doc).expect("serializes");
        let (key, cert) = employees::keys(&self.engine.pool, &who.iin)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e))?;
        let signature = egov_pki::cms::sign(&bytes, &key, &cert, &self.engine.chain, true, now)
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string())
            })?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = serde_json::to_vec(&Submission {
            document: b64.encode(&bytes),
            signature: b64.encode(&signature),
        })
        .expect("serializes");
        let info = self.client.signer().request_info(
            services::SUBMIT,
            MessageType::Request,
            &self.region,
            "",
        );
        let message_id = info.message_id.clone();
        let reply = self
            .client
            .send_async_with(info, payload)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "GATEWAY_UNAVAILABLE",
                    e.to_string(),
                )
            })?;
        if !reply.is_success() {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "GATEWAY_REFUSED",
                format!(
                    "{}: {}",
                    reply.code(),
                    reply
                        .info
                        .status
                        .clone()
                        .map(|s| s.message)
                        .unwrap_or_default()
                ),
            ));
        }
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(app) =
                crate::store::application_by_message(&self.engine.pool, &message_id).await?
            {
                return Ok(Submitted {
                    message_id,
                    application: Some(app),
                    rejection: None,
                });
            }
            let rejected: Option<(String, String)> =
                sqlx::query_as("select code, message from intake_rejections where message_id = $1")
                    .bind(&message_id)
                    .fetch_optional(&self.engine.pool)
                    .await?;
            if let Some((code, message)) = rejected {
                return Ok(Submitted {
                    message_id,
                    application: None,
                    rejection: Some(egov_contracts::mio::Reason { code, message }),
                });
            }
            if std::time::Instant::now() >= deadline {
                return Ok(Submitted {
                    message_id,
                    application: None,
                    rejection: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The АРМ's router: the API, the OpenAPI document and the web UI.
pub fn router(arm: Arc<Arm>) -> Router {
    Router::new()
        .merge(api::router())
        .merge(ui::router())
        .with_state(arm)
}
