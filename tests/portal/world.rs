//! The world of the portal's tests: the world of ИС МИО's tests (uc, ШЭП and the three
//! РШЭП, ГБД ФЛ and ЕНИС with the named test citizens, the ИС МИО asked for, on one
//! manual clock) with ПЭП registered on ШЭП; and a citizen's cabinet session.

#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{Env, Signer, egov_devenv_nats_url};

/// The password the tests' citizens register with.
pub const PASSWORD: &str = "пароль-портала-1";

/// The running portal.
pub struct Portal {
    /// Its HTTP base.
    pub http: String,
    /// What its operations share (database, clock).
    pub core: egov_portal::Core,
}

/// A world with the ИС МИО of `systems` and the portal, its settings changed by `tweak`.
pub async fn world_with(
    systems: &[&str],
    tweak: impl FnOnce(&mut egov_portal::Config),
) -> (Env, Portal) {
    let mut p = crate::common::begin(None, &[], systems, |_| {}).await;
    let mut cfg = egov_portal::Config::of(&p.w.topology);
    let base = p.w.system_config("portal", egov_portal::SCHEMA);
    cfg.system.pki_dir = base.pki_dir;
    cfg.system.database_url = base.database_url;
    cfg.system.ocsp_url = base.ocsp_url;
    cfg.system.any_ports();
    cfg.nats_url = egov_devenv_nats_url();
    cfg.nats_prefix = p.w.prefix.clone();
    cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
    cfg.ack_wait_secs = 5;
    tweak(&mut cfg);
    let mut portal = egov_portal::Portal::build_with(cfg, p.clock.clone())
        .await
        .unwrap();
    p.w.register("portal", portal.grpc_addr());
    let env = p.finish().await;
    portal.set_gateway(&env.w.gateway_addr_of("portal"));
    let pt = Portal {
        http: format!("http://{}", portal.http_addr()),
        core: portal.core(),
    };
    env.w.spawn(portal.run(env.w.cancel.clone()));
    for _ in 0..200 {
        if env
            .http
            .get(format!("{}/health", pt.http))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (env, pt)
}

/// A second portal of the world, built but not running, on its own schema: a test drives
/// its relay, inbox or SLA scan by hand. Its gateway client is the world's live one.
pub async fn idle_portal(env: &Env, schema: &str) -> egov_portal::Core {
    let mut cfg = egov_portal::Config::of(&env.w.topology);
    cfg.system = env.w.system_config("portal", schema);
    cfg.system.any_ports();
    cfg.nats_url = egov_devenv_nats_url();
    cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
    let portal = egov_portal::Portal::build_with(cfg, env.clock.clone())
        .await
        .unwrap();
    let core = portal.core();
    let _ = core.gateway.set(env.w.client("portal"));
    core
}

/// A world with the ИС МИО of `systems` and the portal.
pub async fn world(systems: &[&str]) -> (Env, Portal) {
    world_with(systems, |_| {}).await
}

/// A citizen's session in the cabinet.
pub struct Cabinet {
    pub base: String,
    pub token: String,
    pub iin: String,
    pub http: reqwest::Client,
    /// `Accept-Language` sent.
    pub lang: &'static str,
}

/// Registers the fixture citizen `key` (with an e-mail) and logs them in.
pub async fn citizen(portal: &Portal, key: &str) -> Cabinet {
    let iin = egov_synth::fixtures::iin_of(key).as_string();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/auth/register", portal.http))
        .json(&json!({"iin": iin, "password": PASSWORD, "email": format!("{key}@example.kz")}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "register {key}: {}",
        r.text().await.unwrap()
    );
    login(portal, &iin).await
}

/// Logs in a registered citizen.
pub async fn login(portal: &Portal, iin: &str) -> Cabinet {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/auth/login", portal.http))
        .json(&json!({"iin": iin, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login {iin}: {}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    assert!(v["expires_at"].is_string(), "{v}");
    Cabinet {
        base: portal.http.clone(),
        token: v["token"].as_str().unwrap().to_string(),
        iin: iin.into(),
        http,
        lang: "ru",
    }
}

impl Cabinet {
    pub fn kazakh(mut self) -> Cabinet {
        self.lang = "kk";
        self
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept-language", self.lang)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A draft of `reg` for the first category with a complete form; its number.
    pub async fn draft(&self, reg: &egov_regulation::Regulation, today: time::Date) -> String {
        let (s, v) = self
            .post("/api/v1/applications", new_application(reg, today))
            .await;
        assert_eq!(s, 201, "{}: {v}", reg.id);
        assert_eq!(v["state"], "draft");
        v["number"].as_str().unwrap().to_string()
    }

    /// Attaches every required document of the first category.
    pub async fn attach_all(&self, reg: &egov_regulation::Regulation, number: &str) {
        for d in reg.required_documents(&reg.categories[0].id) {
            let (s, v) = self
                .post(
                    &format!("/api/v1/applications/{number}/attachments"),
                    scan(&d.id),
                )
                .await;
            assert_eq!(s, 201, "{}: {v}", d.id);
        }
    }

    /// The bytes to sign.
    pub async fn sign_request(&self, number: &str) -> Vec<u8> {
        let (s, v) = self
            .get(&format!("/api/v1/applications/{number}/sign-request"))
            .await;
        assert_eq!(s, 200, "{v}");
        base64::engine::general_purpose::STANDARD
            .decode(v["document"].as_str().unwrap())
            .unwrap()
    }

    /// Sends `signature` over the sign request.
    pub async fn sign_with(&self, number: &str, signature: &[u8]) -> (u16, Value) {
        self.post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"signature": base64::engine::general_purpose::STANDARD.encode(signature)}),
        )
        .await
    }

    /// Polls the application until `pred` holds (20 s at most).
    pub async fn until(&self, number: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (s, v) = self.get(&format!("/api/v1/applications/{number}")).await;
            assert_eq!(s, 200, "{v}");
            if pred(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{number}: no {what}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A detached CMS of `signer` over `bytes`.
pub fn cms(signer: &Signer, bytes: &[u8]) -> Vec<u8> {
    egov_pki::cms::sign(
        bytes,
        &signer.key,
        &signer.cert,
        &[],
        true,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// A new application of `reg` (first category, the form filled as ИС МИО's tests fill it).
pub fn new_application(reg: &egov_regulation::Regulation, today: time::Date) -> Value {
    let doc = crate::common::application(reg, "family-father", "portal", today);
    json!({
        "regulation": reg.id,
        "category": reg.categories[0].id,
        "phone": "+7 701 123 45 67",
        "form": doc.form,
    })
}

/// A scan (a small PDF) of the document `kind`.
pub fn scan(kind: &str) -> Value {
    egov_scenario::fill::scan(kind)
}

impl Portal {
    /// A regulation of the portal's catalogue.
    pub fn regulation(&self, id: &str) -> std::sync::Arc<egov_regulation::Regulation> {
        self.core.catalog.get(id).unwrap().clone()
    }
}
