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
    patience: Option<Duration>,
}

impl Door {
    /// A session at `base`, not logged in.
    pub fn new(http: &reqwest::Client, base: &str) -> Door {
        Door {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            http: http.clone(),
            patience: None,
        }
    }

    /// The same session, patient: a request (any of its methods) that gets no answer or a
    /// 5xx is sent again, every quarter of a second, as a person presses again, for
    /// `within` at most; then its last answer (or failure) is returned.
    pub fn patient(mut self, within: Duration) -> Door {
        self.patience = Some(within);
        self
    }

    /// `once` tried again while it fails for the system's sake (no answer, or a 5xx by
    /// `status`), if the door is patient.
    async fn tried<T, F, Fut>(&self, once: F, status: fn(&T) -> u16) -> Result<T, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let Some(patience) = self.patience else {
            return once().await;
        };
        let deadline = Instant::now() + patience;
        loop {
            let a = once().await;
            match &a {
                Ok(x) if status(x) < 500 => return a,
                _ if Instant::now() >= deadline => return a,
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
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
        let url = format!("{}{path}", self.base);
        let what = format!("GET {url}");
        self.tried(
            || Self::answer(self.req(self.http.get(&url)), &what),
            |a| a.status,
        )
        .await
    }

    /// POST `body` as JSON to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let what = format!("POST {url}");
        self.tried(
            || Self::answer(self.req(self.http.post(&url).json(body)), &what),
            |a| a.status,
        )
        .await
    }

    /// GET `path` as bytes, with the status.
    pub async fn bytes(&self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let url = format!("{}{path}", self.base);
        let what = format!("GET {url}");
        self.tried(
            || async {
                let resp = self
                    .req(self.http.get(&url))
                    .send()
                    .await
                    .map_err(|e| format!("{what}: {e}"))?;
                let status = resp.status().as_u16();
                let b = resp.bytes().await.map_err(|e| format!("{what}: {e}"))?;
                Ok((status, b.to_vec()))
            },
            |a| a.0,
        )
        .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A server that answers 503 twice, then 200, then 503 twice again, ...
    async fn flaky() -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            for n in 1.. {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let answer: &[u8] = if n % 3 == 0 {
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}"
                } else {
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = s.write_all(answer).await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_patient_door_asks_again_through_5xx_and_an_impatient_one_does_not() {
        let base = flaky().await;
        let http = reqwest::Client::new();
        let door = Door::new(&http, &base);
        assert_eq!(door.get("/x").await.unwrap().status, 503);
        let patient = door.clone().patient(Duration::from_secs(10));
        // the second try of the impatient door was the server's second 503; the third is 200
        let a = patient.post("/x", &serde_json::json!({})).await.unwrap();
        assert_eq!((a.status, a.body["ok"].as_bool()), (200, Some(true)));
        // patience runs out: the last answer is returned
        let brief = door.patient(Duration::from_millis(1));
        assert_eq!(brief.get("/x").await.unwrap().status, 503);
        // bytes too: the fifth answer is a 503, the sixth the 200
        let (status, body) = patient.bytes("/x").await.unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"{\"ok\":true}"[..]));
        // nobody listening: the failure itself once patience is over
        let gone = Door::new(&http, "http://127.0.0.1:9").patient(Duration::from_millis(300));
        assert!(gone.get("/x").await.is_err());
    }
}
