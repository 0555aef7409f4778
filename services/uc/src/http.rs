//! The HTTP side: CRL, OCSP, CA certificates, health and metrics.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;

use crate::State;

/// Largest OCSP request accepted (a request for a few certificates is a few hundred bytes).
const MAX_OCSP_REQUEST: usize = 64 * 1024;

/// The router of the uc HTTP endpoint.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/crl", get(crl_der))
        .route("/crl.pem", get(crl_pem))
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/{request}", get(ocsp_get))
        .route("/ca/root.pem", get(root_pem))
        .route("/ca/issuing.pem", get(issuing_pem))
        .route("/health", get(health))
        .with_state(state)
        .merge(egov_telemetry::metrics_router())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_OCSP_REQUEST))
}

fn problem(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "code": code, "message": message.into() });
    (status, axum::Json(body)).into_response()
}

async fn crl_der(AxState(s): AxState<Arc<State>>) -> Response {
    crl(&s, false).await
}

async fn crl_pem(AxState(s): AxState<Arc<State>>) -> Response {
    crl(&s, true).await
}

async fn crl(s: &State, as_pem: bool) -> Response {
    match s.crl_der().await {
        Ok(der) if as_pem => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            egov_pki::pem_encode("X509 CRL", der),
        )
            .into_response(),
        Ok(der) => ([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "CRL generation failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "crl-unavailable",
                "the CRL could not be generated",
            )
        }
    }
}

fn ocsp_response(der: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], der).into_response()
}

async fn ocsp_post(AxState(s): AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/ocsp-request") {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-content-type",
            format!("expected application/ocsp-request, got {ct:?}"),
        );
    }
    ocsp_response(s.ocsp(&body).await)
}

async fn ocsp_get(AxState(s): AxState<Arc<State>>, Path(request): Path<String>) -> Response {
    let b64 = request
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    match base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) {
        Ok(der) => ocsp_response(s.ocsp(&der).await),
        // RFC 6960: a request that cannot be parsed gets malformedRequest
        Err(_) => ocsp_response(s.ocsp(b"").await),
    }
}

async fn root_pem(AxState(s): AxState<Arc<State>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.pki().root.to_pem(),
    )
        .into_response()
}

async fn issuing_pem(AxState(s): AxState<Arc<State>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        s.pki().issuing.cert.to_pem(),
    )
        .into_response()
}

async fn health(AxState(s): AxState<Arc<State>>) -> Response {
    let db = match sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(s.pool())
        .await
    {
        Ok(_) => serde_json::json!({"status": "ok"}),
        Err(e) => serde_json::json!({"status": "error", "message": e.to_string()}),
    };
    let now = time::OffsetDateTime::now_utc();
    let ca = &s.pki().issuing.cert;
    let ca_check = if now < ca.not_before || now > ca.not_after {
        serde_json::json!({"status": "error", "message": format!("issuing CA valid {} .. {}", ca.not_before, ca.not_after)})
    } else {
        serde_json::json!({"status": "ok", "not_after": ca.not_after.to_string()})
    };
    let ok = db["status"] == "ok" && ca_check["status"] == "ok";
    let body = serde_json::json!({
        "service": "uc",
        "status": if ok { "ok" } else { "unavailable" },
        "checks": { "database": db, "issuing_ca": ca_check },
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
