//! `egov-gbd-fl`: runs ГБД ФЛ alone (`EGOV_GBD_FL__*`); the launcher `egov up` runs it
//! with the rest.

egov_system::system_main!("egov-gbd-fl", gbd_fl: egov_gbd_fl::Config, egov_gbd_fl::GbdFl::build, "ГБД ФЛ");
