//! What a gateway remembers of the messages it has taken, keyed on the sender and the
//! messageId together.
//!
//! The guarantees:
//! - a message is marked *in flight* when its checks pass, and the mark is kept only once
//!   the message was logged and delivered onward (published into the inbox, or accepted by
//!   the next gateway or the recipient); when anything on the way fails, the mark is
//!   dropped, so the sender's retry is taken as new and nothing is lost;
//! - a retry with the same content (service, region, type, correlation and payload: the
//!   transport header's date and signature change with every attempt) is answered with
//!   the first attempt's outcome, and is not delivered twice;
//! - the same messageId from the same sender with other content is a replay (SE009);
//! - while the first attempt is still in flight, a retry is told to come back later
//!   (SE011, which senders retry), never refused for good;
//! - a mark in flight for longer than its message could be ([`Marks::take`]'s
//!   `abandoned_before`: the service's deadline and a margin) was abandoned (the call
//!   that held it was dropped, its caller gone), and a retry takes it anew, rather than
//!   being told to come back later for ever.
//!
//! After a restart the marks of delivered messages within the replay window come back
//! from the message log ([`Marks::preload`]).

use std::collections::HashMap;
use std::sync::Mutex;

use egov_proto::shep::v1::{Envelope, MessageType, RequestInfo};
use sha2::Digest as _;
use time::OffsetDateTime;

/// The content of a message that a retry repeats: a digest over its service, region,
/// type, correlation and the SHA-256 of its payload (the fields the message log keeps).
pub fn fingerprint(
    service_id: &str,
    region: &str,
    message_type: &str,
    correlation_id: &str,
    payload_sha256: &str,
) -> String {
    let mut h = sha2::Sha256::new();
    for part in [
        service_id,
        region,
        message_type,
        correlation_id,
        payload_sha256,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The fingerprint of a request as it arrives.
pub fn fingerprint_of(info: &RequestInfo, env: &Envelope) -> String {
    fingerprint_with(info, &crate::core::payload_digest(&env.payload))
}

/// The fingerprint of a request whose payload's SHA-256 (hex) is already known: the
/// gateway hashes a payload once, for the mark and the message log alike.
pub fn fingerprint_with(info: &RequestInfo, payload_sha256: &str) -> String {
    let message_type = MessageType::try_from(info.message_type)
        .map(|t| t.as_str_name())
        .unwrap_or_default();
    fingerprint(
        &info.service_id,
        &info.route_id,
        message_type,
        &info.correlation_id,
        payload_sha256,
    )
}

/// The key of a message: its sender and messageId.
pub fn key(sender: &str, message_id: &str) -> String {
    format!("{sender}/{message_id}")
}

/// The outcome a retry is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status code of the first attempt (a success).
    pub code: String,
    /// Its message.
    pub message: String,
}

#[derive(Debug, Clone)]
enum State {
    InFlight,
    Done(Outcome),
}

#[derive(Debug, Clone)]
struct Mark {
    fingerprint: String,
    at: OffsetDateTime,
    state: State,
}

/// What taking a message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// First seen (or its earlier attempts failed): it is now in flight.
    New,
    /// An earlier attempt with the same content is still in flight.
    InFlight,
    /// An earlier attempt with the same content was delivered: its outcome.
    Done(Outcome),
    /// The messageId was taken with other content.
    Conflict,
}

/// The marks of one gateway.
#[derive(Debug, Default)]
pub struct Marks {
    inner: Mutex<HashMap<String, Mark>>,
}

/// Settled marks kept before old ones are pruned.
const PRUNE_ABOVE: usize = 200_000;

impl Marks {
    /// Takes `key` with `fingerprint` at `now`; settled marks older than `horizon` are
    /// pruned when the map grows large. A mark in flight since before `abandoned_before`
    /// is taken anew.
    pub fn take(
        &self,
        key: &str,
        fingerprint: &str,
        now: OffsetDateTime,
        horizon: OffsetDateTime,
        abandoned_before: OffsetDateTime,
    ) -> Taken {
        let mut marks = self.inner.lock().expect("marks lock");
        if let Some(m) = marks.get(key) {
            if m.fingerprint != fingerprint {
                return Taken::Conflict;
            }
            match &m.state {
                State::InFlight if m.at < abandoned_before => {}
                State::InFlight => return Taken::InFlight,
                State::Done(o) => return Taken::Done(o.clone()),
            }
        }
        if marks.len() > PRUNE_ABOVE {
            marks.retain(|_, m| matches!(m.state, State::InFlight) || m.at > horizon);
        }
        marks.insert(
            key.to_string(),
            Mark {
                fingerprint: fingerprint.to_string(),
                at: now,
                state: State::InFlight,
            },
        );
        Taken::New
    }

