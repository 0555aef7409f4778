//! ГБД ФЛ through the gateway: every answer of every service, the field policy, the
//! access log, and the refusals, against real servers (uc, ШЭП, РШЭП Алматы, ГБД ФЛ),
//! PostgreSQL and NATS.

use egov_contracts::ErrorBody;
use egov_contracts::gbd_fl::{
    AccessLogAnswer, AddressCheckAnswer, FamilyAnswer, PersonAnswer, PersonStatus, errors, services,
};
use egov_grpc::Listening as _;
use egov_shep_client::{Client, Reply, codes};
use egov_synth::fixtures::{self, iin_of};
use egov_testkit::World;
use serde_json::{Value, json};
use sqlx::Connection;

struct Setup {
    w: World,
    /// ГБД ФЛ's gRPC address.
    gbd: std::net::SocketAddr,
}

async fn setup() -> Setup {
    setup_with(None).await
}

/// A world with ШЭП and РШЭП Алматы, ГБД ФЛ seeded with the named test citizens.
async fn setup_with(registry: Option<String>) -> Setup {
    setup_full(registry, None).await
}

/// As [`setup_with`], ГБД ФЛ running the field policy `policy` (TOML) when given.
async fn setup_full(registry: Option<String>, policy: Option<&str>) -> Setup {
    let mut opts = egov_testkit::Options::new(&["shep", "rshep-almaty"]);
    opts.registry = registry;
    let mut w = World::with(opts).await;
    let policy_file = policy.map(|text| {
        let p = w.dir.path().join("gbd-fl-policy.toml");
        std::fs::write(&p, text).unwrap();
        p
    });
    let cfg = egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file,
        ..Default::default()
    };
    let gbd = egov_gbd_fl::GbdFl::build(cfg).await.unwrap();
    load_fixtures(&w.db.url).await;
    let gbd_addr = gbd.grpc_addr();
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.start();
    Setup { w, gbd: gbd_addr }
}

async fn load_fixtures(url: &str) {
    let as_of = egov_calendar::today();
    let h = fixtures::household(as_of);
    let (mut persons, mut links) = (Vec::new(), Vec::new());
    egov_gbd_fl::seed::rows(&h, &mut persons, &mut links);
    // as the seeder loads: one transaction, emptied first, keys rebuilt after
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let mut conn = conn.begin().await.unwrap();
    egov_gbd_fl::seed::prepare(&mut conn, "gbd_fl")
        .await
        .unwrap();
    let mut copy = conn
        .copy_in_raw(&egov_gbd_fl::seed::copy_persons_sql("gbd_fl"))
        .await
        .unwrap();
    copy.send(persons).await.unwrap();
    copy.finish().await.unwrap();
    let mut copy = conn
        .copy_in_raw(&egov_gbd_fl::seed::copy_links_sql("gbd_fl"))
        .await
        .unwrap();
    copy.send(links).await.unwrap();
    copy.finish().await.unwrap();
    egov_gbd_fl::seed::finish(&mut conn, "gbd_fl")
        .await
        .unwrap();
    conn.commit().await.unwrap();
}

async fn call(c: &Client, service: &str, body: Value) -> Reply {
    c.call(service, "", "", serde_json::to_vec(&body).unwrap())
        .await
        .unwrap()
}

fn error_of(r: &Reply) -> ErrorBody {
    assert_eq!(r.code(), codes::BUSINESS_ERROR, "{:?}", r.info);
    assert_eq!(r.responder, "gbd-fl");
    let e: ErrorBody = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(
        r.info.error_info.as_ref().unwrap().error_code,
        e.code,
        "errorInfo and payload agree"
    );
    e
}

fn iin(key: &str) -> String {
    iin_of(key).as_string()
}

