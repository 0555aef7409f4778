//! The cabinet's reference web UI under `/ui`: server-rendered pages in Russian and
//! Kazakh, the screens of the regulations' channel A (seed 001 p.9–10) over the portal's
//! own operations ([`crate::citizens`], [`crate::applications`]), not over HTTP:
//!
//! - [`account`]: the login with IIN and password (C-auth), the registration, the
//!   logout; the session is the portal's own token in the cookie `portal_session`
//!   (HttpOnly, SameSite=Strict, and Secure behind an https public URL), expiring with
//!   it;
//! - [`catalogue`]: the services, a service's passport with «Заказать услугу онлайн»,
//!   the order form (the IIN and the name from the account, the regulation's form, the
//!   scans uploaded) sent with «отправить запрос»;
//! - [`signing`]: the bytes to sign, the certificate chosen and the request signed in
//!   NCALayer by the page's script (`/ui/static/ncalayer.js`), the detached CMS posted
//!   back and checked (C-sign), each failure in the page with its code;
//! - [`cabinet`]: the request's screen (IIN, number, service, status, deadline,
//!   «обновить статус», «просмотр результата», «сохранить»), a draft's scans and
//!   «История получения услуг».
//!
//! Every form carries the session's CSRF token and a form posted from another site is
//! refused, the login's included ([`egov_pages::Site`]). Pages are askama templates under
//! `services/portal/templates/ui/`, escaping every value. Every page is served with a
//! Content-Security-Policy that lets no inline script or style run: scripts and styles
//! come from the portal only, and the one connection a page may open is to NCALayer
//! ([`crate::Config::ncalayer_url`]).

mod account;
mod cabinet;
mod catalogue;
pub mod i18n;
mod signing;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use egov_pages::{Lang, Site, render, upload};
use egov_system::api::ApiError;

use crate::Core;
use crate::applications::Application;
use crate::citizens::{self, Citizen};
use i18n::Words;

pub use signing::ncalayer_source;

/// The session cookie of the cabinet.
pub const COOKIE: &str = "portal_session";

/// The cabinet as a site: its cookies, CSRF tokens, login and home.
pub const SITE: Site = Site {
    name: "ПЭП",
    lang_cookie: i18n::COOKIE,
    session_cookie: COOKIE,
    csrf_label: "portal-csrf",
    prefix: "/ui",
    home: "/ui/services",
    login: "/ui/login",
};

/// The signing page's script: NCALayer's protocol over its WebSocket.
pub const SCRIPT: &str = include_str!("../../static/ncalayer.js");
/// The pages' style sheet.
pub const STYLE: &str = include_str!("../../static/portal.css");

type S = axum::extract::State<Arc<Core>>;

/// The pages' routes; every HTML answer with the pages' Content-Security-Policy.
pub fn router(core: &Core) -> Router<Arc<Core>> {
    // a form with a scan of each document at the largest size
    let uploads = DefaultBodyLimit::max(
        core.max_attachment_bytes
            .saturating_mul(core.max_attachments)
            .saturating_add(1 << 20),
    );
    let policy = HeaderValue::from_str(&policy(&core.ncalayer_url))
        .unwrap_or(HeaderValue::from_static("default-src 'none'"));
    let routes = Router::new()
        .route("/ui", get(|| async { Redirect::to(SITE.home) }))
        .route(
            "/ui/static/ncalayer.js",
            get(|| asset(SCRIPT, "text/javascript")),
        )
        .route("/ui/static/portal.css", get(|| asset(STYLE, "text/css")))
        .route("/ui/login", get(account::login_form).post(account::login))
        .route(
            "/ui/register",
            get(account::register_form).post(account::register),
        )
        .route("/ui/logout", post(account::logout))
        .route("/ui/services", get(catalogue::list))
        .route("/ui/services/{regulation}", get(catalogue::passport))
        .route(
            "/ui/services/{regulation}/order",
            get(catalogue::order_form)
                .post(catalogue::order)
                .layer(uploads),
        )
        .route("/ui/applications", get(cabinet::history))
        .route("/ui/applications/{number}", get(cabinet::view))
        .route(
            "/ui/applications/{number}/attachments",
            post(cabinet::attach).layer(uploads),
        )
        .route(
            "/ui/applications/{number}/attachments/{id}/remove",
            post(cabinet::remove),
        )
        .route("/ui/applications/{number}/send", post(cabinet::send))
        .route("/ui/applications/{number}/sign", get(signing::page))
        .route(
            "/ui/applications/{number}/signature",
            post(signing::signature).layer(DefaultBodyLimit::max(256 * 1024)),
        )
        .route("/ui/applications/{number}/result.pdf", get(cabinet::result));
    SITE.mount(routes, core.public_url.clone())
        .layer(axum::middleware::map_response(move |r: Response| {
            let policy = policy.clone();
            async move { with_policy(r, policy) }
        }))
}

