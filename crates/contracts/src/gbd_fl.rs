//! ГБД ФЛ, the state database "Individuals": its sync-channel services.
//!
//! | service id | request | answer |
//! |---|---|---|
//! | `gbd-fl.person.get` | [`PersonRequest`] | [`PersonAnswer`] |
//! | `gbd-fl.family.get` | [`PersonRequest`] | [`FamilyAnswer`] |
//! | `gbd-fl.address.check` | [`AddressCheckRequest`] | [`AddressCheckAnswer`] |
//! | `gbd-fl.access-log.search` | [`AccessLogRequest`] | [`AccessLogAnswer`] |
//!
//! Refusals (gateway status `SE016`, payload [`crate::ErrorBody`]): [`errors`].
//!
//! Answers carry only the field groups ([`FieldGroup`]) the calling system may see for
//! the service it calls; the others are left out and named in `withheld`.

use time::{Date, OffsetDateTime};

use crate::Purpose;

/// Service ids.
pub mod services {
    /// A person by IIN.
    pub const PERSON_GET: &str = "gbd-fl.person.get";
    /// The family composition of a person.
    pub const FAMILY_GET: &str = "gbd-fl.family.get";
    /// Whether a person is registered at an address or in a region.
    pub const ADDRESS_CHECK: &str = "gbd-fl.address.check";
    /// Who looked at a person's data (the personal-data access log).
    pub const ACCESS_LOG_SEARCH: &str = "gbd-fl.access-log.search";
}

/// Business error codes (`errorInfo.errorCode` and [`crate::ErrorBody::code`]).
pub mod errors {
    /// The IIN breaks a rule of the IIN format; nothing was looked up.
    pub const INVALID_IIN: &str = "INVALID_IIN";
    /// The request is not valid JSON of the service's shape.
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// No person has this IIN (C-person fails).
    pub const PERSON_NOT_FOUND: &str = "PERSON_NOT_FOUND";
    /// The IIN was cancelled (C-person fails).
    pub const IIN_CANCELLED: &str = "IIN_CANCELLED";
    /// The service id is not one of ГБД ФЛ's.
    pub const UNKNOWN_SERVICE: &str = "UNKNOWN_SERVICE";
    /// The field policy grants the caller none of the data the service answers with
    /// (`gbd-fl.address.check` without the `address` group); nothing was looked up.
    pub const NOT_GRANTED: &str = "NOT_GRANTED";
}

/// The groups of fields whose visibility is granted per calling system and service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FieldGroup {
    /// Surname, name, patronymic.
    Name,
    /// Birth date and sex.
    Birth,
    /// Citizenship.
    Citizenship,
    /// The identity document.
    Document,
    /// The registered address.
    Address,
    /// Family links (family composition).
    Family,
    /// The date of death of a deceased person (the status itself is always shown).
    Death,
}

impl FieldGroup {
    /// Every group.
    pub const ALL: [FieldGroup; 7] = [
        FieldGroup::Name,
        FieldGroup::Birth,
        FieldGroup::Citizenship,
        FieldGroup::Document,
        FieldGroup::Address,
        FieldGroup::Family,
        FieldGroup::Death,
    ];

    /// The name used in requests, policies and `withheld`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldGroup::Name => "name",
            FieldGroup::Birth => "birth",
            FieldGroup::Citizenship => "citizenship",
            FieldGroup::Document => "document",
            FieldGroup::Address => "address",
            FieldGroup::Family => "family",
            FieldGroup::Death => "death",
        }
    }

    /// Parses a group name.
    pub fn parse(s: &str) -> Option<FieldGroup> {
        FieldGroup::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// A person's status in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonStatus {
    /// Alive.
    Alive,
    /// Deceased (the record stays, with the date of death).
    Deceased,
    /// The IIN was cancelled (never returned as a person: the look-up is refused).
    Cancelled,
}

impl PersonStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonStatus::Alive => "alive",
            PersonStatus::Deceased => "deceased",
            PersonStatus::Cancelled => "cancelled",
        }
    }
}

/// `gbd-fl.person.get` and `gbd-fl.family.get`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRequest {
    /// The person's IIN.
    pub iin: String,
    /// Why and for whom.
    #[serde(default)]
    pub purpose: Purpose,
    /// Field groups wanted (a subset of what the caller may see); none: everything allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// An identity document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    /// `id-card`, `passport`, `birth-certificate`, `residence-permit`.
    pub kind: String,
    /// Its number.
    pub number: String,
    /// Issue date.
    #[serde(with = "crate::date")]
    pub issued: Date,
    /// Who issued it.
    pub issuer: String,
    /// End of validity (none for a birth certificate).
    #[serde(with = "crate::date::option", default)]
    pub expires: Option<Date>,
}

