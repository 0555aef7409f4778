//! A fourth region from files alone: the shipped topology's files, plus one region file
//! (its РШЭП and its ИС МИО) and one regulation file, both test fixtures in
//! `tests/ulytau/`. No code knows the region; a channel-B application runs through it from
//! the workstation to the registration, with the person look-up crossing the new РШЭП and
//! ШЭП to ГБД ФЛ.

use std::path::{Path, PathBuf};

use crate::common::*;
use base64::Engine as _;
use egov_mio_is::store::BaseStatus;
use egov_synth::fixtures::iin_of;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mio-is/ulytau")
}

/// The shipped topology's files and the fixture's region file, in a fresh folder.
fn topology_with_ulytau(dir: &Path) -> PathBuf {
    let shipped = egov_topology::shipped_dir();
    let out = dir.join("topology");
    std::fs::create_dir_all(out.join("regions")).unwrap();
    std::fs::copy(shipped.join("national.toml"), out.join("national.toml")).unwrap();
    for e in std::fs::read_dir(shipped.join("regions")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, out.join("regions").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        fixtures().join("topology/regions/ulytau.toml"),
        out.join("regions/ulytau.toml"),
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_region_runs_channel_b_from_files_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let topology = topology_with_ulytau(tmp.path());
    let env = env_in(
        Some(topology),
        &[fixtures().join("regulations")],
        &["mio-ulytau"],
    )
    .await;
    assert!(env.w.gateway_addrs.contains_key("rshep-ulytau"));
    assert_eq!(env.mio("mio-ulytau").region, "ulytau");
    let catalog = &env.mio("mio-ulytau").engine.catalog;
    let ids: Vec<&str> = catalog.regulations.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ulytau-2026-housing-queue"]);

    let office = employees_of(&env, "mio-ulytau", "ulytau-housing", "office").await[0].clone();
    let office = Arm::login(&env, "mio-ulytau", &office).await;
    let reg = catalog.get("ulytau-2026-housing-queue").unwrap().clone();
    let category = "socially-vulnerable";
    let docs: Vec<Value> = reg
        .required_documents(category)
        .iter()
        .map(|d| json!({"kind": d.id, "paper": true, "name": format!("{}.jpg", d.id), "media_type": "image/jpeg", "content": base64::engine::general_purpose::STANDARD.encode(b"\xff\xd8 scan")}))
        .collect();
    let (s, v) = office
        .post(
            "/api/v1/applications",
            json!({
                "iin": iin_of("family-father").as_string(),
                "category": category,
                "phone": "+7 701 555 01 02",
                "form": {"family_size": 4, "current_housing": "аренда, 42 м²"},
                "documents": docs,
            }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["channel"], "provider");
    assert_eq!(v["sender_system"], "mio-ulytau");
    assert_eq!(v["regulation_id"], "ulytau-2026-housing-queue");
    assert_eq!(v["provider_id"], "ulytau-housing");
    let number = v["number"].as_str().unwrap().to_string();
    // C-person: РШЭП Улытау → ШЭП → ГБД ФЛ, and back (the applicant of the application)
    let (s, v) = office
        .post(
            "/api/v1/persons/lookup",
            json!({"iin": iin_of("family-father").as_string()}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["person"]["surname"], "Ахметов");

    drive(&env, "mio-ulytau", &number, Branch::Success).await;
    let done = egov_mio_is::store::application(&env.mio("mio-ulytau").engine.pool, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, BaseStatus::Completed);
    assert!(done.queue_number.is_some());

    // the message log shows the new РШЭП carrying the look-ups of its ИС МИО
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select gateway_id, sender_id, event from gateway.journal
         where sender_id = 'mio-ulytau' and service_id = 'gbd-fl.person.get'",
    )
    .fetch_all(&env.mio("mio-ulytau").engine.pool)
    .await
    .unwrap();
    for gw in ["rshep-ulytau", "shep"] {
        assert!(
            rows.iter().any(|(g, _, e)| g == gw && e == "request_in"),
            "{gw}: {rows:?}"
        );
    }
}
