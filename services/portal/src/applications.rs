//! Channel A from the citizen's side: the draft, its attachments, the exact bytes to sign,
//! the citizen's signature checked (C-sign) and the signed application put in the outbox
//! for the provider's ИС МИО.
//!
//! 1. **The draft** ([`create`]): the regulation (the service in a region), the provider,
//!    the category and the form, checked against the regulation's form as ИС МИО's
//!    intake checks it ([`egov_contracts::mio::form`]); the portal's request number,
//!    gap-free per year.
//! 2. **Attachments** ([`attach`]): scans of the regulation's documents, at most
//!    [`crate::Config::max_attachment_bytes`] each, PDF, JPEG or PNG, the content's own
//!    signature matching the declared type. Changing them voids a sign request.
//! 3. **The sign request** ([`sign_request`]): the [`ApplicationDocument`] (JSON) with the
//!    applicant as ГБД ФЛ gave them at registration, the form and every scan, its bytes
//!    fixed and stored; the citizen's NCALayer signs exactly these bytes.
//! 4. **The signature** ([`sign`]): a detached CMS over those bytes, checked through uc:
//!    the signature, the chain to the test PKI's root, the validity period, revocation by
//!    OCSP, the signing key usage and the certificate's IIN being the logged-in citizen's;
//!    each failure its own code ([`sign_error`]). Accepted, the application and the
//!    `mio.application.submit` message (channel `portal`, routed to the regulation's
//!    region) are written in one transaction, the message's id fixed there; the
//!    [`crate::outbox`] relay sends it after the commit.

use base64::Engine as _;
use egov_contracts::mio::{Applicant, ApplicationDocument, Attachment, Submission, services};
use egov_pki::verify::{Usage, VerifyError, VerifyOptions};
use egov_regulation::Regulation;
use egov_system::api::ApiError;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Core;
use crate::catalog::PORTAL;
use crate::citizens::Citizen;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The media types a scan may have, with the bytes its content begins with.
pub const MEDIA_TYPES: [(&str, &[u8]); 3] = [
    ("application/pdf", b"%PDF-"),
    ("image/jpeg", &[0xFF, 0xD8, 0xFF]),
    ("image/png", &[0x89, b'P', b'N', b'G']),
];

/// What the citizen fills in.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// The regulation (the service in a region).
    pub regulation: String,
    /// The provider (default: the regulation's first).
    #[serde(default)]
    pub provider: Option<String>,
    /// The applicant's category (one of the regulation's).
    pub category: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// E-mail (default: the account's).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether each status is also sent to the e-mail.
    #[serde(default)]
    pub notify_email: bool,
    /// The other fields of the form.
    #[serde(default)]
    pub form: Map<String, Value>,
}

/// A scan the citizen attaches.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    /// Which document of the regulation's list.
    pub kind: String,
    /// File name.
    pub name: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub media_type: String,
    /// The content, base64.
    pub content: String,
}

/// A scan as received: the cabinet's uploaded file, or an API attachment decoded.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Which document of the regulation's list.
    pub kind: String,
    /// File name.
    pub name: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub media_type: String,
    /// The content.
    pub content: Vec<u8>,
}

/// An application as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Application {
    /// Id.
    pub id: Uuid,
    /// The portal's request number.
    pub number: String,
    /// The citizen.
    pub citizen_iin: String,
    /// The regulation.
    pub regulation_id: String,
    /// The service.
    pub service: String,
    /// The provider.
    pub provider_id: String,
    /// The region (routeId).
    pub region: String,
    /// Category.
    pub category: String,
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Statuses also sent by e-mail.
    pub notify_email: bool,
    /// The form.
    pub form: Value,
    /// `draft`, `sent`, `delivered`.
    pub state: String,
    /// The bytes to sign, once asked for.
    pub document: Option<Vec<u8>>,
    /// The signer as the certificate names them.
    pub signer: Option<Value>,
    /// The messageId of the send.
    pub message_id: Option<String>,
    /// When the signature was accepted.
    pub signed_at: Option<OffsetDateTime>,
    /// When the gateway took the application.
    pub delivered_at: Option<OffsetDateTime>,
    /// ИС МИО's number.
    pub mio_number: Option<String>,
    /// The last base status.
    pub status: Option<String>,
    /// Its file status id.
    pub stage: Option<String>,
    /// Its name (Russian).
    pub status_ru: Option<String>,
    /// Its name (Kazakh).
    pub status_kk: Option<String>,
    /// When.
    pub status_at: Option<OffsetDateTime>,
    /// When the service is due.
    pub due_at: Option<OffsetDateTime>,
    /// The place on the waiting list.
    pub queue: Option<Value>,
    /// The result document.
    pub result: Option<Value>,
    /// Why ИС МИО rejected it.
    pub reason: Option<Value>,
    /// The survey's answers.
    pub survey: Option<Value>,
    /// Created.
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, number, citizen_iin, regulation_id, service, provider_id, region, category, phone, email, notify_email, form, state, document, signer, message_id, signed_at, delivered_at, mio_number, status, stage, status_ru, status_kk, status_at, due_at, queue, result, reason, survey, created_at";

