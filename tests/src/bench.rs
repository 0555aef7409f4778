//! The one harness of this package's benchmarks: what a bench accepts on its command
//! line, how its cases are measured, and how the figures are printed and written.
//!
//! A bench is a `main` that hands its body to [`main`], which parses the arguments (see
//! [`Args::parse`]: `--bench` from `cargo bench`, `--quick`, the options of the bench's
//! [`Spec`], filters), starts the runtime, and reports a failure with exit code 1 (2 for
//! a bad command line). The body gets a [`Bench`], measures its cases with it, section
//! by section, and ends with [`Bench::finish`], which prints the table on stdout and
//! writes `target/bench-<name>.json` (not in a smoke run).
//!
//! ```no_run
//! use egov_tests::bench::{self, Bench, Spec, Timing};
//!
//! const SPEC: Spec = Spec {
//!     name: "demo",
//!     title: "Demo benchmark",
//!     quick: "~0.3 s per case instead of ~2 s",
//!     full: Timing::new(2000, 200, 3),
//!     fast: Timing::new(300, 50, 2),
//!     smoke: Timing::new(0, 0, 2),
//!     options: &[],
//!     notes: &[],
//!     worker_threads: None,
//! };
//!
//! fn main() -> std::process::ExitCode {
//!     bench::main(&SPEC, async |mut b: Bench| {
//!         b.section("1. arithmetic");
//!         b.measure("sum", "the sum of 1..1000", || {
//!             std::hint::black_box((1..1000u64).sum::<u64>());
//!             Ok(())
//!         })?;
//!         b.finish()
//!     })
//! }
//! ```
//!
//! Each case runs its operation through a warm-up, then for the mode's budget and at
//! least its `min_iters` times per worker: [`Bench::measure`] and
//! [`Bench::measure_async`] one at a time on the bench's own task, [`Bench::closed_loop`]
//! on N workers, [`Bench::open_loop`] at a fixed rate. Percentiles are by nearest rank
//! ([`percentile`]); the throughput is successful operations per second of wall time.
//! A [`Bench::compare`] rule adds a column of ratios to other cases of the same run.
//! A failed operation fails the case (and the run) unless the bench
//! [tolerates errors](Bench::tolerate_errors), in which case they are counted.

mod args;
mod machine;
mod measure;
mod report;

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

pub use args::{Args, ArgsError, Kind, Mode, Opt, Parsed, Spec, Timing, env_flag};
pub use machine::{CpuMeter, CpuTime, Machine, cpu_model, load_average, target_file};
pub use measure::{Case, Load, Op, OpFuture, op, percentile};
pub use report::{fmt_dur, fmt_rate, fmt_secs};

use measure::Rules;

/// How long a case may run past its warm-up and budget before the bench gives up on it.
const CASE_GRACE: Duration = Duration::from_secs(60);

