//! A certification authority that issues test certificates and CRLs (rcgen underneath).

use std::net::{IpAddr, Ipv4Addr};

use der::Encode;
use egov_iin::Iin;
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::cert::CertInfo;
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::{Error, Result};

/// What a certificate is for. Signing and authentication certificates are distinct, as
/// НУЦ РК issues them: a signing certificate has keyUsage nonRepudiation + digitalSignature
/// and extKeyUsage emailProtection; an authentication certificate has digitalSignature +
/// keyEncipherment and clientAuth (plus serverAuth for a system's TLS certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertProfile {
    /// Self-signed root CA.
    RootCa,
    /// Issuing (intermediate) CA.
    IssuingCa,
    /// Document signing (ЭЦП) of a person or an employee.
    Signing,
    /// Authentication (login) of a person or an employee.
    Authentication,
    /// Transport signature of an information system (signs envelopes).
    SystemSigning,
    /// Mutual-TLS identity of an information system (server and client).
    SystemTls,
    /// Mutual-TLS client identity of the registration authority (`egovctl`): the only
    /// caller `uc` lets issue and revoke certificates. Carries the policy
    /// [`crate::oids::POLICY_REGISTRATION_AUTHORITY`].
    RegistrationAuthority,
}

impl std::str::FromStr for CertProfile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "signing" | "sign" => CertProfile::Signing,
            "auth" | "authentication" => CertProfile::Authentication,
            "system-signing" => CertProfile::SystemSigning,
            "system-tls" | "tls" => CertProfile::SystemTls,
            "registration-authority" | "ra" => CertProfile::RegistrationAuthority,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown certificate profile {other:?}: use signing, auth, system-signing, system-tls or registration-authority"
                )));
            }
        })
    }
}

/// The subject of a certificate to issue.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SubjectSpec {
    /// The person's IIN (individuals and employees).
    pub iin: Option<Iin>,
    /// Full name as "SURNAME NAME [PATRONYMIC]" of a person, or the system's name.
    pub name: String,
    /// Organisation name (employees, systems).
    pub organization: Option<String>,
    /// Organisation BIN, 12 digits (employees, systems).
    pub bin: Option<String>,
    /// DNS names for a TLS certificate (`localhost` and 127.0.0.1 are always added).
    pub dns_names: Vec<String>,
}

impl SubjectSpec {
    /// An individual's subject.
    pub fn person(iin: Iin, name: &str) -> Self {
        SubjectSpec {
            iin: Some(iin),
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// An information system's subject.
    pub fn system(id: &str, organization: &str, bin: &str) -> Self {
        SubjectSpec {
            iin: None,
            name: id.to_string(),
            organization: Some(organization.to_string()),
            bin: Some(bin.to_string()),
            dns_names: vec![id.to_string()],
        }
    }

    fn distinguished_name(&self, person: bool) -> Result<DistinguishedName> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Error::Invalid("the subject name is empty".into()));
        }
        let mut dn = DistinguishedName::new();
        if person {
            let words: Vec<&str> = name.split_whitespace().collect();
            if words.len() < 2 {
                return Err(Error::Invalid(format!(
                    "a person's name is \"SURNAME NAME [PATRONYMIC]\", got {name:?}"
                )));
            }
            let iin = self
                .iin
                .ok_or_else(|| Error::Invalid("a person's certificate needs an IIN".into()))?;
            dn.push(DnType::CommonName, format!("{} {}", words[0], words[1]));
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 4]), words[0]);
            dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 5]),
                printable(&format!("IIN{iin}"))?,
            );
            dn.push(DnType::CountryName, printable("KZ")?);
            let given = words.get(2).copied().unwrap_or(words[1]);
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 42]), given);
        } else {
            dn.push(DnType::CommonName, name);
            dn.push(DnType::CountryName, printable("KZ")?);
        }
        if let Some(org) = &self.organization {
            dn.push(DnType::OrganizationName, org.as_str());
        }
        if let Some(bin) = &self.bin {
            if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Invalid(format!("a BIN has 12 digits, got {bin:?}")));
            }
            dn.push(
                DnType::OrganizationalUnitName,
                printable(&format!("BIN{bin}"))?,
            );
        }
        Ok(dn)
    }
}

fn printable(s: &str) -> Result<DnValue> {
    Ok(DnValue::PrintableString(
        rcgen::string::PrintableString::try_from(s)
            .map_err(|e| Error::Invalid(format!("{s:?} is not a PrintableString: {e}")))?,
    ))
}

