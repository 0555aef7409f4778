//! The cabinet's pages. In headless Chromium, a citizen from the registration to the
//! saved result, signing in the NCALayer stand-in through the page's own script. Over
//! HTTP, as a browser without script posts them: the login refused in Russian and Kazakh,
//! forms refused without the session's CSRF token or from another site with nothing
//! written, a form missing a field and a bad upload refused in the page, the signing form
//! given a bad CMS showing its code, another citizen's application 404; the session
//! cookie and the pages' Content-Security-Policy.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::multipart::{Form, Part};

use crate::common::{Branch, Env, drive, registered};
use crate::world::*;

const REG: &str = "almaty-2013-housing-queue";

/// The password of the citizen's key files.
const KEY_PASSWORD: &str = "Qwerty12";

/// The NCALayer stand-in at `addr` holding the keys of the fixture citizen `key`, issued
/// by the world's PKI as `egov up` issues them; its TLS certificate's file.
async fn ncalayer(env: &Env, key: &str, addr: std::net::SocketAddr) -> PathBuf {
    let ca = env.w.authority();
    let now = time::OffsetDateTime::now_utc();
    egov_ncalayer::provision::tls_identity(&ca, now).unwrap();
    let c = egov_synth::fixtures::citizens(env.clock.today())
        .into_iter()
        .find(|c| c.key == key)
        .unwrap();
    let person = egov_ncalayer::provision::Person {
        iin: c.iin,
        name: c.name.clone(),
    };
    let keys = egov_ncalayer::provision::keys_dir(&env.w.pki);
    egov_ncalayer::provision::person_keys(&ca, &keys, &person, KEY_PASSWORD, now).unwrap();
    let standin = egov_ncalayer::StandIn::build(egov_ncalayer::Config {
        addr,
        pki_dir: env.w.pki.clone(),
        keys_password: KEY_PASSWORD.into(),
        select: Some(c.iin.as_string()),
        ..Default::default()
    })
    .await
    .unwrap();
    env.w.spawn(standin.run(env.w.cancel.clone()));
    egov_ncalayer::provision::tls_paths(&env.w.pki).0
}

