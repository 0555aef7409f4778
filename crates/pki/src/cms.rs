//! CMS SignedData (RFC 5652): signing, detached or attached, and parsing for the verifier.
//!
//! Signatures carry the signed attributes contentType, signingTime and messageDigest, the
//! signer's certificate and, optionally, the chain up to (not including) the root, as
//! `openssl cms -sign` does. Input may be DER, BER (as `openssl cms -sign -stream` writes)
//! or PEM (`-----BEGIN CMS-----` / `PKCS7`).

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::attr::Attribute;

use crate::cert::CertInfo;
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::{Error, Result, oids};

/// Signs `data` and returns the DER ContentInfo. With `detached`, the content is left out
/// (the verifier is given the bytes separately).
pub fn sign(
    data: &[u8],
    key: &PrivateKey,
    cert: &CertInfo,
    chain: &[CertInfo],
    detached: bool,
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>> {
    let digest = sha2::Sha256::digest(data);
    signed_data(
        &digest,
        (!detached).then_some(data),
        key,
        cert,
        chain,
        signing_time,
    )
}

/// Signs content known only by its SHA-256 `digest` (32 bytes), computed by whoever holds
/// the content, and returns the detached DER ContentInfo: the messageDigest attribute is
/// the given digest, so the signature verifies over the content it was computed from.
pub fn sign_digest(
    digest: &[u8],
    key: &PrivateKey,
    cert: &CertInfo,
    chain: &[CertInfo],
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>> {
    if digest.len() != 32 {
        return Err(Error::Invalid(format!(
            "a SHA-256 digest has 32 bytes, got {}",
            digest.len()
        )));
    }
    signed_data(digest, None, key, cert, chain, signing_time)
}

/// The SignedData over content with SHA-256 `digest`, the content encapsulated when given.
fn signed_data(
    digest: &[u8],
    content: Option<&[u8]>,
    key: &PrivateKey,
    cert: &CertInfo,
    chain: &[CertInfo],
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>> {
    if key.public_key_raw() != cert.public_key_raw() {
        return Err(Error::Invalid(
            "the key does not belong to the certificate".into(),
        ));
    }
    let attr = |oid, value: Any| -> Result<Attribute> {
        Ok(Attribute {
            oid,
            values: SetOfVec::try_from(vec![value]).map_err(|e| Error::Invalid(e.to_string()))?,
        })
    };
    let enc = |e: der::Error| Error::Invalid(e.to_string());
    let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
        attr(
            oids::CONTENT_TYPE,
            Any::encode_from(&oids::DATA).map_err(enc)?,
        )?,
        attr(
            oids::SIGNING_TIME,
            Any::encode_from(&crate::x509_time(signing_time)?).map_err(enc)?,
        )?,
        attr(
            oids::MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest).map_err(enc)?).map_err(enc)?,
        )?,
    ])
    .map_err(enc)?;
    let to_sign = signed_attrs.to_der().map_err(enc)?;
    let signature = key.sign(&to_sign)?;
    let signature_algorithm = match key.algorithm() {
        KeyAlgorithm::Rsa2048 => AlgorithmIdentifierOwned {
            oid: oids::RSA_ENCRYPTION,
            parameters: Some(Any::from(der::asn1::Null)),
        },
        KeyAlgorithm::EcdsaP256 => AlgorithmIdentifierOwned {
            oid: oids::ECDSA_SHA256,
            parameters: None,
        },
    };
    let digest_alg = AlgorithmIdentifierOwned {
        oid: oids::SHA256,
        parameters: None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.cert.tbs_certificate.issuer.clone(),
            serial_number: cert.cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm,
        signature: OctetString::new(signature).map_err(enc)?,
        unsigned_attrs: None,
    };
    let mut certs = vec![CertificateChoices::Certificate(cert.cert.clone())];
    certs.extend(
        chain
            .iter()
            .map(|c| CertificateChoices::Certificate(c.cert.clone())),
    );
    let econtent = match content {
        None => None,
        Some(data) => Some(Any::encode_from(&OctetString::new(data).map_err(enc)?).map_err(enc)?),
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(enc)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oids::DATA,
            econtent,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certs).map_err(enc)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(enc)?),
    };
    let ci = ContentInfo {
        content_type: oids::SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(enc)?,
    };
    ci.to_der().map_err(enc)
}

