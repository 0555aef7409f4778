//! ИС ЦОН with АРМ ИС ЦОН end to end: uc, ШЭП and the РШЭП, ГБД ФЛ and ЕНИС with the
//! named test citizens and powers of attorney, the ИС МИО of each test and ИС ЦОН, on
//! one manual clock (`world`).
//!
//! - `flow`: channel C of every regulation that has it, through the operator API, from
//!   the login to ИС МИО's registration and the status back at ИС ЦОН; one through the
//!   provider's procedure to the signed result and the public look-up;
//! - `refusals`: a person absent or deceased, a power of attorney absent or invalid,
//!   an incomplete set at the desk: each refused in the operator's language, nothing
//!   sent, nothing half-written;
//! - `input`: bad input on every endpoint; logins throttled;
//! - `paper`: the register and the courier's hand-over, the return, the cover's barcode
//!   rendered, rasterized and scanned, the issue with the survey, the archive after a
//!   month; every refusal on the way;
//! - `inbox`: statuses deduplicated by sender and messageId;
//! - `openapi`: the OpenAPI document and the router agree;
//! - `signing`: the operator's signature on their own client (each failed check its
//!   own code) or by the workstation's sealed keys; the outbox delivering an
//!   application taken while the gateway was out of reach, once;
//! - `sla`: late and open steps flagged on a moved clock;
//! - `trace`: the application's one trace from the desk's draft through ГБД ФЛ, the
//!   gateways and ИС МИО back to ИС ЦОН's inbox, through an OTLP receiver;
//! - `ui`: the operator's pages in headless Chromium from the login to the result; the
//!   forms' CSRF token and origin; errors in the page in the operator's language.

#[path = "../mio-is/common/mod.rs"]
mod common;
mod flow;
mod inbox;
mod input;
mod openapi;
mod paper;
mod refusals;
mod signing;
mod sla;
mod trace;
mod ui;
mod world;
