//! Parsed certificates and the identity they carry.

use der::{Decode, Encode};
use egov_iin::Iin;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::Name;

use crate::{Error, Result, oids};

/// Who a certificate names, read from its subject as НУЦ РК writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// `SERIALNUMBER=IIN…` of an individual's certificate, when it holds a valid IIN.
    pub iin: Option<Iin>,
    /// CN: "SURNAME NAME" of a person, or the information system's name.
    pub common_name: Option<String>,
    /// SURNAME.
    pub surname: Option<String>,
    /// GIVENNAME (the patronymic in НУЦ РК certificates, else the name).
    pub given_name: Option<String>,
    /// O: the organisation of an employee or a system.
    pub organization: Option<String>,
    /// `OU=BIN…`: the organisation's 12-digit business identification number.
    pub bin: Option<String>,
    /// C.
    pub country: Option<String>,
}

/// A certificate together with the fields the system reads from it.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// The parsed certificate.
    pub cert: Certificate,
    /// Its DER encoding.
    pub der: Vec<u8>,
    /// The subject's identity.
    pub identity: Identity,
    /// The serial number, upper-case hex without leading zero bytes.
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The key usage bits, when the extension is present.
    pub key_usage: Option<KeyUsage>,
    /// The extended key usage OIDs, when the extension is present.
    pub ext_key_usage: Option<Vec<const_oid::ObjectIdentifier>>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// The certificate policies it names.
    pub policies: Vec<const_oid::ObjectIdentifier>,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = Certificate::from_der(der).map_err(|e| {
            Error::malformed("certificate", format!("not a DER X.509 certificate: {e}"))
        })?;
        Self::from_cert(cert)
    }

    /// Parses the first `CERTIFICATE` block of a PEM text.
    pub fn from_pem(text: &str) -> Result<Self> {
        let all = Self::all_from_pem(text)?;
        all.into_iter()
            .next()
            .ok_or_else(|| Error::malformed("certificate PEM", "no CERTIFICATE block found"))
    }

    /// Parses every `CERTIFICATE` block of a PEM text (a chain or a bundle); other
    /// blocks (such as an appended CRL) are skipped. Error if none is a certificate.
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>> {
        let blocks = pem::parse_many(text).map_err(|e| Error::malformed("certificate PEM", e))?;
        if blocks.is_empty() {
            return Err(Error::malformed("certificate PEM", "no PEM block found"));
        }
        let certs: Vec<_> = blocks
            .iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(|b| Self::from_der(b.contents()))
            .collect::<Result<_>>()?;
        if certs.is_empty() {
            let tags: Vec<_> = blocks.iter().map(|b| b.tag().to_string()).collect();
            return Err(Error::malformed(
                "certificate PEM",
                format!("expected a CERTIFICATE block, found {}", tags.join(", ")),
            ));
        }
        Ok(certs)
    }

    /// Builds the info of an already parsed certificate.
    pub fn from_cert(cert: Certificate) -> Result<Self> {
        let der = cert
            .to_der()
            .map_err(|e| Error::malformed("certificate", e))?;
        let tbs = &cert.tbs_certificate;
        let identity = identity_of(&tbs.subject);
        let serial_hex = serial_hex(tbs.serial_number.as_bytes());
        let not_before = crate::to_offset(tbs.validity.not_before);
        let not_after = crate::to_offset(tbs.validity.not_after);
        let mut key_usage = None;
        let mut ext_key_usage = None;
        let mut is_ca = false;
        let mut policies = Vec::new();
        for ext in tbs.extensions.iter().flatten() {
            let v = ext.extn_value.as_bytes();
            if ext.extn_id == oids::EXT_KEY_USAGE {
                key_usage = Some(
                    KeyUsage::from_der(v).map_err(|e| Error::malformed("keyUsage extension", e))?,
                );
            } else if ext.extn_id == oids::EXT_EXT_KEY_USAGE {
                ext_key_usage = Some(
                    ExtendedKeyUsage::from_der(v)
                        .map_err(|e| Error::malformed("extKeyUsage extension", e))?
                        .0,
                );
            } else if ext.extn_id == oids::EXT_CERTIFICATE_POLICIES {
                policies = x509_cert::ext::pkix::CertificatePolicies::from_der(v)
                    .map_err(|e| Error::malformed("certificatePolicies extension", e))?
                    .0
                    .into_iter()
                    .map(|p| p.policy_identifier)
                    .collect();
            } else if ext.extn_id == oids::EXT_BASIC_CONSTRAINTS {
                is_ca = BasicConstraints::from_der(v)
                    .map_err(|e| Error::malformed("basicConstraints extension", e))?
                    .ca;
            }
        }
        Ok(CertInfo {
            cert,
            der,
            identity,
            serial_hex,
            not_before,
            not_after,
            key_usage,
            ext_key_usage,
            is_ca,
            policies,
        })
    }

    /// The PEM encoding.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", self.der.clone()))
    }

    /// Subject name.
    pub fn subject(&self) -> &Name {
        &self.cert.tbs_certificate.subject
    }

    /// Issuer name.
    pub fn issuer(&self) -> &Name {
        &self.cert.tbs_certificate.issuer
    }

    /// The raw subject public key (content of the BIT STRING).
    pub fn public_key_raw(&self) -> &[u8] {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
    }

    /// The value (DER, inside the OCTET STRING) of the extension `oid`, when present.
    pub fn extension(&self, oid: const_oid::ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// The subjectKeyIdentifier, when present and well formed.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        let v = self.extension(oids::EXT_SUBJECT_KEY_ID)?;
        x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(v)
            .ok()
            .map(|k| k.0.into_bytes())
    }

    /// The keyIdentifier of the authorityKeyIdentifier, when present and well formed.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        let v = self.extension(oids::EXT_AUTHORITY_KEY_ID)?;
        x509_cert::ext::pkix::AuthorityKeyIdentifier::from_der(v)
            .ok()?
            .key_identifier
            .map(|k| k.into_bytes())
    }

    /// Subject as an RFC 4514 string.
    pub fn subject_string(&self) -> String {
        self.subject().to_string()
    }

    /// Whether the key usage allows document signatures (nonRepudiation) and the extended
    /// key usage, when present, allows signing (emailProtection or any).
    pub fn allows_document_signing(&self) -> bool {
        let ku_ok = self
            .key_usage
            .is_some_and(|ku| ku.0.contains(KeyUsages::NonRepudiation));
        let eku_ok = self.ext_key_usage.as_ref().is_none_or(|eku| {
            eku.iter()
                .any(|o| *o == oids::KP_EMAIL_PROTECTION || *o == oids::KP_ANY)
        });
        ku_ok && eku_ok
    }

    /// Whether this is the registration authority's certificate (its policy named).
    pub fn is_registration_authority(&self) -> bool {
        self.policies.contains(&oids::POLICY_REGISTRATION_AUTHORITY)
    }

    /// Whether this certificate may sign certificates (CA with keyCertSign).
    pub fn allows_cert_signing(&self) -> bool {
        self.is_ca
            && self
                .key_usage
                .is_none_or(|ku| ku.0.contains(KeyUsages::KeyCertSign))
    }

    /// Whether this certificate may sign CRLs.
    pub fn allows_crl_signing(&self) -> bool {
        self.is_ca
            && self
                .key_usage
                .is_none_or(|ku| ku.0.contains(KeyUsages::CRLSign))
    }
}

