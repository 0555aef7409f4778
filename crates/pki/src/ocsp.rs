//! OCSP (RFC 6960): the responder side (build a signed answer to a request) and the
//! client side (build a request, check an answer, cache answers for their validity).

use std::collections::HashMap;
use std::sync::Mutex;

use der::asn1::{Null, OctetString};
use der::{Decode, Encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use time::{Duration, OffsetDateTime};
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, Request, ResponderId, ResponseData, RevokedInfo, SingleResponse,
    TbsRequest, Version,
};

use crate::authority::Authority;
use crate::cert::{CertInfo, serial_hex};
use crate::{Error, Result, oids};

/// The status of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not revoked.
    Good,
    /// Revoked at that time with that RFC 5280 reason code.
    Revoked {
        /// When.
        at: OffsetDateTime,
        /// Reason code.
        reason: u8,
    },
    /// The responder does not know this certificate.
    Unknown,
}

/// A checked OCSP answer for one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: Status,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate, when given.
    pub next_update: Option<OffsetDateTime>,
}

/// Why an OCSP answer could not be had or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcspError {
    /// Transport failure or non-200 answer.
    #[error("OCSP responder unreachable: {0}")]
    Unreachable(String),
    /// The responder answered with an error status.
    #[error("OCSP responder answered {0}")]
    ResponderStatus(String),
    /// The answer is malformed, not for this certificate, or badly signed.
    #[error("invalid OCSP answer: {0}")]
    Invalid(String),
    /// The answer is out of its validity window.
    #[error("stale OCSP answer: {0}")]
    Stale(String),
}

fn hash_alg(oid: const_oid::ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: Some(der::asn1::Any::from(Null)),
    }
}

fn name_key_hashes(
    issuer: &CertInfo,
    alg: &const_oid::ObjectIdentifier,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let name = issuer.subject().to_der().ok()?;
    let key = issuer.public_key_raw();
    if *alg == oids::SHA1 {
        Some((Sha1::digest(&name).to_vec(), Sha1::digest(key).to_vec()))
    } else if *alg == oids::SHA256 {
        Some((Sha256::digest(&name).to_vec(), Sha256::digest(key).to_vec()))
    } else {
        None
    }
}

/// The CertID (SHA-1, as OpenSSL sends by default) of `cert` issued by `issuer`.
pub fn cert_id(cert: &CertInfo, issuer: &CertInfo) -> Result<CertId> {
    let (n, k) = name_key_hashes(issuer, &oids::SHA1).expect("sha1 is supported");
    let enc = |e: der::Error| Error::Invalid(e.to_string());
    Ok(CertId {
        hash_algorithm: hash_alg(oids::SHA1),
        issuer_name_hash: OctetString::new(n).map_err(enc)?,
        issuer_key_hash: OctetString::new(k).map_err(enc)?,
        serial_number: cert.cert.tbs_certificate.serial_number.clone(),
    })
}

/// A DER OCSP request for one certificate (no nonce: answers are cacheable).
pub fn request_der(cert: &CertInfo, issuer: &CertInfo) -> Result<Vec<u8>> {
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id(cert, issuer)?,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    req.to_der().map_err(|e| Error::Invalid(e.to_string()))
}

fn gtime(t: OffsetDateTime) -> Result<OcspGeneralizedTime> {
    Ok(OcspGeneralizedTime(
        der::asn1::GeneralizedTime::from_date_time(crate::der_time(t)?),
    ))
}

/// Answers a DER OCSP request as `authority` (which signs the answer itself, as an
/// authorised responder). `lookup` gives the status of a serial number (hex). Garbage
/// in gets a `malformedRequest` answer; the output is always a DER OCSPResponse.
pub fn respond(
    request: &[u8],
    authority: &Authority,
    now: OffsetDateTime,
    validity: Duration,
    lookup: impl Fn(&str) -> Status,
) -> Vec<u8> {
    let simple = |s: OcspResponse| s.to_der().unwrap_or_default();
    let Ok(req) = OcspRequest::from_der(request) else {
        return simple(OcspResponse::malformed_request());
    };
    if req.tbs_request.request_list.is_empty() {
        return simple(OcspResponse::malformed_request());
    }
    match build_response(&req, authority, now, validity, lookup) {
        Ok(der) => der,
        Err(e) => {
            tracing::error!(error = %e, "building OCSP response failed");
            simple(OcspResponse::internal_error())
        }
    }
}

