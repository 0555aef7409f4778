//! The BPMN of every shipped regulation read by clients nobody here wrote: `bpmn-moddle`
//! (the metamodel of bpmn.io and Camunda Modeler) imports it without a warning,
//! `bpmnlint`'s recommended rules find nothing, and `bpmn-js` draws every element in
//! headless Chromium; the screenshots are kept under `target/tmp/artefacts/diagrams/`.
//! The npm packages are pinned in `tests/js/package-lock.json` and installed by
//! `deploy/local/prepare.sh --services` (the README's test command runs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use egov_diagram::Format;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

/// Node and the packages, or a failure that says how to get them (never a silent skip).
fn node() -> Command {
    let js = js_dir();
    assert!(
        js.join("node_modules/bpmnlint").is_dir() && js.join("node_modules/bpmn-js").is_dir(),
        "the outside clients are not installed: run `bash deploy/local/prepare.sh --services` \
         (or `npm ci --prefix tests/js`)"
    );
    let mut c = Command::new("node");
    c.current_dir(&js);
    c
}

/// Every BPMN diagram of the shipped regulations, written to a fresh folder.
fn bpmn_files(dir: &Path) -> Vec<(PathBuf, usize)> {
    let regs = egov_regulation::load_dir(&egov_regulation::shipped_dir()).unwrap();
    let mut files = Vec::new();
    for reg in &regs {
        for (name, content) in egov_diagram::all(reg).unwrap() {
            if name.ends_with(".bpmn") {
                let path = dir.join(&name);
                std::fs::write(&path, &content).unwrap();
                let flows = content.matches("<bpmn:sequenceFlow ").count();
                files.push((path, flows));
            }
        }
    }
    assert!(
        files.len() >= 20,
        "expected the diagrams of five regulations"
    );
    files
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn bpmnlint_and_bpmn_moddle_find_nothing_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let files = bpmn_files(dir.path());
    let out = node()
        .arg("check-bpmn.mjs")
        .args(files.iter().map(|(p, _)| p))
        .output()
        .expect("node runs");
    let lines = json_lines(&out.stdout);
    assert_eq!(
        lines.len(),
        files.len(),
        "one answer per file; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| !l["findings"].as_array().unwrap().is_empty())
        .collect();
    assert!(bad.is_empty(), "findings: {bad:#?}");
    assert!(out.status.success());
}

#[test]
fn the_checker_is_not_blind() {
    // a diagram broken on purpose (a flow into nowhere, a task left unconnected) must be
    // reported, or the test above proves nothing
    let dir = tempfile::tempdir().unwrap();
    let reg = egov_regulation::load_file(
        &egov_regulation::shipped_dir().join("almaty-2013-housing-queue.toml"),
    )
    .unwrap();
    let good = egov_diagram::draw(&reg, "con", "ru", Format::Bpmn).unwrap();
    let broken = good.replacen(
        "</bpmn:process>",
        "<bpmn:task id=\"Lonely\" name=\"никем не связанная задача\" />\n</bpmn:process>",
        1,
    );
    let path = dir.path().join("broken.bpmn");
    std::fs::write(&path, broken).unwrap();
    let out = node().arg("check-bpmn.mjs").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let lines = json_lines(&out.stdout);
    let text = lines[0]["findings"].to_string();
    assert!(text.contains("no-disconnected"), "{text}");
}

#[test]
fn bpmn_js_draws_every_element_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let files = bpmn_files(dir.path());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts/diagrams");
    std::fs::create_dir_all(&shots).unwrap();
    let out = node()
        .arg("render-bpmn.mjs")
        .arg(&shots)
        .args(files.iter().map(|(p, _)| p))
        .output()
        .expect("node runs");
    let lines = json_lines(&out.stdout);
    assert_eq!(
        lines.len(),
        files.len(),
        "one answer per file; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (line, (path, flows)) in lines.iter().zip(&files) {
        assert!(line.get("error").is_none(), "{}: {line}", path.display());
        assert_eq!(line["warnings"].as_array().unwrap().len(), 0, "{line}");
        // every sequence flow is a drawn connection
        let drawn = line["connections"].as_u64().unwrap() as usize;
        assert_eq!(drawn, *flows, "{}: {line}", path.display());
        let shot = PathBuf::from(line["screenshot"].as_str().unwrap());
        let size = std::fs::metadata(&shot).unwrap().len();
        assert!(
            size > 10_000,
            "{}: screenshot of {size} bytes",
            shot.display()
        );
    }
    assert!(out.status.success());
}
