//! `egov up` as a user runs it: a child process that starts a private NATS when none
//! answers, creates the test PKI, serves, and stops cleanly on SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_and_stops_on_ctrl_c() {
    let data = tempfile::tempdir().unwrap();
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "launcher")
        .await
        .unwrap();
    let nats_port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("up")
        .env("EGOV_DATA_DIR", data.path())
        .env("EGOV_DATABASE_URL", &db.url)
        .env("EGOV_NATS_URL", format!("nats://127.0.0.1:{nats_port}"))
        .env("EGOV_EPHEMERAL_PORTS", "true")
        .env("EGOV_NATS_PREFIX", egov_devenv::unique_prefix("up"))
        .env("EGOV_LOG_FILTER", "warn")
        .env("EGOV_SEED_PERSONS", "300")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    // a start makes the PKI and enrols every employee and operator: minutes on a
    // loaded machine
    let deadline = Instant::now() + Duration::from_secs(180);
    while !lines.iter().any(|l: &String| l.contains("egov: ready")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("egov up did not become ready: {lines:#?}"),
        }
    }
    let text = lines.join("\n");
    assert!(
        text.contains("(private instance)"),
        "a private NATS was expected: {text}"
    );
    assert!(text.contains("(created now)"), "{text}");
    assert!(data.path().join("pki/root.cert.pem").is_file());
    // the private NATS knows a user per gateway and system, and nobody else
    {
        use std::os::unix::fs::PermissionsExt;
        let conf = data.path().join("nats-auth.conf");
        let mode = std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(text.contains("user: \"mio-almaty\""), "{text}");
    }
    let nats_url = format!("nats://127.0.0.1:{nats_port}");
    assert!(async_nats::connect(&nats_url).await.is_err());
    let password =
        std::fs::read_to_string(data.path().join("pki/systems/mio-almaty.nats.pass")).unwrap();
    egov_shep_client::nats_auth::connect(&nats_url, Some(("mio-almaty", password.trim())))
        .await
        .unwrap();
    // the CA's keys lie in uc's folder, beside the one every service reads
    assert!(data.path().join("pki-ca/issuing.key.pem").is_file());
    for f in ["issuing.key.pem", "root.key.pem", "pki.json", "index.jsonl"] {
        assert!(!data.path().join("pki").join(f).exists(), "{f}");
    }
    let http = lines
        .iter()
        .find(|l| l.starts_with("uc") && l.contains("http://"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .unwrap_or_else(|| panic!("no uc endpoint in {text}"))
        .to_string();
    let health: serde_json::Value = reqwest::get(format!("{http}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let crl = reqwest::get(format!("{http}/crl")).await.unwrap();
    assert_eq!(crl.status(), 200);
    // the four gateways are up, each naming its dependencies
    let gateways: Vec<String> = lines
        .iter()
        .filter(|l| (l.starts_with("shep") || l.starts_with("rshep")) && l.contains("/health"))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(String::from)
        })
        .collect();
    assert_eq!(gateways.len(), 4, "{text}");
    // the registries were seeded on this first start, and their test citizens printed
    assert!(text.contains("seeded ГБД ФЛ with 3"), "{text}");
    assert!(text.contains("870312300046"), "{text}");
    let registries: Vec<String> = lines
        .iter()
        .filter(|l| (l.starts_with("gbd-fl") || l.starts_with("enis")) && l.contains("/health"))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(String::from)
        })
        .collect();
    assert_eq!(registries.len(), 2, "{text}");
    // the NCALayer stand-in, holding the keys of named test citizens, printed with the
    // password its files open with
    let ncalayer = lines
        .iter()
        .find(|l| l.starts_with("ncalayer") && l.contains("wss://"))
        .unwrap_or_else(|| panic!("no ncalayer endpoint in {text}"));
    assert!(ncalayer.contains("wss://127.0.0.1:"), "{ncalayer}");
    assert!(
        text.contains("password \"Qwerty12\" (the TEST default)"),
        "{text}"
    );
    let p12 = data.path().join("pki/ncalayer/870312300046-sign.p12");
    assert!(text.contains(&p12.display().to_string()), "{text}");
    let held = egov_pki::pkcs12::read(&std::fs::read(&p12).unwrap(), "Qwerty12").unwrap();
    assert_eq!(held.cert.identity.iin.unwrap().as_string(), "870312300046");
    assert!(held.cert.allows_document_signing());
    assert!(
        data.path()
            .join("pki/systems/ncalayer.tls.cert.pem")
            .is_file()
    );
    // the three ИС МИО with their АРМ РШЭП
    let workstations: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("mio-") && l.contains("АРМ"))
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(String::from)
        })
        .collect();
    assert_eq!(workstations.len(), 3, "{text}");
    assert!(text.contains("egov: АРМ РШЭП of mio-almaty"), "{text}");
    // no default password: each account got its own, written once to a file of the
    // user's alone, named on the screen and never printed
    assert!(!text.contains("egov-test"), "{text}");
    let file = data.path().join("mio-almaty-employee-passwords.txt");
    assert!(text.contains(&file.display().to_string()), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    let listed = std::fs::read_to_string(&file).unwrap();
    let (iin, password) = listed
        .lines()
        .find(|l| !l.starts_with('#'))
        .and_then(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .unwrap_or_else(|| panic!("no account in {listed}"));
    assert!(
        !text.contains(&password),
        "the password was printed: {text}"
    );
    let almaty = workstations
        .iter()
        .find(|w| {
            lines
                .iter()
                .any(|l| l.starts_with("mio-almaty") && l.contains(w.as_str()))
        })
        .unwrap();
    let http_client = reqwest::Client::new();
    let login = |password: String| {
        http_client
            .post(format!("{almaty}/api/v1/login"))
            .json(&serde_json::json!({"iin": iin, "password": password}))
            .send()
    };
    assert_eq!(login(password).await.unwrap().status(), 200);
    assert_eq!(login("egov-test".into()).await.unwrap().status(), 401);
    // ИС ЦОН with its operators
    let con = lines
        .iter()
        .find(|l| l.starts_with("con-is") && l.contains("АРМ"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .map(String::from)
        .unwrap_or_else(|| panic!("no АРМ ИС ЦОН: {text}"));
    assert!(text.contains("egov: АРМ ИС ЦОН at"), "{text}");
    let openapi: serde_json::Value = reqwest::get(format!("{con}/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["info"]["title"], "АРМ ИС ЦОН");
    // ПЭП: a citizen registers, the IIN asked of the launched ГБД ФЛ through ШЭП
    let portal = lines
        .iter()
        .find(|l| l.starts_with("portal") && l.contains("http://"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .map(String::from)
        .unwrap_or_else(|| panic!("no ПЭП: {text}"));
    let registered = http_client
        .post(format!("{portal}/api/v1/auth/register"))
        .json(&serde_json::json!({"iin": "870312300046", "password": "пароль-портала"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let citizen: serde_json::Value = registered.json().await.unwrap();
    assert_eq!(citizen["surname"], "Ахметов", "{citizen}");
    for w in &workstations {
        let login = reqwest::get(format!("{w}/login"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(login.contains("АРМ РШЭП"), "{login}");
    }
    // a person look-up through the launched ШЭП reaches the launched ГБД ФЛ
    let shep = lines
        .iter()
        .find(|l| l.starts_with("shep ") && l.contains("https://"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("https://")))
        .unwrap()
        .to_string();
    egov_grpc::install_crypto_provider();
    let pki = data.path().join("pki");
    let client = egov_shep_client::Client::connect(
        &shep,
        "shep",
        &egov_grpc::TlsIdentity::load(&pki, "portal").unwrap(),
        std::sync::Arc::new(egov_shep_client::SystemSigner::load(&pki, "portal").unwrap()),
        egov_shep_client::envelope::pki_verifier(&pki, None).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    let reply = client
        .call(
            "gbd-fl.person.get",
            "",
            "",
            br#"{"iin":"870312300046"}"#.to_vec(),
        )
        .await
        .unwrap();
    assert!(reply.is_success(), "{:?}", reply.info);
    assert!(String::from_utf8_lossy(&reply.payload).contains("Ахметов"));
    for g in gateways
        .iter()
        .chain(&registries)
        .chain(&workstations)
        .chain([&con, &portal])
    {
        let h: serde_json::Value = reqwest::get(format!("{g}/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(h["status"], "ok", "{g}: {h}");
    }

    // every service is connected as its own role, none a superuser, each owning its
    // schema alone
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
    let users: Vec<(String, bool)> = sqlx::query_as(
        "select distinct a.usename::text, r.rolsuper from pg_stat_activity a \
         join pg_roles r on r.rolname = a.usename \
         where a.datname = current_database() and a.pid <> pg_backend_pid() \
         order by 1",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    let names: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    for role in [
        "egov_enis",
        "egov_gateway",
        "egov_gbd_fl",
        "egov_mio_almaty",
        "egov_uc",
    ] {
        assert!(names.contains(&role), "{users:?}");
    }
    assert!(users.iter().all(|(_, su)| !su), "{users:?}");
    let owners: Vec<(String, String)> = sqlx::query_as(
        "select nspname::text, nspowner::regrole::text from pg_namespace \
         where nspname in ('uc', 'gateway', 'gbd_fl', 'enis', 'mio_almaty') order by 1",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(owners.len(), 5, "{owners:?}");
    for (schema, owner) in &owners {
        assert_eq!(owner, &format!("egov_{schema}"));
    }
    // the operators' page is served, and reads as a role that may do nothing else
    let ops = lines
        .iter()
        .find(|l| l.starts_with("ops "))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .map(String::from)
        .unwrap_or_else(|| panic!("no ops page: {text}"));
    let page = reqwest::get(format!("{ops}/?service=mio.application.submit"))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let missing = reqwest::get(format!("{ops}/applications/ALM-2026-999999"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let (read, write, read_only): (bool, bool, bool) = sqlx::query_as(
        "select has_table_privilege('egov_ops', 'gateway.journal', 'SELECT'), \
                has_table_privilege('egov_ops', 'gateway.journal', 'INSERT') \
                  or has_table_privilege('egov_ops', 'mio_almaty.applications', 'UPDATE'), \
                coalesce('default_transaction_read_only=on' = any(rolconfig), false) \
         from pg_roles where rolname = 'egov_ops'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(read && !write && read_only, "{read} {write} {read_only}");
    admin.close().await;

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "egov up did not stop within 20 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    // the private NATS is gone with it
    assert!(
        !egov_devenv::tcp_reachable(
            &format!("127.0.0.1:{nats_port}"),
            Duration::from_millis(300)
        )
        .await
    );

    db.drop_database().await.unwrap();
}

#[test]
fn bad_configuration_exits_64_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("up")
        .env("EGOV_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("EGOV_DATABASE_URL"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("up")
        .env("EGOV_UC__HTTP_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("EGOV_UC__HTTP_ADDR"), "{err}");

    // a limit of zero would serve nothing
    for var in [
        "EGOV_GBD_FL__LIMITS__HTTP_TIMEOUT_SECS",
        "EGOV_UC__MAX_MESSAGE_BYTES",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_egov"))
            .arg("up")
            .env(var, "0")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var), "{err}");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_egov"))
        .arg("down")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