/// An application by its number.
pub async fn by_number(pool: &sqlx::PgPool, number: &str) -> sqlx::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from applications where number = $1"
    ))
    .bind(number)
    .fetch_optional(pool)
    .await
}

/// An application by id.
pub async fn by_id(pool: &sqlx::PgPool, id: Uuid) -> sqlx::Result<Option<Application>> {
    sqlx::query_as(&format!("select {COLUMNS} from applications where id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The citizen's applications, newest first.
pub async fn of_citizen(pool: &sqlx::PgPool, iin: &str) -> sqlx::Result<Vec<Application>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from applications where citizen_iin = $1 order by created_at desc, number desc limit 500"
    ))
    .bind(iin)
    .fetch_all(pool)
    .await
}

/// 404 `NOT_FOUND`: no application of that number, or another citizen's (the same answer,
/// so that nothing is learned of others' numbers).
pub fn not_found(number: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("заявка № {number} не найдена"),
        format!("№ {number} өтінім табылмады"),
    )
}

/// The citizen's own application.
pub async fn own(core: &Core, iin: &str, number: &str) -> Result<Application, ApiError> {
    by_number(&core.pool, number)
        .await?
        .filter(|a| a.citizen_iin == iin)
        .ok_or_else(|| not_found(number))
}

fn regulation(core: &Core, id: &str) -> Result<std::sync::Arc<Regulation>, ApiError> {
    core.catalog.get(id).cloned().ok_or_else(|| {
        ApiError::refused(
            "UNKNOWN_SERVICE",
            format!("услуги «{id}» на портале нет"),
            format!("порталда «{id}» қызметі жоқ"),
        )
    })
}

fn invalid_form(problems: &[egov_contracts::mio::form::Problem]) -> ApiError {
    let ru: Vec<String> = problems.iter().map(|p| p.text("ru")).collect();
    let kk: Vec<String> = problems.iter().map(|p| p.text("kk")).collect();
    ApiError::refused(
        "INVALID_FORM",
        format!("форма заполнена неверно: {}", ru.join("; ")),
        format!("нысан қате толтырылған: {}", kk.join("; ")),
    )
    .with_details(json!({"problems": ru}))
}

fn not_draft(app: &Application) -> ApiError {
    ApiError::conflict(
        format!("заявка № {} уже подписана и отправлена", app.number),
        format!("№ {} өтінімге қол қойылып, жіберілген", app.number),
    )
}

/// The application document of `app` for `citizen` at `now`, with `documents`.
fn document(
    citizen: &Citizen,
    app: &Application,
    documents: Vec<Attachment>,
    now: OffsetDateTime,
) -> ApplicationDocument {
    ApplicationDocument {
        regulation: Some(app.regulation_id.clone()),
        service: app.service.clone(),
        provider: app.provider_id.clone(),
        channel: PORTAL.into(),
        applicant: Applicant {
            iin: citizen.iin.clone(),
            surname: citizen.surname.clone(),
            name: citizen.name.clone(),
            patronymic: citizen.patronymic.clone(),
            birth_date: citizen.birth_date.clone(),
            phone: app.phone.clone(),
            email: app.email.clone(),
            address: citizen.address.clone(),
        },
        category: app.category.clone(),
        representative: None,
        poa: None,
        operator: None,
        form: match &app.form {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        },
        documents,
        submitted_at: now,
    }
}

