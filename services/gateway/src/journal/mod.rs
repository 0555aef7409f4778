//! The gateway journal: a tamper-evident message log in PostgreSQL.
//!
//! Modelled on X-Road's message log and operational monitoring. Every
//! envelope that enters or leaves a gateway (ШЭП/РШЭП) is appended as one
//! [`Record`] *before* it is forwarded: [`Journal::append`] returns only when
//! the row is committed. Rows are never updated (a trigger refuses `UPDATE`);
//! retention removes whole prefixes ([`Journal::purge_before`]).
//!
//! # Hash chains
//!
//! Each `gateway_id` ("shep", "rshep-almaty", ...) has its own chain: rows
//! are numbered `seq` = 1, 2, 3, ... without holes (primary key
//! `(gateway_id, seq)`), and every row stores
//!
//! ```text
//! hash = SHA-256(encoding of: DOMAIN, seq, prev_hash, every field of the Record)
//! ```
//!
//! as lower-case hex, where `prev_hash` is the previous row's `hash` (64 `0`s
//! for the first row, or the [anchor](#retention) after a purge). The
//! encoding, fixed and prefix-free so that different records can never
//! encode alike, is:
//!
//! * a string (and the domain tag `egov-gateway-journal/v1`): its UTF-8 byte
//!   length as a big-endian `u64`, then the bytes;
//! * an `i64` (`seq`, sizes, `duration_ms`): 8 bytes big-endian;
//! * a timestamp: microseconds since the Unix epoch as an `i64` (the instant,
//!   whatever the offset). Timestamps are truncated to whole microseconds
//!   before they are hashed and stored, PostgreSQL's precision;
//! * an `Option`: byte `0` for `None`, or byte `1` then the value;
//! * `route`: the element count as a big-endian `u64`, then each string;
//! * `event` and `channel`: their names as strings ([`Event::as_str`],
//!   [`Channel::as_str`]).
//!
//! The order is: domain tag, `seq`, `prev_hash`, then the fields in the order
//! of [`Record`]'s declaration (`gateway_id`, `event`, `channel`,
//! `message_id`, ..., `trace_id`). [`record_hash`] computes it.
//!
//! # Writing: group commit
//!
//! [`Journal::append`] hands the record to a writer task over a channel. The
//! task takes up to [`JournalOptions::max_batch`] records, waiting at most
//! [`JournalOptions::max_delay`] after the first (and only for appends
//! already under way, see there), assigns each its `seq` and hash in
//! arrival order, and writes the whole batch with ONE statement,
//! `WITH ins AS (INSERT ... SELECT FROM UNNEST(...) RETURNING ...) INSERT
//! INTO journal_head ...`: a single transaction that inserts the rows and
//! moves each chain's head, in a single round trip. Only once it has
//! committed are the appenders answered. If anything fails, every appender
//! of the batch gets the error and the task forgets the chain tails it
//! cached for the batch's gateways, reloading them from the database for
//! the next batch, so a failed batch leaves no gap.
//!
//! Records are checked before they are queued ([`Error::InvalidRecord`]), so
//! one malformed record cannot fail the batch it would have shared with
//! well-formed ones.
//!
//! One [`Journal`] may carry any number of chains, and several journals (one
//! per gateway, in one process or several) may share a database as long as
//! they write **different** `gateway_id`s. Two writers for the **same**
//! `gateway_id` at once (two processes, or two [`Journal`]s) are not
//! supported: they cannot fork the chain, since the second insert of a
//! `(gateway_id, seq)` fails ([`Error::Conflict`]; the loser reloads its tail
//! and its next append continues the chain), but their appends fail
//! whenever they race.
//!
//! If the connection breaks while a `COMMIT` is in flight, the appenders get
//! an error although the rows may have been committed; a caller that retries
//! may then log the event twice (at least once, never silently lost).
//!
//! # Verification
//!
//! [`Journal::verify`] walks each chain in `seq` order, in chunks of 10,000
//! rows, inside one repeatable-read snapshot per chain, recomputing every
//! row's hash from its columns:
//!
//! * a row whose columns no longer give its `hash` is [`Problem::Edited`];
//! * a hole in `seq` is [`Problem::Missing`];
//! * a `prev_hash` that is not the previous row's `hash` is
//!   [`Problem::BrokenLink`].
//!
//! Rows deleted from the *end* of a chain leave no hole and no broken link.
//! They are caught by `journal_head(gateway_id, seq, hash)`, which records
//! the last appended row and is moved in the same transaction as each batch:
//! when the head is beyond the last row the missing rows are reported as
//! [`Problem::Missing`] with `next_seq` = head `seq` + 1; when the head names
//! the last row but with another hash, that row is [`Problem::Edited`]; a
//! head missing or behind the last row is [`Problem::HeadMismatch`].
//!
//! The chain makes edits by anyone who does not also recompute the hashes
//! evident. Someone with write access to the database who knows this
//! algorithm can rewrite a chain's tail together with `journal_head`; to
//! detect that too, record [`ChainReport::head_hash`] somewhere else (signed,
//! or in another system) from time to time and compare.
//!
//! # Retention
//!
//! [`Journal::purge_before`] deletes, per chain, the prefix up to the
//! largest `seq` whose `at` is before the cutoff (so later rows with an
//! earlier `at` go too, and never a hole is cut), and in the same
//! transaction records the last deleted row's `seq` and `hash` in
//! `journal_anchor`. Verification starts from the anchor.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// `prev_hash` of the first row of a chain that has no anchor: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation tag, the first item of every hash input.
const DOMAIN: &str = "egov-gateway-journal/v1";

