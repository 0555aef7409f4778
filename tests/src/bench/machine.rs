//! What the figures were measured on: the CPU, the load, the CPU time the bench and the
//! servers it talks to spend, and where the report goes.

use std::path::PathBuf;

/// Linux reports process CPU times in /proc in units of USER_HZ, 100 per second.
const USER_HZ: f64 = 100.0;

/// The machine of a run.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Cores available to the process.
    pub nproc: usize,
    /// The CPU model.
    pub cpu: String,
    /// /proc/loadavg (1, 5, 15 min) at the start: other work on the machine skews the
    /// figures, the tails (p99) first.
    pub load_before: String,
    /// The same at the end.
    pub load_after: String,
}

impl Machine {
    /// The machine now (the load at the end is read by [`Machine::done`]).
    pub fn now() -> Machine {
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpu_model(),
            load_before: load_average(),
            load_after: String::new(),
        }
    }

    /// Reads the load at the end of the run.
    pub fn done(&mut self) {
        self.load_after = load_average();
    }
}

/// The CPU model of the machine.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `<target>/<name>` of the target directory the running binary was built in, or the
/// path in the environment variable `var`.
pub fn target_file(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(PathBuf::from))?
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join(name)
}

/// CPU seconds of this process, of the PostgreSQL backends of one database and of the
/// machine's NATS servers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    /// This process (the bench and every service it runs in it).
    pub process: f64,
    /// The PostgreSQL backends serving the database of the [`CpuMeter`].
    pub postgres: f64,
    /// Every `nats-server` process of the machine (other users of it count too).
    pub nats: f64,
}

impl CpuTime {
    /// The time spent from `start` to `self`.
    pub fn since(self, start: CpuTime) -> CpuTime {
        CpuTime {
            process: (self.process - start.process).max(0.0),
            postgres: (self.postgres - start.postgres).max(0.0),
            nats: (self.nats - start.nats).max(0.0),
        }
    }

    /// The sum of two spans' times.
    pub fn plus(self, other: CpuTime) -> CpuTime {
        CpuTime {
            process: self.process + other.process,
            postgres: self.postgres + other.postgres,
            nats: self.nats + other.nats,
        }
    }

    /// Each figure divided by `n` (at least 1).
    pub fn per(self, n: usize) -> CpuTime {
        let n = n.max(1) as f64;
        CpuTime {
            process: self.process / n,
            postgres: self.postgres / n,
            nats: self.nats / n,
        }
    }

    /// The three together.
    pub fn total(self) -> f64 {
        self.process + self.postgres + self.nats
    }
}

/// Reads [`CpuTime`]s from /proc: this process, and where asked the PostgreSQL backends of
/// one database (their process title names it) and the NATS servers.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter {
    database: Option<String>,
    nats: bool,
}

impl CpuMeter {
    /// This process only.
    pub fn new() -> CpuMeter {
        CpuMeter::default()
    }

    /// Also the PostgreSQL backends serving `database` (not the WAL writer, nor other
    /// databases' backends).
    pub fn postgres(mut self, database: &str) -> CpuMeter {
        self.database = Some(database.to_string());
        self
    }

    /// Also every `nats-server` process of the machine.
    pub fn nats(mut self) -> CpuMeter {
        self.nats = true;
        self
    }

    /// The CPU time used so far.
    pub fn sample(&self) -> CpuTime {
        let process = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|t| parse_stat(&t).map(|(_, s)| s))
            .unwrap_or(0.0);
        let (postgres, nats) = if self.database.is_some() || self.nats {
            self.servers()
        } else {
            (0.0, 0.0)
        };
        CpuTime {
            process,
            postgres,
            nats,
        }
    }

    fn servers(&self) -> (f64, f64) {
        let (mut postgres, mut nats) = (0.0, 0.0);
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return (0.0, 0.0);
        };
        let database = self.database.as_deref().map(str::as_bytes);
        for entry in dir.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            match parse_stat(&text) {
                Some(("postgres", secs)) => {
                    let ours = database.is_some_and(|db| {
                        std::fs::read(entry.path().join("cmdline"))
                            .is_ok_and(|title| title.windows(db.len()).any(|w| w == db))
                    });
                    if ours {
                        postgres += secs;
                    }
                }
                Some(("nats-server", secs)) if self.nats => nats += secs,
                _ => {}
            }
        }
        (postgres, nats)
    }
}

/// The command name and utime + stime (seconds) of a /proc/<pid>/stat text.
fn parse_stat(text: &str) -> Option<(&str, f64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?;
    // after the command: state (field 3), ..., utime (14), stime (15)
    let mut fields = text.get(close + 1..)?.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((comm, (utime + stime) / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_command_and_cpu_seconds() {
        let line =
            "4242 (nats server) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat(line), Some(("nats server", 3.25)));
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn cpu_time_differences_never_go_below_zero() {
        let a = CpuTime {
            process: 2.0,
            postgres: 1.0,
            nats: 0.5,
        };
        let b = CpuTime {
            process: 3.0,
            postgres: 0.5,
            nats: 1.5,
        };
        let d = b.since(a);
        assert_eq!((d.process, d.postgres, d.nats), (1.0, 0.0, 1.0));
        assert_eq!(d.per(4).process, 0.25);
        assert_eq!(d.per(0).total(), 2.0);
    }
}