    /// Settles an in-flight mark: kept with its outcome when the message was delivered,
    /// dropped otherwise (the sender's retry is then taken as new).
    pub fn settle(&self, key: &str, delivered: Option<Outcome>) {
        let mut marks = self.inner.lock().expect("marks lock");
        match delivered {
            Some(o) => {
                if let Some(m) = marks.get_mut(key) {
                    m.state = State::Done(o);
                }
            }
            None => {
                if marks
                    .get(key)
                    .is_some_and(|m| matches!(m.state, State::InFlight))
                {
                    marks.remove(key);
                }
            }
        }
    }

    /// Remembers delivered messages (after a restart, from the message log).
    pub fn preload(
        &self,
        done: impl IntoIterator<Item = (String, String, OffsetDateTime, Outcome)>,
    ) {
        let mut marks = self.inner.lock().expect("marks lock");
        for (key, fingerprint, at, outcome) in done {
            marks.insert(
                key,
                Mark {
                    fingerprint,
                    at,
                    state: State::Done(outcome),
                },
            );
        }
    }

    /// How many marks are held.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("marks lock").len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Outcome {
        Outcome {
            code: "SCSS002".into(),
            message: "accepted".into(),
        }
    }

    #[test]
    fn a_failed_attempt_leaves_no_mark_and_a_delivered_one_answers_retries() {
        let m = Marks::default();
        let now = OffsetDateTime::now_utc();
        assert_eq!(m.take("portal/1", "a", now, now, now), Taken::New);
        assert_eq!(m.take("portal/1", "a", now, now, now), Taken::InFlight);
        assert_eq!(m.take("portal/1", "b", now, now, now), Taken::Conflict);
        m.settle("portal/1", None);
        assert_eq!(
            m.take("portal/1", "a", now, now, now),
            Taken::New,
            "taken anew"
        );
        m.settle("portal/1", Some(ok()));
        assert_eq!(m.take("portal/1", "a", now, now, now), Taken::Done(ok()));
        assert_eq!(m.take("portal/1", "b", now, now, now), Taken::Conflict);
        // a failure reported late never drops a delivered mark
        m.settle("portal/1", None);
        assert_eq!(m.take("portal/1", "a", now, now, now), Taken::Done(ok()));
        // the same id from another sender is another message
        assert_eq!(m.take("con-is/1", "b", now, now, now), Taken::New);
    }

    #[test]
    fn a_mark_in_flight_past_its_deadline_was_abandoned_and_is_taken_anew() {
        let m = Marks::default();
        let t0 = OffsetDateTime::now_utc();
        assert_eq!(m.take("portal/1", "a", t0, t0, t0), Taken::New);
        // the call that held it was dropped without settling it
        let later = t0 + time::Duration::seconds(5);
        assert_eq!(
            m.take("portal/1", "a", later, later, t0),
            Taken::InFlight,
            "still within its deadline"
        );
        let much_later = t0 + time::Duration::seconds(60);
        let cutoff = much_later - time::Duration::seconds(40);
        assert_eq!(
            m.take("portal/1", "a", much_later, much_later, cutoff),
            Taken::New
        );
        assert_eq!(
            m.take("portal/1", "a", much_later, much_later, cutoff),
            Taken::InFlight,
            "the new attempt holds it now"
        );
        assert_eq!(
            m.take("portal/1", "b", much_later, much_later, cutoff),
            Taken::Conflict,
            "other content is still a replay"
        );
        m.settle("portal/1", Some(ok()));
        assert_eq!(
            m.take("portal/1", "a", much_later, much_later, much_later),
            Taken::Done(ok())
        );
    }

    #[test]
    fn fingerprints_cover_every_field() {
        let base = fingerprint("s", "r", "t", "c", "p");
        for other in [
            fingerprint("x", "r", "t", "c", "p"),
            fingerprint("s", "x", "t", "c", "p"),
            fingerprint("s", "r", "x", "c", "p"),
            fingerprint("s", "r", "t", "x", "p"),
            fingerprint("s", "r", "t", "c", "x"),
            fingerprint("sr", "", "t", "c", "p"),
        ] {
            assert_ne!(base, other);
        }
    }
}
