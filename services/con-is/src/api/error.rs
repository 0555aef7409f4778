//! The workstation's errors: the systems' one error shape (`egov_system::api`: a stable
//! code, an HTTP status, a message in Russian and in Kazakh, `{"error": {"code",
//! "message", "details"?}}` in the operator's language set by [`localize`] for every
//! route), and the two errors whose words are the workstation's own.

use axum::http::StatusCode;

pub use egov_system::api::{ApiError, lang, localize};

/// 401 `UNAUTHORIZED`: no live session.
pub fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "войдите в АРМ ИС ЦОН (ИИН и пароль)",
        "ХҚО АЖ АЖО-ға кіріңіз (ЖСН және құпиясөз)",
    )
}

/// 404 `NOT_FOUND`: no application of that number.
pub fn no_application(number: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("заявление № {number} не найдено"),
        format!("№ {number} өтініш табылмады"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue, header};
    use axum::response::IntoResponse;

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
            (unauthorized(), 401, "UNAUTHORIZED"),
            (ApiError::invalid_credentials(), 401, "INVALID_CREDENTIALS"),
            (ApiError::too_many_attempts(3), 429, "TOO_MANY_ATTEMPTS"),
            (ApiError::invalid_iin("1", "ИИН", "ЖСН"), 422, "INVALID_IIN"),
            (no_application("X"), 404, "NOT_FOUND"),
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
