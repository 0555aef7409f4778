//! Faults in the middle of a load. Citizens of ПЭП submit signed applications to ИС МИО
//! Алматы (through ШЭП and РШЭП Алматы) through the portal's API, as its frontends do,
//! four at once, and inspectors at two of Almaty's service centres take applications
//! through ИС ЦОН's operator API (C-person through the gateways, the operator's
//! signature), two at once, in eight parts, while the provider's employees work some
//! applications of the part before through the whole procedure at their АРМ (the
//! commission's meeting, the registration on the waiting list with its queue number, the
//! result); in each part, once a third of the citizens' share is through, one fault
//! strikes:
//!
//! 1. ИС МИО is killed and started again on its database;
//! 2. РШЭП Алматы is killed and started again;
//! 3. ШЭП is killed and started again;
//! 4. every connection to the test's database is terminated;
//! 5. the PostgreSQL server (one of the test's own: the machine's is shared by the tests
//!    running at once) is killed (SIGKILL to every process of it) and started again,
//!    recovering from its write-ahead log;
//! 6. the broker (a `nats-server` of the test's own, JetStream on disk) is killed
//!    (SIGKILL) and started again;
//! 7. the portal is killed and started again;
//! 8. ИС ЦОН is killed and started again.
//!
//! A kill drops the service's runtime where it stands ([`egov_testkit::process`]): its
//! open transactions roll back, its unacknowledged messages are delivered again, nothing
//! it held in memory survives. A citizen whose request fails (a connection refused, a
//! 5xx) tries again, as a person presses again; a signature whose answer was lost and
//! that went through is found sent.
//!
//! Then, once the system has settled, for every application the portal took (signed) and
//! every one ИС ЦОН sent: ИС МИО registered it exactly once, and registered nothing else;
//! its «поступившие» status reached the cabinet or the centre, once; the three systems'
//! numbers are gap-free; every worked application has one place on the waiting list, the
//! queue numbers are unique and gap-free, and its final status (and at the cabinet its
//! queue number) reached its side; the three outboxes are empty; the gateways'
//! message-log chains verify.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use egov_scenario::arm::Arm;
use egov_scenario::door::{Answer, Door};
use egov_scenario::fill;
use egov_scenario::keys::{Keys, Signer};
use egov_scenario::spec::{Branch, Key};
use egov_scenario::target::{Employee, Workstation};
use egov_testkit::nats::Cluster;
use egov_testkit::postgres::Server;
use egov_testkit::stack::{Stack, StackOptions};
use serde_json::{Value, json};

/// The regulation of the load.
const REGULATION: &str = "almaty-2013-housing-queue";
/// ИС МИО under load.
const MIO: &str = "mio-almaty";
/// The citizens, one per sender: four applications at once.
const CITIZENS: &[&str] = &["family-father", "family-mother", "family-son", "atyrau"];
/// Applications per citizen in each part.
const PER_CITIZEN: usize = 6;
/// The inspectors, one at each of the first centres of Almaty.
const INSPECTORS: usize = 2;
/// Applications per inspector in each part.
const PER_INSPECTOR: usize = 3;
/// The applicant at the centres' desks.
const DESK_APPLICANT: &str = "family-daughter";
/// The password the citizens register with.
const PASSWORD: &str = "пароль-нагрузки-1";
/// How long a citizen keeps trying one request while the system fails.
const PATIENCE: Duration = Duration::from_secs(60);
/// Applications of each part that ИС МИО's employees work through the whole procedure
/// during the next part: this many of the citizens' and of the desks'.
const WORKED: usize = 2;

/// An application the entry side sent: its number there and the messageId it went with.
type Sent = (String, String);

/// A citizen at the cabinet.
struct Citizen {
    door: Door,
    signer: Signer,
}

