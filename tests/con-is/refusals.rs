//! Refusals at the desk: each in the operator's language, with nothing sent and nothing
//! half-written.

use serde_json::{Value, json};
use std::time::Duration;

use crate::world::*;
use egov_synth::fixtures::iin_of;

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_absent_or_deceased_or_cancelled_is_refused_with_nothing_written() {
    let (_env, con) = world(&[]).await;
    let desk = Desk::inspector(&con, "akzhar").await;
    for (citizen, code) in [
        ("absent", "PERSON_NOT_FOUND"),
        ("deceased", "PERSON_DECEASED"),
        ("cancelled", "IIN_CANCELLED"),
    ] {
        let iin = iin_of(citizen).as_string();
        let (s, v) = desk
            .post(
                "/api/v1/applications",
                json!({"regulation": "akzhar-2012-housing-queue", "iin": iin}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (404, Some(code)),
            "{citizen}: {v}"
        );
        assert!(message(&v).starts_with("Невозможно получить данные"), "{v}");
        assert!(message(&v).contains(&iin), "{v}");
    }
    // the same in Kazakh
    let kk = Desk::inspector(&con, "akzhar").await.kazakh();
    let (s, v) = kk
        .post(
            "/api/v1/applications",
            json!({"regulation": "akzhar-2012-housing-queue", "iin": iin_of("absent").as_string()}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(message(&v).starts_with("Деректерді алу мүмкін емес"), "{v}");
    assert_eq!(rows(&con, "applications").await, 0);
    assert_eq!(rows(&con, "step_runs").await, 0);
    assert_eq!(
        rows(&con, "counters").await,
        0,
        "no journal number was taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_of_attorney_absent_or_invalid_is_refused_with_nothing_written() {
    let (env, con) = world(&[]).await;
    let desk = Desk::inspector(&con, "almaty-almaly").await;
    let poas = egov_synth::fixtures::named_poas(env.clock.today());
    let number = |k: &str| poas.iter().find(|p| p.key == k).unwrap().poa.number.clone();
    let rep = iin_of("representative").as_string();
    for (principal, poa, reason, words) in [
        (
            "family-father",
            "199900000000".to_string(),
            "absent",
            "в ЕНИС отсутствует",
        ),
        (
            "family-father",
            number("expired"),
            "expired",
            "срок её действия истёк",
        ),
        ("family-mother", number("revoked"), "revoked", "отменена"),
        (
            "expired-id",
            number("out-of-scope"),
            "out-of-scope",
            "не распространяется",
        ),
        // someone else's power of attorney: Atyrau's principal gave it
        (
            "family-father",
            number("valid"),
            "other-principal",
            "другим доверителем",
        ),
    ] {
        let (s, v) = desk
            .post(
                "/api/v1/applications",
                json!({
                    "regulation": "almaty-2013-housing-queue",
                    "iin": iin_of(principal).as_string(),
                    "representative": {"iin": rep, "poa_number": poa},
                }),
            )
            .await;
        assert_eq!(s, 422, "{reason}: {v}");
        assert_eq!(v["error"]["code"], "POA_NOT_CONFIRMED", "{v}");
        assert_eq!(v["error"]["details"]["reason"], reason, "{v}");
        assert!(message(&v).contains(words), "{reason}: {v}");
    }
    // a representative without the number of the power of attorney
    let (s, v) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": "almaty-2013-housing-queue", "iin": iin_of("family-father").as_string(),
                   "representative": {"iin": rep, "poa_number": "  "}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("POA_REQUIRED")),
        "{v}"
    );
    assert_eq!(rows(&con, "applications").await, 0);
    assert_eq!(rows(&con, "step_runs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_set_gets_the_refusal_receipt_and_nothing_is_sent() {
    let (env, con) = world(&["mio-atyrau"]).await;
    let desk = Desk::inspector(&con, "atyrau-city").await;
    let reg = regulation("atyrau-2014-housing-queue");
    let (s, draft) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": reg.id, "iin": iin_of("atyrau").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{draft}");
    let number = draft["number"].as_str().unwrap().to_string();
    let mut body = submission(&reg);
    let docs = body["documents"].as_array_mut().unwrap();
    let dropped = docs.remove(1);
    // a document marked neither as paper nor scanned is not there either
    docs[0]["paper"] = json!(false);
    docs[0]["content"] = Value::Null;
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            body.clone(),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "DOCUMENTS_INCOMPLETE");
    assert!(
        message(&v).starts_with("Документы представлены не полностью"),
        "{v}"
    );
    let missing: Vec<&str> = v["error"]["details"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        missing.contains(&dropped["kind"].as_str().unwrap()),
        "{missing:?}"
    );
    assert_eq!(missing.len(), 2, "{missing:?}");
    // the application is refused (its steps: the diamond «no», the refusal receipt)
    let (_, app) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(app["state"], "refused");
    assert!(app["message_id"].is_null(), "nothing was sent: {app}");
    let steps: Vec<(String, Value)> = app["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step_id"].as_str().unwrap().to_string(),
                s["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("con-receive-documents".to_string(), json!("no")),
            ("con-refuse-acceptance".to_string(), Value::Null)
        ]
    );
    let (s, pdf) = desk
        .bytes(&format!("/api/v1/applications/{number}/receipt.pdf"))
        .await;
    assert_eq!(s, 200);
    if let Some(text) = crate::common::pdf_text(&pdf) {
        assert!(
            text.contains("Расписка об отказе в приеме документов"),
            "{text}"
        );
        assert!(
            text.contains("Құжаттарды қабылдаудан бас тарту туралы қолхат"),
            "{text}"
        );
        let name = &reg
            .documents
            .iter()
            .find(|d| d.id == dropped["kind"].as_str().unwrap())
            .unwrap()
            .name
            .ru;
        let first_words: String = name
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.contains(&first_words), "{first_words} in {text}");
    }
    // a refused application is not submitted again
    let (s, v) = desk
        .post(
            &format!("/api/v1/applications/{number}/submit"),
            submission(&reg),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{v}"
    );
    // and ИС МИО never heard of it
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pool = &env.mio("mio-atyrau").engine.pool;
    let n: i64 = sqlx::query_scalar("select count(*) from applications")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_form_is_refused_before_signing_and_the_draft_stays() {
    let (_env, con) = world(&[]).await;
    let desk = Desk::inspector(&con, "akzhar").await.kazakh();
    let reg = regulation("akzhar-2012-housing-queue");
    let (s, draft) = desk
        .post(
            "/api/v1/applications",
            json!({"regulation": reg.id, "iin": iin_of("akzhar").as_string()}),
        )
        .await;
    assert_eq!(s, 201, "{draft}");
    let number = draft["number"].as_str().unwrap().to_string();
    let mut body = submission(&reg);
    body["phone"] = json!("не телефон");
    let (s, v) = desk
        .post(&format!("/api/v1/applications/{number}/submit"), body)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("INVALID_FORM")),
        "{v}"
    );
    assert!(message(&v).starts_with("нысан қате толтырылған"), "{v}");
    assert!(message(&v).contains("Телефон"), "{v}");
    let (_, app) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(app["state"], "draft", "{app}");
    assert!(app["message_id"].is_null());
    let steps = app["steps"].as_array().unwrap().len();
    assert_eq!(steps, egov_con_is::steps::plan(&reg).draft.len(), "{app}");
}
