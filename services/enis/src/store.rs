//! The notarial register: notaries, powers of attorney, the check log.

use egov_contracts::enis::Poa;
use sqlx::PgPool;
use time::Date;

#[derive(sqlx::FromRow)]
struct PoaRow {
    number: String,
    notary: String,
    notary_licence: String,
    registered: Date,
    principal_iin: String,
    representative_iin: String,
    scope: Vec<String>,
    valid_from: Date,
    valid_until: Date,
    revoked_on: Option<Date>,
}

/// A power of attorney by its number.
pub async fn poa(pool: &PgPool, number: &str) -> sqlx::Result<Option<Poa>> {
    let row: Option<PoaRow> = sqlx::query_as(
        "select p.number, n.name as notary, p.notary_licence, p.registered, p.principal_iin,
                p.representative_iin, p.scope, p.valid_from, p.valid_until, p.revoked_on
         from powers_of_attorney p join notaries n on n.licence = p.notary_licence
         where p.number = $1",
    )
    .bind(number)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Poa {
        number: r.number,
        notary: r.notary,
        notary_licence: r.notary_licence,
        registered: r.registered,
        principal_iin: r.principal_iin,
        representative_iin: r.representative_iin,
        scope: r.scope,
        valid_from: r.valid_from,
        valid_until: r.valid_until,
        revoked: r.revoked_on.is_some(),
        revoked_on: r.revoked_on,
    }))
}

/// One check to record.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    /// The calling system.
    pub system: &'a str,
    /// The number asked about.
    pub number: &'a str,
    /// Principal.
    pub principal_iin: &'a str,
    /// Representative.
    pub representative_iin: &'a str,
    /// Service.
    pub service: &'a str,
    /// Day checked.
    pub checked_on: Date,
    /// `valid` or the invalidity.
    pub outcome: &'a str,
    /// The person who asked.
    pub requester_iin: Option<&'a str>,
    /// The application.
    pub application: Option<&'a str>,
    /// The request's messageId.
    pub message_id: &'a str,
}

/// Records a check.
pub async fn log_check(pool: &PgPool, c: &Check<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into check_log (system, number, principal_iin, representative_iin, service, checked_on, outcome, requester_iin, application, message_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.system)
    .bind(c.number)
    .bind(c.principal_iin)
    .bind(c.representative_iin)
    .bind(c.service)
    .bind(c.checked_on)
    .bind(c.outcome)
    .bind(c.requester_iin)
    .bind(c.application)
    .bind(c.message_id)
    .execute(pool)
    .await?;
    Ok(())
}