#[tokio::test]
async fn person_by_iin_with_the_fields_each_caller_may_see() {
    let s = setup().await;
    let con = s.w.client("con-is");
    let r = call(
        &con,
        services::PERSON_GET,
        json!({"iin": iin("family-father"), "purpose": {"service": "housing-queue", "application": "A-1", "requester_iin": iin("representative")}}),
    )
    .await;
    assert!(r.is_success(), "{:?}", r.info);
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    let p = &a.person;
    assert_eq!(p.status, PersonStatus::Alive);
    assert_eq!(p.full_name().unwrap(), "Ахметов Ерлан Сабитович");
    assert_eq!(p.sex.as_deref(), Some("M"));
    assert_eq!(p.birth_date, Some(egov_synth::date(1987, 3, 12)));
    assert_eq!(p.citizenship.as_deref(), Some("KZ"));
    assert_eq!(p.document.as_ref().unwrap().kind, "id-card");
    let addr = p.address.as_ref().unwrap();
    assert_eq!(
        (addr.region_code.as_str(), addr.street.as_str()),
        ("almaty", "ул. Жамбыла")
    );
    assert_eq!(a.withheld, vec!["family"]);

    // the portal does not see the identity document or the citizenship
    let portal = s.w.client("portal");
    let r = call(
        &portal,
        services::PERSON_GET,
        json!({"iin": iin("family-father")}),
    )
    .await;
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(a.person.surname.is_some() && a.person.address.is_some());
    assert!(a.person.document.is_none() && a.person.citizenship.is_none());
    assert!(a.withheld.contains(&"document".to_string()));

    // asking for less gives less; asking for more than allowed gives only what is allowed
    let r = call(
        &con,
        services::PERSON_GET,
        json!({"iin": iin("family-father"), "fields": ["name"]}),
    )
    .await;
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(a.person.surname.is_some());
    assert!(a.person.birth_date.is_none() && a.person.address.is_none());
    let r = call(
        &portal,
        services::PERSON_GET,
        json!({"iin": iin("family-father"), "fields": ["document", "name"]}),
    )
    .await;
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(a.person.document.is_none() && a.person.surname.is_some());

    // ИС МИО asks through its regional gateway: РШЭП Алматы → ШЭП → ГБД ФЛ
    let mio = s.w.client("mio-almaty");
    let r = call(&mio, services::PERSON_GET, json!({"iin": iin("foreigner")})).await;
    assert!(r.is_success());
    assert_eq!(r.info.route, vec!["rshep-almaty", "shep"]);
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.person.citizenship.as_deref(), Some("UZ"));
    assert!(a.person.document.is_none());
}

#[tokio::test]
async fn absent_cancelled_deceased_and_invalid_iins() {
    let s = setup().await;
    let con = s.w.client("con-is");
    let r = call(&con, services::PERSON_GET, json!({"iin": iin("absent")})).await;
    let e = error_of(&r);
    assert_eq!(e.code, errors::PERSON_NOT_FOUND);
    assert!(e.message.contains(&iin("absent")), "{}", e.message);

    let r = call(&con, services::PERSON_GET, json!({"iin": iin("cancelled")})).await;
    let e = error_of(&r);
    assert_eq!(e.code, errors::IIN_CANCELLED);
    assert!(e.details.contains_key("cancelled_on"));
    assert_eq!(e.details["reason"], "дублирование ИИН");

    // a deceased person is found, with the date of death for a caller granted the
    // `death` group (ЦОН, all groups) ...
    let r = call(&con, services::PERSON_GET, json!({"iin": iin("deceased")})).await;
    assert!(r.is_success());
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.person.status, PersonStatus::Deceased);
    assert!(a.person.death_date.is_some());
    assert!(!a.withheld.contains(&"death".to_string()));
    // ... and only the status for one that is not (the provider's system)
    let mio = s.w.client("mio-almaty");
    let r = call(&mio, services::PERSON_GET, json!({"iin": iin("deceased")})).await;
    let a: PersonAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.person.status, PersonStatus::Deceased);
    assert_eq!(a.person.death_date, None);
    assert!(a.person.surname.is_some());
    assert!(
        a.withheld.contains(&"death".to_string()),
        "{:?}",
        a.withheld
    );
    let raw: Value = serde_json::from_slice(&r.payload).unwrap();
    assert!(raw["person"].get("death_date").is_none(), "{raw}");

    // invalid IINs are refused before any look-up, naming the rule
    for (bad, rule) in [
        ("870312300047", "check-digit"),
        ("87031230004", "length"),
        ("871312300046", "birth-date"),
        ("87031270004x", "not-digit"),
    ] {
        let r = call(&con, services::PERSON_GET, json!({"iin": bad})).await;
        let e = error_of(&r);
        assert_eq!(e.code, errors::INVALID_IIN, "{bad}");
        assert_eq!(e.details["rule"], rule, "{bad}");
    }
    let mut conn = sqlx::PgConnection::connect(&s.w.db.url).await.unwrap();
    let logged: i64 = sqlx::query_scalar(
        "select count(*) from gbd_fl.access_log where subject_iin in ('870312300047', '871312300046')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        logged, 0,
        "nothing is looked up (or logged) for an invalid IIN"
    );

    // malformed requests
    for body in [
        json!({"inn": iin("family-father")}),
        json!({"iin": iin("family-father"), "fields": ["shoe-size"]}),
        json!({"iin": iin("family-father"), "purpose": {"requester_iin": "123"}}),
        json!([1, 2, 3]),
    ] {
        let r = call(&con, services::PERSON_GET, body.clone()).await;
        let e = error_of(&r);
        assert!(
            e.code == errors::INVALID_REQUEST || e.code == errors::INVALID_IIN,
            "{body}: {e:?}"
        );
    }
    let r = con
        .call(services::PERSON_GET, "", "", b"not json".to_vec())
        .await
        .unwrap();
    assert_eq!(error_of(&r).code, errors::INVALID_REQUEST);
}

