//! Installation of the global `tracing` subscriber and OpenTelemetry pipeline.

use std::fmt;
use std::io::IsTerminal as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::{Error, LogFormat, TelemetryConfig};

/// How long [`Guard::shutdown`] (and [`Guard`]'s `Drop`) wait for pending
/// spans to be exported before giving up.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Set while [`init`] runs or after it succeeded; guards against double initialisation.
static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Targets whose spans are never turned into OpenTelemetry spans: the OTLP
/// exporter's own HTTP/2 client would otherwise trace its exports, producing
/// more spans to export (a feedback loop at `trace` level).
const OTEL_EXCLUDED_TARGETS: &[&str] = &["h2", "hyper", "opentelemetry"];

/// Keeps the tracer provider alive; flushes and shuts it down when shut down or dropped.
///
/// Keep it in `main` for the lifetime of the service. Dropping it stops span
/// export (logging keeps working). Shutdown blocks the calling thread for at
/// most [`SHUTDOWN_TIMEOUT`]; the OTLP exporter needs a running Tokio runtime
/// (with a free worker thread) to finish the last export, so shut down before
/// the runtime is dropped, preferably from a multi-threaded runtime.
#[must_use = "dropping the guard immediately shuts down span export"]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
    exporting: bool,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("exporting", &self.exporting)
            .field("shut_down", &self.provider.is_none())
            .finish()
    }
}

impl Guard {
    /// Whether spans are exported over OTLP (i.e. `otlp_endpoint` was set).
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// Flushes pending spans and shuts the tracer provider down, waiting at
    /// most [`SHUTDOWN_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`Error::Shutdown`] if the export failed or timed out.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), Error> {
        match self.provider.take() {
            Some(provider) => provider
                .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
                .map_err(Error::from),
            None => Ok(()),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown_inner() {
            // The subscriber is still installed, so this is still logged.
            tracing::warn!(error = %err, "telemetry shutdown failed");
        }
    }
}

/// Initialises process-wide telemetry.
///
/// Installs, as the global `tracing` subscriber:
///
/// * an [`EnvFilter`] built from `RUST_LOG` when set and non-empty, otherwise
///   from [`TelemetryConfig::log_filter`];
/// * a log layer writing to stdout in [`TelemetryConfig::log_format`];
/// * a [`tracing_opentelemetry`] layer, so every span gets an OpenTelemetry
///   trace id / span id that can be propagated. When
///   [`TelemetryConfig::otlp_endpoint`] is set, spans are exported over
///   OTLP/gRPC (tonic) through a batch span processor, with the resource
///   attribute `service.name = service_name`; otherwise they are not exported.
///
/// It also installs the W3C TraceContext propagator as the global text-map
/// propagator (used by [`inject_grpc`](crate::inject_grpc) and friends), sets the
/// global OpenTelemetry tracer provider, and forwards `log` records to `tracing`.
///
/// Must be called from within a Tokio runtime when `otlp_endpoint` is set.
///
/// # Errors
///
/// * [`Error::AlreadyInitialised`] if called a second time, or if another
///   global `tracing` subscriber is already installed;
/// * [`Error::InvalidLogFilter`], [`Error::InvalidOtlpEndpoint`],
///   [`Error::NoTokioRuntime`], [`Error::OtlpExporter`] for bad configuration.
///   After such an error nothing has been installed and `init` may be retried.
pub fn init(cfg: &TelemetryConfig, service_name: &str) -> Result<Guard, Error> {
    if INITIALISED
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err(Error::AlreadyInitialised);
    }
    let result = try_init(cfg, service_name);
    if result.is_err() {
        INITIALISED.store(false, Ordering::SeqCst);
    }
    result
}

fn try_init(cfg: &TelemetryConfig, service_name: &str) -> Result<Guard, Error> {
    if tracing::dispatcher::has_been_set() {
        return Err(Error::AlreadyInitialised);
    }

    let env_filter = build_env_filter(&cfg.log_filter)?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();

    let (provider, exporting) = match cfg.otlp_endpoint.as_deref() {
        Some(endpoint) => {
            validate_endpoint(endpoint)?;
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(Error::NoTokioRuntime {
                    endpoint: endpoint.to_owned(),
                });
            }
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.trim())
                .build()?;
            let provider = SdkTracerProvider::builder()
                .with_resource(resource)
                .with_batch_exporter(exporter)
                .build();
            (provider, true)
        }
        None => (
            SdkTracerProvider::builder().with_resource(resource).build(),
            false,
        ),
    };

    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name.to_owned()))
        .with_filter(otel_targets());

    let ansi = std::io::stdout().is_terminal();
    let fmt_layer = console_layer(cfg.log_format, std::io::stdout, ansi);

    let subscriber = Registry::default()
        .with(fmt_layer)
        .with(otel_layer)
        .with(env_filter);

    install_subscriber(subscriber)?;

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());

    Ok(Guard {
        provider: Some(provider),
        exporting,
    })
}

