//! `egov init`: the one-shot registration step of a deployment in which every service runs
//! in its own process or container (`docker-compose.yml`, `deploy/k8s/`), doing once what
//! `egov up` does before it starts the services in one process:
//!
//! - the test PKI (certificates of every gateway and system of the topology, naming uc on
//!   its peer host as their CRL and OCSP location), its CA folder apart (`EGOV_UC__CA_DIR`,
//!   default `<PKI folder>-ca`): only uc and this step are given it;
//! - `<data dir>/nats-auth.conf` (0600): a NATS user per gateway and system with its
//!   permissions (the broker is started with it; each service connects as its user,
//!   `EGOV_NATS_CREDENTIALS=true`, with the password of its PKI folder);
//! - each service's PostgreSQL role `egov_<schema>`, owning its schema alone, with a new
//!   password of its own, its URL written to `<data dir>/secrets/<id>.database-url` (0600)
//!   for the service's `EGOV_DATABASE_URL_FILE`;
//! - ГБД ФЛ and ЕНИС seeded when empty (`EGOV_SEED_PERSONS`, `EGOV_SEED`);
//! - every ИС МИО's employee accounts and ИС ЦОН's operators enrolled, their signing
//!   certificates issued by the CA as the registration authority (no service but uc holds
//!   the CA), their generated passwords written once to 0600 files of the data folder.
//!
//! Its last file is `<data dir>/init.done` ([`done_marker`]), which the services of a
//! cluster wait for. It needs PostgreSQL (`EGOV_DATABASE_URL`, an administrator) but no broker and no other
//! service; run again, it keeps the PKI, the seeds and the accounts, and gives every role a
//! new password (the services read theirs at start, so restart them after it).

use std::path::{Path, PathBuf};

use egov_topology::{Kind, Topology};

use crate::{Error, Settings};

/// What `egov init` made or found.
#[derive(Debug)]
pub struct Report {
    /// The PKI folder.
    pub pki_dir: PathBuf,
    /// Whether this run created the PKI.
    pub pki_created: bool,
    /// The NATS server configuration with the users.
    pub nats_config: PathBuf,
    /// Each service's id and the file holding its database URL.
    pub database_urls: Vec<(String, PathBuf)>,
    /// What was seeded into the registries (none when they held data already).
    pub seeded: Option<egov_seed::Report>,
    /// Each ИС МИО and the number of its employee accounts.
    pub employees: Vec<(String, usize)>,
    /// ИС ЦОН's operator accounts, each with its signing certificate.
    pub operators: usize,
    /// Files the generated passwords of accounts this run created were written to.
    pub passwords_files: Vec<PathBuf>,
}

/// The schema of every gateway and system of `topology` that runs as a service of its
/// own, by id: one entry per kind of service (a kind without a service in this workspace
/// yet has none).
pub fn service_schemas(settings: &Settings, topology: &Topology) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = topology
        .gateways
        .iter()
        .map(|g| {
            let cfg = egov_gateway::Config::for_gateway(topology, &g.id);
            (g.id.clone(), cfg.schema)
        })
        .collect();
    for s in &topology.systems {
        let schema = match s.kind {
            Kind::Uc => Some(settings.uc.schema.clone()),
            Kind::GbdFl => Some(settings.gbd_fl.system.schema.clone()),
            Kind::Enis => Some(settings.enis.system.schema.clone()),
            Kind::ConIs => Some(settings.con_is.system.schema.clone()),
            Kind::MioIs => mio_config(settings, topology, &s.id).map(|c| c.system.schema),
            Kind::Portal => Some(settings.portal.system.schema.clone()),
        };
        if let Some(schema) = schema {
            out.push((s.id.clone(), schema));
        }
    }
    out
}

/// The file of `id`'s database URL under `data_dir`.
pub fn database_url_file(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("secrets").join(format!("{id}.database-url"))
}

/// The file [`init`] writes last, when everything else is in place.
pub fn done_marker(data_dir: &Path) -> PathBuf {
    data_dir.join("init.done")
}

fn mio_config(settings: &Settings, topology: &Topology, id: &str) -> Option<egov_mio_is::Config> {
    let mut cfg = egov_mio_is::Config::for_system(topology, id)?;
    if let Some(over) = settings.mio.get(&id.replace('-', "_")) {
        over.apply(&mut cfg);
    }
    Some(cfg)
}

fn launcher_err(message: String) -> Error {
    Error::Service {
        service: "init".into(),
        message,
    }
}

