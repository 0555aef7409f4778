//! Time, injectable: the engine, the SLA monitor and every timestamp the system writes
//! read it from a [`Clock`] (shared with ИС ЦОН: `egov_calendar::clock`), so that tests
//! can move it across 30 days.

pub use egov_calendar::clock::Clock;
