//! АРМ РШЭП: logins, the worklist, tasks refused to the wrong role or a second time,
//! C-docs, the commission's rules, channel B end to end (ГБД ФЛ through the gateway,
//! the employee's signature, registration from the inbox), and the queue position
//! through the sync channel.

use crate::common::*;
use base64::Engine as _;
use egov_mio_is::store::BaseStatus;
use egov_synth::fixtures::iin_of;
use serde_json::{Value, json};

fn provider_of(env: &Env, system: &str, regulation: &str) -> String {
    env.mio(system)
        .engine
        .catalog
        .get(regulation)
        .unwrap()
        .providers[0]
        .id
        .clone()
}

async fn first_of(env: &Env, system: &str, regulation: &str, role: &str) -> String {
    employees_of(env, system, &provider_of(env, system, regulation), role).await[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_and_unauthenticated_requests() {
    let env = env(&["mio-almaty"]).await;
    let base = env.mio("mio-almaty").http.clone();
    let office = first_of(&env, "mio-almaty", "almaty-2013-housing-queue", "office").await;
    let post = |body: Value| {
        let (http, base) = (env.http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/login"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, v) = post(json!({"iin": office, "password": "wrong"})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("INVALID_CREDENTIALS"))
    );
    let (s, v) = post(json!({"iin": "123", "password": "x"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("INVALID_IIN")));
    let (s, v) = post(json!({"iin": office})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{v}"
    );
    let r = env
        .http
        .get(format!("{base}/api/v1/worklist"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = env
        .http
        .get(format!("{base}/api/v1/worklist"))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let arm = Arm::login(&env, "mio-almaty", &office).await;
    let (s, me) = arm.get("/api/v1/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["employee"]["role"], "office");
    assert!(
        me["regulations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "almaty-2013-housing-queue")
    );
    let (s, _) = arm.post("/api/v1/logout", json!({})).await;
    assert_eq!(s, 204);
    let (s, _) = arm.get("/api/v1/worklist").await;
    assert_eq!(s, 401, "the session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_go_to_their_role_and_are_done_once() {
    let env = env(&["mio-almaty"]).await;
    let app = portal_application(
        &env,
        "mio-almaty",
        "almaty-2013-housing-queue",
        "family-father",
    )
    .await;

    let office = Arm::login(
        &env,
        "mio-almaty",
        &first_of(&env, "mio-almaty", "almaty-2013-housing-queue", "office").await,
    )
    .await;
    let head = Arm::login(
        &env,
        "mio-almaty",
        &first_of(&env, "mio-almaty", "almaty-2013-housing-queue", "head").await,
    )
    .await;
    let (_, list) = office.get("/api/v1/worklist").await;
    let tasks = list["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t["number"], app.number.as_str());
    assert_eq!(t["step_id"], "accept");
    assert!(t["due_at"].is_string() && t["overdue"] == false);
    let id = t["id"].as_i64().unwrap();
    let (_, hl) = head.get("/api/v1/worklist").await;
    assert!(
        hl["tasks"].as_array().unwrap().is_empty(),
        "not the head's task"
    );

    // the wrong role is refused
    let (s, v) = head
        .post(&format!("/api/v1/tasks/{id}/complete"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{v}"
    );
    // an outcome where the step has none, an unknown field
    let (s, v) = office
        .post(
            &format!("/api/v1/tasks/{id}/complete"),
            json!({"outcome": "maybe"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = office
        .post(
            &format!("/api/v1/tasks/{id}/complete"),
            json!({"verdict": "yes"}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    // done once
    let (s, v) = office
        .post(
            &format!("/api/v1/tasks/{id}/complete"),
            json!({"note": "принято"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // the status the file sets on acceptance along the portal (seed 000 names none there)
    let reg = env
        .mio("mio-almaty")
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let want = reg
        .step("accept")
        .unwrap()
        .status_along("portal")
        .0
        .map_or("received", |s| s.as_str());
    assert_eq!(v["status"], want);
    let (s, v) = office
        .post(&format!("/api/v1/tasks/{id}/complete"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{v}"
    );
    let (s, v) = office
        .post("/api/v1/tasks/999999/complete", json!({}))
        .await;
    assert_eq!(s, 404, "{v}");

    // the head assigns: only an executor of this provider
    let (_, hl) = head.get("/api/v1/worklist").await;
    let assign = hl["tasks"][0]["id"].as_i64().unwrap();
    let (_, detail) = head.get(&format!("/api/v1/tasks/{assign}")).await;
    assert_eq!(detail["kind"], "assign");
    assert_eq!(detail["candidates"].as_array().unwrap().len(), 2);
    let (s, v) = head
        .post(
            &format!("/api/v1/tasks/{assign}/complete"),
            json!({"assignee": iin_of("family-mother").as_string()}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, _) = head
        .post(&format!("/api/v1/tasks/{assign}/complete"), json!({}))
        .await;
    assert_eq!(s, 422);
    let executor = detail["candidates"][1]["iin"].as_str().unwrap().to_string();
    let (s, v) = head
        .post(
            &format!("/api/v1/tasks/{assign}/complete"),
            json!({"assignee": executor}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["assignee_iin"], executor.as_str());

    // office hands over; the check is the assigned executor's alone
    let (_, ol) = office.get("/api/v1/worklist").await;
    let hand = ol["tasks"][0]["id"].as_i64().unwrap();
    office
        .post(&format!("/api/v1/tasks/{hand}/complete"), json!({}))
        .await;
    let other = Arm::login(
        &env,
        "mio-almaty",
        detail["candidates"][0]["iin"].as_str().unwrap(),
    )
    .await;
    let (_, l) = other.get("/api/v1/worklist").await;
    assert!(
        l["tasks"].as_array().unwrap().is_empty(),
        "assigned to the other executor"
    );
    let me = Arm::login(&env, "mio-almaty", &executor).await;
    let (_, l) = me.get("/api/v1/worklist").await;
    let check = l["tasks"][0]["id"].as_i64().unwrap();
    let (s, v) = other
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "complete"}),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    let (_, d) = me.get(&format!("/api/v1/tasks/{check}")).await;
    assert_eq!(d["kind"], "check");
    assert!(
        d["documents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["required"] == true)
            .all(|d| d["present"] == true)
    );
    // incomplete names at least one missing document; unknown documents are refused
    let (s, v) = me
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "incomplete", "missing_documents": ["passport-of-a-cat"]}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = me
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "incomplete"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = me
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "complete"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["current_step"], "prepare-certificate");
    // the application's view for the АРМ: history, steps, document
    let (_, a) = me
        .get(&format!("/api/v1/applications/{}", app.number))
        .await;
    // one entry per status the file sets on the way here along the portal
    let statuses = 1 + usize::from(want != "received");
    assert_eq!(a["history"].as_array().unwrap().len(), statuses, "{a}");
    assert!(a["steps"].as_array().unwrap().len() >= 5);
    assert_eq!(
        a["document"]["applicant"]["iin"],
        iin_of("family-father").as_string()
    );
    let att = a["attachments"][0]["id"].as_str().unwrap();
    let r = env
        .http
        .get(format!(
            "{}/api/v1/applications/{}/attachments/{att}",
            me.base, app.number
        ))
        .bearer_auth(&me.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-1.4 scan"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_docs_refuses_complete_when_a_required_document_is_missing() {
    let env = env(&["mio-nko"]).await;
    let reg = env
        .mio("mio-nko")
        .engine
        .catalog
        .get("kyzylzhar-2026-housing-queue")
        .unwrap()
        .clone();
    let mut doc = application(&reg, "akzhar", "portal", env.clock.today());
    let dropped = doc.documents.remove(0).kind;
    let reply = send(&env, "portal", "nko", &doc, &env.citizen("akzhar")).await;
    let app = registered(&env, "mio-nko", &reply.message_id).await;
    let head = Arm::login(
        &env,
        "mio-nko",
        &first_of(&env, "mio-nko", "kyzylzhar-2026-housing-queue", "head").await,
    )
    .await;
    let (_, l) = head.get("/api/v1/worklist").await;
    head.post(
        &format!("/api/v1/tasks/{}/complete", l["tasks"][0]["id"]),
        json!({}),
    )
    .await;
    let ex = Arm::login(
        &env,
        "mio-nko",
        &first_of(&env, "mio-nko", "kyzylzhar-2026-housing-queue", "executor").await,
    )
    .await;
    let (_, l) = ex.get("/api/v1/worklist").await;
    let check = l["tasks"][0]["id"].as_i64().unwrap();
    let (s, v) = ex
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "complete"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&dropped),
        "{v}"
    );
    // refuse needs grounds from the regulation's list
    let (s, _) = ex
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "refuse"}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = ex
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "refuse", "grounds": ["bad-weather"]}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, v) = ex
        .post(
            &format!("/api/v1/tasks/{check}/complete"),
            json!({"outcome": "incomplete"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["missing_documents"], json!([dropped]));
    drive(&env, "mio-nko", &app.number, Branch::Incomplete).await;
    let a = egov_mio_is::store::application(&env.mio("mio-nko").engine.pool, &app.number)
        .await
        .unwrap()
        .unwrap();
    // through the portal, incomplete documents get the electronic refusal (the outcome's
    // variant for the portal), not the paper return letter
    assert_eq!(a.status, BaseStatus::Refused);
    assert_eq!(a.result_id.as_deref(), Some("electronic-refusal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commission_keeps_its_protocol() {
    let env = env(&["mio-almaty"]).await;
    let reg = env
        .mio("mio-almaty")
        .engine
        .catalog
        .get("almaty-2016-housing-assistance")
        .unwrap()
        .clone();
    let provider = reg.providers[0].id.clone();
    let mut numbers = Vec::new();
    for who in ["family-father", "family-mother"] {
        let doc = application(&reg, who, "portal", env.clock.today());
        let reply = send(&env, "portal", "almaty", &doc, &env.citizen(who)).await;
        numbers.push(
            registered(&env, "mio-almaty", &reply.message_id)
                .await
                .number,
        );
    }
    let secretary_iin = employees_of(&env, "mio-almaty", &provider, "commission").await[0].clone();
    let secretary = Arm::login(&env, "mio-almaty", &secretary_iin).await;
    let (s, m) = secretary
        .post(
            "/api/v1/commission/meetings",
            json!({"date": egov_contracts::date::format(env.clock.today())}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let id = m["id"].as_str().unwrap();
    // not yet at the commission
    let (s, v) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/agenda"),
            json!({"application": numbers[0]}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    // bring both applications to the commission step (stop before it: drive would decide)
    for n in &numbers {
        for _ in 0..6 {
            let a = egov_mio_is::store::application(&env.mio("mio-almaty").engine.pool, n)
                .await
                .unwrap()
                .unwrap();
            if a.current_step.as_deref() == Some("commission") {
                break;
            }
            let run = sqlx::query_as::<_, (i64, Option<String>, Option<String>, String)>(
                "select id, role, assignee_iin, kind from step_runs where application_id = $1 and status = 'open'",
            )
            .bind(a.id)
            .fetch_one(&env.mio("mio-almaty").engine.pool)
            .await
            .unwrap();
            let who = match run.2 {
                Some(x) => x,
                None => employees_of(&env, "mio-almaty", &provider, run.1.as_deref().unwrap())
                    .await[0]
                    .clone(),
            };
            let arm = Arm::login(&env, "mio-almaty", &who).await;
            let body = match run.3.as_str() {
                "assign" => {
                    json!({"assignee": employees_of(&env, "mio-almaty", &provider, "executor").await[0]})
                }
                "check" => json!({"outcome": "complete"}),
                _ => json!({}),
            };
            let (s, v) = arm
                .post(&format!("/api/v1/tasks/{}/complete", run.0), body)
                .await;
            assert_eq!(s, 200, "{v}");
        }
    }
    // the commission step is decided by the protocol, not as a task
    let (_, l) = secretary.get("/api/v1/worklist").await;
    let task = l["tasks"][0]["id"].as_i64().unwrap();
    let (s, v) = secretary
        .post(
            &format!("/api/v1/tasks/{task}/complete"),
            json!({"outcome": "assign"}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    // only the secretary keeps it
    let head = Arm::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "head").await[0],
    )
    .await;
    let (s, _) = head
        .post(
            &format!("/api/v1/commission/meetings/{id}/agenda"),
            json!({"application": numbers[0]}),
        )
        .await;
    assert_eq!(s, 403);
    for n in &numbers {
        let (s, v) = secretary
            .post(
                &format!("/api/v1/commission/meetings/{id}/agenda"),
                json!({"application": n}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, _) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/agenda"),
            json!({"application": numbers[0]}),
        )
        .await;
    assert_eq!(s, 409, "on the agenda once");
    let (s, _) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/close"),
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "undecided items");
    let dec = |n: &str, body: Value| {
        let mut b = body;
        b["application"] = json!(n);
        b
    };
    let (s, v) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/decisions"),
            dec(&numbers[0], json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/decisions"),
            dec(&numbers[0], json!({"decision": "assign"})),
        )
        .await;
    assert_eq!(s, 422, "an assignment needs the amount: {v}");
    let (s, v) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/decisions"),
            dec(&numbers[1], json!({"decision": "refuse"})),
        )
        .await;
    assert_eq!(s, 422, "a refusal needs grounds: {v}");
    secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/decisions"),
            dec(&numbers[0], json!({"decision": "assign", "amount": 23_400})),
        )
        .await;
    secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/decisions"),
            dec(
                &numbers[1],
                json!({"decision": "refuse", "grounds": [reg.refusal_grounds[0].id]}),
            ),
        )
        .await;
    let (s, v) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/close"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["meeting"]["status"], "closed");
    assert!(
        v["meeting"]["protocol_number"]
            .as_str()
            .unwrap()
            .starts_with("1/")
    );
    let (s, _) = secretary
        .post(
            &format!("/api/v1/commission/meetings/{id}/agenda"),
            json!({"application": numbers[0]}),
        )
        .await;
    assert_eq!(s, 409, "a closed protocol does not change");
    for (n, step) in numbers.iter().zip(["draft-notice", "draft-notice"]) {
        let a = egov_mio_is::store::application(&env.mio("mio-almaty").engine.pool, n)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.current_step.as_deref(), Some(step));
        assert_eq!(
            a.decision_number.as_deref(),
            v["meeting"]["protocol_number"].as_str()
        );
    }
    let a = egov_mio_is::store::application(&env.mio("mio-almaty").engine.pool, &numbers[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.amount, Some(23_400));
    drive(&env, "mio-almaty", &numbers[0], Branch::Success).await;
    let (_, pdf_resp) = (
        0,
        env.http
            .get(format!(
                "{}/api/v1/applications/{}/result.pdf",
                secretary.base, numbers[0]
            ))
            .bearer_auth(&secretary.token)
            .send()
            .await
            .unwrap(),
    );
    let pdf = pdf_resp.bytes().await.unwrap();
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("23") && text.contains("400"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_b_from_the_workstation_to_the_registration() {
    let env = env(&["mio-almaty", "mio-atyrau"]).await;
    let portal = Inbox::open(&env, "portal").await;
    let office = Arm::login(
        &env,
        "mio-almaty",
        &first_of(&env, "mio-almaty", "almaty-2013-housing-queue", "office").await,
    )
    .await;
    // a person is looked up on their own only for the provider's applications: not
    // before the application, whatever the IIN
    for iin in [
        iin_of("family-father").as_string(),
        iin_of("absent").as_string(),
        "870312300047".to_string(),
    ] {
        let (s, v) = office
            .post("/api/v1/persons/lookup", json!({"iin": iin}))
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("PERSON_NOT_IN_APPLICATIONS")),
            "{iin}: {v}"
        );
    }

    let reg = env
        .mio("mio-almaty")
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let category = "socially-vulnerable";
    let docs: Vec<Value> = reg
        .required_documents(category)
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                json!({"kind": d.id, "paper": true})
            } else {
                json!({"kind": d.id, "paper": true, "name": format!("{}.jpg", d.id), "media_type": "image/jpeg", "content": base64::engine::general_purpose::STANDARD.encode(b"\xff\xd8 scan")})
            }
        })
        .collect();
    let body = json!({
        "iin": iin_of("family-father").as_string(),
        "category": category,
        "phone": "+7 701 555 01 02",
        "form": {"family_size": 4, "current_housing": "аренда, 42 м²"},
        "documents": docs,
    });
    // the form's required fields are checked before anything is signed
    let mut missing = body.clone();
    missing["form"] = json!({});
    let (s, v) = office.post("/api/v1/applications", missing).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("INVALID_FORM")),
        "{v}"
    );
    // C-person through РШЭП Алматы → ШЭП → ГБД ФЛ, for the application at the desk
    for (who, code) in [
        ("absent", "PERSON_NOT_FOUND"),
        ("cancelled", "IIN_CANCELLED"),
        ("deceased", "PERSON_DECEASED"),
    ] {
        let mut other = body.clone();
        other["iin"] = json!(iin_of(who).as_string());
        let (s, v) = office.post("/api/v1/applications", other).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some(code)),
            "{who}: {v}"
        );
    }
    let mut invalid = body.clone();
    invalid["iin"] = json!("870312300047");
    let (s, v) = office.post("/api/v1/applications", invalid).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("INVALID_IIN")),
        "{v}"
    );

    let (s, v) = office.post("/api/v1/applications", body).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["channel"], "provider");
    assert_eq!(v["status"], "received");
    assert_eq!(v["sender_system"], "mio-almaty");
    assert_eq!(
        v["signer_iin"],
        office.iin.as_str(),
        "signed with the employee's ЭЦП"
    );
    assert_eq!(
        v["applicant_name"], "Ахметов Ерлан Сабитович",
        "from ГБД ФЛ"
    );
    assert!(
        v["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["paper"] == true)
    );
    let number = v["number"].as_str().unwrap().to_string();
    let message_id = v["message_id"].as_str().unwrap().to_string();
    // now the applicant of an application of the provider can be looked up
    let (s, v) = office
        .post(
            "/api/v1/persons/lookup",
            json!({"iin": iin_of("family-father").as_string()}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["person"]["surname"], "Ахметов");
    // ... but not by another provider's employee
    let atyrau_office = Arm::login(
        &env,
        "mio-atyrau",
        &first_of(&env, "mio-atyrau", "atyrau-2012-housing-queue", "office").await,
    )
    .await;
    let (s, v) = atyrau_office
        .post(
            "/api/v1/persons/lookup",
            json!({"iin": iin_of("family-father").as_string()}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("PERSON_NOT_IN_APPLICATIONS")),
        "{v}"
    );
    // the access log of ГБД ФЛ names the employee
    let log: Vec<(String, Option<String>)> = sqlx::query_as(
        "select system, requester_iin from gbd_fl.access_log where subject_iin = $1",
    )
    .bind(iin_of("family-father").as_string())
    .fetch_all(&env.mio("mio-almaty").engine.pool)
    .await
    .unwrap();
    assert!(
        log.iter()
            .any(|(s, r)| s == "mio-almaty" && r.as_deref() == Some(office.iin.as_str())),
        "{log:?}"
    );
    // channel B of seed 000 involves no other system: the citizen stands at the
    // provider's desk, the result is handed over there (status_to = [], result_to = "mio")
    drive(&env, "mio-almaty", &number, Branch::Success).await;
    let done = egov_mio_is::store::application(&env.mio("mio-almaty").engine.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, BaseStatus::Completed);
    assert!(done.queue_number.is_some());
    let stray = portal
        .drain(&message_id, std::time::Duration::from_millis(1500))
        .await;
    assert!(stray.is_empty(), "{stray:?}");

    // the 2014 Atyrau regulation takes no applications through the provider
    let atyrau = Arm::login(
        &env,
        "mio-atyrau",
        &first_of(&env, "mio-atyrau", "atyrau-2014-housing-queue", "office").await,
    )
    .await;
    let (s, v) = atyrau.post("/api/v1/applications", json!({"regulation": "atyrau-2014-housing-queue", "iin": iin_of("atyrau").as_string(), "category": "wwii-veterans"})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("WRONG_CHANNEL")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_asks_the_queue_position_through_the_sync_channel() {
    let env = env(&["mio-nko"]).await;
    let reg = env
        .mio("mio-nko")
        .engine
        .catalog
        .get("akzhar-2012-housing-queue")
        .unwrap()
        .clone();
    let mut numbers = Vec::new();
    for who in ["akzhar", "family-mother", "family-father"] {
        let doc = application(&reg, who, "portal", env.clock.today());
        let reply = send(&env, "portal", "nko", &doc, &env.citizen(who)).await;
        let a = registered(&env, "mio-nko", &reply.message_id).await;
        drive(&env, "mio-nko", &a.number, Branch::Success).await;
        numbers.push(a.number);
    }
    let ask = |iin: String| {
        let c = env.client("portal");
        async move {
            c.call(
                "mio.queue.position",
                "nko",
                "",
                serde_json::to_vec(&json!({"iin": iin})).unwrap(),
            )
            .await
            .unwrap()
        }
    };
    let r = ask(iin_of("family-father").as_string()).await;
    assert!(r.is_success(), "{:?}", r.info);
    assert_eq!(r.responder, "mio-nko");
    let a: egov_contracts::mio::QueuePositionAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.places.len(), 1);
    assert_eq!(a.places[0].place.number, 3);
    assert_eq!(a.places[0].position, 3);
    assert_eq!(a.places[0].waiting, 3);
    assert_eq!(a.places[0].application_number, numbers[2]);
    // someone ahead receives housing: the position moves up
    sqlx::query("update queue_entries set status = 'housed' where number = 1")
        .execute(&env.mio("mio-nko").engine.pool)
        .await
        .unwrap();
    let a: egov_contracts::mio::QueuePositionAnswer =
        serde_json::from_slice(&ask(iin_of("family-father").as_string()).await.payload).unwrap();
    assert_eq!(
        (
            a.places[0].place.number,
            a.places[0].position,
            a.places[0].waiting
        ),
        (3, 2, 2)
    );
    let a: egov_contracts::mio::QueuePositionAnswer =
        serde_json::from_slice(&ask(iin_of("deceased").as_string()).await.payload).unwrap();
    assert!(a.places.is_empty());
    let r = ask("123".into()).await;
    assert_eq!(r.info.error_info.unwrap().error_code, "INVALID_IIN");
}

/// Failed logins are throttled: after five within fifteen minutes, no attempt is checked
/// (not even the right password) until the oldest leaves the window; other accounts are
/// not affected; a success clears the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled() {
    let env = env(&["mio-almaty"]).await;
    let base = env.mio("mio-almaty").http.clone();
    let office = first_of(&env, "mio-almaty", "almaty-2013-housing-queue", "office").await;
    let head = first_of(&env, "mio-almaty", "almaty-2013-housing-queue", "head").await;
    let post = |iin: String, password: &'static str| {
        let (http, base) = (env.http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/login"))
                .json(&json!({"iin": iin, "password": password}))
                .send()
                .await
                .unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (
                r.status().as_u16(),
                retry,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // a success before the failures clears nothing yet; four failures do not lock
    for _ in 0..4 {
        assert_eq!(post(office.clone(), "wrong").await.0, 401);
    }
    assert_eq!(
        post(office.clone(), PASSWORD).await.0,
        200,
        "a success clears them"
    );
    for _ in 0..5 {
        assert_eq!(post(office.clone(), "wrong").await.0, 401);
    }
    let (s, retry, v) = post(office.clone(), PASSWORD).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("TOO_MANY_ATTEMPTS")),
        "{v}"
    );
    let secs: i64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=900).contains(&secs), "{secs}");
    // another employee logs in as usual
    assert_eq!(post(head.clone(), PASSWORD).await.0, 200);
    // the form refuses too, in Russian
    let page = env
        .http
        .post(format!("{base}/login"))
        .form(&[("iin", office.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 429);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Слишком много неудачных попыток")
    );
    // fifteen minutes later the right password works again
    env.clock.advance(time::Duration::minutes(16));
    assert_eq!(post(office.clone(), PASSWORD).await.0, 200);
}

/// Every answer of the workstation, page, JSON, document or error, tells the browser to
/// take it as the type it says and never to frame it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_browser_hardening_headers() {
    let env = env(&["mio-almaty"]).await;
    let base = env.mio("mio-almaty").http.clone();
    for (method, path) in [
        ("GET", "/login"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/v1/worklist"),
        ("POST", "/api/v1/login"),
        ("GET", "/no-such-page"),
    ] {
        let r = env
            .http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{method} {path}"
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.to_str().unwrap()),
            Some("DENY"),
            "{method} {path}"
        );
        assert!(
            h.get("content-security-policy")
                .is_some_and(|v| v.to_str().unwrap().contains("frame-ancestors 'none'")),
            "{method} {path}: {h:?}"
        );
    }
}
