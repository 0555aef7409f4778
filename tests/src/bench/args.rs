//! What a benchmark is told on its command line: the mode (`--bench` from `cargo bench`,
//! `--quick`), the options a bench declares in its [`Spec`], and filters.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// How long a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `cargo bench`: the figures.
    Full,
    /// `--quick` or `BENCH_QUICK=1`: a shorter run, figures of the same order.
    Quick,
    /// No `--bench` flag (`cargo test --benches`): a couple of iterations per case, as a
    /// smoke test; no JSON is written.
    Smoke,
}

impl Mode {
    /// `full`, `quick` or `smoke`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Smoke => "smoke",
        }
    }
}

/// How long each case of a bench runs in one mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Measured time per case.
    pub budget: Duration,
    /// Warm-up time per case (each worker makes at least one operation).
    pub warmup: Duration,
    /// Operations each worker makes at least, whatever the budget.
    pub min_iters: usize,
}

impl Timing {
    /// For a bench whose cases are not timed by the harness (they measure a batch).
    pub const NONE: Timing = Timing::new(0, 0, 0);

    /// `budget_ms` measured after `warmup_ms`, at least `min_iters` operations per worker.
    pub const fn new(budget_ms: u64, warmup_ms: u64, min_iters: usize) -> Timing {
        Timing {
            budget: Duration::from_millis(budget_ms),
            warmup: Duration::from_millis(warmup_ms),
            min_iters,
        }
    }
}

/// What the value of an option must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number, 0 or more.
    Count,
    /// A number above 0.
    Positive,
}

impl Kind {
    fn expects(self) -> &'static str {
        match self {
            Kind::Count => "a whole number",
            Kind::Positive => "a number above 0",
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            Kind::Count => "N",
            Kind::Positive => "X",
        }
    }
}

/// An option with a value that one bench accepts (`--persons 250000`, `--rate=500`).
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Its name, without the dashes.
    pub name: &'static str,
    /// What its value must be.
    pub kind: Kind,
    /// One line for the usage text.
    pub help: &'static str,
}

/// A bench: its name, what it accepts, and how long its cases run in each mode.
#[derive(Debug)]
pub struct Spec {
    /// Its short name, as given to `cargo bench --bench`: the JSON goes to
    /// `target/bench-<name>.json`, or to the path in `BENCH_<NAME>_JSON`.
    pub name: &'static str,
    /// The heading of the printed table.
    pub title: &'static str,
    /// What `--quick` changes, for the usage text.
    pub quick: &'static str,
    /// The timing of [`Mode::Full`].
    pub full: Timing,
    /// The timing of [`Mode::Quick`].
    pub fast: Timing,
    /// The timing of [`Mode::Smoke`].
    pub smoke: Timing,
    /// The options it takes besides `--quick`.
    pub options: &'static [Opt],
    /// Lines for the usage text: what it needs, the environment variables it reads.
    pub notes: &'static [&'static str],
    /// Worker threads of its runtime (`None`: one per core).
    pub worker_threads: Option<usize>,
}

impl Spec {
    /// The timing of `mode`.
    pub fn timing(&self, mode: Mode) -> Timing {
        match mode {
            Mode::Full => self.full,
            Mode::Quick => self.fast,
            Mode::Smoke => self.smoke,
        }
    }

    /// The environment variable that overrides where the JSON is written.
    pub fn json_var(&self) -> String {
        format!("BENCH_{}_JSON", self.name.to_ascii_uppercase())
    }

    /// The text `--help` prints.
    pub fn usage(&self) -> String {
        let mut flags = vec![(
            "--quick".to_string(),
            format!("{} (same as BENCH_QUICK=1)", self.quick),
        )];
        for o in self.options {
            flags.push((
                format!("--{} {}", o.name, o.kind.placeholder()),
                o.help.to_string(),
            ));
        }
        flags.push((
            "FILTER".into(),
            "run only the cases whose id contains FILTER (or any of several)".into(),
        ));
        flags.push(("-h, --help".into(), "this text".into()));
        let width = flags.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
        let mut text = format!(
            "usage: cargo bench -p egov-tests --bench {} [-- [--quick]{} [FILTER]...]\n\n",
            self.name,
            self.options
                .iter()
                .map(|o| format!(" [--{} {}]", o.name, o.kind.placeholder()))
                .collect::<String>(),
        );
        for (flag, help) in &flags {
            text.push_str(&format!("  {flag:<width$}  {help}\n"));
        }
        text.push('\n');
        for line in self.notes {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!(
            "Without --bench (cargo test --benches) every case runs a couple of iterations, as a smoke test.\n\
             Writes the figures to target/bench-{}.json (or {}).",
            self.name,
            self.json_var()
        ));
        text
    }
}