fn build_response(
    req: &OcspRequest,
    authority: &Authority,
    now: OffsetDateTime,
    validity: Duration,
    lookup: impl Fn(&str) -> Status,
) -> Result<Vec<u8>> {
    let enc = |e: der::Error| Error::Invalid(e.to_string());
    let mut responses = Vec::new();
    for r in &req.tbs_request.request_list {
        let id = &r.req_cert;
        let ours =
            name_key_hashes(&authority.cert, &id.hash_algorithm.oid).is_some_and(|(n, k)| {
                n == id.issuer_name_hash.as_bytes() && k == id.issuer_key_hash.as_bytes()
            });
        let status = if ours {
            lookup(&serial_hex(id.serial_number.as_bytes()))
        } else {
            Status::Unknown
        };
        let cert_status = match status {
            Status::Good => CertStatus::good(),
            Status::Unknown => CertStatus::unknown(),
            Status::Revoked { at, reason } => CertStatus::revoked(RevokedInfo {
                revocation_time: gtime(at)?,
                revocation_reason: x509_cert::ext::pkix::CrlReason::from_der(&[0x0a, 0x01, reason])
                    .ok(),
            }),
        };
        responses.push(SingleResponse {
            cert_id: id.clone(),
            cert_status,
            this_update: gtime(now)?,
            next_update: Some(gtime(now + validity)?),
            single_extensions: None,
        });
    }
    let nonce: Vec<_> = req
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == oids::OCSP_NONCE)
        .cloned()
        .collect();
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(
            OctetString::new(Sha1::digest(authority.cert.public_key_raw()).to_vec())
                .map_err(enc)?,
        ),
        produced_at: gtime(now)?,
        responses,
        response_extensions: if nonce.is_empty() { None } else { Some(nonce) },
    };
    let sig = authority.key.sign(&tbs.to_der().map_err(enc)?)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: authority.key.signature_algorithm(),
        signature: der::asn1::BitString::from_bytes(&sig).map_err(enc)?,
        certs: None,
    };
    OcspResponse::successful(basic)
        .map_err(enc)?
        .to_der()
        .map_err(enc)
}

/// Checks a DER OCSP response for `cert` issued by `issuer` at time `now`: the
/// responder's signature (the issuer itself, or a delegated responder certificate with
/// id-kp-OCSPSigning issued by it), the CertID, and the validity window.
pub fn check_response(
    der: &[u8],
    cert: &CertInfo,
    issuer: &CertInfo,
    now: OffsetDateTime,
) -> Result<Answer, OcspError> {
    let inv = |m: String| OcspError::Invalid(m);
    let resp = OcspResponse::from_der(der).map_err(|e| inv(format!("not an OCSPResponse: {e}")))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(OcspError::ResponderStatus(format!(
            "{:?}",
            resp.response_status
        )));
    }
    let bytes = resp
        .response_bytes
        .ok_or_else(|| inv("no response bytes".into()))?;
    if bytes.response_type != oids::OCSP_BASIC {
        return Err(inv(format!(
            "response type {} is not basic",
            bytes.response_type
        )));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| inv(format!("bad BasicOCSPResponse: {e}")))?;
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| inv(e.to_string()))?;
    let sig = basic
        .signature
        .as_bytes()
        .ok_or_else(|| inv("signature has unused bits".into()))?;
    // candidate signers: the issuer, then delegated responders it issued
    let mut signers = vec![issuer.clone()];
    for c in basic.certs.iter().flatten() {
        let Ok(info) = CertInfo::from_cert(c.clone()) else {
            continue;
        };
        let delegated = info
            .ext_key_usage
            .as_ref()
            .is_some_and(|e| e.contains(&oids::KP_OCSP_SIGNING));
        if delegated && crate::verify::cert_signed_by(&info, issuer).is_ok() {
            signers.push(info);
        }
    }
    let signer = signers.iter().find(|s| {
        crate::sig::verify(
            &basic.signature_algorithm.oid,
            None,
            &s.cert.tbs_certificate.subject_public_key_info,
            &tbs,
            sig,
        )
        .is_ok()
    });
    if signer.is_none() {
        return Err(inv(
            "not signed by the issuer or its delegated responder".into()
        ));
    }
    let serial = &cert.cert.tbs_certificate.serial_number;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|s| {
            &s.cert_id.serial_number == serial
                && name_key_hashes(issuer, &s.cert_id.hash_algorithm.oid).is_some_and(|(n, k)| {
                    n == s.cert_id.issuer_name_hash.as_bytes()
                        && k == s.cert_id.issuer_key_hash.as_bytes()
                })
        })
        .ok_or_else(|| inv("no answer for this certificate".into()))?;
    let this_update = crate::to_offset(x509_cert::time::Time::GeneralTime(single.this_update.0));
    let next_update = single
        .next_update
        .map(|t| crate::to_offset(x509_cert::time::Time::GeneralTime(t.0)));
    let skew = Duration::minutes(5);
    if this_update > now + skew {
        return Err(OcspError::Stale(format!(
            "thisUpdate {this_update} is in the future"
        )));
    }
    if let Some(n) = next_update
        && n < now
    {
        return Err(OcspError::Stale(format!("nextUpdate {n} has passed")));
    }
    let status = match single.cert_status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Unknown(_) => Status::Unknown,
        CertStatus::Revoked(info) => Status::Revoked {
            at: crate::to_offset(x509_cert::time::Time::GeneralTime(info.revocation_time.0)),
            reason: info.revocation_reason.map(|r| r as u8).unwrap_or(0),
        },
    };
    Ok(Answer {
        status,
        this_update,
        next_update,
    })
}

