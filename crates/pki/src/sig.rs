//! Signature verification over X.509, CRL, OCSP and CMS structures (aws-lc-rs).

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier as Oid;
use spki::SubjectPublicKeyInfoOwned;

use crate::oids;

/// Why a signature could not be checked or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigError {
    /// The algorithm combination is not supported.
    Unsupported(String),
    /// The signature does not verify.
    Invalid,
}

fn pick(
    sig_alg: &Oid,
    digest: Option<&Oid>,
    key_alg: &Oid,
) -> Result<&'static dyn VerificationAlgorithm, SigError> {
    let rsa_key = *key_alg == oids::RSA_ENCRYPTION;
    let ec_key = *key_alg == oids::EC_PUBLIC_KEY;
    let alg: &'static dyn VerificationAlgorithm = match (sig_alg, digest) {
        (a, _) if *a == oids::SHA256_WITH_RSA && rsa_key => &signature::RSA_PKCS1_2048_8192_SHA256,
        (a, _) if *a == oids::SHA384_WITH_RSA && rsa_key => &signature::RSA_PKCS1_2048_8192_SHA384,
        (a, _) if *a == oids::SHA512_WITH_RSA && rsa_key => &signature::RSA_PKCS1_2048_8192_SHA512,
        (a, Some(d)) if *a == oids::RSA_ENCRYPTION && rsa_key => match d {
            d if *d == oids::SHA256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            d if *d == oids::SHA384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            d if *d == oids::SHA512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            d => return Err(SigError::Unsupported(format!("digest {d} with RSA"))),
        },
        (a, _) if *a == oids::ECDSA_SHA256 && ec_key => &signature::ECDSA_P256_SHA256_ASN1,
        (a, _) if *a == oids::ECDSA_SHA384 && ec_key => &signature::ECDSA_P256_SHA384_ASN1,
        (a, _) => {
            return Err(SigError::Unsupported(format!(
                "signature algorithm {a} with key type {key_alg}"
            )));
        }
    };
    Ok(alg)
}

/// Verifies `sig` over `msg` with the key of `spki`. `digest` is needed when the signature
/// algorithm names only the key type (CMS `rsaEncryption`).
pub fn verify(
    sig_alg: &Oid,
    digest: Option<&Oid>,
    spki: &SubjectPublicKeyInfoOwned,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SigError> {
    let alg = pick(sig_alg, digest, &spki.algorithm.oid)?;
    UnparsedPublicKey::new(alg, spki.subject_public_key.raw_bytes())
        .verify(msg, sig)
        .map_err(|_| SigError::Invalid)
}
