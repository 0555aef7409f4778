//! The ops page: the message log's search and an application's two diagrams (what the
//! regulation expects, what happened), served from the real databases, refusing bad
//! input, and drawn by headless Chromium (the screenshot is kept under
//! `target/tmp/artefacts/ops/`).

use std::path::Path;

use crate::common::*;

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let r = http.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn the_ops_page_searches_the_log_and_draws_both_diagrams() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let app = portal_application(
        &env,
        "mio-almaty",
        "almaty-2013-housing-queue",
        "family-father",
    )
    .await;
    env.clock.advance(time::Duration::days(31));
    mio.engine.sla_scan().await.unwrap();

    let page = egov_ops::OpsPage::build(egov_ops::Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        database_url: env.w.db.url.clone(),
        mio_systems: vec!["mio-almaty".into(), "mio-nowhere".into()],
        regulations_dir: egov_regulation::shipped_dir(),
        journal_schema: "gateway".into(),
    })
    .await
    .unwrap();
    let base = format!("http://{}", page.addr());
    let cancel = env.w.cancel.clone();
    env.w.spawn(async move {
        page.run(cancel).await.unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // the log: everything, then one message
    let (s, all) = get(&http, &format!("{base}/")).await;
    assert_eq!(s, 200);
    assert!(all.matches("<tr class=\"row\">").count() >= 2, "{all}");
    let (s, one) = get(&http, &format!("{base}/?message_id={}", app.message_id)).await;
    assert_eq!(s, 200);
    assert!(one.contains("rshep-almaty") && one.contains("mio.application.submit"));
    let (_, live) = get(&http, &format!("{base}/?live=1")).await;
    assert!(live.contains("http-equiv=\"refresh\""));
    for bad in ["limit=0", "limit=abc", "limit=100000"] {
        let (s, body) = get(&http, &format!("{base}/?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
        assert!(body.contains("limit должен быть числом"), "{body}");
    }

    // an application: the form redirects, the page draws both diagrams
    let (s, _) = get(&http, &format!("{base}/applications?number={}", app.number)).await;
    assert!(s == 303 || s == 307 || s == 308, "{s}");
    let url = format!("{base}/applications/{}", app.number);
    let (s, body) = get(&http, &url).await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains(r#"data-diagram="portal""#),
        "the expected diagram"
    );
    assert!(
        body.contains(r#"data-diagram="journey-portal""#),
        "the journey"
    );
    assert!(
        body.contains(r#"data-overdue="true""#),
        "the late step in red"
    );
    assert!(body.contains("<tr class=\"step late\">"));
    let (s, kk) = get(&http, &format!("{url}?lang=kk")).await;
    assert_eq!(s, 200);
    assert!(kk.contains("Өтініш"), "the Kazakh journey title");
    let (s, _) = get(&http, &format!("{url}?lang=en")).await;
    assert_eq!(s, 400);
    let (s, body) = get(&http, &format!("{base}/applications/ALM-2026-999999")).await;
    assert_eq!(s, 404);
    assert!(body.contains("ALM-2026-999999 не найдено"));
    let (s, _) = get(&http, &format!("{base}/applications?number=%3Cscript%3E")).await;
    assert_eq!(s, 400);
    let (s, _) = get(&http, &format!("{base}/nothing")).await;
    assert_eq!(s, 404);

    // headless Chromium draws it
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts/ops");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("application.png");
    let out = tokio::process::Command::new("node")
        .current_dir(&root)
        .arg("screenshot.mjs")
        .arg(&url)
        .arg(&png)
        .output()
        .await
        .expect("node runs (bash deploy/local/prepare.sh --services installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["svgs"], 2, "{v}");
    assert_eq!(v["empty_svgs"], 0, "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 0, "{v}");
    assert!(std::fs::metadata(&png).unwrap().len() > 20_000);
}
