//! `egov-gateway`: runs one gateway (central or regional) alone; the launcher `egov up`
//! runs all four in one process.

use egov_config::{Common, Validate};

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
        self.common.validate()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = match egov_config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("egov-gateway: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    let id = settings.gateway_id.clone().unwrap_or_else(|| "shep".into());
    let mut cfg = settings
        .gateway
        .clone()
        .unwrap_or_else(|| egov_gateway::Config::for_gateway(&id));
    cfg.gateway_id = id.clone();
    cfg.database_url = settings.common.database_url.clone();
    cfg.nats_url = settings.common.nats_url.clone();
    cfg.pki_dir = settings.common.pki_dir();
    let _guard = egov_telemetry::init(&settings.common.telemetry(), &id)?;
    egov_grpc::install_crypto_provider();
    let mut gw = egov_gateway::Gateway::build(cfg).await?;
    // the other gateways on their fixed local ports
    for (other, port, _) in egov_gateway::GRPC_PORTS {
        if other != id {
            gw.set_endpoint(other, &format!("127.0.0.1:{port}"));
        }
    }
    tracing::info!(grpc = %gw.grpc_addr(), http = %gw.http_addr(), "gateway listening");
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        c.cancel();
    });
    gw.run(cancel).await?;
    Ok(())
}
