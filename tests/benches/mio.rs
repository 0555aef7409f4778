//! Applications registered per second by ИС МИО, end to end from the inbox, on an
//! RSA-2048 test PKI with OCSP against a running uc (the real checks: the document's
//! CMS signature with revocation, the envelope's, the form), two cases:
//!
//! 1. **backlog**: N applications are sent through ШЭП → РШЭП Алматы into the inbox of
//!    mio-almaty while it is stopped; then it starts and the time to register them all
//!    (each in its own transaction: number, status, status messages in the outbox, first
//!    task) is measured: the intake's own rate;
//! 2. **live**: M more are sent by the portal with 16 in flight while ИС МИО runs; the
//!    time from the first send to the last registration: the rate of the whole path
//!    (portal's envelope signature, two gateway hops, JetStream, intake), with the
//!    outbox relaying the status messages back at the same time.
//!
//! ```text
//! cargo bench -p egov-tests --bench mio               # N = 2000, M = 1000
//! cargo bench -p egov-tests --bench mio -- --quick    # N = 300, M = 200
//! ```
//! Figures go to stdout and `target/bench-mio.json` (or `BENCH_MIO_JSON`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use egov_contracts::mio::{Applicant, ApplicationDocument, Attachment, Submission, services};
use egov_pki::keys::KeyAlgorithm;
use egov_pki::{CertProfile, PkiDir, SubjectSpec};
use egov_proto::shep::v1::MessageType;
use egov_tests::bench;
use serde_json::json;

