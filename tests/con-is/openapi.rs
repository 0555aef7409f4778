//! The OpenAPI document and the API agree: every documented operation exists (it asks
//! for a session or a body, it is never 404/405), every route of the router is
//! documented, and the served document is the file.

use serde_json::Value;

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_the_router() {
    let doc: Value = serde_json::from_str(egov_con_is::api::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let (env, con) = world(&[]).await;
    let served: Value = env
        .http
        .get(format!("{}/api/openapi.json", con.http))
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
                con.http,
                path.replace("{number}", "ALM-ALM-2026-000001")
            );
            let req = match method.as_str() {
                "get" => env.http.get(&url),
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
            // every documented answer names a documented status
            if !public || status != 200 {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
                assert!(
                    op["responses"].get(status.to_string()).is_some(),
                    "{method} {path}: {status} is not documented"
                );
            }
        }
    }
    let source = include_str!("../../services/con-is/src/api/mod.rs");
    let body = &source[source.find("pub fn router(").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let routed: usize = body
        .split(".route(")
        .skip(1)
        .map(|seg| seg.matches("get(").count() + seg.matches("post(").count())
        .sum();
    assert_eq!(
        routed, operations,
        "operations in the router vs in openapi.json"
    );
}

/// A property-based fuzzer (schemathesis) against the served document, logged in as each
/// of the roles whose operations it reaches: every request it makes from the document's
/// schemas (positive data) gets no 5xx, an answer the document lists, and is never
/// refused as malformed (400), nor as invalid where the document said it was valid (a
/// number of the pattern, an image of the scan, a survey's answers). Bounded: a few
/// examples per operation. Skips only when schemathesis cannot be installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuzzer_finds_the_document_as_strict_as_the_server() {
    let cli = match tokio::task::spawn_blocking(crate::common::schemathesis)
        .await
        .unwrap()
    {
        Ok(cli) => cli,
        Err(why) => {
            eprintln!("SKIPPED: schemathesis cannot be installed here: {why}");
            return;
        }
    };
    let (_env, con) = world(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openapi.json"), egov_con_is::api::OPENAPI).unwrap();
    // a schema-valid request may meet the state (404 none of that number, 409 not yet
    // or done already), another role's or centre's operation (403), or a business rule
    // (422: an IIN's check digit, an image that is no PNG); never a 400 nor a 5xx
    std::fs::write(
        dir.path().join("schemathesis.toml"),
        r#"
[checks.positive_data_acceptance]
expected-statuses = ["2XX", "401", "403", "404", "409", "422", "429", "502"]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("con_checks.py"),
        r#"
import schemathesis


@schemathesis.check
def refused_what_the_document_allows(ctx, response, case):
    if response.status_code != 422:
        return None
    try:
        code = response.json()["error"]["code"]
    except Exception:
        return None
    if code in ("INVALID_NUMBER", "BAD_REQUEST", "INVALID_SURVEY", "INVALID"):
        raise AssertionError(f"{code} for {case.path_parameters!r} {case.body!r}, which the document allows")
    return None
"#,
    )
    .unwrap();
    for role in [
        egov_con_is::operators::Role::Accumulation,
        egov_con_is::operators::Role::Courier,
        egov_con_is::operators::Role::Issuer,
    ] {
        let desk = Desk::login(&con, &operator("almaty-almaly", role, 0)).await;
        let out = tokio::process::Command::new(&cli)
            .current_dir(dir.path())
            .env("PYTHONPATH", dir.path())
            .env("SCHEMATHESIS_HOOKS", "con_checks")
            .arg("run")
            .arg(dir.path().join("openapi.json"))
            .args(["--url", &con.http])
            .args(["-H", &format!("Authorization: Bearer {}", desk.token)])
            .args(["--mode", "positive"])
            .args(["--phases", "examples,fuzzing"])
            .args(["--max-examples", "6"])
            .args(["--max-time", "45"])
            .args(["--seed", "1"])
            .args(["--workers", "1"])
            .args(["--generation-database", "none"])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,positive_data_acceptance,refused_what_the_document_allows",
            ])
            // logging out would end the fuzzer's own session; the login throttles
            .args(["--exclude-path", "/api/v1/logout"])
            .args(["--exclude-path", "/api/v1/login"])
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(std::time::Duration::from_secs(240), out)
            .await
            .expect("schemathesis finished within its time")
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{role:?}: schemathesis found defects:\n{text}"
        );
        assert!(text.contains("passed"), "{text}");
    }
}