/// Step 1: the draft.
pub async fn create(
    core: &Core,
    citizen: &Citizen,
    n: NewApplication,
) -> Result<Application, ApiError> {
    create_with(core, citizen, n, Vec::new()).await
}

/// Steps 1 and 2 at once, as the cabinet's order form sends them: the draft with its
/// scans, each checked as [`attach`] checks it before anything is written; one refused,
/// nothing is.
pub async fn create_with(
    core: &Core,
    citizen: &Citizen,
    n: NewApplication,
    scans: Vec<Scan>,
) -> Result<Application, ApiError> {
    let reg = regulation(core, n.regulation.trim())?;
    let provider = match n.provider.as_deref().map(str::trim) {
        Some(p) => reg.provider(p).map(|p| p.id.clone()).ok_or_else(|| {
            ApiError::refused(
                "UNKNOWN_PROVIDER",
                format!("услугодатель «{p}» не оказывает эту услугу"),
                format!("«{p}» көрсетілетін қызметті беруші бұл қызметті көрсетпейді"),
            )
        })?,
        None => reg.providers[0].id.clone(),
    };
    let email = match n.email.as_deref() {
        Some(e) => Some(crate::citizens::parse_email(e)?),
        None => citizen.email.clone(),
    };
    if n.notify_email && email.is_none() {
        return Err(ApiError::refused(
            "EMAIL_REQUIRED",
            "для уведомлений по электронной почте укажите её адрес",
            "электрондық пошта арқылы хабарлама алу үшін оның мекенжайын көрсетіңіз",
        ));
    }
    let now = core.clock.now();
    let mut app = Application {
        id: Uuid::new_v4(),
        number: String::new(),
        citizen_iin: citizen.iin.clone(),
        regulation_id: reg.id.clone(),
        service: reg.service.clone(),
        provider_id: provider,
        region: reg.region.clone(),
        category: n.category.trim().to_string(),
        phone: n
            .phone
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        email,
        notify_email: n.notify_email,
        form: Value::Object(n.form),
        state: "draft".into(),
        document: None,
        signer: None,
        message_id: None,
        signed_at: None,
        delivered_at: None,
        mio_number: None,
        status: None,
        stage: None,
        status_ru: None,
        status_kk: None,
        status_at: None,
        due_at: None,
        queue: None,
        result: None,
        reason: None,
        survey: None,
        created_at: now,
    };
    // the form as ИС МИО's intake will check it (the documents come next)
    let problems = egov_contracts::mio::form::check(&reg, &document(citizen, &app, vec![], now))
        .err()
        .unwrap_or_default();
    if !problems.is_empty() {
        return Err(invalid_form(&problems));
    }
    for scan in &scans {
        check_label(&reg, &scan.kind, &scan.name, &scan.media_type)?;
        check_content(core, scan)?;
    }
    if scans.len() > core.max_attachments {
        return Err(too_many(core.max_attachments));
    }
    let mut tx = core.pool.begin().await?;
    let year = now.year();
    let value: i64 = sqlx::query_scalar(
        "insert into counters (year, value) values ($1, 1)
         on conflict (year) do update set value = counters.value + 1 returning value",
    )
    .bind(year)
    .fetch_one(&mut *tx)
    .await?;
    app.number = format!("P{year}-{value:07}");
    sqlx::query(
        "insert into applications (id, number, citizen_iin, regulation_id, service, provider_id, region, category,
            phone, email, notify_email, form, state, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', $13, $13)",
    )
    .bind(app.id)
    .bind(&app.number)
    .bind(&app.citizen_iin)
    .bind(&app.regulation_id)
    .bind(&app.service)
    .bind(&app.provider_id)
    .bind(&app.region)
    .bind(&app.category)
    .bind(&app.phone)
    .bind(&app.email)
    .bind(app.notify_email)
    .bind(&app.form)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for scan in &scans {
        insert_scan(&mut tx, app.id, scan, now).await?;
    }
    crate::steps::drafted(core, &mut tx, &reg, app.id, &citizen.iin, now).await?;
    tx.commit().await?;
    metrics::counter!("egov_portal_drafts_total", "regulation" => reg.id.clone()).increment(1);
    Ok(app)
}

