//! Certificate revocation lists: parsing, checking the issuer's signature and freshness,
//! looking a serial number up, and fetching a fresh list from its distribution point
//! ([`Fetcher`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;

use crate::cert::{CertInfo, serial_hex};
use crate::{Error, Result};

/// The SHA-256 of `issuer`'s SubjectPublicKeyInfo.
fn issuer_key_digest(issuer: &CertInfo) -> Option<[u8; 32]> {
    use sha2::Digest as _;
    let spki = issuer
        .cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .ok()?;
    Some(sha2::Sha256::digest(&spki).into())
}

/// A parsed CRL.
#[derive(Debug, Clone)]
pub struct Crl {
    /// The parsed list.
    pub list: CertificateList,
    /// When it was issued.
    pub this_update: OffsetDateTime,
    /// When the next one is due (the list is stale after).
    pub next_update: Option<OffsetDateTime>,
    /// Revoked serials (hex) with their revocation time.
    pub revoked: HashMap<String, OffsetDateTime>,
    /// Its cRLNumber, big-endian without leading zeros, when it has one.
    pub number: Option<Vec<u8>>,
    /// The SHA-256 of the issuer key (SubjectPublicKeyInfo) whose signature over this
    /// list verified: a list held for hours is checked on every verification, and its
    /// signature needs verifying once per key, not every time.
    signed_by: std::sync::OnceLock<[u8; 32]>,
}

/// Why a CRL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    /// Not signed by the given issuer.
    #[error("the CRL is not signed by {0}")]
    WrongIssuer(String),
    /// Past its nextUpdate.
    #[error("the CRL expired at {0} (nextUpdate)")]
    Expired(OffsetDateTime),
    /// Issued in the future.
    #[error("the CRL is not valid before {0} (thisUpdate)")]
    NotYetValid(OffsetDateTime),
}

