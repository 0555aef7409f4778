//! Throughput of the test PKI, in one run:
//!
//! 1. the crypto bound of the machine: RSA-2048 and ECDSA P-256 signatures per second by
//!    `PrivateKey::sign` (SHA-256, 1 KiB message), and raw verifications per second of the
//!    same signatures through aws-lc-rs;
//! 2. certificates issued per second by `Authority::issue` (RSA-2048 and ECDSA P-256 subject
//!    keys, key generation included) and by `Authority::issue_for_csr`;
//! 3. detached CMS signatures (2 KiB document, RSA-2048 signer, chain root → issuing → leaf)
//!    verified per second: (a) no revocation check, (b) CRL, (c) OCSP with a warm cache,
//!    (d) OCSP without cache (every verification asks the running uc responder over HTTP
//!    on loopback), (e) as (d) with 8 concurrent verifiers.
//!
//! Needs PostgreSQL (the uc service keeps its certificates there): the admin URL is
//! `EGOV_TEST_DATABASE_URL`, by default `postgres://postgres@127.0.0.1:5432/postgres`. A
//! fresh database is created and dropped at the end.
//!
//! ```text
//! cargo bench -p egov-tests --bench pki               # ~2 s per case
//! cargo bench -p egov-tests --bench pki -- --quick    # ~0.3 s per case (or BENCH_QUICK=1)
//! ```
//!
//! Without the `--bench` flag that `cargo bench` passes (i.e. under `cargo test --benches`)
//! every case runs a couple of iterations only, as a smoke test, and no JSON is written.
//! The figures go to stdout as a table and to `target/bench-pki.json` (override the path
//! with `BENCH_PKI_JSON`).

