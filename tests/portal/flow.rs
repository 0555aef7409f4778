//! Channel A through the portal's API, for every regulation with a portal channel: from
//! the registration to the signed result in the cabinet, the provider's employees
//! driving the procedure through ИС МИО's АРМ API.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{Branch, drive, registered};
use crate::world::*;

/// Registration, the draft, the scans, the signature; the application once ИС МИО has
/// registered it (its number there).
async fn submitted(
    env: &crate::common::Env,
    portal: &Portal,
    regulation: &str,
    citizen_key: &str,
) -> (Cabinet, String, egov_mio_is::store::Application) {
    let reg = portal.regulation(regulation);
    let cab = citizen(portal, citizen_key).await;
    let number = cab.draft(&reg, env.clock.today()).await;
    cab.attach_all(&reg, &number).await;
    let bytes = cab.sign_request(&number).await;
    let doc: egov_contracts::mio::ApplicationDocument = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc.channel, "portal");
    assert_eq!(doc.applicant.iin, cab.iin);
    assert!(doc.applicant.surname.is_some(), "ГБД ФЛ's data: {doc:?}");
    let (s, v) = cab
        .sign_with(&number, &cms(&env.citizen(citizen_key), &bytes))
        .await;
    assert_eq!(s, 202, "{regulation}: {v}");
    assert_eq!(v["state"], "sent");
    assert_eq!(v["signer"]["iin"], cab.iin.as_str());
    let message_id = v["message_id"].as_str().unwrap().to_string();
    let app = registered(env, &reg.system, &message_id).await;
    assert_eq!(app.regulation_id, regulation);
    assert_eq!(app.applicant_iin, cab.iin);
    (cab, number, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_a_of_every_regulation_from_registration_to_the_signed_result() {
    let (env, portal) = world(&["mio-almaty", "mio-atyrau", "mio-nko"]).await;
    // the portal channel's steps the portal executes, as the files draw them (the
    // regional gateway's routing, ШЭП's processing and ИС ЦОН's display are theirs)
    for (regulation, citizen_key, portal_steps) in [
        (
            "almaty-2013-housing-queue",
            "family-father",
            &[
                "portal-login",
                "portal-fill-form",
                "portal-sign",
                "portal-show-status",
                "portal-cabinet",
            ][..],
        ),
        (
            "almaty-2016-housing-assistance",
            "family-mother",
            &[
                "portal-signup",
                "portal-login",
                "portal-fill-form",
                "portal-send",
                "portal-receive",
            ],
        ),
        (
            "atyrau-2012-housing-queue",
            "atyrau",
            &[
                "portal-login",
                "portal-fill-form",
                "portal-sign-and-send",
                "portal-answer",
                "portal-view-result",
            ],
        ),
        (
            "atyrau-2014-housing-queue",
            "family-son",
            &[
                "portal-signup",
                "portal-login",
                "portal-fill-form",
                "portal-send",
                "portal-receive-result",
            ],
        ),
        (
            "akzhar-2012-housing-queue",
            "akzhar",
            &[
                "portal-login",
                "portal-fill-form",
                "portal-sign-and-send",
                "portal-receive",
            ],
        ),
    ] {
        let reg = portal.regulation(regulation);
        let (cab, number, app) = submitted(&env, &portal, regulation, citizen_key).await;
        // the gateway took it
        cab.until(&number, "delivery", |v| v["state"] == "delivered")
            .await;
        let shows_statuses = reg
            .channel("portal")
            .unwrap()
            .status_to
            .iter()
            .any(|s| s == "portal");
        if shows_statuses {
            let v = cab
                .until(&number, "ИС МИО's registration", |v| {
                    v["mio_number"] == app.number.as_str()
                })
                .await;
            assert_eq!(v["statuses"][0]["status"], "received", "{v}");
            assert!(v["due_at"].is_string(), "{v}");
        }
        // the provider's procedure, as its employees do it
        drive(&env, &reg.system, &app.number, Branch::Success).await;
        let done = cab
            .until(&number, "the result", |v| v["result"].is_object())
            .await;
        assert_eq!(
            done["status"]["status"], "completed",
            "{regulation}: {done}"
        );
        let (s, pdf) = cab
            .bytes(&format!("/api/v1/applications/{number}/result.pdf"))
            .await;
        assert_eq!(s, 200);
        assert!(pdf.starts_with(b"%PDF-"), "{regulation}");
        let (s, sig) = cab
            .bytes(&format!("/api/v1/applications/{number}/result.p7s"))
            .await;
        assert_eq!(s, 200);
        // the result and the provider's signature check out at the portal's verifier
        let b64 = base64::engine::general_purpose::STANDARD;
        let r = env
            .http
            .post(format!("{}/api/v1/verify", portal.http))
            .json(&json!({"document": b64.encode(&pdf), "signature": b64.encode(&sig)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let verdict: Value = r.json().await.unwrap();
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["signer"]["iin"], done["result"]["signer_iin"]);
        let mut tampered = pdf.clone();
        tampered[10] ^= 1;
        let verdict: Value = env
            .http
            .post(format!("{}/api/v1/verify", portal.http))
            .json(&json!({"document": b64.encode(&tampered), "signature": b64.encode(&sig)}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(verdict["valid"], false, "{verdict}");
        assert_eq!(verdict["code"], "SIGNATURE_INVALID", "{verdict}");
        // the quality survey of the regulation's last appendix, once the service is
        // rendered; a regulation whose seed prints none has none
        let (s, v) = cab
            .post(
                &format!("/api/v1/applications/{number}/survey"),
                json!({"process": "satisfied", "information": "partly-satisfied"}),
            )
            .await;
        if egov_regulation::survey::of(&reg).is_some() {
            assert_eq!(s, 204, "{regulation}: {v}");
            // counted for the dashboards' survey panel
            let page = reqwest::get(format!("{}/metrics", portal.http))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let counted = page.lines().any(|l| {
                l.starts_with("egov_survey_answers_total{")
                    && l.contains(&format!(r#"regulation="{regulation}""#))
                    && l.contains(r#"question="quality""#)
                    && l.contains(r#"answer="satisfied""#)
            });
            assert!(counted, "{regulation}: {page}");
        } else {
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (422, Some("NO_SURVEY")),
                "{regulation}: {v}"
            );
        }
        // «История получения услуг»
        let (s, list) = cab.get("/api/v1/applications").await;
        assert_eq!(s, 200);
        let row = &list["applications"][0];
        assert_eq!(row["number"], number.as_str());
        assert_eq!(row["status"], "completed");
        assert_eq!(row["result_ready"], true);
        assert_eq!(row["mio_number"], app.number.as_str());
        // every step of the portal's lanes done, in order, each due by its deadline or
        // the span over it, none late; the diamonds passed with `yes`
        let (_, v) = cab.get(&format!("/api/v1/applications/{number}")).await;
        let runs = v["steps"].as_array().unwrap();
        let ids: Vec<&str> = runs
            .iter()
            .map(|r| r["step_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, portal_steps, "{regulation}: {v}");
        let ch = reg.channel("portal").unwrap();
        for r in runs {
            let id = r["step_id"].as_str().unwrap();
            let s = ch.step(id).unwrap();
            assert!(r["completed_at"].is_string(), "{regulation}: {r}");
            assert_eq!(r["overdue"], false, "{regulation}: {r}");
            let timed = s.deadline.is_some() || reg.span_over(id, "portal").is_some();
            assert_eq!(r["due_at"].is_string(), timed, "{regulation}: {r}");
            if !s.conditions.is_empty() {
                assert_eq!(r["outcome"], "yes", "{regulation}: {r}");
            }
            let by = if s.lane == "citizen" {
                cab.iin.as_str()
            } else {
                "portal"
            };
            assert_eq!(r["completed_by"], by, "{regulation}: {r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_number_and_every_status_reach_the_cabinet_in_order() {
    let (env, portal) = world(&["mio-almaty"]).await;
    let (cab, number, app) =
        submitted(&env, &portal, "almaty-2013-housing-queue", "family-father").await;
    drive(&env, "mio-almaty", &app.number, Branch::Success).await;
    let done = cab
        .until(&number, "the result", |v| v["result"].is_object())
        .await;
    let history: Vec<&str> = done["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(history.first(), Some(&"received"), "{history:?}");
    assert_eq!(history.last(), Some(&"completed"), "{history:?}");
    for s in done["statuses"].as_array().unwrap() {
        assert!(
            s["at"].is_string() && s["status_ru"].is_string() && s["status_kk"].is_string(),
            "{s}"
        );
    }
    // registered on the waiting list: its number there
    assert!(done["queue"]["number"].as_i64().is_some(), "{done}");
    let (_, list) = cab.get("/api/v1/applications").await;
    assert_eq!(
        list["applications"][0]["queue_number"],
        done["queue"]["number"]
    );
    // the current position, asked of ИС МИО through the sync channel
    let (s, q) = cab
        .get(&format!("/api/v1/applications/{number}/queue-position"))
        .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["queue_number"], done["queue"]["number"]);
    assert_eq!(q["mio_number"], app.number.as_str());
    assert_eq!(
        (q["position"].as_i64(), q["waiting"].as_i64()),
        (Some(1), Some(1)),
        "{q}"
    );
    // an application not on the list has no place
    let reg = portal.regulation("almaty-2013-housing-queue");
    let draft = cab.draft(&reg, env.clock.today()).await;
    let (s, v) = cab
        .get(&format!("/api/v1/applications/{draft}/queue-position"))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NOT_IN_QUEUE")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_taken_at_a_centre_is_in_its_applicants_history() {
    let (env, portal) = world(&["mio-almaty"]).await;
    let reg = portal.regulation("almaty-2013-housing-queue");
    let stranger = citizen(&portal, "family-mother").await;
    // ИС ЦОН's operator takes the application of the father, who has no account here
    let mut doc = crate::common::application(&reg, "family-father", "con", env.clock.today());
    let op = env.operator();
    crate::common::operator_for(&mut doc, &op);
    let reply = crate::common::send(&env, "con-is", "almaty", &doc, &op).await;
    let app = registered(&env, &reg.system, &reply.message_id).await;
    drive(&env, &reg.system, &app.number, Branch::Success).await;
    // every status reaches the portal before he registers
    let mut kept = 0_i64;
    for _ in 0..400 {
        kept = sqlx::query_scalar(
            "select count(*) from statuses s join applications a on a.id = s.application_id
             where a.number = $1 and s.status = 'completed'",
        )
        .bind(&app.number)
        .fetch_one(&portal.core.pool)
        .await
        .unwrap();
        if kept > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(kept, 1, "the final status is kept for the father's IIN");
    let cab = citizen(&portal, "family-father").await;
    // the regulation shows channel C's statuses on the portal: once he registers, the
    // father's history has it under ИС МИО's number, with each status as it came
    let v = cab
        .until(&app.number, "the final status", |v| {
            v["status"]["status"] == "completed"
        })
        .await;
    assert_eq!(v["state"], "at-centre", "{v}");
    let seen: Vec<&str> = v["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(seen.first(), Some(&"received"), "{seen:?}");
    let (_, list) = cab.get("/api/v1/applications").await;
    assert!(
        list["applications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["number"] == app.number.as_str()),
        "{list}"
    );
    // nobody else sees it
    let (s, _) = stranger
        .get(&format!("/api/v1/applications/{}", app.number))
        .await;
    assert_eq!(s, 404);
    let (_, theirs) = stranger.get("/api/v1/applications").await;
    assert_eq!(theirs["applications"], json!([]));
}
