//! The information systems on top of a [`World`]: ГБД ФЛ and ЕНИС with seeded registries,
//! the ИС МИО asked for, ИС ЦОН and ПЭП, each a real server on loopback ports, registered
//! on the gateways, all on one clock. What the end-to-end tests and the benchmarks of the
//! channels start from.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use egov_calendar::Clock;
use egov_grpc::Listening as _;
use tokio_util::sync::CancellationToken;

use crate::process::Process;
use crate::{Options, World};

/// What to start.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The world's options (gateways, key algorithm, ...).
    pub world: Options,
    /// The ИС МИО systems (`mio-almaty`, ...).
    pub mio: Vec<String>,
    /// Whether ИС ЦОН runs.
    pub con: bool,
    /// Whether ПЭП (the portal) runs.
    pub portal: bool,
    /// Synthetic residents seeded into ГБД ФЛ and ЕНИС besides the named test citizens.
    pub seed_persons: u64,
    /// The regulation folders ИС МИО runs (ИС ЦОН runs the shipped ones).
    pub regulation_dirs: Vec<PathBuf>,
    /// The one password of every seeded АРМ account.
    pub employee_password: String,
    /// The clock of every system (manual for tests that move time).
    pub clock: Clock,
    /// Each gateway, each ИС МИО, ИС ЦОН and the portal in a runtime of its own, so that
    /// the test can crash it and start it again ([`Stack::crash`],
    /// [`World::crash_gateway`]).
    pub crashable: bool,
}

impl StackOptions {
    /// Every gateway of the shipped topology, the given ИС МИО, ИС ЦОН (not the portal),
    /// 40 residents, the shipped regulations, a manual clock.
    pub fn new(mio: &[&str]) -> Self {
        let topology = egov_topology::Topology::shipped();
        let gateways: Vec<&str> = topology.gateways.iter().map(|g| g.id.as_str()).collect();
        StackOptions {
            world: Options::new(&gateways),
            mio: mio.iter().map(|s| s.to_string()).collect(),
            con: true,
            portal: false,
            seed_persons: 40,
            regulation_dirs: vec![egov_regulation::shipped_dir()],
            employee_password: "egov-test".into(),
            clock: Clock::manual(),
            crashable: false,
        }
    }
}

/// One running ИС МИО.
#[derive(Clone)]
pub struct Mio {
    /// Its system id.
    pub system: String,
    /// Its region (the routeId of its applications).
    pub region: String,
    /// Its АРМ's base URL.
    pub http: String,
    /// Its engine (database, catalogue, clock).
    pub engine: egov_mio_is::engine::Engine,
}

/// The running ИС ЦОН.
#[derive(Clone)]
pub struct Con {
    /// Its workstation's base URL.
    pub http: String,
    /// What its operations share (database, clock). Of a crashable stack, its pool lives
    /// in the service's runtime and dies with it: a test that crashes ИС ЦОН opens its
    /// own pool on [`egov_con_is::SCHEMA`].
    pub core: egov_con_is::Core,
}

/// The running portal.
#[derive(Clone)]
pub struct Portal {
    /// Its API's base URL.
    pub http: String,
    /// What its operations share (database, clock, catalogue). Of a crashable stack, its
    /// pool lives in the service's runtime and dies with it (as [`Con::core`]'s).
    pub core: egov_portal::Core,
}

/// ИС ЦОН or the portal before the gateways run: built here and run once they do, or
/// (crashable) already running in a runtime of its own.
enum Started<B, R> {
    Built(B),
    Running(R),
}

/// How a crashable service is started again: its settings, on its first addresses.
enum Restart {
    Mio(Box<egov_mio_is::Config>),
    Con(Box<egov_con_is::Config>),
    Portal(Box<egov_portal::Config>),
}

/// The running systems.
pub struct Stack {
    /// The world under them (PKI, database, NATS, uc, gateways).
    pub w: World,
    /// Their clock.
    pub clock: Clock,
    /// Each ИС МИО by system id.
    pub mio: BTreeMap<String, Mio>,
    /// ИС ЦОН, if asked for.
    pub con: Option<Con>,
    /// ПЭП, if asked for.
    pub portal: Option<Portal>,
    /// The registries' HTTP bases (health, metrics) by system id.
    pub registries_http: BTreeMap<String, String>,
    /// The crashable services by system id: each one's runtime and how to start it again.
    processes: BTreeMap<String, (Process, Restart)>,
}

