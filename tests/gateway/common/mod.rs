//! The world of the gateway tests, on the test kit: a fresh test PKI, database and NATS prefix; the
//! certification authority (uc) answering OCSP; the central ШЭП and РШЭП Алматы; and
//! echo recipients standing in for ГБД ФЛ and ИС МИО Алматы.

#![allow(dead_code)]

use egov_grpc::Listening as _;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use egov_shep_client::Client;
use egov_shep_client::envelope::{self, SystemSigner};

/// The gateway tests' world: the test kit's (PKI, database, inboxes, uc, ШЭП and РШЭП
/// Алматы, all dropped with it) and the echo recipients registered on it.
pub struct World {
    /// The shared test world (its fields and methods are this world's too).
    pub kit: egov_testkit::World,
    pub shep: String,
    pub rshep: String,
    pub shep_http: String,
    pub gbd_calls: Arc<AtomicUsize>,
    pub mio_calls: Arc<AtomicUsize>,
    /// The configuration every gateway of this world was built from.
    pub config: egov_gateway::Config,
    /// Where the echo recipients listen: gbd-fl, mio-almaty.
    pub echoes: Vec<(String, String)>,
}

impl std::ops::Deref for World {
    type Target = egov_testkit::World;

    fn deref(&self) -> &egov_testkit::World {
        &self.kit
    }
}

pub use egov_testkit::echo::{spawn_echo, spawn_echo_signing_as};

/// The test registry: the shipped one with a short deadline for one service.
fn registry() -> String {
    let text = egov_gateway::registry::DEFAULT_REGISTRY.replace(
        "id = \"gbd-fl.person.get\"\nprovider = \"gbd-fl\"\ndeadline_ms = 5000",
        "id = \"gbd-fl.person.get\"\nprovider = \"gbd-fl\"\ndeadline_ms = 700",
    );
    assert!(text.contains("deadline_ms = 700"));
    text
}

pub async fn world() -> World {
    world_with(true).await
}

/// `gbd_up`: whether ГБД ФЛ's echo runs (false: its endpoint refuses connections).
pub async fn world_with(gbd_up: bool) -> World {
    let mut opts = egov_testkit::Options::new(&["shep", "rshep-almaty"]);
    opts.registry = Some(registry());
    opts.ack_wait_secs = 2;
    let mut kit = egov_testkit::World::with(opts).await;
    let gbd_calls = Arc::new(AtomicUsize::new(0));
    let mio_calls = Arc::new(AtomicUsize::new(0));
    let gbd = if gbd_up {
        spawn_echo(&kit.pki, "gbd-fl", gbd_calls.clone(), kit.cancel.clone()).await
    } else {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string() // closed when dropped
    };
    let mio = spawn_echo(
        &kit.pki,
        "mio-almaty",
        mio_calls.clone(),
        kit.cancel.clone(),
    )
    .await;
    kit.register("gbd-fl", gbd.parse().unwrap());
    kit.register("mio-almaty", mio.parse().unwrap());
    kit.start();
    kit.ready().await;
    World {
        shep: kit.gateway_addrs["shep"].to_string(),
        rshep: kit.gateway_addrs["rshep-almaty"].to_string(),
        shep_http: format!("http://{}", kit.gateway_http["shep"]),
        config: kit.gateway_config("shep"),
        kit,
        gbd_calls,
        mio_calls,
        echoes: vec![("gbd-fl".into(), gbd), ("mio-almaty".into(), mio)],
    }
}

impl World {
    /// A client of `system` on the gateway `gateway_addr` (`gateway_id`).
    pub fn client_on(&self, system: &str, gateway_id: &str, gateway_addr: &str) -> Client {
        self.client_with_signer(
            system,
            gateway_id,
            gateway_addr,
            SystemSigner::load(&self.pki, system).unwrap(),
        )
    }

    pub fn client_with_signer(
        &self,
        system: &str,
        gateway_id: &str,
        gateway_addr: &str,
        signer: SystemSigner,
    ) -> Client {
        let tls = egov_grpc::TlsIdentity::load(&self.pki, system).unwrap();
        Client::connect(
            gateway_addr,
            gateway_id,
            &tls,
            Arc::new(signer),
            envelope::pki_verifier(&self.pki, None).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap()
    }

    /// Another instance of gateway `id` on this world's database and inboxes (a restart),
    /// with its neighbours' endpoints; it stops with the world.
    pub async fn start_gateway(&self, id: &str) -> String {
        self.start_gateway_with(id, &[]).await
    }

    /// The same, with some endpoints of its own (`(system, address)`).
    pub async fn start_gateway_with(&self, id: &str, endpoints: &[(&str, &str)]) -> String {
        let mut g = egov_gateway::Gateway::build(egov_gateway::Config {
            gateway_id: id.into(),
            ..self.config.clone()
        })
        .await
        .unwrap();
        g.set_endpoint("shep", &self.shep);
        g.set_endpoint("rshep-almaty", &self.rshep);
        for (system, addr) in self
            .echoes
            .iter()
            .map(|(s, a)| (s.as_str(), a.as_str()))
            .chain(endpoints.iter().copied())
        {
            g.set_endpoint(system, addr);
        }
        let addr = g.grpc_addr().to_string();
        tokio::spawn(g.run(self.cancel.clone()));
        addr
    }

    pub fn portal(&self) -> Client {
        self.client_on("portal", "shep", &self.shep)
    }

    pub fn mio(&self) -> Client {
        self.client_on("mio-almaty", "rshep-almaty", &self.rshep)
    }

    /// Journal rows of a message id, oldest first.
    pub async fn rows(&self, message_id: &str) -> Vec<egov_gateway::journal::StoredRecord> {
        // the journal commits before the gateway answers; a short retry covers the
        // response row written just after the answer leaves
        for _ in 0..50 {
            let mut v = self
                .journal
                .search(&egov_gateway::journal::Filter {
                    message_id: Some(message_id.into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            if v.iter()
                .any(|r| r.record.event != egov_gateway::journal::Event::RequestIn)
            {
                v.reverse();
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no final journal row for {message_id}");
    }
}
