//! Configuration from `EGOV_*` environment variables, with local defaults that work on a
//! development machine, validated once at start.
//!
//! Layers, later ones winning: the defaults of the config type → a TOML file named by
//! `EGOV_CONFIG` (optional) → environment variables `EGOV_<FIELD>` (nested fields with
//! `__`, e.g. `EGOV_UC__HTTP_PORT`). A bad value is a [`Error`] naming the variable;
//! binaries print it and exit with [`EXIT_CONFIG`] (64, `EX_USAGE`).

use std::net::IpAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use egov_telemetry::{LogFormat, TelemetryConfig};

/// Exit code of a binary whose configuration is invalid.
pub const EXIT_CONFIG: i32 = 64;

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value could not be read or has the wrong type.
    #[error("configuration: {0}")]
    Load(String),
    /// A value was read but is not acceptable.
    #[error("configuration: {var}: {problem}")]
    Invalid {
        /// The environment variable that sets it.
        var: String,
        /// What is wrong.
        problem: String,
    },
}

impl Error {
    /// An invalid value of `EGOV_<field>`.
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Error::Invalid {
            var: format!("EGOV_{}", field.to_ascii_uppercase().replace('.', "__")),
            problem: problem.into(),
        }
    }
}

/// Validation after loading.
pub trait Validate {
    /// Checks values that types alone cannot.
    fn validate(&self) -> Result<(), Error>;
}

/// Loads `T` from defaults, the optional `EGOV_CONFIG` TOML file and `EGOV_*` variables.
pub fn load<T: DeserializeOwned + Serialize + Default + Validate>() -> Result<T, Error> {
    let mut fig = Figment::from(Serialized::defaults(T::default()));
    if let Ok(path) = std::env::var("EGOV_CONFIG") {
        if !std::path::Path::new(&path).is_file() {
            return Err(Error::invalid(
                "config",
                format!("file {path} does not exist"),
            ));
        }
        fig = fig.merge(Toml::file(path));
    }
    let mut fig = fig.merge(Env::prefixed("EGOV_").split("__"));
    if let Some(url) = database_url_from_file(&fig)? {
        fig = fig.merge(("database_url", url));
    }
    let cfg: T = fig.extract().map_err(|e| {
        let msgs: Vec<String> = e
            .into_iter()
            .map(|e| {
                let var = format!("EGOV_{}", e.path.join("__").to_ascii_uppercase());
                let from = e
                    .metadata
                    .as_ref()
                    .map(|m| format!(" (from {})", m.name))
                    .unwrap_or_default();
                format!("{var}: {}{from}", e.kind)
            })
            .collect();
        Error::Load(msgs.join("; "))
    })?;
    cfg.validate()?;
    Ok(cfg)
}

/// The database URL from the file `database_url_file` names (a secret mounted into a
/// container), when set: the file's one line, a `postgres://` URL.
fn database_url_from_file(fig: &Figment) -> Result<Option<String>, Error> {
    let Ok(Some(path)) = fig.extract_inner::<Option<PathBuf>>("database_url_file") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::invalid(
            "database_url_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let url = text.trim();
    if url.is_empty() || url.contains('\n') {
        return Err(Error::invalid(
            "database_url_file",
            format!("{} must hold one URL on one line", path.display()),
        ));
    }
    Ok(Some(url.to_string()))
}

/// Settings every service and the launcher share.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Common {
    /// PostgreSQL URL (`EGOV_DATABASE_URL`).
    pub database_url: String,
    /// A file holding the PostgreSQL URL, password included (`EGOV_DATABASE_URL_FILE`): a
    /// secret mounted into a container; it replaces `database_url`.
    pub database_url_file: Option<PathBuf>,
    /// NATS URL (`EGOV_NATS_URL`): one server, or the nodes of a cluster separated by
    /// commas (`nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222`).
    pub nats_url: String,
    /// Folder for local state: the test PKI, private database and broker (`EGOV_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The test PKI folder (`EGOV_PKI_DIR`); default `<data_dir>/pki`.
    pub pki_dir: Option<PathBuf>,
    /// The deployment's topology folder (`EGOV_TOPOLOGY_DIR`); default the shipped one.
    pub topology_dir: Option<PathBuf>,
    /// Address services bind to (`EGOV_BIND_HOST`).
    pub bind_host: IpAddr,
    /// Log format, `pretty` or `json` (`EGOV_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Log filter, `RUST_LOG` syntax; `RUST_LOG` itself wins (`EGOV_LOG_FILTER`).
    pub log_filter: String,
    /// OTLP/gRPC collector for traces, e.g. `http://127.0.0.1:4317` (`EGOV_OTLP_ENDPOINT`).
    pub otlp_endpoint: Option<String>,
    /// Where a standalone service binary finds the others (`EGOV_PEER_HOST`): a host name
    /// in which `{id}` stands for the gateway's or system's id (`{id}` in containers,
    /// where each service's host name is its id; `{id}.egov.svc` in a cluster). Unset:
    /// every other service on `127.0.0.1`, at the topology's ports.
    pub peer_host: Option<String>,
    /// A standalone service binary connects to NATS as its own user, the password from
    /// `<PKI folder>/systems/<id>.nats.pass` (`EGOV_NATS_CREDENTIALS`), for a broker
    /// configured by `egov init`.
    pub nats_credentials: bool,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            database_url: "postgres://postgres@127.0.0.1:5432/egov".into(),
            database_url_file: None,
            nats_url: "nats://127.0.0.1:4222".into(),
            data_dir: PathBuf::from(".egov"),
            pki_dir: None,
            topology_dir: None,
            bind_host: IpAddr::from([127, 0, 0, 1]),
            log_format: LogFormat::default(),
            log_filter: TelemetryConfig::default().log_filter,
            otlp_endpoint: None,
            peer_host: None,
            nats_credentials: false,
        }
    }
}

