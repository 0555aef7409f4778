//! The world of ИС МИО's tests: uc, ШЭП and the three РШЭП, ГБД ФЛ with the named test
//! citizens, the three ИС МИО (with the test-only regulation for mio-nko) on a manual
//! clock; a citizen and a ЦОН operator who sign applications with keys of the test PKI;
//! the portal's and ИС ЦОН's inboxes read as they would read them; and a generic driver
//! that completes every task of an application through the АРМ API, the way the
//! regulation file says, choosing the outcomes of a branch.

#![allow(dead_code)]

use egov_grpc::Listening as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use base64::Engine as _;
use egov_contracts::mio::{
    Applicant, ApplicationDocument, Attachment, Operator, StatusUpdate, Submission, services,
};
use egov_mio_is::clock::Clock;
use egov_mio_is::engine::Engine;
use egov_pki::{CertInfo, CertProfile, PrivateKey, SubjectSpec};
use egov_proto::shep::v1::MessageType;
use egov_regulation::{Regulation, ResultKind, StepKind};
use egov_shep_client::{Client, Reply};
use egov_synth::fixtures::iin_of;
use egov_testkit::World;
use futures::StreamExt;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The development password the tests' ИС МИО give every seeded account
/// (`dev_employee_password`; without it each account gets a generated one).
pub const PASSWORD: &str = "egov-test";

/// A running ИС МИО.
pub struct Mio {
    pub system: String,
    pub region: String,
    pub http: String,
    pub engine: Engine,
}

pub struct Env {
    pub w: World,
    pub clock: Clock,
    pub mio: HashMap<String, Mio>,
    pub http: reqwest::Client,
    /// Where ГБД ФЛ and ЕНИС serve health and metrics.
    pub registries_http: HashMap<String, String>,
}

pub fn test_regulations() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mio-is/regulations")
}

/// A world with the ИС МИО of `systems` running.
pub async fn env(systems: &[&str]) -> Env {
    env_in(None, &[], systems).await
}

/// A world of the topology in `topology_dir` (the shipped one when none), with every
/// gateway of it and the ИС МИО of `systems`, reading regulation files also from
/// `regulation_dirs`.
pub async fn env_in(
    topology_dir: Option<PathBuf>,
    regulation_dirs: &[PathBuf],
    systems: &[&str],
) -> Env {
    env_with(topology_dir, regulation_dirs, systems, |_| {}).await
}

/// As [`env_in`], with `tweak` applied to each ИС МИО's settings last.
pub async fn env_with(
    topology_dir: Option<PathBuf>,
    regulation_dirs: &[PathBuf],
    systems: &[&str],
    tweak: impl Fn(&mut egov_mio_is::Config),
) -> Env {
    begin(topology_dir, regulation_dirs, systems, tweak)
        .await
        .finish()
        .await
}

/// A world built but not started: the registries and the ИС МИО registered, so that a
/// lane can register its own system on the gateways before [`Pending::finish`].
pub struct Pending {
    pub w: World,
    pub clock: Clock,
    built: Vec<egov_mio_is::MioIs>,
    registries_http: HashMap<String, String>,
}

