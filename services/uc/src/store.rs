//! The uc schema: issued certificates and their revocation.

use sqlx::PgPool;
use time::OffsetDateTime;

/// A stored certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Record {
    /// Serial, hex.
    pub serial: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Holder's IIN.
    pub iin: Option<String>,
    /// Organisation BIN.
    pub bin: Option<String>,
    /// signing | authentication | system (issued offline to a system).
    pub profile: String,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
    /// PEM.
    pub certificate_pem: String,
    /// Revocation time.
    pub revoked_at: Option<OffsetDateTime>,
    /// RFC 5280 reason code.
    pub revocation_reason: Option<i16>,
}

const COLUMNS: &str = "serial, subject, iin, bin, profile, not_before, not_after, certificate_pem, revoked_at, revocation_reason";

/// Inserts a newly issued certificate.
pub async fn insert(pool: &PgPool, r: &Record) -> sqlx::Result<()> {
    sqlx::query(
        "insert into certificates (serial, subject, iin, bin, profile, not_before, not_after, certificate_pem)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&r.serial)
    .bind(&r.subject)
    .bind(&r.iin)
    .bind(&r.bin)
    .bind(&r.profile)
    .bind(r.not_before)
    .bind(r.not_after)
    .bind(&r.certificate_pem)
    .execute(pool)
    .await?;
    Ok(())
}

/// Inserts a certificate issued offline unless it is already there.
pub async fn insert_if_absent(pool: &PgPool, r: &Record) -> sqlx::Result<()> {
    sqlx::query(
        "insert into certificates (serial, subject, iin, bin, profile, not_before, not_after, certificate_pem)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (serial) do nothing",
    )
    .bind(&r.serial)
    .bind(&r.subject)
    .bind(&r.iin)
    .bind(&r.bin)
    .bind(&r.profile)
    .bind(r.not_before)
    .bind(r.not_after)
    .bind(&r.certificate_pem)
    .execute(pool)
    .await?;
    Ok(())
}

/// One certificate.
pub async fn get(pool: &PgPool, serial: &str) -> sqlx::Result<Option<Record>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from certificates where serial = $1"
    ))
    .bind(serial)
    .fetch_optional(pool)
    .await
}

/// Certificates of one IIN, newest first.
pub async fn by_iin(pool: &PgPool, iin: &str) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from certificates where iin = $1 order by issued_at desc limit 200"
    ))
    .bind(iin)
    .fetch_all(pool)
    .await
}

/// Several certificates by serial.
pub async fn by_serials(pool: &PgPool, serials: &[String]) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from certificates where serial = any($1)"
    ))
    .bind(serials)
    .fetch_all(pool)
    .await
}

/// Marks a certificate revoked, once. Returns the updated record, or `None` when it was
/// unknown or already revoked (the caller tells which with [`get`]).
pub async fn revoke(
    pool: &PgPool,
    serial: &str,
    at: OffsetDateTime,
    reason: u8,
) -> sqlx::Result<Option<Record>> {
    sqlx::query_as(&format!(
        "update certificates set revoked_at = $2, revocation_reason = $3
         where serial = $1 and revoked_at is null returning {COLUMNS}"
    ))
    .bind(serial)
    .bind(at)
    .bind(i16::from(reason))
    .fetch_optional(pool)
    .await
}

/// Every revoked certificate: serial, time, reason.
pub async fn revoked(pool: &PgPool) -> sqlx::Result<Vec<(String, OffsetDateTime, i16)>> {
    sqlx::query_as("select serial, revoked_at, revocation_reason from certificates where revoked_at is not null")
        .fetch_all(pool)
        .await
}

/// The next CRL number.
pub async fn next_crl_number(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("select nextval('crl_number')")
        .fetch_one(pool)
        .await
}
