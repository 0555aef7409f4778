//! The paper side: the register and the courier's hand-over, the provider's procedure
//! to the signed result, the courier's return, the cover's barcode rendered, rasterized
//! with `pdftoppm` and scanned back, the issue with the survey; the archive after a
//! month on the manual clock; and every refusal on the way.

use std::io::Write as _;

use base64::Engine as _;
use egov_con_is::operators::Role;
use serde_json::{Value, json};

use crate::common::{Branch, drive, registered};
use crate::flow::to_registration;
use crate::world::*;

/// The operator of `role` at `centre`, logged in.
async fn as_role(con: &Con, centre: &str, role: Role) -> Desk {
    Desk::login(con, &operator(centre, role, 0)).await
}

/// The step `id` of a view.
fn step<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == id)
}

/// The first page of `pdf` as a PNG, rasterized by poppler's `pdftoppm` at 150 dpi.
fn rasterize(pdf: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cover.pdf");
    std::fs::write(&p, pdf).unwrap();
    let out = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "150", "-f", "1", "-l", "1"])
        .arg(&p)
        .arg(dir.path().join("page"))
        .output()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(out.status.success(), "{out:?}");
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a page rasterized");
    std::fs::read(png).unwrap()
}

/// A gray PNG of `rows`, written here (filter 0, zlib).
fn png(rows: &[Vec<u8>]) -> Vec<u8> {
    let width = rows[0].len();
    let mut raw = Vec::new();
    for r in rows {
        raw.push(0);
        raw.extend_from_slice(r);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&raw).unwrap();
    let data = z.finish().unwrap();
    let chunk = |kind: &[u8], body: &[u8]| {
        let mut c = (body.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(body);
        c.extend_from_slice(&[0, 0, 0, 0]);
        c
    };
    let mut ihdr = (width as u32).to_be_bytes().to_vec();
    ihdr.extend_from_slice(&(rows.len() as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &data));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// The barcode of `text`, 3 pixels a module, with the first data character's pattern
/// replaced by another of the same width (the check character no longer matches).
fn damaged_barcode(text: &str) -> Vec<u8> {
    let mut m = egov_documents::code128::encode(text).unwrap();
    let other: Vec<bool> = b"131321" // the value of «C»; a number's first letter is not
        .iter()
        .enumerate()
        .flat_map(|(i, w)| std::iter::repeat_n(i % 2 == 0, (w - b'0') as usize))
        .collect();
    m[11..22].copy_from_slice(&other);
    let mut row = vec![255u8; 40];
    for b in m {
        row.extend([if b { 0 } else { 255 }; 3]);
    }
    row.extend([255u8; 40]);
    png(&vec![row; 20])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Through the desk to ИС МИО's registration, the register and the courier's hand-over
/// where the paper goes by courier, and the provider's procedure (`branch`) to the
/// result back at ИС ЦОН. Returns the inspector's desk and the application's number.
async fn to_result(
    env: &crate::common::Env,
    con: &Con,
    centre: &str,
    regulation: &str,
    citizen: &str,
    branch: Branch,
) -> (Desk, String) {
    let reg = crate::world::regulation(regulation);
    let (desk, v) = to_registration(env, con, centre, regulation, citizen, None).await;
    let number = v["number"].as_str().unwrap().to_string();
    let plan = egov_con_is::steps::plan(&reg);
    if let Some(transfer) = plan.next_task {
        // the accumulation sector's register, the courier's hand-over within the day
        let acc = as_role(con, centre, Role::Accumulation).await;
        let (s, list) = acc.get("/api/v1/registers").await;
        assert_eq!(s, 200, "{list}");
        assert!(
            list["awaiting"]
                .as_array()
                .unwrap()
                .contains(&json!(number)),
            "{list}"
        );
        let (s, r) = acc.post("/api/v1/registers", json!({})).await;
        assert_eq!(s, 201, "{regulation}: {r}");
        assert_eq!(r["formed_by"], acc.iin.as_str());
        assert!(
            r["applications"]
                .as_array()
                .unwrap()
                .contains(&json!(number))
        );
        let rnum = r["number"].as_str().unwrap().to_string();
        assert!(rnum.contains("-REG-"), "{rnum}");
        let courier = as_role(con, centre, Role::Courier).await;
        let (s, h) = courier
            .post(&format!("/api/v1/registers/{rnum}/handover"), Value::Null)
            .await;
        assert_eq!(s, 200, "{regulation}: {h}");
        assert_eq!(h["handed_over_by"], courier.iin.as_str());
        // the register on paper, in both languages, with the courier who took it
        let (s, pdf) = acc
            .bytes(&format!("/api/v1/registers/{rnum}/register.pdf"))
            .await;
        assert_eq!(s, 200);
        assert!(pdf.starts_with(b"%PDF-"));
        if let Some(text) = crate::common::pdf_text(&pdf) {
            assert!(
                text.contains("Реестр документов, передаваемых услугодателю"),
                "{text}"
            );
            assert!(text.contains("тізілімі"), "{text}");
            assert!(text.contains(&rnum) && text.contains(&number), "{text}");
            assert!(text.contains("Принял"), "{text}");
        }
        let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
        let t = step(&v, &transfer.id).unwrap();
        assert_eq!(t["completed_by"], courier.iin.as_str(), "{t}");
        assert_eq!(t["overdue"], false, "{t}");
        assert_eq!(v["paper"]["register"], rnum.as_str());
    } else {
        assert!(v["paper"]["register"].is_null());
    }
    let message_id = v["message_id"].as_str().unwrap();
    let mio_number = registered(env, &reg.system, message_id).await.number;
    drive(env, &reg.system, &mio_number, branch).await;
    desk.until(&number, "the result", |v| v["result"].is_object())
        .await;
    (desk, number)
}

/// The result's signature by the provider's authorised person verifies against the
/// test PKI, and not once the PDF is changed.
async fn signature_verifies(env: &crate::common::Env, con: &Con, desk: &Desk, number: &str) {
    let (s, pdf) = desk
        .bytes(&format!("/api/v1/applications/{number}/result.pdf"))
        .await;
    assert_eq!(s, 200);
    let row: Value = sqlx::query_scalar("select result from applications where number = $1")
        .bind(number)
        .fetch_one(&con.core.pool)
        .await
        .unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(row["signature"].as_str().unwrap())
        .unwrap();
    let signer = env
        .w
        .verifier()
        .verify_detached(&pdf, &sig, &egov_pki::VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        signer.identity.iin.map(|i| i.as_string()).as_deref(),
        row["signer_iin"].as_str()
    );
    let mut tampered = pdf;
    tampered[20] ^= 1;
    assert!(
        env.w
            .verifier()
            .verify_detached(&tampered, &sig, &egov_pki::VerifyOptions::default())
            .await
            .is_err()
    );
}

/// The cover of `number`, rendered, rasterized and scanned by the issuing inspector.
async fn scan_cover(issuer: &Desk, number: &str) -> Value {
    let (s, pdf) = issuer
        .bytes(&format!("/api/v1/applications/{number}/cover.pdf"))
        .await;
    assert_eq!(s, 200);
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = crate::common::pdf_text(&pdf) {
        assert!(
            text.contains("Обложка результата оказания государственной услуги"),
            "{text}"
        );
        assert!(
            text.contains("Мемлекеттік қызмет көрсету нәтижесінің мұқабасы"),
            "{text}"
        );
        assert!(text.contains(number), "{text}");
    }
    let image = rasterize(&pdf);
    let (s, found) = issuer
        .post("/api/v1/scan", json!({"image": b64(&image)}))
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["barcode"], number);
    assert_eq!(found["application"]["number"], number);
    found["application"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_con_channel_from_the_desk_to_the_issued_result() {
    let (env, con) = world(&["mio-almaty", "mio-atyrau", "mio-nko"]).await;
    for (centre, regulation, citizen) in [
        (
            "almaty-almaly",
            "almaty-2013-housing-queue",
            "family-father",
        ),
        (
            "almaty-bostandyk",
            "almaty-2016-housing-assistance",
            "family-mother",
        ),
        ("atyrau-city", "atyrau-2012-housing-queue", "atyrau"),
        ("atyrau-zhylyoi", "atyrau-2014-housing-queue", "atyrau"),
        ("akzhar", "akzhar-2012-housing-queue", "akzhar"),
    ] {
        let reg = crate::world::regulation(regulation);
        let leg = egov_con_is::paper::leg(&reg);
        let (desk, number) =
            to_result(&env, &con, centre, regulation, citizen, Branch::Success).await;
        let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
        signature_verifies(&env, &con, &desk, &number).await;
        let courier = as_role(&con, centre, Role::Courier).await;
        let path = format!("/api/v1/applications/{number}/return");
        if egov_con_is::paper::by_courier(&reg) {
            assert_eq!(v["paper"]["state"], "in_transit", "{regulation}: {v}");
            for c in &leg.courier {
                assert!(step(&v, &c.id).unwrap()["completed_at"].is_null());
            }
            let (s, r) = courier.post(&path, Value::Null).await;
            assert_eq!(s, 200, "{regulation}: {r}");
            assert_eq!(r["paper"]["state"], "ready");
            assert_eq!(r["paper"]["returned_by"], courier.iin.as_str());
            for c in &leg.courier {
                let done = step(&r, &c.id).unwrap();
                assert_eq!(done["completed_by"], courier.iin.as_str(), "{done}");
            }
            for m in &leg.marks {
                assert!(
                    step(&r, &m.id).unwrap()["completed_at"].is_null(),
                    "{regulation}: {} opened",
                    m.id
                );
            }
        } else {
            assert_eq!(v["paper"]["state"], "ready", "{regulation}: {v}");
            let (s, r) = courier.post(&path, Value::Null).await;
            assert_eq!(
                (s, r["error"]["code"].as_str()),
                (409, Some("NOT_BY_COURIER")),
                "{r}"
            );
        }
        // the issuing inspector scans the cover's barcode
        let issuer = as_role(&con, centre, Role::Issuer).await;
        let scanned = scan_cover(&issuer, &number).await;
        assert_eq!(scanned["paper"]["scanned_by"], issuer.iin.as_str());
        for m in &leg.marks {
            let done = step(&scanned, &m.id).unwrap();
            assert_eq!(done["completed_by"], issuer.iin.as_str(), "{done}");
        }
        // the hand scanner's text finds it too
        let (s, by_text) = issuer.post("/api/v1/scan", json!({"text": number})).await;
        assert_eq!(s, 200, "{by_text}");
        assert_eq!(by_text["application"]["number"], number.as_str());
        // the issue, with the survey where the regulation has one
        let applicant = egov_synth::fixtures::iin_of(citizen).as_string();
        let survey = egov_con_is::survey::of(&reg);
        let body = if survey.is_some() {
            json!({"iin": applicant, "survey": {"quality": "satisfied", "information": "partly-satisfied"}})
        } else {
            let (s, e) = issuer
                .post(
                    &format!("/api/v1/applications/{number}/issue"),
                    json!({"iin": applicant, "survey": {"quality": "satisfied", "information": "satisfied"}}),
                )
                .await;
            assert_eq!(
                (s, e["error"]["code"].as_str()),
                (422, Some("NO_SURVEY")),
                "{e}"
            );
            json!({"iin": applicant})
        };
        let (s, issued) = issuer
            .post(&format!("/api/v1/applications/{number}/issue"), body)
            .await;
        assert_eq!(s, 200, "{regulation}: {issued}");
        let p = &issued["paper"];
        assert_eq!(p["state"], "issued");
        assert_eq!(p["issued_to_iin"], applicant.as_str());
        assert_eq!(p["issued_by"], issuer.iin.as_str());
        if survey.is_some() {
            assert_eq!(p["survey"]["quality"], "satisfied", "{p}");
        } else {
            assert!(p["survey"].is_null());
        }
        let i = step(&issued, &leg.issue.unwrap().id).unwrap();
        assert_eq!(i["completed_by"], issuer.iin.as_str(), "{i}");
        assert_eq!(i["overdue"], false, "{i}");
        if let Some(c) = leg.collect {
            assert_eq!(step(&issued, &c.id).unwrap()["outcome"], "yes");
        }
        // a second issue of the same result is refused
        let (s, again) = issuer
            .post(
                &format!("/api/v1/applications/{number}/issue"),
                json!({"iin": applicant}),
            )
            .await;
        assert_eq!(
            (s, again["error"]["code"].as_str()),
            (409, Some("ALREADY_ISSUED")),
            "{again}"
        );
        // the centre's list and the public look-up say so
        let (_, list) = issuer.get("/api/v1/applications").await;
        let mine = list["applications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["number"] == number.as_str())
            .unwrap();
        assert_eq!(mine["result_state"], "issued", "{mine}");
        let p: Value = env
            .http
            .get(format!("{}/api/v1/public/applications/{number}", con.http))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p["result_state"], "issued", "{p}");
        assert_eq!(p["status"], "completed", "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncollected_result_goes_to_the_archive_after_a_month_and_is_issued_from_it() {
    let (env, con) = world(&["mio-atyrau", "mio-nko"]).await;
    // Atyrau 2014: the paper comes back by courier; the barcode mark the same day
    let (_, paper_route) = to_result(
        &env,
        &con,
        "atyrau-zhylyoi",
        "atyrau-2014-housing-queue",
        "atyrau",
        Branch::Success,
    )
    .await;
    let courier = as_role(&con, "atyrau-zhylyoi", Role::Courier).await;
    let (s, r) = courier
        .post(
            &format!("/api/v1/applications/{paper_route}/return"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let issuer = as_role(&con, "atyrau-zhylyoi", Role::Issuer).await;
    let (s, _) = issuer
        .post("/api/v1/scan", json!({"text": paper_route}))
        .await;
    assert_eq!(s, 200);
    // Akzhar: electronic, ready as it arrives
    let (_, electronic) = to_result(
        &env,
        &con,
        "akzhar",
        "akzhar-2012-housing-queue",
        "akzhar",
        Branch::Success,
    )
    .await;
    assert!(
        egov_con_is::paper::archive_due(&con.core)
            .await
            .unwrap()
            .is_empty()
    );
    env.clock.advance(time::Duration::days(20));
    assert!(
        egov_con_is::paper::archive_due(&con.core)
            .await
            .unwrap()
            .is_empty(),
        "not a month yet"
    );
    env.clock.advance(time::Duration::days(12));
    let mut archived = egov_con_is::paper::archive_due(&con.core).await.unwrap();
    archived.sort();
    let mut want = vec![paper_route.clone(), electronic.clone()];
    want.sort();
    assert_eq!(archived, want);
    assert!(
        egov_con_is::paper::archive_due(&con.core)
            .await
            .unwrap()
            .is_empty(),
        "archived once"
    );
    // the sessions have ended with the month; new ones see the archive
    let issuer = as_role(&con, "atyrau-zhylyoi", Role::Issuer).await;
    let (_, v) = issuer
        .get(&format!("/api/v1/applications/{paper_route}"))
        .await;
    assert_eq!(v["paper"]["state"], "archived", "{v}");
    assert_eq!(step(&v, "con-mark-returned").unwrap()["outcome"], "no");
    let a = step(&v, "con-archive").unwrap();
    assert_eq!(a["completed_by"], "con-is", "{a}");
    assert_eq!(a["overdue"], false, "{a}");
    for n in [&paper_route, &electronic] {
        let p: Value = env
            .http
            .get(format!("{}/api/v1/public/applications/{n}", con.http))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p["result_state"], "archived", "{p}");
        assert!(p["archived_at"].is_string(), "{p}");
    }
    // issued from the archive: scanned and checked the same way; the leg ended there
    let (s, _) = issuer
        .post("/api/v1/scan", json!({"text": paper_route}))
        .await;
    assert_eq!(s, 200);
    let (s, issued) = issuer
        .post(
            &format!("/api/v1/applications/{paper_route}/issue"),
            json!({"iin": egov_synth::fixtures::iin_of("atyrau").as_string()}),
        )
        .await;
    assert_eq!(s, 200, "{issued}");
    assert_eq!(issued["paper"]["state"], "issued");
    assert!(issued["paper"]["archived_at"].is_string());
    assert!(step(&issued, "con-issue-result").is_none(), "{issued}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_paper_action_refuses_bad_input_and_writes_nothing() {
    let (env, con) = world(&["mio-almaty"]).await;
    let centre = "almaty-almaly";
    let acc = as_role(&con, centre, Role::Accumulation).await;
    let code = |r: &(u16, Value)| (r.0, r.1["error"]["code"].as_str().map(String::from));
    let is = |c: u16, s: &str| (c, Some(s.to_string()));
    // nothing waits for a register yet
    let r = acc.post("/api/v1/registers", json!({})).await;
    assert_eq!(code(&r), is(409, "NOTHING_TO_REGISTER"), "{}", r.1);
    let (desk, v) = to_registration(
        &env,
        &con,
        centre,
        "almaty-2013-housing-queue",
        "family-father",
        None,
    )
    .await;
    let number = v["number"].as_str().unwrap().to_string();
    // roles, in the operator's language
    let r = desk.post("/api/v1/registers", json!({})).await;
    assert_eq!(code(&r), is(403, "WRONG_ROLE"), "{}", r.1);
    let kk = as_role(&con, centre, Role::Courier).await.kazakh();
    let r = kk.post("/api/v1/registers", json!({})).await;
    assert_eq!(code(&r), is(403, "WRONG_ROLE"));
    assert!(
        r.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("рөлінің"),
        "{}",
        r.1
    );
    // another centre's accumulation sector cannot list this centre's application
    let other = as_role(&con, "almaty-bostandyk", Role::Accumulation).await;
    let r = other
        .post("/api/v1/registers", json!({"applications": [number]}))
        .await;
    assert_eq!(code(&r), is(403, "FORBIDDEN"), "{}", r.1);
    for (body, want) in [
        (
            json!({"applications": ["ALM-ALM-2026-999999"]}),
            is(404, "NOT_FOUND"),
        ),
        (
            json!({"applications": ["bad number"]}),
            is(422, "INVALID_NUMBER"),
        ),
        (json!({"applications": []}), is(422, "INVALID")),
        (
            json!({"applications": [number], "x": 1}),
            is(400, "BAD_REQUEST"),
        ),
    ] {
        let r = acc.post("/api/v1/registers", body.clone()).await;
        assert_eq!(code(&r), want, "{body}: {}", r.1);
    }
    assert_eq!(rows(&con, "registers").await, 0, "nothing half-written");
    let (s, reg) = acc
        .post("/api/v1/registers", json!({"applications": [number]}))
        .await;
    assert_eq!(s, 201, "{reg}");
    let rnum = reg["number"].as_str().unwrap().to_string();
    let r = acc
        .post("/api/v1/registers", json!({"applications": [number]}))
        .await;
    assert_eq!(code(&r), is(409, "NOT_AWAITING_REGISTER"), "{}", r.1);
    // the hand-over: the courier of this centre, once
    let other_courier = as_role(&con, "almaty-bostandyk", Role::Courier).await;
    let r = other_courier
        .post(&format!("/api/v1/registers/{rnum}/handover"), Value::Null)
        .await;
    assert_eq!(code(&r), is(403, "FORBIDDEN"), "{}", r.1);
    let r = acc
        .post(&format!("/api/v1/registers/{rnum}/handover"), Value::Null)
        .await;
    assert_eq!(code(&r), is(403, "WRONG_ROLE"));
    let courier = as_role(&con, centre, Role::Courier).await;
    let r = courier
        .post(
            "/api/v1/registers/ALM-ALM-REG-2026-000099/handover",
            Value::Null,
        )
        .await;
    assert_eq!(code(&r), is(404, "NOT_FOUND"));
    let r = courier
        .post(&format!("/api/v1/registers/{rnum}/handover"), Value::Null)
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let r = courier
        .post(&format!("/api/v1/registers/{rnum}/handover"), Value::Null)
        .await;
    assert_eq!(code(&r), is(409, "ALREADY_HANDED_OVER"));
    // before the result: no return, no cover
    let issuer = as_role(&con, centre, Role::Issuer).await;
    let ret = format!("/api/v1/applications/{number}/return");
    let r = courier.post(&ret, Value::Null).await;
    assert_eq!(code(&r), is(409, "RESULT_NOT_ARRIVED"), "{}", r.1);
    let (s, _) = issuer
        .bytes(&format!("/api/v1/applications/{number}/cover.pdf"))
        .await;
    assert_eq!(s, 409);
    let mio_number = registered(&env, "mio-almaty", v["message_id"].as_str().unwrap())
        .await
        .number;
    drive(&env, "mio-almaty", &mio_number, Branch::Success).await;
    desk.until(&number, "the result", |v| v["result"].is_object())
        .await;
    // the scan before the paper is back
    let r = issuer.post("/api/v1/scan", json!({"text": number})).await;
    assert_eq!(code(&r), is(409, "NOT_RETURNED"), "{}", r.1);
    let r = issuer.post(&ret, Value::Null).await;
    assert_eq!(code(&r), is(403, "WRONG_ROLE"));
    let r = other_courier.post(&ret, Value::Null).await;
    assert_eq!(code(&r), is(403, "FORBIDDEN"));
    assert_eq!(courier.post(&ret, Value::Null).await.0, 200);
    let r = courier.post(&ret, Value::Null).await;
    assert_eq!(code(&r), is(409, "ALREADY_RETURNED"));
    // the issue before any scan
    let applicant = egov_synth::fixtures::iin_of("family-father").as_string();
    let issue = format!("/api/v1/applications/{number}/issue");
    let r = issuer.post(&issue, json!({"iin": applicant})).await;
    assert_eq!(code(&r), is(409, "NOT_SCANNED"), "{}", r.1);
    // scans that find nothing, or a damaged barcode
    for (body, want) in [
        (
            json!({"text": "ALM-ALM-2026-999999"}),
            is(404, "BARCODE_UNKNOWN"),
        ),
        (json!({"text": "not a number"}), is(404, "BARCODE_UNKNOWN")),
        (
            json!({"image": b64(&damaged_barcode(&number))}),
            is(422, "BARCODE_DAMAGED"),
        ),
        (
            json!({"image": b64(&png(&vec![vec![255u8; 300]; 10]))}),
            is(422, "BARCODE_NOT_FOUND"),
        ),
        (
            json!({"image": b64(b"GIF89a....")}),
            is(422, "INVALID_IMAGE"),
        ),
        (json!({"image": "%%%"}), is(422, "INVALID_IMAGE")),
        (json!({"text": number, "image": "AA=="}), is(422, "INVALID")),
        (json!({}), is(422, "INVALID")),
        (json!({"text": number, "x": 1}), is(400, "BAD_REQUEST")),
    ] {
        let r = issuer.post("/api/v1/scan", body.clone()).await;
        assert_eq!(code(&r), want, "{}", r.1);
    }
    let r = courier.post("/api/v1/scan", json!({"text": number})).await;
    assert_eq!(code(&r), is(403, "WRONG_ROLE"));
    let other_issuer = as_role(&con, "almaty-bostandyk", Role::Issuer).await;
    let r = other_issuer
        .post("/api/v1/scan", json!({"text": number}))
        .await;
    assert_eq!(code(&r), is(403, "FORBIDDEN"));
    let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert!(v["paper"]["scanned_at"].is_null(), "no scan recorded: {v}");
    let r = issuer.post("/api/v1/scan", json!({"text": number})).await;
    assert_eq!(r.0, 200, "{}", r.1);
    // the issue: the person, the survey, the role, the centre
    let stranger = egov_synth::fixtures::iin_of("family-mother").as_string();
    for (who, body, want) in [
        (
            &issuer,
            json!({"iin": stranger}),
            is(422, "RECIPIENT_MISMATCH"),
        ),
        (&issuer, json!({"iin": "123"}), is(422, "INVALID_IIN")),
        (
            &issuer,
            json!({"iin": applicant, "survey": {"quality": "maybe", "information": "satisfied"}}),
            is(422, "INVALID_SURVEY"),
        ),
        (
            &issuer,
            json!({"iin": applicant, "survey": {"quality": "satisfied"}}),
            is(422, "INVALID_SURVEY"),
        ),
        (
            &issuer,
            json!({"iin": applicant, "x": 1}),
            is(400, "BAD_REQUEST"),
        ),
        (&courier, json!({"iin": applicant}), is(403, "WRONG_ROLE")),
        (
            &other_issuer,
            json!({"iin": applicant}),
            is(403, "FORBIDDEN"),
        ),
    ] {
        let r = who.post(&issue, body.clone()).await;
        assert_eq!(code(&r), want, "{body}: {}", r.1);
    }
    let r = as_role(&con, centre, Role::Issuer)
        .await
        .kazakh()
        .post(&issue, json!({"iin": stranger}))
        .await;
    assert!(
        r.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("нәтиже берілмейді"),
        "{}",
        r.1
    );
    assert_eq!(rows(&con, "surveys").await, 0, "nothing half-written");
    let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
    assert!(v["paper"]["issued_at"].is_null(), "{v}");
    assert!(step(&v, "con-issue").is_none(), "{v}");
    let r = issuer
        .post(
            &issue,
            json!({"iin": applicant, "survey": {"quality": "not-satisfied", "information": "satisfied"}}),
        )
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let r = issuer.post(&issue, json!({"iin": applicant})).await;
    assert_eq!(code(&r), is(409, "ALREADY_ISSUED"));
    assert_eq!(rows(&con, "surveys").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_hand_over_and_an_unmarked_return_are_flagged() {
    let (env, con) = world(&["mio-atyrau"]).await;
    let centre = "atyrau-zhylyoi";
    let (_, v) = to_registration(
        &env,
        &con,
        centre,
        "atyrau-2014-housing-queue",
        "atyrau",
        None,
    )
    .await;
    let number = v["number"].as_str().unwrap().to_string();
    // the provider decides at once (its signatures on today's clock)
    let mio_number = registered(&env, "mio-atyrau", v["message_id"].as_str().unwrap())
        .await
        .number;
    drive(&env, "mio-atyrau", &mio_number, Branch::Success).await;
    // the register goes a week later, past «one working day»
    env.clock.advance(time::Duration::days(7));
    let acc = as_role(&con, centre, Role::Accumulation).await;
    let (s, r) = acc.post("/api/v1/registers", json!({})).await;
    assert_eq!(s, 201, "{r}");
    let rnum = r["number"].as_str().unwrap();
    let courier = as_role(&con, centre, Role::Courier).await;
    let (s, _) = courier
        .post(&format!("/api/v1/registers/{rnum}/handover"), Value::Null)
        .await;
    assert_eq!(s, 200);
    let desk = Desk::inspector(&con, centre).await;
    let v = desk
        .until(&number, "the result", |v| v["result"].is_object())
        .await;
    let t = step(&v, "con-send-to-provider").unwrap();
    assert_eq!(t["completed_by"], courier.iin.as_str(), "{t}");
    assert_eq!(
        t["overdue"], true,
        "done a week after, due in a working day: {t}"
    );
    // the return; the barcode mark is due the same day
    let (s, r) = courier
        .post(
            &format!("/api/v1/applications/{number}/return"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let mark = step(&r, "con-mark-returned").unwrap();
    assert!(
        mark["completed_at"].is_null() && mark["due_at"].is_string(),
        "{mark}"
    );
    let flagged = |o: &[egov_con_is::steps::Overdue]| {
        o.iter()
            .filter(|o| o.number == number)
            .map(|o| o.step_id.clone())
            .collect::<Vec<_>>()
    };
    assert!(flagged(&egov_con_is::steps::scan(&con.core).await.unwrap()).is_empty());
    env.clock.advance(time::Duration::hours(9));
    assert_eq!(
        flagged(&egov_con_is::steps::scan(&con.core).await.unwrap()),
        ["con-mark-returned"]
    );
    // scanned late, it keeps the flag
    let issuer = as_role(&con, centre, Role::Issuer).await;
    let (s, found) = issuer.post("/api/v1/scan", json!({"text": number})).await;
    assert_eq!(s, 200, "{found}");
    let mark = step(&found["application"], "con-mark-returned").unwrap();
    assert_eq!(mark["completed_by"], issuer.iin.as_str(), "{mark}");
    assert_eq!(mark["overdue"], true, "{mark}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_refusal_comes_back_to_the_desk_signed_for_every_regulation() {
    let (env, con) = world(&["mio-almaty", "mio-atyrau", "mio-nko"]).await;
    for (centre, regulation, citizen) in [
        (
            "almaty-almaly",
            "almaty-2013-housing-queue",
            "family-father",
        ),
        (
            "almaty-bostandyk",
            "almaty-2016-housing-assistance",
            "family-mother",
        ),
        ("atyrau-city", "atyrau-2012-housing-queue", "atyrau"),
        ("atyrau-zhylyoi", "atyrau-2014-housing-queue", "atyrau"),
        ("akzhar", "akzhar-2012-housing-queue", "akzhar"),
    ] {
        // the commission refuses: the motivated refusal is the result the centre issues
        let (desk, number) =
            to_result(&env, &con, centre, regulation, citizen, Branch::Refusal).await;
        let (_, v) = desk.get(&format!("/api/v1/applications/{number}")).await;
        assert_eq!(v["status"]["status"], "refused", "{regulation}: {v}");
        // on its way back by courier, or at the centre where nothing travels
        let state = v["paper"]["state"].as_str().unwrap_or_default();
        assert!(
            state == "in_transit" || state == "ready",
            "{regulation}: {state}"
        );
        signature_verifies(&env, &con, &desk, &number).await;
        // the public look-up says so, in both languages, and that the result is ready
        let (s, p) = desk
            .get(&format!("/api/v1/public/applications/{number}"))
            .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["status"], "refused", "{regulation}: {p}");
        assert_eq!(p["status_kk"], "бас тартылды", "{regulation}: {p}");
        assert_eq!(p["result_ready"], true, "{regulation}: {p}");
    }
}
