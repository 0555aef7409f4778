//! Calling through the gateway.

use std::sync::Arc;
use std::time::Duration;

use egov_grpc::TlsIdentity;
use egov_pki::Verifier;
use egov_proto::shep::v1::async_channel_client::AsyncChannelClient;
use egov_proto::shep::v1::sync_channel_client::SyncChannelClient;
use egov_proto::shep::v1::{
    AsyncSendMessageRequest, DeliveryStatus, GetMessageStatusRequest, MessageType, RequestInfo,
    ResponseInfo, SendDeliveryNotificationRequest, SyncSendMessageRequest,
};
use tonic::transport::Channel;

use crate::envelope::{self, OpenError, SystemSigner, codes};

/// A client error: transport problems, or an answer that cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway could not be reached or failed the call.
    #[error("gateway call failed: {0}")]
    Transport(#[from] tonic::Status),
    /// Building the call failed.
    #[error(transparent)]
    Envelope(#[from] OpenError),
    /// The answer had no envelope.
    #[error("the gateway answered without an envelope")]
    Empty,
    /// The answer is not the answer to this request.
    #[error("the answer is not to this request: {0}")]
    Unrelated(String),
}

/// A verified answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The request's messageId.
    pub message_id: String,
    /// The response header (status, errorInfo, route).
    pub info: ResponseInfo,
    /// The response payload.
    pub payload: Vec<u8>,
    /// Who signed the answer (the recipient, or the gateway for its own refusals).
    pub responder: String,
}

impl Reply {
    /// The status code.
    pub fn code(&self) -> &str {
        self.info
            .status
            .as_ref()
            .map(|s| s.code.as_str())
            .unwrap_or("")
    }

    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        codes::is_success(self.code())
    }
}

/// A connection of one information system to its gateway.
#[derive(Clone)]
pub struct Client {
    sync: SyncChannelClient<Channel>,
    asynch: AsyncChannelClient<Channel>,
    signer: Arc<SystemSigner>,
    verifier: Arc<Verifier>,
}

impl Client {
    /// Connects (lazily) to the gateway `gateway_id` at `addr` with mutual TLS.
    pub fn connect(
        addr: &str,
        gateway_id: &str,
        tls: &TlsIdentity,
        signer: Arc<SystemSigner>,
        verifier: Arc<Verifier>,
        timeout: Duration,
    ) -> Result<Self, egov_grpc::Error> {
        let ch = tls.channel(addr, gateway_id, timeout)?;
        Ok(Client {
            sync: SyncChannelClient::new(ch.clone()).max_decoding_message_size(64 << 20),
            asynch: AsyncChannelClient::new(ch).max_decoding_message_size(64 << 20),
            signer,
            verifier,
        })
    }

    /// The signer.
    pub fn signer(&self) -> &Arc<SystemSigner> {
        &self.signer
    }

    /// A request header from this system.
    pub fn request_info(
        &self,
        service_id: &str,
        route_id: &str,
        correlation_id: &str,
    ) -> RequestInfo {
        self.signer
            .request_info(service_id, MessageType::Request, route_id, correlation_id)
    }

    /// Calls `service_id` through the sync channel and verifies the answer.
    pub async fn call(
        &self,
        service_id: &str,
        route_id: &str,
        correlation_id: &str,
        payload: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        let info = self.request_info(service_id, route_id, correlation_id);
        self.call_with(info, payload).await
    }

    /// Sends a prepared header and payload through the sync channel.
    pub async fn call_with(
        &self,
        info: RequestInfo,
        payload: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        let env = self.signer.seal_request(&info, payload)?;
        self.send_sealed(&info.message_id, env).await
    }

