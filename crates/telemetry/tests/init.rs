//! `init`: configuration errors, double initialisation, and OTLP export to a
//! fake collector. Global state, so everything runs in one test, in order.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use egov_telemetry::{Error, LogFormat, TelemetryConfig, current_trace_id, init};
use tokio::sync::mpsc;

/// Minimal subset of the OTLP trace protobuf messages (unknown fields are skipped).
mod otlp {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceResponse {}
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }
    /// Only the `string_value` member of the `oneof`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(string, optional, tag = "1")]
        pub string_value: Option<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub parent_span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        pub name: String,
    }
}

/// A fake OTLP/gRPC trace collector forwarding every export request to a channel.
#[derive(Clone)]
struct Collector {
    tx: mpsc::UnboundedSender<otlp::ExportTraceServiceRequest>,
}

impl tonic::server::NamedService for Collector {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl tower::Service<http::Request<tonic::body::Body>> for Collector {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let tx = self.tx.clone();
        Box::pin(async move {
            if req.uri().path() != "/opentelemetry.proto.collector.trace.v1.TraceService/Export" {
                return Ok(tonic::Status::unimplemented("").into_http());
            }
            let export = tower::service_fn(
                move |request: tonic::Request<otlp::ExportTraceServiceRequest>| {
                    let _ = tx.send(request.into_inner());
                    async {
                        Ok::<_, tonic::Status>(tonic::Response::new(
                            otlp::ExportTraceServiceResponse {},
                        ))
                    }
                },
            );
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(export, req).await)
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cfg(endpoint: Option<&str>) -> TelemetryConfig {
    TelemetryConfig {
        log_format: LogFormat::Json,
        log_filter: "info".to_owned(),
        otlp_endpoint: endpoint.map(str::to_owned),
    }
}

#[test]
fn init_lifecycle() {
    // --- configuration errors install nothing and can be retried ---------
    for bad in [
        "",
        "  ",
        "localhost:4317",
        "ftp://collector:4317",
        "not a url",
        "http://",
    ] {
        let err = init(&cfg(Some(bad)), "svc").unwrap_err();
        assert!(
            matches!(&err, Error::InvalidOtlpEndpoint { endpoint, .. } if endpoint == bad),
            "{bad:?}: {err:?}"
        );
        assert!(err.to_string().contains("invalid OTLP endpoint"), "{err}");
    }

    // A valid endpoint outside a Tokio runtime is an error, not a panic.
    let err = init(&cfg(Some("http://127.0.0.1:4317")), "svc").unwrap_err();
    assert!(matches!(err, Error::NoTokioRuntime { .. }), "{err:?}");

    if std::env::var_os("RUST_LOG").is_none() {
        let mut bad_filter = cfg(None);
        bad_filter.log_filter = "info,egov=notalevel".to_owned();
        let err = init(&bad_filter, "svc").unwrap_err();
        assert!(
            matches!(
                &err,
                Error::InvalidLogFilter {
                    origin: "log_filter",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(
        !tracing::dispatcher::has_been_set(),
        "failed init must not install a subscriber"
    );

    // --- successful init with OTLP export to a fake collector -------------
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(Collector { tx })
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );

        let guard = init(&cfg(Some(&format!("http://{addr}"))), "egov-telemetry-test")
            .expect("init with a valid endpoint");
        assert!(guard.is_exporting());
        assert!(tracing::dispatcher::has_been_set());

        // Second init (in any form) is refused.
        assert!(matches!(
            init(&cfg(None), "svc"),
            Err(Error::AlreadyInitialised)
        ));
        assert!(matches!(
            init(&cfg(Some(&format!("http://{addr}"))), "svc"),
            Err(Error::AlreadyInitialised)
        ));
        // init_for_tests after init is harmless: it must not replace the
        // global tracer provider (checked below through the exported spans).
        egov_telemetry::init_for_tests();
        {
            use opentelemetry::trace::Tracer as _;
            opentelemetry::global::tracer("direct").in_span("global-tracer-span", |_| {});
        }

        let (trace_id, child_trace_id) = {
            let span = tracing::info_span!("exported-parent");
            let _e = span.enter();
            tracing::info!("inside the exported span");
            let child = tracing::info_span!("exported-child")
                .in_scope(|| current_trace_id().expect("child trace id"));
            (current_trace_id().expect("trace id"), child)
        };
        assert_eq!(trace_id, child_trace_id);

        // Propagation uses the propagator installed by `init`.
        let mut md = tonic::metadata::MetadataMap::new();
        tracing::info_span!("propagated").in_scope(|| egov_telemetry::inject_grpc(&mut md));
        assert!(md.get("traceparent").is_some());

        // Shutdown blocks, so run it off the runtime's worker threads.
        let started = Instant::now();
        tokio::task::spawn_blocking(move || guard.shutdown())
            .await
            .unwrap()
            .expect("shutdown flushes to the collector");
        assert!(started.elapsed() < egov_telemetry::SHUTDOWN_TIMEOUT + Duration::from_secs(2));

        let mut spans = Vec::new();
        let mut service_names = Vec::new();
        while let Ok(request) = rx.try_recv() {
            for rs in request.resource_spans {
                for kv in rs.resource.iter().flat_map(|r| r.attributes.iter()) {
                    if kv.key == "service.name" {
                        service_names.push(kv.value.as_ref().and_then(|v| v.string_value.clone()));
                    }
                }
                spans.extend(rs.scope_spans.into_iter().flat_map(|s| s.spans));
            }
        }
        assert!(!service_names.is_empty(), "no resource exported");
        assert!(
            service_names
                .iter()
                .all(|n| n.as_deref() == Some("egov-telemetry-test")),
            "{service_names:?}"
        );
        let parent = spans
            .iter()
            .find(|s| s.name == "exported-parent")
            .unwrap_or_else(|| panic!("parent span not exported: {spans:?}"));
        let child = spans
            .iter()
            .find(|s| s.name == "exported-child")
            .expect("child span exported");
        assert_eq!(hex(&parent.trace_id), trace_id);
        assert_eq!(hex(&child.trace_id), trace_id);
        assert_eq!(child.parent_span_id, parent.span_id);
        assert!(parent.parent_span_id.is_empty());
        assert!(
            spans.iter().any(|s| s.name == "global-tracer-span"),
            "init must set the global tracer provider: {spans:?}"
        );
    });
}
