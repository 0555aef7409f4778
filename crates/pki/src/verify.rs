//! The verifier of CMS signatures and certificates.
//!
//! It checks, each with its own [`VerifyError`]: the signature over the exact bytes, the
//! chain to a trusted root, the validity period at the signing time, the key usage, an
//! expected IIN, and revocation (OCSP when configured, falling back to CRLs).
//!
//! The CRLs it holds are kept fresh when it has a [`crl::Fetcher`]: when the held list
//! of an issuer is missing or past its nextUpdate, a refresh runs in the background
//! after a good OCSP answer; when OCSP fails, the verifier fetches before it falls back
//! (one fetch at a time, at most one per retry interval, within a timeout). A fetched
//! list is taken only when it verifies against the issuing CA, is current and is newer
//! than the one held; otherwise it is logged and ignored.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use der::Encode;
use egov_iin::Iin;
use sha2::Digest;
use time::OffsetDateTime;

use crate::cert::{CertInfo, Identity};
use crate::crl::{self, Crl, CrlError};
use crate::ocsp::{self, OcspError};
use crate::sig::SigError;
use crate::{cms, oids};

/// Why a signature or certificate was not accepted. [`VerifyError::reason`] gives the
/// stable name printed by `egovctl verify` and used in status codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a CMS signature, or a structurally broken one.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The signature does not match the bytes.
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    /// No chain to a trusted root.
    #[error("untrusted certificate: {0}")]
    Untrusted(String),
    /// A certificate of the chain had expired at the signing time.
    #[error("certificate {subject} expired at {not_after} (checked at {at})")]
    Expired {
        /// Subject of the expired certificate.
        subject: String,
        /// Its notAfter.
        not_after: OffsetDateTime,
        /// The time checked.
        at: OffsetDateTime,
    },
    /// A certificate of the chain was not yet valid at the signing time.
    #[error("certificate {subject} is not valid before {not_before} (checked at {at})")]
    NotYetValid {
        /// Subject.
        subject: String,
        /// Its notBefore.
        not_before: OffsetDateTime,
        /// The time checked.
        at: OffsetDateTime,
    },
    /// The signer's certificate is revoked.
    #[error("certificate {serial} was revoked at {at} ({source_name})")]
    Revoked {
        /// Serial, hex.
        serial: String,
        /// Revocation time.
        at: OffsetDateTime,
        /// Where it was learned: "ocsp" or "crl".
        source_name: &'static str,
    },
    /// The CRL given for the issuer is not usable (bad signature, wrong issuer).
    #[error("CRL not usable: {0}")]
    CrlInvalid(String),
    /// The CRL given for the issuer is past its nextUpdate.
    #[error("{0}")]
    CrlExpired(String),
    /// Revocation could not be determined and the caller requires it.
    #[error("revocation status unknown: {0}")]
    RevocationUnknown(String),
    /// The certificate's key usage does not allow this use.
    #[error("wrong key usage: {0}")]
    WrongUsage(String),
    /// Building the chain would take more than [`MAX_CHAIN_LENGTH`] certificates or more
    /// than [`MAX_ISSUER_CANDIDATES`] signature checks of candidate issuers.
    #[error("certificate chain refused: {0}")]
    ChainTooComplex(String),
    /// The IIN in the certificate is not the expected one.
    #[error("the certificate's IIN {found} is not the expected {expected}")]
    IinMismatch {
        /// The IIN the caller expected.
        expected: Iin,
        /// What the certificate holds ("none" when absent).
        found: String,
    },
}

