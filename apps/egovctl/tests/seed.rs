//! `egovctl seed` as a tester runs it, against a fresh PostgreSQL database.

use assert_cmd::Command;

fn egovctl() -> Command {
    Command::cargo_bin("egovctl").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_refuses_to_overwrite_and_replaces() {
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "ctlseed")
        .await
        .unwrap();
    let url = db.url.clone();
    let run = move |extra: &[&str]| {
        let mut c = egovctl();
        c.args([
            "seed",
            "--persons",
            "250",
            "--seed",
            "3",
            "--as-of",
            "2026-06-01",
        ])
        .args(extra)
        .env("EGOV_DATABASE_URL", &url);
        c.output().unwrap()
    };
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&[])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ГБД ФЛ 261 persons"), "{text}");
    assert!(text.contains("870312300046"), "{text}");
    assert!(text.contains("not-yet-valid"), "{text}");

    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&[])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("egovctl: seeding failed"), "{err}");
    assert!(err.contains("--replace"), "{err}");

    let out = tokio::task::spawn_blocking(move || run(&["--replace"]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.drop_database().await.unwrap();
}

#[test]
fn bad_arguments_are_refused() {
    let out = egovctl()
        .args(["seed", "--persons", "10", "--as-of", "01.06.2026"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of"));

    let out = egovctl()
        .args(["seed", "--persons", "999999999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most"));

    let out = egovctl()
        .args(["seed", "--persons", "many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = egovctl()
        .args([
            "seed",
            "--persons",
            "10",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seeding failed"));

    let out = egovctl()
        .args(["seed", "--persons", "10", "--gbd-fl-schema", "Bad Name"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema name"));
}
