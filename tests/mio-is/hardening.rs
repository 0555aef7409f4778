//! The workstation hardened: generated passwords stored with argon2id, employees' keys
//! encrypted at rest and signing by the client, CSRF tokens and the Origin check, the
//! API's role rule for channel B, person look-ups only for the provider's applications,
//! IINs masked in the logs.

use crate::common::*;
use egov_mio_is::employees::{self, Login};
use serde_json::{Value, json};

/// A start without the development setting gives every seeded account a generated
/// password of its own, written once to a file of the owner's alone and stored only as an
/// argon2id hash with a salt of its own; a wrong or the old default password is refused; a
/// PBKDF2 hash of before still verifies and becomes argon2id at that login; a restart
/// seeds nothing and shows no password again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_accounts_get_their_own_passwords_kept_as_argon2id() {
    let w = egov_testkit::World::new(&["rshep-almaty"]).await;
    let build = || async {
        let mut cfg = egov_mio_is::Config::for_system(&w.topology, "mio-almaty").unwrap();
        let base = w.system_config("mio-almaty", "mio_almaty");
        cfg.system.pki_dir = base.pki_dir;
        cfg.system.database_url = base.database_url;
        cfg.system.ocsp_url = base.ocsp_url;
        cfg.system.any_ports();
        cfg.regulation_dirs = vec![egov_regulation::shipped_dir()];
        cfg.passwords_file = Some(w.dir.path().join("passwords.txt"));
        cfg.keystore_key_file = w.dir.path().join("keystore.key");
        assert_eq!(cfg.dev_employee_password, None, "not set by default");
        let mut mio = egov_mio_is::MioIs::build(cfg, egov_mio_is::clock::Clock::manual())
            .await
            .unwrap();
        // the world seeds the accounts as the registration authority
        mio.seed_employees(&w.authority()).await.unwrap();
        mio
    };
    let mio = build().await;
    let pool = mio.pool().clone();
    let accounts = employees::all(&pool).await.unwrap();
    let given: Vec<(String, String)> = mio.new_passwords().to_vec();
    assert_eq!(given.len(), accounts.len());
    assert!(accounts.len() > 3, "{accounts:?}");
    let mut distinct: Vec<&str> = given.iter().map(|(_, p)| p.as_str()).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), given.len(), "every password its own");
    assert!(
        given.iter().all(|(_, p)| p != PASSWORD && p.len() >= 16),
        "{given:?}"
    );
    // the file, 0600, lists each account once with its password
    let file = w.dir.path().join("passwords.txt");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let listed = std::fs::read_to_string(&file).unwrap();
    for (iin, p) in &given {
        assert!(listed.contains(&format!("{iin}\t{p}\t")), "{iin}");
    }
    // stored: argon2id, a salt per account, never the password
    let hashes: Vec<(String, String)> =
        sqlx::query_as("select iin, password_hash from employees order by iin")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut salts = Vec::new();
    for (iin, h) in &hashes {
        assert!(h.starts_with("$argon2id$v=19$"), "{iin}: {h}");
        let p = &given.iter().find(|(i, _)| i == iin).unwrap().1;
        assert!(!h.contains(p.as_str()));
        salts.push(h.split('$').nth(4).unwrap().to_string());
    }
    salts.sort();
    salts.dedup();
    assert_eq!(salts.len(), hashes.len(), "a salt per account");

    let now = time::OffsetDateTime::now_utc();
    let login = |iin: String, p: String| {
        let pool = pool.clone();
        async move {
            employees::login(&pool, &iin, &p, now, time::Duration::hours(1))
                .await
                .unwrap()
        }
    };
    let (iin, password) = given[0].clone();
    assert!(matches!(
        login(iin.clone(), password.clone()).await,
        Login::Ok(..)
    ));
    assert!(matches!(
        login(iin.clone(), PASSWORD.into()).await,
        Login::Refused
    ));
    assert!(matches!(
        login(iin.clone(), format!("{password}x")).await,
        Login::Refused
    ));
    // the other account's password is not this one's
    assert!(matches!(
        login(iin.clone(), given[1].1.clone()).await,
        Login::Refused
    ));

    // an account stored before argon2id: PBKDF2 still verifies, then gives way
    let (old_iin, _) = given[1].clone();
    sqlx::query("update employees set password_hash = $2 where iin = $1")
        .bind(&old_iin)
        .bind(employees::legacy_pbkdf2_hash("старый-пароль"))
        .execute(&pool)
        .await
        .unwrap();
    let stored = |iin: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select password_hash from employees where iin = $1")
                .bind(iin)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        login(old_iin.clone(), "не тот".into()).await,
        Login::Refused
    ));
    assert!(stored(old_iin.clone()).await.starts_with("pbkdf2-sha256$"));
    assert!(matches!(
        login(old_iin.clone(), "старый-пароль".into()).await,
        Login::Ok(..)
    ));
    let upgraded = stored(old_iin.clone()).await;
    assert!(upgraded.starts_with("$argon2id$v=19$"), "{upgraded}");
    assert!(matches!(
        login(old_iin.clone(), "старый-пароль".into()).await,
        Login::Ok(..)
    ));
    assert!(matches!(
        login(old_iin.clone(), "не тот".into()).await,
        Login::Refused
    ));

    // a key stored in clear by an earlier version is sealed at the next start
    sqlx::query(
        "update employees set key_pem = 'CLEAR KEY', key_nonce = null, key_sealed = null where iin = $1",
    )
    .bind(&given[2].0)
    .execute(&pool)
    .await
    .unwrap();
    // a restart creates no account and shows no password
    drop(mio);
    std::fs::remove_file(&file).unwrap();
    let again = build().await;
    assert!(again.new_passwords().is_empty());
    let (clear, nonce, sealed): (Option<String>, Vec<u8>, Vec<u8>) =
        sqlx::query_as("select key_pem, key_nonce, key_sealed from employees where iin = $1")
            .bind(&given[2].0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(clear, None);
    assert_eq!(
        again
            .engine()
            .keystore
            .open(&given[2].0, &nonce, &sealed)
            .unwrap(),
        "CLEAR KEY"
    );
    assert!(!file.exists());
    assert_eq!(
        stored(given[0].0.clone()).await,
        hashes.iter().find(|(i, _)| *i == given[0].0).unwrap().1
    );
}