/// The first half of [`env_with`]: everything built and registered, nothing started.
pub async fn begin(
    topology_dir: Option<PathBuf>,
    regulation_dirs: &[PathBuf],
    systems: &[&str],
    tweak: impl Fn(&mut egov_mio_is::Config),
) -> Pending {
    let topology = egov_topology::Topology::open(topology_dir.as_deref()).unwrap();
    let gateways: Vec<&str> = topology.gateways.iter().map(|g| g.id.as_str()).collect();
    let mut opts = egov_testkit::Options::new(&gateways);
    opts.topology_dir = topology_dir.clone();
    let mut w = World::with(opts).await;
    let clock = Clock::manual();
    // ГБД ФЛ with the named citizens
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: None,
        ..Default::default()
    })
    .await
    .unwrap();
    // ЕНИС with the named powers of attorney (C-poa for every representative)
    let enis = egov_enis::Enis::build(egov_enis::Config {
        system: w.system_config("enis", "enis"),
    })
    .await
    .unwrap();
    egov_seed::seed(&w.db.url, &egov_seed::Options::new(40, 1, clock.today()))
        .await
        .unwrap();
    let registries_http = HashMap::from([
        ("gbd-fl".to_string(), format!("http://{}", gbd.http_addr())),
        ("enis".to_string(), format!("http://{}", enis.http_addr())),
    ]);
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.register("enis", enis.grpc_addr());
    w.spawn(enis.run(w.cancel.clone()));

    let mut built = Vec::new();
    for sys in systems {
        let mut cfg = egov_mio_is::Config::for_system(&w.topology, sys)
            .unwrap_or_else(|| panic!("{sys} is not an ИС МИО of the topology"));
        let base = w.system_config(sys, &sys.replace('-', "_"));
        cfg.system.pki_dir = base.pki_dir;
        cfg.system.database_url = base.database_url;
        cfg.system.ocsp_url = base.ocsp_url;
        cfg.system.any_ports();
        cfg.nats_url = egov_devenv_nats();
        cfg.nats_prefix = w.prefix.clone();
        cfg.regulation_dirs = vec![egov_regulation::shipped_dir(), test_regulations()];
        cfg.regulation_dirs.extend(regulation_dirs.iter().cloned());
        if *sys == "mio-nko" {
            // the test-only file of a new provider of mio-nko
            cfg.regulation_files
                .push("kyzylzhar-2026-housing-queue.toml".into());
        }
        cfg.sla_interval_secs = 3600;
        cfg.ack_wait_secs = 5;
        cfg.dev_employee_password = Some(PASSWORD.into());
        // the web UI's and the driver's signatures: the server-held keys (development)
        cfg.dev_server_keystore = true;
        cfg.keystore_key_file = w.dir.path().join(format!("{sys}-keystore.key"));
        // the АРМ reads the РШЭП's message log as a role that may only read it
        cfg.journal_url = Some(
            egov_db::provision_reader(
                &w.db.url,
                &format!("{}_journal", cfg.system.schema),
                &["gateway"],
                None,
            )
            .await
            .unwrap(),
        );
        tweak(&mut cfg);
        let mut m = egov_mio_is::MioIs::build(cfg, clock.clone()).await.unwrap();
        m.seed_employees(&w.authority()).await.unwrap();
        w.register(sys, m.grpc_addr());
        built.push(m);
    }
    Pending {
        w,
        clock,
        built,
        registries_http,
    }
}

impl Pending {
    /// Starts the gateways and every ИС МИО.
    pub async fn finish(self) -> Env {
        let Pending {
            mut w,
            clock,
            built,
            registries_http,
        } = self;
        w.start();
        w.ready().await;
        let mut mio = HashMap::new();
        for mut m in built {
            let system = m.system_id().to_string();
            m.set_gateway(&w.gateway_addr_of(&system));
            let region = w
                .topology
                .system(&system)
                .and_then(|s| s.region.clone())
                .expect("a regional system");
            let entry = Mio {
                system: system.clone(),
                region,
                http: format!("http://{}", m.http_addr()),
                engine: m.engine(),
            };
            w.spawn(m.run(w.cancel.clone()));
            mio.insert(system, entry);
        }
        Env {
            w,
            clock,
            mio,
            http: reqwest::Client::new(),
            registries_http,
        }
    }
}

/// The NATS URL of the tests.
pub fn egov_devenv_nats_url() -> String {
    egov_devenv_nats()
}

