//! W3C trace-context round trips through gRPC metadata and NATS headers.

use egov_telemetry::{
    current_trace_id, current_traceparent, extract_grpc, extract_nats, extract_traceparent,
    init_for_tests, inject_grpc, inject_nats, set_parent,
};
use opentelemetry::trace::TraceContextExt as _;
use tonic::metadata::MetadataMap;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The (trace id, span id) of the current span, as hex.
fn current_ids() -> (String, String) {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    assert!(
        sc.is_valid(),
        "current span has no valid OpenTelemetry context"
    );
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

#[test]
fn spans_get_real_trace_ids() {
    init_for_tests();
    assert_eq!(current_trace_id(), None, "no span is entered yet");

    let a = tracing::info_span!("a").in_scope(current_trace_id);
    let b = tracing::info_span!("b").in_scope(current_trace_id);
    let a = a.expect("span a has a trace id");
    let b = b.expect("span b has a trace id");
    assert!(is_hex(&a, 32), "{a}");
    assert_ne!(a, "0".repeat(32));
    assert_ne!(a, b, "independent root spans must start different traces");

    // A child span stays in its parent's trace.
    let outer = tracing::info_span!("outer");
    let _e = outer.enter();
    let parent_tid = current_trace_id().expect("outer span");
    let child_tid = tracing::info_span!("inner").in_scope(current_trace_id);
    assert_eq!(child_tid.as_deref(), Some(parent_tid.as_str()));
}

#[test]
fn grpc_metadata_round_trip() {
    init_for_tests();
    let span = tracing::info_span!("grpc-client-call");
    let _e = span.enter();
    let (trace_id, span_id) = current_ids();

    let mut md = MetadataMap::new();
    inject_grpc(&mut md);

    let traceparent = md
        .get("traceparent")
        .expect("traceparent injected")
        .to_str()
        .expect("ascii");
    assert_eq!(traceparent, format!("00-{trace_id}-{span_id}-01"));

    let cx = extract_grpc(&md);
    let remote = cx.span();
    let sc = remote.span_context();
    assert!(sc.is_valid());
    assert!(sc.is_remote());
    assert!(sc.is_sampled());
    assert_eq!(sc.trace_id().to_string(), trace_id);
    assert_eq!(sc.span_id().to_string(), span_id);
}

#[test]
fn grpc_server_side_span_joins_the_remote_trace() {
    init_for_tests();
    let mut md = MetadataMap::new();
    let (client_trace, client_span) = tracing::info_span!("client").in_scope(|| {
        inject_grpc(&mut md);
        current_ids()
    });

    // On the server: a fresh root span (no enclosing tracing span) gets the remote parent.
    let server_span = tracing::info_span!(parent: None, "server-handler");
    set_parent(&server_span, extract_grpc(&md));
    let (server_trace, server_span_id) = server_span.in_scope(current_ids);
    assert_eq!(server_trace, client_trace);
    assert_ne!(server_span_id, client_span, "the server span is a new span");
    assert_eq!(
        server_span.in_scope(current_trace_id).as_deref(),
        Some(client_trace.as_str())
    );
}

#[test]
fn inject_without_a_span_adds_nothing() {
    init_for_tests();
    let mut md = MetadataMap::new();
    inject_grpc(&mut md);
    assert!(md.get("traceparent").is_none());
    let mut headers = async_nats::HeaderMap::new();
    inject_nats(&mut headers);
    assert!(headers.is_empty());
}

#[test]
fn nats_headers_round_trip() {
    init_for_tests();
    let span = tracing::info_span!("nats-publish");
    let _e = span.enter();
    let (trace_id, span_id) = current_ids();

    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "abc");
    // A stale value must be replaced, not duplicated.
    headers.insert(
        "traceparent",
        "00-11111111111111111111111111111111-2222222222222222-01",
    );
    inject_nats(&mut headers);

    let values: Vec<_> = headers
        .get_all("traceparent")
        .map(|v| v.as_str().to_owned())
        .collect();
    assert_eq!(values, vec![format!("00-{trace_id}-{span_id}-01")]);
    assert_eq!(headers.get("Nats-Msg-Id").map(|v| v.as_str()), Some("abc"));

    let cx = extract_nats(&headers);
    let remote = cx.span();
    let sc = remote.span_context();
    assert!(sc.is_valid());
    assert!(sc.is_remote());
    assert_eq!(sc.trace_id().to_string(), trace_id);
    assert_eq!(sc.span_id().to_string(), span_id);

    // A consumer span joins the trace.
    let consumer = tracing::info_span!(parent: None, "nats-consume");
    set_parent(&consumer, cx);
    assert_eq!(consumer.in_scope(current_trace_id), Some(trace_id));
}