/// The pages' Content-Security-Policy: nothing but the portal's own script, style and
/// images, forms posted to the portal only, no framing, and the one connection to
/// NCALayer at `ncalayer`.
pub fn policy(ncalayer: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src {ncalayer}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

fn with_policy(mut r: Response, policy: HeaderValue) -> Response {
    let html = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        r.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    r
}

async fn asset(body: &'static str, media_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, format!("{media_type}; charset=utf-8")),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response()
}

/// The citizen of a page's session, their token's CSRF token.
pub struct Session {
    /// The citizen.
    pub citizen: Citizen,
    /// The session's CSRF token.
    pub csrf: String,
    /// The session's token.
    pub token: String,
}

/// The session of the request's cookie; none (or expired): the page sends to the login.
async fn session(core: &Core, headers: &HeaderMap) -> Result<Session, Response> {
    let token = SITE.token(headers).ok_or_else(|| SITE.to_login())?;
    let iin = citizens::session(&core.pool, &token, core.clock.now())
        .await
        .ok()
        .flatten()
        .ok_or_else(|| SITE.to_login())?;
    let citizen = citizens::get(&core.pool, &iin)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| SITE.to_login())?;
    Ok(Session {
        csrf: SITE.csrf(&token),
        citizen,
        token,
    })
}

/// The citizen of the request's session; none: to the login page.
impl FromRequestParts<Arc<Core>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, core: &Arc<Core>) -> Result<Self, Response> {
        session(core, &parts.headers).await
    }
}

/// The language of a request (the site's cookie).
async fn lang_of(parts: &mut Parts) -> Lang {
    Lang::from_request_parts(parts, &())
        .await
        .unwrap_or_default()
}

/// The citizen's own application of the path's `{number}`, with the session and the
/// page's language; another's (or none): the error page, 404.
pub struct Mine {
    /// The session.
    pub s: Session,
    /// The page's language.
    pub lang: Lang,
    /// The application.
    pub app: Application,
}

impl FromRequestParts<Arc<Core>> for Mine {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, core: &Arc<Core>) -> Result<Self, Response> {
        let lang = lang_of(parts).await;
        let s = session(core, &parts.headers).await?;
        let Path(number) = Path::<String>::from_request_parts(parts, core)
            .await
            .map_err(IntoResponse::into_response)?;
        let app = crate::applications::own(core, &s.citizen.iin, &number)
            .await
            .map_err(|e| error_page(lang, Some(&s), "/ui/applications", &e))?;
        Ok(Mine { s, lang, app })
    }
}

/// A form the cabinet's own page posted with the session's token: its fields and files
/// (urlencoded or multipart). Refused: without a session to the login; else the error
/// page (a body that is not a form 400, past the route's limit 413, from another site
/// `FOREIGN_ORIGIN` or without the session's token `CSRF_TOKEN` 403).
pub struct Posted {
    /// The session.
    pub s: Session,
    /// The page's language.
    pub lang: Lang,
    /// What was posted.
    pub form: upload::Posted,
}

