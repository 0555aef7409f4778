//! The web UI's forms over plain HTTP: login by cookie, channel B (look-up, paper
//! documents, a scan upload, registration), a task completed through its form, the
//! commission's pages, the queue, and the error page; the navigation each provider's
//! regulations and each role allow; pages and their errors in Russian and in Kazakh;
//! hostile values shown escaped on every page that shows them.

use crate::common::*;
use egov_synth::fixtures::iin_of;

struct Browser {
    base: String,
    cookie: String,
    /// The session's CSRF token, as the pages' forms carry it.
    csrf: String,
    http: reqwest::Client,
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(page: &str) -> Option<String> {
    let at = page.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    Some(page[at..].split('"').next()?.to_string())
}

impl Browser {
    async fn login(env: &Env, system: &str, iin: &str) -> Browser {
        let base = env.mio(system).http.clone();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .post(format!("{base}/login"))
            .form(&[("iin", iin), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/worklist");
        let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let page = http
            .get(format!("{base}/worklist"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_of(&page).unwrap_or_else(|| panic!("no CSRF field: {page}"));
        Browser {
            base,
            cookie,
            csrf,
            http,
        }
    }

    /// The same session with the language switch set to `lang`.
    fn in_language(&self, lang: &str) -> Browser {
        Browser {
            base: self.base.clone(),
            cookie: format!("{}; arm_lang={lang}", self.cookie),
            csrf: self.csrf.clone(),
            http: self.http.clone(),
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let mut form = form.to_vec();
        form.push(("csrf", &self.csrf));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (r.status().as_u16(), r.text().await.unwrap(), location)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_b_and_a_task_through_the_forms() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let provider = reg.providers[0].id.clone();

    // without a session, every page sends to the login
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon
        .get(format!("{}/worklist", mio.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login");
    let r = anon
        .post(format!("{}/login", mio.http))
        .form(&[("iin", "870312300046"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let office = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    let (s, page) = office.get("/applications/new").await;
    assert_eq!(s, 200);
    assert!(page.contains("almaty-2013-housing-queue"), "{page}");
    // C-person fails: an error page with the code
    let (s, page, _) = office
        .post(
            "/applications/new",
            &[
                ("regulation", "almaty-2013-housing-queue"),
                ("iin", &iin_of("absent").as_string()),
            ],
        )
        .await;
    assert_eq!(s, 404);
    assert!(page.contains("PERSON_NOT_FOUND"), "{page}");
    let (s, page, _) = office
        .post(
            "/applications/new",
            &[
                ("regulation", "almaty-2013-housing-queue"),
                ("iin", &iin_of("family-mother").as_string()),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert!(page.contains("Нурланова Айгуль"), "{page}");
    assert!(page.contains("multipart/form-data"));

    // the form with paper originals and one scan
    let category = "socially-vulnerable";
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", office.csrf.clone())
        .text("regulation", "almaty-2013-housing-queue")
        .text("iin", iin_of("family-mother").as_string())
        .text("category", category)
        .text("phone", "+7 701 555 11 22")
        .text("form.family_size", "4")
        .text("form.current_housing", "аренда");
    for d in reg.required_documents(category) {
        form = form.text(format!("paper.{}", d.id), "on");
    }
    form = form.part(
        "scan.identity",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 identity scan".to_vec())
            .file_name("udl.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let r = office
        .http
        .post(format!("{}/applications", office.base))
        .header("cookie", &office.cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (s, page) = office.get(&location).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("поступившие") && page.contains("provider"),
        "{page}"
    );
    assert!(page.contains("udl.pdf"), "the scan is attached: {page}");

    // the office accepts it through the task's form
    let (_, list) = office.get("/worklist").await;
    let id: i64 = list
        .split("id=\"task-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no task on {list}"));
    let (s, page) = office.get(&format!("/tasks/{id}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("complete-form"), "{page}");
    let (s, _, location) = office
        .post(&format!("/tasks/{id}"), &[("note", "принято")])
        .await;
    assert_eq!(s, 303);
    let (_, page) = office.get(&location.unwrap()).await;
    assert!(page.contains("Исполнено"), "{page}");
    // the status the file sets on acceptance along channel B, if any
    if let (Some(s), stage) = reg.step("accept").unwrap().status_along("provider") {
        let label = reg.status_label(s, stage.as_deref()).ru;
        assert!(page.contains(&label), "{label}: {page}");
    }
    // twice: the error page
    let (s, page, _) = office.post(&format!("/tasks/{id}"), &[]).await;
    assert_eq!(s, 409);
    assert!(page.contains("CONFLICT"), "{page}");

    // the head assigns through the form's select
    let head = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "head").await[0],
    )
    .await;
    let (_, list) = head.get("/worklist").await;
    let id: i64 = list
        .split("id=\"task-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let (_, page) = head.get(&format!("/tasks/{id}")).await;
    let executor = page
        .split("<option value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (s, _, _) = head
        .post(&format!("/tasks/{id}"), &[("assignee", &executor)])
        .await;
    assert_eq!(s, 303);

    // the commission's pages and the queue
    let secretary = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "commission").await[0],
    )
    .await;
    let today = egov_contracts::date::format(env.clock.today());
    let (s, _, location) = secretary.post("/commission", &[("date", &today)]).await;
    assert_eq!(s, 303);
    let (s, page) = secretary.get(&location.unwrap()).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("Повестка") && page.contains("Закрыть протокол"),
        "{page}"
    );
    let (s, page, _) = secretary
        .post("/commission", &[("date", "31.12.2026")])
        .await;
    assert_eq!(s, 422, "{page}");
    let (s, page) = secretary.get("/queue").await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"queue\""), "{page}");
    let (s, _) = secretary.get("/commission").await;
    assert_eq!(s, 200);
    let (s, page) = secretary.get("/applications/ALM-1900-000001").await;
    assert_eq!(s, 404, "{page}");
    let (s, _, location) = secretary.post("/logout", &[]).await;
    assert_eq!((s, location.as_deref()), (303, Some("/login")));
    let (s, _) = secretary.get("/worklist").await;
    assert_eq!(s, 303, "the session ended");
}

/// The navigation's entries on a page (their ids).
fn nav(page: &str) -> Vec<&'static str> {
    ["nav-worklist", "nav-new", "nav-commission", "nav-queue"]
        .into_iter()
        .filter(|id| page.contains(&format!("id=\"{id}\"")))
        .collect()
}

/// The services the new-application form offers (its options' values).
fn offered(page: &str) -> Vec<String> {
    page.split("<option value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_navigation_offers_what_the_regulations_and_the_role_allow() {
    let env = env(&["mio-almaty", "mio-atyrau"]).await;
    let almaty = env.mio("mio-almaty");

    // the first account `egov up` prints: the first provider's first role, of a
    // housing-assistance provider, whose regulation has no channel through the provider
    let first = egov_mio_is::employees::all(&almaty.engine.pool)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let assistance = almaty
        .engine
        .catalog
        .get("almaty-2016-housing-assistance")
        .unwrap()
        .clone();
    assert!(
        assistance.provider(&first.provider_id).is_some(),
        "{first:?}"
    );
    assert!(assistance.channel("provider").is_none());
    assert_eq!(first.role, "commission");
    let secretary = Browser::login(&env, "mio-almaty", &first.iin).await;
    let (s, page) = secretary.get("/worklist").await;
    assert_eq!(s, 200);
    assert_eq!(nav(&page), ["nav-worklist", "nav-commission"], "{page}");
    let (s, _) = secretary.get("/commission").await;
    assert_eq!(s, 200);
    // what the navigation does not offer is refused, in words of the page
    let (s, page) = secretary.get("/applications/new").await;
    assert_eq!(s, 422, "{page}");
    assert!(
        page.contains("WRONG_CHANNEL") && page.contains("не предусматривает подачу"),
        "{page}"
    );
    let (s, page) = secretary.get("/queue").await;
    assert_eq!(s, 403, "{page}");
    for role in ["executor", "head", "signer"] {
        let who = employees_of(&env, "mio-almaty", &first.provider_id, role).await[0].clone();
        let b = Browser::login(&env, "mio-almaty", &who).await;
        let (_, page) = b.get("/worklist").await;
        assert_eq!(nav(&page), ["nav-worklist"], "{role}: {page}");
        let (s, _) = b.get("/commission").await;
        assert_eq!(s, 403, "{role}");
    }

    // a housing-queue provider: the office takes applications at the desk (the lane of
    // channel B's steps), the secretary keeps the commission, both see the queue
    let queue_reg = almaty
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let provider = queue_reg.providers[0].id.clone();
    let office = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    let (_, page) = office.get("/worklist").await;
    assert_eq!(
        nav(&page),
        ["nav-worklist", "nav-new", "nav-queue"],
        "{page}"
    );
    let (s, page) = office.get("/applications/new").await;
    assert_eq!(s, 200);
    assert_eq!(offered(&page), ["almaty-2013-housing-queue"], "{page}");
    let secretary = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "commission").await[0],
    )
    .await;
    let (_, page) = secretary.get("/worklist").await;
    assert_eq!(
        nav(&page),
        ["nav-worklist", "nav-commission", "nav-queue"],
        "{page}"
    );
    let (s, page) = secretary.get("/applications/new").await;
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("FORBIDDEN"), "{page}");
    let (s, page, _) = secretary
        .post(
            "/applications/new",
            &[
                ("regulation", "almaty-2013-housing-queue"),
                ("iin", &iin_of("family-mother").as_string()),
            ],
        )
        .await;
    assert_eq!(s, 403, "{page}");

    // Atyrau's providers run two regulations: the form offers the one with channel B
    let atyrau = env.mio("mio-atyrau");
    let provider = atyrau
        .engine
        .catalog
        .get("atyrau-2014-housing-queue")
        .unwrap()
        .providers[0]
        .id
        .clone();
    let office = Browser::login(
        &env,
        "mio-atyrau",
        &employees_of(&env, "mio-atyrau", &provider, "office").await[0],
    )
    .await;
    let (_, page) = office.get("/worklist").await;
    assert_eq!(
        nav(&page),
        ["nav-worklist", "nav-new", "nav-queue"],
        "{page}"
    );
    let (s, page) = office.get("/applications/new").await;
    assert_eq!(s, 200);
    assert_eq!(offered(&page), ["atyrau-2012-housing-queue"], "{page}");
    let (s, page, _) = office
        .post(
            "/applications/new",
            &[
                ("regulation", "atyrau-2014-housing-queue"),
                ("iin", &iin_of("atyrau").as_string()),
            ],
        )
        .await;
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("WRONG_CHANNEL"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_their_errors_speak_the_pages_language() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let provider = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .providers[0]
        .id
        .clone();
    let ru = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "commission").await[0],
    )
    .await;
    let kk = ru.in_language("kk");

    // the language switch keeps the language in a cookie and goes back, on this site only
    for (back, to) in [
        ("/queue", "/queue"),
        ("//example.com/x", "/worklist"),
        ("https://example.com/", "/worklist"),
    ] {
        let r = ru
            .http
            .get(format!("{}/lang/kk", ru.base))
            .query(&[("back", back)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], to, "{back}");
        let set = r.headers()["set-cookie"].to_str().unwrap();
        assert!(set.starts_with("arm_lang=kk;"), "{set}");
    }

    let (_, page) = ru.get("/worklist").await;
    assert!(page.contains("<html lang=\"ru\">") && page.contains("Рабочий список"));
    let (_, page) = kk.get("/worklist").await;
    assert!(page.contains("<html lang=\"kk\">") && page.contains("Жұмыс тізімі"));
    assert!(!page.contains("Рабочий список"), "{page}");

    // errors: the code and the UI's text for it, never the API's English message
    struct Case {
        path: &'static str,
        form: &'static [(&'static str, &'static str)],
        status: u16,
        english: &'static str,
        ru: &'static str,
        kk: &'static str,
    }
    let cases = [
        Case {
            path: "/tasks/999999",
            form: &[],
            status: 404,
            english: "no task 999999",
            ru: "Не найдено",
            kk: "Табылмады",
        },
        Case {
            path: "/commission",
            form: &[("date", "31.12.2026")],
            status: 422,
            english: "the date is YYYY-MM-DD",
            ru: "Введённые данные недопустимы",
            kk: "Енгізілген деректер жарамсыз",
        },
        Case {
            path: "/applications/new",
            form: &[
                ("regulation", "almaty-2013-housing-queue"),
                ("iin", "870312300046"),
            ],
            status: 403,
            english: "not offered",
            ru: "Действие недоступно",
            kk: "Әрекет қолжетімсіз",
        },
    ];
    for Case {
        path,
        form,
        status,
        english,
        ru: text_ru,
        kk: text_kk,
    } in cases
    {
        let (s, page, _) = ru.post(path, form).await;
        assert_eq!(s, status, "{path}: {page}");
        assert!(page.contains(text_ru), "{path}: {page}");
        assert!(!page.contains(english), "{path}: {page}");
        let (s, page, _) = kk.post(path, form).await;
        assert_eq!(s, status, "{path}: {page}");
        assert!(page.contains(text_kk), "{path}: {page}");
        assert!(
            !page.contains(text_ru) && !page.contains(english),
            "{path}: {page}"
        );
        assert!(page.contains("<html lang=\"kk\">") && page.contains("Қате"));
    }
    // a refusal of ГБД ФЛ on channel B, in the office's language
    let office = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    let absent = iin_of("absent").as_string();
    let form = [
        ("regulation", "almaty-2013-housing-queue"),
        ("iin", absent.as_str()),
    ];
    let (s, page, _) = office.post("/applications/new", &form).await;
    assert_eq!(s, 404);
    assert!(
        page.contains("PERSON_NOT_FOUND") && page.contains("Лицо с таким ИИН не найдено"),
        "{page}"
    );
    let (s, page, _) = office
        .in_language("kk")
        .post("/applications/new", &form)
        .await;
    assert_eq!(s, 404);
    assert!(
        page.contains("PERSON_NOT_FOUND") && page.contains("Мұндай ЖСН бар тұлға"),
        "{page}"
    );
    // the login page too
    let r = ru
        .http
        .post(format!("{}/login", ru.base))
        .header("cookie", "arm_lang=kk")
        .form(&[("iin", "870312300046"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(page.contains("ЖСН немесе құпиясөз қате"), "{page}");
}

const SCRIPT: &str = "<script>alert(1)</script>";
const BREAKOUT: &str = "\"'><img src=x>";

/// A page's text with HTML's character references read back.
fn unescape(page: &str) -> String {
    [
        ("&lt;", "<"),
        ("&#60;", "<"),
        ("&gt;", ">"),
        ("&#62;", ">"),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&amp;", "&"),
        ("&#38;", "&"),
    ]
    .iter()
    .fold(page.to_string(), |p, (entity, c)| p.replace(entity, c))
}

/// The hostile values are on the page as text, never as markup.
fn escaped(page: &str, what: &str) {
    assert!(!page.contains("<script>alert"), "{what}: {page}");
    assert!(!page.contains("<img src=x>"), "{what}: {page}");
    assert!(!page.contains("\"'>"), "{what}: {page}");
    let text = unescape(page);
    assert!(
        text.contains(SCRIPT) && text.contains(BREAKOUT),
        "{what}: the value is not shown: {page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_show_escaped_on_every_page() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let provider = reg.providers[0].id.clone();
    // the applicant's name and an attachment's file name as the portal sends them
    let mut doc = application(&reg, "family-father", "portal", env.clock.today());
    doc.applicant.surname = Some(SCRIPT.into());
    doc.applicant.name = Some(BREAKOUT.into());
    doc.documents[0].name = format!("{BREAKOUT}{SCRIPT}.pdf");
    let reply = send(
        &env,
        "portal",
        &mio.region,
        &doc,
        &env.citizen("family-father"),
    )
    .await;
    let app = registered(&env, "mio-almaty", &reply.message_id).await;
    assert!(
        app.applicant_name.contains(SCRIPT),
        "{}",
        app.applicant_name
    );

    let office = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    for lang in ["ru", "kk"] {
        let (_, page) = office.in_language(lang).get("/worklist").await;
        escaped(&page, &format!("worklist ({lang})"));
    }
    let (_, list) = office.get("/worklist").await;
    let task: i64 = list
        .split("id=\"task-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let (_, page) = office.get(&format!("/tasks/{task}")).await;
    escaped(&page, "task");
    // a comment: the note of the completion
    let note = format!("{SCRIPT} {BREAKOUT}");
    let (s, _, _) = office
        .post(&format!("/tasks/{task}"), &[("note", &note)])
        .await;
    assert_eq!(s, 303);
    for path in [
        format!("/tasks/{task}"),
        format!("/applications/{}", app.number),
    ] {
        let (s, page) = office.get(&path).await;
        assert_eq!(s, 200, "{path}");
        escaped(&page, &path);
        // the note and the file name, each in its cell
        assert_eq!(
            unescape(&page).matches(SCRIPT).count(),
            3,
            "{path}: the name, the note, the file name: {page}"
        );
    }

    // the commission: waiting, on the agenda, decided; then the waiting list
    drive_until(
        &env,
        "mio-almaty",
        &app.number,
        Branch::Success,
        Some("commission"),
    )
    .await;
    let secretary = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "commission").await[0],
    )
    .await;
    let (_, page) = secretary.get("/commission").await;
    escaped(&page, "commission");
    let today = egov_contracts::date::format(env.clock.today());
    let (s, _, location) = secretary.post("/commission", &[("date", &today)]).await;
    assert_eq!(s, 303);
    let meeting = location.unwrap();
    let (_, page) = secretary.get(&meeting).await;
    escaped(&page, "meeting, waiting");
    let (s, _, _) = secretary
        .post(
            &format!("{meeting}/agenda"),
            &[("application", &app.number)],
        )
        .await;
    assert_eq!(s, 303);
    let (_, page) = secretary.get(&meeting).await;
    escaped(&page, "meeting, agenda");
    let (s, page, _) = secretary
        .post(
            &format!("{meeting}/decisions"),
            &[("application", &app.number), ("decision", "register")],
        )
        .await;
    assert_eq!(s, 303, "{page}");
    let (s, page, _) = secretary.post(&format!("{meeting}/close"), &[]).await;
    assert_eq!(s, 303, "{page}");
    let (_, page) = secretary.get(&meeting).await;
    escaped(&page, "meeting, protocol");
    let (_, page) = secretary.get("/queue").await;
    escaped(&page, "queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journey_page_shows_each_hop_beside_the_regulations_diagram() {
    let env = env(&["mio-almaty"]).await;
    let app = portal_application(
        &env,
        "mio-almaty",
        "almaty-2013-housing-queue",
        "family-father",
    )
    .await;
    let provider = app.provider_id.clone();
    let b = Browser::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    // the application's page links its journey
    let (s, page) = b.get(&format!("/applications/{}", app.number)).await;
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!("/applications/{}/journey", app.id)),
        "{page}"
    );
    // the «received» status to the portal crosses the gateways after the registration
    let mut journey = String::new();
    for _ in 0..100 {
        let (s, p) = b.get(&format!("/applications/{}/journey", app.id)).await;
        assert_eq!(s, 200, "{p}");
        journey = p;
        if journey.contains("portal.status.update") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // both diagrams, the steps, and every hop of the application's messages from the log
    assert!(journey.contains(r#"<section id="expected">"#), "{journey}");
    assert!(journey.contains(r#"<section id="actual">"#));
    assert!(journey.contains(r#"data-step="register""#));
    for (gateway, service) in [
        ("shep", "mio.application.submit"),
        ("rshep-almaty", "mio.application.submit"),
        ("rshep-almaty", "portal.status.update"),
    ] {
        let row = format!(r#"data-gateway="{gateway}" data-service="{service}""#);
        assert!(journey.contains(&row), "{row}: {journey}");
    }
    for (which, has) in [
        ("expected", r#"data-lane="#),
        ("actual", r#"data-step="register""#),
    ] {
        let (s, svg) = b
            .get(&format!("/applications/{}/journey/{which}.svg", app.id))
            .await;
        assert_eq!(s, 200, "{which}");
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{which}: {svg}"
        );
        assert!(svg.contains(has), "{which}: {has}");
        assert!(svg.contains(&app.number) || which == "expected", "{which}");
    }
    let (s, _) = b
        .get(&format!("/applications/{}/journey/other.svg", app.id))
        .await;
    assert_eq!(s, 404);
    assert!(!journey.contains(r#"id="no-journal""#));
    // in Kazakh
    let (_, kk) = b
        .in_language("kk")
        .get(&format!("/applications/{}/journey", app.number))
        .await;
    assert!(
        kk.contains("Регламент бойынша") && kk.contains("Өтініштің жолы"),
        "{kk}"
    );
    // an application nobody has is not found, and another provider's is not shown
    let (s, _) = b.get("/applications/ALM-2026-999999/journey").await;
    assert_eq!(s, 404);
    let other = portal_application(
        &env,
        "mio-almaty",
        "almaty-2016-housing-assistance",
        "family-father",
    )
    .await;
    if other.provider_id != provider {
        let (s, _) = b
            .get(&format!("/applications/{}/journey", other.number))
            .await;
        assert_eq!(s, 404);
    }
}