/// A command line that is not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// A flag the bench does not know.
    Unknown(String),
    /// An option without its value.
    MissingValue {
        /// The option, with its dashes.
        option: String,
        /// What the value must be.
        expects: &'static str,
    },
    /// An option whose value is not what it must be.
    BadValue {
        /// The option, with its dashes.
        option: String,
        /// The value given.
        value: String,
        /// What the value must be.
        expects: &'static str,
    },
    /// A value given to a flag that takes none (`--quick=1`).
    UnexpectedValue(String),
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::Unknown(a) => write!(f, "unknown argument {a:?}"),
            ArgsError::MissingValue { option, expects } => {
                write!(f, "{option} needs a value: {expects}")
            }
            ArgsError::BadValue {
                option,
                value,
                expects,
            } => write!(f, "{option} {value:?}: expected {expects}"),
            ArgsError::UnexpectedValue(a) => write!(f, "{a:?}: this flag takes no value"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// A value of an option.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Count(u64),
    Positive(f64),
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A run.
    Run(Args),
    /// `-h` or `--help`: print [`Spec::usage`] and stop.
    Help,
}

/// The arguments of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// How long the run is.
    pub mode: Mode,
    /// The cases to run: those whose id contains any of these (all when empty).
    pub filters: Vec<String>,
    values: BTreeMap<&'static str, Value>,
}

impl Args {
    /// The arguments of this process (after the program name), with `BENCH_QUICK`.
    pub fn from_env(spec: &Spec) -> Result<Parsed, ArgsError> {
        Args::parse(spec, std::env::args().skip(1), env_flag("BENCH_QUICK"))
    }

    /// Parses `args` for `spec`. `quick` is what the environment says (`BENCH_QUICK`):
    /// `--quick` is implied. `--bench` (which `cargo bench` passes) makes a measured run,
    /// full or quick; without it the run is a smoke test. Arguments that do not start
    /// with `-` are filters.
    pub fn parse<I, S>(spec: &Spec, args: I, quick: bool) -> Result<Parsed, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut bench = false;
        let mut quick = quick;
        let mut filters = Vec::new();
        let mut values = BTreeMap::new();
        let mut it = args.into_iter().map(Into::into);
        while let Some(arg) = it.next() {
            if !arg.starts_with('-') || arg == "-" {
                filters.push(arg);
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Parsed::Help),
                "--bench" | "--quick" => {
                    if inline.is_some() {
                        return Err(ArgsError::UnexpectedValue(arg));
                    }
                    if flag == "--bench" {
                        bench = true;
                    } else {
                        quick = true;
                    }
                }
                _ => {
                    let Some(opt) = flag
                        .strip_prefix("--")
                        .and_then(|name| spec.options.iter().find(|o| o.name == name))
                    else {
                        return Err(ArgsError::Unknown(arg));
                    };
                    let missing = || ArgsError::MissingValue {
                        option: flag.clone(),
                        expects: opt.kind.expects(),
                    };
                    let value = match inline {
                        Some(v) => v,
                        None => it.next().ok_or_else(missing)?,
                    };
                    let bad = || ArgsError::BadValue {
                        option: flag.clone(),
                        value: value.clone(),
                        expects: opt.kind.expects(),
                    };
                    let parsed = match opt.kind {
                        Kind::Count => Value::Count(value.parse().map_err(|_| bad())?),
                        Kind::Positive => Value::Positive(
                            value
                                .parse::<f64>()
                                .ok()
                                .filter(|x| x.is_finite() && *x > 0.0)
                                .ok_or_else(bad)?,
                        ),
                    };
                    values.insert(opt.name, parsed);
                }
            }
        }
        let mode = match (bench, quick) {
            (false, _) => Mode::Smoke,
            (true, true) => Mode::Quick,
            (true, false) => Mode::Full,
        };
        Ok(Parsed::Run(Args {
            mode,
            filters,
            values,
        }))
    }

    /// The value of the [`Kind::Count`] option `name`, if given.
    pub fn count(&self, name: &str) -> Option<u64> {
        match self.values.get(name)? {
            Value::Count(n) => Some(*n),
            Value::Positive(_) => None,
        }
    }

    /// The value of the [`Kind::Positive`] option `name`, if given.
    pub fn positive(&self, name: &str) -> Option<f64> {
        match self.values.get(name)? {
            Value::Positive(x) => Some(*x),
            Value::Count(_) => None,
        }
    }

    /// Whether the case `id` runs: no filter, or one that `id` contains.
    pub fn selects(&self, id: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| id.contains(f.as_str()))
    }

    /// The options given and the filters, for the report.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (name, value) in &self.values {
            let v = match value {
                Value::Count(n) => serde_json::json!(n),
                Value::Positive(x) => serde_json::json!(x),
            };
            map.insert((*name).to_string(), v);
        }
        map.insert("filters".into(), serde_json::json!(self.filters));
        serde_json::Value::Object(map)
    }
}

