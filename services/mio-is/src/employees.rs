//! The employees of the providers: seeded accounts for every role of every provider,
//! their passwords (argon2id; generated unless a development setting fixes one), their
//! signing keys (issued by the test PKI, kept in the АРМ's keystore as NCALayer would keep
//! them on a token), and their sessions.

use aws_lc_rs::{digest, rand::SecureRandom};
use egov_iin::{Iin, Sex};
use egov_pki::{CertInfo, CertProfile, Issuer, PrivateKey, SubjectSpec};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::catalog::Catalog;

/// An employee.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Employee {
    /// IIN (the login).
    pub iin: String,
    /// Provider.
    pub provider_id: String,
    /// Role.
    pub role: String,
    /// Surname.
    pub surname: String,
    /// Name.
    pub name: String,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Position (the role's name).
    pub position: String,
    /// Active.
    pub active: bool,
}

impl Employee {
    /// "Surname Name Patronymic".
    pub fn full_name(&self) -> String {
        let mut s = format!("{} {}", self.surname, self.name);
        if let Some(p) = &self.patronymic {
            s.push(' ');
            s.push_str(p);
        }
        s
    }
}

const COLUMNS: &str = "iin, provider_id, role, surname, name, patronymic, position, active";

/// The АРМ's keystore key: the employees' private keys are stored sealed under it with
/// AES-256-GCM, a random 96-bit nonce per row and the employee's IIN as associated data
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

    /// Seals a private key (PEM) of employee `iin`: (nonce, ciphertext with its tag).
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

/// Seals the private keys stored in clear by an earlier version (`key_pem`) and empties
/// that column; returns how many it sealed.
pub async fn seal_clear_keys(pool: &PgPool, keystore: &Keystore) -> sqlx::Result<usize> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select iin, key_pem from employees where key_pem is not null")
            .fetch_all(pool)
            .await?;
    for (iin, pem) in &rows {
        let (nonce, sealed) = keystore.seal(iin, pem);
        sqlx::query(
            "update employees set key_nonce = $2, key_sealed = $3, key_pem = null where iin = $1",
        )
        .bind(iin)
        .bind(nonce)
        .bind(sealed)
        .execute(pool)
        .await?;
    }
    Ok(rows.len())
}

pub use egov_accounts::{
    DUMMY_HASH, PASSWORD_ALPHABET, Passwords, Verified, generate_password, hash_password,
    legacy_pbkdf2_hash, verify_password,
};

/// The outcome of [`seed`].
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Every account, new or not.
    pub employees: Vec<Employee>,
    /// The IIN and the generated password of each account created now (empty with
    /// [`Passwords::Fixed`]). Shown once: nothing else keeps them.
    pub new_passwords: Vec<(String, String)>,
}

/// Writes the generated passwords of new accounts to `path`, created readable by its
/// owner alone (0600) from its first byte, in a new file renamed over any old one: one
/// line `IIN<TAB>password<TAB>provider<TAB>role<TAB>name` per account.
pub fn write_passwords(path: &std::path::Path, seeded: &Seeded) -> std::io::Result<()> {
    let lines: Vec<String> = seeded
        .new_passwords
        .iter()
        .map(|(iin, password)| {
            let e = seeded.employees.iter().find(|e| e.iin == *iin);
            format!(
                "{iin}\t{password}\t{}\t{}\t{}",
                e.map(|e| e.provider_id.as_str()).unwrap_or(""),
                e.map(|e| e.role.as_str()).unwrap_or(""),
                e.map(|e| e.full_name()).unwrap_or_default(),
            )
        })
        .collect();
    egov_accounts::write_secret_file(
        path,
        "АРМ РШЭП: the generated passwords of the new accounts (shown once; keep or delete)",
        &lines,
    )
}

fn hash64(s: &str) -> u64 {
    let d = digest::digest(&digest::SHA256, s.as_bytes());
    u64::from_be_bytes(d.as_ref()[..8].try_into().expect("8 bytes"))
}

/// A seeded account to be.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The provider.
    pub provider: egov_regulation::Provider,
    /// The role.
    pub role: String,
    /// Which of the role's accounts (0, 1, ...).
    pub k: u32,
    /// The position (the role's name).
    pub position: String,
}

impl Planned {
    /// Its IIN.
    pub fn iin(&self) -> Iin {
        employee_iin(&self.provider.id, &self.role, self.k)
    }
}