impl VerifyError {
    /// The code a workstation answers when a signature made on the user's own client
    /// (NCALayer style) fails this check: a signature over other bytes, a certificate not
    /// of the test PKI, expired or not yet valid at the server's clock, revoked, of
    /// unknown status, without signing key usage; `iin_mismatch` names the certificate of
    /// another person (`SIGNER_NOT_EMPLOYEE` at the АРМ РШЭП, `SIGNER_NOT_OPERATOR` at
    /// АРМ ИС ЦОН).
    pub fn client_code(&self, iin_mismatch: &'static str) -> &'static str {
        use VerifyError as V;
        match self {
            V::Malformed(_) => "SIGNATURE_MALFORMED",
            V::BadSignature(_) => "SIGNATURE_MISMATCH",
            V::Untrusted(_) | V::ChainTooComplex(_) => "CERT_UNTRUSTED",
            V::Expired { .. } => "CERT_EXPIRED",
            V::NotYetValid { .. } => "CERT_NOT_YET_VALID",
            V::Revoked { .. } => "CERT_REVOKED",
            V::CrlInvalid(_) | V::CrlExpired(_) | V::RevocationUnknown(_) => "CERT_STATUS_UNKNOWN",
            V::WrongUsage(_) => "CERT_WRONG_USAGE",
            V::IinMismatch { .. } => iin_mismatch,
        }
    }

    /// The stable reason name.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "malformed",
            VerifyError::BadSignature(_) => "bad-signature",
            VerifyError::Untrusted(_) => "untrusted",
            VerifyError::Expired { .. } => "expired",
            VerifyError::NotYetValid { .. } => "not-yet-valid",
            VerifyError::Revoked { .. } => "revoked",
            VerifyError::CrlInvalid(_) => "crl-invalid",
            VerifyError::CrlExpired(_) => "crl-expired",
            VerifyError::RevocationUnknown(_) => "revocation-unknown",
            VerifyError::WrongUsage(_) => "wrong-usage",
            VerifyError::ChainTooComplex(_) => "chain-too-complex",
            VerifyError::IinMismatch { .. } => "iin-mismatch",
        }
    }

    /// Whether the failure says nothing about the signature itself: the certificate's
    /// status could not be established now (the CA unreachable, and no current CRL).
    /// Asking again later can succeed; it must never become a final refusal.
    pub fn is_transient(&self) -> bool {
        matches!(self, VerifyError::RevocationUnknown(_))
    }
}

/// How revocation was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revocation {
    /// An OCSP answer said good.
    Ocsp,
    /// A current CRL of the issuer does not list it.
    Crl,
    /// Neither OCSP nor a CRL was configured.
    NotChecked,
}

/// What is required of the signer's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    /// Document or envelope signing: keyUsage nonRepudiation, extKeyUsage emailProtection.
    #[default]
    Signing,
    /// Any key usage (certificate checks only).
    Any,
}

/// Per-call options.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The IIN the signer must have.
    pub expected_iin: Option<Iin>,
    /// Check validity at this time instead of the verifier's clock (for a document
    /// archived earlier, the caller's own record of when it arrived). The signer's
    /// signingTime attribute is never trusted for it: a backdated one would pass an
    /// expired or not yet revoked certificate.
    pub at: Option<OffsetDateTime>,
    /// Fail when revocation cannot be established.
    pub require_revocation: bool,
    /// Required key usage.
    pub usage: Usage,
}

/// The result of a successful verification.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The signer's identity (IIN, name, organisation BIN).
    pub identity: Identity,
    /// The signer's certificate.
    pub cert: CertInfo,
    /// The chain, signer first, root last.
    pub chain: Vec<CertInfo>,
    /// The signingTime attribute the signer claims (when it has none: `checked_at`).
    pub signing_time: OffsetDateTime,
    /// The time the certificates' validity was checked at: the given time, or the
    /// verifier's clock.
    pub checked_at: OffsetDateTime,
    /// How revocation was established.
    pub revocation: Revocation,
    /// The signed content (the attached content, or the given bytes).
    pub content: Vec<u8>,
}

/// How far a signer's clock may run ahead of the verifier's: a signingTime later than this
/// is refused.
pub const MAX_CLOCK_AHEAD: time::Duration = time::Duration::minutes(5);

/// Verifies signatures against trust anchors, with optional CRLs and OCSP.
///
/// Chains already built to a trust anchor are cached by the leaf certificate's hash
/// (bounded), so a busy verifier checks the CA signatures of a sender's chain once;
/// validity, usage, IIN and revocation are still checked on every call.
///
/// Clones share the held CRLs (a list one clone fetches serves them all); the builder
/// methods ([`Verifier::with_crls`]) give the result a store of its own.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    roots: Vec<CertInfo>,
    intermediates: Vec<CertInfo>,
    crls: Arc<RwLock<Vec<Arc<Crl>>>>,
    ocsp: Option<Arc<ocsp::Client>>,
    fetcher: Option<Arc<crl::Fetcher>>,
    chains: Arc<std::sync::Mutex<HashMap<[u8; 32], Vec<CertInfo>>>>,
}