/// The log layer writing to `writer`: for a person (`pretty`), one line per event,
/// the time, level, the event's fields and its spans' fields, no source-file paths or
/// module targets; for machines (`json`), one JSON object per line with the spans.
pub(crate) fn console_layer<W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_target(false)
            .with_file(false)
            .with_line_number(false)
            .with_thread_ids(false)
            .with_thread_names(false)
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .boxed(),
    }
}

/// Installs `subscriber` globally (plus the `log` bridge).
///
/// A failure of the `log` bridge alone (another `log` logger is installed)
/// is not fatal: the subscriber is in place, only `log` records are lost.
fn install_subscriber<S>(subscriber: S) -> Result<(), Error>
where
    S: Into<tracing::Dispatch>,
{
    if let Err(err) = subscriber.try_init() {
        // `try_init` sets the subscriber first and the log bridge second; if
        // a dispatcher is now set, only the bridge failed.
        if !tracing::dispatcher::has_been_set() {
            return Err(Error::AlreadyInitialised);
        }
        let message = err.to_string();
        if message.contains("global default") {
            return Err(Error::AlreadyInitialised);
        }
        tracing::warn!(error = %message, "could not forward `log` records to tracing");
    }
    Ok(())
}

/// Per-layer filter of the OpenTelemetry layer (see [`OTEL_EXCLUDED_TARGETS`]).
fn otel_targets() -> Targets {
    OTEL_EXCLUDED_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, target| targets.with_target(*target, LevelFilter::OFF),
    )
}

/// The OpenTelemetry layer's filter in tests: what a service records with the default
/// filter ([`DEFAULT_LOG_FILTER`], which [`init`] applies to every layer), without the
/// excluded targets. Without it a test's tracer would take every library's TRACE event
/// (rustls, sqlx, tonic, NATS) as an event of the current span, work a deployment never
/// does, which made up a large part of a message's CPU in the tests and benchmarks.
fn otel_test_targets() -> Targets {
    let base: Targets = DEFAULT_LOG_FILTER
        .parse()
        .expect("the default log filter is a valid list of targets");
    OTEL_EXCLUDED_TARGETS.iter().fold(base, |targets, target| {
        targets.with_target(*target, LevelFilter::OFF)
    })
}

/// The filter when none is configured: the system's own events from INFO, the
/// libraries' INFO chatter (each NATS connection announcing itself, every HTTP/2 frame,
/// each SQL statement) only from WARN.
pub const DEFAULT_LOG_FILTER: &str = "info,async_nats=warn,h2=warn,hyper=warn,hyper_util=warn,tower=warn,sqlx=warn,rustls=warn,tonic=warn,opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry-otlp=warn";

/// `RUST_LOG` (when set and non-empty) wins over the configured filter.
pub(crate) fn build_env_filter(configured: &str) -> Result<EnvFilter, Error> {
    let (filter, origin) = match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(value) if !value.trim().is_empty() => (value, "RUST_LOG"),
        _ if configured.trim().is_empty() => (DEFAULT_LOG_FILTER.to_owned(), "log_filter"),
        _ => (configured.to_owned(), "log_filter"),
    };
    EnvFilter::builder()
        .parse(&filter)
        .map_err(|source| Error::InvalidLogFilter {
            filter,
            origin,
            source,
        })
}

/// Accepts only absolute `http://` / `https://` URLs with a host.
fn validate_endpoint(endpoint: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Error::InvalidOtlpEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = endpoint.trim();
    if trimmed.is_empty() {
        return Err(invalid("the endpoint is empty"));
    }
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|err: http::uri::InvalidUri| invalid(&err.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(invalid(&format!(
                "unsupported scheme `{other}`, expected `http` or `https`"
            )));
        }
        None => {
            return Err(invalid(
                "missing scheme, expected e.g. `http://otel-collector:4317`",
            ));
        }
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(invalid("missing host")),
    }
}

