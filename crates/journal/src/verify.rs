//! Verification: [`Journal::verify`] walks each chain and recomputes every
//! hash, and reports in a [`VerifyReport`] of one [`ChainReport`] per chain
//! what it found wrong ([`Problem`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::hash::{GENESIS_HASH, record_hash};
use super::heads::{SignedHead, head_message};
use super::query::{COLUMNS, RawRow};
use super::{Error, Journal};

/// Rows fetched per query by [`Journal::verify`].
const VERIFY_CHUNK: i64 = 10_000;

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
    /// `seq` of the latest head the gateway signed (0 if none): rows up to it are
    /// covered by the gateway's signature, later ones by the chain alone.
    #[serde(default)]
    pub signed_seq: i64,
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
    /// The row the gateway signed as its head at `seq` no longer has the hash it
    /// signed, or is gone: the chain was rewritten (hashes recomputed) or cut.
    SignedHeadMismatch {
        /// The signed head's seq.
        seq: i64,
    },
    /// The latest signed head's signature does not verify, or is not the gateway's
    /// own ([`Journal::verify_signed`]).
    BadHeadSignature {
        /// The signed head's seq.
        seq: i64,
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
            Problem::SignedHeadMismatch { seq } => write!(
                f,
                "row {seq} is not the row the gateway signed as its head: the chain was rewritten"
            ),
            Problem::BadHeadSignature { seq } => write!(
                f,
                "the signed head at row {seq} does not carry the gateway's valid signature"
            ),
        }
    }
}

impl Journal {
    /// Checks every chain, or only `gateway_id`'s: recomputes each row's
    /// hash, checks the links and `seq` contiguity from the anchor on, and
    /// compares the end with `journal_head` (see the [module docs](crate::journal)).
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
            chains.push(self.verify_chain(g, None).await?);
        }
        Ok(VerifyReport { chains })
    }

    /// [`Journal::verify`], and the latest signed head of each chain must carry a valid
    /// signature of the gateway itself (its transport-signing certificate, CN =
    /// `gateway_id`, checked by `verifier`): a database writer who rewrote the chain and
    /// forged the signed heads along with it is found out.
    pub async fn verify_signed(
        &self,
        gateway_id: Option<&str>,
        verifier: &egov_pki::Verifier,
    ) -> Result<VerifyReport, Error> {
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
            chains.push(self.verify_chain(g, Some(verifier)).await?);
        }
        Ok(VerifyReport { chains })
    }

    async fn verify_chain(
        &self,
        gateway_id: String,
        verifier: Option<&egov_pki::Verifier>,
    ) -> Result<ChainReport, Error> {
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
        // the heads the gateway signed, from the anchor on: each row named must still
        // have the signed hash
        let signed: Vec<SignedHead> = sqlx::query_as(
            "select gateway_id, seq, hash, signed_at, signature from journal_heads \
             where gateway_id = $1 and seq >= $2 order by seq",
        )
        .bind(&gateway_id)
        .bind(last_seq.max(1))
        .fetch_all(&mut *tx)
        .await?;
        let latest = signed.last().cloned();
        let mut expected: std::collections::BTreeMap<i64, String> =
            signed.into_iter().map(|h| (h.seq, h.hash)).collect();
        if let Some(h) = expected.remove(&last_seq)
            && h != last_hash
        {
            problems.push(Problem::SignedHeadMismatch { seq: last_seq });
        }
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
                if let Some(h) = expected.remove(&seq)
                    && h != stored_hash
                {
                    problems.push(Problem::SignedHeadMismatch { seq });
                }
                last_seq = seq;
                last_hash = stored_hash;
            }
            if !full {
                break;
            }
        }
        tx.commit().await?;
        // signed heads beyond the rows left: rows the gateway signed are gone
        for seq in expected.into_keys() {
            problems.push(Problem::SignedHeadMismatch { seq });
        }
        if let (Some(v), Some(h)) = (verifier, &latest)
            && !signed_by_gateway(v, h).await
        {
            problems.push(Problem::BadHeadSignature { seq: h.seq });
        }

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
            signed_seq: latest.map_or(0, |h| h.seq),
        })
    }
}

/// Whether `head` carries a valid signature of its own gateway over its fields.
async fn signed_by_gateway(verifier: &egov_pki::Verifier, head: &SignedHead) -> bool {
    let message = head_message(&head.gateway_id, head.seq, &head.hash);
    let opts = egov_pki::VerifyOptions {
        usage: egov_pki::verify::Usage::Signing,
        ..Default::default()
    };
    match verifier
        .verify_detached(&message, &head.signature, &opts)
        .await
    {
        Ok(signer) => signer.identity.common_name.as_deref() == Some(head.gateway_id.as_str()),
        Err(e) => {
            tracing::warn!(gateway = %head.gateway_id, seq = head.seq, error = %e, "signed journal head refused");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
