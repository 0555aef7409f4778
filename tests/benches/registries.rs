//! The registries at national scale, in one run:
//!
//! 1. seeding: `egov_seed::seed` of 1,000,000 residents (and their family links and
//!    powers of attorney) into a fresh database: wall time, rows per second, the size on
//!    disk of ГБД ФЛ's and ЕНИС's tables and indexes;
//! 2. person look-ups (`gbd-fl.person.get`, random IINs of the seeded table) against
//!    that table, each answer logged in the access log, on an RSA-2048 test PKI with
//!    OCSP against a running uc:
//!    - the database alone (the `persons` primary-key look-up), the floor;
//!    - straight to ГБД ФЛ's SyncChannel (signed envelope in, signed answer out, no
//!      gateway): the baseline;
//!    - through ШЭП (portal → ШЭП → ГБД ФЛ: checks, message log, routing);
//!
//!    closed loop with 1 and 16 in flight (the throughput), and open loop at
//!    1,000 requests/s through ШЭП and straight (p50/p99 at that rate).
//!
//! Needs PostgreSQL and NATS (as the tests): the world of `egov_testkit` makes a fresh
//! database and NATS prefix and drops them at the end. The figures go to stdout and to
//! `target/bench-registries.json` (or `BENCH_REGISTRIES_JSON`).
//!
//! ```text
//! cargo bench -p egov-tests --bench registries                 # 1,000,000 persons, 10 s per case
//! cargo bench -p egov-tests --bench registries -- --quick      # 100,000 persons, 3 s per case
//! cargo bench -p egov-tests --bench registries -- --persons 250000 --rate 500
//! cargo bench -p egov-tests --bench registries -- --quick shep # the cases through ШЭП only
//! ```
//! Under `cargo test --benches` (no `--bench` flag) it runs a tiny smoke version.

use egov_grpc::Listening as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, ensure};
use egov_pki::keys::KeyAlgorithm;
use egov_shep_client::Client;
use egov_tests::bench::{self, Bench, Kind, Mode, Opt, Spec, Timing, op};

const SPEC: Spec = Spec {
    name: "registries",
    title: "Registries benchmark",
    quick: "100,000 persons and ~3 s per case instead of 1,000,000 and ~10 s",
    full: Timing::new(10_000, 1_000, 1),
    fast: Timing::new(3_000, 500, 1),
    smoke: Timing::new(300, 100, 1),
    options: &[
        Opt {
            name: "persons",
            kind: Kind::Count,
            help: "residents to seed (default 1,000,000; 100,000 with --quick)",
        },
        Opt {
            name: "rate",
            kind: Kind::Positive,
            help: "requests per second of the open-loop cases, also run at half of it (default 1000)",
        },
    ],
    notes: &[
        "Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)",
        "and NATS with JetStream at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222).",
    ],
    worker_threads: Some(2),
};

/// The case through ШЭП a case is compared with: the same load, straight to ГБД ФЛ.
fn direct_of(id: &str) -> Option<&'static str> {
    Some(match id {
        "shep.seq" => "direct.seq",
        "shep.c16" => "direct.c16",
        "shep.open" => "direct.open",
        "shep.open_half" => "direct.open_half",
        _ => return None,
    })
}

fn main() -> ExitCode {
    bench::main(&SPEC, run)
}

