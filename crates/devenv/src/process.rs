//! Child-process plumbing shared by the private server handles.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Number of log lines quoted in startup errors.
const TAIL_LINES: usize = 25;
/// Poll interval while waiting for processes.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The last lines of a log file, or a note saying why it could not be read.
pub(crate) fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(TAIL_LINES);
            let tail = lines[start..].join("\n");
            if tail.trim().is_empty() {
                "(log is empty)".to_owned()
            } else {
                tail
            }
        }
        Err(e) => format!("(could not read log: {e})"),
    }
}

/// Opens `path` for appending (creating it) and returns two handles usable as
/// a child's stdout and stderr.
pub(crate) fn log_stdio(path: &Path) -> Result<(Stdio, Stdio)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("could not open log file {}", path.display()), e))?;
    let dup = file.try_clone().map_err(|e| {
        Error::io(
            format!("could not duplicate handle of {}", path.display()),
            e,
        )
    })?;
    Ok((Stdio::from(file), Stdio::from(dup)))
}

/// Truncates a log file so that error tails only show the current run.
pub(crate) fn truncate_log(path: &Path) -> Result<()> {
    File::create(path)
        .map(drop)
        .map_err(|e| Error::io(format!("could not create log file {}", path.display()), e))
}

/// Whether this process runs with effective uid 0.
pub(crate) fn running_as_root() -> bool {
    // /proc/self is owned by the effective uid of the process.
    if let Ok(meta) = std::fs::metadata("/proc/self") {
        return meta.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Uid and gid of an OS user, via `id`; `None` if the user does not exist.
pub(crate) fn user_ids(user: &str) -> Option<(u32, u32)> {
    let query = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .arg(flag)
            .arg(user)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((query("-u")?, query("-g")?))
}

/// Sends a signal (by name, e.g. `TERM`, `INT`) using the `kill` command.
/// Returns whether it succeeded.
fn send_signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether the child is still running (not yet reaped).
pub(crate) fn is_running(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// Asks the child to stop with `signal`, waits up to `grace` for it to exit,
/// then kills it. Always reaps it.
pub(crate) async fn stop_child(child: &mut Child, signal: &str, grace: Duration) {
    if !is_running(child) {
        return;
    }
    // The child is not reaped yet, so its pid cannot have been reused.
    if send_signal(child.id(), signal) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !is_running(child) {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::warn!(pid = child.id(), "process ignored SIG{signal}; killing it");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Blocking variant of [`stop_child`] for `Drop` implementations.
pub(crate) fn stop_child_blocking(child: &mut Child, signal: &str, grace: Duration) {
    if !is_running(child) {
        return;
    }
    if send_signal(child.id(), signal) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !is_running(child) {
                return;
            }
            std::thread::sleep(POLL);
        }
        tracing::warn!(pid = child.id(), "process ignored SIG{signal}; killing it");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// How a freshly spawned private server is watched until it answers.
pub(crate) struct Startup<'a> {
    /// `PostgreSQL` or `NATS`.
    pub service: &'static str,
    /// The port it should listen on.
    pub port: u16,
    /// Its log file (quoted in errors).
    pub log: &'a Path,
    /// How long it may take.
    pub timeout: Duration,
    /// Pause between probes.
    pub poll: Duration,
    /// The signal that stops it when it does not come up in time.
    pub stop_signal: &'static str,
    /// The grace period of that signal.
    pub stop_grace: Duration,
}

impl Startup<'_> {
    /// Probes until `ready` answers true; fails if the process exits first (quoting its
    /// log) or the timeout passes (then stops it).
    pub(crate) async fn wait<F, Fut>(&self, child: &mut Child, mut ready: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Error::ExitedEarly {
                    service: self.service,
                    status,
                    log: self.log.to_path_buf(),
                    tail: log_tail(self.log),
                });
            }
            if ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                stop_child(child, self.stop_signal, self.stop_grace).await;
                return Err(Error::StartTimeout {
                    service: self.service,
                    port: self.port,
                    timeout: self.timeout,
                    log: self.log.to_path_buf(),
                    tail: log_tail(self.log),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
