//! Scenarios of the regulations as data files, run against any running stack through the
//! doors a person uses: the portal's API for the citizen (channel A), the ЦОН operators'
//! API (channel C), the АРМ РШЭП API for the provider's employees (channel B and every
//! procedure). `egovctl scenario run` is its command line; `docs/scenarios.md` documents
//! the format.
//!
//! - [`spec`]: the scenario file (a regulation, a channel, the applicant and their keys,
//!   the employees' branch, what must come out), checked against the regulation files;
//! - [`target`]: the stack's doors and accounts (`stack.json`, written by `egov up`);
//! - [`run`]: the run of one scenario, timed step by step against the deadlines;
//! - [`arm`]: the provider's employees working an application's procedure at their АРМ
//!   (patiently, through failures, for the fault tests);
//! - [`report`]: a line per scenario and JUnit XML.

pub mod arm;
pub mod door;
pub mod fill;
pub mod keys;
pub mod report;
pub mod run;
pub mod spec;
pub mod target;

use futures::StreamExt as _;

pub use run::{Outcome, Runner};
pub use spec::Scenario;
pub use target::Target;

/// Runs `scenarios`, `jobs` at a time, calling `done` as each finishes (in the order
/// they finish); the outcomes in the scenarios' order. Those that move the stack's
/// clock ([`Scenario::moves_clock`]) run last, one at a time: a month passing in the
/// middle of another run would change what that run sees (its deadlines, a
/// certificate's validity at the portal).
pub async fn run_all(
    runner: &Runner,
    scenarios: &[Scenario],
    jobs: usize,
    mut done: impl FnMut(&Outcome),
) -> Vec<Outcome> {
    let mut out: Vec<Option<Outcome>> = vec![None; scenarios.len()];
    let (alone, together): (Vec<_>, Vec<_>) = scenarios
        .iter()
        .enumerate()
        .partition(|(_, s)| s.moves_clock());
    let mut stream = futures::stream::iter(together)
        .map(|(i, s)| async move { (i, runner.run(s).await) })
        .buffer_unordered(jobs.max(1));
    while let Some((i, o)) = stream.next().await {
        done(&o);
        out[i] = Some(o);
    }
    for (i, s) in alone {
        let o = runner.run(s).await;
        done(&o);
        out[i] = Some(o);
    }
    out.into_iter().flatten().collect()
}