/// The seeded accounts: one per role of every provider, two executors.
pub fn planned(catalog: &Catalog) -> Vec<Planned> {
    let mut v = Vec::new();
    for (provider, regs) in catalog.providers() {
        let mut roles: Vec<(String, String)> = Vec::new();
        for r in &regs {
            for role in r.working_roles() {
                if !roles.iter().any(|(id, _)| *id == role) {
                    let name = r
                        .role(&role)
                        .map(|x| x.name.ru.clone())
                        .unwrap_or_else(|| role.clone());
                    roles.push((role, name));
                }
            }
        }
        for (role, position) in roles {
            let count = if role == "executor" || role == regs[0].assigned_role() {
                2
            } else {
                1
            };
            for k in 0..count {
                v.push(Planned {
                    provider: provider.clone(),
                    role: role.clone(),
                    k,
                    position: position.clone(),
                });
            }
        }
    }
    v
}

/// A deterministic IIN for the `k`-th employee of `role` at `provider` (serials from
/// 9600 up, which the synthetic population never uses).
pub fn employee_iin(provider: &str, role: &str, k: u32) -> Iin {
    let h = hash64(&format!("{provider}/{role}/{k}"));
    let birth = time::Date::from_calendar_date(1965, time::Month::January, 1).expect("valid")
        + Duration::days((h % 12_000) as i64);
    let sex = if (h >> 20).is_multiple_of(2) {
        Sex::Male
    } else {
        Sex::Female
    };
    let start = 9600 + ((h >> 24) % 300) as u16;
    (start..=9999)
        .chain(9600..start)
        .find_map(|s| Iin::from_parts(birth, sex, s).ok())
        .expect("an assignable serial")
}

fn names_for(iin: &Iin, h: u64) -> (String, String, Option<String>) {
    let data = egov_synth::data();
    let set = if h.is_multiple_of(4) {
        &data.names.russian
    } else {
        &data.names.kazakh
    };
    let father = &set.male[(h >> 8) as usize % set.male.len()];
    let surname = &set.surnames[(h >> 16) as usize % set.surnames.len()];
    match iin.sex() {
        Sex::Male => (
            surname[0].clone(),
            set.male[(h >> 32) as usize % set.male.len()][0].clone(),
            Some(father[1].clone()),
        ),
        Sex::Female => (
            surname[1].clone(),
            set.female[(h >> 32) as usize % set.female.len()].clone(),
            Some(father[2].clone()),
        ),
    }
}

/// Creates the missing seeded accounts, each with a password of `passwords` (stored as
/// its argon2id hash, salted per account) and a signing certificate from `issuer` (the
/// registration tool's: ИС МИО never holds the CA's key), its key sealed in `keystore`.
/// Returns the accounts (all of them, new or not) and the generated passwords.
pub async fn seed(
    pool: &PgPool,
    catalog: &Catalog,
    issuer: &dyn Issuer,
    passwords: &Passwords,
    keystore: &Keystore,
    now: OffsetDateTime,
) -> Result<Seeded, String> {
    let plan = planned(catalog);
    let existing: Vec<String> = sqlx::query_scalar("select iin from employees")
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    let missing: Vec<Planned> = plan
        .into_iter()
        .filter(|p| !existing.contains(&p.iin().as_string()))
        .collect();
    let mut new_passwords = Vec::new();
    if !missing.is_empty() {
        let algorithm = issuer.algorithm();
        for p in missing {
            let iin = p.iin();
            let h = hash64(&iin.as_string());
            let (surname, name, patronymic) = names_for(&iin, h);
            let full = match &patronymic {
                Some(p) => format!("{surname} {name} {p}"),
                None => format!("{surname} {name}"),
            };
            let spec = SubjectSpec {
                iin: Some(iin),
                name: full.to_uppercase(),
                organization: Some(p.provider.name.ru.clone()),
                bin: Some(p.provider.bin.clone()),
                dns_names: vec![],
            };
            let issued = issuer
                .issue(
                    &spec,
                    CertProfile::Signing,
                    algorithm,
                    now - Duration::days(1),
                    now + Duration::days(365 * 2),
                )
                .map_err(|e| format!("issuing the certificate of {}: {e}", iin.as_string()))?;
            let key = issued.key.as_ref().ok_or("the PKI returned no key")?;
            let password = match passwords {
                Passwords::Fixed(p) => p.clone(),
                Passwords::Generated => {
                    let p = generate_password();
                    new_passwords.push((iin.as_string(), p.clone()));
                    p
                }
            };
            let hash = hash_password(&password);
            let (nonce, sealed) = keystore.seal(&iin.as_string(), &key.to_pem());
            sqlx::query(
                "insert into employees (iin, provider_id, role, surname, name, patronymic, position, password_hash, key_nonce, key_sealed, cert_pem, created_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) on conflict (iin) do nothing",
            )
            .bind(iin.as_string())
            .bind(&p.provider.id)
            .bind(&p.role)
            .bind(&surname)
            .bind(&name)
            .bind(&patronymic)
            .bind(&p.position)
            .bind(&hash)
            .bind(nonce)
            .bind(sealed)
            .bind(issued.cert.to_pem())
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| e.to_string())?;
        }
    }
    Ok(Seeded {
        employees: all(pool).await.map_err(|e| e.to_string())?,
        new_passwords,
    })
}

