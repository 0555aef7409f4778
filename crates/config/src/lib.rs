//! egov-config