/// A citizen in headless Chromium from the registration to the saved result: the form,
/// the scans, «отправить запрос», the certificate chosen and the request signed in the
/// NCALayer stand-in by the page's script, «поступившие»; after the provider's employees
/// (through ИС МИО's АРМ API), «обновить статус», «просмотр результата», «сохранить».
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_in_chromium_signs_in_ncalayer_and_saves_the_result() {
    // NCALayer's address is the portal's setting: a port of its own, known first
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("wss://{addr}");
    let (env, portal) = world_with(&["mio-almaty"], |c| c.ncalayer_url = url.clone()).await;
    let cert = ncalayer(&env, "family-father", addr).await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts/portal-ui");
    std::fs::create_dir_all(&shots).unwrap();
    let shots = shots.to_str().unwrap();
    let cert = cert.to_str().unwrap();
    let iin = egov_synth::fixtures::iin_of("family-father").as_string();

    let v = crate::common::node(
        "portal-cabinet.mjs",
        &["apply", &portal.http, &iin, PASSWORD, REG, cert, shots],
    )
    .await;
    assert_eq!(v["failure"], serde_json::Value::Null, "{v}");
    assert_eq!(
        v["login_refused"], "неверный ИИН или пароль INVALID_CREDENTIALS",
        "{v}"
    );
    assert!(
        v["missing_field"]
            .as_str()
            .unwrap()
            .contains("не заполнено поле"),
        "{v}"
    );
    assert!(v["who"].as_str().unwrap().contains(&iin), "{v}");
    assert_eq!(v["form_iin"], iin.as_str(), "{v}");
    assert!(!v["form_name"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(v["missing_code"], "INVALID_FORM", "{v}");
    assert_eq!(v["phone_kept"], "+7 701 123 45 67", "{v}");
    assert_eq!(v["sign_iin"], iin.as_str(), "{v}");
    // «выбрать сертификат»: the key NCALayer holds
    assert_eq!(v["ncalayer_error"], serde_json::Value::Null, "{v}");
    assert_eq!(v["cert_iin"], iin.as_str(), "{v}");
    assert!(!v["cert_owner"].as_str().unwrap().is_empty(), "{v}");
    assert!(v["cert_valid"].as_str().unwrap().contains('–'), "{v}");
    // signed: the regulation's screen
    let number = v["number"].as_str().unwrap().to_string();
    assert_eq!(v["screen"]["iin"], iin.as_str(), "{v}");
    assert_eq!(v["screen"]["number"], number.as_str(), "{v}");
    assert!(!v["screen"]["service"].as_str().unwrap().is_empty(), "{v}");
    assert!(!v["screen"]["due"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(v["status"], "поступившие", "{v}");
    assert!(v["errors"].as_array().unwrap().is_empty(), "{v}");
    // the CMS the page's script got from NCALayer is over the exact bytes, by the citizen
    let app = egov_portal::applications::by_number(&portal.core.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.signer.as_ref().unwrap()["iin"], iin.as_str());
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, app.document.as_deref().unwrap());
    assert_eq!(v["sha256"], hex::encode(digest.as_ref()), "{v}");
    assert_eq!(v["mio_number"], app.mio_number.as_deref().unwrap(), "{v}");

    // the provider's employees
    let at_mio = registered(&env, "mio-almaty", app.message_id.as_deref().unwrap()).await;
    drive(&env, "mio-almaty", &at_mio.number, Branch::Success).await;

    let v = crate::common::node(
        "portal-cabinet.mjs",
        &["result", &portal.http, &iin, PASSWORD, &number, cert, shots],
    )
    .await;
    assert_eq!(v["failure"], serde_json::Value::Null, "{v}");
    assert_eq!(v["listed"], true, "{v}");
    let app = egov_portal::applications::by_number(&portal.core.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert!(app.result.is_some());
    assert_eq!(v["status"], app.status_ru.as_deref().unwrap(), "{v}");
    assert_eq!(v["kazakh_status"], app.status_kk.as_deref().unwrap(), "{v}");
    assert_eq!(v["statuses"][0], "поступившие", "{v}");
    assert_eq!(v["view"]["status"], 200, "{v}");
    assert_eq!(v["view"]["type"], "application/pdf", "{v}");
    assert!(
        v["view"]["disposition"]
            .as_str()
            .unwrap()
            .starts_with("inline"),
        "{v}"
    );
    assert_eq!(v["view"]["pdf"], "%PDF-", "{v}");
    assert_eq!(v["saved"]["name"], format!("result-{number}.pdf"), "{v}");
    assert_eq!(v["saved"]["pdf"], "%PDF-", "{v}");
    assert_eq!(v["kazakh_title"], "Қызмет алу тарихы", "{v}");
    assert!(v["errors"].as_array().unwrap().is_empty(), "{v}");
}

/// A browser with no script: keeps the cookies it is given, follows no redirect.
struct Browser {
    http: reqwest::Client,
    base: String,
    /// `name=value` of each cookie set.
    cookies: Vec<String>,
    /// Whether the portal marks its cookies `Secure`.
    secure: bool,
}

/// An answer: status, headers, body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The session's CSRF token in the page's forms.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        self.body[at..at + 64].to_string()
    }

    /// The code the page shows with its error.
    fn code(&self) -> Option<&str> {
        let at = self.body.find("<code id=\"code\">")? + 16;
        let end = self.body[at..].find('<')?;
        Some(&self.body[at..at + end])
    }
}

impl Browser {
    fn new(portal: &Portal) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: portal.http.clone(),
            cookies: Vec::new(),
            secure: portal.core.public_url.is_https(),
        }
    }

    async fn answer(&mut self, r: reqwest::RequestBuilder) -> Answer {
        let mut r = r;
        if !self.cookies.is_empty() {
            r = r.header("cookie", self.cookies.join("; "));
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            if !pair.ends_with('=') {
                self.cookies.push(pair);
            }
        }
        Answer {
            status,
            headers,
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let r = self.http.get(format!("{}{path}", self.base));
        self.answer(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Answer {
        let mut r = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        self.answer(r).await
    }

    async fn post_multipart(&mut self, path: &str, form: Form, origin: Option<&str>) -> Answer {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .multipart(form);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        self.answer(r).await
    }

    /// Registers the fixture citizen `key` through the page: signed in.
    async fn register(portal: &Portal, key: &str) -> Browser {
        let mut b = Browser::new(portal);
        let iin = egov_synth::fixtures::iin_of(key).as_string();
        let a = b
            .post(
                "/ui/register",
                &[
                    ("iin", &iin),
                    ("password", PASSWORD),
                    ("password_again", PASSWORD),
                    ("email", &format!("{key}@example.kz")),
                ],
                None,
            )
            .await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(a.location(), "/ui/services");
        b
    }

    /// The language switch to `lang`.
    async fn speak(&mut self, lang: &str) {
        let a = self.get(&format!("/ui/lang/{lang}?back=/ui/login")).await;
        assert_eq!(a.status, 303);
        let set = a.headers[SET_COOKIE].to_str().unwrap();
        assert_eq!(
            set.ends_with("; Secure"),
            self.secure,
            "the language cookie is Secure as the session's is: {set}"
        );
    }
}

/// The order form of `reg` filled as the API's tests fill it, with `token`, a scan of
/// each required document, and `change` applied to the text fields.
fn order(
    reg: &egov_regulation::Regulation,
    today: time::Date,
    token: &str,
    change: impl FnOnce(&mut Vec<(String, String)>),
    scans: Vec<(String, &'static str, Vec<u8>)>,
) -> Form {
    let doc = crate::common::application(reg, "family-father", "portal", today);
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), token.into()),
        ("category".into(), reg.categories[0].id.clone()),
        ("phone".into(), "+7 701 123 45 67".into()),
    ];
    for (k, v) in &doc.form {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        fields.push((format!("form.{k}"), text));
    }
    change(&mut fields);
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k, v);
    }
    for (input, media_type, bytes) in scans {
        let name = format!("{input}.pdf");
        form = form.part(
            input,
            Part::bytes(bytes)
                .file_name(name)
                .mime_str(media_type)
                .unwrap(),
        );
    }
    form
}

