//! Every regulation file, every branch: an application arrives by one of the
//! regulation's channels, every task is completed through the АРМ API as the file
//! says, and the statuses (with the signed result) arrive at the sender and at the
//! other side (the portal and ИС ЦОН both show them).

use crate::common::*;
use base64::Engine as _;
use egov_mio_is::store::BaseStatus;
use egov_regulation::Status;

async fn run_path(system: &str, regulation: &str, channel: &str, branch: Branch) {
    let env = env(&[system]).await;
    let mio = env.mio(system);
    let reg = mio.engine.catalog.get(regulation).unwrap().clone();
    let citizen = match system {
        "mio-almaty" => "family-father",
        "mio-atyrau" => "atyrau",
        _ => "akzhar",
    };
    let portal_inbox = Inbox::open(&env, "portal").await;
    let con_inbox = Inbox::open(&env, "con-is").await;
    let mut doc = application(&reg, citizen, channel, env.clock.today());
    let (sender, reply) = match channel {
        "portal" => {
            let s = env.citizen(citizen);
            ("portal", send(&env, "portal", &mio.region, &doc, &s).await)
        }
        "con" => {
            let op = env.operator();
            operator_for(&mut doc, &op);
            ("con-is", send(&env, "con-is", &mio.region, &doc, &op).await)
        }
        other => panic!("{other}"),
    };
    let app = registered(&env, system, &reply.message_id).await;
    assert_eq!(app.status, BaseStatus::Received);
    assert_eq!(app.regulation_id, regulation);
    let steps = drive(&env, system, &app.number, branch).await;
    assert!(!steps.is_empty());

    let ch = reg.channel(channel).unwrap();
    let want_final = match branch {
        Branch::Success => Status::Completed,
        Branch::Refusal => Status::Refused,
        Branch::Incomplete => {
            let o = reg
                .steps
                .iter()
                .find(|s| s.kind == egov_regulation::StepKind::Check)
                .unwrap()
                .outcome("incomplete")
                .unwrap()
                .along(channel);
            reg.result(o.result.as_deref().unwrap())
                .unwrap()
                .final_status
        }
    };
    let inbox = |side: &str| {
        if side == "portal" {
            &portal_inbox
        } else {
            &con_inbox
        }
    };
    // the system that issues the result gets it with the final status
    let issuer = ch
        .result_to()
        .filter(|s| *s != "mio")
        .expect("the file names where the result is issued");
    let got = inbox(issuer)
        .statuses_until(&reply.message_id, want_final.as_str())
        .await;
    assert!(
        got.iter().all(|(from, _)| from == system),
        "signed by {system}"
    );
    let seen: Vec<&str> = got.iter().map(|(_, s)| s.status.as_str()).collect();
    if ch.status_to.iter().any(|s| s == issuer) {
        assert_eq!(seen.first(), Some(&"received"), "{seen:?}");
        let (first, stage) = reg.first_step().status_along(channel);
        assert_eq!(
            got[0].1.stage.as_deref(),
            stage
                .as_deref()
                .filter(|s| Some(*s) != first.map(|f| f.as_str()))
        );
        assert_eq!(
            got[0].1.status_ru,
            reg.status_label(first.unwrap(), stage.as_deref()).ru,
            "the file's name for the status"
        );
        if reg
            .steps
            .iter()
            .any(|s| s.status_along(channel).0 == Some(Status::InProgress))
        {
            assert!(seen.contains(&"in_progress"), "{seen:?}");
        }
    } else {
        assert_eq!(
            seen,
            vec![want_final.as_str()],
            "the issuer shows no statuses, only the result"
        );
    }
    assert_eq!(seen.last(), Some(&want_final.as_str()), "{seen:?}");
    let last = &got.last().unwrap().1;
    assert_eq!(
        last.application_number.as_deref(),
        Some(app.number.as_str())
    );
    let result = last
        .result
        .as_ref()
        .expect("the result travels with the final status");
    let b64 = base64::engine::general_purpose::STANDARD;
    let pdf = b64.decode(&result.pdf).unwrap();
    let sig = b64.decode(&result.signature).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // the result is signed by the provider's authorised person
    let signer = env
        .w
        .verifier()
        .verify_detached(&pdf, &sig, &egov_pki::VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(signer.identity.iin.unwrap().as_string(), result.signer_iin);
    assert!(
        signer.identity.organization.is_some(),
        "an employee's certificate names the provider"
    );
    if branch == Branch::Success && reg.service == "housing-queue" {
        let q = last
            .queue
            .as_ref()
            .expect("the queue number travels with the notification");
        assert_eq!(q.number, 1);
        assert_eq!(q.category, app.category);
    }
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains(&app.number), "{text}");
        if branch == Branch::Success && reg.service == "housing-queue" {
            assert!(text.contains("1"), "{text}");
        }
    }
    // the other side shows the same statuses when the channel names it, and gets
    // nothing otherwise; never the result
    let other = if issuer == "portal" {
        "con-is"
    } else {
        "portal"
    };
    if ch.status_to.iter().any(|s| s == other) {
        let mirrored = inbox(other)
            .statuses_until(&reply.message_id, want_final.as_str())
            .await;
        assert_eq!(
            mirrored
                .iter()
                .map(|(_, s)| s.status.clone())
                .collect::<Vec<_>>(),
            got.iter()
                .map(|(_, s)| s.status.clone())
                .collect::<Vec<_>>()
        );
        assert!(
            mirrored.iter().all(|(_, s)| s.result.is_none()),
            "the result document goes where the channel issues it"
        );
    } else {
        let stray = inbox(other)
            .drain(&reply.message_id, std::time::Duration::from_millis(1500))
            .await;
        assert!(
            stray.is_empty(),
            "{other} is not a side of channel {channel}: {stray:?}"
        );
    }
    let _ = sender;
}