impl Crl {
    /// Parses a DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let list = CertificateList::from_der(der)
            .map_err(|e| Error::malformed("CRL", format!("not a DER CRL: {e}")))?;
        let this_update = crate::to_offset(list.tbs_cert_list.this_update);
        let next_update = list.tbs_cert_list.next_update.map(crate::to_offset);
        let revoked = list
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| {
                (
                    serial_hex(r.serial_number.as_bytes()),
                    crate::to_offset(r.revocation_date),
                )
            })
            .collect();
        let number = list
            .tbs_cert_list
            .crl_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == crate::oids::EXT_CRL_NUMBER)
            .map(|e| {
                x509_cert::ext::pkix::CrlNumber::from_der(e.extn_value.as_bytes())
                    .map(|n| trim_zeros(n.0.as_bytes()).to_vec())
                    .map_err(|e| Error::malformed("CRL", format!("cRLNumber: {e}")))
            })
            .transpose()?;
        Ok(Crl {
            list,
            this_update,
            next_update,
            revoked,
            number,
            signed_by: std::sync::OnceLock::new(),
        })
    }

    /// Parses the `X509 CRL` blocks of a PEM text (other blocks are skipped).
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>> {
        let blocks = pem::parse_many(text).map_err(|e| Error::malformed("CRL PEM", e))?;
        let crls: Vec<_> = blocks
            .iter()
            .filter(|b| b.tag() == "X509 CRL")
            .map(|b| Self::from_der(b.contents()))
            .collect::<Result<_>>()?;
        if crls.is_empty() {
            return Err(Error::malformed("CRL PEM", "no X509 CRL block found"));
        }
        Ok(crls)
    }

    /// PEM encoding.
    pub fn to_pem(&self) -> Result<String> {
        let der = self.list.to_der().map_err(|e| Error::malformed("CRL", e))?;
        Ok(pem::encode(&pem::Pem::new("X509 CRL", der)))
    }

    /// Whether this CRL names `issuer` as its issuer.
    pub fn is_from(&self, issuer: &CertInfo) -> bool {
        &self.list.tbs_cert_list.issuer == issuer.subject()
    }

    /// Checks the CRL's signature by `issuer` (verified once per issuer key, then
    /// remembered) and that it is current at `at`.
    pub fn check(&self, issuer: &CertInfo, at: OffsetDateTime) -> Result<(), CrlError> {
        let who = issuer.subject_string();
        if !self.is_from(issuer) || !issuer.allows_crl_signing() {
            return Err(CrlError::WrongIssuer(who));
        }
        let key = issuer_key_digest(issuer).ok_or_else(|| CrlError::WrongIssuer(who.clone()))?;
        if self.signed_by.get() != Some(&key) {
            self.verify_signature(issuer, &who)?;
            let _ = self.signed_by.set(key);
        }
        if at < self.this_update - time::Duration::minutes(5) {
            return Err(CrlError::NotYetValid(self.this_update));
        }
        if let Some(next) = self.next_update
            && at > next
        {
            return Err(CrlError::Expired(next));
        }
        Ok(())
    }

    fn verify_signature(&self, issuer: &CertInfo, who: &str) -> Result<(), CrlError> {
        let who = who.to_string();
        let tbs = self
            .list
            .tbs_cert_list
            .to_der()
            .map_err(|_| CrlError::WrongIssuer(who.clone()))?;
        let sig = self
            .list
            .signature
            .as_bytes()
            .ok_or_else(|| CrlError::WrongIssuer(who.clone()))?;
        crate::sig::verify(
            &self.list.signature_algorithm.oid,
            None,
            &issuer.cert.tbs_certificate.subject_public_key_info,
            &tbs,
            sig,
        )
        .map_err(|_| CrlError::WrongIssuer(who))
    }

    /// The revocation time of `serial_hex`, when listed.
    pub fn revoked_at(&self, serial_hex: &str) -> Option<OffsetDateTime> {
        self.revoked.get(serial_hex).copied()
    }

    /// Whether this list was issued after `held`: a later thisUpdate, or the same
    /// thisUpdate (CRL times have a resolution of one second) and a greater cRLNumber.
    pub fn is_newer_than(&self, held: &Crl) -> bool {
        match self.this_update.cmp(&held.this_update) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => match (&self.number, &held.number) {
                (Some(a), Some(b)) => (a.len(), a) > (b.len(), b),
                _ => false,
            },
        }
    }
}

fn trim_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[i..]
}

/// The URIs of `cert`'s CRL distribution points (its cRLDistributionPoints extension).
pub fn distribution_points(cert: &CertInfo) -> Vec<String> {
    use x509_cert::ext::pkix::CrlDistributionPoints;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    let Some(ext) = cert
        .cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == crate::oids::EXT_CRL_DISTRIBUTION_POINTS)
    else {
        return Vec::new();
    };
    let Ok(points) = CrlDistributionPoints::from_der(ext.extn_value.as_bytes()) else {
        return Vec::new();
    };
    points
        .0
        .iter()
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .collect()
}

/// Why a fetched CRL was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No distribution point is configured and the certificate names none.
    #[error("no CRL distribution point is known")]
    NoDistributionPoint,
    /// Another fetch ran less than the retry interval ago.
    #[error("a CRL fetch was tried {0:?} ago; the next one waits")]
    TooSoon(Duration),
    /// The distribution point did not answer, or not with 200.
    #[error("CRL distribution point unreachable: {0}")]
    Unreachable(String),
    /// The answer is not a CRL (DER or PEM), or is too large.
    #[error("the distribution point's answer is not a CRL: {0}")]
    Malformed(String),
    /// The list is not signed by the issuing CA, or names another issuer.
    #[error("the fetched CRL is not the issuer's: {0}")]
    WrongIssuer(String),
    /// The list is already past its nextUpdate, or not yet valid.
    #[error("the fetched CRL is not current: {0}")]
    NotCurrent(String),
    /// The list is not newer than the one held.
    #[error(
        "the fetched CRL (thisUpdate {fetched}) is not newer than the one held (thisUpdate {held})"
    )]
    NotNewer {
        /// thisUpdate of the fetched list.
        fetched: OffsetDateTime,
        /// thisUpdate of the held list.
        held: OffsetDateTime,
    },
}

