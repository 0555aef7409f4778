//! The payloads the information systems exchange through the gateway (ШЭП/РШЭП).
//!
//! The envelope (`egov.shep.v1`) carries the payload as opaque bytes; for the services of
//! this system the payload is JSON, and its shape is defined here, once, for both the
//! providing system and its callers. Each module is one providing system:
//!
//! - [`gbd_fl`]: the state database "Individuals" (ГБД ФЛ): persons, family composition,
//!   address registration, the personal-data access log;
//! - [`enis`]: the unified notarial system (ЕНИС): powers of attorney.
//!
//! Business refusals (a person absent from ГБД ФЛ, an invalid IIN) travel with the
//! gateway status `SE016` and the provider's own error code in `errorInfo.errorCode`;
//! the payload then is an [`ErrorBody`].

pub mod enis;
pub mod gbd_fl;
pub mod mio;

/// The payload of a business refusal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The provider's error code, e.g. `PERSON_NOT_FOUND`.
    pub code: String,
    /// A human message (Russian).
    pub message: String,
    /// Extra facts (the cancellation date of an IIN, the rule an IIN breaks, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Why and for whom a registry is asked: written to the registry's access log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Purpose {
    /// The public service on whose behalf the look-up is made (`housing-queue`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The application (number or draft id) the look-up belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The person who asked: the employee's, operator's or citizen's IIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_iin: Option<String>,
}

/// Calendar dates travel as `YYYY-MM-DD`.
pub mod date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    const FORMAT: &[time::format_description::FormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    /// Formats a date.
    pub fn format(d: Date) -> String {
        d.format(FORMAT).expect("a date formats")
    }

    /// Parses a date.
    pub fn parse(s: &str) -> Result<Date, time::error::Parse> {
        Date::parse(s, FORMAT)
    }

    /// serde: a date.
    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// serde: a date.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s)
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a YYYY-MM-DD date: {e}")))
    }

    /// serde: an optional date.
    pub mod option {
        use super::*;

        /// serde: an optional date.
        pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format(*d)),
                None => s.serialize_none(),
            }
        }

        /// serde: an optional date.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            let s: Option<String> = Option::deserialize(d)?;
            s.map(|s| {
                parse(&s).map_err(|e| {
                    serde::de::Error::custom(format!("{s:?} is not a YYYY-MM-DD date: {e}"))
                })
            })
            .transpose()
        }
    }
}