impl Stack {
    /// Starts everything `opts` names and waits until the workstations answer.
    pub async fn start(opts: StackOptions) -> Stack {
        let mut w = World::with(opts.world.clone()).await;
        let clock = opts.clock.clone();
        let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
            system: w.system_config("gbd-fl", "gbd_fl"),
            policy_file: None,
            ..Default::default()
        })
        .await
        .expect("ГБД ФЛ builds");
        let enis = egov_enis::Enis::build(egov_enis::Config {
            system: w.system_config("enis", "enis"),
        })
        .await
        .expect("ЕНИС builds");
        egov_seed::seed(
            &w.db.url,
            &egov_seed::Options::new(opts.seed_persons, 1, clock.today()),
        )
        .await
        .expect("the registries are seeded");
        let registries_http = BTreeMap::from([
            ("gbd-fl".to_string(), format!("http://{}", gbd.http_addr())),
            ("enis".to_string(), format!("http://{}", enis.http_addr())),
        ]);
        w.register("gbd-fl", gbd.grpc_addr());
        w.spawn(gbd.run(w.cancel.clone()));
        w.register("enis", enis.grpc_addr());
        w.spawn(enis.run(w.cancel.clone()));

        let mut built = Vec::new();
        let mut processes = BTreeMap::new();
        let mut crashable = Vec::new();
        for sys in &opts.mio {
            let mut cfg = egov_mio_is::Config::for_system(&w.topology, sys)
                .unwrap_or_else(|| panic!("{sys} is not an ИС МИО of the topology"));
            let base = w.system_config(sys, &sys.replace('-', "_"));
            cfg.system.pki_dir = base.pki_dir;
            cfg.system.database_url = base.database_url;
            cfg.system.ocsp_url = base.ocsp_url;
            cfg.system.any_ports();
            cfg.nats_url = w.nats_url.clone();
            cfg.nats_prefix = w.prefix.clone();
            cfg.regulation_dirs = opts.regulation_dirs.clone();
            cfg.sla_interval_secs = 3600;
            cfg.ack_wait_secs = 5;
            cfg.dev_employee_password = Some(opts.employee_password.clone());
            // the driver's signatures: the server-held keys (development)
            cfg.dev_server_keystore = true;
            cfg.keystore_key_file = w.dir.path().join(format!("{sys}-keystore.key"));
            if opts.crashable {
                let (gateway, cancel) = (w.gateway_addr_of(sys), w.cancel.clone());
                let region = region_of(&w, sys);
                let (process, running) = start_mio(
                    cfg.clone(),
                    clock.clone(),
                    gateway,
                    cancel,
                    Some(w.authority()),
                    region,
                )
                .await
                .expect("ИС МИО builds");
                cfg.system.grpc_addr = running.grpc;
                cfg.system.http_addr = running.http;
                w.register(sys, running.grpc);
                processes.insert(sys.clone(), (process, Restart::Mio(Box::new(cfg))));
                crashable.push(running);
                continue;
            }
            let mut m = egov_mio_is::MioIs::build(cfg, clock.clone())
                .await
                .expect("ИС МИО builds");
            m.seed_employees(&w.authority())
                .await
                .expect("the employees are enrolled");
            w.register(sys, m.grpc_addr());
            built.push(m);
        }
        let con = if opts.con {
            let mut cfg = egov_con_is::Config::of(&w.topology);
            let base = w.system_config("con-is", egov_con_is::SCHEMA);
            cfg.system.pki_dir = base.pki_dir;
            cfg.system.database_url = base.database_url;
            cfg.system.ocsp_url = base.ocsp_url;
            cfg.system.any_ports();
            cfg.nats_url = w.nats_url.clone();
            cfg.nats_prefix = w.prefix.clone();
            cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
            cfg.sla_interval_secs = 3600;
            cfg.ack_wait_secs = 5;
            cfg.dev_operator_password = Some(egov_con_is::DEV_OPERATOR_PASSWORD.into());
            // the desk signs with the operators' keys it keeps sealed (development)
            cfg.dev_server_keystore = true;
            cfg.keystore_key_file = w.dir.path().join("con-is-keystore.key");
            if opts.crashable {
                let (process, con, grpc, http) = start_con(
                    cfg.clone(),
                    clock.clone(),
                    w.gateway_addr_of("con-is"),
                    w.cancel.clone(),
                    w.authority(),
                )
                .await
                .expect("ИС ЦОН builds");
                cfg.system.grpc_addr = grpc;
                cfg.system.http_addr = http;
                w.register("con-is", grpc);
                processes.insert("con-is".into(), (process, Restart::Con(Box::new(cfg))));
                Some(Started::Running(con))
            } else {
                let con = egov_con_is::ConIs::build_with(cfg, clock.clone())
                    .await
                    .expect("ИС ЦОН builds");
                // the world issues the operators' certificates as the registration authority
                con.set_issuer(Arc::new(w.authority()));
                w.register("con-is", con.grpc_addr());
                Some(Started::Built(con))
            }
        } else {
            None
        };
        let portal = if opts.portal {
            let mut cfg = egov_portal::Config::of(&w.topology);
            let base = w.system_config("portal", egov_portal::SCHEMA);
            cfg.system.pki_dir = base.pki_dir;
            cfg.system.database_url = base.database_url;
            cfg.system.ocsp_url = base.ocsp_url;
            cfg.system.any_ports();
            cfg.nats_url = w.nats_url.clone();
            cfg.nats_prefix = w.prefix.clone();
            cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
            cfg.ack_wait_secs = 5;
            if opts.crashable {
                let (process, portal, grpc, http) = start_portal(
                    cfg.clone(),
                    clock.clone(),
                    w.gateway_addr_of("portal"),
                    w.cancel.clone(),
                )
                .await
                .expect("ПЭП builds");
                cfg.system.grpc_addr = grpc;
                cfg.system.http_addr = http;
                w.register("portal", grpc);
                processes.insert("portal".into(), (process, Restart::Portal(Box::new(cfg))));
                Some(Started::Running(portal))
            } else {
                let portal = egov_portal::Portal::build_with(cfg, clock.clone())
                    .await
                    .expect("ПЭП builds");
                w.register("portal", portal.grpc_addr());
                Some(Started::Built(portal))
            }
        } else {
            None
        };
        if opts.crashable {
            w.start_crashable().await;
        } else {
            w.start();
        }
        w.ready().await;
        let mut mio = BTreeMap::new();
        let mut workstations = Vec::new();
        for running in crashable {
            workstations.push(running.entry.http.clone());
            mio.insert(running.entry.system.clone(), running.entry);
        }
        for mut m in built {
            let system = m.system_id().to_string();
            m.set_gateway(&w.gateway_addr_of(&system));
            let region = w
                .topology
                .system(&system)
                .and_then(|s| s.region.clone())
                .expect("an ИС МИО has a region");
            let entry = Mio {
                system: system.clone(),
                region,
                http: format!("http://{}", m.http_addr()),
                engine: m.engine(),
            };
            workstations.push(entry.http.clone());
            w.spawn(m.run(w.cancel.clone()));
            mio.insert(system, entry);
        }
        let con = con.map(|con| {
            let c = match con {
                Started::Built(mut con) => {
                    con.set_gateway(&w.gateway_addr_of("con-is"));
                    let c = Con {
                        http: format!("http://{}", con.http_addr()),
                        core: con.core(),
                    };
                    w.spawn(con.run(w.cancel.clone()));
                    c
                }
                Started::Running(running) => running,
            };
            workstations.push(c.http.clone());
            c
        });
        let portal = portal.map(|portal| {
            let p = match portal {
                Started::Built(mut portal) => {
                    portal.set_gateway(&w.gateway_addr_of("portal"));
                    let p = Portal {
                        http: format!("http://{}", portal.http_addr()),
                        core: portal.core(),
                    };
                    w.spawn(portal.run(w.cancel.clone()));
                    p
                }
                Started::Running(running) => running,
            };
            workstations.push(p.http.clone());
            p
        });
        // the workstations answer once they run
        for base in &workstations {
            answers(base, Duration::from_secs(5)).await;
        }
        Stack {
            w,
            clock,
            mio,
            con,
            portal,
            registries_http,
            processes,
        }
    }

    /// Kills `system` (an ИС МИО, `con-is` or `portal` of a crashable stack) where it
    /// stands.
    pub fn crash(&mut self, system: &str) {
        self.processes
            .get_mut(system)
            .unwrap_or_else(|| panic!("{system} was not started crashable"))
            .0
            .crash();
    }

    /// Starts `system` again (after [`Stack::crash`]), on its addresses and database;
    /// retries while its old ports are still being let go. Its entry in the stack
    /// ([`Stack::mio`], [`Stack::con`], [`Stack::portal`]) is the new instance's.
    pub async fn restart(&mut self, system: &str) {
        let gateway = self.w.gateway_addr_of(system);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (clock, cancel) = (self.clock.clone(), self.w.cancel.clone());
            let started = match &self.processes[system].1 {
                Restart::Mio(cfg) => {
                    let region = region_of(&self.w, system);
                    start_mio(
                        (**cfg).clone(),
                        clock,
                        gateway.clone(),
                        cancel,
                        None,
                        region,
                    )
                    .await
                    .map(|(p, running)| {
                        let http = running.entry.http.clone();
                        self.mio.insert(system.to_string(), running.entry);
                        (p, http)
                    })
                }
                Restart::Con(cfg) => {
                    let issuer = self.w.authority();
                    start_con((**cfg).clone(), clock, gateway.clone(), cancel, issuer)
                        .await
                        .map(|(p, con, ..)| {
                            let http = con.http.clone();
                            self.con = Some(con);
                            (p, http)
                        })
                }
                Restart::Portal(cfg) => {
                    start_portal((**cfg).clone(), clock, gateway.clone(), cancel)
                        .await
                        .map(|(p, portal, ..)| {
                            let http = portal.http.clone();
                            self.portal = Some(portal);
                            (p, http)
                        })
                }
            };
            match started {
                Ok((process, http)) => {
                    self.processes.get_mut(system).expect("crashable").0 = process;
                    answers(&http, Duration::from_secs(10)).await;
                    return;
                }
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{system} does not start again: {e}"),
            }
        }
    }
}

