//! АРМ ИС ЦОН's pages: an operator in headless Chromium (no script) from the login to the
//! result back from ИС МИО; forms refused without the session's CSRF token or from
//! another site; errors in the page in the operator's language, every value escaped.

use std::path::Path;

use serde_json::Value;

use crate::common::{Branch, drive, registered};
use crate::world::*;

const REGULATION: &str = "akzhar-2012-housing-queue";
/// A regulation whose paper goes by courier, with the survey.
const REGULATION_PAPER: &str = "almaty-2013-housing-queue";

/// Runs `tests/js/con-desk.mjs` with `args`; its JSON line.
async fn chromium(args: &[&str]) -> Value {
    crate::common::node("con-desk.mjs", args).await
}

/// The centre's operators in headless Chromium, from the inspector's login to the
/// result issued to the citizen: the inspector takes the application (Almaty 2013, its
/// paper by courier), the accumulation sector forms the register, the courier hands it
/// over; after the provider's procedure the courier brings the result back, the issuing
/// inspector scans the cover's barcode and issues the result with the survey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centres_operators_in_chromium_from_the_login_to_the_issued_result() {
    let (env, con) = world(&["mio-almaty"]).await;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts/con-ui");
    std::fs::create_dir_all(&shots).unwrap();
    let shots = shots.to_str().unwrap();
    let pw = egov_con_is::DEV_OPERATOR_PASSWORD;
    let centre = "almaty-almaly";
    let of = |role| operator(centre, role, 0);
    use egov_con_is::operators::Role;
    let inspector = of(Role::Inspector);
    let citizen = egov_synth::fixtures::iin_of("family-father").as_string();
    let v = chromium(&[
        "take",
        &con.http,
        &inspector,
        pw,
        REGULATION_PAPER,
        &citizen,
        shots,
    ])
    .await;
    assert_eq!(v["login_refused"], "Неверный ИИН или пароль", "{v}");
    assert!(v["who"].as_str().unwrap().contains("Инспектор ЦОН"), "{v}");
    assert_eq!(v["kazakh_title"], "ХҚО өтініштері", "{v}");
    assert_eq!(v["russian_title"], "Заявления ЦОН", "{v}");
    assert!(
        v["bad_iin"]
            .as_str()
            .unwrap()
            .contains("«123456789012» недействителен"),
        "{v}"
    );
    assert_eq!(v["draft_state"], "оформляется", "{v}");
    assert_eq!(v["sent_error"], Value::Null, "{v}");
    assert_eq!(v["sent_state"], "отправлено услугодателю", "{v}");
    assert_eq!(v["delivery"], "принято ШЭП", "{v}");
    assert_eq!(v["receipt"]["status"], 200, "{v}");
    assert_eq!(v["receipt"]["pdf"], "%PDF-", "{v}");
    assert_eq!(v["logged_out"], true);
    assert!(v["errors"].as_array().unwrap().is_empty(), "{v}");
    let number = v["number"].as_str().unwrap().to_string();
    // the application as the API has it: the scan and the paper marks went with it
    let desk = Desk::login(&con, &inspector).await;
    let (_, app) = desk.get(&format!("/api/v1/applications/{number}")).await;
    let docs = app["documents"].as_array().unwrap();
    assert!(docs.iter().all(|d| d["paper"] == true), "{app}");
    assert!(
        docs.iter().any(|d| d["scan_bytes"].as_u64().unwrap() > 0),
        "{app}"
    );
    let at_mio = registered(&env, "mio-almaty", app["message_id"].as_str().unwrap()).await;

    // the accumulation sector's register, the courier's hand-over
    let v = chromium(&["register", &con.http, &of(Role::Accumulation), pw, shots]).await;
    assert!(v["awaiting"].as_str().unwrap().contains(&number), "{v}");
    assert_eq!(v["error"], Value::Null, "{v}");
    let register = v["register"].as_str().unwrap().to_string();
    assert_eq!(v["register_pdf"]["status"], 200, "{v}");
    assert_eq!(v["register_pdf"]["pdf"], "%PDF-", "{v}");
    let v = chromium(&[
        "handover",
        &con.http,
        &of(Role::Courier),
        pw,
        &register,
        shots,
    ])
    .await;
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["hand_over_left"], 0, "{v}");

    // the provider's procedure; the result comes back
    drive(&env, "mio-almaty", &at_mio.number, Branch::Success).await;
    desk.until(&number, "the result", |v| v["result"].is_object())
        .await;

    // the courier brings the paper back; the issuing inspector scans and issues
    let v = chromium(&["return", &con.http, &of(Role::Courier), pw, &number, shots]).await;
    assert_eq!(v["before"], "у курьера", "{v}");
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["after"], "готов к выдаче", "{v}");
    let other = egov_synth::fixtures::iin_of("family-mother").as_string();
    let v = chromium(&[
        "issue",
        &con.http,
        &of(Role::Issuer),
        pw,
        &number,
        &citizen,
        &other,
        shots,
    ])
    .await;
    assert!(
        v["unknown_barcode"]
            .as_str()
            .unwrap()
            .contains("не соответствует ни одному заявлению"),
        "{v}"
    );
    assert_eq!(v["scanned_page"], true, "{v}");
    assert_ne!(v["scanned"], "—", "{v}");
    assert_eq!(v["cover"]["status"], 200, "{v}");
    assert_eq!(v["cover"]["pdf"], "%PDF-", "{v}");
    assert!(
        v["wrong_recipient"].as_str().unwrap().contains(&other),
        "{v}"
    );
    assert_eq!(v["survey_questions"], 2, "{v}");
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["state"], "выдан", "{v}");
    assert!(v["issued"].as_str().unwrap().contains(&citizen), "{v}");
    assert_eq!(v["issue_form_left"], 0, "{v}");
    assert!(v["errors"].as_array().unwrap().is_empty(), "{v}");
    // the survey was recorded with the issue
    let (_, app) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(app["paper"]["state"], "issued", "{app}");
    assert_eq!(app["paper"]["survey"]["quality"], "satisfied", "{app}");

    // the result's page: the statuses, the result document, in both languages
    let v = chromium(&["result", &con.http, &inspector, pw, &number, shots]).await;
    assert_eq!(v["listed"], true, "{v}");
    assert_eq!(v["listed_result"], "выдан", "{v}");
    assert!(!v["statuses"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["result_link"], true, "{v}");
    assert_eq!(v["result"]["status"], 200, "{v}");
    assert_eq!(v["result"]["pdf"], "%PDF-", "{v}");
    assert!(v["errors"].as_array().unwrap().is_empty(), "{v}");
}

