//! Signed submissions per second through ПЭП, from the citizen's signature to
//! «поступившие» seen in the cabinet, beside the bare async gateway path, in one run on an
//! RSA-2048 test PKI with OCSP:
//!
//! - **bare**: the portal's own client sends the signed application the portal sends
//!   (`mio.application.submit`, the same bytes, a new messageId each time) through ШЭП
//!   and РШЭП Алматы into the inbox of ИС МИО Алматы, done when РШЭП has accepted it: the
//!   gateway bench's async case, with no application logic (ИС МИО Алматы does not run;
//!   its inbox only fills);
//! - **portal**: a citizen posts the detached CMS over the sign request's bytes
//!   (`POST /api/v1/applications/{number}/signature`), and it is done when the cabinet's
//!   `GET /api/v1/applications/{number}` shows ИС МИО's «поступившие» (`received`): the
//!   portal's C-sign through uc (OCSP), the outbox and its relay, ШЭП, РШЭП Атырау, ИС МИО
//!   Атырау verifying and registering it, its status back through both gateways into the
//!   portal's inbox, recorded and announced. The worker waits on the cabinet's event
//!   stream (`GET /api/v1/events`) and then reads the application, as a frontend does;
//!   a GET every 500 ms if no event comes.
//!
//! Each worker is a citizen of its own with a signing certificate of the test PKI. The
//! drafts (form, scans, sign request) and the citizens' signatures are made before each
//! round, unmeasured. The two cases run in alternating rounds (bare, portal, portal,
//! bare, ...), each round a fixed number of submissions per worker, and their ratio is
//! taken round by round: the median and the spread come out beside the table.
//!
//! Needs PostgreSQL and NATS (as the tests).
//!
//! ```text
//! cargo bench -p egov-tests --bench portal               # 8 rounds of 8 per worker
//! cargo bench -p egov-tests --bench portal -- --quick    # 4 rounds of 4 per worker
//! ```
//! Figures go to stdout and `target/bench-portal.json` (or `BENCH_PORTAL_JSON`).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use egov_pki::keys::KeyAlgorithm;
use egov_testkit::stack::{Stack, StackOptions};
use egov_tests::bench::{self, Bench, CpuMeter, Kind, Mode, Opt, Spec, Timing};
use serde_json::{Value, json};
use shared::cabinet::{Citizen, alternate, bare_send, prepare_all, submit_ops};

mod shared;

/// Citizens signing at once.
const IN_FLIGHT: usize = 4;
/// The regulation of the portal's case, and the ИС МИО that runs it.
const REGULATION: &str = "atyrau-2014-housing-queue";
const MIO: &str = "mio-atyrau";
/// The ИС МИО whose inbox the bare case fills (not started).
const BARE_MIO: &str = "mio-almaty";
/// The citizens, one per worker.
const CITIZENS: [&str; IN_FLIGHT] = [
    "family-father",
    "family-mother",
    "family-son",
    "family-daughter",
];

const SPEC: Spec = Spec {
    name: "portal",
    title: "ПЭП submission benchmark (RSA-2048, OCSP)",
    quick: "4 rounds of 4 submissions per worker instead of 8 of 8",
    full: Timing::NONE,
    fast: Timing::NONE,
    smoke: Timing::NONE,
    options: &[
        Opt {
            name: "rounds",
            kind: Kind::Count,
            help: "rounds of each case (default 8; 4 with --quick)",
        },
        Opt {
            name: "per-round",
            kind: Kind::Count,
            help: "submissions per worker in a round (default 8; 4 with --quick)",
        },
    ],
    notes: &[
        "Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)",
        "and NATS with JetStream at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222).",
    ],
    worker_threads: Some(2),
};

fn main() -> ExitCode {
    bench::main(&SPEC, run)
}

/// Where the portal's submissions spent their time, from the systems' own timestamps
/// (one clock): the portal's signature (`signed_at`), the gateways' message log
/// (`request_in` at the first gateway, `published` into the recipient's inbox), ИС МИО's
/// registration and the portal's record of the status. What a submission's latency has
/// beyond them is the citizen's POST up to C-sign's end, and the cabinet's event and GET.
/// Each stage's median and p99, ms.
async fn stages(database_url: &str, mio_schema: &str) -> Result<Vec<(&'static str, f64, f64)>> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let first = |id: &str, event: &str| {
        format!(
            "(select min(j.at) from gateway.journal j where j.message_id = {id} and j.event = '{event}')"
        )
    };
    let times = format!(
        "select a.signed_at, {} as send_in, {} as send_published, m.registered_at,
                {} as status_in, {} as status_published, s.received_at
         from portal.applications a
         join portal.statuses s on s.application_id = a.id and s.status = 'received'
         join {mio_schema}.applications m on m.message_id = a.message_id
         where a.channel = 'portal'",
        first("a.message_id", "request_in"),
        first("a.message_id", "published"),
        first("s.message_id", "request_in"),
        first("s.message_id", "published"),
    );
    let mut out = Vec::new();
    for (name, from, to) in [
        ("ПЭП relay: signed → at ШЭП", "signed_at", "send_in"),
        (
            "ШЭП, РШЭП: → in ИС МИО's inbox",
            "send_in",
            "send_published",
        ),
        (
            "ИС МИО: inbox → registered",
            "send_published",
            "registered_at",
        ),
        (
            "ИС МИО outbox: registered → at РШЭП",
            "registered_at",
            "status_in",
        ),
        (
            "РШЭП, ШЭП: → in ПЭП's inbox",
            "status_in",
            "status_published",
        ),
        ("ПЭП inbox: → recorded", "status_published", "received_at"),
    ] {
        let (p50, p99): (Option<f64>, Option<f64>) = sqlx::query_as(&format!(
            "select percentile_cont(0.5) within group (order by d), percentile_cont(0.99) within group (order by d)
             from (select extract(epoch from ({to} - {from})) * 1000 as d from ({times}) t) x"
        ))
        .fetch_one(&pool)
        .await?;
        out.push((name, p50.unwrap_or(f64::NAN), p99.unwrap_or(f64::NAN)));
    }
    pool.close().await;
    Ok(out)
}

