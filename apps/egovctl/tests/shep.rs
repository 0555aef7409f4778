//! `egovctl shep` against real servers: a fresh test PKI, database and NATS prefix; the
//! certification authority (uc) answering OCSP; the central ШЭП and РШЭП Алматы on
//! port 0; and an echo recipient standing in for ГБД ФЛ. Each test has its own world.
//!
//! The binary runs inside `spawn_blocking` so that the in-process servers keep being
//! polled while it waits for them.
//!
//! Needs PostgreSQL (`EGOV_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and NATS (`EGOV_TEST_NATS_URL`,
//! default `nats://127.0.0.1:4222`).

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use egov_pki::PkiDir;
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use egov_shep_client::envelope::codes;

/// The servers of one test: the test kit's world (PKI, database, uc, ШЭП and РШЭП
/// Алматы) with an echo standing in for ГБД ФЛ.
struct World {
    kit: egov_testkit::World,
    shep: String,
}

impl std::ops::Deref for World {
    type Target = egov_testkit::World;

    fn deref(&self) -> &egov_testkit::World {
        &self.kit
    }
}

async fn world() -> World {
    let mut kit = egov_testkit::World::new(&["shep", "rshep-almaty"]).await;
    let gbd =
        egov_testkit::echo::spawn_echo(&kit.pki, "gbd-fl", Default::default(), kit.cancel.clone())
            .await;
    kit.register("gbd-fl", gbd.parse().unwrap());
    kit.start();
    kit.ready().await;
    World {
        shep: kit.gateway_addrs["shep"].to_string(),
        kit,
    }
}

