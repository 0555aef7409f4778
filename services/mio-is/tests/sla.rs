//! The SLA monitor on a clock moved across 30 days: a step left past its deadline is
//! flagged (on the worklist, in the metrics, in the log of steps), and due times follow
//! Kazakhstan's working days.

mod common;

use common::*;
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
async fn due_times_follow_working_days() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let app = portal_application(&env, "mio-almaty", &reg.id, "family-father").await;
    egov_mio_is::store::application(&mio.engine.pool, &app.number)
        .await
        .unwrap();
    // the overall deadline: 30 calendar days from registration
    assert_eq!(app.due_at - app.registered_at, time::Duration::days(30));
    // drive to the check (3 working days) and compare with the calendar
    let provider = reg.providers[0].id.clone();
    for role in ["office", "head", "office"] {
        let arm = Arm::login(
            &env,
            "mio-almaty",
            &employees_of(&env, "mio-almaty", &provider, role).await[0],
        )
        .await;
        let (_, l) = arm.get("/api/v1/worklist").await;
        let id = l["tasks"][0]["id"].as_i64().unwrap();
        let body = if role == "head" {
            json!({"assignee": employees_of(&env, "mio-almaty", &provider, "executor").await[0]})
        } else {
            json!({})
        };
        let (s, v) = arm
            .post(&format!("/api/v1/tasks/{id}/complete"), body)
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let run: (time::OffsetDateTime, time::OffsetDateTime) = sqlx::query_as(
        "select started_at, due_at from step_runs where application_id = $1 and step_id = 'check-documents'",
    )
    .bind(app.id)
    .fetch_one(&mio.engine.pool)
    .await
    .unwrap();
    let cal = Calendar::kazakhstan();
    assert_eq!(run.1, Deadline::WorkingDays(3).due(cal, run.0));
    let days = cal.working_days_between(
        egov_calendar::local_date(run.0),
        egov_calendar::local_date(run.1),
    );
    assert_eq!(days, 3);
}
