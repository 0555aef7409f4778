//! `metrics_handle` must not panic when another global recorder was installed first.

#[test]
fn foreign_recorder_does_not_panic() {
    metrics::set_global_recorder(metrics::NoopRecorder).expect("first recorder");

    let handle = egov_telemetry::metrics_handle();
    let again = egov_telemetry::metrics_handle();
    metrics::counter!("egov_test_foreign_total").increment(1);

    // The counter went to the foreign (noop) recorder, not ours.
    assert!(!handle.render().contains("egov_test_foreign_total"));
    assert!(!again.render().contains("egov_test_foreign_total"));
    // The router still works.
    let _router = egov_telemetry::metrics_router();
}
