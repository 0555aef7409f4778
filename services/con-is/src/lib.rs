//! ИС ЦОН with АРМ ИС ЦОН: the service centres' system, where channel C of the
//! regulations begins and ends.
//!
//! - [`catalog`]: the regulation files with a `con` channel, whose steps
//!   `executed_by = "con-is"` this system executes;
//! - [`centres`]: the service centres the seeds name (Almaty's seven district branches,
//!   the centres of Atyrau oblast, Akzhar's with its mobile centre), seeded at start;
//! - [`operators`]: the operators of each centre and their roles (inspector,
//!   accumulation sector, courier, issuing inspector), passwords, signing keys and
//!   sessions, with logins throttled;
//! - [`desk`]: the operator's flow: the citizen's IIN and a representative's power of
//!   attorney, one request each to ГБД ФЛ (C-person) and ЕНИС (C-poa) through the
//!   gateway, completeness against the regulation's documents, the operator's
//!   signature (by the workstation's keystore or, NCALayer style, by the operator's own
//!   client over the bytes handed out), the application recorded with its message in the
//!   outbox and sent to the provider's ИС МИО (`mio.application.submit`) after commit;
//! - [`steps`]: every channel step executed here recorded with its start, due time and
//!   end; open steps past their due time flagged by the SLA monitor;
//! - [`inbox`]: the statuses and results ИС МИО sends back (`con-is.status.update`),
//!   deduplicated by sender and messageId and acknowledged after commit;
//! - [`receipt`]: the receipt (расписка) and the receipt refusing acceptance, PDF in
//!   Russian and Kazakh;
//! - [`paper`]: the paper side: the accumulation sector's register and the courier's
//!   hand-over, the courier's return, the scan of the cover's barcode, the issue with
//!   the survey ([`survey`]), the archive after a month;
//! - [`cover`]: the result's cover sheet with its Code 128 barcode, PDF in Russian and
//!   Kazakh, and the scanned PNG read back;
//! - [`api`]: the workstation's JSON API (`/api/v1`, `openapi.json`), with the public
//!   status look-up;
//! - [`ui`]: the workstation's pages (`/ui`) in Russian and Kazakh, that need no script.
//!
//! Time comes from an injectable [`egov_calendar::Clock`].

pub mod api;
pub mod catalog;
pub mod centres;
pub mod cover;
pub mod desk;
pub mod inbox;
pub mod operators;
pub mod paper;
pub mod receipt;
pub mod steps;
/// The survey of the regulations' last appendix (`egov_regulation::survey`).
pub use egov_regulation::survey;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egov_calendar::Clock;
use egov_grpc::Listening as _;
use egov_shep_client::Client;
use egov_shep_client::inbox::InboxConfig;
use egov_shep_client::server::{Answer, Incoming, SyncHandler};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;

/// The lane name.
pub const LANE: &str = "ИС ЦОН";
/// The system id in the topology.
pub const SYSTEM_ID: &str = "con-is";
/// The default schema.
pub const SCHEMA: &str = "con_is";
/// The fixed development password the tests give the seeded operator accounts
/// ([`Config::dev_operator_password`]); never a default.
pub const DEV_OPERATOR_PASSWORD: &str = "egov-test";

/// Settings (`EGOV_CON_IS__*`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Ports, PKI, database, schema, OCSP, gateways.
    #[serde(flatten)]
    pub system: egov_system::Config,
    /// The gateway the system is registered on.
    pub gateway_id: String,
    /// Its gRPC address.
    pub gateway_addr: String,
    /// NATS.
    pub nats_url: String,
    /// Prefix of the inbox stream and subjects.
    pub nats_prefix: String,
    /// Folders of regulation files (default: `regulations/`); every file with a `con`
    /// channel is run.
    pub regulation_dirs: Vec<PathBuf>,
    /// A development setting: every seeded operator account gets this one password. Without
    /// it each gets a generated password of its own, shown once in [`Config::passwords_file`].
    pub dev_operator_password: Option<String>,
    /// Where the generated passwords of the accounts a start creates are written (0600).
    pub passwords_file: Option<PathBuf>,
    /// How long a login lasts, hours.
    pub session_hours: i64,
    /// The workstation's public URL behind a proxy or TLS front (`https://host[:port]`):
    /// the one origin its forms may be posted from, and `https` makes its cookies
    /// `Secure`. Unset: `http://` and the request's own `Host`.
    pub public_url: Option<String>,
    /// How often the SLA monitor scans, and the archive job moves uncollected results,
    /// seconds.
    pub sla_interval_secs: u64,
    /// Seconds the inbox consumer has to acknowledge.
    pub ack_wait_secs: u64,
    /// Connect to NATS as the system's own user (`systems/<id>.nats.pass` of the PKI
    /// folder), for a broker with per-system users (`egov_shep_client::nats_auth`).
    #[serde(default)]
    pub nats_credentials: bool,
    /// The workstation's keystore key (32 random bytes, created 0600 at the first start):
    /// the operators' private keys are stored sealed under it.
    pub keystore_key_file: PathBuf,
    /// A development setting: the workstation signs the operator's application with the
    /// operator's key from its keystore (`POST .../submit`, the web UI). Without it the
    /// operator signs on their own client (`.../sign-request`, then `.../signature`) and
    /// `submit` answers 409 `SIGN_ON_CLIENT`.
    pub dev_server_keystore: bool,
    /// How long a submission waits for the gateway to take the application before it
    /// answers 202 (queued; the outbox keeps sending), milliseconds.
    pub send_wait_ms: u64,
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
        Config::of(&egov_topology::Topology::shipped())
    }
}

