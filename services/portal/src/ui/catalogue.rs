//! The services: the catalogue, a service's passport with «Заказать услугу онлайн», and
//! its order form: the IIN and the name filled in from the account, the provider, the
//! category, contacts, the regulation's own fields, a scan of each document; «отправить
//! запрос» makes the draft with its scans at once ([`crate::applications::create_with`]:
//! a refused field or file writes nothing) and fixes the bytes to sign.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use egov_pages::form::{self, Choice};
use egov_pages::{Lang, render};
use egov_regulation::Regulation;
use egov_system::api::ApiError;

use super::{Page, Posted, S, Session, error_page, full_name, i18n};
use crate::Core;
use crate::applications::{self, NewApplication};

/// A service of the catalogue.
struct Row {
    id: String,
    name: String,
    provider: String,
    deadline: String,
}

#[derive(askama::Template)]
#[template(path = "ui/services.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
}

/// The services the portal offers.
pub async fn list(State(core): S, lang: Lang, s: Session) -> Response {
    let l = lang.code();
    let rows = core
        .catalog
        .regulations
        .iter()
        .map(|r| Row {
            id: r.id.clone(),
            name: r.service_name.get(l).to_string(),
            provider: r
                .providers
                .first()
                .map(|p| p.name.get(l).to_string())
                .unwrap_or_default(),
            deadline: super::deadline(&core, &r.id, lang),
        })
        .collect();
    let page = super::page(lang, Some(&s), "/ui/services", i18n::words(lang).services);
    render(StatusCode::OK, &ListPage { page, rows })
}

/// The regulation of the path (404 `UNKNOWN_SERVICE`).
fn regulation(core: &Core, id: &str) -> Result<Arc<Regulation>, ApiError> {
    core.catalog.get(id).cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_SERVICE",
            format!("услуги «{id}» на портале нет"),
            format!("порталда «{id}» қызметі жоқ"),
        )
    })
}

#[derive(askama::Template)]
#[template(path = "ui/service.html")]
struct PassportPage {
    page: Page,
    id: String,
    title: String,
    providers: Vec<String>,
    categories: Vec<Choice>,
    documents: Vec<form::Document>,
    deadline: String,
}

/// A service's passport: its regulation, providers, who may apply, the documents and the
/// deadline; «Заказать услугу онлайн».
pub async fn passport(State(core): S, lang: Lang, s: Session, Path(id): Path<String>) -> Response {
    let reg = match regulation(&core, &id) {
        Ok(r) => r,
        Err(e) => return error_page(lang, Some(&s), "/ui/services", &e),
    };
    let l = lang.code();
    let page = super::page(
        lang,
        Some(&s),
        &format!("/ui/services/{id}"),
        reg.service_name.get(l),
    );
    render(
        StatusCode::OK,
        &PassportPage {
            page,
            id: reg.id.clone(),
            title: reg.title.get(l).to_string(),
            providers: reg
                .providers
                .iter()
                .map(|p| p.name.get(l).to_string())
                .collect(),
            categories: form::categories(&reg, l, ""),
            documents: form::documents(&reg, l),
            deadline: super::deadline(&core, &reg.id, lang),
        },
    )
}

#[derive(askama::Template)]
#[template(path = "ui/order.html")]
struct OrderPage {
    page: Page,
    id: String,
    iin: String,
    full_name: String,
    providers: Vec<Choice>,
    categories: Vec<Choice>,
    phone: String,
    email: String,
    notify: bool,
    fields: Vec<form::Field>,
    documents: Vec<form::Document>,
}

/// The order form, `entered` filled in again after `error`.
fn order_page(
    lang: Lang,
    s: &Session,
    reg: &Regulation,
    entered: &[(String, String)],
    error: Option<&ApiError>,
) -> Response {
    let l = lang.code();
    let value = |k: &str| egov_pages::field(entered, k).to_string();
    let mut page = super::page(
        lang,
        Some(s),
        &format!("/ui/services/{}/order", reg.id),
        reg.service_name.get(l),
    );
    if let Some(e) = error {
        page = page.failed(e);
    }
    let provider = value("provider");
    render(
        error.map_or(StatusCode::OK, |e| e.status),
        &OrderPage {
            page,
            id: reg.id.clone(),
            iin: s.citizen.iin.clone(),
            full_name: full_name(&s.citizen),
            providers: reg
                .providers
                .iter()
                .enumerate()
                .map(|(i, p)| Choice {
                    id: p.id.clone(),
                    name: p.name.get(l).to_string(),
                    selected: if provider.is_empty() {
                        i == 0
                    } else {
                        p.id == provider
                    },
                })
                .collect(),
            categories: form::categories(reg, l, egov_pages::field(entered, "category")),
            phone: value("phone"),
            email: if error.is_some() {
                value("email")
            } else {
                s.citizen.email.clone().unwrap_or_default()
            },
            notify: !value("notify_email").is_empty(),
            fields: form::fields(reg, l, entered),
            documents: form::documents(reg, l),
        },
    )
}

/// «Заказать услугу онлайн»: the form of the service.
pub async fn order_form(
    State(core): S,
    lang: Lang,
    s: Session,
    Path(id): Path<String>,
) -> Response {
    match regulation(&core, &id) {
        Ok(reg) => order_page(lang, &s, &reg, &[], None),
        Err(e) => error_page(lang, Some(&s), "/ui/services", &e),
    }
}

/// «отправить запрос»: the draft with its scans, then the bytes to sign and the signing
/// page; refused, the form again with the reason and what was entered (the files to be
/// chosen again).
pub async fn order(
    State(core): S,
    Path(id): Path<String>,
    Posted {
        s,
        lang,
        form: posted,
    }: Posted,
) -> Response {
    let reg = match regulation(&core, &id) {
        Ok(r) => r,
        Err(e) => return error_page(lang, Some(&s), "/ui/services", &e),
    };
    let text = |k: &str| Some(posted.field(k).trim().to_string()).filter(|v| !v.is_empty());
    let n = NewApplication {
        regulation: reg.id.clone(),
        provider: text("provider"),
        category: posted.field("category").to_string(),
        phone: text("phone"),
        email: text("email"),
        notify_email: text("notify_email").is_some(),
        form: form::values(&reg, &posted.fields),
    };
    let scans = super::cabinet::scans(&posted);
    match applications::create_with(&core, &s.citizen, n, scans).await {
        Ok(app) => super::cabinet::send_request(&core, lang, &s, &app.number).await,
        Err(e) => order_page(lang, &s, &reg, &posted.fields, Some(&e)),
    }
}
