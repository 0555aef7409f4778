//! The АРМ's small server-rendered web UI: login, the worklist of the employee's role,
//! a task with its documents and the form that completes it, channel B (look the
//! citizen up in ГБД ФЛ, mark the paper documents, attach scans, sign and register), the
//! commission's meetings, agenda and protocol, and the waiting list. Plain HTML forms:
//! no script is needed.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Multipart, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use uuid::Uuid;

use super::views;
use super::{ApiError, Arm, Lookup, NewApplication};
use crate::employees::{self, Employee};
use crate::engine::Completion;
use crate::store;

type S = State<Arc<Arm>>;
type Pairs = axum::Form<Vec<(String, String)>>;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn when(t: Option<time::OffsetDateTime>) -> String {
    match t {
        None => "—".into(),
        Some(t) => {
            let l = t.to_offset(egov_calendar::LOCAL_OFFSET);
            format!(
                "{:02}.{:02}.{} {:02}:{:02}",
                l.day(),
                l.month() as u8,
                l.year(),
                l.hour(),
                l.minute()
            )
        }
    }
}

const STYLE: &str = "body{font-family:DejaVu Sans,Arial,sans-serif;margin:0;color:#1b2733}header{background:#0b4f8a;color:#fff;padding:10px 24px;display:flex;gap:18px;align-items:center}header a{color:#fff}main{padding:18px 24px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccd;padding:6px;text-align:left;vertical-align:top}.overdue{color:#b00020;font-weight:bold}.error{background:#fde7e9;border:1px solid #b00020;padding:10px}.ok{background:#e7f6ea;border:1px solid #2e7d32;padding:10px}form.inline{display:inline}fieldset{margin:10px 0}label{display:block;margin:3px 0}";

fn page(title: &str, who: Option<&Employee>, body: &str) -> Html<String> {
    let nav = match who {
        Some(w) => format!(
            "<a href=\"/worklist\">Рабочий список</a><a href=\"/applications/new\">Новое заявление</a><a href=\"/commission\">Комиссия</a><a href=\"/queue\">Очередь</a><span>{} · {} · {}</span><form class=\"inline\" method=\"post\" action=\"/logout\"><button id=\"logout\">Выйти</button></form>",
            esc(&w.full_name()),
            esc(&w.position),
            esc(&w.provider_id)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>{} — АРМ РШЭП</title><style>{STYLE}</style></head><body><header><strong>АРМ РШЭП</strong>{nav}</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    ))
}

fn error_page(who: Option<&Employee>, e: &ApiError) -> Response {
    let body = format!(
        "<p class=\"error\" id=\"error\"><strong>{}</strong>: {}</p><p><a href=\"javascript:history.back()\">Назад</a></p>",
        esc(&e.code),
        esc(&e.message)
    );
    (e.status, page("Ошибка", who, &body)).into_response()
}

/// The signed-in employee of a page; without a live session the page sends to the
/// login form.
struct Session(Employee);

impl FromRequestParts<Arc<Arm>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, arm: &Arc<Arm>) -> Result<Self, Response> {
        arm.employee(&parts.headers)
            .await
            .map(Session)
            .map_err(|_| Redirect::to("/login").into_response())
    }
}

/// The UI's routes.
pub fn router() -> Router<Arc<Arm>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/worklist") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/worklist", get(worklist))
        .route("/tasks/{id}", get(task).post(complete))
        .route("/applications/new", get(new_form).post(new_lookup))
        .route("/applications", post(new_submit))
        .route("/applications/{key}", get(application))
        .route("/applications/{key}/result.pdf", get(result_pdf))
        .route("/commission", get(commission).post(schedule))
        .route("/commission/meetings/{id}", get(meeting))
        .route("/commission/meetings/{id}/agenda", post(agenda_add))
        .route("/commission/meetings/{id}/decisions", post(decide))
        .route("/commission/meetings/{id}/close", post(close))
        .route("/queue", get(queue))
}

fn login_html(error: Option<&str>) -> Html<String> {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Вход",
        None,
        &format!(
            "{err}<form method=\"post\" action=\"/login\"><label>ИИН <input name=\"iin\" id=\"iin\" maxlength=\"12\" required></label><label>Пароль <input type=\"password\" name=\"password\" id=\"password\" required></label><button id=\"login\">Войти</button></form>"
        ),
    )
}