#[test]
fn nats_extraction_ignores_header_name_case() {
    init_for_tests();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "Traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    headers.insert("TraceState", "egov=1");
    let cx = extract_nats(&headers);
    let remote = cx.span();
    let sc = remote.span_context();
    assert!(sc.is_valid());
    assert_eq!(
        sc.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
    assert_eq!(sc.trace_state().get("egov"), Some("1"));
}

#[test]
fn tracestate_is_propagated_through_grpc() {
    init_for_tests();
    let mut incoming = MetadataMap::new();
    incoming.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    incoming.insert("tracestate", "egov=abc,other=1".parse().unwrap());

    let span = tracing::info_span!(parent: None, "handler");
    set_parent(&span, extract_grpc(&incoming));
    let mut outgoing = MetadataMap::new();
    span.in_scope(|| inject_grpc(&mut outgoing));

    let traceparent = outgoing.get("traceparent").unwrap().to_str().unwrap();
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{traceparent}"
    );
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "new span id expected"
    );
    assert_eq!(
        outgoing.get("tracestate").unwrap().to_str().unwrap(),
        "egov=abc,other=1"
    );
}

const MALFORMED: &[&str] = &[
    "",
    "garbage",
    "00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra-junk",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
];

#[test]
fn malformed_traceparent_in_grpc_metadata_is_ignored() {
    init_for_tests();
    for value in MALFORMED {
        let mut md = MetadataMap::new();
        md.insert("traceparent", value.parse().unwrap());
        md.insert("tracestate", "egov=1".parse().unwrap());
        let cx = extract_grpc(&md);
        assert!(
            !cx.span().span_context().is_valid(),
            "{value:?} must not produce a valid context"
        );
    }
    assert!(!extract_grpc(&MetadataMap::new()).has_active_span());

    // Inside an entered span the result still reflects only the metadata.
    let span = tracing::info_span!("enclosing");
    let _e = span.enter();
    assert!(current_trace_id().is_some());
    let mut md = MetadataMap::new();
    md.insert("traceparent", "garbage".parse().unwrap());
    assert!(!extract_grpc(&md).span().span_context().is_valid());
    assert!(
        !extract_grpc(&MetadataMap::new())
            .span()
            .span_context()
            .is_valid()
    );
}

#[test]
fn malformed_traceparent_in_nats_headers_is_ignored() {
    init_for_tests();
    for value in MALFORMED.iter().copied().chain(["00-ééé-€€-01"]) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("traceparent", value);
        let cx = extract_nats(&headers);
        assert!(
            !cx.span().span_context().is_valid(),
            "{value:?} must not produce a valid context"
        );
    }
    assert!(
        !extract_nats(&async_nats::HeaderMap::new())
            .span()
            .span_context()
            .is_valid()
    );

    // Inside an entered span the result still reflects only the headers.
    let span = tracing::info_span!("enclosing");
    let _e = span.enter();
    assert!(current_trace_id().is_some());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("traceparent", "garbage");
    assert!(!extract_nats(&headers).span().span_context().is_valid());
}

#[test]
fn set_parent_with_invalid_context_keeps_the_local_parent() {
    init_for_tests();
    let mut md = MetadataMap::new();
    md.insert("traceparent", "garbage".parse().unwrap());

    let outer = tracing::info_span!("outer");
    let _e = outer.enter();
    let outer_trace = current_trace_id().unwrap();

    let child = tracing::info_span!("child");
    set_parent(&child, extract_grpc(&md));
    assert_eq!(child.in_scope(current_trace_id), Some(outer_trace));
}

#[test]
fn set_parent_after_the_span_started_does_not_panic() {
    init_for_tests();
    let mut md = MetadataMap::new();
    md.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let span = tracing::info_span!(parent: None, "late");
    let before = span.in_scope(current_trace_id).unwrap();
    set_parent(&span, extract_grpc(&md));
    // Too late: the span keeps its own trace (documented behaviour).
    assert_eq!(span.in_scope(current_trace_id), Some(before));
}

#[test]
fn a_stored_traceparent_joins_later_spans_to_the_trace() {
    init_for_tests();
    assert_eq!(current_traceparent(), None, "no span, nothing to store");
    let (stored, trace_id, span_id) = tracing::info_span!("intake").in_scope(|| {
        let (t, s) = current_ids();
        (current_traceparent().expect("a traceparent"), t, s)
    });
    assert_eq!(stored, format!("00-{trace_id}-{span_id}-01"));

    // much later, in another task: a span about the same application
    let later = tracing::info_span!(parent: None, "status-sent");
    set_parent(&later, extract_traceparent(Some(&stored)));
    let (t, _) = later.in_scope(current_ids);
    assert_eq!(t, trace_id, "the later span is in the application's trace");

    // a malformed or missing value leaves a span its own trace
    for bad in [Some("00-zz-11-01"), Some(""), None] {
        let own = tracing::info_span!(parent: None, "own");
        set_parent(&own, extract_traceparent(bad));
        let (t, _) = own.in_scope(current_ids);
        assert_ne!(t, trace_id, "{bad:?}");
    }
}