fn egov_devenv_nats() -> String {
    std::env::var("EGOV_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A person with a signing key of the test PKI.
pub struct Signer {
    pub iin: String,
    pub name: String,
    pub key: PrivateKey,
    pub cert: CertInfo,
}

impl Env {
    pub fn mio(&self, system: &str) -> &Mio {
        self.mio
            .get(system)
            .unwrap_or_else(|| panic!("{system} does not run"))
    }

    /// A signing certificate for `iin` (a citizen, or an operator when `org` is given).
    pub fn signer(&self, iin: &str, name: &str, org: Option<(&str, &str)>) -> Signer {
        let pki = self.w.authority();
        let mut spec = SubjectSpec::person(egov_iin::Iin::parse(iin).unwrap(), name);
        if let Some((o, bin)) = org {
            spec.organization = Some(o.into());
            spec.bin = Some(bin.into());
        }
        let now = OffsetDateTime::now_utc();
        let issued = pki
            .issue(
                &spec,
                CertProfile::Signing,
                pki.issuing.key.algorithm(),
                now - time::Duration::days(1),
                now + time::Duration::days(365),
            )
            .unwrap();
        Signer {
            iin: iin.into(),
            name: name.into(),
            key: issued.key.unwrap(),
            cert: issued.cert,
        }
    }

    /// The citizen of a named fixture, with a fresh signing key.
    pub fn citizen(&self, key: &str) -> Signer {
        let c = egov_synth::fixtures::citizens(self.clock.today())
            .into_iter()
            .find(|c| c.key == key)
            .unwrap();
        self.signer(&c.iin.as_string(), &c.name, None)
    }

    /// A ЦОН operator.
    pub fn operator(&self) -> Signer {
        let iin = (9700..)
            .find_map(|s| {
                egov_iin::Iin::from_parts(egov_synth::date(1990, 2, 15), egov_iin::Sex::Female, s)
                    .ok()
            })
            .unwrap()
            .as_string();
        self.signer(
            &iin,
            "ОПЕРАТОРОВА ДИНА",
            Some((
                "НАО «Государственная корпорация «Правительство для граждан»",
                "000140000109",
            )),
        )
    }

    pub fn client(&self, system: &str) -> Client {
        self.w.client(system)
    }
}

/// A detached CMS by `signer` over `bytes`, base64: what a client (NCALayer) answers.
pub fn cms(signer: &Signer, bytes: &[u8]) -> String {
    let sig = egov_pki::cms::sign(
        bytes,
        &signer.key,
        &signer.cert,
        &[],
        true,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// A complete application of `key`'s citizen for `reg`, every required document scanned.
pub fn application(
    reg: &Regulation,
    citizen: &str,
    channel: &str,
    today: time::Date,
) -> ApplicationDocument {
    let c = egov_synth::fixtures::household(today)
        .persons
        .into_iter()
        .find(|p| p.iin == iin_of(citizen))
        .unwrap();
    let category = reg.categories[0].id.clone();
    let mut form = serde_json::Map::new();
    for f in &reg.fields {
        if f.id.contains('.') || f.id == "category" {
            continue;
        }
        let v = match f.kind {
            egov_regulation::FieldKind::Number => json!(3),
            egov_regulation::FieldKind::Date => json!("2020-01-01"),
            egov_regulation::FieldKind::Bool => json!(true),
            egov_regulation::FieldKind::Email => json!("applicant@example.kz"),
            egov_regulation::FieldKind::Phone => json!("+7 701 123 45 67"),
            _ => json!(format!("{} (тест)", f.name.ru)),
        };
        form.insert(f.id.clone(), v);
    }
    let documents = reg
        .required_documents(&category)
        .into_iter()
        .map(|d| Attachment {
            kind: d.id.clone(),
            name: format!("{}.pdf", d.id),
            media_type: "application/pdf".into(),
            content: Some(
                base64::engine::general_purpose::STANDARD
                    .encode(format!("%PDF-1.4 scan of {}", d.id)),
            ),
            paper: channel != "portal",
        })
        .collect();
    ApplicationDocument {
        regulation: Some(reg.id.clone()),
        service: reg.service.clone(),
        provider: reg.providers[0].id.clone(),
        channel: channel.into(),
        applicant: Applicant {
            iin: c.iin.as_string(),
            surname: Some(c.surname.clone()),
            name: Some(c.name.clone()),
            patronymic: c.patronymic.clone(),
            birth_date: Some(egov_contracts::date::format(c.birth_date())),
            phone: Some("+7 701 123 45 67".into()),
            email: Some("applicant@example.kz".into()),
            address: Some(format!(
                "{}, {}, {}",
                c.address.locality, c.address.street, c.address.house
            )),
        },
        category,
        representative: None,
        poa: None,
        operator: None,
        form,
        documents,
        submitted_at: OffsetDateTime::now_utc(),
    }
}

/// Signs and sends an application as `system` (portal or con-is) to the region.
pub async fn send(
    env: &Env,
    system: &str,
    region: &str,
    doc: &ApplicationDocument,
    signer: &Signer,
) -> Reply {
    let bytes = serde_json::to_vec(doc).unwrap();
    send_bytes(env, system, region, &bytes, signer).await
}

pub async fn send_bytes(
    env: &Env,
    system: &str,
    region: &str,
    bytes: &[u8],
    signer: &Signer,
) -> Reply {
    let sig = egov_pki::cms::sign(
        bytes,
        &signer.key,
        &signer.cert,
        &[],
        true,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(&Submission {
        document: b64.encode(bytes),
        signature: b64.encode(sig),
    })
    .unwrap();
    let r = env
        .client(system)
        .send_async(services::SUBMIT, region, MessageType::Request, "", payload)
        .await
        .unwrap();
    assert!(r.is_success(), "{:?}", r.info);
    r
}

/// Reads a system's inbox as that system would (verified envelopes, acknowledged).
pub struct Inbox {
    consumer: PullConsumer,
    verifier: Arc<egov_pki::Verifier>,
}

impl Inbox {
    pub async fn open(env: &Env, system: &str) -> Inbox {
        let consumer = env
            .w
            .names()
            .consumer_for(&env.w.js(), system, Duration::from_secs(30), 20)
            .await
            .unwrap();
        Inbox {
            consumer,
            verifier: env.w.verifier(),
        }
    }

    /// One fetch: the status updates about `message_id` that arrive within 300 ms,
    /// each with the system that signed it.
    async fn fetch(&self, message_id: &str) -> Vec<(String, StatusUpdate)> {
        let mut out = Vec::new();
        let mut batch = self
            .consumer
            .fetch()
            .max_messages(50)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .unwrap();
        while let Some(Ok(m)) = batch.next().await {
            let env: egov_proto::shep::v1::Envelope =
                prost::Message::decode(m.payload.as_ref()).unwrap();
            let opened = egov_shep_client::envelope::open_request(&env, &self.verifier)
                .await
                .unwrap();
            let _ = m.ack().await;
            let s: StatusUpdate = serde_json::from_slice(&opened.payload).unwrap();
            if s.application_message_id == message_id {
                out.push((opened.header.sender.unwrap().sender_id, s));
            }
        }
        out
    }

    /// Whatever arrives about `message_id` within `window`.
    pub async fn drain(&self, message_id: &str, window: Duration) -> Vec<(String, StatusUpdate)> {
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + window;
        while std::time::Instant::now() < deadline {
            out.extend(self.fetch(message_id).await);
        }
        out
    }

    /// Status updates about `message_id` (the application's), until `until` is seen.
    pub async fn statuses_until(
        &self,
        message_id: &str,
        until: &str,
    ) -> Vec<(String, StatusUpdate)> {
        let mut out: Vec<(String, StatusUpdate)> = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !out.iter().any(|(_, s)| s.status == until) {
            assert!(
                std::time::Instant::now() < deadline,
                "no status {until} for {message_id}; got {:?}",
                out.iter()
                    .map(|(_, s)| s.status.clone())
                    .collect::<Vec<_>>()
            );
            out.extend(self.fetch(message_id).await);
        }
        out
    }
}

/// An АРМ session.
pub struct Arm {
    pub base: String,
    pub token: String,
    pub iin: String,
    pub http: reqwest::Client,
}

impl Arm {
    pub async fn login(env: &Env, system: &str, iin: &str) -> Arm {
        let base = env.mio(system).http.clone();
        let r = env
            .http
            .post(format!("{base}/api/v1/login"))
            .json(&json!({"iin": iin, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {iin}: {}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        Arm {
            base,
            token: v["token"].as_str().unwrap().to_string(),
            iin: iin.into(),
            http: env.http.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// The employees of a role at a provider.
pub async fn employees_of(env: &Env, system: &str, provider: &str, role: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select iin from employees where provider_id = $1 and role = $2 order by iin",
    )
    .bind(provider)
    .bind(role)
    .fetch_all(&env.mio(system).engine.pool)
    .await
    .unwrap()
}

/// Which way an application should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    /// Registered on the waiting list (S1) or assistance assigned (S2).
    Success,
    /// Motivated refusal.
    Refusal,
    /// Incomplete documents (return letter, or the refusal the regulation gives then).
    Incomplete,
}

/// Waits until the application of `message_id` is registered.
pub async fn registered(
    env: &Env,
    system: &str,
    message_id: &str,
) -> egov_mio_is::store::Application {
    for _ in 0..400 {
        if let Some(a) =
            egov_mio_is::store::application_by_message(&env.mio(system).engine.pool, message_id)
                .await
                .unwrap()
        {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("application {message_id} was not registered");
}

/// Completes every task of the application through the АРМ API, choosing the outcomes
/// of `branch`, until its status is final. Returns the steps taken.
pub async fn drive(env: &Env, system: &str, number: &str, branch: Branch) -> Vec<String> {
    drive_until(env, system, number, branch, None).await
}

/// As [`drive`], stopping when the open task is of the step `stop`, if given.
pub async fn drive_until(
    env: &Env,
    system: &str,
    number: &str,
    branch: Branch,
    stop: Option<&str>,
) -> Vec<String> {
    let mio = env.mio(system);
    let app = egov_mio_is::store::application(&mio.engine.pool, number)
        .await
        .unwrap()
        .unwrap();
    let reg = mio.engine.catalog.get(&app.regulation_id).unwrap().clone();
    let provider = app.provider_id.clone();
    let mut sessions: HashMap<String, Arm> = HashMap::new();
    let mut taken = Vec::new();
    for _ in 0..40 {
        let app = egov_mio_is::store::application(&mio.engine.pool, number)
            .await
            .unwrap()
            .unwrap();
        if app.status.is_final()
            && app
                .current_step
                .as_deref()
                .and_then(|s| reg.step(s))
                .is_some_and(|s| s.kind == StepKind::End)
        {
            return taken;
        }
        let run: egov_mio_is::store::StepRun = sqlx::query_as("select id, application_id, step_id, kind, role, assignee_iin, status, started_at, due_at, completed_at, completed_by, outcome, note, overdue, overdue_at from step_runs where application_id = $1 and status = 'open'")
        .bind(app.id)
        .fetch_one(&mio.engine.pool)
        .await
        .unwrap();
        if stop == Some(run.step_id.as_str()) {
            return taken;
        }
        let step = reg.step(&run.step_id).unwrap().clone();
        taken.push(step.id.clone());
        let who = match &run.assignee_iin {
            Some(a) => a.clone(),
            None => {
                employees_of(env, system, &provider, run.role.as_deref().unwrap()).await[0].clone()
            }
        };
        if !sessions.contains_key(&who) {
            sessions.insert(who.clone(), Arm::login(env, system, &who).await);
        }
        let arm = &sessions[&who];
        if step.kind == StepKind::Commission {
            let decision = pick_decision(&reg, &step, branch);
            let outcome = step.outcome(&decision).unwrap();
            let kind = outcome
                .result
                .as_deref()
                .and_then(|r| reg.result(r))
                .map(|r| r.kind);
            let (s, m) = arm
                .post(
                    "/api/v1/commission/meetings",
                    json!({"date": egov_contracts::date::format(env.clock.today())}),
                )
                .await;
            assert_eq!(s, 201, "{m}");
            let id = m["id"].as_str().unwrap().to_string();
            let (s, v) = arm
                .post(
                    &format!("/api/v1/commission/meetings/{id}/agenda"),
                    json!({"application": number}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            let mut body = json!({"application": number, "decision": decision});
            if kind == Some(ResultKind::Refusal) {
                body["grounds"] = json!([reg.refusal_grounds[0].id]);
            }
            if kind == Some(ResultKind::Assignment) {
                body["amount"] = json!(18_500);
            }
            let (s, v) = arm
                .post(&format!("/api/v1/commission/meetings/{id}/decisions"), body)
                .await;
            assert_eq!(s, 200, "{v}");
            let (s, v) = arm
                .post(
                    &format!("/api/v1/commission/meetings/{id}/close"),
                    json!({}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            continue;
        }
        let (s, t) = arm.get(&format!("/api/v1/tasks/{}", run.id)).await;
        assert_eq!(s, 200, "{t}");
        let mut body = json!({});
        match step.kind {
            StepKind::Assign => body["assignee"] = t["candidates"][0]["iin"].clone(),
            StepKind::Check => {
                let o = match branch {
                    Branch::Success => "complete",
                    Branch::Incomplete => "incomplete",
                    Branch::Refusal if step.outcome("refuse").is_some() => "refuse",
                    Branch::Refusal => "complete",
                };
                body["outcome"] = json!(o);
                if o == "refuse" {
                    body["grounds"] = json!([reg.refusal_grounds[0].id]);
                }
                if o == "incomplete" {
                    body["missing_documents"] = json!([reg.documents[1].id]);
                }
            }
            _ if !step.outcomes.is_empty() => {
                // approvals: the way forward (not back)
                let o = step
                    .outcomes
                    .iter()
                    .find(|o| o.effect.is_some() || o.result.is_some())
                    .unwrap_or(&step.outcomes[0]);
                body["outcome"] = json!(o.id);
            }
            _ => {}
        }
        let (s, v) = arm
            .post(&format!("/api/v1/tasks/{}/complete", run.id), body.clone())
            .await;
        assert_eq!(s, 200, "{} {}: {body} → {v}", step.id, step.kind.as_str());
    }
    panic!("{number} did not finish: {taken:?}");
}

fn pick_decision(reg: &Regulation, step: &egov_regulation::Step, branch: Branch) -> String {
    let want = match branch {
        Branch::Success => [ResultKind::Registration, ResultKind::Assignment],
        _ => [ResultKind::Refusal, ResultKind::Refusal],
    };
    step.outcomes
        .iter()
        .find(|o| {
            o.result
                .as_deref()
                .and_then(|r| reg.result(r))
                .is_some_and(|r| want.contains(&r.kind))
        })
        .map(|o| o.id.clone())
        .unwrap_or_else(|| step.outcomes[0].id.clone())
}

/// A test's result documents: the PDF's text (pdftotext) when the tool is there.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let p = dir.path().join("r.pdf");
    std::fs::write(&p, pdf).ok()?;
    let out = std::process::Command::new("pdftotext")
        .arg(&p)
        .arg("-")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

pub fn operator_for(doc: &mut ApplicationDocument, s: &Signer) {
    doc.operator = Some(Operator {
        iin: s.iin.clone(),
        name: Some(s.name.clone()),
        office: Some("ЦОН Алмалинского района".into()),
    });
}

/// A complete application of `citizen` for `regulation` sent by the portal to `system`,
/// once registered.
pub async fn portal_application(
    env: &Env,
    system: &str,
    regulation: &str,
    citizen: &str,
) -> egov_mio_is::store::Application {
    let mio = env.mio(system);
    let reg = mio.engine.catalog.get(regulation).unwrap().clone();
    let doc = application(&reg, citizen, "portal", env.clock.today());
    let reply = send(env, "portal", &mio.region, &doc, &env.citizen(citizen)).await;
    registered(env, system, &reply.message_id).await
}

/// The schemathesis CLI in a virtualenv under the target folder, installed on first use
/// (`pip install schemathesis`); None, with the reason, when it cannot be had.
pub fn schemathesis() -> Result<PathBuf, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .unwrap()
                .to_path_buf()
        });
    let venv = target.join("py");
    let cli = venv.join("bin/schemathesis");
    if cli.exists() {
        return Ok(cli);
    }
    let run = |cmd: &mut std::process::Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    run(std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv))?;
    run(std::process::Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "schemathesis",
    ]))?;
    if cli.exists() {
        Ok(cli)
    } else {
        Err(format!("pip installed no {}", cli.display()))
    }
}

/// Runs `node <script> <args>` in `tests/js` (the outside clients and the headless
/// Chromium scripts); the one JSON line it prints.
pub async fn node(script: &str, args: &[&str]) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    let out = tokio::process::Command::new("node")
        .current_dir(&root)
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("node runs (bash deploy/local/prepare.sh --services installs it and Chromium)");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script}: {e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