/// Waits, at most `within`, until the server at `base` answers `/health`.
async fn answers(base: &str, within: Duration) {
    let http = reqwest::Client::new();
    for _ in 0..within.as_millis() / 25 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The region of ИС МИО `system` (the routeId of its applications).
fn region_of(w: &World, system: &str) -> String {
    w.topology
        .system(system)
        .and_then(|s| s.region.clone())
        .expect("an ИС МИО has a region")
}

/// An ИС МИО started in a runtime of its own.
struct Running {
    entry: Mio,
    grpc: SocketAddr,
    http: SocketAddr,
}

/// The future that runs a service.
type Run = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a service's build gives the test: its gRPC and HTTP addresses and what the test
/// keeps of it, with the future that runs it.
type Built<T> = Result<(SocketAddr, SocketAddr, T, Run), String>;

/// Builds a service with `build` in a runtime of its own ([`Process`]) and runs it
/// there; its addresses and what the test keeps of it.
async fn start_process<T, B, K>(
    name: &str,
    build: B,
) -> Result<(Process, SocketAddr, SocketAddr, T), String>
where
    B: FnOnce() -> K + Send + 'static,
    K: Future<Output = Built<T>> + Send + 'static,
    T: Send + 'static,
{
    let (process, built) = Process::start(name, move || async move {
        match build().await {
            Ok((grpc, http, kept, run)) => (Ok((grpc, http, kept)), run),
            Err(e) => (Err(e), Box::pin(async {}) as Run),
        }
    })
    .await;
    let (grpc, http, kept) = built?;
    Ok((process, grpc, http, kept))
}

/// Builds ИС МИО on `cfg` in a runtime of its own (its employees enrolled by `issuer`
/// when given) and runs it there against the gateway at `gateway`.
async fn start_mio(
    cfg: egov_mio_is::Config,
    clock: Clock,
    gateway: String,
    cancel: CancellationToken,
    issuer: Option<egov_pki::PkiDir>,
    region: String,
) -> Result<(Process, Running), String> {
    let system = cfg.system.system_id.clone();
    let (process, grpc, http, engine) = start_process(&system, move || async move {
        let mut m = egov_mio_is::MioIs::build(cfg, clock)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(issuer) = issuer {
            m.seed_employees(&issuer).await.map_err(|e| e.to_string())?;
        }
        m.set_gateway(&gateway);
        let (grpc, http, engine) = (m.grpc_addr(), m.http_addr(), m.engine());
        let run: Run = Box::pin(async move {
            let _ = m.run(cancel).await;
        });
        Ok((grpc, http, engine, run))
    })
    .await?;
    Ok((
        process,
        Running {
            entry: Mio {
                system: system.clone(),
                region,
                http: format!("http://{http}"),
                engine,
            },
            grpc,
            http,
        },
    ))
}

/// Builds ИС ЦОН on `cfg` in a runtime of its own (the operators' certificates issued by
/// `issuer`) and runs it there against the gateway at `gateway`.
async fn start_con(
    cfg: egov_con_is::Config,
    clock: Clock,
    gateway: String,
    cancel: CancellationToken,
    issuer: egov_pki::PkiDir,
) -> Result<(Process, Con, SocketAddr, SocketAddr), String> {
    let (process, grpc, http, core) = start_process("con-is", move || async move {
        let mut con = egov_con_is::ConIs::build_with(cfg, clock)
            .await
            .map_err(|e| e.to_string())?;
        con.set_issuer(Arc::new(issuer));
        con.set_gateway(&gateway);
        let (grpc, http, core) = (con.grpc_addr(), con.http_addr(), con.core());
        let run: Run = Box::pin(async move {
            let _ = con.run(cancel).await;
        });
        Ok((grpc, http, core, run))
    })
    .await?;
    let con = Con {
        http: format!("http://{http}"),
        core,
    };
    Ok((process, con, grpc, http))
}

/// Builds the portal on `cfg` in a runtime of its own and runs it there against the
/// gateway at `gateway`.
async fn start_portal(
    cfg: egov_portal::Config,
    clock: Clock,
    gateway: String,
    cancel: CancellationToken,
) -> Result<(Process, Portal, SocketAddr, SocketAddr), String> {
    let (process, grpc, http, core) = start_process("portal", move || async move {
        let mut portal = egov_portal::Portal::build_with(cfg, clock)
            .await
            .map_err(|e| e.to_string())?;
        portal.set_gateway(&gateway);
        let (grpc, http, core) = (portal.grpc_addr(), portal.http_addr(), portal.core());
        let run: Run = Box::pin(async move {
            let _ = portal.run(cancel).await;
        });
        Ok((grpc, http, core, run))
    })
    .await?;
    let portal = Portal {
        http: format!("http://{http}"),
        core,
    };
    Ok((process, portal, grpc, http))
}

/// The documents of `category` every required one present: paper original and scan.
pub fn documents(reg: &egov_regulation::Regulation, category: &str) -> serde_json::Value {
    egov_scenario::fill::documents(reg, category, &[])
}

/// The form fields of `reg` (those that are neither the applicant's nor the category).
pub fn form(reg: &egov_regulation::Regulation) -> serde_json::Value {
    egov_scenario::fill::form(reg)
}

/// A complete submission for `reg` and its first category.
pub fn submission(reg: &egov_regulation::Regulation) -> serde_json::Value {
    use serde_json::json;
    let category = reg.categories[0].id.clone();
    json!({
        "category": category,
        "phone": "+7 701 123 45 67",
        "email": "applicant@example.kz",
        "form": form(reg),
        "documents": documents(reg, &category),
    })
}
