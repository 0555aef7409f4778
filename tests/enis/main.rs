//! ЕНИС through the gateway: every verdict of `enis.poa.check` on the named powers of
//! attorney, the refusals, the check log and the access table, on real servers.

use egov_contracts::ErrorBody;
use egov_contracts::enis::{Invalidity, PoaCheckAnswer, errors, services};
use egov_grpc::Listening as _;
use egov_shep_client::{Client, Reply, codes};
use egov_synth::fixtures::{self, NamedPoa, iin_of};
use egov_testkit::World;
use serde_json::{Value, json};
use sqlx::Connection;
use time::Duration;

fn today() -> time::Date {
    egov_enis::service::today()
}

async fn setup() -> World {
    let mut w = World::new(&["shep"]).await;
    let enis = egov_enis::Enis::build(egov_enis::Config {
        system: w.system_config("enis", "enis"),
    })
    .await
    .unwrap();
    let mut conn = sqlx::PgConnection::connect(&w.db.url).await.unwrap();
    let mut conn = conn.begin().await.unwrap();
    egov_enis::seed::prepare(&mut conn, "enis").await.unwrap();
    let data = egov_synth::data();
    let mut copy = conn
        .copy_in_raw(&egov_enis::seed::copy_notaries_sql("enis"))
        .await
        .unwrap();
    copy.send(egov_enis::seed::notary_rows(data)).await.unwrap();
    copy.finish().await.unwrap();
    let mut rows = Vec::new();
    egov_enis::seed::poa_rows(data, &fixtures::household(today()).poas, &mut rows);
    let mut copy = conn
        .copy_in_raw(&egov_enis::seed::copy_poas_sql("enis"))
        .await
        .unwrap();
    copy.send(rows).await.unwrap();
    copy.finish().await.unwrap();
    conn.commit().await.unwrap();
    w.register("enis", enis.grpc_addr());
    w.spawn(enis.run(w.cancel.clone()));
    w.start();
    w
}

fn named(key: &str) -> NamedPoa {
    fixtures::named_poas(today())
        .into_iter()
        .find(|p| p.key == key)
        .unwrap()
}

fn request(p: &NamedPoa, service: &str) -> Value {
    json!({
        "number": p.poa.number,
        "principal_iin": p.poa.principal.as_string(),
        "representative_iin": p.poa.representative.as_string(),
        "service": service,
        "purpose": {"service": service, "application": "ЦОН-0001", "requester_iin": iin_of("family-father").as_string()},
    })
}

async fn check(c: &Client, body: Value) -> Reply {
    c.call(
        services::POA_CHECK,
        "",
        "",
        serde_json::to_vec(&body).unwrap(),
    )
    .await
    .unwrap()
}

async fn verdict(c: &Client, body: Value) -> PoaCheckAnswer {
    let r = check(c, body).await;
    assert!(r.is_success(), "{:?}", r.info);
    assert_eq!(r.responder, "enis");
    serde_json::from_slice(&r.payload).unwrap()
}

#[tokio::test]
async fn every_state_of_a_power_of_attorney() {
    let w = setup().await;
    let con = w.client("con-is");

    let a = verdict(&con, request(&named("valid"), "housing-queue")).await;
    assert!(a.valid, "{a:?}");
    assert_eq!(a.reason, None);
    assert_eq!(a.checked_on, today());
    let poa = a.poa.unwrap();
    assert_eq!(poa.scope, vec!["housing-queue"]);
    assert!(!poa.notary.is_empty());

    let a = verdict(&con, request(&named("valid-all"), "housing-assistance")).await;
    assert!(a.valid, "{a:?}");

    for (key, service, reason) in [
        ("valid", "housing-assistance", Invalidity::OutOfScope),
        ("expired", "housing-queue", Invalidity::Expired),
        ("revoked", "housing-queue", Invalidity::Revoked),
        ("out-of-scope", "housing-queue", Invalidity::OutOfScope),
        ("not-yet-valid", "housing-queue", Invalidity::NotYetValid),
    ] {
        let a = verdict(&con, request(&named(key), service)).await;
        assert!(!a.valid, "{key}");
        assert_eq!(a.reason, Some(reason), "{key}: {}", a.message);
        assert!(a.poa.is_some(), "{key}: the parties were named right");
        assert!(!a.message.is_empty());
    }
    let revoked = verdict(&con, request(&named("revoked"), "housing-queue")).await;
    assert!(revoked.poa.unwrap().revoked);

    // the day checked decides: a valid one is expired after its end, not yet valid before
    let p = named("valid");
    let mut body = request(&p, "housing-queue");
    body["on"] = json!(egov_contracts::date::format(
        p.poa.valid_until + Duration::days(1)
    ));
    assert_eq!(verdict(&con, body).await.reason, Some(Invalidity::Expired));
    let mut body = request(&p, "housing-queue");
    body["on"] = json!(egov_contracts::date::format(
        p.poa.valid_from - Duration::days(1)
    ));
    assert_eq!(
        verdict(&con, body).await.reason,
        Some(Invalidity::NotYetValid)
    );
    let nyv = named("not-yet-valid");
    let mut body = request(&nyv, "housing-queue");
    body["on"] = json!(egov_contracts::date::format(nyv.poa.valid_from));
    assert!(verdict(&con, body).await.valid);
}