/// Runs a bench: parses the command line for `spec` (`--help` prints the usage; a bad
/// argument prints the error and the usage and exits with 2), starts a multi-threaded
/// runtime, runs `body` on it, and stops whatever `body` left running (5 s at most).
/// An error of `body` is printed and makes the exit code 1.
pub fn main<F, Fut>(spec: &'static Spec, body: F) -> ExitCode
where
    F: FnOnce(Bench) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let args = match Args::from_env(spec) {
        Ok(Parsed::Run(args)) => args,
        Ok(Parsed::Help) => {
            println!("{}", spec.usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{} bench: {e}\n\n{}", spec.name, spec.usage());
            return ExitCode::from(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = spec.worker_threads {
        runtime.worker_threads(n);
    }
    let runtime = match runtime.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{} bench: cannot start the tokio runtime: {e}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async { body(Bench::new(spec, args)).await });
    // whatever a library left behind must not keep the bench alive
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{} bench failed: {e:#}", spec.name);
            ExitCode::FAILURE
        }
    }
}

/// A column of ratios: each case whose rule names a base case, its rate over the base's.
#[derive(Debug, Clone, Copy)]
struct Comparison {
    heading: &'static str,
    key: &'static str,
    base_of: fn(&str) -> Option<&'static str>,
}

/// One run of a bench: its settings, the machine, and the cases measured so far.
pub struct Bench {
    spec: &'static Spec,
    args: Args,
    timing: Timing,
    machine: Machine,
    started_at: time::OffsetDateTime,
    tolerate_errors: bool,
    meter: Option<CpuMeter>,
    comparisons: Vec<Comparison>,
    sections: Vec<String>,
    cases: Vec<Case>,
    fixture: serde_json::Map<String, serde_json::Value>,
    extra: serde_json::Map<String, serde_json::Value>,
    lines: Vec<String>,
    notes: Vec<String>,
}

impl Bench {
    /// A run of `spec` with `args`; says on stderr what it is about to do.
    pub fn new(spec: &'static Spec, args: Args) -> Bench {
        let timing = spec.timing(args.mode);
        let machine = Machine::now();
        let mut what = format!("{} bench: mode {}", spec.name, args.mode.name());
        if timing.budget > Duration::ZERO {
            what.push_str(&format!(
                " (~{:.1} s per case after ~{:.2} s warm-up)",
                timing.budget.as_secs_f64(),
                timing.warmup.as_secs_f64()
            ));
        }
        if !args.filters.is_empty() {
            what.push_str(&format!(", cases matching {:?}", args.filters));
        }
        eprintln!(
            "{what}, nproc {}, CPU {}, load {}",
            machine.nproc, machine.cpu, machine.load_before
        );
        Bench {
            spec,
            args,
            timing,
            machine,
            started_at: time::OffsetDateTime::now_utc(),
            tolerate_errors: false,
            meter: None,
            comparisons: Vec::new(),
            sections: Vec::new(),
            cases: Vec::new(),
            fixture: serde_json::Map::new(),
            extra: serde_json::Map::new(),
            lines: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The mode of the run.
    pub fn mode(&self) -> Mode {
        self.args.mode
    }

    /// Whether this is a smoke run (no `--bench`).
    pub fn is_smoke(&self) -> bool {
        self.args.mode == Mode::Smoke
    }

    /// The arguments (the bench's own options: [`Args::count`], [`Args::positive`]).
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// How long each case runs.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Counts failed operations (an `errors` column, the first error of each case after
    /// the table) instead of failing the case at the first: for cases that may overload
    /// what they measure.
    pub fn tolerate_errors(&mut self) {
        self.tolerate_errors = true;
    }

    /// Reads the CPU time of every case with `meter`: the table gains cpu/op, pg/op and
    /// nats/op columns.
    pub fn measure_cpu(&mut self, meter: CpuMeter) {
        self.meter = Some(meter);
    }

    /// Adds a column `heading` of ratios: for each case whose id `base_of` maps to the id
    /// of another case of the run, its rate over that case's. The JSON gives each case
    /// `key` (the ratio) and `<key>_base` (the other case's id).
    pub fn compare(
        &mut self,
        heading: &'static str,
        key: &'static str,
        base_of: fn(&str) -> Option<&'static str>,
    ) {
        self.comparisons.push(Comparison {
            heading,
            key,
            base_of,
        });
    }

    /// Starts the next section of the table: the cases measured from now on are under
    /// `heading`.
    pub fn section(&mut self, heading: impl Into<String>) {
        let heading = heading.into();
        eprintln!("{heading}");
        self.sections.push(heading);
    }

    /// Whether the filters of the command line select the case `id`.
    pub fn selects(&self, id: &str) -> bool {
        self.args.selects(id)
    }

    /// Adds a fact about the fixture to the JSON report.
    pub fn fixture(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.fixture.insert(key.to_string(), value.into());
    }

    /// Adds a top-level entry to the JSON report.
    pub fn json(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.extra.insert(key.to_string(), value.into());
    }

    /// A line printed under the table's heading line (what the fixture is).
    pub fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    /// A paragraph printed after the table.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    fn rules(&self) -> Rules {
        Rules {
            timing: self.timing,
            strict: !self.tolerate_errors,
            meter: self.meter.clone(),
        }
    }

    fn push(&mut self, mut case: Case) -> &Case {
        case.section = self.sections.len();
        eprintln!("{}", report::progress(&case));
        self.cases.push(case);
        self.cases.last().expect("just pushed")
    }

    /// Adds a case the bench measured itself (unless the filters leave it out).
    pub fn record(&mut self, case: Case) {
        if self.selects(&case.id) {
            self.push(case);
        }
    }

    /// Measures `f`, called again and again on the current thread.
    pub fn measure(
        &mut self,
        id: &str,
        label: impl Into<String>,
        mut f: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        if !self.selects(id) {
            return Ok(());
        }
        let label = label.into();
        let run = measure::inline(&self.rules(), &mut f).with_context(|| label.clone())?;
        self.push(Case::from_run(id, label, Some(Load::InFlight(1)), run));
        Ok(())
    }

    /// Measures the async `f`, awaited again and again on the current task.
    pub async fn measure_async(
        &mut self,
        id: &str,
        label: impl Into<String>,
        f: impl AsyncFnMut() -> Result<()>,
    ) -> Result<()> {
        if !self.selects(id) {
            return Ok(());
        }
        let label = label.into();
        let rules = self.rules();
        let limit = self.limit();
        let run = tokio::time::timeout(limit, measure::inline_async(&rules, f))
            .await
            .map_err(|_| anyhow!("{label}: did not finish within {} s", limit.as_secs()))?
            .with_context(|| label.clone())?;
        self.push(Case::from_run(id, label, Some(Load::InFlight(1)), run));
        Ok(())
    }

    /// Measures `op` on `workers` workers at once, in a closed loop.
    pub async fn closed_loop(
        &mut self,
        id: &str,
        label: impl Into<String>,
        workers: usize,
        op: Op,
    ) -> Result<()> {
        self.closed_loop_each(id, label, vec![op; workers]).await
    }

    /// Measures in a closed loop with a worker for each of `ops` (workers that each keep
    /// state of their own, as a cache they clear).
    pub async fn closed_loop_each(
        &mut self,
        id: &str,
        label: impl Into<String>,
        ops: Vec<Op>,
    ) -> Result<()> {
        if !self.selects(id) {
            return Ok(());
        }
        let label = label.into();
        let load = Load::InFlight(ops.len());
        let rules = self.rules();
        let limit = self.limit();
        let run = tokio::time::timeout(limit, measure::closed(&rules, ops))
            .await
            .map_err(|_| anyhow!("{label}: did not finish within {} s", limit.as_secs()))?
            .with_context(|| label.clone())?;
        self.push(Case::from_run(id, label, Some(load), run));
        Ok(())
    }

    /// Calls each of `ops` (a worker each, all at once) once, unmeasured: the warm-up of
    /// cases measured in rounds.
    pub async fn warm_up(&mut self, label: &str, ops: Vec<Op>) -> Result<()> {
        let rules = self.rules();
        tokio::time::timeout(self.limit(), measure::counted(&rules, ops, 1))
            .await
            .map_err(|_| anyhow!("warm-up of {label}: did not finish"))?
            .with_context(|| format!("warm-up of {label}"))?;
        Ok(())
    }

    /// Measures one round of the case `id`: each of `ops` on a worker of its own, all
    /// starting together, `per_worker` calls each. The first round adds the case (in the
    /// current section); each further one adds its operations, time and latencies to it
    /// and its rate to [`Case::rounds`]. Rounds of several cases taken in turn give
    /// ratios measured under the same conditions ([`Bench::round_ratios`]).
    pub async fn round(
        &mut self,
        id: &str,
        label: impl Into<String>,
        ops: Vec<Op>,
        per_worker: usize,
    ) -> Result<()> {
        if !self.selects(id) {
            return Ok(());
        }
        let label = label.into();
        let load = Load::InFlight(ops.len());
        let rules = self.rules();
        let run = tokio::time::timeout(self.limit(), measure::counted(&rules, ops, per_worker))
            .await
            .map_err(|_| anyhow!("{label}: a round did not finish"))?
            .with_context(|| label.clone())?;
        let mut round = Case::from_run(id, label, Some(load), run);
        match self.cases.iter_mut().find(|c| c.id == id) {
            Some(case) => {
                let n = case.rounds.len() + 1;
                eprintln!("{} (round {n})", report::progress(&round));
                case.add_round(round);
            }
            None => {
                round.rounds.push(round.rate());
                round.section = self.sections.len();
                eprintln!("{} (round 1)", report::progress(&round));
                self.cases.push(round);
            }
        }
        Ok(())
    }

    /// The rate of the case `id` over that of `base`, round by round, for two cases
    /// measured in the same rounds; `None` unless both ran.
    pub fn round_ratios(&self, id: &str, base: &str) -> Option<Spread> {
        let (a, b) = (self.case(id)?, self.case(base)?);
        let each: Vec<f64> = a
            .rounds
            .iter()
            .zip(&b.rounds)
            .map(|(x, y)| x / y.max(1e-9))
            .collect();
        Spread::of(each)
    }

    /// Measures `op` started `rate` times a second, in an open loop.
    pub async fn open_loop(
        &mut self,
        id: &str,
        label: impl Into<String>,
        rate: f64,
        op: Op,
    ) -> Result<()> {
        if !self.selects(id) {
            return Ok(());
        }
        let label = label.into();
        let rules = self.rules();
        let limit = self.limit();
        let run = tokio::time::timeout(limit, measure::open(&rules, rate, op))
            .await
            .map_err(|_| anyhow!("{label}: did not finish within {} s", limit.as_secs()))?
            .with_context(|| label.clone())?;
        self.push(Case::from_run(id, label, Some(Load::Rate(rate)), run));
        Ok(())
    }

    fn limit(&self) -> Duration {
        self.timing.warmup + self.timing.budget + CASE_GRACE
    }

    /// The cases measured so far, in order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// The case `id`, if it ran.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The rate of the case `id`.
    pub fn rate(&self, id: &str) -> Option<f64> {
        self.case(id).map(Case::rate)
    }

    /// The rate of the case `id` over that of the case `base`.
    pub fn ratio(&self, id: &str, base: &str) -> Option<f64> {
        Some(self.rate(id)? / self.rate(base)?)
    }

    fn compared(&self, c: &Case, cmp: &Comparison) -> Option<(&'static str, f64)> {
        let base = (cmp.base_of)(&c.id)?;
        Some((base, self.ratio(&c.id, base)?))
    }

    /// The table as [`Bench::finish`] prints it.
    pub fn table(&self) -> String {
        report::table(self)
    }

    /// The JSON report as [`Bench::finish`] writes it.
    pub fn report(&self) -> serde_json::Value {
        report::json(self)
    }

    /// Ends the run: reads the load, prints the table, and (unless this is a smoke run)
    /// writes the JSON report to `target/bench-<name>.json` or `BENCH_<NAME>_JSON`.
    pub fn finish(mut self) -> Result<()> {
        self.machine.done();
        print!("{}", self.table());
        if self.is_smoke() {
            println!(
                "\n(smoke run: a couple of iterations per case; run `cargo bench -p egov-tests --bench {}` for figures; no JSON written)",
                self.spec.name
            );
            return Ok(());
        }
        let path = target_file(
            &self.spec.json_var(),
            &format!("bench-{}.json", self.spec.name),
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&self.report())?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nfigures written to {}", path.display());
        Ok(())
    }
}

/// Figures of one ratio taken round by round: the median and the spread.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// Each round's, in the order of the rounds.
    pub each: Vec<f64>,
    /// The median (of an even count, the mean of the two middle ones).
    pub median: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
}

impl Spread {
    /// The figures of `each`; `None` when it is empty.
    pub fn of(each: Vec<f64>) -> Option<Spread> {
        let mut sorted = each.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            each,
        })
    }

    /// As the JSON report gives it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "median": self.median, "min": self.min, "max": self.max, "rounds": self.each,
        })
    }
}

