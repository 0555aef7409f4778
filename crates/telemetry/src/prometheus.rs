//! Prometheus metrics: global recorder and `/metrics` endpoint.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram bucket upper bounds (in seconds) used for every metric whose name
/// ends in `_seconds`: 0.5 ms up to 10 s, roughly ×2–×2.5 per step.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Content type of the Prometheus text exposition format.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// How often idle histogram data is drained when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Returns the handle of the process-wide Prometheus recorder, installing the
/// recorder as the global [`metrics`] recorder on first call.
///
/// Later calls return (a clone of) the same handle. Histograms whose name ends
/// in `_seconds` are rendered as Prometheus histograms with [`SECONDS_BUCKETS`];
/// other histograms are rendered as summaries.
///
/// If a different global `metrics` recorder was installed before the first
/// call, this does not panic: it returns the handle of a recorder that is not
/// installed (so it renders only an empty exposition) and logs a warning.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            {
                Ok(builder) => builder,
                // Only fails for an empty bucket list, which SECONDS_BUCKETS is not.
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(err) = metrics::set_global_recorder(recorder) {
                tracing::warn!(
                    error = %err,
                    "a global metrics recorder is already installed; /metrics will not show its metrics"
                );
            }
            spawn_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// Periodically drains histogram samples so memory stays bounded between scrapes.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("egov-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "could not start the metrics upkeep thread");
    }
}

/// An [`axum::Router`] serving `GET /metrics` in the Prometheus text format
/// (`content-type: text/plain; version=0.0.4`) from [`metrics_handle`].
///
/// Merge or nest it into a service's HTTP router, e.g.
/// `Router::new().merge(egov_telemetry::metrics_router())`.
pub fn metrics_router() -> Router {
    let handle = metrics_handle();
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], handle.render()).into_response() }
        }),
    )
}
