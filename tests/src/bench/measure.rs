//! Measuring: one case's operations run again and again, inline (one at a time on the
//! bench's own task), on N workers in a closed loop (each calls again as soon as its call
//! returns: the throughput bound), or started on a fixed schedule in an open loop (the
//! latency at a given rate, counted from the scheduled start so that a stall counts
//! against every call it delays), or a fixed number of times per worker in one round of
//! a case measured in alternating rounds. What comes out is a [`Case`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use tokio::task::JoinSet;

use super::args::Timing;
use super::machine::{CpuMeter, CpuTime};

/// A boxed future of one operation.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>>;
/// One operation, called again and again by every worker of a case.
pub type Op = Arc<dyn Fn() -> OpFuture + Send + Sync + 'static>;

/// Wraps a closure as an [`Op`].
pub fn op<F, Fut>(f: F) -> Op
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()) as OpFuture)
}

/// How hard a case pushes: operations in flight (closed loop), or calls started per
/// second (open loop).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// This many operations in flight at once.
    InFlight(usize),
    /// Calls started at this rate per second, whatever the answers.
    Rate(f64),
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Load::InFlight(n) => write!(f, "{n}"),
            Load::Rate(r) => write!(f, "{r:.0}/s"),
        }
    }
}

/// The figures of one case.
#[derive(Debug, Clone)]
pub struct Case {
    /// A short stable name (`cms.ocsp_cached`): filters match it, comparisons name it.
    pub id: String,
    /// What the table says.
    pub label: String,
    /// The section of the table it is in (1, 2, ...; 0 before the first).
    pub section: usize,
    /// How hard it pushed, where that applies.
    pub load: Option<Load>,
    /// Successful operations.
    pub iterations: usize,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Latency of each successful operation, sorted; empty for a case measured as a
    /// whole ([`Case::batch`]).
    pub latencies: Vec<Duration>,
    /// Operations that failed (not in `iterations` nor `latencies`).
    pub errors: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// CPU time spent during the measured part, where the bench measures it.
    pub cpu: Option<CpuTime>,
    /// The rate of each round, for a case measured in rounds ([`Bench::round`]); empty
    /// for one measured at once.
    ///
    /// [`Bench::round`]: super::Bench::round
    pub rounds: Vec<f64>,
}

impl Case {
    /// A case of single operations with these latencies (sorted here).
    pub fn new(
        id: impl Into<String>,
        label: impl Into<String>,
        load: Option<Load>,
        elapsed: Duration,
        mut latencies: Vec<Duration>,
    ) -> Case {
        latencies.sort_unstable();
        Case {
            id: id.into(),
            label: label.into(),
            section: 0,
            load,
            iterations: latencies.len(),
            elapsed,
            latencies,
            errors: 0,
            first_error: None,
            cpu: None,
            rounds: Vec::new(),
        }
    }

    /// A case measured as a whole: `count` operations done in `elapsed`, no latencies.
    pub fn batch(
        id: impl Into<String>,
        label: impl Into<String>,
        load: Option<Load>,
        count: usize,
        elapsed: Duration,
    ) -> Case {
        Case {
            iterations: count,
            ..Case::new(id, label, load, elapsed, Vec::new())
        }
    }

    pub(crate) fn from_run(id: &str, label: String, load: Option<Load>, run: Run) -> Case {
        Case {
            errors: run.tally.errors,
            first_error: run.tally.first_error,
            cpu: run.cpu,
            ..Case::new(id, label, load, run.elapsed, run.tally.latencies)
        }
    }

    /// Adds the figures of another round of the same case: its operations, time,
    /// latencies, failures and CPU time, and its rate to [`Case::rounds`].
    pub fn add_round(&mut self, round: Case) {
        self.rounds.push(round.rate());
        self.iterations += round.iterations;
        self.elapsed += round.elapsed;
        self.latencies.extend(round.latencies);
        self.latencies.sort_unstable();
        self.errors += round.errors;
        if self.first_error.is_none() {
            self.first_error = round.first_error;
        }
        self.cpu = match (self.cpu, round.cpu) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
    }

    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile (0–100) of the latencies, nearest rank.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies, p)
    }

    /// The mean latency.
    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.latencies.len())
            .ok()
            .filter(|n| *n > 0)?;
        Some(self.latencies.iter().sum::<Duration>() / n)
    }

    /// The longest latency.
    pub fn max(&self) -> Option<Duration> {
        self.latencies.last().copied()
    }

    /// CPU time per successful operation.
    pub fn cpu_per_op(&self) -> Option<CpuTime> {
        self.cpu.map(|c| c.per(self.iterations))
    }
}