/// A certificate just issued, with its private key when the authority generated it.
#[derive(Debug)]
pub struct IssuedCert {
    /// The certificate.
    pub cert: CertInfo,
    /// The private key, unless the request brought its own public key (CSR).
    pub key: Option<PrivateKey>,
}

/// URLs written into issued certificates.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Endpoints {
    /// CRL distribution point.
    pub crl_url: Option<String>,
    /// OCSP responder (authorityInfoAccess).
    pub ocsp_url: Option<String>,
}

/// A revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevokedEntry {
    /// Serial number, hex.
    pub serial_hex: String,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 reason code (0 unspecified, 1 keyCompromise, ...).
    pub reason: u8,
}

/// A certification authority: its certificate and private key.
#[derive(Debug)]
pub struct Authority {
    /// The CA certificate.
    pub cert: CertInfo,
    /// The CA private key.
    pub key: PrivateKey,
    /// URLs written into the certificates it issues.
    pub endpoints: Endpoints,
}

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[0] = (b[0] & 0x3f) | 0x40;
    SerialNumber::from_slice(&b)
}

impl Authority {
    /// Creates a self-signed root CA.
    pub fn new_root(
        common_name: &str,
        alg: KeyAlgorithm,
        now: OffsetDateTime,
        years: i64,
    ) -> Result<Self> {
        let key = PrivateKey::generate(alg)?;
        let mut params = ca_params(common_name, now, years)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let kp = key.rcgen()?;
        let cert = params
            .self_signed(&kp)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        Ok(Authority {
            cert: CertInfo::from_der(cert.der())?,
            key,
            endpoints: Endpoints::default(),
        })
    }

    /// Creates an issuing CA signed by this (root) CA.
    pub fn new_issuing(
        &self,
        common_name: &str,
        alg: KeyAlgorithm,
        now: OffsetDateTime,
        years: i64,
    ) -> Result<Self> {
        let key = PrivateKey::generate(alg)?;
        let mut params = ca_params(common_name, now, years)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.use_authority_key_identifier_extension = true;
        let kp = key.rcgen()?;
        let cert = params
            .signed_by(&kp, &self.issuer()?)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        Ok(Authority {
            cert: CertInfo::from_der(cert.der())?,
            key,
            endpoints: Endpoints::default(),
        })
    }

    /// Loads an authority from its certificate and key PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str, endpoints: Endpoints) -> Result<Self> {
        let cert = CertInfo::from_pem(cert_pem)?;
        let key = PrivateKey::from_pem(key_pem)?;
        if key.public_key_raw() != cert.public_key_raw() {
            return Err(Error::Invalid(
                "the CA key does not match the CA certificate".into(),
            ));
        }
        if !cert.allows_cert_signing() {
            return Err(Error::Invalid(
                "the certificate is not a CA certificate".into(),
            ));
        }
        Ok(Authority {
            cert,
            key,
            endpoints,
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, rcgen::KeyPair>> {
        Issuer::from_ca_cert_der(&self.cert.der.clone().into(), self.key.rcgen()?)
            .map_err(|e| Error::Crypto(e.to_string()))
    }

    /// Issues a certificate with a freshly generated key.
    pub fn issue(
        &self,
        spec: &SubjectSpec,
        profile: CertProfile,
        alg: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert> {
        let key = PrivateKey::generate(alg)?;
        let kp = key.rcgen()?;
        let cert = self.sign_params(spec, profile, not_before, not_after, &kp)?;
        Ok(IssuedCert {
            cert,
            key: Some(key),
        })
    }

    /// Issues a certificate for the public key of a PKCS#10 request (PEM). The subject is
    /// `spec`, not what the request asks for: the CA decides who the holder is.
    pub fn issue_for_csr(
        &self,
        csr_pem: &str,
        spec: &SubjectSpec,
        profile: CertProfile,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert> {
        let csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| Error::malformed("certificate request", e))?;
        let cert = self.sign_params(spec, profile, not_before, not_after, &csr.public_key)?;
        Ok(IssuedCert { cert, key: None })
    }

    fn sign_params(
        &self,
        spec: &SubjectSpec,
        profile: CertProfile,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        public_key: &impl rcgen::PublicKeyData,
    ) -> Result<CertInfo> {
        if not_after <= not_before {
            return Err(Error::Invalid(format!(
                "validity ends ({not_after}) before it starts ({not_before})"
            )));
        }
        if not_before < self.cert.not_before || not_after > self.cert.not_after {
            return Err(Error::Invalid(format!(
                "validity {not_before} .. {not_after} is outside the CA's {} .. {}",
                self.cert.not_before, self.cert.not_after
            )));
        }
        let person = matches!(profile, CertProfile::Signing | CertProfile::Authentication);
        let mut params = CertificateParams::default();
        params.distinguished_name = spec.distinguished_name(person)?;
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = KeyIdMethod::Sha256;
        match profile {
            CertProfile::Signing | CertProfile::SystemSigning => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::ContentCommitment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
            }
            CertProfile::Authentication => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            CertProfile::SystemTls => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
                let mut sans = vec![
                    SanType::DnsName(
                        "localhost"
                            .try_into()
                            .map_err(|e| Error::Invalid(format!("{e}")))?,
                    ),
                    SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                ];
                for d in &spec.dns_names {
                    sans.push(SanType::DnsName(
                        d.as_str()
                            .try_into()
                            .map_err(|e| Error::Invalid(format!("DNS name {d:?}: {e}")))?,
                    ));
                }
                params.subject_alt_names = sans;
            }
            CertProfile::RegistrationAuthority => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                params
                    .custom_extensions
                    .push(policies(&[crate::oids::POLICY_REGISTRATION_AUTHORITY])?);
            }
            CertProfile::RootCa | CertProfile::IssuingCa => {
                return Err(Error::Invalid(
                    "CA certificates are made by new_root/new_issuing".into(),
                ));
            }
        }
        if let Some(url) = &self.endpoints.crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        if let Some(url) = &self.endpoints.ocsp_url {
            params.custom_extensions.push(aia_ocsp(url)?);
        }
        let cert = params
            .signed_by(public_key, &self.issuer()?)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        CertInfo::from_der(cert.der())
    }