    /// Sends an already sealed envelope (tests use it to send tampered ones).
    pub async fn send_sealed(
        &self,
        message_id: &str,
        env: egov_proto::shep::v1::Envelope,
    ) -> Result<Reply, ClientError> {
        let mut req = tonic::Request::new(SyncSendMessageRequest {
            envelope: Some(env),
        });
        egov_telemetry::inject_grpc(req.metadata_mut());
        let resp = self.sync.clone().send_message(req).await?.into_inner();
        self.open_reply(message_id, resp.envelope).await
    }

    async fn open_reply(
        &self,
        message_id: &str,
        env: Option<egov_proto::shep::v1::Envelope>,
    ) -> Result<Reply, ClientError> {
        let env = env.ok_or(ClientError::Empty)?;
        let opened = envelope::open_response(&env, &self.verifier).await?;
        // a gateway's refusal of a request it could not read cannot name it
        let unreadable = opened.header.correlation_id.is_empty()
            && !codes::is_success(
                opened
                    .header
                    .status
                    .as_ref()
                    .map_or("", |s| s.code.as_str()),
            );
        if opened.header.correlation_id != message_id && !unreadable {
            return Err(ClientError::Unrelated(format!(
                "its correlationId {:?} is not the request's messageId {message_id:?}",
                opened.header.correlation_id
            )));
        }
        Ok(Reply {
            message_id: message_id.to_string(),
            responder: opened.header.responder_id.clone(),
            info: opened.header,
            payload: opened.payload,
        })
    }

    /// Sends through the async channel; the gateway answers ACCEPTED (SCSS002) or a refusal.
    pub async fn send_async(
        &self,
        service_id: &str,
        route_id: &str,
        message_type: MessageType,
        correlation_id: &str,
        payload: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        let info = self
            .signer
            .request_info(service_id, message_type, route_id, correlation_id);
        self.send_async_with(info, payload).await
    }

    /// Sends a prepared header through the async channel.
    pub async fn send_async_with(
        &self,
        info: RequestInfo,
        payload: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        let env = self.signer.seal_request(&info, payload)?;
        self.send_async_sealed(&info.message_id, env).await
    }

    /// Sends an already sealed envelope through the async channel.
    pub async fn send_async_sealed(
        &self,
        message_id: &str,
        env: egov_proto::shep::v1::Envelope,
    ) -> Result<Reply, ClientError> {
        let mut req = tonic::Request::new(AsyncSendMessageRequest {
            envelope: Some(env),
        });
        egov_telemetry::inject_grpc(req.metadata_mut());
        let resp = self.asynch.clone().send_message(req).await?.into_inner();
        self.open_reply(message_id, resp.envelope).await
    }

    /// The delivery status of a message this system sent.
    pub async fn status(&self, message_id: &str) -> Result<DeliveryStatus, ClientError> {
        let r = self
            .asynch
            .clone()
            .get_message_status(GetMessageStatusRequest {
                message_id: message_id.to_string(),
                sender_id: self.signer.system_id.clone(),
            })
            .await?
            .into_inner();
        Ok(DeliveryStatus::try_from(r.status).unwrap_or(DeliveryStatus::Unspecified))
    }

    /// Tells the gateway this system committed (or refused) the message `message_id` of
    /// `sender` from its inbox.
    pub async fn notify_delivery(
        &self,
        sender: &str,
        message_id: &str,
        delivered: bool,
        detail: &str,
    ) -> Result<DeliveryStatus, ClientError> {
        let r = self
            .asynch
            .clone()
            .send_delivery_notification(SendDeliveryNotificationRequest {
                recipient_id: self.signer.system_id.clone(),
                message_id: message_id.to_string(),
                delivery_id: String::new(),
                delivered,
                detail: detail.to_string(),
                sender_id: sender.to_string(),
            })
            .await?
            .into_inner();
        Ok(DeliveryStatus::try_from(r.status).unwrap_or(DeliveryStatus::Unspecified))
    }

    /// The raw async client (GetMessages polling).
    pub fn async_channel(&self) -> AsyncChannelClient<Channel> {
        self.asynch.clone()
    }
}
