//! Applications taken at ИС ЦОН's desk per second, through the operator API to
//! «поступившие» (the provider's «received» back at ИС ЦОН), beside the bare gateway
//! path of the same messages, in one run on an RSA-2048 test PKI with OCSP:
//!
//! - **bare.person**: ИС ЦОН's signed `gbd-fl.person.get` through ШЭП to ГБД ФЛ (one
//!   sync hop), the request the desk makes first;
//! - **bare.submit**: a signed application from ИС ЦОН through ШЭП → РШЭП Алматы into
//!   ИС МИО's inbox (accepted by the gateways), the message the desk sends;
//! - **desk**: an inspector's `POST /api/v1/applications` (C-person through ШЭП), then
//!   `POST .../submit` (completeness, the form, the operator's signature, the send), until
//!   ИС ЦОН's view of the application shows ИС МИО's «received»: everything a person at the
//!   desk waits for, with ИС МИО registering and sending the status back through two
//!   gateways.
//!
//! Each worker is an inspector of its own centre of Almaty. Needs PostgreSQL and NATS (as
//! the tests).
//!
//! ```text
//! cargo bench -p egov-tests --bench con               # ~10 s per case
//! cargo bench -p egov-tests --bench con -- --quick    # ~2 s per case
//! ```
//! Figures go to stdout and `target/bench-con.json` (or `BENCH_CON_JSON`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use base64::Engine as _;
use egov_contracts::mio::{Submission, services};
use egov_pki::keys::KeyAlgorithm;
use egov_testkit::stack::{Stack, StackOptions, submission};
use egov_tests::bench::{self, Bench, Spec, Timing, op};
use serde_json::json;
use shared::desk::Desk;

mod shared;

/// Inspectors at the desk at once (one per centre).
const IN_FLIGHT: usize = 4;
const REGULATION: &str = "almaty-2013-housing-queue";
const CITIZEN: &str = "family-father";

const SPEC: Spec = Spec {
    name: "con",
    title: "ИС ЦОН desk benchmark (RSA-2048, OCSP)",
    quick: "~2 s per case instead of ~10 s",
    full: Timing::new(10_000, 1_000, 3),
    fast: Timing::new(2_000, 500, 2),
    smoke: Timing::new(0, 0, 2),
    options: &[],
    notes: &[
        "Needs PostgreSQL at EGOV_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)",
        "and NATS with JetStream at EGOV_TEST_NATS_URL (default nats://127.0.0.1:4222).",
    ],
    worker_threads: Some(2),
};

fn main() -> ExitCode {
    bench::main(&SPEC, run)
}

async fn run(mut b: Bench) -> Result<()> {
    let t = Instant::now();
    let mut opts = StackOptions::new(&["mio-almaty"]);
    opts.world = egov_testkit::Options::new(&["shep", "rshep-almaty"]);
    opts.world.algorithm = KeyAlgorithm::Rsa2048;
    opts.clock = egov_calendar::Clock::System;
    let stack = Stack::start(opts).await;
    let con = stack.con.clone().context("ИС ЦОН runs")?;
    let reg = egov_regulation::load_dir(&egov_regulation::shipped_dir())
        .map_err(|e| anyhow!("the regulations: {e:?}"))?
        .into_iter()
        .find(|r| r.id == REGULATION)
        .context("the regulation")?;
    b.fixture("in_flight", IN_FLIGHT);
    b.fixture("regulation", REGULATION);
    b.fixture("setup_secs", t.elapsed().as_secs_f64());

    // the bare path: ИС ЦОН's own client, signing as ИС ЦОН
    let client = stack.w.client("con-is");
    let iin = egov_synth::fixtures::iin_of(CITIZEN).as_string();
    let person = serde_json::to_vec(&json!({"iin": iin}))?;
    // a signed application as the desk sends it: take one at the desk and resend its
    // bytes under new messageIds
    let desk0 = Desk::login(
        &con.http,
        &egov_con_is::operators::operator_iin(
            "almaty-almaly",
            egov_con_is::operators::Role::Inspector,
            0,
        )
        .as_string(),
    )
    .await?;
    let sub = submission(&reg);
    desk0
        .take(REGULATION, CITIZEN, &sub)
        .await
        .context("one application at the desk")?;
    // the bytes ИС ЦОН sent, as ИС МИО registered them
    let mio = stack.mio.get("mio-almaty").context("ИС МИО runs")?;
    let (document, signature): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "select document, signature from applications order by registered_at desc limit 1",
    )
    .fetch_one(&mio.engine.pool)
    .await?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(&Submission {
        document: b64.encode(document),
        signature: b64.encode(signature),
    })?;

    b.section("ИС ЦОН's messages through the gateways, bare");
    let c = client.clone();
    b.closed_loop(
        "bare.person",
        "con-is → ШЭП → ГБД ФЛ person.get (sync)",
        IN_FLIGHT,
        op(move || {
            let (c, body) = (c.clone(), person.clone());
            async move {
                let r = c.call("gbd-fl.person.get", "", "", body).await?;
                ensure!(r.is_success(), "{:?}", r.info.status);
                Ok(())
            }
        }),
    )
    .await?;
    let accepted_by = stack.w.gateway_of("mio-almaty");
    b.closed_loop(
        "bare.submit",
        "con-is → ШЭП → РШЭП → inbox, a signed application (async, accepted)",
        IN_FLIGHT,
        shared::async_send(
            client.clone(),
            services::SUBMIT,
            "almaty",
            &accepted_by,
            Arc::new(payload),
        ),
    )
    .await?;
    // ИС МИО registers what the bare case sent before the desk's case begins
    let mut last = -1i64;
    loop {
        let n: i64 = sqlx::query_scalar("select count(*) from applications")
            .fetch_one(&mio.engine.pool)
            .await?;
        if n == last {
            break;
        }
        last = n;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    b.section("applications taken at the desk, to «поступившие»");
    let centres = [
        "almaty-almaly",
        "almaty-auezov",
        "almaty-bostandyk",
        "almaty-zhetysu",
        "almaty-medeu",
        "almaty-turksib",
        "almaty-alatau",
    ];
    let mut desks = Vec::new();
    for centre in centres.iter().take(IN_FLIGHT) {
        let iin = egov_con_is::operators::operator_iin(
            centre,
            egov_con_is::operators::Role::Inspector,
            0,
        )
        .as_string();
        desks.push(Desk::login(&con.http, &iin).await?);
    }
    let sub = Arc::new(sub);
    let ops = desks
        .into_iter()
        .map(|d| {
            let sub = sub.clone();
            op(move || {
                let (d, sub) = (d.clone(), sub.clone());
                async move { d.take(REGULATION, CITIZEN, &sub).await }
            })
        })
        .collect();
    b.closed_loop_each(
        "desk",
        "operator API: draft (C-person) + submit (sign, send) → «received» at ИС ЦОН",
        ops,
    )
    .await?;
    if let Some(r) = b.ratio("desk", "bare.submit") {
        b.note(format!(
            "desk ÷ bare.submit = {r:.3} (applications taken per second over bare signed sends)"
        ));
    }
    if let Some(r) = b.ratio("desk", "bare.person") {
        b.note(format!("desk ÷ bare.person = {r:.3}"));
    }
    let outcome = b.finish();
    drop(stack);
    outcome
}
