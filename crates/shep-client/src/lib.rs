//! The client side of the gateway (ШЭП/РШЭП) that every information system uses:
//!
//! - [`envelope`]: building and signing envelopes with the system's key, and opening
//!   (decoding + verifying) what arrives; the status codes of the interface;
//! - [`Client`]: calls through the sync channel and sends through the async channel;
//! - [`inbox`]: consuming the system's JetStream inbox with acknowledgement after the
//!   recipient's own transaction commits, and deduplication by messageId;
//! - [`outbox`]: messages written in a transaction, sent after commit with retries
//!   under the same messageId.

pub mod envelope;
pub mod inbox;
pub mod nats_auth;
pub mod outbox;
pub mod route;
pub mod server;

mod client;

pub use client::{Client, ClientError, Reply};
pub use envelope::{OpenError, Opened, SystemSigner, codes};
