//! W3C trace-context propagation through gRPC metadata and NATS headers.

use std::str::FromStr as _;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Writes into tonic metadata; entries that are not valid ASCII metadata are skipped.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Reads from tonic metadata (keys are case-insensitive there).
struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Writes into NATS headers; names or values NATS would reject are skipped.
struct NatsInjector<'a>(&'a mut async_nats::HeaderMap);

impl Injector for NatsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            async_nats::HeaderName::from_str(key),
            async_nats::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads from NATS headers: exact name first, then a case-insensitive match
/// (NATS header names are case-sensitive, HTTP-style senders may capitalise).
struct NatsExtractor<'a>(&'a async_nats::HeaderMap);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let exact = async_nats::HeaderName::from_str(key)
            .ok()
            .and_then(|name| self.0.get(name));
        exact
            .or_else(|| {
                self.0
                    .iter()
                    .find(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case(key))
                    .and_then(|(_, values)| values.first())
            })
            .map(async_nats::HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Writes into, and reads from, a stored `traceparent` (one header, no state).
#[derive(Default)]
struct Stored(Option<String>);

impl Injector for Stored {
    fn set(&mut self, key: &str, value: String) {
        if key == TRACEPARENT {
            self.0 = Some(value);
        }
    }
}

impl Extractor for Stored {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT).then_some(self.0.as_deref()).flatten()
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

const TRACEPARENT: &str = "traceparent";

fn current_context() -> Context {
    tracing::Span::current().context()
}

/// Injects the OpenTelemetry context of the current `tracing` span into gRPC
/// metadata as `traceparent` (and `tracestate` when non-empty), using the
/// global text-map propagator installed by [`init`](crate::init).
///
/// Does nothing when there is no current span with a valid trace context.
pub fn inject_grpc(md: &mut MetadataMap) {
    let cx = current_context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut MetadataInjector(md));
    });
}

/// Extracts a remote OpenTelemetry context from gRPC metadata.
///
/// The result depends only on the metadata (not on the current span): a
/// missing or malformed `traceparent` yields an empty context whose span
/// context is invalid (never a panic); [`set_parent`] ignores such a context.
pub fn extract_grpc(md: &MetadataMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &MetadataExtractor(md))
    })
}

/// Injects the OpenTelemetry context of the current `tracing` span into NATS
/// message headers as `traceparent` (and `tracestate` when non-empty),
/// replacing any existing values.
///
/// Does nothing when there is no current span with a valid trace context.
pub fn inject_nats(headers: &mut async_nats::HeaderMap) {
    let cx = current_context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut NatsInjector(headers));
    });
}

/// Extracts a remote OpenTelemetry context from NATS message headers.
///
/// The result depends only on the headers (not on the current span): a
/// missing or malformed `traceparent` yields an empty context whose span
/// context is invalid (never a panic); [`set_parent`] ignores such a context.
pub fn extract_nats(headers: &async_nats::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &NatsExtractor(headers))
    })
}

/// Makes the remote context `cx` (from [`extract_grpc`] / [`extract_nats`])
/// the OpenTelemetry parent of `span`.
///
/// Call it right after creating the span and **before it is first entered**
/// (e.g. before `.instrument(span)` runs); afterwards the parent can no longer
/// change. If `cx` carries no valid span context (header missing or
/// malformed), `span` keeps its normal parent (the enclosing `tracing` span,
/// or a new trace). Failures are logged at debug level, not returned.
pub fn set_parent(span: &tracing::Span, cx: Context) {
    if !cx.span().span_context().is_valid() {
        return;
    }
    if let Err(err) = span.set_parent(cx) {
        tracing::debug!(error = %err, "could not set the remote parent of a span");
    }
}

/// The trace id of the current `tracing` span as 32 lowercase hex digits, or
/// `None` when there is no current span or its trace context is invalid
/// (e.g. telemetry not initialised).
pub fn current_trace_id() -> Option<String> {
    let cx = current_context();
    let span = cx.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The W3C `traceparent` of the current `tracing` span, to be stored with what outlives
/// the span: an application's row, an outbox message. `None` when there is no current
/// span with a valid trace context.
///
/// An application keeps the context it arrived with, so that every later span about it
/// (each decision, each status sent back) joins the same trace: one trace per application.
pub fn current_traceparent() -> Option<String> {
    let cx = current_context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut stored = Stored::default();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut stored);
    });
    stored.0
}

/// The context a stored `traceparent` (from [`current_traceparent`]) names, for
/// [`set_parent`]. A missing or malformed value yields an empty context, with which
/// `set_parent` leaves the span's parent as it is.
pub fn extract_traceparent(traceparent: Option<&str>) -> Context {
    let stored = Stored(traceparent.map(str::to_owned));
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &stored)
    })
}
