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
//! database and of the machine's `nats-server` processes; after the table, the RSA operations per message of each path and what they
//! cost on this machine.
//!
//! The echo recipient sets TCP_NODELAY on the connections it accepts, as the clients'
//! channels do (`BENCH_ECHO_NAGLE=1` leaves it off, as the gateway's own tests' echo does:
//! answers then wait for the caller's delayed ACK, ~40 ms).
//!
//! Needs PostgreSQL (`EGOV_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and NATS with JetStream
//! (`EGOV_TEST_NATS_URL`, by default `nats://127.0.0.1:4222`). A fresh database and a
//! unique NATS prefix are used; the database, the inbox stream and the raw test stream
//! are deleted at the end.
//!
//! ```text
//! cargo bench -p egov-tests --bench gateway               # ~3 s per case
//! cargo bench -p egov-tests --bench gateway -- --quick    # ~0.5 s per case (or BENCH_QUICK=1)
//! ```
//!
//! Without the `--bench` flag that `cargo bench` passes (i.e. under `cargo test --benches`)
//! every case runs a couple of iterations only, as a smoke test, and no JSON is written.
//! The figures go to stdout as a table and to `target/bench-gateway.json` (override the
//! path with `BENCH_GATEWAY_JSON`).

use egov_grpc::Listening as _;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use async_nats::jetstream;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use egov_gateway::journal::{self, Journal, JournalOptions};
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::{PkiDir, PrivateKey};
use egov_proto::shep::v1::sync_channel_server::{SyncChannel, SyncChannelServer};
use egov_proto::shep::v1::{MessageType, SyncSendMessageRequest, SyncSendMessageResponse};
use egov_shep_client::envelope::{self, SystemSigner, codes};
use egov_shep_client::inbox::InboxNames;
use egov_shep_client::{Client, Reply};
use egov_tests::bench::{cpu_model, load_average, target_file};
use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

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
/// Client-side timeout of one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a case may run past its warm-up and budget before the bench gives up on it.
const CASE_GRACE: Duration = Duration::from_secs(60);
/// How long the services get to stop at the end.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Linux reports process CPU times in /proc in units of USER_HZ, 100 per second.
const USER_HZ: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cargo bench`: ~3 s per case.
    Full,
    /// `--quick` or `BENCH_QUICK=1`: ~0.5 s per case.
    Quick,
    /// No `--bench` flag (`cargo test --benches`): a couple of iterations per case.
    Smoke,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    mode: Mode,
    /// Measured time per case (each worker makes at least `min_iters` operations).
    budget: Duration,
    /// Warm-up time per case (each worker makes at least one operation).
    warmup: Duration,
    min_iters: usize,
}

impl Settings {
    fn new(mode: Mode) -> Self {
        let (budget, warmup, min_iters) = match mode {
            Mode::Full => (Duration::from_secs(3), Duration::from_millis(300), 3),
            Mode::Quick => (Duration::from_millis(500), Duration::from_millis(100), 2),
            Mode::Smoke => (Duration::ZERO, Duration::ZERO, 2),
        };
        Settings {
            mode,
            budget,
            warmup,
            min_iters,
        }
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Full => "full",
            Mode::Quick => "quick",
            Mode::Smoke => "smoke",
        }
    }
}

const USAGE: &str = "usage: cargo bench -p egov-tests --bench gateway [-- --quick]\n\
    \n\
    --quick   ~0.5 s per case instead of ~3 s (same as BENCH_QUICK=1)\n\
    \n\
    Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)\n\
    and NATS with JetStream at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222).\n\
    BENCH_ECHO_NAGLE=1 leaves TCP_NODELAY off on the echo recipient's connections.\n\
    Writes the figures to target/bench-gateway.json (or BENCH_GATEWAY_JSON).";

fn parse_args() -> Result<Option<Settings>, String> {
    let mut bench = false;
    let mut quick = env_flag("BENCH_QUICK");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => bench = true,
            "--quick" => quick = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let mode = match (bench, quick) {
        (false, _) => Mode::Smoke,
        (true, true) => Mode::Quick,
        (true, false) => Mode::Full,
    };
    Ok(Some(Settings::new(mode)))
}

fn main() -> ExitCode {
    let settings = match parse_args() {
        Ok(Some(s)) => s,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    egov_grpc::install_crypto_provider();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gateway bench: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(run(settings));
    // whatever a library left behind must not keep the bench alive
    rt.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// measurement

/// CPU time used by this process and by the machine's PostgreSQL and NATS processes.
#[derive(Debug, Clone, Copy, Default)]
struct CpuSample {
    process: f64,
    postgres: f64,
    nats: f64,
}

impl CpuSample {
    fn now() -> Self {
        let (postgres, nats) = server_cpu_seconds();
        CpuSample {
            process: process_cpu_seconds(),
            postgres,
            nats,
        }
    }

    fn since(self, start: CpuSample) -> CpuSample {
        CpuSample {
            process: (self.process - start.process).max(0.0),
            postgres: (self.postgres - start.postgres).max(0.0),
            nats: (self.nats - start.nats).max(0.0),
        }
    }
}

/// The measured figures of one case.
struct Case {
    id: &'static str,
    label: String,
    iterations: usize,
    elapsed: Duration,
    /// Per-operation latencies, sorted.
    latencies: Vec<Duration>,
    /// Operations in flight at once.
    concurrency: usize,
    /// CPU seconds spent during the measured interval.
    cpu: CpuSample,
}

impl Case {
    fn ops_per_sec(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank percentile.
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (p / 100.0 * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    fn mean(&self) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.iter().sum::<Duration>() / self.latencies.len() as u32
    }

    /// CPU seconds per operation: (this process, postgres, nats-server).
    fn cpu_per_op(&self) -> CpuSample {
        let n = self.iterations.max(1) as f64;
        CpuSample {
            process: self.cpu.process / n,
            postgres: self.cpu.postgres / n,
            nats: self.cpu.nats / n,
        }
    }
}

fn progress(case: &Case) {
    eprintln!(
        "  {:<60} {:>7} ops {:>9}/s  p50 {:>9}  p99 {:>9}",
        case.label,
        case.iterations,
        fmt_rate(case.ops_per_sec()),
        fmt_dur(case.percentile(50.0)),
        fmt_dur(case.percentile(99.0)),
    );
}

type OpFuture = Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>>;
/// One operation of a case; called again and again by every worker.
type Op = Arc<dyn Fn() -> OpFuture + Send + Sync + 'static>;

fn op<F, Fut>(f: F) -> Op
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()) as OpFuture)
}

/// Runs `op` on `concurrency` workers: each warms up, then all start together and run
/// until the budget is spent (each at least `min_iters` times). Gives up (and aborts the
/// workers) when the case takes [`CASE_GRACE`] longer than planned.
async fn measure(
    s: &Settings,
    id: &'static str,
    label: impl Into<String>,
    concurrency: usize,
    op: Op,
) -> Result<Case> {
    let label = label.into();
    let limit = s.warmup + s.budget + CASE_GRACE;
    let case = tokio::time::timeout(limit, measure_inner(s, id, &label, concurrency, op))
        .await
        .map_err(|_| anyhow!("{label}: did not finish within {} s", limit.as_secs()))?
        .with_context(|| label.clone())?;
    progress(&case);
    Ok(case)
}

async fn measure_inner(
    s: &Settings,
    id: &'static str,
    label: &str,
    concurrency: usize,
    op: Op,
) -> Result<Case> {
    let barrier = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    // dropping the set (a timeout) aborts the workers
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (op, barrier, s) = (op.clone(), barrier.clone(), *s);
        workers.spawn(async move {
            // warm up, then start together; wait at the barrier even after a failure so
            // that the others are not left hanging. Each worker watches the clock itself
            // and yields after every operation: an operation that never waits (the crypto
            // cases) must not hold a runtime thread, nor rely on a timer firing.
            let warm = Instant::now();
            let warmed = loop {
                if let Err(e) = op().await {
                    break Err(e);
                }
                tokio::task::yield_now().await;
                if warm.elapsed() >= s.warmup {
                    break Ok(());
                }
            };
            barrier.wait().await;
            warmed.context("warm-up")?;
            let start = Instant::now();
            let mut latencies = Vec::new();
            while latencies.len() < s.min_iters || start.elapsed() < s.budget {
                let t = Instant::now();
                op().await?;
                latencies.push(t.elapsed());
                tokio::task::yield_now().await;
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    barrier.wait().await;
    let start = Instant::now();
    let cpu_start = CpuSample::now();
    let mut latencies = Vec::new();
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(anyhow!("worker task: {e}")),
        }
    }
    let elapsed = start.elapsed();
    let cpu = CpuSample::now().since(cpu_start);
    if let Some(e) = failure {
        return Err(e);
    }
    latencies.sort_unstable();
    Ok(Case {
        id,
        label: label.to_string(),
        iterations: latencies.len(),
        elapsed,
        latencies,
        concurrency,
        cpu,
    })
}

// ---------------------------------------------------------------------------------------
// the run

/// What the figures were measured on.
struct Machine {
    nproc: usize,
    cpu: String,
    /// /proc/loadavg (1, 5, 15 min) before and after the run: other work on the machine
    /// skews the figures, the tails (p99) first.
    load_before: String,
    load_after: String,
}

/// Names of this run's NATS streams and subjects.
struct NatsNames {
    prefix: String,
    inbox: InboxNames,
    raw_stream: String,
    raw_subject: String,
}

impl NatsNames {
    fn new(prefix: &str) -> Self {
        NatsNames {
            prefix: prefix.to_string(),
            inbox: InboxNames::new(prefix),
            raw_stream: format!("{}_BENCH_RAW", prefix.to_ascii_uppercase()),
            raw_subject: format!("{prefix}.bench.raw"),
        }
    }
}

async fn run(s: Settings) -> Result<()> {
    let mut machine = Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: cpu_model(),
        load_before: load_average(),
        load_after: String::new(),
    };
    let started_at = OffsetDateTime::now_utc();
    eprintln!(
        "gateway bench: mode {} (~{:.1} s per case after ~{:.2} s warm-up), nproc {}, CPU {}, load {}",
        s.mode_name(),
        s.budget.as_secs_f64(),
        s.warmup.as_secs_f64(),
        machine.nproc,
        machine.cpu,
        machine.load_before,
    );

    // the fixture: an RSA-2048 test PKI, a fresh database, a unique NATS prefix
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let pki_dir = tmp.path().join("pki");
    let t = Instant::now();
    PkiDir::init(&pki_dir, &InitOptions::default()).context("creating the test PKI")?;
    let pki_init = t.elapsed();
    eprintln!(
        "fixture: test PKI (RSA-2048 root, issuing CA, system certificates) made in {:.1} s",
        pki_init.as_secs_f64()
    );
    let nats_url = egov_devenv::default_nats_url();
    let nats = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(&nats_url))
        .await
        .map_err(|_| anyhow!("connecting to NATS at {nats_url}: timed out"))?
        .with_context(|| {
            format!("connecting to NATS at {nats_url} (is it running? see EGOV_TEST_NATS_URL)")
        })?;
    let js = jetstream::new(nats.clone());
    let names = NatsNames::new(&egov_devenv::unique_prefix("benchgw"));
    let admin_url = egov_devenv::default_database_admin_url();
    let db = egov_devenv::fresh_database(&admin_url, "benchgw")
        .await
        .context(
            "creating the benchmark database (is PostgreSQL running? see EGOV_TEST_DATABASE_URL)",
        )?;
    let _ = DATABASE_NAME.set(db.name.clone());
    eprintln!(
        "fixture: database {}, NATS prefix {}",
        db.name, names.prefix
    );

    let outcome = with_services(&s, &pki_dir, &db.url, &nats_url, &js, &names).await;

    // clean up whatever happened: the streams (after the gateways stopped), the database
    let mut cleanup = Vec::new();
    for stream in [names.inbox.stream(), names.raw_stream.clone()] {
        if js.get_stream(&stream).await.is_ok() {
            match js.delete_stream(&stream).await {
                Ok(_) => eprintln!("fixture: stream {stream} deleted"),
                Err(e) => cleanup.push(anyhow!("deleting the stream {stream}: {e}")),
            }
        }
    }
    let name = db.name.clone();
    match db.drop_database().await {
        Ok(()) => eprintln!("fixture: database {name} dropped"),
        Err(e) => cleanup.push(anyhow!("dropping the benchmark database {name}: {e}")),
    }
    let cases = outcome?;
    if let Some(e) = cleanup.into_iter().next() {
        return Err(e);
    }

    machine.load_after = load_average();
    let analysis = Analysis::new(&machine, &cases);
    print_table(&s, &machine, &cases);
    print_analysis(&analysis, &cases);
    if s.mode == Mode::Smoke {
        println!(
            "\n(smoke run: a couple of iterations per case; run `cargo bench -p egov-tests --bench gateway` for figures; no JSON written)"
        );
        return Ok(());
    }
    let path = target_file("BENCH_GATEWAY_JSON", "bench-gateway.json");
    let json = to_json(&s, &machine, started_at, pki_init, &cases, &analysis);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\nfigures written to {}", path.display());
    Ok(())
}

/// The background services of the run (uc, the echo, the gateways), each with its name.
type Services = JoinSet<(&'static str, Result<(), String>)>;

/// Where the services of the run listen.
struct Addrs {
    ocsp: String,
    gbd: String,
    shep: String,
    rshep: String,
}

/// Starts uc, the gbd-fl echo, ШЭП and РШЭП Алматы, runs every case, stops them all.
async fn with_services(
    s: &Settings,
    pki: &Path,
    database_url: &str,
    nats_url: &str,
    js: &jetstream::Context,
    names: &NatsNames,
) -> Result<Vec<Case>> {
    let cancel = CancellationToken::new();
    let mut services = Services::new();
    let outcome = async {
        let addrs = start_services(pki, database_url, nats_url, names, &cancel, &mut services)
            .await
            .context("starting the services")?;
        all_cases(s, pki, database_url, js, names, &addrs).await
    }
    .await;

    cancel.cancel();
    let stopped = tokio::time::timeout(STOP_TIMEOUT, async {
        while let Some(joined) = services.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((name, Err(e))) => eprintln!("warning: {name} ended with an error: {e}"),
                Err(e) => eprintln!("warning: a service task failed: {e}"),
            }
        }
    })
    .await;
    if stopped.is_err() {
        eprintln!(
            "warning: the services did not stop within {} s; aborted",
            STOP_TIMEOUT.as_secs()
        );
        services.shutdown().await;
    }
    outcome
}

async fn start_services(
    pki: &Path,
    database_url: &str,
    nats_url: &str,
    names: &NatsNames,
    cancel: &CancellationToken,
    services: &mut Services,
) -> Result<Addrs> {
    // the certification authority, for OCSP
    let uc = egov_uc::Uc::build(egov_uc::Config {
        http_addr: "127.0.0.1:0".parse()?,
        grpc_addr: "127.0.0.1:0".parse()?,
        pki_dir: pki.to_path_buf(),
        database_url: database_url.to_string(),
        ..Default::default()
    })
    .await
    .context("starting the uc service")?;
    let ocsp = format!("http://{}/ocsp", uc.http_addr());
    let c = cancel.clone();
    services.spawn(async move { ("uc", uc.run(c).await.map_err(|e| e.to_string())) });
    eprintln!("fixture: uc OCSP responder at {ocsp}");

    let nodelay = !env_flag("BENCH_ECHO_NAGLE");
    let gbd = spawn_echo(pki, "gbd-fl", nodelay, cancel, services).await?;
    eprintln!(
        "fixture: gbd-fl echo at {gbd} (TCP_NODELAY {})",
        if nodelay {
            "on"
        } else {
            "off: BENCH_ECHO_NAGLE"
        }
    );

    let cfg = |id: &str| egov_gateway::Config {
        gateway_id: id.into(),
        grpc_addr: "127.0.0.1:0".parse().expect("address"),
        http_addr: "127.0.0.1:0".parse().expect("address"),
        pki_dir: pki.to_path_buf(),
        database_url: database_url.to_string(),
        nats_url: nats_url.to_string(),
        nats_prefix: names.prefix.clone(),
        ocsp_url: Some(ocsp.clone()),
        registry_file: None,
        ..Default::default()
    };
    let mut shep = egov_gateway::Gateway::build(cfg("shep"))
        .await
        .context("building ШЭП")?;
    let mut rshep = egov_gateway::Gateway::build(cfg("rshep-almaty"))
        .await
        .context("building РШЭП Алматы")?;
    let shep_addr = shep.grpc_addr().to_string();
    let rshep_addr = rshep.grpc_addr().to_string();
    ensure!(
        shep.set_endpoint("rshep-almaty", &rshep_addr)
            && shep.set_endpoint("gbd-fl", &gbd)
            && rshep.set_endpoint("shep", &shep_addr),
        "the registry does not know rshep-almaty, gbd-fl or shep"
    );
    let c = cancel.clone();
    services.spawn(async move { ("ШЭП", shep.run(c).await.map_err(|e| e.to_string())) });
    let c = cancel.clone();
    services
        .spawn(async move { ("РШЭП Алматы", rshep.run(c).await.map_err(|e| e.to_string())) });
    eprintln!("fixture: ШЭП at {shep_addr}, РШЭП Алматы at {rshep_addr}");
    Ok(Addrs {
        ocsp,
        gbd,
        shep: shep_addr,
        rshep: rshep_addr,
    })
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

async fn spawn_echo(
    pki: &Path,
    id: &'static str,
    nodelay: bool,
    cancel: &CancellationToken,
    services: &mut Services,
) -> Result<String> {
    let tls = egov_grpc::TlsIdentity::load(pki, id)?;
    let echo = Echo {
        signer: SystemSigner::load(pki, id)?,
        verifier: envelope::pki_verifier(pki, None)?,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
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
        .serve_with_incoming_shutdown(incoming, cancel.clone().cancelled_owned());
    services.spawn(async move { (id, server.await.map_err(|e| e.to_string())) });
    Ok(addr)
}

/// A client of `system` on the server `server_id` at `addr` (a gateway, or the echo
/// itself for the baseline), verifying answers as the gateway's tests do.
fn client(pki: &Path, system: &str, server_id: &str, addr: &str) -> Result<Client> {
    let tls = egov_grpc::TlsIdentity::load(pki, system)?;
    Ok(Client::connect(
        addr,
        server_id,
        &tls,
        Arc::new(SystemSigner::load(pki, system)?),
        envelope::pki_verifier(pki, None)?,
        CALL_TIMEOUT,
    )?)
}

fn check_reply(r: &Reply, code: &str, responder: &str) -> Result<()> {
    ensure!(
        r.code() == code,
        "answered {} ({}) instead of {code}",
        r.code(),
        r.info
            .status
            .as_ref()
            .map(|s| s.message.as_str())
            .unwrap_or("")
    );
    ensure!(
        r.responder == responder,
        "answered by {:?} instead of {responder:?}",
        r.responder
    );
    Ok(())
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
    s: &Settings,
    pki: &Path,
    database_url: &str,
    js: &jetstream::Context,
    names: &NatsNames,
    addrs: &Addrs,
) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let small = Arc::new(pseudo_random(PAYLOAD_SMALL, 1));
    let large = Arc::new(pseudo_random(PAYLOAD_LARGE, 2));

    eprintln!("1. point to point (no gateway)");
    let direct = client(pki, "portal", "gbd-fl", &addrs.gbd)?;
    for (id, n) in [("direct.seq", 1), ("direct.c16", IN_FLIGHT)] {
        let label = format!("portal → gbd-fl echo, direct, {n} in flight");
        cases.push(measure(s, id, label, n, sync_call(direct.clone(), small.clone())).await?);
    }

    eprintln!("2. through the gateways (sync)");
    let mio = client(pki, "mio-almaty", "rshep-almaty", &addrs.rshep)?;
    let portal = client(pki, "portal", "shep", &addrs.shep)?;
    for (id, n) in [("rshep.seq", 1), ("rshep.c16", IN_FLIGHT)] {
        let label = format!("mio-almaty → РШЭП → ШЭП → gbd-fl, {n} in flight");
        cases.push(measure(s, id, label, n, sync_call(mio.clone(), small.clone())).await?);
    }
    for (id, n) in [("shep.seq", 1), ("shep.c16", IN_FLIGHT)] {
        let label = format!("portal → ШЭП → gbd-fl, {n} in flight");
        cases.push(measure(s, id, label, n, sync_call(portal.clone(), small.clone())).await?);
    }

    eprintln!("3. async into the mio-almaty inbox, and raw JetStream");
    js.get_or_create_stream(jetstream::stream::Config {
        name: names.raw_stream.clone(),
        subjects: vec![names.raw_subject.clone()],
        // as the inbox stream
        storage: jetstream::stream::StorageType::File,
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .with_context(|| format!("creating the stream {}", names.raw_stream))?;
    for (async_id, raw_id, payload, size) in [
        ("async.1k", "raw.1k", &small, "1 KiB"),
        ("async.16k", "raw.16k", &large, "16 KiB"),
    ] {
        let (client, payload_a) = (portal.clone(), payload.clone());
        let send = op(move || {
            let (client, payload) = (client.clone(), payload_a.clone());
            async move {
                let r = client
                    .send_async(
                        ASYNC_SERVICE,
                        ASYNC_REGION,
                        MessageType::Request,
                        "",
                        payload.to_vec(),
                    )
                    .await?;
                check_reply(&r, codes::ACCEPTED, "rshep-almaty")
            }
        });
        let label =
            format!("send_async portal → ШЭП → РШЭП → inbox, {size}, {IN_FLIGHT} in flight");
        cases.push(measure(s, async_id, label, IN_FLIGHT, send).await?);

        let (js, subject, payload_r) = (js.clone(), names.raw_subject.clone(), payload.clone());
        let publish = op(move || {
            let (js, subject, payload) = (js.clone(), subject.clone(), payload_r.clone());
            async move {
                let ack = js.publish(subject, payload.to_vec().into()).await?.await?;
                ensure!(!ack.duplicate, "the stream reported a duplicate");
                Ok(())
            }
        });
        let label = format!("raw JetStream publish + ack, {size}, {IN_FLIGHT} in flight");
        cases.push(measure(s, raw_id, label, IN_FLIGHT, publish).await?);
    }

    eprintln!("4. crypto bound (RSA-2048)");
    cases.extend(crypto_cases(s, pki, &addrs.ocsp).await?);

    eprintln!("5. context: the message log alone");
    cases.extend(journal_cases(s, database_url).await?);
    Ok(cases)
}

// ---------------------------------------------------------------------------------------
// 4. crypto bound

async fn crypto_cases(s: &Settings, pki: &Path, ocsp_url: &str) -> Result<Vec<Case>> {
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let msg = Arc::new(pseudo_random(PAYLOAD_SMALL, 3));
    let key = Arc::new(PrivateKey::generate(KeyAlgorithm::Rsa2048)?);
    ensure!(key.algorithm() == KeyAlgorithm::Rsa2048, "not an RSA key");
    let mut cases = Vec::new();

    let sign = {
        let (key, msg) = (key.clone(), msg.clone());
        op(move || {
            let r = key.sign(&msg).map(drop).map_err(Into::into);
            async move { r }
        })
    };
    cases.push(
        measure(
            s,
            "crypto.sign",
            "RSA-2048 sign (PrivateKey::sign, 1 KiB)",
            1,
            sign.clone(),
        )
        .await?,
    );
    cases.push(
        measure(
            s,
            "crypto.sign_all_cores",
            format!("RSA-2048 sign, {nproc} signers at once"),
            nproc,
            sign,
        )
        .await?,
    );
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
    cases.push(
        measure(
            s,
            "crypto.verify",
            "RSA-2048 verify, raw aws-lc-rs",
            1,
            verify,
        )
        .await?,
    );

    // one envelope as the portal seals it, opened as the echo and the clients open it
    // (CRL: signature, leaf, issuing CA, CRL) and as the gateways do (OCSP, warm cache:
    // signature, leaf, issuing CA)
    let signer = Arc::new(SystemSigner::load(pki, "portal")?);
    let payload = Arc::new(pseudo_random(PAYLOAD_SMALL, 4));
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
    cases.push(
        measure(
            s,
            "crypto.seal",
            "envelope seal (seal_request: CMS, 1 RSA sign)",
            1,
            seal,
        )
        .await?,
    );
    let info = signer.request_info(SYNC_SERVICE, MessageType::Request, "", "");
    let env = Arc::new(signer.seal_request(&info, payload.to_vec())?);
    for (id, label, verifier) in [
        (
            "crypto.open_crl",
            "envelope open, CRL (echo, clients: 2 RSA verifies)",
            envelope::pki_verifier(pki, None)?,
        ),
        (
            "crypto.open_ocsp",
            "envelope open, OCSP cached (gateways: 1 RSA verify)",
            envelope::pki_verifier(pki, Some(ocsp_url))?,
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
        cases.push(measure(s, id, label, 1, open).await?);
    }
    Ok(cases)
}

// ---------------------------------------------------------------------------------------
// 5. the message log alone

/// A record as a gateway writes for a request coming in.
fn journal_record(gateway_id: &str) -> journal::Record {
    let id = uuid_like();
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

async fn journal_cases(s: &Settings, database_url: &str) -> Result<Vec<Case>> {
    // the gateways' schema and options; a chain of its own, so as not to fork theirs
    let pool = egov_db::pool(database_url, "gateway", 16).await?;
    let journal = Journal::open(pool.clone(), JournalOptions::default()).await?;
    let outcome = async {
        let mut cases = Vec::new();
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
            cases.push(measure(s, id, label, n, append).await?);
        }
        Ok::<_, anyhow::Error>(cases)
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
    cpu_per_msg: Option<CpuSample>,
}

struct Analysis {
    nproc: usize,
    sign_secs: Option<f64>,
    verify_secs: Option<f64>,
    paths: Vec<PathFigures>,
    /// gateway/direct for (1 hop, 2 hops) × (sequential, concurrent).
    ratios: Vec<(&'static str, Option<f64>)>,
}

fn case<'a>(cases: &'a [Case], id: &str) -> Option<&'a Case> {
    cases.iter().find(|c| c.id == id)
}

fn rate_of(cases: &[Case], id: &str) -> Option<f64> {
    case(cases, id).map(Case::ops_per_sec)
}

/// Seconds of one operation of a single-worker CPU-bound case: its median latency (other
/// load on the machine stretches the tail and the mean, rarely the median).
fn cost_of(cases: &[Case], id: &str) -> Option<f64> {
    Some(case(cases, id)?.percentile(50.0).as_secs_f64())
}

fn ratio_of(cases: &[Case], id: &str, base: &str) -> Option<f64> {
    Some(rate_of(cases, id)? / rate_of(cases, base)?)
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
    fn new(m: &Machine, cases: &[Case]) -> Self {
        let sign_secs = cost_of(cases, "crypto.sign");
        let verify_secs = cost_of(cases, "crypto.verify");
        let paths = PATHS
            .iter()
            .map(|cost| {
                let crypto_cpu = f64::from(cost.signs) * sign_secs.unwrap_or(0.0)
                    + f64::from(cost.verifies) * verify_secs.unwrap_or(0.0);
                PathFigures {
                    cost,
                    crypto_cpu,
                    crypto_bound: if crypto_cpu > 0.0 {
                        m.nproc as f64 / crypto_cpu
                    } else {
                        0.0
                    },
                    measured: rate_of(cases, cost.case),
                    cpu_per_msg: case(cases, cost.case).map(Case::cpu_per_op),
                }
            })
            .collect();
        let ratios = vec![
            (
                "2 hops, 1 in flight",
                ratio_of(cases, "rshep.seq", "direct.seq"),
            ),
            (
                "2 hops, 16 in flight",
                ratio_of(cases, "rshep.c16", "direct.c16"),
            ),
            (
                "1 hop, 1 in flight",
                ratio_of(cases, "shep.seq", "direct.seq"),
            ),
            (
                "1 hop, 16 in flight",
                ratio_of(cases, "shep.c16", "direct.c16"),
            ),
        ];
        Analysis {
            nproc: m.nproc,
            sign_secs,
            verify_secs,
            paths,
            ratios,
        }
    }
}

// ---------------------------------------------------------------------------------------
// output

fn section_of(id: &str) -> usize {
    match id.split('.').next() {
        Some("direct") => 1,
        Some("rshep" | "shep") => 2,
        Some("async" | "raw") => 3,
        Some("crypto") => 4,
        _ => 5,
    }
}

const HEADINGS: [&str; 5] = [
    "1. point to point, no gateway (1 KiB, mTLS, request and answer signed and verified)",
    "2. through the gateways, sync (1 KiB, OCSP via uc with cache, message log on)",
    "3. async into the mio-almaty inbox vs raw JetStream publish (x base: async/raw)",
    "4. crypto bound (RSA-2048, SHA-256)",
    "5. context: the message log alone (Journal::append into PostgreSQL, the gateways' options)",
];

fn print_table(s: &Settings, m: &Machine, cases: &[Case]) {
    println!();
    println!(
        "Gateway benchmark: mode {}, ~{:.1} s per case, nproc {}, CPU {}, load avg {} -> {}",
        s.mode_name(),
        s.budget.as_secs_f64(),
        m.nproc,
        m.cpu,
        m.load_before,
        m.load_after,
    );
    let rule = "-".repeat(142);
    println!("{rule}");
    println!(
        "{:<66} {:>4} {:>7} {:>9} {:>10} {:>10} {:>7} {:>10} {:>8} {:>8}",
        "case", "fly", "ops", "ops/s", "p50", "p99", "x base", "cpu/op", "pg/op", "nats/op"
    );
    println!("{rule}");
    let mut section = 0;
    for c in cases {
        let g = section_of(c.id);
        if g != section {
            section = g;
            println!("{}", HEADINGS[g - 1]);
        }
        let ratio = baseline_of(c.id)
            .and_then(|b| ratio_of(cases, c.id, b))
            .map(|r| format!("{r:.3}"))
            .unwrap_or_default();
        let cpu = c.cpu_per_op();
        let line = format!(
            "  {:<64} {:>4} {:>7} {:>9} {:>10} {:>10} {:>7} {:>10} {:>8} {:>8}",
            c.label,
            c.concurrency,
            c.iterations,
            fmt_rate(c.ops_per_sec()),
            fmt_dur(c.percentile(50.0)),
            fmt_dur(c.percentile(99.0)),
            ratio,
            fmt_secs(cpu.process),
            fmt_secs(cpu.postgres),
            fmt_secs(cpu.nats),
        );
        println!("{}", line.trim_end());
    }
    println!("{rule}");
    println!(
        "fly: operations in flight; x base: ops/s relative to the same in-flight count of section 1\n\
         (section 2), to raw JetStream (section 3), to one signer (section 4). cpu/op: CPU time of this\n\
         process (client, echo, both gateways, uc) per operation; pg/op: of the PostgreSQL backends\n\
         serving the benchmark database (not the WAL writer); nats/op: of every nats-server process on\n\
         the machine (other users of it count too). Everything shares {} cores.",
        m.nproc
    );
}

fn print_analysis(a: &Analysis, cases: &[Case]) {
    println!();
    let ratios: Vec<String> = a
        .ratios
        .iter()
        .map(|(name, r)| {
            let r = r.map_or_else(|| "-".to_string(), |r| format!("{r:.3}"));
            format!("{name} {r}")
        })
        .collect();
    println!("gateway/direct (aim >= 0.5): {}", ratios.join("; "));
    let (Some(sign), Some(verify)) = (a.sign_secs, a.verify_secs) else {
        return;
    };
    println!(
        "\nRSA operations per message (one RSA-2048 sign {}, one verify {}: p50 on one core; {} cores):",
        fmt_secs(sign),
        fmt_secs(verify),
        a.nproc
    );
    println!(
        "  {:<28} {:>5} {:>8} {:>10} {:>12} {:>10} {:>10} {:>9} {:>6}",
        "path",
        "signs",
        "verifies",
        "crypto/msg",
        "crypto bound",
        "measured",
        "cpu/msg",
        "pg/msg",
        "cores"
    );
    for p in &a.paths {
        let cpu = p.cpu_per_msg.unwrap_or_default();
        let busy = p
            .measured
            .map(|r| r * (cpu.process + cpu.postgres + cpu.nats));
        println!(
            "  {:<28} {:>5} {:>8} {:>10} {:>10}/s {:>8}/s {:>10} {:>9} {:>6}",
            p.cost.name,
            p.cost.signs,
            p.cost.verifies,
            fmt_secs(p.crypto_cpu),
            fmt_rate(p.crypto_bound),
            p.measured.map_or_else(|| "-".to_string(), fmt_rate),
            fmt_secs(cpu.process),
            fmt_secs(cpu.postgres),
            busy.map_or_else(|| "-".to_string(), |b| format!("{b:.2}")),
        );
    }
    for p in &a.paths {
        println!("    {}: {}", p.cost.name, p.cost.how);
    }
    println!(
        "  crypto/msg: the RSA work alone; crypto bound: messages per second if that work alone kept\n\
         every core busy; measured, cpu/msg, pg/msg: the 16-in-flight case of the path (CPU time of\n\
         this process and of PostgreSQL per message); cores: the cores those kept busy (measured x\n\
         (cpu + pg + nats)/msg): well below {} means the path waits rather than computes.",
        a.nproc
    );
    if let (Some(direct), Some(one), Some(two), Some(log)) = (
        case(cases, "direct.seq"),
        case(cases, "shep.seq"),
        case(cases, "rshep.seq"),
        case(cases, "journal.seq"),
    ) {
        let p50 = |c: &Case| c.percentile(50.0).as_secs_f64();
        let (hop1, hop2) = (p50(one) - p50(direct), p50(two) - p50(direct));
        let append = p50(log);
        // per hop: 2 appends, 2 envelope opens (OCSP cached)
        let open = cost_of(cases, "crypto.open_ocsp").unwrap_or(0.0);
        let known = |hops: f64| hops * (2.0 * append + 2.0 * open);
        println!(
            "\nSequential latency (p50): direct {}; 1 hop {} (+{}); 2 hops {} (+{}).\n\
             Per hop the gateway writes 2 rows to the message log before going on (one append alone:\n\
             {} p50, 1 in flight) and opens 2 envelopes ({} each, OCSP answer cached):\n\
             {} for 1 hop, {} for 2 hops. Not explained by these: {} (1 hop), {} (2 hops); steps of\n\
             ~40 ms there are TCP delayed ACKs meeting Nagle on a listener without TCP_NODELAY\n\
             (BENCH_ECHO_NAGLE=1 shows the same on the direct path).",
            fmt_secs(p50(direct)),
            fmt_secs(p50(one)),
            fmt_secs(hop1),
            fmt_secs(p50(two)),
            fmt_secs(hop2),
            fmt_secs(append),
            fmt_secs(open),
            fmt_secs(known(1.0)),
            fmt_secs(known(2.0)),
            fmt_secs(hop1 - known(1.0)),
            fmt_secs(hop2 - known(2.0)),
        );
    }
}

fn to_json(
    s: &Settings,
    m: &Machine,
    started_at: OffsetDateTime,
    pki_init: Duration,
    cases: &[Case],
    a: &Analysis,
) -> serde_json::Value {
    let started = started_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    serde_json::json!({
        "bench": "gateway",
        "started_at": started,
        "mode": s.mode_name(),
        "budget_secs": s.budget.as_secs_f64(),
        "warmup_secs": s.warmup.as_secs_f64(),
        "nproc": m.nproc,
        "cpu": m.cpu,
        "load_average_before": m.load_before,
        "load_average_after": m.load_after,
        "fixture": {
            "pki_algorithm": "RSA-2048",
            "pki_init_secs": pki_init.as_secs_f64(),
            "payload_small_bytes": PAYLOAD_SMALL,
            "payload_large_bytes": PAYLOAD_LARGE,
            "in_flight": IN_FLIGHT,
            "sync_service": SYNC_SERVICE,
            "async_service": ASYNC_SERVICE,
            "async_region": ASYNC_REGION,
        },
        "cases": cases.iter().map(|c| {
            let base = baseline_of(c.id);
            let cpu = c.cpu_per_op();
            serde_json::json!({
                "id": c.id,
                "section": section_of(c.id),
                "label": c.label,
                "concurrency": c.concurrency,
                "iterations": c.iterations,
                "seconds": c.elapsed.as_secs_f64(),
                "ops_per_sec": c.ops_per_sec(),
                "p50_us": us(c.percentile(50.0)),
                "p99_us": us(c.percentile(99.0)),
                "mean_us": us(c.mean()),
                "max_us": us(c.latencies.last().copied().unwrap_or_default()),
                "baseline": base,
                "ratio_to_baseline": base.and_then(|b| ratio_of(cases, c.id, b)),
                "cpu_us_per_op": {
                    "process": cpu.process * 1e6,
                    "postgres": cpu.postgres * 1e6,
                    "nats": cpu.nats * 1e6,
                },
            })
        }).collect::<Vec<_>>(),
        "gateway_over_direct": a.ratios.iter().map(|(name, r)| {
            serde_json::json!({ "case": name, "ratio": r })
        }).collect::<Vec<_>>(),
        "rsa_per_message": {
            "sign_us": a.sign_secs.map(|x| x * 1e6),
            "verify_us": a.verify_secs.map(|x| x * 1e6),
            "paths": a.paths.iter().map(|p| {
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
        },
    })
}

// ---------------------------------------------------------------------------------------
// the machine

/// The command name and utime + stime (seconds) of a /proc/<pid>/stat text.
fn parse_stat(text: &str) -> Option<(&str, f64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?;
    // after the command: state (field 3), ..., utime (14), stime (15)
    let mut fields = text.get(close + 1..)?.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((comm, (utime + stime) / USER_HZ))
}

fn process_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t).map(|(_, s)| s))
        .unwrap_or(0.0)
}

/// The benchmark database's name: the PostgreSQL backends whose CPU time is counted.
static DATABASE_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// CPU seconds of the PostgreSQL backends serving the benchmark database (their process
/// title names it) and of every `nats-server` process on the machine.
fn server_cpu_seconds() -> (f64, f64) {
    let (mut postgres, mut nats) = (0.0, 0.0);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0.0, 0.0);
    };
    let database = DATABASE_NAME.get().map(String::as_bytes);
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        match parse_stat(&text) {
            Some(("postgres", secs)) => {
                let ours = database.is_some_and(|db| {
                    std::fs::read(entry.path().join("cmdline"))
                        .is_ok_and(|title| title.windows(db.len()).any(|w| w == db))
                });
                if ours {
                    postgres += secs;
                }
            }
            Some(("nats-server", secs)) => nats += secs,
            _ => {}
        }
    }
    (postgres, nats)
}

// ---------------------------------------------------------------------------------------
// helpers

/// Whether an environment variable is set to something other than empty or `0`.
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Deterministic filler bytes (xorshift), distinct per seed.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A unique message id for the journal cases.
fn uuid_like() -> String {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn fmt_dur(d: Duration) -> String {
    fmt_secs(d.as_secs_f64())
}

fn fmt_secs(secs: f64) -> String {
    let us = secs * 1e6;
    if us.abs() < 1000.0 {
        format!("{us:.1} µs")
    } else if us.abs() < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}