/// Rows fetched per query by [`Journal::verify`].
const VERIFY_CHUNK: i64 = 10_000;

/// Rows returned by [`Journal::search`] when [`Filter::limit`] is `None`.
pub const DEFAULT_SEARCH_LIMIT: i64 = 100;
/// The most rows [`Journal::search`] returns.
pub const MAX_SEARCH_LIMIT: i64 = 1_000;

/// Columns of `journal`, in [`Record`] order, then the chain columns.
const COLUMNS: &str = "gateway_id, seq, event, channel, message_id, correlation_id, service_id, \
    sender_id, recipient_id, message_type, region, route, payload_size, signature_size, \
    payload_sha256, signer_serial, verification, status_code, status_message, at, \
    request_in_at, request_out_at, response_in_at, response_out_at, duration_ms, trace_id, \
    prev_hash, hash";

/// One batch, one statement, hence one transaction and one round trip: the
/// rows go in, and the head of each chain they extend moves to the last of
/// them. Every column is an array; routes travel as JSON text because
/// `unnest` would flatten an array of arrays.
const INSERT_BATCH: &str = "with ins as (insert into journal (gateway_id, seq, event, channel, message_id, \
    correlation_id, service_id, sender_id, recipient_id, message_type, region, route, \
    payload_size, signature_size, payload_sha256, signer_serial, verification, status_code, \
    status_message, at, request_in_at, request_out_at, response_in_at, response_out_at, \
    duration_ms, trace_id, prev_hash, hash) \
    select t.gateway_id, t.seq, t.event, t.channel, t.message_id, t.correlation_id, \
    t.service_id, t.sender_id, t.recipient_id, t.message_type, t.region, \
    array(select r.e from jsonb_array_elements_text(t.route::jsonb) with ordinality as r(e, i) \
          order by r.i), \
    t.payload_size, t.signature_size, t.payload_sha256, t.signer_serial, t.verification, \
    t.status_code, t.status_message, t.at, t.request_in_at, t.request_out_at, \
    t.response_in_at, t.response_out_at, t.duration_ms, t.trace_id, t.prev_hash, t.hash \
    from unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], \
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[], \
    $14::int8[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
    $20::timestamptz[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[], \
    $24::timestamptz[], $25::int8[], $26::text[], $27::text[], $28::text[]) \
    as t(gateway_id, seq, event, channel, message_id, correlation_id, service_id, sender_id, \
    recipient_id, message_type, region, route, payload_size, signature_size, payload_sha256, \
    signer_serial, verification, status_code, status_message, at, request_in_at, \
    request_out_at, response_in_at, response_out_at, duration_ms, trace_id, prev_hash, hash) \
    returning gateway_id, seq, hash) \
    insert into journal_head (gateway_id, seq, hash) \
    select distinct on (gateway_id) gateway_id, seq, hash from ins order by gateway_id, seq desc \
    on conflict (gateway_id) do update set seq = excluded.seq, hash = excluded.hash \
    where journal_head.seq < excluded.seq";

/// The chain tail to continue from: the highest of the head, the last row
/// and the anchor (the head wins a tie: if rows were deleted from the end,
/// continuing from the last remaining row would reuse their seqs and hide
/// the deletion).
const LOAD_TAIL: &str = "select seq, hash from ( \
    select 0 as prio, seq, hash from journal_head where gateway_id = $1 \
    union all (select 1, seq, hash from journal where gateway_id = $1 order by seq desc limit 1) \
    union all select 2, seq, hash from journal_anchor where gateway_id = $1 \
    ) t order by seq desc, prio limit 1";

/// Every gateway_id that has rows, a head or an anchor; a skip scan over the
/// primary key rather than a scan of the whole log.
const ALL_GATEWAYS: &str = "with recursive g(id) as ( \
    select min(gateway_id) from journal \
    union all \
    select (select min(gateway_id) from journal where gateway_id > g.id) from g where g.id is not null \
    ) \
    select id from g where id is not null \
    union select gateway_id from journal_head \
    union select gateway_id from journal_anchor \
    order by 1";

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
    /// This row's hash, see the [module docs](self).
    pub hash: String,
}

