//! The operators of the service centres: seeded accounts for every role of every centre,
//! their passwords (argon2id, salted), their signing keys (issued by the test PKI in the
//! name of the State Corporation on their first signature, kept sealed in the
//! workstation's keystore as NCALayer would keep them on a token), their sessions, and
//! the throttling of failed logins.

use aws_lc_rs::digest;
use egov_iin::{Iin, Sex};
use egov_pki::{CertInfo, CertProfile, Issuer, PrivateKey, SubjectSpec};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::centres::Centre;

/// The organisation named in the operators' certificates.
pub const ORGANIZATION: &str = "НАО «Государственная корпорация «Правительство для граждан»";

/// What an operator does at the centre (the lanes of the seeds' ЦОН).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The inspector at the desk: takes the application, gives the receipt.
    Inspector,
    /// The accumulation sector: collects the documents, builds the register.
    Accumulation,
    /// The courier between the centre and the provider.
    Courier,
    /// The inspector who issues results.
    Issuer,
}

impl Role {
    /// Every role, with how many accounts each centre gets.
    pub const SEEDED: [(Role, u32); 4] = [
        (Role::Inspector, 2),
        (Role::Accumulation, 1),
        (Role::Courier, 1),
        (Role::Issuer, 1),
    ];

    /// The id stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::Accumulation => "accumulation",
            Role::Courier => "courier",
            Role::Issuer => "issuer",
        }
    }

    /// The role of an id.
    pub fn parse(s: &str) -> Option<Role> {
        Role::SEEDED
            .iter()
            .map(|(r, _)| *r)
            .find(|r| r.as_str() == s)
    }

    /// The position, in Russian and Kazakh.
    pub fn position(self) -> (&'static str, &'static str) {
        match self {
            Role::Inspector => ("Инспектор ЦОН", "ХҚО инспекторы"),
            Role::Accumulation => (
                "Инспектор накопительного сектора ЦОН",
                "ХҚО жинақтаушы секторының инспекторы",
            ),
            Role::Courier => ("Курьер ЦОН", "ХҚО курьері"),
            Role::Issuer => (
                "Инспектор ЦОН по выдаче результатов",
                "ХҚО нәтижелерді беру жөніндегі инспекторы",
            ),
        }
    }
}

/// An operator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Operator {
    /// IIN (the login).
    pub iin: String,
    /// The centre.
    pub centre_id: String,
    /// Role.
    pub role: Role,
    /// Surname.
    pub surname: String,
    /// Name.
    pub name: String,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Active.
    pub active: bool,
}

