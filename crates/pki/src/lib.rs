//! The test public-key infrastructure of the system, modelled on НУЦ РК.
//!
//! **Test material only.** Everything here exists so that the rest of the system can be
//! exercised with real X.509 certificates and real CMS signatures; no key made by this
//! crate belongs to a real person or system.
//!
//! - [`keys`]: private keys (RSA-2048 and ECDSA P-256, PKCS#8) and signing through aws-lc-rs.
//! - [`cert`]: parsed certificates and the identity they carry (IIN, name, organisation BIN).
//! - [`authority`]: a certification authority that issues certificates and CRLs.
//! - [`dir`]: the on-disk test PKI (`egovctl pki init`): root CA, issuing CA, CRL, system certificates.
//! - [`cms`]: CMS SignedData (RFC 5652) signing, detached and attached, interoperable with OpenSSL.
//! - [`pkcs12`]: password-protected `.p12` key files, as НУЦ РК issues keys and NCALayer loads them.
//! - [`crl`], [`ocsp`]: revocation by CRL and by OCSP (RFC 6960), client and responder sides.
//! - [`verify`]: the verifier: signature, chain, validity at signing time, revocation, usage, IIN.

pub mod authority;
pub mod ber;
pub mod cert;
pub mod cms;
pub mod crl;
pub mod dir;
pub mod keys;
pub mod ocsp;
pub mod oids;
pub mod pkcs12;
pub mod sig;
pub mod systems;
pub mod verify;

pub use authority::{Authority, CertProfile, IssuedCert, SubjectSpec};
pub use cert::{CertInfo, Identity};
pub use dir::{Issuer, PkiDir, REGISTRATION_AUTHORITY, Trust};
pub use keys::{KeyAlgorithm, PrivateKey};
pub use verify::{Signer, Verifier, VerifyError, VerifyOptions};

/// Errors of building, parsing or storing PKI material (verification has its own
/// [`VerifyError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that is not what it claims to be (not PEM, not a certificate, not a key...).
    #[error("{what}: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it was rejected.
        detail: String,
    },
    /// A request that cannot be satisfied (bad name, bad dates, unknown certificate...).
    #[error("{0}")]
    Invalid(String),
    /// A cryptographic operation failed.
    #[error("crypto operation failed: {0}")]
    Crypto(String),
    /// Reading or writing PKI files.
    #[error("{path}: {cause}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error (kept out of `source()` so that it is printed once).
        cause: std::io::Error,
    },
}

impl Error {
    pub(crate) fn malformed(what: &'static str, detail: impl ToString) -> Self {
        Error::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            cause,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn to_offset(t: x509_cert::time::Time) -> time::OffsetDateTime {
    let d = t.to_unix_duration();
    time::OffsetDateTime::UNIX_EPOCH + d
}

pub(crate) fn der_time(t: time::OffsetDateTime) -> Result<der::DateTime> {
    let secs = t.unix_timestamp();
    if secs < 0 {
        return Err(Error::Invalid(format!("time {t} is before 1970")));
    }
    der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs as u64))
        .map_err(|e| Error::Invalid(format!("time {t}: {e}")))
}

/// X.509 `Time`: UTCTime before 2050, GeneralizedTime after, as RFC 5280 requires.
pub(crate) fn x509_time(t: time::OffsetDateTime) -> Result<x509_cert::time::Time> {
    let dt = der_time(t)?;
    Ok(if t.year() < 2050 {
        x509_cert::time::Time::UtcTime(
            der::asn1::UtcTime::from_date_time(dt).map_err(|e| Error::Invalid(e.to_string()))?,
        )
    } else {
        x509_cert::time::Time::GeneralTime(der::asn1::GeneralizedTime::from_date_time(dt))
    })
}

/// PEM-encodes DER bytes under `tag`.
pub fn pem_encode(tag: &str, der: impl Into<Vec<u8>>) -> String {
    pem::encode(&pem::Pem::new(tag, der.into()))
}