/// Writer settings for [`Journal::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Most records per transaction (default 256; 0 counts as 1, i.e. no
    /// batching).
    ///
    /// With sqlx 0.9.0, which leaves Nagle's algorithm on (sqlx issue
    /// #4335), a batch whose statement outgrows the socket buffer (about 28
    /// typical records, 14 KB, on Linux loopback) waits ~40 ms for a delayed
    /// ACK; batching still pays off at high concurrency, but far less.
    pub max_batch: usize,
    /// Longest wait for more records after the first of a batch arrived
    /// (default 2 ms). The writer waits only for appends already under way
    /// (`append` called, record not yet received), never for appends nobody
    /// has started: under load, the records that arrive while a batch
    /// commits make up the next one, and waiting would only add latency.
    /// Zero takes only what is already queued.
    pub max_delay: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_delay: Duration::from_millis(2),
        }
    }
}

/// What [`Journal::search`] looks for; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Exact message id.
    pub message_id: Option<String>,
    /// Exact correlation id.
    pub correlation_id: Option<String>,
    /// Exact sender.
    pub sender_id: Option<String>,
    /// Exact service.
    pub service_id: Option<String>,
    /// Exact gateway (chain).
    pub gateway_id: Option<String>,
    /// `at >= from`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// `at < to`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
    /// Most rows to return: default [`DEFAULT_SEARCH_LIMIT`], larger values
    /// are lowered to [`MAX_SEARCH_LIMIT`], below 1 is an error.
    pub limit: Option<i64>,
}

/// The outcome of [`Journal::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// One entry per chain checked, by `gateway_id`.
    pub chains: Vec<ChainReport>,
}

impl VerifyReport {
    /// `true` if no chain has a problem.
    pub fn ok(&self) -> bool {
        self.chains.iter().all(ChainReport::ok)
    }

    /// The report of one chain.
    pub fn chain(&self, gateway_id: &str) -> Option<&ChainReport> {
        self.chains.iter().find(|c| c.gateway_id == gateway_id)
    }
}

/// The outcome of verifying one chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// The chain.
    pub gateway_id: String,
    /// Rows checked (those after the anchor).
    pub rows: u64,
    /// What is wrong, in `seq` order; empty if the chain is intact.
    pub problems: Vec<Problem>,
    /// `seq` of the last appended row according to `journal_head` (0 if
    /// none).
    pub head_seq: i64,
    /// Hash of that row according to `journal_head`; keep it outside the
    /// database to detect a rewrite of the whole tail later.
    pub head_hash: Option<String>,
}

impl ChainReport {
    /// `true` if the chain has no problem.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Something [`Journal::verify`] found wrong with a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The row's columns do not give its hash: it was changed after it was
    /// written (or, for the last row, it is not the row `journal_head`
    /// recorded).
    Edited {
        /// The row.
        seq: i64,
    },
    /// Rows `after_seq + 1 ..= next_seq - 1` are gone. For rows missing at
    /// the end of the chain (detected through `journal_head`), `next_seq` is
    /// the head's `seq` + 1.
    Missing {
        /// The last row present before the hole (the anchor's seq, or 0).
        after_seq: i64,
        /// The first row present after the hole.
        next_seq: i64,
    },
    /// The row's `prev_hash` is not the previous row's `hash` (or the
    /// anchor's).
    BrokenLink {
        /// The row.
        seq: i64,
    },
    /// `journal_head` is missing or names an earlier row than the chain's
    /// last: rows were added without the journal, or the head was tampered
    /// with.
    HeadMismatch {
        /// The head's seq (0 if there is no head).
        head_seq: i64,
        /// The chain's last row.
        last_seq: i64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Problem::Edited { seq } => {
                write!(
                    f,
                    "row {seq} was altered: its columns do not match its hash"
                )
            }
            Problem::Missing {
                after_seq,
                next_seq,
            } if next_seq == after_seq + 2 => {
                write!(f, "row {} is missing", after_seq + 1)
            }
            Problem::Missing {
                after_seq,
                next_seq,
            } => write!(f, "rows {} to {} are missing", after_seq + 1, next_seq - 1),
            Problem::BrokenLink { seq } => write!(
                f,
                "row {seq} does not link to the row before it (prev_hash mismatch)"
            ),
            Problem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "journal_head records row {head_seq} but the chain ends at row {last_seq}"
            ),
        }
    }
}

/// Errors of the journal.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The record was refused before reaching the database (empty
    /// `gateway_id`, malformed `payload_sha256`, negative size, NUL
    /// character, ...).
    #[error("invalid journal record: {0}")]
    InvalidRecord(String),
    /// The search filter is not valid.
    #[error("invalid journal filter: {0}")]
    InvalidFilter(String),
    /// Another writer appended to the same chain first (unique key
    /// `(gateway_id, seq)`). The whole batch failed; the chain tail has been
    /// reloaded and the next append continues the chain.
    #[error("journal chain clash, another writer appends to the same gateway_id: {0}")]
    Conflict(#[source] Arc<sqlx::Error>),
    /// The database failed. For an append, the whole batch failed (or, if
    /// the connection broke during COMMIT, may have been committed).
    #[error("journal database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    /// A stored row cannot be read back as a [`Record`]: it was altered
    /// outside the journal (see [`Journal::verify`]).
    #[error("journal row {gateway_id}/{seq} cannot be read: {reason}")]
    Corrupt {
        /// Its chain.
        gateway_id: String,
        /// Its seq.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
    /// The journal was shut down (or its writer task stopped).
    #[error("the journal is shut down")]
    Closed,
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let conflict = matches!(&e, sqlx::Error::Database(d)
            if d.code().as_deref() == Some("23505") && d.constraint() == Some("journal_pkey"));
        if conflict {
            Error::Conflict(Arc::new(e))
        } else {
            Error::Database(Arc::new(e))
        }
    }
}