impl Config {
    /// The local defaults of `topology`'s ИС ЦОН: its fixed ports and its gateway.
    pub fn of(topology: &egov_topology::Topology) -> Self {
        let system = egov_system::Config::of(topology, SYSTEM_ID, SCHEMA);
        let gateway = system
            .gateways
            .first()
            .cloned()
            .unwrap_or_else(|| "shep".into());
        let port = topology
            .gateway(&gateway)
            .map(|g| g.grpc_port)
            .unwrap_or(7100);
        Config {
            system,
            gateway_id: gateway,
            gateway_addr: format!("127.0.0.1:{port}"),
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_prefix: String::new(),
            regulation_dirs: default_regulations(),
            dev_operator_password: None,
            passwords_file: None,
            session_hours: 8,
            public_url: None,
            sla_interval_secs: 30,
            ack_wait_secs: 30,
            nats_credentials: false,
            keystore_key_file: PathBuf::from(".egov").join("con-is-keystore.key"),
            dev_server_keystore: false,
            send_wait_ms: 3000,
        }
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A regulation file is invalid.
    #[error("con-is regulations: {0}")]
    Regulations(String),
    /// Database, identity, binding, serving.
    #[error("con-is: {0}")]
    System(#[from] egov_system::Error),
    /// Centres, operators, NATS, the gateway.
    #[error("con-is: {0}")]
    Start(String),
}

/// What the operations of ИС ЦОН share: the database, the regulations, the clock, the
/// gateway client once running.
#[derive(Clone)]
pub struct Core {
    /// The database.
    pub pool: PgPool,
    /// The regulations with a `con` channel.
    pub catalog: Arc<Catalog>,
    /// The clock.
    pub clock: Clock,
    /// Working days.
    pub calendar: &'static egov_calendar::Calendar,
    /// The issuing CA certificate (sent with the operators' signatures).
    pub chain: Vec<egov_pki::CertInfo>,
    /// The gateway (set by `run`).
    pub gateway: Arc<std::sync::OnceLock<Client>>,
    /// How long a login lasts.
    pub session_lifetime: time::Duration,
    /// Where browsers reach the pages ([`Config::public_url`]).
    pub public_url: egov_pages::PublicUrl,
    /// The registration authority that issues the operators' signing certificates, given
    /// by whoever starts ИС ЦОН ([`ConIs::set_issuer`]): ИС ЦОН never holds the CA's key.
    pub issuer: Arc<std::sync::OnceLock<Arc<dyn egov_pki::Issuer>>>,
    /// The operators' keys, sealed ([`operators::Keystore`]).
    pub keystore: Arc<operators::Keystore>,
    /// Whether the workstation signs with the keys it keeps (development).
    pub server_keystore: bool,
    /// Checks the signatures operators make on their own clients.
    pub verifier: Arc<egov_pki::Verifier>,
    /// Wakes the outbox relay after a commit that wrote to it.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// How long a submission waits for the gateway to take it.
    pub send_wait: Duration,
}

impl Core {
    /// The gateway client; an error before `run` has connected it.
    pub fn client(&self) -> Result<&Client, String> {
        self.gateway
            .get()
            .ok_or_else(|| "the gateway client is not running yet".to_string())
    }
}

/// A built ИС ЦОН: regulations loaded, database migrated, centres and operators seeded,
/// ports bound.
pub struct ConIs {
    bound: egov_system::Bound,
    config: Config,
    core: Core,
    identity: egov_system::Identity,
}

/// The migrations of the schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl egov_grpc::Listening for ConIs {
    fn listeners(&self) -> &egov_grpc::Listeners {
        self.bound.listeners()
    }
}

impl ConIs {
    /// Builds on the system clock.
    pub async fn build(config: Config) -> Result<Self, Error> {
        ConIs::build_with(config, Clock::System).await
    }

