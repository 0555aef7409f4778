//! The ops page: what Grafana cannot show, server-rendered, without script. The message
//! log's search (live: the page reloads itself while `live=1`), and an application's two
//! diagrams side by side: what its channel of the regulation expects, and what happened
//! (each hop and step at its time, the late ones in red).
//!
//! | path | what |
//! |---|---|
//! | `GET /` | the message-log search: `message_id`, `correlation_id`, `sender`, `service`, `gateway`, `limit` (1–1000), `live=1` |
//! | `GET /applications?number=N` | redirects to `/applications/N` |
//! | `GET /applications/{number}` | the two diagrams, the steps and the hops (`lang=ru|kk`) |
//! | `GET /health` | `ok` |

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use egov_gateway::journal::{Filter, Journal, JournalOptions, MAX_SEARCH_LIMIT};
use egov_regulation::Regulation;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The ops page's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it listens (default `127.0.0.1:7090`).
    pub http_addr: SocketAddr,
    /// The database that holds the gateways' message log (schema `gateway`) and each
    /// ИС МИО's schema; the page only reads.
    pub database_url: String,
    /// The ИС МИО systems to look applications up in (their schemas are their ids with
    /// `_` for `-`).
    pub mio_systems: Vec<String>,
    /// The regulation files.
    pub regulations_dir: PathBuf,
    /// The message log's schema.
    pub journal_schema: String,
}

impl Config {
    /// The defaults for the shipped topology.
    pub fn shipped() -> Self {
        let topology = egov_topology::Topology::shipped();
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 7090)),
            database_url: "postgres://postgres@127.0.0.1:5432/egov".into(),
            mio_systems: topology
                .systems
                .iter()
                .filter(|s| s.kind == egov_topology::Kind::MioIs)
                .map(|s| s.id.clone())
                .collect(),
            regulations_dir: egov_regulation::shipped_dir(),
            journal_schema: "gateway".into(),
        }
    }
}

/// Why the page cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database or its message log cannot be read.
    #[error("ops: {0}")]
    Database(String),
    /// The regulation files are not valid.
    #[error("ops: the regulations in {0}")]
    Regulations(String),
    /// The address cannot be bound.
    #[error("ops: cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

struct Ops {
    journal: Journal,
    mio: Vec<(String, PgPool)>,
    regulations: HashMap<String, Regulation>,
}

/// The ops page, bound and ready to serve.
pub struct OpsPage {
    state: Arc<Ops>,
    listener: tokio::net::TcpListener,
}

