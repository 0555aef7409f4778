//! The accounts of the workstations (АРМ РШЭП's employees, АРМ ИС ЦОН's operators):
//! passwords hashed with argon2id and a salt per account (older PBKDF2 hashes still
//! verify, to be replaced at the next login), passwords generated for seeded accounts
//! and shown once, in a file of the owner's alone. A fixed password is a development
//! setting of each service, never a default.

pub mod keystore;
pub mod web;

use std::num::NonZeroU32;

use aws_lc_rs::{pbkdf2, rand::SecureRandom};

/// PBKDF2 iterations of the hashes stored before argon2id.
const LEGACY_ITERATIONS: u32 = 20_000;

/// Hashes a password with argon2id (the crate's default cost: 19 MiB, two passes) and a
/// fresh random 16-byte salt of its own, as a PHC string (`$argon2id$v=19$m=...`).
pub fn hash_password(password: &str) -> String {
    use argon2::PasswordHasher as _;
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("system randomness");
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("argon2id with its default parameters and a 16-byte salt")
        .to_string()
}

/// Hashes a password the way accounts were stored before argon2id:
/// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`. Such hashes still verify and are
/// replaced at the next successful login; this makes one (for tests of that upgrade).
pub fn legacy_pbkdf2_hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("system randomness");
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(LEGACY_ITERATIONS).expect("non-zero"),
        &salt,
        password.as_bytes(),
        &mut out,
    );
    format!(
        "pbkdf2-sha256${LEGACY_ITERATIONS}${}${}",
        hex::encode(salt),
        hex::encode(out)
    )
}

/// What a stored hash says of a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// It is not the password (or the hash is not one this code reads).
    No,
    /// It is, and the hash is argon2id.
    Yes,
    /// It is, by a hash of an older scheme (PBKDF2) to be replaced by argon2id.
    YesRehash,
}

/// Checks a password against a stored hash: argon2id (PHC string) or the older
/// `pbkdf2-sha256$...` of [`legacy_pbkdf2_hash`].
pub fn verify_password(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$argon2") {
        use argon2::PasswordVerifier as _;
        let ok = argon2::Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok();
        return match (ok, stored.starts_with("$argon2id$")) {
            (false, _) => Verified::No,
            (true, true) => Verified::Yes,
            (true, false) => Verified::YesRehash,
        };
    }
    let parts: Vec<&str> = stored.split('$').collect();
    let [alg, iter, salt, hash] = parts.as_slice() else {
        return Verified::No;
    };
    if *alg != "pbkdf2-sha256" {
        return Verified::No;
    }
    let (Ok(iter), Ok(salt), Ok(hash)) =
        (iter.parse::<u32>(), hex::decode(salt), hex::decode(hash))
    else {
        return Verified::No;
    };
    let Some(iter) = NonZeroU32::new(iter) else {
        return Verified::No;
    };
    match pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iter,
        &salt,
        password.as_bytes(),
        &hash,
    ) {
        Ok(()) => Verified::YesRehash,
        Err(_) => Verified::No,
    }
}

/// A hash no password matches, checked when the IIN has no account so that a missing
/// account costs the same time as a wrong password.
pub static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no account has this password"));

/// Letters and digits of a generated password: no `0 O 1 l I`, which read alike.
pub const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new random password: 20 characters of [`PASSWORD_ALPHABET`] (about 116 bits).
pub fn generate_password() -> String {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut b = [0u8; 1];
        rng.fill(&mut b).expect("system randomness");
        // rejection sampling: no bias towards the first letters
        let n = PASSWORD_ALPHABET.len();
        if usize::from(b[0]) < 256 - 256 % n {
            out.push(char::from(PASSWORD_ALPHABET[usize::from(b[0]) % n]));
        }
    }
    out
}

/// Which password the seeded accounts get.
#[derive(Debug, Clone)]
pub enum Passwords {
    /// Each new account a generated password of its own ([`generate_password`]), handed
    /// back once and stored only as its hash.
    Generated,
    /// Every new account this one (a development setting: tests, local development).
    Fixed(String),
}

