//! `egovctl diagram`: one diagram to stdout or a file, every diagram into a folder, and
//! `docs/diagrams/` kept exactly as the regulation files draw it.

use assert_cmd::Command;

fn egovctl<I, A>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    Command::cargo_bin("egovctl")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn docs_diagrams_are_what_the_regulation_files_draw() {
    let out = egovctl([
        "diagram",
        "--regulations",
        root().join("regulations").to_str().unwrap(),
        "--out-dir",
        root().join("docs/diagrams").to_str().unwrap(),
        "--check",
    ]);
    assert!(
        out.status.success(),
        "docs/diagrams is out of date: {}\nrun: cargo run -p egovctl -- diagram --regulations regulations --out-dir docs/diagrams",
        stderr(&out)
    );
}

#[test]
fn a_stale_or_foreign_file_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let regs = root().join("regulations");
    let out = egovctl([
        "diagram",
        "--regulations",
        regs.to_str().unwrap(),
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let check = || {
        egovctl([
            "diagram",
            "--regulations",
            regs.to_str().unwrap(),
            "--out-dir",
            dir.path().to_str().unwrap(),
            "--check",
        ])
    };
    assert!(check().status.success());
    let svg = dir.path().join("almaty-2013-housing-queue.con.ru.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    std::fs::write(&svg, text.replace("Инспектор ЦОН", "Инспектор")).unwrap();
    std::fs::write(dir.path().join("hand-drawn.svg"), "<svg/>").unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.contains("almaty-2013-housing-queue.con.ru.svg"), "{e}");
    assert!(e.contains("hand-drawn.svg (drawn from no file)"), "{e}");
    // writing again repairs it and removes what no file draws
    assert!(
        egovctl([
            "diagram",
            "--regulations",
            regs.to_str().unwrap(),
            "--out-dir",
            dir.path().to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(check().status.success());
    assert!(!dir.path().join("hand-drawn.svg").exists());
}

#[test]
fn one_diagram_in_each_format_and_language() {
    let file = root().join("regulations/akzhar-2012-housing-queue.toml");
    let file = file.to_str().unwrap();
    for (format, marker) in [
        ("svg", "<svg xmlns=\"http://www.w3.org/2000/svg\""),
        ("bpmn", "<bpmn:definitions"),
        ("mermaid", "flowchart LR"),
    ] {
        for lang in ["ru", "kk"] {
            let out = egovctl([
                "diagram",
                "--regulation",
                file,
                "--channel",
                "con",
                "--format",
                format,
                "--lang",
                lang,
            ]);
            assert!(out.status.success(), "{format} {lang}: {}", stderr(&out));
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(text.contains(marker), "{format}");
            // the lanes in the asked language
            let lane = if lang == "ru" {
                "ГБД ФЛ"
            } else {
                "ЖТ МДҚ"
            };
            assert!(
                text.contains(lane) || format == "bpmn" && text.contains("ЖТ"),
                "{format} {lang}"
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("procedure.bpmn");
    let out = egovctl([
        "diagram",
        "--regulation",
        file,
        "--format",
        "bpmn",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("timerEventDefinition")
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let file = root().join("regulations/akzhar-2012-housing-queue.toml");
    let file = file.to_str().unwrap();
    // an unknown channel: exit 1, naming the known ones
    let out = egovctl(["diagram", "--regulation", file, "--channel", "fax"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("fax") && stderr(&out).contains("portal"),
        "{}",
        stderr(&out)
    );
    // an unknown format or language: usage error
    let out = egovctl(["diagram", "--regulation", file, "--format", "png"]);
    assert_eq!(out.status.code(), Some(2));
    let out = egovctl(["diagram", "--regulation", file, "--lang", "en"]);
    assert_eq!(out.status.code(), Some(2));
    // not a regulation file
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "id = 1\n").unwrap();
    let out = egovctl(["diagram", "--regulation", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a valid regulation file"),
        "{}",
        stderr(&out)
    );
    // nothing to draw
    let out = egovctl(["diagram"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--regulation"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_journey_of_an_unknown_application_or_system_is_refused() {
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "ctljourney")
        .await
        .unwrap();
    let run = |args: Vec<String>| {
        let out = egovctl(args);
        (out.status.code(), stderr(&out))
    };
    let base = |extra: &[&str]| {
        let mut v: Vec<String> = vec!["journey".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--database-url".into(), db.url.clone()]);
        v
    };
    // a database without the gateways' message log
    let (code, e) = run(base(&["ALM-2026-999999"]));
    assert_eq!(code, Some(1), "{e}");
    assert!(e.contains("no gateway message log"), "{e}");
    let pool = egov_db::pool(&db.url, "gateway", 1).await.unwrap();
    egov_gateway::MIGRATOR.run(&pool).await.unwrap();
    pool.close().await;
    // no ИС МИО schema holds it (none exists in a fresh database)
    let (code, e) = run(base(&["ALM-2026-999999"]));
    assert_eq!(code, Some(1), "{e}");
    assert!(e.contains("no application \"ALM-2026-999999\""), "{e}");
    assert!(e.contains("mio-almaty"), "the systems asked are named: {e}");
    // a system that is not an ИС МИО
    let (code, e) = run(base(&["ALM-2026-000001", "--system", "gbd-fl"]));
    assert_eq!(code, Some(1));
    assert!(e.contains("gbd-fl is not an ИС МИО"), "{e}");
    // a bad format is a usage error
    let (code, _) = run(base(&["ALM-2026-000001", "--format", "png"]));
    assert_eq!(code, Some(2));
    db.drop_database().await.unwrap();
}
