//! ИС МИО with АРМ РШЭП: the provider's system, where an application becomes a decision.
//!
//! One instance per region (`mio-almaty`, `mio-atyrau`, `mio-nko`) runs every regulation
//! file of `regulations/` whose `system` is its own ([`catalog`]):
//!
//! - [`intake`]: consumes its JetStream inbox (applications from the portal, ИС ЦОН and
//!   its own АРМ), acknowledging after commit and deduplicating by messageId; checks the
//!   document signature (with revocation), the signer's IIN, service, provider, channel
//!   and form; registers (number, status «поступившие», status messages to the portal
//!   and ИС ЦОН) or rejects with a signed negative status, nothing registered;
//! - [`engine`]: runs the regulation: automatic steps at once, human steps as tasks of
//!   the right role with due times from the deadlines (minutes, calendar days, working
//!   days with Kazakhstan's holidays); C-docs; the result document rendered as PDF in
//!   Russian and Kazakh, signed (CMS) by the authorised person, sent with the final
//!   status;
//! - [`commission`]: meetings, agendas and protocols; [`queue`]: the waiting list
//!   (numbers gap-free per provider and category, assigned with the decision) and the
//!   `mio.queue.position` sync service; [`sla`]: steps past their deadline flagged;
//! - [`outbox`]: every message of a transaction sent after its commit;
//! - [`arm`]: the employees' workstation, an HTTP/JSON API and a web UI, with seeded
//!   accounts for every role of every provider ([`employees`]).
//!
//! Time comes from an injectable [`clock::Clock`].

pub mod arm;
pub mod catalog;
pub mod clock;
pub mod commission;
pub mod documents;
pub mod employees;
pub mod engine;
pub mod intake;
pub mod journey;
pub mod mask;
pub mod outbox;
pub mod queue;
pub mod sla;
pub mod store;

use egov_grpc::Listening as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egov_shep_client::Client;
use egov_shep_client::inbox::InboxConfig;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::engine::Engine;

/// The lane name.
pub const LANE: &str = "ИС МИО / АРМ РШЭП";

/// Settings (`EGOV_MIO_ALMATY__*`, ...).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Ports, PKI, database, schema, OCSP, gateways.
    #[serde(flatten)]
    pub system: egov_system::Config,
    /// The region (routeId).
    pub region: String,
    /// The gateway the system is registered on.
    pub gateway_id: String,
    /// Its gRPC address.
    pub gateway_addr: String,
    /// NATS.
    pub nats_url: String,
    /// Prefix of the inbox stream and subjects.
    pub nats_prefix: String,
    /// Folders of regulation files (default: `regulations/`).
    pub regulation_dirs: Vec<PathBuf>,
    /// The files of those folders this system runs (the topology's list); empty: every
    /// file whose `system` is this one.
    pub regulation_files: Vec<String>,
    /// Development only: every seeded account gets this password. Unset (the default),
    /// each new account gets a generated password of its own, shown once
    /// ([`MioIs::new_passwords`], [`Config::passwords_file`]).
    pub dev_employee_password: Option<String>,
    /// Where the generated passwords of the accounts seeded by a start are written once,
    /// created 0600 (unset: only [`MioIs::new_passwords`] has them).
    pub passwords_file: Option<PathBuf>,
    /// The keystore key (32 bytes, AES-256-GCM) the employees' private keys are sealed
    /// under in the database; created 0600 with random bytes when missing.
    pub keystore_key_file: PathBuf,
    /// Development only: the АРМ signs with the employees' keys it holds (sealed) when an
    /// employee completes a signing step or submits a channel B application. Off (the
    /// default), employees sign on their own client (`sign-request` out, CMS in, as with
    /// NCALayer) and the server never uses their keys.
    pub dev_server_keystore: bool,
    /// The АРМ's public URL (`https://arm.example.kz`), when it is served behind a proxy
    /// or under TLS: the one origin its forms may come from; `https` makes its cookies
    /// `Secure`. Unset: the request's `Host` over plain HTTP.
    pub public_url: Option<String>,
    /// How often the SLA monitor scans, seconds.
    pub sla_interval_secs: u64,
    /// How long an АРМ login lasts, hours.
    pub session_hours: i64,
    /// Seconds the inbox consumer has to acknowledge.
    pub ack_wait_secs: u64,
    /// Applications of the inbox handled at once.
    pub intake_concurrency: usize,
    /// Connect to NATS as the system's own user (`systems/<id>.nats.pass` of the PKI
    /// folder), for a broker with per-system users (`egov_shep_client::nats_auth`).
    pub nats_credentials: bool,
    /// The message log of the regional gateway (РШЭП) this АРМ is the workstation of,
    /// read-only (`EGOV_MIO__..._JOURNAL_URL`, a role that may only read it): with it the
    /// АРМ shows an application's journey, each hop of its messages beside its steps.
    pub journal_url: Option<String>,
    /// The message log's schema.
    pub journal_schema: String,
}