impl FromRequest<Arc<Core>> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, core: &Arc<Core>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let lang = lang_of(&mut parts).await;
        let s = session(core, &parts.headers).await?;
        let headers = parts.headers.clone();
        // an error page's language switch goes back to the page the form was on
        let here = egov_accounts::web::local_path(
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| r.split_once("://"))
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string())),
            SITE.home,
        );
        let multipart = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let req = Request::from_parts(parts, body);
        let form = if multipart {
            match Multipart::from_request(req, core).await {
                Ok(mp) => upload::read(mp).await,
                Err(e) => Err(upload::unread(e.status(), &e.body_text())),
            }
        } else {
            axum::Form::<Vec<(String, String)>>::from_request(req, core)
                .await
                .map(|axum::Form(fields)| upload::Posted {
                    fields,
                    files: Vec::new(),
                })
                .map_err(|e| upload::unread(e.status(), &e.body_text()))
        };
        let checked = form.and_then(|form| {
            SITE.guard(
                &headers,
                &core.public_url,
                Some(&s.csrf),
                Some(form.field("csrf")),
            )
            .map(|()| form)
        });
        match checked {
            Ok(form) => Ok(Posted { s, lang, form }),
            Err(e) => Err(error_page(lang, Some(&s), &here, &e)),
        }
    }
}

/// The citizen's full name as ГБД ФЛ gave it.
fn full_name(c: &Citizen) -> String {
    [&c.surname, &c.name, &c.patronymic]
        .iter()
        .filter_map(|v| v.as_deref())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What `layout.html` shows around every page; who is signed in as `NAME (IIN)`.
pub type Page = egov_pages::Page<Words, String>;

/// The page for `s` (none: not signed in) at `here`.
fn page(lang: Lang, s: Option<&Session>, here: &str, title: &str) -> Page {
    let page = Page::new(lang, i18n::words(lang), here, title);
    match s {
        Some(s) => page.of(
            format!("{} ({})", full_name(&s.citizen), s.citizen.iin),
            &s.csrf,
        ),
        None => page,
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    page: Page,
}

/// An error as a page in the request's language: its status, message and code.
fn error_page(lang: Lang, s: Option<&Session>, here: &str, e: &ApiError) -> Response {
    let page = page(lang, s, here, i18n::words(lang).error).failed(e);
    render(e.status, &ErrorPage { page })
}

/// The service's name of a regulation, in `lang`.
fn service_name(core: &Core, regulation: &str, lang: Lang) -> String {
    core.catalog
        .get(regulation)
        .map(|r| r.service_name.get(lang.code()).to_string())
        .unwrap_or_else(|| regulation.to_string())
}

/// The deadline of a regulation's portal channel (the service's own when the channel
/// gives none), in words.
fn deadline(core: &Core, regulation: &str, lang: Lang) -> String {
    core.catalog
        .get(regulation)
        .map(|r| {
            let d = r
                .channel(crate::catalog::PORTAL)
                .and_then(|c| c.total_deadline)
                .unwrap_or(r.total_deadline);
            egov_regulation::deadline_words(d, lang.code())
        })
        .unwrap_or_default()
}

/// An application's status as the cabinet shows it: ИС МИО's last, else its state.
fn status_text(t: &Words, lang: Lang, app: &Application) -> String {
    let status = match lang {
        Lang::Ru => app.status_ru.clone(),
        Lang::Kk => app.status_kk.clone(),
    };
    status.unwrap_or_else(|| {
        match app.state.as_str() {
            "draft" => t.state_draft,
            "sent" => t.state_sent,
            "delivered" => t.state_delivered,
            "at-centre" => t.state_at_centre,
            other => other,
        }
        .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_template_turns_escaping_off() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/ui");
        egov_pages::check_escaping(&dir).unwrap();
    }

    #[test]
    fn the_script_speaks_ncalayers_module_and_runs_nothing_inline() {
        for call in [
            "kz.gov.pki.knca.commonUtils",
            "getActiveTokens",
            "getKeyInfo",
            "createCAdESFromBase64",
        ] {
            assert!(SCRIPT.contains(call), "{call}");
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/ui");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("<script>") && !text.contains("<style"));
            assert!(!text.contains(" onclick=") && !text.contains(" style="));
        }
        let p = policy("wss://127.0.0.1:13579");
        assert!(
            p.contains("script-src 'self';") && p.contains("connect-src wss://127.0.0.1:13579;")
        );
    }
}