impl OpsPage {
    /// Opens the message log and every ИС МИО schema that exists (read-only) and binds.
    pub async fn build(config: Config) -> Result<Self, Error> {
        let pool = egov_db::reader_pool(&config.database_url, &config.journal_schema, 4)
            .await
            .map_err(|e| Error::Database(e.to_string()))?;
        let journal = Journal::open(pool, JournalOptions::default())
            .await
            .map_err(|e| Error::Database(format!("the message log: {e}")))?;
        let mut mio = Vec::new();
        for sys in &config.mio_systems {
            // a system not deployed here has no schema: nothing to look up in it
            if let Ok(p) =
                egov_db::reader_pool(&config.database_url, &sys.replace('-', "_"), 2).await
            {
                mio.push((sys.clone(), p));
            }
        }
        let regulations = egov_regulation::load_dir(&config.regulations_dir)
            .map_err(|p| Error::Regulations(format!("{}: {p}", config.regulations_dir.display())))?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .map_err(|e| Error::Bind(config.http_addr, e))?;
        Ok(OpsPage {
            state: Arc::new(Ops {
                journal,
                mio,
                regulations,
            }),
            listener,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound socket")
    }

    /// Serves until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let app = Router::new()
            .route("/", get(search))
            .route("/applications", get(find))
            .route("/applications/{number}", get(application))
            .route("/health", get(|| async { "ok" }))
            // browsers ask for it on every page
            .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
            .fallback(|| async {
                page_error(StatusCode::NOT_FOUND, "Нет такой страницы")
            })
            .with_state(self.state.clone());
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn layout(title: &str, refresh: bool, body: &str) -> Html<String> {
    let meta = if refresh {
        r#"<meta http-equiv="refresh" content="5">"#
    } else {
        ""
    };
    Html(format!(
        r#"<!doctype html><html lang="ru"><head><meta charset="utf-8">{meta}<title>{} — ops</title>
<style>body{{font-family:'DejaVu Sans',Arial,sans-serif;margin:16px;color:#222}}table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left}}th{{background:#eef2f8}}.late{{background:#fde8e8}}.diagrams{{display:flex;flex-direction:column;gap:16px}}.diagrams section{{overflow-x:auto;border:1px solid #ddd;padding:8px}}form input{{margin-right:8px}}nav a{{margin-right:12px}}</style>
</head><body><nav><a href="/">Журнал сообщений</a></nav><h1>{}</h1>{body}</body></html>"#,
        esc(title),
        esc(title)
    ))
}

fn page_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        layout(
            message,
            false,
            &format!("<p class=\"error\">{}</p>", esc(message)),
        ),
    )
        .into_response()
}

fn field(q: &HashMap<String, String>, k: &str) -> Option<String> {
    q.get(k)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

async fn search(State(ops): State<Arc<Ops>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit = match field(&q, "limit") {
        None => 50,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_SEARCH_LIMIT).contains(&n) => n,
            _ => {
                return page_error(
                    StatusCode::BAD_REQUEST,
                    &format!("limit должен быть числом от 1 до {MAX_SEARCH_LIMIT}, получено «{v}»"),
                );
            }
        },
    };
    let filter = Filter {
        message_id: field(&q, "message_id"),
        correlation_id: field(&q, "correlation_id"),
        sender_id: field(&q, "sender"),
        service_id: field(&q, "service"),
        gateway_id: field(&q, "gateway"),
        limit: Some(limit),
        ..Default::default()
    };
    let rows = match ops.journal.search(&filter).await {
        Ok(r) => r,
        Err(e) => {
            return page_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("журнал недоступен: {e}"),
            );
        }
    };
    let live = field(&q, "live").as_deref() == Some("1");
    let mut b = String::new();
    let v = |k: &str| esc(&field(&q, k).unwrap_or_default());
    let _ = write!(
        b,
        r#"<form method="get" action="/"><input name="message_id" placeholder="messageId" value="{}"><input name="correlation_id" placeholder="correlationId" value="{}"><input name="sender" placeholder="отправитель" value="{}"><input name="service" placeholder="сервис" value="{}"><input name="gateway" placeholder="шлюз" value="{}"><input name="limit" size="4" value="{limit}"><label><input type="checkbox" name="live" value="1"{}> обновлять</label> <button>Искать</button></form>
<form method="get" action="/applications"><input name="number" placeholder="номер заявления"> <button>Схемы заявления</button></form>
<p>{} записей, новые сверху</p><table><tr><th>шлюз</th><th>№</th><th>время (UTC)</th><th>событие</th><th>канал</th><th>сервис</th><th>отправитель → получатель</th><th>код</th><th>messageId</th></tr>"#,
        v("message_id"),
        v("correlation_id"),
        v("sender"),
        v("service"),
        v("gateway"),
        if live { " checked" } else { "" },
        rows.len()
    );
    for r in &rows {
        let x = &r.record;
        let _ = write!(
            b,
            r#"<tr class="row"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td><a href="/?message_id={}">{}</a></td></tr>"#,
            esc(&x.gateway_id),
            r.seq,
            x.at,
            esc(&format!("{:?}", x.event)),
            esc(&format!("{:?}", x.channel)),
            esc(&x.service_id),
            esc(&x.sender_id),
            esc(x.recipient_id.as_deref().unwrap_or("-")),
            esc(&x.status_code),
            esc(&x.message_id),
            esc(&x.message_id),
        );
    }
    b.push_str("</table>");
    layout("Журнал сообщений шлюзов", live, &b).into_response()
}

async fn find(Query(q): Query<HashMap<String, String>>) -> Response {
    match field(&q, "number") {
        Some(n) if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Redirect::to(&format!("/applications/{n}")).into_response()
        }
        _ => page_error(
            StatusCode::BAD_REQUEST,
            "укажите номер заявления (буквы, цифры и дефис), например ALM-2026-000017",
        ),
    }
}

async fn application(
    State(ops): State<Arc<Ops>>,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = match field(&q, "lang").as_deref() {
        None | Some("ru") => "ru",
        Some("kk") => "kk",
        Some(other) => {
            return page_error(
                StatusCode::BAD_REQUEST,
                &format!("язык «{other}» не поддерживается: ru или kk"),
            );
        }
    };
    let mut found = None;
    for (sys, pool) in &ops.mio {
        match crate::journey::load(pool, &ops.journal, &number).await {
            Ok(Some(j)) => {
                found = Some((sys.clone(), j));
                break;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(system = %sys, error = %e, "ops: journey look-up failed"),
        }
    }
    let Some((system, (journey, regulation_id))) = found else {
        return page_error(
            StatusCode::NOT_FOUND,
            &format!("Заявление {number} не найдено"),
        );
    };
    let Some(reg) = ops.regulations.get(&regulation_id) else {
        return page_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("регламент {regulation_id} не загружен"),
        );
    };
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<p>{} · канал <b>{}</b> · {} · <a href="?lang=ru">рус</a> <a href="?lang=kk">қаз</a></p>"#,
        esc(reg.title.get(lang)),
        esc(&journey.channel),
        esc(&system),
    );
    let search = |h: &egov_diagram::journey::Hop| format!("/?message_id={}", h.message_id);
    b.push_str(&egov_diagram::journey::html(
        &journey,
        reg,
        lang,
        Some(&search),
    ));
    let mut r = layout(&format!("Заявление {}", journey.application), false, &b).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}
