//! ЕНИС, the unified notarial information system: powers of attorney (доверенности).
//!
//! | service id | request | answer |
//! |---|---|---|
//! | `enis.poa.check` | [`PoaCheckRequest`] | [`PoaCheckAnswer`] |
//!
//! A check is always answered (status `SCSS001`): `valid` says whether the power of
//! attorney lets the representative act for the principal in the requested service on
//! the requested day, and `reason` says why not. Malformed requests and invalid IINs are
//! refused with `SE016` and an [`crate::ErrorBody`] ([`errors`]).

use time::Date;

use crate::Purpose;

/// Service ids.
pub mod services {
    /// Check a power of attorney.
    pub const POA_CHECK: &str = "enis.poa.check";
}

/// Business error codes.
pub mod errors {
    /// An IIN breaks a rule of the IIN format.
    pub const INVALID_IIN: &str = "INVALID_IIN";
    /// The request is not valid JSON of the service's shape, or misses a field.
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// The service id is not one of ЕНИС's.
    pub const UNKNOWN_SERVICE: &str = "UNKNOWN_SERVICE";
}

/// The scope value that covers every service.
pub const SCOPE_ALL: &str = "all";

/// `enis.poa.check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoaCheckRequest {
    /// The registration number of the power of attorney.
    pub number: String,
    /// The principal (доверитель).
    pub principal_iin: String,
    /// The representative (поверенный).
    pub representative_iin: String,
    /// The public service the representative acts in (`housing-queue`, ...).
    pub service: String,
    /// The day to check (default: today in Kazakhstan).
    #[serde(
        with = "crate::date::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub on: Option<Date>,
    /// Why and for whom.
    #[serde(default)]
    pub purpose: Purpose,
}

/// Why a power of attorney does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invalidity {
    /// No power of attorney has this number.
    Absent,
    /// It exists, but another person is its principal.
    OtherPrincipal,
    /// It exists, but for another representative.
    OtherRepresentative,
    /// Its validity ended before the day checked.
    Expired,
    /// Its validity starts after the day checked.
    NotYetValid,
    /// The principal revoked it (or the notary cancelled it).
    Revoked,
    /// It does not cover the requested service.
    OutOfScope,
}

impl Invalidity {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Invalidity::Absent => "absent",
            Invalidity::OtherPrincipal => "other-principal",
            Invalidity::OtherRepresentative => "other-representative",
            Invalidity::Expired => "expired",
            Invalidity::NotYetValid => "not-yet-valid",
            Invalidity::Revoked => "revoked",
            Invalidity::OutOfScope => "out-of-scope",
        }
    }
}

/// A power of attorney as ЕНИС registers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Poa {
    /// Registration number.
    pub number: String,
    /// The notary who certified it.
    pub notary: String,
    /// The notary's licence number.
    pub notary_licence: String,
    /// Registration date.
    #[serde(with = "crate::date")]
    pub registered: Date,
    /// Principal's IIN.
    pub principal_iin: String,
    /// Representative's IIN.
    pub representative_iin: String,
    /// Services it covers, or `["all"]`.
    pub scope: Vec<String>,
    /// First day of validity.
    #[serde(with = "crate::date")]
    pub valid_from: Date,
    /// Last day of validity.
    #[serde(with = "crate::date")]
    pub valid_until: Date,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was revoked.
    #[serde(
        with = "crate::date::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_on: Option<Date>,
}

/// The answer of `enis.poa.check`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoaCheckAnswer {
    /// Whether the representative may act for the principal in the service on that day.
    pub valid: bool,
    /// Why not, when not valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Invalidity>,
    /// A human explanation (Russian).
    pub message: String,
    /// The day checked.
    #[serde(with = "crate::date")]
    pub checked_on: Date,
    /// The power of attorney, when one with this number exists and names this principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poa: Option<Poa>,
}
