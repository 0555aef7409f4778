//! One trace per application from ИС ЦОН's desk: the draft with its registry request
//! (C-person through ШЭП to ГБД ФЛ), the send through ШЭП and РШЭП to ИС МИО, and the
//! statuses back into ИС ЦОН's inbox, collected by an OTLP receiver from the exporter
//! every service runs.

use egov_testkit::otlp::{Receiver, in_order, lanes_in_order};
use serde_json::json;

use crate::common::registered;
use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_desk_through_the_registries_and_the_provider_back_one_trace() {
    let (receiver, guard) = Receiver::exporting().await;

    let (env, con) = world(&["mio-almaty"]).await;
    let regulation = "almaty-2013-housing-queue";
    let reg = crate::world::regulation(regulation);
    let desk = Desk::inspector(&con, "almaty-almaly").await;
    let iin = egov_synth::fixtures::iin_of("family-father").as_string();
    let (s, draft) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": regulation, "iin": iin}),
        )
        .await;
    assert_eq!(s, 201, "{draft}");
    let number = draft["number"].as_str().unwrap().to_string();
    let (s, sent) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            submission(&reg),
        )
        .await;
    assert_eq!(s, 200, "{sent}");
    let message_id = sent["message_id"].as_str().unwrap().to_string();
    registered(&env, &reg.system, &message_id).await;
    desk.until(&number, "«received» from ИС МИО", |v| {
        v["status"]["status"] == "received"
    })
    .await;
    let (root, spans) = receiver
        .trace_of(guard, |s| {
            s.name == "con.desk" && s.attr("egov.application") == Some(number.as_str())
        })
        .await;
    assert_eq!(root.attr("egov.sfe"), Some(egov_con_is::LANE));
    let lanes = lanes_in_order(&spans);
    let expected = [
        egov_con_is::LANE,
        "ШЭП",
        "ГБД ФЛ",
        egov_con_is::LANE,
        "ШЭП",
        "РШЭП Алматы",
        egov_mio_is::LANE,
        "РШЭП Алматы",
        "ШЭП",
        egov_con_is::LANE,
    ];
    assert!(in_order(&lanes, &expected), "{lanes:?}");
    // the status came into ИС ЦОН's inbox inside the trace
    assert!(
        spans
            .iter()
            .any(|s| s.name == "inbox" && s.attr("egov.sfe") == Some(egov_con_is::LANE)),
        "{lanes:?}"
    );
}
