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
//! Needs PostgreSQL and NATS (as the tests). The figures go to stdout and to
//! `target/bench-registries.json` (or `BENCH_REGISTRIES_JSON`).
//!
//! ```text
//! cargo bench -p egov-tests --bench registries                 # 1,000,000 persons, 10 s per case
//! cargo bench -p egov-tests --bench registries -- --quick      # 100,000 persons, 3 s per case
//! cargo bench -p egov-tests --bench registries -- --persons 250000 --rate 500
//! ```
//! Under `cargo test --benches` (no `--bench` flag) it runs a tiny smoke version.

use egov_grpc::Listening as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use egov_pki::keys::KeyAlgorithm;
use egov_shep_client::{Client, SystemSigner};
use egov_tests::bench::{self, Sample, fmt_dur, op};
use serde_json::json;

#[derive(Debug, Clone, Copy)]
struct Settings {
    persons: u64,
    warmup: Duration,
    budget: Duration,
    rate: f64,
    smoke: bool,
}

fn settings() -> Result<Settings, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some();
    let mut s = if !bench {
        Settings {
            persons: 2_000,
            warmup: Duration::from_millis(100),
            budget: Duration::from_millis(300),
            rate: 100.0,
            smoke: true,
        }
    } else if quick {
        Settings {
            persons: 100_000,
            warmup: Duration::from_millis(500),
            budget: Duration::from_secs(3),
            rate: 1000.0,
            smoke: false,
        }
    } else {
        Settings {
            persons: 1_000_000,
            warmup: Duration::from_secs(1),
            budget: Duration::from_secs(10),
            rate: 1000.0,
            smoke: false,
        }
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--persons" => {
                s.persons = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--persons needs a number")?
            }
            "--rate" => {
                s.rate = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|r: &f64| *r > 0.0)
                    .ok_or("--rate needs a positive number")?
            }
            _ => {}
        }
    }
    Ok(s)
}

struct Row {
    case: String,
    in_flight: String,
    sample: Sample,
}