/// An attachment as listed (without its content).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AttachmentInfo {
    /// Id.
    pub id: Uuid,
    /// The document kind.
    pub kind: String,
    /// File name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Size, bytes.
    pub size: i32,
}

/// The attachments of an application.
pub async fn attachments(
    pool: &sqlx::PgPool,
    application: Uuid,
) -> sqlx::Result<Vec<AttachmentInfo>> {
    sqlx::query_as(
        "select id, kind, name, media_type, length(content) as size from attachments
         where application_id = $1 order by created_at, id",
    )
    .bind(application)
    .fetch_all(pool)
    .await
}

/// Step 2: a scan of one of the regulation's documents.
pub async fn attach(
    core: &Core,
    iin: &str,
    number: &str,
    a: NewAttachment,
) -> Result<AttachmentInfo, ApiError> {
    let (app, reg) = draft_of(core, iin, number).await?;
    check_label(&reg, &a.kind, &a.name, &a.media_type)?;
    let max = core.max_attachment_bytes;
    // a base64 text longer than the largest file's can be refused unread
    if a.content.len() > max.div_ceil(3) * 4 + 4 {
        return Err(too_large(max));
    }
    let content = B64.decode(a.content.trim()).map_err(|_| {
        ApiError::refused(
            "NOT_BASE64",
            "содержимое файла не в base64",
            "файл мазмұны base64 емес",
        )
    })?;
    let scan = Scan {
        kind: a.kind,
        name: a.name.trim().to_string(),
        media_type: a.media_type,
        content,
    };
    store_scan(core, &app, scan).await
}

/// Step 2 from the cabinet's page: an uploaded scan, checked as [`attach`] checks it.
pub async fn attach_scan(
    core: &Core,
    iin: &str,
    number: &str,
    scan: Scan,
) -> Result<AttachmentInfo, ApiError> {
    let (app, reg) = draft_of(core, iin, number).await?;
    check_label(&reg, &scan.kind, &scan.name, &scan.media_type)?;
    store_scan(core, &app, scan).await
}

/// The citizen's own draft and its regulation.
async fn draft_of(
    core: &Core,
    iin: &str,
    number: &str,
) -> Result<(Application, std::sync::Arc<Regulation>), ApiError> {
    let app = own(core, iin, number).await?;
    if app.state != "draft" {
        return Err(not_draft(&app));
    }
    let reg = regulation(core, &app.regulation_id)?;
    Ok((app, reg))
}

/// A scan whose label is checked: its content checked, then added to the draft (the
/// sign request voided) unless the draft has the most it may.
async fn store_scan(
    core: &Core,
    app: &Application,
    scan: Scan,
) -> Result<AttachmentInfo, ApiError> {
    check_content(core, &scan)?;
    let mut tx = core.pool.begin().await?;
    let locked: Option<i64> = sqlx::query_scalar(
        "select (select count(*) from attachments where application_id = $1) from applications
         where id = $1 and state = 'draft' for update",
    )
    .bind(app.id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(count) = locked else {
        return Err(not_draft(app));
    };
    if count as usize >= core.max_attachments {
        return Err(too_many(core.max_attachments));
    }
    let now = core.clock.now();
    let id = insert_scan(&mut tx, app.id, &scan, now).await?;
    // what was asked to be signed no longer is the application
    sqlx::query("update applications set document = null, updated_at = $2 where id = $1")
        .bind(app.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(AttachmentInfo {
        id,
        kind: scan.kind,
        name: scan.name,
        media_type: scan.media_type,
        size: scan.content.len() as i32,
    })
}

/// A scan's document kind (one of the regulation's), file name and media type (PDF,
/// JPEG, PNG).
fn check_label(reg: &Regulation, kind: &str, name: &str, media_type: &str) -> Result<(), ApiError> {
    if !reg.documents.iter().any(|d| d.id == kind) {
        let kinds = reg
            .documents
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ApiError::refused(
            "UNKNOWN_DOCUMENT",
            format!("вида документа «{kind}» нет в регламенте; виды: {kinds}"),
            format!("«{kind}» құжат түрі регламентте жоқ; түрлері: {kinds}"),
        ));
    }
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > 255
        || trimmed.contains(['/', '\\'])
        || trimmed.chars().any(char::is_control)
    {
        return Err(ApiError::refused(
            "INVALID_FILE_NAME",
            format!("«{name}» не имя файла (1–255 символов, без «/» и «\\»)"),
            format!("«{name}» файл атауы емес (1–255 таңба, «/» және «\\» жоқ)"),
        ));
    }
    if !MEDIA_TYPES.iter().any(|(t, _)| *t == media_type) {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("тип файла «{media_type}» не принимается: только PDF, JPEG, PNG"),
            format!("«{media_type}» файл түрі қабылданбайды: тек PDF, JPEG, PNG"),
        ));
    }
    Ok(())
}

