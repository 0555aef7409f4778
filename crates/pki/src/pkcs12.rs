//! PKCS#12 key files (`.p12`, RFC 7292): a private key, its certificate and the issuing CA
//! under one password, the form in which НУЦ РК hands out keys and NCALayer users load them.
//!
//! [`write`] encrypts the key and the certificates with PBES2 (PBKDF2-HMAC-SHA256,
//! AES-256-CBC) and protects the whole with an HMAC-SHA256 MAC: what OpenSSL 3 writes by
//! default and reads without `-legacy` (`openssl pkcs12 -in F.p12 -nodes`), and what
//! Java's keytool reads. [`read`] opens those, files OpenSSL writes, and the older 3DES and
//! RC2 files other tools still write.
//!
//! The format is the `p12-keystore` crate's (see `docs/ncalayer.md` for why this crate);
//! the password check is the file's MAC, so a wrong password is told apart from a damaged
//! file only as far as the MAC can tell it.

use crate::cert::CertInfo;
use crate::keys::PrivateKey;
use crate::{Error, Result};

/// The password of the test keys when none is given: НУЦ РК's test keys come with it
/// too. **Test material only**: a key anyone can open.
pub const TEST_PASSWORD: &str = "Qwerty12";

/// PBKDF2 iterations of the encryption and of the MAC (Java's default; OpenSSL 3 writes
/// 2048 and reads any count).
const ITERATIONS: u64 = 10_000;

/// The content of a `.p12` file.
#[derive(Debug)]
pub struct KeyFile {
    /// The key's alias (friendlyName), as NCALayer shows it.
    pub alias: String,
    /// The private key.
    pub key: PrivateKey,
    /// Its certificate.
    pub cert: CertInfo,
    /// The rest of the chain the file holds (the issuing CA), leaf's issuer first.
    pub chain: Vec<CertInfo>,
}

/// The alias of a key of the test PKI: its certificate's subjectKeyIdentifier in
/// lower-case hex, as НУЦ РК names the keys of its files, or the serial number in
/// lower-case hex when the certificate has none (the test PKI's end-entity
/// certificates carry no subjectKeyIdentifier).
pub fn alias_of(cert: &CertInfo) -> String {
    cert.subject_key_id()
        .map(hex::encode)
        .unwrap_or_else(|| cert.serial_hex.to_ascii_lowercase())
}

/// Writes `key` with its certificate `cert` and the `chain` (issuing CA first) as a
/// password-protected PKCS#12 file, the key named [`alias_of`] the certificate.
pub fn write(
    key: &PrivateKey,
    cert: &CertInfo,
    chain: &[CertInfo],
    password: &str,
) -> Result<Vec<u8>> {
    if password.is_empty() {
        return Err(Error::Invalid(
            "a PKCS#12 file needs a password: NCALayer asks for one".into(),
        ));
    }
    if key.public_key_raw() != cert.public_key_raw() {
        return Err(Error::Invalid(
            "the key does not belong to the certificate".into(),
        ));
    }
    let p12_err = |e: p12_keystore::error::Error| Error::Crypto(format!("PKCS#12: {e}"));
    let mut certs = Vec::with_capacity(chain.len() + 1);
    for c in std::iter::once(cert).chain(chain) {
        certs.push(p12_keystore::Certificate::from_der(&c.der).map_err(p12_err)?);
    }
    let alias = alias_of(cert);
    // the localKeyId that ties the key to its certificate: the certificate's key id
    let local_key_id = cert
        .subject_key_id()
        .unwrap_or_else(|| cert.serial_hex.clone().into_bytes());
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        &alias,
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            key.pkcs8_der(),
            local_key_id,
            certs,
        )),
    );
    store
        .writer(password)
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(p12_err)
}

/// Opens a PKCS#12 file with `password`: its (first) private key with the certificate
/// and the chain the file holds.
pub fn read(der: &[u8], password: &str) -> Result<KeyFile> {
    let store = p12_keystore::KeyStore::from_pkcs12(der, password).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => {
            Error::Invalid("wrong password for the PKCS#12 file (its MAC does not verify)".into())
        }
        other => Error::malformed("PKCS#12 file", other),
    })?;
    let (alias, entry) = store.private_key_chain().ok_or_else(|| {
        Error::malformed("PKCS#12 file", "it holds no private key with a certificate")
    })?;
    let key = PrivateKey::from_pkcs8_der(entry.key())?;
    let mut certs = entry.chain().iter().map(|c| CertInfo::from_der(c.as_der()));
    let cert = certs
        .next()
        .ok_or_else(|| Error::malformed("PKCS#12 file", "the key has no certificate"))??;
    if key.public_key_raw() != cert.public_key_raw() {
        return Err(Error::malformed(
            "PKCS#12 file",
            "the private key does not belong to its certificate",
        ));
    }
    Ok(KeyFile {
        alias: alias.to_string(),
        key,
        cert,
        chain: certs.collect::<Result<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::authority::{Authority, CertProfile, SubjectSpec};
    use crate::keys::KeyAlgorithm;

    fn issued(alg: KeyAlgorithm) -> (Authority, crate::IssuedCert) {
        let now = OffsetDateTime::now_utc();
        let root = Authority::new_root("TEST root", alg, now, 2).unwrap();
        let ca = root.new_issuing("TEST issuing", alg, now, 1).unwrap();
        let person = SubjectSpec::person(
            egov_iin::Iin::parse("870312300046").unwrap(),
            "АХМЕТОВ ЕРЛАН САБИТОВИЧ",
        );
        let cert = ca
            .issue(
                &person,
                CertProfile::Signing,
                alg,
                now,
                now + Duration::days(30),
            )
            .unwrap();
        (ca, cert)
    }

    #[test]
    fn a_written_file_reads_back_with_its_password_alone() {
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
            let (ca, c) = issued(alg);
            let key = c.key.as_ref().unwrap();
            let der = write(key, &c.cert, std::slice::from_ref(&ca.cert), "пароль-1").unwrap();
            let back = read(&der, "пароль-1").unwrap();
            assert_eq!(back.cert.der, c.cert.der);
            assert_eq!(back.key.pkcs8_der(), key.pkcs8_der());
            assert_eq!(back.chain.len(), 1);
            assert_eq!(back.chain[0].der, ca.cert.der);
            assert_eq!(back.alias, alias_of(&c.cert));
            assert!(
                back.alias.len() >= 32 && back.alias.bytes().all(|b| b.is_ascii_hexdigit()),
                "a key id in hex: {}",
                back.alias
            );
            let e = read(&der, "пароль-2").unwrap_err().to_string();
            assert!(e.contains("wrong password"), "{e}");
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let (_, c) = issued(KeyAlgorithm::EcdsaP256);
        let key = c.key.as_ref().unwrap();
        assert!(write(key, &c.cert, &[], "").is_err());
        let (_, other) = issued(KeyAlgorithm::EcdsaP256);
        let e = write(other.key.as_ref().unwrap(), &c.cert, &[], "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not belong"), "{e}");
        for garbage in [&b""[..], b"\x30\x00", b"not a p12 at all"] {
            let e = read(garbage, "x").unwrap_err().to_string();
            assert!(e.contains("PKCS#12"), "{e}");
        }
    }
}