    /// Loads the regulations, opens the schema, seeds the centres and their operators,
    /// binds.
    pub async fn build_with(config: Config, clock: Clock) -> Result<Self, Error> {
        let catalog = Catalog::load(&config.regulation_dirs).map_err(Error::Regulations)?;
        let public_url = egov_pages::PublicUrl::parse(config.public_url.as_deref())
            .map_err(|e| Error::Start(format!("public URL: {e}")))?;
        let bound = egov_system::Bound::build(config.system.clone(), &MIGRATOR).await?;
        let identity = bound.identity()?;
        let issuing = egov_pki::Trust::open(&config.system.pki_dir)
            .map_err(|e| Error::Start(format!("test PKI: {e}")))?
            .issuing;
        let centres = centres::shipped().map_err(Error::Start)?;
        centres::seed(&bound.pool, &centres)
            .await
            .map_err(|e| Error::Start(format!("centres: {e}")))?;
        let passwords = match &config.dev_operator_password {
            Some(p) => operators::Passwords::Fixed(p.clone()),
            None => operators::Passwords::Generated,
        };
        let generated = operators::seed(&bound.pool, &centres, &passwords, clock.now())
            .await
            .map_err(|e| Error::Start(format!("operator accounts: {e}")))?;
        if let (Some(path), false) = (&config.passwords_file, generated.is_empty()) {
            operators::write_passwords(&bound.pool, path, &generated)
                .await
                .map_err(|e| Error::Start(format!("the new accounts' passwords: {e}")))?;
        }
        let keystore = operators::Keystore::open_or_create(&config.keystore_key_file)
            .map_err(|e| Error::Start(e.to_string()))?;
        let sealed = operators::seal_clear_keys(&bound.pool, &keystore)
            .await
            .map_err(|e| Error::Start(format!("sealing the operators' keys: {e}")))?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "operators' keys stored in clear by an earlier version are sealed now"
            );
        }
        let core = Core {
            pool: bound.pool.clone(),
            catalog: Arc::new(catalog),
            clock,
            calendar: egov_calendar::Calendar::kazakhstan(),
            chain: vec![issuing],
            gateway: Arc::new(std::sync::OnceLock::new()),
            session_lifetime: time::Duration::hours(config.session_hours.max(1)),
            public_url,
            issuer: Arc::new(std::sync::OnceLock::new()),
            keystore: Arc::new(keystore),
            server_keystore: config.dev_server_keystore,
            verifier: identity.verifier.clone(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            send_wait: Duration::from_millis(config.send_wait_ms),
        };
        Ok(ConIs {
            bound,
            config,
            core,
            identity,
        })
    }

    /// Hands ИС ЦОН the registration authority that issues its operators' signing
    /// certificates on their first signature (the launcher, the test world); without one
    /// an operator who has none yet cannot sign.
    pub fn set_issuer(&self, issuer: Arc<dyn egov_pki::Issuer>) {
        let _ = self.core.issuer.set(issuer);
    }

    /// The bound gRPC address (health; no sync service of its own).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.bound.grpc_addr()
    }

    /// The bound HTTP address (API, health, metrics).
    pub fn http_addr(&self) -> SocketAddr {
        self.bound.http_addr()
    }

    /// What the operations share (tests drive the SLA monitor and the clock through it).
    pub fn core(&self) -> Core {
        self.core.clone()
    }

    /// The database.
    pub fn pool(&self) -> &PgPool {
        &self.bound.pool
    }

    /// Sets the gateway's address (before `run`).
    pub fn set_gateway(&mut self, addr: &str) {
        self.config.gateway_addr = addr.to_string();
    }

    /// Serves until `shutdown`: the inbox, the SLA monitor, gRPC health and the API.
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
        let _ = self.core.gateway.set(client.clone());
        let relay_client = client.clone();
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
        inbox.ack_wait = Duration::from_secs(cfg.ack_wait_secs.max(1));
        let core = self.core.clone();
        let consumer = egov_shep_client::inbox::consume(
            js,
            names,
            inbox,
            self.identity.verifier.clone(),
            Arc::new(client),
            move |d| {
                let core = core.clone();
                async move { inbox::handle(&core, d).await }
            },
            shutdown.clone(),
        );
        let relay = egov_shep_client::outbox::relay(
            self.core.pool.clone(),
            relay_client,
            self.core.clock.clone(),
            self.core.outbox_wake.clone(),
            |s| s.to_string(),
            LANE,
            shutdown.clone(),
        );
        let sla = steps::monitor(
            self.core.clone(),
            Duration::from_secs(cfg.sla_interval_secs.max(1)),
            shutdown.clone(),
        );
        let archive = paper::archive_monitor(
            self.core.clone(),
            Duration::from_secs(cfg.sla_interval_secs.max(1)),
            shutdown.clone(),
        );
        let router = api::router(Arc::new(self.core.clone()));
        let servers = self.bound.run_sync(
            self.identity.clone(),
            Arc::new(NoSyncService),
            router,
            LANE,
            shutdown.clone(),
        );
        let (c, _, _, _, s) = tokio::join!(consumer, relay, sla, archive, servers);
        if let Err(e) = c {
            return Err(Error::Start(format!("inbox: {e}")));
        }
        s?;
        Ok(())
    }
}

/// ИС ЦОН provides no sync service: its gRPC port answers health and refuses every call.
pub struct NoSyncService;

impl SyncHandler for NoSyncService {
    async fn handle(&self, req: Incoming) -> Answer {
        egov_system::refusal(
            "UNKNOWN_SERVICE",
            format!("ИС ЦОН provides no sync service {:?}", req.service()),
            serde_json::Value::Null,
        )
    }
}
