//! Running a scenario: the applicant at the door of its channel, the provider's employees
//! at their АРМ, the result back at the applicant's side; what came out compared with
//! what the scenario expects.

use std::time::{Duration, Instant};

use base64::Engine as _;
use egov_regulation::Regulation;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::arm::Arm;
use crate::door::{Door, short};
use crate::fill;
use crate::keys::Keys;
use crate::spec::{Branch, Channel, Scenario};
use crate::target::Target;

/// How long a run waits for one thing to happen (a delivery, a status, a result).
pub const WAIT: Duration = Duration::from_secs(60);

/// How far an uncollected result's run moves the stack's clock: 32 days, past any
/// calendar month from the day the result was ready.
pub const MONTH_AND_A_DAY: i64 = 32 * 86_400;

/// How long a run that expects a result not archived watches that it is not.
const NOT_ARCHIVED_WATCH: Duration = Duration::from_secs(10);

/// One step of a scenario: at a door (the applicant's or the staff's) or one of the
/// regulation's steps at ИС МИО with its deadline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timed {
    /// The step: a door action (`portal: sign`), or the regulation's step id.
    pub step: String,
    /// How long it took.
    pub took: Duration,
    /// The regulation's deadline for it, from its start, when it has one.
    pub due: Option<Duration>,
    /// Whether ИС МИО flagged it overdue.
    pub overdue: bool,
}

/// The outcome of one scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// The regulation.
    pub regulation: String,
    /// The channel.
    pub channel: Channel,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// The whole run.
    pub took: Duration,
    /// Each step, in order.
    pub steps: Vec<Timed>,
}