impl Citizen {
    async fn enrol(http: &reqwest::Client, portal: &str, keys: &Keys, key: &str) -> Citizen {
        let today = egov_calendar::local_date(time::OffsetDateTime::now_utc());
        let person = egov_synth::fixtures::citizens(today)
            .into_iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("no named citizen {key}"));
        let iin = person.iin.as_string();
        let mut door = Door::new(http, portal).patient(PATIENCE);
        let body = json!({"iin": iin, "password": PASSWORD});
        door.post("/api/v1/auth/register", &body)
            .await
            .unwrap()
            .expect(201, "registration")
            .unwrap();
        door.login("/api/v1/auth/login", &body)
            .await
            .unwrap()
            .expect(200, "login")
            .unwrap();
        let signer = keys.signer(&iin, &person.name, Key::Valid, "").unwrap();
        Citizen { door, signer }
    }

    /// An application from the draft to the signature the portal took; its number and
    /// messageId.
    async fn submit(&self, reg: &egov_regulation::Regulation) -> Sent {
        let category = &reg.categories[0].id;
        let body = json!({
            "regulation": reg.id,
            "category": category,
            "phone": "+7 701 123 45 67",
            "form": fill::form(reg),
        });
        let a = self.door.post("/api/v1/applications", &body).await.unwrap();
        let number = a.expect(201, "the draft").unwrap()["number"]
            .as_str()
            .unwrap()
            .to_string();
        for d in reg.required_documents(category) {
            let path = format!("/api/v1/applications/{number}/attachments");
            let a = self.door.post(&path, &fill::scan(&d.id)).await.unwrap();
            a.expect(201, "a scan").unwrap();
        }
        let path = format!("/api/v1/applications/{number}/sign-request");
        let req = self
            .door
            .get(&path)
            .await
            .unwrap()
            .expect(200, "the sign request")
            .unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(req["document"].as_str().unwrap())
            .unwrap();
        let cms = self.signer.sign(&bytes).unwrap();
        let body = json!({"signature": base64::engine::general_purpose::STANDARD.encode(cms)});
        let path = format!("/api/v1/applications/{number}/signature");
        let a = self.door.post(&path, &body).await.unwrap();
        sent(&self.door, number, a, &[202], |v| v["state"] != "draft").await
    }
}

/// The application `number` as sent, from `a`, the answer to its sending: one of `ok`; or
/// a 409 when an earlier try went through and its answer was lost, and then its view at
/// the entry side of `door`, which must show it `sent`. Its number and messageId.
async fn sent(
    door: &Door,
    number: String,
    a: Answer,
    ok: &[u16],
    is_sent: impl Fn(&Value) -> bool,
) -> Sent {
    let v = if a.status == 409 {
        let v = door
            .get(&format!("/api/v1/applications/{number}"))
            .await
            .unwrap()
            .expect(200, "the application")
            .unwrap();
        assert!(is_sent(&v), "the sending of {number}: {a:?}, then {v}");
        v
    } else {
        assert!(ok.contains(&a.status), "the sending of {number}: {a:?}");
        a.body
    };
    let message_id = v["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a sent application without its messageId: {v}"))
        .to_string();
    (number, message_id)
}

/// An inspector at a centre's desk (ИС ЦОН's operator API).
struct Inspector {
    door: Door,
}

impl Inspector {
    async fn login(http: &reqwest::Client, con: &str, iin: &str) -> Inspector {
        let mut door = Door::new(http, con).patient(PATIENCE);
        let body = json!({"iin": iin, "password": egov_con_is::DEV_OPERATOR_PASSWORD});
        door.login("/api/v1/login", &body)
            .await
            .unwrap()
            .expect(200, "the inspector's login")
            .unwrap();
        Inspector { door }
    }

    /// An application from the citizen's IIN (C-person) to the desk's signature and its
    /// sending; its number at the centre and messageId.
    async fn take(&self, reg: &egov_regulation::Regulation) -> Sent {
        let iin = egov_synth::fixtures::iin_of(DESK_APPLICANT).as_string();
        let body = json!({"regulation": reg.id, "iin": iin});
        let a = self.door.post("/api/v1/applications", &body).await.unwrap();
        let number = a.expect(201, "the desk's draft").unwrap()["number"]
            .as_str()
            .unwrap()
            .to_string();
        let sub = fill::submission(reg, &reg.categories[0].id, &[]);
        let path = format!("/api/v1/applications/{number}/submit");
        let a = self.door.post(&path, &sub).await.unwrap();
        sent(&self.door, number, a, &[200, 202], |v| v["state"] == "sent").await
    }
}

