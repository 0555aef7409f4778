//! The portal channel's steps on an application: the registration on the citizen's first
//! application, the login at the session, the form from the draft to the signature (a
//! refused signature closes it with `no`, a good one with `yes`), the send until the
//! gateway takes it, flagged by the SLA scan once past its deadline.

use base64::Engine as _;
use egov_portal::{applications, citizens, outbox, steps};

use crate::world::*;

/// Whether `t` is within `lo..=hi` (the manual clock runs on with real time).
fn within(
    t: Option<time::OffsetDateTime>,
    lo: time::OffsetDateTime,
    hi: time::OffsetDateTime,
) -> bool {
    t.is_some_and(|t| lo <= t && t <= hi)
}

fn step<'a>(runs: &'a [steps::StepRun], id: &str) -> &'a steps::StepRun {
    runs.iter()
        .find(|r| r.step_id == id)
        .unwrap_or_else(|| panic!("no {id} in {runs:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_signature_and_a_send_past_its_deadline_are_on_the_applications_steps() {
    // the running portal's own SLA monitor scans once, at its start, and not again while
    // this test reads the gauge the two portals of this process share
    let (env, running) = world_with(&["mio-almaty"], |c| c.sla_interval_secs = 3600).await;
    // a second portal, not running: this test drives its relay and its SLA scan by hand
    let core = idle_portal(&env, "portal_steps").await;
    let live = env.w.client("portal");
    let iin = egov_synth::fixtures::iin_of("family-mother").as_string();
    let before_registration = env.clock.now();
    let citizen = citizens::register(
        &core,
        citizens::Registration {
            iin: iin.clone(),
            password: PASSWORD.into(),
            email: None,
        },
    )
    .await
    .unwrap();
    let registered_by = env.clock.now();
    env.clock.advance(time::Duration::seconds(20));
    let before_login = env.clock.now();
    assert!(matches!(
        citizens::login(&core, &iin, PASSWORD).await.unwrap(),
        citizens::Login::Ok(..)
    ));
    let logged_in_by = env.clock.now();
    env.clock.advance(time::Duration::seconds(5));
    let reg = core
        .catalog
        .get("almaty-2016-housing-assistance")
        .unwrap()
        .clone();
    let new: applications::NewApplication =
        serde_json::from_value(new_application(&reg, env.clock.today())).unwrap();
    let before_draft = env.clock.now();
    let app = applications::create(&core, &citizen, new).await.unwrap();
    let drafted_by = env.clock.now();
    for d in reg.required_documents(&reg.categories[0].id) {
        let a: applications::NewAttachment = serde_json::from_value(scan(&d.id)).unwrap();
        applications::attach(&core, &iin, &app.number, a)
            .await
            .unwrap();
    }
    let runs = steps::of(&core.pool, app.id).await.unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.step_id.as_str()).collect();
    assert_eq!(ids, ["portal-signup", "portal-login", "portal-fill-form"]);
    let signup = step(&runs, "portal-signup");
    assert!(
        within(signup.completed_at, before_registration, registered_by),
        "{signup:?}"
    );
    let login = step(&runs, "portal-login");
    assert!(
        within(login.completed_at, before_login, logged_in_by),
        "{login:?}"
    );
    assert_eq!(login.outcome.as_deref(), Some("yes"));
    let form = step(&runs, "portal-fill-form");
    assert!(within(Some(form.started_at), before_draft, drafted_by));
    assert_eq!(form.completed_at, None);
    assert_eq!(
        form.due_at,
        Some(form.started_at + time::Duration::seconds(90)),
        "the form's 90 seconds"
    );

    // C-sign refused: someone else's key
    let bytes = applications::sign_request(&core, &citizen, &app.number)
        .await
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let wrong = b64.encode(cms(&env.citizen("family-father"), &bytes));
    let e = applications::sign(&core, &citizen, &app.number, &wrong)
        .await
        .unwrap_err();
    assert_eq!(e.code, "IIN_MISMATCH");
    let runs = steps::of(&core.pool, app.id).await.unwrap();
    let form = step(&runs, "portal-fill-form");
    assert_eq!(form.outcome.as_deref(), Some("no"));
    assert!(form.completed_at.is_some());
    let refused = step(&runs, "portal-sign-refused");
    assert!(refused.completed_at.is_some());
    assert!(runs.iter().all(|r| r.step_id != "portal-send"), "{runs:?}");

    // the good signature, after the form's 90 seconds: the form closed again with `yes`,
    // past its due time; the send opened
    env.clock.advance(time::Duration::seconds(100));
    let good = b64.encode(cms(&env.citizen("family-mother"), &bytes));
    let before_signature = env.clock.now();
    applications::sign(&core, &citizen, &app.number, &good)
        .await
        .unwrap();
    let signed_by = env.clock.now();
    let runs = steps::of(&core.pool, app.id).await.unwrap();
    let form = step(&runs, "portal-fill-form");
    assert_eq!(form.outcome.as_deref(), Some("yes"));
    assert!(
        within(form.completed_at, before_signature, signed_by),
        "{form:?}"
    );
    assert!(form.overdue, "100 s for a 90 s step: {form:?}");
    let send = step(&runs, "portal-send");
    assert!(within(Some(send.started_at), before_signature, signed_by));
    assert_eq!(send.completed_at, None);
    assert_eq!(
        send.due_at,
        Some(send.started_at + time::Duration::minutes(1))
    );

    // the gateway cannot be reached: the send stays open, and past its minute the SLA
    // scan flags it, once
    let dead = env
        .w
        .client_to("portal", "portal", "shep", "127.0.0.1:1".parse().unwrap());
    assert_eq!(outbox::send_batch(&core, &dead).await.unwrap(), 1);
    assert!(steps::scan(&core).await.unwrap().is_empty(), "not yet due");
    env.clock.advance(time::Duration::seconds(61));
    let flagged = steps::scan(&core).await.unwrap();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(
        (flagged[0].number.as_str(), flagged[0].step_id.as_str()),
        (app.number.as_str(), "portal-send")
    );
    assert!(steps::scan(&core).await.unwrap().is_empty(), "flagged once");
    // counted for the dashboards' panel of open late steps (one recorder per process:
    // the running portal's page shows it)
    let late = egov_testkit::metric_lines(&running.http, "egov_portal_steps_overdue_total").await;
    assert!(
        late.iter().any(|l| l.contains(r#"step="portal-send""#)),
        "{late:?}"
    );
    let open = egov_testkit::metric_lines(&running.http, "egov_portal_open_overdue_steps").await;
    assert!(open.iter().any(|l| l.ends_with(" 1")), "{open:?}");
    // the gateway back: the send done by the portal, still marked late
    let before_delivery = env.clock.now();
    assert_eq!(outbox::send_batch(&core, &live).await.unwrap(), 1);
    let runs = steps::of(&core.pool, app.id).await.unwrap();
    let send = step(&runs, "portal-send");
    assert!(
        within(send.completed_at, before_delivery, env.clock.now()),
        "{send:?}"
    );
    assert_eq!(send.completed_by.as_deref(), Some("portal"));
    assert!(send.overdue);
    let ids: Vec<&str> = runs.iter().map(|r| r.step_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "portal-signup",
            "portal-login",
            "portal-fill-form",
            "portal-sign-refused",
            "portal-send"
        ]
    );
}