/// Writes `text` to `path` (0600), through a temporary file renamed over it.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    let err = |e: std::io::Error| launcher_err(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Runs the registration step (see the module's documentation).
pub async fn init(settings: &Settings) -> Result<Report, Error> {
    egov_grpc::install_crypto_provider();
    let common = &settings.common;
    std::fs::create_dir_all(&common.data_dir)
        .map_err(|e| launcher_err(format!("data folder {}: {e}", common.data_dir.display())))?;
    let topology = common.topology().map_err(|e| launcher_err(e.to_string()))?;

    let pki_dir = common.pki_dir();
    let ca_dir = settings
        .uc
        .ca_dir
        .clone()
        .unwrap_or_else(|| egov_pki::dir::default_ca_dir(&pki_dir));
    let uc_port = topology.http_port("uc").unwrap_or(7010);
    let (authority, pki_created) = crate::open_or_create_pki(
        &pki_dir,
        &ca_dir,
        &topology,
        &format!("http://{}", common.peer_addr("uc", uc_port)),
        settings.pki_algorithm,
    )?;
    let nats_config = crate::write_nats_config(&common.data_dir, &pki_dir, &topology, settings)?;

    // each service's role with a password of its own, its URL in a file of its own
    let admin_url = &common.database_url;
    let mut database_urls = Vec::new();
    let mut urls = std::collections::BTreeMap::new();
    for (id, schema) in service_schemas(settings, &topology) {
        let password = uuid::Uuid::new_v4().simple().to_string();
        let url = egov_db::provision(admin_url, &schema, Some(&password))
            .await
            .map_err(|e| Error::Service {
                service: "database".into(),
                message: format!("the role of schema {schema}: {e}"),
            })?;
        let file = database_url_file(&common.data_dir, &id);
        write_private(&file, &format!("{url}\n"))?;
        urls.insert(id.clone(), url);
        database_urls.push((id, file));
    }

    let seeded = crate::seed_registries(admin_url, settings).await?;

    // the systems built once on free loopback ports, only to enrol their accounts
    let local = |mut c: egov_system::Config, id: &str| {
        c.bind_host(std::net::IpAddr::from([127, 0, 0, 1]));
        c.any_ports();
        c.pki_dir = pki_dir.clone();
        c.database_url = urls.get(id).cloned().unwrap_or_default();
        c
    };
    let mut employees = Vec::new();
    let mut passwords_files = Vec::new();
    for sys in topology.systems_of(Kind::MioIs) {
        let mut cfg = mio_config(settings, &topology, &sys.id).expect("an ИС МИО of the topology");
        cfg.system = local(cfg.system, &sys.id);
        if cfg.dev_employee_password.is_none() {
            cfg.dev_employee_password = settings.dev_employee_password.clone();
        }
        cfg.keystore_key_file = common.data_dir.join(format!("{}-keystore.key", sys.id));
        let passwords = common
            .data_dir
            .join(format!("{}-employee-passwords.txt", sys.id));
        cfg.passwords_file = Some(passwords.clone());
        let mut mio = egov_mio_is::MioIs::build(cfg, egov_mio_is::clock::Clock::System)
            .await
            .map_err(|e| launcher_err(format!("{}: {e}", sys.id)))?;
        let accounts = mio
            .seed_employees(&authority)
            .await
            .map_err(|e| launcher_err(format!("{}: {e}", sys.id)))?;
        if !mio.new_passwords().is_empty() {
            passwords_files.push(passwords);
        }
        employees.push((sys.id.clone(), accounts.len()));
    }

    let mut operators = 0;
    if let Some(con) = topology.systems_of(Kind::ConIs).next() {
        let mut cfg = settings.con_is.clone();
        cfg.system = local(cfg.system, &con.id);
        if cfg.dev_operator_password.is_none() {
            cfg.dev_operator_password = settings.dev_employee_password.clone();
        }
        let passwords = common.data_dir.join("con-is-operator-passwords.txt");
        let had = passwords.exists();
        cfg.passwords_file = Some(passwords.clone());
        // the keystore key the container's ИС ЦОН opens (its main's default, on the volume)
        cfg.keystore_key_file = common.data_dir.join("con-is-keystore.key");
        let built = egov_con_is::ConIs::build(cfg)
            .await
            .map_err(|e| launcher_err(format!("{}: {e}", con.id)))?;
        if passwords.exists() && !had {
            passwords_files.push(passwords);
        }
        let now = time::OffsetDateTime::now_utc();
        let all = egov_con_is::operators::all(built.pool())
            .await
            .map_err(|e| launcher_err(format!("{}: operators: {e}", con.id)))?;
        let keystore = built.core().keystore;
        for op in &all {
            egov_con_is::operators::keys(
                built.pool(),
                &keystore,
                Some(&authority as &dyn egov_pki::Issuer),
                op,
                now,
            )
            .await
            .map_err(|e| launcher_err(format!("{}: {e}", con.id)))?;
        }
        operators = all.len();
    }

    // the last file: what waits for the registration step (a pod's init container) waits
    // for this one
    write_private(
        &done_marker(&common.data_dir),
        &format!("{}\n", time::OffsetDateTime::now_utc()),
    )?;
    Ok(Report {
        pki_dir,
        pki_created,
        nats_config,
        database_urls,
        seeded,
        employees,
        operators,
        passwords_files,
    })
}
