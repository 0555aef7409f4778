//! C-sign at the portal: each failure of the citizen's signature its own code, the
//! application left a draft and nothing sent; then the good signature is taken once.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use egov_pki::{CertProfile, SubjectSpec};

use crate::common::Signer;
use crate::world::*;

const REG: &str = "almaty-2013-housing-queue";

/// A key of `iin` issued by `pki` with `profile`, valid `from`..`until`.
fn issued(
    pki: &egov_pki::PkiDir,
    iin: &str,
    profile: CertProfile,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Signer {
    let spec = SubjectSpec::person(egov_iin::Iin::parse(iin).unwrap(), "ТЕСТОВ ТЕСТ");
    let c = pki
        .issue(&spec, profile, pki.issuing.key.algorithm(), from, until)
        .unwrap();
    Signer {
        iin: iin.into(),
        name: "ТЕСТОВ ТЕСТ".into(),
        key: c.key.unwrap(),
        cert: c.cert,
    }
}

async fn outbox(portal: &Portal) -> i64 {
    sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&portal.core.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_c_sign_failure_has_its_own_code_and_sends_nothing() {
    let (env, portal) = world(&["mio-almaty"]).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let number = cab.draft(&reg, env.clock.today()).await;
    cab.attach_all(&reg, &number).await;
    let bytes = cab.sign_request(&number).await;
    let now = OffsetDateTime::now_utc();
    let pki = env.w.authority();
    let expired = issued(
        &pki,
        &cab.iin,
        CertProfile::Signing,
        now - Duration::hours(20),
        now - Duration::hours(1),
    );
    let early = issued(
        &pki,
        &cab.iin,
        CertProfile::Signing,
        now + Duration::days(1),
        now + Duration::days(30),
    );
    let auth_key = issued(
        &pki,
        &cab.iin,
        CertProfile::Authentication,
        now - Duration::days(1),
        now + Duration::days(30),
    );
    let revoked = env.citizen("family-father");
    let mut ca = env.w.authority();
    ca.revoke(&revoked.cert, 1, now - Duration::minutes(1))
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let stranger_pki = egov_pki::PkiDir::init(
        &other_dir.path().join("pki"),
        &other_dir.path().join("ca"),
        &egov_pki::dir::InitOptions {
            algorithm: egov_pki::KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    // the stranger's CA was made after `now`, valid from a day before its making
    let stranger = issued(
        &stranger_pki,
        &cab.iin,
        CertProfile::Signing,
        now - Duration::hours(12),
        now + Duration::days(30),
    );
    let someone_else = env.citizen("family-mother");
    let good = env.citizen("family-father");
    let mut other_bytes = bytes.clone();
    other_bytes.push(b' ');
    for (signature, code, reason) in [
        (cms(&expired, &bytes), "CERTIFICATE_EXPIRED", "expired"),
        (
            cms(&early, &bytes),
            "CERTIFICATE_NOT_YET_VALID",
            "not-yet-valid",
        ),
        (
            cms(&auth_key, &bytes),
            "CERTIFICATE_WRONG_USAGE",
            "wrong-usage",
        ),
        (cms(&revoked, &bytes), "CERTIFICATE_REVOKED", "revoked"),
        (cms(&stranger, &bytes), "CERTIFICATE_UNTRUSTED", "untrusted"),
        (cms(&someone_else, &bytes), "IIN_MISMATCH", "iin-mismatch"),
        (
            cms(&good, &other_bytes),
            "SIGNATURE_INVALID",
            "bad-signature",
        ),
        (
            b"not a CMS at all".to_vec(),
            "SIGNATURE_INVALID",
            "malformed",
        ),
    ] {
        let (s, v) = cab.sign_with(&number, &signature).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some(code)),
            "{reason}: {v}"
        );
        assert_eq!(v["error"]["details"]["reason"], reason, "{v}");
        let (_, app) = cab.get(&format!("/api/v1/applications/{number}")).await;
        assert_eq!(app["state"], "draft", "{reason}");
        assert_eq!(outbox(&portal).await, 0, "{reason}: nothing sent");
    }
    let (s, v) = cab
        .post(
            &format!("/api/v1/applications/{number}/signature"),
            json!({"signature": "%%%"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("SIGNATURE_INVALID")),
        "{v}"
    );
    // in Kazakh
    let kk = login(&portal, &cab.iin).await.kazakh();
    let (_, v) = kk.sign_with(&number, &cms(&expired, &bytes)).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("мерзімі өтті"),
        "{v}"
    );
    // a good key of the citizen: taken once, sent once
    let fresh = env.citizen("family-father");
    let (s, v) = cab.sign_with(&number, &cms(&fresh, &bytes)).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(outbox(&portal).await, 1);
    let (s, v) = cab.sign_with(&number, &cms(&fresh, &bytes)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{v}"
    );
    let (s, v) = cab
        .post(
            &format!("/api/v1/applications/{number}/attachments"),
            scan("identity"),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{v}"
    );
    assert_eq!(outbox(&portal).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_draft_voids_its_sign_request() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let number = cab.draft(&reg, env.clock.today()).await;
    let (s, v) = cab.sign_with(&number, b"x").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "no sign request yet: {v}"
    );
    cab.attach_all(&reg, &number).await;
    let bytes = cab.sign_request(&number).await;
    let kind = &reg.documents.last().unwrap().id;
    let (s, _) = cab
        .post(
            &format!("/api/v1/applications/{number}/attachments"),
            scan(kind),
        )
        .await;
    assert_eq!(s, 201);
    let (s, v) = cab
        .sign_with(&number, &cms(&env.citizen("family-father"), &bytes))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{v}"
    );
    assert_eq!(outbox(&portal).await, 0);
}