impl Outcome {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// What a channel's door did with the application.
enum Entry {
    /// It refused, with the API's code.
    Refused(String),
    /// It sent the application on; ИС МИО registered it.
    Registered(Sent),
}

/// An application on its way, as the entry side knows it.
struct Sent {
    /// The entry side's session and the application's number there (none for channel B).
    side: Option<(Door, String)>,
    /// ИС МИО's number.
    mio_number: String,
    /// The provider it went to.
    provider: String,
}

/// Runs scenarios against one stack.
pub struct Runner {
    target: Target,
    regulations: Vec<Regulation>,
    keys: Keys,
    http: reqwest::Client,
}

/// The stack cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunnerError(pub String);

impl Runner {
    /// A runner against `target`, with the regulations of its files.
    pub fn new(target: Target, regulations: Vec<Regulation>) -> Result<Runner, RunnerError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| RunnerError(e.to_string()))?;
        Ok(Runner {
            keys: Keys::new(target.pki_dir.clone(), target.ca_dir.clone()),
            target,
            regulations,
            http,
        })
    }

    /// The regulations.
    pub fn regulations(&self) -> &[Regulation] {
        &self.regulations
    }

    /// Runs `s` and compares what came out with what it expects.
    pub async fn run(&self, s: &Scenario) -> Outcome {
        let start = Instant::now();
        let mut steps = Vec::new();
        let failure = self.exec(s, &mut steps).await.err();
        Outcome {
            name: s.name.clone(),
            regulation: s.regulation.clone(),
            channel: s.channel,
            failure,
            took: start.elapsed(),
            steps,
        }
    }

    fn regulation(&self, id: &str) -> Result<&Regulation, String> {
        self.regulations
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| format!("the stack runs no regulation {id}"))
    }

    async fn exec(&self, s: &Scenario, steps: &mut Vec<Timed>) -> Result<(), String> {
        let reg = self.regulation(&s.regulation)?;
        if s.moves_clock() && self.target.clock.is_none() {
            return Err(
                "the scenario lets a month pass, and this stack's clock cannot be moved (start it with EGOV_DEV_CLOCK_ADDR)"
                    .into(),
            );
        }
        let entry = match s.channel {
            Channel::Portal => self.portal(s, reg, steps).await?,
            Channel::Con => self.con(s, reg, steps).await?,
            Channel::Provider => self.provider(s, reg, steps).await?,
        };
        let sent = match (entry, &s.expect.error) {
            (Entry::Refused(code), Some(want)) if &code == want => return Ok(()),
            (Entry::Refused(code), Some(want)) => {
                return Err(format!("refused with {code}, expected {want}"));
            }
            (Entry::Refused(code), None) => return Err(format!("refused with {code}")),
            (Entry::Registered(_), Some(want)) => {
                return Err(format!(
                    "the application went through; expected the refusal {want}"
                ));
            }
            (Entry::Registered(sent), None) => sent,
        };
        // the provider's procedure at the АРМ
        let t = Instant::now();
        let view = self
            .drive(
                &reg.system,
                &sent.mio_number,
                &sent.provider,
                reg,
                s.procedure.branch,
            )
            .await?;
        steps.push(timed("АРМ: the procedure", t));
        for run in view["steps"].as_array().into_iter().flatten() {
            steps.push(step_time(run));
        }
        let status = view["status"].as_str().unwrap_or_default().to_string();
        if let Some(want) = &s.expect.status
            && &status != want
        {
            return Err(format!("ИС МИО's status is {status}, expected {want}"));
        }
        let kind = view["result"]["kind"].as_str().map(str::to_string);
        if let Some(want) = &s.expect.result
            && kind.as_deref() != Some(want.as_str())
        {
            return Err(format!(
                "the result is {}, expected {want}",
                kind.as_deref().unwrap_or("none")
            ));
        }
        let taken: Vec<String> = view["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["step_id"].as_str().map(str::to_string))
            .collect();
        if let Some(missing) = not_in_order(&s.expect.steps, &taken) {
            return Err(format!(
                "step {missing} was not taken in the order expected; taken: {}",
                taken.join(", ")
            ));
        }
        // back at the applicant's side
        let delivered = s.expect.delivered.unwrap_or(kind.is_some());
        if let Some((door, number)) = &sent.side {
            let t = Instant::now();
            match s.channel {
                Channel::Portal => {
                    self.portal_result(reg, door, number, &status, s, delivered)
                        .await?
                }
                Channel::Con => {
                    self.con_result(s, reg, door, number, &status, delivered, steps)
                        .await?
                }
                Channel::Provider => {}
            }
            steps.push(timed(&format!("{}: the result", s.channel.id()), t));
        }
        Ok(())
    }

    // ---- channel A: the portal --------------------------------------------------------

    async fn portal(
        &self,
        s: &Scenario,
        reg: &Regulation,
        steps: &mut Vec<Timed>,
    ) -> Result<Entry, String> {
        let base = self
            .target
            .portal
            .as_deref()
            .ok_or("the stack has no portal")?;
        let (iin, name) = applicant(s)?;
        let password = format!("scenario-{iin}");
        let mut door = Door::new(&self.http, base);
        let t = Instant::now();
        let a = door
            .post(
                "/api/v1/auth/register",
                &json!({"iin": iin, "password": password, "email": format!("{iin}@example.kz")}),
            )
            .await?;
        match (a.status, a.code()) {
            (201, _) | (409, Some("ALREADY_REGISTERED")) => {}
            (_, Some(code)) => return Ok(Entry::Refused(code.into())),
            _ => return Err(format!("register: HTTP {}: {}", a.status, short(&a.body))),
        }
        steps.push(timed("portal: register", t));
        let t = Instant::now();
        let given = if s.applicant.wrong_password {
            format!("{password}-wrong")
        } else {
            password
        };
        let a = door
            .login(
                "/api/v1/auth/login",
                &json!({"iin": iin, "password": given}),
            )
            .await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        a.expect(200, "login")?;
        steps.push(timed("portal: login (C-auth)", t));
        let category = s.category(reg);
        let t = Instant::now();
        let a = door
            .post(
                "/api/v1/applications",
                &json!({
                    "regulation": reg.id,
                    "category": category,
                    "phone": "+7 701 123 45 67",
                    "form": fill::form(reg),
                }),
            )
            .await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        let draft = a.expect(201, "the draft")?;
        let number = draft["number"]
            .as_str()
            .ok_or("the draft has no number")?
            .to_string();
        for d in reg.required_documents(category) {
            if s.applicant.omit_documents.contains(&d.id) {
                continue;
            }
            let a = door
                .post(
                    &format!("/api/v1/applications/{number}/attachments"),
                    &fill::scan(&d.id),
                )
                .await?;
            if let Some(code) = a.code() {
                return Ok(Entry::Refused(code.into()));
            }
            a.expect(201, "an attachment")?;
        }
        steps.push(timed("portal: the draft and its scans", t));
        let t = Instant::now();
        let a = door
            .get(&format!("/api/v1/applications/{number}/sign-request"))
            .await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        let req = a.expect(200, "the sign request")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(req["document"].as_str().unwrap_or_default())
            .map_err(|e| format!("the sign request's document: {e}"))?;
        let other = egov_synth::fixtures::iin_of(if iin == iin_of("family-mother") {
            "family-father"
        } else {
            "family-mother"
        })
        .as_string();
        let signer = self.keys.signer(&iin, &name, s.applicant.key, &other)?;
        let cms = signer.sign(&bytes)?;
        let a = door
            .post(
                &format!("/api/v1/applications/{number}/signature"),
                &json!({"signature": base64::engine::general_purpose::STANDARD.encode(cms)}),
            )
            .await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        let sent = a.expect(202, "the signature")?;
        steps.push(timed("portal: sign (C-sign)", t));
        let message_id = sent["message_id"]
            .as_str()
            .ok_or("the signed application has no message_id")?
            .to_string();
        let t = Instant::now();
        let (mio_number, provider) = self.registered(&reg.system, &message_id).await?;
        steps.push(timed("ШЭП → ИС МИО: registered", t));
        Ok(Entry::Registered(Sent {
            side: Some((door, number)),
            mio_number,
            provider,
        }))
    }

    async fn portal_result(
        &self,
        reg: &Regulation,
        door: &Door,
        number: &str,
        status: &str,
        s: &Scenario,
        delivered: bool,
    ) -> Result<(), String> {
        let shows = shows_statuses(reg, Channel::Portal);
        if !shows && !delivered {
            return Ok(());
        }
        final_view(
            door,
            &format!("/api/v1/applications/{number}"),
            "the cabinet",
            (shows, status, delivered),
            &s.expect.statuses,
        )
        .await?;
        if delivered {
            let (st, pdf) = door
                .bytes(&format!("/api/v1/applications/{number}/result.pdf"))
                .await?;
            let (st2, sig) = door
                .bytes(&format!("/api/v1/applications/{number}/result.p7s"))
                .await?;
            if st != 200 || !pdf.starts_with(b"%PDF-") || st2 != 200 {
                return Err(format!(
                    "the result in the cabinet: PDF HTTP {st}, CMS HTTP {st2}"
                ));
            }
            let b64 = base64::engine::general_purpose::STANDARD;
            let verdict = door
                .post(
                    "/api/v1/verify",
                    &json!({"document": b64.encode(&pdf), "signature": b64.encode(&sig)}),
                )
                .await?
                .expect(200, "the result's check")?;
            if verdict["valid"] != true {
                return Err(format!(
                    "the provider's signature over the result does not verify: {}",
                    short(&verdict)
                ));
            }
        }
        Ok(())
    }

    // ---- channel C: ИС ЦОН --------------------------------------------------------------

    async fn operator(&self, centre: &str, role: &str) -> Result<Door, String> {
        let con = self.target.con.as_ref().ok_or("the stack has no ИС ЦОН")?;
        let o = con
            .operators
            .iter()
            .find(|o| o.centre == centre && o.role == role)
            .ok_or_else(|| format!("no {role} at the centre {centre}"))?;
        let password = self
            .target
            .operator_password(&o.iin)
            .ok_or_else(|| format!("no password for the operator {}", o.iin))?;
        let mut door = Door::new(&self.http, &con.url);
        door.login(
            "/api/v1/login",
            &json!({"iin": o.iin, "password": password}),
        )
        .await?
        .expect(200, &format!("the {role}'s login"))?;
        Ok(door)
    }

    fn centre(&self, s: &Scenario, reg: &Regulation) -> Result<String, String> {
        if let Some(c) = &s.procedure.centre {
            return Ok(c.clone());
        }
        let con = self.target.con.as_ref().ok_or("the stack has no ИС ЦОН")?;
        con.operators
            .iter()
            .find(|o| o.region == reg.region && o.role == "inspector")
            .map(|o| o.centre.clone())
            .ok_or_else(|| format!("no centre of the region {}", reg.region))
    }

    async fn con(
        &self,
        s: &Scenario,
        reg: &Regulation,
        steps: &mut Vec<Timed>,
    ) -> Result<Entry, String> {
        let centre = self.centre(s, reg)?;
        let t = Instant::now();
        let desk = self.operator(&centre, "inspector").await?;
        let (iin, _) = applicant(s)?;
        let mut body = json!({"regulation": reg.id, "iin": iin});
        if let Some(rep) = representative(s)? {
            body["representative"] = rep;
        }
        let a = desk.post("/api/v1/applications", &body).await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        let draft = a.expect(201, "the draft at the desk (C-person, C-poa)")?;
        let number = draft["number"]
            .as_str()
            .ok_or("the draft has no number")?
            .to_string();
        steps.push(timed("ЦОН: the draft (C-person, C-poa)", t));
        let t = Instant::now();
        let a = desk
            .post(
                &format!("/api/v1/applications/{number}/submit"),
                &fill::submission(reg, s.category(reg), &s.applicant.omit_documents),
            )
            .await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        let sent = a.expect(200, "the submission")?;
        steps.push(timed("ЦОН: sign and send", t));
        // the accumulation sector's register and the courier's hand-over, where the
        // paper goes by courier
        let t = Instant::now();
        if self.hand_over(&centre, &desk, &number).await? {
            steps.push(timed("ЦОН: register and hand-over", t));
        }
        let message_id = sent["message_id"]
            .as_str()
            .ok_or("the sent application has no message_id")?
            .to_string();
        let t = Instant::now();
        let (mio_number, provider) = self.registered(&reg.system, &message_id).await?;
        steps.push(timed("ШЭП → ИС МИО: registered", t));
        Ok(Entry::Registered(Sent {
            side: Some((desk, number)),
            mio_number,
            provider,
        }))
    }

    /// Where the application's paper goes by courier: the register that holds it (formed
    /// now unless another run at the centre formed one with it) handed over to the
    /// courier. Whether it goes by courier.
    async fn hand_over(&self, centre: &str, desk: &Door, number: &str) -> Result<bool, String> {
        let acc = self.operator(centre, "accumulation").await?;
        let list = acc
            .get("/api/v1/registers")
            .await?
            .expect(200, "the registers")?;
        if list["awaiting"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == number))
        {
            let a = acc.post("/api/v1/registers", &json!({})).await?;
            // formed at the same moment by another run: it holds this one too
            if !(a.status == 201
                || matches!(
                    a.code(),
                    Some("NOT_AWAITING_REGISTER" | "NOTHING_TO_REGISTER")
                ))
            {
                a.expect(201, "the register")?;
            }
        }
        let v = desk
            .get(&format!("/api/v1/applications/{number}"))
            .await?
            .expect(200, "the application at the centre")?;
        let paper = &v["paper"];
        let Some(rnum) = paper["register"].as_str() else {
            return Ok(false);
        };
        if paper["handed_over_at"].is_null() {
            let courier = self.operator(centre, "courier").await?;
            let a = courier
                .post(&format!("/api/v1/registers/{rnum}/handover"), &Value::Null)
                .await?;
            if a.code() != Some("ALREADY_HANDED_OVER") {
                a.expect(200, "the hand-over")?;
            }
        }
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    async fn con_result(
        &self,
        s: &Scenario,
        reg: &Regulation,
        desk: &Door,
        number: &str,
        status: &str,
        delivered: bool,
        steps: &mut Vec<Timed>,
    ) -> Result<(), String> {
        let path = format!("/api/v1/applications/{number}");
        let shows = shows_statuses(reg, Channel::Con);
        if !shows && !delivered {
            return Ok(());
        }
        let v = final_view(
            desk,
            &path,
            "the centre",
            (shows, status, delivered),
            &s.expect.statuses,
        )
        .await?;
        if !delivered {
            return Ok(());
        }
        let centre = v["centre"].as_str().unwrap_or_default().to_string();
        if v["paper"]["state"] == "in_transit" {
            let courier = self.operator(&centre, "courier").await?;
            courier
                .post(&format!("{path}/return"), &Value::Null)
                .await?
                .expect(200, "the courier's return")?;
        }
        if !s.procedure.collect {
            let t = Instant::now();
            self.uncollected(&centre, &path, s.expect.archived.unwrap_or(true))
                .await?;
            steps.push(timed("ЦОН: a month uncollected, the archive", t));
            return Ok(());
        }
        let issuer = self.operator(&centre, "issuer").await?;
        // the issuing inspector scans the cover's barcode (a hand scanner types the
        // number)
        issuer
            .post("/api/v1/scan", &json!({"text": number}))
            .await?
            .expect(200, "the cover's scan")?;
        let (iin, _) = applicant(s)?;
        let to = match representative(s)? {
            Some(r) => r["iin"].as_str().unwrap_or_default().to_string(),
            None => iin,
        };
        let mut body = json!({"iin": to});
        if !v["paper"]["survey_questions"].is_null() {
            body["survey"] = json!({"quality": "satisfied", "information": "satisfied"});
        }
        let issued = issuer
            .post(&format!("{path}/issue"), &body)
            .await?
            .expect(200, "the issue")?;
        if issued["paper"]["state"] != "issued" {
            return Err(format!("not issued: {}", short(&issued["paper"])));
        }
        Ok(())
    }

    /// Nobody comes for the result ready at the centre: the stack's clock moves past a
    /// month, and the result must (or must not, `archived` false) go to the centre's
    /// archive.
    async fn uncollected(&self, centre: &str, path: &str, archived: bool) -> Result<(), String> {
        let clock = self
            .target
            .clock
            .as_deref()
            .ok_or("this stack's clock cannot be moved")?;
        Door::new(&self.http, clock)
            .post("/clock/advance", &json!({"seconds": MONTH_AND_A_DAY}))
            .await?
            .expect(200, "moving the stack's clock past a month")?;
        // the sessions opened before have expired by the clock: a new one
        let desk = self.operator(centre, "inspector").await?;
        let is_archived = |v: &Value| v["paper"]["state"] == "archived";
        if archived {
            desk.until(
                path,
                "the result in the centre's archive a month after it was ready",
                WAIT,
                is_archived,
            )
            .await?;
        } else {
            let until = Instant::now() + NOT_ARCHIVED_WATCH;
            while Instant::now() < until {
                let v = desk.get(path).await?.expect(200, "the application")?;
                if is_archived(&v) {
                    return Err(
                        "the result went to the centre's archive; expected it not to".into(),
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(())
    }

    // ---- channel B: the provider's desk -------------------------------------------------

    async fn provider(
        &self,
        s: &Scenario,
        reg: &Regulation,
        steps: &mut Vec<Timed>,
    ) -> Result<Entry, String> {
        let provider = &reg.providers[0].id;
        // the desk's clerk where the provider has one, else any of its employees
        let w = self
            .target
            .mio
            .get(&reg.system)
            .ok_or_else(|| format!("the stack has no {}", reg.system))?;
        let clerk = w
            .employees
            .iter()
            .filter(|e| &e.provider == provider)
            .min_by_key(|e| e.role != "office")
            .ok_or_else(|| format!("no account of {provider} at {}", reg.system))?;
        let t = Instant::now();
        let office = self.login_employee(&reg.system, &clerk.iin).await?;
        let (iin, _) = applicant(s)?;
        let category = s.category(reg);
        let mut body = fill::submission(reg, category, &s.applicant.omit_documents);
        body["regulation"] = json!(reg.id);
        body["iin"] = json!(iin);
        if let Some(rep) = representative(s)? {
            body["representative"] = rep;
        }
        let a = office.post("/api/v1/applications", &body).await?;
        if let Some(code) = a.code() {
            return Ok(Entry::Refused(code.into()));
        }
        let mio_number = match a.status {
            201 => a.body["number"].as_str().map(str::to_string),
            202 => {
                let id = a.body["message_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                Some(self.registered(&reg.system, &id).await?.0)
            }
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "the АРМ's submission: HTTP {}: {}",
                a.status,
                short(&a.body)
            )
        })?;
        steps.push(timed("АРМ: taken at the desk", t));
        Ok(Entry::Registered(Sent {
            side: None,
            mio_number,
            provider: provider.clone(),
        }))
    }

    // ---- ИС МИО -----------------------------------------------------------------------

    /// The АРМ of `system`.
    fn arm(&self, system: &str) -> Result<Arm, String> {
        let w = self
            .target
            .mio
            .get(system)
            .ok_or_else(|| format!("the stack has no {system}"))?;
        Ok(Arm::new(&self.http, system, w.clone()))
    }

    async fn login_employee(&self, system: &str, iin: &str) -> Result<Door, String> {
        self.arm(system)?.login(iin).await
    }

    /// ИС МИО's number of the application sent with `message_id`, once registered, and
    /// the provider it went to.
    async fn registered(&self, system: &str, message_id: &str) -> Result<(String, String), String> {
        self.arm(system)?.registered(message_id).await
    }

    /// Completes every task of the application through the АРМ API, choosing the
    /// outcomes of `branch`, until its status is final; the final view.
    async fn drive(
        &self,
        system: &str,
        number: &str,
        provider: &str,
        reg: &Regulation,
        branch: Branch,
    ) -> Result<Value, String> {
        self.arm(system)?.drive(number, provider, reg, branch).await
    }
}

/// The entry side's view of the application once it shows the final `status` (where
/// it `shows` statuses) and the result (when `delivered`), its statuses checked against
/// `expected` in order.
async fn final_view(
    door: &Door,
    path: &str,
    side: &str,
    (shows, status, delivered): (bool, &str, bool),
    expected: &[String],
) -> Result<Value, String> {
    let v = door
        .until(
            path,
            &format!("the final status and the result at {side}"),
            WAIT,
            |v| {
                (!shows || v["status"]["status"] == status)
                    && (!delivered || v["result"].is_object())
            },
        )
        .await?;
    let seen: Vec<String> = v["statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["status"].as_str().map(str::to_string))
        .collect();
    if let Some(missing) = not_in_order(expected, &seen) {
        return Err(format!(
            "{side} did not show {missing} in order; it showed {}",
            seen.join(", ")
        ));
    }
    Ok(v)
}

/// Whether the regulation shows the statuses of applications of `channel` at the side
/// that took them (the portal, ИС ЦОН).
pub fn shows_statuses(reg: &Regulation, channel: Channel) -> bool {
    let side = match channel {
        Channel::Portal => "portal",
        Channel::Con => "con-is",
        Channel::Provider => return false,
    };
    reg.channel(channel.id())
        .is_some_and(|c| c.status_to.iter().any(|x| x == side))
}

fn iin_of(key: &str) -> String {
    egov_synth::fixtures::iin_of(key).as_string()
}

/// The applicant's IIN and name (as a certificate names them).
fn applicant(s: &Scenario) -> Result<(String, String), String> {
    let today = OffsetDateTime::now_utc().date();
    let citizens = egov_synth::fixtures::citizens(today);
    let poa_principal = s.applicant.power_of_attorney.as_ref().and_then(|p| {
        egov_synth::fixtures::named_poas(today)
            .into_iter()
            .find(|n| n.key == p)
            .map(|n| n.poa.principal.as_string())
    });
    let iin = match (&s.applicant.citizen, &s.applicant.iin, poa_principal) {
        (Some(c), _, _) => iin_of(c),
        (None, Some(i), _) => i.clone(),
        (None, None, Some(p)) => p,
        (None, None, None) => return Err("the scenario names no applicant".into()),
    };
    let name = citizens
        .iter()
        .find(|c| c.iin.as_string() == iin)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "ЗАЯВИТЕЛЬ ТЕСТОВЫЙ".into());
    Ok((iin, name))
}

/// The representative of a scenario with a power of attorney: `{iin, poa_number}`.
fn representative(s: &Scenario) -> Result<Option<Value>, String> {
    let Some(key) = &s.applicant.power_of_attorney else {
        return Ok(None);
    };
    let today = OffsetDateTime::now_utc().date();
    let n = egov_synth::fixtures::named_poas(today)
        .into_iter()
        .find(|n| n.key == key)
        .ok_or_else(|| format!("no named power of attorney {key}"))?;
    Ok(Some(json!({
        "iin": n.poa.representative.as_string(),
        "poa_number": n.poa.number,
    })))
}

fn timed(step: &str, since: Instant) -> Timed {
    Timed {
        step: step.to_string(),
        took: since.elapsed(),
        due: None,
        overdue: false,
    }
}

fn parse_time(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339).ok()
}

/// A step run of ИС МИО's view, timed against its deadline.
fn step_time(run: &Value) -> Timed {
    let started = parse_time(&run["started_at"]);
    let span = |end: Option<OffsetDateTime>| -> Option<Duration> {
        let d = end? - started?;
        Duration::try_from(d).ok()
    };
    Timed {
        step: run["step_id"].as_str().unwrap_or_default().to_string(),
        took: span(parse_time(&run["completed_at"])).unwrap_or_default(),
        due: span(parse_time(&run["due_at"])),
        overdue: run["overdue"] == true,
    }
}

/// The first of `want` not found in `seen` in order, if any.
fn not_in_order<'a>(want: &'a [String], seen: &[String]) -> Option<&'a str> {
    let mut it = seen.iter();
    want.iter()
        .find(|w| !it.any(|s| s == *w))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_subsequence() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let seen = s(&["received", "in_progress", "completed"]);
        assert_eq!(not_in_order(&s(&["received", "completed"]), &seen), None);
        assert_eq!(
            not_in_order(&s(&["completed", "received"]), &seen),
            Some("received")
        );
        assert_eq!(not_in_order(&s(&["refused"]), &seen), Some("refused"));
    }
}