/// Largest number of cached chains; the cache is emptied when it is full.
const CHAIN_CACHE_MAX: usize = 10_000;

/// Most certificates in a chain, the leaf and the trust anchor included.
pub const MAX_CHAIN_LENGTH: usize = 8;

/// Most signature checks of candidate issuers while building one chain: a signature that
/// brings a pile of certificates with the issuer's name costs at most this many.
pub const MAX_ISSUER_CANDIDATES: usize = 16;

/// Verifies that `cert` was signed by `issuer`'s key.
pub fn cert_signed_by(cert: &CertInfo, issuer: &CertInfo) -> Result<(), SigError> {
    let tbs = cert
        .cert
        .tbs_certificate
        .to_der()
        .map_err(|e| SigError::Unsupported(e.to_string()))?;
    let sig = cert.cert.signature.as_bytes().ok_or(SigError::Invalid)?;
    crate::sig::verify(
        &cert.cert.signature_algorithm.oid,
        None,
        &issuer.cert.tbs_certificate.subject_public_key_info,
        &tbs,
        sig,
    )
}

impl Verifier {
    /// A verifier trusting `roots`. Self-signed certificates only are accepted as roots.
    pub fn new(roots: Vec<CertInfo>) -> Self {
        Verifier {
            roots,
            ..Default::default()
        }
    }

    /// Adds CA certificates (trusted or intermediate): a self-signed one becomes a trust
    /// anchor, others are intermediates that must chain to one.
    pub fn with_cas(mut self, cas: Vec<CertInfo>) -> Self {
        for c in cas {
            if c.subject() == c.issuer() && cert_signed_by(&c, &c).is_ok() {
                self.roots.push(c);
            } else {
                self.intermediates.push(c);
            }
        }
        self.chains = Arc::default();
        self
    }

    /// Adds CRLs (their signatures are checked when used).
    pub fn with_crls(mut self, crls: Vec<Crl>) -> Self {
        let mut held = self.crls();
        held.extend(crls.into_iter().map(Arc::new));
        self.crls = Arc::new(RwLock::new(held));
        self
    }

    /// Fetches CRLs from their distribution point with `fetcher` (see the module's
    /// opening comment).
    pub fn with_crl_fetcher(mut self, fetcher: Arc<crl::Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// The CRLs held now.
    pub fn crls(&self) -> Vec<Arc<Crl>> {
        self.crls.read().expect("CRL lock").clone()
    }

    /// The newest held CRL of `issuer` whose signature verifies (current or not).
    fn held_crl(&self, issuer: &CertInfo) -> Option<Arc<Crl>> {
        let far = OffsetDateTime::UNIX_EPOCH;
        self.crls
            .read()
            .expect("CRL lock")
            .iter()
            .filter(|c| c.is_from(issuer))
            .filter(|c| !matches!(c.check(issuer, far), Err(CrlError::WrongIssuer(_))))
            .max_by(|a, b| {
                if a.is_newer_than(b) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                }
            })
            .cloned()
    }

    /// Whether no held CRL naming `issuer` is before its nextUpdate at `now` (cheap: no
    /// signature is checked here; a list is checked when it is used or replaced).
    fn crl_due(&self, issuer: &CertInfo, now: OffsetDateTime) -> bool {
        !self
            .crls
            .read()
            .expect("CRL lock")
            .iter()
            .any(|c| c.is_from(issuer) && c.next_update.is_some_and(|n| now < n))
    }

