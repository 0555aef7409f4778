//! Throughput through the gateways (ШЭП and РШЭП), in one run, on an RSA-2048 test PKI
//! (the real system is RSA):
//!
//! 1. the baseline, point to point without a gateway: the portal's client sends signed
//!    envelopes (1 KiB payload) straight to an echo recipient standing in for ГБД ФЛ (a
//!    `SyncChannel` server that verifies every request with `open_request` and answers
//!    with a signed response) over mutual TLS, and verifies the answer; 1 and 16 in flight;
//! 2. the same calls through the gateways, every check on (OCSP against a running uc with
//!    the verifier's cache, the message log in PostgreSQL): mio-almaty → РШЭП Алматы →
//!    ШЭП → gbd-fl (two gateway hops) and portal → ШЭП → gbd-fl (one hop); 1 and 16 in
//!    flight; the ratio to the baseline;
//! 3. async sends into an inbox: portal → ШЭП → РШЭП Алматы → the JetStream inbox of
//!    mio-almaty (`send_async` to `mio.application.submit`, region almaty), 16 in flight,
//!    1 KiB and 16 KiB payloads, beside raw JetStream publishes (publish + ack) of the
//!    same sizes to a separate stream, 16 in flight; the ratio async/raw;
//! 4. the crypto bound: RSA-2048 signatures (`PrivateKey::sign`, 1 KiB) and raw
//!    verifications per second, signatures on every core, and, as context, sealing and
//!    opening one envelope;
//! 5. context: the message log alone (`Journal::append`, as the gateways write it).
//!
//! The cases compared with each other (sections 1 and 2 with each other, each async case
//! with its raw publish) run in **rounds**: in every round each case of a set runs for a
//! short slice, in the set's order on even rounds and in the reverse order on odd ones,
//! and every ratio is computed per round, from two slices measured a second or two
//! apart, then reported as the median of the rounds with its spread (the quartiles and
//! the extremes). Another process loading the machine for a while then weighs on both
//! sides of a ratio instead of on one case: on this shared 2-core machine the medians of
//! two full runs agree within ±0.05, where one 3-second run per case did not. The table's
//! rows pool every slice of a case (its rate is the rate over all its rounds).
//!
//! Every case also reports the CPU time per operation of this process (client, echo,
//! gateways and uc all run in it), of the PostgreSQL backends serving the benchmark
//! database and of the machine's `nats-server` processes; after the table, the RSA
//! operations per message of each path and what they cost on this machine, the ratios
//! with their spread, and the issue's aims beside them.
//!
//! The echo recipient sets TCP_NODELAY on the connections it accepts, as the clients'
//! channels do (`BENCH_ECHO_NAGLE=1` leaves it off, as the gateway's own tests' echo does:
//! answers then wait for the caller's delayed ACK, ~40 ms).
//!
//! Needs PostgreSQL (`EGOV_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and NATS with JetStream
//! (`EGOV_TEST_NATS_URL`, by default `nats://127.0.0.1:4222`). The fixture is the world of
//! `egov_testkit` (a fresh database, a unique NATS prefix, uc, ШЭП and РШЭП Алматы); the
//! database, the inbox stream and the raw test stream are deleted with it at the end.
//!
//! ```text
//! cargo bench -p egov-tests --bench gateway               # 12 rounds of 0.5 s per case
//! cargo bench -p egov-tests --bench gateway -- --quick    # 5 rounds of 0.2 s (or BENCH_QUICK=1)
//! cargo bench -p egov-tests --bench gateway -- --rounds 20
//! cargo bench -p egov-tests --bench gateway -- crypto     # the crypto bound only
//! ```
//!
//! `--quick` is for a look, not for comparing runs: its medians rest on 5 short rounds and
//! may differ between two runs by more than ±0.05 (the report says so).
//!
//! Without the `--bench` flag that `cargo bench` passes (i.e. under `cargo test --benches`)
//! every case runs a couple of iterations only, as a smoke test, and no JSON is written.
//! The figures go to stdout as a table and to `target/bench-gateway.json` (override the
//! path with `BENCH_GATEWAY_JSON`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use async_nats::jetstream;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use egov_gateway::journal::{self, Journal, JournalOptions};
use egov_pki::PrivateKey;
use egov_pki::keys::KeyAlgorithm;
use egov_proto::shep::v1::sync_channel_server::{SyncChannel, SyncChannelServer};
use egov_proto::shep::v1::{MessageType, SyncSendMessageRequest, SyncSendMessageResponse};
use egov_shep_client::Client;
use egov_shep_client::envelope::{self, SystemSigner, codes};
use egov_testkit::World;
use egov_tests::bench::{
    self, Bench, Case, CpuMeter, CpuTime, Kind, Load, Mode, Op, Opt, Spec, Timing, env_flag,
    filler, fmt_rate, fmt_secs, op, percentile,
};
use shared::check_reply;
use time::OffsetDateTime;
use tokio_stream::StreamExt;

mod shared;

/// The payload of the sync cases and the small async case.
const PAYLOAD_SMALL: usize = 1024;
/// The payload of the large async case.
const PAYLOAD_LARGE: usize = 16 * 1024;
/// Calls in flight in the concurrent cases.
const IN_FLIGHT: usize = 16;
/// The sync service called through the gateways.
const SYNC_SERVICE: &str = "gbd-fl.person.get";
/// The async service and region.
const ASYNC_SERVICE: &str = "mio.application.submit";
const ASYNC_REGION: &str = "almaty";
/// The regional gateway that accepts the async sends into the region's inbox.
const ASYNC_GATEWAY: &str = "rshep-almaty";

const SPEC: Spec = Spec {
    name: "gateway",
    title: "Gateway benchmark",
    quick: "5 rounds of 0.2 s per compared case instead of 12 of 0.5 s, the others ~0.5 s instead of ~3 s; rougher: two quick runs may differ by more than ±0.05",
    full: Timing::new(3_000, 300, 3),
    fast: Timing::new(500, 100, 2),
    smoke: Timing::new(0, 0, 2),
    options: &[Opt {
        name: "rounds",
        kind: Kind::Count,
        help: "rounds of the compared cases (default 12; 5 with --quick; 1 in a smoke run)",
    }],
    notes: &[
        "Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)",
        "and NATS with JetStream at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222).",
        "BENCH_ECHO_NAGLE=1 leaves TCP_NODELAY off on the echo recipient's connections.",
    ],
    worker_threads: None,
};

