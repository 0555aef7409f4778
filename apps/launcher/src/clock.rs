//! The stack's movable clock, for development and tests only (`EGOV_DEV_CLOCK_ADDR`).
//!
//! With it set, ИС МИО, ИС ЦОН and the portal of this launcher share one manual
//! [`Clock`] (the system clock plus an offset), and this small HTTP server moves it
//! forward, so that a scenario run can let a month pass (the result not collected at the
//! centre going to its archive) against a running stack:
//!
//! - `GET /clock` → `{"now": "2026-12-07T10:00:00Z", "offset_seconds": 0}`;
//! - `POST /clock/advance` with `{"seconds": N}` (1 s to 400 days) → the same, moved.
//!
//! A bad body is answered 400 in the APIs' error shape (`egov_system::api::ApiError`,
//! in Russian or Kazakh by `Accept-Language`).
//! The clock only moves forward. Gateways, the certification authority and the
//! registries keep the system clock: certificates and message dates stay real.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use egov_calendar::Clock;
use egov_system::api::{ApiError, Body};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The longest single step forward, seconds (400 days: past a year's deadlines).
pub const MAX_STEP_SECONDS: i64 = 400 * 86_400;

/// The clock's server, bound.
pub struct ClockServer {
    clock: Clock,
    listener: tokio::net::TcpListener,
}

impl ClockServer {
    /// Binds `addr` for `clock` (a manual one).
    pub async fn bind(addr: SocketAddr, clock: Clock) -> std::io::Result<Self> {
        Ok(ClockServer {
            clock,
            listener: tokio::net::TcpListener::bind(addr).await?,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound socket")
    }

    /// Serves until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        axum::serve(self.listener, router(self.clock))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    }
}

/// The routes over `clock`.
pub fn router(clock: Clock) -> Router {
    Router::new()
        .route("/clock", get(show))
        .route("/clock/advance", post(advance))
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async { ApiError::no_route() })
        .layer(axum::middleware::from_fn(egov_system::api::localize))
        .with_state(clock)
}

fn view(clock: &Clock) -> Json<serde_json::Value> {
    let now = clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Json(json!({"now": now, "offset_seconds": clock.offset().whole_seconds()}))
}

async fn show(State(clock): State<Clock>) -> Json<serde_json::Value> {
    view(&clock)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

async fn advance(
    State(clock): State<Clock>,
    body: Body<Advance>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let seconds = body.parsed()?.seconds;
    if !(1..=MAX_STEP_SECONDS).contains(&seconds) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_STEP",
            format!("seconds — от 1 до {MAX_STEP_SECONDS}: часы идут только вперёд"),
            format!("seconds — 1-ден {MAX_STEP_SECONDS}-ге дейін: сағат тек алға жүреді"),
        ));
    }
    clock.advance(time::Duration::seconds(seconds));
    tracing::warn!(
        seconds,
        offset = clock.offset().whole_seconds(),
        "the stack's clock moved forward"
    );
    Ok(view(&clock))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve() -> (String, Clock, CancellationToken) {
        let clock = Clock::manual();
        let s = ClockServer::bind("127.0.0.1:0".parse().unwrap(), clock.clone())
            .await
            .unwrap();
        let url = format!("http://{}", s.addr());
        let stop = CancellationToken::new();
        tokio::spawn(s.run(stop.clone()));
        (url, clock, stop)
    }

    #[tokio::test]
    async fn the_clock_moves_forward_only_and_bad_bodies_are_refused() {
        let (url, clock, stop) = serve().await;
        let http = reqwest::Client::new();
        let v: serde_json::Value = http
            .get(format!("{url}/clock"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["offset_seconds"], 0);
        let r = http
            .post(format!("{url}/clock/advance"))
            .json(&json!({"seconds": 32 * 86_400}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["offset_seconds"], 32 * 86_400);
        assert_eq!(clock.offset(), time::Duration::days(32));
        for (body, code) in [
            (json!({"seconds": -1}), "BAD_STEP"),
            (json!({"seconds": 0}), "BAD_STEP"),
            (json!({"seconds": MAX_STEP_SECONDS + 1}), "BAD_STEP"),
            (json!({"seconds": "a month"}), "BAD_REQUEST"),
            (json!({"days": 31}), "BAD_REQUEST"),
        ] {
            let r = http
                .post(format!("{url}/clock/advance"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{body}");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], code, "{body}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        assert_eq!(clock.offset(), time::Duration::days(32), "nothing moved");
        stop.cancel();
    }
}