    /// Fetches `issuer`'s CRL from its distribution point (the fetcher's URL, else the
    /// one `cert` names) and takes it in place of the held one when it verifies against
    /// `issuer`, is current and is newer; otherwise the reason is logged and returned.
    pub async fn refresh_crl(
        &self,
        issuer: &CertInfo,
        cert: &CertInfo,
    ) -> Result<Arc<Crl>, crl::FetchError> {
        let Some(fetcher) = &self.fetcher else {
            return Err(crl::FetchError::NoDistributionPoint);
        };
        let now = OffsetDateTime::now_utc();
        let result = fetcher
            .fetch(
                issuer,
                cert,
                || self.held_crl(issuer).map(|c| (*c).clone()),
                now,
                |fresh| {
                    let mut held = self.crls.write().expect("CRL lock");
                    held.retain(|c| !c.is_from(issuer));
                    held.push(Arc::new(fresh.clone()));
                },
            )
            .await;
        match &result {
            Ok(c) => {
                metrics::counter!("egov_pki_crl_fetch_total", "result" => "taken").increment(1);
                tracing::info!(
                    issuer = %issuer.subject_string(),
                    this_update = %c.this_update,
                    next_update = ?c.next_update,
                    revoked = c.revoked.len(),
                    "took a fresh CRL from the distribution point"
                );
            }
            Err(crl::FetchError::TooSoon(_) | crl::FetchError::NoDistributionPoint) => {}
            Err(e) => {
                let label = match e {
                    crl::FetchError::Unreachable(_) => "unreachable",
                    _ => "ignored",
                };
                metrics::counter!("egov_pki_crl_fetch_total", "result" => label).increment(1);
                tracing::warn!(error = %e, issuer = %issuer.subject_string(), "fetched CRL not taken");
            }
        }
        result.map(Arc::new)
    }

    /// Starts [`Verifier::refresh_crl`] in the background (nothing waits for it).
    fn refresh_in_background(&self, issuer: &CertInfo, cert: &CertInfo) {
        if !self.fetcher.as_ref().is_some_and(|f| f.ready()) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (me, issuer, cert) = (self.clone(), issuer.clone(), cert.clone());
        rt.spawn(async move {
            let _ = me.refresh_crl(&issuer, &cert).await;
        });
    }

    /// Uses an OCSP responder, with a CRL fallback.
    pub fn with_ocsp(mut self, client: Arc<ocsp::Client>) -> Self {
        self.ocsp = Some(client);
        self
    }

    /// Replaces the CRLs (this verifier's alone: clones made before keep theirs).
    pub fn set_crls(&mut self, crls: Vec<Crl>) {
        self.crls = Arc::new(RwLock::new(crls.into_iter().map(Arc::new).collect()));
    }

    /// The trust anchors.
    pub fn roots(&self) -> &[CertInfo] {
        &self.roots
    }

    /// Verifies a detached signature over `data` (an attached signature is accepted too,
    /// when its content equals `data`).
    pub async fn verify_detached(
        &self,
        data: &[u8],
        signature: &[u8],
        opts: &VerifyOptions,
    ) -> Result<Signer, VerifyError> {
        let parsed = cms::parse(signature).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if let Some(c) = &parsed.content
            && c != data
        {
            return Err(VerifyError::BadSignature(
                "the signature's attached content differs from the given data".into(),
            ));
        }
        self.verify_parsed(parsed, data.to_vec(), opts).await
    }

    /// Verifies an attached signature and returns its content with the signer.
    pub async fn verify_attached(
        &self,
        signature: &[u8],
        opts: &VerifyOptions,
    ) -> Result<Signer, VerifyError> {
        let parsed = cms::parse(signature).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let content = parsed.content.clone().ok_or_else(|| {
            VerifyError::Malformed("the signature is detached: give the signed data".into())
        })?;
        self.verify_parsed(parsed, content, opts).await
    }

