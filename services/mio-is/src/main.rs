//! `egov-mio-is`: runs one ИС МИО (`EGOV_MIO_SYSTEM`, default `mio-almaty`) alone; the
//! launcher `egov up` runs all three with the rest. Its employees' accounts are enrolled
//! beforehand by `egov init` (the registration step, which holds the CA).

use egov_config::{Common, Validate};

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    #[serde(flatten)]
    common: Common,
    mio_system: Option<String>,
    mio: Option<egov_mio_is::Config>,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), egov_config::Error> {
        self.common.validate()?;
        let topology = self.common.topology()?;
        if let Some(s) = &self.mio_system
            && egov_mio_is::Config::for_system(&topology, s).is_none()
        {
            return Err(egov_config::Error::invalid(
                "mio_system",
                format!(
                    "{s:?} is not an ИС МИО of the topology ({})",
                    topology
                        .systems_of(egov_topology::Kind::MioIs)
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    egov_system::serve_binary(
        "egov-mio-is",
        |s: &Settings| &s.common,
        |s, cancel| async move {
            let system = s.mio_system.clone().unwrap_or_else(|| "mio-almaty".into());
            let topology = s.common.topology().map_err(|e| e.to_string())?;
            let mut cfg = match s.mio.clone() {
                Some(c) => c,
                None => egov_mio_is::Config::for_system(&topology, &system)
                    .ok_or_else(|| format!("{system} is not an ИС МИО of the topology"))?,
            };
            egov_system::standalone(&mut cfg.system, &s.common)?;
            cfg.nats_url = s.common.nats_url.clone();
            cfg.nats_credentials |= s.common.nats_credentials;
            if let Some(addr) = egov_system::gateway_addr(&s.common, &cfg.gateway_id) {
                cfg.gateway_addr = addr;
            }
            if s.mio.is_none() {
                // the keystore key beside the rest of this machine's data
                cfg.keystore_key_file = s.common.data_dir.join(format!("{system}-keystore.key"));
            }
            if cfg.passwords_file.is_none() {
                cfg.passwords_file = Some(
                    s.common
                        .data_dir
                        .join(format!("{system}-employee-passwords.txt")),
                );
            }
            let svc = egov_mio_is::MioIs::build(cfg, egov_mio_is::clock::Clock::System)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(grpc = %svc.grpc_addr(), http = %svc.http_addr(), "ИС МИО listening");
            tracing::info!(
                "no employee accounts are seeded by this binary: they need the CA, which the \
                 registration step holds (`egov init`, or `egov up` running everything)"
            );
            svc.run(cancel).await.map_err(|e| e.to_string())
        },
    )
    .await
}
