//! Group commit: the writer task behind [`Journal::append`](super::Journal::append).
//! It takes the queued records in batches, gives each its `seq` and hash in
//! arrival order, and writes each batch and the chain heads it moves in one
//! statement ([`Columns`] turns a batch into the statement's arrays); chain
//! tails come from [`load_tail`] the first time a chain is written, and again
//! after a batch fails.
//!
//! The writer keeps a connection of its own ([`WRITER_APPLICATION_NAME`]),
//! opened with the pool's settings, rather than taking one from the pool for
//! every batch: a pool checks an idle connection with a round trip before
//! handing it out, which doubled the round trips of every commit, and each of
//! the pool's connections prepared the statement anew. A batch that fails on
//! anything but an error the server reported (a lost connection, a server
//! shutting the session down) drops the connection; the next batch opens
//! another.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::{ConnectOptions as _, PgConnection, PgPool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::hash::{GENESIS_HASH, record_hash};
use super::{Error, Record};

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

/// The `application_name` of the writer's connection: how an operator (or a
/// test) finds it among the server's sessions.
pub const WRITER_APPLICATION_NAME: &str = "egov-journal-writer";

/// What the appenders send the writer.
#[derive(Debug)]
pub(super) enum Msg {
    /// Write this record and answer with its `seq` once committed.
    Append {
        /// The record, checked and normalised.
        record: Box<Record>,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<i64, Error>>,
    },
    /// Write what is queued, refuse what comes after, then stop.
    Shutdown,
}

/// Starts the writer task on the current Tokio runtime: it takes records
/// from `rx`, at most `max_batch` (at least 1) per transaction, waiting at
/// most `max_delay` for appends `underway`, until [`Msg::Shutdown`] or until
/// every sender is gone.
pub(super) fn spawn(
    pool: PgPool,
    rx: mpsc::Receiver<Msg>,
    underway: Arc<AtomicUsize>,
    committed: Committed,
    max_batch: usize,
    max_delay: Duration,
) -> JoinHandle<()> {
    let writer = Writer {
        pool,
        conn: None,
        rx,
        underway,
        committed,
        max_batch,
        max_delay,
        tails: HashMap::new(),
    };
    tokio::spawn(writer.run())
}

/// The `(seq, hash)` each chain ends with as this writer committed it: what the gateway
/// signs ([`Journal::sign_head`](super::Journal::sign_head)), never read back from the
/// database a writer there could have rewritten.
pub(super) type Committed = Arc<std::sync::Mutex<HashMap<String, (i64, String)>>>;

/// Where a chain ends, as far as the writer knows.
#[derive(Debug, Clone)]
struct Tail {
    seq: i64,
    hash: String,
}

/// The writer task: its queue, its batching settings and the chain tails
/// it continues.
struct Writer {
    /// Where the connection's settings come from.
    pool: PgPool,
    /// The writer's own connection, while it works.
    conn: Option<PgConnection>,
    rx: mpsc::Receiver<Msg>,
    /// See [`Inner::underway`](super::Inner::underway).
    underway: Arc<AtomicUsize>,
    committed: Committed,
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
        if let Some(conn) = self.conn.take() {
            let _ = sqlx::Connection::close(conn).await;
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
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => connect(&self.pool).await?,
        };
        let outcome = self.insert(&mut conn, batch).await;
        match &outcome {
            Err(e) if !keeps_connection(e) => {
                // a broken session: the next batch opens another
                drop(conn);
            }
            _ => self.conn = Some(conn),
        }
        let (next, seqs) = outcome?;
        if let Ok(mut committed) = self.committed.lock() {
            for (g, t) in &next {
                committed.insert(g.clone(), (t.seq, t.hash.clone()));
            }
        }
        self.tails.extend(next);
        Ok(seqs)
    }

    /// The statement of one batch on `conn`: the seqs in batch order, and where each
    /// chain it extends then ends.
    async fn insert(
        &self,
        conn: &mut PgConnection,
        batch: &[Pending],
    ) -> Result<(HashMap<String, Tail>, Vec<i64>), sqlx::Error> {
        let mut next: HashMap<String, Tail> = HashMap::new();
        for (record, _) in batch {
            let g = record.gateway_id.as_str();
            if !next.contains_key(g) {
                let tail = match self.tails.get(g) {
                    Some(t) => t.clone(),
                    None => load_tail(conn, g).await?,
                };
                next.insert(g.to_owned(), tail);
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
        Ok((next, seqs))
    }
}

/// Opens the writer's connection with the pool's settings.
async fn connect(pool: &PgPool) -> Result<PgConnection, sqlx::Error> {
    (*pool.connect_options())
        .clone()
        .application_name(WRITER_APPLICATION_NAME)
        .connect()
        .await
}

/// Whether a connection is still good after `e`: an error the server reported for the
/// statement (a constraint, a clash of two writers) leaves the session usable; a lost
/// connection, a protocol error, or the server ending the session (SQLSTATE class 08,
/// connection exception; 57, operator intervention) does not.
fn keeps_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => !d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

async fn load_tail(conn: &mut PgConnection, gateway_id: &str) -> Result<Tail, sqlx::Error> {
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
