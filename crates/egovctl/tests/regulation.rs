//! `egovctl regulation check`: exit 0 for valid files, 1 with `file:line: problem` lines.

use assert_cmd::Command;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_shipped_regulations_are_valid() {
    let out = Command::cargo_bin("egovctl")
        .unwrap()
        .args(["regulation", "check"])
        .arg(root().join("regulations"))
        .arg(root().join("services/mio-is/tests/regulations/kyzylzhar-2026-housing-queue.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.contains(": ok: ")).count(),
        6,
        "{text}"
    );
}

#[test]
fn problems_are_listed_as_file_line_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(root().join("regulations/akzhar-2012-housing-queue.toml")).unwrap();
    // two mistakes: a next step that does not exist, and a deadline that does not parse
    let first_next = good.find("next = \"").unwrap();
    let end = first_next + good[first_next..].find('\n').unwrap();
    let mut bad = format!("{}next = \"nowhere\"{}", &good[..first_next], &good[end..]);
    let d = bad.find("deadline = \"").unwrap();
    let dend = d + bad[d..].find('\n').unwrap();
    bad = format!("{}deadline = \"a fortnight\"{}", &bad[..d], &bad[dend..]);
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, &bad).unwrap();
    let out = Command::cargo_bin("egovctl")
        .unwrap()
        .args(["regulation", "check"])
        .arg(&path)
        .arg(root().join("regulations/almaty-2013-housing-queue.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let next_line = bad[..bad.find("next = \"nowhere\"").unwrap()]
        .lines()
        .count()
        + 1;
    let deadline_line = bad[..bad.find("a fortnight").unwrap()].lines().count();
    let file = path.display().to_string();
    assert!(
        err.contains(&format!("{file}:{next_line}: step"))
            && err.contains("\"nowhere\" does not exist"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:{deadline_line}:")) && err.contains("a fortnight"),
        "{err}"
    );
    assert!(err.contains("problems found"), "{err}");

    let out = Command::cargo_bin("egovctl")
        .unwrap()
        .args(["regulation", "check", "/no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.toml:1: cannot read"));
    let out = Command::cargo_bin("egovctl")
        .unwrap()
        .args(["regulation", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