/// Cache key: the issuer's public key and the certificate's serial number.
type CacheKey = (Vec<u8>, Vec<u8>);

/// Most answers an OCSP client keeps: a bound on memory whatever certificates callers
/// present (one answer is under a hundred bytes with its key).
pub const CACHE_MAX: usize = 10_000;

/// How long a cached "good" (or "unknown") answer is used by default, whatever its
/// nextUpdate: a certificate revoked at the CA is refused by every verifier within this
/// time (see [`Client::with_max_age`]).
pub const DEFAULT_MAX_AGE: Duration = Duration::minutes(1);

/// A cached answer and the time it stops being used.
#[derive(Debug, Clone, Copy)]
struct Cached {
    answer: Answer,
    until: OffsetDateTime,
}

/// Until when `answer`, received at `now`, is used: its nextUpdate (or thisUpdate +
/// `default_ttl` without one), and for an answer other than "revoked" (revocation is
/// final) at most `max_age` after it was received.
fn cached_until(
    answer: &Answer,
    now: OffsetDateTime,
    default_ttl: Duration,
    max_age: Duration,
) -> OffsetDateTime {
    let valid = answer
        .next_update
        .unwrap_or(answer.this_update + default_ttl);
    match answer.status {
        Status::Revoked { .. } => valid,
        Status::Good | Status::Unknown => valid.min(now + max_age),
    }
}

/// Keeps `answer` under `key` until `until`; at the bound, first forgets answers no
/// longer used at `now`, then, if still full, everything (answers are cheap to ask again).
fn remember(
    cache: &mut HashMap<CacheKey, Cached>,
    key: CacheKey,
    answer: Answer,
    until: OffsetDateTime,
    now: OffsetDateTime,
    max: usize,
) {
    if cache.len() >= max && !cache.contains_key(&key) {
        cache.retain(|_, c| now <= c.until);
        if cache.len() >= max {
            cache.clear();
        }
    }
    cache.insert(key, Cached { answer, until });
}

