//! Tickets for the cabinet's event stream. A browser's `EventSource` cannot send
//! `Authorization`, so a logged-in client first asks for a ticket (with its bearer
//! token), then opens `GET /api/v1/events?ticket=...`. A ticket is 32 random bytes (hex),
//! bound to the session that asked for it, good for [`LIFETIME`] and for one stream: the
//! first use marks it used in the same statement that checks it, so two streams racing
//! with one ticket get one stream. Only its SHA-256 is stored; a logout deletes the
//! session's tickets with it. Used and expired tickets are kept for [`KEPT`] after their
//! expiry so that a second use is told apart from a ticket never issued.

use egov_accounts::token_hash;
use sqlx::PgPool;
use time::OffsetDateTime;

/// How long a ticket can be used.
pub const LIFETIME: time::Duration = time::Duration::seconds(60);
/// How long a ticket is remembered after its expiry.
pub const KEPT: time::Duration = time::Duration::hours(1);

/// Whether `s` has the form of a ticket (64 lowercase hex digits).
pub fn well_formed(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Issues a ticket to the session of `token`; the ticket and when it expires.
pub async fn issue(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
) -> sqlx::Result<(String, OffsetDateTime)> {
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::fill(&mut raw).expect("system randomness");
    let ticket = hex::encode(raw);
    let expires = now + LIFETIME;
    sqlx::query("delete from event_tickets where expires_at < $1")
        .bind(now - KEPT)
        .execute(pool)
        .await?;
    sqlx::query(
        "insert into event_tickets (ticket_hash, session_hash, created_at, expires_at) values ($1, $2, $3, $4)",
    )
    .bind(token_hash(&ticket))
    .bind(token_hash(token))
    .bind(now)
    .bind(expires)
    .execute(pool)
    .await?;
    Ok((ticket, expires))
}

/// What a ticket came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// Good: the IIN of the session's citizen; the ticket is used up now.
    Citizen(String),
    /// Used before.
    Used,
    /// Past its time.
    Expired,
    /// Good, but the session it was issued to has expired.
    SessionExpired,
    /// Never issued (or forgotten, or malformed).
    Unknown,
}

/// Uses `ticket` at `now`.
pub async fn redeem(pool: &PgPool, ticket: &str, now: OffsetDateTime) -> sqlx::Result<Redeemed> {
    if !well_formed(ticket) {
        return Ok(Redeemed::Unknown);
    }
    let hash = token_hash(ticket);
    let iin: Option<String> = sqlx::query_scalar(
        "update event_tickets t set used_at = $2
         from sessions s
         where t.ticket_hash = $1 and t.used_at is null and t.expires_at > $2
           and s.token_hash = t.session_hash and s.expires_at > $2
         returning s.citizen_iin",
    )
    .bind(&hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(iin) = iin {
        return Ok(Redeemed::Citizen(iin));
    }
    let found: Option<(bool, bool)> = sqlx::query_as(
        "select used_at is not null, expires_at <= $2 from event_tickets where ticket_hash = $1",
    )
    .bind(&hash)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(match found {
        None => Redeemed::Unknown,
        Some((true, _)) => Redeemed::Used,
        Some((false, true)) => Redeemed::Expired,
        Some((false, false)) => Redeemed::SessionExpired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lowercase_hex_digits_are_a_ticket() {
        assert!(well_formed(&"0a".repeat(32)));
        for bad in [
            "",
            "0a",
            &"0A".repeat(32),
            &"0a".repeat(33),
            &format!("{}g", "0".repeat(63)),
            &format!("{}é", "0".repeat(62)),
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
