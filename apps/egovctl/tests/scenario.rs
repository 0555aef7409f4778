//! `egovctl scenario`: the shipped suite reads; bad files, a missing target and bad
//! options end with exit code 1 and one line saying why, before anything runs. (The
//! runs themselves are `tests/conformance`, against a running system.)

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

fn egovctl() -> Command {
    let mut c = Command::cargo_bin("egovctl").unwrap();
    c.env_remove("EGOV_SCENARIO_TARGET")
        .env_remove("EGOV_DATA_DIR");
    c
}

#[test]
fn the_shipped_suite_reads() {
    let out = egovctl()
        .args(["scenario", "check"])
        .arg(suite())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("scenarios read"), "{text}");
}

#[test]
fn bad_files_and_options_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "regulation = \"almaty-2013-housing-queue\"\nchannel = \"fax\"\n",
    )
    .unwrap();
    let target = dir.path().join("stack.json");
    std::fs::write(
        &target,
        r#"{"portal": "http://127.0.0.1:9", "con": null, "mio": {}, "pki_dir": "/nonexistent",
            "ca_dir": "/nonexistent", "regulation_dirs": []}"#,
    )
    .unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["check".into(), bad.display().to_string()],
            "unknown variant `fax`",
        ),
        (
            vec!["check".into(), "/nonexistent/scenarios".into()],
            "/nonexistent/scenarios",
        ),
        (
            vec![
                "run".into(),
                suite().display().to_string(),
                "--target".into(),
                dir.path().join("none.json").display().to_string(),
            ],
            "egov up` writes <data dir>/stack.json",
        ),
        (
            vec![
                "run".into(),
                suite().display().to_string(),
                "--target".into(),
                target.display().to_string(),
                "--arm".into(),
                "mio-almaty".into(),
            ],
            "expected SYSTEM=URL",
        ),
        (
            vec![
                "run".into(),
                suite().display().to_string(),
                "--target".into(),
                target.display().to_string(),
                "--jobs".into(),
                "0".into(),
            ],
            "between 1 and 64",
        ),
        (
            vec![
                "run".into(),
                suite().display().to_string(),
                "--target".into(),
                target.display().to_string(),
                "--con".into(),
                "http://127.0.0.1:9".into(),
            ],
            "lists no ИС ЦОН",
        ),
    ];
    for (args, want) in cases {
        let out = egovctl().arg("scenario").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with("egovctl: ") && err.contains(want) && err.lines().count() == 1,
            "{args:?}: want {want:?} in one line: {err}"
        );
    }
}
