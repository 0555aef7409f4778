//! The deployable stack kept in step with the launcher's topology, without a container
//! engine (none runs on the project's machines, so no image is built here):
//!
//! - `docker-compose.yml` as Debian's `docker-compose config` validates and resolves it:
//!   a service per gateway and system that `egov init` provisions, on its topology ports,
//!   with its database URL file, its NATS user, its peers by host name, after `init`;
//!   NATS with JetStream, PostgreSQL, the collector exporting to the trace store, Grafana
//!   with both datasources, Prometheus scraping every service;
//! - `deploy/docker/Dockerfile`: each target's binary is copied from the build, and each
//!   is a binary of a workspace package the build line names;
//! - `deploy/k8s/`: every document of the kustomization parses with the expected kinds,
//!   a Deployment and a Service per service on its ports (the systems with replicas, each
//!   gateway one pod: its message log has one writer), the three-node NATS cluster, the
//!   inbox stream's three replicas, PostgreSQL, the init Job.
//!
//! Each check returns its problems, so that a tampered copy of a file shows that it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use egov_topology::{Kind, Topology};
use serde_json::Value;

fn root() -> PathBuf {
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap()
}

/// Where `egov init` and the services keep their data in the images.
const DATA_DIR: &str = "/var/lib/egov";

/// Each gateway and system with a service, its kind (`None`: a gateway) and ports.
struct Expected {
    id: String,
    kind: Option<Kind>,
    grpc_port: u16,
    http_port: u16,
}

fn expected() -> Vec<Expected> {
    let topology = Topology::shipped();
    let settings = egov_launcher::Settings::default();
    egov_launcher::init::service_schemas(&settings, &topology)
        .into_iter()
        .map(|(id, _)| {
            let kind = topology.system(&id).map(|s| s.kind);
            Expected {
                grpc_port: topology.grpc_port(&id).unwrap(),
                http_port: topology.http_port(&id).unwrap(),
                id,
                kind,
            }
        })
        .collect()
}

/// The binary that runs a gateway or a system of `kind`.
fn binary(kind: Option<Kind>) -> &'static str {
    match kind {
        None => "egov-gateway",
        Some(Kind::Uc) => "egov-uc",
        Some(Kind::GbdFl) => "egov-gbd-fl",
        Some(Kind::Enis) => "egov-enis",
        Some(Kind::ConIs) => "egov-con-is",
        Some(Kind::MioIs) => "egov-mio-is",
        Some(Kind::Portal) => "egov-portal",
    }
}

