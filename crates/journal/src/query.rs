//! Reading the journal back and retention: [`Journal::search`] with its
//! [`Filter`], the conversion of stored rows into records ([`RawRow`]), and
//! [`Journal::purge_before`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::hash::ceil_micros;
use super::{Error, Journal, Record, StoredRecord};

/// Rows returned by [`Journal::search`] when [`Filter::limit`] is `None`.
pub const DEFAULT_SEARCH_LIMIT: i64 = 100;
/// The most rows [`Journal::search`] returns.
pub const MAX_SEARCH_LIMIT: i64 = 1_000;

/// Columns of `journal`, in [`Record`] order, then the chain columns.
pub(super) const COLUMNS: &str = "gateway_id, seq, event, channel, message_id, correlation_id, service_id, \
    sender_id, recipient_id, message_type, region, route, payload_size, signature_size, \
    payload_sha256, signer_serial, verification, status_code, status_message, at, \
    request_in_at, request_out_at, response_in_at, response_out_at, duration_ms, trace_id, \
    prev_hash, hash";

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

impl Journal {
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
}

/// A `journal` row as stored, every column optional so that rows altered
/// outside the journal can still be read (and reported).
#[derive(sqlx::FromRow)]
pub(super) struct RawRow {
    gateway_id: String,
    pub(super) seq: i64,
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
    pub(super) prev_hash: Option<String>,
    pub(super) hash: Option<String>,
}

impl RawRow {
    /// The record, or what makes the row unreadable.
    pub(super) fn into_record(self) -> Result<Record, String> {
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

    /// The row as a [`StoredRecord`]; [`Error::Corrupt`] if it cannot be
    /// read back.
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
