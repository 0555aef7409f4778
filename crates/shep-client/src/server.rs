//! The recipient side of the sync channel: what an information system that answers
//! synchronous requests (ГБД ФЛ, ЕНИС, ИС МИО's queue look-up) serves.
//!
//! [`SyncServer`] implements the gateway's `SyncChannel` contract for a [`SyncHandler`]:
//! it accepts calls only from the gateways it is registered on (the client certificate of
//! the mutual-TLS connection), verifies the envelope exactly as the sender signed it
//! (transport signature, signer = senderId), hands the request to the handler, and seals
//! the handler's [`Answer`] with the system's own key. A request that fails verification
//! gets a signed refusal (SE001/SE002/SE004/SE015), never a handler call.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use egov_pki::Verifier;
use egov_proto::shep::v1::sync_channel_server::SyncChannel;
use egov_proto::shep::v1::{
    Envelope, ErrorInfo, RequestInfo, SyncSendMessageRequest, SyncSendMessageResponse,
};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::envelope::{self, OpenError, Opened, SystemSigner, codes, timestamp};

/// A verified request handed to a [`SyncHandler`].
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The verified header and payload.
    pub opened: Opened<RequestInfo>,
    /// The gateways the request crossed (from the `egov-route` metadata).
    pub route: Vec<String>,
    /// The gateway that delivered it (client certificate CN).
    pub peer: String,
}

impl Incoming {
    /// The calling information system (the verified senderId).
    pub fn sender(&self) -> &str {
        self.opened
            .header
            .sender
            .as_ref()
            .map(|s| s.sender_id.as_str())
            .unwrap_or("")
    }

    /// The service called.
    pub fn service(&self) -> &str {
        &self.opened.header.service_id
    }

    /// A header property by key.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.opened
            .header
            .properties
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }
}

/// What a handler answers: success with a payload, or a business error (SE016) with a
/// code of the recipient's own (`PERSON_NOT_FOUND`, ...), a human message and a payload.
#[derive(Debug, Clone)]
pub struct Answer {
    /// SCSS001 or an SE code.
    pub code: &'static str,
    /// Human message of the status.
    pub message: String,
    /// The recipient's own error code, for business errors.
    pub error_code: Option<String>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Answer {
    /// A successful answer.
    pub fn ok(payload: Vec<u8>) -> Self {
        Answer {
            code: codes::SUCCESS,
            message: "processed successfully".into(),
            error_code: None,
            payload,
        }
    }

    /// A business error: the request was processed and the answer is a refusal.
    pub fn business(error_code: &str, message: impl Into<String>, payload: Vec<u8>) -> Self {
        Answer {
            code: codes::BUSINESS_ERROR,
            message: message.into(),
            error_code: Some(error_code.to_string()),
            payload,
        }
    }

    /// A refusal with an interface status code (malformed, ...), no payload.
    pub fn status(code: &'static str, message: impl Into<String>) -> Self {
        Answer {
            code,
            message: message.into(),
            error_code: None,
            payload: Vec::new(),
        }
    }

    /// An internal failure of the recipient (SE014); the details stay in its log.
    pub fn internal() -> Self {
        Answer::status(codes::INTERNAL, "the recipient failed internally")
    }
}

/// The business logic behind a [`SyncServer`].
pub trait SyncHandler: Send + Sync + 'static {
    /// Answers one verified request.
    fn handle(&self, request: Incoming) -> impl Future<Output = Answer> + Send;
}

/// A `SyncChannel` server for one information system.
pub struct SyncServer<H> {
    handler: Arc<H>,
    signer: Arc<SystemSigner>,
    verifier: Arc<Verifier>,
    gateways: Arc<Vec<String>>,
    lane: String,
}

impl<H: SyncHandler> SyncServer<H> {
    /// A server answering with `signer`'s key, accepting calls from `gateways` only.
    pub fn new(
        handler: Arc<H>,
        signer: Arc<SystemSigner>,
        verifier: Arc<Verifier>,
        gateways: Vec<String>,
        lane: &str,
    ) -> Self {
        SyncServer {
            handler,
            signer,
            verifier,
            gateways: Arc::new(gateways),
            lane: lane.to_string(),
        }
    }