/// A client that keeps no cookies and follows no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in through the form; the session cookie.
async fn login(con: &Con, iin: &str) -> String {
    let r = browser()
        .post(format!("{}/ui/login", con.http))
        .form(&[
            ("iin", iin),
            ("password", egov_con_is::DEV_OPERATOR_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_string()
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[at..at + 64].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_sessions_token_and_errors_speak_the_operators_language() {
    let (_env, con) = world(&[]).await;
    let http = browser();
    let base = &con.http;
    // without a session the pages send to the login
    let r = http
        .get(format!("{base}/ui/applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login");
    // a wrong password, in the page
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[
            (
                "iin",
                egov_synth::fixtures::iin_of("akzhar").as_string().as_str(),
            ),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Неверный ИИН или пароль"));
    let cookie = login(
        &con,
        &operator("akzhar", egov_con_is::operators::Role::Inspector, 0),
    )
    .await;
    let page = http
        .get(format!("{base}/ui/applications/new"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf(&page);
    let post = |form: Vec<(&'static str, String)>, extra: Option<(&'static str, &'static str)>| {
        let mut r = http
            .post(format!("{base}/ui/applications"))
            .header("cookie", &cookie)
            .form(&form);
        if let Some((k, v)) = extra {
            r = r.header(k, v);
        }
        r.send()
    };
    let hostile = "<script>alert(1)</script>";
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("regulation", REGULATION.to_string()),
            ("iin", hostile.to_string()),
        ]
    };
    // no token, another session's token, another site: refused, nothing done
    for (what, form, extra, code) in [
        ("no token", form(""), None, "CSRF_TOKEN"),
        ("a forged token", form(&"0".repeat(64)), None, "CSRF_TOKEN"),
        (
            "another site",
            form(&token),
            Some(("origin", "http://evil.example")),
            "FOREIGN_ORIGIN",
        ),
    ] {
        let r = post(form, extra).await.unwrap();
        assert_eq!(r.status(), 403, "{what}");
        let body = r.text().await.unwrap();
        assert!(body.contains(code), "{what}: {body}");
    }
    assert_eq!(rows(&con, "applications").await, 0);
    // another role's action: refused in the page, nothing formed
    let r = http
        .post(format!("{base}/ui/registers"))
        .header("cookie", &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("реестр формирует накопительный сектор"),
        "{body}"
    );
    assert_eq!(rows(&con, "registers").await, 0);
    // the token: the IIN is checked, the error in the page, the value escaped
    let r = post(form(&token), None).await.unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("недействителен"), "{body}");
    assert!(!body.contains(hostile), "escaped");
    assert!(body.contains("&#60;script&#62;"), "{body}");
    // in Kazakh once the switch says so
    let r = http
        .get(format!("{base}/ui/lang/kk?back=/ui/applications/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/applications/new");
    let lang = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{base}/ui/applications"))
        .header("cookie", format!("{cookie}; {lang}"))
        .form(&form(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("жарамсыз"), "{body}");
    assert!(body.contains("lang=\"kk\""), "{body}");
    // the switch goes back only to this site
    let r = http
        .get(format!("{base}/ui/lang/kk?back=//evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/ui/applications");
    // another centre's application is not shown
    let other = Desk::inspector(&con, "akzhar").await;
    let (s, draft) = other
        .post(
            "/api/v1/applications",
            serde_json::json!({"regulation": REGULATION, "iin": egov_synth::fixtures::iin_of("akzhar").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{draft}");
    let stranger = login(
        &con,
        &operator("akzhar-mobile", egov_con_is::operators::Role::Inspector, 0),
    )
    .await;
    let r = http
        .get(format!(
            "{base}/ui/applications/{}",
            draft["number"].as_str().unwrap()
        ))
        .header("cookie", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
