//! A world for integration tests of the information systems, on real servers: a fresh
//! test PKI (ECDSA P-256, fast to make), a fresh PostgreSQL database, a unique NATS
//! prefix on the machine's broker, the certification authority (uc, for OCSP) and the
//! gateways a test asks for (ШЭП and any РШЭП), all on loopback ports picked by the OS.
//!
//! Systems under test are built with [`World::system_config`], registered on the
//! gateways with [`World::register`], and the gateways start with [`World::start`]
//! once every endpoint is known. Dropping the world stops everything and removes the
//! test's inbox stream, the streams made with [`World::create_stream`] and (as its
//! [`TestDatabase`] drops) the database.
//!
//! Benchmarks use the same world with [`Options::algorithm`] set to RSA-2048 (as the real
//! system), [`World::client_to`] for calls that bypass the gateways, and a world whose
//! gateways are built but never started where only the PKI, the database and uc matter.
//!
//! ```no_run
//! # async fn f() {
//! let mut w = egov_testkit::World::new(&["shep"]).await;
//! // build the system under test on w.system_config("gbd-fl", "gbd_fl"), then
//! // w.register("gbd-fl", addr); w.spawn(system.run(w.cancel.clone()));
//! w.start();
//! let portal = w.client("portal");
//! # }
//! ```

use egov_grpc::Listening as _;
pub mod echo;
pub mod launcher;
pub mod nats;
pub mod otlp;
pub mod postgres;
pub mod process;
pub mod stack;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use egov_gateway::Gateway;
use egov_gateway::journal::Journal;
use egov_gateway::registry::Registry;
use egov_pki::PkiDir;
use egov_pki::Verifier;
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use egov_shep_client::Client;
use egov_shep_client::envelope::{self, SystemSigner};
use egov_shep_client::inbox::InboxNames;
use tokio_util::sync::CancellationToken;

pub use egov_devenv::TestDatabase;

/// The lines of the Prometheus page at `<base>/metrics` whose sample is of `family` (its
/// name, with or without labels).
pub async fn metric_lines(base: &str, family: &str) -> Vec<String> {
    let page = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("the metrics page answers")
        .text()
        .await
        .expect("the metrics page reads");
    page.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .map(str::to_string)
        .collect()
}

/// The running world of one test.
pub struct World {
    /// Temporary files (the PKI lives under it).
    pub dir: tempfile::TempDir,
    /// The test PKI folder: what every service of the world reads (no CA key).
    pub pki: PathBuf,
    /// The CA folder (the CAs' keys, settings, index): given to uc alone, and opened by
    /// the test as the registration authority ([`World::authority`]).
    pub ca: PathBuf,
    /// The test's database.
    pub db: TestDatabase,
    /// The test's NATS prefix (stream and subjects).
    pub prefix: String,
    /// Stops everything.
    pub cancel: CancellationToken,
    /// A NATS connection for the test's own checks.
    pub nats: async_nats::Client,
    /// The broker's URL (one server, or the nodes of a cluster separated by commas).
    pub nats_url: String,
    /// The OCSP responder of the running uc.
    pub ocsp_url: String,
    /// Where the running uc serves HTTP (CRL, OCSP, CA certificates).
    pub uc_http: SocketAddr,
    /// Where the running uc serves gRPC (issue and revoke, for the registration authority).
    pub uc_grpc: SocketAddr,
    /// The registry the gateways run with.
    pub registry: Registry,
    /// The deployment's topology of this world.
    pub topology: egov_topology::Topology,
    /// The settings every gateway of the world is built from (but its id).
    gateway_template: egov_gateway::Config,
    /// Where each gateway listens (gRPC).
    pub gateway_addrs: BTreeMap<String, SocketAddr>,
    /// Where each gateway serves health and metrics.
    pub gateway_http: BTreeMap<String, SocketAddr>,
    /// The message log (shared by every gateway of the world).
    pub journal: Journal,
    pending: Vec<Gateway>,
    /// Streams made by the test besides the inbox, deleted with the world.
    streams: Vec<String>,
    /// Where each registered system listens (what a restarted gateway is told again).
    endpoints: Vec<(String, String)>,
    /// The gateways started by [`World::start_crashable`], each in a runtime of its own.
    gateway_processes: BTreeMap<String, process::Process>,
}

