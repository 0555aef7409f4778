//! The record model: what one journal row says ([`Record`], and
//! [`StoredRecord`] as read back), its [`Event`] and [`Channel`] names, and
//! the checks and normalisation a record goes through before it is queued.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Error;
use super::hash::truncate_to_micros;

/// What happened to an envelope at a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A request arrived from a sender.
    RequestIn,
    /// A request was forwarded (to the provider or the next gateway).
    RequestOut,
    /// A response arrived from the provider or the next gateway.
    ResponseIn,
    /// A response was returned to the sender.
    ResponseOut,
    /// The envelope was refused (bad signature, unknown service, ...).
    Rejected,
    /// An asynchronous message was put into a recipient's inbox.
    Published,
    /// An asynchronous message was delivered to its recipient.
    Delivered,
    /// An asynchronous message could not be delivered.
    NotDelivered,
}

impl Event {
    /// Every event, in declaration order.
    pub const ALL: [Event; 8] = [
        Event::RequestIn,
        Event::RequestOut,
        Event::ResponseIn,
        Event::ResponseOut,
        Event::Rejected,
        Event::Published,
        Event::Delivered,
        Event::NotDelivered,
    ];

    /// The stable name stored in the `event` column and hashed:
    /// `request_in`, `request_out`, `response_in`, `response_out`,
    /// `rejected`, `published`, `delivered`, `not_delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::RequestIn => "request_in",
            Event::RequestOut => "request_out",
            Event::ResponseIn => "response_in",
            Event::ResponseOut => "response_out",
            Event::Rejected => "rejected",
            Event::Published => "published",
            Event::Delivered => "delivered",
            Event::NotDelivered => "not_delivered",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = Error;

    /// Parses a name produced by [`Event::as_str`].
    fn from_str(s: &str) -> Result<Self, Error> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| Error::InvalidRecord(format!("unknown event {s:?}")))
    }
}

/// How the envelope travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Request and response over one call.
    Sync,
    /// Published into an inbox, delivered later.
    Async,
}

impl Channel {
    /// The stable name stored and hashed: `sync` or `async`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sync => "sync",
            Channel::Async => "async",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = Error;

    /// Parses `sync` or `async`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "sync" => Ok(Channel::Sync),
            "async" => Ok(Channel::Async),
            _ => Err(Error::InvalidRecord(format!("unknown channel {s:?}"))),
        }
    }
}

/// One journal entry as the gateway appends it: one envelope event.
///
/// Never the payload itself, only its size and SHA-256. Timestamps are
/// truncated to whole microseconds when appended; rows read back carry UTC
/// offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The gateway instance writing the row ("shep", "rshep-almaty", ...);
    /// each has its own hash chain. Must not be empty.
    pub gateway_id: String,
    /// What happened.
    pub event: Event,
    /// Sync or async.
    pub channel: Channel,
    /// The envelope's message id.
    pub message_id: String,
    /// Ties a request, its response and async deliveries together.
    pub correlation_id: String,
    /// The service called.
    pub service_id: String,
    /// The sending information system.
    pub sender_id: String,
    /// The receiving information system, when known.
    pub recipient_id: Option<String>,
    /// The envelope's message type.
    pub message_type: String,
    /// The region, for regional gateways.
    pub region: Option<String>,
    /// Gateways crossed so far, e.g. `["shep", "rshep-almaty"]`.
    pub route: Vec<String>,
    /// Payload size in bytes (not negative).
    pub payload_size: i64,
    /// Signature size in bytes (not negative).
    pub signature_size: i64,
    /// SHA-256 of the payload bytes: 64 lower-case hex digits.
    pub payload_sha256: String,
    /// Serial of the signer's certificate, when there was a signature.
    pub signer_serial: Option<String>,
    /// `ok`, or why the signature check failed (e.g. `bad-signature`).
    pub verification: String,
    /// Status code, e.g. `SCSS001`.
    pub status_code: String,
    /// Status text, e.g. `processed successfully`.
    pub status_message: String,
    /// When this event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// When the request arrived, if it has.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub request_in_at: Option<OffsetDateTime>,
    /// When the request was forwarded, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub request_out_at: Option<OffsetDateTime>,
    /// When the response arrived, if it has.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub response_in_at: Option<OffsetDateTime>,
    /// When the response was returned, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub response_out_at: Option<OffsetDateTime>,
    /// Duration in milliseconds (not negative), when meaningful.
    pub duration_ms: Option<i64>,
    /// Distributed trace id, when traced.
    pub trace_id: Option<String>,
}

