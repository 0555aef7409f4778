//! Registration, login and sessions; the catalogue; CORS.

use egov_synth::fixtures::iin_of;
use serde_json::{Value, json};

use crate::world::*;

async fn post(
    env: &crate::common::Env,
    url: String,
    lang: &str,
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = env
        .http
        .post(url)
        .header("accept-language", lang)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn citizens(portal: &Portal) -> i64 {
    sqlx::query_scalar("select count(*) from citizens")
        .fetch_one(&portal.core.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_takes_only_a_living_person_of_gbd_fl_and_a_real_password() {
    let (env, portal) = world(&[]).await;
    let url = format!("{}/api/v1/auth/register", portal.http);
    for (iin, password, email, status, code) in [
        ("12345".to_string(), PASSWORD, None, 422, "INVALID_IIN"),
        (
            iin_of("absent").as_string(),
            PASSWORD,
            None,
            422,
            "PERSON_NOT_FOUND",
        ),
        (
            iin_of("deceased").as_string(),
            PASSWORD,
            None,
            422,
            "PERSON_DECEASED",
        ),
        (
            iin_of("family-father").as_string(),
            "short",
            None,
            422,
            "WEAK_PASSWORD",
        ),
        (
            iin_of("family-father").as_string(),
            PASSWORD,
            Some("not an address"),
            422,
            "INVALID_EMAIL",
        ),
    ] {
        for lang in ["ru", "kk"] {
            let (s, v, _) = post(
                &env,
                url.clone(),
                lang,
                json!({"iin": iin, "password": password, "email": email}),
            )
            .await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (status, Some(code)),
                "{iin}: {v}"
            );
            let message = v["error"]["message"].as_str().unwrap();
            let kazakh = message.chars().any(|c| "әғқңөұүһі".contains(c));
            assert_eq!(kazakh, lang == "kk", "{lang}: {message}");
        }
    }
    let (s, v, _) = post(&env, url.clone(), "ru", json!({"iin": "1", "pass": "x"})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{v}"
    );
    assert_eq!(citizens(&portal).await, 0, "nothing written");
    // the first registration holds, the second is refused
    let cab = citizen(&portal, "family-father").await;
    let (s, me) = cab.get("/api/v1/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["iin"], cab.iin.as_str());
    assert!(
        me["surname"].is_string() && me["address"].is_string(),
        "ГБД ФЛ's data: {me}"
    );
    let (s, v, _) = post(
        &env,
        url,
        "ru",
        json!({"iin": cab.iin, "password": "another-password"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("ALREADY_REGISTERED")),
        "{v}"
    );
    // the password is kept as argon2id, never as given
    let hash: String = sqlx::query_scalar("select password_hash from citizens")
        .fetch_one(&portal.core.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_then_throttled() {
    let (env, portal) = world(&[]).await;
    let cab = citizen(&portal, "atyrau").await;
    let url = format!("{}/api/v1/auth/login", portal.http);
    for _ in 0..egov_accounts::LOGIN_FAILURES {
        let (s, v, _) = post(
            &env,
            url.clone(),
            "kk",
            json!({"iin": cab.iin, "password": "wrong-password"}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (401, Some("INVALID_CREDENTIALS")),
            "{v}"
        );
        assert_eq!(v["error"]["message"], "ЖСН немесе құпиясөз қате");
    }
    // locked: even the right password waits
    let (s, v, h) = post(
        &env,
        url.clone(),
        "ru",
        json!({"iin": cab.iin, "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("TOO_MANY_ATTEMPTS")),
        "{v}"
    );
    assert!(h.get("retry-after").is_some());
    // an unknown IIN is refused like a wrong password
    let (s, v, _) = post(
        &env,
        url.clone(),
        "ru",
        json!({"iin": iin_of("family-daughter").as_string(), "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("INVALID_CREDENTIALS")),
        "{v}"
    );
    let (s, v, _) = post(&env, url, "ru", json!({"iin": "abc", "password": PASSWORD})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("INVALID_IIN")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_and_end_at_logout() {
    let (env, portal) = world(&[]).await;
    let cab = citizen(&portal, "family-mother").await;
    let (s, _) = cab.get("/api/v1/applications").await;
    assert_eq!(s, 200);
    let anonymous = env
        .http
        .get(format!("{}/api/v1/applications", portal.http))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let v: Value = anonymous.json().await.unwrap();
    assert_eq!(v["error"]["code"], "UNAUTHORIZED");
    let forged = Cabinet {
        token: "0".repeat(64),
        ..login(&portal, &cab.iin).await
    };
    let (s, v) = forged.get("/api/v1/me").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{v}"
    );
    // the session lives 30 minutes
    env.clock.advance(time::Duration::minutes(31));
    let (s, v) = cab.get("/api/v1/me").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("TOKEN_EXPIRED")),
        "{v}"
    );
    let fresh = login(&portal, &cab.iin).await;
    let (s, _) = fresh.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(s, 204);
    let (s, v) = fresh.get("/api/v1/me").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_lists_the_portal_services_in_both_languages() {
    let (env, portal) = world(&[]).await;
    let get = |path: String| {
        let http = env.http.clone();
        async move {
            let r = http.get(path).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, all) = get(format!("{}/api/v1/services", portal.http)).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = all["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["regulation"].as_str().unwrap())
        .collect();
    let mut want: Vec<String> = egov_regulation::load_dir(&egov_regulation::shipped_dir())
        .unwrap()
        .into_iter()
        .filter(|r| r.channel("portal").is_some())
        .map(|r| r.id)
        .collect();
    want.sort();
    let mut got: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    got.sort();
    assert_eq!(got, want);
    for s in all["services"].as_array().unwrap() {
        for key in ["name", "deadline"] {
            assert!(
                s[key]["ru"].is_string() && s[key]["kk"].is_string(),
                "{key}: {s}"
            );
        }
        assert!(!s["providers"].as_array().unwrap().is_empty(), "{s}");
        assert!(
            s["documents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["required"] == true),
            "{s}"
        );
    }
    let (s, atyrau) = get(format!("{}/api/v1/services?region=atyrau", portal.http)).await;
    assert_eq!(s, 200);
    assert!(
        atyrau["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["region"] == "atyrau")
    );
    assert_eq!(atyrau["services"].as_array().unwrap().len(), 2);
    let (s, one) = get(format!(
        "{}/api/v1/services/almaty-2013-housing-queue",
        portal.http
    ))
    .await;
    assert_eq!(s, 200);
    assert_eq!(one["service"], "housing-queue");
    let (s, v) = get(format!("{}/api/v1/services?colour=red", portal.http)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{v}"
    );
    let (s, v) = get(format!("{}/api/v1/services/no-such", portal.http)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_of_the_configured_origins_only_may_call_the_api() {
    let (env, portal) = world_with(&[], |c| {
        c.cors_origins = vec!["https://egov.example.kz".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        env.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/auth/login", portal.http),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://egov.example.kz").await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://egov.example.kz")
    );
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // a setting that is not an origin stops the start
    let mut cfg = egov_portal::Config::of(&env.w.topology);
    cfg.cors_origins = vec!["egov.example.kz/path".into()];
    let err = egov_portal::Portal::build(cfg).await.err().unwrap();
    assert!(err.to_string().contains("cors_origins"), "{err}");
}
