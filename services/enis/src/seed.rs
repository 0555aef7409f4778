//! Bulk loading of notaries and powers of attorney (`egovctl seed`), in the caller's
//! transaction with `COPY`.

use std::io::Write;

use egov_synth::{Data, Poa};
use sqlx::PgConnection;

/// The COPY statement of `notaries`.
pub fn copy_notaries_sql(schema: &str) -> String {
    format!("copy {schema}.notaries (licence, name, region, address) from stdin with (freeze)")
}

/// The COPY statement of `powers_of_attorney`.
pub fn copy_poas_sql(schema: &str) -> String {
    format!(
        "copy {schema}.powers_of_attorney (number, notary_licence, registered, principal_iin, representative_iin, scope, valid_from, valid_until, revoked_on) from stdin with (freeze)"
    )
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn date(d: time::Date) -> String {
    egov_contracts::date::format(d)
}

/// Rows of the notaries of the reference data.
pub fn notary_rows(data: &Data) -> Vec<u8> {
    let mut b = Vec::new();
    for n in &data.notaries {
        let _ = writeln!(
            b,
            "{}\t{}\t{}\t{}",
            esc(&n.licence),
            esc(&n.name),
            esc(&n.region),
            esc(&n.address)
        );
    }
    b
}

/// Appends the rows of powers of attorney.
pub fn poa_rows(data: &Data, poas: &[Poa], b: &mut Vec<u8>) {
    for p in poas {
        // a text[] literal: {a,b}
        let scope = format!("{{{}}}", p.scope.join(","));
        let _ = writeln!(
            b,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            esc(&p.number),
            esc(&data.notaries[p.notary].licence),
            date(p.registered),
            p.principal.as_string(),
            p.representative.as_string(),
            scope,
            date(p.valid_from),
            date(p.valid_until),
            p.revoked_on.map(date).unwrap_or_else(|| "\\N".into()),
        );
    }
}

/// Rows already in the register.
pub async fn count(conn: &mut PgConnection, schema: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!("select count(*) from {schema}.powers_of_attorney"))
        .fetch_one(conn)
        .await
}

/// Empties the register (the check log stays).
pub async fn prepare(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    sqlx::raw_sql(&format!(
        "truncate {schema}.powers_of_attorney, {schema}.notaries"
    ))
    .execute(conn)
    .await?;
    Ok(())
}
