//! The web UI in headless Chromium (Debian's `chromium` and `chromium-driver`, which the
//! test command installs), driven over WebDriver: an employee logs in, opens the
//! worklist and completes a task.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect(
                "chromedriver (Debian package chromium-driver) is installed by the test command",
            );
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        r.json::<Value>().await.unwrap()["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self
                .cmd(
                    reqwest::Method::POST,
                    "/element",
                    json!({"using": "css selector", "value": css}),
                )
                .await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no element {css}: {v}; page: {}",
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", Value::Null)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.source().await;
            if s.contains(text) {
                return s;
            }
            if Instant::now() >= deadline {
                let raw = self.cmd(reqwest::Method::GET, "/source", Value::Null).await;
                let url = self.cmd(reqwest::Method::GET, "/url", Value::Null).await;
                panic!("{text:?} never appeared at {url}: {s} / {raw}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_logs_in_and_completes_a_task_in_the_browser() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let app = portal_application(&env, "mio-almaty", &reg.id, "family-father").await;
    let office = employees_of(&env, "mio-almaty", &reg.providers[0].id, "office").await[0].clone();
    let task: i64 = sqlx::query_scalar(
        "select id from step_runs where application_id = $1 and status = 'open'",
    )
    .bind(app.id)
    .fetch_one(&mio.engine.pool)
    .await
    .unwrap();

    let d = Driver::start().await;
    d.go(&format!("{}/login", mio.http)).await;
    // a wrong password first
    d.type_into("#iin", &office).await;
    d.type_into("#password", "not-the-password").await;
    d.click("#login").await;
    d.wait_for_text("Неверный ИИН или пароль").await;
    d.type_into("#iin", &office).await;
    d.type_into("#password", PASSWORD).await;
    d.click("#login").await;
    let page = d.wait_for_text("Рабочий список").await;
    assert!(d.url().await.ends_with("/worklist"));
    assert!(page.contains(&app.number), "the task is on the worklist");
    d.click(&format!("#task-{task}")).await;
    d.wait_for_text("Исполнение").await;
    d.click("#complete").await;
    let page = d.wait_for_text("Исполнено").await;
    // the status as the file names it after the acceptance along the portal
    let accept = reg.step("accept").unwrap();
    let label = match accept.status_along("portal") {
        (Some(s), stage) => reg.status_label(s, stage.as_deref()).ru,
        (None, _) => {
            let (s, stage) = reg.first_step().status_along("portal");
            reg.status_label(s.unwrap(), stage.as_deref()).ru
        }
    };
    assert!(page.contains(&label), "the status {label}: {page}");
    let status: String = sqlx::query_scalar("select status from step_runs where id = $1")
        .bind(task)
        .fetch_one(&mio.engine.pool)
        .await
        .unwrap();
    assert_eq!(status, "done");
    // the worklist is empty now for the office
    d.go(&format!("{}/worklist", mio.http)).await;
    d.wait_for_text("Задач нет").await;
    d.click("#logout").await;
    d.wait_for_text("Пароль").await;
    let _ = d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}
