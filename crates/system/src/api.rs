//! What the systems' JSON APIs share: one error shape, `{"error": {"code", "message",
//! "details"?}}` with the right HTTP status and the message in the caller's language
//! (`Accept-Language: kk` for Kazakh, Russian otherwise, swapped in by [`localize`] in
//! one place for every route), a JSON body parsed only when the handler asks
//! ([`Body`]), the bearer token of a request ([`bearer`]) and the hardened headers of
//! every answer ([`hardened`]).

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// What an error says (behind [`ApiError`]'s box, so results stay small).
#[derive(Debug, Clone)]
pub struct Inner {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: String,
    /// The message in Russian.
    pub ru: String,
    /// The message in Kazakh.
    pub kk: String,
    /// What else the caller needs to act on it.
    pub details: Option<Value>,
    /// Seconds until the request may be tried again (`Retry-After`).
    pub retry_after: Option<i64>,
}

/// An error of an API.
#[derive(Debug, Clone)]
pub struct ApiError(Box<Inner>);

impl std::ops::Deref for ApiError {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl ApiError {
    /// An error of `status` and `code`, its message in both languages.
    pub fn new(
        status: StatusCode,
        code: &str,
        ru: impl Into<String>,
        kk: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(Inner {
            status,
            code: code.into(),
            ru: ru.into(),
            kk: kk.into(),
            details: None,
            retry_after: None,
        }))
    }

    /// The same under another code.
    pub fn with_code(mut self, code: &str) -> Self {
        self.0.code = code.into();
        self
    }

    /// With details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.0.details = Some(details);
        self
    }

    /// With `Retry-After: seconds`.
    pub fn with_retry_after(mut self, seconds: i64) -> Self {
        self.0.retry_after = Some(seconds);
        self
    }

    /// 400 `BAD_REQUEST`: a body that does not parse (the parser's words).
    pub fn bad_request(problem: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("запрос не разобран: {problem}"),
            format!("сұраныс талданбады: {problem}"),
        )
    }

    /// 413 `PAYLOAD_TOO_LARGE`: a body past the route's limit.
    pub fn payload_too_large() -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "запрос больше допустимого размера",
            "сұраныс рұқсат етілген өлшемнен үлкен",
        )
    }

    /// 404 `NOT_FOUND`: no such path.
    pub fn no_route() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "нет такого адреса",
            "мұндай мекенжай жоқ",
        )
    }

    /// 401 `INVALID_CREDENTIALS`.
    pub fn invalid_credentials() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
            "неверный ИИН или пароль",
            "ЖСН немесе құпиясөз қате",
        )
    }

    /// 429 `TOO_MANY_ATTEMPTS`: a throttled login.
    pub fn too_many_attempts(retry_after: i64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            format!("слишком много неудачных входов; повторите через {retry_after} с"),
            format!("сәтсіз кірулер тым көп; {retry_after} с кейін қайталаңыз"),
        )
        .with_retry_after(retry_after)
    }

    /// 422 `INVALID_IIN`: `what` (`ИИН`, `ИИН представителя`) is not an IIN.
    pub fn invalid_iin(value: &str, what_ru: &str, what_kk: &str) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_IIN",
            format!(
                "{what_ru} «{value}» недействителен (12 цифр, дата рождения, контрольный разряд)"
            ),
            format!("{what_kk} «{value}» жарамсыз (12 цифр, туған күні, бақылау разряды)"),
        )
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(ru: impl Into<String>, kk: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", ru, kk)
    }

    /// 409 `CONFLICT`.
    pub fn conflict(ru: impl Into<String>, kk: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "CONFLICT", ru, kk)
    }

    /// 422 under `code`.
    pub fn refused(code: &str, ru: impl Into<String>, kk: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, ru, kk)
    }

    /// 502 `GATEWAY_UNAVAILABLE`: `what` (ГБД ФЛ, ИС МИО) could not be reached through the
    /// gateway; nothing was recorded or sent.
    pub fn gateway_unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%what, error = %cause, "the gateway could not be asked");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "GATEWAY_UNAVAILABLE",
            format!(
                "{what} сейчас недоступна через ШЭП; ничего не записано и не отправлено, повторите позже"
            ),
            format!(
                "{what} қазір ЭҮШ арқылы қолжетімсіз; ештеңе жазылмады және жіберілмеді, кейінірек қайталаңыз"
            ),
        )
    }

    /// 500 `INTERNAL`: logs `cause`; the answer never shows it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "API request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "внутренняя ошибка",
            "ішкі қате",
        )
    }

    /// The message in `lang`.
    pub fn message(&self, lang: &str) -> &str {
        if lang == "kk" { &self.kk } else { &self.ru }
    }

    /// The body in `lang`.
    pub fn body(&self, lang: &str) -> Value {
        let mut e = json!({"code": self.code, "message": self.message(lang)});
        if let Some(d) = &self.details {
            e["details"] = d.clone();
        }
        json!({"error": e})
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    /// The Russian body; [`localize`] swaps in the Kazakh one where the request asks.
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body("ru"))).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r.extensions_mut().insert(self);
        r
    }
}

