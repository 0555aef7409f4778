//! Channel C through the operator API.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{Branch, drive, pdf_text, registered};
use crate::world::*;

/// Takes an application of `citizen` for `regulation` at `centre` to ИС МИО's
/// registration; returns the view at ИС ЦОН once the status «received» is back.
pub(crate) async fn to_registration(
    env: &crate::common::Env,
    con: &Con,
    centre: &str,
    regulation: &str,
    citizen: &str,
    representative: Option<Value>,
) -> (Desk, Value) {
    let desk = Desk::inspector(con, centre).await;
    let reg = crate::world::regulation(regulation);
    let mut body =
        json!({"regulation": regulation, "iin": egov_synth::fixtures::iin_of(citizen).as_string()});
    if let Some(r) = representative {
        body["representative"] = r;
    }
    let (s, draft) = desk.post("/api/v1/applications", body).await;
    assert_eq!(s, 201, "{regulation}: {draft}");
    assert_eq!(draft["state"], "draft");
    let number = draft["number"].as_str().unwrap().to_string();
    let plan = egov_con_is::steps::plan(&reg);
    let done: Vec<&str> = draft["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        done,
        plan.draft.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        "{regulation}: the draft's steps"
    );
    let (s, sent) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            submission(&reg),
        )
        .await;
    assert_eq!(s, 200, "{regulation}: {sent}");
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["delivery"]["state"], "delivered", "{sent}");
    // every step of the desk done, with its time and due time; the next lane's opened
    let steps = sent["steps"].as_array().unwrap();
    for want in plan.draft.iter().chain(&plan.submit) {
        let got = steps
            .iter()
            .find(|s| s["step_id"] == want.id.as_str())
            .unwrap_or_else(|| panic!("{regulation}: step {} not recorded: {sent}", want.id));
        assert!(got["completed_at"].is_string(), "{got}");
        assert_eq!(got["completed_by"], desk.iin.as_str());
        assert_eq!(got["overdue"], false, "{got}");
    }
    if let Some(next) = plan.next_task {
        let open = steps
            .iter()
            .find(|s| s["step_id"] == next.id.as_str())
            .unwrap();
        assert!(
            open["completed_at"].is_null() && open["due_at"].is_string(),
            "{open}"
        );
    }
    let message_id = sent["message_id"].as_str().unwrap().to_string();
    let system = reg.system.clone();
    let app = registered(env, &system, &message_id).await;
    assert_eq!(app.regulation_id, regulation);
    assert_eq!(
        app.applicant_iin,
        egov_synth::fixtures::iin_of(citizen).as_string()
    );
    if !reg
        .channel("con")
        .unwrap()
        .status_to
        .iter()
        .any(|s| s == "con-is")
    {
        // the file sends ИС ЦОН no statuses on this channel (only the result, at the end)
        let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
        assert!(v["status"].is_null(), "{v}");
        return (desk, v);
    }
    let v = desk
        .until(&number, "status from ИС МИО", |v| {
            v["mio_number"] == app.number.as_str()
        })
        .await;
    assert_eq!(v["status"]["status"], "received", "{v}");
    (desk, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_c_of_every_regulation_reaches_the_provider_and_back() {
    let (env, con) = world(&["mio-almaty", "mio-atyrau", "mio-nko"]).await;
    for (centre, regulation, citizen) in [
        (
            "almaty-almaly",
            "almaty-2013-housing-queue",
            "family-father",
        ),
        (
            "almaty-bostandyk",
            "almaty-2016-housing-assistance",
            "family-mother",
        ),
        ("atyrau-city", "atyrau-2012-housing-queue", "atyrau"),
        ("atyrau-zhylyoi", "atyrau-2014-housing-queue", "atyrau"),
        ("akzhar-mobile", "akzhar-2012-housing-queue", "akzhar"),
    ] {
        let (desk, v) = to_registration(&env, &con, centre, regulation, citizen, None).await;
        // the receipt, in Russian and Kazakh, with the journal number
        let number = v["number"].as_str().unwrap();
        assert!(number.starts_with(&format!(
                "{}-",
                egov_con_is::centres::shipped()
                    .unwrap()
                    .iter()
                    .find(|c| c.id == centre)
                    .unwrap()
                    .code
            )));
        let (s, pdf) = desk
            .bytes(&format!("/api/v1/applications/{number}/receipt.pdf"))
            .await;
        assert_eq!(s, 200);
        assert!(pdf.starts_with(b"%PDF-"));
        if let Some(text) = pdf_text(&pdf) {
            assert!(text.contains("Расписка о приеме документов"), "{text}");
            assert!(text.contains("Құжаттарды қабылдау туралы қолхат"), "{text}");
            assert!(text.contains(number), "{text}");
        }
    }
    // an operator's key is issued on their first signature, and only then, kept sealed
    let keyed: Vec<String> = sqlx::query_scalar(
        "select iin from operators where key_sealed is not null and key_pem is null and centre_id = 'almaty-almaly'",
    )
    .fetch_all(&con.core.pool)
    .await
    .unwrap();
    assert_eq!(
        keyed,
        [operator(
            "almaty-almaly",
            egov_con_is::operators::Role::Inspector,
            0
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_representative_through_the_commission_to_the_signed_result() {
    let (env, con) = world(&["mio-nko"]).await;
    let poa = egov_synth::fixtures::named_poas(env.clock.today())
        .into_iter()
        .find(|p| p.key == "valid-all")
        .unwrap()
        .poa;
    let (desk, v) = to_registration(
        &env,
        &con,
        "akzhar",
        "akzhar-2012-housing-queue",
        "akzhar",
        Some(json!({"iin": egov_synth::fixtures::iin_of("representative").as_string(), "poa_number": poa.number})),
    )
    .await;
    assert_eq!(
        v["representative_iin"],
        egov_synth::fixtures::iin_of("representative").as_string()
    );
    let number = v["number"].as_str().unwrap().to_string();
    let mio_number = v["mio_number"].as_str().unwrap().to_string();
    // the provider's procedure, as its employees do it
    drive(&env, "mio-nko", &mio_number, Branch::Success).await;
    let done = desk
        .until(&number, "the result", |v| v["result"].is_object())
        .await;
    assert_eq!(done["status"]["status"], "completed", "{done}");
    let history: Vec<&str> = done["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(history.first(), Some(&"received"), "{history:?}");
    // the leg after the procedure: the result waits for the citizen; the step
    // begins only when the citizen is at the desk (the cover's scan)
    assert_eq!(done["paper"]["state"], "ready", "{done}");
    assert!(
        !done["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step_id"] == "con-issue"),
        "{done}"
    );
    // the result's PDF, and its signature by the provider's authorised person
    let (s, pdf) = desk
        .bytes(&format!("/api/v1/applications/{number}/result.pdf"))
        .await;
    assert_eq!(s, 200);
    let row: Value = sqlx::query_scalar("select result from applications where number = $1")
        .bind(&number)
        .fetch_one(&con.core.pool)
        .await
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = b64.decode(row["signature"].as_str().unwrap()).unwrap();
    let signer = env
        .w
        .verifier()
        .verify_detached(&pdf, &sig, &egov_pki::VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        signer.identity.iin.map(|i| i.as_string()).as_deref(),
        row["signer_iin"].as_str()
    );
    let mut tampered = pdf.clone();
    tampered[20] ^= 1;
    assert!(
        env.w
            .verifier()
            .verify_detached(&tampered, &sig, &egov_pki::VerifyOptions::default())
            .await
            .is_err()
    );
    // the public look-up, by either number, without login and without the person
    for key in [&number, &mio_number] {
        let r = env
            .http
            .get(format!("{}/api/v1/public/applications/{key}", con.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["number"], number.as_str());
        assert_eq!(p["status"], "completed");
        assert_eq!(p["result_ready"], true);
        let text = p.to_string();
        assert!(
            !text.contains(&egov_synth::fixtures::iin_of("akzhar").as_string()),
            "{text}"
        );
        assert!(!text.to_lowercase().contains("applicant"), "{text}");
    }
    // the representative collects the result: scanned, their IIN checked, the survey
    let issuer = Desk::login(
        &con,
        &operator("akzhar", egov_con_is::operators::Role::Issuer, 0),
    )
    .await;
    let (s, found) = issuer.post("/api/v1/scan", json!({"text": number})).await;
    assert_eq!(s, 200, "{found}");
    let rep = egov_synth::fixtures::iin_of("representative").as_string();
    let (s, issued) = issuer
        .post(
            &format!("/api/v1/applications/{number}/issue"),
            json!({"iin": rep, "survey": {"quality": "satisfied", "information": "satisfied"}}),
        )
        .await;
    assert_eq!(s, 200, "{issued}");
    assert_eq!(issued["paper"]["issued_to_iin"], rep.as_str());
    assert_eq!(issued["paper"]["survey"]["information"], "satisfied");
}