    /// Issues a CRL (DER) listing `revoked`.
    pub fn crl(
        &self,
        revoked: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>> {
        let revoked_certs = revoked
            .iter()
            .map(|r| {
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(
                        &hex::decode(&r.serial_hex).map_err(|e| {
                            Error::Invalid(format!("serial {:?}: {e}", r.serial_hex))
                        })?,
                    ),
                    revocation_time: r.revoked_at,
                    reason_code: Some(reason_code(r.reason)),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer()?)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        Ok(crl.der().to_vec())
    }
}

/// The RFC 5280 reason name of a code.
pub fn reason_name(code: u8) -> &'static str {
    match code {
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unspecified",
    }
}

/// Parses a reason name or number (`key-compromise`, `keyCompromise`, `1`).
pub fn parse_reason(s: &str) -> Result<u8> {
    let norm: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    Ok(match norm.as_str() {
        "0" | "unspecified" => 0,
        "1" | "keycompromise" => 1,
        "2" | "cacompromise" => 2,
        "3" | "affiliationchanged" => 3,
        "4" | "superseded" => 4,
        "5" | "cessationofoperation" => 5,
        "6" | "certificatehold" => 6,
        "9" | "privilegewithdrawn" => 9,
        "10" | "aacompromise" => 10,
        _ => return Err(Error::Invalid(format!("unknown revocation reason {s:?}"))),
    })
}

fn reason_code(code: u8) -> RevocationReason {
    match code {
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => RevocationReason::Unspecified,
    }
}

fn ca_params(common_name: &str, now: OffsetDateTime, years: i64) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::CountryName, printable("KZ")?);
    dn.push(
        DnType::OrganizationName,
        "TEST PKI egov-mirror (not a real authority)",
    );
    params.distinguished_name = dn;
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365 * years);
    params.serial_number = Some(random_serial());
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok(params)
}

/// A certificatePolicies extension naming `oids`.
fn policies(oids: &[const_oid::ObjectIdentifier]) -> Result<CustomExtension> {
    use x509_cert::ext::pkix::CertificatePolicies;
    use x509_cert::ext::pkix::certpolicy::PolicyInformation;
    let ext = CertificatePolicies(
        oids.iter()
            .map(|o| PolicyInformation {
                policy_identifier: *o,
                policy_qualifiers: None,
            })
            .collect(),
    );
    let der = ext.to_der().map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(CustomExtension::from_oid_content(&[2, 5, 29, 32], der))
}

fn aia_ocsp(url: &str) -> Result<CustomExtension> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
    let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: const_oid::db::rfc5280::ID_AD_OCSP,
        access_location: GeneralName::UniformResourceIdentifier(
            der::asn1::Ia5String::new(url)
                .map_err(|e| Error::Invalid(format!("OCSP URL {url:?}: {e}")))?,
        ),
    }]);
    let der = aia.to_der().map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        der,
    ))
}
