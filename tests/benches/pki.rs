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
//! The fixture is the world of `egov_testkit` on an RSA-2048 test PKI: its uc keeps its
//! certificates in a fresh PostgreSQL database (`EGOV_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`); its gateway is built (which needs NATS,
//! `EGOV_TEST_NATS_URL`) but never started. The database is dropped at the end.
//!
//! ```text
//! cargo bench -p egov-tests --bench pki               # ~2 s per case
//! cargo bench -p egov-tests --bench pki -- --quick    # ~0.3 s per case (or BENCH_QUICK=1)
//! cargo bench -p egov-tests --bench pki -- cms        # the CMS cases only
//! ```
//!
//! Without the `--bench` flag that `cargo bench` passes (i.e. under `cargo test --benches`)
//! every case runs a couple of iterations only, as a smoke test, and no JSON is written.
//! The figures go to stdout as a table and to `target/bench-pki.json` (override the path
//! with `BENCH_PKI_JSON`).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use egov_pki::authority::{CertProfile, SubjectSpec};
use egov_pki::keys::KeyAlgorithm;
use egov_pki::ocsp::Client as OcspClient;
use egov_pki::verify::{Revocation, VerifyOptions};
use egov_pki::{PkiDir, PrivateKey, Verifier};
use egov_tests::bench::{self, Bench, Spec, Timing, filler, op};
use time::OffsetDateTime;

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

const SPEC: Spec = Spec {
    name: "pki",
    title: "PKI benchmark",
    quick: "~0.3 s per case instead of ~2 s",
    full: Timing::new(2_000, 200, 3),
    fast: Timing::new(300, 50, 2),
    smoke: Timing::new(0, 0, 2),
    options: &[],
    notes: &[
        "Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)",
        "and NATS at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222), for the test world.",
    ],
    worker_threads: None,
};

fn main() -> ExitCode {
    bench::main(&SPEC, run)
}

async fn run(mut b: Bench) -> Result<()> {
    // the fixture: an RSA test PKI, a fresh database and uc on port 0; the world's
    // gateway is not started
    let t = Instant::now();
    let mut opts = egov_testkit::Options::new(&["shep"]);
    opts.algorithm = KeyAlgorithm::Rsa2048;
    let w = egov_testkit::World::with(opts).await;
    let world_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "fixture: RSA-2048 test PKI, database {}, uc OCSP responder at {}, made in {world_secs:.1} s",
        w.db.name, w.ocsp_url
    );
    b.fixture("world_init_secs", world_secs);
    b.fixture("raw_message_bytes", RAW_MESSAGE);
    b.fixture("cms_document_bytes", CMS_DOCUMENT);
    b.fixture("cms_distinct_documents", CMS_DOCUMENTS);
    let pki = w.authority();

    b.compare("x (a)", "ratio_to_no_revocation", |id| {
        id.starts_with("cms.").then_some("cms.none")
    });
    b.compare("x raw vfy", "ratio_to_raw_rsa_verify", |id| {
        id.starts_with("cms.").then_some("verify_raw.rsa2048")
    });
    b.section("1. crypto bound (SHA-256, 1 KiB message)");
    crypto_cases(&mut b)?;
    b.section("2. certificates issued (RSA-2048 issuing CA, profile signing)");
    issuance_cases(&mut b, &pki)?;
    b.section("3. CMS detached verify (2 KiB, RSA-2048 signer, root -> issuing -> leaf)");
    cms_cases(&mut b, &pki, &w.ocsp_url).await?;

    b.note(format!(
        "x (a): ops/s relative to (a); x raw vfy: relative to one raw RSA-2048 verification.\n\
         (a) itself makes 3 RSA verifications (signature, leaf, issuing CA); (b) adds the CRL's;\n\
         (d)/(e) add the OCSP answer's, plus an HTTP round trip in which uc queries PostgreSQL and\n\
         signs the answer with its RSA-2048 key. uc runs in this process and shares the {} cores.",
        b.machine().nproc
    ));
    let outcome = b.finish();
    drop(w);
    eprintln!("fixture: world dropped (database, streams)");
    outcome
}

// ---------------------------------------------------------------------------------------
// 1. crypto bound