#[tokio::test]
async fn family_composition() {
    let s = setup().await;
    let mio = s.w.client("mio-almaty");
    let r = call(
        &mio,
        services::FAMILY_GET,
        json!({"iin": iin("family-father")}),
    )
    .await;
    assert!(r.is_success(), "{:?}", r.info);
    let a: FamilyAnswer = serde_json::from_slice(&r.payload).unwrap();
    let rel: Vec<(&str, String)> = a
        .members
        .iter()
        .map(|m| (m.relation.as_str(), m.person.iin.clone()))
        .collect();
    assert_eq!(
        rel,
        vec![
            ("spouse", iin("family-mother")),
            ("child", iin("family-son")),
            ("child", iin("family-daughter")),
        ]
    );
    assert!(a.members.iter().all(|m| m.same_address));
    assert_eq!(a.household_size, 4);
    assert!(a.members[0].person.surname.is_some());
    assert!(!a.withheld.contains(&"family".to_string()));

    // a child's family: both parents
    let r = call(
        &mio,
        services::FAMILY_GET,
        json!({"iin": iin("family-son")}),
    )
    .await;
    let a: FamilyAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.members.len(), 2);
    assert!(a.members.iter().all(|m| m.relation == "parent"));

    // the portal's policy has no `family` group for this service: no members disclosed
    let portal = s.w.client("portal");
    let r = call(
        &portal,
        services::FAMILY_GET,
        json!({"iin": iin("family-father")}),
    )
    .await;
    let a: FamilyAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(a.members.is_empty());
    assert!(a.withheld.contains(&"family".to_string()));

    // a person without relatives, and the refusals
    let r = call(&mio, services::FAMILY_GET, json!({"iin": iin("akzhar")})).await;
    let a: FamilyAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(a.members.is_empty());
    assert_eq!(a.household_size, 1);
    let r = call(&mio, services::FAMILY_GET, json!({"iin": iin("absent")})).await;
    assert_eq!(error_of(&r).code, errors::PERSON_NOT_FOUND);
}

#[tokio::test]
async fn address_registration_checks() {
    let s = setup().await;
    let mio = s.w.client("mio-almaty");
    let check = |body: Value| {
        let mio = mio.clone();
        async move { call(&mio, services::ADDRESS_CHECK, body).await }
    };
    let r = check(json!({"iin": iin("family-father"), "region": "almaty"})).await;
    let a: AddressCheckAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(a.registered);
    assert_eq!(a.in_region, Some(true));
    assert_eq!(a.matches, None);
    assert!(a.since.is_some() && a.address.is_some());

    let r = check(json!({"iin": iin("family-father"), "region": "atyrau"})).await;
    let a: AddressCheckAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.in_region, Some(false));

    let r = check(json!({"iin": iin("family-father"), "address": {"locality": "Алматы", "street": "Жамбыла", "house": "114", "flat": "25"}})).await;
    let a: AddressCheckAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.matches, Some(true));
    let r = check(
        json!({"iin": iin("family-father"), "address": {"street": "ул. Жамбыла", "house": "115"}}),
    )
    .await;
    let a: AddressCheckAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.matches, Some(false));

    // a deceased person is no longer registered
    let r = check(json!({"iin": iin("deceased"), "region": "almaty"})).await;
    let a: AddressCheckAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert!(!a.registered);
    assert_eq!(a.in_region, Some(false));
    assert!(a.address.is_none());

    for bad in [
        json!({"iin": iin("family-father")}),
        json!({"iin": iin("family-father"), "region": "mars"}),
        json!({"iin": iin("family-father"), "address": {"planet": "Земля"}}),
    ] {
        let r = check(bad.clone()).await;
        assert_eq!(error_of(&r).code, errors::INVALID_REQUEST, "{bad}");
    }
    let r = check(json!({"iin": iin("cancelled"), "region": "atyrau"})).await;
    assert_eq!(error_of(&r).code, errors::IIN_CANCELLED);
}