/// An OCSP client that caches answers until their nextUpdate (or for `default_ttl` when
/// the responder gives none), a "good" answer at most for its maximum age
/// ([`DEFAULT_MAX_AGE`] unless set with [`Client::with_max_age`]).
#[derive(Debug)]
pub struct Client {
    url: String,
    http: reqwest::Client,
    default_ttl: Duration,
    max_age: Duration,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

impl Client {
    /// A client of the responder at `url`.
    pub fn new(
        url: impl Into<String>,
        timeout: std::time::Duration,
        default_ttl: Duration,
    ) -> Self {
        Client {
            url: url.into(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()
                .expect("a plain HTTP client builds"),
            default_ttl,
            max_age: DEFAULT_MAX_AGE,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// How long a "good" answer is used at most, whatever its nextUpdate (zero: never
    /// cached). The bound on how long a revocation at the CA takes to reach this client.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The responder URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many answers are cached (at most [`CACHE_MAX`]).
    pub fn cached(&self) -> usize {
        self.cache.lock().expect("cache lock").len()
    }

    /// Drops every cached answer.
    pub fn clear_cache(&self) {
        self.cache.lock().expect("cache lock").clear();
    }

    /// The status of `cert`, from the cache when a cached answer is still valid at `now`.
    pub async fn status(
        &self,
        cert: &CertInfo,
        issuer: &CertInfo,
        now: OffsetDateTime,
    ) -> Result<Answer, OcspError> {
        let key = (
            issuer.public_key_raw().to_vec(),
            cert.cert.tbs_certificate.serial_number.as_bytes().to_vec(),
        );
        if let Some(c) = self.cache.lock().expect("cache lock").get(&key)
            && now < c.until
            && now + Duration::minutes(5) >= c.answer.this_update
        {
            metrics::counter!("egov_pki_ocsp_cache_total", "result" => "hit").increment(1);
            return Ok(c.answer);
        }
        metrics::counter!("egov_pki_ocsp_cache_total", "result" => "miss").increment(1);
        let body = request_der(cert, issuer).map_err(|e| OcspError::Invalid(e.to_string()))?;
        let resp = self
            .http
            .post(&self.url)
            .header("content-type", "application/ocsp-request")
            .body(body)
            .send()
            .await
            .map_err(|e| OcspError::Unreachable(format!("{}: {e}", self.url)))?;
        if !resp.status().is_success() {
            return Err(OcspError::Unreachable(format!(
                "{} answered HTTP {}",
                self.url,
                resp.status()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| OcspError::Unreachable(format!("{}: {e}", self.url)))?;
        let answer = check_response(&bytes, cert, issuer, now)?;
        let until = cached_until(&answer, now, self.default_ttl, self.max_age);
        remember(
            &mut self.cache.lock().expect("cache lock"),
            key,
            answer,
            until,
            now,
            CACHE_MAX,
        );
        Ok(answer)
    }
}

/// Serial number of a CertId, hex.
pub fn serial_of(id: &CertId) -> String {
    serial_hex(id.serial_number.as_bytes())
}

/// The serial numbers (hex) a DER OCSP request asks about, to look their status up
/// before answering with [`respond`]. Garbage gives an empty list.
pub fn requested_serials(request: &[u8]) -> Vec<String> {
    OcspRequest::from_der(request)
        .map(|r| {
            r.tbs_request
                .request_list
                .iter()
                .map(|r| serial_of(&r.req_cert))
                .collect()
        })
        .unwrap_or_default()
}

/// A DER OCSPResponse with status `internalError` (the responder could not decide).
pub fn internal_error() -> Vec<u8> {
    OcspResponse::internal_error().to_der().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(this_update: OffsetDateTime, next_update: Option<OffsetDateTime>) -> Answer {
        Answer {
            status: Status::Good,
            this_update,
            next_update,
        }
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_stale_answers_first() {
        let now = OffsetDateTime::now_utc();
        let ttl = Duration::minutes(10);
        let max_age = Duration::minutes(1);
        let key = |i: u32| (b"issuer".to_vec(), i.to_be_bytes().to_vec());
        let mut cache = HashMap::new();
        let put = |cache: &mut HashMap<CacheKey, Cached>, i: u32, a: Answer, max: usize| {
            let until = cached_until(&a, now, ttl, max_age);
            remember(cache, key(i), a, until, now, max);
        };
        // two stale answers and two fresh ones fill a cache of four
        put(
            &mut cache,
            1,
            answer(now - Duration::hours(2), Some(now - Duration::hours(1))),
            4,
        );
        put(&mut cache, 2, answer(now - Duration::hours(1), None), 4);
        put(
            &mut cache,
            3,
            answer(now, Some(now + Duration::hours(1))),
            4,
        );
        put(&mut cache, 4, answer(now, None), 4);
        assert_eq!(cache.len(), 4);
        // a fifth forgets the stale ones and keeps the fresh
        put(&mut cache, 5, answer(now, None), 4);
        let mut kept: Vec<u32> = cache
            .keys()
            .map(|(_, s)| u32::from_be_bytes(s.as_slice().try_into().unwrap()))
            .collect();
        kept.sort();
        assert_eq!(kept, [3, 4, 5]);
        // replacing a cached answer never evicts
        put(&mut cache, 5, answer(now, None), 3);
        assert_eq!(cache.len(), 3);
        // full of fresh answers: the cache starts over rather than grow
        put(&mut cache, 6, answer(now, None), 3);
        assert_eq!(cache.len(), 1);
        for i in 0..100 {
            put(&mut cache, 100 + i, answer(now, None), 3);
            assert!(cache.len() <= 3);
        }
    }

    #[test]
    fn a_good_answer_is_used_no_longer_than_its_maximum_age_a_revocation_until_it_expires() {
        let now = OffsetDateTime::now_utc();
        let ttl = Duration::minutes(10);
        let max_age = Duration::seconds(30);
        // the responder says good for an hour: kept thirty seconds
        let good = answer(now, Some(now + Duration::hours(1)));
        assert_eq!(cached_until(&good, now, ttl, max_age), now + max_age);
        // an answer that expires before the bound keeps its own nextUpdate
        let short = answer(now, Some(now + Duration::seconds(5)));
        assert_eq!(
            cached_until(&short, now, ttl, max_age),
            now + Duration::seconds(5)
        );
        // without a nextUpdate: thisUpdate + ttl, still bounded
        assert_eq!(
            cached_until(&answer(now, None), now, ttl, max_age),
            now + max_age
        );
        // a revocation is final: kept for the answer's whole validity
        let revoked = Answer {
            status: Status::Revoked {
                at: now - Duration::hours(1),
                reason: 1,
            },
            ..good
        };
        assert_eq!(
            cached_until(&revoked, now, ttl, max_age),
            now + Duration::hours(1)
        );
    }
}
