//! The world of ИС ЦОН's tests: the world of ИС МИО's tests (uc, ШЭП and the three РШЭП,
//! ГБД ФЛ and ЕНИС with the named test citizens and powers of attorney, the ИС МИО asked
//! for, on one manual clock) with ИС ЦОН registered on ШЭП; and an operator's session
//! at the workstation.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use egov_grpc::Listening as _;
use serde_json::{Value, json};

use crate::common::{Env, Mio, egov_devenv_nats_url, test_regulations};

/// The running ИС ЦОН.
pub struct Con {
    /// Its HTTP base.
    pub http: String,
    /// What its operations share (database, clock).
    pub core: egov_con_is::Core,
    /// The relay to its gateway, when asked for ([`Options::switch`]).
    pub switch: Option<Switch>,
}

/// A world with the ИС МИО of `systems` and ИС ЦОН, whose workstation signs with the
/// operators' keys it keeps (the development setting).
pub async fn world(systems: &[&str]) -> (Env, Con) {
    world_with(systems, Options::default()).await
}

/// How the world's ИС ЦОН differs from the usual.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Whether its workstation signs for the operators (else they sign on their own
    /// clients).
    pub server_keystore: bool,
    /// Whether it reaches its gateway through a [`Switch`] the test can turn off.
    pub switch: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server_keystore: true,
            switch: false,
        }
    }
}

/// A TCP relay between ИС ЦОН and its gateway that the test can cut (every connection
/// closed, new ones refused) and restore: the gateway out of reach for ИС ЦОН alone.
pub struct Switch {
    /// Where ИС ЦОН connects.
    pub addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: std::sync::Arc<std::sync::Mutex<tokio_util::sync::CancellationToken>>,
}

