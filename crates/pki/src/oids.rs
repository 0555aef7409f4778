//! Object identifiers used by the PKI.

use const_oid::ObjectIdentifier as Oid;

/// id-data (RFC 5652).
pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData (RFC 5652).
pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// contentType signed attribute.
pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// messageDigest signed attribute.
pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// signingTime signed attribute.
pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");

/// SHA-1 (OCSP CertID hashes only).
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// SHA-256.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384.
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512.
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");

/// rsaEncryption (also used as a CMS signature algorithm by OpenSSL).
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// sha256WithRSAEncryption.
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
/// sha384WithRSAEncryption.
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
/// sha512WithRSAEncryption.
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
/// id-ecPublicKey.
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// ecdsa-with-SHA256.
pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384.
pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");

/// serialNumber name attribute (carries `IIN<12 digits>`).
pub const AT_SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
/// commonName.
pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
/// surname.
pub const AT_SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
/// givenName.
pub const AT_GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");
/// countryName.
pub const AT_COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
/// organizationName.
pub const AT_ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
/// organizationalUnitName (carries `BIN<12 digits>`).
pub const AT_ORG_UNIT: Oid = Oid::new_unwrap("2.5.4.11");

/// keyUsage extension.
pub const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
/// extKeyUsage extension.
pub const EXT_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
/// basicConstraints extension.
pub const EXT_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
/// certificatePolicies (RFC 5280 4.2.1.4).
pub const EXT_CERTIFICATE_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
/// The policy of the test PKI's registration authority: a certificate under it is the
/// only identity `uc` lets issue and revoke certificates. RFC 7229's
/// `id-TEST-certPolicyOne`, an OID set aside for testing certificate policies: this is a
/// test PKI, and no real policy is claimed.
pub const POLICY_REGISTRATION_AUTHORITY: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.13.1");
/// subjectKeyIdentifier extension.
pub const EXT_SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
/// authorityKeyIdentifier extension (RFC 5280 §4.2.1.1).
pub const EXT_AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
/// cRLNumber (RFC 5280 §5.2.3).
pub const EXT_CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
/// cRLDistributionPoints (RFC 5280 §4.2.1.13).
pub const EXT_CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");

/// id-kp-serverAuth.
pub const KP_SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
/// id-kp-clientAuth.
pub const KP_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
/// id-kp-emailProtection (document signing, as НУЦ РК signing certificates carry).
pub const KP_EMAIL_PROTECTION: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
/// id-kp-OCSPSigning.
pub const KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
/// anyExtendedKeyUsage.
pub const KP_ANY: Oid = Oid::new_unwrap("2.5.29.37.0");

/// id-pkix-ocsp-basic.
pub const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce.
pub const OCSP_NONCE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.2");
