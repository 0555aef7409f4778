//! An inspector at ИС ЦОН's desk, as the benches drive one: logged in through the
//! operator API, taking an application from the citizen's IIN to ИС МИО's «received»
//! seen at ИС ЦОН.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use super::Session;

/// An inspector's logged-in session.
#[derive(Clone)]
pub struct Desk(pub Session);

impl Desk {
    pub async fn login(base: &str, iin: &str) -> Result<Desk> {
        let body = json!({"iin": iin, "password": egov_con_is::DEV_OPERATOR_PASSWORD});
        Ok(Desk(Session::login(base, "/api/v1/login", &body).await?))
    }

    /// One application from the citizen's IIN to ИС МИО's «received» seen at ИС ЦОН.
    pub async fn take(&self, regulation: &str, citizen: &str, submission: &Value) -> Result<()> {
        let iin = egov_synth::fixtures::iin_of(citizen).as_string();
        let draft = self
            .0
            .post_ok(
                "/api/v1/applications",
                &json!({"regulation": regulation, "iin": iin}),
                201,
            )
            .await?;
        let number = draft["number"].as_str().context("a number")?.to_string();
        let (s, sent) = self
            .0
            .call(
                &format!("/api/v1/applications/{number}/submit"),
                Some(submission),
            )
            .await?;
        ensure!(s == 200 || s == 202, "submit: {s} {sent}");
        let start = Instant::now();
        loop {
            let v = self
                .0
                .get_ok(&format!("/api/v1/applications/{number}"))
                .await?;
            if v["status"]["status"] == "received" {
                return Ok(());
            }
            ensure!(
                start.elapsed() < Duration::from_secs(60),
                "{number}: no «received» from ИС МИО within 60 s: {v}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
