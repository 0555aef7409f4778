//! Formatting: durations, rates, the printed table and the JSON report.

use std::time::Duration;

use super::Bench;
use super::measure::Case;

/// A duration as "456.0 µs" / "1.23 ms" / "7.80 s".
pub fn fmt_dur(d: Duration) -> String {
    fmt_secs(d.as_secs_f64())
}

/// Seconds, possibly negative (a difference), as [`fmt_dur`] writes them.
pub fn fmt_secs(secs: f64) -> String {
    let us = secs * 1e6;
    if us.abs() < 1000.0 {
        format!("{us:.1} µs")
    } else if us.abs() < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// A rate with the digits that matter: "4406", "16.9", "2.35".
pub fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn or_dash(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), fmt_dur)
}

/// The line printed on stderr as each case ends.
pub(crate) fn progress(c: &Case) -> String {
    let mut line = format!(
        "  {:<62} {:>6} {:>7} ops {:>9}/s",
        c.label,
        c.load.map(|l| l.to_string()).unwrap_or_default(),
        c.iterations,
        fmt_rate(c.rate()),
    );
    if !c.latencies.is_empty() {
        line.push_str(&format!(
            "  p50 {:>9}  p99 {:>9}",
            or_dash(c.percentile(50.0)),
            or_dash(c.percentile(99.0)),
        ));
    }
    if c.errors > 0 {
        line.push_str(&format!("  errors {}", c.errors));
    }
    line
}

/// A column of the table: its heading and each case's cell.
struct Column {
    heading: String,
    cells: Vec<String>,
}