/// One part of the desks' load: every inspector takes [`PER_INSPECTOR`] applications.
fn desk_part(
    inspectors: &Arc<Vec<Inspector>>,
    reg: &Arc<egov_regulation::Regulation>,
) -> Vec<tokio::task::JoinHandle<Vec<Sent>>> {
    (0..inspectors.len())
        .map(|i| {
            let (inspectors, reg) = (inspectors.clone(), reg.clone());
            tokio::spawn(async move {
                let mut numbers = Vec::new();
                for _ in 0..PER_INSPECTOR {
                    numbers.push(inspectors[i].take(&reg).await);
                }
                numbers
            })
        })
        .collect()
}

/// One part of the load: every citizen submits [`PER_CITIZEN`] applications; `done`
/// counts those the portal took.
fn part(
    citizens: &Arc<Vec<Citizen>>,
    reg: &Arc<egov_regulation::Regulation>,
    done: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<Sent>>> {
    (0..citizens.len())
        .map(|i| {
            let (citizens, reg, done) = (citizens.clone(), reg.clone(), done.clone());
            tokio::spawn(async move {
                let mut numbers = Vec::new();
                for _ in 0..PER_CITIZEN {
                    numbers.push(citizens[i].submit(&reg).await);
                    done.fetch_add(1, Ordering::SeqCst);
                }
                numbers
            })
        })
        .collect()
}

/// An application worked through the whole procedure at ИС МИО.
#[derive(Debug)]
struct Worked {
    /// Its number at the entry side.
    entry: String,
    /// ИС МИО's number.
    mio: String,
    /// Its final status.
    status: String,
}

/// ИС МИО's employees work `sent` (the entry side's applications), each at once, through
/// every step of the procedure down the result's branch: the commission registers each
/// on the waiting list.
fn work(
    arm: &Arc<Arm>,
    reg: &Arc<egov_regulation::Regulation>,
    sent: &[Sent],
) -> Vec<tokio::task::JoinHandle<Worked>> {
    sent.iter()
        .cloned()
        .map(|(entry, message_id)| {
            let (arm, reg) = (arm.clone(), reg.clone());
            tokio::spawn(async move {
                let (mio, provider) = arm.registered(&message_id).await.unwrap();
                let view = arm
                    .drive(&mio, &provider, &reg, Branch::Result)
                    .await
                    .unwrap_or_else(|e| panic!("{entry} ({mio}) worked: {e}"));
                let status = view["status"].as_str().unwrap_or_default().to_string();
                Worked { entry, mio, status }
            })
        })
        .collect()
}

/// The first [`WORKED`] of the last `part` of `all`.
fn first_of_last(all: &[Sent], part: usize) -> &[Sent] {
    let last = &all[all.len().saturating_sub(part)..];
    &last[..last.len().min(WORKED)]
}

/// The numbers of `worked` whose final status the side of `pool` does not show yet.
async fn not_final<'a>(
    pool: &sqlx::PgPool,
    worked: impl Iterator<Item = &'a Worked>,
) -> Vec<String> {
    let mut out = Vec::new();
    for w in worked {
        let status: Option<String> =
            sqlx::query_scalar("select status from applications where number = $1")
                .bind(&w.entry)
                .fetch_one(pool)
                .await
                .unwrap();
        if status.as_deref() != Some(w.status.as_str()) {
            out.push(w.entry.clone());
        }
    }
    out
}

/// The faults, one per part.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Mio,
    Rshep,
    Shep,
    Connections,
    Postgres,
    Nats,
    Portal,
    Con,
}

async fn strike(fault: Fault, stack: &mut Stack, nats: &mut Cluster, pg: &mut Server) {
    match fault {
        Fault::Mio | Fault::Portal | Fault::Con => {
            let system = match fault {
                Fault::Mio => MIO,
                Fault::Portal => "portal",
                _ => "con-is",
            };
            stack.crash(system);
            tokio::time::sleep(Duration::from_secs(1)).await;
            stack.restart(system).await;
        }
        Fault::Rshep | Fault::Shep => {
            let id = if matches!(fault, Fault::Shep) {
                "shep"
            } else {
                "rshep-almaty"
            };
            stack.w.crash_gateway(id);
            tokio::time::sleep(Duration::from_secs(1)).await;
            stack.w.restart_gateway(id).await;
        }
        Fault::Postgres => {
            pg.kill();
            tokio::time::sleep(Duration::from_secs(1)).await;
            pg.restart().await;
        }
        Fault::Connections => {
            let pool = egov_db::pool(&stack.w.db.url, "public", 1).await.unwrap();
            let ended: Vec<bool> = sqlx::query_scalar(
                "select pg_terminate_backend(pid) from pg_stat_activity
                 where datname = current_database() and pid <> pg_backend_pid()",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(
                ended.len() > 5,
                "the services' connections: {}",
                ended.len()
            );
        }
        Fault::Nats => {
            nats.kill(0);
            tokio::time::sleep(Duration::from_secs(1)).await;
            nats.restart(0);
            nats.wait_healthy(0).await;
        }
    }
}