    async fn verify_parsed(
        &self,
        parsed: cms::Parsed,
        content: Vec<u8>,
        opts: &VerifyOptions,
    ) -> Result<Signer, VerifyError> {
        let sd = &parsed.signed_data;
        let mut infos = sd.signer_infos.0.iter();
        let si = infos
            .next()
            .ok_or_else(|| VerifyError::Malformed("no SignerInfo".into()))?;
        if infos.next().is_some() {
            return Err(VerifyError::Malformed("more than one signer".into()));
        }
        let signer_cert = find_signer_cert(si, &parsed.certificates, &self.intermediates)?;
        let digest_oid = si.digest_alg.oid;
        let digest = digest(&digest_oid, &content)?;
        let signed_bytes =
            match cms::signed_attrs_der(si).map_err(|e| VerifyError::Malformed(e.to_string()))? {
                Some(attrs) => {
                    let md = cms::attr_value(si, oids::MESSAGE_DIGEST)
                        .ok_or_else(|| {
                            VerifyError::Malformed("signed attributes without messageDigest".into())
                        })?
                        .decode_as::<der::asn1::OctetString>()
                        .map_err(|e| VerifyError::Malformed(format!("messageDigest: {e}")))?;
                    if md.as_bytes() != digest.as_slice() {
                        return Err(VerifyError::BadSignature(
                            "the message digest does not match the data".into(),
                        ));
                    }
                    let ct = cms::attr_value(si, oids::CONTENT_TYPE)
                        .ok_or_else(|| {
                            VerifyError::Malformed("signed attributes without contentType".into())
                        })?
                        .decode_as::<const_oid::ObjectIdentifier>()
                        .map_err(|e| VerifyError::Malformed(format!("contentType: {e}")))?;
                    if ct != sd.encap_content_info.econtent_type {
                        return Err(VerifyError::BadSignature(
                            "contentType attribute mismatch".into(),
                        ));
                    }
                    attrs
                }
                None => content.clone(),
            };
        crate::sig::verify(
            &si.signature_algorithm.oid,
            Some(&digest_oid),
            &signer_cert.cert.tbs_certificate.subject_public_key_info,
            &signed_bytes,
            si.signature.as_bytes(),
        )
        .map_err(|e| match e {
            SigError::Invalid => VerifyError::BadSignature(
                "the signature value does not verify with the signer's key".into(),
            ),
            SigError::Unsupported(m) => VerifyError::Malformed(m),
        })?;
        let now = OffsetDateTime::now_utc();
        let checked_at = opts.at.unwrap_or(now);
        let claimed = match cms::attr_value(si, oids::SIGNING_TIME) {
            Some(v) => Some(crate::to_offset(
                v.to_der()
                    .and_then(|d| <x509_cert::time::Time as der::Decode>::from_der(&d))
                    .map_err(|e| VerifyError::Malformed(format!("signingTime: {e}")))?,
            )),
            None => None,
        };
        // ahead of both the wall clock and the time checked at: a system on a clock moved
        // forward (tests, demonstrations) checks at its own time and signs at it too
        let latest = now.max(checked_at);
        if let Some(t) = claimed
            && t > latest + MAX_CLOCK_AHEAD
        {
            return Err(VerifyError::Malformed(format!(
                "signingTime {t} lies ahead of the verifier's clock ({latest})"
            )));
        }
        let (chain, revocation) = self
            .check_chain(&signer_cert, &parsed.certificates, checked_at, opts)
            .await?;
        Ok(Signer {
            identity: signer_cert.identity.clone(),
            cert: signer_cert,
            chain,
            signing_time: claimed.unwrap_or(checked_at),
            checked_at,
            revocation,
            content,
        })
    }

    /// Checks a certificate alone: chain, validity at `at`, usage, IIN and revocation.
    pub async fn check_certificate(
        &self,
        cert: &CertInfo,
        extra: &[CertInfo],
        at: OffsetDateTime,
        opts: &VerifyOptions,
    ) -> Result<(Vec<CertInfo>, Revocation), VerifyError> {
        self.check_chain(cert, extra, at, opts).await
    }

