//! egov-tests