/// Options of a world.
#[derive(Debug, Clone)]
pub struct Options {
    /// The gateways to run (`shep`, `rshep-almaty`, ...).
    pub gateways: Vec<String>,
    /// A topology folder instead of the shipped one (a test that adds a region).
    pub topology_dir: Option<PathBuf>,
    /// A registry text instead of the shipped one.
    pub registry: Option<String>,
    /// Seconds a recipient has to acknowledge an inbox message.
    pub ack_wait_secs: u64,
    /// Key algorithm of the test PKI (ECDSA P-256 by default: fast to make; RSA-2048
    /// as the real system, for benchmarks).
    pub algorithm: KeyAlgorithm,
    /// Seconds the gateways use an OCSP "good" answer at most (a revocation test sets
    /// it short).
    pub ocsp_cache_secs: u64,
    /// The broker (one server, or the nodes of a cluster separated by commas) instead of
    /// the machine's ([`egov_devenv::default_nats_url`]).
    pub nats_url: Option<String>,
    /// Copies of the inbox stream the gateways create (1 on one server, 3 on a cluster).
    pub inbox_replicas: usize,
    /// The PostgreSQL server's administrator URL (a server of the test's own,
    /// [`postgres::Server`]) instead of the machine's
    /// ([`egov_devenv::default_database_admin_url`]).
    pub database_admin_url: Option<String>,
}

impl Options {
    /// The shipped registry, the given gateways.
    pub fn new(gateways: &[&str]) -> Self {
        Options {
            gateways: gateways.iter().map(|g| g.to_string()).collect(),
            topology_dir: None,
            registry: None,
            ack_wait_secs: 5,
            algorithm: KeyAlgorithm::EcdsaP256,
            ocsp_cache_secs: egov_gateway::Config::default().ocsp_cache_secs,
            nats_url: None,
            inbox_replicas: 1,
            database_admin_url: None,
        }
    }
}

impl World {
    /// A world with the shipped registry and the gateways named.
    pub async fn new(gateways: &[&str]) -> World {
        World::with(Options::new(gateways)).await
    }

