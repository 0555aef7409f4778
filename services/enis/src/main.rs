//! `egov-enis`: runs ЕНИС alone; the launcher `egov up` runs it with the rest.

use egov_config::{Common, Validate};

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    #[serde(flatten)]
    common: Common,
    enis: egov_enis::Config,
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
            eprintln!("egov-enis: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    let mut cfg = settings.enis.clone();
    cfg.system.database_url = settings.common.database_url.clone();
    cfg.system.pki_dir = settings.common.pki_dir();
    let _guard = egov_telemetry::init(&settings.common.telemetry(), "enis")?;
    egov_grpc::install_crypto_provider();
    let svc = egov_enis::Enis::build(cfg).await?;
    tracing::info!(grpc = %svc.grpc_addr(), http = %svc.http_addr(), "ЕНИС listening");
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        c.cancel();
    });
    svc.run(cancel).await?;
    Ok(())
}