/// Upper-case hex of a serial number, without leading zero bytes.
pub fn serial_hex(bytes: &[u8]) -> String {
    let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => &[0],
    };
    hex::encode_upper(trimmed)
}

/// Reads a directory string of any of the usual ASN.1 string types (UTF8String,
/// PrintableString, IA5String, TeletexString, BMPString).
pub fn any_to_string(v: &der::asn1::Any) -> Option<String> {
    use der::asn1::{BmpString, Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
    if let Ok(s) = v.decode_as::<Utf8StringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = v.decode_as::<PrintableStringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = v.decode_as::<Ia5StringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = v.decode_as::<TeletexStringRef<'_>>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = v.decode_as::<BmpString>() {
        return Some(s.to_string());
    }
    None
}

/// Reads the identity attributes of a subject name.
pub fn identity_of(name: &Name) -> Identity {
    let mut id = Identity::default();
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            let Some(val) = any_to_string(&atv.value) else {
                continue;
            };
            match atv.oid {
                o if o == oids::AT_SERIAL_NUMBER => {
                    id.iin = val.strip_prefix("IIN").and_then(|d| Iin::parse(d).ok());
                }
                o if o == oids::AT_COMMON_NAME => id.common_name = Some(val),
                o if o == oids::AT_SURNAME => id.surname = Some(val),
                o if o == oids::AT_GIVEN_NAME => id.given_name = Some(val),
                o if o == oids::AT_ORGANIZATION => id.organization = Some(val),
                o if o == oids::AT_COUNTRY => id.country = Some(val),
                o if o == oids::AT_ORG_UNIT => {
                    if let Some(b) = val.strip_prefix("BIN")
                        && b.len() == 12
                        && b.bytes().all(|c| c.is_ascii_digit())
                    {
                        id.bin = Some(b.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    id
}
