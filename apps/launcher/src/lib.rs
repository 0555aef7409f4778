//! The launcher: runs every service of the workspace in one process, still over real
//! gRPC/HTTP on loopback and real NATS and PostgreSQL, for development and end-to-end
//! tests. Each service is a library with `build(config)` and `run(shutdown)`; the
//! launcher builds them all, prints where each listens, and stops them on Ctrl-C.
//!
//! What runs, and on which fixed local ports, is the deployment's topology
//! (`deploy/topology/`, or `EGOV_TOPOLOGY_DIR`): every gateway and every ИС МИО of it.
//! The shipped one (override a port with `EGOV_<SERVICE>__<SETTING>`, an ИС МИО's with
//! `EGOV_MIO__<SYSTEM>__<SETTING>`, e.g. `EGOV_MIO__MIO_ALMATY__HTTP_ADDR`):
//!
//! | service | lane | port | protocol |
//! |---|---|---|---|
//! | uc | ИС УЦ | 7010 | HTTP: CRL, OCSP, health, metrics |
//! | uc | ИС УЦ | 7011 | gRPC (mTLS) |
//! | gateway | ШЭП | 7100 / 7110 | gRPC SyncChannel, AsyncChannel (mTLS) / HTTP health, metrics |
//! | gateway | РШЭП Алматы | 7101 / 7111 | the same |
//! | gateway | РШЭП Атырау | 7102 / 7112 | the same |
//! | gateway | РШЭП СКО | 7103 / 7113 | the same |
//! | gbd-fl | ГБД ФЛ | 7200 / 7201 | gRPC SyncChannel (mTLS) / HTTP health, metrics |
//! | enis | ЕНИС | 7210 / 7211 | gRPC SyncChannel (mTLS) / HTTP health, metrics |
//! | mio-almaty, mio-atyrau, mio-nko | ИС МИО / АРМ РШЭП | 7300–7302 / 7380–7382 | gRPC SyncChannel (mTLS) / HTTP АРМ (API and web UI), health, metrics |
//! | con-is | ИС ЦОН / АРМ ИС ЦОН | 7400 / 7480 | gRPC health (mTLS) / HTTP operator API, public status look-up, health, metrics |
//! | ops | the operators' page | 7090 | HTTP: message-log search, an application's two diagrams (read-only role) |
//! | ncalayer | the NCALayer stand-in | 13579 | WebSocket over TLS: NCALayer's protocol, test keys (development; `EGOV_DEV_NCALAYER=false` leaves it out) |
//! | clock | the stack's movable clock | `EGOV_DEV_CLOCK_ADDR` (unset: none) | HTTP: `GET /clock`, `POST /clock/advance` (development and tests; [`clock`]) |
//!
//! For a deployment with a process (container) per service, [`init`] is `egov init`: the
//! registration step that does once what [`start`] does before it starts the services.
//! | portal | ПЭП | 7501 / 7500 | gRPC health (mTLS) / HTTP citizens' API, the cabinet's pages, health, metrics |
//!
//! The NCALayer stand-in (`egov_ncalayer`) gets its TLS certificate and the `.p12` keys
//! of a few named test citizens ([`NCALAYER_CITIZENS`]) in the PKI folder, issued when
//! missing; `egov up` prints whose keys it holds, where, and their password.
//!
//! On a start with an empty ГБД ФЛ the launcher seeds both registries with
//! `EGOV_SEED_PERSONS` synthetic residents (default 2000; 0 seeds nothing) from
//! `EGOV_SEED` (default 1), and the named test citizens.

pub mod clock;
pub mod init;

use egov_grpc::Listening as _;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use egov_config::{Common, Validate};
use egov_pki::PkiDir;
use egov_pki::authority::Endpoints;
use egov_pki::dir::InitOptions;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Everything the launcher reads from the environment.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Shared settings (`EGOV_DATABASE_URL`, `EGOV_NATS_URL`, `EGOV_DATA_DIR`, ...).
    #[serde(flatten)]
    pub common: Common,
    /// The certification authority (`EGOV_UC__HTTP_ADDR`, `EGOV_UC__GRPC_ADDR`, ...).
    pub uc: egov_uc::Config,
    /// Seconds to wait for services to drain on shutdown (`EGOV_GRACE_SECS`).
    pub grace_secs: u64,
    /// Bind every service to a free port instead of its fixed one (`EGOV_EPHEMERAL_PORTS`),
    /// for running beside another instance (tests).
    pub ephemeral_ports: bool,
    /// Prefix of the JetStream inbox stream and subjects (`EGOV_NATS_PREFIX`).
    pub nats_prefix: String,
    /// Copies of the inbox stream the gateways create (`EGOV_INBOX_REPLICAS`, 1 to 5): 1 on
    /// one server, 3 on a three-node cluster (`EGOV_NATS_URL` naming its nodes).
    pub inbox_replicas: usize,
    /// ГБД ФЛ (`EGOV_GBD_FL__GRPC_ADDR`, ...).
    pub gbd_fl: egov_gbd_fl::Config,
    /// ЕНИС (`EGOV_ENIS__GRPC_ADDR`, ...).
    pub enis: egov_enis::Config,
    /// ИС ЦОН (`EGOV_CON_IS__HTTP_ADDR`, `EGOV_CON_IS__OPERATOR_PASSWORD`, ...).
    pub con_is: egov_con_is::Config,
    /// The operators' page (`EGOV_OPS_HTTP_ADDR`, default `127.0.0.1:7090`): the message-log
    /// search and an application's two diagrams, connected as a read-only role.
    pub ops_http_addr: SocketAddr,
    /// ПЭП (`EGOV_PORTAL__HTTP_ADDR`, `EGOV_PORTAL__CORS_ORIGINS`, ...).
    pub portal: egov_portal::Config,
    /// Residents to seed into an empty ГБД ФЛ at start (`EGOV_SEED_PERSONS`).
    pub seed_persons: u64,
    /// The seed of the generated registries (`EGOV_SEED`).
    pub seed: u64,
    /// Development only (`EGOV_DEV_EMPLOYEE_PASSWORD`): every seeded АРМ account of every
    /// ИС МИО gets this password. Unset, each new account gets a generated password, written
    /// once to `<data_dir>/<system>-employee-passwords.txt` (0600).
    pub dev_employee_password: Option<String>,
    /// Development (`EGOV_DEV_SERVER_KEYSTORE`, default on for `egov up`): the АРМ signs
    /// with the employees' keys it holds sealed, so that the web UI can sign; off,
    /// employees sign on their own client through the API (`sign-request`, `signature`).
    pub dev_server_keystore: bool,
    /// Settings of each ИС МИО of the topology, by system id with `_` for `-`
    /// (`EGOV_MIO__MIO_ALMATY__HTTP_ADDR`, ...); the rest comes from the topology.
    pub mio: BTreeMap<String, MioSettings>,
    /// Development (`EGOV_DEV_NCALAYER`, default on for `egov up`): run the NCALayer
    /// stand-in with test keys, so that frontends sign as through NCALayer.
    pub dev_ncalayer: bool,
    /// The NCALayer stand-in (`EGOV_NCALAYER__ADDR`, `EGOV_NCALAYER__SELECT`,
    /// `EGOV_NCALAYER__KEYS_PASSWORD`, ...).
    pub ncalayer: egov_ncalayer::Config,
    /// Development and tests only (`EGOV_DEV_CLOCK_ADDR`, unset by default): ИС МИО,
    /// ИС ЦОН and the portal share one movable clock, moved forward through the HTTP
    /// server at this address ([`clock`]); `stack.json` names it, so that a scenario
    /// run can let a month pass.
    pub dev_clock_addr: Option<SocketAddr>,
    /// The key algorithm of a test PKI this start creates (`EGOV_PKI_ALGORITHM`:
    /// `rsa2048`, the default, as НУЦ РК's RSA certificates, or `ecdsa-p256`): its CAs,
    /// the systems' certificates and every employee's and operator's key follow it. A
    /// PKI that exists keeps its own.
    pub pki_algorithm: egov_pki::keys::KeyAlgorithm,
}