/// A registered address (прописка).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Address {
    /// Region code: `almaty`, `atyrau`, `nko`.
    pub region_code: String,
    /// Region as written: "г. Алматы", "Атырауская область", ...
    pub region: String,
    /// District: "Алмалинский район", ...
    pub district: String,
    /// City, town or village: "г. Алматы", "с. Талшик", ...
    pub locality: String,
    /// Street: "ул. Абая", "мкр. Самал-2", ...
    pub street: String,
    /// House.
    pub house: String,
    /// Flat, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    /// Registered there since.
    #[serde(with = "crate::date")]
    #[cfg_attr(feature = "sqlx", sqlx(rename = "registered_since"))]
    pub since: Date,
}

impl Address {
    /// The address on one line as forms show it: «г. Алматы, г. Алматы, ул. Абая, д. 1,
    /// кв. 2».
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}, {}, {}, д. {}",
            self.region, self.locality, self.street, self.house
        );
        if let Some(f) = &self.flat {
            s.push_str(&format!(", кв. {f}"));
        }
        s
    }
}

/// A person as the caller may see it: `iin` and `status` always, the rest by field group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// IIN.
    pub iin: String,
    /// Status.
    pub status: PersonStatus,
    /// Date of death of a deceased person (group `death`).
    #[serde(
        with = "crate::date::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub death_date: Option<Date>,
    /// Surname (group `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Name (group `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Patronymic, when the person has one (group `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    /// Birth date (group `birth`).
    #[serde(
        with = "crate::date::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub birth_date: Option<Date>,
    /// `M` or `F` (group `birth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// Citizenship, ISO 3166 alpha-2 (group `citizenship`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizenship: Option<String>,
    /// The identity document (group `document`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    /// The registered address (group `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

impl Person {
    /// "SURNAME NAME PATRONYMIC" when the name group is present.
    pub fn full_name(&self) -> Option<String> {
        let mut parts = vec![self.surname.clone()?, self.name.clone()?];
        if let Some(p) = &self.patronymic {
            parts.push(p.clone());
        }
        Some(parts.join(" "))
    }
}

/// The answer of `gbd-fl.person.get`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PersonAnswer {
    /// The person.
    pub person: Person,
    /// Field groups left out because the caller may not see them (or did not ask).
    pub withheld: Vec<String>,
}

/// A family member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// `spouse`, `child` or `parent` (of the person asked about).
    pub relation: String,
    /// Whether the member is registered at the same address.
    pub same_address: bool,
    /// The member, with the same field groups as the person.
    pub person: Person,
}

/// The answer of `gbd-fl.family.get`: the person and the family composition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FamilyAnswer {
    /// The person asked about.
    pub person: Person,
    /// Spouse, children and parents (cancelled records excluded).
    pub members: Vec<Member>,
    /// Members registered at the person's address, the person included.
    pub household_size: u32,
    /// Field groups left out.
    pub withheld: Vec<String>,
}

/// The address to compare in `gbd-fl.address.check` (the fields given must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressQuery {
    /// City, town or village.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// Street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// House.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house: Option<String>,
    /// Flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat: Option<String>,
}

/// `gbd-fl.address.check`: is the person registered in `region` and/or at `address`?
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressCheckRequest {
    /// The person's IIN.
    pub iin: String,
    /// Region code to check (`almaty`, `atyrau`, `nko`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Address to compare (case and spacing are ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressQuery>,
    /// Why and for whom.
    #[serde(default)]
    pub purpose: Purpose,
}

/// The answer of `gbd-fl.address.check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressCheckAnswer {
    /// IIN.
    pub iin: String,
    /// Whether the person has a registered address at all.
    pub registered: bool,
    /// Whether it is in the region asked about (none when no region was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_region: Option<bool>,
    /// Whether it matches the address asked about (none when no address was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<bool>,
    /// Registered there since.
    #[serde(
        with = "crate::date::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<Date>,
    /// The address itself, when the caller may see the `address` group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Field groups left out.
    pub withheld: Vec<String>,
}

/// `gbd-fl.access-log.search`: who looked at a person's data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogRequest {
    /// The person whose data was looked at.
    pub iin: String,
    /// From (inclusive).
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub from: Option<OffsetDateTime>,
    /// To (exclusive).
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub to: Option<OffsetDateTime>,
    /// At most this many entries, newest first (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Why and for whom.
    #[serde(default)]
    pub purpose: Purpose,
}

/// One look-up of a person's data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessEntry {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The information system that asked.
    pub system: String,
    /// The gateway service it called.
    pub service_id: String,
    /// The public service on whose behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The person who asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester_iin: Option<String>,
    /// The gateway messageId of the request.
    pub message_id: String,
    /// `found`, `deceased`, `not-found`, `cancelled`.
    pub outcome: String,
    /// The field groups disclosed.
    pub disclosed: Vec<String>,
}

/// The answer of `gbd-fl.access-log.search`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessLogAnswer {
    /// IIN.
    pub iin: String,
    /// Entries, newest first.
    pub entries: Vec<AccessEntry>,
}
