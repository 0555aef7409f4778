//! An echo recipient: a system's SyncChannel that verifies the request as the gateway
//! forwarded it and answers with its payload, sealed by the system. Some payloads make it
//! misbehave on purpose: `sleep:<ms>` answers late, `answer-another` answers another
//! request, `tamper-answer` changes the payload after sealing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use egov_proto::shep::v1::sync_channel_server::{SyncChannel, SyncChannelServer};
use egov_proto::shep::v1::{SyncSendMessageRequest, SyncSendMessageResponse};
use egov_shep_client::envelope::{self, SystemSigner, codes};
use tokio_util::sync::CancellationToken;

/// An echo recipient: verifies the request, answers with its payload, signed.
pub struct Echo {
    /// Seals the answers.
    pub signer: SystemSigner,
    /// Opens the requests.
    pub verifier: Arc<egov_pki::Verifier>,
    /// Requests received.
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

/// An echo of `id` (its transport identity and its signature) on a free port until
/// `cancel`; its address.
pub async fn spawn_echo(
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