/// `docker-compose config` of `file`: validated, anchors and merges resolved.
fn compose_config(file: &Path) -> Result<Value, String> {
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(file)
        .arg("--project-directory")
        .arg(root())
        .arg("config")
        .output()
        .map_err(|e| {
            format!(
                "docker-compose: {e} (deploy/local/prepare.sh installs Debian's docker-compose)"
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "docker-compose config of {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_yaml::from_slice(&out.stdout).map_err(|e| format!("its output: {e}"))
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

/// The Dockerfile's targets with an entrypoint, by name: the binary each runs.
fn dockerfile_targets(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("FROM ") {
            current = rest.split(" AS ").nth(1).map(|s| s.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("ENTRYPOINT ")
            && let Some(name) = &current
        {
            let list: Vec<String> = serde_json::from_str(rest).unwrap();
            out.insert(name.clone(), list[0].clone());
        }
    }
    out
}

/// The problems of the resolved compose file `c` against the topology.
fn compose_problems(c: &Value, dockerfile: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let targets = dockerfile_targets(dockerfile);
    let services = c["services"].as_object().cloned().unwrap_or_default();
    let want = expected();
    for e in &want {
        let Some(s) = services.get(&e.id) else {
            problems.push(format!("no compose service {}", e.id));
            continue;
        };
        // its binary, from the Dockerfile target that runs it
        let target = str_of(s, &["build", "target"]).unwrap_or_default();
        if targets.get(target).map(String::as_str) != Some(binary(e.kind)) {
            problems.push(format!(
                "{}: build target {target:?} does not run {}",
                e.id,
                binary(e.kind)
            ));
        }
        // its topology ports, published as they are
        let mut ports = BTreeSet::new();
        for p in s["ports"].as_array().into_iter().flatten() {
            let (published, target) = (p["published"].as_u64(), p["target"].as_u64());
            if published != target {
                problems.push(format!("{}: port {p} is published elsewhere", e.id));
            }
            ports.extend(target);
        }
        let topo: BTreeSet<u64> = [e.grpc_port as u64, e.http_port as u64].into();
        if ports != topo {
            problems.push(format!(
                "{}: ports {ports:?}, the topology's {topo:?}",
                e.id
            ));
        }
        // its settings
        let env = &s["environment"];
        let url_file = egov_launcher::init::database_url_file(Path::new(DATA_DIR), &e.id);
        let mut want_env = vec![
            ("EGOV_DATABASE_URL_FILE", url_file.display().to_string()),
            ("EGOV_NATS_CREDENTIALS", "true".to_string()),
            ("EGOV_PEER_HOST", "{id}".to_string()),
            ("EGOV_NATS_URL", "nats://nats:4222".to_string()),
            (
                "EGOV_OTLP_ENDPOINT",
                "http://otel-collector:4317".to_string(),
            ),
        ];
        match e.kind {
            None => want_env.push(("EGOV_GATEWAY_ID", e.id.clone())),
            Some(Kind::MioIs) => want_env.push(("EGOV_MIO_SYSTEM", e.id.clone())),
            _ => {}
        }
        for (k, v) in want_env {
            if env[k].as_str() != Some(v.as_str()) {
                problems.push(format!("{}: {k} is {}, not {v:?}", e.id, env[k]));
            }
        }
        if str_of(s, &["depends_on", "init", "condition"]) != Some("service_completed_successfully")
        {
            problems.push(format!("{}: does not wait for init to complete", e.id));
        }
        let volumes: Vec<&str> = s["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !volumes
            .iter()
            .any(|v| v.starts_with(&format!("egov-data:{DATA_DIR}")))
        {
            problems.push(format!("{}: no egov-data at {DATA_DIR}", e.id));
        }
        let has_ca = volumes.iter().any(|v| v.starts_with("egov-ca:"));
        if has_ca != (e.kind == Some(Kind::Uc)) {
            problems.push(format!("{}: the CA folder is uc's alone", e.id));
        }
    }
    // nothing else runs an egov binary but the registration step
    for (name, s) in &services {
        if s.get("build").is_some() && name != "init" && !want.iter().any(|e| e.id == *name) {
            problems.push(format!(
                "compose service {name} is no service of the topology"
            ));
        }
    }
    let init = &services.get("init").cloned().unwrap_or_default();
    if targets.get(str_of(init, &["build", "target"]).unwrap_or_default())
        != Some(&"egov".to_string())
        || init["command"] != serde_json::json!(["init"])
    {
        problems.push("init: not `egov init`".into());
    }
    if !init["volumes"].to_string().contains("egov-ca:") {
        problems.push("init: no CA folder".into());
    }
    // the infrastructure
    let nats = services.get("nats").map(|s| s["command"].to_string());
    if !nats
        .as_deref()
        .is_some_and(|c| c.contains("\"-js\"") && c.contains("nats-auth.conf"))
    {
        problems.push("nats: not JetStream with the users of egov init".into());
    }
    if str_of(&services["nats"], &["depends_on", "init", "condition"])
        != Some("service_completed_successfully")
    {
        problems.push("nats: starts before its users are written".into());
    }
    for name in [
        "postgres",
        "otel-collector",
        "jaeger",
        "prometheus",
        "grafana",
    ] {
        if !services.contains_key(name) {
            problems.push(format!("no compose service {name}"));
        }
    }
    problems
}

/// The problems of the observability files against the compose services.
fn observability_problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let prom = yaml_file(&root.join("deploy/observability/prometheus.yml"));
    let targets: BTreeSet<String> = prom["scrape_configs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|j| j["static_configs"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    let want: BTreeSet<String> = expected()
        .iter()
        .map(|e| format!("{}:{}", e.id, e.http_port))
        .collect();
    if targets != want {
        problems.push(format!(
            "prometheus scrapes {targets:?}, the services' /metrics are {want:?}"
        ));
    }
    let otel = yaml_file(&root.join("deploy/observability/otel-collector.yaml"));
    let exporters: Vec<String> = otel["service"]["pipelines"]["traces"]["exporters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    if !exporters.iter().any(|e| {
        e.starts_with("otlp") && str_of(&otel, &["exporters", e, "endpoint"]) == Some("jaeger:4317")
    }) {
        problems.push(format!(
            "the collector exports traces to {exporters:?}, not the trace store"
        ));
    }
    let ds = yaml_file(&root.join("deploy/observability/grafana-datasources.yml"));
    let kinds: Vec<(String, String)> = ds["datasources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["type"].as_str().unwrap_or_default().to_string(),
                d["url"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (kind, url) in [
        ("prometheus", "http://prometheus:9090"),
        ("jaeger", "http://jaeger:16686"),
    ] {
        if !kinds.contains(&(kind.to_string(), url.to_string())) {
            problems.push(format!("no Grafana datasource {kind} at {url}"));
        }
    }
    problems
}

#[test]
fn compose_validates_and_keeps_in_step_with_the_topology() {
    let root = root();
    let c = compose_config(&root.join("docker-compose.yml")).unwrap();
    let dockerfile = std::fs::read_to_string(root.join("deploy/docker/Dockerfile")).unwrap();
    let problems = compose_problems(&c, &dockerfile);
    assert!(problems.is_empty(), "{problems:#?}");
    let problems = observability_problems(&root);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_compose_file_out_of_step_is_caught() {
    let root = root();
    let text = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let dockerfile = std::fs::read_to_string(root.join("deploy/docker/Dockerfile")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // a port moved, a gateway's id changed, a service's secret file of another
    for (from, to, problem) in [
        ("\"7201:7201\"", "\"7202:7201\"", "gbd-fl: port"),
        (
            "EGOV_GATEWAY_ID: rshep-nko",
            "EGOV_GATEWAY_ID: shep",
            "rshep-nko: EGOV_GATEWAY_ID",
        ),
        (
            "secrets/enis.database-url",
            "secrets/uc.database-url",
            "enis: EGOV_DATABASE_URL_FILE",
        ),
        (
            "target: egov-con-is",
            "target: egov-enis",
            "con-is: build target",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        let c = compose_config(&file).unwrap();
        let problems = compose_problems(&c, &dockerfile);
        assert!(
            problems.iter().any(|p| p.starts_with(problem)),
            "{from} → {to}: {problems:#?}"
        );
    }
    // a file that is no compose file at all
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, "services:\n  x:\n    ports: 7\n").unwrap();
    let e = compose_config(&file).unwrap_err();
    assert!(e.contains("docker-compose config"), "{e}");
}

/// Every binary target of the workspace, by package.
fn workspace_binaries() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bins = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let set: BTreeSet<String> = p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        bins.insert(p["name"].as_str().unwrap().to_string(), set);
    }
    bins
}

fn dockerfile_problems(text: &str, bins: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let joined = text.replace("\\\n", " ");
    let build_line = joined
        .lines()
        .find(|l| l.contains("cargo build --release"))
        .unwrap_or_default()
        .to_string();
    let words: Vec<&str> = build_line.split_whitespace().collect();
    let packages: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "-p")
        .map(|w| w[1])
        .collect();
    let mut built = BTreeSet::new();
    for p in &packages {
        match bins.get(*p) {
            Some(b) => built.extend(b.iter().cloned()),
            None => problems.push(format!("the build names {p}, no workspace package")),
        }
    }
    let copied: BTreeSet<String> = joined
        .lines()
        .filter(|l| l.trim_start().starts_with("COPY --from=build"))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| w.strip_prefix("/src/target/release/"))
        .map(str::to_string)
        .collect();
    for b in &copied {
        if !built.contains(b) {
            problems.push(format!(
                "{b} is copied but no package on the build line has it"
            ));
        }
    }
    let targets = dockerfile_targets(text);
    for (target, bin) in &targets {
        if !copied.contains(bin) {
            problems.push(format!("target {target} runs {bin}, which is not copied"));
        }
    }
    for e in expected() {
        if !targets.values().any(|b| b == binary(e.kind)) {
            problems.push(format!("no target runs {} ({})", binary(e.kind), e.id));
        }
    }
    problems
}

#[test]
fn every_dockerfile_binary_is_a_workspace_binary() {
    let text = std::fs::read_to_string(root().join("deploy/docker/Dockerfile")).unwrap();
    let bins = workspace_binaries();
    let problems = dockerfile_problems(&text, &bins);
    assert!(problems.is_empty(), "{problems:#?}");
    // the build context leaves the build output and local state out (`COPY . .`)
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    for dir in ["target", ".egov", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == dir),
            "{dir} in .dockerignore"
        );
    }
    // and a binary of no package is caught
    let bad = text.replace(
        "/src/target/release/egov-enis",
        "/src/target/release/egov-enisx",
    );
    let problems = dockerfile_problems(&bad, &bins);
    assert!(
        problems.iter().any(|p| p.contains("egov-enisx is copied")),
        "{problems:#?}"
    );
    let bad = text.replace("-p egov-gbd-fl", "-p egov-gbd-fx");
    let problems = dockerfile_problems(&bad, &bins);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("egov-gbd-fx, no workspace package")),
        "{problems:#?}"
    );
}

/// Every document of the kustomization's resources.
fn k8s_documents(dir: &Path) -> Result<Vec<Value>, String> {
    let k = yaml_file(&dir.join("kustomization.yaml"));
    let mut docs = Vec::new();
    for r in k["resources"].as_array().ok_or("no resources")? {
        let path = dir.join(r.as_str().ok_or("a resource is no path")?);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for d in serde_yaml::Deserializer::from_str(&text) {
            let v = <Value as serde::Deserialize>::deserialize(d)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if v.is_null() {
                continue;
            }
            if v["apiVersion"].as_str().is_none() || v["kind"].as_str().is_none() {
                return Err(format!(
                    "{}: a document without apiVersion and kind",
                    path.display()
                ));
            }
            docs.push(v);
        }
    }
    Ok(docs)
}

fn k8s_problems(docs: &[Value], dockerfile: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    };
    let targets = dockerfile_targets(dockerfile);
    for e in expected() {
        let Some(d) = find("Deployment", &e.id) else {
            problems.push(format!("no Deployment {}", e.id));
            continue;
        };
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let image = c["image"].as_str().unwrap_or_default();
        let target = image.split(':').next().unwrap_or_default();
        if targets.get(target).map(String::as_str) != Some(binary(e.kind)) {
            problems.push(format!(
                "{}: image {image} does not run {}",
                e.id,
                binary(e.kind)
            ));
        }
        let ports: BTreeSet<u64> = c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["containerPort"].as_u64())
            .collect();
        let topo: BTreeSet<u64> = [e.grpc_port as u64, e.http_port as u64].into();
        if ports != topo {
            problems.push(format!(
                "{}: container ports {ports:?}, the topology's {topo:?}",
                e.id
            ));
        }
        let env: BTreeMap<&str, &str> = c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?, v["value"].as_str()?)))
            .collect();
        let url_file = egov_launcher::init::database_url_file(Path::new(DATA_DIR), &e.id);
        if env.get("EGOV_DATABASE_URL_FILE").copied() != Some(url_file.to_str().unwrap()) {
            problems.push(format!("{}: not its own database URL file", e.id));
        }
        match e.kind {
            None => {
                if env.get("EGOV_GATEWAY_ID") != Some(&e.id.as_str()) {
                    problems.push(format!("{}: EGOV_GATEWAY_ID", e.id));
                }
                if env.get("EGOV_INBOX_REPLICAS") != Some(&"3") {
                    problems.push(format!(
                        "{}: the inbox stream is not replicated thrice",
                        e.id
                    ));
                }
                // one writer of the gateway's message-log chain, also during a rollout
                if d["spec"]["replicas"] != 1 || d["spec"]["strategy"]["type"] != "Recreate" {
                    problems.push(format!("{}: two writers of one message-log chain", e.id));
                }
            }
            Some(Kind::MioIs) if env.get("EGOV_MIO_SYSTEM") != Some(&e.id.as_str()) => {
                problems.push(format!("{}: EGOV_MIO_SYSTEM", e.id));
            }
            _ => {}
        }
        // the systems scale out (their consumers and counters are shared); uc, the CA's
        // one holder, does not
        let replicas = d["spec"]["replicas"].as_u64().unwrap_or(0);
        match e.kind {
            Some(Kind::Uc) if replicas != 1 => {
                problems.push(format!("uc: {replicas} replicas of the CA"));
            }
            Some(k) if k != Kind::Uc && replicas < 2 => {
                problems.push(format!("{}: a system with one replica", e.id));
            }
            _ => {}
        }
        match find("Service", &e.id) {
            Some(s) => {
                let ports: BTreeSet<u64> = s["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["port"].as_u64())
                    .collect();
                if ports != topo {
                    problems.push(format!("Service {}: ports {ports:?}", e.id));
                }
            }
            None => problems.push(format!("no Service {}", e.id)),
        }
    }
    match find("StatefulSet", "nats") {
        Some(n) => {
            if n["spec"]["replicas"] != 3 {
                problems.push("NATS: not three nodes".into());
            }
            let args = n["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
            if !args.contains("\"-js\"") {
                problems.push("NATS: no JetStream".into());
            }
        }
        None => problems.push("no StatefulSet nats".into()),
    }
    match find("ConfigMap", "nats-config") {
        Some(c) => {
            let conf = c["data"]["nats.conf"].as_str().unwrap_or_default();
            let routes = conf.matches("nats://nats-").count();
            if routes != 3 || !conf.contains("nats-auth.conf") {
                problems.push(format!("NATS: {routes} routes, users included: {conf}"));
            }
        }
        None => problems.push("no ConfigMap nats-config".into()),
    }
    if find("StatefulSet", "postgres").is_none() {
        problems.push("no StatefulSet postgres".into());
    }
    match find("Job", "egov-init") {
        Some(j) => {
            let c = &j["spec"]["template"]["spec"]["containers"][0];
            if c["args"] != serde_json::json!(["init"])
                || targets.get(
                    c["image"]
                        .as_str()
                        .unwrap_or_default()
                        .split(':')
                        .next()
                        .unwrap_or_default(),
                ) != Some(&"egov".to_string())
            {
                problems.push("the Job egov-init does not run `egov init`".into());
            }
        }
        None => problems.push("no Job egov-init".into()),
    }
    problems
}

