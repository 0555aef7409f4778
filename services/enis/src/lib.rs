//! ЕНИС: a mock of the unified notarial information system (единая нотариальная
//! информационная система).
//!
//! It holds notarised powers of attorney (number, notary, registration date, principal
//! and representative IINs, the services they cover or "all", validity dates, revocation)
//! and answers `enis.poa.check` through the gateway's sync channel: whether a power of
//! attorney is valid on a day for a service, and why not (absent, another principal,
//! another representative, revoked, not yet valid, expired, out of scope). That is the
//! C-poa condition of the regulations' channel C. Every check is recorded in its log.

pub mod seed;
pub mod service;
pub mod store;

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The lane name.
pub const LANE: &str = "ЕНИС";
/// The default schema.
pub const SCHEMA: &str = "enis";

/// Settings (`EGOV_ENIS__*`): the register has none of its own, only what every system
/// has (ports, PKI, database, schema, OCSP, gateways), as its topology entry gives them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Ports, PKI, database, schema, OCSP, gateways.
    #[serde(flatten)]
    pub system: egov_system::Config,
}

/// The migrations of the register's schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Default for Config {
    fn default() -> Self {
        Config {
            system: egov_system::Config::of(&egov_topology::Topology::shipped(), "enis", SCHEMA),
        }
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Database, identity, binding or serving.
    #[error("enis: {0}")]
    System(#[from] egov_system::Error),
}

/// A built ЕНИС, bound and ready to run.
pub struct Enis {
    bound: egov_system::Bound,
}

impl egov_grpc::Listening for Enis {
    fn listeners(&self) -> &egov_grpc::Listeners {
        self.bound.listeners()
    }
}

impl Enis {
    /// Opens the database (migrations) and binds both ports.
    pub async fn build(config: Config) -> Result<Self, Error> {
        Ok(Enis {
            bound: egov_system::Bound::build(config.system, &MIGRATOR).await?,
        })
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.bound.pool
    }

    /// Serves until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let identity = self.bound.identity()?;
        let handler = Arc::new(service::Notarial::new(self.bound.pool.clone()));
        self.bound
            .run_sync(identity, handler, axum::Router::new(), LANE, shutdown)
            .await?;
        Ok(())
    }
}
