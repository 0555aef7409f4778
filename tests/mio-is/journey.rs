//! An application's journey: its hops through the gateways (the message log) and its
//! steps (ИС МИО's history) in one diagram, the step left past its deadline in red.

use crate::common::*;
use egov_gateway::journal::{Journal, JournalOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_shows_every_hop_and_step_with_the_late_one_in_red() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let app = portal_application(&env, "mio-almaty", &reg.id, "family-father").await;
    // nobody accepts it for 31 days: the acceptance is overdue
    env.clock.advance(time::Duration::days(31));
    assert_eq!(mio.engine.sla_scan().await.unwrap().len(), 1);

    // the «received» status to the portal has crossed the gateways
    let journal_pool = egov_db::pool(&env.w.db.url, "gateway", 2).await.unwrap();
    let journal = Journal::open(journal_pool, JournalOptions::default())
        .await
        .unwrap();
    let mut journey = None;
    for _ in 0..200 {
        let (j, regulation) = egov_ops::journey::load(&mio.engine.pool, &journal, &app.number)
            .await
            .unwrap()
            .expect("the application is found by its number");
        assert_eq!(regulation, reg.id);
        let statuses_logged = j.hops.iter().any(|h| h.service == "portal.status.update");
        if statuses_logged {
            journey = Some(j);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let j = journey.expect("a status crossed the gateways");
    assert_eq!(j.channel, "portal");
    assert_eq!(j.sender, "portal");
    // the application itself: ШЭП, then the region's РШЭП
    let submit: Vec<&str> = j
        .hops
        .iter()
        .filter(|h| h.message_id == app.message_id)
        .map(|h| h.gateway.as_str())
        .collect();
    assert_eq!(submit, ["shep", "rshep-almaty"], "{:#?}", j.hops);
    assert!(j.hops.iter().all(|h| !h.failed), "{:#?}", j.hops);
    // the steps: registered, then the acceptance, late
    let steps: Vec<(&str, bool)> = j
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.overdue))
        .collect();
    assert_eq!(steps[0], ("register", false));
    assert!(steps.contains(&("accept", true)), "{steps:?}");

    let g = egov_diagram::journey::graph(&j, &reg, "ru");
    let svg = egov_diagram::render(&g, &reg.id, egov_diagram::Format::Svg);
    assert!(svg.contains(&app.number), "the title names the application");
    // the late step is drawn in red, the others are not
    let late = svg
        .split("<g class=\"node")
        .filter(|c| c.contains("data-overdue=\"true\""))
        .count();
    assert_eq!(late, 1, "{svg}");
    assert!(svg.contains(r#"data-step="accept" data-overdue="true""#));
    // hops in the lane of the gateways, in the order they happened
    let lane = reg
        .lanes
        .iter()
        .find(|l| l.system == "rshep")
        .unwrap()
        .id
        .clone();
    assert!(svg.contains(&format!(r#"data-lane="{lane}""#)));
    let first_hop = svg.find("shep: portal → ").expect("the first hop is drawn");
    let register = svg.find(r#"data-step="register""#).unwrap();
    assert!(
        first_hop < register,
        "the application reached ИС МИО before it was registered"
    );
    if let Ok(dir) = std::env::var("EGOV_DIAGRAM_OUT") {
        std::fs::write(std::path::Path::new(&dir).join("journey.svg"), &svg).unwrap();
    }
    journal.shutdown().await;
}
