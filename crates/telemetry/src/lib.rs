//! Telemetry for the egov services: logging, distributed tracing, metrics and
//! W3C trace-context propagation.
//!
//! The crate bundles everything a service needs to be observable:
//!
//! * [`init`] installs the global [`tracing`] subscriber (an [`EnvFilter`](tracing_subscriber::EnvFilter),
//!   a human-readable or JSON log layer and an OpenTelemetry layer), optionally
//!   exporting spans over OTLP/gRPC, and returns a [`Guard`] that flushes the
//!   exporter on shutdown.
//! * [`init_for_tests`] is an idempotent, quiet variant for tests.
//! * [`metrics_handle`] / [`metrics_router`] expose Prometheus metrics recorded
//!   through the [`metrics`] facade.
//! * [`inject_grpc`] / [`extract_grpc`] and [`inject_nats`] / [`extract_nats`]
//!   carry the current trace across gRPC metadata and NATS headers using the
//!   W3C `traceparent` / `tracestate` headers; [`set_parent`] attaches an
//!   extracted context to a span and [`current_trace_id`] returns the trace id
//!   of the current span (useful for log correlation and error responses).
//!
//! ```no_run
//! # async fn run() -> Result<(), egov_telemetry::Error> {
//! let cfg = egov_telemetry::TelemetryConfig::default();
//! let guard = egov_telemetry::init(&cfg, "uc")?;
//! tracing::info!("service started");
//! // ... run the service ...
//! guard.shutdown()?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod config;
mod error;
mod init;
mod prometheus;
mod propagation;

pub use config::{LogFormat, TelemetryConfig};
pub use error::Error;
pub use init::{DEFAULT_LOG_FILTER, Guard, SHUTDOWN_TIMEOUT, init, init_for_tests};
pub use prometheus::{SECONDS_BUCKETS, metrics_handle, metrics_router};
pub use propagation::{
    current_trace_id, current_traceparent, extract_grpc, extract_nats, extract_traceparent,
    inject_grpc, inject_nats, set_parent,
};

/// The span attribute naming a span's lane: the structural-functional unit (СФЕ) of the
/// regulations' diagrams it belongs to (`ПЭП`, `ШЭП`, `РШЭП Алматы`, `ИС МИО`, `ИС ЦОН`,
/// `ГБД ФЛ`, `ЕНИС`, `ИС УЦ`). With it, spans name `egov.regulation`, `egov.step` and
/// `egov.application` where the system knows them.
pub const SFE: &str = "egov.sfe";

/// Re-exported so callers can name the handle type without depending on the exporter crate.
pub use metrics_exporter_prometheus::PrometheusHandle;