/// A complete channel B application of the named citizen `family-mother` at Almaty.
fn channel_b_body(env: &Env) -> Value {
    let reg = env
        .mio("mio-almaty")
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let category = "socially-vulnerable";
    let docs: Vec<Value> = reg
        .required_documents(category)
        .iter()
        .map(|d| json!({"kind": d.id, "paper": true}))
        .collect();
    json!({
        "iin": egov_synth::fixtures::iin_of("family-mother").as_string(),
        "category": category,
        "phone": "+77011234567",
        "form": {"family_size": 4, "current_housing": "аренда, 42 м²"},
        "documents": docs,
    })
}

/// The same made by an outside client: `openssl cms -sign` (None when openssl is not
/// installed).
fn openssl_cms(signer: &Signer, bytes: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let (doc, key, cert, sig) = (
        dir.path().join("doc"),
        dir.path().join("key.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("sig.der"),
    );
    std::fs::write(&doc, bytes).unwrap();
    std::fs::write(&key, signer.key.to_pem()).unwrap();
    std::fs::write(&cert, signer.cert.to_pem()).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
        ])
        .arg("-in")
        .arg(&doc)
        .arg("-signer")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .arg("-out")
        .arg(&sig)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(base64::engine::general_purpose::STANDARD.encode(std::fs::read(&sig).unwrap()))
}

