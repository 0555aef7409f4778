//! The load generator: many citizens at the portal and inspectors at ИС ЦОН's desks at
//! once, against the system as `egov up` starts it (`egov_launcher::start`, in this
//! process: uc, ГБД ФЛ, ЕНИС, ШЭП and every РШЭП, ИС МИО Алматы and ИС МИО СКО, ИС ЦОН,
//! ПЭП, the ops page, on the launcher's default RSA-2048 test PKI with OCSP; free ports,
//! a fresh database and NATS prefix), beside the bare gateway path, in one run:
//!
//! - **bare**: signed applications from the portal's own client (its key and TLS identity
//!   from the stack's PKI folder) through ШЭП → РШЭП Атырау into the inbox of ИС МИО
//!   Атырау (not started, `EGOV_MIO__MIO_ATYRAU__ENABLED=false`: the inbox only fills),
//!   done when РШЭП accepts (the gateway bench's async case), as many at once as the
//!   load's workers;
//! - **load**: every citizen (a worker each) sends a signed draft and waits until the
//!   cabinet shows ИС МИО's «поступившие», and every inspector (a worker each) takes an
//!   application at the desk (C-person, the operator's signature) and waits until ИС ЦОН
//!   shows «received»: both entry doors at once, registering at one ИС МИО.
//!
//! The two cases run in alternating rounds (bare, load, load, bare, ...) of a fixed number
//! of operations per worker, bounded in count and in time; the ratio load ÷ bare is taken
//! round by round. Then the message log gives each gateway's own time per message (from
//! its request in to its answer out, less the time it waited on the next hop) by channel
//! and service, p50 and p99, over every message of the run.
//!
//! Needs PostgreSQL and NATS (as the tests).
//!
//! ```text
//! cargo bench -p egov-tests --bench load                            # 6 rounds of 4, 8 citizens, 4 inspectors
//! cargo bench -p egov-tests --bench load -- --quick                 # 3 rounds of 2
//! cargo bench -p egov-tests --bench load -- --citizens 16 --inspectors 8
//! ```
//! Figures go to stdout and `target/bench-load.json` (or `BENCH_LOAD_JSON`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use egov_contracts::mio::services;
use egov_pki::PkiDir;
use egov_testkit::stack::submission;
use egov_tests::bench::{self, Bench, CpuMeter, Kind, Mode, Op, Opt, Spec, Timing, op};
use serde_json::json;
use shared::cabinet::{Citizen, alternate, bare_send, prepare_all, submit_ops};
use shared::desk::Desk;

mod shared;

/// The regulation of both doors, and the ИС МИО that runs it.
const REGULATION: &str = "almaty-2013-housing-queue";
const MIO: &str = "mio-almaty";
/// The ИС МИО whose inbox the bare case fills (not started).
const BARE_MIO: &str = "mio-atyrau";
/// The named citizens the portal's first workers are (residents of ГБД ФЛ's synthetic
/// population the others).
const CITIZENS: &[&str] = &[
    "family-father",
    "family-mother",
    "family-son",
    "family-daughter",
    "atyrau",
    "akzhar",
];
/// The applicant of the desk's applications.
const APPLICANT: &str = "family-father";