fn column(heading: &str, cases: &[Case], cell: impl Fn(&Case) -> String) -> Column {
    Column {
        heading: heading.to_string(),
        cells: cases.iter().map(cell).collect(),
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// The table of the run: a heading line, the cases by section, the notes.
pub(crate) fn table(b: &Bench) -> String {
    let cases = &b.cases;
    let m = &b.machine;
    let mut timing = String::new();
    let t = b.timing;
    if t.budget > Duration::ZERO {
        timing = format!(
            ", ~{:.1} s per case after ~{:.2} s warm-up",
            t.budget.as_secs_f64(),
            t.warmup.as_secs_f64()
        );
    } else if t.min_iters > 0 {
        timing = format!(", {} iterations per case", t.min_iters);
    }
    let mut out = format!(
        "\n{}: mode {}{timing}, nproc {}, CPU {}, load avg {} -> {}\n",
        b.spec.title,
        b.args.mode.name(),
        m.nproc,
        m.cpu,
        m.load_before,
        m.load_after,
    );
    for line in &b.lines {
        out.push_str(line);
        out.push('\n');
    }

    let mut columns = vec![
        column("fly", cases, |c| {
            c.load.map(|l| l.to_string()).unwrap_or_default()
        }),
        column("ops", cases, |c| c.iterations.to_string()),
        column("time", cases, |c| fmt_dur(c.elapsed)),
        column("ops/s", cases, |c| fmt_rate(c.rate())),
    ];
    // no latency columns for a run of batches only
    if cases.iter().any(|c| !c.latencies.is_empty()) {
        columns.push(column("p50", cases, |c| or_dash(c.percentile(50.0))));
        columns.push(column("p99", cases, |c| or_dash(c.percentile(99.0))));
    }
    if b.tolerate_errors || cases.iter().any(|c| c.errors > 0) {
        columns.push(column("errors", cases, |c| c.errors.to_string()));
    }
    for cmp in &b.comparisons {
        columns.push(column(cmp.heading, cases, |c| {
            b.compared(c, cmp)
                .map(|(_, r)| format!("{r:.3}"))
                .unwrap_or_default()
        }));
    }
    if b.meter.is_some() {
        let per = |f: fn(super::CpuTime) -> f64| {
            move |c: &Case| c.cpu_per_op().map(|t| fmt_secs(f(t))).unwrap_or_default()
        };
        columns.push(column("cpu/op", cases, per(|t| t.process)));
        columns.push(column("pg/op", cases, per(|t| t.postgres)));
        columns.push(column("nats/op", cases, per(|t| t.nats)));
    }
    for c in &mut columns {
        let w = c
            .cells
            .iter()
            .map(|s| width(s))
            .chain([width(&c.heading)])
            .max()
            .unwrap_or(0);
        c.heading = format!("{:>w$}", c.heading);
        for cell in &mut c.cells {
            *cell = format!("{cell:>w$}");
        }
    }
    let label_w = cases
        .iter()
        .map(|c| width(&c.label) + 2)
        .chain([width("case")])
        .max()
        .unwrap_or(0);
    let row = |first: String, cells: Vec<&str>| {
        let mut line = format!("{first:<label_w$}");
        for cell in cells {
            line.push(' ');
            line.push_str(cell);
        }
        line.trim_end().to_string()
    };
    let header = row(
        "case".into(),
        columns.iter().map(|c| c.heading.as_str()).collect(),
    );
    let rule = "-".repeat(width(&header));
    out.push_str(&format!("{rule}\n{header}\n{rule}\n"));
    let mut section = 0;
    for (i, c) in cases.iter().enumerate() {
        if c.section != section {
            section = c.section;
            if let Some(h) = b.sections.get(section.wrapping_sub(1)) {
                out.push_str(h);
                out.push('\n');
            }
        }
        let line = row(
            format!("  {}", c.label),
            columns.iter().map(|col| col.cells[i].as_str()).collect(),
        );
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&rule);
    out.push('\n');
    for c in cases {
        if let Some(e) = &c.first_error {
            out.push_str(&format!("first error of {}: {e}\n", c.id));
        }
    }
    for note in &b.notes {
        out.push('\n');
        out.push_str(note.trim_end());
        out.push('\n');
    }
    out
}

/// The JSON report of the run.
pub(crate) fn json(b: &Bench) -> serde_json::Value {
    let us = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6);
    let started = b
        .started_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let cases: Vec<serde_json::Value> = b
        .cases
        .iter()
        .map(|c| {
            let mut case = serde_json::json!({
                "id": c.id,
                "section": c.section,
                "label": c.label,
                "in_flight": match c.load { Some(super::Load::InFlight(n)) => Some(n), _ => None },
                "rate_per_sec": match c.load { Some(super::Load::Rate(r)) => Some(r), _ => None },
                "iterations": c.iterations,
                "errors": c.errors,
                "first_error": c.first_error,
                "seconds": c.elapsed.as_secs_f64(),
                "ops_per_sec": c.rate(),
                "p50_us": us(c.percentile(50.0)),
                "p99_us": us(c.percentile(99.0)),
                "mean_us": us(c.mean()),
                "max_us": us(c.max()),
            });
            for cmp in &b.comparisons {
                let compared = b.compared(c, cmp);
                case[cmp.key] = serde_json::json!(compared.map(|(_, r)| r));
                case[format!("{}_base", cmp.key)] = serde_json::json!(compared.map(|(b, _)| b));
            }
            if !c.rounds.is_empty() {
                case["round_rates"] = serde_json::json!(c.rounds);
            }
            if let Some(cpu) = c.cpu_per_op() {
                case["cpu_us_per_op"] = serde_json::json!({
                    "process": cpu.process * 1e6,
                    "postgres": cpu.postgres * 1e6,
                    "nats": cpu.nats * 1e6,
                });
            }
            case
        })
        .collect();
    let mut doc = serde_json::json!({
        "bench": b.spec.name,
        "started_at": started,
        "mode": b.args.mode.name(),
        "budget_secs": b.timing.budget.as_secs_f64(),
        "warmup_secs": b.timing.warmup.as_secs_f64(),
        "min_iterations": b.timing.min_iters,
        "args": b.args.to_json(),
        "nproc": b.machine.nproc,
        "cpu": b.machine.cpu,
        "load_average_before": b.machine.load_before,
        "load_average_after": b.machine.load_after,
        "fixture": serde_json::Value::Object(b.fixture.clone()),
        "sections": b.sections,
        "cases": cases,
    });
    for (k, v) in &b.extra {
        doc[k] = v.clone();
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_read_well() {
        assert_eq!(fmt_dur(Duration::from_nanos(13_849)), "13.8 µs");
        assert_eq!(fmt_dur(Duration::from_micros(999)), "999.0 µs");
        assert_eq!(fmt_dur(Duration::from_micros(1_000)), "1.00 ms");
        assert_eq!(fmt_dur(Duration::from_micros(39_790)), "39.79 ms");
        assert_eq!(fmt_dur(Duration::from_millis(1_650)), "1.65 s");
        assert_eq!(fmt_secs(-0.002_5), "-2.50 ms");
        assert_eq!(fmt_rate(4406.4), "4406");
        assert_eq!(fmt_rate(16.94), "16.9");
        assert_eq!(fmt_rate(2.345), "2.35");
    }
}