#[test]
fn k8s_manifests_parse_with_the_expected_kinds() {
    let root = root();
    let dir = root.join("deploy/k8s");
    let docs = k8s_documents(&dir).unwrap();
    let dockerfile = std::fs::read_to_string(root.join("deploy/docker/Dockerfile")).unwrap();
    let problems = k8s_problems(&docs, &dockerfile);
    assert!(problems.is_empty(), "{problems:#?}");
    // a copy with two NATS nodes and a gateway on one replica is caught
    let tmp = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        let text = match f.file_name().unwrap().to_str().unwrap() {
            "nats.yaml" => text.replace("replicas: 3", "replicas: 2"),
            "gateways.yaml" => text.replacen("replicas: 1", "replicas: 2", 1),
            "systems.yaml" => text.replacen("replicas: 2", "replicas: 1", 1),
            _ => text,
        };
        std::fs::write(tmp.path().join(f.file_name().unwrap()), text).unwrap();
    }
    let problems = k8s_problems(&k8s_documents(tmp.path()).unwrap(), &dockerfile);
    assert!(
        problems.iter().any(|p| p == "NATS: not three nodes"),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "shep: two writers of one message-log chain"),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "gbd-fl: a system with one replica"),
        "{problems:#?}"
    );
    // and a document without a kind
    std::fs::write(tmp.path().join("uc.yaml"), "apiVersion: v1\nmetadata: {}\n").unwrap();
    let e = k8s_documents(tmp.path()).unwrap_err();
    assert!(e.contains("without apiVersion and kind"), "{e}");
}
