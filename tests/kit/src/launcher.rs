//! The system as `egov up` runs it ([`egov_launcher::start`]), in the test's process: on
//! free ports, in a fresh database and under a NATS prefix of its own, so that tests and
//! benches of the whole system run beside each other. What it gives a client is what
//! `egov up` gives any: the doors and accounts of its `stack.json` ([`Target`]), the PKI
//! folder, its endpoints.

use std::path::Path;

use egov_scenario::Target;

/// A started system.
pub struct Up {
    /// The system; run it with [`egov_launcher::System::run_until`].
    pub system: egov_launcher::System,
    /// Its database, dropped (and deleted) with this.
    pub db: egov_devenv::TestDatabase,
    /// The `stack.json` it wrote.
    pub target: Target,
}

impl Up {
    /// The gRPC address of the gateway `id`.
    pub fn gateway_addr(&self, id: &str) -> Option<String> {
        self.system
            .endpoints
            .iter()
            .find(|e| e.service == id && e.scheme == "https")
            .map(|e| e.addr.to_string())
    }
}

/// Starts the system with its data in `data` (database and NATS prefix named after
/// `name`), the settings changed by `adjust` first; logs at `warn`.
pub async fn up(data: &Path, name: &str, adjust: impl FnOnce(&mut egov_launcher::Settings)) -> Up {
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), name)
        .await
        .expect("a fresh database");
    let mut settings = egov_launcher::Settings::default();
    settings.common.data_dir = data.to_path_buf();
    settings.common.database_url = db.url.clone();
    settings.common.nats_url = egov_devenv::default_nats_url();
    settings.common.log_filter = "warn".into();
    settings.ephemeral_ports = true;
    settings.nats_prefix = egov_devenv::unique_prefix(name);
    adjust(&mut settings);
    let system = egov_launcher::start(settings)
        .await
        .expect("the system starts");
    let target = Target::read(&data.join(egov_launcher::STACK_FILE)).expect("stack.json");
    Up { system, db, target }
}