/// Largest CRL a fetch reads: a list of a test CA with hundreds of thousands of entries
/// stays below it; anything larger is refused unread.
pub const MAX_CRL_BYTES: usize = 16 << 20;

/// Fetches CRLs from a distribution point: the configured URL, else the one the checked
/// certificate names. One fetch at a time (callers arriving during a fetch wait for its
/// outcome), at most one per retry interval, each within a timeout, so a CA out of reach
/// costs one bounded attempt per interval rather than one per message.
#[derive(Debug)]
pub struct Fetcher {
    url: Option<String>,
    http: reqwest::Client,
    retry: Duration,
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl Fetcher {
    /// Default least time between two fetch attempts.
    pub const DEFAULT_RETRY: Duration = Duration::from_secs(10);

    /// A fetcher of `url` (or, when `None`, of the checked certificate's distribution
    /// point) with a per-request `timeout`.
    pub fn new(url: Option<String>, timeout: Duration) -> Self {
        Fetcher {
            url,
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()
                .expect("a plain HTTP client builds"),
            retry: Self::DEFAULT_RETRY,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The least time between two fetch attempts (zero: every call may fetch).
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = retry;
        self
    }

    /// Whether a fetch could start now: none is running and the last one is older than
    /// the retry interval (a cheap test before spawning a background refresh).
    pub fn ready(&self) -> bool {
        match self.last.try_lock() {
            Ok(last) => last.is_none_or(|t| t.elapsed() >= self.retry),
            Err(_) => false,
        }
    }

    /// The configured URL.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Fetches the CRL of `issuer` for `cert` and checks it: signed by `issuer`, current
    /// at `now`, and newer than what `held` gives (the newest list of `issuer` held, read
    /// under the guard). A list that passes is given to `install` before the guard is
    /// released, so a caller that waited for this fetch finds it in place. Runs under the
    /// single-flight guard and the retry interval.
    pub async fn fetch(
        &self,
        issuer: &CertInfo,
        cert: &CertInfo,
        held: impl FnOnce() -> Option<Crl>,
        now: OffsetDateTime,
        install: impl FnOnce(&Crl),
    ) -> Result<Crl, FetchError> {
        let url = match &self.url {
            Some(u) => u.clone(),
            None => distribution_points(cert)
                .into_iter()
                .next()
                .ok_or(FetchError::NoDistributionPoint)?,
        };
        let mut last = self.last.lock().await;
        if let Some(t) = *last
            && t.elapsed() < self.retry
        {
            return Err(FetchError::TooSoon(t.elapsed()));
        }
        *last = Some(Instant::now());
        let crl = self.download(&url).await?;
        if !crl.is_from(issuer) {
            return Err(FetchError::WrongIssuer(format!(
                "it names {} as its issuer, not {}",
                crl.list.tbs_cert_list.issuer,
                issuer.subject_string()
            )));
        }
        match crl.check(issuer, now) {
            Ok(()) => {}
            Err(e @ CrlError::WrongIssuer(_)) => {
                return Err(FetchError::WrongIssuer(e.to_string()));
            }
            Err(e) => return Err(FetchError::NotCurrent(e.to_string())),
        }
        if let Some(held) = held()
            && !crl.is_newer_than(&held)
        {
            return Err(FetchError::NotNewer {
                fetched: crl.this_update,
                held: held.this_update,
            });
        }
        install(&crl);
        Ok(crl)
    }

    async fn download(&self, url: &str) -> Result<Crl, FetchError> {
        let unreachable = |e: String| FetchError::Unreachable(format!("{url}: {e}"));
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unreachable(format!("HTTP {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_CRL_BYTES as u64)
        {
            return Err(FetchError::Malformed(format!(
                "{url}: larger than {MAX_CRL_BYTES} bytes"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(e.to_string()))? {
            if body.len() + chunk.len() > MAX_CRL_BYTES {
                return Err(FetchError::Malformed(format!(
                    "{url}: larger than {MAX_CRL_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let parsed = if body.starts_with(b"-----BEGIN") {
            std::str::from_utf8(&body)
                .map_err(|e| e.to_string())
                .and_then(|t| Crl::all_from_pem(t).map_err(|e| e.to_string()))
                .map(|mut v| v.remove(0))
        } else {
            Crl::from_der(&body).map_err(|e| e.to_string())
        };
        parsed.map_err(|e| FetchError::Malformed(format!("{url}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::{Authority, CertProfile, Endpoints, SubjectSpec};
    use crate::keys::KeyAlgorithm;
    use time::Duration as D;

    #[test]
    fn a_signature_remembered_for_one_key_does_not_pass_another_of_the_same_name() {
        let now = OffsetDateTime::now_utc();
        let alg = KeyAlgorithm::EcdsaP256;
        let ca = Authority::new_root("Root", alg, now - D::days(1), 2).unwrap();
        let impostor = Authority::new_root("Root", alg, now - D::days(1), 2).unwrap();
        assert_eq!(ca.cert.subject(), impostor.cert.subject());
        let der = ca.crl(&[], 1, now, now + D::days(1)).unwrap();
        // the true issuer first, then the impostor, then the true one again
        let crl = Crl::from_der(&der).unwrap();
        assert_eq!(crl.check(&ca.cert, now), Ok(()));
        assert!(matches!(
            crl.check(&impostor.cert, now),
            Err(CrlError::WrongIssuer(_))
        ));
        assert_eq!(crl.check(&ca.cert, now), Ok(()));
        // the impostor first, on a list nobody checked yet
        let crl = Crl::from_der(&der).unwrap();
        assert!(matches!(
            crl.check(&impostor.cert, now),
            Err(CrlError::WrongIssuer(_))
        ));
        assert_eq!(crl.check(&ca.cert, now), Ok(()));
        // remembered or not, the times are checked every time
        assert!(matches!(
            crl.check(&ca.cert, now + D::days(2)),
            Err(CrlError::Expired(_))
        ));
    }

    #[test]
    fn a_certificate_names_its_distribution_point_and_lists_order_by_time_then_number() {
        let now = OffsetDateTime::now_utc();
        let alg = KeyAlgorithm::EcdsaP256;
        let root = Authority::new_root("Root", alg, now - D::days(1), 2).unwrap();
        let mut ca = root
            .new_issuing("Issuing", alg, now - D::days(1), 1)
            .unwrap();
        let spec = SubjectSpec::system("portal", "ПЭП", "000000000000");
        let bare = ca
            .issue(
                &spec,
                CertProfile::SystemSigning,
                alg,
                now,
                now + D::days(1),
            )
            .unwrap()
            .cert;
        assert!(distribution_points(&bare).is_empty());
        ca.endpoints = Endpoints {
            crl_url: Some("http://127.0.0.1:7010/crl".into()),
            ocsp_url: None,
        };
        let named = ca
            .issue(
                &spec,
                CertProfile::SystemSigning,
                alg,
                now,
                now + D::days(1),
            )
            .unwrap()
            .cert;
        assert_eq!(distribution_points(&named), ["http://127.0.0.1:7010/crl"]);

        let list = |number, this_update| {
            Crl::from_der(&ca.crl(&[], number, this_update, now + D::days(1)).unwrap()).unwrap()
        };
        let t = now - D::minutes(1);
        let (a, b) = (list(1000, t), list(1001, t));
        assert_eq!(a.number.as_deref(), Some(&[0x03, 0xE8][..]));
        assert!(b.is_newer_than(&a) && !a.is_newer_than(&b) && !a.is_newer_than(&a));
        // a later list wins whatever its number (uc's and the PKI folder's count apart)
        let later = list(5, t + D::seconds(1));
        assert!(later.is_newer_than(&b) && !b.is_newer_than(&later));
        // numbers compare as integers, not as bytes
        assert!(list(256, t).is_newer_than(&list(255, t)));
    }
}
