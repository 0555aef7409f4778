//! `egov-uc`: runs the test certification authority alone (the launcher `egov up` runs it
//! together with every other service).

use egov_config::{Common, Validate};
use egov_grpc::Listening as _;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    #[serde(flatten)]
    common: Common,
    uc: egov_uc::Config,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), egov_config::Error> {
        self.common.validate()?;
        self.uc.check()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut settings: Settings = match egov_config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("egov-uc: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    settings.uc.database_url = settings.common.database_url.clone();
    settings.uc.pki_dir = settings.common.pki_dir();
    if !settings.common.bind_host.is_loopback() {
        settings.uc.http_addr.set_ip(settings.common.bind_host);
        settings.uc.grpc_addr.set_ip(settings.common.bind_host);
    }
    let _guard = egov_telemetry::init(&settings.common.telemetry(), "uc")?;
    egov_grpc::install_crypto_provider();
    let uc = egov_uc::Uc::build(settings.uc).await?;
    tracing::info!(http = %uc.http_addr(), grpc = %uc.grpc_addr(), "uc listening");
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        c.cancel();
    });
    uc.run(cancel).await?;
    Ok(())
}