/// Writes `lines` under a `# header` line to `path`, created readable by its owner alone
/// (0600) from its first byte, in a new file renamed over any old one.
pub fn write_secret_file(
    path: &std::path::Path,
    header: &str,
    lines: &[String],
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut text = format!("# {header}\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all())?;
    std::fs::rename(&tmp, path)
}

/// Failed logins of one IIN within [`LOGIN_WINDOW`] that lock its logins.
pub const LOGIN_FAILURES: i64 = 5;

/// The window failed logins count in, and how long the lock lasts.
pub const LOGIN_WINDOW: time::Duration = time::Duration::minutes(15);

/// Where a workstation keeps its accounts: the table (`iin`, `password_hash`, `active`)
/// and the sessions' column naming the account; `login_failures (iin, at)` and
/// `sessions (token_hash, <column>, created_at, expires_at)` are in the same schema.
#[derive(Debug, Clone, Copy)]
pub struct Store {
    /// The accounts' table.
    pub accounts: &'static str,
    /// The column of `sessions` that names the account.
    pub session_column: &'static str,
}

/// What a login attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A new session: its token.
    Ok(String),
    /// Wrong IIN or password, or an inactive account.
    Refused,
    /// Too many failures lately: no attempt is checked until then.
    Throttled {
        /// When the next attempt is checked.
        until: time::OffsetDateTime,
    },
}

/// The stored form of a session token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

/// Checks a password and opens a session of `lifetime`. After [`LOGIN_FAILURES`] failures
/// of one IIN within [`LOGIN_WINDOW`], no attempt is checked (not even with the right
/// password) until the oldest of them leaves the window; a success clears the failures,
/// and a hash of the older scheme gives way to argon2id.
pub async fn login(
    pool: &sqlx::PgPool,
    store: Store,
    iin: &str,
    password: &str,
    now: time::OffsetDateTime,
    lifetime: time::Duration,
) -> sqlx::Result<Attempt> {
    let locking: Option<time::OffsetDateTime> = sqlx::query_scalar(
        "select at from login_failures where iin = $1 and at > $2 order by at desc offset $3 limit 1",
    )
    .bind(iin)
    .bind(now - LOGIN_WINDOW)
    .bind(LOGIN_FAILURES - 1)
    .fetch_optional(pool)
    .await?;
    if let Some(at) = locking {
        return Ok(Attempt::Throttled {
            until: at + LOGIN_WINDOW,
        });
    }
    let row: Option<(String, bool)> = sqlx::query_as(&format!(
        "select password_hash, active from {} where iin = $1",
        store.accounts
    ))
    .bind(iin)
    .fetch_optional(pool)
    .await?;
    // a missing account costs the same time as a wrong password
    let (stored, active) = row.unwrap_or_else(|| (DUMMY_HASH.clone(), false));
    let verified = verify_password(password, &stored);
    if verified == Verified::No || !active {
        sqlx::query("insert into login_failures (iin, at) values ($1, $2)")
            .bind(iin)
            .bind(now)
            .execute(pool)
            .await?;
        return Ok(Attempt::Refused);
    }
    sqlx::query("delete from login_failures where iin = $1")
        .bind(iin)
        .execute(pool)
        .await?;
    if verified == Verified::YesRehash {
        // an older hash (PBKDF2) gives way to argon2id now that the password is at hand
        sqlx::query(&format!(
            "update {} set password_hash = $2 where iin = $1 and password_hash = $3",
            store.accounts
        ))
        .bind(iin)
        .bind(hash_password(password))
        .bind(&stored)
        .execute(pool)
        .await?;
    }
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut raw)
        .expect("system randomness");
    let token = hex::encode(raw);
    sqlx::query(&format!(
        "insert into sessions (token_hash, {}, created_at, expires_at) values ($1, $2, $3, $4)",
        store.session_column
    ))
    .bind(token_hash(&token))
    .bind(iin)
    .bind(now)
    .bind(now + lifetime)
    .execute(pool)
    .await?;
    Ok(Attempt::Ok(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_with_a_salt_each_and_the_older_scheme_still_verifies() {
        let a = hash_password("секрет-1");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, hash_password("секрет-1"), "salted");
        assert_eq!(verify_password("секрет-1", &a), Verified::Yes);
        assert_eq!(verify_password("секрет-2", &a), Verified::No);
        let old = legacy_pbkdf2_hash("секрет-1");
        assert_eq!(verify_password("секрет-1", &old), Verified::YesRehash);
        assert_eq!(verify_password("x", &old), Verified::No);
        assert_eq!(verify_password("x", "garbage"), Verified::No);
        assert_eq!(verify_password("x", "pbkdf2-sha256$0$00$00"), Verified::No);
    }

    #[test]
    fn generated_passwords_differ_and_avoid_look_alikes() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
        assert!(!a.contains(['0', 'O', '1', 'l', 'I']), "{a}");
    }

    #[test]
    fn the_secret_file_is_the_owners_alone() {
        let d = std::env::temp_dir().join(format!("egov-accounts-{}", std::process::id()));
        let p = d.join("p.txt");
        write_secret_file(&p, "passwords", &["a\tb".into()]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "# passwords\na\tb\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