fn row(case: &str, in_flight: &str, sample: Sample) -> Row {
    eprintln!(
        "  {case:<44} {in_flight:>7}  {:>9.0}/s  p50 {:>9}  p99 {:>9}  errors {}",
        sample.rate(),
        fmt_dur(sample.percentile(50.0)),
        fmt_dur(sample.percentile(99.0)),
        sample.errors
    );
    Row {
        case: case.into(),
        in_flight: in_flight.into(),
        sample,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("registries bench: {e}");
            std::process::exit(2);
        }
    };
    let load_before = bench::load_average();
    let mut opts = egov_testkit::Options::new(&["shep"]);
    opts.algorithm = KeyAlgorithm::Rsa2048;
    let mut w = egov_testkit::World::with(opts).await;

    // 1. seeding
    eprintln!("seeding {} persons ...", s.persons);
    let as_of = egov_enis::service::today();
    let report = egov_seed::seed(&w.db.url, &egov_seed::Options::new(s.persons, 1, as_of))
        .await
        .expect("seeding");
    let seed_secs = report.elapsed.as_secs_f64();
    eprintln!(
        "  seeded {} persons, {} links, {} powers of attorney in {:.1} s ({:.0} persons/s); ГБД ФЛ {:.0} MiB, ЕНИС {:.1} MiB",
        report.persons,
        report.links,
        report.poas,
        seed_secs,
        report.persons as f64 / seed_secs,
        report.gbd_fl_bytes as f64 / 1048576.0,
        report.enis_bytes as f64 / 1048576.0
    );

    // the load's dirty pages written out, so that the look-ups do not pay for them
    sqlx::raw_sql("checkpoint")
        .execute(
            &mut <sqlx::PgConnection as sqlx::Connection>::connect(&w.db.url)
                .await
                .expect("connect"),
        )
        .await
        .expect("checkpoint");

    // 2. look-ups
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: None,
        ..Default::default()
    })
    .await
    .expect("gbd-fl");
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
        .expect("sample of IINs"),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let pick = {
        let (iins, next) = (iins.clone(), next.clone());
        move || iins[next.fetch_add(1, Ordering::Relaxed) % iins.len()].clone()
    };

    let via_shep = w.client("portal");
    let direct = Client::connect(
        &gbd_addr.to_string(),
        "gbd-fl",
        &egov_grpc::TlsIdentity::load(&w.pki, "shep").expect("tls"),
        Arc::new(SystemSigner::load(&w.pki, "portal").expect("signer")),
        w.verifier(),
        Duration::from_secs(10),
    )
    .expect("direct client");
    let call = |client: Client| {
        let pick = pick.clone();
        op(move || {
            let (client, iin) = (client.clone(), pick());
            async move {
                let body = format!(r#"{{"iin":"{iin}","purpose":{{"service":"housing-queue"}}}}"#);
                let r = client
                    .call("gbd-fl.person.get", "", "", body.into_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                if r.is_success() {
                    Ok(())
                } else {
                    Err(format!("{}: {:?}", r.code(), r.info.status))
                }
            }
        })
    };
    let db_only = {
        let (pool, pick) = (pool.clone(), pick.clone());
        op(move || {
            let (pool, iin) = (pool.clone(), pick());
            async move {
                egov_gbd_fl::store::person(&pool, &iin)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| "absent".to_string())
                    .map(|_| ())
            }
        })
    };

    eprintln!("look-ups against {} persons:", report.persons);
    let mut rows = Vec::new();
    rows.push(row(
        "database primary-key look-up",
        "16",
        bench::closed_loop(16, s.warmup, s.budget, db_only).await,
    ));
    for n in [1usize, 16] {
        rows.push(row(
            "straight to ГБД ФЛ (no gateway)",
            &n.to_string(),
            bench::closed_loop(n, s.warmup, s.budget, call(direct.clone())).await,
        ));
        rows.push(row(
            "portal → ШЭП → ГБД ФЛ",
            &n.to_string(),
            bench::closed_loop(n, s.warmup, s.budget, call(via_shep.clone())).await,
        ));
    }
    // the aim's rate, and half of it: what the shared cores sustain
    for r in [s.rate, s.rate / 2.0] {
        let rate = format!("{r:.0}/s");
        rows.push(row(
            "straight to ГБД ФЛ, open loop",
            &rate,
            bench::open_loop(r, s.warmup, s.budget, call(direct.clone())).await,
        ));
        rows.push(row(
            "portal → ШЭП → ГБД ФЛ, open loop",
            &rate,
            bench::open_loop(r, s.warmup, s.budget, call(via_shep.clone())).await,
        ));
    }
    let load_after = bench::load_average();

    println!();
    println!(
        "registries: {} persons seeded in {:.1} s; ГБД ФЛ {:.0} MiB, ЕНИС {:.1} MiB; machine {} ({} cores), load {} → {}",
        report.persons,
        seed_secs,
        report.gbd_fl_bytes as f64 / 1048576.0,
        report.enis_bytes as f64 / 1048576.0,
        bench::cpu_model(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        load_before,
        load_after
    );
    println!("| case | in flight / rate | ops/s | p50 | p99 | errors |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} |",
            r.case,
            r.in_flight,
            r.sample.rate(),
            fmt_dur(r.sample.percentile(50.0)),
            fmt_dur(r.sample.percentile(99.0)),
            r.sample.errors
        );
    }
    if let Some(e) = rows.iter().find_map(|r| r.sample.first_error.clone()) {
        println!("first error: {e}");
    }
    if !s.smoke {
        let path = bench::target_file("BENCH_REGISTRIES_JSON", "bench-registries.json");
        let doc = json!({
            "persons": report.persons,
            "links": report.links,
            "powers_of_attorney": report.poas,
            "seed_seconds": seed_secs,
            "gbd_fl_bytes": report.gbd_fl_bytes,
            "enis_bytes": report.enis_bytes,
            "load_before": load_before,
            "load_after": load_after,
            "cases": rows.iter().map(|r| json!({
                "case": r.case,
                "in_flight": r.in_flight,
                "ops_per_second": r.sample.rate(),
                "p50_ms": r.sample.percentile(50.0).as_secs_f64() * 1e3,
                "p99_ms": r.sample.percentile(99.0).as_secs_f64() * 1e3,
                "errors": r.sample.errors,
            })).collect::<Vec<_>>(),
        });
        if let Err(e) = std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json")) {
            eprintln!("cannot write {}: {e}", path.display());
        } else {
            eprintln!("figures written to {}", path.display());
        }
    }
    let started = Instant::now();
    drop(w);
    eprintln!("cleaned up in {:.1} s", started.elapsed().as_secs_f64());
}
