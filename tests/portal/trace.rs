//! One trace per application from the portal: the citizen's signature, the portal's send,
//! every gateway hop, ИС МИО's intake and each status back into the portal's inbox, in
//! one trace, collected by an OTLP receiver from the exporter every service runs.

use egov_testkit::otlp::{Receiver, in_order, lanes_in_order};

use crate::common::{Branch, drive, registered};
use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_the_citizens_signature_to_the_cabinet_one_trace() {
    let (receiver, guard) = Receiver::exporting().await;

    let (env, portal) = world(&["mio-almaty"]).await;
    let reg = portal.regulation("almaty-2013-housing-queue");
    let cab = citizen(&portal, "family-father").await;
    let number = cab.draft(&reg, env.clock.today()).await;
    cab.attach_all(&reg, &number).await;
    let bytes = cab.sign_request(&number).await;
    let (s, v) = cab
        .sign_with(&number, &cms(&env.citizen("family-father"), &bytes))
        .await;
    assert_eq!(s, 202, "{v}");
    let message_id = v["message_id"].as_str().unwrap().to_string();
    let app = registered(&env, &reg.system, &message_id).await;
    drive(&env, &reg.system, &app.number, Branch::Success).await;
    cab.until(&number, "the final status", |v| {
        v["status"]["status"] == "completed"
    })
    .await;
    let (root, spans) = receiver
        .trace_of(guard, |s| {
            s.name == "portal.sign" && s.attr("egov.application") == Some(number.as_str())
        })
        .await;
    assert_eq!(root.attr("egov.sfe"), Some(egov_portal::LANE));
    assert_eq!(root.attr("egov.regulation"), Some(reg.id.as_str()));
    let lanes = lanes_in_order(&spans);
    let expected = [
        "ПЭП",
        "ШЭП",
        "РШЭП Алматы",
        egov_mio_is::LANE,
        "РШЭП Алматы",
        "ШЭП",
        "ПЭП",
    ];
    assert!(in_order(&lanes, &expected), "{lanes:?}");
    // every status came back into the portal's inbox inside the trace
    let received = spans
        .iter()
        .filter(|s| s.name == "inbox" && s.attr("egov.sfe") == Some(egov_portal::LANE))
        .count();
    assert!(
        received >= 2,
        "{received} statuses in the portal's inbox: {lanes:?}"
    );
}
