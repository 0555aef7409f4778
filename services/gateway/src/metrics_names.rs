//! Metric names of the gateway.

/// Counter: messages by gateway, channel, service and status code.
pub const MESSAGES: &str = "egov_gateway_messages_total";
/// Histogram: time in the gateway (including the recipient for sync), seconds.
pub const DURATION: &str = "egov_gateway_request_duration_seconds";
/// Gauge: requests being processed.
pub const IN_FLIGHT: &str = "egov_gateway_in_flight";
/// Gauge: messages waiting in a recipient's inbox (pending + unacknowledged).
pub const INBOX_PENDING: &str = "egov_gateway_inbox_pending";
