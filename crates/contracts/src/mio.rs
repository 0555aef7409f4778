//! ИС МИО: applications in, statuses and results out, the waiting list.
//!
//! | service id | channel | payload |
//! |---|---|---|
//! | `mio.application.submit` | async, to the region's ИС МИО | [`Submission`] |
//! | `portal.status.update`, `con-is.status.update` | async, from ИС МИО | [`StatusUpdate`] |
//! | `mio.queue.position` | sync | [`QueuePositionRequest`] → [`QueuePositionAnswer`] |
//!
//! An application is a JSON [`ApplicationDocument`] signed (CMS SignedData, detached)
//! by the person who submits it: the citizen on the portal, the ЦОН operator, or the
//! provider's employee in АРМ РШЭП. The submission carries the exact signed bytes and
//! the signature, both base64.

pub mod form;

use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Service ids.
pub mod services {
    /// An application to the region's ИС МИО (async; routeId = region).
    pub const SUBMIT: &str = "mio.application.submit";
    /// A citizen's place on the waiting list (sync; routeId = region).
    pub const QUEUE_POSITION: &str = "mio.queue.position";
    /// Status changes and results to the portal (async).
    pub const PORTAL_STATUS: &str = "portal.status.update";
    /// Status changes and results to ИС ЦОН (async).
    pub const CON_STATUS: &str = "con-is.status.update";
}

/// Why an application was not registered (`StatusUpdate::reason.code`).
pub mod rejections {
    /// The submission is not JSON of the contract's shape.
    pub const MALFORMED: &str = "MALFORMED";
    /// C-sign: the document signature does not verify, or the certificate is revoked,
    /// expired, untrusted or not a signing certificate.
    pub const SIGNATURE_NOT_CONFIRMED: &str = "SIGNATURE_NOT_CONFIRMED";
    /// The IIN in the application is not the signer's.
    pub const IIN_MISMATCH: &str = "IIN_MISMATCH";
    /// No regulation of this ИС МИО provides the service.
    pub const UNKNOWN_SERVICE: &str = "UNKNOWN_SERVICE";
    /// The provider is not one of the service's.
    pub const UNKNOWN_PROVIDER: &str = "UNKNOWN_PROVIDER";
    /// The regulation has no such channel, or the sender does not serve it.
    pub const WRONG_CHANNEL: &str = "WRONG_CHANNEL";
    /// Required fields are missing or invalid.
    pub const INVALID_FORM: &str = "INVALID_FORM";
    /// C-poa: a representative acts without a power of attorney that ЕНИС confirms for
    /// this principal, representative and service today.
    pub const POA_NOT_CONFIRMED: &str = "POA_NOT_CONFIRMED";
    /// The employee who signed is not an active employee of the provider.
    pub const UNKNOWN_EMPLOYEE: &str = "UNKNOWN_EMPLOYEE";
}

/// The envelope payload of `mio.application.submit`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The signed bytes of an [`ApplicationDocument`] (JSON), base64.
    pub document: String,
    /// CMS SignedData (DER, detached) over those bytes, base64.
    pub signature: String,
}

/// The applicant.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Applicant {
    /// IIN.
    pub iin: String,
    /// Surname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail (the result is also sent there when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Address of residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A representative acting for the applicant.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Representative {
    /// IIN.
    pub iin: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The power of attorney of a representative.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PowerOfAttorney {
    /// Its ЕНИС number.
    pub number: String,
}

/// The ЦОН operator or the provider's employee who took the application.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Operator {
    /// IIN (must be the signer's).
    pub iin: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The office (ЦОН branch, department).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
}

/// A document attached to the application.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// Which document of the regulation's list (`identity`, `family-composition`, ...).
    pub kind: String,
    /// File name.
    #[serde(default)]
    pub name: String,
    /// Media type of the scan.
    #[serde(default)]
    pub media_type: String,
    /// The scan, base64 (none when only the paper original was seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Whether the paper original was presented (channels B and C).
    #[serde(default)]
    pub paper: bool,
}

/// The application as its submitter signs it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApplicationDocument {
    /// The regulation (optional: the one in force for the service and provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulation: Option<String>,
    /// Public service code: `housing-queue`, `housing-assistance`.
    pub service: String,
    /// The provider (a provider id of the regulation).
    pub provider: String,
    /// `portal` (A), `provider` (B) or `con` (C).
    pub channel: String,
    /// The applicant.
    pub applicant: Applicant,
    /// The applicant's category (a category id of the regulation).
    #[serde(default)]
    pub category: String,
    /// A representative, when one acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<Representative>,
    /// The representative's power of attorney.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poa: Option<PowerOfAttorney>,
    /// The operator or employee who took it (channels B and C).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// The other fields of the form (`family_size`, `family_income`, ...).
    #[serde(default)]
    pub form: Map<String, Value>,
    /// Attached documents.
    #[serde(default)]
    pub documents: Vec<Attachment>,
    /// When it was signed.
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
}

/// A reason (of a rejection).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reason {
    /// A code of [`rejections`].
    pub code: String,
    /// A human message (Russian).
    pub message: String,
}

/// A place on the waiting list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueuePlace {
    /// The provider.
    pub provider: String,
    /// The category.
    pub category: String,
    /// The ordinal number assigned at registration.
    pub number: i64,
    /// The registration date.
    #[serde(with = "crate::date")]
    pub registered: time::Date,
}

/// A result document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResultDocument {
    /// `registration`, `refusal`, `return`, `assignment`.
    pub kind: String,
    /// Title (Russian).
    pub title: String,
    /// The outgoing registration number.
    pub number: String,
    /// The PDF, base64.
    pub pdf: String,
    /// CMS SignedData (DER, detached) over the PDF by the authorised person, base64.
    pub signature: String,
    /// The signer's IIN.
    pub signer_iin: String,
    /// The signer's name.
    pub signer_name: String,
}

/// A status change, sent to the portal and to ИС ЦОН.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusUpdate {
    /// The application number (none when it was not registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_number: Option<String>,
    /// The messageId the application arrived with.
    pub application_message_id: String,
    /// The service.
    pub service: String,
    /// The provider.
    pub provider: String,
    /// The regulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulation: Option<String>,
    /// The channel.
    pub channel: String,
    /// The applicant's IIN.
    pub applicant_iin: String,
    /// `received`, `in_progress`, `completed`, `refused`, `returned`, `rejected`.
    pub status: String,
    /// The regulation file's own status id behind `status` (e.g.
    /// `received-from-portal`), when the file names its statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The status as the portal shows it (Russian): the file's name for it.
    pub status_ru: String,
    /// The status in Kazakh.
    pub status_kk: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// When the service is due (the regulation's overall deadline).
    #[serde(
        with = "time::serde::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub due: Option<OffsetDateTime>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The place on the waiting list, once registered there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueuePlace>,
    /// The result, with the final status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultDocument>,
}

/// `mio.queue.position`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuePositionRequest {
    /// The citizen.
    pub iin: String,
}

/// A place with its current position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueuePosition {
    /// The place as assigned.
    #[serde(flatten)]
    pub place: QueuePlace,
    /// The application.
    pub application_number: String,
    /// How many wait before the citizen, plus one.
    pub position: i64,
    /// How many wait in the category in all.
    pub waiting: i64,
}

/// The answer of `mio.queue.position`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueuePositionAnswer {
    /// The citizen.
    pub iin: String,
    /// Every waiting list the citizen is on (empty: none).
    pub places: Vec<QueuePosition>,
}
