//! Reports of a run: a line per scenario (and per step, its time against its deadline)
//! and JUnit XML for CI systems.

use std::fmt::Write as _;
use std::time::Duration;

use crate::run::Outcome;

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A deadline, readably: `2 h`, `1 d 4 h`, `35 s`.
fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        let (days, h) = (s / 86_400, (s % 86_400) / 3600);
        if h == 0 {
            format!("{days} d")
        } else {
            format!("{days} d {h} h")
        }
    } else if s >= 3600 {
        format!("{} h", s / 3600)
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// The one line of a scenario: `PASS name (regulation, channel) 3.21 s`, and the
/// reason of a failure.
pub fn line(o: &Outcome) -> String {
    let mut s = format!(
        "{} {} ({}, {}) {}",
        if o.passed() { "PASS" } else { "FAIL" },
        o.name,
        o.regulation,
        o.channel.id(),
        secs(o.took)
    );
    if let Some(f) = &o.failure {
        let _ = write!(s, "\n     {f}");
    }
    s
}

/// The steps of a scenario, each with its time and, for the regulation's steps, its
/// deadline: `  registration   0.41 s of 1 d`.
pub fn steps(o: &Outcome) -> String {
    let mut s = String::new();
    for t in &o.steps {
        let _ = write!(s, "     {:<40} {:>9}", t.step, secs(t.took));
        if let Some(d) = t.due {
            let _ = write!(s, " of {}", span(d));
        }
        if t.overdue {
            s.push_str(" OVERDUE");
        }
        s.push('\n');
    }
    s
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 takes no other control characters
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML of `outcomes`: one test suite, a test case per scenario (class: the
/// regulation and channel), its failure, and its steps as the case's output.
pub fn junit(outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed()).count();
    let total: f64 = outcomes.iter().map(|o| o.took.as_secs_f64()).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"egov scenarios\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">",
        outcomes.len()
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"scenarios\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{total:.3}\">",
        outcomes.len()
    );
    for o in outcomes {
        let _ = write!(
            s,
            "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{:.3}\">",
            xml(&o.name),
            xml(&o.regulation),
            o.channel.id(),
            o.took.as_secs_f64()
        );
        if let Some(f) = &o.failure {
            let first = f.lines().next().unwrap_or_default();
            let _ = write!(
                s,
                "\n      <failure message=\"{}\" type=\"scenario\">{}</failure>",
                xml(first),
                xml(f)
            );
        }
        let _ = write!(
            s,
            "\n      <system-out>{}</system-out>\n    </testcase>\n",
            xml(&steps(o))
        );
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Timed;
    use crate::spec::Channel;

    #[test]
    fn junit_escapes_and_counts() {
        let o = |name: &str, failure: Option<&str>| Outcome {
            name: name.into(),
            regulation: "r".into(),
            channel: Channel::Portal,
            failure: failure.map(str::to_string),
            took: Duration::from_millis(1500),
            steps: vec![Timed {
                step: "registration".into(),
                took: Duration::from_millis(400),
                due: Some(Duration::from_secs(86_400)),
                overdue: false,
            }],
        };
        let x = junit(&[o("a<b", None), o("c", Some("refused with X & \"Y\"\x07"))]);
        assert!(x.contains(r#"tests="2" failures="1""#), "{x}");
        assert!(x.contains("name=\"a&lt;b\""), "{x}");
        assert!(x.contains("refused with X &amp; &quot;Y&quot;?"), "{x}");
        assert!(x.contains("registration") && x.contains("of 1 d"), "{x}");
        assert!(line(&o("c", Some("why"))).starts_with("FAIL c (r, portal) 1.50 s\n     why"));
    }
}
