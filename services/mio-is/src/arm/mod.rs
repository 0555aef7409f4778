//! АРМ РШЭП: the employees' workstation. A JSON API under `/api/v1` (documented in
//! `services/mio-is/openapi.json`, served at `/api/openapi.json`) and a small
//! server-rendered web UI on the same port. Both authenticate an employee by IIN and
//! password; the API with `Authorization: Bearer <token>`, the UI with a session cookie.

pub mod api;
pub mod i18n;
pub mod ui;
pub mod views;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use egov_contracts::gbd_fl::{self, PersonAnswer, PersonRequest};
use egov_contracts::mio::{
    Applicant, ApplicationDocument, Attachment, Operator, Submission, services,
};
use egov_contracts::{ErrorBody, Purpose};
use egov_proto::shep::v1::MessageType;
use egov_regulation::Regulation;
use egov_shep_client::{Client, Reply};

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
    /// The regional gateway's message log, read-only, when configured: the journey page.
    pub journal: Option<egov_journal::Journal>,
    /// The gateway (ГБД ФЛ look-ups, channel B submissions).
    pub client: Client,
    /// The region (routeId of this ИС МИО).
    pub region: String,
    /// How long a login lasts.
    pub session_lifetime: time::Duration,
    /// The АРМ's public URL when configured: the one origin its forms may be posted
    /// from, and `https` makes its cookies `Secure`. Unset: the request's own `Host` over
    /// plain HTTP.
    pub public_url: egov_pages::PublicUrl,
}

impl Arm {
    /// ` ; Secure` when the cookies travel over TLS only (the public URL is https).
    pub fn cookie_flags(&self) -> &'static str {
        self.public_url.cookie_flags()
    }

    /// Whether a request comes from the АРМ's own pages
    /// ([`egov_accounts::web::same_origin`] with the public URL).
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        egov_accounts::web::same_origin(headers, self.public_url.origin())
    }
}

/// An error of the АРМ, for the API and the web UI alike: what went wrong, with its
/// message. Its stable code and its HTTP status follow from the variant here and nowhere
/// else; the API answers `{"error": {"code", "message"}}` ([`IntoResponse`]), the UI an
/// error page with the code.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `BAD_REQUEST`: a body that does not parse.
    BadRequest(String),
    /// 401 `UNAUTHORIZED`: no live session.
    Unauthorized,
    /// 401 `INVALID_CREDENTIALS`: wrong IIN or password.
    InvalidCredentials,
    /// 403 `FORBIDDEN`: another role's, another provider's.
    Forbidden(String),
    /// 404 `NOT_FOUND`.
    NotFound(String),
    /// 409 `CONFLICT`: the state does not allow it.
    Conflict(String),
    /// 422 `INVALID`: the input is not acceptable.
    Invalid(String),
    /// 422 `INVALID_IIN`: the login's IIN is not one.
    InvalidIin(String),
    /// 422 `UNKNOWN_REGULATION`: the provider runs no such regulation.
    UnknownRegulation(String),
    /// 422 `WRONG_CHANNEL`: the regulation takes no applications at the provider's desk.
    WrongChannel(String),
    /// 422 under the code of the check that refused: the intake's (`INVALID_FORM`, ...)
    /// for an application, ГБД ФЛ's for its applicant or for a look-up's question.
    Refused {
        /// The code of the check.
        code: String,
        /// Its message.
        message: String,
    },
    /// 404 under ГБД ФЛ's code (`PERSON_NOT_FOUND`, `IIN_CANCELLED`, ...): it has no
    /// living person of the IIN looked up.
    PersonNotFound {
        /// ГБД ФЛ's code.
        code: String,
        /// Its message.
        message: String,
    },
    /// 429 `TOO_MANY_ATTEMPTS`: failed logins lock the account's logins for `retry_after`
    /// seconds (the `Retry-After` header).
    TooManyAttempts {
        /// Seconds until the next login is checked.
        retry_after: i64,
    },
    /// 409 `SIGN_ON_CLIENT`: the server holds no signing keys (the keystore is a
    /// development option); the employee signs on their own client.
    SignOnClient(String),
    /// 404 `SIGN_REQUEST_NOT_FOUND`: no bytes were handed out to this employee under that
    /// id for this task (or they expired).
    SignRequestNotFound(String),
    /// A client's signature refused, under the code of the check that failed
    /// ([`signature_code`]): 422, or 503 `CERT_STATUS_UNKNOWN` when the certificate's
    /// revocation status cannot be had now (ask again later).
    Signature(egov_pki::VerifyError),
    /// 422 `SIGNATURE_MALFORMED`: the signature is not base64 or not CMS.
    SignatureMalformed(String),
    /// 403 `PERSON_NOT_IN_APPLICATIONS`: a look-up of a person who is neither the
    /// applicant nor the representative of an application of the employee's provider.
    PersonNotInApplications,
    /// 403 `CSRF_TOKEN`: a form posted without the session's CSRF token.
    CsrfToken,
    /// 403 `FOREIGN_ORIGIN`: a form posted from another site (its `Origin` or `Referer`).
    ForeignOrigin,
    /// 502 `GATEWAY_UNAVAILABLE`: the gateway could not be asked.
    GatewayUnavailable(String),
    /// 502 `GATEWAY_REFUSED`: the gateway refused the request.
    GatewayRefused(String),
    /// 502 `BAD_ANSWER`: ГБД ФЛ's answer does not parse.
    BadAnswer(String),
    /// 500 `INTERNAL`: the database or something that should not happen failed. Made by
    /// [`ApiError::internal`], which logs the cause; the answer never shows it.
    Internal,
}

