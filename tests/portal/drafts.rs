//! Bad input on the draft and its attachments, each refused with its own code and
//! nothing written; another citizen's application is 404, never their data.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::world::*;

const REG: &str = "almaty-2013-housing-queue";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_with_a_bad_value_is_refused_and_not_written() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let good = new_application(&reg, env.clock.today());
    let required = reg
        .fields
        .iter()
        .find(|f| f.required && !f.id.contains('.') && f.id != "category")
        .unwrap();
    let mut missing = good.clone();
    missing["form"]
        .as_object_mut()
        .unwrap()
        .remove(&required.id);
    let mut unknown_service = good.clone();
    unknown_service["regulation"] = json!("no-such-regulation");
    let mut unknown_provider = good.clone();
    unknown_provider["provider"] = json!("no-such-provider");
    let mut unknown_category = good.clone();
    unknown_category["category"] = json!("no-such-category");
    let mut bad_email = good.clone();
    bad_email["email"] = json!("@");
    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    for (body, status, code) in [
        (missing, 422, "INVALID_FORM"),
        (unknown_service, 422, "UNKNOWN_SERVICE"),
        (unknown_provider, 422, "UNKNOWN_PROVIDER"),
        (unknown_category, 422, "INVALID_FORM"),
        (bad_email, 422, "INVALID_EMAIL"),
        (extra, 400, "BAD_REQUEST"),
    ] {
        let (s, v) = cab.post("/api/v1/applications", body.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {v}"
        );
    }
    // the missing field named in Kazakh too
    let mut missing = good.clone();
    missing["form"]
        .as_object_mut()
        .unwrap()
        .remove(&required.id);
    let kk = login(&portal, &cab.iin).await.kazakh();
    let (_, v) = kk.post("/api/v1/applications", missing).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&required.name.kk),
        "{v}"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from applications")
        .fetch_one(&portal.core.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_limited_in_size_and_type() {
    let (env, portal) = world_with(&[], |c| c.max_attachment_bytes = 1024).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let number = cab.draft(&reg, env.clock.today()).await;
    let path = format!("/api/v1/applications/{number}/attachments");
    let kind = reg.required_documents(&reg.categories[0].id)[0].id.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = scan(&kind);
        f(&mut v);
        v
    };
    let mut big = b"%PDF-1.4 ".to_vec();
    big.resize(1025, b'x');
    // over the body limit (the attachment's base64 and 64 KiB), yet small enough that the
    // client has written it all before the server's early 413 closes the connection (a
    // bigger body races the close and may lose the answer in a reset)
    let huge = "A".repeat(100 * 1024);
    for (body, status, code) in [
        (
            with(&|v| v["content"] = json!(b64.encode(&big))),
            413,
            "ATTACHMENT_TOO_LARGE",
        ),
        (
            with(&|v| v["content"] = json!(huge.clone())),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            with(&|v| v["media_type"] = json!("application/x-msdownload")),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            with(&|v| v["content"] = json!(b64.encode(b"MZ\x90\x00 not a pdf"))),
            415,
            "MEDIA_TYPE_MISMATCH",
        ),
        (
            with(&|v| v["content"] = json!("%%% not base64")),
            422,
            "NOT_BASE64",
        ),
        (
            with(&|v| v["kind"] = json!("no-such-document")),
            422,
            "UNKNOWN_DOCUMENT",
        ),
        (
            with(&|v| v["name"] = json!("../../etc/passwd")),
            422,
            "INVALID_FILE_NAME",
        ),
        (
            with(&|v| v["name"] = json!("   ")),
            422,
            "INVALID_FILE_NAME",
        ),
        (
            with(&|v| v["name"] = json!("ф".repeat(256))),
            422,
            "INVALID_FILE_NAME",
        ),
    ] {
        let (s, v) = cab.post(&path, body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{v}"
        );
    }
    let (_, v) = cab.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(v["attachments"], json!([]), "nothing attached");
    // an incomplete set cannot be signed
    let (s, v) = cab
        .get(&format!("/api/v1/applications/{number}/sign-request"))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("DOCUMENTS_INCOMPLETE")),
        "{v}"
    );
    assert!(
        v["error"]["details"]["missing"]
            .as_array()
            .unwrap()
            .contains(&json!(kind))
    );
    // a name of 255 characters is taken, however many bytes they are (the document's
    // maxLength counts characters)
    let (s, v) = cab
        .post(&path, with(&|v| v["name"] = json!("ф".repeat(255))))
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let r = cab
        .http
        .delete(format!("{}{path}/{id}", cab.base))
        .bearer_auth(&cab.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // a JPEG is taken as a JPEG
    let (s, v) = cab
        .post(
            &path,
            json!({"kind": kind, "name": "photo.jpg", "media_type": "image/jpeg",
                   "content": b64.encode([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10])}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // and removed again
    let id = v["id"].as_str().unwrap();
    let r = cab
        .http
        .delete(format!("{}{path}/{id}", cab.base))
        .bearer_auth(&cab.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_citizens_application_is_not_found() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let owner = citizen(&portal, "family-father").await;
    let number = owner.draft(&reg, env.clock.today()).await;
    let other = citizen(&portal, "family-mother").await;
    let app = format!("/api/v1/applications/{number}");
    for path in [
        app.clone(),
        format!("{app}/sign-request"),
        format!("{app}/result.pdf"),
        format!("{app}/result.p7s"),
        format!("{app}/queue-position"),
    ] {
        let (s, v) = other.get(&path).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{path}: {v}"
        );
        assert!(!v.to_string().contains(&owner.iin), "{v}");
    }
    for (path, body) in [
        (format!("{app}/attachments"), scan("identity")),
        (format!("{app}/signature"), json!({"signature": "AAAA"})),
        (
            format!("{app}/survey"),
            json!({"process": "satisfied", "information": "satisfied"}),
        ),
    ] {
        let (s, v) = other.post(&path, body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{path}: {v}"
        );
    }
    let (_, list) = other.get("/api/v1/applications").await;
    assert_eq!(list["applications"], json!([]));
    // the owner's own: no result yet, no survey before it
    let (s, v) = owner.get(&format!("{app}/result.pdf")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NO_RESULT")),
        "{v}"
    );
    let (s, v) = owner
        .post(
            &format!("{app}/survey"),
            json!({"process": "satisfied", "information": "great"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("INVALID_ANSWER")),
        "{v}"
    );
    let (s, v) = owner
        .post(
            &format!("{app}/survey"),
            json!({"process": "satisfied", "information": "satisfied"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{v}"
    );
}
