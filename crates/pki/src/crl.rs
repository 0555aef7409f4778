//! Certificate revocation lists: parsing, checking the issuer's signature and freshness,
//! and looking a serial number up.

use std::collections::HashMap;

use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;

use crate::cert::{CertInfo, serial_hex};
use crate::{Error, Result};

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
        Ok(Crl {
            list,
            this_update,
            next_update,
            revoked,
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

    /// Checks the CRL's signature by `issuer` and that it is current at `at`.
    pub fn check(&self, issuer: &CertInfo, at: OffsetDateTime) -> Result<(), CrlError> {
        let who = issuer.subject_string();
        if !self.is_from(issuer) || !issuer.allows_crl_signing() {
            return Err(CrlError::WrongIssuer(who));
        }
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
        .map_err(|_| CrlError::WrongIssuer(who))?;
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

    /// The revocation time of `serial_hex`, when listed.
    pub fn revoked_at(&self, serial_hex: &str) -> Option<OffsetDateTime> {
        self.revoked.get(serial_hex).copied()
    }
}
