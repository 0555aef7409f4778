//! The login with IIN and password (C-auth, throttled as the API's), the registration
//! (the IIN asked of ГБД ФЛ, [`crate::citizens::register`]) and the logout. A login
//! opens one of the portal's own sessions; its token is the cookie's.

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use egov_pages::{Lang, field, render, upload};
use egov_system::api::ApiError;

use super::{Page, Posted, S, SITE, error_page, i18n, lang_of};
use crate::Core;
use crate::citizens::{self, Login, Registration};

/// A form of a page without a session (the login, the registration): its fields;
/// refused, the error page (from another site 403 `FOREIGN_ORIGIN`, not a form 400).
pub struct Public {
    lang: Lang,
    form: Vec<(String, String)>,
}

impl FromRequest<Arc<Core>> for Public {
    type Rejection = Response;

    async fn from_request(req: Request, core: &Arc<Core>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let lang = lang_of(&mut parts).await;
        let here = parts.uri.path().to_string();
        if let Err(e) = SITE.guard(&parts.headers, &core.public_url, None, None) {
            return Err(error_page(lang, None, &here, &e));
        }
        match axum::Form::<Vec<(String, String)>>::from_request(
            Request::from_parts(parts, body),
            core,
        )
        .await
        {
            Ok(axum::Form(form)) => Ok(Public { lang, form }),
            Err(e) => {
                let e = upload::unread(e.status(), &e.body_text());
                Err(error_page(lang, None, &here, &e))
            }
        }
    }
}

#[derive(askama::Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    page: Page,
    iin: String,
}

fn login_page(lang: Lang, status: StatusCode, iin: &str, error: Option<ApiError>) -> Response {
    let mut page = super::page(lang, None, SITE.login, i18n::words(lang).login_title);
    if let Some(e) = &error {
        page = page.failed(e);
    }
    render(
        status,
        &LoginPage {
            page,
            iin: iin.to_string(),
        },
    )
}

pub async fn login_form(lang: Lang) -> Response {
    login_page(lang, StatusCode::OK, "", None)
}

/// A session opened for `iin` (home, the cookie set), or the login page with why not.
async fn open(core: &Core, lang: Lang, iin: &str, password: &str) -> Response {
    let refused = |e: ApiError| login_page(lang, e.status, iin, Some(e));
    let valid = match citizens::parse_iin(iin) {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    match citizens::login(core, &valid, password).await {
        Ok(Login::Ok(token, _)) => {
            SITE.open_session(SITE.home, &token, core.session_lifetime, &core.public_url)
        }
        Ok(Login::Refused) => refused(ApiError::invalid_credentials()),
        Ok(Login::Throttled { until }) => refused(ApiError::too_many_attempts(
            (until - core.clock.now()).whole_seconds().max(1),
        )),
        Err(e) => error_page(lang, None, SITE.login, &e.into()),
    }
}

/// The login (C-auth): to the catalogue, or the page again with the refusal.
pub async fn login(State(core): S, Public { lang, form }: Public) -> Response {
    open(
        &core,
        lang,
        field(&form, "iin").trim(),
        field(&form, "password"),
    )
    .await
}

#[derive(askama::Template)]
#[template(path = "ui/register.html")]
struct RegisterPage {
    page: Page,
    iin: String,
    email: String,
}

fn register_page(lang: Lang, entered: &[(String, String)], error: Option<&ApiError>) -> Response {
    let mut page = super::page(lang, None, "/ui/register", i18n::words(lang).register_title);
    if let Some(e) = error {
        page = page.failed(e);
    }
    render(
        error.map_or(StatusCode::OK, |e| e.status),
        &RegisterPage {
            page,
            iin: field(entered, "iin").to_string(),
            email: field(entered, "email").to_string(),
        },
    )
}

pub async fn register_form(lang: Lang) -> Response {
    register_page(lang, &[], None)
}

/// The registration, then the login; refused, the page again with the reason (the IIN
/// unknown to ГБД ФЛ, registered already, a weak password), nothing written.
pub async fn register(State(core): S, Public { lang, form: f }: Public) -> Response {
    let password = field(&f, "password");
    if password != field(&f, "password_again") {
        let e = ApiError::refused(
            "PASSWORDS_DIFFER",
            i18n::RU.passwords_differ,
            i18n::KK.passwords_differ,
        );
        return register_page(lang, &f, Some(&e));
    }
    let email = field(&f, "email").trim();
    let r = Registration {
        iin: field(&f, "iin").trim().to_string(),
        password: password.to_string(),
        email: (!email.is_empty()).then(|| email.to_string()),
    };
    match citizens::register(&core, r).await {
        Ok(c) => open(&core, lang, &c.iin, password).await,
        Err(e) => register_page(lang, &f, Some(&e)),
    }
}

/// The session ended, the cookie cleared.
pub async fn logout(State(core): S, Posted { s, lang, .. }: Posted) -> Response {
    match citizens::logout(&core.pool, &s.token).await {
        Ok(()) => SITE.close_session(&core.public_url),
        Err(e) => error_page(lang, Some(&s), SITE.home, &e.into()),
    }
}