#[tokio::test]
async fn an_address_check_discloses_and_logs_only_what_the_policy_grants() {
    // the portal may see names in person.get and nothing in address.check
    let policy = r#"
[[rules]]
sender = "portal"
services = ["gbd-fl.person.get"]
fields = ["name"]

[[rules]]
sender = "mio-*"
services = ["gbd-fl.address.check"]
fields = ["address"]
"#;
    let s = setup_full(None, Some(policy)).await;
    let portal = s.w.client("portal");
    for body in [
        json!({"iin": iin("family-father"), "region": "almaty"}),
        json!({"iin": iin("family-father"), "address": {"street": "Жамбыла", "house": "114"}}),
        // no oracle: an absent person gets the same refusal
        json!({"iin": iin("absent"), "region": "almaty"}),
    ] {
        let r = call(&portal, services::ADDRESS_CHECK, body.clone()).await;
        let e = error_of(&r);
        assert_eq!(e.code, errors::NOT_GRANTED, "{body}");
        assert!(e.message.contains("portal"), "{}", e.message);
        assert_eq!(e.details["group"], "address");
    }
    // granted, the same question is answered, and logged as an address disclosure
    let mio = s.w.client("mio-almaty");
    let r = call(
        &mio,
        services::ADDRESS_CHECK,
        json!({"iin": iin("family-father"), "region": "almaty"}),
    )
    .await;
    let a: AddressCheckAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(a.in_region, Some(true));
    assert!(a.address.is_some() && a.since.is_some());

    let mut conn = sqlx::PgConnection::connect(&s.w.db.url).await.unwrap();
    let rows: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "select system, outcome, disclosed from gbd_fl.access_log where subject_iin = $1 order by id",
    )
    .bind(iin("family-father"))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("portal".into(), "not-granted".into(), vec![]),
            ("portal".into(), "not-granted".into(), vec![]),
            ("mio-almaty".into(), "found".into(), vec!["address".into()]),
        ]
    );
}

#[tokio::test]
async fn every_look_up_is_in_the_access_log() {
    let s = setup().await;
    let mio = s.w.client("mio-almaty");
    let con = s.w.client("con-is");
    let portal = s.w.client("portal");
    let purpose = json!({"service": "housing-queue", "application": "ALM-2026-000017", "requester_iin": iin("representative")});
    let r = call(
        &mio,
        services::PERSON_GET,
        json!({"iin": iin("family-mother"), "purpose": purpose}),
    )
    .await;
    assert!(r.is_success());
    let first_id = r.message_id.clone();
    call(
        &con,
        services::PERSON_GET,
        json!({"iin": iin("family-mother")}),
    )
    .await;
    // the family answer discloses the mother too
    call(
        &mio,
        services::FAMILY_GET,
        json!({"iin": iin("family-father")}),
    )
    .await;

    let r = call(
        &portal,
        services::ACCESS_LOG_SEARCH,
        json!({"iin": iin("family-mother")}),
    )
    .await;
    assert!(r.is_success(), "{:?}", r.info);
    let log: AccessLogAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(log.entries.len(), 3, "{:#?}", log.entries);
    // newest first
    assert_eq!(log.entries[0].service_id, services::FAMILY_GET);
    assert_eq!(log.entries[1].system, "con-is");
    let e = &log.entries[2];
    assert_eq!(e.system, "mio-almaty");
    assert_eq!(e.service_id, services::PERSON_GET);
    assert_eq!(e.purpose.as_deref(), Some("housing-queue"));
    assert_eq!(e.application.as_deref(), Some("ALM-2026-000017"));
    assert_eq!(
        e.requester_iin.as_deref(),
        Some(iin("representative").as_str())
    );
    assert_eq!(e.message_id, first_id);
    assert_eq!(e.outcome, "found");
    assert!(e.disclosed.contains(&"address".to_string()));
    assert!(!e.disclosed.contains(&"document".to_string()));

    // a provider's system looks people up, it does not read their access logs
    let r = call(
        &mio,
        services::ACCESS_LOG_SEARCH,
        json!({"iin": iin("family-mother")}),
    )
    .await;
    assert_eq!(r.code(), codes::ACCESS_DENIED, "{:?}", r.info);

    // looking at the log is logged too; a refused look-up is logged with its outcome
    call(&con, services::PERSON_GET, json!({"iin": iin("absent")})).await;
    let r = call(
        &portal,
        services::ACCESS_LOG_SEARCH,
        json!({"iin": iin("absent"), "limit": 10}),
    )
    .await;
    let log: AccessLogAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(log.entries[0].outcome, "not-found");
    let r = call(
        &portal,
        services::ACCESS_LOG_SEARCH,
        json!({"iin": iin("family-mother"), "limit": 1}),
    )
    .await;
    let log: AccessLogAnswer = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].outcome, "access-log");

    for bad in [
        json!({"iin": iin("family-mother"), "limit": 0}),
        json!({"iin": iin("family-mother"), "limit": 5000}),
        json!({"iin": iin("family-mother"), "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        json!({"iin": iin("family-mother"), "from": "yesterday"}),
    ] {
        let r = call(&portal, services::ACCESS_LOG_SEARCH, bad.clone()).await;
        assert_eq!(error_of(&r).code, errors::INVALID_REQUEST, "{bad}");
    }

    // the log cannot be edited
    let mut conn = sqlx::PgConnection::connect(&s.w.db.url).await.unwrap();
    let err = sqlx::query("update gbd_fl.access_log set system = 'nobody'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("delete from gbd_fl.access_log")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("truncate gbd_fl.access_log")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TRUNCATE refused"), "{err}");
}