    fn seal(&self, request: Option<&RequestInfo>, route: &[String], answer: Answer) -> Envelope {
        let now = OffsetDateTime::now_utc();
        let mut info = match request {
            Some(r) => self.signer.response_info(r, answer.code, &answer.message),
            None => {
                self.signer
                    .response_info(&RequestInfo::default(), answer.code, &answer.message)
            }
        };
        // the gateways the request crossed, as the recipient saw them
        info.route = route.to_vec();
        if !codes::is_success(answer.code) {
            info.error_info = Some(ErrorInfo {
                error_code: answer
                    .error_code
                    .clone()
                    .unwrap_or_else(|| answer.code.to_string()),
                error_message: answer.message.clone(),
                error_data: String::new(),
                error_date: Some(timestamp(now)),
                sub_error: None,
            });
        }
        match self.signer.seal_response(&info, answer.payload) {
            Ok(env) => env,
            Err(e) => {
                tracing::error!(error = %e, "cannot sign the answer");
                Envelope::default()
            }
        }
    }
}

fn refusal(e: &OpenError) -> Answer {
    match e {
        OpenError::Malformed(m) => Answer::status(codes::MALFORMED, m.clone()),
        OpenError::SenderMismatch { .. } => Answer::status(codes::SENDER_MISMATCH, e.to_string()),
        OpenError::Signature(v) if v.reason() == "bad-signature" => {
            Answer::status(codes::BAD_SIGNATURE, e.to_string())
        }
        OpenError::Signature(_) => Answer::status(codes::CERTIFICATE_REJECTED, e.to_string()),
        OpenError::Pki(_) => Answer::status(codes::MALFORMED, e.to_string()),
    }
}

#[tonic::async_trait]
impl<H: SyncHandler> SyncChannel for SyncServer<H> {
    async fn send_message(
        &self,
        request: tonic::Request<SyncSendMessageRequest>,
    ) -> Result<tonic::Response<SyncSendMessageResponse>, tonic::Status> {
        let peer = egov_grpc::peer_system(&request).unwrap_or_default();
        if !self.gateways.contains(&peer) {
            return Err(tonic::Status::permission_denied(format!(
                "{} answers the gateway only; {peer:?} is not one of {}",
                self.signer.system_id,
                self.gateways.join(", ")
            )));
        }
        let route = crate::route::of_metadata(request.metadata());
        let span = tracing::info_span!(
            "sync.recipient",
            egov.sfe = %self.lane,
            system = %self.signer.system_id,
            service = tracing::field::Empty,
            message_id = tracing::field::Empty,
            code = tracing::field::Empty,
        );
        egov_telemetry::set_parent(&span, egov_telemetry::extract_grpc(request.metadata()));
        let env = request.into_inner().envelope.unwrap_or_default();
        let started = Instant::now();
        let out = async {
            let opened = match envelope::open_request(&env, &self.verifier).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(error = %e, "request refused before handling");
                    let header = envelope::decode_request(&env).ok();
                    return self.seal(header.as_ref(), &route, refusal(&e));
                }
            };
            let header = opened.header.clone();
            let span = tracing::Span::current();
            span.record("service", header.service_id.as_str());
            span.record("message_id", header.message_id.as_str());
            let answer = self
                .handler
                .handle(Incoming {
                    opened,
                    route: route.clone(),
                    peer,
                })
                .await;
            span.record("code", answer.code);
            metrics::counter!(
                "egov_sync_requests_total",
                "system" => self.signer.system_id.clone(),
                "service" => header.service_id.clone(),
                "code" => answer.code,
            )
            .increment(1);
            metrics::histogram!(
                "egov_sync_request_duration_seconds",
                "system" => self.signer.system_id.clone(),
                "service" => header.service_id.clone(),
            )
            .record(started.elapsed().as_secs_f64());
            self.seal(Some(&header), &route, answer)
        }
        .instrument(span)
        .await;
        Ok(tonic::Response::new(SyncSendMessageResponse {
            envelope: Some(out),
        }))
    }
}
