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
//! Every case also reports the CPU time per operation of this process (client, echo,
//! gateways and uc all run in it), of the PostgreSQL backends serving the benchmark
//! database and of the machine's `nats-server` processes; after the table, the RSA
//! operations per message of each path and what they cost on this machine.
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
//! cargo bench -p egov-tests --bench gateway               # ~3 s per case
//! cargo bench -p egov-tests --bench gateway -- --quick    # ~0.5 s per case (or BENCH_QUICK=1)
//! cargo bench -p egov-tests --bench gateway -- crypto     # the crypto bound only
//! ```
//!
//! Without the `--bench` flag that `cargo bench` passes (i.e. under `cargo test --benches`)
//! every case runs a couple of iterations only, as a smoke test, and no JSON is written.
//! The figures go to stdout as a table and to `target/bench-gateway.json` (override the
//! path with `BENCH_GATEWAY_JSON`).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
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
    self, Bench, Case, CpuMeter, CpuTime, Op, Spec, Timing, env_flag, filler, fmt_rate, fmt_secs,
    op,
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
    quick: "~0.5 s per case instead of ~3 s",
    full: Timing::new(3_000, 300, 3),
    fast: Timing::new(500, 100, 2),
    smoke: Timing::new(0, 0, 2),
    options: &[],
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
    b.measure_cpu(CpuMeter::new().postgres(&w.db.name).nats());
    b.compare("x base", "ratio_to_baseline", baseline_of);

    all_cases(&mut b, &mut w, echo).await?;

    b.note(format!(
        "fly: operations in flight; x base: ops/s relative to the same in-flight count of section 1\n\
         (section 2), to raw JetStream (section 3), to one signer (section 4). cpu/op: CPU time of this\n\
         process (client, echo, both gateways, uc) per operation; pg/op: of the PostgreSQL backends\n\
         serving the benchmark database (not the WAL writer); nats/op: of every nats-server process on\n\
         the machine (other users of it count too). Everything shares {} cores.",
        b.machine().nproc
    ));
    let analysis = Analysis::new(&b);
    b.note(analysis.text(&b));
    b.json("gateway_over_direct", analysis.ratios_json());
    b.json("rsa_per_message", analysis.paths_json());
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

async fn all_cases(b: &mut Bench, w: &mut World, echo: std::net::SocketAddr) -> Result<()> {
    let small = Arc::new(filler(PAYLOAD_SMALL, 1));
    let large = Arc::new(filler(PAYLOAD_LARGE, 2));

    b.section(
        "1. point to point, no gateway (1 KiB, mTLS, request and answer signed and verified)",
    );
    let direct = w.client_to("portal", "portal", "gbd-fl", echo);
    for (id, n) in [("direct.seq", 1), ("direct.c16", IN_FLIGHT)] {
        let label = format!("portal → gbd-fl echo, direct, {n} in flight");
        b.closed_loop(id, label, n, sync_call(direct.clone(), small.clone()))
            .await?;
    }

    b.section("2. through the gateways, sync (1 KiB, OCSP via uc with cache, message log on)");
    // each on the gateway the registry registers it on: РШЭП Алматы, ШЭП
    let mio = w.client("mio-almaty");
    let portal = w.client("portal");
    for (id, n) in [("rshep.seq", 1), ("rshep.c16", IN_FLIGHT)] {
        let label = format!("mio-almaty → РШЭП → ШЭП → gbd-fl, {n} in flight");
        b.closed_loop(id, label, n, sync_call(mio.clone(), small.clone()))
            .await?;
    }
    for (id, n) in [("shep.seq", 1), ("shep.c16", IN_FLIGHT)] {
        let label = format!("portal → ШЭП → gbd-fl, {n} in flight");
        b.closed_loop(id, label, n, sync_call(portal.clone(), small.clone()))
            .await?;
    }

    b.section("3. async into the mio-almaty inbox vs raw JetStream publish (x base: async/raw)");
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
        let label =
            format!("send_async portal → ШЭП → РШЭП → inbox, {size}, {IN_FLIGHT} in flight");
        b.closed_loop(async_id, label, IN_FLIGHT, send).await?;

        let (js, subject, payload_r) = (js.clone(), raw_subject.clone(), payload.clone());
        let publish = op(move || {
            let (js, subject, payload) = (js.clone(), subject.clone(), payload_r.clone());
            async move {
                let ack = js.publish(subject, payload.to_vec().into()).await?.await?;
                ensure!(!ack.duplicate, "the stream reported a duplicate");
                Ok(())
            }
        });
        let label = format!("raw JetStream publish + ack, {size}, {IN_FLIGHT} in flight");
        b.closed_loop(raw_id, label, IN_FLIGHT, publish).await?;
    }

    b.section("4. crypto bound (RSA-2048, SHA-256)");
    crypto_cases(b, w).await?;

    b.section(
        "5. context: the message log alone (Journal::append into PostgreSQL, the gateways' options)",
    );
    journal_cases(b, &w.db.url).await
}

// ---------------------------------------------------------------------------------------
// 4. crypto bound

async fn crypto_cases(b: &mut Bench, w: &World) -> Result<()> {
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
    cpu_per_msg: Option<CpuTime>,
}