async fn run(mut b: Bench) -> Result<()> {
    let (rounds, per_round) = match b.mode() {
        Mode::Full => (8, 8),
        Mode::Quick => (4, 4),
        Mode::Smoke => (2, 1),
    };
    let rounds = b.args().count("rounds").map_or(rounds, |n| n as usize);
    let per_round = b
        .args()
        .count("per-round")
        .map_or(per_round, |n| n as usize);
    ensure!(
        rounds > 0 && per_round > 0,
        "--rounds and --per-round must be above 0"
    );
    let t = Instant::now();
    let mut opts = StackOptions::new(&[MIO]);
    let bare_gateway = "rshep-almaty";
    opts.world = egov_testkit::Options::new(&["shep", bare_gateway, "rshep-atyrau"]);
    opts.world.algorithm = KeyAlgorithm::Rsa2048;
    opts.clock = egov_calendar::Clock::System;
    opts.con = false;
    opts.portal = true;
    let stack = Stack::start(opts).await;
    let portal = stack.portal.clone().context("the portal runs")?;
    let reg = portal
        .core
        .catalog
        .get(REGULATION)
        .context("the regulation is in the portal's catalogue")?
        .clone();
    let mut citizens = Vec::new();
    for key in CITIZENS {
        citizens.push(Citizen::enrol(&portal.http, &stack.w.authority(), key).await?);
    }
    b.measure_cpu(CpuMeter::new().postgres(&stack.w.db.name).nats());
    b.fixture("in_flight", IN_FLIGHT);
    b.fixture("regulation", REGULATION);
    b.fixture("rounds", rounds);
    b.fixture("per_worker_per_round", per_round);
    b.fixture("setup_secs", t.elapsed().as_secs_f64());
    b.line(format!(
        "{rounds} rounds, each case {per_round} submissions per worker per round, {IN_FLIGHT} workers; \
         the cases in turn (bare, portal, portal, bare, ...)"
    ));

    // the warm-up: one submission per citizen; its bytes are the bare case's payload
    prepare_all(&citizens, &reg, 1).await?;
    b.warm_up("portal", submit_ops(&citizens)).await?;
    let payload: Vec<u8> = sqlx::query_scalar("select payload from outbox order by id limit 1")
        .fetch_one(&portal.core.pool)
        .await?;
    let accepted_by = stack.w.gateway_of(BARE_MIO);
    ensure!(
        accepted_by == bare_gateway,
        "{BARE_MIO} is on {accepted_by}"
    );
    let bare = bare_send(
        stack.w.client("portal"),
        &stack.w.topology,
        BARE_MIO,
        payload,
    )?;
    b.warm_up("bare", vec![bare.clone(); IN_FLIGHT]).await?;

    b.section("signed applications, the bare gateway path and through ПЭП to «поступившие»");
    let bare_label = "bare: portal → ШЭП → РШЭП → inbox (async, accepted)";
    let portal_label = "portal: signature (C-sign) → ИС МИО → «поступившие» in GET";
    alternate(
        &mut b,
        rounds,
        per_round,
        &citizens,
        &reg,
        (bare_label, vec![bare; IN_FLIGHT]),
        ("portal", portal_label, &|| submit_ops(&citizens)),
        "signed submissions to «поступившие» per second over bare async sends",
    )
    .await?;
    let breakdown = stages(&stack.w.db.url, &MIO.replace('-', "_")).await?;
    let mut text =
        String::from("where a submission's time goes (every submission of the run, ms):");
    let mut json = serde_json::Map::new();
    for (name, p50, p99) in &breakdown {
        text.push_str(&format!("\n  {name:<40} p50 {p50:>7.1}  p99 {p99:>7.1}"));
        json.insert((*name).to_string(), json!({"p50_ms": p50, "p99_ms": p99}));
    }
    text.push_str(
        "\n  (the rest of a submission: the citizen's POST to C-sign's end, the cabinet's event and GET)",
    );
    b.note(text);
    b.json("stages", Value::Object(json));
    let outcome = b.finish();
    drop(stack);
    outcome
}