fn main() -> ExitCode {
    bench::main(&SPEC, run)
}

async fn run(mut b: Bench) -> Result<()> {
    // the fixture: an RSA-2048 test PKI, a fresh database, a unique NATS prefix, uc and
    // the two gateways; the echo standing in for gbd-fl is registered on them
    let t = Instant::now();
    let mut opts = egov_testkit::Options::new(&["shep", "rshep-almaty"]);
    opts.algorithm = KeyAlgorithm::Rsa2048;
    let mut w = World::with(opts).await;
    let world_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "fixture: RSA-2048 test PKI, database {}, NATS prefix {}, uc OCSP responder at {}, made in {world_secs:.1} s",
        w.db.name, w.prefix, w.ocsp_url
    );
    let nodelay = !env_flag("BENCH_ECHO_NAGLE");
    let echo = spawn_echo(&w, "gbd-fl", nodelay).await?;
    w.register("gbd-fl", echo);
    w.start();
    eprintln!(
        "fixture: gbd-fl echo at {echo} (TCP_NODELAY {}); ШЭП at {}, РШЭП Алматы at {}",
        if nodelay {
            "on"
        } else {
            "off: BENCH_ECHO_NAGLE"
        },
        w.gateway_addrs["shep"],
        w.gateway_addrs["rshep-almaty"],
    );
    b.fixture("pki_algorithm", "RSA-2048");
    b.fixture("world_init_secs", world_secs);
    b.fixture("payload_small_bytes", PAYLOAD_SMALL);
    b.fixture("payload_large_bytes", PAYLOAD_LARGE);
    b.fixture("in_flight", IN_FLIGHT);
    b.fixture("sync_service", SYNC_SERVICE);
    b.fixture("async_service", ASYNC_SERVICE);
    b.fixture("async_region", ASYNC_REGION);
    b.fixture("echo_nodelay", nodelay);
    let meter = CpuMeter::new().postgres(&w.db.name).nats();
    b.measure_cpu(meter.clone());
    b.compare("x base", "ratio_to_baseline", baseline_of);
    let mut rounds = Rounds::new(Plan::of(&b), meter);
    b.json("rounds_plan", rounds.plan.json());

    all_cases(&mut b, &mut w, echo, &mut rounds).await?;

    b.note(format!(
        "fly: operations in flight; x base: ops/s relative to the same in-flight count of section 1\n\
         (section 2), to raw JetStream (section 3), to one signer (section 4). cpu/op: CPU time of this\n\
         process (client, echo, both gateways, uc) per operation; pg/op: of the PostgreSQL backends\n\
         serving the benchmark database (not the WAL writer); nats/op: of every nats-server process on\n\
         the machine (other users of it count too). Everything shares {} cores.",
        b.machine().nproc
    ));
    let analysis = Analysis::new(&b, &rounds);
    b.note(analysis.text(&b));
    b.json("gateway_over_direct", analysis.ratios_json());
    b.json("rsa_per_message", analysis.paths_json());
    b.json("async_over_raw", analysis.async_json());
    b.json("added_p50_per_hop", analysis.hops_json());
    b.json("aims", analysis.aims_json());
    let outcome = b.finish();
    drop(w);
    eprintln!("fixture: world dropped (database, streams)");
    outcome
}

/// An echo recipient (as in the gateway's tests): verifies the request, answers with its
/// payload in a response signed by the recipient.
struct Echo {
    signer: SystemSigner,
    verifier: Arc<egov_pki::Verifier>,
}

#[tonic::async_trait]
impl SyncChannel for Echo {
    async fn send_message(
        &self,
        request: tonic::Request<SyncSendMessageRequest>,
    ) -> Result<tonic::Response<SyncSendMessageResponse>, tonic::Status> {
        let env = request.into_inner().envelope.unwrap_or_default();
        let opened = envelope::open_request(&env, &self.verifier)
            .await
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        let info =
            self.signer
                .response_info(&opened.header, codes::SUCCESS, "processed successfully");
        let out = self
            .signer
            .seal_response(&info, opened.payload)
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(SyncSendMessageResponse {
            envelope: Some(out),
        }))
    }
}