#[tokio::test]
async fn gbd_fl_runs_as_its_own_role_which_cannot_rewrite_its_access_log() {
    let mut w = World::with(egov_testkit::Options::new(&["shep", "rshep-almaty"])).await;
    // the administrator's step, then ГБД ФЛ migrates and serves as its role
    let role_url = egov_db::provision(&w.db.url, "gbd_fl", None).await.unwrap();
    let mut system = w.system_config("gbd-fl", "gbd_fl");
    system.database_url = role_url.clone();
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system,
        policy_file: None,
        ..Default::default()
    })
    .await
    .unwrap();
    load_fixtures(&w.db.url).await;
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.start();
    let r = call(
        &w.client("portal"),
        services::PERSON_GET,
        json!({"iin": iin("family-mother")}),
    )
    .await;
    assert_eq!(r.code(), codes::SUCCESS, "{:?}", r.info);

    let mut conn = sqlx::PgConnection::connect(&role_url).await.unwrap();
    let me: (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolcreatedb from pg_roles where rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(me, ("egov_gbd_fl".into(), false, false));
    let logged: i64 = sqlx::query_scalar("select count(*) from gbd_fl.access_log")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(logged >= 1);
    for sql in [
        "truncate gbd_fl.access_log",
        "update gbd_fl.access_log set system = 'nobody'",
        "delete from gbd_fl.access_log",
        // another service's schema (the gateways' message log)
        "select count(*) from gateway.journal",
        "create schema intruder",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    // a grant back by the owner leaves the triggers refusing
    sqlx::query("grant truncate, delete on gbd_fl.access_log to current_user")
        .execute(&mut conn)
        .await
        .unwrap();
    for sql in [
        "truncate gbd_fl.access_log",
        "delete from gbd_fl.access_log",
    ] {
        let err = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn a_service_gbd_fl_does_not_provide_is_refused_by_it() {
    let registry = egov_gateway::registry::DEFAULT_REGISTRY.replace(
        "[[services]]\nid = \"gbd-fl.family.get\"",
        "[[services]]\nid = \"gbd-fl.salary.get\"\nprovider = \"gbd-fl\"\ndeadline_ms = 5000\nmax_payload = 65536\n\n[[services]]\nid = \"gbd-fl.family.get\"",
    );
    assert!(registry.contains("gbd-fl.salary.get"));
    let s = setup_with(Some(registry)).await;
    let con = s.w.client("con-is");
    let r = call(
        &con,
        "gbd-fl.salary.get",
        json!({"iin": iin("family-father")}),
    )
    .await;
    assert_eq!(error_of(&r).code, errors::UNKNOWN_SERVICE);
}

#[tokio::test]
async fn only_the_gateway_may_call_and_only_signed_requests_are_answered() {
    use egov_proto::shep::v1::SyncSendMessageRequest;
    use egov_proto::shep::v1::sync_channel_client::SyncChannelClient;

    let mut w = World::new(&["shep"]).await;
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = gbd.grpc_addr().to_string();
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.start();

    let portal = egov_shep_client::SystemSigner::load(&w.pki, "portal").unwrap();
    let info = portal.request_info(
        services::PERSON_GET,
        egov_proto::shep::v1::MessageType::Request,
        "",
        "",
    );
    let env = portal
        .seal_request(&info, br#"{"iin":"870312300046"}"#.to_vec())
        .unwrap();

    // the portal's own TLS certificate straight to ГБД ФЛ: refused
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "portal").unwrap();
    let ch = tls
        .channel(&addr, "gbd-fl", std::time::Duration::from_secs(5))
        .unwrap();
    let err = SyncChannelClient::new(ch)
        .send_message(SyncSendMessageRequest {
            envelope: Some(env.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err}");

    // from the gateway's connection, a tampered envelope gets gbd-fl's signed refusal
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "shep").unwrap();
    let ch = tls
        .channel(&addr, "gbd-fl", std::time::Duration::from_secs(5))
        .unwrap();
    let mut tampered = env.clone();
    tampered.payload = br#"{"iin":"890721490005"}"#.to_vec();
    let resp = SyncChannelClient::new(ch)
        .send_message(SyncSendMessageRequest {
            envelope: Some(tampered),
        })
        .await
        .unwrap()
        .into_inner();
    let opened = egov_shep_client::envelope::open_response(&resp.envelope.unwrap(), &w.verifier())
        .await
        .unwrap();
    assert_eq!(opened.header.status.unwrap().code, codes::BAD_SIGNATURE);
    assert_eq!(opened.header.responder_id, "gbd-fl");
    assert!(opened.payload.is_empty());
}

#[tokio::test]
async fn health_and_metrics() {
    let mut w = World::new(&["shep"]).await;
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let http = gbd.http_addr();
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.start();
    call(
        &w.client("portal"),
        services::PERSON_GET,
        json!({"iin": iin("absent")}),
    )
    .await;
    let h: Value = reqwest::get(format!("http://{http}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["checks"]["database"]["status"], "ok");
    let m = reqwest::get(format!("http://{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("egov_sync_requests_total"), "{m}");
}

#[tokio::test]
async fn a_bad_policy_file_stops_the_start() {
    let w = World::new(&["shep"]).await;
    let bad = w.dir.path().join("policy.toml");
    std::fs::write(
        &bad,
        "[[rules]]\nsender = \"portal\"\nservices = [\"gbd-fl.*\"]\nfields = [\"salary\"]\n",
    )
    .unwrap();
    let err = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system: w.system_config("gbd-fl", "gbd_fl"),
        policy_file: Some(bad),
        ..Default::default()
    })
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("salary"), "{err}");
}

#[tokio::test]
async fn look_ups_use_the_keys() {
    // a type mismatch between a bound parameter and a key column turns a key look-up
    // into a scan of the whole table: fine with ten rows, seconds with a million
    let s = setup().await;
    let mut conn = sqlx::PgConnection::connect(&s.w.db.url).await.unwrap();
    sqlx::query("set enable_seqscan = off")
        .execute(&mut conn)
        .await
        .unwrap();
    for (sql, arg) in [
        (
            "explain select * from gbd_fl.persons where iin = $1",
            iin("family-father"),
        ),
        (
            "explain select * from gbd_fl.family_links where person = $1",
            iin("family-father"),
        ),
        (
            "explain select * from gbd_fl.access_log where subject_iin = $1 order by at desc",
            iin("family-father"),
        ),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(sql)
            .bind(&arg)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("Index"), "{sql}: {plan}");
        assert!(!plan.contains("Seq Scan"), "{sql}: {plan}");
    }
}

/// Python's grpcio, through server reflection alone: (services, methods, answer).
fn reflect(
    s: &Setup,
    addr: std::net::SocketAddr,
    server: &str,
    call: Option<(&str, &str)>,
) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join("tests/py/.venv/bin/python");
    assert!(
        python.exists(),
        "the Python outside clients are not installed: run `bash deploy/local/prepare.sh --services`"
    );
    let pki = &s.w.pki;
    let (cert, key) = (
        pki.join("systems/mio-almaty.tls.cert.pem"),
        pki.join("systems/mio-almaty.tls.key.pem"),
    );
    let mut cmd = std::process::Command::new(python);
    cmd.arg(root.join("tests/py/reflect.py"))
        .arg(addr.to_string())
        .arg(pki.join("chain.pem"))
        .arg(&cert)
        .arg(&key)
        .arg(server);
    if let Some((method, body)) = call {
        cmd.arg(method).arg(body);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{server}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

// the outside client runs as a blocking child process: the servers need other workers
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn every_grpc_port_lists_and_calls_its_services_through_reflection() {
    let s = setup().await;
    let gbd = s.gbd;
    for (server, addr, expected) in [
        (
            "shep",
            s.w.gateway_addrs["shep"],
            &[
                "egov.shep.v1.AsyncChannel",
                "egov.shep.v1.MessageLog",
                "egov.shep.v1.SyncChannel",
            ][..],
        ),
        (
            "uc",
            s.w.uc_grpc,
            &["egov.uc.v1.CertificationAuthority"][..],
        ),
        ("gbd-fl", gbd, &["egov.shep.v1.SyncChannel"][..]),
    ] {
        let v = reflect(
            &s,
            addr,
            server,
            Some(("grpc.health.v1.Health/Check", "{}")),
        );
        let listed: Vec<&str> = v["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        for e in expected {
            assert!(listed.contains(e), "{server} lists {listed:?}");
        }
        assert!(
            listed.contains(&"grpc.health.v1.Health"),
            "{server}: {listed:?}"
        );
        // only what this server offers
        if server != "shep" {
            assert!(
                !listed.contains(&"egov.shep.v1.MessageLog"),
                "{server}: {listed:?}"
            );
        }
        // a method of each service, from the descriptors reflection gave
        assert!(
            v["methods"]["grpc.health.v1.Health"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "Check")
        );
        // and a call made with them alone
        assert_eq!(v["answer"]["status"], "SERVING", "{server}: {v}");
    }
}

/// ГБД ФЛ's own gRPC server reads no message larger than its services' largest payload
/// (64 KiB in the shipped registry) plus the envelope's room: a larger one is refused by
/// the transport before it is read, and the server goes on serving.
#[tokio::test]
async fn a_message_past_gbd_fls_limit_is_refused_by_the_transport() {
    use egov_proto::shep::v1::SyncSendMessageRequest;
    use egov_proto::shep::v1::sync_channel_client::SyncChannelClient;

    let mut w = World::new(&["shep"]).await;
    let system = w.system_config("gbd-fl", "gbd_fl");
    let limit = system.max_message_bytes;
    assert_eq!(limit, egov_system::shipped_max_message_bytes("gbd-fl"));
    assert!(limit < 1 << 20, "{limit}");
    let gbd = egov_gbd_fl::GbdFl::build(egov_gbd_fl::Config {
        system,
        policy_file: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = gbd.grpc_addr().to_string();
    w.register("gbd-fl", gbd.grpc_addr());
    w.spawn(gbd.run(w.cancel.clone()));
    w.start();

    let portal = egov_shep_client::SystemSigner::load(&w.pki, "portal").unwrap();
    let info = portal.request_info(
        services::PERSON_GET,
        egov_proto::shep::v1::MessageType::Request,
        "",
        "",
    );
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "shep").unwrap();
    let ch = tls
        .channel(&addr, "gbd-fl", std::time::Duration::from_secs(10))
        .unwrap();
    let mut client = SyncChannelClient::new(ch);
    let big = portal.seal_request(&info, vec![b' '; limit + 1]).unwrap();
    let err = client
        .send_message(SyncSendMessageRequest {
            envelope: Some(big),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err}");

    // within the limit the message is read and answered (a signed refusal of its own)
    let fits = portal
        .seal_request(&info, br#"{"iin":"870312300046"}"#.to_vec())
        .unwrap();
    let resp = client
        .send_message(SyncSendMessageRequest {
            envelope: Some(fits),
        })
        .await
        .unwrap()
        .into_inner();
    let opened = egov_shep_client::envelope::open_response(&resp.envelope.unwrap(), &w.verifier())
        .await
        .unwrap();
    assert_eq!(opened.header.responder_id, "gbd-fl");
}
