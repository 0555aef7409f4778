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
        // the keystore key beside the rest of this machine's data, unless set
        if cfg.keystore_key_file == egov_con_is::Config::default().keystore_key_file {
            cfg.keystore_key_file = common.data_dir.join("con-is-keystore.key");
        }
    }
);