    /// A world with options.
    pub async fn with(opts: Options) -> World {
        egov_grpc::install_crypto_provider();
        egov_telemetry::init_for_tests();
        let dir = tempfile::tempdir().expect("temporary folder");
        let pki = dir.path().join("pki");
        let ca = dir.path().join("ca");
        let topology = egov_topology::Topology::open(opts.topology_dir.as_deref())
            .unwrap_or_else(|e| panic!("{e}"));
        PkiDir::init(
            &pki,
            &ca,
            &InitOptions {
                algorithm: opts.algorithm,
                systems: topology.identities(),
                ..Default::default()
            },
        )
        .expect("test PKI");
        let admin_url = opts
            .database_admin_url
            .clone()
            .unwrap_or_else(egov_devenv::default_database_admin_url);
        let db = egov_devenv::fresh_database(&admin_url, "t")
            .await
            .expect("a fresh test database");
        let prefix = egov_devenv::unique_prefix("t");
        let nats_url = opts
            .nats_url
            .clone()
            .unwrap_or_else(egov_devenv::default_nats_url);
        let cancel = CancellationToken::new();

        let uc = egov_uc::Uc::build(egov_uc::Config {
            http_addr: "127.0.0.1:0".parse().expect("addr"),
            grpc_addr: "127.0.0.1:0".parse().expect("addr"),
            pki_dir: pki.clone(),
            ca_dir: Some(ca.clone()),
            database_url: db.url.clone(),
            ..Default::default()
        })
        .await
        .expect("uc builds");
        let ocsp_url = format!("http://{}/ocsp", uc.http_addr());
        let (uc_http, uc_grpc) = (uc.http_addr(), uc.grpc_addr());
        tokio::spawn(uc.run(cancel.clone()));

        let text = opts
            .registry
            .clone()
            .unwrap_or_else(|| egov_gateway::registry::DEFAULT_REGISTRY.to_string());
        let registry = Registry::new(&topology, &text).expect("a valid registry");
        let reg_file = dir.path().join("registry.toml");
        std::fs::write(&reg_file, &text).expect("registry written");
        let mut pending = Vec::new();
        let mut gateway_addrs = BTreeMap::new();
        let mut gateway_http = BTreeMap::new();
        let gateway_template = egov_gateway::Config {
            gateway_id: String::new(),
            grpc_addr: "127.0.0.1:0".parse().expect("addr"),
            http_addr: "127.0.0.1:0".parse().expect("addr"),
            pki_dir: pki.clone(),
            database_url: db.url.clone(),
            nats_url: nats_url.clone(),
            nats_prefix: prefix.clone(),
            inbox_replicas: opts.inbox_replicas,
            ocsp_url: Some(ocsp_url.clone()),
            crl_url: Some(format!("http://{uc_http}/crl")),
            ocsp_cache_secs: opts.ocsp_cache_secs,
            registry_file: Some(reg_file.clone()),
            topology_dir: opts.topology_dir.clone(),
            ack_wait_secs: opts.ack_wait_secs,
            head_sign_secs: 1,
            ..Default::default()
        };
        for id in &opts.gateways {
            let gw = Gateway::build(egov_gateway::Config {
                gateway_id: id.clone(),
                ..gateway_template.clone()
            })
            .await
            .unwrap_or_else(|e| panic!("gateway {id}: {e}"));
            gateway_addrs.insert(id.clone(), gw.grpc_addr());
            gateway_http.insert(id.clone(), gw.http_addr());
            pending.push(gw);
        }
        let journal = pending
            .first()
            .map(|g| g.journal())
            .expect("at least one gateway");
        let nats = egov_shep_client::nats_auth::connect(&nats_url, None)
            .await
            .expect("NATS");
        World {
            dir,
            pki,
            ca,
            db,
            prefix,
            cancel,
            nats,
            nats_url,
            ocsp_url,
            uc_http,
            uc_grpc,
            registry,
            topology,
            gateway_template,
            gateway_addrs,
            gateway_http,
            journal,
            pending,
            streams: Vec::new(),
            endpoints: Vec::new(),
            gateway_processes: BTreeMap::new(),
        }
    }

    /// The settings the world's gateways were built from, for gateway `id`: port 0, the
    /// world's PKI, database, inboxes, OCSP responder and registry. For a test that runs
    /// another instance of a gateway (a restart) beside the world's.
    pub fn gateway_config(&self, id: &str) -> egov_gateway::Config {
        egov_gateway::Config {
            gateway_id: id.to_string(),
            ..self.gateway_template.clone()
        }
    }

    /// The settings of `system_id` in this world: port 0, the world's PKI, database and
    /// OCSP responder, and the gateway the registry registers it on.
    pub fn system_config(&self, system_id: &str, schema: &str) -> egov_system::Config {
        let mut c = egov_system::Config::new(system_id, schema, 0, 0);
        c.pki_dir = self.pki.clone();
        c.database_url = self.db.url.clone();
        c.ocsp_url = Some(self.ocsp_url.clone());
        c.crl_url = Some(format!("http://{}/crl", self.uc_http));
        c.gateways = vec![self.gateway_of(system_id)];
        c
    }

    /// The gateway `system_id` is registered on.
    pub fn gateway_of(&self, system_id: &str) -> String {
        self.registry
            .system(system_id)
            .map(|s| s.gateway.clone())
            .unwrap_or_else(|| panic!("{system_id} is not in the registry"))
    }

