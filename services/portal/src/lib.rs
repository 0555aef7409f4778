//! ПЭП, the e-government portal: the citizen's cabinet and the API the portal's frontends
//! call; channel A (`portal`) of every regulation that has one.
//!
//! - [`catalog`]: the regulation files with a `portal` channel, shown as the catalogue of
//!   services (regions, providers, categories, form, documents, deadlines, ru and kk);
//! - [`citizens`]: registration with IIN and password (the IIN asked of ГБД ФЛ through
//!   the gateway, the password hashed with argon2id), login with throttling of repeated
//!   failures, bearer tokens that expire;
//! - [`applications`]: the draft with its form and attachments, the exact bytes to sign,
//!   the citizen's detached CMS checked (C-sign: signature, chain, validity, revocation
//!   by OCSP, key usage, the certificate's IIN), and the signed application put in the
//!   [`outbox`] for the provider's ИС МИО (`mio.application.submit`);
//! - [`outbox`]: the relay that sends it through the gateway after commit, the same
//!   messageId on every retry;
//! - [`inbox`]: the statuses and results ИС МИО sends back (`portal.status.update`),
//!   deduplicated and acknowledged after commit, each change announced to the
//!   cabinet's server-sent events;
//! - [`steps`]: the portal channel's steps recorded on each application with their due
//!   times, and the SLA monitor that flags those past due;
//! - [`mail`]: e-mail on each status where the citizen asked for it, through an outbox
//!   and the SMTP relay of the settings;
//! - [`tickets`]: single-use tickets that open the event stream from a browser, whose
//!   `EventSource` cannot send the bearer token;
//! - [`api`]: the JSON API (`/api/v1`, `openapi.json`), errors in Russian and Kazakh;
//! - [`ui`]: the reference web UI (`/ui`), server-rendered pages in Russian and Kazakh,
//!   signing through the citizen's NCALayer.
//!
//! Time comes from an injectable [`egov_calendar::Clock`].

pub mod api;
pub mod applications;
pub mod catalog;
pub mod citizens;
pub mod inbox;
pub mod mail;
pub mod outbox;
pub mod steps;
pub mod tickets;
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
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;

/// The lane name.
pub const LANE: &str = "ПЭП";
/// The system id in the topology.
pub const SYSTEM_ID: &str = "portal";
/// The default schema.
pub const SCHEMA: &str = "portal";
/// Where NCALayer listens on a citizen's computer: the signing page's default.
pub const NCALAYER_URL: &str = "wss://127.0.0.1:13579";

/// Settings (`EGOV_PORTAL__*`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Ports, PKI, database, schema, OCSP, gateways.
    #[serde(flatten)]
    pub system: egov_system::Config,
    /// The gateway the portal is registered on.
    pub gateway_id: String,
    /// Its gRPC address.
    pub gateway_addr: String,
    /// NATS.
    pub nats_url: String,
    /// Prefix of the inbox stream and subjects.
    pub nats_prefix: String,
    /// Connect to NATS as the system's own user (`systems/<id>.nats.pass` of the PKI
    /// folder), for a broker with per-system users.
    pub nats_credentials: bool,
    /// Folders of regulation files (default: `regulations/`); every file with a `portal`
    /// channel is offered.
    pub regulation_dirs: Vec<PathBuf>,
    /// How long a login lasts, minutes.
    pub session_minutes: i64,
    /// The cabinet's public URL behind a proxy or TLS front (`https://host[:port]`): the
    /// one origin its forms may be posted from, and `https` makes its cookies `Secure`.
    /// Unset: `http://` and the request's own `Host`.
    pub public_url: Option<String>,
    /// The origins whose pages may call the API from a browser (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// The largest attachment, bytes.
    pub max_attachment_bytes: usize,
    /// The most attachments of one application.
    pub max_attachments: usize,
    /// Seconds the inbox consumer has to acknowledge.
    pub ack_wait_secs: u64,
    /// Statuses handled at once by the inbox (each also reports its delivery to the
    /// gateway, a round trip the next one need not wait for).
    pub inbox_concurrency: usize,
    /// The SMTP relay (`host:port`) the mail to citizens goes through; none: no mail.
    pub smtp_addr: Option<String>,
    /// The sender of that mail.
    pub mail_from: String,
    /// Where the citizens' NCALayer listens (`wss://host:port`): the one address the
    /// signing page's script may connect to.
    pub ncalayer_url: String,
    /// How often the SLA monitor looks for steps past their due time, seconds.
    pub sla_interval_secs: u64,
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
    /// The local defaults of `topology`'s portal: its fixed ports and its gateway.
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
            nats_credentials: false,
            regulation_dirs: default_regulations(),
            session_minutes: 30,
            public_url: None,
            cors_origins: Vec::new(),
            max_attachment_bytes: 5 * 1024 * 1024,
            max_attachments: 20,
            ack_wait_secs: 30,
            inbox_concurrency: 8,
            smtp_addr: None,
            mail_from: "noreply@egov.kz".into(),
            ncalayer_url: NCALAYER_URL.into(),
            sla_interval_secs: 30,
        }
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A regulation file is invalid.
    #[error("portal regulations: {0}")]
    Regulations(String),
    /// Database, identity, binding, serving.
    #[error("portal: {0}")]
    System(#[from] egov_system::Error),
    /// NATS, the gateway, the settings.
    #[error("portal: {0}")]
    Start(String),
}

