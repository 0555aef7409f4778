//! The provider's employees at one ИС МИО's АРМ РШЭП: their logins, the look-up of an
//! application by the messageId it was sent with, and the procedure worked task by task
//! through the АРМ API down one branch of the regulation, the commission's meeting
//! included.
//!
//! An [`Arm`] made [`patient`](Arm::patient) works through a system that fails under it:
//! its requests are sent again while they get no answer or a 5xx (its doors are
//! [patient](Door::patient)), and an action refused after such a retry is taken as done
//! when the application (or the meeting) shows it done, since the answer to the first
//! try may have been lost. A patient run works from what the АРМ shows, not from what it
//! did: a meeting whose agenda already holds the application is carried on, not begun
//! again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use egov_regulation::{Regulation, ResultKind, StepKind};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::door::{Answer, Door, short};
use crate::run::WAIT;
use crate::spec::Branch;
use crate::target::Workstation;

/// One ИС МИО's АРМ and its accounts.
pub struct Arm {
    http: reqwest::Client,
    system: String,
    station: Workstation,
    patience: Option<Duration>,
}

impl Arm {
    /// The АРМ of `system` as `station` describes it.
    pub fn new(http: &reqwest::Client, system: &str, station: Workstation) -> Arm {
        Arm {
            http: http.clone(),
            system: system.to_string(),
            station,
            patience: None,
        }
    }

    /// The same, working through failures for `within` at most per request.
    pub fn patient(mut self, within: Duration) -> Arm {
        self.patience = Some(within);
        self
    }

    /// A session of the employee `iin`.
    pub async fn login(&self, iin: &str) -> Result<Door, String> {
        let password = self
            .station
            .password_of(iin)
            .ok_or_else(|| format!("no password for the employee {iin} of {}", self.system))?;
        let mut door = Door::new(&self.http, &self.station.url);
        if let Some(p) = self.patience {
            door = door.patient(p);
        }
        door.login("/api/v1/login", &json!({"iin": iin, "password": password}))
            .await?
            .expect(200, &format!("the login of {iin} at {}", self.system))?;
        Ok(door)
    }

