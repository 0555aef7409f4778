//! What several benches measure alike: the bare async gateway path (a signed message into
//! an ИС МИО's inbox, accepted by its regional gateway) and a logged-in session of a
//! system's JSON API. Each bench includes it as `mod shared;`, so that the bare path of
//! `gateway`, `con` and `portal` is one piece of code.

#![allow(dead_code)]

pub mod cabinet;
pub mod desk;

use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use egov_proto::shep::v1::MessageType;
use egov_shep_client::{Client, Reply};
use egov_tests::bench::{Op, op};
use serde_json::Value;

/// Checks that `r` is `code`, answered by `responder`.
pub fn check_reply(r: &Reply, code: &str, responder: &str) -> Result<()> {
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

/// The bare async path: `client` sends `payload` to `service` with routeId `region`
/// (a new messageId each time) through its gateway and the region's РШЭП into the inbox
/// of the region's ИС МИО; done when `accepted_by` (that РШЭП) has accepted it.
pub fn async_send(
    client: Client,
    service: &'static str,
    region: &str,
    accepted_by: &str,
    payload: Arc<Vec<u8>>,
) -> Op {
    let region: Arc<str> = region.into();
    let responder: Arc<str> = accepted_by.into();
    op(move || {
        let (client, payload) = (client.clone(), payload.clone());
        let (region, responder) = (region.clone(), responder.clone());
        async move {
            let r = client
                .send_async(service, &region, MessageType::Request, "", payload.to_vec())
                .await?;
            check_reply(&r, egov_shep_client::codes::ACCEPTED, &responder)
        }
    })
}

/// A logged-in session of a JSON API that takes `Authorization: Bearer`.
#[derive(Clone)]
pub struct Session {
    /// The API's base URL.
    pub base: String,
    /// The bearer token.
    pub token: String,
    /// The connection pool.
    pub http: reqwest::Client,
}

impl Session {
    /// Logs in at `base` + `path` with `body`; the answer's `token` is the session's.
    pub async fn login(base: &str, path: &str, body: &Value) -> Result<Session> {
        let http = reqwest::Client::new();
        let r = http.post(format!("{base}{path}")).json(body).send().await?;
        ensure!(r.status() == 200, "login: {}", r.text().await?);
        let v: Value = r.json().await?;
        Ok(Session {
            base: base.into(),
            token: v["token"].as_str().context("a token")?.into(),
            http,
        })
    }

    /// A GET (no body) or a POST of `body`, as JSON; the status and the answer (null when
    /// it is not JSON).
    pub async fn call(&self, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let req = match body {
            Some(b) => self.http.post(url).json(b),
            None => self.http.get(url),
        };
        let r = req.bearer_auth(&self.token).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// A POST of `body` that must answer `expected`; the answer.
    pub async fn post_ok(&self, path: &str, body: &Value, expected: u16) -> Result<Value> {
        let (s, v) = self.call(path, Some(body)).await?;
        ensure!(s == expected, "POST {path}: {s} {v}");
        Ok(v)
    }

    /// A GET that must answer 200; the answer.
    pub async fn get_ok(&self, path: &str) -> Result<Value> {
        let (s, v) = self.call(path, None).await?;
        ensure!(s == 200, "GET {path}: {s} {v}");
        Ok(v)
    }
}