/// A PDF scan of each required document of the first category.
fn good_scans(reg: &egov_regulation::Regulation) -> Vec<(String, &'static str, Vec<u8>)> {
    reg.required_documents(&reg.categories[0].id)
        .into_iter()
        .map(|d| {
            (
                format!("scan.{}", d.id),
                "application/pdf",
                format!("%PDF-1.4 scan of {}", d.id).into_bytes(),
            )
        })
        .collect()
}

async fn count(portal: &Portal, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(&portal.core.pool)
        .await
        .unwrap()
}

/// Where a test's cabinet is reached as if behind a TLS front.
const PUBLIC_URL: &str = "https://cabinet.example.kz";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_in_the_citizens_language() {
    // served as behind a TLS front: every cookie the pages set is `Secure`, and the
    // public URL is the forms' one origin
    let (_env, portal) = world_with(&[], |c| c.public_url = Some(PUBLIC_URL.to_uppercase())).await;
    let mut b = Browser::register(&portal, "family-father").await;
    let cookie = b.cookies.join("; ");
    assert!(cookie.starts_with("portal_session="), "{cookie}");
    // the cabinet's pages, each with the pages' policy
    let a = b.get("/ui/services").await;
    assert_eq!(a.status, 200);
    let csp = a.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self';")
            && csp.contains("style-src 'self';")
            && csp.contains("connect-src wss://127.0.0.1:13579;")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(a.headers["x-frame-options"], "DENY");
    assert!(
        a.body.contains(&format!("id=\"service-{REG}\"")),
        "{}",
        a.body
    );
    // logged out: the cookie cleared, the pages send to the login
    let token = a.csrf();
    let a = b.post("/ui/logout", &[("csrf", &token)], None).await;
    assert_eq!((a.status, a.location()), (303, "/ui/login"));
    assert!(b.cookies.is_empty(), "{:?}", b.cookies);
    let a = b.get("/ui/applications").await;
    assert_eq!((a.status, a.location()), (303, "/ui/login"));

    let iin = egov_synth::fixtures::iin_of("family-father").as_string();
    for (lang, message) in [
        ("ru", "неверный ИИН или пароль"),
        ("kk", "ЖСН немесе құпиясөз қате"),
    ] {
        b.speak(lang).await;
        let a = b
            .post(
                "/ui/login",
                &[("iin", &iin), ("password", "wrong-password")],
                None,
            )
            .await;
        assert_eq!((a.status, a.code()), (401, Some("INVALID_CREDENTIALS")));
        assert!(a.body.contains(message), "{lang}: {}", a.body);
        assert!(a.body.contains(&format!("<html lang=\"{lang}\">")));
        assert!(a.body.contains(&format!("value=\"{iin}\"")), "the IIN kept");
    }
    // not an IIN, in Kazakh
    let a = b
        .post("/ui/login", &[("iin", "123"), ("password", PASSWORD)], None)
        .await;
    assert_eq!((a.status, a.code()), (422, Some("INVALID_IIN")));
    assert!(a.body.contains("жарамсыз"), "{}", a.body);
    // posted from the server's own address rather than the public one: foreign
    let a = b
        .post(
            "/ui/login",
            &[("iin", &iin), ("password", PASSWORD)],
            Some(&portal.http),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, Some("FOREIGN_ORIGIN")));
    // the right password: a session, HttpOnly, SameSite=Strict, Secure, living as the token
    let a = b
        .post(
            "/ui/login",
            &[("iin", &iin), ("password", PASSWORD)],
            Some(PUBLIC_URL),
        )
        .await;
    assert_eq!((a.status, a.location()), (303, "/ui/services"));
    let set = a.headers[SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.ends_with("; Secure")
            && set.contains(&format!(
                "Max-Age={}",
                portal.core.session_lifetime.whole_seconds()
            )),
        "{set}"
    );
    // registration: the passwords differ, the IIN is registered already
    let mut other = Browser::new(&portal);
    let a = other
        .post(
            "/ui/register",
            &[
                ("iin", &iin),
                ("password", PASSWORD),
                ("password_again", "другой-пароль"),
            ],
            None,
        )
        .await;
    assert_eq!((a.status, a.code()), (422, Some("PASSWORDS_DIFFER")));
    let a = other
        .post(
            "/ui/register",
            &[
                ("iin", &iin),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!((a.status, a.code()), (409, Some("ALREADY_REGISTERED")));
    assert!(other.cookies.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_sessions_token_or_from_another_site_write_nothing() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let today = env.clock.today();
    let mut b = Browser::register(&portal, "family-father").await;
    let page = b.get(&format!("/ui/services/{REG}/order")).await;
    assert_eq!(page.status, 200);
    // the IIN and the name come from the account
    let iin = egov_synth::fixtures::iin_of("family-father").as_string();
    assert!(
        page.body
            .contains(&format!("id=\"iin\" value=\"{iin}\" readonly"))
    );
    let token = page.csrf();
    let path = format!("/ui/services/{REG}/order");
    for (what, sent, origin, code) in [
        ("no token", "", None, "CSRF_TOKEN"),
        (
            "a forged token",
            &"0".repeat(64) as &str,
            None,
            "CSRF_TOKEN",
        ),
        (
            "another site",
            token.as_str(),
            Some("http://evil.example"),
            "FOREIGN_ORIGIN",
        ),
    ] {
        let form = order(&reg, today, sent, |_| {}, good_scans(&reg));
        let a = b.post_multipart(&path, form, origin).await;
        assert_eq!(
            (a.status, a.code()),
            (403, Some(code)),
            "{what}: {}",
            a.body
        );
    }
    assert_eq!(count(&portal, "applications").await, 0);
    assert_eq!(count(&portal, "attachments").await, 0);
    // the login and the logout from another site
    let mut stranger = Browser::new(&portal);
    let a = stranger
        .post(
            "/ui/login",
            &[("iin", &iin), ("password", PASSWORD)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, Some("FOREIGN_ORIGIN")));
    assert!(stranger.cookies.is_empty());
    let a = b.post("/ui/logout", &[("csrf", "")], None).await;
    assert_eq!((a.status, a.code()), (403, Some("CSRF_TOKEN")));
    assert_eq!(b.get("/ui/applications").await.status, 200, "still in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_field_and_a_bad_upload_are_shown_and_a_bad_cms_shows_its_code() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let today = env.clock.today();
    let mut b = Browser::register(&portal, "family-father").await;
    let path = format!("/ui/services/{REG}/order");
    let token = b.get(&path).await.csrf();
    let required = reg
        .fields
        .iter()
        .find(|f| f.required && !f.id.contains('.') && f.id != "category")
        .unwrap();
    let key = format!("form.{}", required.id);
    for (lang, named) in [
        ("ru", required.name.ru.as_str()),
        ("kk", required.name.kk.as_str()),
    ] {
        b.speak(lang).await;
        let without = |f: &mut Vec<(String, String)>| f.retain(|(k, _)| *k != key);
        let form = order(&reg, today, &token, without, good_scans(&reg));
        let a = b.post_multipart(&path, form, None).await;
        assert_eq!(
            (a.status, a.code()),
            (422, Some("INVALID_FORM")),
            "{}",
            a.body
        );
        assert!(
            a.body.contains(named),
            "{lang}: the field named: {}",
            a.body
        );
        assert!(
            a.body.contains("value=\"+7 701 123 45 67\""),
            "what was entered kept"
        );
    }
    b.speak("ru").await;
    // a text file, a "PDF" that is not one
    let first = reg.required_documents(&reg.categories[0].id)[0].id.clone();
    for (media_type, bytes, status, code) in [
        (
            "text/plain",
            b"hello".to_vec(),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "application/pdf",
            b"MZ\x90\x00".to_vec(),
            415,
            "MEDIA_TYPE_MISMATCH",
        ),
    ] {
        let mut scans = good_scans(&reg);
        scans[0] = (format!("scan.{first}"), media_type, bytes);
        let a = b
            .post_multipart(&path, order(&reg, today, &token, |_| {}, scans), None)
            .await;
        assert_eq!((a.status, a.code()), (status, Some(code)), "{}", a.body);
    }
    assert_eq!(count(&portal, "applications").await, 0);
    assert_eq!(count(&portal, "attachments").await, 0);

    // the good order: the draft with its scans, the bytes fixed, the signing page
    let a = b
        .post_multipart(
            &path,
            order(&reg, today, &token, |_| {}, good_scans(&reg)),
            None,
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let number = a
        .location()
        .strip_prefix("/ui/applications/")
        .and_then(|p| p.strip_suffix("/sign"))
        .unwrap()
        .to_string();
    let sign = b.get(a.location()).await;
    assert_eq!(sign.status, 200);
    // the page holds exactly the bytes the portal checks the signature over
    let at = sign.body.find("data-document=\"").unwrap() + 15;
    let end = sign.body[at..].find('"').unwrap();
    let held = base64::engine::general_purpose::STANDARD
        .decode(&sign.body[at..at + end])
        .unwrap();
    let app = egov_portal::applications::by_number(&portal.core.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Some(held.clone()), app.document);
    let scans = count(&portal, "attachments").await;
    assert_eq!(scans as usize, good_scans(&reg).len());
    assert!(sign.body.contains("src=\"/ui/static/ncalayer.js\""));
    assert!(
        sign.body
            .contains("data-ncalayer=\"wss://127.0.0.1:13579\"")
    );

    // a CMS that is none, another person's: each its code, in the citizen's language
    let signature = format!("/ui/applications/{number}/signature");
    let a = b
        .post(&signature, &[("csrf", &token), ("signature", "AAAA")], None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (422, Some("SIGNATURE_INVALID")),
        "{}",
        a.body
    );
    assert!(a.body.contains("ЭЦП не подтверждена"), "{}", a.body);
    assert!(
        a.body.contains("id=\"sign-form\""),
        "the signing page again"
    );
    b.speak("kk").await;
    let other = cms(&env.citizen("family-mother"), &held);
    let other = base64::engine::general_purpose::STANDARD.encode(other);
    let a = b
        .post(&signature, &[("csrf", &token), ("signature", &other)], None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (422, Some("IIN_MISMATCH")),
        "{}",
        a.body
    );
    assert!(a.body.contains("ЭЦҚ расталмады"), "{}", a.body);
    // without the token: refused before any check
    let a = b
        .post(&signature, &[("csrf", ""), ("signature", &other)], None)
        .await;
    assert_eq!((a.status, a.code()), (403, Some("CSRF_TOKEN")));
    assert_eq!(count(&portal, "outbox").await, 0);
    let app = egov_portal::applications::by_number(&portal.core.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.state, "draft");

    // the citizen's own: sent, the request's screen
    let own = cms(&env.citizen("family-father"), &held);
    let own = base64::engine::general_purpose::STANDARD.encode(own);
    let a = b
        .post(&signature, &[("csrf", &token), ("signature", &own)], None)
        .await;
    assert_eq!(
        (a.status, a.location()),
        (303, format!("/ui/applications/{number}").as_str()),
        "{}",
        a.body
    );
    b.speak("ru").await;
    let a = b.get(&format!("/ui/applications/{number}")).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains(&format!("id=\"number\">{number}<")));
    assert!(a.body.contains("id=\"refresh\""));
    assert!(!a.body.contains("id=\"view-result\""), "no result yet");
    assert_eq!(count(&portal, "outbox").await, 1);
    // «История получения услуг»
    let a = b.get("/ui/applications").await;
    assert!(a.body.contains(&format!(">{number}</a>")), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_citizens_application_is_not_found_on_every_page() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let owner = citizen(&portal, "family-father").await;
    let number = owner.draft(&reg, env.clock.today()).await;
    owner.attach_all(&reg, &number).await;
    let bytes = owner.sign_request(&number).await;
    let mut b = Browser::register(&portal, "family-mother").await;
    let token = b.get("/ui/applications").await.csrf();
    for path in [
        format!("/ui/applications/{number}"),
        format!("/ui/applications/{number}/sign"),
        format!("/ui/applications/{number}/result.pdf"),
    ] {
        let a = b.get(&path).await;
        assert_eq!((a.status, a.code()), (404, Some("NOT_FOUND")), "{path}");
        assert!(!a.body.contains(&owner.iin), "{path}: never their data");
    }
    let signature = base64::engine::general_purpose::STANDARD
        .encode(cms(&env.citizen("family-mother"), &bytes));
    for (path, form) in [
        (
            format!("/ui/applications/{number}/signature"),
            vec![("csrf", token.as_str()), ("signature", signature.as_str())],
        ),
        (
            format!("/ui/applications/{number}/send"),
            vec![("csrf", token.as_str())],
        ),
    ] {
        let a = b.post(&path, &form, None).await;
        assert_eq!((a.status, a.code()), (404, Some("NOT_FOUND")), "{path}");
    }
    let a = b
        .post_multipart(
            &format!("/ui/applications/{number}/attachments"),
            Form::new().text("csrf", token.clone()).part(
                "scan.x",
                Part::bytes(b"%PDF-1.4".to_vec())
                    .file_name("x.pdf")
                    .mime_str("application/pdf")
                    .unwrap(),
            ),
            None,
        )
        .await;
    assert_eq!((a.status, a.code()), (404, Some("NOT_FOUND")));
    let app = egov_portal::applications::by_number(&portal.core.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((app.state.as_str(), app.document), ("draft", Some(bytes)));
}