    /// ИС МИО's number of the application sent with `message_id`, once registered
    /// (within [`WAIT`]), and the provider it went to.
    pub async fn registered(&self, message_id: &str) -> Result<(String, String), String> {
        if self.station.employees.is_empty() {
            return Err("an АРМ without accounts".into());
        }
        // any account of the provider that took it may look it up
        let mut tried = Vec::new();
        for e in &self.station.employees {
            if tried.contains(&e.provider) {
                continue;
            }
            tried.push(e.provider.clone());
            let door = self.login(&e.iin).await?;
            let v = door
                .until(
                    &format!("/api/v1/applications/{message_id}"),
                    "ИС МИО's registration",
                    WAIT,
                    |_| true,
                )
                .await;
            match v {
                Ok(v) => {
                    return match (v["number"].as_str(), v["provider_id"].as_str()) {
                        (Some(n), Some(p)) => Ok((n.to_string(), p.to_string())),
                        _ => Err(format!("the registered application: {}", short(&v))),
                    };
                }
                Err(e) if e.contains("HTTP 403") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(format!(
            "{message_id} was not registered at {} (asked as {})",
            self.system, self.station.employees[0].iin
        ))
    }

    /// Completes every task of the application `number` (of `provider`, under `reg`),
    /// choosing the outcomes of `branch`, until its status is final; the final view.
    pub async fn drive(
        &self,
        number: &str,
        provider: &str,
        reg: &Regulation,
        branch: Branch,
    ) -> Result<Value, String> {
        let mut sessions: HashMap<String, Door> = HashMap::new();
        let viewer = self.any_of(provider, &mut sessions).await?;
        let path = format!("/api/v1/applications/{number}");
        let deadline = Instant::now() + WAIT * 2;
        let mut idle_since: Option<Instant> = None;
        loop {
            let view = sessions[&viewer]
                .get(&path)
                .await?
                .expect(200, "the application at the АРМ")?;
            let Some(run) = open_task(&view) else {
                let status = view["status"].as_str().unwrap_or_default();
                let final_ = egov_regulation::Status::parse(status).is_some_and(|s| s.is_final());
                if final_
                    && view["steps"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|r| r["status"] != "open")
                {
                    return Ok(view);
                }
                // a system's step in progress (delivery, the result's sending)
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() > WAIT {
                    return Err(format!(
                        "the application stalled at the АРМ: {}",
                        short(&view)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            idle_since = None;
            if Instant::now() > deadline {
                return Err(format!("the procedure did not finish: {}", short(&view)));
            }
            let step_id = run["step_id"].as_str().unwrap_or_default();
            let step = reg
                .step(step_id)
                .ok_or_else(|| format!("the АРМ opened {step_id}, not a step of {}", reg.id))?;
            let role = run["role"].as_str().unwrap_or_default();
            let who = match run["assignee_iin"].as_str() {
                Some(a) => a.to_string(),
                None => self
                    .station
                    .employees
                    .iter()
                    .find(|e| e.provider == provider && e.role == role)
                    .map(|e| e.iin.clone())
                    .ok_or_else(|| format!("no {role} of {provider} at {}", self.system))?,
            };
            if !sessions.contains_key(&who) {
                let d = self.login(&who).await?;
                sessions.insert(who.clone(), d);
            }
            let arm = &sessions[&who];
            let task = run["id"].as_i64().unwrap_or_default();
            if step.kind == StepKind::Commission {
                self.commission(arm, reg, step, number, branch).await?;
                continue;
            }
            let t = arm
                .get(&format!("/api/v1/tasks/{task}"))
                .await?
                .expect(200, "the task")?;
            let body = completion(reg, step, branch, &view, &t);
            let a = arm
                .post(&format!("/api/v1/tasks/{task}/complete"), &body)
                .await?;
            if a.status == 200 {
                continue;
            }
            let refused = a.expect(200, &format!("the step {step_id} ({body})"));
            if self.patience.is_some() {
                // the first try may have gone through with its answer lost
                let now = sessions[&viewer]
                    .get(&path)
                    .await?
                    .expect(200, "the application at the АРМ")?;
                if open_task(&now).and_then(|r| r["id"].as_i64()) != Some(task) {
                    continue;
                }
            }
            refused?;
        }
    }

    async fn any_of(
        &self,
        provider: &str,
        sessions: &mut HashMap<String, Door>,
    ) -> Result<String, String> {
        let e = self
            .station
            .employees
            .iter()
            .find(|e| e.provider == provider)
            .ok_or_else(|| format!("no account of {provider} at {}", self.system))?
            .iin
            .clone();
        let d = self.login(&e).await?;
        sessions.insert(e.clone(), d);
        Ok(e)
    }

    /// The commission's meeting over `number`, from where it stands: scheduled (unless a
    /// patient run finds an open meeting with it on the agenda), the application on the
    /// agenda, the decision of `branch`, the protocol closed (every meeting found is
    /// open, and a new one is).
    async fn commission(
        &self,
        arm: &Door,
        reg: &Regulation,
        step: &egov_regulation::Step,
        number: &str,
        branch: Branch,
    ) -> Result<(), String> {
        let want: &[ResultKind] = match branch {
            Branch::Result => &[ResultKind::Registration, ResultKind::Assignment],
            _ => &[ResultKind::Refusal],
        };
        let decision = step
            .outcomes
            .iter()
            .find(|o| {
                o.result
                    .as_deref()
                    .and_then(|r| reg.result(r))
                    .is_some_and(|r| want.contains(&r.kind))
            })
            .unwrap_or(&step.outcomes[0]);
        let kind = decision
            .result
            .as_deref()
            .and_then(|r| reg.result(r))
            .map(|r| r.kind);
        // where the meeting stands: a patient run carries on an open one that holds the
        // application; else a new one, its agenda empty
        let found = match self.patience {
            Some(_) => open_meeting_with(arm, number).await?,
            None => None,
        };
        let (id, on_agenda, decided) = match found {
            Some((id, m)) => {
                let i = item(&m, number);
                let decided = i.is_some_and(|i| !i["decision"].is_null());
                (id, i.is_some(), decided)
            }
            None => {
                let today = OffsetDateTime::now_utc().date();
                let m = arm
                    .post(
                        "/api/v1/commission/meetings",
                        &json!({"date": format!("{:04}-{:02}-{:02}", today.year(), today.month() as u8, today.day())}),
                    )
                    .await?
                    .expect(201, "the commission's meeting")?;
                let id = m["id"].as_str().ok_or("the meeting has no id")?;
                (id.to_string(), false, false)
            }
        };
        let at = format!("/api/v1/commission/meetings/{id}");
        if !on_agenda {
            let a = arm
                .post(&format!("{at}/agenda"), &json!({"application": number}))
                .await?;
            self.done_or(arm, &at, a, "the agenda", |m| item(m, number).is_some())
                .await?;
        }
        if !decided {
            let mut body = json!({"application": number, "decision": decision.id});
            if kind == Some(ResultKind::Refusal) {
                body["grounds"] = json!([reg.refusal_grounds[0].id]);
            }
            if kind == Some(ResultKind::Assignment) {
                body["amount"] = json!(18_500);
            }
            let a = arm.post(&format!("{at}/decisions"), &body).await?;
            self.done_or(arm, &at, a, "the decision", |m| {
                item(m, number).is_some_and(|i| !i["decision"].is_null())
            })
            .await?;
        }
        let a = arm.post(&format!("{at}/close"), &json!({})).await?;
        self.done_or(arm, &at, a, "the meeting's close", |m| {
            m["meeting"]["status"] != "open"
        })
        .await
    }

    /// `a` if it is a 200; else, for a patient run, nothing if the meeting at `at` shows
    /// the action `done` (an earlier try went through), else the refusal.
    async fn done_or(
        &self,
        arm: &Door,
        at: &str,
        a: Answer,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Result<(), String> {
        if a.status == 200 {
            return Ok(());
        }
        if self.patience.is_some() {
            let m = arm.get(at).await?.expect(200, "the meeting")?;
            if done(&m) {
                return Ok(());
            }
        }
        a.expect(200, what).map(|_| ())
    }
}

/// The first open task of the application `view` that a person does.
fn open_task(view: &Value) -> Option<&Value> {
    view["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["status"] == "open" && !r["role"].is_null())
}

/// The completion of `step` (the task `t` of the application `view`) down `branch`.
fn completion(
    reg: &Regulation,
    step: &egov_regulation::Step,
    branch: Branch,
    view: &Value,
    t: &Value,
) -> Value {
    let mut body = json!({});
    match step.kind {
        StepKind::Assign => body["assignee"] = t["candidates"][0]["iin"].clone(),
        StepKind::Check => {
            let o = match branch {
                Branch::Result => "complete",
                Branch::Incomplete => "incomplete",
                Branch::Refusal if step.outcomes.iter().any(|o| o.id == "refuse") => "refuse",
                Branch::Refusal => "complete",
            };
            body["outcome"] = json!(o);
            if o == "refuse" {
                body["grounds"] = json!([reg.refusal_grounds[0].id]);
            }
            if o == "incomplete" {
                let category = view["category"].as_str().unwrap_or_default();
                let doc = reg
                    .required_documents(category)
                    .first()
                    .map(|d| d.id.clone())
                    .unwrap_or_else(|| reg.documents[0].id.clone());
                body["missing_documents"] = json!([doc]);
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
    body
}

/// The agenda item of `number` in the meeting `m`.
fn item<'a>(m: &'a Value, number: &str) -> Option<&'a Value> {
    m["agenda"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["number"] == number)
}

/// The open meeting whose agenda holds `number`, if there is one: its id and view.
async fn open_meeting_with(arm: &Door, number: &str) -> Result<Option<(String, Value)>, String> {
    let all = arm
        .get("/api/v1/commission/meetings")
        .await?
        .expect(200, "the meetings")?;
    for m in all["meetings"].as_array().into_iter().flatten() {
        let Some(id) = m["id"].as_str().filter(|_| m["status"] == "open") else {
            continue;
        };
        let v = arm
            .get(&format!("/api/v1/commission/meetings/{id}"))
            .await?
            .expect(200, "the meeting")?;
        if item(&v, number).is_some() {
            return Ok(Some((id.to_string(), v)));
        }
    }
    Ok(None)
}
