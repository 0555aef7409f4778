//! `egov-portal`: runs ПЭП alone (`EGOV_PORTAL__*`); the launcher `egov up` runs it with
//! the rest.

egov_system::system_main!(
    "egov-portal",
    portal: egov_portal::Config,
    egov_portal::Portal::build,
    "ПЭП",
    |cfg: &mut egov_portal::Config, common: &egov_config::Common| {
        cfg.nats_url = common.nats_url.clone()
    }
);
