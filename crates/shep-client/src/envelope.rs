//! Envelopes: the signing input, sealing (encode + sign) and opening (decode + verify).

use std::path::Path;
use std::sync::Arc;

use egov_pki::verify::{Usage, VerifyOptions};
use egov_pki::{CertInfo, PrivateKey, Verifier};
use egov_proto::shep::v1::{Envelope, MessageType, RequestInfo, ResponseInfo, SenderInfo, Status};
use prost::Message;
use time::OffsetDateTime;

/// Room for an envelope's headers, routing and CMS signature (with its certificates)
/// around the payload: a gRPC message carrying an envelope is at most the payload limit
/// plus this.
pub const ENVELOPE_OVERHEAD: usize = 256 * 1024;

/// Domain tag of the transport signature.
pub const SIGNING_TAG: &[u8] = b"EGOV-SHEP-ENVELOPE-V1\n";

/// The status codes of the interface (the table is in `docs/shep-interface.md`).
pub mod codes {
    /// Processed successfully (sync).
    pub const SUCCESS: &str = "SCSS001";
    /// Accepted for delivery into the recipient's inbox (async).
    pub const ACCEPTED: &str = "SCSS002";
    /// The envelope or its header cannot be decoded, or required fields are missing.
    pub const MALFORMED: &str = "SE001";
    /// The transport signature does not verify over the header and payload.
    pub const BAD_SIGNATURE: &str = "SE002";
    /// The sender is not a registered information system.
    pub const UNKNOWN_SENDER: &str = "SE003";
    /// The sender's certificate is revoked, expired, untrusted or not a signing certificate.
    pub const CERTIFICATE_REJECTED: &str = "SE004";
    /// The sender may not call this service.
    pub const ACCESS_DENIED: &str = "SE005";
    /// No such service.
    pub const UNKNOWN_SERVICE: &str = "SE006";
    /// No such region (routeId) for this service.
    pub const UNKNOWN_REGION: &str = "SE007";
    /// messageDate is outside the allowed clock skew.
    pub const STALE_MESSAGE: &str = "SE008";
    /// This messageId was already received (replay).
    pub const DUPLICATE: &str = "SE009";
    /// The payload exceeds the service's limit.
    pub const TOO_LARGE: &str = "SE010";
    /// The recipient cannot be reached.
    pub const UNAVAILABLE: &str = "SE011";
    /// The recipient did not answer within the service's deadline.
    pub const TIMEOUT: &str = "SE012";
    /// The recipient's answer is not correctly signed.
    pub const BAD_RESPONSE: &str = "SE013";
    /// The gateway failed internally.
    pub const INTERNAL: &str = "SE014";
    /// The certificate that signed is not the sender's (senderId mismatch).
    pub const SENDER_MISMATCH: &str = "SE015";
    /// The recipient processed the request and answered with a business error.
    pub const BUSINESS_ERROR: &str = "SE016";
    /// The sender's certificate status cannot be established now (the CA's OCSP
    /// unreachable and no current CRL): transient, send again later.
    pub const REVOCATION_UNKNOWN: &str = "SE017";

    /// Whether a refusal may pass if the same message is sent again later (the next hop
    /// or the CA unreachable, a timeout, a gateway failure).
    pub fn is_transient(code: &str) -> bool {
        [UNAVAILABLE, TIMEOUT, INTERNAL, REVOCATION_UNKNOWN].contains(&code)
    }

    /// Whether a code means success.
    pub fn is_success(code: &str) -> bool {
        code.starts_with("SCSS")
    }
}

/// The bytes the transport signature covers.
pub fn signing_input(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(SIGNING_TAG.len() + 4 + header.len() + payload.len());
    v.extend_from_slice(SIGNING_TAG);
    v.extend_from_slice(&(header.len() as u32).to_be_bytes());
    v.extend_from_slice(header);
    v.extend_from_slice(payload);
    v
}

/// A timestamp for the proto.
pub fn timestamp(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// Back from the proto (None when out of range).
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.seconds)
        .ok()
        .map(|d| d + time::Duration::nanoseconds(i64::from(t.nanos)))
}

/// An information system's signing identity.
#[derive(Debug)]
pub struct SystemSigner {
    /// The system id (certificate CN, senderId).
    pub system_id: String,
    key: PrivateKey,
    cert: CertInfo,
}

