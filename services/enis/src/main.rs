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
async fn main() -> std::process::ExitCode {
    egov_system::serve_binary(
        "egov-enis",
        |s: &Settings| &s.common,
        |s, cancel| async move {
            let mut cfg = s.enis;
            cfg.system.database_url = s.common.database_url.clone();
            cfg.system.pki_dir = s.common.pki_dir();
            let svc = egov_enis::Enis::build(cfg)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(grpc = %svc.grpc_addr(), http = %svc.http_addr(), "ЕНИС listening");
            svc.run(cancel).await.map_err(|e| e.to_string())
        },
    )
    .await
}