fn crypto_cases(b: &mut Bench) -> Result<()> {
    let msg = filler(RAW_MESSAGE, 1);
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
        b.measure(id_sign, format!("{name} sign (PrivateKey::sign)"), || {
            key.sign(&msg).map(drop).map_err(Into::into)
        })?;
        let sig = key.sign(&msg)?;
        let public = UnparsedPublicKey::new(verify_alg, key.public_key_raw());
        b.measure(id_verify, format!("{name} verify, raw aws-lc-rs"), || {
            public
                .verify(&msg, &sig)
                .map_err(|_| anyhow!("the signature does not verify"))
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. issuance

fn person() -> Result<SubjectSpec> {
    Ok(SubjectSpec::person(
        egov_iin::Iin::parse(IIN).map_err(|e| anyhow!("IIN {IIN}: {e}"))?,
        "АХМЕТОВ ЕРЛАН",
    ))
}

fn issuance_cases(b: &mut Bench, pki: &PkiDir) -> Result<()> {
    // Authority::issue directly, not PkiDir::issue: nothing is appended to the index,
    // which the responder reads on every OCSP request of section 3
    let ca = &pki.issuing;
    let spec = person()?;
    let now = OffsetDateTime::now_utc();
    let (not_before, not_after) = (
        now - time::Duration::minutes(5),
        now + time::Duration::days(365),
    );
    b.measure(
        "keygen.rsa2048",
        "RSA-2048 key generation alone (context)",
        || {
            PrivateKey::generate(KeyAlgorithm::Rsa2048)
                .map(drop)
                .map_err(Into::into)
        },
    )?;
    let ca_key = ca.key.pkcs8_der();
    b.measure(
        "keyload.rsa2048",
        "RSA-2048 PKCS#8 key load (context: per issue)",
        || {
            PrivateKey::from_pkcs8_der(ca_key)
                .map(drop)
                .map_err(Into::into)
        },
    )?;
    for (id, label, alg) in [
        (
            "issue.rsa2048",
            "issue, RSA-2048 subject key (keygen incl.)",
            KeyAlgorithm::Rsa2048,
        ),
        (
            "issue.ecdsa_p256",
            "issue, ECDSA P-256 subject key (keygen incl.)",
            KeyAlgorithm::EcdsaP256,
        ),
    ] {
        b.measure(id, label, || {
            ca.issue(&spec, CertProfile::Signing, alg, not_before, not_after)
                .map(drop)
                .map_err(Into::into)
        })?;
    }
    let holder = PrivateKey::generate(KeyAlgorithm::Rsa2048)?;
    let holder_kp = rcgen::KeyPair::try_from(holder.pkcs8_der())?;
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())?
        .serialize_request(&holder_kp)?
        .pem()?;
    b.measure(
        "issue_for_csr.rsa2048",
        "issue_for_csr, existing RSA-2048 key",
        || {
            ca.issue_for_csr(&csr, &spec, CertProfile::Signing, not_before, not_after)
                .map(drop)
                .map_err(Into::into)
        },
    )
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

async fn cms_cases(b: &mut Bench, pki: &PkiDir, ocsp_url: &str) -> Result<()> {
    // a leaf recorded in the index, so that the responder knows it
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
                let doc = filler(CMS_DOCUMENT, 100 + i as u64);
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

    let docs_ref = &docs;
    let sequential: [(&str, &str, &Verifier, Revocation, Option<&OcspClient>); 4] = [
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
        b.measure_async(id, label, async || {
            i += 1;
            if let Some(c) = clear {
                c.clear_cache();
            }
            verify_one(verifier, &docs_ref[i % docs_ref.len()], want).await
        })
        .await?;
    }
    drop(warm_client);

    // (e): each verifier with an OCSP client of its own whose cache it clears before every
    // verification (a shared client would let one's answer serve another between clears)
    let verifiers = (0..CONCURRENT_VERIFIERS)
        .map(|k| {
            let client = ocsp_client(ocsp_url);
            let verifier = Arc::new(base.clone().with_ocsp(client.clone()));
            let (docs, next) = (docs.clone(), Arc::new(AtomicUsize::new(k)));
            op(move || {
                let (client, verifier, docs) = (client.clone(), verifier.clone(), docs.clone());
                let i = next.fetch_add(1, Ordering::Relaxed) + 1;
                async move {
                    client.clear_cache();
                    verify_one(&verifier, &docs[i % docs.len()], Revocation::Ocsp).await
                }
            })
        })
        .collect();
    b.closed_loop_each(
        "cms.ocsp_uncached_concurrent",
        format!("(e) OCSP, no cache, {CONCURRENT_VERIFIERS} concurrent verifiers"),
        verifiers,
    )
    .await
}