/// Without the server-held keys, a signing step is completed by a signature made on the
/// employee's own client over the exact bytes handed out: a CMS of the employee's
/// certificate goes through; another person's, one over other bytes, a broken one or one
/// for no request are each refused under their own code, and nothing is signed by them.
/// Channel B the same way, signed by `openssl cms` as an outside client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employees_sign_on_their_own_client() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = env_with(None, &[], &["mio-almaty"], |c| {
        c.dev_server_keystore = false
    })
    .await;
    let pool = env.mio("mio-almaty").engine.pool.clone();
    // the keys are kept sealed, never in clear
    let clear: i64 = sqlx::query_scalar(
        "select count(*) from employees where key_pem is not null or key_sealed is null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(clear, 0);

    let app = portal_application(
        &env,
        "mio-almaty",
        "almaty-2013-housing-queue",
        "family-father",
    )
    .await;
    drive_until(
        &env,
        "mio-almaty",
        &app.number,
        Branch::Incomplete,
        Some("issue-incomplete-refusal"),
    )
    .await;
    // the executor forms the refusal, signs it, and it leaves (an issue step)
    let run: (i64, String, Option<String>) = sqlx::query_as(
        "select id, step_id, assignee_iin from step_runs where application_id = $1 and status = 'open'",
    )
    .bind(app.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(run.1, "issue-incomplete-refusal");
    let task = run.0;
    let provider = app.provider_id.clone();
    let head_iin = run.2.expect("assigned to the executor");
    let head = Arm::login(&env, "mio-almaty", &head_iin).await;
    let office_iin = employees_of(&env, "mio-almaty", &provider, "office").await[0].clone();
    let office = Arm::login(&env, "mio-almaty", &office_iin).await;

    // the server signs nothing itself
    let (s, v) = head
        .post(&format!("/api/v1/tasks/{task}/complete"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("SIGN_ON_CLIENT")),
        "{v}"
    );

    // the bytes to sign and their digest
    let (s, req) = head
        .get(&format!("/api/v1/tasks/{task}/sign-request"))
        .await;
    assert_eq!(s, 200, "{req}");
    let bytes = b64.decode(req["bytes"].as_str().unwrap()).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    assert_eq!(req["digest"]["algorithm"], "SHA-256");
    assert_eq!(
        req["digest"]["value"].as_str().unwrap(),
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref())
    );
    let request = req["request"].as_str().unwrap().to_string();
    // another role gets none
    let (s, v) = office
        .get(&format!("/api/v1/tasks/{task}/sign-request"))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{v}"
    );

    let employee = env.signer(&head_iin, "ИСПОЛНИТЕЛЕВ ИВАН", None);
    let stranger = env.citizen("family-father");
    let post = |request: String, signature: String| {
        let head = &head;
        async move {
            head.post(
                &format!("/api/v1/tasks/{task}/signature"),
                json!({"request": request, "signature": signature}),
            )
            .await
        }
    };
    for (what, request, signature, status, code) in [
        (
            "another person's certificate",
            request.clone(),
            cms(&stranger, &bytes),
            422,
            "SIGNER_NOT_EMPLOYEE",
        ),
        (
            "other bytes",
            request.clone(),
            cms(&employee, b"%PDF-1.7 another document"),
            422,
            "SIGNATURE_MISMATCH",
        ),
        (
            "not base64",
            request.clone(),
            "%%%".to_string(),
            422,
            "SIGNATURE_MALFORMED",
        ),
        (
            "not CMS",
            request.clone(),
            b64.encode(b"not a signature"),
            422,
            "SIGNATURE_MALFORMED",
        ),
        (
            "no such request",
            uuid::Uuid::new_v4().to_string(),
            cms(&employee, &bytes),
            404,
            "SIGN_REQUEST_NOT_FOUND",
        ),
    ] {
        let (s, v) = post(request, signature).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {v}"
        );
    }
    let signed: i64 = sqlx::query_scalar(
        "select count(*) from results where application_id = $1 and signature is not null",
    )
    .bind(app.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(signed, 0, "nothing signed by a refused signature");

    // the employee's own signature completes the step; what was signed is what is kept
    let good = cms(&employee, &bytes);
    let (s, v) = post(request.clone(), good.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["result"].is_object(), "{v}");
    let (pdf, sig, signer): (Vec<u8>, Vec<u8>, String) = sqlx::query_as(
        "select pdf, signature, signer_iin from results where application_id = $1 and signed_at is not null",
    )
    .bind(app.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (pdf, sig, signer),
        (bytes.clone(), b64.decode(&good).unwrap(), head_iin.clone())
    );
    // a request serves once
    let (s, v) = post(request, good).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("SIGN_REQUEST_NOT_FOUND")),
        "{v}"
    );
    // bytes handed out wait 15 minutes for their signature, no longer
    let (s, stale) = office
        .post("/api/v1/applications/sign-request", channel_b_body(&env))
        .await;
    assert_eq!(s, 200, "{stale}");
    env.clock.advance(time::Duration::minutes(16));
    let clerk = env.signer(&office_iin, "КАНЦЕЛЯРОВА АЙГУЛЬ", None);
    let stale_bytes = b64.decode(stale["bytes"].as_str().unwrap()).unwrap();
    let (s, v) = office
        .post(
            "/api/v1/applications/signature",
            json!({"request": stale["request"], "signature": cms(&clerk, &stale_bytes)}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("SIGN_REQUEST_NOT_FOUND")),
        "{v}"
    );

    // channel B: the application's bytes out, an outside client's CMS in
    let reg = env
        .mio("mio-almaty")
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let category = "socially-vulnerable";
    let docs: Vec<Value> = reg
        .required_documents(category)
        .iter()
        .map(|d| json!({"kind": d.id, "paper": true}))
        .collect();
    let body = json!({
        "iin": egov_synth::fixtures::iin_of("family-mother").as_string(),
        "category": category,
        "phone": "+77011234567",
        "form": {"family_size": 4, "current_housing": "аренда, 42 м²"},
        "documents": docs,
    });
    let (s, v) = office.post("/api/v1/applications", body.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("SIGN_ON_CLIENT")),
        "{v}"
    );
    let (s, req) = office.post("/api/v1/applications/sign-request", body).await;
    assert_eq!(s, 200, "{req}");
    let bytes = b64.decode(req["bytes"].as_str().unwrap()).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["channel"], "provider");
    assert_eq!(doc["operator"]["iin"], office_iin.as_str());
    let clerk = env.signer(&office_iin, "КАНЦЕЛЯРОВА АЙГУЛЬ", None);
    let signature = match openssl_cms(&clerk, &bytes) {
        Some(s) => s,
        None => {
            eprintln!("openssl is not installed: channel B signed by the test PKI instead");
            cms(&clerk, &bytes)
        }
    };
    let (s, v) = office
        .post(
            "/api/v1/applications/signature",
            json!({"request": req["request"], "signature": cms(&stranger, &bytes)}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("SIGNER_NOT_EMPLOYEE")),
        "{v}"
    );
    let (s, v) = office
        .post(
            "/api/v1/applications/signature",
            json!({"request": req["request"], "signature": signature}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["channel"], "provider", "{v}");
}

