//! A small world for gateway tests: a fresh test PKI, database and NATS prefix; the
//! certification authority (uc) answering OCSP; the central ШЭП and РШЭП Алматы; and
//! echo recipients standing in for ГБД ФЛ and ИС МИО Алматы.

#![allow(dead_code)]

use egov_grpc::Listening as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use egov_gateway::journal::Journal;
use egov_pki::PkiDir;
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use egov_proto::shep::v1::sync_channel_server::{SyncChannel, SyncChannelServer};
use egov_proto::shep::v1::{SyncSendMessageRequest, SyncSendMessageResponse};
use egov_shep_client::envelope::{self, SystemSigner, codes};
use egov_shep_client::{Client, inbox::InboxNames};
use tokio_util::sync::CancellationToken;

pub struct World {
    pub dir: tempfile::TempDir,
    pub pki: PathBuf,
    pub db: egov_devenv::TestDatabase,
    pub prefix: String,
    pub shep: String,
    pub rshep: String,
    pub shep_http: String,
    pub journal: Journal,
    pub gbd_calls: Arc<AtomicUsize>,
    pub mio_calls: Arc<AtomicUsize>,
    pub cancel: CancellationToken,
    pub nats: async_nats::Client,
    /// The configuration every gateway of this world was built from.
    pub config: egov_gateway::Config,
    /// Where the echo recipients listen: gbd-fl, mio-almaty.
    pub echoes: Vec<(String, String)>,
}

impl Drop for World {
    fn drop(&mut self) {
        self.cancel.cancel();
        // remove this test's inbox stream from the shared broker
        let stream = self.names().stream();
        let nats = self.nats.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async move {
                    let _ = async_nats::jetstream::new(nats).delete_stream(stream).await;
                });
            }
        })
        .join();
    }
}

/// An echo recipient: verifies the request, answers with its payload, signed.
pub struct Echo {
    pub signer: SystemSigner,
    pub verifier: Arc<egov_pki::Verifier>,
    pub calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl SyncChannel for Echo {
    async fn send_message(
        &self,
        request: tonic::Request<SyncSendMessageRequest>,
    ) -> Result<tonic::Response<SyncSendMessageResponse>, tonic::Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let env = request.into_inner().envelope.unwrap_or_default();
        let opened = envelope::open_request(&env, &self.verifier)
            .await
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let text = String::from_utf8_lossy(&opened.payload).to_string();
        if let Some(ms) = text.strip_prefix("sleep:") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        }
        let mut info =
            self.signer
                .response_info(&opened.header, codes::SUCCESS, "processed successfully");
        if text == "answer-another" {
            // an answer signed by the right recipient, but to another request
            info.correlation_id = uuid::Uuid::new_v4().to_string();
        }
        let mut out = self
            .signer
            .seal_response(&info, opened.payload.clone())
            .unwrap();
        if text == "tamper-answer" {
            out.payload = b"changed on the way".to_vec();
        }
        Ok(tonic::Response::new(SyncSendMessageResponse {
            envelope: Some(out),
        }))
    }
}

async fn spawn_echo(
    pki: &Path,
    id: &str,
    calls: Arc<AtomicUsize>,
    cancel: CancellationToken,
) -> String {
    spawn_echo_signing_as(pki, id, id, calls, cancel).await
}

/// An echo that holds `tls_id`'s transport identity but signs its answers as `signer_id`
/// (a compromised or misrouted recipient).
pub async fn spawn_echo_signing_as(
    pki: &Path,
    tls_id: &str,
    signer_id: &str,
    calls: Arc<AtomicUsize>,
    cancel: CancellationToken,
) -> String {
    let tls = egov_grpc::TlsIdentity::load(pki, tls_id).unwrap();
    let echo = Echo {
        signer: SystemSigner::load(pki, signer_id).unwrap(),
        verifier: envelope::pki_verifier(pki, None).unwrap(),
        calls,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls.server_tls())
            .unwrap()
            .add_service(SyncChannelServer::new(echo))
            .serve_with_incoming_shutdown(egov_grpc::incoming(listener), async move {
                cancel.cancelled().await
            }),
    );
    addr
}