/// What may be set for one ИС МИО beyond its topology entry.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MioSettings {
    /// gRPC address instead of the topology's port.
    pub grpc_addr: Option<SocketAddr>,
    /// АРМ address instead of the topology's port.
    pub http_addr: Option<SocketAddr>,
    /// Folders of regulation files instead of `regulations/`.
    pub regulation_dirs: Option<Vec<PathBuf>>,
    /// Development only: the one password of this ИС МИО's seeded accounts (else
    /// [`Settings::dev_employee_password`], else generated passwords).
    pub dev_employee_password: Option<String>,
    /// How often overdue steps are flagged, seconds.
    pub sla_interval_secs: Option<u64>,
    /// How long an АРМ login lasts, hours.
    pub session_hours: Option<i64>,
    /// The АРМ's public URL behind a proxy (its forms' one origin; https: `Secure`
    /// cookies).
    pub public_url: Option<String>,
    /// `false`: `egov up` does not start this ИС МИО (its region's applications wait in
    /// its inbox, which РШЭП still fills); started by default.
    pub enabled: Option<bool>,
}

impl MioSettings {
    fn apply(&self, c: &mut egov_mio_is::Config) {
        if let Some(a) = self.grpc_addr {
            c.system.grpc_addr = a;
        }
        if let Some(a) = self.http_addr {
            c.system.http_addr = a;
        }
        if let Some(d) = &self.regulation_dirs {
            c.regulation_dirs = d.clone();
        }
        if let Some(p) = &self.dev_employee_password {
            c.dev_employee_password = Some(p.clone());
        }
        if let Some(s) = self.sla_interval_secs {
            c.sla_interval_secs = s;
        }
        if let Some(h) = self.session_hours {
            c.session_hours = h;
        }
        if let Some(u) = &self.public_url {
            c.public_url = Some(u.clone());
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            common: Common::default(),
            uc: egov_uc::Config::default(),
            grace_secs: 0,
            ephemeral_ports: false,
            nats_prefix: String::new(),
            inbox_replicas: 1,
            gbd_fl: egov_gbd_fl::Config::default(),
            enis: egov_enis::Config::default(),
            con_is: egov_con_is::Config::default(),
            portal: egov_portal::Config::default(),
            seed_persons: DEFAULT_SEED_PERSONS,
            seed: 1,
            dev_employee_password: None,
            dev_server_keystore: true,
            mio: BTreeMap::new(),
            ops_http_addr: SocketAddr::from(([127, 0, 0, 1], 7090)),
            dev_ncalayer: true,
            ncalayer: egov_ncalayer::Config::default(),
            dev_clock_addr: None,
            pki_algorithm: egov_pki::keys::KeyAlgorithm::Rsa2048,
        }
    }
}

/// Residents seeded into an empty ГБД ФЛ by default.
pub const DEFAULT_SEED_PERSONS: u64 = 2000;

impl Validate for Settings {
    fn validate(&self) -> Result<(), egov_config::Error> {
        self.common.validate()?;
        let topology = self.common.topology()?;
        for id in self.mio.keys() {
            if !topology
                .systems_of(egov_topology::Kind::MioIs)
                .any(|s| s.id.replace('-', "_") == *id)
            {
                return Err(egov_config::Error::invalid(
                    &format!("mio.{id}"),
                    "not an ИС МИО of the topology",
                ));
            }
        }
        self.uc.check()?;
        self.ncalayer.check("ncalayer")?;
        if !(1..=5).contains(&self.inbox_replicas) {
            return Err(egov_config::Error::invalid(
                "inbox_replicas",
                format!("{} is not between 1 and 5", self.inbox_replicas),
            ));
        }
        self.gbd_fl.system.check("gbd_fl")?;
        let public = [
            ("portal.public_url".to_string(), &self.portal.public_url),
            ("con_is.public_url".to_string(), &self.con_is.public_url),
        ];
        let mio = self
            .mio
            .iter()
            .map(|(id, m)| (format!("mio.{id}.public_url"), &m.public_url));
        for (field, url) in public.into_iter().chain(mio) {
            egov_pages::PublicUrl::parse(url.as_deref())
                .map_err(|e| egov_config::Error::invalid(&field, e))?;
        }
        self.enis.system.check("enis")?;
        if self.uc.http_addr == self.uc.grpc_addr && self.uc.http_addr.port() != 0 {
            return Err(egov_config::Error::invalid(
                "uc.grpc_addr",
                "same address as uc.http_addr",
            ));
        }
        Ok(())
    }
}