/// A scan's size (at most [`crate::Config::max_attachment_bytes`]) and content (it
/// begins as its media type's files do).
fn check_content(core: &Core, scan: &Scan) -> Result<(), ApiError> {
    if scan.content.len() > core.max_attachment_bytes {
        return Err(too_large(core.max_attachment_bytes));
    }
    let magic = MEDIA_TYPES
        .iter()
        .find(|(t, _)| *t == scan.media_type)
        .map(|(_, m)| *m)
        .unwrap_or_default();
    if magic.is_empty() || !scan.content.starts_with(magic) {
        let name = scan.name.trim();
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "MEDIA_TYPE_MISMATCH",
            format!("содержимое файла «{name}» не {}", scan.media_type),
            format!("«{name}» файлының мазмұны {} емес", scan.media_type),
        ));
    }
    Ok(())
}

async fn insert_scan(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    application: Uuid,
    scan: &Scan,
    now: OffsetDateTime,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into attachments (id, application_id, kind, name, media_type, content, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(application)
    .bind(&scan.kind)
    .bind(scan.name.trim())
    .bind(&scan.media_type)
    .bind(&scan.content)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

fn too_many(max: usize) -> ApiError {
    ApiError::refused(
        "TOO_MANY_ATTACHMENTS",
        format!("к заявке можно приложить не более {max} файлов"),
        format!("өтінімге {max} файлдан артық тіркеуге болмайды"),
    )
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "ATTACHMENT_TOO_LARGE",
        format!("файл больше допустимых {max} байт"),
        format!("файл рұқсат етілген {max} байттан үлкен"),
    )
}

/// Removes a scan from a draft.
pub async fn detach(core: &Core, iin: &str, number: &str, id: Uuid) -> Result<(), ApiError> {
    let app = own(core, iin, number).await?;
    let mut tx = core.pool.begin().await?;
    let locked: Option<Uuid> = sqlx::query_scalar(
        "select id from applications where id = $1 and state = 'draft' for update",
    )
    .bind(app.id)
    .fetch_optional(&mut *tx)
    .await?;
    if locked.is_none() {
        return Err(not_draft(&app));
    }
    let gone = sqlx::query("delete from attachments where id = $1 and application_id = $2")
        .bind(id)
        .bind(app.id)
        .execute(&mut *tx)
        .await?;
    if gone.rows_affected() != 1 {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("в заявке № {number} нет файла {id}"),
            format!("№ {number} өтінімде {id} файлы жоқ"),
        ));
    }
    sqlx::query("update applications set document = null, updated_at = $2 where id = $1")
        .bind(app.id)
        .bind(core.clock.now())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Step 3: the exact bytes to sign, fixed until the draft changes or another sign
