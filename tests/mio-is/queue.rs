//! The waiting list under concurrency: many decisions at once in one provider and
//! category give unique, gap-free queue numbers, also when some transactions roll back.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_registrations_at_once_give_unique_gap_free_numbers() {
    const N: usize = 24;
    let env = env(&["mio-nko"]).await;
    let mio = env.mio("mio-nko");
    let reg = mio
        .engine
        .catalog
        .get("kyzylzhar-2026-housing-queue")
        .unwrap()
        .clone();
    let provider = reg.providers[0].id.clone();
    let citizen = env.citizen("akzhar");
    // N applications of one category, brought to the deputy's approval (the decision)
    let mut numbers = Vec::new();
    for _ in 0..N {
        let doc = application(&reg, "akzhar", "portal", env.clock.today());
        let reply = send(&env, "portal", "nko", &doc, &citizen).await;
        numbers.push(registered(&env, "mio-nko", &reply.message_id).await.number);
    }
    let head = Arm::login(
        &env,
        "mio-nko",
        &employees_of(&env, "mio-nko", &provider, "head").await[0],
    )
    .await;
    let executor = Arm::login(
        &env,
        "mio-nko",
        &employees_of(&env, "mio-nko", &provider, "executor").await[0],
    )
    .await;
    let deputy = Arm::login(
        &env,
        "mio-nko",
        &employees_of(&env, "mio-nko", &provider, "deputy").await[0],
    )
    .await;
    for (arm, body) in [
        (&head, json!({})),
        (&executor, json!({"outcome": "complete"})),
    ] {
        let (_, l) = arm.get("/api/v1/worklist").await;
        let tasks = l["tasks"].as_array().unwrap().clone();
        assert_eq!(tasks.len(), N);
        for t in tasks {
            let (s, v) = arm
                .post(&format!("/api/v1/tasks/{}/complete", t["id"]), body.clone())
                .await;
            assert_eq!(s, 200, "{v}");
        }
    }
    let (_, l) = deputy.get("/api/v1/worklist").await;
    let approvals: Vec<i64> = l["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(approvals.len(), N);
    // every approval at once
    let deputy = std::sync::Arc::new(deputy);
    let mut set = tokio::task::JoinSet::new();
    for id in approvals {
        let d = deputy.clone();
        set.spawn(async move {
            d.post(
                &format!("/api/v1/tasks/{id}/complete"),
                json!({"outcome": "approve"}),
            )
            .await
        });
    }
    while let Some(r) = set.join_next().await {
        let (s, v) = r.unwrap();
        assert_eq!(s, 200, "{v}");
    }
    let mut got: Vec<i64> =
        sqlx::query_scalar("select queue_number from applications where queue_number is not null")
            .fetch_all(&mio.engine.pool)
            .await
            .unwrap();
    got.sort();
    assert_eq!(
        got,
        (1..=N as i64).collect::<Vec<_>>(),
        "unique and gap-free"
    );
    let entries: Vec<(i64, String)> = sqlx::query_as(
        "select q.number, a.number from queue_entries q join applications a on a.id = q.application_id order by q.number",
    )
    .fetch_all(&mio.engine.pool)
    .await
    .unwrap();
    assert_eq!(entries.len(), N);
    for (n, app) in &entries {
        let a = egov_mio_is::store::application(&mio.engine.pool, app)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            a.queue_number,
            Some(*n),
            "the application and the list agree"
        );
        assert!(numbers.contains(app));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolled_back_registration_gives_its_number_back() {
    let env = env(&["mio-nko"]).await;
    let mio = env.mio("mio-nko");
    let reg = mio
        .engine
        .catalog
        .get("kyzylzhar-2026-housing-queue")
        .unwrap()
        .clone();
    let citizen = env.citizen("akzhar");
    let mut apps = Vec::new();
    for _ in 0..12 {
        let doc = application(&reg, "akzhar", "portal", env.clock.today());
        let reply = send(&env, "portal", "nko", &doc, &citizen).await;
        apps.push(registered(&env, "mio-nko", &reply.message_id).await);
    }
    // concurrent transactions take numbers; every third one rolls back
    let mut set = tokio::task::JoinSet::new();
    for (i, app) in apps.into_iter().enumerate() {
        let engine = mio.engine.clone();
        set.spawn(async move {
            let mut tx = engine.pool.begin().await.unwrap();
            let mut app = egov_mio_is::store::application_for_update(&mut tx, app.id)
                .await
                .unwrap()
                .unwrap();
            engine
                .enqueue(&mut tx, &mut app, engine.clock.now())
                .await
                .unwrap();
            egov_mio_is::engine::Engine::save(&mut tx, &app)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if i % 3 == 0 {
                tx.rollback().await.unwrap();
                None
            } else {
                tx.commit().await.unwrap();
                app.queue_number
            }
        });
    }
    let mut committed = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Some(n) = r.unwrap() {
            committed.push(n);
        }
    }
    committed.sort();
    assert_eq!(
        committed,
        (1..=8).collect::<Vec<i64>>(),
        "no gap where a transaction rolled back"
    );
}
