//! The hash chain's encoding: [`record_hash`] and the canonical [`Encoder`]
//! it feeds (see the [module docs](crate::journal) for the format),
//! [`GENESIS_HASH`], and the microsecond helpers that make timestamps hash
//! and store alike.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::Record;

/// `prev_hash` of the first row of a chain that has no anchor: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation tag, the first item of every hash input.
const DOMAIN: &str = "egov-gateway-journal/v1";

/// Computes a row's hash: SHA-256 over the domain tag, `seq`, `prev_hash`
/// and every field of `record` as described in the [module docs](crate::journal),
/// as lower-case hex. `record`'s timestamps must already be whole
/// microseconds (as stored).
pub fn record_hash(seq: i64, prev_hash: &str, record: &Record) -> String {
    let mut h = Encoder(Sha256::new());
    h.str(DOMAIN);
    h.i64(seq);
    h.str(prev_hash);
    let r = record;
    h.str(&r.gateway_id);
    h.str(r.event.as_str());
    h.str(r.channel.as_str());
    h.str(&r.message_id);
    h.str(&r.correlation_id);
    h.str(&r.service_id);
    h.str(&r.sender_id);
    h.opt_str(r.recipient_id.as_deref());
    h.str(&r.message_type);
    h.opt_str(r.region.as_deref());
    h.u64(r.route.len() as u64);
    for hop in &r.route {
        h.str(hop);
    }
    h.i64(r.payload_size);
    h.i64(r.signature_size);
    h.str(&r.payload_sha256);
    h.opt_str(r.signer_serial.as_deref());
    h.str(&r.verification);
    h.str(&r.status_code);
    h.str(&r.status_message);
    h.time(r.at);
    h.opt_time(r.request_in_at);
    h.opt_time(r.request_out_at);
    h.opt_time(r.response_in_at);
    h.opt_time(r.response_out_at);
    match r.duration_ms {
        None => h.none(),
        Some(d) => {
            h.some();
            h.i64(d);
        }
    }
    h.opt_str(r.trace_id.as_deref());
    hex::encode(h.0.finalize())
}

/// The canonical encoding, fed straight into the hash.
struct Encoder(Sha256);

impl Encoder {
    fn u64(&mut self, v: u64) {
        self.0.update(v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.update(v.to_be_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
    }
    fn none(&mut self) {
        self.0.update([0u8]);
    }
    fn some(&mut self) {
        self.0.update([1u8]);
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.none(),
            Some(s) => {
                self.some();
                self.str(s);
            }
        }
    }
    fn time(&mut self, t: OffsetDateTime) {
        self.i64(unix_micros(t));
    }
    fn opt_time(&mut self, t: Option<OffsetDateTime>) {
        match t {
            None => self.none(),
            Some(t) => {
                self.some();
                self.time(t);
            }
        }
    }
}

/// Microseconds since the Unix epoch (flooring any nanoseconds).
fn unix_micros(t: OffsetDateTime) -> i64 {
    // OffsetDateTime spans ±9999 years: always fits.
    t.unix_timestamp_nanos().div_euclid(1_000) as i64
}

/// `t` truncated to whole microseconds (PostgreSQL's precision).
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let ns = t.nanosecond();
    t.replace_nanosecond(ns - ns % 1_000)
        .expect("a smaller nanosecond is valid")
}

