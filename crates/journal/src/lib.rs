//! The gateway journal: a tamper-evident message log in PostgreSQL.
//!
//! Modelled on X-Road's message log and operational monitoring. Every
//! envelope that enters or leaves a gateway (ШЭП/РШЭП) is appended as one
//! [`Record`] *before* it is forwarded: [`Journal::append`] returns only when
//! the row is committed. Rows are never updated, deleted or truncated (triggers
//! refuse it, and the writing role has no right to); retention removes whole
//! prefixes already anchored ([`Journal::purge_before`]). The gateway signs its
//! chain's head every few seconds ([`Journal::sign_head`], `heads.rs`).
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
//! The writer holds a connection of its own ([`WRITER_APPLICATION_NAME`]), opened
//! with the pool's settings and kept between batches: a commit costs the statement's
//! one round trip and the server's flush, nothing else. A batch that loses the
//! connection fails like any other, and the next one opens a new connection.
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
//! algorithm can rewrite a chain together with `journal_head`; that is caught
//! by the heads the gateway signed (`journal_heads`, see `heads.rs`): every
//! signed head from the anchor on must still name a row with the signed hash
//! ([`Problem::SignedHeadMismatch`]), and [`Journal::verify_signed`] also
//! checks that the latest one carries the gateway's own valid signature
//! ([`Problem::BadHeadSignature`]). Rows after the latest signed head are
//! covered by the chain alone until the next signing.
//!
//! # Retention
//!
//! [`Journal::purge_before`] deletes, per chain, the prefix up to the
//! largest `seq` whose `at` is before the cutoff (so later rows with an
//! earlier `at` go too, and never a hole is cut), and in the same
//! transaction records the last deleted row's `seq` and `hash` in
//! `journal_anchor`. Verification starts from the anchor.
//!
//! # Layout
//!
//! This file holds the [`Journal`] handle (opening, appending, shutting
//! down), its [`JournalOptions`] and its [`Error`]; the rest is one file per
//! concern, every public item re-exported here: `record.rs` (the record
//! model, its checks and normalisation), `hash.rs` (the encoding above and
//! the microsecond helpers), `writer.rs` (the group-commit writer task),
//! `query.rs` (search, reading rows back, retention) and `verify.rs`.

mod hash;
mod heads;
mod query;
mod record;
mod verify;
mod writer;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use hash::{GENESIS_HASH, record_hash, truncate_to_micros};
pub use heads::{HeadSigner, SignedHead, head_message};
pub use query::{DEFAULT_SEARCH_LIMIT, Filter, MAX_SEARCH_LIMIT};
pub use record::{Channel, Event, Record, StoredRecord};
pub use verify::{ChainReport, Problem, VerifyReport};
pub use writer::WRITER_APPLICATION_NAME;

use record::{normalize, validate};
use writer::Msg;

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
    /// The chain head could not be signed.
    #[error("signing the journal head: {0}")]
    Signing(String),
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
    /// What the writer committed last, per chain (see `writer::Committed`).
    committed: writer::Committed,
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
        let committed = writer::Committed::default();
        let handle = writer::spawn(
            pool.clone(),
            rx,
            underway.clone(),
            committed.clone(),
            max_batch,
            options.max_delay,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                tx,
                underway,
                committed,
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
