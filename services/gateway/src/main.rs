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
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), egov_config::Error> {
        self.common.validate()?;
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
            cfg.pki_dir = s.common.pki_dir();
            let mut gw = egov_gateway::Gateway::build(cfg)
                .await
                .map_err(|e| e.to_string())?;
            // the other gateways and the systems on their fixed local ports
            for other in topology
                .gateways
                .iter()
                .map(|g| (&g.id, g.grpc_port))
                .chain(topology.systems.iter().map(|s| (&s.id, s.grpc_port)))
            {
                if *other.0 != id {
                    gw.set_endpoint(other.0, &format!("127.0.0.1:{}", other.1));
                }
            }
            tracing::info!(grpc = %gw.grpc_addr(), http = %gw.http_addr(), "gateway listening");
            gw.run(cancel).await.map_err(|e| e.to_string())
        },
    )
    .await
}