/// The language a request asks for: `kk` when `Accept-Language` names Kazakh first
/// among ru/kk, else `ru`.
pub fn lang(headers: &HeaderMap) -> &'static str {
    let v = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let kk = v.find("kk");
    let ru = v.find("ru");
    match (kk, ru) {
        (Some(k), Some(r)) if k < r => "kk",
        (Some(_), None) => "kk",
        _ => "ru",
    }
}

/// Middleware: an error answer in the request's language.
pub async fn localize(req: Request, next: Next) -> Response {
    let lang = lang(req.headers());
    let r = next.run(req).await;
    if lang == "ru" {
        return r;
    }
    match r.extensions().get::<ApiError>().cloned() {
        Some(e) => {
            let (mut parts, _) = r.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(
                parts,
                axum::body::Body::from(serde_json::to_vec(&e.body(lang)).expect("serializes")),
            )
        }
        None => r,
    }
}

/// No sniffing, no framing.
pub async fn hardened(mut r: Response) -> Response {
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

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

/// A JSON body, parsed when the handler asks ([`Body::parsed`]): after the session is
/// checked, so that a caller without one learns nothing from the body's problems. Its
/// rejection is an [`ApiError`] (400, naming the problem; 413 `PAYLOAD_TOO_LARGE` past
/// the route's body limit).
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
                .map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::payload_too_large()
                    } else {
                        ApiError::bad_request(&e.body_text())
                    }
                }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_accept_language() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
            m
        };
        assert_eq!(lang(&HeaderMap::new()), "ru");
        assert_eq!(lang(&h("kk")), "kk");
        assert_eq!(lang(&h("kk-KZ,ru;q=0.8")), "kk");
        assert_eq!(lang(&h("ru-RU,kk;q=0.5")), "ru");
        assert_eq!(lang(&h("en")), "ru");
    }

    #[test]
    fn errors_answer_their_status_code_and_message() {
        for (e, status, code) in [
            (ApiError::invalid_credentials(), 401, "INVALID_CREDENTIALS"),
            (ApiError::too_many_attempts(3), 429, "TOO_MANY_ATTEMPTS"),
            (ApiError::invalid_iin("1", "ИИН", "ЖСН"), 422, "INVALID_IIN"),
            (ApiError::no_route(), 404, "NOT_FOUND"),
            (ApiError::internal("secret cause"), 500, "INTERNAL"),
            (ApiError::bad_request("x"), 400, "BAD_REQUEST"),
        ] {
            assert_eq!((e.status.as_u16(), e.code.as_str()), (status, code));
            assert!(!e.ru.is_empty() && !e.kk.is_empty() && e.ru != e.kk);
            assert!(!e.ru.contains("secret"));
            let body = e.body("kk");
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["error"]["message"], e.kk.as_str());
        }
        let r = ApiError::too_many_attempts(42).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
    }
}
