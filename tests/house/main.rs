//! The rules of the house (`docs/ARCHITECTURE.md`, *Dependency rules*), read from
//! `cargo metadata` so that an edge that breaks them fails here, whoever adds it:
//!
//! - a library (`crates/`, `proto/`) depends on libraries only;
//! - a service (`services/`) depends on libraries only, also to test itself: a test that
//!   needs another service is an end-to-end test of `tests/`;
//! - an app (`apps/`) assembles services and libraries (and other apps' libraries);
//! - the test world and the end-to-end tests (`tests/`) may use anything, and nothing
//!   outside `tests/` depends on them except as a dev-dependency of an app;
//! - every service is a library plus a thin binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Library,
    Service,
    App,
    Tests,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn layer(root: &Path, manifest: &Path) -> Option<Layer> {
    let rel = manifest.strip_prefix(root).ok()?;
    let top = rel.components().next()?.as_os_str().to_str()?;
    match top {
        "crates" | "proto" => Some(Layer::Library),
        "services" => Some(Layer::Service),
        "apps" => Some(Layer::App),
        "tests" => Some(Layer::Tests),
        _ => None,
    }
}

/// Whether `from` may depend on `to` with a dependency of `kind` (normal, build, dev).
fn allowed(from: Layer, to: Layer, kind: &str) -> bool {
    match (from, to) {
        (Layer::Tests, _) => true,
        (_, Layer::Library) => true,
        (Layer::App, Layer::Service | Layer::App) => true,
        (Layer::App, Layer::Tests) => kind == "dev",
        _ => false,
    }
}

struct Package {
    name: String,
    layer: Layer,
    dir: PathBuf,
    deps: Vec<(String, String)>,
}

fn packages() -> Vec<Package> {
    let root = std::fs::canonicalize(root()).unwrap();
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut list = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
        let dir = manifest.parent().unwrap().to_path_buf();
        let name = p["name"].as_str().unwrap().to_string();
        let layer = layer(&root, &dir).unwrap_or_else(|| {
            panic!(
                "{name} ({}) is in no folder of the house: crates/, proto/, services/, apps/ or tests/",
                dir.display()
            )
        });
        let deps = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["path"].is_string())
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["kind"].as_str().unwrap_or("normal").to_string(),
                )
            })
            .collect();
        list.push(Package {
            name,
            layer,
            dir,
            deps,
        });
    }
    list
}

fn violations(packages: &[Package]) -> Vec<String> {
    let layers: BTreeMap<&str, Layer> = packages
        .iter()
        .map(|p| (p.name.as_str(), p.layer))
        .collect();
    let mut bad = Vec::new();
    for p in packages {
        for (dep, kind) in &p.deps {
            let Some(&to) = layers.get(dep.as_str()) else {
                continue;
            };
            if !allowed(p.layer, to, kind) {
                bad.push(format!(
                    "{} ({:?}) → {dep} ({to:?}) as a {kind} dependency",
                    p.name, p.layer
                ));
            }
        }
    }
    bad
}

#[test]
fn no_edge_breaks_the_dependency_rules() {
    let packages = packages();
    assert!(packages.len() > 20, "the workspace's packages are read");
    let bad = violations(&packages);
    assert!(
        bad.is_empty(),
        "dependency rules broken:\n{}",
        bad.join("\n")
    );
    // each layer exists: the rules are not vacuous
    for l in [Layer::Library, Layer::Service, Layer::App, Layer::Tests] {
        assert!(packages.iter().any(|p| p.layer == l), "{l:?}");
    }
}

#[test]
fn the_rules_refuse_what_they_say() {
    // the check itself, on edges the house must refuse
    let pkg = |name: &str, layer: Layer, deps: &[(&str, &str)]| Package {
        name: name.into(),
        layer,
        dir: PathBuf::new(),
        deps: deps
            .iter()
            .map(|(d, k)| (d.to_string(), k.to_string()))
            .collect(),
    };
    let world = [
        pkg("lib", Layer::Library, &[("svc", "normal")]),
        pkg(
            "svc",
            Layer::Service,
            &[("other", "dev"), ("lib", "normal")],
        ),
        pkg("other", Layer::Service, &[("kit", "normal")]),
        pkg("app", Layer::App, &[("svc", "normal"), ("kit", "dev")]),
        pkg("app2", Layer::App, &[("kit", "normal")]),
        pkg("kit", Layer::Tests, &[("svc", "normal"), ("app", "normal")]),
    ];
    assert_eq!(
        violations(&world),
        [
            "lib (Library) → svc (Service) as a normal dependency",
            "svc (Service) → other (Service) as a dev dependency",
            "other (Service) → kit (Tests) as a normal dependency",
            "app2 (App) → kit (Tests) as a normal dependency",
        ]
    );
}

#[test]
fn every_service_is_a_library_and_a_thin_binary() {
    for p in packages().iter().filter(|p| p.layer == Layer::Service) {
        let lib = p.dir.join("src/lib.rs");
        let main = p.dir.join("src/main.rs");
        assert!(lib.is_file(), "{}: no src/lib.rs", p.name);
        let lines = std::fs::read_to_string(&main)
            .unwrap_or_else(|e| panic!("{}: src/main.rs: {e}", p.name))
            .lines()
            .count();
        assert!(
            lines <= 100,
            "{}: src/main.rs has {lines} lines; the service belongs in its library",
            p.name
        );
    }
}