/// One listening endpoint, as printed at start.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Service name.
    pub service: String,
    /// The lane of the regulations' diagrams.
    pub lane: &'static str,
    /// What is served there.
    pub what: &'static str,
    /// The address.
    pub addr: SocketAddr,
    /// URL scheme.
    pub scheme: &'static str,
}

/// An АРМ РШЭП and its employee accounts.
#[derive(Debug, Clone)]
pub struct Workstation {
    /// The ИС МИО.
    pub system: String,
    /// The АРМ's address.
    pub url: String,
    /// The development password of its accounts, when one is set.
    pub dev_password: Option<String>,
    /// The file the generated passwords of the accounts this start created were written
    /// to (0600), if it created any.
    pub passwords_file: Option<PathBuf>,
    /// Whether the server signs with the employees' keys (development).
    pub server_keystore: bool,
    /// The accounts.
    pub employees: Vec<egov_mio_is::employees::Employee>,
}

/// АРМ ИС ЦОН and its operator accounts.
#[derive(Debug, Clone)]
pub struct ConWorkstation {
    /// The workstation's address.
    pub url: String,
    /// The development password of its accounts, when one is set.
    pub dev_password: Option<String>,
    /// The file the generated passwords of the accounts this start created were written
    /// to (0600), if it created any.
    pub passwords_file: Option<PathBuf>,
    /// The accounts.
    pub operators: Vec<egov_con_is::operators::Operator>,
}

/// The named test citizens whose keys the NCALayer stand-in holds, by fixture key.
pub const NCALAYER_CITIZENS: [&str; 5] = [
    "family-father",
    "family-mother",
    "atyrau",
    "akzhar",
    "representative",
];

/// The running NCALayer stand-in and the keys it holds.
#[derive(Debug, Clone)]
pub struct NcaLayer {
    /// Its URL (`wss://…`).
    pub url: String,
    /// The root its TLS certificate chains to (a browser must trust it).
    pub root_cert: PathBuf,
    /// The password of its key files.
    pub password: String,
    /// Whether the password is the test default.
    pub test_password: bool,
    /// The key its dialog picks first, when one is set.
    pub select: Option<String>,
    /// The keys, in its dialog's order.
    pub keys: Vec<egov_ncalayer::Listing>,
}

