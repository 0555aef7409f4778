//! The OpenAPI document and the API agree: every documented operation exists (it asks
//! for a session or a body, it is never 404/405), every route of the router is
//! documented, and the served document is the file.

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_the_router() {
    let doc: Value = serde_json::from_str(egov_mio_is::arm::api::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let env = env(&["mio-nko"]).await;
    let base = env.mio("mio-nko").http.clone();
    let served: Value = env
        .http
        .get(format!("{base}/api/openapi.json"))
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
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let url = format!(
                "{base}{}",
                path.replace(
                    "{id}",
                    if path.contains("meetings") || path.contains("attachments") {
                        "00000000-0000-0000-0000-000000000000"
                    } else {
                        "1"
                    }
                )
                .replace("{key}", "ALM-2026-000001")
            );
            let req = match method.as_str() {
                "get" => env.http.get(&url),
                _ => env
                    .http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body("{}"),
            };
            let status = req.send().await.unwrap().status().as_u16();
            let public = op
                .get("security")
                .is_some_and(|s| s.as_array().is_some_and(|a| a.is_empty()));
            if public {
                assert!(
                    status == 200 || status == 400 || status == 422,
                    "{method} {path}: {status}"
                );
            } else {
                assert!(
                    status == 401 || status == 400,
                    "{method} {path} answered {status}, not 401/400"
                );
            }
            assert!(op["operationId"].is_string(), "{method} {path}");
        }
    }
    // and the router has no route the document does not have
    let source = include_str!("../../services/mio-is/src/arm/api.rs");
    let body = &source[source.find("pub fn router()").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let routed: usize = body
        .split(".route(")
        .skip(1)
        .filter(|seg| seg.trim_start().starts_with("\"/api"))
        .map(|seg| seg.matches("get(").count() + seg.matches("post(").count())
        .sum();
    assert_eq!(
        routed, operations,
        "operations in the router vs in openapi.json"
    );
}