/// The `p`-th percentile (0–100) of `sorted`, by nearest rank: the smallest value with at
/// least `p` % of the sample at or below it. `None` for an empty sample.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The outcomes of a run's operations.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

impl Tally {
    fn attempts(&self) -> usize {
        self.latencies.len() + self.errors
    }

    /// Counts one outcome; with `strict` a failure ends the run instead.
    fn add(&mut self, latency: Duration, outcome: Result<()>, strict: bool) -> Result<()> {
        match outcome {
            Ok(()) => self.latencies.push(latency),
            Err(e) if strict => return Err(e),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// What a loop measured.
#[derive(Debug)]
pub(crate) struct Run {
    tally: Tally,
    elapsed: Duration,
    cpu: Option<CpuTime>,
}

/// How a loop runs: its timing, whether a failure ends it, what CPU time it reads.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub timing: Timing,
    pub strict: bool,
    pub meter: Option<CpuMeter>,
}

impl Rules {
    fn cpu_since(&self, start: Option<CpuTime>) -> Option<CpuTime> {
        Some(self.meter.as_ref()?.sample().since(start?))
    }
}

/// Runs `f` on the current thread: warm-up, then until the budget is spent (and at least
/// `min_iters` times).
pub(crate) fn inline(rules: &Rules, f: &mut dyn FnMut() -> Result<()>) -> Result<Run> {
    let warm = Instant::now();
    loop {
        let outcome = f();
        if rules.strict {
            outcome.context("warm-up")?;
        }
        if warm.elapsed() >= rules.timing.warmup {
            break;
        }
    }
    let cpu = rules.meter.as_ref().map(CpuMeter::sample);
    let mut tally = Tally::default();
    let start = Instant::now();
    while tally.attempts() < rules.timing.min_iters || start.elapsed() < rules.timing.budget {
        let t = Instant::now();
        let outcome = f();
        tally.add(t.elapsed(), outcome, rules.strict)?;
    }
    Ok(Run {
        tally,
        elapsed: start.elapsed(),
        cpu: rules.cpu_since(cpu),
    })
}

/// [`inline`] for an async operation, awaited on the current task.
pub(crate) async fn inline_async<F>(rules: &Rules, mut f: F) -> Result<Run>
where
    F: AsyncFnMut() -> Result<()>,
{
    let warm = Instant::now();
    loop {
        let outcome = f().await;
        if rules.strict {
            outcome.context("warm-up")?;
        }
        if warm.elapsed() >= rules.timing.warmup {
            break;
        }
    }
    let cpu = rules.meter.as_ref().map(CpuMeter::sample);
    let mut tally = Tally::default();
    let start = Instant::now();
    while tally.attempts() < rules.timing.min_iters || start.elapsed() < rules.timing.budget {
        let t = Instant::now();
        let outcome = f().await;
        tally.add(t.elapsed(), outcome, rules.strict)?;
    }
    Ok(Run {
        tally,
        elapsed: start.elapsed(),
        cpu: rules.cpu_since(cpu),
    })
}

/// Runs each op on a worker of its own: each warms up, then all start together and run
/// until the budget is spent (each at least `min_iters` times). The measured time is
/// from the start until the last worker is done.
pub(crate) async fn closed(rules: &Rules, ops: Vec<Op>) -> Result<Run> {
    let barrier = Arc::new(tokio::sync::Barrier::new(ops.len() + 1));
    // dropping the set (a timeout) aborts the workers
    let mut workers = JoinSet::new();
    for op in ops {
        let (barrier, timing, strict) = (barrier.clone(), rules.timing, rules.strict);
        workers.spawn(async move {
            // warm up, then start together; wait at the barrier even after a failure so
            // that the others are not left hanging. Each worker watches the clock itself
            // and yields after every operation: an operation that never waits (a crypto
            // case) must not hold a runtime thread, nor rely on a timer firing.
            let warm = Instant::now();
            let warmed = loop {
                let outcome = op().await;
                if strict && let Err(e) = outcome {
                    break Err(e);
                }
                tokio::task::yield_now().await;
                if warm.elapsed() >= timing.warmup {
                    break Ok(());
                }
            };
            barrier.wait().await;
            warmed.context("warm-up")?;
            let mut tally = Tally::default();
            let start = Instant::now();
            while tally.attempts() < timing.min_iters || start.elapsed() < timing.budget {
                let t = Instant::now();
                let outcome = op().await;
                tally.add(t.elapsed(), outcome, strict)?;
                tokio::task::yield_now().await;
            }
            Ok::<_, anyhow::Error>(tally)
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let cpu = rules.meter.as_ref().map(CpuMeter::sample);
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(t)) => tally.merge(t),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(anyhow!("worker task: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = rules.cpu_since(cpu);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Run {
        tally,
        elapsed,
        cpu,
    })
}

/// Runs each op on a worker of its own, all starting together, `per_worker` times each
/// (no warm-up: the bench warms up before its first round). The measured time is from
/// the start until the last worker is done.
pub(crate) async fn counted(rules: &Rules, ops: Vec<Op>, per_worker: usize) -> Result<Run> {
    let barrier = Arc::new(tokio::sync::Barrier::new(ops.len() + 1));
    let mut workers = JoinSet::new();
    for op in ops {
        let (barrier, strict) = (barrier.clone(), rules.strict);
        workers.spawn(async move {
            barrier.wait().await;
            let mut tally = Tally::default();
            for _ in 0..per_worker {
                let t = Instant::now();
                let outcome = op().await;
                tally.add(t.elapsed(), outcome, strict)?;
                tokio::task::yield_now().await;
            }
            Ok::<_, anyhow::Error>(tally)
        });
    }
    let cpu = rules.meter.as_ref().map(CpuMeter::sample);
    barrier.wait().await;
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(t)) => tally.merge(t),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(anyhow!("worker task: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = rules.cpu_since(cpu);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Run {
        tally,
        elapsed,
        cpu,
    })
}

/// Starts `op` `rate` times a second for the budget (after the warm-up at the same rate),
/// each call on a task of its own; a call's latency counts from its scheduled start, and
/// the measured time runs until the last answer (a backlog stretches it).
pub(crate) async fn open(rules: &Rules, rate: f64, op: Op) -> Result<Run> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let begin = Instant::now();
    let measured_from = begin + rules.timing.warmup;
    let end = measured_from + rules.timing.budget;
    let last_answer = Arc::new(Mutex::new(begin));
    let mut calls = JoinSet::new();
    let mut cpu = None;
    let mut n: u32 = 0;
    loop {
        let scheduled = begin + interval * n;
        if scheduled >= end {
            break;
        }
        n += 1;
        tokio::time::sleep_until(scheduled.into()).await;
        let measured = scheduled >= measured_from;
        if measured && cpu.is_none() {
            cpu = rules.meter.as_ref().map(CpuMeter::sample);
        }
        let (op, last_answer) = (op.clone(), last_answer.clone());
        calls.spawn(async move {
            let outcome = op().await;
            if let Ok(mut last) = last_answer.lock() {
                *last = (*last).max(Instant::now());
            }
            measured.then(|| (scheduled.elapsed(), outcome))
        });
    }
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(joined) = calls.join_next().await {
        match joined {
            Ok(None) => {}
            Ok(Some((latency, outcome))) => {
                if let Err(e) = tally.add(latency, outcome, rules.strict) {
                    failure.get_or_insert(e);
                }
            }
            Err(e) => {
                failure.get_or_insert(anyhow!("call task: {e}"));
            }
        }
    }
    let cpu = rules.cpu_since(cpu);
    if let Some(e) = failure {
        return Err(e);
    }
    let last = *last_answer
        .lock()
        .map_err(|_| anyhow!("a call task panicked"))?;
    let elapsed = last
        .saturating_duration_since(measured_from)
        .max(rules.timing.budget);
    Ok(Run {
        tally,
        elapsed,
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_of_a_known_sample() {
        // 1..=100 ms, given out of order
        let mut sample: Vec<Duration> = (1..=100).rev().map(ms).collect();
        sample.swap(3, 70);
        let case = Case::new("c", "c", None, Duration::from_secs(2), sample);
        assert_eq!(case.percentile(50.0), Some(ms(50)));
        assert_eq!(case.percentile(90.0), Some(ms(90)));
        assert_eq!(case.percentile(99.0), Some(ms(99)));
        assert_eq!(case.percentile(99.9), Some(ms(100)));
        assert_eq!(case.percentile(100.0), Some(ms(100)));
        assert_eq!(case.percentile(0.0), Some(ms(1)));
        assert_eq!(case.mean(), Some(Duration::from_micros(50_500)));
        assert_eq!(case.max(), Some(ms(100)));
        assert_eq!(case.iterations, 100);
        assert!((case.rate() - 50.0).abs() < 1e-9);

        // nearest rank in a small sample: p50 of 4 is the 2nd, p99 the 4th
        let small = [ms(10), ms(20), ms(30), ms(40)];
        assert_eq!(percentile(&small, 50.0), Some(ms(20)));
        assert_eq!(percentile(&small, 51.0), Some(ms(30)));
        assert_eq!(percentile(&small, 99.0), Some(ms(40)));
        assert_eq!(percentile(&[ms(7)], 99.0), Some(ms(7)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_batch_has_a_rate_and_no_latencies() {
        let case = Case::batch("b", "b", None, 300, ms(1500));
        assert_eq!(case.iterations, 300);
        assert!((case.rate() - 200.0).abs() < 1e-9);
        assert_eq!((case.percentile(50.0), case.mean()), (None, None));
    }

    #[test]
    fn loads_print_as_counts_and_rates() {
        assert_eq!(Load::InFlight(16).to_string(), "16");
        assert_eq!(Load::Rate(999.6).to_string(), "1000/s");
    }

    fn rules(strict: bool) -> Rules {
        Rules {
            timing: Timing::new(30, 5, 3),
            strict,
            meter: None,
        }
    }

    /// Fails every third call.
    fn flaky() -> Op {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        op(move || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                if n % 3 == 2 {
                    Err(anyhow!("call {n} failed"))
                } else {
                    Ok(())
                }
            }
        })
    }

    #[tokio::test]
    async fn a_closed_loop_counts_failures_or_stops_at_the_first() {
        let run = closed(&rules(false), vec![flaky(), flaky()]).await.unwrap();
        assert!(run.tally.errors > 0);
        assert!(run.tally.latencies.len() >= run.tally.errors);
        assert!(run.tally.first_error.unwrap().ends_with("failed"));
        assert!(run.elapsed >= ms(30));

        let err = closed(&rules(true), vec![flaky()]).await.unwrap_err();
        assert!(format!("{err:#}").contains("failed"), "{err:#}");
    }

    #[tokio::test]
    async fn an_open_loop_starts_calls_at_the_rate() {
        let run = open(&rules(false), 1000.0, op(|| async { Ok(()) }))
            .await
            .unwrap();
        // 30 ms at 1000/s after the warm-up: 30 calls measured
        assert!((25..=31).contains(&run.tally.latencies.len()), "{run:?}");
        assert!(run.elapsed >= ms(30));
    }

    #[tokio::test]
    async fn a_counted_round_makes_its_count_per_worker() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = calls.clone();
        let count = op(move || {
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { Ok(()) }
        });
        let run = counted(&rules(true), vec![count.clone(); 3], 4)
            .await
            .unwrap();
        assert_eq!(run.tally.latencies.len(), 12);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 12);
        let err = counted(&rules(true), vec![flaky()], 5).await.unwrap_err();
        assert!(format!("{err:#}").contains("failed"), "{err:#}");
        let run = counted(&rules(false), vec![flaky()], 6).await.unwrap();
        assert_eq!((run.tally.latencies.len(), run.tally.errors), (4, 2));
    }

    #[test]
    fn rounds_add_up_into_one_case() {
        let mut case = Case::new("c", "c", None, ms(1000), vec![ms(30), ms(10)]);
        case.rounds.push(case.rate());
        case.add_round(Case::new(
            "c",
            "c",
            None,
            ms(500),
            vec![ms(20), ms(40), ms(5)],
        ));
        assert_eq!(case.iterations, 5);
        assert_eq!(case.elapsed, ms(1500));
        assert_eq!(case.latencies, [ms(5), ms(10), ms(20), ms(30), ms(40)]);
        assert_eq!(case.rounds, [2.0, 6.0]);
    }

    #[tokio::test]
    async fn inline_runs_make_at_least_min_iters() {
        let r = Rules {
            timing: Timing::new(0, 0, 5),
            strict: true,
            meter: None,
        };
        let mut n = 0;
        let run = inline(&r, &mut || {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((run.tally.latencies.len(), n), (5, 6));
        let mut calls = 0;
        let run = inline_async(&r, async || {
            calls += 1;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!((run.tally.latencies.len(), calls), (5, 6));
    }
}