/// The gateway's message log. Cheap to clone: clones share one writer task.
#[derive(Debug, Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    tx: mpsc::Sender<Msg>,
    /// Appends started but not yet received by the writer.
    underway: Arc<AtomicUsize>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Counts one append in [`Inner::underway`] until the writer has it (the
/// writer then counts it out), or until the send fails or is abandoned.
struct Underway<'a> {
    counter: &'a AtomicUsize,
    handed_over: bool,
}

impl<'a> Underway<'a> {
    fn start(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self {
            counter,
            handed_over: false,
        }
    }
}

impl Drop for Underway<'_> {
    fn drop(&mut self) {
        if !self.handed_over {
            self.counter.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[derive(Debug)]
enum Msg {
    Append {
        record: Box<Record>,
        reply: oneshot::Sender<Result<i64, Error>>,
    },
    Shutdown,
}

impl Journal {
    /// Opens the journal on `pool` (whose search path must reach the tables
    /// of `migrations/0001_journal.sql`) and spawns its writer task on the
    /// current Tokio runtime.
    ///
    /// Fails if the tables are not there. Chain tails are loaded lazily, on
    /// the first append of each `gateway_id`.
    pub async fn open(pool: PgPool, options: JournalOptions) -> Result<Self, Error> {
        sqlx::query(
            "select (select 1 from journal limit 0), (select 1 from journal_head limit 0), \
             (select 1 from journal_anchor limit 0)",
        )
        .execute(&pool)
        .await?;
        let max_batch = options.max_batch.max(1);
        let (tx, rx) = mpsc::channel((max_batch * 4).max(1024));
        let underway = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            pool: pool.clone(),
            rx,
            underway: underway.clone(),
            max_batch,
            max_delay: options.max_delay,
            tails: HashMap::new(),
        };
        let handle = tokio::spawn(writer.run());
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                tx,
                underway,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Appends one record to its gateway's chain and returns its `seq` once
    /// the row is **committed**.
    ///
    /// Timestamps are truncated to microseconds. The record is checked first
    /// ([`Error::InvalidRecord`]); a database failure fails every record of
    /// the batch ([`Error::Database`], [`Error::Conflict`]) and leaves no gap.
    /// Dropping the returned future once the record is queued does not
    /// withdraw it: the row is written all the same.
    pub async fn append(&self, mut record: Record) -> Result<i64, Error> {
        validate(&record)?;
        normalize(&mut record);
        let (reply, answer) = oneshot::channel();
        let mut underway = Underway::start(&self.inner.underway);
        self.inner
            .tx
            .send(Msg::Append {
                record: Box::new(record),
                reply,
            })
            .await
            .map_err(|_| Error::Closed)?;
        // Sent: the writer counts it out when it receives it.
        underway.handed_over = true;
        drop(underway);
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Finds rows matching `filter`, newest (`at`) first.
    ///
    /// The time range is `[from, to)`. At most [`Filter::limit`] rows
    /// (default 100, at most 1000). Purged rows are gone.
    pub async fn search(&self, filter: &Filter) -> Result<Vec<StoredRecord>, Error> {
        let limit = match filter.limit {
            None => DEFAULT_SEARCH_LIMIT,
            Some(n) if n < 1 => {
                return Err(Error::InvalidFilter(format!(
                    "limit must be at least 1, not {n}"
                )));
            }
            Some(n) => n.min(MAX_SEARCH_LIMIT),
        };
        let mut conditions = Vec::new();
        let text_filters = [
            ("message_id", &filter.message_id),
            ("correlation_id", &filter.correlation_id),
            ("sender_id", &filter.sender_id),
            ("service_id", &filter.service_id),
            ("gateway_id", &filter.gateway_id),
        ];
        let mut texts = Vec::new();
        for (column, value) in text_filters {
            if let Some(v) = value {
                texts.push(v.as_str());
                conditions.push(format!("{column} = ${}", texts.len()));
            }
        }
        let mut n = texts.len();
        // Stored times are whole microseconds: rounding the bounds up keeps
        // `at >= from` and `at < to` exact.
        let from = filter.from.map(ceil_micros);
        let to = filter.to.map(ceil_micros);
        if from.is_some() {
            n += 1;
            conditions.push(format!("at >= ${n}"));
        }
        if to.is_some() {
            n += 1;
            conditions.push(format!("at < ${n}"));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("where {}", conditions.join(" and "))
        };
        let sql = format!(
            "select {COLUMNS} from journal {where_clause} \
             order by at desc, gateway_id, seq desc limit ${}",
            n + 1
        );
        let mut query = sqlx::query_as::<_, RawRow>(&sql);
        for t in texts {
            query = query.bind(t);
        }
        if let Some(from) = from {
            query = query.bind(from);
        }
        if let Some(to) = to {
            query = query.bind(to);
        }
        let rows = query.bind(limit).fetch_all(&self.inner.pool).await?;
        rows.into_iter().map(RawRow::into_stored).collect()
    }

    /// Checks every chain, or only `gateway_id`'s: recomputes each row's
    /// hash, checks the links and `seq` contiguity from the anchor on, and
    /// compares the end with `journal_head` (see the [module docs](self)).
    ///
    /// Rows are read 10,000 at a time in one repeatable-read snapshot per
    /// chain, so appends and purges running meanwhile do not disturb it.
    pub async fn verify(&self, gateway_id: Option<&str>) -> Result<VerifyReport, Error> {
        let gateways: Vec<String> = match gateway_id {
            Some(g) => vec![g.to_owned()],
            None => {
                sqlx::query_scalar(ALL_GATEWAYS)
                    .fetch_all(&self.inner.pool)
                    .await?
            }
        };
        let mut chains = Vec::with_capacity(gateways.len());
        for g in gateways {
            chains.push(self.verify_chain(g).await?);
        }
        Ok(VerifyReport { chains })
    }

    async fn verify_chain(&self, gateway_id: String) -> Result<ChainReport, Error> {
        let mut tx = self.inner.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let anchor: Option<(i64, String)> =
            sqlx::query_as("select seq, hash from journal_anchor where gateway_id = $1")
                .bind(&gateway_id)
                .fetch_optional(&mut *tx)
                .await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("select seq, hash from journal_head where gateway_id = $1")
                .bind(&gateway_id)
                .fetch_optional(&mut *tx)
                .await?;

        let (mut last_seq, mut last_hash) = anchor.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
        let mut rows = 0u64;
        let mut problems = Vec::new();
        let chunk_sql = format!(
            "select {COLUMNS} from journal where gateway_id = $1 and seq > $2 \
             order by seq limit $3"
        );
        loop {
            let chunk: Vec<RawRow> = sqlx::query_as(chunk_sql.as_str())
                .bind(&gateway_id)
                .bind(last_seq)
                .bind(VERIFY_CHUNK)
                .fetch_all(&mut *tx)
                .await?;
            let full = chunk.len() as i64 == VERIFY_CHUNK;
            for row in chunk {
                rows += 1;
                let seq = row.seq;
                let contiguous = seq == last_seq + 1;
                if !contiguous {
                    problems.push(Problem::Missing {
                        after_seq: last_seq,
                        next_seq: seq,
                    });
                }
                let stored_hash = row.hash.clone().unwrap_or_default();
                let prev_hash = row.prev_hash.clone().unwrap_or_default();
                match row.into_record() {
                    Err(_) => problems.push(Problem::Edited { seq }),
                    Ok(record) => {
                        // The link can only be judged against a row present.
                        let linked = !contiguous || prev_hash == last_hash;
                        if !linked {
                            problems.push(Problem::BrokenLink { seq });
                        }
                        let consistent = record_hash(seq, &prev_hash, &record) == stored_hash
                            // only prev_hash was changed: the link says it all
                            || (!linked && record_hash(seq, &last_hash, &record) == stored_hash);
                        if !consistent {
                            problems.push(Problem::Edited { seq });
                        }
                    }
                }
                last_seq = seq;
                last_hash = stored_hash;
            }
            if !full {
                break;
            }
        }
        tx.commit().await?;

        let (head_seq, head_hash) = match head {
            Some((s, h)) => (s, Some(h)),
            None => (0, None),
        };
        if head_seq > last_seq {
            problems.push(Problem::Missing {
                after_seq: last_seq,
                next_seq: head_seq + 1,
            });
        } else if head_seq < last_seq {
            problems.push(Problem::HeadMismatch { head_seq, last_seq });
        } else if head_seq > 0 && head_hash.as_deref() != Some(last_hash.as_str()) {
            // The last row (or, if everything was purged, the anchor) is not
            // the row the head recorded.
            let edited = Problem::Edited { seq: last_seq };
            if !problems.contains(&edited) {
                problems.push(edited);
            }
        }
        Ok(ChainReport {
            gateway_id,
            rows,
            problems,
            head_seq,
            head_hash,
        })
    }

    /// Retention: deletes, in every chain, the rows up to and including the
    /// last one (by `seq`) whose `at` is before `cutoff` (a prefix, never a
    /// hole), and records that row's `seq` and `hash` as the chain's anchor
    /// in the same transaction. Returns the number of rows deleted.
    pub async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, Error> {
        let mut tx = self.inner.pool.begin().await?;
        let cuts: Vec<(String, i64)> = sqlx::query_as(
            "select gateway_id, max(seq) from journal where at < $1 group by gateway_id",
        )
        .bind(ceil_micros(cutoff))
        .fetch_all(&mut *tx)
        .await?;
        if cuts.is_empty() {
            return Ok(0);
        }
        let (gateways, seqs): (Vec<String>, Vec<i64>) = cuts.into_iter().unzip();
        sqlx::query(
            "insert into journal_anchor (gateway_id, seq, hash) \
             select j.gateway_id, j.seq, j.hash \
             from journal j join unnest($1::text[], $2::int8[]) as c(gateway_id, seq) \
             on j.gateway_id = c.gateway_id and j.seq = c.seq \
             on conflict (gateway_id) do update set seq = excluded.seq, hash = excluded.hash \
             where journal_anchor.seq < excluded.seq",
        )
        .bind(&gateways)
        .bind(&seqs)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query(
            "delete from journal j using unnest($1::text[], $2::int8[]) as c(gateway_id, seq) \
             where j.gateway_id = c.gateway_id and j.seq <= c.seq",
        )
        .bind(&gateways)
        .bind(&seqs)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        tracing::info!(deleted, chains = gateways.len(), cutoff = %cutoff, "journal purged");
        Ok(deleted)
    }

    /// Stops the writer after writing every append queued so far (by any
    /// clone) and waits for it. Appends through remaining clones then fail
    /// with [`Error::Closed`].
    pub async fn shutdown(self) {
        let _ = self.inner.tx.send(Msg::Shutdown).await;
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "journal writer task failed");
        }
    }
}

/// Computes a row's hash: SHA-256 over the domain tag, `seq`, `prev_hash`
/// and every field of `record` as described in the [module docs](self),
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
fn ceil_micros(t: OffsetDateTime) -> OffsetDateTime {
    let down = truncate_to_micros(t);
    if down == t {
        t
    } else {
        down.checked_add(time::Duration::MICROSECOND)
            .unwrap_or(down)
    }
}

fn normalize(r: &mut Record) {
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
fn validate(r: &Record) -> Result<(), Error> {
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

/// A `journal` row as stored, every column optional so that rows altered
/// outside the journal can still be read (and reported).
#[derive(sqlx::FromRow)]
struct RawRow {
    gateway_id: String,
    seq: i64,
    event: Option<String>,
    channel: Option<String>,
    message_id: Option<String>,
    correlation_id: Option<String>,
    service_id: Option<String>,
    sender_id: Option<String>,
    recipient_id: Option<String>,
    message_type: Option<String>,
    region: Option<String>,
    route: Option<Vec<Option<String>>>,
    payload_size: Option<i64>,
    signature_size: Option<i64>,
    payload_sha256: Option<String>,
    signer_serial: Option<String>,
    verification: Option<String>,
    status_code: Option<String>,
    status_message: Option<String>,
    at: Option<OffsetDateTime>,
    request_in_at: Option<OffsetDateTime>,
    request_out_at: Option<OffsetDateTime>,
    response_in_at: Option<OffsetDateTime>,
    response_out_at: Option<OffsetDateTime>,
    duration_ms: Option<i64>,
    trace_id: Option<String>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl RawRow {
    fn into_record(self) -> Result<Record, String> {
        fn req<T>(v: Option<T>, name: &str) -> Result<T, String> {
            v.ok_or_else(|| format!("{name} is null"))
        }
        let event = req(self.event, "event")?;
        let channel = req(self.channel, "channel")?;
        Ok(Record {
            gateway_id: self.gateway_id,
            event: event
                .parse()
                .map_err(|_| format!("unknown event {event:?}"))?,
            channel: channel
                .parse()
                .map_err(|_| format!("unknown channel {channel:?}"))?,
            message_id: req(self.message_id, "message_id")?,
            correlation_id: req(self.correlation_id, "correlation_id")?,
            service_id: req(self.service_id, "service_id")?,
            sender_id: req(self.sender_id, "sender_id")?,
            recipient_id: self.recipient_id,
            message_type: req(self.message_type, "message_type")?,
            region: self.region,
            route: req(self.route, "route")?
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .ok_or("route has a null element")?,
            payload_size: req(self.payload_size, "payload_size")?,
            signature_size: req(self.signature_size, "signature_size")?,
            payload_sha256: req(self.payload_sha256, "payload_sha256")?,
            signer_serial: self.signer_serial,
            verification: req(self.verification, "verification")?,
            status_code: req(self.status_code, "status_code")?,
            status_message: req(self.status_message, "status_message")?,
            at: req(self.at, "at")?,
            request_in_at: self.request_in_at,
            request_out_at: self.request_out_at,
            response_in_at: self.response_in_at,
            response_out_at: self.response_out_at,
            duration_ms: self.duration_ms,
            trace_id: self.trace_id,
        })
    }

    fn into_stored(mut self) -> Result<StoredRecord, Error> {
        let (gateway_id, seq) = (self.gateway_id.clone(), self.seq);
        let corrupt = |reason: String| Error::Corrupt {
            gateway_id: gateway_id.clone(),
            seq,
            reason,
        };
        let prev_hash = self
            .prev_hash
            .take()
            .ok_or_else(|| corrupt("prev_hash is null".into()))?;
        let hash = self
            .hash
            .take()
            .ok_or_else(|| corrupt("hash is null".into()))?;
        let record = self.into_record().map_err(corrupt)?;
        Ok(StoredRecord {
            seq,
            record,
            prev_hash,
            hash,
        })
    }
}

/// Where a chain ends, as far as the writer knows.
#[derive(Debug, Clone)]
struct Tail {
    seq: i64,
    hash: String,
}

struct Writer {
    pool: PgPool,
    rx: mpsc::Receiver<Msg>,
    /// See [`Inner::underway`].
    underway: Arc<AtomicUsize>,
    max_batch: usize,
    max_delay: Duration,
    /// Tails of the chains written so far; only ever advanced after a
    /// commit, and dropped when a batch fails.
    tails: HashMap<String, Tail>,
}

type Pending = (Record, oneshot::Sender<Result<i64, Error>>);

impl Writer {
    async fn run(mut self) {
        let mut batch: Vec<Pending> = Vec::with_capacity(self.max_batch);
        let mut incoming: Vec<Msg> = Vec::with_capacity(self.max_batch);
        loop {
            // The first record of a batch: wait as long as it takes.
            let Some(first) = self.rx.recv().await else {
                break;
            };
            self.accept(first, &mut batch);
            self.collect(&mut batch, &mut incoming).await;
            if !batch.is_empty() {
                self.write(&mut batch).await;
            }
        }
        tracing::debug!("journal writer stopped");
    }

    /// Adds to the batch what is queued, and waits (at most `max_delay` from
    /// now) for appends already under way, never for appends nobody has
    /// started: under load, what arrives while a batch commits makes the
    /// next batch anyway, and waiting would only add latency.
    async fn collect(&mut self, batch: &mut Vec<Pending>, incoming: &mut Vec<Msg>) {
        let deadline = tokio::time::Instant::now() + self.max_delay;
        let mut yielded = false;
        while batch.len() < self.max_batch {
            let room = self.max_batch - batch.len();
            // Everything already queued, without waiting.
            while incoming.len() < room {
                match self.rx.try_recv() {
                    Ok(msg) => incoming.push(msg),
                    Err(_) => break,
                }
            }
            if !incoming.is_empty() {
                for msg in incoming.drain(..) {
                    self.accept(msg, batch);
                }
                continue;
            }
            if self.rx.is_closed() && self.rx.is_empty() {
                break; // shutting down: nothing more will come
            }
            if !yielded {
                // Appenders woken by the previous commit may be runnable on
                // this worker: let them enqueue before deciding.
                yielded = true;
                tokio::task::yield_now().await;
                continue;
            }
            if self.underway.load(Ordering::Acquire) == 0 || tokio::time::Instant::now() >= deadline
            {
                break;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv_many(incoming, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    fn accept(&mut self, msg: Msg, batch: &mut Vec<Pending>) {
        match msg {
            Msg::Append { record, reply } => {
                self.underway.fetch_sub(1, Ordering::AcqRel);
                batch.push((*record, reply));
            }
            // Refuse new appends; those queued are still written.
            Msg::Shutdown => self.rx.close(),
        }
    }

    async fn write(&mut self, batch: &mut Vec<Pending>) {
        let started = std::time::Instant::now();
        let size = batch.len();
        match self.commit(batch).await {
            Ok(seqs) => {
                for ((_, reply), seq) in batch.drain(..).zip(seqs) {
                    let _ = reply.send(Ok(seq));
                }
                tracing::trace!(size, elapsed = ?started.elapsed(), "journal batch committed");
            }
            Err(e) => {
                tracing::warn!(size, error = %e, "journal batch failed");
                for (record, _) in batch.iter() {
                    self.tails.remove(&record.gateway_id);
                }
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Writes the batch in one statement (one transaction); returns the seqs
    /// in batch order. Cached tails move only if it succeeds.
    async fn commit(&mut self, batch: &[Pending]) -> Result<Vec<i64>, Error> {
        let mut conn = self.pool.acquire().await?;
        let mut next: HashMap<&str, Tail> = HashMap::new();
        for (record, _) in batch {
            let g = record.gateway_id.as_str();
            if !next.contains_key(g) {
                let tail = match self.tails.get(g) {
                    Some(t) => t.clone(),
                    None => load_tail(&mut conn, g).await?,
                };
                next.insert(g, tail);
            }
        }

        let n = batch.len();
        let mut c = Columns::with_capacity(n);
        let mut seqs = Vec::with_capacity(n);
        for (r, _) in batch {
            let tail = next.get_mut(r.gateway_id.as_str()).expect("loaded above");
            let seq = tail.seq + 1;
            let hash = record_hash(seq, &tail.hash, r);
            c.push(
                r,
                seq,
                std::mem::replace(&mut tail.hash, hash.clone()),
                hash,
            );
            tail.seq = seq;
            seqs.push(seq);
        }
        sqlx::query(INSERT_BATCH)
            .bind(c.gateway_id)
            .bind(c.seq)
            .bind(c.event)
            .bind(c.channel)
            .bind(c.message_id)
            .bind(c.correlation_id)
            .bind(c.service_id)
            .bind(c.sender_id)
            .bind(c.recipient_id)
            .bind(c.message_type)
            .bind(c.region)
            .bind(c.route)
            .bind(c.payload_size)
            .bind(c.signature_size)
            .bind(c.payload_sha256)
            .bind(c.signer_serial)
            .bind(c.verification)
            .bind(c.status_code)
            .bind(c.status_message)
            .bind(c.at)
            .bind(c.request_in_at)
            .bind(c.request_out_at)
            .bind(c.response_in_at)
            .bind(c.response_out_at)
            .bind(c.duration_ms)
            .bind(c.trace_id)
            .bind(c.prev_hash)
            .bind(c.hash)
            .execute(&mut *conn)
            .await?;

        for (g, t) in next {
            self.tails.insert(g.to_owned(), t);
        }
        Ok(seqs)
    }
}

async fn load_tail(conn: &mut PgConnection, gateway_id: &str) -> Result<Tail, Error> {
    let row: Option<(i64, String)> = sqlx::query_as(LOAD_TAIL)
        .bind(gateway_id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some((seq, hash)) => Tail { seq, hash },
        None => Tail {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        },
    })
}

/// A batch, column by column, for `unnest`.
#[derive(Default)]
struct Columns {
    gateway_id: Vec<String>,
    seq: Vec<i64>,
    event: Vec<&'static str>,
    channel: Vec<&'static str>,
    message_id: Vec<String>,
    correlation_id: Vec<String>,
    service_id: Vec<String>,
    sender_id: Vec<String>,
    recipient_id: Vec<Option<String>>,
    message_type: Vec<String>,
    region: Vec<Option<String>>,
    route: Vec<String>,
    payload_size: Vec<i64>,
    signature_size: Vec<i64>,
    payload_sha256: Vec<String>,
    signer_serial: Vec<Option<String>>,
    verification: Vec<String>,
    status_code: Vec<String>,
    status_message: Vec<String>,
    at: Vec<OffsetDateTime>,
    request_in_at: Vec<Option<OffsetDateTime>>,
    request_out_at: Vec<Option<OffsetDateTime>>,
    response_in_at: Vec<Option<OffsetDateTime>>,
    response_out_at: Vec<Option<OffsetDateTime>>,
    duration_ms: Vec<Option<i64>>,
    trace_id: Vec<Option<String>>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        let mut c = Self::default();
        c.gateway_id.reserve(n);
        c.seq.reserve(n);
        c.message_id.reserve(n);
        c.route.reserve(n);
        c.hash.reserve(n);
        c
    }

    fn push(&mut self, r: &Record, seq: i64, prev_hash: String, hash: String) {
        self.gateway_id.push(r.gateway_id.clone());
        self.seq.push(seq);
        self.event.push(r.event.as_str());
        self.channel.push(r.channel.as_str());
        self.message_id.push(r.message_id.clone());
        self.correlation_id.push(r.correlation_id.clone());
        self.service_id.push(r.service_id.clone());
        self.sender_id.push(r.sender_id.clone());
        self.recipient_id.push(r.recipient_id.clone());
        self.message_type.push(r.message_type.clone());
        self.region.push(r.region.clone());
        self.route
            .push(serde_json::to_string(&r.route).expect("strings serialize"));
        self.payload_size.push(r.payload_size);
        self.signature_size.push(r.signature_size);
        self.payload_sha256.push(r.payload_sha256.clone());
        self.signer_serial.push(r.signer_serial.clone());
        self.verification.push(r.verification.clone());
        self.status_code.push(r.status_code.clone());
        self.status_message.push(r.status_message.clone());
        self.at.push(r.at);
        self.request_in_at.push(r.request_in_at);
        self.request_out_at.push(r.request_out_at);
        self.response_in_at.push(r.response_in_at);
        self.response_out_at.push(r.response_out_at);
        self.duration_ms.push(r.duration_ms);
        self.trace_id.push(r.trace_id.clone());
        self.prev_hash.push(prev_hash);
        self.hash.push(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> Record {
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
    fn problems_read_well() {
        assert_eq!(
            Problem::Missing {
                after_seq: 4,
                next_seq: 6
            }
            .to_string(),
            "row 5 is missing"
        );
        assert_eq!(
            Problem::Missing {
                after_seq: 4,
                next_seq: 9
            }
            .to_string(),
            "rows 5 to 8 are missing"
        );
        assert!(Problem::Edited { seq: 3 }.to_string().contains("row 3"));
        assert!(Problem::BrokenLink { seq: 3 }.to_string().contains("row 3"));
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