/// request replaces them.
pub async fn sign_request(
    core: &Core,
    citizen: &Citizen,
    number: &str,
) -> Result<Vec<u8>, ApiError> {
    let app = own(core, &citizen.iin, number).await?;
    if app.state != "draft" {
        return Err(not_draft(&app));
    }
    let reg = regulation(core, &app.regulation_id)?;
    let rows: Vec<(String, String, String, Vec<u8>)> = sqlx::query_as(
        "select kind, name, media_type, content from attachments where application_id = $1 order by created_at, id",
    )
    .bind(app.id)
    .fetch_all(&core.pool)
    .await?;
    let documents: Vec<Attachment> = rows
        .into_iter()
        .map(|(kind, name, media_type, content)| Attachment {
            kind,
            name,
            media_type,
            content: Some(B64.encode(content)),
            paper: false,
        })
        .collect();
    let missing: Vec<&egov_regulation::Document> = reg
        .required_documents(&app.category)
        .into_iter()
        .filter(|d| !documents.iter().any(|a| a.kind == d.id))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::refused(
            "DOCUMENTS_INCOMPLETE",
            format!(
                "не приложены документы: {}",
                missing
                    .iter()
                    .map(|d| d.name.ru.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            format!(
                "құжаттар тіркелмеген: {}",
                missing
                    .iter()
                    .map(|d| d.name.kk.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .with_details(json!({"missing": missing.iter().map(|d| &d.id).collect::<Vec<_>>()})));
    }
    let now = core.clock.now();
    let doc = document(citizen, &app, documents, now);
    if let Err(problems) = egov_contracts::mio::form::check(&reg, &doc) {
        return Err(invalid_form(&problems));
    }
    let bytes = serde_json::to_vec(&doc).expect("serializes");
    let updated = sqlx::query(
        "update applications set document = $2, updated_at = $3 where id = $1 and state = 'draft'",
    )
    .bind(app.id)
    .bind(&bytes)
    .bind(now)
    .execute(&core.pool)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(not_draft(&app));
    }
    Ok(bytes)
}

/// A C-sign failure as the API answers it: each reason its own code.
pub fn sign_error(e: &VerifyError) -> ApiError {
    use axum::http::StatusCode;
    let (status, code, ru, kk) = match e {
        VerifyError::Malformed(_) | VerifyError::BadSignature(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "SIGNATURE_INVALID",
            "подпись не соответствует подписываемым данным",
            "қолтаңба қол қойылатын деректерге сәйкес келмейді",
        ),
        VerifyError::Untrusted(_) | VerifyError::ChainTooComplex(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "CERTIFICATE_UNTRUSTED",
            "регистрационное свидетельство выдано не НУЦ РК",
            "тіркеу куәлігін ҚР ҰКО бермеген",
        ),
        VerifyError::Expired { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "CERTIFICATE_EXPIRED",
            "срок действия регистрационного свидетельства истёк",
            "тіркеу куәлігінің қолданылу мерзімі өтті",
        ),
        VerifyError::NotYetValid { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "CERTIFICATE_NOT_YET_VALID",
            "регистрационное свидетельство ещё не действует",
            "тіркеу куәлігі әлі күшіне енбеген",
        ),
        VerifyError::Revoked { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "CERTIFICATE_REVOKED",
            "регистрационное свидетельство отозвано",
            "тіркеу куәлігі кері қайтарылған",
        ),
        VerifyError::WrongUsage(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "CERTIFICATE_WRONG_USAGE",
            "ключ не для подписи (выберите ключ RSA/GOST для подписи, не для аутентификации)",
            "кілт қол қоюға арналмаған (аутентификация емес, қол қою кілтін таңдаңыз)",
        ),
        VerifyError::IinMismatch { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "IIN_MISMATCH",
            "заявка подписана ключом другого лица: ИИН в сертификате не ваш",
            "өтінімге басқа адамның кілтімен қол қойылған: сертификаттағы ЖСН сіздікі емес",
        ),
        VerifyError::RevocationUnknown(_)
        | VerifyError::CrlInvalid(_)
        | VerifyError::CrlExpired(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "REVOCATION_UNKNOWN",
            "ИС УЦ не ответила о статусе сертификата; ничего не отправлено, повторите позже",
            "КО АЖ сертификат мәртебесі туралы жауап бермеді; ештеңе жіберілмеді, кейінірек қайталаңыз",
        ),
    };
    ApiError::new(
        status,
        code,
        format!("ЭЦП не подтверждена: {ru}"),
        format!("ЭЦҚ расталмады: {kk}"),
    )
    .with_details(json!({"reason": e.reason()}))
}

/// Records C-sign's refusal on the application's steps; a failure to record is logged,
/// the citizen's answer is the refusal either way.
async fn sign_refused(core: &Core, reg: &Regulation, app: &Application, iin: &str) {
    if let Err(e) = crate::steps::sign_refused(core, reg, app.id, iin, core.clock.now()).await {
        tracing::warn!(application = %app.number, error = %e, "recording C-sign's refusal");
    }
}

/// Step 4: the citizen's detached CMS (base64) over the bytes of the last sign request.
pub async fn sign(
    core: &Core,
    citizen: &Citizen,
    number: &str,
    signature_b64: &str,
) -> Result<Application, ApiError> {
    let app = own(core, &citizen.iin, number).await?;
    if app.state != "draft" {
        return Err(not_draft(&app));
    }
    let Some(bytes) = app.document.clone() else {
        return Err(ApiError::conflict(
            format!(
                "по заявке № {} нет запроса на подпись: сначала получите данные для подписи",
                app.number
            ),
            format!(
                "№ {} өтінім бойынша қол қоюға сұраныс жоқ: алдымен қол қоюға арналған деректерді алыңыз",
                app.number
            ),
        ));
    };
    let reg = regulation(core, &app.regulation_id)?;
    let Ok(signature) = B64.decode(signature_b64.trim()) else {
        metrics::counter!("egov_portal_sign_refused_total", "reason" => "malformed").increment(1);
        sign_refused(core, &reg, &app, &citizen.iin).await;
        return Err(ApiError::refused(
            "SIGNATURE_INVALID",
            "ЭЦП не подтверждена: подпись не в base64",
            "ЭЦҚ расталмады: қолтаңба base64 емес",
        )
        .with_details(json!({"reason": "malformed"})));
    };
    // C-sign
    let expected = egov_iin::Iin::parse(&citizen.iin).map_err(ApiError::internal)?;
    let verdict = core
        .verifier
        .verify_detached(
            &bytes,
            &signature,
            &VerifyOptions {
                usage: Usage::Signing,
                require_revocation: true,
                expected_iin: Some(expected),
                at: Some(core.clock.now()),
            },
        )
        .await;
    let signer = match verdict {
        Ok(signer) => signer,
        Err(e) => {
            metrics::counter!("egov_portal_sign_refused_total", "reason" => e.reason())
                .increment(1);
            // an unknown revocation status decides nothing: the citizen tries again
            if !matches!(
                e,
                VerifyError::RevocationUnknown(_)
                    | VerifyError::CrlInvalid(_)
                    | VerifyError::CrlExpired(_)
            ) {
                sign_refused(core, &reg, &app, &citizen.iin).await;
            }
            return Err(sign_error(&e));
        }
    };
    let now = core.clock.now();
    let submission = Submission {
        document: B64.encode(&bytes),
        signature: B64.encode(&signature),
    };
    let payload = serde_json::to_vec(&submission).expect("serializes");
    let message_id = Uuid::new_v4().to_string();
    let signer_json = json!({
        "iin": signer.identity.iin.map(|i| i.as_string()),
        "name": signer.identity.common_name,
        "serial": signer.cert.serial_hex,
        "revocation": signer.revocation,
    });
    // the application's trace begins with the citizen's signature (C-sign, then the send)
    let span = tracing::info_span!(
        "portal.sign",
        egov.sfe = crate::LANE,
        egov.regulation = %app.regulation_id,
        egov.step = "sign",
        egov.application = %app.number,
    );
    let trace_parent = span.in_scope(egov_telemetry::current_traceparent);
    let mut tx = core.pool.begin().await?;
    let updated = sqlx::query(
        "update applications set state = 'sent', signature = $2, signer = $3, message_id = $4, signed_at = $5, updated_at = $5,
                trace_parent = $7
         where id = $1 and state = 'draft' and document = $6",
    )
    .bind(app.id)
    .bind(&signature)
    .bind(&signer_json)
    .bind(&message_id)
    .bind(now)
    .bind(&bytes)
    .bind(&trace_parent)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(ApiError::conflict(
            format!(
                "заявка № {} изменилась, пока подписывалась: запросите данные для подписи снова",
                app.number
            ),
            format!(
                "№ {} өтінім қол қойылып жатқанда өзгерді: қол қоюға деректерді қайта сұраңыз",
                app.number
            ),
        ));
    }
    crate::outbox::enqueue(
        &mut tx,
        app.id,
        services::SUBMIT,
        &app.region,
        &app.number,
        &payload,
        &message_id,
        now,
    )
    .await?;
    crate::steps::signed(core, &mut tx, &reg, app.id, &citizen.iin, now).await?;
    tx.commit().await?;
    core.announce(app.id, &app.citizen_iin, "sent");
    core.wake.notify_one();
    metrics::counter!("egov_portal_signed_total", "regulation" => app.regulation_id.clone())
        .increment(1);
    by_id(&core.pool, app.id)
        .await?
        .ok_or_else(|| ApiError::internal("the application just signed is gone"))
}

/// The quality survey of the regulation's last appendix (`egov_regulation::survey`): (1)
/// the process and the result (its question `quality`), (2) the information about the
/// procedure (`information`); once the application has its final status.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    /// The quality of the process and the result.
    pub process: String,
    /// The quality of the information about the procedure.
    pub information: String,
}