/// A change of an application, announced to the cabinet's event streams.
#[derive(Debug, Clone)]
pub struct Change {
    /// The application.
    pub application: uuid::Uuid,
    /// Its owner.
    pub citizen_iin: String,
    /// What changed (`sent`, `delivered`, `status`).
    pub kind: &'static str,
}

/// What the operations of the portal share.
#[derive(Clone)]
pub struct Core {
    /// The database.
    pub pool: PgPool,
    /// The regulations with a `portal` channel.
    pub catalog: Arc<Catalog>,
    /// The clock.
    pub clock: Clock,
    /// Working days.
    pub calendar: &'static egov_calendar::Calendar,
    /// The gateway (set by `run`).
    pub gateway: Arc<std::sync::OnceLock<Client>>,
    /// Checks the citizens' signatures (C-sign: the test PKI's roots, OCSP at uc).
    pub verifier: Arc<egov_pki::Verifier>,
    /// How long a login lasts.
    pub session_lifetime: time::Duration,
    /// Where browsers reach the pages ([`Config::public_url`]).
    pub public_url: egov_pages::PublicUrl,
    /// The largest attachment, bytes.
    pub max_attachment_bytes: usize,
    /// The most attachments of one application.
    pub max_attachments: usize,
    /// Every change of an application (server-sent events).
    pub changes: broadcast::Sender<Change>,
    /// Wakes the outbox relay after a commit that wrote to it.
    pub wake: Arc<Notify>,
    /// Whether mail is sent (an SMTP relay is configured).
    pub mail: bool,
    /// Wakes the mail relay after a commit that queued mail.
    pub mail_wake: Arc<Notify>,
    /// The citizens' NCALayer (`wss://host:port`), for the signing page.
    pub ncalayer_url: String,
}

impl Core {
    /// The gateway client; an error before `run` has connected it.
    pub fn client(&self) -> Result<&Client, String> {
        self.gateway
            .get()
            .ok_or_else(|| "the gateway client is not running yet".to_string())
    }

    /// Announces a change (no one listening is fine).
    pub fn announce(&self, application: uuid::Uuid, citizen_iin: &str, kind: &'static str) {
        let _ = self.changes.send(Change {
            application,
            citizen_iin: citizen_iin.to_string(),
            kind,
        });
    }
}

/// A built portal: regulations loaded, database migrated, ports bound.
pub struct Portal {
    bound: egov_system::Bound,
    config: Config,
    core: Core,
    identity: egov_system::Identity,
}

/// The migrations of the schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl egov_grpc::Listening for Portal {
    fn listeners(&self) -> &egov_grpc::Listeners {
        self.bound.listeners()
    }
}

impl Portal {
    /// Builds on the system clock.
    pub async fn build(config: Config) -> Result<Self, Error> {
        Portal::build_with(config, Clock::System).await
    }

