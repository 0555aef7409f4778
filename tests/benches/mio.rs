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
//! Needs PostgreSQL and NATS (as the tests): the world of `egov_testkit` makes a fresh
//! database and NATS prefix and drops them at the end.
//!
//! ```text
//! cargo bench -p egov-tests --bench mio               # N = 2000, M = 1000
//! cargo bench -p egov-tests --bench mio -- --quick    # N = 300, M = 200
//! cargo bench -p egov-tests --bench mio -- live       # the live case only
//! ```
//! Under `cargo test --benches` (no `--bench` flag) N = M = 20. Figures go to stdout and
//! `target/bench-mio.json` (or `BENCH_MIO_JSON`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use base64::Engine as _;
use egov_contracts::mio::{Applicant, ApplicationDocument, Attachment, Submission, services};
use egov_pki::keys::KeyAlgorithm;
use egov_pki::{CertProfile, SubjectSpec};
use egov_proto::shep::v1::MessageType;
use egov_tests::bench::{self, Bench, Case, Load, Mode, Spec, Timing};
use serde_json::json;

/// Applications the portal has in flight while sending.
const IN_FLIGHT: usize = 16;
/// How long the registrations of one case may take.
const LIMIT: Duration = Duration::from_secs(600);

const SPEC: Spec = Spec {
    name: "mio",
    title: "ИС МИО benchmark (RSA-2048, OCSP)",
    quick: "300 applications in the backlog and 200 live instead of 2000 and 1000",
    full: Timing::NONE,
    fast: Timing::NONE,
    smoke: Timing::NONE,
    options: &[],
    notes: &[
        "Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)",
        "and NATS with JetStream at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222).",
    ],
    worker_threads: Some(2),
};

async fn count(pool: &sqlx::PgPool) -> Result<i64> {
    Ok(sqlx::query_scalar("select count(*) from applications")
        .fetch_one(pool)
        .await?)
}

/// Waits until `n` applications are registered; how long that took.
async fn wait_for(pool: &sqlx::PgPool, n: i64) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let registered = count(pool).await?;
        if registered >= n {
            return Ok(start.elapsed());
        }
        ensure!(
            start.elapsed() < LIMIT,
            "only {registered} of {n} registered after {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn main() -> ExitCode {
    bench::main(&SPEC, run)
}

