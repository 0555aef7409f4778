//! What the citizen is told: server-sent events of each change, e-mail on each status
//! through a real SMTP server the test runs, and the inbox's deduplication.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::common::registered;
use crate::world::*;

const REG: &str = "almaty-2013-housing-queue";

/// A mail as the SMTP server received it.
struct Mail {
    rcpt: String,
    data: String,
}

/// A small SMTP server (RFC 5321's commands a relay client uses) on a free port; each
/// message it takes comes out of the channel.
async fn smtp_server() -> (String, mpsc::UnboundedReceiver<Mail>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 test-smtp ready\r\n").await.unwrap();
                let mut rcpt = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let upper = cmd.to_ascii_uppercase();
                    if upper.starts_with("EHLO") {
                        w.write_all(b"250-test-smtp\r\n250 8BITMIME\r\n")
                            .await
                            .unwrap();
                    } else if upper.starts_with("MAIL FROM:") {
                        w.write_all(b"250 sender ok\r\n").await.unwrap();
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt = cmd[8..].trim().trim_matches(['<', '>']).to_string();
                        w.write_all(b"250 recipient ok\r\n").await.unwrap();
                    } else if upper == "DATA" {
                        w.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            r.read_line(&mut l).await.unwrap();
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        w.write_all(b"250 queued\r\n").await.unwrap();
                        let _ = tx.send(Mail {
                            rcpt: rcpt.clone(),
                            data,
                        });
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        w.write_all(b"502 not implemented\r\n").await.unwrap();
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// The subject and the text of a received mail.
fn decode(m: &Mail) -> (String, String) {
    let (head, body) = m.data.split_once("\r\n\r\n").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let subject = head
        .lines()
        .find_map(|l| l.strip_prefix("Subject: =?UTF-8?B?"))
        .and_then(|s| s.strip_suffix("?="))
        .unwrap();
    let subject = String::from_utf8(b64.decode(subject).unwrap()).unwrap();
    let text = String::from_utf8(b64.decode(body.replace("\r\n", "")).unwrap()).unwrap();
    (subject, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_come_as_events_and_as_mail_when_asked() {
    let (addr, mut mails) = smtp_server().await;
    let (env, portal) = world_with(&["mio-almaty"], |c| c.smtp_addr = Some(addr)).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    // the cabinet's event stream, open before anything happens
    let mut events = cab
        .http
        .get(format!("{}/api/v1/events", portal.http))
        .bearer_auth(&cab.token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut body = new_application(&reg, env.clock.today());
    body["notify_email"] = json!(true);
    let (s, v) = cab.post("/api/v1/applications", body).await;
    assert_eq!(s, 201, "{v}");
    let number = v["number"].as_str().unwrap().to_string();
    cab.attach_all(&reg, &number).await;
    let bytes = cab.sign_request(&number).await;
    let (s, v) = cab
        .sign_with(&number, &cms(&env.citizen("family-father"), &bytes))
        .await;
    assert_eq!(s, 202, "{v}");
    registered(&env, "mio-almaty", v["message_id"].as_str().unwrap()).await;
    // sent, delivered and ИС МИО's «received»: each an event
    let mut seen: Vec<Value> = Vec::new();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !["delivered", "status"]
        .iter()
        .all(|c| seen.iter().any(|e| e["change"] == *c))
    {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("no status event")
            .unwrap()
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                assert!(event.contains("event: application"), "{event}");
                seen.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    let changes: Vec<&str> = seen.iter().map(|e| e["change"].as_str().unwrap()).collect();
    // sent first; delivered and ИС МИО's status may come in either order
    assert_eq!(changes[0], "sent", "{changes:?}");
    let status = seen.iter().find(|e| e["change"] == "status").unwrap();
    assert_eq!(status["number"], number.as_str());
    assert_eq!(status["status"], "received");
    // the mail of that status, to the account's address
    let mail = tokio::time::timeout(Duration::from_secs(20), mails.recv())
        .await
        .expect("no mail")
        .unwrap();
    assert_eq!(mail.rcpt, "family-father@example.kz");
    let (subject, text) = decode(&mail);
    assert!(subject.contains(&number), "{subject}");
    assert!(
        subject.contains(status["status_ru"].as_str().unwrap()),
        "{subject}"
    );
    assert!(
        text.contains(status["status_kk"].as_str().unwrap()),
        "{text}"
    );
    // recorded as sent once the relay has the server's answer
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sent: i64 =
            sqlx::query_scalar("select count(*) from mail_outbox where sent_at is not null")
                .fetch_one(&portal.core.pool)
                .await
                .unwrap();
        if sent == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mail is not marked sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // an anonymous stream is refused
    let anonymous = env
        .http
        .get(format!("{}/api/v1/events", portal.http))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_needs_an_address() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let iin = egov_synth::fixtures::iin_of("family-mother").as_string();
    let r = env
        .http
        .post(format!("{}/api/v1/auth/register", portal.http))
        .json(&json!({"iin": iin, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cab = login(&portal, &iin).await;
    let mut body = new_application(&reg, env.clock.today());
    body["notify_email"] = json!(true);
    let (s, v) = cab.post("/api/v1/applications", body.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("EMAIL_REQUIRED")),
        "{v}"
    );
    body["email"] = json!("mother@example.kz");
    let (s, v) = cab.post("/api/v1/applications", body).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["email"], "mother@example.kz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_delivered_twice_is_recorded_once_and_only_from_the_applications_mio() {
    let (env, portal) = world(&["mio-almaty"]).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let number = cab.draft(&reg, env.clock.today()).await;
    cab.attach_all(&reg, &number).await;
    let bytes = cab.sign_request(&number).await;
    let (_, v) = cab
        .sign_with(&number, &cms(&env.citizen("family-father"), &bytes))
        .await;
    let message_id = v["message_id"].as_str().unwrap().to_string();
    let done = cab
        .until(&number, "ИС МИО's status", |v| {
            v["statuses"].as_array().is_some_and(|s| !s.is_empty())
        })
        .await;
    let first = &done["statuses"][0];
    let update = egov_contracts::mio::StatusUpdate {
        application_number: Some("X-1".into()),
        application_message_id: message_id.clone(),
        service: reg.service.clone(),
        provider: reg.providers[0].id.clone(),
        regulation: Some(reg.id.clone()),
        channel: "portal".into(),
        applicant_iin: cab.iin.clone(),
        status: "in_progress".into(),
        stage: None,
        status_ru: "в работе".into(),
        status_kk: "жұмыста".into(),
        at: time::OffsetDateTime::now_utc(),
        due: None,
        reason: None,
        queue: None,
        result: None,
    };
    let core = &portal.core;
    for _ in 0..2 {
        assert!(
            egov_portal::inbox::record(core, "mio-almaty", "status-1", &update, false)
                .await
                .unwrap()
        );
    }
    // not the application's ИС МИО: acknowledged, not recorded
    assert!(
        egov_portal::inbox::record(core, "mio-atyrau", "status-2", &update, false)
            .await
            .unwrap()
    );
    // an application not (yet) known: delivered again, then dropped
    let mut stray = update.clone();
    stray.application_message_id = "no-such-message".into();
    assert!(
        !egov_portal::inbox::record(core, "mio-almaty", "status-3", &stray, false)
            .await
            .unwrap()
    );
    assert!(
        egov_portal::inbox::record(core, "mio-almaty", "status-3", &stray, true)
            .await
            .unwrap()
    );
    let (_, v) = cab.get(&format!("/api/v1/applications/{number}")).await;
    let statuses: Vec<&str> = v["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [first["status"].as_str().unwrap(), "in_progress"],
        "{v}"
    );
    assert_eq!(v["status"]["status"], "in_progress");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_first_statuses_of_a_centre_application_handled_at_once_are_both_recorded() {
    // the inbox handles several statuses at once: the two first statuses of an
    // application taken at a ЦОН race to enter it into the applicant's history
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let at = env.clock.now();
    let update = |status: &str, seconds: i64| -> egov_contracts::mio::StatusUpdate {
        serde_json::from_value(json!({
            "application_number": "ALM-2026-0000042",
            "application_message_id": "centre-message-1",
            "service": reg.service,
            "provider": reg.providers[0].id,
            "regulation": reg.id,
            "channel": "con",
            "applicant_iin": cab.iin,
            "status": status,
            "status_ru": status,
            "status_kk": status,
            "at": (at + time::Duration::seconds(seconds))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        }))
        .unwrap()
    };
    let (first, second) = (update("received", 0), update("in-progress", 1));
    let (a, b) = tokio::join!(
        egov_portal::inbox::record(&portal.core, &reg.system, "status-1", &first, true),
        egov_portal::inbox::record(&portal.core, &reg.system, "status-2", &second, true),
    );
    assert!(a.unwrap() && b.unwrap());
    let v = cab
        .until("ALM-2026-0000042", "both statuses", |v| {
            v["statuses"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
    assert_eq!(v["state"], "at-centre", "{v}");
    assert_eq!(v["status"]["status"], "in-progress", "{v}");
}
