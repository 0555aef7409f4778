//! The gRPC server limits: requests past the per-connection or the global concurrency
//! limit wait their turn; none is served beside more than the limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use egov_grpc::{Limits, TlsIdentity};
use egov_pki::dir::{InitOptions, PkiDir};
use egov_pki::keys::KeyAlgorithm;
use egov_proto::shep::v1::sync_channel_client::SyncChannelClient;
use egov_proto::shep::v1::sync_channel_server::{SyncChannel, SyncChannelServer};
use egov_proto::shep::v1::{SyncSendMessageRequest, SyncSendMessageResponse};

/// Counts the requests it serves at once, and the most seen.
#[derive(Default, Clone)]
struct Slow {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl SyncChannel for Slow {
    async fn send_message(
        &self,
        _: tonic::Request<SyncSendMessageRequest>,
    ) -> Result<tonic::Response<SyncSendMessageResponse>, tonic::Status> {
        let at = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(at, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(tonic::Response::new(SyncSendMessageResponse::default()))
    }
}

/// Serves `Slow` with `limits`; returns the PKI folder, the address and the counter.
async fn serve(limits: Limits) -> (tempfile::TempDir, String, Slow) {
    egov_grpc::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    PkiDir::init(
        &dir.path().join("pki"),
        &dir.path().join("ca"),
        &InitOptions {
            algorithm: KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    let server_id = TlsIdentity::load(&dir.path().join("pki"), "uc").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let slow = Slow::default();
    tokio::spawn(
        limits
            .grpc_server()
            .tls_config(server_id.server_tls())
            .unwrap()
            .add_service(SyncChannelServer::new(slow.clone()))
            .serve_with_incoming(egov_grpc::incoming(listener)),
    );
    (dir, addr, slow)
}

async fn call_all(clients: Vec<SyncChannelClient<tonic::transport::Channel>>) {
    let calls: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                c.send_message(SyncSendMessageRequest::default())
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_global_limit_wait_their_turn() {
    let (dir, addr, slow) = serve(Limits {
        grpc_concurrency: 2,
        ..Default::default()
    })
    .await;
    let id = TlsIdentity::load(&dir.path().join("pki"), "portal").unwrap();
    // six connections, one request each
    let clients = (0..6)
        .map(|_| SyncChannelClient::new(id.channel(&addr, "uc", Duration::from_secs(10)).unwrap()))
        .collect();
    call_all(clients).await;
    assert_eq!(slow.most.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_per_connection_limit_wait_their_turn() {
    let (dir, addr, slow) = serve(Limits {
        grpc_per_connection: 1,
        ..Default::default()
    })
    .await;
    let id = TlsIdentity::load(&dir.path().join("pki"), "portal").unwrap();
    // one connection, four requests at once
    let ch = id.channel(&addr, "uc", Duration::from_secs(10)).unwrap();
    let clients = (0..4).map(|_| SyncChannelClient::new(ch.clone())).collect();
    call_all(clients).await;
    assert_eq!(slow.most.load(Ordering::SeqCst), 1);
    // two connections: two at once
    let clients = (0..4)
        .map(|_| SyncChannelClient::new(id.channel(&addr, "uc", Duration::from_secs(10)).unwrap()))
        .collect();
    slow.most.store(0, Ordering::SeqCst);
    call_all(clients).await;
    assert!(slow.most.load(Ordering::SeqCst) >= 2);
}