impl ApiError {
    /// 500: logs `cause` and answers `internal error`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %crate::mask::text(&cause.to_string()), "АРМ request failed");
        ApiError::Internal
    }

    /// ГБД ФЛ's refusal of a look-up: the IIN or the question is invalid (422), else it
    /// has no living person of the IIN (404); under ГБД ФЛ's code either way.
    pub fn lookup_refused(e: ErrorBody) -> Self {
        let ErrorBody { code, message, .. } = e;
        if code == gbd_fl::errors::INVALID_IIN || code == gbd_fl::errors::INVALID_REQUEST {
            ApiError::Refused { code, message }
        } else {
            ApiError::PersonNotFound { code, message }
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::CsrfToken
            | ApiError::ForeignOrigin
            | ApiError::PersonNotInApplications => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::PersonNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_)
            | ApiError::InvalidIin(_)
            | ApiError::UnknownRegulation(_)
            | ApiError::WrongChannel(_)
            | ApiError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::SignOnClient(_) => StatusCode::CONFLICT,
            ApiError::SignRequestNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Signature(e) if signature_code(e) == "CERT_STATUS_UNKNOWN" => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Signature(_) | ApiError::SignatureMalformed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::GatewayUnavailable(_)
            | ApiError::GatewayRefused(_)
            | ApiError::BadAnswer(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::Unauthorized => "UNAUTHORIZED",
            ApiError::InvalidCredentials => "INVALID_CREDENTIALS",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::CsrfToken => "CSRF_TOKEN",
            ApiError::PersonNotInApplications => "PERSON_NOT_IN_APPLICATIONS",
            ApiError::ForeignOrigin => "FOREIGN_ORIGIN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Invalid(_) => "INVALID",
            ApiError::InvalidIin(_) => "INVALID_IIN",
            ApiError::UnknownRegulation(_) => "UNKNOWN_REGULATION",
            ApiError::WrongChannel(_) => "WRONG_CHANNEL",
            ApiError::Refused { code, .. } | ApiError::PersonNotFound { code, .. } => code,
            ApiError::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            ApiError::SignOnClient(_) => "SIGN_ON_CLIENT",
            ApiError::SignRequestNotFound(_) => "SIGN_REQUEST_NOT_FOUND",
            ApiError::Signature(e) => signature_code(e),
            ApiError::SignatureMalformed(_) => "SIGNATURE_MALFORMED",
            ApiError::GatewayUnavailable(_) => "GATEWAY_UNAVAILABLE",
            ApiError::GatewayRefused(_) => "GATEWAY_REFUSED",
            ApiError::BadAnswer(_) => "BAD_ANSWER",
            ApiError::Internal => "INTERNAL",
        }
    }

    /// The human message.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Invalid(m)
            | ApiError::InvalidIin(m)
            | ApiError::UnknownRegulation(m)
            | ApiError::WrongChannel(m)
            | ApiError::GatewayUnavailable(m)
            | ApiError::GatewayRefused(m)
            | ApiError::BadAnswer(m)
            | ApiError::SignOnClient(m)
            | ApiError::SignRequestNotFound(m)
            | ApiError::SignatureMalformed(m)
            | ApiError::Refused { message: m, .. }
            | ApiError::PersonNotFound { message: m, .. } => Cow::Borrowed(m),
            ApiError::Unauthorized => "log in first (IIN and password)".into(),
            ApiError::InvalidCredentials => "wrong IIN or password".into(),
            ApiError::TooManyAttempts { retry_after } => {
                format!("too many failed logins; try again in {retry_after} s").into()
            }
            ApiError::Signature(e) => e.to_string().into(),
            ApiError::PersonNotInApplications => "a person is looked up only for an application of your provider (its applicant or representative); a new applicant is looked up by the channel B submission itself".into(),
            ApiError::CsrfToken => "the form's CSRF token is missing or not this session's".into(),
            ApiError::ForeignOrigin => "the form was posted from another site".into(),
            ApiError::Internal => "internal error".into(),
        }
    }
}

