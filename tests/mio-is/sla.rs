//! The SLA monitor on a clock moved across 30 days: a step left past its deadline is
//! flagged (on the worklist, in the metrics, in the log of steps), and due times follow
//! Kazakhstan's working days.

use crate::common::*;
use egov_calendar::{Calendar, Deadline};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_left_past_its_deadline_is_flagged() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let app = portal_application(&env, "mio-almaty", &reg.id, "family-father").await;
    let office_iin =
        employees_of(&env, "mio-almaty", &reg.providers[0].id, "office").await[0].clone();
    let office = Arm::login(&env, "mio-almaty", &office_iin).await;

    // the acceptance is due 5 minutes after registration
    let (_, l) = office.get("/api/v1/worklist").await;
    let t = &l["tasks"][0];
    let started = time::OffsetDateTime::parse(
        t["started_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let due = time::OffsetDateTime::parse(
        t["due_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(due - started, time::Duration::minutes(5));
    assert!(
        mio.engine.sla_scan().await.unwrap().is_empty(),
        "nothing is late yet"
    );

    // 31 days later, nobody has accepted it
    env.clock.advance(time::Duration::days(31));
    let flagged = mio.engine.sla_scan().await.unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].number, app.number);
    assert_eq!(flagged[0].step_id, "accept");
    assert!(
        mio.engine.sla_scan().await.unwrap().is_empty(),
        "flagged once"
    );
    // the session opened before the jump outlived its 8 hours
    let (s, _) = office.get("/api/v1/worklist").await;
    assert_eq!(s, 401);
    let office = Arm::login(&env, "mio-almaty", &office_iin).await;
    let (_, l) = office.get("/api/v1/worklist").await;
    assert_eq!(l["tasks"][0]["overdue"], true);
    let (_, sla) = office.get("/api/v1/sla").await;
    assert_eq!(sla["overdue"][0]["number"], app.number.as_str());
    let a = egov_mio_is::store::application(&mio.engine.pool, &app.number)
        .await
        .unwrap()
        .unwrap();
    assert!(
        a.overdue,
        "the 30 calendar days of the service have passed too"
    );
    let metrics = reqwest::get(format!("{}/metrics", mio.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("egov_mio_steps_overdue_total"),
        "{metrics}"
    );
    // completing it late keeps the flag in the step's record
    let (s, _) = office
        .post(
            &format!("/api/v1/tasks/{}/complete", l["tasks"][0]["id"]),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = office
        .get(&format!("/api/v1/applications/{}", app.number))
        .await;
    let accept = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == "accept")
        .unwrap();
    assert_eq!(accept["overdue"], true);
    // the web UI shows the flag too
    let page = env
        .http
        .get(format!("{}/tasks/{}", mio.http, accept["id"]))
        .header("cookie", format!("arm_session={}", office.token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("просрочено"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overall_deadline_is_the_files() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let app = portal_application(&env, "mio-almaty", &reg.id, "family-father").await;
    // the overall deadline, as the file states it
    assert_eq!(
        app.due_at,
        reg.total_deadline
            .due(Calendar::kazakhstan(), app.registered_at)
    );
}

/// The test-only file: the check's own working days, and a step that only a span times
/// (the portal's electronic refusal: 6 working days from the check's start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_times_follow_working_days_and_spans() {
    let env = env(&["mio-nko"]).await;
    let mio = env.mio("mio-nko");
    let reg = mio
        .engine
        .catalog
        .get("kyzylzhar-2026-housing-queue")
        .unwrap()
        .clone();
    let app = portal_application(&env, "mio-nko", &reg.id, "akzhar").await;
    let provider = reg.providers[0].id.clone();
    let complete = |role: &'static str, body: serde_json::Value| {
        let env = &env;
        let provider = provider.clone();
        async move {
            let arm = Arm::login(
                env,
                "mio-nko",
                &employees_of(env, "mio-nko", &provider, role).await[0],
            )
            .await;
            let (_, l) = arm.get("/api/v1/worklist").await;
            let id = l["tasks"][0]["id"].as_i64().unwrap();
            let (s, v) = arm
                .post(&format!("/api/v1/tasks/{id}/complete"), body)
                .await;
            assert_eq!(s, 200, "{v}");
        }
    };
    let role_of = |step: &str| match &reg.step(step).unwrap().actor {
        egov_regulation::Actor::Role(r) => r.clone(),
        _ => reg.assigned_role(),
    };
    let accept_role: &'static str = Box::leak(role_of("accept").into_boxed_str());
    complete(accept_role, json!({})).await;
    let run = |step: &'static str| {
        let pool = mio.engine.pool.clone();
        let id = app.id;
        async move {
            let r: (time::OffsetDateTime, Option<time::OffsetDateTime>) = sqlx::query_as(
                "select started_at, due_at from step_runs where application_id = $1 and step_id = $2 order by id desc limit 1",
            )
            .bind(id)
            .bind(step)
            .fetch_one(&pool)
            .await
            .unwrap();
            r
        }
    };
    let cal = Calendar::kazakhstan();
    let check = run("check-documents").await;
    let own = reg
        .step("check-documents")
        .unwrap()
        .deadline_along("portal")
        .unwrap();
    assert!(matches!(own, Deadline::WorkingDays(_)), "{own:?}");
    assert_eq!(check.1, Some(own.due(cal, check.0)));
    assert_eq!(
        cal.working_days_between(
            egov_calendar::local_date(check.0),
            egov_calendar::local_date(check.1.unwrap()),
        ),
        own.amount()
    );
    let check_role: &'static str = Box::leak(role_of("check-documents").into_boxed_str());
    let dropped = reg.documents[1].id.clone();
    complete(
        check_role,
        json!({"outcome": "incomplete", "missing_documents": [dropped]}),
    )
    .await;
    let issue = run("issue-incomplete-refusal").await;
    let step = reg.step("issue-incomplete-refusal").unwrap();
    assert!(
        step.deadline_along("portal").is_none(),
        "only a span times it"
    );
    let span = reg.span_over(&step.id, "portal").unwrap();
    assert_eq!(span.from, "check-documents");
    assert_eq!(issue.1, Some(span.deadline.due(cal, check.0)));
}
