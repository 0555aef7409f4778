//! E-mail to citizens: each status of an application whose citizen asked for it
//! (`notify_email`) is a row of `mail_outbox`, written in the inbox's transaction that
//! records the status; the relay sends the rows through the SMTP relay of the settings
//! ([`crate::Config::smtp_addr`]) after the commit, backing off while it cannot. Without
//! a relay configured no mail is queued.
//!
//! The client speaks plain SMTP (RFC 5321: EHLO, MAIL, RCPT, DATA, QUIT) to a relay on a
//! trusted network; the message is UTF-8 text, its subject RFC 2047-encoded and its body
//! base64, so that no line of it can end the DATA section or add a header.

use std::time::Duration;

use base64::Engine as _;
use sqlx::PgConnection;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Core;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Queues one mail about `application`.
pub async fn enqueue(
    conn: &mut PgConnection,
    application: Uuid,
    recipient: &str,
    subject: &str,
    body: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into mail_outbox (application_id, recipient, subject, body, created_at, next_attempt_at)
         values ($1, $2, $3, $4, $5, $5)",
    )
    .bind(application)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The SMTP relay and the sender's address.
#[derive(Debug, Clone)]
pub struct Relay {
    /// `host:port`.
    pub addr: String,
    /// The envelope and `From:` address.
    pub from: String,
}

/// Sends due mail until `shutdown`, every second or when woken.
pub async fn relay(core: Core, relay: Relay, shutdown: CancellationToken) {
    loop {
        match send_batch(&core, &relay).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "portal mail relay"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = core.mail_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    attempts: i32,
}

/// Sends one batch of due mail; returns how many were tried.
pub async fn send_batch(core: &Core, relay: &Relay) -> sqlx::Result<usize> {
    let now = core.clock.now();
    let rows: Vec<Row> = sqlx::query_as(
        "update mail_outbox set attempts = attempts + 1, next_attempt_at = $2
         where id in (select id from mail_outbox where sent_at is null and next_attempt_at <= $1
                      order by id limit 16 for update skip locked)
         returning id, recipient, subject, body, attempts",
    )
    .bind(now)
    .bind(now + time::Duration::seconds(60))
    .fetch_all(&core.pool)
    .await?;
    let n = rows.len();
    for r in rows {
        let sent = send(relay, &r.recipient, &r.subject, &r.body).await;
        let now = core.clock.now();
        match sent {
            Ok(()) => {
                sqlx::query("update mail_outbox set sent_at = $2, last_error = null where id = $1")
                    .bind(r.id)
                    .bind(now)
                    .execute(&core.pool)
                    .await?;
                metrics::counter!("egov_portal_mail_sent_total").increment(1);
            }
            Err(e) => {
                let backoff = 1i64 << r.attempts.clamp(0, 8);
                tracing::warn!(id = r.id, attempt = r.attempts, error = %e, "mail not sent, will retry");
                sqlx::query(
                    "update mail_outbox set last_error = $2, next_attempt_at = $3 where id = $1",
                )
                .bind(r.id)
                .bind(e)
                .bind(now + time::Duration::seconds(backoff))
                .execute(&core.pool)
                .await?;
            }
        }
    }
    Ok(n)
}

/// The message as sent: headers, the subject RFC 2047-encoded, the body base64.
pub fn message(from: &str, to: &str, subject: &str, body: &str, id: &str) -> String {
    let date = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let encoded = B64.encode(body.as_bytes());
    let mut lines = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        lines.push_str("\r\n");
    }
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: =?UTF-8?B?{}?=\r\nDate: {date}\r\nMessage-ID: <{id}@portal.egov>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{lines}",
        B64.encode(subject.as_bytes())
    )
}

/// Sends one mail through `relay`.
pub async fn send(relay: &Relay, to: &str, subject: &str, body: &str) -> Result<(), String> {
    let talk = async {
        let stream = TcpStream::connect(&relay.addr)
            .await
            .map_err(|e| format!("{}: {e}", relay.addr))?;
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        expect(&mut r, "220").await?;
        for (cmd, code) in [
            ("EHLO portal.egov".to_string(), "250"),
            (format!("MAIL FROM:<{}>", relay.from), "250"),
            (format!("RCPT TO:<{to}>"), "250"),
            ("DATA".to_string(), "354"),
        ] {
            w.write_all(format!("{cmd}\r\n").as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            expect(&mut r, code).await?;
        }
        let text = message(&relay.from, to, subject, body, &Uuid::new_v4().to_string());
        w.write_all(format!("{text}.\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        expect(&mut r, "250").await?;
        w.write_all(b"QUIT\r\n").await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    };
    tokio::time::timeout(Duration::from_secs(30), talk)
        .await
        .map_err(|_| format!("{}: no answer within 30 s", relay.addr))?
}

/// Reads one reply (its continuation lines too) and checks its code.
async fn expect<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, code: &str) -> Result<(), String> {
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the relay closed the connection".into());
        }
        if !line.starts_with(code) {
            return Err(format!(
                "the relay answered {:?}, not {code}",
                line.trim_end()
            ));
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_cannot_be_broken_by_its_text() {
        let m = message(
            "noreply@egov.kz",
            "a@example.kz",
            "Статус\r\nBcc: x@evil",
            "строка\r\n.\r\nQUIT",
            "1",
        );
        let (head, body) = m.split_once("\r\n\r\n").unwrap();
        assert!(!head.contains("Bcc"), "{head}");
        assert!(
            !body.contains("QUIT") && !body.lines().any(|l| l == "."),
            "{body}"
        );
        let decoded = B64.decode(body.replace("\r\n", "")).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "строка\r\n.\r\nQUIT");
    }
}
