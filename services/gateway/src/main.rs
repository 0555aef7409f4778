//! `egov-gateway`: runs one gateway (central or regional) alone; the launcher `egov up`
//! runs all four in one process.

use egov_config::{Common, Validate};
use egov_grpc::Listening as _;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    #[serde(flatten)]
    common: Common,
    gateway: Option<egov_gateway::Config>,
    gateway_id: Option<String>,
    /// Copies of the inbox stream (`EGOV_INBOX_REPLICAS`): 3 on a three-node NATS cluster.
    inbox_replicas: Option<usize>,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), egov_config::Error> {
        self.common.validate()?;
        if let Some(n) = self.inbox_replicas
            && !(1..=5).contains(&n)
        {
            return Err(egov_config::Error::invalid(
                "inbox_replicas",
                "must be 1 to 5 (JetStream's limit)",
            ));
        }
        match &self.gateway {
            Some(g) => g.check(),
            None => Ok(()),
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    egov_system::serve_binary(
        "egov-gateway",
        |s: &Settings| &s.common,
        |s, cancel| async move {
            let id = s.gateway_id.clone().unwrap_or_else(|| "shep".into());
            let topology = egov_topology::Topology::open(s.common.topology_dir.as_deref())
                .map_err(|e| e.to_string())?;
            let mut cfg = s
                .gateway
                .clone()
                .unwrap_or_else(|| egov_gateway::Config::for_gateway(&topology, &id));
            cfg.topology_dir = s.common.topology_dir.clone();
            cfg.gateway_id = id.clone();
            cfg.database_url = s.common.database_url.clone();
            cfg.nats_url = s.common.nats_url.clone();
            cfg.nats_credentials |= s.common.nats_credentials;
            cfg.pki_dir = s.common.pki_dir();
            if !s.common.bind_host.is_loopback() {
                cfg.bind_host(s.common.bind_host);
            }
            if let Some((ocsp, crl)) = s.common.uc_urls(&topology) {
                cfg.ocsp_url = Some(ocsp);
                cfg.crl_url = Some(crl);
            }
            if let Some(n) = s.inbox_replicas {
                cfg.inbox_replicas = n;
            }
            let mut gw = egov_gateway::Gateway::build(cfg)
                .await
                .map_err(|e| e.to_string())?;
            // the other gateways and the systems at their topology ports, on their own
            // hosts (`EGOV_PEER_HOST`) or on this one
            for other in topology
                .gateways
                .iter()
                .map(|g| (&g.id, g.grpc_port))
                .chain(topology.systems.iter().map(|s| (&s.id, s.grpc_port)))
            {
                if *other.0 != id {
                    gw.set_endpoint(other.0, &s.common.peer_addr(other.0, other.1));
                }
            }
            tracing::info!(grpc = %gw.grpc_addr(), http = %gw.http_addr(), "gateway listening");
            gw.run(cancel).await.map_err(|e| e.to_string())
        },
    )
    .await
}