macro_rules! paths {
    ($($name:ident: $system:expr, $reg:expr, $channel:expr, $branch:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run_path($system, $reg, $channel, $branch).await;
            }
        )*
    };
}

paths! {
    almaty_2013_success_portal: "mio-almaty", "almaty-2013-housing-queue", "portal", Branch::Success;
    almaty_2013_refusal_con: "mio-almaty", "almaty-2013-housing-queue", "con", Branch::Refusal;
    almaty_2013_incomplete_portal: "mio-almaty", "almaty-2013-housing-queue", "portal", Branch::Incomplete;
    almaty_2013_incomplete_con: "mio-almaty", "almaty-2013-housing-queue", "con", Branch::Incomplete;
    almaty_2013_success_con: "mio-almaty", "almaty-2013-housing-queue", "con", Branch::Success;
    atyrau_2012_success_con: "mio-atyrau", "atyrau-2012-housing-queue", "con", Branch::Success;
    atyrau_2012_refusal_portal: "mio-atyrau", "atyrau-2012-housing-queue", "portal", Branch::Refusal;
    atyrau_2012_incomplete_portal: "mio-atyrau", "atyrau-2012-housing-queue", "portal", Branch::Incomplete;
    atyrau_2014_success_portal: "mio-atyrau", "atyrau-2014-housing-queue", "portal", Branch::Success;
    atyrau_2014_refusal_con: "mio-atyrau", "atyrau-2014-housing-queue", "con", Branch::Refusal;
    atyrau_2014_incomplete_con: "mio-atyrau", "atyrau-2014-housing-queue", "con", Branch::Incomplete;
    akzhar_2012_success_portal: "mio-nko", "akzhar-2012-housing-queue", "portal", Branch::Success;
    akzhar_2012_refusal_con: "mio-nko", "akzhar-2012-housing-queue", "con", Branch::Refusal;
    akzhar_2012_incomplete_portal: "mio-nko", "akzhar-2012-housing-queue", "portal", Branch::Incomplete;
    akzhar_2012_success_con: "mio-nko", "akzhar-2012-housing-queue", "con", Branch::Success;
    atyrau_2012_refusal_con: "mio-atyrau", "atyrau-2012-housing-queue", "con", Branch::Refusal;
    almaty_2016_assistance_incomplete_con: "mio-almaty", "almaty-2016-housing-assistance", "con", Branch::Incomplete;
    almaty_2016_assistance_success_con: "mio-almaty", "almaty-2016-housing-assistance", "con", Branch::Success;
    almaty_2016_assistance_refusal_portal: "mio-almaty", "almaty-2016-housing-assistance", "portal", Branch::Refusal;
    almaty_2016_assistance_incomplete_portal: "mio-almaty", "almaty-2016-housing-assistance", "portal", Branch::Incomplete;
    kyzylzhar_test_success_portal: "mio-nko", "kyzylzhar-2026-housing-queue", "portal", Branch::Success;
    kyzylzhar_test_refusal_portal: "mio-nko", "kyzylzhar-2026-housing-queue", "portal", Branch::Refusal;
    kyzylzhar_test_incomplete_portal: "mio-nko", "kyzylzhar-2026-housing-queue", "portal", Branch::Incomplete;
}