/// Launcher failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PostgreSQL or NATS cannot be had.
    #[error(transparent)]
    Environment(#[from] egov_devenv::Error),
    /// The test PKI cannot be created or opened.
    #[error("test PKI: {0}")]
    Pki(#[from] egov_pki::Error),
    /// NATS answers but JetStream does not work.
    #[error("NATS at {url}: {message}")]
    Nats {
        /// URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A service failed to start.
    #[error("{service}: {message}")]
    Service {
        /// Which.
        service: String,
        /// Why.
        message: String,
    },
}

/// The running system.
pub struct System {
    /// Where each service listens.
    pub endpoints: Vec<Endpoint>,
    /// The test PKI folder.
    pub pki_dir: PathBuf,
    /// Whether the PKI was created by this start.
    pub pki_created: bool,
    /// What this start seeded into the registries (none when they held data already).
    pub seeded: Option<egov_seed::Report>,
    /// The АРМ РШЭП of each ИС МИО and its seeded accounts.
    pub workstations: Vec<Workstation>,
    /// АРМ ИС ЦОН: its address, the password of its operators and the operators.
    pub con_workstation: ConWorkstation,
    /// The NCALayer stand-in, unless turned off.
    pub ncalayer: Option<NcaLayer>,
    /// The database and broker in use (private instances stop when this drops).
    pub env: egov_devenv::Ensured,
    tasks: JoinSet<(String, Result<(), String>)>,
    shutdown: CancellationToken,
    grace: Duration,
}

/// Ensures PostgreSQL, NATS and the test PKI, then builds and starts every service.
pub async fn start(settings: Settings) -> Result<System, Error> {
    egov_grpc::install_crypto_provider();
    let common = &settings.common;
    std::fs::create_dir_all(&common.data_dir).map_err(|e| Error::Service {
        service: "launcher".into(),
        message: format!("data folder {}: {e}", common.data_dir.display()),
    })?;

    let topology = common.topology().map_err(|e| Error::Service {
        service: "launcher".into(),
        message: e.to_string(),
    })?;
    let pki_dir = common.pki_dir();
    // the CA folder: uc's (and the launcher's, as the registration authority that makes
    // the PKI and enrols the seeded employees); no other service is given it
    let ca_dir = settings
        .uc
        .ca_dir
        .clone()
        .unwrap_or_else(|| egov_pki::dir::default_ca_dir(&pki_dir));
    let uc_port = match settings.uc.http_addr.port() {
        0 => topology.http_port("uc").unwrap_or(7010),
        p => p,
    };
    let (authority, pki_created) = open_or_create_pki(
        &pki_dir,
        &ca_dir,
        &topology,
        &format!("http://{}:{uc_port}", settings.uc.http_addr.ip()),
        settings.pki_algorithm,
    )?;

    // a private NATS (started when none answers) runs with a user per gateway and
    // system, each allowed only its own subjects (egov_shep_client::nats_auth)
    let nats_config = write_nats_config(&common.data_dir, &pki_dir, &topology, &settings)?;
    let env = egov_devenv::ensure_services_with(
        &common.data_dir,
        &common.database_url,
        &common.nats_url,
        Some(&nats_config),
    )
    .await?;
    let nats_auth = env.nats_is_private();
    let central = topology.central().id.clone();
    let probe_password = if nats_auth {
        Some(egov_pki::dir::nats_password(&pki_dir, &central)?)
    } else {
        None
    };
    check_jetstream(
        env.nats_url(),
        probe_password.as_deref().map(|p| (central.as_str(), p)),
    )
    .await?;

    // each service connects as its own role, owning its schema alone; the roles'
    // passwords are new at every start and live only in this process
    let admin_url = env.database_url().to_string();
    let password = uuid::Uuid::new_v4().simple().to_string();
    let as_role = |schema: String| {
        let (admin_url, password) = (admin_url.clone(), password.clone());
        async move {
            egov_db::provision(&admin_url, &schema, Some(&password))
                .await
                .map_err(|e| Error::Service {
                    service: "database".into(),
                    message: format!("the role of schema {schema}: {e}"),
                })
        }
    };

    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut endpoints = Vec::new();

    let service_err = |service: &'static str| {
        move |e: &dyn std::fmt::Display| Error::Service {
            service: service.to_string(),
            message: e.to_string(),
        }
    };
    let any_port = |a: SocketAddr| SocketAddr::new(a.ip(), 0);

    // ИС УЦ
    let mut uc_cfg = settings.uc.clone();
    if settings.ephemeral_ports {
        uc_cfg.http_addr = any_port(uc_cfg.http_addr);
        uc_cfg.grpc_addr = any_port(uc_cfg.grpc_addr);
    }
    uc_cfg.database_url = as_role(uc_cfg.schema.clone()).await?;
    uc_cfg.pki_dir = pki_dir.clone();
    uc_cfg.ca_dir = Some(ca_dir.clone());
    let uc = egov_uc::Uc::build(uc_cfg)
        .await
        .map_err(|e| Error::Service {
            service: "uc".into(),
            message: e.to_string(),
        })?;
    endpoints.push(Endpoint {
        service: "uc".into(),
        lane: "ИС УЦ",
        what: "CRL /crl, OCSP /ocsp, /health, /metrics",
        addr: uc.http_addr(),
        scheme: "http",
    });
    endpoints.push(Endpoint {
        service: "uc".into(),
        lane: "ИС УЦ",
        what: "gRPC egov.uc.v1 (mTLS)",
        addr: uc.grpc_addr(),
        scheme: "https",
    });
    let ocsp_url = format!("http://{}/ocsp", uc.http_addr());
    let crl_url = format!("http://{}/crl", uc.http_addr());
    let token = shutdown.child_token();
    tasks.spawn(async move { ("uc".into(), uc.run(token).await.map_err(|e| e.to_string())) });

    // the registries: ГБД ФЛ and ЕНИС, seeded on first start
    let seeded = seed_registries(env.database_url(), &settings).await?;
    let system_cfg = |mut c: egov_system::Config, database_url: String| {
        c.bind_host(common.bind_host);
        if settings.ephemeral_ports {
            c.any_ports();
        }
        c.pki_dir = pki_dir.clone();
        c.database_url = database_url;
        c.ocsp_url = Some(ocsp_url.clone());
        c.crl_url = Some(crl_url.clone());
        c
    };
    let mut gbd_cfg = settings.gbd_fl.clone();
    let url = as_role(gbd_cfg.system.schema.clone()).await?;
    gbd_cfg.system = system_cfg(gbd_cfg.system, url);
    gbd_cfg.regions = topology.region_codes();
    let gbd = egov_gbd_fl::GbdFl::build(gbd_cfg)
        .await
        .map_err(|e| service_err("gbd-fl")(&e))?;
    let mut enis_cfg = settings.enis.clone();
    let url = as_role(enis_cfg.system.schema.clone()).await?;
    enis_cfg.system = system_cfg(enis_cfg.system, url);
    let enis = egov_enis::Enis::build(enis_cfg)
        .await
        .map_err(|e| service_err("enis")(&e))?;
    let mut systems: Vec<(String, SocketAddr)> = vec![
        ("gbd-fl".into(), gbd.grpc_addr()),
        ("enis".into(), enis.grpc_addr()),
    ];
    endpoints.push(Endpoint {
        service: "gbd-fl".into(),
        lane: "ГБД ФЛ",
        what: "gRPC SyncChannel (mTLS)",
        addr: gbd.grpc_addr(),
        scheme: "https",
    });
    endpoints.push(Endpoint {
        service: "gbd-fl".into(),
        lane: "ГБД ФЛ",
        what: "/health, /metrics",
        addr: gbd.http_addr(),
        scheme: "http",
    });
    endpoints.push(Endpoint {
        service: "enis".into(),
        lane: "ЕНИС",
        what: "gRPC SyncChannel (mTLS)",
        addr: enis.grpc_addr(),
        scheme: "https",
    });
    endpoints.push(Endpoint {
        service: "enis".into(),
        lane: "ЕНИС",
        what: "/health, /metrics",
        addr: enis.http_addr(),
        scheme: "http",
    });
    let token = shutdown.child_token();
    tasks.spawn(async move {
        (
            "gbd-fl".into(),
            gbd.run(token).await.map_err(|e| e.to_string()),
        )
    });
    let token = shutdown.child_token();
    tasks.spawn(async move {
        (
            "enis".into(),
            enis.run(token).await.map_err(|e| e.to_string()),
        )
    });

    // the clock of the systems that keep the regulations' time: movable in development
    let stack_clock = if settings.dev_clock_addr.is_some() {
        egov_calendar::Clock::manual()
    } else {
        egov_calendar::Clock::System
    };

    // each region's ИС МИО with its АРМ РШЭП (they run once the gateways are bound)
    let mut mios = Vec::new();
    let mut mio_schemas = Vec::new();
    let mut workstations = Vec::new();
    for sys in topology.systems_of(egov_topology::Kind::MioIs) {
        let over = settings.mio.get(&sys.id.replace('-', "_"));
        if over.is_some_and(|o| o.enabled == Some(false)) {
            tracing::info!(system = %sys.id, "not started (EGOV_MIO__<SYSTEM>__ENABLED=false)");
            continue;
        }
        let mut cfg =
            egov_mio_is::Config::for_system(&topology, &sys.id).expect("an ИС МИО of the topology");
        if let Some(over) = over {
            over.apply(&mut cfg);
        }
        let url = as_role(cfg.system.schema.clone()).await?;
        cfg.system = system_cfg(cfg.system, url);
        cfg.nats_url = env.nats_url().to_string();
        cfg.nats_prefix = settings.nats_prefix.clone();
        cfg.nats_credentials = nats_auth;
        if cfg.dev_employee_password.is_none() {
            cfg.dev_employee_password = settings.dev_employee_password.clone();
        }
        cfg.dev_server_keystore = settings.dev_server_keystore;
        cfg.keystore_key_file = common.data_dir.join(format!("{}-keystore.key", sys.id));
        cfg.passwords_file = Some(
            common
                .data_dir
                .join(format!("{}-employee-passwords.txt", sys.id)),
        );
        let mut mio = egov_mio_is::MioIs::build(cfg.clone(), stack_clock.clone())
            .await
            .map_err(|e| service_err("mio-is")(&e))?;
        let employees = mio
            .seed_employees(&authority)
            .await
            .map_err(|e| service_err("mio-is")(&e))?;
        let id = sys.id.clone();
        mio_schemas.push((id.clone(), cfg.system.schema.clone()));
        systems.push((id.clone(), mio.grpc_addr()));
        endpoints.push(Endpoint {
            service: id.clone(),
            lane: "ИС МИО",
            what: "gRPC SyncChannel (mTLS): mio.queue.position",
            addr: mio.grpc_addr(),
            scheme: "https",
        });
        endpoints.push(Endpoint {
            service: id.clone(),
            lane: "АРМ",
            what: "АРМ РШЭП: web UI /, API /api/v1 (OpenAPI /api/openapi.json), /health, /metrics",
            addr: mio.http_addr(),
            scheme: "http",
        });
        workstations.push(Workstation {
            system: id.clone(),
            url: format!("http://{}", mio.http_addr()),
            dev_password: cfg.dev_employee_password.clone(),
            passwords_file: cfg
                .passwords_file
                .clone()
                .filter(|_| !mio.new_passwords().is_empty()),
            server_keystore: cfg.dev_server_keystore,
            employees,
        });
        mios.push((mio, cfg.gateway_id.clone()));
    }

    // ИС ЦОН with АРМ ИС ЦОН
    let mut con_cfg = settings.con_is.clone();
    let url = as_role(con_cfg.system.schema.clone()).await?;
    con_cfg.system = system_cfg(con_cfg.system, url);
    con_cfg.nats_url = env.nats_url().to_string();
    con_cfg.nats_prefix = settings.nats_prefix.clone();
    con_cfg.nats_credentials = nats_auth;
    // the operators' passwords as the employees': the development setting, else
    // generated and written once to a file of the user's alone
    if con_cfg.dev_operator_password.is_none() {
        con_cfg.dev_operator_password = settings.dev_employee_password.clone();
    }
    let con_passwords = common.data_dir.join("con-is-operator-passwords.txt");
    let con_had_accounts = con_passwords.exists();
    con_cfg.passwords_file = Some(con_passwords.clone());
    // the operators' keys sealed under a key of this machine's data; the workstation
    // signs with them as the АРМ РШЭП does, a development setting
    con_cfg.keystore_key_file = common.data_dir.join("con-is-keystore.key");
    con_cfg.dev_server_keystore = settings.dev_server_keystore;
    let con = egov_con_is::ConIs::build_with(con_cfg.clone(), stack_clock.clone())
        .await
        .map_err(|e| service_err("con-is")(&e))?;
    // the operators' signing certificates come from the registration authority
    con.set_issuer(std::sync::Arc::new(PkiDir::open(&pki_dir, &ca_dir)?));
    systems.push(("con-is".into(), con.grpc_addr()));
    endpoints.push(Endpoint {
        service: "con-is".into(),
        lane: "ИС ЦОН",
        what: "gRPC health (mTLS)",
        addr: con.grpc_addr(),
        scheme: "https",
    });
    endpoints.push(Endpoint {
        service: "con-is".into(),
        lane: "АРМ",
        what: "АРМ ИС ЦОН: pages /ui, API /api/v1 (OpenAPI /api/openapi.json), /health, /metrics",
        addr: con.http_addr(),
        scheme: "http",
    });
    let con_workstation = ConWorkstation {
        url: format!("http://{}", con.http_addr()),
        dev_password: con_cfg.dev_operator_password.clone(),
        passwords_file: (con_cfg.dev_operator_password.is_none()
            && con_passwords.exists()
            && !con_had_accounts)
            .then_some(con_passwords),
        operators: egov_con_is::operators::all(con.pool())
            .await
            .map_err(|e| service_err("con-is")(&e))?,
    };

    // ПЭП
    let mut portal_cfg = settings.portal.clone();
    let url = as_role(portal_cfg.system.schema.clone()).await?;
    portal_cfg.system = system_cfg(portal_cfg.system, url);
    portal_cfg.nats_url = env.nats_url().to_string();
    portal_cfg.nats_prefix = settings.nats_prefix.clone();
    portal_cfg.nats_credentials = nats_auth;
    // the cabinet's signing page connects to the stand-in this launcher runs
    if settings.dev_ncalayer
        && !settings.ephemeral_ports
        && portal_cfg.ncalayer_url == egov_portal::NCALAYER_URL
    {
        portal_cfg.ncalayer_url = format!("wss://127.0.0.1:{}", settings.ncalayer.addr.port());
    }
    let mut portal = egov_portal::Portal::build_with(portal_cfg.clone(), stack_clock.clone())
        .await
        .map_err(|e| service_err("portal")(&e))?;
    systems.push(("portal".into(), portal.grpc_addr()));
    let portal_url = format!("http://{}", portal.http_addr());
    let regulation_dirs = portal_cfg.regulation_dirs.clone();
    endpoints.push(Endpoint {
        service: "portal".into(),
        lane: "ПЭП",
        what: "gRPC health (mTLS)",
        addr: portal.grpc_addr(),
        scheme: "https",
    });
    endpoints.push(Endpoint {
        service: "portal".into(),
        lane: "ПЭП",
        what: "citizens' API /api/v1 (OpenAPI /api/openapi.json), the cabinet /ui, /health, /metrics",
        addr: portal.http_addr(),
        scheme: "http",
    });

    // ШЭП and each region's РШЭП
    let mut gateways = Vec::new();
    let mut journal_schema = String::new();
    for g in &topology.gateways {
        let mut cfg = egov_gateway::Config::for_gateway(&topology, &g.id);
        cfg.topology_dir = common.topology_dir.clone();
        cfg.bind_host(common.bind_host);
        if settings.ephemeral_ports {
            cfg.grpc_addr = any_port(cfg.grpc_addr);
            cfg.http_addr = any_port(cfg.http_addr);
        }
        cfg.pki_dir = pki_dir.clone();
        cfg.database_url = as_role(cfg.schema.clone()).await?;
        journal_schema = cfg.schema.clone();
        cfg.nats_url = env.nats_url().to_string();
        cfg.nats_prefix = settings.nats_prefix.clone();
        cfg.inbox_replicas = settings.inbox_replicas;
        cfg.nats_credentials = nats_auth;
        cfg.ocsp_url = Some(ocsp_url.clone());
        cfg.crl_url = Some(crl_url.clone());
        let gw = egov_gateway::Gateway::build(cfg)
            .await
            .map_err(|e| service_err("gateway")(&e))?;
        gateways.push(gw);
    }
    let mut addrs: Vec<(String, SocketAddr)> = gateways
        .iter()
        .map(|g| (g.id().to_string(), g.grpc_addr()))
        .collect();
    addrs.append(&mut systems);
    for gw in &mut gateways {
        for (id, addr) in &addrs {
            if id != gw.id() {
                gw.set_endpoint(id, &addr.to_string());
            }
        }
    }
    for (mut mio, gateway) in mios {
        if let Some((_, addr)) = addrs.iter().find(|(id, _)| *id == gateway) {
            mio.set_gateway(&addr.to_string());
        }
        let id = mio.system_id().to_string();
        let token = shutdown.child_token();
        tasks.spawn(async move { (id, mio.run(token).await.map_err(|e| e.to_string())) });
    }
    let mut con = con;
    if let Some((_, addr)) = addrs.iter().find(|(id, _)| *id == con_cfg.gateway_id) {
        con.set_gateway(&addr.to_string());
    }
    let token = shutdown.child_token();
    tasks.spawn(async move {
        (
            "con-is".into(),
            con.run(token).await.map_err(|e| e.to_string()),
        )
    });
    if let Some((_, addr)) = addrs.iter().find(|(id, _)| *id == portal_cfg.gateway_id) {
        portal.set_gateway(&addr.to_string());
    }
    let token = shutdown.child_token();
    tasks.spawn(async move {
        (
            "portal".into(),
            portal.run(token).await.map_err(|e| e.to_string()),
        )
    });
    for gw in gateways {
        let lane = if gw.id() == topology.central().id {
            "ШЭП"
        } else {
            "РШЭП"
        };
        let id = gw.id().to_string();
        endpoints.push(Endpoint {
            service: id.clone(),
            lane,
            what: "gRPC SyncChannel, AsyncChannel (mTLS)",
            addr: gw.grpc_addr(),
            scheme: "https",
        });
        endpoints.push(Endpoint {
            service: id.clone(),
            lane,
            what: "/health, /metrics",
            addr: gw.http_addr(),
            scheme: "http",
        });
        let token = shutdown.child_token();
        tasks.spawn(async move { (id, gw.run(token).await.map_err(|e| e.to_string())) });
    }

    // the operators' page reads the message log and each ИС МИО's steps as a role that
    // may only read them (its schemas exist now: the services above made them)
    let mut readable: Vec<&str> = vec![journal_schema.as_str()];
    readable.extend(mio_schemas.iter().map(|(_, s)| s.as_str()));
    let reader_url = egov_db::provision_reader(&admin_url, "ops", &readable, Some(&password))
        .await
        .map_err(|e| service_err("ops")(&e))?;
    let ops = egov_ops::page::OpsPage::build(egov_ops::page::Config {
        http_addr: if settings.ephemeral_ports {
            any_port(settings.ops_http_addr)
        } else {
            settings.ops_http_addr
        },
        database_url: reader_url,
        mio_systems: mio_schemas.iter().map(|(id, _)| id.clone()).collect(),
        regulations_dir: egov_regulation::shipped_dir(),
        journal_schema,
    })
    .await
    .map_err(|e| service_err("ops")(&e))?;
    endpoints.push(Endpoint {
        service: "ops".into(),
        lane: "ops",
        what: "the operators' page: message-log search, an application's two diagrams",
        addr: ops.addr(),
        scheme: "http",
    });
    let token = shutdown.child_token();
    tasks.spawn(async move {
        (
            "ops".into(),
            ops.run(token).await.map_err(|e| e.to_string()),
        )
    });

    let system_regions: BTreeMap<String, String> = topology
        .systems
        .iter()
        .filter_map(|s| s.region.clone().map(|r| (s.id.clone(), r)))
        .collect();
    let clock_url = match settings.dev_clock_addr {
        Some(addr) => {
            let addr = if settings.ephemeral_ports {
                any_port(addr)
            } else {
                addr
            };
            let server = clock::ClockServer::bind(addr, stack_clock.clone())
                .await
                .map_err(|e| Error::Service {
                    service: "clock".into(),
                    message: format!("bind {addr}: {e}"),
                })?;
            endpoints.push(Endpoint {
                service: "clock".into(),
                lane: "dev",
                what: "the stack's movable clock: GET /clock, POST /clock/advance (development)",
                addr: server.addr(),
                scheme: "http",
            });
            let url = format!("http://{}", server.addr());
            let token = shutdown.child_token();
            tasks.spawn(async move {
                (
                    "clock".into(),
                    server.run(token).await.map_err(|e| e.to_string()),
                )
            });
            Some(url)
        }
        None => None,
    };
    let mut target = scenario_target(
        &workstations,
        &con_workstation,
        &system_regions,
        portal_url,
        (&pki_dir, &ca_dir),
        regulation_dirs,
    )
    .map_err(|e| service_err("launcher")(&e))?;
    target.clock = clock_url;
    let target_file = common.data_dir.join(STACK_FILE);
    target.write(&target_file).map_err(|e| Error::Service {
        service: "launcher".into(),
        message: format!("{}: {e}", target_file.display()),
    })?;

    // the NCALayer stand-in, holding the keys of a few named test citizens
    let ncalayer = if settings.dev_ncalayer {
        let mut cfg = settings.ncalayer.clone();
        cfg.pki_dir = pki_dir.clone();
        if settings.ephemeral_ports {
            cfg.addr = any_port(cfg.addr);
        }
        provision_ncalayer(&authority, &cfg).map_err(|e| service_err("ncalayer")(&e))?;
        let standin = egov_ncalayer::StandIn::build(cfg.clone())
            .await
            .map_err(|e| service_err("ncalayer")(&e))?;
        endpoints.push(Endpoint {
            service: "ncalayer".into(),
            lane: "ЭЦП",
            what: "the NCALayer stand-in: commonUtils, basics (development, test keys)",
            addr: standin.local_addr(),
            scheme: "wss",
        });
        let info = NcaLayer {
            url: standin.url(),
            root_cert: authority.root_cert_path(),
            test_password: cfg.keys_password == egov_pki::pkcs12::TEST_PASSWORD,
            password: cfg.keys_password.clone(),
            select: cfg.select.clone(),
            keys: standin.keys(),
        };
        let token = shutdown.child_token();
        tasks.spawn(async move {
            (
                "ncalayer".into(),
                standin.run(token).await.map_err(|e| e.to_string()),
            )
        });
        Some(info)
    } else {
        None
    };

    Ok(System {
        endpoints,
        pki_dir,
        pki_created,
        seeded,
        workstations,
        con_workstation,
        ncalayer,
        env,
        tasks,
        shutdown,
        grace: Duration::from_secs(if settings.grace_secs == 0 {
            10
        } else {
            settings.grace_secs
        }),
    })
}

/// The file in the data folder that tells `egovctl scenario run` where this stack's
/// doors are and whose accounts open them.
pub const STACK_FILE: &str = "stack.json";

/// This stack as a scenario run's target.
fn scenario_target(
    workstations: &[Workstation],
    con: &ConWorkstation,
    regions: &BTreeMap<String, String>,
    portal_url: String,
    (pki_dir, ca_dir): (&std::path::Path, &std::path::Path),
    regulation_dirs: Vec<PathBuf>,
) -> Result<egov_scenario::Target, String> {
    let centres = egov_con_is::centres::shipped()?;
    let mio = workstations
        .iter()
        .map(|w| {
            (
                w.system.clone(),
                egov_scenario::target::Workstation {
                    url: w.url.clone(),
                    region: regions.get(&w.system).cloned().unwrap_or_default(),
                    password: w.dev_password.clone(),
                    passwords_file: w.passwords_file.clone(),
                    employees: w
                        .employees
                        .iter()
                        .filter(|e| e.active)
                        .map(|e| egov_scenario::target::Employee {
                            iin: e.iin.clone(),
                            provider: e.provider_id.clone(),
                            role: e.role.clone(),
                            password: None,
                        })
                        .collect(),
                },
            )
        })
        .collect();
    let operators = con
        .operators
        .iter()
        .filter(|o| o.active)
        .map(|o| egov_scenario::target::Operator {
            iin: o.iin.clone(),
            centre: o.centre_id.clone(),
            region: centres
                .iter()
                .find(|c| c.id == o.centre_id)
                .map(|c| c.region.clone())
                .unwrap_or_default(),
            role: o.role.as_str().to_string(),
            password: None,
        })
        .collect();
    Ok(egov_scenario::Target {
        portal: Some(portal_url),
        con: Some(egov_scenario::target::Centres {
            url: con.url.clone(),
            password: con.dev_password.clone(),
            passwords_file: con.passwords_file.clone(),
            operators,
        }),
        mio,
        pki_dir: pki_dir.to_path_buf(),
        ca_dir: ca_dir.to_path_buf(),
        regulation_dirs,
        clock: None,
    })
}

/// Issues the NCALayer stand-in's TLS certificate and the key files of
/// [`NCALAYER_CITIZENS`] into its key folder, those missing or about to expire.
fn provision_ncalayer(ca: &PkiDir, cfg: &egov_ncalayer::Config) -> Result<(), egov_pki::Error> {
    let now = time::OffsetDateTime::now_utc();
    if cfg.tls_cert.is_none() && cfg.tls_key.is_none() {
        egov_ncalayer::provision::tls_identity(ca, now)?;
    }
    let citizens = egov_synth::fixtures::citizens(egov_calendar::today());
    for key in NCALAYER_CITIZENS {
        let Some(c) = citizens.iter().find(|c| c.key == key) else {
            continue;
        };
        let person = egov_ncalayer::provision::Person {
            iin: c.iin,
            name: c.name.clone(),
        };
        egov_ncalayer::provision::person_keys(
            ca,
            &cfg.keys_dir_path(),
            &person,
            &cfg.keys_password,
            now,
        )?;
    }
    Ok(())
}

/// Seeds ГБД ФЛ and ЕНИС with [`Settings::seed_persons`] residents when ГБД ФЛ is empty,
/// as the administrator of `admin_url`; `None` when it holds data already or nothing is
/// to be seeded.
async fn seed_registries(
    admin_url: &str,
    settings: &Settings,
) -> Result<Option<egov_seed::Report>, Error> {
    let err = |e: &dyn std::fmt::Display| Error::Service {
        service: "seed".into(),
        message: e.to_string(),
    };
    if settings.seed_persons == 0
        || egov_seed::is_seeded(admin_url, &settings.gbd_fl.system.schema)
            .await
            .map_err(|e| err(&e))?
    {
        return Ok(None);
    }
    let mut opts =
        egov_seed::Options::new(settings.seed_persons, settings.seed, egov_calendar::today());
    opts.gbd_fl_schema = settings.gbd_fl.system.schema.clone();
    opts.enis_schema = settings.enis.system.schema.clone();
    let report = egov_seed::seed(admin_url, &opts)
        .await
        .map_err(|e| err(&e))?;
    tracing::info!(
        persons = report.persons,
        poas = report.poas,
        "seeded the registries"
    );
    Ok(Some(report))
}

/// Opens the test PKI at `pki_dir` with its CA folder `ca_dir`, or creates both when the
/// PKI is missing (keys of `algorithm`, certificates for every gateway and system of
/// `topology`, naming `uc_base` as their CRL and OCSP location). Returns the registration
/// authority and whether it was created now.
fn open_or_create_pki(
    pki_dir: &std::path::Path,
    ca_dir: &std::path::Path,
    topology: &egov_topology::Topology,
    uc_base: &str,
    algorithm: egov_pki::keys::KeyAlgorithm,
) -> Result<(PkiDir, bool), Error> {
    if PkiDir::exists(pki_dir) {
        return Ok((PkiDir::open(pki_dir, ca_dir)?, false));
    }
    let made = PkiDir::init(
        pki_dir,
        ca_dir,
        &InitOptions {
            endpoints: Endpoints {
                crl_url: Some(format!("{uc_base}/crl")),
                ocsp_url: Some(format!("{uc_base}/ocsp")),
            },
            systems: topology.identities(),
            algorithm,
            ..Default::default()
        },
    )?;
    tracing::info!(dir = %pki_dir.display(), ca = %ca_dir.display(), "created the test PKI");
    Ok((made, true))
}

/// The largest JetStream file store of a private NATS, bytes.
pub const NATS_MAX_FILE_STORE: u64 = 2 << 30;

/// Writes `<data>/nats-auth.conf` (0600): every gateway and system of the topology as a
/// NATS user with its permissions, the store capped at [`NATS_MAX_FILE_STORE`].
fn write_nats_config(
    data_dir: &std::path::Path,
    pki_dir: &std::path::Path,
    topology: &egov_topology::Topology,
    settings: &Settings,
) -> Result<PathBuf, Error> {
    use egov_shep_client::nats_auth::{Role, User, server_config};
    let mut users = Vec::new();
    for g in &topology.gateways {
        users.push(User {
            id: g.id.clone(),
            password: egov_pki::dir::nats_password(pki_dir, &g.id)?,
            role: Role::Gateway,
        });
    }
    for s in topology.identities() {
        if users.iter().any(|u| u.id == s.id) {
            continue;
        }
        users.push(User {
            password: egov_pki::dir::nats_password(pki_dir, &s.id)?,
            id: s.id,
            role: Role::System,
        });
    }
    let text = server_config(
        &egov_shep_client::inbox::InboxNames::new(&settings.nats_prefix),
        &users,
        NATS_MAX_FILE_STORE,
    );
    let path =
        std::path::absolute(data_dir.join("nats-auth.conf")).map_err(|e| Error::Service {
            service: "launcher".into(),
            message: format!("NATS configuration: {e}"),
        })?;
    let err = |e: std::io::Error| Error::Service {
        service: "launcher".into(),
        message: format!("NATS configuration {}: {e}", path.display()),
    };
    let tmp = path.with_extension("conf.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(path)
}

async fn check_jetstream(url: &str, credentials: Option<(&str, &str)>) -> Result<(), Error> {
    let err = |message: String| Error::Nats {
        url: url.to_string(),
        message,
    };
    let client = tokio::time::timeout(
        Duration::from_secs(5),
        egov_shep_client::nats_auth::connect(url, credentials),
    )
    .await
    .map_err(|_| err("connection timed out".into()))?
    .map_err(|e| err(e.to_string()))?;
    let js = async_nats::jetstream::new(client);
    // a cheap JetStream round trip: looking up a stream that does not exist must answer
    // "not found", which proves JetStream is enabled
    match js.get_stream("EGOV_LAUNCHER_PROBE").await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().to_lowercase().contains("not found") => Ok(()),
        Err(e) => Err(err(format!(
            "JetStream is not available (start nats-server with -js): {e}"
        ))),
    }
}

impl System {
    /// Renders the table of endpoints.
    pub fn endpoints_table(&self) -> String {
        let mut s = String::from("service       lane   address                        serves\n");
        for e in &self.endpoints {
            s.push_str(&format!(
                "{:<13} {:<6} {:<30} {}\n",
                e.service,
                e.lane,
                format!("{}://{}", e.scheme, e.addr),
                e.what
            ));
        }
        s
    }

    /// Waits until `stop` resolves or a service exits, then shuts everything down within
    /// the grace period. Returns the first service error, if any.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), Error> {
        let mut first_error = None;
        tokio::select! {
            _ = stop => tracing::info!("shutting down"),
            Some(joined) = self.tasks.join_next() => {
                let (service, result) = joined.unwrap_or(("?".into(), Err("task panicked".into())));
                tracing::error!(service, ?result, "a service stopped; shutting the rest down");
                if let Err(message) = result {
                    first_error = Some(Error::Service { service, message });
                }
            }
        }
        self.shutdown.cancel();
        let drain = async {
            while let Some(joined) = self.tasks.join_next().await {
                if let Ok((service, Err(message))) = joined {
                    tracing::error!(service, %message, "service failed while stopping");
                    first_error.get_or_insert(Error::Service { service, message });
                }
            }
        };
        if tokio::time::timeout(self.grace, drain).await.is_err() {
            tracing::warn!(grace = ?self.grace, "services did not stop in time; aborting them");
            self.tasks.abort_all();
        }
        self.env.shutdown().await;
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_a_cluster_and_its_inbox_replicas() {
        let mut s = Settings::default();
        s.common.nats_url =
            "nats://127.0.0.1:4301,nats://127.0.0.1:4302,nats://127.0.0.1:4303".into();
        s.inbox_replicas = 3;
        s.validate()
            .expect("a three-node cluster with three copies of the inbox");

        for bad in [0, 6] {
            s.inbox_replicas = bad;
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("EGOV_INBOX_REPLICAS"), "{bad}: {e}");
        }
        s.inbox_replicas = 3;
        s.common.nats_url = "nats://127.0.0.1:4301,127.0.0.1:4302".into();
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("EGOV_NATS_URL"), "{e}");
    }
}
