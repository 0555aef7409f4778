//! `egovctl regulation check`: exit 0 for valid files, 1 with `file:line: problem` lines.

use assert_cmd::Command;

/// `egovctl ARGS...`, run to the end.
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

#[test]
fn the_shipped_regulations_are_valid() {
    let out = Command::cargo_bin("egovctl")
        .unwrap()
        .args(["regulation", "check"])
        .arg(root().join("regulations"))
        .arg(root().join("tests/mio-is/regulations/kyzylzhar-2026-housing-queue.toml"))
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

/// `regulation show`: every channel of every shipped file, as the seeds lay out their
/// tables: the channel's steps, the procedure as the channel runs it, the leg after it.
#[test]
fn show_prints_each_channel_as_a_table() {
    let regs = egov_regulation::load_dir(&root().join("regulations")).unwrap();
    for r in &regs {
        for c in &r.channels {
            for lang in ["ru", "kk"] {
                let out = Command::cargo_bin("egovctl")
                    .unwrap()
                    .args([
                        "regulation",
                        "show",
                        &r.file,
                        "--channel",
                        &c.id,
                        "--lang",
                        lang,
                    ])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8_lossy(&out.stdout);
                let header = if lang == "kk" {
                    "| № | ҚФБ |"
                } else {
                    "| № | СФЕ |"
                };
                assert!(text.contains(header), "{text}");
                // every step in order: before, the procedure's handoff, after
                let mut last = 0;
                let mut order: Vec<&str> = c.steps.iter().map(|s| s.id.as_str()).collect();
                order.push(&c.handoff);
                order.extend(c.after.iter().map(|s| s.id.as_str()));
                for id in order {
                    let at = text
                        .find(&format!(" ({id}) |"))
                        .unwrap_or_else(|| panic!("{} {}: no row {id}:\n{text}", r.id, c.id));
                    assert!(at > last, "{} {}: {id} out of order", r.id, c.id);
                    last = at;
                }
                // the seed's own wording of each deadline
                for s in c.steps.iter().chain(&c.after) {
                    if let Some(t) = &s.deadline_text {
                        assert!(text.contains(t.as_str()), "{t}: {text}");
                    }
                }
            }
        }
        // the procedure alone
        let out = egovctl(["regulation", "show", &r.file]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for s in &r.steps {
            assert!(text.contains(&format!(" ({}) |", s.id)), "{}: {text}", s.id);
        }
    }
}

#[test]
fn show_refuses_a_channel_the_file_has_not_and_a_bad_file() {
    let file = root().join("regulations/atyrau-2014-housing-queue.toml");
    let file = file.to_str().unwrap();
    let out = egovctl(["regulation", "show", file, "--channel", "provider"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no channel \"provider\" (its channels: con, portal)")
            || err.contains("has no channel \"provider\" (its channels: portal, con)"),
        "{err}"
    );
    let out = egovctl(["regulation", "show", file, "--lang", "en"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses the language");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "id = 1\n").unwrap();
    let out = egovctl(["regulation".as_ref(), "show".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid regulation file"));
}

/// A derived figure that pushes a path past the seed's span is reported with the path.
#[test]
fn a_path_past_a_span_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(root().join("regulations/atyrau-2014-housing-queue.toml")).unwrap();
    // give the executor's check 29 days inside the seed's 28-day span
    let bad = good.replacen(
        "id = \"check-documents\"\n",
        "id = \"check-documents\"\ndeadline = \"29 calendar days\"\ndeadline_derived = \"a mutant\"\n",
        1,
    );
    assert_ne!(bad, good);
    let path = dir.path().join("past.toml");
    std::fs::write(&path, &bad).unwrap();
    let out = egovctl(["regulation".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let span_line = bad[..bad.find("id = \"executor-check-and-draft\"").unwrap()]
        .lines()
        .count()
        + 1;
    assert!(
        err.contains(&format!("{}:{span_line}: channel", path.display()))
            && err.contains("check-documents →")
            && err.contains("past the span \"executor-check-and-draft\" (28 calendar days)"),
        "{err}"
    );
}