impl Operator {
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

type Row = (String, String, String, String, String, Option<String>, bool);

fn from_row(r: Row) -> Option<Operator> {
    let (iin, centre_id, role, surname, name, patronymic, active) = r;
    Some(Operator {
        iin,
        centre_id,
        role: Role::parse(&role)?,
        surname,
        name,
        patronymic,
        active,
    })
}

const COLUMNS: &str = "iin, centre_id, role, surname, name, patronymic, active";

pub use egov_accounts::{Passwords, Verified, hash_password, verify_password};

fn hash64(s: &str) -> u64 {
    let d = digest::digest(&digest::SHA256, s.as_bytes());
    u64::from_be_bytes(d.as_ref()[..8].try_into().expect("8 bytes"))
}

/// A deterministic IIN for the `k`-th operator of `role` at `centre` (serials from 9600
/// up, which the synthetic population never uses).
pub fn operator_iin(centre: &str, role: Role, k: u32) -> Iin {
    let h = hash64(&format!("con-is/{centre}/{}/{k}", role.as_str()));
    let birth = time::Date::from_calendar_date(1970, time::Month::January, 1).expect("valid")
        + Duration::days((h % 11_000) as i64);
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
    let set = if h.is_multiple_of(3) {
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

/// The seeded accounts of the centres: `(centre, role, k, iin)`.
pub fn planned(centres: &[Centre]) -> Vec<(String, Role, u32, Iin)> {
    let mut v = Vec::new();
    for c in centres {
        for (role, count) in Role::SEEDED {
            for k in 0..count {
                v.push((c.id.clone(), role, k, operator_iin(&c.id, role, k)));
            }
        }
    }
    v
}

/// Creates the missing seeded accounts, each with a password of `passwords` (stored as
/// its argon2id hash, salted per account). Their signing keys are issued on their first
/// signature ([`keys`]), so that a start does not wait for a hundred keys. Returns the
/// IIN and generated password of each account created now (none with a fixed password):
/// shown once, nothing else keeps them.
pub async fn seed(
    pool: &PgPool,
    centres: &[Centre],
    passwords: &Passwords,
    now: OffsetDateTime,
) -> Result<Vec<(String, String)>, String> {
    let existing: Vec<String> = sqlx::query_scalar("select iin from operators")
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
    let missing: Vec<_> = planned(centres)
        .into_iter()
        .filter(|(_, _, _, iin)| !existing.contains(&iin.as_string()))
        .collect();
    let mut generated = Vec::new();
    if missing.is_empty() {
        return Ok(generated);
    }
    // one fixed development password: one hash will do
    let fixed = match passwords {
        Passwords::Fixed(p) => Some(hash_password(p)),
        Passwords::Generated => None,
    };
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    for (centre, role, _, iin) in missing {
        let (surname, name, patronymic) = names_for(&iin, hash64(&iin.as_string()));
        let hash = match &fixed {
            Some(h) => h.clone(),
            None => {
                let p = egov_accounts::generate_password();
                let h = hash_password(&p);
                generated.push((iin.as_string(), p));
                h
            }
        };
        sqlx::query(
            "insert into operators (iin, centre_id, role, surname, name, patronymic, password_hash, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (iin) do nothing",
        )
        .bind(iin.as_string())
        .bind(&centre)
        .bind(role.as_str())
        .bind(&surname)
        .bind(&name)
        .bind(&patronymic)
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(generated)
}

/// Writes the generated passwords of new accounts to `path` (0600, one line
/// `IIN<TAB>password<TAB>centre<TAB>role<TAB>name` per account).
pub async fn write_passwords(
    pool: &PgPool,
    path: &std::path::Path,
    generated: &[(String, String)],
) -> Result<(), String> {
    let all = all(pool).await.map_err(|e| e.to_string())?;
    let lines: Vec<String> = generated
        .iter()
        .map(|(iin, p)| {
            let o = all.iter().find(|o| o.iin == *iin);
            format!(
                "{iin}\t{p}\t{}\t{}\t{}",
                o.map(|o| o.centre_id.as_str()).unwrap_or(""),
                o.map(|o| o.role.as_str()).unwrap_or(""),
                o.map(|o| o.full_name()).unwrap_or_default()
            )
        })
        .collect();
    egov_accounts::write_secret_file(
        path,
        "АРМ ИС ЦОН: the generated passwords of the new accounts (shown once; keep or delete)",
        &lines,
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// Every account.
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<Operator>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select {COLUMNS} from operators order by centre_id, role, iin"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(from_row).collect())
}

/// One account.
pub async fn get(pool: &PgPool, iin: &str) -> sqlx::Result<Option<Operator>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("select {COLUMNS} from operators where iin = $1"))
            .bind(iin)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(from_row))
}

pub use egov_accounts::keystore::Keystore;

/// Seals the operators' private keys an earlier version stored in clear; returns how many.
pub async fn seal_clear_keys(pool: &PgPool, keystore: &Keystore) -> sqlx::Result<usize> {
    egov_accounts::keystore::seal_clear_keys(pool, keystore, "operators").await
}

type Stored = (Option<Vec<u8>>, Option<Vec<u8>>, Option<String>);

/// The operator's signing key and certificate, the key sealed in the workstation's
/// keystore (AES-256-GCM under the keystore key, the IIN as associated data), issued by
/// the test PKI in the State Corporation's name on the first call (the certificate names
/// the person, the organisation and the BIN of `con-is` in the topology's test PKI).
pub async fn keys(
    pool: &PgPool,
    keystore: &Keystore,
    issuer: Option<&dyn Issuer>,
    who: &Operator,
    now: OffsetDateTime,
) -> Result<(PrivateKey, CertInfo), String> {
    let stored = || async {
        sqlx::query_as::<_, Stored>(
            "select key_nonce, key_sealed, cert_pem from operators where iin = $1",
        )
        .bind(&who.iin)
        .fetch_optional(pool)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no such operator".to_string())
    };
    let open = |(nonce, sealed, cert): Stored| -> Result<Option<(PrivateKey, CertInfo)>, String> {
        let (Some(nonce), Some(sealed), Some(cert)) = (nonce, sealed, cert) else {
            return Ok(None);
        };
        let pem = keystore
            .open(&who.iin, &nonce, &sealed)
            .map_err(|e| e.to_string())?;
        Ok(Some((
            PrivateKey::from_pem(&pem).map_err(|e| e.to_string())?,
            CertInfo::from_pem(&cert).map_err(|e| e.to_string())?,
        )))
    };
    if let Some(k) = open(stored().await?)? {
        return Ok(k);
    }
    let issuer = issuer.ok_or(
        "no registration authority has given ИС ЦОН an issuer: the operator's signing key cannot be issued",
    )?;
    let issued = issue(issuer, who, now)?;
    let key = issued.key.as_ref().ok_or("the PKI returned no key")?;
    let (nonce, sealed) = keystore.seal(&who.iin, &key.to_pem());
    // two first signatures at once: the first stored wins, both use it
    sqlx::query(
        "update operators set key_nonce = $2, key_sealed = $3, cert_pem = $4
         where iin = $1 and key_sealed is null",
    )
    .bind(&who.iin)
    .bind(nonce)
    .bind(sealed)
    .bind(issued.cert.to_pem())
    .execute(pool)
    .await
    .map_err(|e| e.to_string())?;
    open(stored().await?)?.ok_or_else(|| "the operator's key was not stored".into())
}

/// The operator's certificate (issued on the first signature; none before).
pub async fn certificate(pool: &PgPool, iin: &str) -> sqlx::Result<Option<CertInfo>> {
    let pem: Option<Option<String>> =
        sqlx::query_scalar("select cert_pem from operators where iin = $1")
            .bind(iin)
            .fetch_optional(pool)
            .await?;
    Ok(pem.flatten().and_then(|p| CertInfo::from_pem(&p).ok()))
}

/// A signing certificate of the test PKI for the operator, with its key.
fn issue(
    issuer: &dyn Issuer,
    who: &Operator,
    now: OffsetDateTime,
) -> Result<egov_pki::IssuedCert, String> {
    let iin = Iin::parse(&who.iin).map_err(|e| e.to_string())?;
    let spec = SubjectSpec {
        iin: Some(iin),
        name: who.full_name().to_uppercase(),
        organization: Some(ORGANIZATION.into()),
        bin: Some(crate::desk::STATE_CORPORATION_BIN.into()),
        dns_names: vec![],
    };
    issuer
        .issue(
            &spec,
            CertProfile::Signing,
            issuer.algorithm(),
            now - Duration::days(1),
            now + Duration::days(365 * 2),
        )
        .map_err(|e| format!("issuing the certificate of {}: {e}", who.iin))
}

pub use egov_accounts::{LOGIN_FAILURES, LOGIN_WINDOW, token_hash};

/// Where the accounts and their sessions are.
const STORE: egov_accounts::Store = egov_accounts::Store {
    accounts: "operators",
    session_column: "operator_iin",
};

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    /// A new session: its token and the operator.
    Ok(String, Operator),
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

/// The operator of a live session token, and when the session began.
pub async fn session(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<(Operator, OffsetDateTime)>> {
    let row: Option<(String, OffsetDateTime)> = sqlx::query_as(
        "select operator_iin, created_at from sessions where token_hash = $1 and expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((iin, since)) => Ok(get(pool, &iin)
            .await?
            .filter(|o| o.active)
            .map(|o| (o, since))),
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
    fn passwords_are_argon2id() {
        let h = hash_password("секрет-1");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_eq!(verify_password("секрет-1", &h), Verified::Yes);
        assert_eq!(verify_password("секрет-2", &h), Verified::No);
    }

    #[test]
    fn operator_iins_are_stable_valid_and_distinct() {
        let centres = crate::centres::shipped().unwrap();
        let plan = planned(&centres);
        let mut iins: Vec<String> = plan.iter().map(|p| p.3.as_string()).collect();
        assert!(iins.iter().all(|i| Iin::parse(i).is_ok()));
        iins.sort();
        iins.dedup();
        assert_eq!(
            iins.len(),
            plan.len(),
            "every operator has an IIN of their own"
        );
        assert_eq!(
            operator_iin("akzhar", Role::Inspector, 0),
            operator_iin("akzhar", Role::Inspector, 0)
        );
        assert_eq!(Role::parse("courier"), Some(Role::Courier));
        assert_eq!(Role::parse("head"), None);
    }
}
