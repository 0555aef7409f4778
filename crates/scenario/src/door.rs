//! One logged-in session at one of the stack's HTTP doors.

use std::time::{Duration, Instant};

use serde_json::Value;

/// An answer: the HTTP status and the JSON body (`null` when not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// The error code of the API's one error shape, if the answer is one.
    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// Ok when the status is `want`, else the failure naming `what`.
    pub fn expect(self, want: u16, what: &str) -> Result<Value, String> {
        if self.status == want {
            Ok(self.body)
        } else {
            Err(format!(
                "{what}: HTTP {} (want {want}): {}",
                self.status,
                short(&self.body)
            ))
        }
    }
}

/// The body, cut for a report line.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 400 {
        format!("{}…", s.chars().take(400).collect::<String>())
    } else {
        s
    }
}

/// A session: a base URL and, once logged in, a bearer token.
#[derive(Clone)]
pub struct Door {
    /// The base URL.
    pub base: String,
    /// The bearer token.
    pub token: Option<String>,
    http: reqwest::Client,
}

impl Door {
    /// A session at `base`, not logged in.
    pub fn new(http: &reqwest::Client, base: &str) -> Door {
        Door {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            http: http.clone(),
        }
    }

    fn req(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let r = r.header("accept-language", "ru");
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn answer(r: reqwest::RequestBuilder, what: &str) -> Result<Answer, String> {
        let resp = r.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| format!("{what}: {e}"))?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Result<Answer, String> {
        let what = format!("GET {}{path}", self.base);
        Self::answer(
            self.req(self.http.get(format!("{}{path}", self.base))),
            &what,
        )
        .await
    }

    /// POST `body` as JSON to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, String> {
        let what = format!("POST {}{path}", self.base);
        Self::answer(
            self.req(self.http.post(format!("{}{path}", self.base)).json(body)),
            &what,
        )
        .await
    }

    /// GET `path` as bytes, with the status.
    pub async fn bytes(&self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let what = format!("GET {}{path}", self.base);
        let resp = self
            .req(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = resp.status().as_u16();
        let b = resp.bytes().await.map_err(|e| format!("{what}: {e}"))?;
        Ok((status, b.to_vec()))
    }

    /// Logs in at `path` with `body`; the token of the answer (`token`).
    pub async fn login(&mut self, path: &str, body: &Value) -> Result<Answer, String> {
        let a = self.post(path, body).await?;
        if a.status == 200 {
            self.token = a.body["token"].as_str().map(str::to_string);
        }
        Ok(a)
    }

    /// GETs `path` until `pred` holds of its 200 answer, for `within` at most.
    pub async fn until(
        &self,
        path: &str,
        what: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        loop {
            let a = self.get(path).await?;
            if a.status == 200 {
                if pred(&a.body) {
                    return Ok(a.body);
                }
                last = a.body;
            } else if a.status != 404 {
                return Err(format!(
                    "{what}: GET {path}: HTTP {}: {}",
                    a.status,
                    short(&a.body)
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{what}: not within {} s; last seen {}",
                    within.as_secs(),
                    short(&last)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
