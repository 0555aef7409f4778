//! Bulk loading of synthetic residents (`egovctl seed`, the launcher's first start).
//!
//! Rows go in with `COPY ... FROM STDIN WITH (FREEZE)` inside the caller's transaction,
//! which truncated the tables first (so the rows are written frozen: the first reads do
//! not rewrite every page to set hint bits); the primary keys and indexes are dropped
//! before and rebuilt after (building a B-tree once is far cheaper than inserting a
//! million random IINs into one), so a failed load leaves the registry as it was.

use std::io::Write;

use egov_synth::{Household, Status};
use sqlx::PgConnection;

/// Appends one COPY text-format field (escaped) and a separator.
pub fn field(buf: &mut Vec<u8>, v: Option<&str>, last: bool) {
    match v {
        None => buf.extend_from_slice(b"\\N"),
        Some(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => buf.extend_from_slice(b"\\\\"),
                    b'\t' => buf.extend_from_slice(b"\\t"),
                    b'\n' => buf.extend_from_slice(b"\\n"),
                    b'\r' => buf.extend_from_slice(b"\\r"),
                    _ => buf.push(b),
                }
            }
        }
    }
    buf.push(if last { b'\n' } else { b'\t' });
}

fn date(d: time::Date) -> String {
    egov_contracts::date::format(d)
}

/// The COPY statement of `persons`.
pub fn copy_persons_sql(schema: &str) -> String {
    format!(
        "copy {schema}.persons (iin, surname, name, patronymic, birth_date, sex, citizenship, status, death_date, cancelled_on, cancel_reason, doc_kind, doc_number, doc_issued, doc_issuer, doc_expires, region_code, region, district, locality, street, house, flat, postcode, registered_since) from stdin with (freeze)"
    )
}

/// The COPY statement of `family_links`.
pub fn copy_links_sql(schema: &str) -> String {
    format!("copy {schema}.family_links (person, relative, relation) from stdin with (freeze)")
}

/// Formats a household's residents (into `persons`) and links (into `links`).
pub fn rows(h: &Household, persons: &mut Vec<u8>, links: &mut Vec<u8>) {
    for p in &h.persons {
        let (status, death, cancelled, reason) = match &p.status {
            Status::Alive => ("alive", None, None, None),
            Status::Deceased(d) => ("deceased", Some(date(*d)), None, None),
            Status::Cancelled(d, r) => ("cancelled", None, Some(date(*d)), Some(r.as_str())),
        };
        let iin = p.iin.as_string();
        let sex = match p.iin.sex() {
            egov_iin::Sex::Male => "M",
            egov_iin::Sex::Female => "F",
        };
        field(persons, Some(&iin), false);
        field(persons, Some(&p.surname), false);
        field(persons, Some(&p.name), false);
        field(persons, p.patronymic.as_deref(), false);
        field(persons, Some(&date(p.birth_date())), false);
        field(persons, Some(sex), false);
        field(persons, Some(&p.citizenship), false);
        field(persons, Some(status), false);
        field(persons, death.as_deref(), false);
        field(persons, cancelled.as_deref(), false);
        field(persons, reason, false);
        field(persons, Some(p.document.kind), false);
        field(persons, Some(&p.document.number), false);
        field(persons, Some(&date(p.document.issued)), false);
        field(persons, Some(&p.document.issuer), false);
        field(persons, p.document.expires.map(date).as_deref(), false);
        let a = &p.address;
        field(persons, Some(&a.region_code), false);
        field(persons, Some(&a.region), false);
        field(persons, Some(&a.district), false);
        field(persons, Some(&a.locality), false);
        field(persons, Some(&a.street), false);
        field(persons, Some(&a.house), false);
        field(persons, a.flat.as_deref(), false);
        field(persons, a.postcode.as_deref(), false);
        field(persons, Some(&date(a.since)), true);
    }
    for l in &h.links {
        let _ = writeln!(
            links,
            "{}\t{}\t{}",
            l.person.as_string(),
            l.relative.as_string(),
            l.relation.as_str()
        );
    }
}

/// Rows already in the registry.
pub async fn count(conn: &mut PgConnection, schema: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!("select count(*) from {schema}.persons"))
        .fetch_one(conn)
        .await
}

/// Empties the tables (the access log stays: it records real look-ups) and drops the
/// keys and indexes the load rebuilds.
pub async fn prepare(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    sqlx::raw_sql(&format!(
        "truncate {schema}.family_links, {schema}.persons;
         alter table {schema}.persons drop constraint if exists persons_pkey;
         alter table {schema}.family_links drop constraint if exists family_links_pkey;"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Rebuilds the keys and indexes the migrations define.
pub async fn finish(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    sqlx::raw_sql(&format!(
        "alter table {schema}.persons add constraint persons_pkey primary key (iin);
         alter table {schema}.family_links add constraint family_links_pkey primary key (person, relative);"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_escaped() {
        let mut b = Vec::new();
        field(&mut b, Some("a\tb\\c\nd"), false);
        field(&mut b, None, true);
        assert_eq!(b, b"a\\tb\\\\c\\nd\t\\N\n");
    }
}
