//! The registry's tables: persons, family links and the personal-data access log.

use std::collections::BTreeSet;

use egov_contracts::gbd_fl::{AccessEntry, Address, Document, FieldGroup, Person, PersonStatus};
use sqlx::PgPool;
use time::{Date, OffsetDateTime};

/// A row of `persons`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    /// IIN.
    pub iin: String,
    /// Surname.
    pub surname: String,
    /// Name.
    pub name: String,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Birth date.
    pub birth_date: Date,
    /// `M`/`F`.
    pub sex: String,
    /// Citizenship.
    pub citizenship: String,
    /// `alive`, `deceased`, `cancelled`.
    pub status: String,
    /// Date of death.
    pub death_date: Option<Date>,
    /// Date of cancellation.
    pub cancelled_on: Option<Date>,
    /// Reason of cancellation.
    pub cancel_reason: Option<String>,
    /// Document kind.
    pub doc_kind: String,
    /// Document number.
    pub doc_number: String,
    /// Document issue date.
    pub doc_issued: Date,
    /// Document issuer.
    pub doc_issuer: String,
    /// Document expiry.
    pub doc_expires: Option<Date>,
    /// The registered address (its columns, `registered_since` for `since`).
    #[sqlx(flatten)]
    pub address: Address,
}

const PERSON_COLUMNS: &str = "iin, surname, name, patronymic, birth_date, sex, citizenship, status, death_date, cancelled_on, cancel_reason, doc_kind, doc_number, doc_issued, doc_issuer, doc_expires, region_code, region, district, locality, street, house, flat, postcode, registered_since";

impl PersonRow {
    /// The status.
    pub fn status(&self) -> PersonStatus {
        match self.status.as_str() {
            "deceased" => PersonStatus::Deceased,
            "cancelled" => PersonStatus::Cancelled,
            _ => PersonStatus::Alive,
        }
    }

    /// The address as the contract shapes it.
    pub fn address(&self) -> Address {
        self.address.clone()
    }

    /// The person with only the `groups` disclosed.
    pub fn to_person(&self, groups: &BTreeSet<FieldGroup>) -> Person {
        let has = |g| groups.contains(&g);
        let name = has(FieldGroup::Name);
        let birth = has(FieldGroup::Birth);
        Person {
            iin: self.iin.clone(),
            status: self.status(),
            death_date: if has(FieldGroup::Death) {
                self.death_date
            } else {
                None
            },
            surname: name.then(|| self.surname.clone()),
            name: name.then(|| self.name.clone()),
            patronymic: if name { self.patronymic.clone() } else { None },
            birth_date: birth.then_some(self.birth_date),
            sex: birth.then(|| self.sex.clone()),
            citizenship: has(FieldGroup::Citizenship).then(|| self.citizenship.clone()),
            document: has(FieldGroup::Document).then(|| Document {
                kind: self.doc_kind.clone(),
                number: self.doc_number.clone(),
                issued: self.doc_issued,
                issuer: self.doc_issuer.clone(),
                expires: self.doc_expires,
            }),
            address: has(FieldGroup::Address).then(|| self.address()),
        }
    }

    /// Whether two residents are registered at the same address.
    pub fn same_address(&self, other: &PersonRow) -> bool {
        self.address.region_code == other.address.region_code
            && self.address.locality == other.address.locality
            && self.address.street == other.address.street
            && self.address.house == other.address.house
            && self.address.flat == other.address.flat
    }
}

/// One person by IIN.
pub async fn person(pool: &PgPool, iin: &str) -> sqlx::Result<Option<PersonRow>> {
    sqlx::query_as(&format!(
        "select {PERSON_COLUMNS} from persons where iin = $1"
    ))
    .bind(iin)
    .fetch_optional(pool)
    .await
}

/// The relatives of a person with their relation (cancelled records left out).
pub async fn family(pool: &PgPool, iin: &str) -> sqlx::Result<Vec<(String, PersonRow)>> {
    let cols: String = PERSON_COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(String, PersonRow)> = sqlx::query_as::<_, RelativeRow>(&format!(
        "select f.relation, {cols} from family_links f join persons p on p.iin = f.relative
         where f.person = $1 and p.status <> 'cancelled'
         order by case f.relation when 'spouse' then 0 when 'child' then 1 else 2 end, p.birth_date"
    ))
    .bind(iin)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.relation, r.person))
    .collect();
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct RelativeRow {
    relation: String,
    #[sqlx(flatten)]
    person: PersonRow,
}

/// One look-up to log.
#[derive(Debug, Clone)]
pub struct Access {
    /// The person looked at.
    pub subject_iin: String,
    /// The calling system.
    pub system: String,
    /// The gateway service.
    pub service_id: String,
    /// The public service on whose behalf.
    pub purpose: Option<String>,
    /// The application.
    pub application: Option<String>,
    /// The person who asked.
    pub requester_iin: Option<String>,
    /// The request's messageId.
    pub message_id: String,
    /// The request's correlationId.
    pub correlation_id: String,
    /// `found`, `deceased`, `not-found`, `cancelled`.
    pub outcome: &'static str,
    /// Field groups disclosed.
    pub disclosed: Vec<String>,
}

/// Writes an access-log entry (committed before the answer leaves).
pub async fn log_access(pool: &PgPool, a: &Access) -> sqlx::Result<()> {
    sqlx::query(
        "insert into access_log (subject_iin, system, service_id, purpose, application, requester_iin, message_id, correlation_id, outcome, disclosed)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&a.subject_iin)
    .bind(&a.system)
    .bind(&a.service_id)
    .bind(&a.purpose)
    .bind(&a.application)
    .bind(&a.requester_iin)
    .bind(&a.message_id)
    .bind(&a.correlation_id)
    .bind(a.outcome)
    .bind(&a.disclosed)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    at: OffsetDateTime,
    system: String,
    service_id: String,
    purpose: Option<String>,
    application: Option<String>,
    requester_iin: Option<String>,
    message_id: String,
    outcome: String,
    disclosed: Vec<String>,
}

/// The access log of one person, newest first.
pub async fn access_log(
    pool: &PgPool,
    iin: &str,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    limit: u32,
) -> sqlx::Result<Vec<AccessEntry>> {
    let rows: Vec<AccessRow> = sqlx::query_as(
        "select at, system, service_id, purpose, application, requester_iin, message_id, outcome, disclosed
         from access_log
         where subject_iin = $1 and ($2::timestamptz is null or at >= $2) and ($3::timestamptz is null or at < $3)
         order by at desc, id desc limit $4",
    )
    .bind(iin)
    .bind(from)
    .bind(to)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AccessEntry {
            at: r.at,
            system: r.system,
            service_id: r.service_id,
            purpose: r.purpose,
            application: r.application,
            requester_iin: r.requester_iin,
            message_id: r.message_id,
            outcome: r.outcome,
            disclosed: r.disclosed,
        })
        .collect())
}
