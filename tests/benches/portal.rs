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

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use base64::Engine as _;
use egov_contracts::mio::services;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::{CertInfo, CertProfile, PrivateKey, SubjectSpec};
use egov_testkit::stack::{Portal, Stack, StackOptions};
use egov_tests::bench::{self, Bench, CpuMeter, Kind, Mode, Op, Opt, Spec, Timing, op};
use serde_json::{Value, json};
use shared::Session;
use tokio::sync::{Mutex, mpsc};

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
const PASSWORD: &str = "пароль-портала-1";
/// How long one submission may take before the case fails.
const PATIENCE: Duration = Duration::from_secs(60);

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

/// A draft signed and ready to send.
struct Signed {
    number: String,
    signature: String,
}

/// A citizen at the cabinet: the session, the signing key, the event stream, and the
/// drafts of the coming round.
#[derive(Clone)]
struct Citizen {
    session: Session,
    key: Arc<PrivateKey>,
    cert: Arc<CertInfo>,
    events: Arc<Mutex<mpsc::UnboundedReceiver<Value>>>,
    ready: Arc<std::sync::Mutex<VecDeque<Signed>>>,
}

impl Citizen {
    /// Registers the fixture citizen `key`, logs in, opens the event stream, and has
    /// the world's PKI issue a signing certificate for the IIN.
    async fn enrol(stack: &Stack, portal: &Portal, key: &str) -> Result<Citizen> {
        let person = egov_synth::fixtures::citizens(stack.clock.today())
            .into_iter()
            .find(|c| c.key == key)
            .context("a named citizen")?;
        let iin = person.iin.as_string();
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/api/v1/auth/register", portal.http))
            .json(&json!({"iin": iin, "password": PASSWORD}))
            .send()
            .await?;
        ensure!(r.status() == 201, "register {key}: {}", r.text().await?);
        let session = Session::login(
            &portal.http,
            "/api/v1/auth/login",
            &json!({"iin": iin, "password": PASSWORD}),
        )
        .await?;
        let pki = stack.w.authority();
        let now = time::OffsetDateTime::now_utc();
        let issued = pki.issue(
            &SubjectSpec::person(person.iin, &person.name),
            CertProfile::Signing,
            pki.issuing.key.algorithm(),
            now - time::Duration::days(1),
            now + time::Duration::days(365),
        )?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stream = session
            .http
            .get(format!("{}/api/v1/events", portal.http))
            .bearer_auth(&session.token)
            .send()
            .await?;
        ensure!(stream.status() == 200, "events: {}", stream.status());
        tokio::spawn(read_events(stream, tx));
        Ok(Citizen {
            session,
            key: Arc::new(issued.key.context("the issued key")?),
            cert: Arc::new(issued.cert),
            events: Arc::new(Mutex::new(rx)),
            ready: Arc::default(),
        })
    }

    /// Makes `n` drafts of `reg` (form, every required scan, the sign request) and signs
    /// each, as the citizen's client does before the citizen presses «подписать».
    async fn prepare(&self, reg: &egov_regulation::Regulation, n: usize) -> Result<()> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let category = reg.categories[0].id.clone();
        for _ in 0..n {
            let draft = self
                .session
                .post_ok(
                    "/api/v1/applications",
                    &json!({
                        "regulation": reg.id,
                        "category": category,
                        "phone": "+7 701 123 45 67",
                        "form": egov_testkit::stack::form(reg),
                    }),
                    201,
                )
                .await?;
            let number = draft["number"].as_str().context("a number")?.to_string();
            for d in reg.required_documents(&category) {
                self.session
                    .post_ok(
                        &format!("/api/v1/applications/{number}/attachments"),
                        &egov_scenario::fill::scan(&d.id),
                        201,
                    )
                    .await?;
            }
            let request = self
                .session
                .get_ok(&format!("/api/v1/applications/{number}/sign-request"))
                .await?;
            let bytes = b64.decode(request["document"].as_str().context("a document")?)?;
            let cms = egov_pki::cms::sign(
                &bytes,
                &self.key,
                &self.cert,
                &[],
                true,
                time::OffsetDateTime::now_utc(),
            )?;
            self.ready
                .lock()
                .map_err(|_| anyhow!("poisoned"))?
                .push_back(Signed {
                    number,
                    signature: b64.encode(cms),
                });
        }
        Ok(())
    }

    /// Sends the next signed draft and waits until the cabinet shows «поступившие».
    async fn submit(&self) -> Result<()> {
        let next = self
            .ready
            .lock()
            .map_err(|_| anyhow!("poisoned"))?
            .pop_front()
            .context("no signed draft left for this round")?;
        let number = next.number;
        self.session
            .post_ok(
                &format!("/api/v1/applications/{number}/signature"),
                &json!({"signature": next.signature}),
                202,
            )
            .await?;
        let start = Instant::now();
        let mut events = self.events.lock().await;
        loop {
            // the status's event, or half a second, whichever first; then the GET
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Some(e)) = tokio::time::timeout_at(deadline, events.recv()).await {
                if e["number"] == number.as_str() && e["change"] == "status" {
                    break;
                }
            }
            let v = self
                .session
                .get_ok(&format!("/api/v1/applications/{number}"))
                .await?;
            if v["status"]["status"] == "received" {
                return Ok(());
            }
            ensure!(
                start.elapsed() < PATIENCE,
                "{number}: no «поступившие» within {} s: {v}",
                PATIENCE.as_secs()
            );
        }
    }
}