fn default_regulations() -> Vec<PathBuf> {
    let local = PathBuf::from("regulations");
    if local.is_dir() {
        vec![local]
    } else {
        vec![egov_regulation::shipped_dir()]
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::for_system(&egov_topology::Topology::shipped(), "mio-almaty")
            .expect("the shipped topology has mio-almaty")
    }
}

impl Config {
    /// The local defaults of the ИС МИО `system_id` of `topology`: its region, gateway,
    /// fixed ports and regulation files. None when the topology has no such ИС МИО.
    pub fn for_system(topology: &egov_topology::Topology, system_id: &str) -> Option<Self> {
        let sys = topology
            .system(system_id)
            .filter(|s| s.kind == egov_topology::Kind::MioIs)?;
        let gateway = topology.gateway(&sys.gateway)?;
        let system = egov_system::Config::of(topology, system_id, &system_id.replace('-', "_"));
        Some(Config {
            system,
            region: sys.region.clone().unwrap_or_default(),
            gateway_id: gateway.id.clone(),
            gateway_addr: format!("127.0.0.1:{}", gateway.grpc_port),
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_prefix: String::new(),
            regulation_dirs: default_regulations(),
            regulation_files: sys.regulations.clone(),
            dev_employee_password: None,
            passwords_file: None,
            keystore_key_file: PathBuf::from(".egov").join(format!("{system_id}-keystore.key")),
            dev_server_keystore: false,
            public_url: None,
            sla_interval_secs: 30,
            session_hours: 8,
            ack_wait_secs: 30,
            intake_concurrency: 8,
            nats_credentials: false,
            journal_url: None,
            journal_schema: "gateway".into(),
        })
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A regulation file is invalid, or none is this system's.
    #[error("mio-is regulations: {0}")]
    Regulations(String),
    /// Database, identity, binding, serving.
    #[error("mio-is: {0}")]
    System(#[from] egov_system::Error),
    /// Employees, NATS, the gateway.
    #[error("mio-is: {0}")]
    Start(String),
}

/// A built ИС МИО: regulations loaded, database migrated, ports bound.
pub struct MioIs {
    bound: egov_system::Bound,
    config: Config,
    engine: Engine,
    identity: egov_system::Identity,
    new_passwords: Vec<(String, String)>,
    /// The АРМ's public URL, checked at build.
    public_url: egov_pages::PublicUrl,
}

/// The migrations of the schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl MioIs {
    /// Loads the regulations, opens the schema, binds. The employee accounts are seeded
    /// after it by whoever holds an issuer ([`MioIs::seed_employees`]).
    pub async fn build(config: Config, clock: Clock) -> Result<Self, Error> {
        let catalog = Catalog::load(
            &config.system.system_id,
            &config.region,
            &config.regulation_dirs,
            &config.regulation_files,
        )
        .map_err(Error::Regulations)?;
        let public_url = egov_pages::PublicUrl::parse(config.public_url.as_deref())
            .map_err(|e| Error::Start(format!("public URL: {e}")))?;
        let bound = egov_system::Bound::build(config.system.clone(), &MIGRATOR).await?;
        let identity = bound.identity()?;
        let issuing = egov_pki::Trust::open(&config.system.pki_dir)
            .map_err(|e| Error::Start(format!("test PKI: {e}")))?
            .issuing;
        let catalog = Arc::new(catalog);
        let keystore = employees::Keystore::open_or_create(&config.keystore_key_file)
            .map_err(|e| Error::Start(e.to_string()))?;
        let sealed = employees::seal_clear_keys(&bound.pool, &keystore)
            .await
            .map_err(|e| Error::Start(format!("sealing the employees' keys: {e}")))?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed the employees' keys stored in clear before");
        }
        let engine = Engine {
            pool: bound.pool.clone(),
            catalog,
            clock,
            calendar: egov_calendar::Calendar::kazakhstan(),
            outbox_wake: Arc::new(Notify::new()),
            verifier: identity.verifier.clone(),
            system_id: config.system.system_id.clone(),
            chain: vec![issuing],
            keystore: Arc::new(keystore),
            server_keystore: config.dev_server_keystore,
            gateway: Arc::new(std::sync::OnceLock::new()),
        };
        Ok(MioIs {
            bound,
            config,
            engine,
            identity,
            new_passwords: Vec::new(),
            public_url,
        })
    }