/// A test PKI in `dir/pki` (ECDSA: fast to generate), for tests that need no servers.
fn init_pki(dir: &Path) -> PathBuf {
    let pki = dir.join("pki");
    PkiDir::init(
        &pki,
        &egov_pki::dir::default_ca_dir(&pki),
        &InitOptions {
            algorithm: KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    pki
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The signing and connection flags of `system` from the PKI folder, on `gateway`.
fn conn(pki: &Path, system: &str, gateway: &str) -> Vec<String> {
    let sys = pki.join("systems");
    vec![
        "--key".into(),
        s(&sys.join(format!("{system}.sign.key.pem"))),
        "--cert".into(),
        s(&sys.join(format!("{system}.sign.cert.pem"))),
        "--pki-dir".into(),
        s(pki),
        "--gateway".into(),
        gateway.into(),
    ]
}

/// Runs `egovctl` off the runtime's worker threads.
async fn egovctl(args: Vec<String>, stdin: Option<Vec<u8>>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut c = Command::cargo_bin("egovctl").unwrap();
        c.args(&args).env_remove("EGOV_DATABASE_URL");
        if let Some(input) = stdin {
            c.write_stdin(input);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// Expects exit 0; returns stdout.
fn ok(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} should succeed\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Expects exit 1 with one `egovctl: ` line on stderr; returns that line.
fn rejected(out: &Output, what: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what} should exit 1\nstdout: {}\nstderr: {stderr}",
        text(&out.stdout)
    );
    assert!(
        stderr.starts_with("egovctl: ") && stderr.trim_end().lines().count() == 1,
        "{what}: stderr must be one line starting with `egovctl: `: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr.trim_end().to_string()
}

/// The `messageId: ` line of `shep send`.
fn message_id(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("messageId: "))
        .unwrap_or_else(|| panic!("no messageId in {stdout}"))
        .to_string()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn send_args(w: &World, system: &str, extra: &[&str]) -> Vec<String> {
    let mut a = args(&["shep", "send"]);
    a.extend(args(extra));
    a.extend(conn(&w.pki, system, &w.shep));
    a
}

fn log_args(w: &World, extra: &[&str]) -> Vec<String> {
    let mut a = args(&["shep", "log"]);
    a.extend(args(extra));
    a.extend(args(&["--database-url", &w.db.url]));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_send_echoes_refusals_exit_1_and_the_log_finds_the_rows() {
    let w = world().await;
    let payload = "{\"iin\":\"870312300046\",\"запрос\":\"сведения о ФЛ\"}";
    let file = w.dir.path().join("request.json");
    std::fs::write(&file, payload).unwrap();

    // sync through ШЭП to ГБД ФЛ: the echo answers with the payload
    let out = egovctl(
        send_args(
            &w,
            "portal",
            &[
                "--service",
                "gbd-fl.person.get",
                "--payload-file",
                &s(&file),
            ],
        ),
        None,
    )
    .await;
    let stdout = ok(&out, "shep send sync");
    assert!(
        stdout.contains("status: SCSS001 processed successfully"),
        "{stdout}"
    );
    assert!(stdout.contains("responder: gbd-fl"), "{stdout}");
    assert!(stdout.contains(payload), "{stdout}");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let id = message_id(&stdout);

    // the payload from stdin, the answer into a file, an explicit correlation id
    let answer = w.dir.path().join("answer.json");
    let out = egovctl(
        send_args(
            &w,
            "portal",
            &[
                "--service",
                "gbd-fl.person.get",
                "--payload-file",
                "-",
                "--correlation-id",
                "case-42",
                "--out",
                &s(&answer),
            ],
        ),
        Some(b"from stdin".to_vec()),
    )
    .await;
    let stdout = ok(&out, "shep send from stdin");
    assert!(stdout.contains("correlationId: case-42"), "{stdout}");
    assert!(stdout.contains("10 bytes written to"), "{stdout}");
    assert_eq!(std::fs::read(&answer).unwrap(), b"from stdin");

    // a service the portal may not call: the gateway's own signed refusal
    let out = egovctl(
        send_args(
            &w,
            "portal",
            &["--service", "enis.poa.check", "--payload-file", &s(&file)],
        ),
        None,
    )
    .await;
    let line = rejected(&out, "forbidden service");
    assert!(
        line.starts_with("egovctl: gateway answered SE005: "),
        "{line}"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("status: SE005"), "{stdout}");
    assert!(stdout.contains("responder: shep"), "{stdout}");
    let refused_id = message_id(&stdout);

    // the log: both rows of the sync call, at ШЭП
    let out = egovctl(log_args(&w, &["search", "--message-id", &id]), None).await;
    let stdout = ok(&out, "log search");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 2, "{stdout}");
    assert!(lines.iter().all(|l| l.contains(&id)), "{stdout}");
    assert!(
        lines.iter().any(|l| l.contains(" request_in sync ")),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.contains(" response_out sync ")
            && l.contains("gbd-fl.person.get portal → gbd-fl SCSS001")),
        "{stdout}"
    );
    // oldest first
    let first = lines.iter().position(|l| l.contains("request_in")).unwrap();
    let last = lines
        .iter()
        .position(|l| l.contains("response_out"))
        .unwrap();
    assert!(first < last, "{stdout}");

    // the refusal, as JSON lines
    let out = egovctl(
        log_args(&w, &["search", "--message-id", &refused_id, "--json"]),
        None,
    )
    .await;
    let stdout = ok(&out, "log search --json");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty(), "{stdout}");
    assert!(
        rows.iter()
            .any(|r| r["record"]["event"] == "rejected" && r["record"]["status_code"] == "SE005"),
        "{stdout}"
    );
    assert!(
        rows.iter()
            .all(|r| r["record"]["message_id"] == refused_id.as_str())
    );

    // filters combine; nothing matches a sender that never sent
    let out = egovctl(
        log_args(
            &w,
            &[
                "search",
                "--sender",
                "portal",
                "--service",
                "gbd-fl.person.get",
                "--limit",
                "1000",
            ],
        ),
        None,
    )
    .await;
    let stdout = ok(&out, "log search by sender and service");
    assert_eq!(
        stdout.lines().count(),
        4,
        "two calls, two rows each: {stdout}"
    );
    let out = egovctl(log_args(&w, &["search", "--sender", "nobody"]), None).await;
    assert_eq!(
        ok(&out, "log search no match").trim(),
        "no journal rows match"
    );
    let out = egovctl(
        log_args(&w, &["search", "--from", "2025-02-30", "--message-id", &id]),
        None,
    )
    .await;
    let line = rejected(&out, "bad --from");
    assert!(line.contains("--from 2025-02-30: not a time"), "{line}");

    // the status of a message that was never sent through the async channel
    let mut a = args(&["shep", "status", "--message-id", &id]);
    a.extend(conn(&w.pki, "portal", &w.shep));
    let line = rejected(&egovctl(a, None).await, "status of a sync message");
    assert!(line.contains("unknown-message"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_send_is_accepted_then_on_delivery() {
    let w = world().await;
    let file = w.dir.path().join("application.json");
    std::fs::write(&file, "{\"application\":1}").unwrap();
    let out = egovctl(
        send_args(
            &w,
            "portal",
            &[
                "--channel",
                "async",
                "--service",
                "mio.application.submit",
                "--region",
                "almaty",
                "--payload-file",
                &s(&file),
            ],
        ),
        None,
    )
    .await;
    let stdout = ok(&out, "shep send async");
    assert!(
        stdout.contains(&format!("status: {}", codes::ACCEPTED)),
        "{stdout}"
    );
    assert!(stdout.contains("responder: rshep-almaty"), "{stdout}");
    let id = message_id(&stdout);

    // nobody consumes the inbox: the message waits there
    let mut a = args(&["shep", "status", "--message-id", &id]);
    a.extend(conn(&w.pki, "portal", &w.shep));
    let stdout = ok(&egovctl(a, None).await, "shep status");
    assert!(stdout.contains(&format!("messageId: {id}")), "{stdout}");
    assert!(stdout.contains("status: ON_DELIVERY"), "{stdout}");

    // the log shows the message at both gateways
    let out = egovctl(log_args(&w, &["search", "--message-id", &id]), None).await;
    let stdout = ok(&out, "log search async");
    assert!(stdout.contains(" shep request_in async "), "{stdout}");
    assert!(
        stdout.contains(" rshep-almaty published async "),
        "{stdout}"
    );
    let out = egovctl(
        log_args(&w, &["search", "--message-id", &id, "--gateway", "shep"]),
        None,
    )
    .await;
    let stdout = ok(&out, "log search --gateway");
    assert!(!stdout.contains("rshep-almaty published"), "{stdout}");

    // an unknown region is refused by the gateway
    let out = egovctl(
        send_args(
            &w,
            "portal",
            &[
                "--channel",
                "async",
                "--service",
                "mio.application.submit",
                "--region",
                "mars",
                "--payload-file",
                &s(&file),
            ],
        ),
        None,
    )
    .await;
    let line = rejected(&out, "unknown region");
    assert!(line.contains("gateway answered SE007"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_detects_an_edited_row() {
    let w = world().await;
    let file = w.dir.path().join("request.json");
    std::fs::write(&file, "{\"iin\":\"870312300046\"}").unwrap();
    for _ in 0..2 {
        let out = egovctl(
            send_args(
                &w,
                "portal",
                &[
                    "--service",
                    "gbd-fl.person.get",
                    "--payload-file",
                    &s(&file),
                ],
            ),
            None,
        )
        .await;
        ok(&out, "shep send");
    }

    let out = egovctl(log_args(&w, &["verify"]), None).await;
    let stdout = ok(&out, "log verify");
    assert!(stdout.contains("shep: 4 rows ok"), "{stdout}");
    let out = egovctl(log_args(&w, &["verify", "--gateway", "shep"]), None).await;
    let stdout = ok(&out, "log verify --gateway shep");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("shep: 4 rows ok"), "{stdout}");

    // an intruder with the table owner's rights, past the trigger that refuses UPDATE
    let pool = egov_db::pool(&w.db.url, "gateway", 1).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    for sql in [
        "ALTER TABLE journal DISABLE TRIGGER ALL",
        "UPDATE journal SET status_message = 'x' WHERE seq = 1",
        "ALTER TABLE journal ENABLE TRIGGER ALL",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;

    let out = egovctl(log_args(&w, &["verify"]), None).await;
    let line = rejected(&out, "log verify after tampering");
    assert!(line.contains("tampered"), "{line}");
    assert!(line.contains("shep: row 1 was altered"), "{line}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("shep: 4 rows checked, 1 problem:"),
        "{stdout}"
    );
    assert!(stdout.contains("  row 1 was altered"), "{stdout}");

    // an unknown chain is not an error, but says so
    let out = egovctl(log_args(&w, &["verify", "--gateway", "rshep-nko"]), None).await;
    assert_eq!(
        ok(&out, "verify unknown chain").trim(),
        "rshep-nko: no rows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_refused_before_anything_is_sent() {
    // no servers: every refusal happens before the call, or the call cannot connect
    let dir = tempfile::tempdir().unwrap();
    let pki = init_pki(dir.path());
    let file = dir.path().join("request.json");
    std::fs::write(&file, "{}").unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let send = |extra: &[&str], conn_args: Vec<String>| {
        let mut a = args(&["shep", "send", "--service", "gbd-fl.person.get"]);
        a.extend(args(extra));
        a.extend(conn_args);
        a
    };
    let portal = conn(&pki, "portal", &closed);

    // a missing payload file
    let missing = dir.path().join("missing.json");
    let out = egovctl(
        send(&["--payload-file", &s(&missing)], portal.clone()),
        None,
    )
    .await;
    let line = rejected(&out, "missing payload file");
    assert!(line.contains("cannot read --payload-file"), "{line}");
    assert!(line.contains("missing.json"), "{line}");
    assert!(out.stdout.is_empty(), "nothing was sent");

    // an unknown channel: a usage error
    let out = egovctl(
        send(
            &["--payload-file", &s(&file), "--channel", "carrier-pigeon"],
            portal.clone(),
        ),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("carrier-pigeon"));
    // --tls-key without --tls-cert: a usage error
    let mut a = send(&["--payload-file", &s(&file)], portal.clone());
    a.extend(args(&[
        "--tls-key",
        &s(&pki.join("systems/portal.tls.key.pem")),
    ]));
    assert_eq!(egovctl(a, None).await.status.code(), Some(2));

    // a key that does not belong to the certificate
    let sys = pki.join("systems");
    let mut mismatched = conn(&pki, "portal", &closed);
    mismatched[1] = s(&sys.join("gbd-fl.sign.key.pem"));
    let out = egovctl(send(&["--payload-file", &s(&file)], mismatched), None).await;
    let line = rejected(&out, "key of another certificate");
    assert!(line.contains("does not belong to --cert"), "{line}");
    // the same for an explicit TLS identity
    let mut a = send(&["--payload-file", &s(&file)], portal.clone());
    a.extend(args(&[
        "--tls-key",
        &s(&sys.join("gbd-fl.tls.key.pem")),
        "--tls-cert",
        &s(&sys.join("portal.tls.cert.pem")),
    ]));
    let line = rejected(&egovctl(a, None).await, "TLS key of another certificate");
    assert!(
        line.contains("does not belong to the TLS certificate"),
        "{line}"
    );

    // a sender without a TLS identity in the PKI folder
    let mut a = send(&["--payload-file", &s(&file)], portal.clone());
    a.extend(args(&["--sender", "ghost"]));
    let line = rejected(&egovctl(a, None).await, "sender without TLS files");
    assert!(
        line.contains("no TLS identity of ghost in --pki-dir"),
        "{line}"
    );
    assert!(line.contains("ghost.tls.key.pem"), "{line}");

    // nobody listens: a transport error, after the messageId was shown
    let out = egovctl(send(&["--payload-file", &s(&file)], portal.clone()), None).await;
    let line = rejected(&out, "closed port");
    assert!(
        line.contains(&format!("cannot call gateway shep at {closed}")),
        "{line}"
    );
    assert!(text(&out.stdout).starts_with("messageId: "));

    // no database there
    let out = egovctl(
        args(&[
            "shep",
            "log",
            "verify",
            "--database-url",
            &format!("postgres://postgres@{closed}/egov"),
        ]),
        None,
    )
    .await;
    rejected(&out, "unreachable database");
}
