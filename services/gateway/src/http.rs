//! Health and metrics over HTTP. `/health` says which dependency failed: the database,
//! NATS, the certification authority (OCSP reachable), or the gateway's own certificate
//! (valid and not revoked).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::core::Core;

/// What the health check looks at.
pub struct HealthState {
    /// The gateway.
    pub core: Arc<Core>,
    /// Its database.
    pub pool: PgPool,
    /// Its NATS connection.
    pub nats: async_nats::Client,
    /// The OCSP responder.
    pub ocsp_url: Option<String>,
    /// The issuing CA of the gateway's own certificate (loaded once at start).
    pub issuing: egov_pki::CertInfo,
}

/// The router.
pub fn router(state: Arc<HealthState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(state)
        .merge(egov_telemetry::metrics_router())
}

/// How one dependency fared: the `status` of its entry under `checks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckStatus {
    /// `ok`: usable.
    Ok,
    /// `not-configured`: not used by this gateway, so not in the way.
    NotConfigured,
    /// `error`: not usable; the entry says why.
    Error,
}

impl CheckStatus {
    /// The name in the JSON answer.
    fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::NotConfigured => "not-configured",
            CheckStatus::Error => "error",
        }
    }
}

/// One entry under `checks`: its status, and what else it says.
struct Check {
    status: CheckStatus,
    details: Value,
}

impl Check {
    /// The entry as answered: `status` first, then the details.
    fn into_json(self) -> Value {
        let mut v = json!({"status": self.status.as_str()});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), self.details) {
            o.extend(e);
        }
        v
    }
}

fn ok(details: Value) -> Check {
    Check {
        status: CheckStatus::Ok,
        details,
    }
}

fn error(message: impl Into<String>) -> Check {
    Check {
        status: CheckStatus::Error,
        details: json!({"message": message.into()}),
    }
}

fn not_configured() -> Check {
    Check {
        status: CheckStatus::NotConfigured,
        details: json!({}),
    }
}

async fn health(State(s): State<Arc<HealthState>>) -> Response {
    let database = match tokio::time::timeout(
        Duration::from_secs(3),
        sqlx::query_scalar::<_, i32>("select 1").fetch_one(&s.pool),
    )
    .await
    {
        Ok(Ok(_)) => ok(json!({})),
        Ok(Err(e)) => error(e.to_string()),
        Err(_) => error("no answer within 3 s"),
    };
    let nats = match s.nats.connection_state() {
        async_nats::connection::State::Connected => ok(json!({})),
        other => error(format!("{other:?}")),
    };
    let own = s.core.signer.cert().clone();
    let now = time::OffsetDateTime::now_utc();
    let (ca, certificate) = match &s.ocsp_url {
        None => (not_configured(), validity(&own, now)),
        Some(url) => {
            let client = egov_pki::ocsp::Client::new(
                url.clone(),
                Duration::from_secs(3),
                time::Duration::minutes(1),
            );
            match client.status(&own, &s.issuing, now).await {
                Ok(a) => {
                    let cert = match a.status {
                        egov_pki::ocsp::Status::Revoked { at, .. } => {
                            error(format!("revoked at {at}"))
                        }
                        egov_pki::ocsp::Status::Unknown => error("unknown to the CA"),
                        egov_pki::ocsp::Status::Good => validity(&own, now),
                    };
                    (ok(json!({"ocsp": url})), cert)
                }
                Err(e) => (error(e.to_string()), validity(&own, now)),
            }
        }
    };
    let all_ok = [&database, &nats, &ca, &certificate]
        .iter()
        .all(|c| c.status != CheckStatus::Error);
    let body = json!({
        "service": s.core.id,
        "lane": s.core.lane,
        "status": if all_ok { "ok" } else { "unavailable" },
        "checks": {
            "database": database.into_json(),
            "nats": nats.into_json(),
            "ca": ca.into_json(),
            "certificate": certificate.into_json(),
        },
    });
    let code = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

fn validity(cert: &egov_pki::CertInfo, now: time::OffsetDateTime) -> Check {
    if now > cert.not_after {
        error(format!("expired at {}", cert.not_after))
    } else if now < cert.not_before {
        error(format!("not valid before {}", cert.not_before))
    } else {
        ok(json!({"serial": cert.serial_hex, "not_after": cert.not_after.to_string()}))
    }
}
