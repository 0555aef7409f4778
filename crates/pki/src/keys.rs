//! Private keys and signing, through aws-lc-rs (constant-time private-key operations).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use der::asn1::Any;
use spki::AlgorithmIdentifierOwned;

use crate::{Error, Result, oids};

/// The key algorithms the test PKI issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// RSA-2048 with SHA-256 (PKCS#1 v1.5), as НУЦ РК's RSA certificates.
    #[default]
    Rsa2048,
    /// ECDSA over P-256 with SHA-256.
    EcdsaP256,
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rsa" | "rsa2048" | "rsa-2048" => Ok(KeyAlgorithm::Rsa2048),
            "ecdsa" | "p256" | "ecdsa-p256" => Ok(KeyAlgorithm::EcdsaP256),
            other => Err(Error::Invalid(format!(
                "unknown key algorithm {other:?}: use rsa-2048 or ecdsa-p256"
            ))),
        }
    }
}

enum Inner {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// A private key held in memory, loaded from or serialised to PKCS#8.
pub struct PrivateKey {
    inner: Inner,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?})", self.algorithm())
    }
}

impl PrivateKey {
    /// Generates a fresh key.
    pub fn generate(alg: KeyAlgorithm) -> Result<Self> {
        let kp = match alg {
            KeyAlgorithm::Rsa2048 => {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            }
            KeyAlgorithm::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        }
        .map_err(|e| Error::Crypto(e.to_string()))?;
        Self::from_pkcs8_der(kp.serialized_der())
    }

    /// Loads a PKCS#8 DER key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Ok(PrivateKey {
                inner: Inner::Rsa(k),
                pkcs8: der.to_vec(),
            });
        }
        match EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der) {
            Ok(k) => Ok(PrivateKey {
                inner: Inner::Ecdsa(k),
                pkcs8: der.to_vec(),
            }),
            Err(e) => Err(Error::malformed(
                "private key",
                format!("not a PKCS#8 RSA or P-256 key ({e})"),
            )),
        }
    }

    /// Loads a `PRIVATE KEY` PEM (PKCS#8).
    pub fn from_pem(pem_text: &str) -> Result<Self> {
        let p = pem::parse(pem_text).map_err(|e| Error::malformed("private key PEM", e))?;
        if p.tag() != "PRIVATE KEY" {
            return Err(Error::malformed(
                "private key PEM",
                format!(
                    "expected a PKCS#8 \"PRIVATE KEY\" block, found \"{}\"",
                    p.tag()
                ),
            ));
        }
        Self::from_pkcs8_der(p.contents())
    }

    /// The PKCS#8 DER encoding.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The PKCS#8 PEM encoding.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PRIVATE KEY", self.pkcs8.clone()))
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            Inner::Rsa(_) => KeyAlgorithm::Rsa2048,
            Inner::Ecdsa(_) => KeyAlgorithm::EcdsaP256,
        }
    }

    /// The raw public key (PKCS#1 RSAPublicKey or the uncompressed EC point), i.e. the
    /// content of the certificate's subjectPublicKey BIT STRING.
    pub fn public_key_raw(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Rsa(k) => k.public_key().as_ref().to_vec(),
            Inner::Ecdsa(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `msg` with SHA-256 (RSA PKCS#1 v1.5 or ECDSA, DER-encoded signature).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .map_err(|e| Error::Crypto(e.to_string()))?;
                Ok(sig)
            }
            Inner::Ecdsa(k) => Ok(k
                .sign(&rng, msg)
                .map_err(|e| Error::Crypto(e.to_string()))?
                .as_ref()
                .to_vec()),
        }
    }

    /// The X.509/CMS signature algorithm identifier of [`PrivateKey::sign`].
    pub fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        match self.inner {
            Inner::Rsa(_) => AlgorithmIdentifierOwned {
                oid: oids::SHA256_WITH_RSA,
                parameters: Some(Any::from(der::asn1::Null)),
            },
            Inner::Ecdsa(_) => AlgorithmIdentifierOwned {
                oid: oids::ECDSA_SHA256,
                parameters: None,
            },
        }
    }

    /// An rcgen key pair over the same key, to issue certificates and CRLs.
    pub(crate) fn rcgen(&self) -> Result<rcgen::KeyPair> {
        rcgen::KeyPair::try_from(self.pkcs8.as_slice()).map_err(|e| Error::Crypto(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_roundtrip_and_sign() {
        for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
            let k = PrivateKey::generate(alg).unwrap();
            let k2 = PrivateKey::from_pem(&k.to_pem()).unwrap();
            assert_eq!(k2.algorithm(), alg);
            assert_eq!(k.public_key_raw(), k2.public_key_raw());
            assert!(!k2.sign(b"x").unwrap().is_empty());
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(PrivateKey::from_pem("not pem").is_err());
        let cert_block = pem::encode(&pem::Pem::new("CERTIFICATE", vec![1, 2, 3]));
        let e = PrivateKey::from_pem(&cert_block).unwrap_err().to_string();
        assert!(e.contains("PRIVATE KEY"), "{e}");
        assert!(PrivateKey::from_pkcs8_der(&[0x30, 0x00]).is_err());
    }
}
