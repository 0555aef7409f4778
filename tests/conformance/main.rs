//! Conformance: every scenario of `tests/scenarios/` (each regulation × each of its
//! channels × each branch, and the doors' refusals) against the whole system as
//! `egov up` starts it, through the portal's, ИС ЦОН's and the АРМ's APIs only; and the
//! runner's own honesty: a scenario whose expectation is wrong fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use egov_scenario::{Runner, Scenario, Target};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// The system as `egov up` runs it (in this process, on free ports, a fresh database
/// and NATS prefix), and the target it wrote for scenario runs.
async fn up(data: &Path) -> (tokio_util::sync::CancellationToken, Target) {
    let up = egov_testkit::launcher::up(data, "conf", |settings| {
        settings.seed_persons = 50;
        settings.dev_employee_password = Some("conformance-employee".into());
        settings.con_is.dev_operator_password = Some("conformance-operator".into());
        settings.dev_server_keystore = true;
        // P-256 keys, as the rest of the suite: RSA-2048 key generation for every system
        // and account was half of this test's CPU (`egov up`'s own test keeps the default
        // RSA)
        settings.pki_algorithm = egov_pki::KeyAlgorithm::EcdsaP256;
        // the clock a run moves to let a month pass (the uncollected result's archive),
        // and ИС ЦОН's archive job looking every second
        settings.dev_clock_addr = Some("127.0.0.1:0".parse().unwrap());
        settings.con_is.sla_interval_secs = 1;
    })
    .await;
    let target = up.target.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        // the database lives as long as the system
        let egov_testkit::launcher::Up { system, db, .. } = up;
        let _db = db;
        let _ = system.run_until(s.cancelled_owned()).await;
    });
    (stop, target)
}

fn regulations(target: &Target) -> Vec<egov_regulation::Regulation> {
    target
        .regulation_dirs
        .iter()
        .flat_map(|d| egov_regulation::load_dir(d).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_system_egov_up_starts_and_a_wrong_one_fails() {
    let data = tempfile::tempdir().unwrap();
    let (stop, target) = up(data.path()).await;
    // the file egov up wrote names every door and account a run needs
    assert!(target.portal.is_some());
    assert!(target.con.as_ref().is_some_and(|c| !c.operators.is_empty()));
    assert!(target.mio.values().all(|w| !w.employees.is_empty()));
    assert!(target.clock.is_some(), "the movable clock is named");
    let regs = regulations(&target);
    let scenarios = egov_scenario::spec::load(&[scenarios_dir()], &regs).unwrap();
    // every regulation × every channel it has × every branch
    for r in &regs {
        for c in &r.channels {
            for branch in ["result", "refusal", "incomplete"] {
                assert!(
                    scenarios.iter().any(|s| s.regulation == r.id
                        && s.channel.id() == c.id
                        && format!("{:?}", s.procedure.branch).to_lowercase() == branch
                        && s.expect.error.is_none()),
                    "no scenario of {} through {} with the branch {branch}",
                    r.id,
                    c.id
                );
            }
        }
    }
    // a scenario that lets a month pass fails at once against a stack whose clock
    // cannot be moved, and says why
    let uncollected = scenarios
        .iter()
        .find(|s| s.moves_clock())
        .expect("a scenario of the archive after a month");
    let fixed = Runner::new(
        Target {
            clock: None,
            ..target.clone()
        },
        regs.clone(),
    )
    .unwrap();
    let o = fixed.run(uncollected).await;
    assert!(
        o.failure
            .as_deref()
            .is_some_and(|f| f.contains("clock cannot be moved")),
        "{:?}",
        o.failure
    );
    let runner = Runner::new(target, regs.clone()).unwrap();
    wrong_expectations_fail(&runner, &regs).await;
    let outcomes = egov_scenario::run_all(&runner, &scenarios, 4, |o| {
        println!("{}", egov_scenario::report::line(o));
    })
    .await;
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| {
            format!(
                "{}\n{}",
                egov_scenario::report::line(o),
                egov_scenario::report::steps(o)
            )
        })
        .collect();
    // the JUnit report a CI system reads
    let xml = egov_scenario::report::junit(&outcomes);
    assert!(xml.contains(&format!("tests=\"{}\"", scenarios.len())));
    std::fs::write(data.path().join("junit.xml"), &xml).unwrap();
    stop.cancel();
    assert!(
        failed.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
    // every regulation step ИС МИО went through was timed against its deadline
    assert!(
        outcomes
            .iter()
            .flat_map(|o| &o.steps)
            .any(|t| t.due.is_some()),
        "no step was timed against a deadline"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// A scenario of `text` (parsed as if from `name`).
fn scenario(name: &str, text: &str, regs: &[egov_regulation::Regulation]) -> Scenario {
    Scenario::parse(Path::new(name), text, regs).unwrap()
}

/// The runner's honesty: a scenario whose expectation is wrong fails, and says why.
async fn wrong_expectations_fail(runner: &Runner, regs: &[egov_regulation::Regulation]) {
    let base = r#"
        regulation = "atyrau-2012-housing-queue"
        channel = "portal"
        [applicant]
        citizen = "atyrau"
    "#;
    let cases = [
        // the result comes, not the refusal
        (
            format!("{base}\n[expect]\nstatus = \"refused\""),
            "ИС МИО's status is completed, expected refused",
        ),
        (
            format!("{base}\n[expect]\nresult = \"refusal\""),
            "the result is registration, expected refusal",
        ),
        // a refusal at the door that does not happen
        (
            format!("{base}\n[expect]\nerror = \"CERTIFICATE_REVOKED\""),
            "expected the refusal CERTIFICATE_REVOKED",
        ),
        // another refusal than the one expected
        (
            base.replace(
                "citizen = \"atyrau\"",
                "citizen = \"atyrau\"\nkey = \"expired\"",
            ) + "\n[expect]\nerror = \"CERTIFICATE_REVOKED\"",
            "refused with CERTIFICATE_EXPIRED, expected CERTIFICATE_REVOKED",
        ),
        // a status the cabinet never shows
        (
            format!("{base}\n[expect]\nstatuses = [\"received\", \"returned\"]"),
            "the cabinet did not show returned",
        ),
        // a step not taken
        (
            format!("{base}\n[expect]\nsteps = [\"issue-refusal\"]"),
            "step issue-refusal was not taken",
        ),
    ];
    let mut problems = Vec::new();
    for (i, (text, want)) in cases.iter().enumerate() {
        let s = scenario(&format!("wrong-{i}.toml"), text, regs);
        let o = runner.run(&s).await;
        match &o.failure {
            Some(f) if f.contains(want) => {}
            other => problems.push(format!(
                "case {i}: want a failure with {want:?}, got {other:?}"
            )),
        }
        assert!(!egov_scenario::report::line(&o).starts_with("PASS"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