impl Common {
    /// The telemetry settings.
    pub fn telemetry(&self) -> TelemetryConfig {
        TelemetryConfig {
            log_format: self.log_format,
            log_filter: self.log_filter.clone(),
            otlp_endpoint: self.otlp_endpoint.clone(),
        }
    }

    /// The deployment's topology: `topology_dir`'s, else the shipped one.
    pub fn topology(&self) -> Result<egov_topology::Topology, Error> {
        egov_topology::Topology::open(self.topology_dir.as_deref())
            .map_err(|e| Error::invalid("topology_dir", e.to_string()))
    }

    /// The `host:port` at which `id` (a gateway or system) listens on `port`: on
    /// [`Common::peer_host`] with `{id}` replaced, else on `127.0.0.1`.
    pub fn peer_addr(&self, id: &str, port: u16) -> String {
        match &self.peer_host {
            Some(h) => format!("{}:{port}", h.replace("{id}", id)),
            None => format!("127.0.0.1:{port}"),
        }
    }

    /// The OCSP and CRL URLs of the topology's uc as a standalone service reaches it
    /// ([`Common::peer_addr`]); `None` without [`Common::peer_host`] (the services'
    /// defaults then stand).
    pub fn uc_urls(&self, topology: &egov_topology::Topology) -> Option<(String, String)> {
        self.peer_host.as_ref()?;
        let port = topology.http_port("uc")?;
        let base = format!("http://{}", self.peer_addr("uc", port));
        Some((format!("{base}/ocsp"), format!("{base}/crl")))
    }

    /// The test PKI folder.
    pub fn pki_dir(&self) -> PathBuf {
        self.pki_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("pki"))
    }
}

