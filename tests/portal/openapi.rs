//! The OpenAPI document and the API agree: every documented operation exists (it asks
//! for a session or a body, it is never 404/405), every route of the router is
//! documented, every error answered is a documented status, and the served document is
//! the file.

use serde_json::Value;

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_the_router() {
    let doc: Value = serde_json::from_str(egov_portal::api::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let (env, portal) = world(&[]).await;
    let served: Value = env
        .http
        .get(format!("{}/api/openapi.json", portal.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, doc);
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let url = format!(
                "{}{}",
                portal.http,
                path.replace("{number}", "P2026-0000001")
                    .replace("{regulation}", "almaty-2013-housing-queue")
                    .replace("{id}", "00000000-0000-0000-0000-000000000000")
            );
            let req = match method.as_str() {
                "get" => env.http.get(&url),
                "delete" => env.http.delete(&url),
                "post" => env
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body("{}"),
                other => panic!("{other}"),
            };
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let public = op
                .get("security")
                .is_some_and(|s| s == &serde_json::json!([]));
            if public {
                assert!(
                    [200, 400, 404, 422].contains(&status),
                    "{method} {path}: {status}"
                );
            } else {
                assert_eq!(status, 401, "{method} {path}");
            }
            assert!(op["operationId"].is_string(), "{method} {path}");
            if status != 200 {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
                assert!(
                    op["responses"].get(status.to_string()).is_some(),
                    "{method} {path}: {status} is not documented"
                );
            }
        }
    }
    let source = include_str!("../../services/portal/src/api/mod.rs");
    let body = &source[source.find("pub fn router(").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let routed: usize = body
        .split(".route(")
        .skip(1)
        .map(|seg| {
            seg.matches("get(").count()
                + seg.matches("post(").count()
                + seg.matches("delete(").count()
        })
        .sum();
    assert_eq!(
        routed, operations,
        "operations in the router vs in openapi.json"
    );
}