/// Reads the cabinet's server-sent events into `tx`, each event's data as JSON, until
/// the stream or the receiver ends.
async fn read_events(mut stream: reqwest::Response, tx: mpsc::UnboundedSender<Value>) {
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = stream.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data = event.lines().find_map(|l| l.strip_prefix("data: "));
            if let Some(v) = data.and_then(|d| serde_json::from_str(d).ok())
                && tx.send(v).is_err()
            {
                return;
            }
        }
    }
}

fn submit_ops(citizens: &[Citizen]) -> Vec<Op> {
    citizens
        .iter()
        .map(|c| {
            let c = c.clone();
            op(move || {
                let c = c.clone();
                async move { c.submit().await }
            })
        })
        .collect()
}

async fn prepare_all(
    citizens: &[Citizen],
    reg: &egov_regulation::Regulation,
    n: usize,
) -> Result<()> {
    futures::future::try_join_all(citizens.iter().map(|c| c.prepare(reg, n))).await?;
    Ok(())
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
         join {mio_schema}.applications m on m.message_id = a.message_id",
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
        citizens.push(Citizen::enrol(&stack, &portal, key).await?);
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
    let region = stack
        .w
        .topology
        .system(BARE_MIO)
        .and_then(|s| s.region.clone())
        .context("the bare case's ИС МИО has a region")?;
    let accepted_by = stack.w.gateway_of(BARE_MIO);
    ensure!(
        accepted_by == bare_gateway,
        "{BARE_MIO} is on {accepted_by}"
    );
    let bare = shared::async_send(
        stack.w.client("portal"),
        services::SUBMIT,
        &region,
        &accepted_by,
        Arc::new(payload),
    );
    b.warm_up("bare", vec![bare.clone(); IN_FLIGHT]).await?;

    b.section("signed applications, the bare gateway path and through ПЭП to «поступившие»");
    let bare_label = "bare: portal → ШЭП → РШЭП → inbox (async, accepted)";
    let portal_label = "portal: signature (C-sign) → ИС МИО → «поступившие» in GET";
    for r in 0..rounds {
        prepare_all(&citizens, &reg, per_round).await?;
        let bare_first = r % 2 == 0;
        for is_bare in [bare_first, !bare_first] {
            if is_bare {
                b.round("bare", bare_label, vec![bare.clone(); IN_FLIGHT], per_round)
                    .await?;
            } else {
                b.round("portal", portal_label, submit_ops(&citizens), per_round)
                    .await?;
            }
        }
    }
    if let Some(r) = b.round_ratios("portal", "bare") {
        b.note(format!(
            "portal ÷ bare = {:.3} (median of {} rounds; lowest {:.3}, highest {:.3}): \
             signed submissions to «поступившие» per second over bare async sends",
            r.median,
            r.each.len(),
            r.min,
            r.max
        ));
        b.json("ratio", r.to_json());
    }
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
