//! `egov-con-is`: runs ИС ЦОН alone (`EGOV_CON_IS__*`); the launcher `egov up` runs it
//! with the rest.

egov_system::system_main!(
    "egov-con-is",
    con_is: egov_con_is::Config,
    egov_con_is::ConIs::build,
    "ИС ЦОН",
    |cfg: &mut egov_con_is::Config, common: &egov_config::Common| {
        cfg.nats_url = common.nats_url.clone();
        cfg.nats_credentials |= common.nats_credentials;
        if let Some(addr) = egov_system::gateway_addr(common, &cfg.gateway_id) {
            cfg.gateway_addr = addr;
        }
    }
);