/// Whether the environment variable `name` is set to something other than empty or `0`.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        name: "demo",
        title: "Demo benchmark",
        quick: "short cases",
        full: Timing::new(2000, 200, 3),
        fast: Timing::new(300, 50, 2),
        smoke: Timing::new(0, 0, 2),
        options: &[
            Opt {
                name: "persons",
                kind: Kind::Count,
                help: "persons to seed",
            },
            Opt {
                name: "rate",
                kind: Kind::Positive,
                help: "requests per second",
            },
        ],
        notes: &["Needs PostgreSQL."],
        worker_threads: None,
    };

    fn parse(args: &[&str]) -> Result<Parsed, ArgsError> {
        Args::parse(&SPEC, args.iter().copied(), false)
    }

    fn run(args: &[&str]) -> Args {
        match parse(args) {
            Ok(Parsed::Run(a)) => a,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn the_mode_follows_bench_and_quick() {
        assert_eq!(run(&[]).mode, Mode::Smoke);
        assert_eq!(run(&["--quick"]).mode, Mode::Smoke);
        assert_eq!(run(&["--bench"]).mode, Mode::Full);
        assert_eq!(run(&["--quick", "--bench"]).mode, Mode::Quick);
        let Ok(Parsed::Run(a)) = Args::parse(&SPEC, ["--bench"], true) else {
            panic!("BENCH_QUICK with --bench");
        };
        assert_eq!(a.mode, Mode::Quick);
        assert_eq!(SPEC.timing(Mode::Quick), Timing::new(300, 50, 2));
    }

    #[test]
    fn options_take_their_value_after_a_space_or_an_equals_sign() {
        let a = run(&["--bench", "--persons", "250000", "--rate=500"]);
        assert_eq!(a.count("persons"), Some(250_000));
        assert_eq!(a.positive("rate"), Some(500.0));
        assert_eq!(a.count("rate"), None);
        let a = run(&["--bench"]);
        assert_eq!((a.count("persons"), a.positive("rate")), (None, None));
    }

    #[test]
    fn words_are_filters() {
        let a = run(&["cms", "--bench", "issue"]);
        assert_eq!(a.filters, ["cms", "issue"]);
        assert!(a.selects("cms.none"));
        assert!(a.selects("issue_for_csr.rsa2048"));
        assert!(!a.selects("sign.rsa2048"));
        assert!(run(&["--bench"]).selects("anything"));
    }

    #[test]
    fn help_is_asked_for() {
        assert_eq!(parse(&["--bench", "-h"]), Ok(Parsed::Help));
        assert_eq!(parse(&["--help"]), Ok(Parsed::Help));
        let usage = SPEC.usage();
        assert!(usage.contains("--bench demo [-- [--quick] [--persons N] [--rate X] [FILTER]...]"));
        assert!(usage.contains("--persons N"));
        assert!(usage.contains("BENCH_DEMO_JSON"));
        assert!(usage.contains("Needs PostgreSQL."));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let err = |args: &[&str]| parse(args).expect_err("an error").to_string();
        assert_eq!(err(&["--fast"]), r#"unknown argument "--fast""#);
        assert_eq!(err(&["-q"]), r#"unknown argument "-q""#);
        assert_eq!(
            err(&["--persons"]),
            "--persons needs a value: a whole number"
        );
        assert_eq!(
            err(&["--persons", "1e6"]),
            r#"--persons "1e6": expected a whole number"#
        );
        assert_eq!(
            err(&["--persons=-5"]),
            r#"--persons "-5": expected a whole number"#
        );
        assert_eq!(
            err(&["--rate", "0"]),
            r#"--rate "0": expected a number above 0"#
        );
        assert_eq!(
            err(&["--rate", "fast"]),
            r#"--rate "fast": expected a number above 0"#
        );
        assert_eq!(
            err(&["--rate=inf"]),
            r#"--rate "inf": expected a number above 0"#
        );
        assert_eq!(
            err(&["--quick=1"]),
            r#""--quick=1": this flag takes no value"#
        );
    }
}
