//! ИС ЦОН's inbox: a status recorded once per sender and messageId, the latest by its own
//! time kept as the current one; a status for no application, or from another ИС МИО
//! than the application's, acknowledged without effect.

use serde_json::json;

use crate::world::*;
use egov_contracts::mio::StatusUpdate;
use egov_synth::fixtures::iin_of;

fn update(message_id: &str, status: &str, at: time::OffsetDateTime) -> StatusUpdate {
    StatusUpdate {
        application_number: Some("NKO-2026-000001".into()),
        application_message_id: message_id.into(),
        service: "housing-queue".into(),
        provider: "akzhar-housing".into(),
        regulation: None,
        channel: "con".into(),
        applicant_iin: iin_of("akzhar").as_string(),
        status: status.into(),
        stage: None,
        status_ru: format!("{status} (ru)"),
        status_kk: format!("{status} (kk)"),
        at,
        due: None,
        reason: None,
        queue: None,
        result: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_recorded_once_and_the_latest_wins() {
    let (_env, con) = world(&[]).await;
    let desk = Desk::inspector(&con, "akzhar").await;
    let (s, d) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": "akzhar-2012-housing-queue", "iin": iin_of("akzhar").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let number = d["number"].as_str().unwrap();
    // as if it had been sent with this messageId
    sqlx::query("update applications set state = 'sent', message_id = 'm-1' where number = $1")
        .bind(number)
        .execute(&con.core.pool)
        .await
        .unwrap();
    let t0 = con.core.clock.now();
    let later = update("m-1", "in_progress", t0 + time::Duration::minutes(5));
    let earlier = update("m-1", "received", t0);
    let core = &con.core;
    egov_con_is::inbox::record(core, "mio-nko", "s-2", &later, true)
        .await
        .unwrap();
    // a redelivery of the same message changes nothing
    egov_con_is::inbox::record(core, "mio-nko", "s-2", &later, true)
        .await
        .unwrap();
    // an earlier status overtaken on the way is kept in the history, not as the current
    egov_con_is::inbox::record(core, "mio-nko", "s-1", &earlier, true)
        .await
        .unwrap();
    // another region's ИС МИО does not speak for the application
    egov_con_is::inbox::record(
        core,
        "mio-atyrau",
        "s-9",
        &update("m-1", "refused", t0 + time::Duration::hours(1)),
        true,
    )
    .await
    .unwrap();
    // a status for a messageId not known yet waits (nothing written) until the last try
    let unknown = update("m-2", "received", t0);
    assert_eq!(
        egov_con_is::inbox::record(core, "mio-nko", "s-7", &unknown, false)
            .await
            .unwrap(),
        egov_con_is::inbox::Recorded::NotYet
    );
    sqlx::query("update applications set message_id = 'm-2' where number = $1")
        .bind(number)
        .execute(&con.core.pool)
        .await
        .unwrap();
    assert_eq!(
        egov_con_is::inbox::record(core, "mio-nko", "s-7", &unknown, false)
            .await
            .unwrap(),
        egov_con_is::inbox::Recorded::Done,
        "the next delivery finds it"
    );
    // the same messageId from another sender is another message
    egov_con_is::inbox::record(
        core,
        "mio-atyrau",
        "s-1",
        &update("no-such", "received", t0),
        true,
    )
    .await
    .unwrap();
    assert_eq!(rows(&con, "statuses").await, 3);
    assert_eq!(rows(&con, "shep_inbox_seen").await, 5);
    let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(v["status"]["status"], "in_progress", "{v}");
    assert_eq!(v["mio_number"], "NKO-2026-000001");
    let seen: Vec<&str> = v["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["in_progress", "received", "received"]);
    // the public look-up by ИС МИО's number shows the current status
    let p: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/public/applications/NKO-2026-000001",
        con.http
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(p["status_ru"], "in_progress (ru)");
}
