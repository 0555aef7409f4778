use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::Connection;
use tempfile::TempDir;

use crate::process::{self, POLL};
use crate::{Error, Result, tcp_reachable};

const SERVICE: &str = "PostgreSQL";
/// The OS user PostgreSQL runs as when we are root.
const PG_OS_USER: &str = "postgres";
/// How long to wait for the server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before the server is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// A private PostgreSQL cluster run as a child process on `127.0.0.1`, with a
/// `postgres` superuser and trust authentication.
///
/// Layout under the data directory: the cluster in `pg/` (created by
/// `initdb` on first start), the Unix socket in `pg-socket/`, server output
/// in `postgres.log` (truncated on each start) and `initdb.log`.
///
/// PostgreSQL refuses to run as root, so when this process runs as root the
/// server runs as the `postgres` OS user and the cluster directories are
/// chowned to it; that user must be able to reach the data directory.
///
/// The server is stopped (SIGINT, i.e. fast shutdown; SIGKILL after 15 s)
/// when the handle is dropped.
#[derive(Debug)]
pub struct PrivatePostgres {
    child: Option<Child>,
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    log_path: PathBuf,
    run_as: Option<(u32, u32)>,
    // Declared last: removed after the server stopped (see Drop).
    _temp: Option<TempDir>,
}