/// An outbox row as the diagnosis shows it: the message (or service), attempts, the
/// gateway's code, the last error, whether it was sent.
type OutboxRow = (String, i32, Option<String>, Option<String>, bool);

/// Where the messages of the applications `waiting` (their messageIds) stand: the
/// portal's outbox, ИС МИО's registration and its outbox.
async fn stuck(portal: &sqlx::PgPool, mio: &sqlx::PgPool, waiting: &[String]) -> String {
    let mut out = String::new();
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "select message_id, attempts, gateway_code, last_error, sent_at is not null from outbox",
    )
    .fetch_all(portal)
    .await
    .unwrap_or_default();
    for r in rows
        .iter()
        .filter(|r| r.1 > 1 || !r.4 || waiting.contains(&r.0))
    {
        out.push_str(&format!("portal outbox {r:?}\n"));
    }
    for id in waiting {
        let number: Option<String> =
            sqlx::query_scalar("select number from applications where message_id = $1")
                .bind(id)
                .fetch_optional(mio)
                .await
                .unwrap_or_default();
        out.push_str(&format!("{id}: at ИС МИО {number:?}\n"));
    }
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "select correlation_id || ' ' || service_id, attempts, gateway_code, last_error, sent_at is not null from outbox
         where sent_at is null or attempts > 1",
    )
    .fetch_all(mio)
    .await
    .unwrap_or_default();
    for r in rows {
        out.push_str(&format!("ИС МИО outbox {r:?}\n"));
    }
    out
}

/// `numbers` (of `whose`) run 1..n without a gap.
fn gap_free(numbers: &[String], whose: &str) {
    assert_eq!(
        serials(numbers),
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "{whose}: the numbers are gap-free"
    );
}