/// Records the survey's answers.
pub async fn survey(core: &Core, iin: &str, number: &str, s: Survey) -> Result<(), ApiError> {
    let answers: egov_regulation::survey::Answers = [
        ("quality".to_string(), s.process.clone()),
        ("information".to_string(), s.information.clone()),
    ]
    .into_iter()
    .collect();
    let app = own(core, iin, number).await?;
    let reg = regulation(core, &app.regulation_id)?;
    let Some(form) = egov_regulation::survey::of(&reg) else {
        return Err(ApiError::refused(
            "NO_SURVEY",
            format!("регламент {} не содержит анкеты", reg.id),
            format!("{} регламентінде сауалнама жоқ", reg.id),
        ));
    };
    egov_regulation::survey::check(form, &answers)
        .map_err(|(ru, kk)| ApiError::refused("INVALID_ANSWER", ru, kk))?;
    let done = app
        .status
        .as_deref()
        .and_then(egov_regulation::Status::parse)
        .is_some_and(|s| s.is_final());
    if !done {
        return Err(ApiError::conflict(
            format!(
                "по заявке № {} услуга ещё не оказана: оценка после результата",
                app.number
            ),
            format!(
                "№ {} өтінім бойынша қызмет әлі көрсетілмеген: бағалау нәтижеден кейін",
                app.number
            ),
        ));
    }
    sqlx::query("update applications set survey = $2, updated_at = $3 where id = $1")
        .bind(app.id)
        .bind(json!({"process": s.process, "information": s.information, "at": core.clock.now().unix_timestamp()}))
        .bind(core.clock.now())
        .execute(&core.pool)
        .await?;
    for (question, answer) in answers {
        metrics::counter!(
            "egov_survey_answers_total",
            "system" => "portal",
            "regulation" => reg.id.clone(),
            "question" => question,
            "answer" => answer
        )
        .increment(1);
    }
    Ok(())
}