async fn login_form() -> Html<String> {
    login_html(None)
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn all(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

async fn login(State(arm): S, axum::Form(f): Pairs) -> Response {
    let iin = field(&f, "iin").unwrap_or("").trim().to_string();
    let password = field(&f, "password").unwrap_or("");
    match employees::login(
        &arm.engine.pool,
        &iin,
        password,
        arm.engine.clock.now(),
        arm.session_lifetime,
    )
    .await
    {
        Ok(employees::Login::Ok(token, _)) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/worklist".to_string()),
                (
                    header::SET_COOKIE,
                    format!(
                        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                        super::COOKIE,
                        arm.session_lifetime.whole_seconds()
                    ),
                ),
            ],
        )
            .into_response(),
        Ok(employees::Login::Refused) => (
            StatusCode::UNAUTHORIZED,
            login_html(Some("Неверный ИИН или пароль")),
        )
            .into_response(),
        Ok(employees::Login::Throttled { until }) => {
            let local = until.to_offset(time::UtcOffset::from_hms(5, 0, 0).expect("UTC+5"));
            (
                StatusCode::TOO_MANY_REQUESTS,
                login_html(Some(&format!(
                    "Слишком много неудачных попыток входа; повторите после {:02}:{:02}",
                    local.hour(),
                    local.minute()
                ))),
            )
                .into_response()
        }
        Err(e) => error_page(None, &e.into()),
    }
}

async fn logout(State(arm): S, headers: HeaderMap) -> Response {
    if let Some(t) = super::cookie_token(&headers) {
        let _ = employees::logout(&arm.engine.pool, &t).await;
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (
                header::SET_COOKIE,
                format!("{}=; Path=/; Max-Age=0", super::COOKIE),
            ),
        ],
    )
        .into_response()
}

async fn worklist(State(arm): S, Session(w): Session) -> Response {
    let tasks = match views::worklist(&arm.engine, &w).await {
        Ok(t) => t,
        Err(e) => return error_page(Some(&w), &e.into()),
    };
    let mut rows = String::new();
    for t in &tasks {
        rows.push_str(&format!(
            "<tr class=\"task{}\"><td><a href=\"/tasks/{}\" id=\"task-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            if t.overdue { " overdue" } else { "" },
            t.id,
            t.id,
            esc(&t.number),
            esc(&t.applicant_name),
            esc(&t.action),
            when(Some(t.started_at)),
            when(t.due_at),
            if t.overdue { " <span class=\"overdue\">просрочено</span>" } else { "" },
        ));
    }
    let body = if tasks.is_empty() {
        "<p id=\"empty\">Задач нет.</p>".to_string()
    } else {
        format!(
            "<table id=\"worklist\"><tr><th>Заявление</th><th>Заявитель</th><th>Действие</th><th>Начато</th><th>Срок</th></tr>{rows}</table>"
        )
    };
    page("Рабочий список", Some(&w), &body).into_response()
}

fn application_block(v: &views::ApplicationView) -> String {
    let a = &v.application;
    let mut s = format!(
        "<table><tr><th>Номер</th><td id=\"number\">{}</td></tr><tr><th>Услуга</th><td>{}</td></tr><tr><th>Заявитель</th><td>{} (ИИН {})</td></tr><tr><th>Категория</th><td>{}</td></tr><tr><th>Канал</th><td>{}</td></tr><tr><th>Статус</th><td id=\"status\">{}</td></tr><tr><th>Зарегистрировано</th><td>{}</td></tr><tr><th>Срок оказания</th><td>{}{}</td></tr>",
        esc(&a.number),
        esc(&v.regulation_title),
        esc(&a.applicant_name),
        esc(&a.applicant_iin),
        esc(&a.category),
        esc(&a.channel),
        esc(&v.status_label),
        when(Some(a.registered_at)),
        when(Some(a.due_at)),
        if a.overdue {
            " <span class=\"overdue\">просрочено</span>"
        } else {
            ""
        },
    );
    if let Some(n) = a.queue_number {
        s.push_str(&format!(
            "<tr><th>Номер в очереди</th><td id=\"queue-number\">{n}</td></tr>"
        ));
    }
    s.push_str("</table><h2>Документы</h2><ul>");
    for d in &v.attachments {
        s.push_str(&format!(
            "<li>{} — {}{}</li>",
            esc(&d.kind),
            if d.paper {
                "оригинал на бумаге"
            } else {
                ""
            },
            if d.scanned {
                format!(
                    " <a href=\"/api/v1/applications/{}/attachments/{}\">скан {}</a>",
                    a.id,
                    d.id,
                    esc(&d.name)
                )
            } else {
                String::new()
            }
        ));
    }
    s.push_str("</ul><h2>Ход исполнения</h2><table><tr><th>Шаг</th><th>Начат</th><th>Срок</th><th>Завершен</th><th>Кем</th><th>Решение</th></tr>");
    for r in &v.steps {
        s.push_str(&format!(
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if r.overdue { " class=\"overdue\"" } else { "" },
            esc(&r.step_id),
            when(Some(r.started_at)),
            when(r.due_at),
            when(r.completed_at),
            esc(r.completed_by.as_deref().unwrap_or("")),
            esc(r.outcome.as_deref().unwrap_or("")),
        ));
    }
    s.push_str("</table>");
    if let Some(r) = &v.result {
        s.push_str(&format!(
            "<h2>Результат</h2><p>{} · {} · <a href=\"/applications/{}/result.pdf\" id=\"result-pdf\">PDF</a></p>",
            esc(&r.result_id),
            esc(&r.signer_name.clone().map(|n| format!("подписано: {n}")).unwrap_or_else(|| "не подписано".into())),
            a.id
        ));
    }
    s
}