/// The side of `pool` (`whose`) recorded «поступившие» once for each of its `sent`
/// applications (those its `applications` table holds `where` that condition, if any).
async fn received_once(pool: &sqlx::PgPool, sent: usize, whose: &str, condition: &str) {
    let received: Vec<i64> = sqlx::query_scalar(&format!(
        "select count(*) from statuses s join applications a on a.id = s.application_id
         where s.status = 'received' {condition} group by s.application_id"
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        received.len(),
        sent,
        "{whose}: applications with «поступившие»"
    );
    assert!(
        received.iter().all(|n| *n == 1),
        "{whose}: «поступившие» recorded once each"
    );
}

/// The trailing number of each of `numbers`, sorted.
fn serials(numbers: &[String]) -> Vec<u64> {
    let mut v: Vec<u64> = numbers
        .iter()
        .map(|n| {
            let digits: String = n
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            digits.parse().unwrap_or_else(|_| panic!("number {n}"))
        })
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_mid_load_lose_nothing_and_do_nothing_twice() {
    // declared first, dropped last: the world deletes its streams on it
    let mut nats = Cluster::start(1);
    nats.wait_healthy(0).await;
    let mut pg = Server::start().await;
    let mut opts = StackOptions::new(&[MIO]);
    opts.world.nats_url = Some(nats.url());
    opts.world.database_admin_url = Some(pg.admin_url());
    opts.con = true;
    opts.portal = true;
    opts.crashable = true;
    let employee_password = opts.employee_password.clone();
    let mut stack = Stack::start(opts).await;
    let portal = stack.portal.clone().expect("the portal runs");
    let reg = Arc::new(portal.core.catalog.get(REGULATION).unwrap().clone());
    // the test's own pools: the services' die with them
    let db = |schema: String| {
        let url = stack.w.db.url.clone();
        async move { egov_db::pool(&url, &schema, 2).await.unwrap() }
    };
    let pool = db(egov_portal::SCHEMA.to_string()).await;
    let mio_pool = db(MIO.replace('-', "_")).await;
    let con_pool = db(egov_con_is::SCHEMA.to_string()).await;
    let keys = Keys::new(stack.w.pki.clone(), stack.w.ca.clone());
    let http = reqwest::Client::new();
    let mut citizens = Vec::new();
    for key in CITIZENS {
        citizens.push(Citizen::enrol(&http, &portal.http, &keys, key).await);
    }
    let citizens = Arc::new(citizens);
    let con = stack.con.clone().expect("ИС ЦОН runs");
    let centres: Vec<String> =
        sqlx::query_scalar("select id from centres where region = $1 order by id")
            .bind(&reg.region)
            .fetch_all(&con_pool)
            .await
            .unwrap();
    let mut inspectors = Vec::new();
    for centre in centres.iter().take(INSPECTORS) {
        let iin = egov_con_is::operators::operator_iin(
            centre,
            egov_con_is::operators::Role::Inspector,
            0,
        )
        .as_string();
        inspectors.push(Inspector::login(&http, &con.http, &iin).await);
    }
    assert_eq!(inspectors.len(), INSPECTORS, "centres in {}", reg.region);
    let inspectors = Arc::new(inspectors);
    // ИС МИО's employees at their АРМ, patient as the citizens
    let employees: Vec<(String, String, String)> =
        sqlx::query_as("select iin, provider_id, role from employees order by iin")
            .fetch_all(&mio_pool)
            .await
            .unwrap();
    let station = Workstation {
        url: stack.mio[MIO].http.clone(),
        region: stack.mio[MIO].region.clone(),
        password: Some(employee_password),
        passwords_file: None,
        employees: employees
            .into_iter()
            .map(|(iin, provider, role)| Employee {
                iin,
                provider,
                role,
                password: None,
            })
            .collect(),
    };
    let arm = Arc::new(Arm::new(&http, MIO, station).patient(PATIENCE));
    let mut desk_taken: Vec<Sent> = Vec::new();
    let done = Arc::new(AtomicUsize::new(0));
    let per_part = CITIZENS.len() * PER_CITIZEN;
    let started = Instant::now();
    let mut taken: Vec<Sent> = Vec::new();
    let mut worked: Vec<(bool, Worked)> = Vec::new();
    let mut timeline = Vec::new();
    for (i, fault) in [
        Fault::Mio,
        Fault::Rshep,
        Fault::Shep,
        Fault::Connections,
        Fault::Postgres,
        Fault::Nats,
        Fault::Portal,
        Fault::Con,
    ]
    .into_iter()
    .enumerate()
    {
        let load = part(&citizens, &reg, &done);
        let desks = desk_part(&inspectors, &reg);
        // the part before's first applications of each side, worked through this part
        let clerks = (
            work(&arm, &reg, first_of_last(&taken, per_part)),
            work(
                &arm,
                &reg,
                first_of_last(&desk_taken, INSPECTORS * PER_INSPECTOR),
            ),
        );
        let strike_at = i * per_part + per_part / 3;
        // (a citizen that gave up ends early: its panic is told at the join below)
        while done.load(Ordering::SeqCst) < strike_at && !load.iter().any(|h| h.is_finished()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t = Instant::now();
        strike(fault, &mut stack, &mut nats, &mut pg).await;
        timeline.push(format!("{fault:?}: {:.1} s", t.elapsed().as_secs_f64()));
        for h in load {
            taken.extend(h.await.unwrap());
        }
        for h in desks {
            desk_taken.extend(h.await.unwrap());
        }
        for (portal_side, handles) in [(true, clerks.0), (false, clerks.1)] {
            for h in handles {
                worked.push((portal_side, h.await.unwrap()));
            }
        }
    }
    let load_time = started.elapsed();

    // settled: every application the portal took delivered, registered and answered
    // with «поступившие», every worked one's final status at its side; the clock moved
    // on so that no back-off waits long
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let desk_waiting: Vec<String> = sqlx::query_scalar(
            "select a.number from applications a
             where a.state = 'sent'
               and not exists (select 1 from statuses s where s.application_id = a.id and s.status = 'received')",
        )
        .fetch_all(&con_pool)
        .await
        .unwrap();
        let waiting: Vec<String> = sqlx::query_scalar(
            "select a.message_id from applications a
             where a.state in ('sent', 'delivered')
               and not exists (select 1 from statuses s where s.application_id = a.id and s.status = 'received')",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut unsent = 0;
        for p in [&pool, &mio_pool, &con_pool] {
            let n: i64 = sqlx::query_scalar("select count(*) from outbox where sent_at is null")
                .fetch_one(p)
                .await
                .unwrap();
            unsent += n;
        }
        let mut unfinished = not_final(&pool, worked.iter().filter(|w| w.0).map(|w| &w.1)).await;
        unfinished.extend(not_final(&con_pool, worked.iter().filter(|w| !w.0).map(|w| &w.1)).await);
        if waiting.is_empty() && desk_waiting.is_empty() && unsent == 0 && unfinished.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            panic!(
                "not settled: {} applications without «поступившие» at the portal, {} at the centres ({desk_waiting:?}), worked ones without their final status {unfinished:?}, {unsent} messages unsent; faults: {timeline:?}\n{}",
                waiting.len(),
                desk_waiting.len(),
                stuck(&pool, &mio_pool, &waiting).await
            );
        }
        stack.clock.advance(time::Duration::seconds(5));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled = started.elapsed();

    // the portal's side
    let signed: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select number, message_id, mio_number from applications where state in ('sent', 'delivered') order by number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    // the portal's own numbers: a centre's applications are kept under ИС МИО's
    let all_numbers: Vec<String> =
        sqlx::query_scalar("select number from applications where channel = 'portal'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(signed.len(), taken.len(), "every signature the portal took");
    let signed_numbers: BTreeSet<&str> = signed.iter().map(|s| s.0.as_str()).collect();
    for (n, _) in &taken {
        assert!(
            signed_numbers.contains(n.as_str()),
            "{n} taken but not sent"
        );
    }
    gap_free(&all_numbers, "the portal");
    received_once(
        &pool,
        signed.len(),
        "the portal",
        "and a.channel = 'portal'",
    )
    .await;

    // the centres' side: every application the desks sent, with «поступившие» once each,
    // numbered without gaps at each centre (drafts given up count: the number is taken
    // with the draft)
    let sent_at_desks: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select number, message_id, mio_number from applications where state = 'sent' order by number",
    )
    .fetch_all(&con_pool)
    .await
    .unwrap();
    assert_eq!(
        sent_at_desks.len(),
        desk_taken.len(),
        "every application the desks sent"
    );
    let sent_numbers: BTreeSet<&str> = sent_at_desks.iter().map(|s| s.0.as_str()).collect();
    for (n, _) in &desk_taken {
        assert!(sent_numbers.contains(n.as_str()), "{n} taken but not sent");
    }
    let by_centre: Vec<(String, Vec<String>)> =
        sqlx::query_as("select centre_id, array_agg(number) from applications group by centre_id")
            .fetch_all(&con_pool)
            .await
            .unwrap();
    for (centre, numbers) in &by_centre {
        gap_free(numbers, centre);
    }
    received_once(&con_pool, sent_at_desks.len(), "the centres", "").await;
    // the centres' applications whose statuses the regulation shows on the portal too,
    // kept there by the applicant's IIN: each one the desks sent, none twice, and
    // «поступившие» never twice (their statuses may still be on their way)
    let kept: Vec<(String, i64)> = sqlx::query_as(
        "select a.message_id, count(s.id) filter (where s.status = 'received')
         from applications a left join statuses s on s.application_id = a.id
         where a.channel = 'con' group by a.message_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        !kept.is_empty(),
        "{REGULATION} shows channel C's statuses on the portal: none kept there"
    );
    let desk_ids: BTreeSet<&str> = sent_at_desks.iter().map(|s| s.1.as_str()).collect();
    for (id, received) in &kept {
        assert!(
            desk_ids.contains(id.as_str()),
            "the portal keeps {id}, which no desk sent"
        );
        assert!(
            *received <= 1,
            "{id}: «поступившие» {received} times at the portal"
        );
    }

    // ИС МИО's side: exactly the signed and sent applications, once each, numbered
    // without gaps
    let registered: Vec<(String, String)> =
        sqlx::query_as("select message_id, number from applications")
            .fetch_all(&mio_pool)
            .await
            .unwrap();
    let by_message: BTreeMap<&str, &str> = registered
        .iter()
        .map(|(m, n)| (m.as_str(), n.as_str()))
        .collect();
    assert_eq!(by_message.len(), registered.len());
    assert_eq!(
        registered.len(),
        signed.len() + sent_at_desks.len(),
        "registered exactly the signed applications and those the desks sent"
    );
    for (number, message_id, mio_number) in signed.iter().chain(&sent_at_desks) {
        let at_mio = by_message
            .get(message_id.as_str())
            .unwrap_or_else(|| panic!("{number} was never registered"));
        assert_eq!(mio_number.as_deref(), Some(*at_mio), "{number}");
    }
    let mio_numbers: Vec<String> = registered.iter().map(|r| r.1.clone()).collect();
    gap_free(&mio_numbers, "ИС МИО");

    // the waiting list: each worked application in it once, the queue numbers unique and
    // gap-free on each list; at the cabinet the same number, at each side the final
    // status once
    let queue: Vec<(String, i64, String)> = sqlx::query_as(
        "select a.number, q.number, q.provider_id || '/' || q.category from queue_entries q
         join applications a on a.id = q.application_id order by q.number",
    )
    .fetch_all(&mio_pool)
    .await
    .unwrap();
    let mut on_list: Vec<&str> = queue.iter().map(|q| q.0.as_str()).collect();
    on_list.sort_unstable();
    let mut worked_numbers: Vec<&str> = worked.iter().map(|w| w.1.mio.as_str()).collect();
    worked_numbers.sort_unstable();
    assert_eq!(
        on_list, worked_numbers,
        "the waiting list holds each worked application once"
    );
    let mut lists: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (_, n, list) in &queue {
        lists.entry(list).or_default().push(*n);
    }
    for (list, numbers) in &lists {
        assert_eq!(
            numbers,
            &(1..=numbers.len() as i64).collect::<Vec<_>>(),
            "{list}: the queue numbers are unique and gap-free"
        );
    }
    for (portal_side, w) in &worked {
        let side = if *portal_side { &pool } else { &con_pool };
        let finals: i64 = sqlx::query_scalar(
            "select count(*) from statuses s join applications a on a.id = s.application_id
             where a.number = $1 and s.status = $2",
        )
        .bind(&w.entry)
        .bind(&w.status)
        .fetch_one(side)
        .await
        .unwrap();
        assert_eq!(finals, 1, "{w:?}: the final status at its side, once");
        if *portal_side {
            let at_cabinet: Option<i64> = sqlx::query_scalar(
                "select (queue->>'number')::bigint from applications where number = $1",
            )
            .bind(&w.entry)
            .fetch_one(&pool)
            .await
            .unwrap();
            let at_mio = queue.iter().find(|q| q.0 == w.mio).map(|q| q.1);
            assert_eq!(at_cabinet, at_mio, "{w:?}: the queue number at the cabinet");
        }
    }
    for (who, p) in [
        ("ИС МИО", &mio_pool),
        ("the portal", &pool),
        ("ИС ЦОН", &con_pool),
    ] {
        let unsent: i64 = sqlx::query_scalar("select count(*) from outbox where sent_at is null")
            .fetch_one(p)
            .await
            .unwrap();
        assert_eq!(unsent, 0, "{who}'s outbox is empty");
    }
    let report = stack.w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    // the faults struck messages on their way: sends that had to be tried again
    let mut retried = Vec::new();
    for p in [&pool, &mio_pool, &con_pool] {
        let n: i64 = sqlx::query_scalar("select count(*) from outbox where attempts > 1")
            .fetch_one(p)
            .await
            .unwrap();
        retried.push(n);
    }
    assert!(
        retried[0] > 0,
        "no send of the portal was struck: {timeline:?}"
    );
    println!(
        "{} applications at the portal and {} at the desks in {:.1} s ({:.1} s to settle), {} worked to the waiting list, faults {timeline:?}; sends tried again: portal {}, ИС МИО {}, ИС ЦОН {}",
        signed.len(),
        sent_at_desks.len(),
        load_time.as_secs_f64(),
        settled.as_secs_f64(),
        worked.len(),
        retried[0],
        retried[1],
        retried[2]
    );
}