    /// The gRPC address of the gateway `system_id` is registered on.
    pub fn gateway_addr_of(&self, system_id: &str) -> String {
        let g = self.gateway_of(system_id);
        self.gateway_addrs
            .get(&g)
            .unwrap_or_else(|| panic!("gateway {g} does not run in this world"))
            .to_string()
    }

    /// Tells the gateways where `system_id`'s SyncChannel listens (before [`World::start`]).
    pub fn register(&mut self, system_id: &str, addr: SocketAddr) {
        assert!(
            !self.pending.is_empty(),
            "register systems before World::start"
        );
        for g in &mut self.pending {
            g.set_endpoint(system_id, &addr.to_string());
        }
        self.endpoints
            .push((system_id.to_string(), addr.to_string()));
    }

    /// Wires the gateways to each other and runs them.
    pub fn start(&mut self) {
        let addrs: Vec<(String, SocketAddr)> = self
            .gateway_addrs
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for mut g in self.pending.drain(..) {
            for (id, addr) in &addrs {
                if id != g.id() {
                    g.set_endpoint(id, &addr.to_string());
                }
            }
            tokio::spawn(g.run(self.cancel.clone()));
        }
    }

    /// Like [`World::start`], but each gateway is built and run in a runtime of its own
    /// ([`process::Process`]) on the addresses it was given, so that a test can crash it
    /// ([`World::crash_gateway`]) and start it again ([`World::restart_gateway`]).
    pub async fn start_crashable(&mut self) {
        let ids: Vec<String> = self.pending.drain(..).map(|g| g.id().to_string()).collect();
        for id in ids {
            self.restart_gateway(&id).await;
        }
    }

    /// Kills gateway `id` (started by [`World::start_crashable`]) where it stands.
    pub fn crash_gateway(&mut self, id: &str) {
        self.gateway_processes
            .get_mut(id)
            .unwrap_or_else(|| panic!("gateway {id} was not started crashable"))
            .crash();
    }

    /// Builds and runs gateway `id` in a runtime of its own, on its addresses, told where
    /// every other gateway and every registered system listens; waits until it serves.
    /// Retries while its old ports are still being let go.
    pub async fn restart_gateway(&mut self, id: &str) {
        let mut cfg = self.gateway_config(id);
        cfg.grpc_addr = self.gateway_addrs[id];
        cfg.http_addr = self.gateway_http[id];
        let mut peers: Vec<(String, String)> = self
            .gateway_addrs
            .iter()
            .filter(|(g, _)| *g != id)
            .map(|(g, a)| (g.clone(), a.to_string()))
            .collect();
        peers.extend(self.endpoints.iter().cloned());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let process = loop {
            let (cfg, peers, cancel) = (cfg.clone(), peers.clone(), self.cancel.clone());
            let (p, built) = process::Process::start(id, move || async move {
                match Gateway::build(cfg).await {
                    Ok(mut g) => {
                        for (peer, addr) in &peers {
                            g.set_endpoint(peer, addr);
                        }
                        let run: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> =
                            Box::pin(async move {
                                let _ = g.run(cancel).await;
                            });
                        (Ok(()), run)
                    }
                    Err(e) => {
                        let run: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> =
                            Box::pin(async {});
                        (Err(e.to_string()), run)
                    }
                }
            })
            .await;
            match built {
                Ok(()) => break p,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("gateway {id} does not start again: {e}"),
            }
        };
        self.gateway_processes.insert(id.to_string(), process);
        self.serving(id).await;
    }

    /// Waits until every gateway of the world serves (its `/health` answers): a gateway
    /// loads its identity when it starts running, so a test that changes the PKI (revokes,
    /// issues) waits for this first. Panics after ten seconds, naming the gateway.
    pub async fn ready(&self) {
        for id in self.gateway_http.keys() {
            self.serving(id).await;
        }
    }

