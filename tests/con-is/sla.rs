//! The deadlines of the desk's steps: a step done past its due time keeps the flag; an
//! open step past its due time is flagged by the SLA scan, once.

use serde_json::json;

use crate::world::*;
use egov_synth::fixtures::iin_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_open_steps_are_flagged_on_a_moved_clock() {
    let (env, con) = world(&[]).await;
    // Akzhar: the attachment and signature are due a minute after the registries' answer
    let desk = Desk::inspector(&con, "akzhar").await;
    let reg = regulation("akzhar-2012-housing-queue");
    let (s, d) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": reg.id, "iin": iin_of("akzhar").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    assert!(
        d["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["overdue"] == false),
        "{d}"
    );
    env.clock.advance(time::Duration::minutes(5));
    let number = d["number"].as_str().unwrap();
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            submission(&reg),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let flag = |v: &serde_json::Value, step: &str| {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step_id"] == step)
            .unwrap_or_else(|| panic!("{step}: {v}"))["overdue"]
            .clone()
    };
    assert_eq!(
        flag(&v, "con-attach-and-sign"),
        true,
        "done 5 minutes after, due in 1"
    );
    assert_eq!(flag(&v, "con-request-registries"), false);

    // Almaty: the transfer to the provider is opened, due within the day of con-intake
    let desk = Desk::inspector(&con, "almaty-almaly").await;
    let reg = regulation("almaty-2013-housing-queue");
    let (s, d) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": reg.id, "iin": iin_of("family-father").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let number = d["number"].as_str().unwrap().to_string();
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            submission(&reg),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(flag(&v, "con-transfer"), false);
    assert!(
        egov_con_is::steps::scan(&con.core)
            .await
            .unwrap()
            .is_empty()
    );
    env.clock.advance(time::Duration::hours(23));
    assert!(
        egov_con_is::steps::scan(&con.core)
            .await
            .unwrap()
            .is_empty(),
        "not yet due"
    );
    env.clock.advance(time::Duration::hours(2));
    let flagged = egov_con_is::steps::scan(&con.core).await.unwrap();
    assert_eq!(
        flagged
            .iter()
            .map(|o| (o.number.as_str(), o.step_id.as_str()))
            .collect::<Vec<_>>(),
        [(number.as_str(), "con-transfer")]
    );
    assert!(
        egov_con_is::steps::scan(&con.core)
            .await
            .unwrap()
            .is_empty(),
        "flagged once"
    );
    // counted for the dashboards' panel of open late steps
    let late = egov_testkit::metric_lines(&con.http, "egov_con_steps_overdue_total").await;
    assert!(
        late.iter().any(|l| l.contains(r#"step="con-transfer""#)),
        "{late:?}"
    );
    let open = egov_testkit::metric_lines(&con.http, "egov_con_open_overdue_steps").await;
    assert!(open.iter().any(|l| l.ends_with(" 1")), "{open:?}");
    // the session of 8 hours has ended; a new one sees the flag
    let desk = Desk::inspector(&con, "almaty-almaly").await;
    let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(flag(&v, "con-transfer"), true, "{v}");
}