    /// Creates the missing seeded employee accounts (test material), their signing
    /// certificates issued by `issuer`: the registration tool that starts the system (the
    /// launcher, the test world) hands it over; ИС МИО itself never reads the CA folder.
    pub async fn seed_employees(
        &mut self,
        issuer: &dyn egov_pki::Issuer,
    ) -> Result<Vec<employees::Employee>, Error> {
        let passwords = match &self.config.dev_employee_password {
            Some(p) => employees::Passwords::Fixed(p.clone()),
            None => employees::Passwords::Generated,
        };
        let seeded = employees::seed(
            &self.bound.pool,
            &self.engine.catalog,
            issuer,
            &passwords,
            &self.engine.keystore,
            self.engine.clock.now(),
        )
        .await
        .map_err(|e| Error::Start(format!("employee accounts: {e}")))?;
        if let Some(path) = &self.config.passwords_file
            && !seeded.new_passwords.is_empty()
        {
            employees::write_passwords(path, &seeded).map_err(|e| {
                Error::Start(format!(
                    "the new accounts' passwords to {}: {e}",
                    path.display()
                ))
            })?;
        }
        self.new_passwords = seeded.new_passwords.clone();
        Ok(seeded.employees)
    }

    /// The bound gRPC address (SyncChannel: `mio.queue.position`).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.bound.grpc_addr()
    }

    /// The bound HTTP address (АРМ, health, metrics).
    pub fn http_addr(&self) -> SocketAddr {
        self.bound.http_addr()
    }

    /// The IIN and generated password of each account this start created (none with
    /// [`Config::dev_employee_password`], none when the accounts existed already). Nothing
    /// but this and [`Config::passwords_file`] ever holds them.
    pub fn new_passwords(&self) -> &[(String, String)] {
        &self.new_passwords
    }

    /// The system id.
    pub fn system_id(&self) -> &str {
        &self.config.system.system_id
    }

    /// The engine (tests drive the SLA monitor and the clock through it).
    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    /// The database.
    pub fn pool(&self) -> &PgPool {
        &self.bound.pool
    }

    /// Sets the gateway's address (before `run`).
    pub fn set_gateway(&mut self, addr: &str) {
        self.config.gateway_addr = addr.to_string();
    }

    /// Serves until `shutdown`: the inbox, the outbox relay, the SLA monitor, the sync
    /// channel and the АРМ.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let cfg = self.config.clone();
        let client = Client::connect(
            &cfg.gateway_addr,
            &cfg.gateway_id,
            &self.identity.tls,
            self.identity.signer.clone(),
            self.identity.verifier.clone(),
            Duration::from_secs(30),
        )
        .map_err(|e| Error::Start(format!("gateway {}: {e}", cfg.gateway_addr)))?;
        let _ = self.engine.gateway.set(client.clone());
        let (js, names) = egov_shep_client::inbox::open_inbox(
            &cfg.nats_url,
            &cfg.system.pki_dir,
            &cfg.system.system_id,
            cfg.nats_credentials,
            &cfg.nats_prefix,
            &shutdown,
        )
        .await
        .map_err(Error::Start)?;
        let mut inbox = InboxConfig::new(&cfg.system.system_id);
        inbox.lane = LANE.into();
        inbox.ack_wait = Duration::from_secs(cfg.ack_wait_secs);
        inbox.concurrency = cfg.intake_concurrency.max(1);
        let engine = self.engine.clone();
        let notifier = Arc::new(client.clone());
        let consumer = egov_shep_client::inbox::consume(
            js,
            names,
            inbox,
            self.identity.verifier.clone(),
            notifier,
            move |d| {
                let engine = engine.clone();
                async move { engine.intake(d).await }
            },
            shutdown.clone(),
        );
        let relay = outbox::relay(
            self.bound.pool.clone(),
            client.clone(),
            self.engine.clock.clone(),
            self.engine.outbox_wake.clone(),
            shutdown.clone(),
        );
        let sla = self.engine.clone().sla_monitor(
            Duration::from_secs(cfg.sla_interval_secs.max(1)),
            shutdown.clone(),
        );
        let journal = match &cfg.journal_url {
            Some(url) => {
                let pool = egov_db::reader_pool(url, &cfg.journal_schema, 2)
                    .await
                    .map_err(|e| Error::Start(format!("the message log: {e}")))?;
                Some(
                    egov_journal::Journal::open(pool, egov_journal::JournalOptions::default())
                        .await
                        .map_err(|e| Error::Start(format!("the message log: {e}")))?,
                )
            }
            None => None,
        };
        let arm = Arc::new(arm::Arm {
            journal,
            engine: self.engine.clone(),
            client,
            region: cfg.region.clone(),
            session_lifetime: time::Duration::hours(cfg.session_hours.max(1)),
            public_url: self.public_url.clone(),
        });
        let handler = Arc::new(queue::Handler {
            pool: self.bound.pool.clone(),
        });
        let servers = self.bound.run_sync(
            self.identity.clone(),
            handler,
            arm::router(arm),
            LANE,
            shutdown.clone(),
        );
        let (c, _, _, s) = tokio::join!(consumer, relay, sla, servers);
        if let Err(e) = c {
            return Err(Error::Start(format!("inbox: {e}")));
        }
        s?;
        Ok(())
    }
}