/// Every account.
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<Employee>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from employees order by provider_id, role, iin"
    ))
    .fetch_all(pool)
    .await
}

/// One account.
pub async fn get(pool: &PgPool, iin: &str) -> sqlx::Result<Option<Employee>> {
    sqlx::query_as(&format!("select {COLUMNS} from employees where iin = $1"))
        .bind(iin)
        .fetch_optional(pool)
        .await
}

/// The employees of a role at a provider.
pub async fn of_role(pool: &PgPool, provider: &str, role: &str) -> sqlx::Result<Vec<Employee>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from employees where provider_id = $1 and role = $2 and active order by iin"
    ))
    .bind(provider)
    .bind(role)
    .fetch_all(pool)
    .await
}

/// The employee's signing key, unsealed, and certificate (the АРМ's keystore, a
/// development option: see `Config::dev_server_keystore`).
pub async fn keys(
    pool: &PgPool,
    keystore: &Keystore,
    iin: &str,
) -> Result<(PrivateKey, CertInfo), String> {
    let (nonce, sealed, cert): (Option<Vec<u8>>, Option<Vec<u8>>, String) =
        sqlx::query_as("select key_nonce, key_sealed, cert_pem from employees where iin = $1")
            .bind(iin)
            .fetch_optional(pool)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no such employee")?;
    let (Some(nonce), Some(sealed)) = (nonce, sealed) else {
        return Err(format!("no sealed key for {iin}"));
    };
    let key = keystore
        .open(iin, &nonce, &sealed)
        .map_err(|e| e.to_string())?;
    Ok((
        PrivateKey::from_pem(&key).map_err(|e| e.to_string())?,
        CertInfo::from_pem(&cert).map_err(|e| e.to_string())?,
    ))
}

pub use egov_accounts::{LOGIN_FAILURES, LOGIN_WINDOW, token_hash};

/// Where the accounts and their sessions are.
const STORE: egov_accounts::Store = egov_accounts::Store {
    accounts: "employees",
    session_column: "employee_iin",
};

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    /// A new session: its token and the employee.
    Ok(String, Employee),
    /// Wrong IIN or password, or an inactive account.
    Refused,
    /// Too many failures lately: no attempt is checked until then.
    Throttled {
        /// When the next attempt is checked.
        until: OffsetDateTime,
    },
}

/// Checks a password and opens a session ([`egov_accounts::login`]: throttled after
/// [`LOGIN_FAILURES`] failures within [`LOGIN_WINDOW`]).
pub async fn login(
    pool: &PgPool,
    iin: &str,
    password: &str,
    now: OffsetDateTime,
    lifetime: Duration,
) -> sqlx::Result<Login> {
    Ok(
        match egov_accounts::login(pool, STORE, iin, password, now, lifetime).await? {
            egov_accounts::Attempt::Ok(token) => {
                Login::Ok(token, get(pool, iin).await?.expect("just checked"))
            }
            egov_accounts::Attempt::Refused => Login::Refused,
            egov_accounts::Attempt::Throttled { until } => Login::Throttled { until },
        },
    )
}

/// The employee of a session token that has not expired.
pub async fn session(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<Employee>> {
    let iin: Option<String> = sqlx::query_scalar(
        "select employee_iin from sessions where token_hash = $1 and expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    match iin {
        Some(i) => get(pool, &i).await.map(|e| e.filter(|e| e.active)),
        None => Ok(None),
    }
}

/// Ends a session.
pub async fn logout(pool: &PgPool, token: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where token_hash = $1")
        .bind(token_hash(token))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("секрет-1");
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert_eq!(verify_password("секрет-1", &h), Verified::Yes);
        assert_eq!(verify_password("секрет-2", &h), Verified::No);
        assert_ne!(h, hash_password("секрет-1"), "salted");
        assert_eq!(verify_password("x", "garbage"), Verified::No);
        assert_eq!(verify_password("x", "$argon2id$garbage"), Verified::No);
        assert_eq!(verify_password("x", "pbkdf2-sha256$0$00$00"), Verified::No);
    }

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

    #[test]
    fn older_hashes_verify_and_ask_for_argon2id() {
        let h = legacy_pbkdf2_hash("секрет-1");
        assert_eq!(verify_password("секрет-1", &h), Verified::YesRehash);
        assert_eq!(verify_password("секрет-2", &h), Verified::No);
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert!(a.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, generate_password());
    }

    #[test]
    fn employee_iins_are_stable_and_valid() {
        let a = employee_iin("almaty-housing", "head", 0);
        assert_eq!(a, employee_iin("almaty-housing", "head", 0));
        assert_ne!(a, employee_iin("almaty-housing", "head", 1));
        assert!(Iin::parse(&a.as_string()).is_ok());
    }
}
