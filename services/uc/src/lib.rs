//! egov-uc
