//! The event stream opened with a ticket instead of the `Authorization` header, as a
//! browser's `EventSource` opens it: a ticket per session, good once and for a minute;
//! a used, expired, unknown or malformed ticket refused each with its code, in Russian
//! and Kazakh; a logout voids the session's tickets; two streams racing with one ticket
//! get one stream; the stream carries its own citizen's changes only.

use std::time::Duration;

use serde_json::Value;

use crate::world::*;

const REG: &str = "almaty-2013-housing-queue";

/// Asks for a ticket with the cabinet's session; the answer.
async fn ticket(cab: &Cabinet) -> Value {
    let (s, v) = cab
        .post("/api/v1/events/ticket", serde_json::json!({}))
        .await;
    assert_eq!(s, 201, "{v}");
    let t = v["ticket"].as_str().unwrap();
    assert!(
        t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()),
        "{v}"
    );
    assert_eq!(v["url"], format!("/api/v1/events?ticket={t}"));
    assert!(v["expires_at"].is_string(), "{v}");
    v
}

/// Opens the event stream at `query` with no Authorization header.
async fn open(portal: &Portal, query: &str, lang: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/v1/events{query}", portal.http))
        .header("accept-language", lang)
        .send()
        .await
        .unwrap()
}

/// The status and the error code of a refused stream.
async fn refused(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap().to_string(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

/// The next `application` event of `stream` (10 s at most).
async fn next_event(stream: &mut reqwest::Response, buffer: &mut String) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str(data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("no event")
            .unwrap()
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The id of the citizen's application `number`.
async fn id_of(portal: &Portal, number: &str) -> uuid::Uuid {
    sqlx::query_scalar("select id from applications where number = $1")
        .bind(number)
        .fetch_one(&portal.core.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_opens_the_citizens_stream_once() {
    let (env, portal) = world(&[]).await;
    let reg = portal.regulation(REG);
    let cab = citizen(&portal, "family-father").await;
    let other = citizen(&portal, "family-mother").await;
    let mine = cab.draft(&reg, env.clock.today()).await;
    let theirs = other.draft(&reg, env.clock.today()).await;

    let t = ticket(&cab).await;
    let url = t["url"].as_str().unwrap();
    let mut stream = open(&portal, url.strip_prefix("/api/v1/events").unwrap(), "ru").await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // another citizen's change first: the stream carries only its own citizen's
    portal
        .core
        .announce(id_of(&portal, &theirs).await, &other.iin, "status");
    portal
        .core
        .announce(id_of(&portal, &mine).await, &cab.iin, "status");
    let mut buffer = String::new();
    let e = next_event(&mut stream, &mut buffer).await;
    assert_eq!(e["number"], mine.as_str(), "{e}");
    assert_eq!(e["change"], "status");

    // the same ticket again, in Russian and in Kazakh
    let used = format!("?ticket={}", t["ticket"].as_str().unwrap());
    let (s, code, ru) = refused(open(&portal, &used, "ru").await).await;
    assert_eq!((s, code.as_str()), (401, "TICKET_USED"));
    let (_, code, kk) = refused(open(&portal, &used, "kk").await).await;
    assert_eq!(code, "TICKET_USED");
    assert_ne!(ru, kk);
    // each ticket is its own: a second one opens a second stream
    let second = ticket(&cab).await;
    let r = open(
        &portal,
        &format!("?ticket={}", second["ticket"].as_str().unwrap()),
        "ru",
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_unknown_and_malformed_tickets_are_refused_each_with_its_code() {
    let (env, portal) = world(&[]).await;
    let cab = citizen(&portal, "family-father").await;

    // past its minute
    let t = ticket(&cab).await;
    env.clock.advance(time::Duration::seconds(61));
    let q = format!("?ticket={}", t["ticket"].as_str().unwrap());
    let (s, code, _) = refused(open(&portal, &q, "ru").await).await;
    assert_eq!((s, code.as_str()), (401, "TICKET_EXPIRED"));

    // never issued, or not of a ticket's form at all
    for bad in [
        "0".repeat(64),
        "A".repeat(64),
        "abc".into(),
        String::new(),
        format!("{}%20", "0".repeat(62)),
    ] {
        let (s, code, _) = refused(open(&portal, &format!("?ticket={bad}"), "ru").await).await;
        assert_eq!((s, code.as_str()), (401, "TICKET_INVALID"), "{bad:?}");
    }
    // a parameter the stream does not take
    let (s, code, _) = refused(open(&portal, "?token=abc", "ru").await).await;
    assert_eq!((s, code.as_str()), (400, "BAD_REQUEST"));
    // no ticket and no header
    let (s, code, _) = refused(open(&portal, "", "ru").await).await;
    assert_eq!((s, code.as_str()), (401, "UNAUTHORIZED"));

    // a ticket is only for a live session
    let r = env
        .http
        .post(format!("{}/api/v1/events/ticket", portal.http))
        .send()
        .await
        .unwrap();
    let (s, code, _) = refused(r).await;
    assert_eq!((s, code.as_str()), (401, "UNAUTHORIZED"));
    // a ticket outliving its session's last seconds is refused as the session is
    env.clock
        .advance(time::Duration::seconds(30 * 60 - 61 - 20));
    let t = ticket(&cab).await;
    env.clock.advance(time::Duration::seconds(30));
    let q = format!("?ticket={}", t["ticket"].as_str().unwrap());
    let (s, code, _) = refused(open(&portal, &q, "ru").await).await;
    assert_eq!((s, code.as_str()), (401, "TOKEN_EXPIRED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_voids_the_sessions_tickets_and_a_ticket_opens_one_stream_of_two() {
    let (_env, portal) = world(&[]).await;
    let cab = citizen(&portal, "family-father").await;
    // two streams racing with one ticket: one gets it
    let t = ticket(&cab).await;
    let q = format!("?ticket={}", t["ticket"].as_str().unwrap());
    let (a, b) = tokio::join!(open(&portal, &q, "ru"), open(&portal, &q, "ru"));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401]);

    let t = ticket(&cab).await;
    let (s, _) = cab.post("/api/v1/auth/logout", serde_json::json!({})).await;
    assert_eq!(s, 204);
    let q = format!("?ticket={}", t["ticket"].as_str().unwrap());
    let (s, code, _) = refused(open(&portal, &q, "ru").await).await;
    assert_eq!((s, code.as_str()), (401, "TICKET_INVALID"));
}
