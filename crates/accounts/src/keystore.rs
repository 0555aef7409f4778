//! The workstations' keystore (ADR 0005): the signing keys of the accounts that sign at
//! the server (a development setting of each workstation) are stored sealed with
//! AES-256-GCM under a key kept in a file of its own, never in the database. АРМ РШЭП
//! (ИС МИО's employees) and АРМ ИС ЦОН (the centres' operators) share this one
//! implementation.

use aws_lc_rs::rand::SecureRandom;

/// A workstation's keystore key: its accounts' private keys are stored sealed under it with
/// AES-256-GCM, a random 96-bit nonce per row and the account's IIN as associated data
/// (a sealed key copied to another row does not open). The key is 32 random bytes in a
/// file of its own ([`Keystore::open_or_create`]), never in the database.
pub struct Keystore {
    key: aws_lc_rs::aead::LessSafeKey,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keystore(..)")
    }
}

/// A keystore key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// Reading or creating the file failed.
    #[error("keystore key {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold 32 bytes.
    #[error("keystore key {0}: not 32 bytes (an AES-256 key)")]
    BadKey(std::path::PathBuf),
    /// A sealed key does not open (another keystore key, or altered).
    #[error("the sealed key of {0} does not open with this keystore key")]
    Unseal(String),
}

impl Keystore {
    /// A keystore with this key.
    pub fn new(key: &[u8; 32]) -> Self {
        let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key)
            .expect("a 32-byte AES-256 key");
        Keystore {
            key: aws_lc_rs::aead::LessSafeKey::new(unbound),
        }
    }

    /// Reads the key from `path`, or, when there is no such file, creates it with 32
    /// random bytes, readable by its owner alone (0600) from its first byte.
    pub fn open_or_create(path: &std::path::Path) -> Result<Self, KeystoreError> {
        let io = |source| KeystoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| KeystoreError::BadKey(path.to_path_buf()))?;
                Ok(Keystore::new(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write as _;
                let mut key = [0u8; 32];
                aws_lc_rs::rand::SystemRandom::new()
                    .fill(&mut key)
                    .expect("system randomness");
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    options.mode(0o600);
                }
                let mut f = options.open(path).map_err(io)?;
                f.write_all(&key).and_then(|()| f.sync_all()).map_err(io)?;
                Ok(Keystore::new(&key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Seals a private key (PEM) of account `iin`: (nonce, ciphertext with its tag).
    pub fn seal(&self, iin: &str, key_pem: &str) -> (Vec<u8>, Vec<u8>) {
        use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut nonce)
            .expect("system randomness");
        let mut data = key_pem.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(iin.as_bytes()),
                &mut data,
            )
            .expect("sealing in memory");
        (nonce.to_vec(), data)
    }

    /// Opens what [`Keystore::seal`] sealed for `iin`.
    pub fn open(&self, iin: &str, nonce: &[u8], sealed: &[u8]) -> Result<String, KeystoreError> {
        use aws_lc_rs::aead::{Aad, Nonce};
        let err = || KeystoreError::Unseal(iin.to_string());
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| err())?;
        let mut data = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(iin.as_bytes()), &mut data)
            .map_err(|_| err())?;
        String::from_utf8(plain.to_vec()).map_err(|_| err())
    }
}

/// Seals the private keys stored in clear by an earlier version (column `key_pem` of the
/// accounts table `accounts`, keyed by `iin`) into `key_nonce` and `key_sealed`, and
/// empties `key_pem`; returns how many it sealed.
pub async fn seal_clear_keys(
    pool: &sqlx::PgPool,
    keystore: &Keystore,
    accounts: &str,
) -> sqlx::Result<usize> {
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "select iin, key_pem from {accounts} where key_pem is not null"
    ))
    .fetch_all(pool)
    .await?;
    for (iin, pem) in &rows {
        let (nonce, sealed) = keystore.seal(iin, pem);
        sqlx::query(&format!(
            "update {accounts} set key_nonce = $2, key_sealed = $3, key_pem = null where iin = $1"
        ))
        .bind(iin)
        .bind(nonce)
        .bind(sealed)
        .execute(pool)
        .await?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_for_their_row_and_key() {
        let k = Keystore::new(&[7; 32]);
        let (nonce, sealed) = k.seal("900101300001", "-----BEGIN PRIVATE KEY-----x");
        assert!(!sealed.windows(5).any(|w| w == b"BEGIN"), "not in clear");
        assert_eq!(
            k.open("900101300001", &nonce, &sealed).unwrap(),
            "-----BEGIN PRIVATE KEY-----x"
        );
        assert!(
            k.open("900101300002", &nonce, &sealed).is_err(),
            "another row"
        );
        assert!(
            Keystore::new(&[8; 32])
                .open("900101300001", &nonce, &sealed)
                .is_err(),
            "another key"
        );
        let mut altered = sealed.clone();
        altered[0] ^= 1;
        assert!(k.open("900101300001", &nonce, &altered).is_err(), "altered");
        let (nonce2, _) = k.seal("900101300001", "-----BEGIN PRIVATE KEY-----x");
        assert_ne!(nonce, nonce2, "a nonce per seal");
    }

    #[test]
    fn the_keystore_key_file_is_created_once_for_its_owner() {
        let dir = std::env::temp_dir().join(format!("egov-keystore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("k.key");
        let a = Keystore::open_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (n, s) = a.seal("x", "secret");
        let b = Keystore::open_or_create(&path).unwrap();
        assert_eq!(b.open("x", &n, &s).unwrap(), "secret", "the same key again");
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            Keystore::open_or_create(&path),
            Err(KeystoreError::BadKey(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