/// A row read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Position in the record's chain (`gateway_id`), from 1.
    pub seq: i64,
    /// The record, timestamps in UTC.
    pub record: Record,
    /// Hash of the previous row of the chain (or the anchor, or 64 zeros).
    pub prev_hash: String,
    /// This row's hash, see the [module docs](crate::journal).
    pub hash: String,
}

/// Truncates the record's timestamps to whole microseconds, as they are
/// hashed and stored.
pub(super) fn normalize(r: &mut Record) {
    r.at = truncate_to_micros(r.at);
    for t in [
        &mut r.request_in_at,
        &mut r.request_out_at,
        &mut r.response_in_at,
        &mut r.response_out_at,
    ]
    .into_iter()
    .flatten()
    {
        *t = truncate_to_micros(*t);
    }
}

/// The checks the database's constraints would make, made up front so that
/// one bad record cannot fail its whole batch.
pub(super) fn validate(r: &Record) -> Result<(), Error> {
    let bad = |what: String| Err(Error::InvalidRecord(what));
    if r.gateway_id.is_empty() {
        return bad("gateway_id is empty".into());
    }
    let texts = [
        ("gateway_id", Some(r.gateway_id.as_str())),
        ("message_id", Some(&r.message_id)),
        ("correlation_id", Some(&r.correlation_id)),
        ("service_id", Some(&r.service_id)),
        ("sender_id", Some(&r.sender_id)),
        ("recipient_id", r.recipient_id.as_deref()),
        ("message_type", Some(&r.message_type)),
        ("region", r.region.as_deref()),
        ("signer_serial", r.signer_serial.as_deref()),
        ("verification", Some(&r.verification)),
        ("status_code", Some(&r.status_code)),
        ("status_message", Some(&r.status_message)),
        ("trace_id", r.trace_id.as_deref()),
    ];
    for (name, value) in texts {
        if value.is_some_and(|v| v.contains('\0')) {
            return bad(format!("{name} contains a NUL character"));
        }
    }
    if r.route.iter().any(|hop| hop.contains('\0')) {
        return bad("route contains a NUL character".into());
    }
    if r.payload_sha256.len() != 64
        || !r
            .payload_sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return bad(format!(
            "payload_sha256 must be 64 lower-case hex digits, not {:?}",
            r.payload_sha256
        ));
    }
    if r.payload_size < 0 || r.signature_size < 0 {
        return bad("payload_size and signature_size must not be negative".into());
    }
    if r.duration_ms.is_some_and(|d| d < 0) {
        return bad("duration_ms must not be negative".into());
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use time::macros::datetime;

    /// A well-formed record, shared by the tests of the journal's modules.
    pub(crate) fn sample() -> Record {
        Record {
            gateway_id: "shep".into(),
            event: Event::RequestIn,
            channel: Channel::Sync,
            message_id: "m-1".into(),
            correlation_id: "c-1".into(),
            service_id: "gbdfl.person".into(),
            sender_id: "egov-portal".into(),
            recipient_id: Some("gbdfl".into()),
            message_type: "request".into(),
            region: None,
            route: vec!["shep".into()],
            payload_size: 123,
            signature_size: 2048,
            payload_sha256: "ab".repeat(32),
            signer_serial: Some("0A1B".into()),
            verification: "ok".into(),
            status_code: "SCSS001".into(),
            status_message: "processed successfully".into(),
            at: datetime!(2025-03-01 10:00:00.123456 +05:00),
            request_in_at: Some(datetime!(2025-03-01 10:00:00.123456 +05:00)),
            request_out_at: None,
            response_in_at: None,
            response_out_at: None,
            duration_ms: None,
            trace_id: None,
        }
    }

    #[test]
    fn records_are_checked() {
        assert!(validate(&sample()).is_ok());
        let cases: [&dyn Fn(&mut Record); 7] = [
            &|r| r.gateway_id.clear(),
            &|r| r.payload_sha256 = "AB".repeat(32),
            &|r| r.payload_sha256 = "ab".into(),
            &|r| r.payload_size = -1,
            &|r| r.duration_ms = Some(-1),
            &|r| r.message_id = "a\0b".into(),
            &|r| r.route.push("\0".into()),
        ];
        for f in cases {
            let mut r = sample();
            f(&mut r);
            assert!(
                matches!(validate(&r), Err(Error::InvalidRecord(_))),
                "{r:?}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for e in Event::ALL {
            assert_eq!(e.as_str().parse::<Event>().unwrap(), e);
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
        for c in [Channel::Sync, Channel::Async] {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), c);
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert!("nope".parse::<Event>().is_err());
    }
}
