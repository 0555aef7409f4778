//! Error type of the crate.

/// Errors returned by this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A log format string was neither `pretty` nor `json`.
    #[error("invalid log format `{value}`: expected one of `pretty`, `json`")]
    InvalidLogFormat {
        /// The rejected input.
        value: String,
    },

    /// The log filter (from the config or `RUST_LOG`) could not be parsed.
    #[error("invalid log filter `{filter}` (from {origin}): {source}")]
    InvalidLogFilter {
        /// The rejected filter directives.
        filter: String,
        /// Where the filter came from: `RUST_LOG` or `log_filter`.
        origin: &'static str,
        /// The parser's error.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },

    /// The OTLP endpoint is not a usable `http://` or `https://` URL.
    #[error("invalid OTLP endpoint `{endpoint}`: {reason}")]
    InvalidOtlpEndpoint {
        /// The rejected endpoint.
        endpoint: String,
        /// Why it was rejected.
        reason: String,
    },

    /// OTLP export over gRPC was requested outside a Tokio runtime.
    #[error(
        "OTLP export to `{endpoint}` needs a Tokio runtime: call egov_telemetry::init from within a Tokio runtime"
    )]
    NoTokioRuntime {
        /// The configured endpoint.
        endpoint: String,
    },

    /// The OTLP span exporter could not be built.
    #[error("failed to build the OTLP span exporter: {0}")]
    OtlpExporter(#[from] opentelemetry_otlp::ExporterBuildError),

    /// Telemetry has already been initialised in this process (by [`init`](crate::init),
    /// [`init_for_tests`](crate::init_for_tests) or another global `tracing` subscriber).
    #[error("telemetry is already initialised in this process")]
    AlreadyInitialised,

    /// Flushing or shutting down the tracer provider failed or timed out.
    #[error("failed to shut down the tracer provider: {0}")]
    Shutdown(#[from] opentelemetry_sdk::error::OTelSdkError),
}
