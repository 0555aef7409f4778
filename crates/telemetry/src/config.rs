//! Telemetry configuration.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Output format of the log (fmt) layer.
///
/// Serialised in lowercase (`"pretty"`, `"json"`); parsing with [`FromStr`]
/// is case-insensitive.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For a person: one line per event (time, level, message, fields, spans), no
    /// source paths; ANSI colours when stdout is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// All accepted spellings, in the order they are listed in error messages.
    pub const ALLOWED: &'static [&'static str] = &["pretty", "json"];

    /// The canonical (lowercase) name of the format.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = Error;

    /// Parses `pretty` or `json` (case-insensitive, surrounding whitespace ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("pretty") {
            Ok(LogFormat::Pretty)
        } else if trimmed.eq_ignore_ascii_case("json") {
            Ok(LogFormat::Json)
        } else {
            Err(Error::InvalidLogFormat {
                value: s.to_owned(),
            })
        }
    }
}

/// Configuration of logging and tracing, usually embedded in a service's config file.
///
/// Every field has a default, so an empty table deserialises to
/// [`TelemetryConfig::default()`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// Log output format (default [`LogFormat::Pretty`]).
    pub log_format: LogFormat,
    /// [`EnvFilter`](tracing_subscriber::EnvFilter) directives, e.g. `"info,egov_uc=debug"`
    /// (default `"info"`). When the `RUST_LOG` environment variable is set and
    /// non-empty it takes precedence over this value.
    pub log_filter: String,
    /// OTLP/gRPC collector endpoint, e.g. `"http://otel-collector:4317"`.
    /// When `None` (the default) spans are not exported, but trace ids are
    /// still generated and propagated.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Pretty,
            log_filter: crate::init::DEFAULT_LOG_FILTER.to_owned(),
            otlp_endpoint: None,
        }
    }
}
