//! ПЭП end to end: uc, ШЭП and the РШЭП, ГБД ФЛ and ЕНИС with the named test citizens,
//! the ИС МИО of each test and the portal, on one manual clock (`world`).
//!
//! - `flow`: channel A of every regulation that has it, from the registration to the
//!   signed result in the cabinet, the employees' steps driven through the АРМ API;
//! - `auth`: registration and login: the IIN asked of ГБД ФЛ, wrong passwords, throttling,
//!   expired tokens, errors in Russian and Kazakh, CORS;
//! - `drafts`: bad input on the draft and its attachments; another's application is 404;
//! - `signing`: every C-sign failure its own code, nothing sent;
//! - `notices`: server-sent events, e-mail through a real SMTP server, the inbox's
//!   deduplication;
//! - `steps`: the portal channel's steps on each application, a refused signature and
//!   a send past its deadline flagged by the SLA scan;
//! - `outbox`: a send retried with the same messageId until the gateway takes it;
//! - `tickets`: the event stream opened with a single-use ticket, as a browser's
//!   `EventSource` opens it;
//! - `openapi`: the OpenAPI document and the router agree, and a property-based fuzzer
//!   finds the document as strict as the server;
//! - `ui`: the cabinet's pages over HTTP: refusals in the page in Russian and Kazakh,
//!   CSRF and origin checks, another's application 404.

mod auth;
#[path = "../mio-is/common/mod.rs"]
mod common;
mod drafts;
mod flow;
mod notices;
mod openapi;
mod outbox;
mod signing;
mod steps;
mod tickets;
mod trace;
mod ui;
mod world;