/// Runs an echo of `id` until the world stops; where it listens.
async fn spawn_echo(w: &World, id: &str, nodelay: bool) -> Result<std::net::SocketAddr> {
    let tls = egov_grpc::TlsIdentity::load(&w.pki, id)?;
    let echo = Echo {
        signer: SystemSigner::load(&w.pki, id)?,
        verifier: w.verifier(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // TCP_NODELAY on the accepted connections, as the clients' channels have it: without
    // it, small response writes wait for the client's delayed ACK (~40 ms on Linux)
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(move |conn| {
        if nodelay && let Ok(c) = &conn {
            let _ = c.set_nodelay(true);
        }
        conn
    });
    let server = tonic::transport::Server::builder()
        .tls_config(tls.server_tls())?
        .add_service(SyncChannelServer::new(echo))
        .serve_with_incoming_shutdown(incoming, w.cancel.clone().cancelled_owned());
    let id = id.to_string();
    w.spawn(async move {
        if let Err(e) = server.await {
            eprintln!("warning: the {id} echo ended with an error: {e}");
        }
    });
    Ok(addr)
}

/// A sync call of `gbd-fl.person.get` that must come back from the gbd-fl echo with the
/// payload unchanged.
fn sync_call(client: Client, payload: Arc<Vec<u8>>) -> Op {
    op(move || {
        let (client, payload) = (client.clone(), payload.clone());
        async move {
            let r = client.call(SYNC_SERVICE, "", "", payload.to_vec()).await?;
            check_reply(&r, codes::SUCCESS, "gbd-fl")?;
            ensure!(r.payload == *payload, "the answer's payload differs");
            Ok(())
        }
    })
}

async fn all_cases(
    b: &mut Bench,
    w: &mut World,
    echo: std::net::SocketAddr,
    rounds: &mut Rounds,
) -> Result<()> {
    let small = Arc::new(filler(PAYLOAD_SMALL, 1));
    let large = Arc::new(filler(PAYLOAD_LARGE, 2));

    // sections 1 and 2 in rounds: each gateway path beside the direct calls, one set for
    // 1 in flight and one for 16
    let direct = w.client_to("portal", "portal", "gbd-fl", echo);
    // each on the gateway the registry registers it on: РШЭП Алматы, ШЭП
    let mio = w.client("mio-almaty");
    let portal = w.client("portal");
    let mut sync = Vec::new();
    for n in [1, IN_FLIGHT] {
        let suffix = if n == 1 { "seq" } else { "c16" };
        sync.push(vec![
            Arm::new(
                format!("direct.{suffix}"),
                format!("portal → gbd-fl echo, direct, {n} in flight"),
                n,
                sync_call(direct.clone(), small.clone()),
            ),
            Arm::new(
                format!("shep.{suffix}"),
                format!("portal → ШЭП → gbd-fl, {n} in flight"),
                n,
                sync_call(portal.clone(), small.clone()),
            ),
            Arm::new(
                format!("rshep.{suffix}"),
                format!("mio-almaty → РШЭП → ШЭП → gbd-fl, {n} in flight"),
                n,
                sync_call(mio.clone(), small.clone()),
            ),
        ]);
    }
    let mut measured = Vec::new();
    for set in sync {
        measured.extend(rounds.run(b, set).await?);
    }
    b.section(
        "1. point to point, no gateway (1 KiB, mTLS, request and answer signed and verified)",
    );
    record(b, &mut measured, &["direct.seq", "direct.c16"]);
    b.section("2. through the gateways, sync (1 KiB, OCSP via uc with cache, message log on)");
    record(
        b,
        &mut measured,
        &["rshep.seq", "rshep.c16", "shep.seq", "shep.c16"],
    );

    // section 3 in rounds: each async case beside raw publishes of the same size
    let raw_subject = format!("{}.bench.raw", w.prefix);
    w.create_stream(jetstream::stream::Config {
        name: format!("{}_BENCH_RAW", w.prefix.to_ascii_uppercase()),
        subjects: vec![raw_subject.clone()],
        // as the inbox stream
        storage: jetstream::stream::StorageType::File,
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let js = w.js();
    let mut set = Vec::new();
    for (async_id, raw_id, payload, size) in [
        ("async.1k", "raw.1k", &small, "1 KiB"),
        ("async.16k", "raw.16k", &large, "16 KiB"),
    ] {
        let send = shared::async_send(
            portal.clone(),
            ASYNC_SERVICE,
            ASYNC_REGION,
            ASYNC_GATEWAY,
            payload.clone(),
        );
        set.push(Arm::new(
            async_id,
            format!("send_async portal → ШЭП → РШЭП → inbox, {size}, {IN_FLIGHT} in flight"),
            IN_FLIGHT,
            send,
        ));

        let (js, subject, payload_r) = (js.clone(), raw_subject.clone(), payload.clone());
        let publish = op(move || {
            let (js, subject, payload) = (js.clone(), subject.clone(), payload_r.clone());
            async move {
                let ack = js.publish(subject, payload.to_vec().into()).await?.await?;
                ensure!(!ack.duplicate, "the stream reported a duplicate");
                Ok(())
            }
        });
        set.push(Arm::new(
            raw_id,
            format!("raw JetStream publish + ack, {size}, {IN_FLIGHT} in flight"),
            IN_FLIGHT,
            publish,
        ));
    }
    let mut measured = rounds.run(b, set).await?;
    b.section("3. async into the mio-almaty inbox vs raw JetStream publish (x base: async/raw)");
    record(
        b,
        &mut measured,
        &["async.1k", "raw.1k", "async.16k", "raw.16k"],
    );

    b.section("4. crypto bound (RSA-2048, SHA-256)");
    crypto_cases(b, w).await?;

    b.section(
        "5. context: the message log alone (Journal::append into PostgreSQL, the gateways' options)",
    );
    journal_cases(b, &w.db.url).await
}

// ---------------------------------------------------------------------------------------
// rounds: the cases compared with each other run in turns

/// How the compared cases alternate: `rounds` rounds; in each, every case of a set runs
/// for `slice` after `warmup` (and at least `min_iters` times per worker), in the set's
/// order on even rounds and in the reverse order on odd ones, so that a change of the
/// machine's load during the run falls on both sides of every ratio.
#[derive(Debug, Clone, Copy)]
struct Plan {
    mode: Mode,
    rounds: usize,
    slice: Duration,
    warmup: Duration,
    min_iters: usize,
}

impl Plan {
    fn of(b: &Bench) -> Plan {
        let given = b
            .args()
            .count("rounds")
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX).max(1));
        let ms = Duration::from_millis;
        let (rounds, slice, warmup, min_iters) = match b.mode() {
            Mode::Full => (12, ms(500), ms(60), 3),
            Mode::Quick => (5, ms(200), ms(30), 2),
            Mode::Smoke => (1, Duration::ZERO, Duration::ZERO, 2),
        };
        Plan {
            mode: b.mode(),
            rounds: given.unwrap_or(rounds),
            slice,
            warmup,
            min_iters,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "rounds": self.rounds,
            "slice_ms": self.slice.as_secs_f64() * 1e3,
            "warmup_ms": self.warmup.as_secs_f64() * 1e3,
            "order": "each set in order on even rounds, reversed on odd rounds",
            "ratio": "median of the per-round ratios; p25/p75 and min/max their spread",
            "rough": self.mode == Mode::Quick,
        })
    }
}

/// One case of a set run in rounds.
struct Arm {
    id: String,
    label: String,
    workers: usize,
    op: Op,
}

impl Arm {
    fn new(id: impl Into<String>, label: impl Into<String>, workers: usize, op: Op) -> Arm {
        Arm {
            id: id.into(),
            label: label.into(),
            workers,
            op,
        }
    }
}

/// What one case did in one round.
#[derive(Debug, Clone)]
struct Slice {
    elapsed: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    cpu: Option<CpuTime>,
}

impl Slice {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn p50(&self) -> Option<f64> {
        Some(percentile(&self.latencies, 50.0)?.as_secs_f64())
    }

    /// CPU seconds per operation charged to the case `id` (see [`charged`]).
    fn cpu_per_op(&self, id: &str) -> Option<f64> {
        let total = charged(self.cpu?, id);
        (total > 0.0 && !self.latencies.is_empty()).then(|| total / self.latencies.len() as f64)
    }
}

/// The CPU time charged to the case `id`: this process and PostgreSQL's backends, and
/// NATS for the cases that use it (the async sends, the raw publishes). The machine's
/// NATS server serves others too, whose work would otherwise be charged to sync paths.
fn charged(cpu: CpuTime, id: &str) -> f64 {
    let nats = if id.starts_with("async.") || id.starts_with("raw.") {
        cpu.nats
    } else {
        0.0
    };
    cpu.process + cpu.postgres + nats
}

/// The rounds of a run: the plan, and every slice of every case run in rounds, by case
/// id, in round order.
struct Rounds {
    plan: Plan,
    meter: CpuMeter,
    slices: BTreeMap<String, Vec<Slice>>,
}

impl Rounds {
    fn new(plan: Plan, meter: CpuMeter) -> Rounds {
        Rounds {
            plan,
            meter,
            slices: BTreeMap::new(),
        }
    }

    /// Runs the arms the filters select in rounds; one case per arm, pooling its slices.
    async fn run(&mut self, b: &Bench, arms: Vec<Arm>) -> Result<Vec<Case>> {
        let arms: Vec<Arm> = arms.into_iter().filter(|a| b.selects(&a.id)).collect();
        if arms.is_empty() {
            return Ok(Vec::new());
        }
        let plan = self.plan;
        eprintln!(
            "  {} in {} rounds of {} each, alternating",
            arms.iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            plan.rounds,
            fmt_secs(plan.slice.as_secs_f64()),
        );
        let mut slices: Vec<Vec<Slice>> = arms.iter().map(|_| Vec::new()).collect();
        for round in 0..plan.rounds {
            let mut order: Vec<usize> = (0..arms.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut line = format!("    round {:>2}/{}:", round + 1, plan.rounds);
            for i in order {
                let arm = &arms[i];
                let limit = plan.warmup + plan.slice + Duration::from_secs(60);
                let slice = tokio::time::timeout(
                    limit,
                    run_slice(&plan, &self.meter, arm.workers, &arm.op),
                )
                .await
                .map_err(|_| anyhow!("{}: a round did not finish within {limit:?}", arm.label))?
                .with_context(|| arm.label.clone())?;
                line.push_str(&format!(" {} {}/s", arm.id, fmt_rate(slice.rate())));
                slices[i].push(slice);
            }
            eprintln!("{line}");
        }
        let mut cases = Vec::new();
        for (arm, slices) in arms.into_iter().zip(slices) {
            let elapsed = slices.iter().map(|s| s.elapsed).sum();
            let latencies = slices.iter().flat_map(|s| s.latencies.clone()).collect();
            let cpu = slices
                .iter()
                .map(|s| s.cpu)
                .try_fold(CpuTime::default(), |sum, c| {
                    let c = c?;
                    Some(CpuTime {
                        process: sum.process + c.process,
                        postgres: sum.postgres + c.postgres,
                        nats: sum.nats + c.nats,
                    })
                });
            let mut case = Case::new(
                &arm.id,
                arm.label,
                Some(Load::InFlight(arm.workers)),
                elapsed,
                latencies,
            );
            case.cpu = cpu;
            cases.push(case);
            self.slices.insert(arm.id, slices);
        }
        Ok(cases)
    }

    /// The per-round ratios of the rates of `id` and `base`.
    fn ratios(&self, id: &str, base: &str) -> Vec<f64> {
        let (Some(a), Some(b)) = (self.slices.get(id), self.slices.get(base)) else {
            return Vec::new();
        };
        a.iter()
            .zip(b)
            .map(|(a, b)| a.rate() / b.rate().max(1e-9))
            .collect()
    }

    /// The per-round ratios of the CPU time per operation ([`charged`]) of `base` and
    /// `id`: the ratio of the rates each would reach on cores of its own, which other
    /// processes taking the cores do not move.
    fn cpu_ratios(&self, id: &str, base: &str) -> Vec<f64> {
        let (Some(a), Some(b)) = (self.slices.get(id), self.slices.get(base)) else {
            return Vec::new();
        };
        a.iter()
            .zip(b)
            .filter_map(|(a, b)| Some(b.cpu_per_op(base)? / a.cpu_per_op(id)?))
            .collect()
    }

    /// The per-round rates of `id`.
    fn rates(&self, id: &str) -> Vec<f64> {
        self.slices
            .get(id)
            .map(|s| s.iter().map(Slice::rate).collect())
            .unwrap_or_default()
    }

    /// The per-round differences of the median latencies of `id` and `base`, seconds.
    fn added_p50(&self, id: &str, base: &str) -> Vec<f64> {
        let (Some(a), Some(b)) = (self.slices.get(id), self.slices.get(base)) else {
            return Vec::new();
        };
        a.iter()
            .zip(b)
            .filter_map(|(a, b)| Some(a.p50()? - b.p50()?))
            .collect()
    }
}

/// Moves the cases `ids` (in that order) out of `measured` into the bench's table.
fn record(b: &mut Bench, measured: &mut Vec<Case>, ids: &[&str]) {
    for id in ids {
        if let Some(i) = measured.iter().position(|c| c.id == *id) {
            b.record(measured.remove(i));
        }
    }
}

/// One case's slice of a round: `workers` workers warm up, start together, call `op`
/// again and again until the slice is spent; the time runs until the last one is done.
async fn run_slice(plan: &Plan, meter: &CpuMeter, workers: usize, op: &Op) -> Result<Slice> {
    let barrier = Arc::new(tokio::sync::Barrier::new(workers + 1));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (op, barrier, plan) = (op.clone(), barrier.clone(), *plan);
        set.spawn(async move {
            let warm = Instant::now();
            let warmed = loop {
                if let Err(e) = op().await {
                    break Err(e);
                }
                if warm.elapsed() >= plan.warmup {
                    break Ok(());
                }
            };
            // wait even after a failure, so that the others are not left hanging
            barrier.wait().await;
            warmed.context("warm-up")?;
            let mut latencies = Vec::new();
            let start = Instant::now();
            while latencies.len() < plan.min_iters || start.elapsed() < plan.slice {
                let t = Instant::now();
                op().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    barrier.wait().await;
    let cpu = meter.sample();
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut failure = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(anyhow!("worker task: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = meter.sample().since(cpu);
    if let Some(e) = failure {
        return Err(e);
    }
    latencies.sort_unstable();
    Ok(Slice {
        elapsed,
        latencies,
        cpu: Some(cpu),
    })
}

/// A sample's median and spread.
#[derive(Debug, Clone, Copy)]
struct Spread {
    median: f64,
    p25: f64,
    p75: f64,
    min: f64,
    max: f64,
    n: usize,
}

impl Spread {
    /// `None` for an empty sample. Quantiles interpolate between the sorted values.
    fn of(mut xs: Vec<f64>) -> Option<Spread> {
        xs.retain(|x| x.is_finite());
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (xs.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
        };
        Some(Spread {
            median: q(0.5),
            p25: q(0.25),
            p75: q(0.75),
            min: xs[0],
            max: xs[xs.len() - 1],
            n: xs.len(),
        })
    }

    /// "0.612 (0.590–0.640)": the median and its quartiles.
    fn text(&self) -> String {
        format!("{:.3} ({:.3}–{:.3})", self.median, self.p25, self.p75)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "median": self.median,
            "p25": self.p25,
            "p75": self.p75,
            "min": self.min,
            "max": self.max,
            "rounds": self.n,
        })
    }
}

// ---------------------------------------------------------------------------------------
// 4. crypto bound

async fn crypto_cases(b: &mut Bench, w: &World) -> Result<()> {
    // a filtered run (a profile of one path) makes no key it does not use
    const IDS: [&str; 6] = [
        "crypto.sign",
        "crypto.sign_all_cores",
        "crypto.verify",
        "crypto.seal",
        "crypto.open_crl",
        "crypto.open_ocsp",
    ];
    if !IDS.iter().any(|id| b.selects(id)) {
        return Ok(());
    }
    let nproc = b.machine().nproc;
    let msg = Arc::new(filler(PAYLOAD_SMALL, 3));
    let key = Arc::new(PrivateKey::generate(KeyAlgorithm::Rsa2048)?);
    ensure!(key.algorithm() == KeyAlgorithm::Rsa2048, "not an RSA key");

    let sign = {
        let (key, msg) = (key.clone(), msg.clone());
        op(move || {
            let r = key.sign(&msg).map(drop).map_err(Into::into);
            async move { r }
        })
    };
    b.closed_loop(
        "crypto.sign",
        "RSA-2048 sign (PrivateKey::sign, 1 KiB)",
        1,
        sign.clone(),
    )
    .await?;
    b.closed_loop(
        "crypto.sign_all_cores",
        format!("RSA-2048 sign, {nproc} signers at once"),
        nproc,
        sign,
    )
    .await?;
    let sig = Arc::new(key.sign(&msg)?);
    let public = Arc::new(UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key_raw(),
    ));
    let verify = op(move || {
        let r = public
            .verify(&msg, &sig)
            .map_err(|_| anyhow!("the signature does not verify"));
        async move { r }
    });
    b.closed_loop("crypto.verify", "RSA-2048 verify, raw aws-lc-rs", 1, verify)
        .await?;

    // one envelope as the portal seals it, opened as the echo and the clients open it
    // (CRL: signature, leaf, issuing CA, CRL) and as the gateways do (OCSP, warm cache:
    // signature, leaf, issuing CA)
    let signer = Arc::new(SystemSigner::load(&w.pki, "portal")?);
    let payload = Arc::new(filler(PAYLOAD_SMALL, 4));
    let seal = {
        let (signer, payload) = (signer.clone(), payload.clone());
        op(move || {
            let info = signer.request_info(SYNC_SERVICE, MessageType::Request, "", "");
            let r = signer
                .seal_request(&info, payload.to_vec())
                .map(drop)
                .map_err(Into::into);
            async move { r }
        })
    };
    b.closed_loop(
        "crypto.seal",
        "envelope seal (seal_request: CMS, 1 RSA sign)",
        1,
        seal,
    )
    .await?;
    let info = signer.request_info(SYNC_SERVICE, MessageType::Request, "", "");
    let env = Arc::new(signer.seal_request(&info, payload.to_vec())?);
    for (id, label, verifier) in [
        (
            "crypto.open_crl",
            "envelope open, CRL (echo, clients: 2 RSA verifies)",
            envelope::pki_verifier(&w.pki, None)?,
        ),
        (
            "crypto.open_ocsp",
            "envelope open, OCSP cached (gateways: 1 RSA verify)",
            envelope::pki_verifier(&w.pki, Some(&w.ocsp_url))?,
        ),
    ] {
        let env = env.clone();
        let open = op(move || {
            let (env, verifier) = (env.clone(), verifier.clone());
            async move {
                envelope::open_request(&env, &verifier).await?;
                Ok(())
            }
        });
        b.closed_loop(id, label, 1, open).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 5. the message log alone

/// A record as a gateway writes for a request coming in.
fn journal_record(gateway_id: &str) -> journal::Record {
    let id = message_id();
    let now = OffsetDateTime::now_utc();
    journal::Record {
        gateway_id: gateway_id.to_string(),
        event: journal::Event::RequestIn,
        channel: journal::Channel::Sync,
        message_id: id.clone(),
        correlation_id: id,
        service_id: SYNC_SERVICE.into(),
        sender_id: "portal".into(),
        recipient_id: Some("gbd-fl".into()),
        message_type: "REQUEST".into(),
        region: None,
        route: vec![gateway_id.to_string()],
        payload_size: PAYLOAD_SMALL as i64,
        signature_size: 1800,
        payload_sha256: "0".repeat(64),
        signer_serial: Some("01".into()),
        verification: "ok".into(),
        status_code: "IN".into(),
        status_message: String::new(),
        at: now,
        request_in_at: Some(now),
        request_out_at: None,
        response_in_at: None,
        response_out_at: None,
        duration_ms: None,
        trace_id: None,
    }
}

/// A unique message id for the journal cases.
fn message_id() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn journal_cases(b: &mut Bench, database_url: &str) -> Result<()> {
    if !["journal.seq", "journal.c16"]
        .iter()
        .any(|id| b.selects(id))
    {
        return Ok(());
    }
    // the gateways' schema and options; a chain of its own, so as not to fork theirs
    let pool = egov_db::pool(database_url, "gateway", 16).await?;
    let journal = Journal::open(pool.clone(), JournalOptions::default()).await?;
    let outcome = async {
        for (id, n) in [("journal.seq", 1), ("journal.c16", IN_FLIGHT)] {
            let journal = journal.clone();
            let append = op(move || {
                let journal = journal.clone();
                async move {
                    journal.append(journal_record("bench-journal")).await?;
                    Ok(())
                }
            });
            let label = format!("message log append (Journal::append), {n} in flight");
            b.closed_loop(id, label, n, append).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    journal.shutdown().await;
    pool.close().await;
    outcome
}

// ---------------------------------------------------------------------------------------
// where the time goes

/// RSA operations per message of one path (read from the code: `SystemSigner::seal_*`
/// signs once; opening an envelope verifies its signature, the CA signatures of the
/// sender's chain only the first time the verifier meets that certificate (the
/// verifier's chain cache), then revocation: the CRL's signature on every call (the echo
/// and the clients: 2 verifications), nothing for a cached OCSP answer (the gateways: 1)).
struct PathCost {
    name: &'static str,
    /// The concurrent case of the path.
    case: &'static str,
    signs: u32,
    verifies: u32,
    how: &'static str,
}

static PATHS: [PathCost; 4] = [
    PathCost {
        name: "direct (sync)",
        case: "direct.c16",
        signs: 2,
        verifies: 4,
        how: "portal signs; echo verifies (2); echo signs; portal verifies (2)",
    },
    PathCost {
        name: "portal → ШЭП → gbd-fl",
        case: "shep.c16",
        signs: 2,
        verifies: 6,
        how: "+ ШЭП verifies the request (1) and the answer (1); no gateway signs",
    },
    PathCost {
        name: "mio → РШЭП → ШЭП → gbd-fl",
        case: "rshep.c16",
        signs: 2,
        verifies: 8,
        how: "+ each of the 2 gateways verifies the request (1) and the answer (1)",
    },
    PathCost {
        name: "async portal → ШЭП → РШЭП",
        case: "async.1k",
        signs: 2,
        verifies: 5,
        how: "portal signs; ШЭП, РШЭП verify (1+1); РШЭП signs ACCEPTED; ШЭП (1), portal (2) verify it",
    },
];

struct PathFigures {
    cost: &'static PathCost,
    /// Crypto CPU seconds per message from the measured single-core sign/verify rates.
    crypto_cpu: f64,
    /// Messages per second if the RSA operations alone used every core.
    crypto_bound: f64,
    measured: Option<f64>,
    /// The measured rate over the crypto bound, round by round.
    of_bound: Option<Spread>,
    cpu_per_msg: Option<CpuTime>,
}

impl PathFigures {
    /// The RSA work's share of all the CPU a message took ([`charged`]): what the path
    /// would reach of its bound on cores it had to itself. Unlike the measured rate, CPU
    /// time does not shrink when other processes take the cores.
    fn rsa_share(&self) -> Option<f64> {
        let total = charged(self.cpu_per_msg?, self.cost.case);
        (total > 0.0 && self.crypto_cpu > 0.0).then(|| self.crypto_cpu / total)
    }
}

/// One ratio of the run: a case's rate over its base's, per round and pooled; and the
/// same from the CPU time per operation.
struct Ratio {
    name: &'static str,
    id: &'static str,
    base: &'static str,
    rounds: Option<Spread>,
    pooled: Option<f64>,
    cpu_rounds: Option<Spread>,
    cpu_pooled: Option<f64>,
}

impl Ratio {
    fn new(
        b: &Bench,
        rounds: &Rounds,
        name: &'static str,
        id: &'static str,
        base: &'static str,
    ) -> Self {
        let cpu = |id: &str| {
            let c = charged(b.case(id)?.cpu_per_op()?, id);
            (c > 0.0).then_some(c)
        };
        Ratio {
            name,
            id,
            base,
            rounds: Spread::of(rounds.ratios(id, base)),
            pooled: b.ratio(id, base),
            cpu_rounds: Spread::of(rounds.cpu_ratios(id, base)),
            cpu_pooled: cpu(base).zip(cpu(id)).map(|(base, id)| base / id),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "case": self.name,
            // the median of the rounds (before the rounds: one run of each case)
            "ratio": self.rounds.map(|s| s.median),
            "id": self.id,
            "base": self.base,
            "rounds": self.rounds.map(|s| s.json()),
            "pooled": self.pooled,
            "cpu_ratio": self.cpu_rounds.map(|s| s.median),
            "cpu_rounds": self.cpu_rounds.map(|s| s.json()),
            "cpu_pooled": self.cpu_pooled,
        })
    }
}

/// An aim of the gateway path and whether this run meets it.
struct Aim {
    what: String,
    /// The figure: a ratio (higher is better) or seconds (lower is better).
    value: Option<Spread>,
    /// The same ratio from CPU time per message, where there is one.
    cpu: Option<Spread>,
    target: f64,
    higher_is_better: bool,
}

impl Aim {
    fn meets(&self, v: Option<Spread>) -> Option<bool> {
        let v = v?.median;
        Some(if self.higher_is_better {
            v >= self.target
        } else {
            v <= self.target
        })
    }

    fn met(&self) -> Option<bool> {
        self.meets(self.value)
    }

    fn cpu_met(&self) -> Option<bool> {
        self.meets(self.cpu)
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "-",
    }
}

/// The RSA work of each path beside what was measured, and the gateways over the direct
/// calls.
struct Analysis {
    nproc: usize,
    rough: bool,
    sign_secs: Option<f64>,
    verify_secs: Option<f64>,
    paths: Vec<PathFigures>,
    /// gateway/direct for (2 hops, 1 hop) × (sequential, concurrent).
    ratios: Vec<Ratio>,
    /// async/raw for 1 KiB and 16 KiB.
    async_ratios: Vec<Ratio>,
    /// The p50 latency one hop adds at 1 in flight, round by round: through ШЭП, and
    /// half of what РШЭП and ШЭП add together.
    hop1: Option<Spread>,
    hop2: Option<Spread>,
}

/// Seconds of one operation of a single-worker CPU-bound case: its median latency (other
/// load on the machine stretches the tail and the mean, rarely the median).
fn cost_of(b: &Bench, id: &str) -> Option<f64> {
    Some(b.case(id)?.percentile(50.0)?.as_secs_f64())
}

/// The case a case is compared with.
fn baseline_of(id: &str) -> Option<&'static str> {
    Some(match id {
        "rshep.seq" | "shep.seq" => "direct.seq",
        "rshep.c16" | "shep.c16" => "direct.c16",
        "async.1k" => "raw.1k",
        "async.16k" => "raw.16k",
        "crypto.sign_all_cores" => "crypto.sign",
        _ => return None,
    })
}

/// The paths of [`PATHS`] whose 16-in-flight rate the issue holds against its bound.
const BOUND_AIMED: [&str; 3] = ["shep.c16", "rshep.c16", "async.1k"];

impl Analysis {
    fn new(b: &Bench, rounds: &Rounds) -> Self {
        let nproc = b.machine().nproc;
        let sign_secs = cost_of(b, "crypto.sign");
        let verify_secs = cost_of(b, "crypto.verify");
        let paths = PATHS
            .iter()
            .map(|cost| {
                let crypto_cpu = f64::from(cost.signs) * sign_secs.unwrap_or(0.0)
                    + f64::from(cost.verifies) * verify_secs.unwrap_or(0.0);
                let crypto_bound = if crypto_cpu > 0.0 {
                    nproc as f64 / crypto_cpu
                } else {
                    0.0
                };
                PathFigures {
                    cost,
                    crypto_cpu,
                    crypto_bound,
                    measured: b.rate(cost.case),
                    of_bound: (crypto_bound > 0.0)
                        .then(|| {
                            Spread::of(
                                rounds
                                    .rates(cost.case)
                                    .into_iter()
                                    .map(|r| r / crypto_bound)
                                    .collect(),
                            )
                        })
                        .flatten(),
                    cpu_per_msg: b.case(cost.case).and_then(Case::cpu_per_op),
                }
            })
            .collect();
        let ratios = vec![
            Ratio::new(b, rounds, "2 hops, 1 in flight", "rshep.seq", "direct.seq"),
            Ratio::new(b, rounds, "2 hops, 16 in flight", "rshep.c16", "direct.c16"),
            Ratio::new(b, rounds, "1 hop, 1 in flight", "shep.seq", "direct.seq"),
            Ratio::new(b, rounds, "1 hop, 16 in flight", "shep.c16", "direct.c16"),
        ];
        let async_ratios = vec![
            Ratio::new(b, rounds, "async 1 KiB ÷ raw publish", "async.1k", "raw.1k"),
            Ratio::new(
                b,
                rounds,
                "async 16 KiB ÷ raw publish",
                "async.16k",
                "raw.16k",
            ),
        ];
        let hop1 = Spread::of(rounds.added_p50("shep.seq", "direct.seq"));
        let hop2 = Spread::of(
            rounds
                .added_p50("rshep.seq", "direct.seq")
                .into_iter()
                .map(|x| x / 2.0)
                .collect(),
        );
        Analysis {
            nproc,
            rough: rounds.plan.mode == Mode::Quick,
            sign_secs,
            verify_secs,
            paths,
            ratios,
            async_ratios,
            hop1,
            hop2,
        }
    }

    fn ratio(&self, id: &str) -> Option<&Ratio> {
        self.ratios.iter().find(|r| r.id == id)
    }

    /// The aims of the gateway path (ratios in one run of this bench).
    fn aims(&self) -> Vec<Aim> {
        let mut aims = Vec::new();
        for (id, what, target) in [
            ("rshep.c16", "2 hops ÷ direct, 16 in flight", 0.7),
            ("rshep.seq", "2 hops ÷ direct, 1 in flight", 0.5),
            ("shep.c16", "1 hop ÷ direct, 16 in flight", 0.85),
            ("shep.seq", "1 hop ÷ direct, 1 in flight", 0.7),
        ] {
            aims.push(Aim {
                what: format!("{what} ≥ {target}"),
                value: self.ratio(id).and_then(|r| r.rounds),
                cpu: self.ratio(id).and_then(|r| r.cpu_rounds),
                target,
                higher_is_better: true,
            });
        }
        for p in self
            .paths
            .iter()
            .filter(|p| BOUND_AIMED.contains(&p.cost.case))
        {
            aims.push(Aim {
                what: format!("{} ≥ 0.7 of its RSA bound", p.cost.name),
                value: p.of_bound,
                cpu: p.rsa_share().and_then(|s| Spread::of(vec![s])),
                target: 0.7,
                higher_is_better: true,
            });
        }
        for (what, value) in [
            ("added p50 per hop at 1 in flight (1 hop) ≤ 1 ms", self.hop1),
            (
                "added p50 per hop at 1 in flight (2 hops, each) ≤ 1 ms",
                self.hop2,
            ),
        ] {
            aims.push(Aim {
                what: what.to_string(),
                value,
                cpu: None,
                target: 1e-3,
                higher_is_better: false,
            });
        }
        aims
    }

    /// The paragraphs printed after the table.
    fn text(&self, b: &Bench) -> String {
        let mut out = String::new();
        if self.rough {
            out.push_str(
                "QUICK RUN: the medians rest on 5 short rounds and may differ between runs by more \
                 than ±0.05;\nrun without --quick to compare.\n\n",
            );
        }
        out.push_str(
            "Ratios per round, median (quartiles) [min–max] of the rounds; pooled: over all rounds.\n\
             rate: a case's rate over its base's in the same round; cpu: the base's CPU time per\n\
             message over the case's (this process + PostgreSQL, + NATS for the async and raw cases),\n\
             the rate ratio on cores of their own, which other processes on the machine do not move:\n",
        );
        let opt = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
        let spread = |s: Option<Spread>| {
            s.map_or_else(
                || "-".to_string(),
                |s| format!("{} [{:.3}–{:.3}]", s.text(), s.min, s.max),
            )
        };
        for r in self.ratios.iter().chain(&self.async_ratios) {
            out.push_str(&format!(
                "  {:<28} rate {:<34} pooled {}\n  {:<28} cpu  {:<34} pooled {}\n",
                r.name,
                spread(r.rounds),
                opt(r.pooled),
                "",
                spread(r.cpu_rounds),
                opt(r.cpu_pooled),
            ));
        }
        out.push_str(&format!(
            "  ({} rounds)\n",
            self.ratios
                .iter()
                .filter_map(|r| r.rounds.map(|s| s.n))
                .max()
                .unwrap_or(0)
        ));
        let (Some(sign), Some(verify)) = (self.sign_secs, self.verify_secs) else {
            return out;
        };
        out.push_str(&format!(
            "\nRSA operations per message (one RSA-2048 sign {}, one verify {}: p50 on one core; {} cores):\n",
            fmt_secs(sign),
            fmt_secs(verify),
            self.nproc
        ));
        out.push_str(&format!(
            "  {:<28} {:>5} {:>8} {:>10} {:>12} {:>10} {:>21} {:>10} {:>9} {:>6} {:>9}\n",
            "path",
            "signs",
            "verifies",
            "crypto/msg",
            "crypto bound",
            "measured",
            "of bound (quartiles)",
            "cpu/msg",
            "pg/msg",
            "cores",
            "rsa/cpu"
        ));
        for p in &self.paths {
            let cpu = p.cpu_per_msg.unwrap_or_default();
            let busy = p.measured.map(|r| r * cpu.total());
            out.push_str(&format!(
                "  {:<28} {:>5} {:>8} {:>10} {:>10}/s {:>8}/s {:>21} {:>10} {:>9} {:>6} {:>9}\n",
                p.cost.name,
                p.cost.signs,
                p.cost.verifies,
                fmt_secs(p.crypto_cpu),
                fmt_rate(p.crypto_bound),
                p.measured.map_or_else(|| "-".to_string(), fmt_rate),
                p.of_bound.map_or_else(|| "-".to_string(), |s| s.text()),
                fmt_secs(cpu.process),
                fmt_secs(cpu.postgres),
                busy.map_or_else(|| "-".to_string(), |b| format!("{b:.2}")),
                p.rsa_share()
                    .map_or_else(|| "-".to_string(), |s| format!("{s:.3}")),
            ));
        }
        for p in &self.paths {
            out.push_str(&format!("    {}: {}\n", p.cost.name, p.cost.how));
        }
        out.push_str(&format!(
            "  crypto/msg: the RSA work alone; crypto bound: messages per second if that work alone kept\n\
             every core busy; measured, cpu/msg, pg/msg: the 16-in-flight case of the path (CPU time of\n\
             this process and of PostgreSQL per message); of bound: measured / crypto bound, per round;\n\
             cores: the cores those kept busy (measured x (cpu + pg + nats)/msg): well below {} means the\n\
             path waits rather than computes; rsa/cpu: crypto/msg over (cpu + pg)/msg (+ nats for the\n\
             async path), what the path would reach of its bound on cores of its own (CPU time is not\n\
             taken by other processes).\n",
            self.nproc
        ));
        let p50 = |id: &str| cost_of(b, id);
        if let (Some(direct), Some(one), Some(two)) =
            (p50("direct.seq"), p50("shep.seq"), p50("rshep.seq"))
        {
            let per_round = |s: Option<Spread>| {
                s.map_or_else(
                    || "-".to_string(),
                    |s| {
                        format!(
                            "{} ({}–{})",
                            fmt_secs(s.median),
                            fmt_secs(s.p25),
                            fmt_secs(s.p75)
                        )
                    },
                )
            };
            out.push_str(&format!(
                "\nSequential latency (p50 over all rounds): direct {}; 1 hop {}; 2 hops {}.\n\
                 Added per hop, median of the rounds (quartiles): {} through ШЭП alone; {} each through\n\
                 РШЭП and ШЭП.\n",
                fmt_secs(direct),
                fmt_secs(one),
                fmt_secs(two),
                per_round(self.hop1),
                per_round(self.hop2),
            ));
            if let (Some(append), Some(open)) = (p50("journal.seq"), p50("crypto.open_ocsp")) {
                let known = 2.0 * append + 2.0 * open;
                out.push_str(&format!(
                    "Per hop the gateway waits for 2 message-log commits (one append alone: {} p50, 1 in\n\
                     flight) and opens 2 envelopes ({} each, OCSP answer cached): {} per hop.\n",
                    fmt_secs(append),
                    fmt_secs(open),
                    fmt_secs(known),
                ));
            }
        }
        out.push_str(&format!(
            "\nAims (medians of the rounds; cpu: from CPU time per message, see above):\n  {:<56} {:<30} {:<8} {:<22} {}\n",
            "aim", "measured", "", "cpu", ""
        ));
        for aim in self.aims() {
            let value = aim.value.map_or_else(
                || "-".to_string(),
                |s| {
                    if aim.higher_is_better {
                        s.text()
                    } else {
                        format!(
                            "{} ({}–{})",
                            fmt_secs(s.median),
                            fmt_secs(s.p25),
                            fmt_secs(s.p75)
                        )
                    }
                },
            );
            let cpu = aim
                .cpu
                .map_or_else(|| "-".to_string(), |s| format!("{:.3}", s.median));
            out.push_str(&format!(
                "  {:<56} {:<30} {:<8} {:<22} {}\n",
                aim.what,
                value,
                verdict(aim.met()),
                cpu,
                verdict(aim.cpu_met()),
            ));
        }
        out
    }

    fn ratios_json(&self) -> serde_json::Value {
        serde_json::json!(self.ratios.iter().map(Ratio::json).collect::<Vec<_>>())
    }

    fn async_json(&self) -> serde_json::Value {
        serde_json::json!(
            self.async_ratios
                .iter()
                .map(Ratio::json)
                .collect::<Vec<_>>()
        )
    }

    fn hops_json(&self) -> serde_json::Value {
        let us = |s: Option<Spread>| {
            s.map(|s| {
                serde_json::json!({
                    "median_us": s.median * 1e6,
                    "p25_us": s.p25 * 1e6,
                    "p75_us": s.p75 * 1e6,
                    "rounds": s.n,
                })
            })
        };
        serde_json::json!({ "one_hop": us(self.hop1), "two_hops_each": us(self.hop2) })
    }

    fn aims_json(&self) -> serde_json::Value {
        serde_json::json!(
            self.aims()
                .iter()
                .map(|a| serde_json::json!({
                    "aim": a.what,
                    "target": a.target,
                    "median": a.value.map(|s| s.median),
                    "p25": a.value.map(|s| s.p25),
                    "p75": a.value.map(|s| s.p75),
                    "met": a.met(),
                    "cpu": a.cpu.map(|s| s.median),
                    "cpu_met": a.cpu_met(),
                }))
                .collect::<Vec<_>>()
        )
    }

    fn paths_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sign_us": self.sign_secs.map(|x| x * 1e6),
            "verify_us": self.verify_secs.map(|x| x * 1e6),
            "paths": self.paths.iter().map(|p| {
                serde_json::json!({
                    "path": p.cost.name,
                    "case": p.cost.case,
                    "signs": p.cost.signs,
                    "verifies": p.cost.verifies,
                    "how": p.cost.how,
                    "crypto_us_per_msg": p.crypto_cpu * 1e6,
                    "crypto_bound_msgs_per_sec": p.crypto_bound,
                    "measured_msgs_per_sec": p.measured,
                    "of_bound": p.of_bound.map(|s| s.json()),
                    "rsa_share_of_cpu": p.rsa_share(),
                    "process_cpu_us_per_msg": p.cpu_per_msg.map(|c| c.process * 1e6),
                    "postgres_cpu_us_per_msg": p.cpu_per_msg.map(|c| c.postgres * 1e6),
                    "nats_cpu_us_per_msg": p.cpu_per_msg.map(|c| c.nats * 1e6),
                })
            }).collect::<Vec<_>>(),
        })
    }
}