    /// The chain of `leaf` to a trust anchor through `extra` (the certificates a
    /// signature carries) and the verifier's intermediates, checked at `at`.
    async fn check_chain(
        &self,
        leaf: &CertInfo,
        extra: &[CertInfo],
        at: OffsetDateTime,
        opts: &VerifyOptions,
    ) -> Result<(Vec<CertInfo>, Revocation), VerifyError> {
        let chain = self.build_chain(leaf, extra)?;
        for c in &chain {
            if at < c.not_before {
                return Err(VerifyError::NotYetValid {
                    subject: c.subject_string(),
                    not_before: c.not_before,
                    at,
                });
            }
            if at > c.not_after {
                return Err(VerifyError::Expired {
                    subject: c.subject_string(),
                    not_after: c.not_after,
                    at,
                });
            }
        }
        if opts.usage == Usage::Signing && !leaf.allows_document_signing() {
            return Err(VerifyError::WrongUsage(format!(
                "certificate {} is not a signing certificate (needs keyUsage nonRepudiation and extKeyUsage emailProtection)",
                leaf.serial_hex
            )));
        }
        if let Some(expected) = opts.expected_iin
            && leaf.identity.iin != Some(expected)
        {
            return Err(VerifyError::IinMismatch {
                expected,
                found: leaf
                    .identity
                    .iin
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "none".into()),
            });
        }
        let issuer = chain.get(1).unwrap_or(&chain[0]);
        let revocation = self.check_revocation(leaf, issuer, opts).await?;
        Ok((chain, revocation))
    }

    async fn check_revocation(
        &self,
        cert: &CertInfo,
        issuer: &CertInfo,
        opts: &VerifyOptions,
    ) -> Result<Revocation, VerifyError> {
        let now = OffsetDateTime::now_utc();
        let mut ocsp_failure = None;
        if let Some(client) = &self.ocsp {
            match client.status(cert, issuer, now).await {
                Ok(a) => {
                    if self.crl_due(issuer, now) {
                        // the fallback must be current when OCSP fails next
                        self.refresh_in_background(issuer, cert);
                    }
                    match a.status {
                        ocsp::Status::Good => return Ok(Revocation::Ocsp),
                        ocsp::Status::Revoked { at, .. } => {
                            return Err(VerifyError::Revoked {
                                serial: cert.serial_hex.clone(),
                                at,
                                source_name: "ocsp",
                            });
                        }
                        ocsp::Status::Unknown => {
                            return Err(VerifyError::Untrusted(format!(
                                "the OCSP responder does not know certificate {}",
                                cert.serial_hex
                            )));
                        }
                    }
                }
                Err(
                    e @ (OcspError::Unreachable(_)
                    | OcspError::ResponderStatus(_)
                    | OcspError::Stale(_)
                    | OcspError::Invalid(_)),
                ) => {
                    tracing::warn!(error = %e, "OCSP failed, falling back to the CRL");
                    ocsp_failure = Some(e.to_string());
                }
            }
        }
        if self.fetcher.is_some() && (ocsp_failure.is_some() || self.crl_due(issuer, now)) {
            // OCSP failed, or there is none and the held CRL is past its nextUpdate: a
            // fresh list first (one fetch at a time, within the fetcher's timeout and
            // retry interval; a refusal of the fetched list keeps the held one)
            let _ = self.refresh_crl(issuer, cert).await;
        }
        let all = self.crls();
        let crls: Vec<&Crl> = all
            .iter()
            .filter(|c| c.is_from(issuer))
            .map(|c| c.as_ref())
            .collect();
        if crls.is_empty() {
            if all.is_empty() && self.ocsp.is_none() && !opts.require_revocation {
                return Ok(Revocation::NotChecked);
            }
            if !all.is_empty() && ocsp_failure.is_none() && self.ocsp.is_none() {
                return Err(VerifyError::CrlInvalid(format!(
                    "no CRL given is issued by {}",
                    issuer.subject_string()
                )));
            }
            if opts.require_revocation || ocsp_failure.is_some() {
                return Err(VerifyError::RevocationUnknown(ocsp_failure.unwrap_or_else(
                    || "no OCSP responder and no CRL of the issuer".into(),
                )));
            }
            return Ok(Revocation::NotChecked);
        }
        let mut last_err = None;
        for crl in crls {
            let checked = crl.check(issuer, now);
            if let (Err(CrlError::Expired(why)), Some(ocsp)) = (&checked, ocsp_failure.as_ref()) {
                // OCSP failed and the CRL is past its nextUpdate: the status is unknown
                // for now, not bad
                return Err(VerifyError::RevocationUnknown(format!(
                    "OCSP failed ({ocsp}) and the CRL is out of date ({why})"
                )));
            }
            match checked {
                Ok(()) => {
                    if let Some(at) = crl.revoked_at(&cert.serial_hex) {
                        return Err(VerifyError::Revoked {
                            serial: cert.serial_hex.clone(),
                            at,
                            source_name: "crl",
                        });
                    }
                    return Ok(Revocation::Crl);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(match last_err.expect("at least one CRL") {
            e @ CrlError::Expired(_) => VerifyError::CrlExpired(e.to_string()),
            e => VerifyError::CrlInvalid(e.to_string()),
        })
    }

    fn build_chain(
        &self,
        leaf: &CertInfo,
        extra: &[CertInfo],
    ) -> Result<Vec<CertInfo>, VerifyError> {
        let key: [u8; 32] = sha2::Sha256::digest(&leaf.der).into();
        if let Some(chain) = self.chains.lock().expect("chain cache").get(&key) {
            return Ok(chain.clone());
        }
        let chain = self.build_chain_uncached(leaf, extra)?;
        let mut cache = self.chains.lock().expect("chain cache");
        if cache.len() >= CHAIN_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, chain.clone());
        Ok(chain)
    }

    /// The chain built by trying issuers among the roots, `extra`, then the intermediates
    /// (nothing is copied to try them: a chain found is cached).
    fn build_chain_uncached(
        &self,
        leaf: &CertInfo,
        extra: &[CertInfo],
    ) -> Result<Vec<CertInfo>, VerifyError> {
        let mut chain = vec![leaf.clone()];
        let mut cur = leaf.clone();
        let mut tried = 0usize;
        loop {
            if self.roots.iter().any(|r| r.der == cur.der) {
                return Ok(chain);
            }
            if chain.len() >= MAX_CHAIN_LENGTH {
                return Err(VerifyError::ChainTooComplex(format!(
                    "no trust anchor within {MAX_CHAIN_LENGTH} certificates"
                )));
            }
            let mut issuer = None;
            for c in self
                .roots
                .iter()
                .chain(extra.iter())
                .chain(self.intermediates.iter())
            {
                if c.subject() != cur.issuer() || c.der == cur.der {
                    continue;
                }
                tried += 1;
                if tried > MAX_ISSUER_CANDIDATES {
                    return Err(VerifyError::ChainTooComplex(format!(
                        "more than {MAX_ISSUER_CANDIDATES} candidate issuers tried for {}",
                        leaf.subject_string()
                    )));
                }
                if cert_signed_by(&cur, c).is_ok() {
                    issuer = Some(c);
                    break;
                }
            }
            let Some(issuer) = issuer else {
                return Err(VerifyError::Untrusted(format!(
                    "no trusted issuer found for {} (issuer {})",
                    cur.subject_string(),
                    cur.issuer()
                )));
            };
            if !issuer.allows_cert_signing() {
                return Err(VerifyError::Untrusted(format!(
                    "{} is not a CA allowed to sign certificates",
                    issuer.subject_string()
                )));
            }
            chain.push(issuer.clone());
            cur = issuer.clone();
        }
    }
}

fn find_signer_cert(
    si: &cms::SignerInfoRef,
    embedded: &[CertInfo],
    extra: &[CertInfo],
) -> Result<CertInfo, VerifyError> {
    use ::cms::signed_data::SignerIdentifier;
    let mut all = embedded.iter().chain(extra.iter());
    let found = match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => all
            .find(|c| {
                c.issuer() == &ias.issuer
                    && c.cert.tbs_certificate.serial_number == ias.serial_number
            })
            .cloned(),
        SignerIdentifier::SubjectKeyIdentifier(ski) => all
            .find(|c| {
                c.cert.tbs_certificate.extensions.iter().flatten().any(|e| {
                    e.extn_id == oids::EXT_SUBJECT_KEY_ID
                        && e.extn_value.as_bytes().ends_with(ski.0.as_bytes())
                })
            })
            .cloned(),
    };
    found.ok_or_else(|| {
        VerifyError::Untrusted(
            "the signer's certificate is neither in the signature nor known".into(),
        )
    })
}

fn digest(oid: &const_oid::ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, VerifyError> {
    Ok(match oid {
        o if *o == oids::SHA256 => sha2::Sha256::digest(data).to_vec(),
        o if *o == oids::SHA384 => sha2::Sha384::digest(data).to_vec(),
        o if *o == oids::SHA512 => sha2::Sha512::digest(data).to_vec(),
        o => {
            return Err(VerifyError::Malformed(format!(
                "unsupported digest algorithm {o}"
            )));
        }
    })
}
