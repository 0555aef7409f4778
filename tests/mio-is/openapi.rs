//! The OpenAPI document and the API agree: every documented operation exists (it asks
//! for a session or a body, it is never 404/405), every route of the router is
//! documented, and the served document is the file.

use std::time::Duration;

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
    // the file, with the regulations this ИС МИО takes filled in
    assert_eq!(
        served,
        egov_mio_is::arm::api::document(&env.mio("mio-nko").engine.catalog, None)
    );
    let mut bare = served.clone();
    for schema in ["NewApplication", "LookupRequest"] {
        let enums = bare["components"]["schemas"][schema]["properties"]["regulation"]
            .as_object_mut()
            .unwrap()
            .remove("enum")
            .unwrap();
        assert!(enums.as_array().unwrap().len() >= 2, "{schema}: {enums}");
    }
    assert_eq!(bare, doc);

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

/// A property-based fuzzer (schemathesis) against the served document, logged in: every
/// request it makes from the document's schemas (positive data: what the document says
/// is valid) gets no 5xx, an answer the document lists, and is not refused as malformed
/// or invalid (400, 422), so the document is as strict as the server. Bounded: a few
/// examples per operation. Skips only when schemathesis cannot be installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuzzer_finds_the_document_as_strict_as_the_server() {
    let cli = match tokio::task::spawn_blocking(schemathesis).await.unwrap() {
        Ok(cli) => cli,
        Err(why) => {
            eprintln!("SKIPPED: schemathesis cannot be installed here: {why}");
            return;
        }
    };
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let provider = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .providers[0]
        .id
        .clone();
    let office = Arm::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    // the document as the employee gets it (their regulations filled in)
    let doc = env
        .http
        .get(format!("{}/api/openapi.json", mio.http))
        .bearer_auth(&office.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(dir.path().join("openapi.json"), doc).unwrap();
    // a schema-valid request may meet the state (404 no such task, 409 done already) or a
    // business rule (422: a person ГБД ФЛ does not have, a form a category refuses, a
    // check digit); never a 400 (it does not parse) nor a 5xx
    std::fs::write(
        dir.path().join("schemathesis.toml"),
        r#"
[checks.positive_data_acceptance]
expected-statuses = ["2XX", "401", "403", "404", "409", "422", "429", "502"]
"#,
    )
    .unwrap();
    // ... and a 422 must not be one the document could have said: the regulation, the
    // channel, an IIN that is not twelve digits
    std::fs::write(
        dir.path().join("arm_checks.py"),
        r#"
import re
import schemathesis


@schemathesis.check
def refused_what_the_document_allows(ctx, response, case):
    if response.status_code != 422:
        return None
    try:
        code = response.json()["error"]["code"]
    except Exception:
        return None
    body = case.body if isinstance(case.body, dict) else {}
    if code in ("UNKNOWN_REGULATION", "WRONG_CHANNEL"):
        raise AssertionError(f"{code} for regulation {body.get('regulation')!r}, which the document allows")
    if code == "INVALID_IIN" and "iin" in body and re.fullmatch(r"[0-9]{12}", str(body["iin"])) is None:
        raise AssertionError(f"INVALID_IIN for {body['iin']!r}, which the document allows")
    return None
"#,
    )
    .unwrap();
    let out = tokio::process::Command::new(&cli)
        .current_dir(dir.path())
        .env("PYTHONPATH", dir.path())
        .env("SCHEMATHESIS_HOOKS", "arm_checks")
        .arg("run")
        .arg(dir.path().join("openapi.json"))
        .args(["--url", &mio.http])
        .args(["-H", &format!("Authorization: Bearer {}", office.token)])
        .args(["--mode", "positive"])
        .args(["--phases", "examples,fuzzing"])
        .args(["--max-examples", "8"])
        .args(["--max-time", "90"])
        .args(["--seed", "1"])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,positive_data_acceptance,refused_what_the_document_allows",
        ])
        // logging out would end the fuzzer's own session
        .args(["--exclude-path", "/api/v1/logout"])
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), out)
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
