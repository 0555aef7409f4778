//! Local development environment helpers.
//!
//! Used by the launcher binary (`egov up`, which runs every service in one
//! process) and by every integration test:
//!
//! * [`tcp_reachable`] probes a `host:port`;
//! * [`find_nats_server`] / [`find_postgres_bin_dir`] locate the server binaries;
//! * [`PrivateNats`] / [`PrivatePostgres`] run private broker / database
//!   instances as child processes that are stopped when the handle is dropped;
//! * [`ensure_services`] uses already running services or starts private ones;
//! * [`fresh_database`] and [`unique_prefix`] isolate tests from each other;
//! * [`default_database_admin_url`] / [`default_nats_url`] honour the
//!   `EGOV_TEST_DATABASE_URL` / `EGOV_TEST_NATS_URL` environment variables.
//!
//! Nothing here panics on environment problems: every failure is an
//! [`Error`] whose message says what to do about it.
//!
//! This crate targets Unix (Linux) development machines.

mod bins;
mod ensure;
mod error;
mod nats;
mod postgres;
mod process;
mod testdb;
mod url;

use std::time::Duration;

pub use bins::{find_nats_server, find_postgres_bin_dir};
pub use ensure::{Ensured, ensure_services, ensure_services_with};
pub use error::{Error, Result};
pub use nats::PrivateNats;
pub use postgres::PrivatePostgres;
pub use testdb::{TestDatabase, fresh_database, unique_prefix};

/// Environment variable overriding [`default_database_admin_url`].
pub const DATABASE_URL_ENV: &str = "EGOV_TEST_DATABASE_URL";
/// Environment variable overriding [`default_nats_url`].
pub const NATS_URL_ENV: &str = "EGOV_TEST_NATS_URL";

/// Admin URL of the machine's PostgreSQL used when `EGOV_TEST_DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// URL of the machine's NATS server used when `EGOV_TEST_NATS_URL` is unset.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// Returns `true` if a TCP connection to `host_port` (e.g. `127.0.0.1:5432`,
/// `localhost:4222`) can be established within `timeout`.
///
/// Every address the name resolves to is tried. Resolution failures, refused
/// connections and timeouts all yield `false`.
pub async fn tcp_reachable(host_port: &str, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(host_port)).await,
        Ok(Ok(_))
    )
}

/// The PostgreSQL admin URL for tests and local runs: the value of
/// `EGOV_TEST_DATABASE_URL` if set and non-empty, else
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn default_database_admin_url() -> String {
    env_or(DATABASE_URL_ENV, DEFAULT_DATABASE_ADMIN_URL)
}

/// The NATS URL for tests and local runs: the value of `EGOV_TEST_NATS_URL`
/// if set and non-empty, else `nats://127.0.0.1:4222`.
pub fn default_nats_url() -> String {
    env_or(NATS_URL_ENV, DEFAULT_NATS_URL)
}

fn env_or(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => default.to_owned(),
    }
}

/// Picks a currently free TCP port on 127.0.0.1 (binds port 0, reads the
/// assigned port and releases it). Another process may grab it in between;
/// that race is accepted for development and tests.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| Error::io("could not bind 127.0.0.1:0 to pick a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::io("could not read the local address of a bound socket", e))?
        .port();
    Ok(port)
}
