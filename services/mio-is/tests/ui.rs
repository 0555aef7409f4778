//! The web UI's forms over plain HTTP: login by cookie, channel B (look-up, paper
//! documents, a scan upload, registration), a task completed through its form, the
//! commission's pages, the queue, and the error page.

mod common;

use common::*;
use egov_synth::fixtures::iin_of;

struct Browser {
    base: String,
    cookie: String,
    http: reqwest::Client,
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
        Browser { base, cookie, http }
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
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
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