/// The test registry: the shipped one with a short deadline for one service.
fn registry(dir: &Path) -> PathBuf {
    let text = egov_gateway::registry::DEFAULT_REGISTRY.replace(
        "id = \"gbd-fl.person.get\"\nprovider = \"gbd-fl\"\ndeadline_ms = 5000",
        "id = \"gbd-fl.person.get\"\nprovider = \"gbd-fl\"\ndeadline_ms = 700",
    );
    assert!(text.contains("deadline_ms = 700"));
    let p = dir.join("registry.toml");
    std::fs::write(&p, text).unwrap();
    p
}

pub async fn world() -> World {
    world_with(true).await
}

/// `gbd_up`: whether ГБД ФЛ's echo runs (false: its endpoint refuses connections).
pub async fn world_with(gbd_up: bool) -> World {
    egov_grpc::install_crypto_provider();
    egov_telemetry::init_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    PkiDir::init(
        &pki,
        &InitOptions {
            algorithm: KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "gw")
        .await
        .unwrap();
    let prefix = egov_devenv::unique_prefix("gw");
    let cancel = CancellationToken::new();

    // the certification authority, for OCSP
    let uc = egov_uc::Uc::build(egov_uc::Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        pki_dir: pki.clone(),
        database_url: db.url.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ocsp = format!("http://{}/ocsp", uc.http_addr());
    tokio::spawn(uc.run(cancel.clone()));

    let gbd_calls = Arc::new(AtomicUsize::new(0));
    let mio_calls = Arc::new(AtomicUsize::new(0));
    let gbd = if gbd_up {
        spawn_echo(&pki, "gbd-fl", gbd_calls.clone(), cancel.clone()).await
    } else {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string() // closed when dropped
    };
    let mio = spawn_echo(&pki, "mio-almaty", mio_calls.clone(), cancel.clone()).await;
    let gbd = gbd.clone();

    let reg = registry(dir.path());
    let cfg = |id: &str| egov_gateway::Config {
        gateway_id: id.into(),
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        pki_dir: pki.clone(),
        database_url: db.url.clone(),
        nats_url: egov_devenv::default_nats_url(),
        nats_prefix: prefix.clone(),
        ocsp_url: Some(ocsp.clone()),
        registry_file: Some(reg.clone()),
        ack_wait_secs: 2,
        ..Default::default()
    };
    let config = cfg("shep");
    let mut shep = egov_gateway::Gateway::build(cfg("shep")).await.unwrap();
    let mut rshep = egov_gateway::Gateway::build(cfg("rshep-almaty"))
        .await
        .unwrap();
    let shep_addr = shep.grpc_addr().to_string();
    let rshep_addr = rshep.grpc_addr().to_string();
    let shep_http = format!("http://{}", shep.http_addr());
    shep.set_endpoint("rshep-almaty", &rshep_addr);
    shep.set_endpoint("gbd-fl", &gbd);
    rshep.set_endpoint("shep", &shep_addr);
    rshep.set_endpoint("mio-almaty", &mio);
    let journal = shep.journal();
    tokio::spawn(shep.run(cancel.clone()));
    tokio::spawn(rshep.run(cancel.clone()));
    let nats = async_nats::connect(egov_devenv::default_nats_url())
        .await
        .unwrap();
    World {
        dir,
        pki,
        db,
        prefix,
        shep: shep_addr,
        rshep: rshep_addr,
        shep_http,
        journal,
        gbd_calls,
        mio_calls,
        cancel,
        nats,
        config,
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

    pub fn names(&self) -> InboxNames {
        InboxNames::new(&self.prefix)
    }

    pub fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.nats.clone())
    }

    pub fn verifier(&self) -> Arc<egov_pki::Verifier> {
        envelope::pki_verifier(&self.pki, None).unwrap()
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