/// The application's current place on the provider's waiting list, asked of the region's
/// ИС МИО through the gateway (`mio.queue.position`, sync) with the citizen's IIN.
pub async fn queue_position(core: &Core, iin: &str, number: &str) -> Result<Value, ApiError> {
    use egov_contracts::mio::{QueuePositionAnswer, QueuePositionRequest};
    let app = own(core, iin, number).await?;
    let not_queued = || {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_IN_QUEUE",
            format!("заявка № {number} не поставлена в очередь"),
            format!("№ {number} өтінім кезекке қойылмаған"),
        )
    };
    let Some(mio_number) = app.mio_number.clone().filter(|_| app.queue.is_some()) else {
        return Err(not_queued());
    };
    let client = core
        .client()
        .map_err(|e| ApiError::gateway_unavailable("ИС МИО", e))?;
    let body = QueuePositionRequest {
        iin: iin.to_string(),
    };
    let reply = client
        .call(
            services::QUEUE_POSITION,
            &app.region,
            &app.number,
            serde_json::to_vec(&body).expect("serializes"),
        )
        .await
        .map_err(|e| ApiError::gateway_unavailable("ИС МИО", e))?;
    if !reply.is_success() {
        return Err(ApiError::gateway_unavailable(
            "ИС МИО",
            format!("the gateway answered {}", reply.code()),
        ));
    }
    let answer: QueuePositionAnswer = serde_json::from_slice(&reply.payload)
        .map_err(|e| ApiError::gateway_unavailable("ИС МИО", format!("unreadable answer: {e}")))?;
    let place = answer
        .places
        .into_iter()
        .find(|p| p.application_number == mio_number)
        .ok_or_else(not_queued)?;
    Ok(json!({
        "number": app.number,
        "mio_number": mio_number,
        "provider": place.place.provider,
        "category": place.place.category,
        "queue_number": place.place.number,
        "registered": egov_contracts::date::format(place.place.registered),
        "position": place.position,
        "waiting": place.waiting,
    }))
}