/// `t` rounded up to whole microseconds.
pub(super) fn ceil_micros(t: OffsetDateTime) -> OffsetDateTime {
    let down = truncate_to_micros(t);
    if down == t {
        t
    } else {
        down.checked_add(time::Duration::MICROSECOND)
            .unwrap_or(down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::sample;
    use crate::{Channel, Event};
    use time::macros::datetime;

    /// The encoding is part of the stored data: changing it breaks every
    /// existing chain. This pins it.
    #[test]
    fn hash_is_stable() {
        assert_eq!(
            record_hash(1, GENESIS_HASH, &sample()),
            "ca9d60c834262e6a2557a15e0ec621241f7d98fa77e1231d7199dde0397c55db"
        );
    }

    #[test]
    fn every_field_and_chain_position_counts() {
        let base = sample();
        let h = |r: &Record| record_hash(1, GENESIS_HASH, r);
        let mut variants: Vec<Record> = Vec::new();
        let mut v = |f: &dyn Fn(&mut Record)| {
            let mut r = base.clone();
            f(&mut r);
            variants.push(r);
        };
        v(&|r| r.gateway_id.push('x'));
        v(&|r| r.event = Event::RequestOut);
        v(&|r| r.channel = Channel::Async);
        v(&|r| r.message_id.push('x'));
        v(&|r| r.correlation_id.push('x'));
        v(&|r| r.service_id.push('x'));
        v(&|r| r.sender_id.push('x'));
        v(&|r| r.recipient_id = None);
        v(&|r| r.message_type.push('x'));
        v(&|r| r.region = Some(String::new()));
        v(&|r| r.route.push("rshep-almaty".into()));
        v(&|r| r.payload_size += 1);
        v(&|r| r.signature_size += 1);
        v(&|r| r.payload_sha256 = "cd".repeat(32));
        v(&|r| r.signer_serial = None);
        v(&|r| r.verification = "bad-signature".into());
        v(&|r| r.status_code.push('x'));
        v(&|r| r.status_message.push('x'));
        v(&|r| r.at += time::Duration::MICROSECOND);
        v(&|r| r.request_in_at = None);
        v(&|r| r.request_out_at = Some(r.at));
        v(&|r| r.response_in_at = Some(r.at));
        v(&|r| r.response_out_at = Some(r.at));
        v(&|r| r.duration_ms = Some(0));
        v(&|r| r.trace_id = Some(String::new()));
        let mut seen: std::collections::HashSet<String> = variants.iter().map(h).collect();
        assert_eq!(seen.len(), variants.len());
        assert!(seen.insert(h(&base)));
        assert!(seen.insert(record_hash(2, GENESIS_HASH, &base)));
        assert!(seen.insert(record_hash(1, &"1".repeat(64), &base)));
    }

    #[test]
    fn encoding_is_unambiguous() {
        let mut a = sample();
        let mut b = sample();
        a.route = vec!["ab".into(), "c".into()];
        b.route = vec!["a".into(), "bc".into()];
        assert_ne!(
            record_hash(1, GENESIS_HASH, &a),
            record_hash(1, GENESIS_HASH, &b)
        );
        a.route = vec![String::new()];
        b.route = vec![];
        assert_ne!(
            record_hash(1, GENESIS_HASH, &a),
            record_hash(1, GENESIS_HASH, &b)
        );
        let (mut a, mut b) = (sample(), sample());
        a.message_id = "m".into();
        a.correlation_id = "c1".into();
        b.message_id = "mc".into();
        b.correlation_id = "1".into();
        assert_ne!(
            record_hash(1, GENESIS_HASH, &a),
            record_hash(1, GENESIS_HASH, &b)
        );
    }

    #[test]
    fn hash_depends_on_the_instant_not_the_offset() {
        let a = sample();
        let mut b = sample();
        b.at = a.at.to_offset(time::UtcOffset::UTC);
        b.request_in_at = a.request_in_at.map(|t| t.to_offset(time::UtcOffset::UTC));
        assert_eq!(
            record_hash(1, GENESIS_HASH, &a),
            record_hash(1, GENESIS_HASH, &b)
        );
    }

    #[test]
    fn timestamps_are_truncated_to_micros() {
        let t = datetime!(2025-03-01 10:00:00.123456789 UTC);
        assert_eq!(
            truncate_to_micros(t),
            datetime!(2025-03-01 10:00:00.123456 UTC)
        );
        assert_eq!(ceil_micros(t), datetime!(2025-03-01 10:00:00.123457 UTC));
        let exact = datetime!(2025-03-01 10:00:00.123456 UTC);
        assert_eq!(ceil_micros(exact), exact);
        let old = datetime!(1960-01-01 00:00:00.000000999 UTC);
        assert_eq!(truncate_to_micros(old), datetime!(1960-01-01 00:00:00 UTC));
        assert_eq!(unix_micros(truncate_to_micros(old)), -315_619_200_000_000);
    }
}
