//! What every envelope goes through: the checks, each with its own status code, the
//! refusal signed by the gateway, and the message log.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use egov_pki::{Verifier, VerifyError};
use egov_proto::shep::v1::{Envelope, ErrorInfo, RequestInfo, ResponseInfo, Status};
use egov_shep_client::envelope::{self, SystemSigner, codes, timestamp};
use sha2::Digest;
use time::{Duration, OffsetDateTime};
use tonic::transport::Channel;

use crate::journal::{self, Journal, Record};
use crate::registry::{Hop, Registry, RouteError, ServiceEntry};
use crate::replay;

/// The hex SHA-256 the message log keeps of a payload (never the payload itself).
pub fn payload_digest(payload: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(payload))
}

/// What the signature and connection checks found, as the message log records it in
/// `verification` (the name is the [`Display`](fmt::Display) form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// `ok`: the signature, its signer and the connection were accepted.
    Ok,
    /// `malformed`: not a signature, or the envelope could not be opened to check one.
    Malformed,
    /// `bad-signature`: the signature does not match the envelope.
    BadSignature,
    /// The signer's certificate was not accepted: the verifier's reason (`untrusted`,
    /// `expired`, `revoked`, `revocation-unknown`, ...).
    Certificate(&'static str),
    /// `sender-mismatch`: signed by another system than the senderId.
    SenderMismatch,
    /// `client-` and the verifier's reason: the mutual-TLS client certificate was not
    /// accepted.
    Client(&'static str),
}

impl Verification {
    /// What a transport signature that could not be verified says.
    fn of_signature(e: &envelope::OpenError) -> Self {
        match e {
            envelope::OpenError::Signature(VerifyError::Malformed(_)) => Verification::Malformed,
            envelope::OpenError::Signature(VerifyError::BadSignature(_)) => {
                Verification::BadSignature
            }
            envelope::OpenError::Signature(v) => Verification::Certificate(v.reason()),
            _ => Verification::Malformed,
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verification::Ok => f.write_str("ok"),
            Verification::Malformed => f.write_str("malformed"),
            Verification::BadSignature => f.write_str("bad-signature"),
            Verification::Certificate(reason) => f.write_str(reason),
            Verification::SenderMismatch => f.write_str("sender-mismatch"),
            Verification::Client(reason) => write!(f, "client-{reason}"),
        }
    }
}

/// A refusal: the status code and a human message.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Status code (see [`codes`]).
    pub code: &'static str,
    /// Human message.
    pub message: String,
    /// What the log records as its verification, when a signature or the connection's
    /// certificate was checked.
    pub verification: Option<Verification>,
}

impl Refusal {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            verification: None,
        }
    }
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Its header.
    pub info: RequestInfo,
    /// The service.
    pub service: ServiceEntry,
    /// The final recipient.
    pub recipient: String,
    /// The next hop.
    pub hop: Hop,
    /// Serial of the sender's certificate.
    pub signer_serial: String,
    /// Its key among the marks (sender and messageId).
    pub key: String,
    /// The hex SHA-256 of its payload, computed once for the mark and the log rows.
    pub payload_sha256: String,
    /// The outcome of an earlier attempt with the same content that was delivered: this
    /// one is a retry, answered with it and not delivered again.
    pub previous: Option<replay::Outcome>,
}

/// How long past its service's deadline an attempt in flight is held before a retry may
/// take its mark anew: the time a gateway may still spend logging its outcome.
pub const ABANDONED_MARGIN: time::Duration = time::Duration::seconds(10);

/// Shared state of one gateway instance.
pub struct Core {
    /// This gateway's id (`shep`, `rshep-almaty`, ...).
    pub id: String,
    /// Its lane name.
    pub lane: String,
    /// The registry (endpoints filled).
    pub registry: Registry,
    /// Signs the gateway's own answers.
    pub signer: SystemSigner,
    /// Verifies transport signatures.
    pub verifier: Arc<Verifier>,
    /// TLS identity for onward calls.
    pub tls: egov_grpc::TlsIdentity,
    /// The message log.
    pub journal: Journal,
    /// Allowed |messageDate − now|.
    pub max_skew: Duration,
    /// The messages taken, by sender and messageId.
    pub marks: replay::Marks,
    channels: Mutex<HashMap<String, Channel>>,
}