    /// Waits until gateway `id` serves (its `/health` answers); panics after ten seconds.
    pub async fn serving(&self, id: &str) {
        let http = reqwest::Client::new();
        let addr = self.gateway_http[id];
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let answered = http
                .get(format!("http://{addr}/health"))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok();
            if answered {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "gateway {id} did not start serving"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs a task until the world stops.
    pub fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(fut);
    }

    /// A client of `system` on the gateway it is registered on.
    pub fn client(&self, system: &str) -> Client {
        self.client_with(
            system,
            SystemSigner::load(&self.pki, system).expect("signer"),
        )
    }

    /// A client of `system` signing with another signer (negative tests).
    pub fn client_with(&self, system: &str, signer: SystemSigner) -> Client {
        let gateway = self.gateway_of(system);
        let tls = egov_grpc::TlsIdentity::load(&self.pki, system).expect("TLS identity");
        Client::connect(
            &self.gateway_addr_of(system),
            &gateway,
            &tls,
            Arc::new(signer),
            self.verifier(),
            Duration::from_secs(10),
        )
        .expect("client")
    }

    /// A client of `system` (its signer) straight to the server `server_id` listening at
    /// `addr`, bypassing the gateways: over TLS as `tls_as`, which is `system` itself for a
    /// server that takes any certificate of the PKI, and the gateway's identity for a
    /// system under test, which accepts calls from its gateways only.
    pub fn client_to(
        &self,
        system: &str,
        tls_as: &str,
        server_id: &str,
        addr: SocketAddr,
    ) -> Client {
        let tls = egov_grpc::TlsIdentity::load(&self.pki, tls_as).expect("TLS identity");
        Client::connect(
            &addr.to_string(),
            server_id,
            &tls,
            Arc::new(SystemSigner::load(&self.pki, system).expect("signer")),
            self.verifier(),
            Duration::from_secs(10),
        )
        .expect("client")
    }

    /// Creates a JetStream stream of the test's own (name it under [`World::prefix`]),
    /// deleted with the world as its inbox is.
    pub async fn create_stream(
        &mut self,
        config: async_nats::jetstream::stream::Config,
    ) -> async_nats::jetstream::stream::Stream {
        let name = config.name.clone();
        let stream = self
            .js()
            .get_or_create_stream(config)
            .await
            .unwrap_or_else(|e| panic!("stream {name}: {e}"));
        if !self.streams.contains(&name) {
            self.streams.push(name);
        }
        stream
    }

    /// A verifier of the world's PKI (no OCSP).
    pub fn verifier(&self) -> Arc<Verifier> {
        envelope::pki_verifier(&self.pki, None).expect("verifier")
    }

    /// The inbox names of the world.
    pub fn names(&self) -> InboxNames {
        InboxNames::new(&self.prefix)
    }

    /// JetStream of the world's broker.
    pub fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.nats.clone())
    }

    /// The PKI folder.
    pub fn pki(&self) -> &Path {
        &self.pki
    }

    /// The test PKI as its certification authority holds it (the test acting as the
    /// registration authority: issuing, revoking, enrolling employees).
    pub fn authority(&self) -> PkiDir {
        PkiDir::open(&self.pki, &self.ca).expect("the world's CA")
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.cancel.cancel();
        let mut streams = vec![self.names().stream()];
        streams.append(&mut self.streams);
        let nats_url = self.nats_url.clone();
        // the world's runtime may be gone: clean up on a runtime of our own
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async move {
                    // a connection of this runtime's own: the world's may live on a
                    // runtime that is blocked on this very thread
                    if let Ok(nats) = egov_shep_client::nats_auth::connect(&nats_url, None).await {
                        let js = async_nats::jetstream::new(nats);
                        for stream in streams {
                            let _ = js.delete_stream(stream).await;
                        }
                    }
                });
            }
        })
        .join();
    }
}
