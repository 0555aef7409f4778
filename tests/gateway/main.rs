//! ШЭП and РШЭП end to end: the gateways on loopback ports with the certification
//! authority, echo recipients, the machine's PostgreSQL and NATS.
//!
//! - `sync_channel`: the checks in order, routing through ШЭП and РШЭП, signed refusals;
//! - `async_channel`: JetStream inboxes, delivery notifications, redelivery;
//! - `retry`: a retried message is never lost and never delivered twice;
//! - `journal`: the hash-chained message log, its search and verification;
//! - `log_order`: nothing forwarded before it is logged, no answer relayed before it is;
//! - `revocation`: a revocation at uc reaches every gateway, a CA out of reach delays;
//! - `nats_users`: the broker with a user per gateway and system.

mod async_channel;
mod common;
mod journal;
mod log_order;
mod nats_users;
mod retry;
mod revocation;
mod sync_channel;