/// Sealing and opening errors.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not decodable or incomplete.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// The signature or the signer's certificate was rejected.
    #[error("signature rejected: {0}")]
    Signature(#[from] egov_pki::VerifyError),
    /// Signed by another system than the one the header names.
    #[error("signed by {signer:?}, but the header says {claimed:?}")]
    SenderMismatch {
        /// CN of the signing certificate.
        signer: String,
        /// senderId / responderId of the header.
        claimed: String,
    },
    /// Loading keys or signing failed.
    #[error("{0}")]
    Pki(#[from] egov_pki::Error),
}

impl OpenError {
    /// Whether opening may succeed later: the signer's certificate status could not be
    /// established now.
    pub fn is_transient(&self) -> bool {
        matches!(self, OpenError::Signature(v) if v.is_transient())
    }
}

impl SystemSigner {
    /// Loads `system_id`'s transport-signing identity from a test PKI folder.
    pub fn load(pki_dir: &Path, system_id: &str) -> Result<Self, OpenError> {
        let d = pki_dir.join("systems");
        let read = |p: std::path::PathBuf| {
            std::fs::read_to_string(&p)
                .map_err(|e| OpenError::Malformed(format!("{}: {e}", p.display())))
        };
        Self::from_pem(
            system_id,
            &read(d.join(format!("{system_id}.sign.key.pem")))?,
            &read(d.join(format!("{system_id}.sign.cert.pem")))?,
        )
    }

    /// A signer from PEM texts.
    pub fn from_pem(system_id: &str, key_pem: &str, cert_pem: &str) -> Result<Self, OpenError> {
        let key = PrivateKey::from_pem(key_pem)?;
        let cert = CertInfo::from_pem(cert_pem)?;
        if key.public_key_raw() != cert.public_key_raw() {
            return Err(OpenError::Malformed(
                "the key does not belong to the certificate".into(),
            ));
        }
        Ok(SystemSigner {
            system_id: system_id.to_string(),
            key,
            cert,
        })
    }

    /// The certificate.
    pub fn cert(&self) -> &CertInfo {
        &self.cert
    }

    /// Signs encoded header bytes and a payload into an envelope.
    pub fn seal_bytes(&self, header: Vec<u8>, payload: Vec<u8>) -> Result<Envelope, OpenError> {
        let sig = egov_pki::cms::sign(
            &signing_input(&header, &payload),
            &self.key,
            &self.cert,
            &[],
            true,
            OffsetDateTime::now_utc(),
        )?;
        Ok(Envelope {
            header,
            payload,
            signature: sig,
        })
    }

    /// A detached CMS signature over `data` with the system's transport-signing key (the
    /// gateway's signed message-log heads).
    pub fn sign_detached(&self, data: &[u8]) -> Result<Vec<u8>, OpenError> {
        Ok(egov_pki::cms::sign(
            data,
            &self.key,
            &self.cert,
            &[],
            true,
            OffsetDateTime::now_utc(),
        )?)
    }

    /// A new request header from this system: fresh messageId, messageDate now, the
    /// certificate serial as the credentials reference.
    pub fn request_info(
        &self,
        service_id: &str,
        message_type: MessageType,
        route_id: &str,
        correlation_id: &str,
    ) -> RequestInfo {
        let message_id = uuid::Uuid::new_v4().to_string();
        RequestInfo {
            correlation_id: if correlation_id.is_empty() {
                message_id.clone()
            } else {
                correlation_id.to_string()
            },
            message_id,
            service_id: service_id.to_string(),
            message_type: message_type as i32,
            route_id: route_id.to_string(),
            message_date: Some(timestamp(OffsetDateTime::now_utc())),
            sender: Some(SenderInfo {
                sender_id: self.system_id.clone(),
                password: self.cert.serial_hex.clone(),
            }),
            properties: vec![],
            session_id: String::new(),
        }
    }

    /// Seals a request.
    pub fn seal_request(
        &self,
        info: &RequestInfo,
        payload: Vec<u8>,
    ) -> Result<Envelope, OpenError> {
        self.seal_bytes(info.encode_to_vec(), payload)
    }

    /// Seals a response made by this system.
    pub fn seal_response(
        &self,
        info: &ResponseInfo,
        payload: Vec<u8>,
    ) -> Result<Envelope, OpenError> {
        self.seal_bytes(info.encode_to_vec(), payload)
    }

    /// A response header from this system answering `request`: its correlationId is the
    /// request's messageId, which ties the answer to the request.
    pub fn response_info(&self, request: &RequestInfo, code: &str, message: &str) -> ResponseInfo {
        ResponseInfo {
            message_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: request.message_id.clone(),
            response_date: Some(timestamp(OffsetDateTime::now_utc())),
            status: Some(Status {
                code: code.to_string(),
                message: message.to_string(),
            }),
            session_id: request.session_id.clone(),
            responder_id: self.system_id.clone(),
            error_info: None,
            route: vec![],
        }
    }
}

/// A verified envelope.
#[derive(Debug, Clone)]
pub struct Opened<H> {
    /// The decoded header.
    pub header: H,
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// Who signed (the system certificate).
    pub signer: egov_pki::Signer,
}

fn verify_options() -> VerifyOptions {
    VerifyOptions {
        usage: Usage::Signing,
        ..Default::default()
    }
}

fn decode_header<H: Message + Default>(env: &Envelope) -> Result<H, OpenError> {
    if env.header.is_empty() {
        return Err(OpenError::Malformed("empty header".into()));
    }
    if env.signature.is_empty() {
        return Err(OpenError::Malformed("no signature".into()));
    }
    H::decode(env.header.as_slice()).map_err(|e| OpenError::Malformed(format!("header: {e}")))
}

/// Decodes a request header without verifying anything (the gateway decodes first to
/// know what to check).
pub fn decode_request(env: &Envelope) -> Result<RequestInfo, OpenError> {
    decode_header(env)
}

/// Verifies the transport signature of an envelope and returns the signer.
pub async fn verify_signature(
    env: &Envelope,
    verifier: &Verifier,
) -> Result<egov_pki::Signer, OpenError> {
    let input = signing_input(&env.header, &env.payload);
    Ok(verifier
        .verify_detached(&input, &env.signature, &verify_options())
        .await?)
}

fn check_sender(signer: &egov_pki::Signer, claimed: &str) -> Result<(), OpenError> {
    let cn = signer.identity.common_name.clone().unwrap_or_default();
    if cn != claimed {
        return Err(OpenError::SenderMismatch {
            signer: cn,
            claimed: claimed.to_string(),
        });
    }
    Ok(())
}

/// Decodes and verifies a request envelope; the signer must be the header's senderId.
pub async fn open_request(
    env: &Envelope,
    verifier: &Verifier,
) -> Result<Opened<RequestInfo>, OpenError> {
    let header: RequestInfo = decode_header(env)?;
    let signer = verify_signature(env, verifier).await?;
    let claimed = header
        .sender
        .as_ref()
        .map(|s| s.sender_id.clone())
        .unwrap_or_default();
    check_sender(&signer, &claimed)?;
    Ok(Opened {
        header,
        payload: env.payload.clone(),
        signer,
    })
}

/// Decodes and verifies a response envelope; the signer must be the header's responderId.
pub async fn open_response(
    env: &Envelope,
    verifier: &Verifier,
) -> Result<Opened<ResponseInfo>, OpenError> {
    let header: ResponseInfo = decode_header(env)?;
    let signer = verify_signature(env, verifier).await?;
    check_sender(&signer, &header.responder_id)?;
    Ok(Opened {
        header,
        payload: env.payload.clone(),
        signer,
    })
}

/// Where a verifier learns whether a certificate was revoked, and how long it trusts
/// what it learned.
#[derive(Debug, Clone)]
pub struct RevocationSources {
    /// The OCSP responder (the uc service).
    pub ocsp_url: Option<String>,
    /// The CRL distribution point; `None`: the one the checked certificate names.
    pub crl_url: Option<String>,
    /// How long an OCSP "good" answer is used at most: the bound on how long a
    /// revocation at the CA takes to reach this verifier.
    pub ocsp_max_age: std::time::Duration,
    /// Timeout of each OCSP request and CRL fetch (connecting included).
    pub timeout: std::time::Duration,
}

impl Default for RevocationSources {
    fn default() -> Self {
        RevocationSources {
            ocsp_url: None,
            crl_url: None,
            ocsp_max_age: std::time::Duration::from_secs(60),
            timeout: std::time::Duration::from_secs(3),
        }
    }
}

/// A verifier for transport signatures from a test PKI folder (root, issuing CA, CRL),
/// with OCSP when `ocsp_url` is given, fetching fresh CRLs from the distribution point
/// the certificates name.
pub fn pki_verifier(pki_dir: &Path, ocsp_url: Option<&str>) -> Result<Arc<Verifier>, OpenError> {
    pki_verifier_with(
        pki_dir,
        &RevocationSources {
            ocsp_url: ocsp_url.map(str::to_string),
            ..Default::default()
        },
    )
}

/// A verifier for transport signatures from a test PKI folder, learning revocation from
/// `sources`: OCSP first, the CRL (fetched fresh from its distribution point when OCSP
/// fails or the held one is past its nextUpdate) as the fallback.
pub fn pki_verifier_with(
    pki_dir: &Path,
    sources: &RevocationSources,
) -> Result<Arc<Verifier>, OpenError> {
    let pki = egov_pki::Trust::open(pki_dir)?;
    let mut v = pki
        .verifier()?
        .with_crl_fetcher(Arc::new(egov_pki::crl::Fetcher::new(
            sources.crl_url.clone(),
            sources.timeout,
        )));
    if let Some(url) = &sources.ocsp_url {
        v = v.with_ocsp(Arc::new(
            egov_pki::ocsp::Client::new(url, sources.timeout, time::Duration::minutes(10))
                .with_max_age(
                    time::Duration::try_from(sources.ocsp_max_age)
                        .unwrap_or(egov_pki::ocsp::DEFAULT_MAX_AGE),
                ),
        ));
    }
    Ok(Arc::new(v))
}