use egov_grpc::Listening as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use egov_pki::authority::{CertProfile, SubjectSpec};
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::ocsp::Client as OcspClient;
use egov_pki::verify::{Revocation, VerifyOptions};
use egov_pki::{PkiDir, PrivateKey, Verifier};
use egov_tests::bench::{cpu_model, load_average, target_file};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Size of the message signed by the raw signature cases.
const RAW_MESSAGE: usize = 1024;
/// Size of the document of the CMS cases.
const CMS_DOCUMENT: usize = 2048;
/// Distinct documents (and signatures) the CMS cases cycle through.
const CMS_DOCUMENTS: usize = 8;
/// Concurrent verifiers of case 3e.
const CONCURRENT_VERIFIERS: usize = 8;
/// Timeout of an OCSP request.
const OCSP_TIMEOUT: Duration = Duration::from_secs(5);
/// A subject IIN for the test certificates (valid checksum).
const IIN: &str = "870312300046";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cargo bench`: ~2 s per case.
    Full,
    /// `--quick` or `BENCH_QUICK=1`: ~0.3 s per case.
    Quick,
    /// No `--bench` flag (`cargo test --benches`): a couple of iterations per case.
    Smoke,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    mode: Mode,
    /// Measured time per case (at least `min_iters` iterations are made).
    budget: Duration,
    /// Warm-up time per case (at least one iteration is made).
    warmup: Duration,
    min_iters: usize,
}

impl Settings {
    fn new(mode: Mode) -> Self {
        let (budget, warmup, min_iters) = match mode {
            Mode::Full => (Duration::from_secs(2), Duration::from_millis(200), 3),
            Mode::Quick => (Duration::from_millis(300), Duration::from_millis(50), 2),
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

const USAGE: &str = "usage: cargo bench -p egov-tests --bench pki [-- --quick]\n\
    \n\
    --quick   ~0.3 s per case instead of ~2 s (same as BENCH_QUICK=1)\n\
    \n\
    Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).\n\
    Writes the figures to target/bench-pki.json (or BENCH_PKI_JSON).";

fn parse_args() -> Result<Option<Settings>, String> {
    let mut bench = false;
    let mut quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
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
            eprintln!("pki bench: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pki bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------
// measurement

/// The measured figures of one case.
struct Case {
    id: &'static str,
    label: String,
    iterations: usize,
    elapsed: Duration,
    /// Per-operation latencies, sorted.
    latencies: Vec<Duration>,
    /// Number of verifiers running at once.
    concurrency: usize,
}

impl Case {
    fn new(
        id: &'static str,
        label: impl Into<String>,
        elapsed: Duration,
        mut latencies: Vec<Duration>,
        concurrency: usize,
    ) -> Self {
        latencies.sort_unstable();
        Case {
            id,
            label: label.into(),
            iterations: latencies.len(),
            elapsed,
            latencies,
            concurrency,
        }
    }

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
}

fn progress(case: &Case) {
    eprintln!(
        "  {:<52} {:>7} iters {:>11}/s  p50 {:>9}",
        case.label,
        case.iterations,
        fmt_rate(case.ops_per_sec()),
        fmt_dur(case.percentile(50.0)),
    );
}

/// Warms up, then runs `f` until the budget is spent (and at least `min_iters` times).
fn measure_sync(
    s: &Settings,
    id: &'static str,
    label: &str,
    mut f: impl FnMut() -> Result<()>,
) -> Result<Case> {
    let warm = Instant::now();
    loop {
        f().with_context(|| format!("{label} (warm-up)"))?;
        if warm.elapsed() >= s.warmup {
            break;
        }
    }
    let mut latencies = Vec::new();
    let start = Instant::now();
    while latencies.len() < s.min_iters || start.elapsed() < s.budget {
        let t = Instant::now();
        f().with_context(|| label.to_string())?;
        latencies.push(t.elapsed());
    }
    let case = Case::new(id, label, start.elapsed(), latencies, 1);
    progress(&case);
    Ok(case)
}

/// [`measure_sync`] for an async operation, awaited on the current task.
async fn measure_async(
    s: &Settings,
    id: &'static str,
    label: &str,
    mut f: impl AsyncFnMut() -> Result<()>,
) -> Result<Case> {
    let warm = Instant::now();
    loop {
        f().await.with_context(|| format!("{label} (warm-up)"))?;
        if warm.elapsed() >= s.warmup {
            break;
        }
    }
    let mut latencies = Vec::new();
    let start = Instant::now();
    while latencies.len() < s.min_iters || start.elapsed() < s.budget {
        let t = Instant::now();
        f().await.with_context(|| label.to_string())?;
        latencies.push(t.elapsed());
    }
    let case = Case::new(id, label, start.elapsed(), latencies, 1);
    progress(&case);
    Ok(case)
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

async fn run(s: Settings) -> Result<()> {
    let mut machine = Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu: cpu_model(),
        load_before: load_average(),
        load_after: String::new(),
    };
    let started_at = OffsetDateTime::now_utc();
    eprintln!(
        "pki bench: mode {} (~{:.1} s per case after ~{:.2} s warm-up), nproc {}, CPU {}, load {}",
        s.mode_name(),
        s.budget.as_secs_f64(),
        s.warmup.as_secs_f64(),
        machine.nproc,
        machine.cpu,
        machine.load_before,
    );

    // the fixture: an RSA test PKI, a leaf signing certificate recorded in its index (so
    // that the responder knows it), a fresh database and the uc service on port 0
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let t = Instant::now();
    let pki = PkiDir::init(&tmp.path().join("pki"), &InitOptions::default())
        .context("creating the test PKI")?;
    let pki_init = t.elapsed();
    eprintln!(
        "fixture: test PKI (RSA-2048 root, issuing CA, system certificates) made in {:.1} s",
        pki_init.as_secs_f64()
    );
    let admin_url = egov_devenv::default_database_admin_url();
    let db = egov_devenv::fresh_database(&admin_url, "bench")
        .await
        .context(
            "creating the benchmark database (is PostgreSQL running? see EGOV_TEST_DATABASE_URL)",
        )?;
    let outcome = with_database(&s, &pki, &db.url).await;
    let name = db.name.clone();
    let dropped = db
        .drop_database()
        .await
        .with_context(|| format!("dropping the benchmark database {name}"));
    let cases = outcome?;
    dropped?;
    eprintln!("fixture: database {name} dropped");

    machine.load_after = load_average();
    print_table(&s, &machine, &cases);
    if s.mode == Mode::Smoke {
        println!(
            "\n(smoke run: a couple of iterations per case; run `cargo bench -p egov-tests --bench pki` for figures; no JSON written)"
        );
        return Ok(());
    }
    let path = target_file("BENCH_PKI_JSON", "bench-pki.json");
    let json = to_json(&s, &machine, started_at, pki_init, &cases);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\nfigures written to {}", path.display());
    Ok(())
}

/// Starts uc on the database, runs every case, stops uc.
async fn with_database(s: &Settings, pki: &PkiDir, database_url: &str) -> Result<Vec<Case>> {
    let config = egov_uc::Config {
        http_addr: "127.0.0.1:0".parse()?,
        grpc_addr: "127.0.0.1:0".parse()?,
        pki_dir: pki.path().to_path_buf(),
        database_url: database_url.to_string(),
        ..Default::default()
    };
    let uc = egov_uc::Uc::build(config)
        .await
        .context("starting the uc service")?;
    let ocsp_url = format!("http://{}/ocsp", uc.http_addr());
    eprintln!("fixture: uc OCSP responder at {ocsp_url}");
    let cancel = CancellationToken::new();
    let server = tokio::spawn(uc.run(cancel.clone()));

    let outcome = all_cases(s, pki, &ocsp_url).await;

    cancel.cancel();
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("warning: the uc service ended with an error: {e}"),
        Ok(Err(e)) => eprintln!("warning: the uc service task failed: {e}"),
        Err(_) => eprintln!("warning: the uc service did not stop within 10 s"),
    }
    outcome
}

async fn all_cases(s: &Settings, pki: &PkiDir, ocsp_url: &str) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    eprintln!("1. crypto bound");
    cases.extend(crypto_cases(s)?);
    eprintln!("2. certificate issuance");
    cases.extend(issuance_cases(s, pki)?);
    eprintln!("3. CMS verification");
    cases.extend(cms_cases(s, pki, ocsp_url).await?);
    Ok(cases)
}

// ---------------------------------------------------------------------------------------
// 1. crypto bound

fn crypto_cases(s: &Settings) -> Result<Vec<Case>> {
    let msg = pseudo_random(RAW_MESSAGE, 1);
    let mut cases = Vec::new();
    for (alg, name, id_sign, id_verify, verify_alg) in [
        (
            KeyAlgorithm::Rsa2048,
            "RSA-2048",
            "sign.rsa2048",
            "verify_raw.rsa2048",
            &signature::RSA_PKCS1_2048_8192_SHA256 as &dyn VerificationAlgorithm,
        ),
        (
            KeyAlgorithm::EcdsaP256,
            "ECDSA P-256",
            "sign.ecdsa_p256",
            "verify_raw.ecdsa_p256",
            &signature::ECDSA_P256_SHA256_ASN1,
        ),
    ] {
        let key = PrivateKey::generate(alg)?;
        cases.push(measure_sync(
            s,
            id_sign,
            &format!("{name} sign (PrivateKey::sign)"),
            || key.sign(&msg).map(drop).map_err(Into::into),
        )?);
        let sig = key.sign(&msg)?;
        let public = UnparsedPublicKey::new(verify_alg, key.public_key_raw());
        cases.push(measure_sync(
            s,
            id_verify,
            &format!("{name} verify, raw aws-lc-rs"),
            || {
                public
                    .verify(&msg, &sig)
                    .map_err(|_| anyhow!("the signature does not verify"))
            },
        )?);
    }
    Ok(cases)
}

// ---------------------------------------------------------------------------------------
// 2. issuance

fn person() -> Result<SubjectSpec> {
    Ok(SubjectSpec::person(
        egov_iin::Iin::parse(IIN).map_err(|e| anyhow!("IIN {IIN}: {e}"))?,
        "АХМЕТОВ ЕРЛАН",
    ))
}

fn issuance_cases(s: &Settings, pki: &PkiDir) -> Result<Vec<Case>> {
    // Authority::issue directly, not PkiDir::issue: nothing is appended to the index,
    // which the responder reads on every OCSP request of section 3
    let ca = &pki.issuing;
    let spec = person()?;
    let now = OffsetDateTime::now_utc();
    let (not_before, not_after) = (
        now - time::Duration::minutes(5),
        now + time::Duration::days(365),
    );
    let mut cases = Vec::new();
    cases.push(measure_sync(
        s,
        "keygen.rsa2048",
        "RSA-2048 key generation alone (context)",
        || {
            PrivateKey::generate(KeyAlgorithm::Rsa2048)
                .map(drop)
                .map_err(Into::into)
        },
    )?);
    let ca_key = ca.key.pkcs8_der();
    cases.push(measure_sync(
        s,
        "keyload.rsa2048",
        "RSA-2048 PKCS#8 key load (context: per issue)",
        || {
            PrivateKey::from_pkcs8_der(ca_key)
                .map(drop)
                .map_err(Into::into)
        },
    )?);
    cases.push(measure_sync(
        s,
        "issue.rsa2048",
        "issue, RSA-2048 subject key (keygen incl.)",
        || {
            ca.issue(
                &spec,
                CertProfile::Signing,
                KeyAlgorithm::Rsa2048,
                not_before,
                not_after,
            )
            .map(drop)
            .map_err(Into::into)
        },
    )?);
    cases.push(measure_sync(
        s,
        "issue.ecdsa_p256",
        "issue, ECDSA P-256 subject key (keygen incl.)",
        || {
            ca.issue(
                &spec,
                CertProfile::Signing,
                KeyAlgorithm::EcdsaP256,
                not_before,
                not_after,
            )
            .map(drop)
            .map_err(Into::into)
        },
    )?);
    let holder = PrivateKey::generate(KeyAlgorithm::Rsa2048)?;
    let holder_kp = rcgen::KeyPair::try_from(holder.pkcs8_der())?;
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())?
        .serialize_request(&holder_kp)?
        .pem()?;
    cases.push(measure_sync(
        s,
        "issue_for_csr.rsa2048",
        "issue_for_csr, existing RSA-2048 key",
        || {
            ca.issue_for_csr(&csr, &spec, CertProfile::Signing, not_before, not_after)
                .map(drop)
                .map_err(Into::into)
        },
    )?);
    Ok(cases)
}

// ---------------------------------------------------------------------------------------
// 3. CMS verification

/// A document and its detached signature.
type Signed = (Vec<u8>, Vec<u8>);

async fn verify_one(v: &Verifier, doc: &Signed, want: Revocation) -> Result<()> {
    let signer = v
        .verify_detached(&doc.0, &doc.1, &VerifyOptions::default())
        .await
        .map_err(|e| anyhow!("verification failed ({}): {e}", e.reason()))?;
    ensure!(
        signer.revocation == want,
        "revocation established by {:?}, expected {want:?}",
        signer.revocation
    );
    Ok(())
}

fn ocsp_client(url: &str) -> Arc<OcspClient> {
    Arc::new(OcspClient::new(url, OCSP_TIMEOUT, time::Duration::hours(1)))
}

async fn cms_cases(s: &Settings, pki: &PkiDir, ocsp_url: &str) -> Result<Vec<Case>> {
    let now = OffsetDateTime::now_utc();
    let leaf = pki.issue(
        &person()?,
        CertProfile::Signing,
        KeyAlgorithm::Rsa2048,
        now - time::Duration::minutes(5),
        now + time::Duration::days(30),
    )?;
    let key = leaf.key.as_ref().context("the leaf has a key")?;
    let chain = [pki.issuing.cert.clone()];
    let docs: Arc<Vec<Signed>> = Arc::new(
        (0..CMS_DOCUMENTS)
            .map(|i| {
                let doc = pseudo_random(CMS_DOCUMENT, 100 + i as u64);
                let sig = egov_pki::cms::sign(&doc, key, &leaf.cert, &chain, true, now)?;
                Ok((doc, sig))
            })
            .collect::<Result<_>>()?,
    );

    // the verifier trusts the root only: the issuing CA comes from the signature
    let base = Verifier::new(vec![pki.root.clone()]);
    let with_crl = base.clone().with_crls(vec![pki.crl()?]);
    let warm_client = ocsp_client(ocsp_url);
    let with_warm_ocsp = base.clone().with_ocsp(warm_client.clone());
    let cold_client = ocsp_client(ocsp_url);
    let with_cold_ocsp = base.clone().with_ocsp(cold_client.clone());

    let mut cases = Vec::new();
    let docs_ref = &docs;
    let sequential: [(
        &'static str,
        &str,
        &Verifier,
        Revocation,
        Option<&OcspClient>,
    ); 4] = [
        (
            "cms.none",
            "(a) no revocation check",
            &base,
            Revocation::NotChecked,
            None,
        ),
        ("cms.crl", "(b) CRL", &with_crl, Revocation::Crl, None),
        (
            "cms.ocsp_cached",
            "(c) OCSP, warm cache",
            &with_warm_ocsp,
            Revocation::Ocsp,
            None,
        ),
        (
            "cms.ocsp_uncached",
            "(d) OCSP, no cache (HTTP to uc each time)",
            &with_cold_ocsp,
            Revocation::Ocsp,
            Some(&cold_client),
        ),
    ];
    for (id, label, verifier, want, clear) in sequential {
        let mut i = 0usize;
        cases.push(
            measure_async(s, id, label, async || {
                i += 1;
                if let Some(c) = clear {
                    c.clear_cache();
                }
                verify_one(verifier, &docs_ref[i % docs_ref.len()], want).await
            })
            .await?,
        );
    }
    drop(warm_client);

    cases.push(concurrent_uncached(s, &base, ocsp_url, &docs).await?);
    Ok(cases)
}

/// Case 3e: [`CONCURRENT_VERIFIERS`] tasks, each with its own OCSP client whose cache it
/// clears before every verification (a shared client would let one task's answer serve
/// another between two clears).
async fn concurrent_uncached(
    s: &Settings,
    base: &Verifier,
    ocsp_url: &str,
    docs: &Arc<Vec<Signed>>,
) -> Result<Case> {
    let label = format!("(e) OCSP, no cache, {CONCURRENT_VERIFIERS} concurrent verifiers");
    let barrier = Arc::new(tokio::sync::Barrier::new(CONCURRENT_VERIFIERS + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for k in 0..CONCURRENT_VERIFIERS {
        let client = ocsp_client(ocsp_url);
        let verifier = base.clone().with_ocsp(client.clone());
        let (docs, barrier, stop, settings) = (docs.clone(), barrier.clone(), stop.clone(), *s);
        tasks.push(tokio::spawn(async move {
            let mut i = k;
            let mut op = async || {
                i += 1;
                client.clear_cache();
                verify_one(&verifier, &docs[i % docs.len()], Revocation::Ocsp).await
            };
            // warm up, then start together; wait at the barrier even after a failure so
            // that the others are not left hanging
            let warm = Instant::now();
            let warmed = loop {
                if let Err(e) = op().await {
                    break Err(e);
                }
                if warm.elapsed() >= settings.warmup {
                    break Ok(());
                }
            };
            barrier.wait().await;
            warmed.context("warm-up")?;
            let mut latencies = Vec::new();
            while latencies.is_empty() || !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    tokio::time::sleep(s.budget).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(anyhow!("verifier task: {e}")),
        }
    }
    let elapsed = start.elapsed();
    if let Some(e) = failure {
        return Err(e.context(label));
    }
    let case = Case::new(
        "cms.ocsp_uncached_concurrent",
        label,
        elapsed,
        latencies,
        CONCURRENT_VERIFIERS,
    );
    progress(&case);
    Ok(case)
}

// ---------------------------------------------------------------------------------------
// output

fn group_of(id: &str) -> u8 {
    match id.split('.').next() {
        Some("sign" | "verify_raw") => 1,
        Some("keygen" | "keyload" | "issue" | "issue_for_csr") => 2,
        _ => 3,
    }
}

fn rate_of(cases: &[Case], id: &str) -> Option<f64> {
    cases.iter().find(|c| c.id == id).map(Case::ops_per_sec)
}

fn print_table(s: &Settings, m: &Machine, cases: &[Case]) {
    let baseline = rate_of(cases, "cms.none");
    let raw = rate_of(cases, "verify_raw.rsa2048");
    println!();
    println!(
        "PKI benchmark: mode {}, ~{:.1} s per case, nproc {}, CPU {}, load avg {} -> {}",
        s.mode_name(),
        s.budget.as_secs_f64(),
        m.nproc,
        m.cpu,
        m.load_before,
        m.load_after,
    );
    let rule = "-".repeat(118);
    println!("{rule}");
    println!(
        "{:<56} {:>8} {:>11} {:>10} {:>10} {:>9} {:>9}",
        "case", "iters", "ops/s", "p50", "p99", "x (a)", "x raw vfy"
    );
    println!("{rule}");
    let headings = [
        "1. crypto bound (SHA-256, 1 KiB message)",
        "2. certificates issued (RSA-2048 issuing CA, profile signing)",
        "3. CMS detached verify (2 KiB, RSA-2048 signer, root -> issuing -> leaf)",
    ];
    let mut group = 0;
    for c in cases {
        let g = group_of(c.id);
        if g != group {
            group = g;
            println!("{}", headings[usize::from(g) - 1]);
        }
        let ratio = |b: Option<f64>| match (g, b) {
            (3, Some(b)) => format!("{:.3}", c.ops_per_sec() / b),
            _ => String::new(),
        };
        let line = format!(
            "  {:<54} {:>8} {:>11} {:>10} {:>10} {:>9} {:>9}",
            c.label,
            c.iterations,
            fmt_rate(c.ops_per_sec()),
            fmt_dur(c.percentile(50.0)),
            fmt_dur(c.percentile(99.0)),
            ratio(baseline),
            ratio(raw),
        );
        println!("{}", line.trim_end());
    }
    println!("{rule}");
    println!(
        "x (a): ops/s relative to (a); x raw vfy: relative to one raw RSA-2048 verification.\n\
         (a) itself makes 3 RSA verifications (signature, leaf, issuing CA); (b) adds the CRL's;\n\
         (d)/(e) add the OCSP answer's, plus an HTTP round trip in which uc queries PostgreSQL and\n\
         signs the answer with its RSA-2048 key. uc runs in this process and shares the {} cores.",
        m.nproc
    );
}

fn to_json(
    s: &Settings,
    m: &Machine,
    started_at: OffsetDateTime,
    pki_init: Duration,
    cases: &[Case],
) -> serde_json::Value {
    let baseline = rate_of(cases, "cms.none");
    let raw = rate_of(cases, "verify_raw.rsa2048");
    let started = started_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    serde_json::json!({
        "bench": "pki",
        "started_at": started,
        "mode": s.mode_name(),
        "budget_secs": s.budget.as_secs_f64(),
        "warmup_secs": s.warmup.as_secs_f64(),
        "nproc": m.nproc,
        "cpu": m.cpu,
        "load_average_before": m.load_before,
        "load_average_after": m.load_after,
        "fixture": {
            "pki_init_secs": pki_init.as_secs_f64(),
            "raw_message_bytes": RAW_MESSAGE,
            "cms_document_bytes": CMS_DOCUMENT,
            "cms_distinct_documents": CMS_DOCUMENTS,
        },
        "cases": cases.iter().map(|c| {
            let g = group_of(c.id);
            let ratio = |b: Option<f64>| (g == 3).then_some(b).flatten().map(|b| c.ops_per_sec() / b);
            serde_json::json!({
                "id": c.id,
                "section": g,
                "label": c.label,
                "iterations": c.iterations,
                "seconds": c.elapsed.as_secs_f64(),
                "concurrency": c.concurrency,
                "ops_per_sec": c.ops_per_sec(),
                "p50_us": us(c.percentile(50.0)),
                "p99_us": us(c.percentile(99.0)),
                "mean_us": us(c.mean()),
                "max_us": us(c.latencies.last().copied().unwrap_or_default()),
                "ratio_to_no_revocation": ratio(baseline),
                "ratio_to_raw_rsa_verify": ratio(raw),
            })
        }).collect::<Vec<_>>(),
    })
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
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}