async fn count(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from applications")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_for(pool: &sqlx::PgPool, n: i64, limit: Duration) -> Duration {
    let start = Instant::now();
    while count(pool).await < n {
        assert!(
            start.elapsed() < limit,
            "only {} of {n} registered after {limit:?}",
            count(pool).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick") || std::env::var_os("BENCH_QUICK").is_some();
    let (n, m) = if smoke {
        (20, 20)
    } else if quick {
        (300, 200)
    } else {
        (2000, 1000)
    };
    let load_before = bench::load_average();
    let mut opts = egov_testkit::Options::new(&["shep", "rshep-almaty"]);
    opts.algorithm = KeyAlgorithm::Rsa2048;
    let mut w = egov_testkit::World::with(opts).await;
    let mut cfg = egov_mio_is::Config::for_system(&w.topology, "mio-almaty").expect("mio-almaty");
    let base = w.system_config("mio-almaty", "mio_almaty");
    cfg.system.pki_dir = base.pki_dir;
    cfg.system.database_url = base.database_url;
    cfg.system.ocsp_url = base.ocsp_url;
    cfg.system.any_ports();
    cfg.nats_prefix = w.prefix.clone();
    cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
    let mut mio = egov_mio_is::MioIs::build(cfg, egov_mio_is::clock::Clock::System)
        .await
        .unwrap();
    let pool = mio.pool().clone();
    let reg = mio
        .engine()
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    w.register("mio-almaty", mio.grpc_addr());
    w.start();
    mio.set_gateway(&w.gateway_addr_of("mio-almaty"));

    // a citizen's signing key and a complete application, signed once per send
    let pki = PkiDir::open(&w.pki).unwrap();
    let iin = egov_synth::fixtures::EXAMPLE_IIN;
    let now = time::OffsetDateTime::now_utc();
    let issued = pki
        .issue(
            &SubjectSpec::person(
                egov_iin::Iin::parse(iin).unwrap(),
                "АХМЕТОВ ЕРЛАН САБИТОВИЧ",
            ),
            CertProfile::Signing,
            KeyAlgorithm::Rsa2048,
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .unwrap();
    let (key, cert) = (Arc::new(issued.key.unwrap()), Arc::new(issued.cert));
    let category = reg.categories[0].id.clone();
    let doc = ApplicationDocument {
        regulation: Some(reg.id.clone()),
        service: reg.service.clone(),
        provider: reg.providers[0].id.clone(),
        channel: "portal".into(),
        applicant: Applicant {
            iin: iin.into(),
            surname: Some("Ахметов".into()),
            name: Some("Ерлан".into()),
            patronymic: Some("Сабитович".into()),
            birth_date: Some("1987-03-12".into()),
            phone: Some("+7 701 123 45 67".into()),
            email: None,
            address: Some("г. Алматы, ул. Жамбыла, 114, кв. 25".into()),
        },
        category: category.clone(),
        representative: None,
        poa: None,
        operator: None,
        form: serde_json::from_value(json!({"family_size": 4, "current_housing": "аренда"}))
            .unwrap(),
        documents: reg
            .required_documents(&category)
            .iter()
            .map(|d| Attachment {
                kind: d.id.clone(),
                name: format!("{}.pdf", d.id),
                media_type: "application/pdf".into(),
                content: Some(base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 2048])),
                paper: false,
            })
            .collect(),
        submitted_at: now,
    };
    let bytes = Arc::new(serde_json::to_vec(&doc).unwrap());
    let portal = w.client("portal");
    let submit = {
        let (portal, key, cert, bytes) = (portal.clone(), key.clone(), cert.clone(), bytes.clone());
        move || {
            let (portal, key, cert, bytes) =
                (portal.clone(), key.clone(), cert.clone(), bytes.clone());
            async move {
                let sig = egov_pki::cms::sign(
                    &bytes,
                    &key,
                    &cert,
                    &[],
                    true,
                    time::OffsetDateTime::now_utc(),
                )
                .map_err(|e| e.to_string())?;
                let b64 = base64::engine::general_purpose::STANDARD;
                let payload = serde_json::to_vec(&Submission {
                    document: b64.encode(&*bytes),
                    signature: b64.encode(sig),
                })
                .unwrap();
                let r = portal
                    .send_async(
                        services::SUBMIT,
                        "almaty",
                        MessageType::Request,
                        "",
                        payload,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if r.is_success() {
                    Ok(())
                } else {
                    Err(format!("{:?}", r.info.status))
                }
            }
        }
    };
    let send_all = |k: usize| {
        let submit = submit.clone();
        async move {
            let mut set = tokio::task::JoinSet::new();
            let sem = Arc::new(tokio::sync::Semaphore::new(16));
            for _ in 0..k {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let f = submit();
                set.spawn(async move {
                    let r = f.await;
                    drop(permit);
                    r
                });
            }
            while let Some(r) = set.join_next().await {
                r.unwrap().unwrap();
            }
        }
    };

    // 1. the backlog
    eprintln!("sending {n} applications into the inbox of a stopped ИС МИО ...");
    let t = Instant::now();
    send_all(n).await;
    let send_secs = t.elapsed().as_secs_f64();
    let started = Instant::now();
    let cancel = w.cancel.clone();
    w.spawn(mio.run(cancel));
    let drain = wait_for(&pool, n as i64, Duration::from_secs(600)).await;
    let _ = started;
    let backlog_rate = n as f64 / drain.as_secs_f64();
    eprintln!(
        "  registered {n} from the inbox in {:.2} s: {backlog_rate:.0} applications/s (sending them took {send_secs:.2} s)",
        drain.as_secs_f64()
    );

    // 2. live
    eprintln!("sending {m} more with ИС МИО running ...");
    let t = Instant::now();
    send_all(m).await;
    wait_for(&pool, (n + m) as i64, Duration::from_secs(600)).await;
    let live = t.elapsed();
    let live_rate = m as f64 / live.as_secs_f64();
    eprintln!(
        "  {m} sent and registered in {:.2} s: {live_rate:.0} applications/s",
        live.as_secs_f64()
    );
    // the status messages went out too
    let mut unsent = 1i64;
    for _ in 0..600 {
        unsent = sqlx::query_scalar("select count(*) from outbox where sent_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
        if unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let load_after = bench::load_average();
    println!();
    println!(
        "mio: RSA-2048, OCSP, {} cores ({}), load {load_before} → {load_after}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        bench::cpu_model()
    );
    println!("| case | applications | seconds | applications/s |");
    println!("|---|---|---|---|");
    println!(
        "| backlog drained from the inbox | {n} | {:.2} | {backlog_rate:.0} |",
        drain.as_secs_f64()
    );
    println!(
        "| live, portal → ШЭП → РШЭП → inbox → registered, 16 in flight | {m} | {:.2} | {live_rate:.0} |",
        live.as_secs_f64()
    );
    println!(
        "| (sending the backlog: portal → ШЭП → РШЭП → inbox) | {n} | {send_secs:.2} | {:.0} |",
        n as f64 / send_secs
    );
    println!("status messages still unsent at the end: {unsent}");
    if !smoke {
        let path = bench::target_file("BENCH_MIO_JSON", "bench-mio.json");
        let _ = std::fs::write(
            &path,
            serde_json::to_vec_pretty(&json!({
                "backlog": {"applications": n, "seconds": drain.as_secs_f64(), "per_second": backlog_rate},
                "live": {"applications": m, "seconds": live.as_secs_f64(), "per_second": live_rate},
                "send_backlog": {"applications": n, "seconds": send_secs},
                "load_before": load_before, "load_after": load_after,
            }))
            .unwrap(),
        );
        eprintln!("figures written to {}", path.display());
    }
    drop(w);
}