/// Where in the pipeline a log row is written.
pub struct Trail {
    /// When the request arrived.
    pub started: Instant,
    /// The same as a timestamp.
    pub request_in_at: OffsetDateTime,
    /// Gateways crossed so far (including this one).
    pub route: Vec<String>,
    /// The certificate of the mutual-TLS client the request came from.
    pub peer: Option<egov_pki::CertInfo>,
}

impl Core {
    /// A new core.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        lane: String,
        registry: Registry,
        signer: SystemSigner,
        verifier: Arc<Verifier>,
        tls: egov_grpc::TlsIdentity,
        journal: Journal,
        max_skew: Duration,
    ) -> Self {
        Core {
            id,
            lane,
            registry,
            signer,
            verifier,
            tls,
            journal,
            max_skew,
            marks: replay::Marks::default(),
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// The connection is the message's: the mutual-TLS client is the sender itself, with
    /// no route before this gateway, or the previous gateway on the route; and its
    /// certificate is not revoked.
    async fn check_peer(&self, sender: &str, trail: &Trail) -> Result<(), Refusal> {
        let Some(peer) = &trail.peer else {
            return Err(Refusal::new(
                codes::ACCESS_DENIED,
                "the connection presented no client certificate",
            ));
        };
        let id = peer.identity.common_name.clone().unwrap_or_default();
        let before: &[String] = trail
            .route
            .split_last()
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let fits = match before.last() {
            None => id == sender,
            Some(previous) => *previous == id && self.registry.gateway(&id).is_some(),
        };
        if !fits {
            return Err(Refusal::new(
                codes::ACCESS_DENIED,
                format!(
                    "the connection is {id:?}'s: neither the sender {sender:?} nor the previous gateway on the route {before:?}"
                ),
            ));
        }
        let opts = egov_pki::VerifyOptions {
            usage: egov_pki::verify::Usage::Any,
            ..Default::default()
        };
        self.verifier
            .check_certificate(peer, &[], OffsetDateTime::now_utc(), &opts)
            .await
            .map_err(|e| Refusal {
                code: if e.is_transient() {
                    codes::REVOCATION_UNKNOWN
                } else {
                    codes::CERTIFICATE_REJECTED
                },
                message: format!("the client certificate of {id:?} is not accepted: {e}"),
                verification: Some(Verification::Client(e.reason())),
            })?;
        Ok(())
    }

    /// Settles the mark of an accepted message: kept with `delivered` when it was
    /// logged and delivered onward, dropped when anything failed (see [`replay`]).
    /// What goes back instead of an answer the message log could not take (`why`): SE014,
    /// which the caller retries, counted and logged; the answer itself is not relayed.
    pub fn unlogged_answer(
        &self,
        accepted: &Accepted,
        channel: journal::Channel,
        trail: &Trail,
        why: &dyn fmt::Display,
    ) -> Envelope {
        tracing::error!(error = %why, "message log write failed for the answer; not relayed");
        crate::sync::observe(
            self,
            channel,
            &accepted.info.service_id,
            codes::INTERNAL,
            trail,
        );
        self.own_response(
            Some(&accepted.info),
            codes::INTERNAL,
            "the message log is unavailable: the answer was not relayed",
            &trail.route,
        )
    }

    pub fn settle(&self, accepted: &Accepted, delivered: Option<replay::Outcome>) {
        if accepted.previous.is_none() {
            self.marks.settle(&accepted.key, delivered);
        }
    }

    /// Runs every check on an incoming envelope that came over `trail`'s connection.
    pub async fn check(
        &self,
        env: Option<&Envelope>,
        trail: &Trail,
    ) -> Result<Accepted, (Option<RequestInfo>, Refusal)> {
        let env = env.ok_or((
            None,
            Refusal::new(codes::MALFORMED, "the request carries no envelope"),
        ))?;
        let info = envelope::decode_request(env)
            .map_err(|e| (None, Refusal::new(codes::MALFORMED, e.to_string())))?;
        let fail = |r: Refusal| (Some(info.clone()), r);
        let sender = info
            .sender
            .as_ref()
            .map(|s| s.sender_id.clone())
            .unwrap_or_default();
        for (name, v) in [
            ("messageId", &info.message_id),
            ("serviceId", &info.service_id),
            ("senderId", &sender),
        ] {
            if v.trim().is_empty() {
                return Err(fail(Refusal::new(
                    codes::MALFORMED,
                    format!("{name} is empty"),
                )));
            }
        }
        if info.message_id.len() > 128 {
            return Err(fail(Refusal::new(
                codes::MALFORMED,
                "messageId is longer than 128 characters",
            )));
        }
        let date = info
            .message_date
            .as_ref()
            .and_then(envelope::from_timestamp)
            .ok_or_else(|| {
                fail(Refusal::new(
                    codes::MALFORMED,
                    "messageDate is missing or invalid",
                ))
            })?;
        let service = self
            .registry
            .service(&info.service_id)
            .cloned()
            .ok_or_else(|| {
                fail(Refusal::new(
                    codes::UNKNOWN_SERVICE,
                    format!("unknown service {:?}", info.service_id),
                ))
            })?;
        let recipient = self
            .registry
            .recipient(&service, &info.route_id)
            .map_err(|e| match e {
                RouteError::UnknownRegion(m) => fail(Refusal::new(codes::UNKNOWN_REGION, m)),
                RouteError::UnknownService(m) | RouteError::Misconfigured(m) => {
                    fail(Refusal::new(codes::INTERNAL, m))
                }
            })?;
        if self.registry.system(&sender).is_none() {
            return Err(fail(Refusal::new(
                codes::UNKNOWN_SENDER,
                format!("{sender:?} is not a registered information system"),
            )));
        }
        if env.payload.len() > service.max_payload {
            return Err(fail(Refusal::new(
                codes::TOO_LARGE,
                format!(
                    "payload of {} bytes exceeds the {} bytes allowed for {}",
                    env.payload.len(),
                    service.max_payload,
                    service.id
                ),
            )));
        }
        let now = OffsetDateTime::now_utc();
        if (date - now).abs() > self.max_skew {
            return Err(fail(Refusal::new(
                codes::STALE_MESSAGE,
                format!(
                    "messageDate {date} is more than {} s from the gateway's clock {now}",
                    self.max_skew.whole_seconds()
                ),
            )));
        }
        let signer = envelope::verify_signature(env, &self.verifier)
            .await
            .map_err(|e| {
                let verification = Verification::of_signature(&e);
                let code = match verification {
                    _ if e.is_transient() => codes::REVOCATION_UNKNOWN,
                    Verification::Malformed | Verification::BadSignature => codes::BAD_SIGNATURE,
                    _ => codes::CERTIFICATE_REJECTED,
                };
                fail(Refusal {
                    code,
                    message: e.to_string(),
                    verification: Some(verification),
                })
            })?;
        let cn = signer.identity.common_name.clone().unwrap_or_default();
        if cn != sender {
            return Err(fail(Refusal {
                code: codes::SENDER_MISMATCH,
                message: format!("signed by {cn:?}, but senderId is {sender:?}"),
                verification: Some(Verification::SenderMismatch),
            }));
        }
        self.check_peer(&sender, trail).await.map_err(fail)?;
        if !self.registry.allowed(&sender, &service.id) {
            return Err(fail(Refusal::new(
                codes::ACCESS_DENIED,
                format!("{sender} may not call {}", service.id),
            )));
        }
        let hop = self
            .registry
            .next_hop(&self.id, &recipient)
            .map_err(|e| fail(Refusal::new(codes::INTERNAL, format!("{e:?}"))))?;
        // taken last, once every other check passed: a refused message leaves no mark
        let key = replay::key(&sender, &info.message_id);
        let payload_sha256 = payload_digest(&env.payload);
        // an attempt in flight for longer than its deadline allows was abandoned
        let abandoned_before = now
            - time::Duration::milliseconds(i64::try_from(service.deadline_ms).unwrap_or(i64::MAX))
            - ABANDONED_MARGIN;
        let previous = match self.marks.take(
            &key,
            &replay::fingerprint_with(&info, &payload_sha256),
            now,
            now - self.max_skew * 2,
            abandoned_before,
        ) {
            replay::Taken::New => None,
            replay::Taken::Done(o) => Some(o),
            replay::Taken::InFlight => {
                return Err(fail(Refusal::new(
                    codes::UNAVAILABLE,
                    format!(
                        "messageId {} from {sender} is still being delivered; try again shortly",
                        info.message_id
                    ),
                )));
            }
            replay::Taken::Conflict => {
                return Err(fail(Refusal::new(
                    codes::DUPLICATE,
                    format!(
                        "messageId {} was already received from {sender} with other content",
                        info.message_id
                    ),
                )));
            }
        };
        Ok(Accepted {
            info,
            service,
            recipient,
            hop,
            signer_serial: signer.cert.serial_hex.clone(),
            key,
            payload_sha256,
            previous,
        })
    }

    /// Opens the answer `from` (the recipient or the next gateway) gave to an accepted
    /// request: correctly signed by its responder, and belonging to the request. The
    /// error is the gateway's code and message: SE013 for an answer that is not its
    /// responder's or not this request's, SE017 (transient: the sender retries) when the
    /// responder's certificate status cannot be known because the CA is out of reach.
    pub async fn open_answer(
        &self,
        accepted: &Accepted,
        answer: &Envelope,
        from: &str,
    ) -> Result<envelope::Opened<ResponseInfo>, (&'static str, String)> {
        let opened = envelope::open_response(answer, &self.verifier)
            .await
            .map_err(|e| {
                let code = if e.is_transient() {
                    codes::REVOCATION_UNKNOWN
                } else {
                    codes::BAD_RESPONSE
                };
                (
                    code,
                    format!("the answer of {from} is not correctly signed: {e}"),
                )
            })?;
        self.answer_fits(accepted, &opened.header)
            .map_err(|why| (codes::BAD_RESPONSE, why))?;
        Ok(opened)
    }

    /// Whether an answer belongs to the request: its correlationId is the request's
    /// messageId, and it comes from the routed recipient or a gateway on the way (a
    /// refusal of its own).
    fn answer_fits(&self, accepted: &Accepted, answer: &ResponseInfo) -> Result<(), String> {
        if answer.correlation_id != accepted.info.message_id {
            return Err(format!(
                "the answer's correlationId {:?} is not the request's messageId {:?}",
                answer.correlation_id, accepted.info.message_id
            ));
        }
        let responder = answer.responder_id.as_str();
        if responder != accepted.recipient && self.registry.gateway(responder).is_none() {
            return Err(format!(
                "answered by {responder:?}, not by {:?}, the request's recipient",
                accepted.recipient
            ));
        }
        Ok(())
    }

    /// A response made and signed by this gateway.
    pub fn own_response(
        &self,
        request: Option<&RequestInfo>,
        code: &str,
        message: &str,
        route: &[String],
    ) -> Envelope {
        let now = OffsetDateTime::now_utc();
        let error_info = (!codes::is_success(code)).then(|| ErrorInfo {
            error_code: code.to_string(),
            error_message: message.to_string(),
            error_data: String::new(),
            error_date: Some(timestamp(now)),
            sub_error: None,
        });
        let info = ResponseInfo {
            message_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: request.map(|r| r.message_id.clone()).unwrap_or_default(),
            response_date: Some(timestamp(now)),
            status: Some(Status {
                code: code.to_string(),
                message: message.to_string(),
            }),
            session_id: request.map(|r| r.session_id.clone()).unwrap_or_default(),
            responder_id: self.id.clone(),
            error_info,
            route: route.to_vec(),
        };
        match self.signer.seal_response(&info, Vec::new()) {
            Ok(env) => env,
            Err(e) => {
                tracing::error!(error = %e, "cannot sign the gateway's own response");
                Envelope::default()
            }
        }
    }

    /// A log record skeleton for an envelope.
    pub fn record(
        &self,
        event: journal::Event,
        channel: journal::Channel,
        info: Option<&RequestInfo>,
        env: Option<&Envelope>,
        trail: &Trail,
    ) -> Record {
        let digest = payload_digest(env.map(|e| e.payload.as_slice()).unwrap_or_default());
        self.record_with_digest(event, channel, info, env, digest, trail)
    }

    /// [`Core::record`] for an envelope whose payload's digest is known.
    fn record_with_digest(
        &self,
        event: journal::Event,
        channel: journal::Channel,
        info: Option<&RequestInfo>,
        env: Option<&Envelope>,
        payload_sha256: String,
        trail: &Trail,
    ) -> Record {
        let sender = info
            .and_then(|i| i.sender.as_ref())
            .map(|s| s.sender_id.clone())
            .unwrap_or_default();
        Record {
            gateway_id: self.id.clone(),
            event,
            channel,
            message_id: info.map(|i| i.message_id.clone()).unwrap_or_default(),
            correlation_id: info.map(|i| i.correlation_id.clone()).unwrap_or_default(),
            service_id: info.map(|i| i.service_id.clone()).unwrap_or_default(),
            sender_id: sender,
            recipient_id: None,
            message_type: info
                .map(|i| {
                    egov_proto::shep::v1::MessageType::try_from(i.message_type)
                        .map(|t| t.as_str_name().to_string())
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
            region: info.map(|i| i.route_id.clone()).filter(|r| !r.is_empty()),
            route: trail.route.clone(),
            payload_size: env.map(|e| e.payload.len() as i64).unwrap_or(0),
            signature_size: env.map(|e| e.signature.len() as i64).unwrap_or(0),
            payload_sha256,
            signer_serial: None,
            verification: String::new(),
            status_code: String::new(),
            status_message: String::new(),
            at: OffsetDateTime::now_utc(),
            request_in_at: Some(trail.request_in_at),
            request_out_at: None,
            response_in_at: None,
            response_out_at: None,
            duration_ms: None,
            trace_id: egov_telemetry::current_trace_id(),
        }
    }

    /// A log record of an accepted envelope: its recipient, its signer, verified.
    pub fn accepted_record(
        &self,
        event: journal::Event,
        channel: journal::Channel,
        accepted: &Accepted,
        env: &Envelope,
        trail: &Trail,
    ) -> Record {
        let mut rec = self.record_with_digest(
            event,
            channel,
            Some(&accepted.info),
            Some(env),
            accepted.payload_sha256.clone(),
            trail,
        );
        rec.recipient_id = Some(accepted.recipient.clone());
        rec.signer_serial = Some(accepted.signer_serial.clone());
        rec.verification = Verification::Ok.to_string();
        rec
    }

    /// Writes the accepted request to the log before it goes anywhere. On failure the
    /// gateway refuses (SE014) rather than forward what it could not log.
    pub async fn log_accepted(
        &self,
        channel: journal::Channel,
        accepted: &Accepted,
        env: &Envelope,
        trail: &Trail,
    ) -> Result<Record, Envelope> {
        let mut rec =
            self.accepted_record(journal::Event::RequestIn, channel, accepted, env, trail);
        rec.status_code = "IN".into();
        match self.journal.append(rec.clone()).await {
            Ok(_) => Ok(rec),
            Err(e) => {
                tracing::error!(error = %e, "message log unavailable; refusing to forward");
                Err(self.own_response(
                    Some(&accepted.info),
                    codes::INTERNAL,
                    "the message log is unavailable",
                    &trail.route,
                ))
            }
        }
    }

    /// A cached mTLS channel to a hop.
    pub fn channel(&self, hop: &Hop, timeout: std::time::Duration) -> Result<Channel, Refusal> {
        let (id, kind) = match hop {
            Hop::System { id } => (id.clone(), "system"),
            Hop::Gateway { id } => (id.clone(), "gateway"),
        };
        let endpoint = self.registry.endpoint(hop).ok_or_else(|| {
            Refusal::new(
                codes::UNAVAILABLE,
                format!("{kind} {id} has no registered endpoint"),
            )
        })?;
        let mut channels = self.channels.lock().expect("channel lock");
        if let Some(c) = channels.get(&id) {
            return Ok(c.clone());
        }
        let ch = self
            .tls
            .channel(&endpoint, &id, timeout)
            .map_err(|e| Refusal::new(codes::INTERNAL, e.to_string()))?;
        channels.insert(id, ch.clone());
        Ok(ch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are what the message log has always recorded.
    #[test]
    fn verification_names_are_stable() {
        let of = |v: VerifyError| Verification::of_signature(&envelope::OpenError::Signature(v));
        let cases = [
            (Verification::Ok, "ok"),
            (of(VerifyError::Malformed("x".into())), "malformed"),
            (
                Verification::of_signature(&envelope::OpenError::Malformed("x".into())),
                "malformed",
            ),
            (of(VerifyError::BadSignature("x".into())), "bad-signature"),
            (of(VerifyError::Untrusted("x".into())), "untrusted"),
            (
                of(VerifyError::RevocationUnknown("x".into())),
                "revocation-unknown",
            ),
            (Verification::SenderMismatch, "sender-mismatch"),
            (Verification::Client("revoked"), "client-revoked"),
        ];
        for (v, name) in cases {
            assert_eq!(v.to_string(), name, "{v:?}");
        }
    }
}