async fn task(State(arm): S, Session(w): Session, Path(id): Path<i64>) -> Response {
    let t = match views::task(&arm.engine, &w, id).await {
        Ok(t) => t,
        Err(e) => return error_page(Some(&w), &e.into()),
    };
    let mut form = String::new();
    if t.task.status == "open" && t.kind != "commission" {
        form.push_str(&format!("<h2>Исполнение</h2><p>{}</p><form method=\"post\" action=\"/tasks/{id}\" id=\"complete-form\">", esc(&t.completion)));
        if !t.outcomes.is_empty() {
            form.push_str("<fieldset><legend>Решение</legend>");
            for (i, o) in t.outcomes.iter().enumerate() {
                form.push_str(&format!(
                    "<label><input type=\"radio\" name=\"outcome\" value=\"{}\" id=\"outcome-{}\"{}> {}</label>",
                    esc(&o.id),
                    esc(&o.id),
                    if i == 0 { " checked" } else { "" },
                    esc(&o.name)
                ));
            }
            form.push_str("</fieldset>");
        }
        if !t.candidates.is_empty() {
            form.push_str("<label>Исполнитель <select name=\"assignee\" id=\"assignee\">");
            for c in &t.candidates {
                form.push_str(&format!(
                    "<option value=\"{}\">{}</option>",
                    esc(&c.iin),
                    esc(&c.full_name())
                ));
            }
            form.push_str("</select></label>");
        }
        if t.kind == "check" {
            form.push_str("<fieldset><legend>Документы (C-docs)</legend>");
            for d in &t.documents {
                form.push_str(&format!(
                    "<label>{} {}{} — отметить как отсутствующий <input type=\"checkbox\" name=\"missing_documents\" value=\"{}\"></label>",
                    if d.present { "✔" } else { "✘" },
                    esc(&d.name),
                    if d.required { " (обязательный)" } else { "" },
                    esc(&d.id)
                ));
            }
            form.push_str("</fieldset>");
        }
        if t.outcomes.iter().any(|o| o.id == "refuse") {
            form.push_str("<fieldset><legend>Основания отказа</legend>");
            for g in &t.refusal_grounds {
                form.push_str(&format!(
                    "<label><input type=\"checkbox\" name=\"grounds\" value=\"{}\"> {}</label>",
                    esc(&g.id),
                    esc(&g.name)
                ));
            }
            form.push_str("</fieldset>");
        }
        form.push_str("<label>Примечание <textarea name=\"note\"></textarea></label><button id=\"complete\">Исполнить</button></form>");
    } else if t.kind == "commission" {
        form.push_str(
            "<p>Решение принимает комиссия: <a href=\"/commission\">повестка и протокол</a>.</p>",
        );
    } else {
        form.push_str(&format!(
            "<p class=\"ok\">Исполнено {} ({})</p>",
            when(t.task.completed_at),
            esc(t.task.completed_by.as_deref().unwrap_or(""))
        ));
    }
    let body = format!(
        "<p><strong>Шаг:</strong> {} — {}</p><p><strong>Срок:</strong> {}{}</p>{form}<h2>Заявление</h2>{}",
        esc(&t.task.step_id),
        esc(&t.action),
        when(t.task.due_at),
        if t.task.overdue {
            " <span class=\"overdue\" id=\"overdue\">просрочено</span>"
        } else {
            ""
        },
        application_block(&t.application)
    );
    page(&format!("Задача {id}"), Some(&w), &body).into_response()
}

