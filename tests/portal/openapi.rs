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

/// A property-based fuzzer (schemathesis) against the served document, logged in as a
/// citizen with a draft of their own: every request it makes from the document's schemas
/// (positive data) gets no 5xx, an answer the document lists, and is never refused as
/// malformed (400), nor as invalid where the document said it was valid (a file name, an
/// e-mail, a media type, a survey's answers, a number). Bounded in time. The event
/// stream never ends and is left out (`tickets` tests it); so are logging out, which
/// would end the fuzzer's session, and logging in, which throttles. Skips only when
/// schemathesis cannot be installed.
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
    let (env, portal) = world(&[]).await;
    let cab = citizen(&portal, "family-father").await;
    let reg = portal.regulation("almaty-2013-housing-queue");
    cab.draft(&reg, env.clock.today()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openapi.json"), egov_portal::api::OPENAPI).unwrap();
    // a schema-valid request may meet the state (404 no such application of the
    // citizen, 409 not a draft), a business rule (422: an IIN's check digit, a form the
    // regulation refuses, content that is not its media type), a registry that does not
    // know the IIN, or the throttle; never a 400 nor a 5xx
    std::fs::write(
        dir.path().join("schemathesis.toml"),
        r#"
[checks.positive_data_acceptance]
expected-statuses = ["2XX", "401", "404", "409", "413", "415", "422", "429", "502", "503"]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("portal_checks.py"),
        r#"
import schemathesis


@schemathesis.check
def refused_what_the_document_allows(ctx, response, case):
    if response.status_code not in (400, 415, 422):
        return None
    try:
        code = response.json()["error"]["code"]
    except Exception:
        return None
    if code in ("BAD_REQUEST", "INVALID_FILE_NAME", "INVALID_EMAIL", "INVALID_ANSWER",
                "UNSUPPORTED_MEDIA_TYPE", "WEAK_PASSWORD", "NOT_BASE64"):
        raise AssertionError(f"{code} for {case.path_parameters!r} {case.query!r} {case.body!r}, which the document allows")
    return None
"#,
    )
    .unwrap();
    let out = tokio::process::Command::new(&cli)
        .current_dir(dir.path())
        .env("PYTHONPATH", dir.path())
        .env("SCHEMATHESIS_HOOKS", "portal_checks")
        .arg("run")
        .arg(dir.path().join("openapi.json"))
        .args(["--url", &portal.http])
        .args(["-H", &format!("Authorization: Bearer {}", cab.token)])
        .args(["--mode", "positive"])
        .args(["--phases", "examples,fuzzing"])
        .args(["--max-examples", "8"])
        .args(["--max-time", "100"])
        .args(["--seed", "1"])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,positive_data_acceptance,refused_what_the_document_allows",
        ])
        .args(["--exclude-path", "/api/v1/auth/logout"])
        .args(["--exclude-path", "/api/v1/auth/login"])
        .args(["--exclude-path", "/api/v1/events"])
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), out)
        .await
        .expect("schemathesis finished within its time")
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found defects:\n{text}");
    assert!(text.contains("passed"), "{text}");
}