/// A parsed SignedData.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The SignedData structure.
    pub signed_data: SignedData,
    /// The encapsulated content, when the signature is attached.
    pub content: Option<Vec<u8>>,
    /// The certificates the signature carries.
    pub certificates: Vec<CertInfo>,
}

/// Parses a CMS signature (DER, BER or PEM) into its SignedData.
pub fn parse(input: &[u8]) -> Result<Parsed> {
    let raw = decode_armor(input)?;
    // DER (what we and `openssl cms -sign` without -stream write) parses as it is; only
    // BER input pays for re-encoding
    let ci = match ContentInfo::from_der(&raw) {
        Ok(ci) => ci,
        Err(_) => {
            let der_bytes = crate::ber::to_der(&raw)
                .map_err(|e| Error::malformed("CMS signature", format!("not DER/BER: {e}")))?;
            ContentInfo::from_der(&der_bytes)
                .map_err(|e| Error::malformed("CMS signature", format!("not a ContentInfo: {e}")))?
        }
    };
    if ci.content_type != oids::SIGNED_DATA {
        return Err(Error::malformed(
            "CMS signature",
            format!("content type {} is not signedData", ci.content_type),
        ));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| Error::malformed("CMS signature", format!("bad SignedData: {e}")))?;
    let content = match &sd.encap_content_info.econtent {
        None => None,
        Some(any) => Some(
            any.decode_as::<OctetString>()
                .map_err(|e| Error::malformed("CMS signature", format!("bad eContent: {e}")))?
                .into_bytes(),
        ),
    };
    let mut certificates = Vec::new();
    if let Some(set) = &sd.certificates {
        for c in set.0.iter() {
            if let CertificateChoices::Certificate(cert) = c {
                certificates.push(CertInfo::from_cert(cert.clone())?);
            }
        }
    }
    Ok(Parsed {
        signed_data: sd,
        content,
        certificates,
    })
}

fn decode_armor(input: &[u8]) -> Result<Vec<u8>> {
    let trimmed = input.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| Error::malformed("CMS signature", "PEM is not UTF-8"))?;
        let p = pem::parse(text).map_err(|e| Error::malformed("CMS signature PEM", e))?;
        if !matches!(p.tag(), "CMS" | "PKCS7" | "PKCS #7 SIGNED DATA") {
            return Err(Error::malformed(
                "CMS signature PEM",
                format!("expected a CMS or PKCS7 block, found {}", p.tag()),
            ));
        }
        return Ok(p.contents().to_vec());
    }
    if input.is_empty() {
        return Err(Error::malformed("CMS signature", "empty input"));
    }
    Ok(input.to_vec())
}

/// The SignerInfo type of the cms crate.
pub type SignerInfoRef = SignerInfo;

/// The DER of the signed attributes as they were signed (a SET OF, RFC 5652 §5.4).
pub fn signed_attrs_der(si: &SignerInfo) -> Result<Option<Vec<u8>>> {
    si.signed_attrs
        .as_ref()
        .map(|a| {
            a.to_der()
                .map_err(|e| Error::malformed("signed attributes", e))
        })
        .transpose()
}

/// Finds the single value of a signed attribute.
pub fn attr_value(si: &SignerInfo, oid: const_oid::ObjectIdentifier) -> Option<&Any> {
    si.signed_attrs
        .as_ref()?
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.iter().next())
}

/// Re-encodes a parsed SignedData as a DER ContentInfo.
pub fn encode(sd: &SignedData) -> Result<Vec<u8>> {
    let ci = ContentInfo {
        content_type: oids::SIGNED_DATA,
        content: Any::encode_from(sd).map_err(|e| Error::Invalid(e.to_string()))?,
    };
    ci.to_der().map_err(|e| Error::Invalid(e.to_string()))
}
