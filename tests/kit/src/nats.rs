//! `nats-server` processes of a test's own, with JetStream stores in a temporary folder:
//! one node, or several routed into a cluster, that the test kills (SIGKILL) and starts
//! again on the same ports and stores. Needs `nats-server` (Debian's package).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node of the cluster.
pub struct Node {
    name: String,
    client_port: u16,
    cluster_port: u16,
    http_port: u16,
    store: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

/// Three `nats-server` processes routed to each other, each with its own store.
pub struct Cluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `n` nodes (routed to each other when more than one), each with its own
    /// JetStream store in a temporary folder.
    pub fn start(n: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("temporary folder");
        let port = || egov_devenv::free_port().expect("a free port");
        let mut nodes: Vec<Node> = (1..=n)
            .map(|i| Node {
                name: format!("n{i}"),
                client_port: port(),
                cluster_port: port(),
                http_port: port(),
                store: dir.path().join(format!("n{i}")),
                log: dir.path().join(format!("n{i}.log")),
                process: None,
            })
            .collect();
        let routes = nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        for node in &mut nodes {
            node.start(&routes, n > 1);
        }
        Cluster { nodes, _dir: dir }
    }

    /// The cluster routes of every node.
    pub fn routes(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URL: every node, separated by commas.
    /// The client URLs of every node, comma-separated (as `EGOV_NATS_URL` takes them).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the node `name` (`n1`, `n2`, ...).
    /// The names of the nodes (`n1`, `n2`, ...).
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The names of the nodes that are down.
    pub fn down(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.process.is_none())
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn node(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// Kills node `i` (SIGKILL) and reaps it.
    pub fn kill(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let mut child = n.process.take().expect("the node runs");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Starts node `i` again on its ports and store.
    pub fn restart(&mut self, i: usize) {
        let routes = self.routes();
        let clustered = self.nodes.len() > 1;
        self.nodes[i].start(&routes, clustered);
    }

    /// Waits until every running node knows the JetStream meta leader.
    pub async fn wait_for_meta_leader(&self) {
        for n in self.nodes.iter().filter(|n| n.process.is_some()) {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let leader = monitor(n.http_port, "jsz")
                    .await
                    .and_then(|j| j["meta_cluster"]["leader"].as_str().map(str::to_owned))
                    .filter(|l| !l.is_empty());
                if leader.is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} knows no meta leader; its log: {}",
                    n.name,
                    n.log_tail()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Waits until node `i` reports its JetStream assets current (`/healthz`).
    pub async fn wait_healthy(&self, i: usize) {
        let n = &self.nodes[i];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = monitor(n.http_port, "healthz")
                .await
                .is_some_and(|j| j["status"] == "ok");
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become healthy; its log: {}",
                n.name,
                n.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut child) = n.process.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Node {
    fn start(&mut self, routes: &str, clustered: bool) {
        let bin = egov_devenv::find_nats_server().expect("nats-server installed");
        let child = Command::new(bin)
            .args(["--server_name", &self.name, "-a", "127.0.0.1"])
            .args(["-p", &self.client_port.to_string()])
            .args(["-m", &self.http_port.to_string()])
            .args(["-js", "-sd"])
            .arg(&self.store)
            .args(if clustered {
                vec![
                    "--cluster_name".to_string(),
                    "egov-test".to_string(),
                    "--cluster".to_string(),
                    format!("nats://127.0.0.1:{}", self.cluster_port),
                    "--routes".to_string(),
                    routes.to_string(),
                ]
            } else {
                Vec::new()
            })
            .arg("-l")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.process = Some(child);
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// A monitoring endpoint's JSON, or none while the node does not answer.
pub async fn monitor(port: u16, path: &str) -> Option<serde_json::Value> {
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/{path}"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}
