//! The request signed as Kazakhstan's portals sign it: the page holds the exact bytes of
//! the sign request ([`crate::applications::sign_request`], fixed when the request was
//! sent), its script asks NCALayer (the citizen's own, at
//! [`crate::Config::ncalayer_url`]) for the certificate and a detached CMS over them
//! (`kz.gov.pki.knca.commonUtils`: `getActiveTokens`, `getKeyInfo`,
//! `createCAdESFromBase64`), and posts the CMS back in a plain form; the portal checks it
//! (C-sign, [`crate::applications::sign`]) and, refused, shows the page again with the
//! failure's message in the citizen's language and its code. Without the script, a CMS
//! made by any other tool can be pasted into the same form.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use egov_pages::{Lang, render};
use egov_system::api::ApiError;

use super::{Mine, Page, Posted, S, Session, error_page, full_name, i18n, service_name};
use crate::Core;
use crate::applications::{self, Application};

/// The configured NCALayer address as the pages' one `connect-src`: `wss://host:port`
/// (or `ws://`), no path, user or query; a trailing `/` dropped. Anything else stops the
/// start.
pub fn ncalayer_source(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let authority = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"));
    let ok = authority.is_some_and(|a| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    if ok {
        Ok(url.to_string())
    } else {
        Err(format!(
            "ncalayer_url: {url:?} is not a WebSocket origin (wss://host:port, no path)"
        ))
    }
}

#[derive(askama::Template)]
#[template(path = "ui/sign.html")]
struct SignPage {
    page: Page,
    number: String,
    service: String,
    iin: String,
    full_name: String,
    /// The bytes to sign, base64, for the script.
    document: String,
    sha256: String,
    ncalayer: String,
}

fn sign_page(
    core: &Core,
    lang: Lang,
    s: &Session,
    app: &Application,
    document: &[u8],
    error: Option<&ApiError>,
) -> Response {
    let t = i18n::words(lang);
    let mut page = super::page(
        lang,
        Some(s),
        &format!("/ui/applications/{}/sign", app.number),
        t.sign_title,
    );
    if let Some(e) = error {
        page = page.failed(e);
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, document);
    render(
        error.map_or(axum::http::StatusCode::OK, |e| e.status),
        &SignPage {
            page,
            number: app.number.clone(),
            service: service_name(core, &app.regulation_id, lang),
            iin: s.citizen.iin.clone(),
            full_name: full_name(&s.citizen),
            document: base64::engine::general_purpose::STANDARD.encode(document),
            sha256: hex::encode(digest.as_ref()),
            ncalayer: core.ncalayer_url.clone(),
        },
    )
}

/// The signing page of a draft whose request was sent; any other to its own page.
pub async fn page(State(core): S, Mine { s, lang, app }: Mine) -> Response {
    match (&app.document, app.state.as_str()) {
        (Some(doc), "draft") => sign_page(&core, lang, &s, &app, doc, None),
        _ => Redirect::to(&format!("/ui/applications/{}", app.number)).into_response(),
    }
}

/// «подписать»: the CMS checked (C-sign) and the application sent; refused, the signing
/// page again with the failure, nothing written.
pub async fn signature(
    State(core): S,
    Path(number): Path<String>,
    Posted { s, lang, form }: Posted,
) -> Response {
    let here = format!("/ui/applications/{number}");
    let refused =
        match applications::sign(&core, &s.citizen, &number, form.field("signature")).await {
            Ok(_) => return Redirect::to(&here).into_response(),
            Err(e) => e,
        };
    match applications::own(&core, &s.citizen.iin, &number).await {
        Ok(app) if app.state == "draft" && app.document.is_some() => {
            let doc = app.document.clone().unwrap_or_default();
            sign_page(&core, lang, &s, &app, &doc, Some(&refused))
        }
        _ => error_page(lang, Some(&s), &here, &refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncalayer_is_a_websocket_origin() {
        assert_eq!(
            ncalayer_source("wss://127.0.0.1:13579/").unwrap(),
            "wss://127.0.0.1:13579"
        );
        assert!(ncalayer_source("ws://localhost:13579").is_ok());
        for bad in [
            "https://127.0.0.1:13579",
            "wss://",
            "wss://127.0.0.1:13579/path",
            "wss://a b",
            "wss://x; script-src *",
            "wss://'self'",
        ] {
            assert!(ncalayer_source(bad).is_err(), "{bad}");
        }
    }
}
