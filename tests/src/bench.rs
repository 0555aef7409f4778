//! The measuring harness the benchmarks share: closed-loop runs (N workers, each
//! calling again as soon as its call returns: the throughput bound), open-loop runs
//! (calls started on a fixed schedule: the latency at a given rate, measured from the
//! scheduled start so that a stall counts against every call it delays), percentiles,
//! and what the machine was doing.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A boxed future of one operation.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'static>>;
/// One operation; called again and again.
pub type Op = Arc<dyn Fn() -> OpFuture + Send + Sync + 'static>;

/// Wraps a closure as an [`Op`].
pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()) as OpFuture)
}

/// The latencies of a run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Sorted.
    pub latencies: Vec<Duration>,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Operations that failed (their latency is not in `latencies`).
    pub errors: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

impl Sample {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile (0–100).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

/// Runs `op` on `workers` concurrent workers for `warmup`, then measures for `budget`.
pub async fn closed_loop(workers: usize, warmup: Duration, budget: Duration, op: Op) -> Sample {
    let start_at = Instant::now() + warmup;
    let stop_at = start_at + budget;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let op = op.clone();
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut first = None;
            loop {
                let t = Instant::now();
                if t >= stop_at {
                    break;
                }
                let r = op().await;
                if t >= start_at {
                    match r {
                        Ok(()) => lat.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first.get_or_insert(e);
                        }
                    }
                }
            }
            (lat, errors, first)
        });
    }
    collect(set, budget).await
}

/// Starts `op` `rate` times a second for `duration` (after `warmup` at the same rate),
/// each call on its own task; latency counts from the scheduled start.
pub async fn open_loop(rate: f64, warmup: Duration, duration: Duration, op: Op) -> Sample {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let begin = Instant::now();
    let finished = Arc::new(std::sync::Mutex::new(begin));
    let measured_from = begin + warmup;
    let end = measured_from + duration;
    let mut set = tokio::task::JoinSet::new();
    let mut n: u32 = 0;
    loop {
        let scheduled = begin + interval * n;
        if scheduled >= end {
            break;
        }
        n += 1;
        tokio::time::sleep_until(scheduled.into()).await;
        let op = op.clone();
        let measured = scheduled >= measured_from;
        let finished = finished.clone();
        set.spawn(async move {
            let r = op().await;
            if let Ok(mut f) = finished.lock() {
                *f = (*f).max(Instant::now());
            }
            if !measured {
                return (vec![], 0, None);
            }
            match r {
                Ok(()) => (vec![scheduled.elapsed()], 0, None),
                Err(e) => (vec![], 1, Some(e)),
            }
        });
    }
    let mut sample = collect(set, duration).await;
    // the rate the calls were answered at: a backlog stretches the time they took
    let last = *finished.lock().expect("not poisoned");
    sample.elapsed = last.saturating_duration_since(measured_from).max(duration);
    sample
}

async fn collect(
    mut set: tokio::task::JoinSet<(Vec<Duration>, usize, Option<String>)>,
    elapsed: Duration,
) -> Sample {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    while let Some(j) = set.join_next().await {
        match j {
            Ok((l, e, f)) => {
                latencies.extend(l);
                errors += e;
                if first_error.is_none() {
                    first_error = f;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    latencies.sort_unstable();
    Sample {
        latencies,
        elapsed,
        errors,
        first_error,
    }
}

/// A duration as "1.23 ms" / "456 µs" / "7.8 s".
pub fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
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
