//! `egov init` as a deployment's one-shot registration step runs it: against a fresh
//! database, then again over what it made; and refusing a database it cannot reach.

use std::path::Path;
use std::process::{Command, Output};

use sqlx::Connection as _;

fn init(data: &Path, database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("init")
        .env("EGOV_DATA_DIR", data)
        .env("EGOV_DATABASE_URL", database_url)
        .env("EGOV_PEER_HOST", "{id}")
        .env("EGOV_SEED_PERSONS", "100")
        // P-256 keys: RSA-2048 key generation for every system and account was most of
        // the test's time (`egov up`'s test keeps the default RSA)
        .env("EGOV_PKI_ALGORITHM", "ecdsa-p256")
        .env("EGOV_LOG_FILTER", "warn")
        .env_remove("EGOV_DEV_EMPLOYEE_PASSWORD")
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

async fn count(url: &str, sql: &str) -> Result<i64, sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query_scalar(sql).fetch_one(&mut conn).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_provisions_enrols_and_runs_again() {
    let data = tempfile::tempdir().unwrap();
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "init")
        .await
        .unwrap();
    let out = init(data.path(), &db.url);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("(created now)"), "{text}");
    assert!(text.contains("seeded ГБД ФЛ with 1"), "{text}");

    // the CA apart from the PKI folder the services read
    assert!(data.path().join("pki-ca/issuing.key.pem").is_file());
    assert!(!data.path().join("pki/issuing.key.pem").exists());
    // the certificates name uc on its own host as their revocation source
    let cert = data.path().join("pki/systems/shep.sign.cert.pem");
    let dump = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains("http://uc:7010/ocsp"),
        "{}: {dump}",
        cert.display()
    );
    assert!(
        dump.contains("id-ecPublicKey"),
        "EGOV_PKI_ALGORITHM: {dump}"
    );
    // the broker's users
    let conf = data.path().join("nats-auth.conf");
    assert_eq!(mode(&conf), 0o600);
    let users = std::fs::read_to_string(&conf).unwrap();
    for id in ["shep", "rshep-nko", "mio-almaty", "con-is", "gbd-fl"] {
        assert!(users.contains(&format!("user: \"{id}\"")), "{id}: {users}");
    }

    // a role per service with its own password, its URL in a file of its own
    let settings = egov_launcher::Settings::default();
    let topology = egov_topology::Topology::shipped();
    let schemas = egov_launcher::init::service_schemas(&settings, &topology);
    assert!(schemas.iter().any(|(id, _)| id == "uc"));
    assert!(schemas.iter().any(|(id, _)| id == "rshep-atyrau"));
    let mut urls = std::collections::BTreeMap::new();
    for (id, schema) in &schemas {
        let file = egov_launcher::init::database_url_file(data.path(), id);
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        let url = std::fs::read_to_string(&file).unwrap().trim().to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let who: String = sqlx::query_scalar("select current_user::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(who, format!("egov_{schema}"));
        urls.insert(id.clone(), (schema.clone(), url));
    }
    let passwords: std::collections::BTreeSet<String> = urls
        .values()
        .map(|(_, u)| u.split('@').next().unwrap().to_string())
        .collect();
    assert_eq!(passwords.len(), urls.len(), "every role its own password");

    // each ИС МИО's employees and ИС ЦОН's operators enrolled, with certificates
    for id in ["mio-almaty", "mio-atyrau", "mio-nko"] {
        let (schema, url) = &urls[id];
        let n = count(url, &format!("select count(*) from {schema}.employees"))
            .await
            .unwrap();
        assert!(n > 0, "{id}: no employees");
        assert!(
            text.contains(&format!("{id:<12} {n} employee accounts")),
            "{text}"
        );
        let file = data.path().join(format!("{id}-employee-passwords.txt"));
        assert_eq!(mode(&file), 0o600);
        assert!(data.path().join(format!("{id}-keystore.key")).is_file());
    }
    let (con_schema, con_url) = &urls["con-is"];
    let operators = count(
        con_url,
        &format!("select count(*) from {con_schema}.operators"),
    )
    .await
    .unwrap();
    let without = count(
        con_url,
        &format!("select count(*) from {con_schema}.operators where cert_pem is null"),
    )
    .await
    .unwrap();
    assert!(operators > 0);
    assert_eq!(without, 0, "every operator has a signing certificate");
    // a role reads its own schema alone
    let (mio_schema, _) = &urls["mio-almaty"];
    let e = count(
        con_url,
        &format!("select count(*) from {mio_schema}.employees"),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    let done = egov_launcher::init::done_marker(data.path());
    assert!(done.is_file());

    // again: the PKI, seeds and accounts stay; the roles get new passwords
    let again = init(data.path(), &db.url);
    let text2 = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(again.status.success(), "{text2}");
    assert!(!text2.contains("(created now)"), "{text2}");
    assert!(
        text2.contains("the registries hold data already"),
        "{text2}"
    );
    assert!(!text2.contains("generated passwords"), "{text2}");
    // (the passwords themselves are not tried: the test cluster trusts local connections)
    let (_, old_gbd) = &urls["gbd-fl"];
    let new_gbd = std::fs::read_to_string(egov_launcher::init::database_url_file(
        data.path(),
        "gbd-fl",
    ))
    .unwrap();
    assert_ne!(old_gbd.trim(), new_gbd.trim());
    assert_eq!(count(new_gbd.trim(), "select 1::bigint").await.unwrap(), 1);
}

#[test]
fn init_without_a_database_fails_and_marks_nothing_done() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = init(
        data.path(),
        &format!("postgres://postgres@127.0.0.1:{port}/egov"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("egov init: database"), "{err}");
    assert!(!egov_launcher::init::done_marker(data.path()).exists());
    // and a bad setting stops it before anything is written
    let out = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("init")
        .env("EGOV_DATA_DIR", data.path().join("other"))
        .env("EGOV_PEER_HOST", "http://{id}")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("EGOV_PEER_HOST"), "{err}");
    assert!(!data.path().join("other").exists());
    // a key algorithm the PKI does not have
    let out = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("init")
        .env("EGOV_DATA_DIR", data.path().join("other"))
        .env("EGOV_PKI_ALGORITHM", "dsa-1024")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("EGOV_PKI_ALGORITHM") && err.contains("ecdsa-p256"),
        "{err}"
    );
    assert!(!data.path().join("other").exists());
    // an ИС МИО neither on nor off; public URLs that are not an http(s) origin
    for (setting, value) in [
        ("EGOV_MIO__MIO_ATYRAU__ENABLED", "sometimes"),
        ("EGOV_PORTAL__PUBLIC_URL", "cabinet.example.kz"),
        ("EGOV_CON_IS__PUBLIC_URL", "ftp://con.example.kz"),
        (
            "EGOV_MIO__MIO_ALMATY__PUBLIC_URL",
            "https://arm.example.kz/arm",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_egov"))
            .arg("init")
            .env("EGOV_DATA_DIR", data.path().join("other"))
            .env(setting, value)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{setting}: {err}");
        assert!(err.contains(setting), "{err}");
        assert!(!data.path().join("other").exists());
    }
}