/// The web UI's forms: every POST of a session needs the session's CSRF token from the
/// page, and a POST from another site (its `Origin`, or its `Referer` without one) is
/// refused, with a page in the UI's language; nothing happens then. Cookies are `Secure`
/// when the public URL is https, and that URL is then the one origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_sessions_token_and_the_workstations_origin() {
    let env = env(&["mio-almaty"]).await;
    let base = env.mio("mio-almaty").http.clone();
    let own = base.clone();
    let office_iin = employees_of(
        &env,
        "mio-almaty",
        &env.mio("mio-almaty")
            .engine
            .catalog
            .get("almaty-2013-housing-queue")
            .unwrap()
            .providers[0]
            .id,
        "office",
    )
    .await[0]
        .clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |origin: Option<&'static str>| {
        let (http, base, iin) = (http.clone(), base.clone(), office_iin.clone());
        async move {
            let mut r = http.post(format!("{base}/login"));
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            r.form(&[("iin", iin.as_str()), ("password", PASSWORD)])
                .send()
                .await
                .unwrap()
        }
    };
    // a login posted from another site is refused, in Russian
    let r = login(Some("http://evil.example")).await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("FOREIGN_ORIGIN") && page.contains("чужого сайта"),
        "{page}"
    );
    let r = login(None).await;
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let page = http
        .get(format!("{base}/worklist"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"name="csrf" value=""#;
    let token = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 64);
    // a second session has a token of its own
    let other = login(None).await;
    let other_cookie = other.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let other_page = http
        .get(format!("{base}/worklist"))
        .header("cookie", &other_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let other_token = other_page[other_page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(token, other_token);

    let logout = |form: Vec<(&'static str, String)>,
                  headers: Vec<(&'static str, String)>,
                  lang: &'static str| {
        let (http, base, cookie) = (http.clone(), base.clone(), cookie.clone());
        async move {
            let mut r = http
                .post(format!("{base}/logout"))
                .header("cookie", format!("{cookie}; arm_lang={lang}"));
            for (k, v) in headers {
                r = r.header(k, v);
            }
            let r = r.form(&form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for (what, form, headers, lang, code, text) in [
        (
            "no token",
            vec![],
            vec![],
            "ru",
            "CSRF_TOKEN",
            "Форма устарела",
        ),
        (
            "a wrong token",
            vec![("csrf", "0".repeat(64))],
            vec![],
            "ru",
            "CSRF_TOKEN",
            "Форма устарела",
        ),
        (
            "another session's token",
            vec![("csrf", other_token.clone())],
            vec![],
            "kk",
            "CSRF_TOKEN",
            "Нысан ескірген",
        ),
        (
            "a foreign Origin",
            vec![("csrf", token.clone())],
            vec![("origin", "http://evil.example".to_string())],
            "ru",
            "FOREIGN_ORIGIN",
            "чужого сайта",
        ),
        (
            "a foreign Referer, no Origin",
            vec![("csrf", token.clone())],
            vec![("referer", "http://evil.example/page".to_string())],
            "kk",
            "FOREIGN_ORIGIN",
            "бөгде сайттан",
        ),
        (
            "the same host, another scheme",
            vec![("csrf", token.clone())],
            vec![("origin", own.replace("http://", "https://"))],
            "ru",
            "FOREIGN_ORIGIN",
            "чужого сайта",
        ),
    ] {
        let (s, page) = logout(form, headers, lang).await;
        assert_eq!(s, 403, "{what}: {page}");
        assert!(page.contains(code) && page.contains(text), "{what}: {page}");
    }
    // nothing happened: the session lives
    let alive = Arm {
        base: base.clone(),
        token: cookie.split_once('=').unwrap().1.to_string(),
        iin: office_iin.clone(),
        http: env.http.clone(),
    };
    assert_eq!(alive.get("/api/v1/me").await.0, 200);
    // the page's own form, from the page's origin, goes through
    let (s, _) = logout(
        vec![("csrf", token.clone())],
        vec![
            ("origin", own.clone()),
            ("referer", format!("{own}/worklist")),
        ],
        "ru",
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(alive.get("/api/v1/me").await.0, 401, "logged out");
    // the API (Bearer tokens, not cookies) is not a form
    let arm = Arm::login(&env, "mio-almaty", &office_iin).await;
    assert_eq!(arm.get("/api/v1/me").await.0, 200);
}

/// Served under an https public URL: the cookies are `Secure` and only that origin may
/// post the forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_public_url_makes_cookies_secure_and_is_the_one_origin() {
    let env = env_with(None, &[], &["mio-almaty"], |c| {
        c.public_url = Some("https://arm.almaty.example.kz".into());
    })
    .await;
    let base = env.mio("mio-almaty").http.clone();
    let iin = employees_of(
        &env,
        "mio-almaty",
        &env.mio("mio-almaty")
            .engine
            .catalog
            .get("almaty-2013-housing-queue")
            .unwrap()
            .providers[0]
            .id,
        "office",
    )
    .await[0]
        .clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |origin: String| {
        let (http, base, iin) = (http.clone(), base.clone(), iin.clone());
        async move {
            http.post(format!("{base}/login"))
                .header("origin", origin)
                .form(&[("iin", iin.as_str()), ("password", PASSWORD)])
                .send()
                .await
                .unwrap()
        }
    };
    // the listening address itself is not the public origin
    assert_eq!(login(base.clone()).await.status(), 403);
    let r = login("https://arm.almaty.example.kz".into()).await;
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    let r = http
        .get(format!("{base}/lang/kk?back=/login"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

/// The API takes a channel B application only from a role the regulation's employee
/// lanes name, as the web UI offers it: another role gets 403 in the API's error shape,
/// and nothing is looked up, signed or sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_takes_channel_b_only_from_the_roles_that_take_it() {
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let provider = reg.providers[0].id.clone();
    let secretary = Arm::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "commission").await[0],
    )
    .await;
    let office = Arm::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &provider, "office").await[0],
    )
    .await;
    let category = "socially-vulnerable";
    let docs: Vec<Value> = reg
        .required_documents(category)
        .iter()
        .map(|d| json!({"kind": d.id, "paper": true}))
        .collect();
    let body = json!({
        "iin": egov_synth::fixtures::iin_of("family-mother").as_string(),
        "category": category,
        "phone": "+77011234567",
        "form": {"family_size": 4, "current_housing": "аренда"},
        "documents": docs,
    });
    let mut named = body.clone();
    named["regulation"] = json!("almaty-2013-housing-queue");
    for (path, body) in [
        ("/api/v1/applications", body.clone()),
        ("/api/v1/applications", named.clone()),
        ("/api/v1/applications/sign-request", body.clone()),
    ] {
        let (s, v) = secretary.post(path, body).await;
        assert_eq!(s, 403, "{path}: {v}");
        assert_eq!(v["error"]["code"], "FORBIDDEN", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("commission"),
            "{v}"
        );
    }
    let sent: i64 = sqlx::query_scalar("select count(*) from applications")
        .fetch_one(&mio.engine.pool)
        .await
        .unwrap();
    assert_eq!(sent, 0, "nothing was sent");
    // the office takes it
    let (s, v) = office.post("/api/v1/applications", named).await;
    assert_eq!(s, 201, "{v}");
}

/// A writer into a shared buffer: the log output of the test's process.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// ИС МИО's log output of a flow — an application rejected because it is signed by
/// another person (the check names both IINs), one whose form holds a bad value, one
/// registered, a channel B look-up refused — holds no full IIN and no form value: IINs
/// show as `900101******`, quoted values as `"***"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_hold_no_full_iin_and_no_form_value() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let captured = Captured::default();
    // ИС МИО's own log lines and its inbox consumer's (egov_shep_client::inbox); this
    // test runs in a process of its own (nextest), so the global subscriber is its alone
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                m.target().starts_with("egov_mio_is")
                    || m.target().starts_with("egov_shep_client::inbox")
            })),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
    let env = env(&["mio-almaty"]).await;
    let mio = env.mio("mio-almaty");
    let reg = mio
        .engine
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let father = env.citizen("family-father");
    let mother = env.citizen("family-mother");
    // signed by another person
    let doc = application(&reg, "family-father", "portal", env.clock.today());
    send(&env, "portal", &mio.region, &doc, &mother).await;
    // a form value the regulation refuses
    let mut bad = application(&reg, "family-father", "portal", env.clock.today());
    bad.form
        .insert("family_size".into(), json!("очень много: ул. Абая 5"));
    send(&env, "portal", &mio.region, &bad, &father).await;
    // and one registered
    portal_application(
        &env,
        "mio-almaty",
        "almaty-2013-housing-queue",
        "family-mother",
    )
    .await;
    for _ in 0..400 {
        let n: i64 = sqlx::query_scalar("select count(*) from intake_rejections")
            .fetch_one(&mio.engine.pool)
            .await
            .unwrap();
        if n >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let office = Arm::login(
        &env,
        "mio-almaty",
        &employees_of(&env, "mio-almaty", &reg.providers[0].id, "office").await[0],
    )
    .await;
    let (s, _) = office
        .post("/api/v1/persons/lookup", json!({"iin": father.iin}))
        .await;
    assert_eq!(s, 403);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // the flow was logged: both rejections, with their codes
    assert!(text.contains("application rejected"), "{text}");
    assert!(
        text.contains("IIN_MISMATCH") && text.contains("INVALID_FORM"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}******", &father.iin[..6])),
        "masked: {text}"
    );
    for iin in [&father.iin, &mother.iin] {
        assert!(!text.contains(iin.as_str()), "{iin} in the log:\n{text}");
    }
    // no run of exactly twelve digits at all, and no form value
    let digits: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() == 12)
        .collect();
    assert!(digits.is_empty(), "{digits:?} in the log:\n{text}");
    assert!(!text.contains("Абая"), "a form value in the log:\n{text}");
}