impl Validate for Common {
    fn validate(&self) -> Result<(), Error> {
        if !(self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(Error::invalid(
                "database_url",
                format!("{:?} is not a postgres:// URL", self.database_url),
            ));
        }
        // one server, or the nodes of a cluster separated by commas
        let servers: Vec<&str> = self.nats_url.split(',').map(str::trim).collect();
        if servers
            .iter()
            .any(|s| !(s.starts_with("nats://") || s.starts_with("tls://")))
        {
            return Err(Error::invalid(
                "nats_url",
                format!(
                    "{:?} is not a nats:// URL (or several, separated by commas)",
                    self.nats_url
                ),
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(Error::invalid("data_dir", "empty path"));
        }
        if self.topology_dir.is_some() {
            self.topology()?;
        }
        if let Some(h) = &self.peer_host
            && (h.is_empty() || h.contains(['/', ':', ' ']))
        {
            return Err(Error::invalid(
                "peer_host",
                format!("{h:?} is not a host name (`{{id}}` stands for the service's id)"),
            ));
        }
        if let Some(ep) = &self.otlp_endpoint
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            return Err(Error::invalid(
                "otlp_endpoint",
                format!("{ep:?} is not an http(s) URL"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)]
    fn defaults_env_and_errors() {
        figment::Jail::expect_with(|jail| {
            let c: Common = load().unwrap();
            assert_eq!(c, Common::default());
            assert_eq!(c.pki_dir(), PathBuf::from(".egov/pki"));

            jail.set_env("EGOV_DATABASE_URL", "postgres://u@h:1/db");
            jail.set_env("EGOV_LOG_FORMAT", "json");
            let c: Common = load().unwrap();
            assert_eq!(c.database_url, "postgres://u@h:1/db");
            assert_eq!(c.log_format, LogFormat::Json);

            jail.set_env("EGOV_DATABASE_URL", "mysql://x");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("EGOV_DATABASE_URL"), "{e}");

            jail.set_env("EGOV_DATABASE_URL", "postgres://u@h:1/db");
            jail.set_env("EGOV_BIND_HOST", "not-an-ip");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("EGOV_BIND_HOST"), "{e}");

            jail.set_env("EGOV_BIND_HOST", "127.0.0.1");
            jail.set_env("EGOV_LOG_FORMAT", "xml");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("EGOV_LOG_FORMAT"), "{e}");

            jail.set_env("EGOV_LOG_FORMAT", "json");
            jail.create_file("egov.toml", "nats_url = \"nats://10.0.0.1:4222\"")?;
            jail.set_env("EGOV_CONFIG", "egov.toml");
            let c: Common = load().unwrap();
            assert_eq!(c.nats_url, "nats://10.0.0.1:4222");
            jail.set_env("EGOV_CONFIG", "missing.toml");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("EGOV_CONFIG"), "{e}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn nats_url_names_one_server_or_the_nodes_of_a_cluster() {
        figment::Jail::expect_with(|jail| {
            let cluster = "nats://10.0.0.1:4222, nats://10.0.0.2:4222,tls://n3:4222";
            jail.set_env("EGOV_NATS_URL", cluster);
            let c: Common = load().unwrap();
            assert_eq!(c.nats_url, cluster);
            for bad in [
                "nats://10.0.0.1:4222,http://10.0.0.2:4222",
                "nats://10.0.0.1:4222,,nats://10.0.0.2:4222",
                "10.0.0.1:4222",
            ] {
                jail.set_env("EGOV_NATS_URL", bad);
                let e = load::<Common>().unwrap_err().to_string();
                assert!(e.contains("EGOV_NATS_URL"), "{bad}: {e}");
            }
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn database_url_from_a_file_and_peer_hosts() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("db-url", "postgres://egov_uc:secret@postgres:5432/egov\n")?;
            jail.set_env("EGOV_DATABASE_URL_FILE", "db-url");
            let c: Common = load().unwrap();
            assert_eq!(
                c.database_url,
                "postgres://egov_uc:secret@postgres:5432/egov"
            );

            jail.set_env("EGOV_DATABASE_URL_FILE", "missing");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(
                e.contains("EGOV_DATABASE_URL_FILE") && e.contains("missing"),
                "{e}"
            );
            jail.create_file("two-lines", "postgres://a@b/c\npostgres://d@e/f\n")?;
            jail.set_env("EGOV_DATABASE_URL_FILE", "two-lines");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("one URL on one line"), "{e}");
            jail.create_file("not-pg", "mysql://x\n")?;
            jail.set_env("EGOV_DATABASE_URL_FILE", "not-pg");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("EGOV_DATABASE_URL:"), "{e}");
            jail.set_env("EGOV_DATABASE_URL_FILE", "db-url");

            let c: Common = load().unwrap();
            assert_eq!(c.peer_addr("shep", 7100), "127.0.0.1:7100");
            assert_eq!(c.uc_urls(&egov_topology::Topology::shipped()), None);
            jail.set_env("EGOV_PEER_HOST", "{id}.egov.svc");
            let c: Common = load().unwrap();
            assert_eq!(c.peer_addr("mio-almaty", 7300), "mio-almaty.egov.svc:7300");
            assert_eq!(
                c.uc_urls(&egov_topology::Topology::shipped()),
                Some((
                    "http://uc.egov.svc:7010/ocsp".to_string(),
                    "http://uc.egov.svc:7010/crl".to_string()
                ))
            );
            jail.set_env("EGOV_PEER_HOST", "http://{id}");
            let e = load::<Common>().unwrap_err().to_string();
            assert!(e.contains("EGOV_PEER_HOST"), "{e}");
            Ok(())
        });
    }
}