/// The code of each check a client's signature can fail: a signature over other bytes,
/// a certificate not of the test PKI, expired or not yet valid at the server's clock,
/// revoked, of unknown status, without signing key usage, or of another person.
pub fn signature_code(e: &egov_pki::VerifyError) -> &'static str {
    e.client_code("SIGNER_NOT_EMPLOYEE")
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => ApiError::NotFound(m),
            Error::Forbidden(m) => ApiError::Forbidden(m),
            Error::Conflict(m) => ApiError::Conflict(m),
            Error::Invalid(m) => ApiError::Invalid(m),
            Error::SignOnClient(m) => ApiError::SignOnClient(m),
            e @ (Error::Db(_) | Error::Internal(_)) => ApiError::internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code(), "message": self.message()}});
        let mut r = (self.status(), axum::Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after } = self {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(retry_after),
            );
        }
        r
    }
}

/// 502: the gateway answered a request with something other than success or a
/// business refusal; its code and status message.
fn gateway_refused(reply: &Reply) -> ApiError {
    ApiError::GatewayRefused(format!(
        "{}: {}",
        reply.code(),
        reply
            .info
            .status
            .clone()
            .map(|s| s.message)
            .unwrap_or_default()
    ))
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    egov_accounts::web::cookie(headers, COOKIE)
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
            .ok_or(ApiError::Unauthorized)?;
        employees::session(&self.engine.pool, &token, self.engine.clock.now())
            .await?
            .ok_or(ApiError::Unauthorized)
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
            ApiError::UnknownRegulation(format!(
                "no such regulation for provider {}",
                who.provider_id
            ))
        })
    }

    /// The regulation `who` takes a channel B application under (the one `named`, else
    /// the latest of those offered), by the same rule for the API and the web UI: the
    /// regulation has the `provider` channel (else 422 `WRONG_CHANNEL`), and the lanes of
    /// its employee steps name the employee's role or name no role of the regulation
    /// (else 403 `FORBIDDEN`; [`views::menu`]).
    pub fn channel_b_regulation(
        &self,
        who: &Employee,
        named: Option<&str>,
    ) -> Result<Arc<Regulation>, ApiError> {
        let menu = views::menu(&self.engine.catalog, who);
        if !menu.provider_channel {
            return Err(ApiError::WrongChannel(
                "the regulations of this provider take no applications through the provider".into(),
            ));
        }
        let refused = || {
            ApiError::Forbidden(format!(
                "the role {} takes no applications through the provider (channel B)",
                who.role
            ))
        };
        let reg = match named {
            // no regulation named: the latest of those offered
            None => menu
                .channel_b
                .iter()
                .max_by_key(|r| r.in_force_from)
                .cloned()
                .ok_or_else(refused)?,
            Some(id) => self.regulation_for(who, Some(id))?,
        };
        if menu.channel_b.iter().any(|r| r.id == reg.id) {
            Ok(reg)
        } else if reg.channel(Channel::Provider.as_str()).is_some() {
            Err(refused())
        } else {
            Err(ApiError::WrongChannel(format!(
                "the regulation {} has no channel through the provider",
                reg.id
            )))
        }
    }

    /// Whether `who` may look up the person of `iin` on its own: only the applicant or
    /// the representative of an application of the employee's provider (else 403
    /// `PERSON_NOT_IN_APPLICATIONS`, whatever the IIN). A new applicant at the desk is
    /// looked up by the channel B submission itself, for that application.
    pub async fn may_look_up(&self, who: &Employee, iin: &str) -> Result<(), ApiError> {
        let iin = iin.trim();
        if egov_iin::Iin::parse(iin).is_err() {
            return Err(ApiError::PersonNotInApplications);
        }
        let known: bool = sqlx::query_scalar(
            "select exists (select 1 from applications where provider_id = $1 and (applicant_iin = $2 or representative_iin = $2))",
        )
        .bind(&who.provider_id)
        .bind(iin)
        .fetch_one(&self.engine.pool)
        .await?;
        if known {
            Ok(())
        } else {
            Err(ApiError::PersonNotInApplications)
        }
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
            .map_err(|e| ApiError::GatewayUnavailable(format!("ГБД ФЛ could not be asked: {e}")))?;
        if reply.is_success() {
            let a: PersonAnswer = serde_json::from_slice(&reply.payload)
                .map_err(|e| ApiError::BadAnswer(format!("ГБД ФЛ answered: {e}")))?;
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
            _ => Err(gateway_refused(&reply)),
        }
    }

    /// Channel B with the server-held keys (a development option): builds the
    /// application ([`Arm::prepare`]), signs it with the employee's key and sends it
    /// ([`Arm::send_signed`]).
    pub async fn submit(
        &self,
        who: &Employee,
        n: NewApplication,
        wait: Duration,
    ) -> Result<Submitted, ApiError> {
        if !self.engine.server_keystore {
            return Err(ApiError::SignOnClient(
                "the server holds no signing keys: sign the application on your own client (POST /api/v1/applications/sign-request, then /api/v1/applications/signature)".into(),
            ));
        }
        // the application's trace begins at the employee's desk: the C-person request,
        // the signature and the send
        let span = tracing::info_span!(
            "arm.submit",
            egov.sfe = crate::LANE,
            egov.regulation = n.regulation.as_deref().unwrap_or(""),
            egov.step = "submit",
        );
        tracing::Instrument::instrument(
            async move {
                let bytes = self.prepare(who, n).await?;
                let now = self.engine.clock.now();
                let (key, cert) =
                    employees::keys(&self.engine.pool, &self.engine.keystore, &who.iin)
                        .await
                        .map_err(ApiError::internal)?;
                let signature =
                    egov_pki::cms::sign(&bytes, &key, &cert, &self.engine.chain, true, now)
                        .map_err(ApiError::internal)?;
                self.send_signed(bytes, signature, wait).await
            },
            span,
        )
        .await
    }

    /// Channel B: builds the application document from ГБД ФЛ's data and the employee's
    /// entries and makes the intake's form checks: the bytes to sign.
    pub async fn prepare(&self, who: &Employee, n: NewApplication) -> Result<Vec<u8>, ApiError> {
        let reg = self.channel_b_regulation(who, n.regulation.as_deref())?;
        let person = match self.lookup(who, &n.iin, &reg.service).await? {
            Lookup::Found(p) => p,
            Lookup::Refused(e) => {
                return Err(ApiError::Refused {
                    code: e.code,
                    message: e.message,
                });
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
        crate::intake::check_form(&reg, &doc).map_err(|r| ApiError::Refused {
            code: r.code.into(),
            message: r.message,
        })?;
        Ok(serde_json::to_vec(&doc).expect("serializes"))
    }

    /// Checks a detached CMS signature an employee made on their own client over `bytes`
    /// (handed out by the АРМ): the chain to the test PKI's root, validity at the
    /// server's clock, revocation (OCSP or the CRL; an unknown status refuses), signing
    /// key usage, and the certificate's IIN is the employee's. Each failure under its own
    /// code ([`signature_code`]).
    pub async fn check_client_signature(
        &self,
        who: &Employee,
        bytes: &[u8],
        signature: &[u8],
    ) -> Result<(), ApiError> {
        let expected = egov_iin::Iin::parse(&who.iin).map_err(ApiError::internal)?;
        self.engine
            .verifier
            .verify_detached(
                bytes,
                signature,
                &egov_pki::VerifyOptions {
                    expected_iin: Some(expected),
                    at: Some(self.engine.clock.now()),
                    require_revocation: true,
                    usage: egov_pki::verify::Usage::Signing,
                },
            )
            .await
            .map(|_| ())
            .map_err(ApiError::Signature)
    }

    /// Keeps `bytes` as a sign request of `who` (for task `run_id`, or a channel B
    /// application when none) for [`crate::engine::SIGN_REQUEST_LIFETIME`].
    pub async fn keep_sign_request(
        &self,
        who: &Employee,
        bytes: &[u8],
    ) -> Result<(uuid::Uuid, time::OffsetDateTime), ApiError> {
        let now = self.engine.clock.now();
        let id = uuid::Uuid::new_v4();
        let expires = now + crate::engine::SIGN_REQUEST_LIFETIME;
        crate::engine::forget_expired_sign_requests(&self.engine.pool, now).await?;
        sqlx::query(
            "insert into sign_requests (id, employee_iin, run_id, bytes, created_at, expires_at) values ($1, $2, null, $3, $4, $5)",
        )
        .bind(id)
        .bind(&who.iin)
        .bind(bytes)
        .bind(now)
        .bind(expires)
        .execute(&self.engine.pool)
        .await?;
        Ok((id, expires))
    }

    /// The bytes of sign request `id` handed out to `who` for task `run_id` (a channel B
    /// application when none), if it has not expired.
    pub async fn sign_request_bytes(
        &self,
        who: &Employee,
        id: uuid::Uuid,
        run_id: Option<i64>,
    ) -> Result<Vec<u8>, ApiError> {
        sqlx::query_scalar(
            "select bytes from sign_requests where id = $1 and employee_iin = $2 and run_id is not distinct from $3 and expires_at > $4",
        )
        .bind(id)
        .bind(&who.iin)
        .bind(run_id)
        .bind(self.engine.clock.now())
        .fetch_optional(&self.engine.pool)
        .await?
        .ok_or_else(|| {
            ApiError::SignRequestNotFound(format!(
                "no bytes were handed out to you for signing under {id} here, or they expired; ask for them again (sign-request)"
            ))
        })
    }

    /// Forgets a sign request once its signature is used.
    pub async fn drop_sign_request(&self, id: uuid::Uuid) -> Result<(), ApiError> {
        sqlx::query("delete from sign_requests where id = $1")
            .bind(id)
            .execute(&self.engine.pool)
            .await?;
        Ok(())
    }

    /// Channel B: sends the signed application document through the gateway to this
    /// ИС МИО's inbox and waits up to `wait` for its registration.
    pub async fn send_signed(
        &self,
        bytes: Vec<u8>,
        signature: Vec<u8>,
        wait: Duration,
    ) -> Result<Submitted, ApiError> {
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
        let span = tracing::info_span!(
            "arm.send",
            egov.sfe = crate::LANE,
            egov.step = "send",
            message_id = %message_id,
        );
        let reply =
            tracing::Instrument::instrument(self.client.send_async_with(info, payload), span)
                .await
                .map_err(|e| ApiError::GatewayUnavailable(e.to_string()))?;
        if !reply.is_success() {
            return Err(gateway_refused(&reply));
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

/// The АРМ's router: the API, the OpenAPI document and the web UI, every answer with
/// [`hardened`] headers.
pub fn router(arm: Arc<Arm>) -> Router {
    Router::new()
        .merge(api::router())
        .merge(ui::router().layer(axum::middleware::from_fn_with_state(arm.clone(), ui::guard)))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .with_state(arm)
        .layer(axum::middleware::map_response(hardened))
}

/// Headers on every answer of the workstation: a browser takes each response as the type
/// it says (`nosniff`: an uploaded scan is never run as a page or script), and no other
/// site may frame its pages (clickjacking a signing form).
async fn hardened(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let retry = r
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        let body = futures::executor::block_on(axum::body::to_bytes(r.into_body(), 1 << 16));
        (
            status,
            retry,
            serde_json::from_slice(&body.unwrap()).unwrap(),
        )
    }

    fn error(code: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"error": {"code": code, "message": message}})
    }

    #[test]
    fn each_error_answers_its_status_code_and_message() {
        for (e, status, code, message) in [
            (ApiError::BadRequest("x".into()), 400, "BAD_REQUEST", "x"),
            (
                ApiError::Unauthorized,
                401,
                "UNAUTHORIZED",
                "log in first (IIN and password)",
            ),
            (
                ApiError::InvalidCredentials,
                401,
                "INVALID_CREDENTIALS",
                "wrong IIN or password",
            ),
            (ApiError::Forbidden("x".into()), 403, "FORBIDDEN", "x"),
            (ApiError::NotFound("x".into()), 404, "NOT_FOUND", "x"),
            (ApiError::Conflict("x".into()), 409, "CONFLICT", "x"),
            (ApiError::Invalid("x".into()), 422, "INVALID", "x"),
            (ApiError::InvalidIin("x".into()), 422, "INVALID_IIN", "x"),
            (
                ApiError::UnknownRegulation("x".into()),
                422,
                "UNKNOWN_REGULATION",
                "x",
            ),
            (
                ApiError::WrongChannel("x".into()),
                422,
                "WRONG_CHANNEL",
                "x",
            ),
            (
                ApiError::Refused {
                    code: "INVALID_FORM".into(),
                    message: "x".into(),
                },
                422,
                "INVALID_FORM",
                "x",
            ),
            (
                ApiError::PersonNotFound {
                    code: "IIN_CANCELLED".into(),
                    message: "x".into(),
                },
                404,
                "IIN_CANCELLED",
                "x",
            ),
            (
                ApiError::GatewayUnavailable("x".into()),
                502,
                "GATEWAY_UNAVAILABLE",
                "x",
            ),
            (
                ApiError::GatewayRefused("x".into()),
                502,
                "GATEWAY_REFUSED",
                "x",
            ),
            (ApiError::BadAnswer("x".into()), 502, "BAD_ANSWER", "x"),
        ] {
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{e:?}");
            assert_eq!(
                answer(e),
                (
                    StatusCode::from_u16(status).unwrap(),
                    None,
                    error(code, message)
                )
            );
        }
    }

    #[test]
    fn a_throttled_login_says_when_to_retry() {
        assert_eq!(
            answer(ApiError::TooManyAttempts { retry_after: 42 }),
            (
                StatusCode::TOO_MANY_REQUESTS,
                Some("42".into()),
                error(
                    "TOO_MANY_ATTEMPTS",
                    "too many failed logins; try again in 42 s"
                )
            )
        );
    }

    #[test]
    fn internal_errors_keep_their_cause_to_the_log() {
        for e in [
            ApiError::internal("the key store is gone"),
            Error::Internal("no step x".into()).into(),
            sqlx::Error::PoolTimedOut.into(),
        ] {
            assert_eq!(
                answer(e),
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    error("INTERNAL", "internal error")
                )
            );
        }
    }

    #[test]
    fn engine_errors_keep_their_codes() {
        for (e, status, code) in [
            (Error::NotFound("x".into()), 404, "NOT_FOUND"),
            (Error::Forbidden("x".into()), 403, "FORBIDDEN"),
            (Error::Conflict("x".into()), 409, "CONFLICT"),
            (Error::Invalid("x".into()), 422, "INVALID"),
        ] {
            assert_eq!(e.code(), code);
            let e = ApiError::from(e);
            assert_eq!(
                (e.status().as_u16(), e.code(), e.message()),
                (status, code, "x".into())
            );
        }
    }

    #[test]
    fn a_refused_lookup_is_invalid_or_not_found() {
        let refusal = |code: &str| ErrorBody {
            code: code.into(),
            message: "m".into(),
            details: Default::default(),
        };
        for (code, status) in [
            ("INVALID_IIN", 422),
            ("INVALID_REQUEST", 422),
            ("PERSON_NOT_FOUND", 404),
            ("IIN_CANCELLED", 404),
            ("PERSON_DECEASED", 404),
        ] {
            let e = ApiError::lookup_refused(refusal(code));
            assert_eq!((e.status().as_u16(), e.code()), (status, code));
            assert_eq!(e.message(), "m");
        }
    }
}