async fn run(mut b: Bench) -> Result<()> {
    let persons = b.args().count("persons").unwrap_or(match b.mode() {
        Mode::Full => 1_000_000,
        Mode::Quick => 100_000,
        Mode::Smoke => 2_000,
    });
    let rate = b
        .args()
        .positive("rate")
        .unwrap_or(if b.is_smoke() { 100.0 } else { 1000.0 });
    // an open loop beyond what the path sustains times out some calls: counted, not fatal
    b.tolerate_errors();
    b.compare("x direct", "ratio_to_direct", direct_of);

    let mut opts = egov_testkit::Options::new(&["shep"]);
    opts.algorithm = KeyAlgorithm::Rsa2048;
    let mut w = egov_testkit::World::with(opts).await;

    // 1. seeding
    eprintln!("seeding {persons} persons ...");
    let as_of = egov_enis::service::today();
    let report = egov_seed::seed(&w.db.url, &egov_seed::Options::new(persons, 1, as_of))
        .await
        .context("seeding")?;
    let seed_secs = report.elapsed.as_secs_f64();
    let mib = |bytes: i64| bytes as f64 / 1048576.0;
    eprintln!(
        "  seeded {} persons, {} links, {} powers of attorney in {:.1} s ({:.0} persons/s); ГБД ФЛ {:.0} MiB, ЕНИС {:.1} MiB",
        report.persons,
        report.links,
        report.poas,
        seed_secs,
        report.persons as f64 / seed_secs,
        mib(report.gbd_fl_bytes),
        mib(report.enis_bytes)
    );
    b.line(format!(
        "{} persons seeded in {:.1} s; ГБД ФЛ {:.0} MiB, ЕНИС {:.1} MiB",
        report.persons,
        seed_secs,
        mib(report.gbd_fl_bytes),
        mib(report.enis_bytes)
    ));
    b.fixture("persons", report.persons);
    b.fixture("links", report.links);
    b.fixture("powers_of_attorney", report.poas);
    b.fixture("seed_seconds", seed_secs);
    b.fixture("gbd_fl_bytes", report.gbd_fl_bytes);
    b.fixture("enis_bytes", report.enis_bytes);

    // the load's dirty pages written out, so that the look-ups do not pay for them
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&w.db.url)
        .await
        .context("connecting to the database")?;
    sqlx::raw_sql("checkpoint")
        .execute(&mut conn)
        .await
        .context("checkpoint")?;
    drop(conn);

    // 2. look-ups
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: None,
        ..Default::default()
    })
    .await
    .context("starting ГБД ФЛ")?;
    let gbd_addr = gbd.grpc_addr();
    let pool = gbd.pool().clone();
    w.register("gbd-fl", gbd_addr);
    w.spawn(gbd.run(w.cancel.clone()));
    w.start();

    let iins: Arc<Vec<String>> = Arc::new(
        sqlx::query_scalar(
            "select iin::text from gbd_fl.persons where status <> 'cancelled' order by md5(iin) limit 20000",
        )
        .fetch_all(&pool)
        .await
        .context("a sample of IINs")?,
    );
    ensure!(!iins.is_empty(), "no person was seeded");
    let next = Arc::new(AtomicUsize::new(0));
    let pick = move || iins[next.fetch_add(1, Ordering::Relaxed) % iins.len()].clone();

    let via_shep = w.client("portal");
    // as ШЭП calls it: its TLS identity, the portal's signed envelope
    let direct = w.client_to("portal", "shep", "gbd-fl", gbd_addr);
    let call = |client: Client| {
        let pick = pick.clone();
        op(move || {
            let (client, iin) = (client.clone(), pick());
            async move {
                let body = format!(r#"{{"iin":"{iin}","purpose":{{"service":"housing-queue"}}}}"#);
                let r = client
                    .call("gbd-fl.person.get", "", "", body.into_bytes())
                    .await?;
                ensure!(r.is_success(), "{}: {:?}", r.code(), r.info.status);
                Ok(())
            }
        })
    };
    let db_only = {
        let (pool, pick) = (pool.clone(), pick.clone());
        op(move || {
            let (pool, iin) = (pool.clone(), pick());
            async move {
                egov_gbd_fl::store::person(&pool, &iin)
                    .await?
                    .ok_or_else(|| anyhow!("{iin} absent"))?;
                Ok(())
            }
        })
    };

    b.section(format!("look-ups against {} persons", report.persons));
    b.closed_loop("db.c16", "database primary-key look-up", 16, db_only)
        .await?;
    for (n, load) in [(1usize, "seq"), (16, "c16")] {
        b.closed_loop(
            &format!("direct.{load}"),
            "straight to ГБД ФЛ (no gateway)",
            n,
            call(direct.clone()),
        )
        .await?;
        b.closed_loop(
            &format!("shep.{load}"),
            "portal → ШЭП → ГБД ФЛ",
            n,
            call(via_shep.clone()),
        )
        .await?;
    }
    // the aim's rate, and half of it: what the shared cores sustain
    for (r, which) in [(rate, "open"), (rate / 2.0, "open_half")] {
        b.open_loop(
            &format!("direct.{which}"),
            "straight to ГБД ФЛ, open loop",
            r,
            call(direct.clone()),
        )
        .await?;
        b.open_loop(
            &format!("shep.{which}"),
            "portal → ШЭП → ГБД ФЛ, open loop",
            r,
            call(via_shep.clone()),
        )
        .await?;
    }

    let outcome = b.finish();
    let started = Instant::now();
    drop(w);
    eprintln!(
        "fixture: world dropped (database, streams) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    outcome
}
