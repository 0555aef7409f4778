//! The employees of the providers: seeded accounts for every role of every provider,
//! their passwords (argon2id; generated unless a development setting fixes one), their
//! signing keys (issued by the test PKI, kept in the АРМ's keystore as NCALayer would keep
//! them on a token), and their sessions.

use aws_lc_rs::digest;
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

pub use egov_accounts::keystore::{Keystore, KeystoreError};

/// Seals the private keys stored in clear by an earlier version (`key_pem`) and empties
/// that column; returns how many it sealed.
pub async fn seal_clear_keys(pool: &PgPool, keystore: &Keystore) -> sqlx::Result<usize> {
    egov_accounts::keystore::seal_clear_keys(pool, keystore, "employees").await
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
