//! Configuration types.

use egov_telemetry::{Error, LogFormat, TelemetryConfig};

#[test]
fn defaults() {
    let cfg = TelemetryConfig::default();
    assert_eq!(cfg.log_format, LogFormat::Pretty);
    assert_eq!(cfg.log_filter, egov_telemetry::DEFAULT_LOG_FILTER);
    assert_eq!(cfg.otlp_endpoint, None);
    assert_eq!(LogFormat::default(), LogFormat::Pretty);
}

#[test]
fn log_format_parses_case_insensitively() {
    assert_eq!("pretty".parse::<LogFormat>().unwrap(), LogFormat::Pretty);
    assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
    assert_eq!(" Json ".parse::<LogFormat>().unwrap(), LogFormat::Json);
    assert_eq!(LogFormat::Json.to_string(), "json");
    assert_eq!(LogFormat::Pretty.to_string(), "pretty");
}

#[test]
fn log_format_parse_errors_list_allowed_values() {
    for bad in ["", "yaml", "jsonl", "pretty json"] {
        let err = bad.parse::<LogFormat>().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidLogFormat { value } if value == bad),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{bad}`")), "{msg}");
        assert!(msg.contains("pretty") && msg.contains("json"), "{msg}");
    }
}

#[test]
fn serde_uses_lowercase_and_defaults() {
    let cfg: TelemetryConfig =
        serde_json::from_str(r#"{"log_format":"json","otlp_endpoint":"http://otel:4317"}"#)
            .unwrap();
    assert_eq!(cfg.log_format, LogFormat::Json);
    assert_eq!(cfg.log_filter, egov_telemetry::DEFAULT_LOG_FILTER);
    assert_eq!(cfg.otlp_endpoint.as_deref(), Some("http://otel:4317"));

    let empty: TelemetryConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, TelemetryConfig::default());

    let json = serde_json::to_value(TelemetryConfig::default()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"log_format": "pretty", "log_filter": egov_telemetry::DEFAULT_LOG_FILTER, "otlp_endpoint": null})
    );

    assert!(serde_json::from_str::<TelemetryConfig>(r#"{"log_format":"Json"}"#).is_err());
    assert!(serde_json::from_str::<TelemetryConfig>(r#"{"log_format":"xml"}"#).is_err());
}