/// Deterministic filler bytes (xorshift), distinct per seed: documents and payloads that
/// are the same from run to run and do not compress.
pub fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_is_the_same_per_seed_and_differs_between_seeds() {
        assert_eq!(filler(64, 1), filler(64, 1));
        assert_ne!(filler(64, 1), filler(64, 2));
        assert_eq!(filler(2048, 7).len(), 2048);
    }

    const SPEC: Spec = Spec {
        name: "demo",
        title: "Demo benchmark",
        quick: "short",
        full: Timing::new(20, 5, 2),
        fast: Timing::new(20, 5, 2),
        smoke: Timing::new(0, 0, 2),
        options: &[],
        notes: &[],
        worker_threads: None,
    };

    fn bench(args: &[&str]) -> Bench {
        match Args::parse(&SPEC, args.iter().copied(), false) {
            Ok(Parsed::Run(a)) => Bench::new(&SPEC, a),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn cases_land_in_sections_with_their_ratios() {
        let mut b = bench(&["--bench", "--quick"]);
        b.compare("x one", "ratio_to_one", |id| (id != "one").then_some("one"));
        b.section("1. first");
        b.measure("one", "one at a time", || Ok(())).unwrap();
        b.section("2. second");
        b.closed_loop("two", "two at once", 2, op(|| async { Ok(()) }))
            .await
            .unwrap();
        b.record(Case::batch(
            "batch",
            "a batch",
            None,
            10,
            Duration::from_secs(1),
        ));
        assert_eq!(
            b.cases().iter().map(|c| c.section).collect::<Vec<_>>(),
            [1, 2, 2]
        );
        assert!(b.ratio("two", "one").is_some());
        let table = b.table();
        assert!(table.contains("Demo benchmark: mode quick"), "{table}");
        assert!(table.contains("\n1. first\n  one at a time "), "{table}");
        assert!(table.contains("x one"), "{table}");
        let batch = table.lines().find(|l| l.contains("a batch")).unwrap();
        assert!(batch.contains(" 10 ") && batch.contains(" - "), "{batch}");
        let json = b.report();
        assert_eq!(json["cases"][0]["ratio_to_one"], serde_json::Value::Null);
        assert_eq!(json["cases"][1]["ratio_to_one_base"], "one");
        assert_eq!(json["cases"][2]["ops_per_sec"], 10.0);
        assert_eq!(json["sections"][1], "2. second");
    }

    #[test]
    fn a_spread_has_its_median_and_bounds() {
        let s = Spread::of(vec![0.6, 0.4, 0.5]).unwrap();
        assert_eq!((s.median, s.min, s.max), (0.5, 0.4, 0.6));
        assert_eq!(s.each, [0.6, 0.4, 0.5]);
        assert_eq!(Spread::of(vec![1.0, 3.0]).unwrap().median, 2.0);
        assert_eq!(Spread::of(Vec::new()), None);
        assert_eq!(s.to_json()["rounds"][1], 0.4);
    }

    #[tokio::test]
    async fn cases_in_rounds_add_up_and_give_their_ratio_round_by_round() {
        let mut b = bench(&["--bench", "--quick"]);
        b.section("rounds");
        let slow = || {
            op(|| async {
                tokio::time::sleep(Duration::from_millis(4)).await;
                Ok(())
            })
        };
        b.warm_up("slow", vec![slow()]).await.unwrap();
        for _ in 0..3 {
            b.round("fast", "fast", vec![op(|| async { Ok(()) }); 2], 5)
                .await
                .unwrap();
            b.round("slow", "slow", vec![slow(); 2], 5).await.unwrap();
        }
        let fast = b.case("fast").unwrap();
        assert_eq!((fast.iterations, fast.rounds.len()), (30, 3));
        assert_eq!(fast.section, 1);
        let slow = b.case("slow").unwrap();
        assert_eq!((slow.iterations, slow.latencies.len()), (30, 30));
        let r = b.round_ratios("slow", "fast").unwrap();
        assert_eq!(r.each.len(), 3);
        assert!(
            r.median < 1.0 && r.min <= r.median && r.median <= r.max,
            "{r:?}"
        );
        assert_eq!(
            b.report()["cases"][0]["round_rates"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(b.round_ratios("slow", "none").is_none());
    }

    #[test]
    fn a_run_of_batches_has_no_latency_columns() {
        let mut b = bench(&["--bench"]);
        b.record(Case::batch(
            "b",
            "a batch",
            None,
            300,
            Duration::from_secs(2),
        ));
        let table = b.table();
        assert!(table.contains(" ops/s"), "{table}");
        assert!(!table.contains("p50"), "{table}");
    }

    #[tokio::test]
    async fn filters_leave_cases_out() {
        let mut b = bench(&["--bench", "tw"]);
        b.measure("one", "one", || Ok(())).unwrap();
        b.closed_loop("two", "two", 1, op(|| async { Ok(()) }))
            .await
            .unwrap();
        assert_eq!(b.cases().len(), 1);
        assert_eq!(b.cases()[0].id, "two");
    }

    #[tokio::test]
    async fn a_failure_fails_the_case_unless_errors_are_tolerated() {
        let failing = || op(|| async { Err(anyhow!("refused")) });
        let mut b = bench(&[]);
        let err = b
            .closed_loop("f", "failing", 1, failing())
            .await
            .unwrap_err();
        assert_eq!(format!("{err:#}"), "failing: warm-up: refused");
        let err = b
            .measure("g", "also failing", || Err(anyhow!("no")))
            .unwrap_err();
        assert_eq!(format!("{err:#}"), "also failing: warm-up: no");
        b.tolerate_errors();
        b.closed_loop("f", "failing", 1, failing()).await.unwrap();
        let c = b.case("f").unwrap();
        assert_eq!((c.iterations, c.errors), (0, 2));
        assert_eq!(c.first_error.as_deref(), Some("refused"));
        assert!(b.table().contains("first error of f: refused"));
    }
}
