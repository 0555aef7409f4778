//! One trace per application: the portal's submission, every gateway hop, ИС МИО's
//! intake, and each status ИС МИО sends back days later, in one trace, collected by an
//! OTLP receiver over the real protocol from the exporter every service runs.

use crate::common::*;
use egov_testkit::otlp::{Receiver, in_order, lanes_in_order};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_and_its_statuses_are_one_trace_across_every_lane() {
    let (receiver, guard) = Receiver::exporting().await;
    assert!(guard.is_exporting());

    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    // the portal's lane: the citizen's submission
    let root = tracing::info_span!(
        "portal.submit",
        egov.sfe = "ПЭП",
        egov.regulation = %reg.id,
        egov.step = "send",
        egov.application = tracing::field::Empty,
    );
    let doc = application(&reg, "family-father", "portal", env.clock.today());
    let reply = {
        use tracing::Instrument as _;
        send(
            &env,
            "portal",
            &mio.region,
            &doc,
            &env.citizen("family-father"),
        )
        .instrument(root.clone())
        .await
    };
    let trace_id = root
        .in_scope(egov_telemetry::current_trace_id)
        .expect("the root span has a trace");
    let app = registered(&env, "mio-almaty", &reply.message_id).await;
    root.record("egov.application", app.number.as_str());
    drop(root);
    // the employees' decisions, through to the result; each status goes back to the portal
    drive(&env, "mio-almaty", &app.number, Branch::Success).await;
    let inbox = Inbox::open(&env, "portal").await;
    inbox.statuses_until(&reply.message_id, "completed").await;
    // the outbox has sent every status before the spans are flushed
    let (_, spans) = receiver.trace_of(guard, |s| s.trace_id == trace_id).await;
    let lanes = lanes_in_order(&spans);
    // there: through ШЭП and РШЭП to ИС МИО; back: each status through РШЭП and ШЭП
    let expected = [
        "ПЭП",
        "ШЭП",
        "РШЭП Алматы",
        egov_mio_is::LANE,
        "РШЭП Алматы",
        "ШЭП",
    ];
    assert!(in_order(&lanes, &expected), "{lanes:?}");
    // ИС МИО's intake names the application, its regulation and its step
    let intake = spans
        .iter()
        .find(|s| s.name == "inbox" && s.attr(egov_telemetry::SFE) == Some(egov_mio_is::LANE))
        .expect("ИС МИО's intake span is in the trace");
    assert_eq!(intake.attr("egov.application"), Some(app.number.as_str()));
    assert_eq!(intake.attr("egov.regulation"), Some(reg.id.as_str()));
    assert!(intake.attr("egov.step").is_some(), "{intake:?}");
    // every status ИС МИО sent is in it, each crossing both gateways
    let sent = egov_mio_is::outbox::sent_for(&mio.engine.pool, &app.correlation_id)
        .await
        .unwrap();
    assert!(sent.len() >= 2, "{sent:?}");
    for m in &sent {
        let hops: Vec<&str> = spans
            .iter()
            .filter(|s| s.attr("message_id") == Some(m.message_id.as_str()))
            .filter_map(|s| s.attr(egov_telemetry::SFE))
            .collect();
        assert!(
            hops.contains(&egov_mio_is::LANE)
                && hops.contains(&"РШЭП Алматы")
                && hops.contains(&"ШЭП"),
            "status {} crossed {hops:?}",
            m.message_id
        );
    }
    // and every span of the trace names its lane
    for s in &spans {
        if s.name.starts_with("shep.") || s.name == "inbox" || s.name == "outbox.send" {
            assert!(s.attr(egov_telemetry::SFE).is_some(), "{s:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_b_application_is_one_trace_from_the_employees_desk() {
    let (receiver, guard) = Receiver::exporting().await;
    let env = env(&["mio-almaty"]).await;
    let reg = env
        .mio("mio-almaty")
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let provider = reg.providers[0].id.clone();
    let office = Arm::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    let category = "socially-vulnerable";
    let documents: Vec<serde_json::Value> = reg
        .required_documents(category)
        .iter()
        .map(|d| serde_json::json!({"kind": d.id, "paper": true}))
        .collect();
    let (s, v) = office
        .post(
            "/api/v1/applications",
            serde_json::json!({
                "iin": egov_synth::fixtures::iin_of("family-father").as_string(),
                "category": category,
                "phone": "+7 701 555 01 02",
                "form": {"family_size": 4, "current_housing": "аренда, 42 м²"},
                "documents": documents,
            }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (_, spans) = receiver.trace_of(guard, |s| s.name == "arm.submit").await;
    let lanes = lanes_in_order(&spans);
    // C-person from the desk through РШЭП and ШЭП to ГБД ФЛ, then the send through РШЭП
    // into ИС МИО's own inbox
    let expected = [
        egov_mio_is::LANE,
        "РШЭП Алматы",
        "ШЭП",
        "ГБД ФЛ",
        egov_mio_is::LANE,
        "РШЭП Алматы",
        egov_mio_is::LANE,
    ];
    assert!(in_order(&lanes, &expected), "{lanes:?}");
    let intake = spans
        .iter()
        .find(|s| s.name == "inbox")
        .unwrap_or_else(|| panic!("the intake is in the trace: {lanes:?}"));
    assert_eq!(intake.attr("egov.application"), v["number"].as_str());
}
