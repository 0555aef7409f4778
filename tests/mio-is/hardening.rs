//! The workstation hardened: generated passwords stored with argon2id, employees' keys
//! encrypted at rest and signing by the client, CSRF tokens and the Origin check, the
//! API's role rule for channel B, person look-ups only for the provider's applications,
//! IINs masked in the logs.

use crate::common::*;
use egov_mio_is::employees::{self, Login};

/// A start without the development setting gives every seeded account a generated
/// password of its own, written once to a file of the owner's alone and stored only as an
/// argon2id hash with a salt of its own; a wrong or the old default password is refused; a
/// PBKDF2 hash of before still verifies and becomes argon2id at that login; a restart
/// seeds nothing and shows no password again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_accounts_get_their_own_passwords_kept_as_argon2id() {
    let w = egov_testkit::World::new(&["rshep-almaty"]).await;
    let build = || async {
        let mut cfg = egov_mio_is::Config::for_system(&w.topology, "mio-almaty").unwrap();
        let base = w.system_config("mio-almaty", "mio_almaty");
        cfg.system.pki_dir = base.pki_dir;
        cfg.system.database_url = base.database_url;
        cfg.system.ocsp_url = base.ocsp_url;
        cfg.system.any_ports();
        cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
        cfg.passwords_file = Some(w.dir.path().join("passwords.txt"));
        assert_eq!(cfg.dev_employee_password, None, "not set by default");
        egov_mio_is::MioIs::build(cfg, egov_mio_is::clock::Clock::manual())
            .await
            .unwrap()
    };
    let mio = build().await;
    let pool = mio.pool().clone();
    let accounts = employees::all(&pool).await.unwrap();
    let given: Vec<(String, String)> = mio.new_passwords().to_vec();
    assert_eq!(given.len(), accounts.len());
    assert!(accounts.len() > 3, "{accounts:?}");
    let mut distinct: Vec<&str> = given.iter().map(|(_, p)| p.as_str()).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), given.len(), "every password its own");
    assert!(
        given.iter().all(|(_, p)| p != PASSWORD && p.len() >= 16),
        "{given:?}"
    );
    // the file, 0600, lists each account once with its password
    let file = w.dir.path().join("passwords.txt");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = std::fs::read_to_string(&file).unwrap();
    for (iin, p) in &given {
        assert!(listed.contains(&format!("{iin}\t{p}\t")), "{iin}");
    }
    // stored: argon2id, a salt per account, never the password
    let hashes: Vec<(String, String)> =
        sqlx::query_as("select iin, password_hash from employees order by iin")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut salts = Vec::new();
    for (iin, h) in &hashes {
        assert!(h.starts_with("$argon2id$v=19$"), "{iin}: {h}");
        let p = &given.iter().find(|(i, _)| i == iin).unwrap().1;
        assert!(!h.contains(p.as_str()));
        salts.push(h.split('$').nth(4).unwrap().to_string());
    }
    salts.sort();
    salts.dedup();
    assert_eq!(salts.len(), hashes.len(), "a salt per account");

    let now = time::OffsetDateTime::now_utc();
    let login = |iin: String, p: String| {
        let pool = pool.clone();
        async move {
            employees::login(&pool, &iin, &p, now, time::Duration::hours(1))
                .await
                .unwrap()
        }
    };
    let (iin, password) = given[0].clone();
    assert!(matches!(
        login(iin.clone(), password.clone()).await,
        Login::Ok(..)
    ));
    assert!(matches!(
        login(iin.clone(), PASSWORD.into()).await,
        Login::Refused
    ));
    assert!(matches!(
        login(iin.clone(), format!("{password}x")).await,
        Login::Refused
    ));
    // the other account's password is not this one's
    assert!(matches!(
        login(iin.clone(), given[1].1.clone()).await,
        Login::Refused
    ));

    // an account stored before argon2id: PBKDF2 still verifies, then gives way
    let (old_iin, _) = given[1].clone();
    sqlx::query("update employees set password_hash = $2 where iin = $1")
        .bind(&old_iin)
        .bind(employees::legacy_pbkdf2_hash("старый-пароль"))
        .execute(&pool)
        .await
        .unwrap();
    let stored = |iin: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select password_hash from employees where iin = $1")
                .bind(iin)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        login(old_iin.clone(), "не тот".into()).await,
        Login::Refused
    ));
    assert!(stored(old_iin.clone()).await.starts_with("pbkdf2-sha256$"));
    assert!(matches!(
        login(old_iin.clone(), "старый-пароль".into()).await,
        Login::Ok(..)
    ));
    let upgraded = stored(old_iin.clone()).await;
    assert!(upgraded.starts_with("$argon2id$v=19$"), "{upgraded}");
    assert!(matches!(
        login(old_iin.clone(), "старый-пароль".into()).await,
        Login::Ok(..)
    ));
    assert!(matches!(
        login(old_iin.clone(), "не тот".into()).await,
        Login::Refused
    ));

    // a restart creates no account and shows no password
    drop(mio);
    std::fs::remove_file(&file).unwrap();
    let again = build().await;
    assert!(again.new_passwords().is_empty());
    assert!(!file.exists());
    assert_eq!(
        stored(given[0].0.clone()).await,
        hashes.iter().find(|(i, _)| *i == given[0].0).unwrap().1
    );
}
