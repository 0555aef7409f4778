//! The Prometheus recorder and the `/metrics` endpoint.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;

async fn get(uri: &str) -> (StatusCode, Option<String>, String) {
    let response = egov_telemetry::metrics_router()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn metrics_endpoint_serves_recorded_counters() {
    let _ = egov_telemetry::metrics_handle();
    metrics::counter!("egov_test_requests_total", "service" => "uc").increment(3);
    metrics::counter!("egov_test_requests_total", "service" => "uc").increment(2);

    let (status, content_type, body) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4"));
    assert!(
        body.lines()
            .any(|l| l == "egov_test_requests_total{service=\"uc\"} 5"),
        "counter missing from:\n{body}"
    );
}

#[tokio::test]
async fn seconds_histograms_use_configured_buckets() {
    let _ = egov_telemetry::metrics_handle();
    metrics::histogram!("egov_test_latency_seconds").record(0.003);
    metrics::histogram!("egov_test_latency_seconds").record(7.0);
    metrics::histogram!("egov_test_payload_bytes").record(100.0);

    let (status, _, body) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let has = |line: &str| body.lines().any(|l| l == line);
    assert!(
        has("egov_test_latency_seconds_bucket{le=\"0.0005\"} 0"),
        "{body}"
    );
    assert!(
        has("egov_test_latency_seconds_bucket{le=\"0.0025\"} 0"),
        "{body}"
    );
    assert!(
        has("egov_test_latency_seconds_bucket{le=\"0.005\"} 1"),
        "{body}"
    );
    assert!(
        has("egov_test_latency_seconds_bucket{le=\"5\"} 1"),
        "{body}"
    );
    assert!(
        has("egov_test_latency_seconds_bucket{le=\"10\"} 2"),
        "{body}"
    );
    assert!(
        has("egov_test_latency_seconds_bucket{le=\"+Inf\"} 2"),
        "{body}"
    );
    assert!(has("egov_test_latency_seconds_count 2"), "{body}");
    // Other histograms are summaries, not bucketed.
    assert!(!body.contains("egov_test_payload_bytes_bucket"), "{body}");
    assert!(has("egov_test_payload_bytes_count 1"), "{body}");
}

#[tokio::test]
async fn other_paths_are_not_found() {
    let (status, _, _) = get("/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn handle_is_shared_across_calls() {
    let a = egov_telemetry::metrics_handle();
    let b = egov_telemetry::metrics_handle();
    metrics::gauge!("egov_test_shared_gauge").set(42.0);
    assert!(a.render().contains("egov_test_shared_gauge 42"));
    assert!(b.render().contains("egov_test_shared_gauge 42"));
}
