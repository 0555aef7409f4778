//! egov-proto