async fn complete(
    State(arm): S,
    Session(w): Session,
    Path(id): Path<i64>,
    axum::Form(f): Pairs,
) -> Response {
    let amount = match field(&f, "amount").filter(|s| !s.trim().is_empty()) {
        Some(a) => match a.trim().parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                return error_page(
                    Some(&w),
                    &ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "INVALID",
                        "the amount is a whole number of tenge",
                    ),
                );
            }
        },
        None => None,
    };
    let c = Completion {
        outcome: field(&f, "outcome").map(String::from),
        assignee: field(&f, "assignee").map(String::from),
        missing_documents: all(&f, "missing_documents"),
        grounds: all(&f, "grounds"),
        note: field(&f, "note")
            .filter(|s| !s.trim().is_empty())
            .map(String::from),
        amount,
    };
    match arm.engine.complete(id, &w, c).await {
        Ok(_) => Redirect::to(&format!("/tasks/{id}")).into_response(),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn application(State(arm): S, Session(w): Session, Path(key): Path<String>) -> Response {
    match store::application(&arm.engine.pool, &key).await {
        Ok(Some(a)) if a.provider_id == w.provider_id => {
            match views::application(&arm.engine, a).await {
                Ok(v) => page(
                    &format!("Заявление {}", v.application.number),
                    Some(&w),
                    &application_block(&v),
                )
                .into_response(),
                Err(e) => error_page(Some(&w), &e.into()),
            }
        }
        Ok(_) => error_page(
            Some(&w),
            &ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no application {key}"),
            ),
        ),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn result_pdf(State(arm): S, Session(w): Session, Path(key): Path<String>) -> Response {
    let row: Result<Option<Vec<u8>>, sqlx::Error> = sqlx::query_scalar(
        "select r.pdf from results r join applications a on a.id = r.application_id
         where (a.id::text = $1 or a.number = $1) and a.provider_id = $2 order by r.drafted_at desc limit 1",
    )
    .bind(&key)
    .bind(&w.provider_id)
    .fetch_optional(&arm.engine.pool)
    .await;
    match row {
        Ok(Some(pdf)) => ([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response(),
        Ok(None) => error_page(
            Some(&w),
            &ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no result document"),
        ),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn new_form(State(arm): S, Session(w): Session) -> Response {
    let regs = arm.engine.catalog.of_provider(&w.provider_id);
    let options: String = regs
        .iter()
        .filter(|r| r.channel("provider").is_some())
        .map(|r| {
            format!(
                "<option value=\"{}\">{} ({})</option>",
                esc(&r.id),
                esc(&r.service_name.ru),
                esc(&r.id)
            )
        })
        .collect();
    if options.is_empty() {
        return error_page(
            Some(&w),
            &ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "WRONG_CHANNEL",
                "the regulations of this provider take no applications through the provider",
            ),
        );
    }
    let body = format!(
        "<form method=\"post\" action=\"/applications/new\"><label>Услуга <select name=\"regulation\">{options}</select></label><label>ИИН заявителя <input name=\"iin\" id=\"applicant-iin\" maxlength=\"12\" required></label><button id=\"lookup\">Запросить ГБД ФЛ</button></form>"
    );
    page("Новое заявление", Some(&w), &body).into_response()
}

async fn new_lookup(State(arm): S, Session(w): Session, axum::Form(f): Pairs) -> Response {
    let reg = match arm.regulation_for(&w, field(&f, "regulation")) {
        Ok(r) => r,
        Err(e) => return error_page(Some(&w), &e),
    };
    let iin = field(&f, "iin").unwrap_or("").trim().to_string();
    let person = match arm.lookup(&w, &iin, &reg.service).await {
        Ok(Lookup::Found(p)) => p,
        Ok(Lookup::Refused(e)) => {
            return error_page(
                Some(&w),
                &ApiError::new(StatusCode::NOT_FOUND, &e.code, e.message),
            );
        }
        Err(e) => return error_page(Some(&w), &e),
    };
    let cats: String = reg
        .categories
        .iter()
        .map(|c| {
            format!(
                "<option value=\"{}\">{}</option>",
                esc(&c.id),
                esc(&c.name.ru)
            )
        })
        .collect();
    let mut fields = String::new();
    for fl in &reg.fields {
        if fl.id.starts_with("applicant.")
            || fl.id == "category"
            || fl.id.starts_with("representative.")
            || fl.id.starts_with("poa.")
        {
            continue;
        }
        fields.push_str(&format!(
            "<label>{}{} <input name=\"form.{}\"{}></label>",
            esc(&fl.name.ru),
            if fl.required { " *" } else { "" },
            esc(&fl.id),
            if fl.required { " required" } else { "" }
        ));
    }
    let mut docs = String::new();
    for d in &reg.documents {
        docs.push_str(&format!(
            "<fieldset><legend>{}{}</legend><label><input type=\"checkbox\" name=\"paper.{}\" value=\"on\"> оригинал представлен</label><label>скан <input type=\"file\" name=\"scan.{}\"></label></fieldset>",
            esc(&d.name.ru),
            if d.required { " (обязательный)" } else { "" },
            esc(&d.id),
            esc(&d.id)
        ));
    }
    let address = person
        .address
        .as_ref()
        .map(|a| format!("{}, {}, {}, {}", a.region, a.locality, a.street, a.house))
        .unwrap_or_default();
    let body = format!(
        "<p class=\"ok\" id=\"person\">ГБД ФЛ: {} · ИИН {} · {}</p><form method=\"post\" action=\"/applications\" enctype=\"multipart/form-data\"><input type=\"hidden\" name=\"regulation\" value=\"{}\"><input type=\"hidden\" name=\"iin\" value=\"{}\"><label>Категория <select name=\"category\">{cats}</select></label><label>Телефон * <input name=\"phone\" required></label><label>Эл. почта <input name=\"email\"></label><label>Адрес проживания <input name=\"address\" value=\"{}\"></label>{fields}<h2>Документы</h2>{docs}<button id=\"submit\">Подписать ЭЦП и зарегистрировать</button></form>",
        esc(&person.full_name().unwrap_or_default()),
        esc(&person.iin),
        esc(&address),
        esc(&reg.id),
        esc(&person.iin),
        esc(&address),
    );
    page("Новое заявление", Some(&w), &body).into_response()
}

async fn new_submit(State(arm): S, Session(w): Session, mut mp: Multipart) -> Response {
    let mut n = NewApplication::default();
    let mut papers: Vec<String> = Vec::new();
    let mut scans: Vec<(String, String, String, Vec<u8>)> = Vec::new();
    loop {
        let part = match mp.next_field().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return error_page(Some(&w), &ApiError::bad_request(e.to_string())),
        };
        let name = part.name().unwrap_or("").to_string();
        let file_name = part.file_name().map(String::from);
        let media = part
            .content_type()
            .map(String::from)
            .unwrap_or_else(|| "application/octet-stream".into());
        let bytes = match part.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return error_page(Some(&w), &ApiError::bad_request(e.to_string())),
        };
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "regulation" => n.regulation = Some(text),
            "iin" => n.iin = text,
            "category" => n.category = text,
            "phone" => n.phone = Some(text).filter(|s| !s.is_empty()),
            "email" => n.email = Some(text).filter(|s| !s.is_empty()),
            "address" => n.address = Some(text).filter(|s| !s.is_empty()),
            other => {
                if let Some(k) = other.strip_prefix("form.") {
                    if !text.is_empty() {
                        let v = text
                            .parse::<i64>()
                            .map(serde_json::Value::from)
                            .unwrap_or(serde_json::Value::String(text));
                        n.form.insert(k.to_string(), v);
                    }
                } else if let Some(k) = other.strip_prefix("paper.") {
                    papers.push(k.to_string());
                } else if let Some(k) = other.strip_prefix("scan.")
                    && !bytes.is_empty()
                {
                    scans.push((
                        k.to_string(),
                        file_name.unwrap_or_else(|| format!("{k}.bin")),
                        media,
                        bytes,
                    ));
                }
            }
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut kinds: Vec<String> = papers.clone();
    for (k, ..) in &scans {
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    for k in kinds {
        let scan = scans.iter().find(|s| s.0 == k);
        n.documents.push(egov_contracts::mio::Attachment {
            kind: k.clone(),
            name: scan.map(|s| s.1.clone()).unwrap_or_default(),
            media_type: scan.map(|s| s.2.clone()).unwrap_or_default(),
            content: scan.map(|s| b64.encode(&s.3)),
            paper: papers.contains(&k),
        });
    }
    match arm.submit(&w, n, Duration::from_secs(15)).await {
        Ok(s) => match (s.application, s.rejection) {
            (Some(a), _) => Redirect::to(&format!("/applications/{}", a.id)).into_response(),
            (None, Some(r)) => error_page(Some(&w), &ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, &r.code, r.message)),
            (None, None) => page("Заявление отправлено", Some(&w), &format!("<p class=\"ok\">Отправлено (messageId {}); регистрация ещё не подтверждена.</p>", esc(&s.message_id))).into_response(),
        },
        Err(e) => error_page(Some(&w), &e),
    }
}

async fn commission(State(arm): S, Session(w): Session) -> Response {
    let pool = &arm.engine.pool;
    let (meetings, waiting) = match (
        crate::commission::meetings(pool, &w.provider_id).await,
        crate::commission::waiting(pool, &w.provider_id).await,
    ) {
        (Ok(m), Ok(x)) => (m, x),
        (Err(e), _) | (_, Err(e)) => return error_page(Some(&w), &e.into()),
    };
    let mut s = String::from(
        "<h2>Заседания</h2><table id=\"meetings\"><tr><th>№</th><th>Дата</th><th>Статус</th><th>Протокол</th></tr>",
    );
    for m in &meetings {
        s.push_str(&format!(
            "<tr><td><a href=\"/commission/meetings/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.id,
            m.number,
            m.meeting_date,
            esc(&m.status),
            esc(m.protocol_number.as_deref().unwrap_or(""))
        ));
    }
    s.push_str(&format!(
        "</table><form method=\"post\" action=\"/commission\"><label>Дата заседания <input type=\"date\" name=\"date\" value=\"{}\" required></label><button id=\"schedule\">Назначить заседание</button></form><h2>Ожидают рассмотрения</h2><ul>",
        arm.engine.clock.today()
    ));
    for a in &waiting {
        s.push_str(&format!(
            "<li>{} — {} ({})</li>",
            esc(&a.number),
            esc(&a.applicant_name),
            esc(&a.category)
        ));
    }
    s.push_str("</ul>");
    page("Комиссия", Some(&w), &s).into_response()
}

async fn schedule(State(arm): S, Session(w): Session, axum::Form(f): Pairs) -> Response {
    let date = match field(&f, "date").map(egov_contracts::date::parse) {
        Some(Ok(d)) => d,
        _ => {
            return error_page(
                Some(&w),
                &ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID",
                    "the date is YYYY-MM-DD",
                ),
            );
        }
    };
    match arm.engine.schedule_meeting(&w, date).await {
        Ok(m) => Redirect::to(&format!("/commission/meetings/{}", m.id)).into_response(),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn meeting(State(arm): S, Session(w): Session, Path(id): Path<Uuid>) -> Response {
    let pool = &arm.engine.pool;
    let m = match crate::commission::meeting(pool, id).await {
        Ok(Some(m)) if m.provider_id == w.provider_id => m,
        Ok(_) => {
            return error_page(
                Some(&w),
                &ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such meeting"),
            );
        }
        Err(e) => return error_page(Some(&w), &e.into()),
    };
    let agenda = crate::commission::agenda(pool, id)
        .await
        .unwrap_or_default();
    let waiting = crate::commission::waiting(pool, &w.provider_id)
        .await
        .unwrap_or_default();
    let decisions: Vec<String> = arm
        .engine
        .catalog
        .of_provider(&w.provider_id)
        .iter()
        .flat_map(|r| r.commission_decisions())
        .fold(Vec::new(), |mut v, d| {
            if !v.contains(&d) {
                v.push(d);
            }
            v
        });
    let grounds: Vec<(String, String)> = arm
        .engine
        .catalog
        .of_provider(&w.provider_id)
        .iter()
        .flat_map(|r| {
            r.refusal_grounds
                .iter()
                .map(|g| (g.id.clone(), g.name.ru.clone()))
        })
        .fold(Vec::new(), |mut v, g| {
            if !v.iter().any(|x: &(String, String)| x.0 == g.0) {
                v.push(g);
            }
            v
        });
    let mut s = format!(
        "<p>Заседание № {} от {} · {}{}</p><h2>Повестка и протокол</h2><table id=\"agenda\"><tr><th>№</th><th>Заявление</th><th>Заявитель</th><th>Решение</th></tr>",
        m.number,
        m.meeting_date,
        esc(&m.status),
        m.protocol_number
            .as_ref()
            .map(|p| format!(" · протокол № {}", esc(p)))
            .unwrap_or_default()
    );
    for i in &agenda {
        let decide = if m.status == "open" {
            let opts: String = decisions
                .iter()
                .map(|d| format!("<option value=\"{}\">{}</option>", esc(d), esc(d)))
                .collect();
            let gr: String = grounds
                .iter()
                .map(|(id, n)| {
                    format!(
                        "<label><input type=\"checkbox\" name=\"grounds\" value=\"{}\"> {}</label>",
                        esc(id),
                        esc(n)
                    )
                })
                .collect();
            format!(
                "<form method=\"post\" action=\"/commission/meetings/{id}/decisions\"><input type=\"hidden\" name=\"application\" value=\"{}\"><select name=\"decision\">{opts}</select> сумма <input name=\"amount\" size=\"8\"><details><summary>основания отказа</summary>{gr}</details><button>Записать</button></form>",
                esc(&i.number)
            )
        } else {
            String::new()
        };
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {decide}</td></tr>",
            i.position,
            esc(&i.number),
            esc(&i.applicant_name),
            esc(i.decision.as_deref().unwrap_or("—"))
        ));
    }
    s.push_str("</table>");
    if m.status == "open" {
        let opts: String = waiting
            .iter()
            .map(|a| {
                format!(
                    "<option value=\"{}\">{} — {}</option>",
                    esc(&a.number),
                    esc(&a.number),
                    esc(&a.applicant_name)
                )
            })
            .collect();
        s.push_str(&format!(
            "<form method=\"post\" action=\"/commission/meetings/{id}/agenda\"><select name=\"application\">{opts}</select><button>Включить в повестку</button></form><form method=\"post\" action=\"/commission/meetings/{id}/close\"><button id=\"close\">Закрыть протокол</button></form>"
        ));
    }
    page("Заседание комиссии", Some(&w), &s).into_response()
}

async fn agenda_add(
    State(arm): S,
    Session(w): Session,
    Path(id): Path<Uuid>,
    axum::Form(f): Pairs,
) -> Response {
    match arm
        .engine
        .add_to_agenda(&w, id, field(&f, "application").unwrap_or(""))
        .await
    {
        Ok(_) => Redirect::to(&format!("/commission/meetings/{id}")).into_response(),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn decide(
    State(arm): S,
    Session(w): Session,
    Path(id): Path<Uuid>,
    axum::Form(f): Pairs,
) -> Response {
    let amount = field(&f, "amount").and_then(|a| a.trim().parse::<i64>().ok());
    match arm
        .engine
        .decide(
            &w,
            id,
            field(&f, "application").unwrap_or(""),
            field(&f, "decision").unwrap_or(""),
            &all(&f, "grounds"),
            amount,
            field(&f, "note"),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/commission/meetings/{id}")).into_response(),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn close(State(arm): S, Session(w): Session, Path(id): Path<Uuid>) -> Response {
    match arm.engine.close_protocol(&w, id).await {
        Ok(_) => Redirect::to(&format!("/commission/meetings/{id}")).into_response(),
        Err(e) => error_page(Some(&w), &e.into()),
    }
}

async fn queue(State(arm): S, Session(w): Session) -> Response {
    let entries = match views::queue(&arm.engine.pool, &w.provider_id, None).await {
        Ok(e) => e,
        Err(e) => return error_page(Some(&w), &e.into()),
    };
    let mut s = String::from(
        "<table id=\"queue\"><tr><th>Категория</th><th>№</th><th>Заявление</th><th>Заявитель</th><th>Дата</th><th>Статус</th></tr>",
    );
    for e in &entries {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.category),
            e.number,
            esc(&e.application_number),
            esc(&e.applicant_name),
            e.registered_on,
            esc(&e.status)
        ));
    }
    s.push_str("</table>");
    page("Очередь", Some(&w), &s).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
