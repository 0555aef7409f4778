//! Every service's `/metrics` read by the reference Prometheus client's parser
//! (`prometheus_client`, Python, `tests/py`): each page parses, and the families the
//! dashboards and operators rely on are there with their types and labels. Then every
//! metric a Grafana panel of `deploy/grafana/dashboards/` queries must be one the
//! services export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Families exported by systems the world of this lane does not run (ПЭП, ИС ЦОН), each
/// with the test that reads it from that system's page.
const ELSEWHERE: &[(&str, &str)] = &[
    ("egov_survey_answers", "tests/portal/flow.rs"),
    ("egov_con_open_overdue_steps", "tests/con-is/sla.rs"),
    ("egov_portal_open_overdue_steps", "tests/portal/steps.rs"),
];

/// The parsed pages by URL, through the outside parser.
fn parse(urls: &[String]) -> BTreeMap<String, Value> {
    let python = root().join("tests/py/.venv/bin/python");
    assert!(
        python.exists(),
        "the Python outside clients are not installed: run `bash deploy/local/prepare.sh --services`"
    );
    let out = std::process::Command::new(python)
        .arg(root().join("tests/py/metrics.py"))
        .args(urls)
        .output()
        .unwrap();
    let v: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    for (url, page) in &v {
        assert!(page.get("error").is_none(), "{url}: {page}");
    }
    assert!(out.status.success());
    v
}

/// (type, label names of the first sample) of a family, if any page has it.
fn family<'a>(
    pages: &'a BTreeMap<String, Value>,
    name: &str,
) -> Option<(&'a str, BTreeSet<String>)> {
    pages.values().find_map(|p| {
        let f = p["families"].get(name)?;
        let labels = f["samples"]
            .as_array()?
            .first()
            .map(|s| s["labels"].as_object().unwrap().keys().cloned().collect())
            .unwrap_or_default();
        Some((f["type"].as_str()?, labels))
    })
}

/// The metric names a PromQL expression reads (identifiers that start with `egov_`),
/// as families: without the `_bucket`, `_sum`, `_count`, `_total` suffixes.
fn queried(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(p) = expr[i..].find("egov_") {
        let start = i + p;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let mut name = &expr[start..end];
        for suffix in ["_bucket", "_sum", "_count", "_total"] {
            if let Some(n) = name.strip_suffix(suffix) {
                name = n;
                break;
            }
        }
        out.push(name.to_string());
        i = end;
    }
    out
}

