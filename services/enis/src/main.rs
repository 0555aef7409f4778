//! `egov-enis`: runs ЕНИС alone (`EGOV_ENIS__*`); the launcher `egov up` runs it with the
//! rest.

egov_system::system_main!("egov-enis", enis: egov_enis::Config, egov_enis::Enis::build, "ЕНИС");