impl Switch {
    /// A relay to `target`, on.
    pub async fn to(target: String) -> Switch {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cut = std::sync::Arc::new(std::sync::Mutex::new(
            tokio_util::sync::CancellationToken::new(),
        ));
        let (u, c) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let token = c.lock().unwrap().clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = token.cancelled() => {}
                    }
                });
            }
        });
        Switch { addr, up, cut }
    }

    /// Cuts every connection and refuses new ones.
    pub fn off(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut c = self.cut.lock().unwrap();
        c.cancel();
        *c = tokio_util::sync::CancellationToken::new();
    }

    /// Relays again.
    pub fn on(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A world with the ИС МИО of `systems` and ИС ЦОН as `opts` say.
pub async fn world_with(systems: &[&str], opts: Options) -> (Env, Con) {
    let topology = egov_topology::Topology::shipped();
    let gateways: Vec<&str> = topology.gateways.iter().map(|g| g.id.as_str()).collect();
    let mut w = egov_testkit::World::with(egov_testkit::Options::new(&gateways)).await;
    let clock = egov_calendar::Clock::manual();
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let enis = egov_enis::Enis::build(egov_enis::Config {
        system: w.system_config("enis", "enis"),
    })
    .await
    .unwrap();
    egov_seed::seed(&w.db.url, &egov_seed::Options::new(40, 1, clock.today()))
        .await
        .unwrap();
    let registries_http = HashMap::from([
        ("gbd-fl".to_string(), format!("http://{}", gbd.http_addr())),
        ("enis".to_string(), format!("http://{}", enis.http_addr())),
    ]);
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.register("enis", enis.grpc_addr());
    w.spawn(enis.run(w.cancel.clone()));

    let mut built = Vec::new();
    for sys in systems {
        let mut cfg = egov_mio_is::Config::for_system(&w.topology, sys).unwrap();
        let base = w.system_config(sys, &sys.replace('-', "_"));
        cfg.system.pki_dir = base.pki_dir;
        cfg.system.database_url = base.database_url;
        cfg.system.ocsp_url = base.ocsp_url;
        cfg.system.any_ports();
        cfg.nats_url = egov_devenv_nats_url();
        cfg.nats_prefix = w.prefix.clone();
        cfg.regulation_dirs = vec![egov_regulation::shipped_dir(), test_regulations()];
        cfg.sla_interval_secs = 3600;
        cfg.ack_wait_secs = 5;
        cfg.dev_employee_password = Some(crate::common::PASSWORD.into());
        // the driver's signatures: the server-held keys (development)
        cfg.dev_server_keystore = true;
        cfg.keystore_key_file = w.dir.path().join(format!("{sys}-keystore.key"));
        let mut m = egov_mio_is::MioIs::build(cfg, clock.clone()).await.unwrap();
        m.seed_employees(&w.authority()).await.unwrap();
        w.register(sys, m.grpc_addr());
        built.push(m);
    }
    // ИС ЦОН, as the topology has it, on port 0
    let mut cfg = egov_con_is::Config::of(&w.topology);
    let base = w.system_config("con-is", egov_con_is::SCHEMA);
    cfg.system.pki_dir = base.pki_dir;
    cfg.system.database_url = base.database_url;
    cfg.system.ocsp_url = base.ocsp_url;
    cfg.system.any_ports();
    cfg.nats_url = egov_devenv_nats_url();
    cfg.nats_prefix = w.prefix.clone();
    cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
    cfg.sla_interval_secs = 3600;
    cfg.ack_wait_secs = 5;
    cfg.dev_operator_password = Some(egov_con_is::DEV_OPERATOR_PASSWORD.into());
    cfg.keystore_key_file = w.dir.path().join("con-is-keystore.key");
    cfg.dev_server_keystore = opts.server_keystore;
    let mut con = egov_con_is::ConIs::build_with(cfg, clock.clone())
        .await
        .unwrap();
    // the world issues the operators' certificates as the registration authority
    con.set_issuer(std::sync::Arc::new(w.authority()));
    w.register("con-is", con.grpc_addr());
    w.start();
    w.ready().await;
    let mut mio = HashMap::new();
    for mut m in built {
        let system = m.system_id().to_string();
        m.set_gateway(&w.gateway_addr_of(&system));
        let region = w
            .topology
            .system(&system)
            .and_then(|s| s.region.clone())
            .unwrap();
        let entry = Mio {
            system: system.clone(),
            region,
            http: format!("http://{}", m.http_addr()),
            engine: m.engine(),
        };
        w.spawn(m.run(w.cancel.clone()));
        mio.insert(system, entry);
    }
    let switch = if opts.switch {
        let s = Switch::to(w.gateway_addr_of("con-is")).await;
        con.set_gateway(&s.addr.to_string());
        Some(s)
    } else {
        con.set_gateway(&w.gateway_addr_of("con-is"));
        None
    };
    let c = Con {
        http: format!("http://{}", con.http_addr()),
        core: con.core(),
        switch,
    };
    w.spawn(con.run(w.cancel.clone()));
    let env = Env {
        w,
        clock,
        mio,
        http: reqwest::Client::new(),
        registries_http,
    };
    // the workstation answers once it runs
    for _ in 0..200 {
        if env
            .http
            .get(format!("{}/health", c.http))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (env, c)
}

/// The IIN of the `k`-th operator of `role` at `centre`.
pub fn operator(centre: &str, role: egov_con_is::operators::Role, k: u32) -> String {
    egov_con_is::operators::operator_iin(centre, role, k).as_string()
}

/// An operator's session.
pub struct Desk {
    pub base: String,
    pub token: String,
    pub iin: String,
    pub http: reqwest::Client,
    /// `Accept-Language` sent.
    pub lang: &'static str,
}

impl Desk {
    /// Logs in the inspector `k` of `centre`.
    pub async fn inspector(con: &Con, centre: &str) -> Desk {
        Desk::login(
            con,
            &operator(centre, egov_con_is::operators::Role::Inspector, 0),
        )
        .await
    }

    pub async fn login(con: &Con, iin: &str) -> Desk {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/api/v1/login", con.http))
            .json(&json!({"iin": iin, "password": egov_con_is::DEV_OPERATOR_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {iin}: {}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        Desk {
            base: con.http.clone(),
            token: v["token"].as_str().unwrap().to_string(),
            iin: iin.into(),
            http,
            lang: "ru",
        }
    }

    pub fn kazakh(mut self) -> Desk {
        self.lang = "kk";
        self
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept-language", self.lang)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Polls the application until `pred` holds (20 s at most).
    pub async fn until(&self, number: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (s, v) = self.get(&format!("/api/v1/applications/{number}")).await;
            assert_eq!(s, 200, "{v}");
            if pred(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{number}: no {what}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub use egov_testkit::stack::submission;

/// A regulation of the shipped folder.
pub fn regulation(id: &str) -> egov_regulation::Regulation {
    egov_regulation::load_dir(&egov_regulation::shipped_dir())
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
}

/// How many rows `table` of ИС ЦОН holds.
pub async fn rows(con: &Con, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(&con.core.pool)
        .await
        .unwrap()
}