const SPEC: Spec = Spec {
    name: "load",
    title: "load: citizens at ПЭП and inspectors at ИС ЦОН at once (RSA-2048, OCSP)",
    quick: "3 rounds of 2 operations per worker instead of 6 of 4",
    full: Timing::NONE,
    fast: Timing::NONE,
    smoke: Timing::NONE,
    options: &[
        Opt {
            name: "citizens",
            kind: Kind::Count,
            help: "citizens submitting at the portal at once (default 8)",
        },
        Opt {
            name: "inspectors",
            kind: Kind::Count,
            help: "inspectors taking applications at ИС ЦОН's desks at once (default 4)",
        },
        Opt {
            name: "rounds",
            kind: Kind::Count,
            help: "rounds of each case (default 6; 3 with --quick)",
        },
        Opt {
            name: "per-round",
            kind: Kind::Count,
            help: "operations per worker in a round (default 4; 2 with --quick)",
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

/// Each gateway's own time per message from the message log (the gateways' `schema`), by
/// gateway, channel and service: (gateway, channel, service, messages, p50 ms, p99 ms).
async fn hops(
    database_url: &str,
    schema: &str,
) -> Result<Vec<(String, String, String, i64, f64, f64)>> {
    let pool = egov_db::pool(database_url, schema, 1).await?;
    let rows = sqlx::query_as(
        "with own as (
            select gateway_id, channel, service_id,
                   extract(epoch from (response_out_at - request_in_at))::float8
                   - coalesce(extract(epoch from (response_in_at - request_out_at))::float8, 0) as secs
            from journal
            where event in ('response_out', 'published') and request_in_at is not null
              and response_out_at is not null)
         select gateway_id, channel, service_id, count(*),
                1000 * percentile_cont(0.5) within group (order by secs),
                1000 * percentile_cont(0.99) within group (order by secs)
         from own group by 1, 2, 3 order by 1, 2, 3",
    )
    .fetch_all(&pool)
    .await?;
    Ok(rows)
}

async fn run(mut b: Bench) -> Result<()> {
    let (rounds, per_round) = match b.mode() {
        Mode::Full => (6, 4),
        Mode::Quick => (3, 2),
        Mode::Smoke => (1, 1),
    };
    let count = |b: &Bench, name: &str, default: usize| {
        b.args().count(name).map_or(default, |n| n as usize)
    };
    let rounds = count(&b, "rounds", rounds);
    let per_round = count(&b, "per-round", per_round);
    let n_citizens = count(&b, "citizens", 8);
    let n_inspectors = count(&b, "inspectors", 4);
    ensure!(
        rounds > 0 && per_round > 0 && n_citizens + n_inspectors > 0,
        "--rounds, --per-round and the workers must be above 0"
    );
    let t = Instant::now();
    let data = tempfile::tempdir()?;
    // ИС МИО Атырау not started: the bare case fills its inbox
    let up = egov_testkit::launcher::up(data.path(), "load", |settings| {
        settings.dev_employee_password = Some("load-employee".into());
        settings.con_is.dev_operator_password = Some(egov_con_is::DEV_OPERATOR_PASSWORD.into());
        settings.dev_ncalayer = false;
        settings.mio.insert(
            BARE_MIO.replace('-', "_"),
            egov_launcher::MioSettings {
                enabled: Some(false),
                ..Default::default()
            },
        );
    })
    .await;
    let shep = up.gateway_addr("shep").context("ШЭП's gRPC address")?;
    let egov_testkit::launcher::Up { system, db, target } = up;
    let stop = tokio_util::sync::CancellationToken::new();
    let running = {
        let stop = stop.clone();
        tokio::spawn(async move { system.run_until(stop.cancelled_owned()).await })
    };
    let portal = target.portal.clone().context("the portal runs")?;
    let con = target.con.clone().context("ИС ЦОН runs")?;
    ensure!(
        target.mio.contains_key(MIO) && !target.mio.contains_key(BARE_MIO),
        "{MIO} runs and {BARE_MIO} does not: {:?}",
        target.mio.keys().collect::<Vec<_>>()
    );
    let regs: Vec<egov_regulation::Regulation> = target
        .regulation_dirs
        .iter()
        .map(|d| egov_regulation::load_dir(d))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let reg = regs
        .into_iter()
        .find(|r| r.id == REGULATION)
        .context("the regulation is among the stack's")?;
    let authority = PkiDir::open(&target.pki_dir, &target.ca_dir)?;
    let topology = egov_topology::Topology::shipped();

    // the workers: citizens at the portal, inspectors at the centres of Almaty
    // the named citizens first, then residents of ГБД ФЛ's synthetic population
    let mut citizens = Vec::new();
    for key in CITIZENS.iter().take(n_citizens) {
        citizens.push(Citizen::enrol(&portal, &authority, key).await?);
    }
    if n_citizens > CITIZENS.len() {
        let today = egov_calendar::local_date(time::OffsetDateTime::now_utc());
        let named: Vec<String> = egov_synth::fixtures::citizens(today)
            .into_iter()
            .map(|c| c.iin.as_string())
            .collect();
        let gbd = egov_db::pool(&db.url, "gbd_fl", 1).await?;
        let residents: Vec<(String, String)> = sqlx::query_as(
            "select iin, surname || ' ' || name from persons
             where status = 'alive' and citizenship = 'KZ' and doc_kind = 'id-card'
               and (doc_expires is null or doc_expires > current_date)
               and birth_date < current_date - interval '18 years' and not (iin = any($1))
             order by iin limit $2",
        )
        .bind(&named)
        .bind(i64::try_from(n_citizens - CITIZENS.len())?)
        .fetch_all(&gbd)
        .await?;
        ensure!(
            residents.len() == n_citizens - CITIZENS.len(),
            "ГБД ФЛ has {} adult residents to enrol, {} wanted (raise the seed)",
            residents.len(),
            n_citizens - CITIZENS.len()
        );
        for (iin, name) in residents {
            let iin = egov_iin::Iin::parse(&iin)?;
            citizens.push(Citizen::enrol_person(&portal, &authority, iin, &name).await?);
        }
    }
    let centres: Vec<String> =
        sqlx::query_scalar("select id from centres where region = $1 order by id")
            .bind(&reg.region)
            .fetch_all(&egov_db::pool(&db.url, egov_con_is::SCHEMA, 1).await?)
            .await
            .context("the centres of the regulation's region")?;
    ensure!(!centres.is_empty(), "no centre in {}", reg.region);
    let mut desks = Vec::new();
    for i in 0..n_inspectors {
        let centre = &centres[i % centres.len()];
        let iin = egov_con_is::operators::operator_iin(
            centre,
            egov_con_is::operators::Role::Inspector,
            u32::try_from(i / centres.len()).unwrap_or(0),
        )
        .as_string();
        desks.push(Desk::login(&con.url, &iin).await?);
    }
    let sub = Arc::new(submission(&reg));
    let desk_ops: Vec<Op> = desks
        .iter()
        .map(|d| {
            let (d, sub) = (d.clone(), sub.clone());
            op(move || {
                let (d, sub) = (d.clone(), sub.clone());
                async move { d.take(REGULATION, APPLICANT, &sub).await }
            })
        })
        .collect();
    let workers = n_citizens + n_inspectors;
    b.measure_cpu(CpuMeter::new().postgres(&db.name).nats());
    b.fixture("citizens", n_citizens);
    b.fixture("inspectors", n_inspectors);
    b.fixture("regulation", REGULATION);
    b.fixture("rounds", rounds);
    b.fixture("per_worker_per_round", per_round);
    b.fixture("setup_secs", t.elapsed().as_secs_f64());
    b.line(format!(
        "{rounds} rounds, {per_round} operations per worker per round; {n_citizens} citizens \
         and {n_inspectors} inspectors at once, against {workers} bare senders"
    ));

    // the warm-up: one of each; the portal's first signed application is the bare payload
    prepare_all(&citizens, &reg, 1).await?;
    let mut warm = submit_ops(&citizens);
    warm.extend(desk_ops.iter().cloned());
    b.warm_up("load", warm).await?;
    let payload: Vec<u8> =
        sqlx::query_scalar("select payload from outbox where service_id = $1 order by id limit 1")
            .bind(services::SUBMIT)
            .fetch_one(&egov_db::pool(&db.url, egov_portal::SCHEMA, 1).await?)
            .await?;
    // into the inbox of an ИС МИО that does not run, so that the bare sends leave no work
    // behind for the load's rounds
    let pki = &target.pki_dir;
    let client = egov_shep_client::Client::connect(
        &shep,
        "shep",
        &egov_grpc::TlsIdentity::load(pki, "portal")?,
        Arc::new(egov_shep_client::SystemSigner::load(pki, "portal")?),
        egov_shep_client::envelope::pki_verifier(pki, None)?,
        Duration::from_secs(10),
    )?;
    let bare = bare_send(client, &topology, BARE_MIO, payload)?;
    b.warm_up("bare", vec![bare.clone(); workers]).await?;

    b.section("both entry doors at once, and the bare gateway path");
    let bare_label = "bare: portal → ШЭП → РШЭП Атырау → inbox (async, accepted)";
    let load_label = "load: portal signatures and ЦОН desk applications → «поступившие»";
    let load_ops = || {
        let mut ops = submit_ops(&citizens);
        ops.extend(desk_ops.iter().cloned());
        ops
    };
    alternate(
        &mut b,
        rounds,
        per_round,
        &citizens,
        &reg,
        (bare_label, vec![bare; workers]),
        ("load", load_label, &load_ops),
        "applications to «поступившие» per second over bare async sends, with as many at once",
    )
    .await?;
    let per_hop = hops(&db.url, &egov_gateway::Config::default().schema).await?;
    let mut text = String::from(
        "each gateway's own time per message, from the message log (every message of the run, ms):",
    );
    let mut json = Vec::new();
    for (gateway, channel, service, n, p50, p99) in &per_hop {
        text.push_str(&format!(
            "\n  {gateway:<14} {channel:<6} {service:<28} {n:>6}  p50 {p50:>7.2}  p99 {p99:>7.2}"
        ));
        json.push(json!({
            "gateway": gateway, "channel": channel, "service": service,
            "messages": n, "p50_ms": p50, "p99_ms": p99,
        }));
    }
    b.note(text);
    b.json("hops", json);
    stop.cancel();
    running.await??;
    drop(db);
    b.finish()
}
