//! ИС МИО with АРМ РШЭП end to end: uc, ШЭП and the РШЭП, ГБД ФЛ and ЕНИС seeded with the
//! named test citizens, the ИС МИО of each test on a manual clock (`common`).
//!
//! - `intake`: bad applications rejected with signed negative statuses, nothing registered;
//! - `regulations`: every regulation file, every branch, through the АРМ API;
//! - `arm`: logins, the worklist, roles, C-docs, the commission, channel B end to end;
//! - `ui`, `browser`: the web UI over plain HTTP and in headless Chromium;
//! - `openapi`: the OpenAPI document and the router agree;
//! - `queue`: gap-free waiting-list numbers under concurrency;
//! - `sla`: steps past their deadline flagged on a moved clock;
//! - `documents`: every result document's lines fit the page;
//! - `fourth_region`: a region added from files alone runs channel B;
//! - `journey`: an application's hops and steps drawn, the late step in red;
//! - `metrics`: every `/metrics` page read by Prometheus's own parser; the dashboards
//!   query only what is exported;
//! - `ops`: the ops page's log search and an application's two diagrams, in Chromium;
//! - `hardening`: passwords, keys, CSRF and Origin, roles and personal data at the АРМ.

mod arm;
mod browser;
mod common;
mod documents;
mod fourth_region;
mod hardening;
mod intake;
mod journey;
mod metrics;
mod openapi;
mod ops;
mod queue;
mod regulations;
mod sla;
mod trace;
mod ui;