    /// Loads the regulations, opens the schema, binds.
    pub async fn build_with(config: Config, clock: Clock) -> Result<Self, Error> {
        let catalog = Catalog::load(&config.regulation_dirs).map_err(Error::Regulations)?;
        api::cors(&config.cors_origins)
            .map(drop)
            .map_err(Error::Start)?;
        let ncalayer_url = ui::ncalayer_source(&config.ncalayer_url).map_err(Error::Start)?;
        let public_url = egov_pages::PublicUrl::parse(config.public_url.as_deref())
            .map_err(|e| Error::Start(format!("public URL: {e}")))?;
        let bound = egov_system::Bound::build(config.system.clone(), &MIGRATOR).await?;
        let identity = bound.identity()?;
        let core = Core {
            pool: bound.pool.clone(),
            catalog: Arc::new(catalog),
            clock,
            calendar: egov_calendar::Calendar::kazakhstan(),
            gateway: Arc::new(std::sync::OnceLock::new()),
            verifier: identity.verifier.clone(),
            session_lifetime: time::Duration::minutes(config.session_minutes.max(1)),
            public_url,
            max_attachment_bytes: config.max_attachment_bytes.max(1),
            max_attachments: config.max_attachments.max(1),
            changes: broadcast::channel(1024).0,
            wake: Arc::new(Notify::new()),
            mail: config.smtp_addr.is_some(),
            mail_wake: Arc::new(Notify::new()),
            ncalayer_url,
        };
        Ok(Portal {
            bound,
            config,
            core,
            identity,
        })
    }

    /// The bound gRPC address (health; no sync service of its own).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.bound.grpc_addr()
    }

    /// The bound HTTP address (API, health, metrics).
    pub fn http_addr(&self) -> SocketAddr {
        self.bound.http_addr()
    }

    /// What the operations share.
    pub fn core(&self) -> Core {
        self.core.clone()
    }

    /// Sets the gateway's address (before `run`).
    pub fn set_gateway(&mut self, addr: &str) {
        self.config.gateway_addr = addr.to_string();
    }

    /// Serves until `shutdown`: the inbox, the outbox relay, the SLA monitor, gRPC health
    /// and the API.
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
        inbox.concurrency = cfg.inbox_concurrency.max(1);
        let core = self.core.clone();
        let consumer = egov_shep_client::inbox::consume(
            js,
            names,
            inbox,
            self.identity.verifier.clone(),
            Arc::new(client.clone()),
            move |d| {
                let core = core.clone();
                async move { inbox::handle(&core, d).await }
            },
            shutdown.clone(),
        );
        let relay = outbox::relay(self.core.clone(), client, shutdown.clone());
        let mail = async {
            if let Some(addr) = &cfg.smtp_addr {
                let relay = mail::Relay {
                    addr: addr.clone(),
                    from: cfg.mail_from.clone(),
                };
                mail::relay(self.core.clone(), relay, shutdown.clone()).await;
            }
        };
        let clock = self.core.clock.clone();
        let sla = egov_steps::monitor(
            steps::SLA,
            self.core.pool.clone(),
            move || clock.now(),
            Duration::from_secs(cfg.sla_interval_secs.max(1)),
            shutdown.clone(),
        );
        let router =
            api::router(Arc::new(self.core.clone()), &cfg.cors_origins).map_err(Error::Start)?;
        let servers = self.bound.run_sync(
            self.identity.clone(),
            Arc::new(NoSyncService),
            router,
            LANE,
            shutdown.clone(),
        );
        let (c, _, _, _, s) = tokio::join!(consumer, relay, mail, sla, servers);
        if let Err(e) = c {
            return Err(Error::Start(format!("inbox: {e}")));
        }
        s?;
        Ok(())
    }
}

/// The portal provides no sync service: its gRPC port answers health and refuses every
/// call.
pub struct NoSyncService;

impl SyncHandler for NoSyncService {
    async fn handle(&self, req: Incoming) -> Answer {
        egov_system::refusal(
            "UNKNOWN_SERVICE",
            format!("ПЭП provides no sync service {:?}", req.service()),
            serde_json::Value::Null,
        )
    }
}