#[tokio::test]
async fn absent_and_wrong_parties_disclose_nothing() {
    let w = setup().await;
    let con = w.client("con-is");
    let p = named("valid");

    let mut body = request(&p, "housing-queue");
    body["number"] = json!("20259999999999");
    let a = verdict(&con, body).await;
    assert_eq!(a.reason, Some(Invalidity::Absent));
    assert!(a.poa.is_none());

    let mut body = request(&p, "housing-queue");
    body["principal_iin"] = json!(iin_of("family-father").as_string());
    let a = verdict(&con, body).await;
    assert_eq!(a.reason, Some(Invalidity::OtherPrincipal));
    assert!(
        a.poa.is_none(),
        "the other principal's power of attorney stays hidden"
    );

    let mut body = request(&p, "housing-queue");
    body["representative_iin"] = json!(iin_of("family-mother").as_string());
    let a = verdict(&con, body).await;
    assert_eq!(a.reason, Some(Invalidity::OtherRepresentative));
    assert!(a.poa.is_none());
}

#[tokio::test]
async fn bad_requests_are_refused_and_checks_are_logged() {
    let w = setup().await;
    let con = w.client("con-is");
    let p = named("valid");
    for (mutate, code) in [
        (
            json!({"principal_iin": "870312300047"}),
            errors::INVALID_IIN,
        ),
        (json!({"representative_iin": "12"}), errors::INVALID_IIN),
        (json!({"number": "  "}), errors::INVALID_REQUEST),
        (json!({"service": ""}), errors::INVALID_REQUEST),
        (json!({"on": "01.12.2026"}), errors::INVALID_REQUEST),
        (json!({"notary": "x"}), errors::INVALID_REQUEST),
        (
            json!({"purpose": {"requester_iin": "000000000000"}}),
            errors::INVALID_IIN,
        ),
    ] {
        let mut body = request(&p, "housing-queue");
        for (k, v) in mutate.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = check(&con, body.clone()).await;
        assert_eq!(r.code(), codes::BUSINESS_ERROR, "{body}");
        let e: ErrorBody = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(e.code, code, "{body}: {}", e.message);
    }
    let r = con
        .call(services::POA_CHECK, "", "", b"{".to_vec())
        .await
        .unwrap();
    assert_eq!(
        r.info.error_info.unwrap().error_code,
        errors::INVALID_REQUEST
    );

    verdict(&con, request(&named("expired"), "housing-queue")).await;
    let mut conn = sqlx::PgConnection::connect(&w.db.url).await.unwrap();
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "select system, number, outcome, application from enis.check_log order by id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "refused requests are not checks: {rows:?}");
    assert_eq!(rows[0].0, "con-is");
    assert_eq!(rows[0].1, named("expired").poa.number);
    assert_eq!(rows[0].2, "expired");
    assert_eq!(rows[0].3.as_deref(), Some("ЦОН-0001"));
}

#[tokio::test]
async fn only_the_systems_of_the_access_table_may_ask() {
    let w = setup().await;
    // the portal has no right to ЕНИС in the access table: the gateway refuses
    let r = check(
        &w.client("portal"),
        request(&named("valid"), "housing-queue"),
    )
    .await;
    assert_eq!(r.code(), codes::ACCESS_DENIED);
    assert_eq!(r.responder, "shep");
}
