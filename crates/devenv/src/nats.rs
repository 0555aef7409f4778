use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{self, POLL};
use crate::{Error, Result, tcp_reachable};

const SERVICE: &str = "NATS";
/// How long to wait for the server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful shutdown may take before the server is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A private `nats-server` with JetStream (file storage), run as a child
/// process on `127.0.0.1`.
///
/// Layout under the data directory: the JetStream store in `nats/`, the
/// server's output in `nats-server.log`. The server is stopped (SIGTERM,
/// then SIGKILL after 10 s) when the handle is dropped.
///
/// ```no_run
/// # async fn demo() -> egov_devenv::Result<()> {
/// let mut nats = egov_devenv::PrivateNats::start_ephemeral().await?;
/// let url = nats.url(); // nats://127.0.0.1:<port>
/// nats.stop().await;    // simulate a broker outage ...
/// nats.restart().await?; // ... and bring it back with the same store
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PrivateNats {
    child: Option<Child>,
    binary: PathBuf,
    data_dir: PathBuf,
    port: u16,
    log_path: PathBuf,
    // Declared last so that the directory is removed after the server stopped
    // (Drop::drop stops the server before any field is dropped).
    config: Option<std::path::PathBuf>,
    _temp: Option<TempDir>,
}

impl PrivateNats {
    /// Starts `nats-server -a 127.0.0.1 -p PORT -js -sd DATA_DIR/nats` and waits
    /// (up to 10 s) until the port accepts connections.
    ///
    /// `data_dir` is created if needed; an existing JetStream store in it is
    /// reused. Fails if `nats-server` is not installed, the port is already
    /// in use, or the server does not come up (the error quotes its log).
    pub async fn start(data_dir: &Path, port: u16) -> Result<Self> {
        Self::start_with_config(data_dir, port, None).await
    }

    /// [`PrivateNats::start`] with a configuration file (`-c`: users, permissions,
    /// limits); address, port and store still come from the command line.
    pub async fn start_with_config(
        data_dir: &Path,
        port: u16,
        config: Option<&Path>,
    ) -> Result<Self> {
        let binary = crate::find_nats_server().ok_or(Error::NatsServerNotFound)?;
        let data_dir = std::path::absolute(data_dir)
            .map_err(|e| Error::io(format!("invalid data directory {}", data_dir.display()), e))?;
        std::fs::create_dir_all(data_dir.join("nats")).map_err(|e| {
            Error::io(
                format!(
                    "could not create NATS store directory in {}",
                    data_dir.display()
                ),
                e,
            )
        })?;
        let mut nats = Self {
            child: None,
            binary,
            log_path: data_dir.join("nats-server.log"),
            data_dir,
            port,
            config: config.map(Path::to_path_buf),
            _temp: None,
        };
        nats.launch().await?;
        Ok(nats)
    }

    /// Starts a private server on a free port with its store in a new
    /// temporary directory (removed on drop). Meant for tests that stop and
    /// restart the broker.
    pub async fn start_ephemeral() -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("egov-nats-")
            .tempdir()
            .map_err(|e| Error::io("could not create a temporary directory", e))?;
        let port = crate::free_port()?;
        let mut nats = Self::start(temp.path(), port).await?;
        nats._temp = Some(temp);
        Ok(nats)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (the JetStream store is its `nats/` subdirectory).
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

    /// Stops the server gracefully (SIGTERM; SIGKILL after 10 s) and waits
    /// for it to exit, so that the port refuses connections afterwards.
    /// Does nothing if it is not running. The store is kept.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            tracing::debug!(port = self.port, "stopping private NATS");
            process::stop_child(&mut child, "TERM", STOP_GRACE).await;
        }
    }

    /// Stops the server if it runs, then starts it again on the same port
    /// with the same JetStream store, waiting until it accepts connections.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await;
        self.launch().await
    }

    async fn launch(&mut self) -> Result<()> {
        let addr = format!("127.0.0.1:{}", self.port);
        if tcp_reachable(&addr, Duration::from_millis(300)).await {
            return Err(Error::PortInUse {
                service: SERVICE,
                port: self.port,
            });
        }
        let (stdout, stderr) = process::log_stdio(&self.log_path)?;
        let store = self.data_dir.join("nats");
        let mut command = Command::new(&self.binary);
        if let Some(c) = &self.config {
            command.arg("-c").arg(c);
        }
        let mut child = command
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-js")
            .arg("-sd")
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::io(format!("could not run {}", self.binary.display()), e))?;
        tracing::debug!(pid = child.id(), port = self.port, "spawned private NATS");

        let startup = process::Startup {
            service: SERVICE,
            port: self.port,
            log: &self.log_path,
            timeout: START_TIMEOUT,
            poll: POLL,
            stop_signal: "KILL",
            stop_grace: Duration::ZERO,
        };
        startup
            .wait(&mut child, || {
                tcp_reachable(&addr, Duration::from_millis(500))
            })
            .await?;
        tracing::info!(port = self.port, store = %store.display(), "private NATS is ready");
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop_child_blocking(&mut child, "TERM", STOP_GRACE);
        }
    }
}
