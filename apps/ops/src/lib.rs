//! The operators' view across services. An operator holds what no single service may
//! read: the gateways' message log and each ИС МИО's own history; this library joins
//! them, read-only: for one application (`egovctl journey`), and on the ops page
//! ([`page`]): the message log's search and an application's two diagrams.

pub mod journey;
pub mod page;

pub use page::{Config, OpsPage};