/// The RSA work of each path beside what was measured, and the gateways over the direct
/// calls.
struct Analysis {
    nproc: usize,
    sign_secs: Option<f64>,
    verify_secs: Option<f64>,
    paths: Vec<PathFigures>,
    /// gateway/direct for (1 hop, 2 hops) × (sequential, concurrent).
    ratios: Vec<(&'static str, Option<f64>)>,
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

impl Analysis {
    fn new(b: &Bench) -> Self {
        let nproc = b.machine().nproc;
        let sign_secs = cost_of(b, "crypto.sign");
        let verify_secs = cost_of(b, "crypto.verify");
        let paths = PATHS
            .iter()
            .map(|cost| {
                let crypto_cpu = f64::from(cost.signs) * sign_secs.unwrap_or(0.0)
                    + f64::from(cost.verifies) * verify_secs.unwrap_or(0.0);
                PathFigures {
                    cost,
                    crypto_cpu,
                    crypto_bound: if crypto_cpu > 0.0 {
                        nproc as f64 / crypto_cpu
                    } else {
                        0.0
                    },
                    measured: b.rate(cost.case),
                    cpu_per_msg: b.case(cost.case).and_then(Case::cpu_per_op),
                }
            })
            .collect();
        let ratios = [
            ("2 hops, 1 in flight", "rshep.seq", "direct.seq"),
            ("2 hops, 16 in flight", "rshep.c16", "direct.c16"),
            ("1 hop, 1 in flight", "shep.seq", "direct.seq"),
            ("1 hop, 16 in flight", "shep.c16", "direct.c16"),
        ]
        .into_iter()
        .map(|(name, id, base)| (name, b.ratio(id, base)))
        .collect();
        Analysis {
            nproc,
            sign_secs,
            verify_secs,
            paths,
            ratios,
        }
    }

    /// The paragraphs printed after the table.
    fn text(&self, b: &Bench) -> String {
        let mut out = String::new();
        let ratios: Vec<String> = self
            .ratios
            .iter()
            .map(|(name, r)| {
                let r = r.map_or_else(|| "-".to_string(), |r| format!("{r:.3}"));
                format!("{name} {r}")
            })
            .collect();
        out.push_str(&format!(
            "gateway/direct (aim >= 0.5): {}\n",
            ratios.join("; ")
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
            "  {:<28} {:>5} {:>8} {:>10} {:>12} {:>10} {:>10} {:>9} {:>6}\n",
            "path",
            "signs",
            "verifies",
            "crypto/msg",
            "crypto bound",
            "measured",
            "cpu/msg",
            "pg/msg",
            "cores"
        ));
        for p in &self.paths {
            let cpu = p.cpu_per_msg.unwrap_or_default();
            let busy = p.measured.map(|r| r * cpu.total());
            out.push_str(&format!(
                "  {:<28} {:>5} {:>8} {:>10} {:>10}/s {:>8}/s {:>10} {:>9} {:>6}\n",
                p.cost.name,
                p.cost.signs,
                p.cost.verifies,
                fmt_secs(p.crypto_cpu),
                fmt_rate(p.crypto_bound),
                p.measured.map_or_else(|| "-".to_string(), fmt_rate),
                fmt_secs(cpu.process),
                fmt_secs(cpu.postgres),
                busy.map_or_else(|| "-".to_string(), |b| format!("{b:.2}")),
            ));
        }
        for p in &self.paths {
            out.push_str(&format!("    {}: {}\n", p.cost.name, p.cost.how));
        }
        out.push_str(&format!(
            "  crypto/msg: the RSA work alone; crypto bound: messages per second if that work alone kept\n\
             every core busy; measured, cpu/msg, pg/msg: the 16-in-flight case of the path (CPU time of\n\
             this process and of PostgreSQL per message); cores: the cores those kept busy (measured x\n\
             (cpu + pg + nats)/msg): well below {} means the path waits rather than computes.\n",
            self.nproc
        ));
        let p50 = |id: &str| cost_of(b, id);
        if let (Some(direct), Some(one), Some(two), Some(append)) = (
            p50("direct.seq"),
            p50("shep.seq"),
            p50("rshep.seq"),
            p50("journal.seq"),
        ) {
            let (hop1, hop2) = (one - direct, two - direct);
            // per hop: 2 appends, 2 envelope opens (OCSP cached)
            let open = cost_of(b, "crypto.open_ocsp").unwrap_or(0.0);
            let known = |hops: f64| hops * (2.0 * append + 2.0 * open);
            out.push_str(&format!(
                "\nSequential latency (p50): direct {}; 1 hop {} (+{}); 2 hops {} (+{}).\n\
                 Per hop the gateway writes 2 rows to the message log before going on (one append alone:\n\
                 {} p50, 1 in flight) and opens 2 envelopes ({} each, OCSP answer cached):\n\
                 {} for 1 hop, {} for 2 hops. Not explained by these: {} (1 hop), {} (2 hops); steps of\n\
                 ~40 ms there are TCP delayed ACKs meeting Nagle on a listener without TCP_NODELAY\n\
                 (BENCH_ECHO_NAGLE=1 shows the same on the direct path).\n",
                fmt_secs(direct),
                fmt_secs(one),
                fmt_secs(hop1),
                fmt_secs(two),
                fmt_secs(hop2),
                fmt_secs(append),
                fmt_secs(open),
                fmt_secs(known(1.0)),
                fmt_secs(known(2.0)),
                fmt_secs(hop1 - known(1.0)),
                fmt_secs(hop2 - known(2.0)),
            ));
        }
        out
    }

    fn ratios_json(&self) -> serde_json::Value {
        serde_json::json!(
            self.ratios
                .iter()
                .map(|(name, r)| serde_json::json!({ "case": name, "ratio": r }))
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
                    "process_cpu_us_per_msg": p.cpu_per_msg.map(|c| c.process * 1e6),
                    "postgres_cpu_us_per_msg": p.cpu_per_msg.map(|c| c.postgres * 1e6),
                })
            }).collect::<Vec<_>>(),
        })
    }
}