/// Keeps the test tracer provider alive for the whole test process.
static TEST_PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Initialises telemetry for tests; safe to call from every test, any number of times.
///
/// Installs the W3C TraceContext propagator and a `tracing` subscriber with
/// an OpenTelemetry layer backed by a non-exporting tracer provider, so spans
/// get real trace ids that [`inject_grpc`](crate::inject_grpc) and friends can
/// propagate. Output is silent unless the `TEST_LOG` environment variable is
/// set, in which case logs go to the test writer (captured by `cargo test`),
/// filtered by `RUST_LOG` (default `debug`).
///
/// After a successful [`init`] this does nothing. If another global
/// subscriber is already installed it is left in place (the propagator is
/// installed regardless), and later calls to [`init`] return
/// [`Error::AlreadyInitialised`].
pub fn init_for_tests() {
    TEST_PROVIDER.get_or_init(|| {
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name("test").build())
            .build();

        let fmt_layer = std::env::var_os("TEST_LOG").map(|_| {
            let filter = EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(LevelFilter::DEBUG.to_string()));
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(filter)
        });
        let otel_layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("test"))
            .with_filter(otel_test_targets());

        // `init` already ran: it installed everything, leave it alone.
        if INITIALISED
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return provider;
        }
        let subscriber = Registry::default().with(otel_layer).with(fmt_layer);
        let installed = !tracing::dispatcher::has_been_set() && subscriber.try_init().is_ok();

        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        if installed {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        provider
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_validation() {
        for ok in [
            "http://localhost:4317",
            "https://otel.example.kz",
            " http://10.0.0.1:4317 ",
        ] {
            assert!(validate_endpoint(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "   ",
            "localhost:4317",
            "ftp://host:21",
            "http://",
            "not a url",
            "http://exa mple:4317",
        ] {
            assert!(
                matches!(
                    validate_endpoint(bad),
                    Err(Error::InvalidOtlpEndpoint { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn otel_targets_exclude_exporter_internals() {
        use tracing_subscriber::filter::Targets;
        let targets: Targets = otel_targets();
        assert!(!targets.would_enable("h2::proto", &tracing::Level::ERROR));
        assert!(!targets.would_enable("hyper_util::client", &tracing::Level::INFO));
        assert!(!targets.would_enable("opentelemetry_sdk", &tracing::Level::INFO));
        assert!(targets.would_enable("egov_uc::server", &tracing::Level::TRACE));
        assert!(targets.would_enable("tonic::transport", &tracing::Level::DEBUG));
    }

    #[test]
    fn the_tests_tracer_records_what_a_deployment_records() {
        let targets = otel_test_targets();
        assert!(targets.would_enable("egov_uc::server", &tracing::Level::INFO));
        assert!(!targets.would_enable("egov_uc::server", &tracing::Level::DEBUG));
        assert!(!targets.would_enable("rustls::conn", &tracing::Level::TRACE));
        assert!(!targets.would_enable("sqlx::query", &tracing::Level::INFO));
        assert!(targets.would_enable("sqlx::query", &tracing::Level::WARN));
        assert!(!targets.would_enable("h2::proto", &tracing::Level::ERROR));
    }

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Buf {
        type Writer = Buf;
        fn make_writer(&'w self) -> Buf {
            self.clone()
        }
    }

    fn logged(format: LogFormat, filter: &str, f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let subscriber = Registry::default()
            .with(console_layer(format, buf.clone(), false))
            .with(EnvFilter::builder().parse(filter).unwrap());
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_console_has_one_line_per_event_without_source_paths() {
        let out = logged(LogFormat::Pretty, DEFAULT_LOG_FILTER, || {
            let span = tracing::info_span!("intake", application = "ALM-2026-000017");
            let _g = span.enter();
            tracing::info!(step = "register", "заявление зарегистрировано");
            tracing::warn!(code = "SE017", "the CA is out of reach");
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].contains("INFO") && lines[0].contains("заявление зарегистрировано"));
        assert!(lines[0].contains("step=\"register\"") || lines[0].contains("step=register"));
        assert!(
            lines[0].contains("ALM-2026-000017"),
            "the span's fields: {out}"
        );
        assert!(lines[1].contains("WARN") && lines[1].contains("SE017"));
        assert!(!out.contains(".rs"), "no source paths: {out}");
        assert!(!out.contains("egov_telemetry"), "no module targets: {out}");
    }

    #[test]
    fn the_libraries_info_chatter_is_off_by_default() {
        let out = logged(LogFormat::Pretty, DEFAULT_LOG_FILTER, || {
            tracing::info!(target: "async_nats", "event: connected");
            tracing::info!(target: "sqlx::query", "select 1");
            // OpenTelemetry's own announcement at the start of every program
            tracing::info!(target: "opentelemetry", "Global tracer provider is set");
            tracing::warn!(target: "async_nats", "event: disconnected");
            tracing::info!(target: "egov_gateway::core", "accepted");
        });
        assert!(!out.contains("event: connected"), "{out}");
        assert!(!out.contains("select 1"), "{out}");
        assert!(!out.contains("Global tracer provider"), "{out}");
        assert!(
            out.contains("disconnected"),
            "a library's warning stays: {out}"
        );
        assert!(
            out.contains("accepted"),
            "the system's own info stays: {out}"
        );
    }

    #[test]
    fn json_stays_one_setting_away() {
        let out = logged(LogFormat::Json, "info", || {
            let span = tracing::info_span!("hop", gateway = "shep");
            let _g = span.enter();
            tracing::info!(status = "SCSS001", "delivered");
        });
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["fields"]["message"], "delivered");
        assert_eq!(v["fields"]["status"], "SCSS001");
        assert_eq!(v["span"]["gateway"], "shep");
    }
}
