//! A citizen at the portal's cabinet, as the benches drive one: registered and logged in,
//! the event stream open, drafts made and signed before a round, each sent and waited for
//! until the cabinet shows ИС МИО's «поступившие».

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use base64::Engine as _;
use egov_pki::{CertInfo, CertProfile, PkiDir, PrivateKey, SubjectSpec};
use egov_shep_client::Client;
use egov_tests::bench::{Bench, Op, op};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use super::Session;

/// The password the benches' citizens register with.
pub const PASSWORD: &str = "пароль-портала-1";
/// How long one submission may take before the case fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A draft signed and ready to send.
pub struct Signed {
    number: String,
    signature: String,
}

/// A citizen at the cabinet: the session, the signing key, the event stream, and the
/// drafts of the coming round.
#[derive(Clone)]
pub struct Citizen {
    session: Session,
    key: Arc<PrivateKey>,
    cert: Arc<CertInfo>,
    events: Arc<Mutex<mpsc::UnboundedReceiver<Value>>>,
    ready: Arc<std::sync::Mutex<VecDeque<Signed>>>,
}

impl Citizen {
    /// Registers the fixture citizen `key` at the portal at `portal`, logs in, opens the
    /// event stream, and has the test PKI's `authority` issue a signing certificate for
    /// the IIN.
    pub async fn enrol(portal: &str, authority: &PkiDir, key: &str) -> Result<Citizen> {
        let today = egov_calendar::local_date(time::OffsetDateTime::now_utc());
        let person = egov_synth::fixtures::citizens(today)
            .into_iter()
            .find(|c| c.key == key)
            .context("a named citizen")?;
        Citizen::enrol_person(portal, authority, person.iin, &person.name).await
    }

    /// Registers the resident `iin` (ГБД ФЛ knows them) named `name`, logs in, opens the
    /// event stream, and has `authority` issue a signing certificate for the IIN.
    pub async fn enrol_person(
        portal: &str,
        authority: &PkiDir,
        iin: egov_iin::Iin,
        name: &str,
    ) -> Result<Citizen> {
        let key = iin.as_string();
        let iin = key.clone();
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{portal}/api/v1/auth/register"))
            .json(&json!({"iin": iin, "password": PASSWORD}))
            .send()
            .await?;
        ensure!(r.status() == 201, "register {key}: {}", r.text().await?);
        let session = Session::login(
            portal,
            "/api/v1/auth/login",
            &json!({"iin": iin, "password": PASSWORD}),
        )
        .await?;
        let pki = authority;
        let now = time::OffsetDateTime::now_utc();
        let issued = pki.issue(
            &SubjectSpec::person(egov_iin::Iin::parse(&iin)?, name),
            CertProfile::Signing,
            pki.issuing.key.algorithm(),
            now - time::Duration::days(1),
            now + time::Duration::days(365),
        )?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stream = session
            .http
            .get(format!("{portal}/api/v1/events"))
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
    pub async fn prepare(&self, reg: &egov_regulation::Regulation, n: usize) -> Result<()> {
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
    pub async fn submit(&self) -> Result<()> {
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

pub fn submit_ops(citizens: &[Citizen]) -> Vec<Op> {
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

pub async fn prepare_all(
    citizens: &[Citizen],
    reg: &egov_regulation::Regulation,
    n: usize,
) -> Result<()> {
    futures::future::try_join_all(citizens.iter().map(|c| c.prepare(reg, n))).await?;
    Ok(())
}

/// The bare case of the benches that compare a path through the portal with the gateway
/// path alone: `payload` sent again and again (a new messageId each time) by the portal's
/// own `client` into the inbox of ИС МИО `mio` (of `topology`), done when its regional
/// gateway accepts.
pub fn bare_send(
    client: Client,
    topology: &egov_topology::Topology,
    mio: &str,
    payload: Vec<u8>,
) -> Result<Op> {
    let sys = topology
        .system(mio)
        .context("the bare case's ИС МИО is in the topology")?;
    let region = sys
        .region
        .clone()
        .context("the bare case's ИС МИО has a region")?;
    Ok(super::async_send(
        client,
        egov_contracts::mio::services::SUBMIT,
        &region,
        &sys.gateway,
        Arc::new(payload),
    ))
}

/// `rounds` rounds of the bare case and of the case measured, in turn (bare, case, case,
/// bare, ...), `per_round` operations per worker each; the citizens' drafts of a round are
/// made and signed first, unmeasured. Then the case's rate over the bare one's, round by
/// round, as a note (`what` says what the ratio compares) and in the JSON (`ratio`).
#[allow(clippy::too_many_arguments)]
pub async fn alternate(
    b: &mut Bench,
    rounds: usize,
    per_round: usize,
    citizens: &[Citizen],
    reg: &egov_regulation::Regulation,
    bare: (&str, Vec<Op>),
    case: (&str, &str, &dyn Fn() -> Vec<Op>),
    what: &str,
) -> Result<()> {
    let (bare_label, bare_ops) = bare;
    let (id, label, ops) = case;
    for r in 0..rounds {
        prepare_all(citizens, reg, per_round).await?;
        let bare_first = r % 2 == 0;
        for is_bare in [bare_first, !bare_first] {
            if is_bare {
                b.round("bare", bare_label, bare_ops.clone(), per_round)
                    .await?;
            } else {
                b.round(id, label, ops(), per_round).await?;
            }
        }
    }
    if let Some(r) = b.round_ratios(id, "bare") {
        b.note(format!(
            "{id} ÷ bare = {:.3} (median of {} rounds; lowest {:.3}, highest {:.3}): {what}",
            r.median,
            r.each.len(),
            r.min,
            r.max
        ));
        b.json("ratio", r.to_json());
    }
    Ok(())
}