fn exprs(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(e)), title) = (m.get("expr"), m.get("title")) {
                out.push((
                    title.and_then(Value::as_str).unwrap_or("").to_string(),
                    e.clone(),
                ));
            }
            for (k, x) in m {
                if k == "panels" || k == "targets" || x.is_object() || x.is_array() {
                    exprs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metrics_page_parses_and_the_dashboards_query_what_exists() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = "almaty-2013-housing-queue";
    let app = portal_application(&env, "mio-almaty", reg, "family-father").await;
    assert!(!app.number.is_empty());
    // a month on, its acceptance is past the deadline: the SLA metrics exist
    env.clock.advance(time::Duration::days(31));
    assert_eq!(mio.engine.sla_scan().await.unwrap().len(), 1);

    // a look-up through the gateways (the sync path and the registry's own counters)
    let iin = egov_synth::fixtures::iin_of("family-father");
    let reply = env
        .client("mio-almaty")
        .call(
            "gbd-fl.person.get",
            "",
            "",
            serde_json::to_vec(&serde_json::json!({ "iin": iin })).unwrap(),
        )
        .await
        .unwrap();
    assert!(reply.is_success(), "{:?}", reply.info);

    let mut urls = vec![
        format!("http://{}/metrics", env.w.uc_http),
        format!("{}/metrics", mio.http),
    ];
    urls.extend(
        env.w
            .gateway_http
            .values()
            .map(|a| format!("http://{a}/metrics")),
    );
    urls.extend(env.registries_http.values().map(|h| format!("{h}/metrics")));
    // the gateways read their inboxes' backlog every 15 seconds
    let mut pages = parse(&urls);
    for _ in 0..60 {
        if family(&pages, "egov_gateway_inbox_pending").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        pages = parse(&urls);
    }
    for (url, page) in &pages {
        let ct = page["content_type"].as_str().unwrap();
        assert!(ct.starts_with("text/plain"), "{url}: {ct}");
    }

    for (name, kind, labels) in [
        (
            "egov_gateway_messages",
            "counter",
            &["gateway", "service", "code"][..],
        ),
        (
            "egov_gateway_request_duration_seconds",
            "histogram",
            &["gateway", "service"][..],
        ),
        ("egov_gateway_in_flight", "gauge", &["gateway"][..]),
        ("egov_gateway_inbox_pending", "gauge", &["recipient"][..]),
        ("egov_inbox_lag_seconds", "histogram", &["system"][..]),
        ("egov_inbox_messages", "counter", &["system", "outcome"][..]),
        (
            "egov_sync_requests",
            "counter",
            &["system", "service", "code"][..],
        ),
        (
            "egov_sync_request_duration_seconds",
            "histogram",
            &["system", "service"][..],
        ),
        (
            "egov_mio_applications",
            "gauge",
            &["system", "provider", "status"][..],
        ),
        (
            "egov_mio_applications_registered",
            "counter",
            &["system", "regulation", "channel"][..],
        ),
        (
            "egov_mio_queue_length",
            "gauge",
            &["system", "provider", "category"][..],
        ),
        ("egov_mio_open_overdue_steps", "gauge", &["system"][..]),
        (
            "egov_mio_steps_overdue",
            "counter",
            &["system", "regulation", "step"][..],
        ),
        ("egov_uc_ocsp_answers", "counter", &["status"][..]),
    ] {
        let (t, have) = family(&pages, name).unwrap_or_else(|| {
            let names: BTreeSet<&String> = pages
                .values()
                .flat_map(|p| p["families"].as_object().unwrap().keys())
                .collect();
            panic!("no family {name} on any page; the pages have {names:?}")
        });
        assert_eq!(t, kind, "{name}");
        for l in labels {
            assert!(have.contains(*l), "{name} has no label {l}: {have:?}");
        }
    }
    // the application just registered is counted as received by its provider
    let received = pages.values().any(|p| {
        p["families"]["egov_mio_applications"]["samples"]
            .as_array()
            .is_some_and(|s| {
                s.iter().any(|x| {
                    x["labels"]["status"] == "received"
                        && x["labels"]["provider"] == app.provider_id.as_str()
                        && x["value"].as_f64() == Some(1.0)
                })
            })
    });
    assert!(received, "egov_mio_applications{{status=received}} is 1");

    // every metric a dashboard panel queries is exported: by the pages read here, or by
    // a system this world does not run, whose own lane reads it from its page
    let mut exported: BTreeSet<String> = pages
        .values()
        .flat_map(|p| p["families"].as_object().unwrap().keys().cloned())
        .collect();
    for (family, proven_by) in ELSEWHERE {
        assert!(
            std::fs::read_to_string(root().join(proven_by))
                .unwrap()
                .contains(family),
            "{proven_by} reads {family}"
        );
        exported.insert(family.to_string());
    }
    let dir = root().join("deploy/grafana/dashboards");
    let mut panels = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut found = Vec::new();
        exprs(&v, &mut found);
        assert!(!found.is_empty(), "{}: no queries", path.display());
        for (title, expr) in found {
            panels += 1;
            let names = queried(&expr);
            assert!(
                !names.is_empty(),
                "{} «{title}»: queries no egov_ metric: {expr}",
                path.display()
            );
            for n in names {
                assert!(
                    exported.contains(&n),
                    "{} «{title}» queries {n}, which no service exports",
                    path.display()
                );
            }
        }
    }
    assert!(panels >= 6, "the dashboards hold {panels} queries");
}

#[test]
fn the_query_reader_finds_the_families() {
    assert_eq!(
        queried(
            "sum by (le) (rate(egov_gateway_request_duration_seconds_bucket[5m])) / sum(rate(egov_gateway_messages_total[5m]))"
        ),
        [
            "egov_gateway_request_duration_seconds",
            "egov_gateway_messages"
        ]
    );
    assert!(queried("up").is_empty());
}
