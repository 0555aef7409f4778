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
#[cfg(feature = "io")]
pub mod inbox;
#[cfg(feature = "io")]
pub mod nats_auth;
#[cfg(feature = "io")]
pub mod outbox;
#[cfg(feature = "io")]
pub mod route;
#[cfg(feature = "io")]
pub mod server;

#[cfg(feature = "io")]
mod client;

#[cfg(feature = "io")]
pub use client::{Client, ClientError, Reply};
pub use envelope::{OpenError, Opened, SystemSigner, codes};
