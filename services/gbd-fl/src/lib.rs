//! ГБД ФЛ: a mock of the state database "Individuals" (государственная база данных
//! «Физические лица»).
//!
//! It holds persons by IIN (name, birth date, sex, citizenship, identity document,
//! registered address, status alive / deceased / IIN cancelled) and family links, and
//! answers through the gateway's sync channel (services in
//! [`egov_contracts::gbd_fl`]): a person by IIN, the family composition, an address
//! registration check, and the personal-data access log of a person. An invalid IIN is
//! refused before any look-up; an unknown or cancelled IIN is a business answer
//! (`SE016` with `PERSON_NOT_FOUND` / `IIN_CANCELLED`), the C-person refusal of the
//! regulations. Every look-up is written to the access log (who asked, for which service
//! and application, which IIN, when, what was disclosed) before the answer leaves, and an
//! answer carries only the field groups the [`policy`] grants the caller for that service.
//!
//! The data is synthetic (`egovctl seed`, [`seed`]).

pub mod policy;
pub mod seed;
pub mod service;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The lane name.
pub const LANE: &str = "ГБД ФЛ";
/// The default schema.
pub const SCHEMA: &str = "gbd_fl";

/// The migrations of the registry's schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Settings (`EGOV_GBD_FL__*`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// What every system has: ports, PKI, database, schema, OCSP, gateways.
    #[serde(flatten)]
    pub system: egov_system::Config,
    /// A field policy file instead of the shipped one.
    pub policy_file: Option<PathBuf>,
    /// The region codes addresses are checked in (the deployment's topology).
    pub regions: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let topology = egov_topology::Topology::shipped();
        Config {
            system: egov_system::Config::of(&topology, "gbd-fl", SCHEMA),
            policy_file: None,
            regions: topology.region_codes(),
        }
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The field policy is unreadable or invalid.
    #[error("gbd-fl: {0}")]
    Policy(String),
    /// Database, identity, binding or serving.
    #[error("gbd-fl: {0}")]
    System(#[from] egov_system::Error),
}

/// A built ГБД ФЛ, bound and ready to run.
pub struct GbdFl {
    bound: egov_system::Bound,
    policy: policy::Policy,
    regions: Vec<String>,
}

impl egov_grpc::Listening for GbdFl {
    fn listeners(&self) -> &egov_grpc::Listeners {
        self.bound.listeners()
    }
}

impl GbdFl {
    /// Loads the policy, opens the database (migrations) and binds both ports.
    pub async fn build(config: Config) -> Result<Self, Error> {
        let text = match &config.policy_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::Policy(format!("policy {}: {e}", p.display())))?,
            None => policy::DEFAULT_POLICY.to_string(),
        };
        let policy = policy::Policy::from_toml(&text).map_err(Error::Policy)?;
        let bound = egov_system::Bound::build(config.system, &MIGRATOR).await?;
        Ok(GbdFl {
            bound,
            policy,
            regions: config.regions,
        })
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.bound.pool
    }

    /// Serves until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let identity = self.bound.identity()?;
        let handler = Arc::new(service::Registry::new(
            self.bound.pool.clone(),
            self.policy,
            self.regions,
        ));
        self.bound
            .run_sync(identity, handler, axum::Router::new(), LANE, shutdown)
            .await?;
        Ok(())
    }
}
