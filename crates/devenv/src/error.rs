use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while preparing the local environment.
///
/// Messages are meant to be shown to a developer as-is: they say what failed
/// and what to do about it (which package to install, which log to read).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `nats-server` is not installed.
    #[error(
        "nats-server binary not found (searched PATH, /usr/sbin, /usr/bin, /usr/local/bin); \
         install the Debian package `nats-server` (apt-get install nats-server) \
         or start a NATS server with JetStream yourself"
    )]
    NatsServerNotFound,

    /// The PostgreSQL server binaries (`initdb`, `postgres`) are not installed.
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found (searched PATH and \
         /usr/lib/postgresql/*/bin); install the Debian package `postgresql` \
         (apt-get install postgresql) or start a PostgreSQL server yourself"
    )]
    PostgresNotFound,

    /// A service is needed at an address that is neither reachable nor local,
    /// so no private instance can be started in its place.
    #[error(
        "{service} at {address} is not reachable and is not a local address (127.0.0.1 or \
         localhost), so no private instance can be started for it; start {service} there \
         or point the URL at 127.0.0.1"
    )]
    NotLocal {
        /// `PostgreSQL` or `NATS`.
        service: &'static str,
        /// The `host:port` taken from the URL.
        address: String,
    },

    /// None of the nodes of a cluster URL (several servers separated by commas) answers;
    /// a private instance stands in for one server only, never for a cluster.
    #[error(
        "none of the {service} servers {addresses} is reachable; a private instance is \
         started only for a URL naming one server, so start the cluster first"
    )]
    ClusterDown {
        /// `NATS`.
        service: &'static str,
        /// The `host:port` of every server of the URL, separated by commas.
        addresses: String,
    },

    /// Something else already listens on the port a private instance should use.
    #[error(
        "cannot start private {service} on port {port}: the port is already in use; \
         stop the process listening on it or choose another port"
    )]
    PortInUse {
        /// `PostgreSQL` or `NATS`.
        service: &'static str,
        /// The busy port.
        port: u16,
    },

    /// A private server process exited before it became ready.
    #[error(
        "private {service} exited during startup ({status}); see {log}:\n{tail}",
        log = log.display()
    )]
    ExitedEarly {
        /// `PostgreSQL` or `NATS`.
        service: &'static str,
        /// Exit status of the process.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log file.
        tail: String,
    },

    /// A private server process did not become ready in time.
    #[error(
        "private {service} did not accept connections on port {port} within {}s; see {log}:\n{tail}",
        timeout.as_secs(),
        log = log.display()
    )]
    StartTimeout {
        /// `PostgreSQL` or `NATS`.
        service: &'static str,
        /// The port it should listen on.
        port: u16,
        /// How long we waited.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log file.
        tail: String,
    },

    /// `initdb` failed.
    #[error("initdb failed ({status}); see {log}:\n{tail}", log = log.display())]
    Initdb {
        /// Exit status of `initdb`.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log file.
        tail: String,
    },

    /// Running as root, but there is no `postgres` OS user to run PostgreSQL as.
    #[error(
        "running as root, but PostgreSQL refuses to run as root and there is no `postgres` \
         OS user to run it as; install the Debian package `postgresql` (it creates the user) \
         or create it with `useradd --system --user-group postgres`"
    )]
    NoPostgresUser,

    /// The `postgres` OS user cannot reach the data directory.
    #[error(
        "the `postgres` OS user cannot write to {dir}; make every parent directory \
         traversable for it (chmod o+x) or choose a data directory elsewhere (e.g. under /tmp)",
        dir = dir.display()
    )]
    DataDirNotAccessible {
        /// The directory PostgreSQL must own.
        dir: PathBuf,
    },

    /// A URL could not be understood.
    #[error("invalid {what} URL `{url}`: {reason}")]
    InvalidUrl {
        /// `database` or `NATS`.
        what: &'static str,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A database operation failed.
    #[error("{context}: {source}")]
    Database {
        /// What we were doing (includes the URL without a password).
        context: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },

    /// An I/O or process-spawning operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A helper command (e.g. `chown`, `id`) failed.
    #[error("command `{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and output.
        detail: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn db(context: impl Into<String>, source: sqlx::Error) -> Self {
        Self::Database {
            context: context.into(),
            source,
        }
    }
}
