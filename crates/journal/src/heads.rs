//! Signed chain heads: the gateway signs its chain's head (`seq`, `hash`) with its own
//! transport-signing key every few seconds ([`Journal::sign_head`]) into `journal_heads`.
//! Whoever can write the database but does not hold that key can rewrite rows and
//! recompute every hash and `journal_head`, but cannot sign the new head: the rows then
//! no longer give the hash the gateway signed ([`Problem::SignedHeadMismatch`]), and a
//! head row forged along with them fails its signature ([`Problem::BadHeadSignature`]).
//! Rows after the latest signed head are protected by the chain alone until the next
//! signing.
//!
//! What is signed is [`head_message`]: the domain tag `egov-gateway-journal-head/v1`,
//! `gateway_id`, `seq` and `hash`, each encoded as the record hash encodes them (a string
//! as its byte length as a big-endian `u64` then its bytes, `seq` as 8 bytes big-endian).
//!
//! [`Problem::SignedHeadMismatch`]: super::Problem::SignedHeadMismatch
//! [`Problem::BadHeadSignature`]: super::Problem::BadHeadSignature

use time::OffsetDateTime;

use super::{Error, Journal};

const HEAD_DOMAIN: &str = "egov-gateway-journal-head/v1";

/// The bytes the gateway signs for the head `seq`/`hash` of its chain `gateway_id`.
pub fn head_message(gateway_id: &str, seq: i64, hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    for s in [HEAD_DOMAIN, gateway_id] {
        out.extend_from_slice(&(s.len() as u64).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(hash.len() as u64).to_be_bytes());
    out.extend_from_slice(hash.as_bytes());
    out
}

/// Who signs heads: the gateway with its transport-signing key (a CMS signature,
/// detached).
pub trait HeadSigner: Send + Sync {
    /// Signs `message`.
    fn sign_head(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

/// One row of `journal_heads`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignedHead {
    /// The chain.
    pub gateway_id: String,
    /// The row signed for.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When it was signed (as stored; the signature carries its own signingTime).
    pub signed_at: OffsetDateTime,
    /// The CMS signature over [`head_message`].
    pub signature: Vec<u8>,
}

impl Journal {
    /// Signs the current head of `gateway_id`'s chain unless it is signed already;
    /// returns the `seq` signed, or None when there was nothing new. The gateway calls
    /// it every few seconds and when it stops.
    pub async fn sign_head(
        &self,
        gateway_id: &str,
        signer: &dyn HeadSigner,
    ) -> Result<Option<i64>, Error> {
        // what this journal committed; before its first append (a restart), the head
        // as stored
        let known = self
            .inner
            .committed
            .lock()
            .ok()
            .and_then(|c| c.get(gateway_id).cloned());
        let head = match known {
            Some(h) => Some(h),
            None => {
                sqlx::query_as("select seq, hash from journal_head where gateway_id = $1")
                    .bind(gateway_id)
                    .fetch_optional(&self.inner.pool)
                    .await?
            }
        };
        let Some((seq, hash)) = head else {
            return Ok(None);
        };
        let signed: Option<i64> =
            sqlx::query_scalar("select max(seq) from journal_heads where gateway_id = $1")
                .bind(gateway_id)
                .fetch_one(&self.inner.pool)
                .await?;
        if signed.is_some_and(|s| s >= seq) {
            return Ok(None);
        }
        let signature = signer
            .sign_head(&head_message(gateway_id, seq, &hash))
            .map_err(Error::Signing)?;
        sqlx::query(
            "insert into journal_heads (gateway_id, seq, hash, signed_at, signature) \
             values ($1, $2, $3, now(), $4) on conflict do nothing",
        )
        .bind(gateway_id)
        .bind(seq)
        .bind(&hash)
        .bind(&signature)
        .execute(&self.inner.pool)
        .await?;
        Ok(Some(seq))
    }

    /// The signed heads of `gateway_id`'s chain, oldest first.
    pub async fn signed_heads(&self, gateway_id: &str) -> Result<Vec<SignedHead>, Error> {
        Ok(sqlx::query_as(
            "select gateway_id, seq, hash, signed_at, signature from journal_heads \
             where gateway_id = $1 order by seq",
        )
        .bind(gateway_id)
        .fetch_all(&self.inner.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_message_is_prefix_free() {
        let m = head_message("shep", 7, "ab");
        assert!(m.starts_with(&(HEAD_DOMAIN.len() as u64).to_be_bytes()));
        assert_ne!(head_message("shep", 7, "ab"), head_message("shep", 8, "ab"));
        assert_ne!(head_message("she", 7, "pab"), head_message("shep", 7, "ab"));
        assert_ne!(
            head_message("shep", 7, "ab"),
            head_message("rshep", 7, "ab")
        );
    }
}