impl PrivatePostgres {
    /// Starts a private server on `127.0.0.1:PORT` with its cluster in
    /// `DATA_DIR/pg`, running `initdb` first if that has no `PG_VERSION`, and
    /// waits (up to 30 s) until it accepts connections.
    ///
    /// Fails if the server binaries are not installed, the port is in use,
    /// `initdb` fails or the server does not come up (errors quote the log).
    pub async fn start(data_dir: &Path, port: u16) -> Result<Self> {
        let bin_dir = crate::find_postgres_bin_dir().ok_or(Error::PostgresNotFound)?;
        // Fail before a possibly slow initdb if the port is taken.
        if tcp_reachable(&format!("127.0.0.1:{port}"), Duration::from_millis(300)).await {
            return Err(Error::PortInUse {
                service: SERVICE,
                port,
            });
        }
        let data_dir = std::path::absolute(data_dir)
            .map_err(|e| Error::io(format!("invalid data directory {}", data_dir.display()), e))?;
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            Error::io(
                format!("could not create data directory {}", data_dir.display()),
                e,
            )
        })?;
        let run_as = if process::running_as_root() {
            Some(process::user_ids(PG_OS_USER).ok_or(Error::NoPostgresUser)?)
        } else {
            None
        };
        let mut pg = Self {
            child: None,
            bin_dir,
            log_path: data_dir.join("postgres.log"),
            data_dir,
            port,
            run_as,
            _temp: None,
        };
        pg.prepare_dirs()?;
        if !pg.cluster_dir().join("PG_VERSION").exists() {
            pg.initdb().await?;
        }
        pg.launch().await?;
        Ok(pg)
    }

    /// Starts a private server on a free port with its cluster in a new
    /// temporary directory, which is removed when the handle is dropped.
    /// Runs `initdb`, so expect a few seconds.
    pub async fn start_ephemeral() -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("egov-pg-")
            .tempdir()
            .map_err(|e| Error::io("could not create a temporary directory", e))?;
        let port = crate::free_port()?;
        let mut pg = Self::start(temp.path(), port).await?;
        pg._temp = Some(temp);
        Ok(pg)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (the cluster is its `pg/` subdirectory).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Whether the server process is currently running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(process::is_running)
    }

    /// Stops the server (fast shutdown) and waits for it to exit. Does
    /// nothing if it is not running. The cluster is kept.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            tracing::debug!(port = self.port, "stopping private PostgreSQL");
            process::stop_child(&mut child, "INT", STOP_GRACE).await;
        }
    }

    /// Stops the server if it runs, then starts it again on the same port and
    /// cluster, waiting until it accepts connections.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await;
        self.launch().await
    }

    fn cluster_dir(&self) -> PathBuf {
        self.data_dir.join("pg")
    }

    fn socket_dir(&self) -> PathBuf {
        self.data_dir.join("pg-socket")
    }

    /// A command for a server binary, run as the `postgres` user if we are root.
    fn command(&self, binary: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(binary));
        cmd.current_dir("/").stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Creates the cluster and socket directories and, when root, hands them
    /// to the `postgres` user.
    fn prepare_dirs(&self) -> Result<()> {
        for dir in [self.cluster_dir(), self.socket_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::io(format!("could not create directory {}", dir.display()), e)
            })?;
        }
        let Some((uid, gid)) = self.run_as else {
            return Ok(());
        };
        // The postgres user must be able to traverse the data directory
        // (temporary directories are created with mode 0700).
        let meta = std::fs::metadata(&self.data_dir)
            .map_err(|e| Error::io(format!("could not stat {}", self.data_dir.display()), e))?;
        let mode = meta.permissions().mode();
        if meta.uid() != uid && mode & 0o001 == 0 {
            std::fs::set_permissions(
                &self.data_dir,
                std::fs::Permissions::from_mode(mode | 0o011),
            )
            .map_err(|e| {
                Error::io(
                    format!("could not make {} traversable", self.data_dir.display()),
                    e,
                )
            })?;
        }
        for dir in [self.cluster_dir(), self.socket_dir()] {
            let owner = std::fs::metadata(&dir)
                .map_err(|e| Error::io(format!("could not stat {}", dir.display()), e))?
                .uid();
            if owner != uid {
                chown_recursive(&dir, uid, gid)?;
            }
        }
        // Check that the postgres user can actually reach the cluster directory
        // (every parent directory must be traversable for it).
        let probe = Command::new("test")
            .arg("-w")
            .arg(self.cluster_dir())
            .current_dir("/")
            .uid(uid)
            .gid(gid)
            .status();
        if let Ok(status) = probe
            && !status.success()
        {
            return Err(Error::DataDirNotAccessible {
                dir: self.cluster_dir(),
            });
        }
        Ok(())
    }

    async fn initdb(&self) -> Result<()> {
        let log = self.data_dir.join("initdb.log");
        process::truncate_log(&log)?;
        let mut last = None;
        // C.UTF-8 exists on current Debian; fall back to the plain C locale.
        for locale_arg in ["--locale=C.UTF-8", "--no-locale"] {
            if last.is_some() {
                // initdb cleans up after a failure, but make sure it is empty.
                let dir = self.cluster_dir();
                let _ = std::fs::remove_dir_all(&dir);
                self.prepare_dirs()?;
            }
            let (stdout, stderr) = process::log_stdio(&log)?;
            tracing::info!(dir = %self.cluster_dir().display(), "running initdb");
            let mut cmd = self.command("initdb");
            cmd.arg("-D")
                .arg(self.cluster_dir())
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
                .arg(locale_arg)
                .stdout(stdout)
                .stderr(stderr);
            let status = tokio::task::spawn_blocking(move || cmd.status())
                .await
                .map_err(|e| Error::io("initdb task failed", std::io::Error::other(e)))?
                .map_err(|e| Error::io("could not run initdb", e))?;
            if status.success() {
                return Ok(());
            }
            last = Some(status);
        }
        Err(Error::Initdb {
            // `last` is always set here; the loop returns on success.
            status: last.unwrap_or_default(),
            tail: process::log_tail(&log),
            log,
        })
    }

    async fn launch(&mut self) -> Result<()> {
        let addr = format!("127.0.0.1:{}", self.port);
        if tcp_reachable(&addr, Duration::from_millis(300)).await {
            return Err(Error::PortInUse {
                service: SERVICE,
                port: self.port,
            });
        }
        process::truncate_log(&self.log_path)?;
        let (stdout, stderr) = process::log_stdio(&self.log_path)?;
        let mut child = self
            .command("postgres")
            .arg("-D")
            .arg(self.cluster_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.socket_dir())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                Error::io(
                    format!("could not run {}", self.bin_dir.join("postgres").display()),
                    e,
                )
            })?;
        tracing::debug!(
            pid = child.id(),
            port = self.port,
            "spawned private PostgreSQL"
        );

        let url = self.url();
        let startup = process::Startup {
            service: SERVICE,
            port: self.port,
            log: &self.log_path,
            timeout: START_TIMEOUT,
            poll: POLL * 2,
            stop_signal: "INT",
            stop_grace: STOP_GRACE,
        };
        startup
            .wait(&mut child, || async {
                let attempt =
                    tokio::time::timeout(Duration::from_secs(2), sqlx::PgConnection::connect(&url))
                        .await;
                match attempt {
                    Ok(Ok(conn)) => {
                        let _ = conn.close().await;
                        true
                    }
                    _ => false,
                }
            })
            .await?;
        tracing::info!(port = self.port, dir = %self.cluster_dir().display(), "private PostgreSQL is ready");
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop_child_blocking(&mut child, "INT", STOP_GRACE);
        }
    }
}

fn chown_recursive(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    let out = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(dir)
        .output()
        .map_err(|e| Error::io("could not run chown", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: format!("chown -R {uid}:{gid} {}", dir.display()),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}