async fn run(mut b: Bench) -> Result<()> {
    let (n, m) = match b.mode() {
        Mode::Smoke => (20, 20),
        Mode::Quick => (300, 200),
        Mode::Full => (2000, 1000),
    };
    // the filters pick the phases: the backlog (drained, and sent) and the live one
    let n = if b.selects("backlog.drain") || b.selects("backlog.send") {
        n
    } else {
        0
    };
    let m = if b.selects("live") { m } else { 0 };
    b.fixture("backlog_applications", n);
    b.fixture("live_applications", m);
    b.fixture("in_flight", IN_FLIGHT);

    let mut opts = egov_testkit::Options::new(&["shep", "rshep-almaty"]);
    opts.algorithm = KeyAlgorithm::Rsa2048;
    let mut w = egov_testkit::World::with(opts).await;
    let mut cfg = egov_mio_is::Config::for_system(&w.topology, "mio-almaty")
        .context("mio-almaty is not in the topology")?;
    let base = w.system_config("mio-almaty", "mio_almaty");
    cfg.system.pki_dir = base.pki_dir;
    cfg.system.database_url = base.database_url;
    cfg.system.ocsp_url = base.ocsp_url;
    cfg.system.any_ports();
    cfg.nats_prefix = w.prefix.clone();
    cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
    cfg.keystore_key_file = w.dir.path().join("mio-almaty-keystore.key");
    let mut mio = egov_mio_is::MioIs::build(cfg, egov_mio_is::clock::Clock::System)
        .await
        .context("building ИС МИО")?;
    mio.seed_employees(&w.authority())
        .await
        .context("seeding the employees")?;
    let pool = mio.pool().clone();
    let reg = mio
        .engine()
        .catalog
        .get("almaty-2013-housing-queue")
        .context("the housing queue regulation")?
        .clone();
    w.register("mio-almaty", mio.grpc_addr());
    w.start();
    mio.set_gateway(&w.gateway_addr_of("mio-almaty"));

    // a citizen's signing key and a complete application, signed once per send
    let pki = w.authority();
    let iin = egov_synth::fixtures::EXAMPLE_IIN;
    let now = time::OffsetDateTime::now_utc();
    let issued = pki.issue(
        &SubjectSpec::person(
            egov_iin::Iin::parse(iin).map_err(|e| anyhow!("IIN {iin}: {e}"))?,
            "АХМЕТОВ ЕРЛАН САБИТОВИЧ",
        ),
        CertProfile::Signing,
        KeyAlgorithm::Rsa2048,
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    )?;
    let key = Arc::new(issued.key.context("the citizen's key")?);
    let cert = Arc::new(issued.cert);
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
        form: serde_json::from_value(json!({"family_size": 4, "current_housing": "аренда"}))?,
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
    let bytes = Arc::new(serde_json::to_vec(&doc)?);
    let portal = w.client("portal");
    let submit = move || {
        let (portal, key, cert, bytes) = (portal.clone(), key.clone(), cert.clone(), bytes.clone());
        async move {
            let sig = egov_pki::cms::sign(
                &bytes,
                &key,
                &cert,
                &[],
                true,
                time::OffsetDateTime::now_utc(),
            )?;
            let b64 = base64::engine::general_purpose::STANDARD;
            let payload = serde_json::to_vec(&Submission {
                document: b64.encode(&*bytes),
                signature: b64.encode(sig),
            })?;
            let r = portal
                .send_async(
                    services::SUBMIT,
                    "almaty",
                    MessageType::Request,
                    "",
                    payload,
                )
                .await?;
            ensure!(r.is_success(), "{:?}", r.info.status);
            Ok(())
        }
    };
    let send_all = async |k: usize| {
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        for _ in 0..k {
            let permit = sem.clone().acquire_owned().await?;
            let f = submit();
            set.spawn(async move {
                let r = f.await;
                drop(permit);
                r
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok::<_, anyhow::Error>(())
    };

    b.section("applications registered from the inbox of mio-almaty");
    // 1. the backlog
    eprintln!("sending {n} applications into the inbox of a stopped ИС МИО ...");
    let t = Instant::now();
    send_all(n).await.context("sending the backlog")?;
    let send = Case::batch(
        "backlog.send",
        "(sending the backlog: portal → ШЭП → РШЭП → inbox)",
        Some(Load::InFlight(IN_FLIGHT)),
        n,
        t.elapsed(),
    );
    let cancel = w.cancel.clone();
    w.spawn(mio.run(cancel));
    let drain = wait_for(&pool, n as i64).await?;
    b.record(Case::batch(
        "backlog.drain",
        "backlog drained from the inbox",
        None,
        n,
        drain,
    ));

    // 2. live
    eprintln!("sending {m} more with ИС МИО running ...");
    let t = Instant::now();
    send_all(m).await.context("sending live")?;
    wait_for(&pool, (n + m) as i64).await?;
    b.record(Case::batch(
        "live",
        "live, portal → ШЭП → РШЭП → inbox → registered",
        Some(Load::InFlight(IN_FLIGHT)),
        m,
        t.elapsed(),
    ));
    b.record(send);

    // the status messages went out too
    let mut unsent = 1i64;
    for _ in 0..600 {
        unsent = sqlx::query_scalar("select count(*) from outbox where sent_at is null")
            .fetch_one(&pool)
            .await?;
        if unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.fixture("status_messages_unsent", unsent);
    b.note(format!("status messages still unsent at the end: {unsent}"));
    let outcome = b.finish();
    drop(w);
    eprintln!("fixture: world dropped (database, streams)");
    outcome
}
