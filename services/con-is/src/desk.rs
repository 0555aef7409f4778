//! The operator's desk: channel C of a regulation from the citizen's IIN to the
//! application in the provider's ИС МИО.
//!
//! 1. **The draft** ([`draft`]): the inspector chooses the regulation (the service) and
//!    enters the citizen's IIN and, for a representative with a notarised power of
//!    attorney, its number and the representative's IIN. One request to ГБД ФЛ
//!    (`gbd-fl.person.get`, C-person) and, for a representative, one to ЕНИС
//!    (`enis.poa.check`, C-poa), both through the gateway. On failure the operator gets
//!    the seed's message («невозможно получить данные ...») and nothing is written; on
//!    success the application is registered in the centre's journal (its number,
//!    gap-free per centre and year) with the person's data, and the channel's steps up
//!    to the registries' request are recorded.
//! 2. **The submission** ([`submit`]): the category, the form, the documents (paper
//!    originals marked, scans attached). Completeness against the regulation's
//!    `[[documents]]` for the category: an incomplete set refuses acceptance (the
//!    refusal receipt), nothing is sent. A complete one is checked against the form as
//!    ИС МИО's intake checks it and signed (CMS, detached) by the operator: with their
//!    key from the workstation's keystore ([`submit`], a development setting), or on
//!    their own client over the exact bytes handed out ([`sign_request`], then
//!    [`signature`], NCALayer style). The application is recorded `sent` with its message
//!    to the region's ИС МИО (`mio.application.submit`, channel `con`) in the outbox of
//!    the same transaction; the relay delivers it after commit, retrying with the same
//!    messageId ([`record`]).
//!
//! Statuses and the result come back through the inbox ([`crate::inbox`]).

use base64::Engine as _;
use egov_contracts::enis::{self, Invalidity, PoaCheckAnswer, PoaCheckRequest};
use egov_contracts::gbd_fl::{self, Person, PersonAnswer, PersonRequest, PersonStatus};
use egov_contracts::mio::{
    Applicant, ApplicationDocument, Attachment, Operator as MioOperator, PowerOfAttorney,
    Representative, Submission, services,
};
use egov_contracts::{ErrorBody, Purpose};
use egov_regulation::Regulation;
use egov_shep_client::codes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Core;
use crate::api::error::ApiError;
use crate::catalog::CON;
use crate::centres::Centre;
use crate::operators::{Operator, Role};
use crate::steps;

/// The State Corporation's BIN in the test PKI (the topology's `con-is`).
pub const STATE_CORPORATION_BIN: &str = "000140000109";

/// What the inspector enters first.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDraft {
    /// The regulation (the service at this centre's region).
    pub regulation: String,
    /// The citizen's IIN.
    pub iin: String,
    /// The provider (default: the centre's provider of the regulation).
    #[serde(default)]
    pub provider: Option<String>,
    /// A representative acting by a notarised power of attorney.
    #[serde(default)]
    pub representative: Option<RepresentativeInput>,
}

/// A representative as the inspector enters them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepresentativeInput {
    /// The representative's IIN.
    pub iin: String,
    /// The power of attorney's number in ЕНИС.
    pub poa_number: String,
}

/// What the inspector enters to submit.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitInput {
    /// The applicant's category (one of the regulation's).
    pub category: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Address of residence (default: the registered address from ГБД ФЛ).
    #[serde(default)]
    pub address: Option<String>,
    /// The other fields of the form.
    #[serde(default)]
    pub form: serde_json::Map<String, Value>,
    /// The documents: paper originals marked, scans attached.
    #[serde(default)]
    pub documents: Vec<Attachment>,
}

/// An application of the journal, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Application {
    /// Id.
    pub id: Uuid,
    /// The journal number.
    pub number: String,
    /// The centre.
    pub centre_id: String,
    /// The inspector who took it.
    pub operator_iin: String,
    /// The regulation.
    pub regulation_id: String,
    /// The service.
    pub service: String,
    /// The provider.
    pub provider_id: String,
    /// The region.
    pub region: String,
    /// The applicant's IIN.
    pub applicant_iin: String,
    /// The applicant as ГБД ФЛ gave them.
    pub applicant: Value,
    /// The representative's IIN.
    pub representative_iin: Option<String>,
    /// The power of attorney as ЕНИС confirmed it.
    pub representative: Option<Value>,
    /// Its number.
    pub poa_number: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// The form.
    pub form: Value,
    /// The documents (without the scans' content).
    pub documents: Value,
    /// `draft`, `refused`, `sent`.
    pub state: String,
    /// Why acceptance was refused.
    pub refusal_code: Option<String>,
    /// Its message (Russian).
    pub refusal_message: Option<String>,
    /// The documents missing.
    pub missing_documents: Option<Value>,
    /// The messageId it was sent with.
    pub message_id: Option<String>,
    /// When.
    pub sent_at: Option<OffsetDateTime>,
    /// ИС МИО's number.
    pub mio_number: Option<String>,
    /// The last base status from ИС МИО.
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
    /// The result document.
    pub result: Option<Value>,
    /// Registered in the journal.
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, number, centre_id, operator_iin, regulation_id, service, provider_id, region, applicant_iin, applicant, representative_iin, representative, poa_number, category, form, documents, state, refusal_code, refusal_message, missing_documents, message_id, sent_at, mio_number, status, stage, status_ru, status_kk, status_at, due_at, result, created_at";

/// An application by its journal number or by ИС МИО's.
pub async fn by_number(pool: &sqlx::PgPool, number: &str) -> sqlx::Result<Option<Application>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from applications where number = $1 or mio_number = $1 order by number = $1 desc limit 1"
    ))
    .bind(number)
    .fetch_optional(pool)
    .await
}

/// The applications of a centre, newest first.
pub async fn of_centre(pool: &sqlx::PgPool, centre: &str) -> sqlx::Result<Vec<Application>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from applications where centre_id = $1 order by created_at desc limit 200"
    ))
    .bind(centre)
    .fetch_all(pool)
    .await
}

/// Only the desk's inspector takes applications.
fn inspector_only(who: &Operator) -> Result<(), ApiError> {
    if who.role == Role::Inspector {
        return Ok(());
    }
    let (ru, kk) = who.role.position();
    Err(ApiError::forbidden(
        format!("заявления принимает инспектор ЦОН, а не «{ru}»"),
        format!("өтініштерді «{kk}» емес, ХҚО инспекторы қабылдайды"),
    ))
}

/// The operator's application, or why not: none of that number (404), another
/// centre's (403).
pub async fn own(core: &Core, who: &Operator, number: &str) -> Result<Application, ApiError> {
    let app = by_number(&core.pool, number)
        .await?
        .ok_or_else(|| crate::api::error::no_application(number))?;
    if app.centre_id != who.centre_id {
        return Err(ApiError::forbidden(
            format!("заявление № {} принято в другом ЦОН", app.number),
            format!("№ {} өтініш басқа ХҚО-да қабылданған", app.number),
        ));
    }
    Ok(app)
}

/// The regulation `id` as the operator's centre may run it.
pub fn regulation_at(
    core: &Core,
    centre: &Centre,
    id: &str,
) -> Result<std::sync::Arc<Regulation>, ApiError> {
    let reg = core.catalog.get(id).ok_or_else(|| {
        ApiError::refused(
            "UNKNOWN_REGULATION",
            format!("регламента «{id}» с каналом через ЦОН нет"),
            format!("ХҚО арқылы арнасы бар «{id}» регламенті жоқ"),
        )
    })?;
    if reg.region != centre.region {
        return Err(ApiError::refused(
            "UNKNOWN_REGULATION",
            format!(
                "регламент «{id}» действует в другом регионе ({}), а не там, где {}",
                reg.region, centre.name.ru
            ),
            format!(
                "«{id}» регламенті басқа өңірде ({}) қолданылады, {} орналасқан жерде емес",
                reg.region, centre.name.kk
            ),
        ));
    }
    Ok(reg.clone())
}

fn parse_iin(value: &str, what_ru: &str, what_kk: &str) -> Result<String, ApiError> {
    egov_iin::Iin::parse(value.trim())
        .map(|i| i.as_string())
        .map_err(|_| ApiError::invalid_iin(value, what_ru, what_kk))
}

/// C-person: ГБД ФЛ, through the gateway, on behalf of the operator. A refusal carries
/// the seed's message; a gateway that cannot be asked is a 502 (nothing written).
pub async fn person(
    core: &Core,
    who: &Operator,
    iin: &str,
    service: &str,
) -> Result<Person, ApiError> {
    let client = core
        .client()
        .map_err(|e| ApiError::gateway_unavailable("ГБД ФЛ", e))?;
    let body = PersonRequest {
        iin: iin.to_string(),
        purpose: Purpose {
            service: Some(service.to_string()),
            application: None,
            requester_iin: Some(who.iin.clone()),
        },
        fields: None,
    };
    let reply = client
        .call(
            gbd_fl::services::PERSON_GET,
            "",
            "",
            serde_json::to_vec(&body).expect("serializes"),
        )
        .await
        .map_err(|e| ApiError::gateway_unavailable("ГБД ФЛ", e))?;
    let absent = |code: &str, why_ru: &str, why_kk: &str| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            code,
            format!(
                "Невозможно получить данные: данные получателя государственной услуги с ИИН {iin} в ГБД ФЛ отсутствуют ({why_ru})"
            ),
            format!(
                "Деректерді алу мүмкін емес: ЖТ МДҚ-да ЖСН {iin} мемлекеттік қызметті алушының деректері жоқ ({why_kk})"
            ),
        )
    };
    if reply.is_success() {
        let a: PersonAnswer = serde_json::from_slice(&reply.payload).map_err(|e| {
            ApiError::gateway_unavailable("ГБД ФЛ", format!("unreadable answer: {e}"))
        })?;
        return match a.person.status {
            PersonStatus::Alive => Ok(a.person),
            PersonStatus::Deceased => Err(absent(
                "PERSON_DECEASED",
                "лицо умерло",
                "адам қайтыс болған",
            )),
            PersonStatus::Cancelled => {
                Err(absent("IIN_CANCELLED", "ИИН аннулирован", "ЖСН жойылған"))
            }
        };
    }
    if reply.code() == codes::BUSINESS_ERROR
        && let Ok(e) = serde_json::from_slice::<ErrorBody>(&reply.payload)
    {
        return Err(match e.code.as_str() {
            gbd_fl::errors::INVALID_IIN => ApiError::invalid_iin(iin, "ИИН", "ЖСН"),
            gbd_fl::errors::IIN_CANCELLED => absent(&e.code, "ИИН аннулирован", "ЖСН жойылған"),
            _ => absent(&e.code, "сведений нет", "мәліметтер жоқ"),
        });
    }
    Err(ApiError::gateway_unavailable(
        "ГБД ФЛ",
        format!("the gateway answered {}", reply.code()),
    ))
}

fn invalidity_text(r: Option<Invalidity>) -> (&'static str, &'static str) {
    match r {
        Some(Invalidity::Absent) | None => ("в ЕНИС отсутствует", "БНАЖ-да жоқ"),
        Some(Invalidity::OtherPrincipal) => (
            "выдана другим доверителем",
            "басқа сенім білдірушімен берілген",
        ),
        Some(Invalidity::OtherRepresentative) => {
            ("выдана другому представителю", "басқа өкілге берілген")
        }
        Some(Invalidity::Expired) => ("срок её действия истёк", "қолданылу мерзімі өтті"),
        Some(Invalidity::NotYetValid) => ("ещё не вступила в силу", "әлі күшіне енбеген"),
        Some(Invalidity::Revoked) => ("отменена", "күші жойылған"),
        Some(Invalidity::OutOfScope) => (
            "не распространяется на эту услугу",
            "бұл қызметке қолданылмайды",
        ),
    }
}

/// C-poa: ЕНИС, through the gateway: the power of attorney lets the representative act
/// for the principal in the service today. Returns ЕНИС's record of it.
pub async fn power_of_attorney(
    core: &Core,
    who: &Operator,
    number: &str,
    principal: &str,
    representative: &str,
    service: &str,
) -> Result<Value, ApiError> {
    let client = core
        .client()
        .map_err(|e| ApiError::gateway_unavailable("ЕНИС", e))?;
    let body = PoaCheckRequest {
        number: number.to_string(),
        principal_iin: principal.to_string(),
        representative_iin: representative.to_string(),
        service: service.to_string(),
        on: None,
        purpose: Purpose {
            service: Some(service.to_string()),
            application: None,
            requester_iin: Some(who.iin.clone()),
        },
    };
    let reply = client
        .call(
            enis::services::POA_CHECK,
            "",
            "",
            serde_json::to_vec(&body).expect("serializes"),
        )
        .await
        .map_err(|e| ApiError::gateway_unavailable("ЕНИС", e))?;
    let refusal = |ru: &str, kk: &str, reason: &str| {
        ApiError::refused(
            "POA_NOT_CONFIRMED",
            format!("Невозможно получить данные: доверенность № {number} {ru}"),
            format!("Деректерді алу мүмкін емес: № {number} сенімхат {kk}"),
        )
        .with_details(json!({"reason": reason}))
    };
    if reply.code() == codes::BUSINESS_ERROR {
        let reason = serde_json::from_slice::<ErrorBody>(&reply.payload)
            .map(|e| e.code)
            .unwrap_or_default();
        return Err(refusal("не принята ЕНИС", "БНАЖ қабылдамады", &reason));
    }
    if !reply.is_success() {
        return Err(ApiError::gateway_unavailable(
            "ЕНИС",
            format!("the gateway answered {}", reply.code()),
        ));
    }
    let answer: PoaCheckAnswer = serde_json::from_slice(&reply.payload)
        .map_err(|e| ApiError::gateway_unavailable("ЕНИС", format!("unreadable answer: {e}")))?;
    if !answer.valid {
        let (ru, kk) = invalidity_text(answer.reason);
        return Err(refusal(
            ru,
            kk,
            answer.reason.map(|r| r.as_str()).unwrap_or("absent"),
        ));
    }
    Ok(json!({"number": number, "representative_iin": representative, "poa": answer.poa}))
}

fn provider_for(
    reg: &Regulation,
    centre: &Centre,
    named: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(p) = named {
        return reg.provider(p).map(|p| p.id.clone()).ok_or_else(|| {
            ApiError::refused(
                "UNKNOWN_PROVIDER",
                format!("услугодателя «{p}» нет в регламенте {}", reg.id),
                format!(
                    "{} регламентінде «{p}» көрсетілетін қызметті беруші жоқ",
                    reg.id
                ),
            )
        });
    }
    if let Some(p) = centre.providers.iter().find(|p| reg.provider(p).is_some()) {
        return Ok(p.clone());
    }
    match reg.providers.as_slice() {
        [one] => Ok(one.id.clone()),
        _ => Err(ApiError::refused(
            "PROVIDER_REQUIRED",
            format!(
                "укажите услугодателя: регламент {} называет нескольких",
                reg.id
            ),
            format!(
                "көрсетілетін қызметті берушіні көрсетіңіз: {} регламенті бірнешеуін атайды",
                reg.id
            ),
        )),
    }
}

async fn next_number(
    tx: &mut sqlx::PgConnection,
    centre: &Centre,
    now: OffsetDateTime,
) -> sqlx::Result<String> {
    let year = egov_calendar::local_date(now).year();
    let n: i64 = sqlx::query_scalar(
        "insert into counters (centre_id, year, value) values ($1, $2, 1)
         on conflict (centre_id, year) do update set value = counters.value + 1
         returning value",
    )
    .bind(&centre.id)
    .bind(year)
    .fetch_one(&mut *tx)
    .await?;
    Ok(format!("{}-{year}-{n:06}", centre.code))
}

/// Step 1: the draft, after C-person and C-poa. Nothing is written when either fails.
pub async fn draft(
    core: &Core,
    who: &Operator,
    session_since: OffsetDateTime,
    centre: &Centre,
    n: NewDraft,
) -> Result<Application, ApiError> {
    // the application's trace begins at the desk: the registries' requests, the draft,
    // and (kept with the application) the send and every status coming back
    let span = tracing::info_span!(
        "con.desk",
        egov.sfe = crate::LANE,
        egov.regulation = %n.regulation.trim(),
        egov.step = "draft",
        egov.application = tracing::field::Empty,
    );
    tracing::Instrument::instrument(draft_traced(core, who, session_since, centre, n), span).await
}

async fn draft_traced(
    core: &Core,
    who: &Operator,
    session_since: OffsetDateTime,
    centre: &Centre,
    n: NewDraft,
) -> Result<Application, ApiError> {
    inspector_only(who)?;
    let reg = regulation_at(core, centre, n.regulation.trim())?;
    let iin = parse_iin(&n.iin, "ИИН получателя", "Алушының ЖСН")?;
    let representative = match &n.representative {
        Some(r) => {
            let rep = parse_iin(&r.iin, "ИИН представителя", "Өкілдің ЖСН")?;
            if rep == iin {
                return Err(ApiError::refused(
                    "INVALID",
                    "представитель и получатель услуги — одно лицо",
                    "өкіл мен қызметті алушы — бір адам",
                ));
            }
            let number = r.poa_number.trim();
            if number.is_empty() || number.len() > 64 {
                return Err(ApiError::refused(
                    "POA_REQUIRED",
                    "укажите номер нотариально удостоверенной доверенности представителя",
                    "өкілдің нотариат куәландырған сенімхатының нөмірін көрсетіңіз",
                ));
            }
            Some((rep, number.to_string()))
        }
        None => None,
    };
    let provider = provider_for(&reg, centre, n.provider.as_deref())?;
    // C-person, then C-poa: one request each through the gateway
    let person = person(core, who, &iin, &reg.service).await?;
    let poa = match &representative {
        Some((rep, number)) => {
            Some(power_of_attorney(core, who, number, &iin, rep, &reg.service).await?)
        }
        None => None,
    };
    let now = core.clock.now();
    let plan = steps::plan(&reg);
    let mut tx = core.pool.begin().await?;
    let number = next_number(&mut tx, centre, now).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into applications (id, number, centre_id, operator_iin, regulation_id, service, provider_id, region,
            applicant_iin, applicant, representative_iin, representative, poa_number, state, created_at, updated_at, trace_parent)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'draft', $14, $14, $15)",
    )
    .bind(id)
    .bind(&number)
    .bind(&centre.id)
    .bind(&who.iin)
    .bind(&reg.id)
    .bind(&reg.service)
    .bind(&provider)
    .bind(&reg.region)
    .bind(&iin)
    .bind(serde_json::to_value(&person).expect("serializes"))
    .bind(representative.as_ref().map(|r| r.0.clone()))
    .bind(&poa)
    .bind(representative.as_ref().map(|r| r.1.clone()))
    .bind(now)
    .bind({
        tracing::Span::current().record("egov.application", number.as_str());
        egov_telemetry::current_traceparent()
    })
    .execute(&mut *tx)
    .await?;
    let rec = steps::recorder(core, &reg, id, &who.iin, now);
    let diamond = plan.draft.last().is_some_and(|s| !s.conditions.is_empty());
    rec.done(
        &mut tx,
        &plan.draft,
        session_since,
        diamond.then_some("yes"),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("egov_con_drafts_total", "regulation" => reg.id.clone()).increment(1);
    by_number(&core.pool, &number)
        .await?
        .ok_or_else(|| ApiError::internal("the draft just written is gone"))
}

/// A required document the applicant did not bring: neither the paper original nor a
/// scan.
fn missing(reg: &Regulation, category: &str, docs: &[Attachment]) -> Vec<(String, String, String)> {
    reg.required_documents(category)
        .into_iter()
        .filter(|d| {
            !docs.iter().any(|a| {
                a.kind == d.id && (a.paper || a.content.as_deref().is_some_and(|c| !c.is_empty()))
            })
        })
        .map(|d| (d.id.clone(), d.name.ru.clone(), d.name.kk.clone()))
        .collect()
}

fn address_of(p: &Person) -> Option<String> {
    p.address.as_ref().map(|a| {
        let mut s = format!("{}, {}, {}, д. {}", a.region, a.locality, a.street, a.house);
        if let Some(f) = &a.flat {
            s.push_str(&format!(", кв. {f}"));
        }
        s
    })
}

/// A submission up to its signature: the draft, its regulation and the application
/// document to sign (the exact bytes).
pub struct Prepared {
    /// The draft.
    pub app: Application,
    /// Its regulation.
    pub reg: std::sync::Arc<Regulation>,
    /// The application document (JSON), the bytes the operator signs.
    pub bytes: Vec<u8>,
}

/// Step 2 up to the signature: the state, the category, completeness (an incomplete set
/// refuses acceptance here, recorded with its steps), the form as ИС МИО's intake will
/// check it; then the application document to sign.
pub async fn prepare(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    number: &str,
    input: &SubmitInput,
) -> Result<Prepared, ApiError> {
    inspector_only(who)?;
    let app = own(core, who, number).await?;
    if app.state != "draft" {
        return Err(ApiError::conflict(
            format!(
                "заявление № {} уже {}",
                app.number,
                if app.state == "sent" {
                    "отправлено"
                } else {
                    "не принято"
                }
            ),
            format!(
                "№ {} өтініш {}",
                app.number,
                if app.state == "sent" {
                    "жіберілген"
                } else {
                    "қабылданбаған"
                }
            ),
        ));
    }
    let reg = core
        .catalog
        .get(&app.regulation_id)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("regulation {} is gone", app.regulation_id)))?;
    if reg.category(&input.category).is_none() {
        return Err(ApiError::refused(
            "UNKNOWN_CATEGORY",
            format!(
                "категории «{}» нет в регламенте; категории: {}",
                input.category,
                reg.categories
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "«{}» санаты регламентте жоқ; санаттар: {}",
                input.category,
                reg.categories
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let person: Person =
        serde_json::from_value(app.applicant.clone()).map_err(ApiError::internal)?;
    let now = core.clock.now();
    let plan = steps::plan(&reg);
    let started: OffsetDateTime = sqlx::query_scalar(
        "select coalesce(max(completed_at), $2) from step_runs where application_id = $1",
    )
    .bind(app.id)
    .bind(app.created_at)
    .fetch_one(&core.pool)
    .await?;
    let rec = steps::recorder(core, &reg, app.id, &who.iin, now);
    // completeness at the desk
    let absent = missing(&reg, &input.category, &input.documents);
    if !absent.is_empty() {
        let mut tx = core.pool.begin().await?;
        let locked: Option<Uuid> = sqlx::query_scalar(
            "select id from applications where id = $1 and state = 'draft' for update",
        )
        .bind(app.id)
        .fetch_optional(&mut *tx)
        .await?;
        if locked.is_none() {
            return Err(ApiError::conflict(
                format!("заявление № {} уже обработано", app.number),
                format!("№ {} өтініш өңделіп қойған", app.number),
            ));
        }
        let ru = format!(
            "Документы представлены не полностью, в приеме отказано: {}",
            absent
                .iter()
                .map(|d| d.1.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        let kk = format!(
            "Құжаттар толық ұсынылмады, қабылдаудан бас тартылды: {}",
            absent
                .iter()
                .map(|d| d.2.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        let list: Vec<Value> = absent
            .iter()
            .map(|(id, ru, kk)| json!({"id": id, "name_ru": ru, "name_kk": kk}))
            .collect();
        sqlx::query(
            "update applications set state = 'refused', category = $2, refusal_code = 'DOCUMENTS_INCOMPLETE',
               refusal_message = $3, missing_documents = $4, documents = $5, updated_at = $6 where id = $1",
        )
        .bind(app.id)
        .bind(&input.category)
        .bind(&ru)
        .bind(Value::Array(list.clone()))
        .bind(documents_record(&input.documents))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // the steps up to the diamond of completeness (outcome «no»), then its refusal
        let mut taken: Vec<&egov_regulation::ChannelStep> = Vec::new();
        match plan.completeness {
            Some(c) => {
                for s in &plan.submit {
                    taken.push(s);
                    if s.id == c.id {
                        break;
                    }
                }
                let at = rec.done(&mut tx, &taken, started, Some("no")).await?;
                let refusal: Vec<_> = steps::refusal_path(&reg, c)
                    .into_iter()
                    .filter(|s| s.executed_by == steps::EXECUTED_BY)
                    .collect();
                rec.done(&mut tx, &refusal, at, None).await?;
            }
            None => {
                if let Some(first) = plan.submit.first() {
                    rec.done(&mut tx, &[first], started, Some("incomplete"))
                        .await?;
                }
            }
        }
        tx.commit().await?;
        metrics::counter!("egov_con_refused_at_desk_total", "regulation" => reg.id.clone())
            .increment(1);
        return Err(
            ApiError::refused("DOCUMENTS_INCOMPLETE", ru, kk).with_details(json!({
                "number": app.number,
                "missing": list,
                "receipt": format!("/api/v1/applications/{}/receipt.pdf", app.number),
            })),
        );
    }
    let representative = app.representative_iin.as_ref().map(|iin| Representative {
        iin: iin.clone(),
        name: None,
    });
    let doc = ApplicationDocument {
        regulation: Some(reg.id.clone()),
        service: reg.service.clone(),
        provider: app.provider_id.clone(),
        channel: CON.into(),
        applicant: Applicant {
            iin: person.iin.clone(),
            surname: person.surname.clone(),
            name: person.name.clone(),
            patronymic: person.patronymic.clone(),
            birth_date: person.birth_date.map(egov_contracts::date::format),
            phone: input.phone.clone(),
            email: input.email.clone(),
            address: input.address.clone().or_else(|| address_of(&person)),
        },
        category: input.category.clone(),
        representative,
        poa: app
            .poa_number
            .as_ref()
            .map(|n| PowerOfAttorney { number: n.clone() }),
        operator: Some(MioOperator {
            iin: who.iin.clone(),
            name: Some(who.full_name()),
            office: Some(centre.name.ru.clone()),
        }),
        form: input.form.clone(),
        documents: input.documents.clone(),
        submitted_at: now,
    };
    // the form as ИС МИО's intake will check it, before anything is signed or sent
    if let Err(problems) = egov_contracts::mio::form::check(&reg, &doc) {
        let ru: Vec<String> = problems.iter().map(|p| p.text("ru")).collect();
        let kk: Vec<String> = problems.iter().map(|p| p.text("kk")).collect();
        return Err(ApiError::refused(
            "INVALID_FORM",
            format!("форма заполнена неверно: {}", ru.join("; ")),
            format!("нысан қате толтырылған: {}", kk.join("; ")),
        ));
    }
    Ok(Prepared {
        app,
        reg,
        bytes: serde_json::to_vec(&doc).expect("serializes"),
    })
}

/// Step 2 signed by the workstation (its development keystore): [`prepare`], the
/// operator's key unsealed, the signature, then [`record`]. Without the development
/// setting the operator signs on their own client ([`sign_request`], [`signature`]).
pub async fn submit(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    number: &str,
    input: SubmitInput,
) -> Result<(Application, Delivery), ApiError> {
    if !core.server_keystore {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "SIGN_ON_CLIENT",
            "АРМ не хранит ключей подписи: подпишите заявление в своём клиенте (sign-request, затем signature)",
            "АЖО қолтаңба кілттерін сақтамайды: өтінішке өз клиентіңізде қол қойыңыз (sign-request, содан кейін signature)",
        ));
    }
    let p = prepare(core, who, centre, number, &input).await?;
    let now = core.clock.now();
    let (key, cert) = crate::operators::keys(
        &core.pool,
        &core.keystore,
        core.issuer.get().map(|i| i.as_ref()),
        who,
        now,
    )
    .await
    .map_err(ApiError::internal)?;
    let signature = egov_pki::cms::sign(&p.bytes, &key, &cert, &core.chain, true, now)
        .map_err(ApiError::internal)?;
    record(core, who, p, &input, signature).await
}

/// How long the bytes handed out for signing are kept.
pub const SIGN_REQUEST_LIFETIME: time::Duration = time::Duration::minutes(15);

/// The bytes an operator's client is to sign (NCALayer style).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignRequest {
    /// Its id, to name when the signature comes back.
    pub request: Uuid,
    /// What the bytes are.
    pub media_type: &'static str,
    /// The bytes, base64.
    pub bytes: String,
    /// Their SHA-256, hex (what a signing client shows).
    pub digest: Value,
    /// Until when the signature is taken.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Step 2 signed on the operator's own client, first half: [`prepare`], and the
/// application document kept with what the operator entered for
/// [`SIGN_REQUEST_LIFETIME`] as a sign request.
pub async fn sign_request(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    number: &str,
    input: SubmitInput,
) -> Result<SignRequest, ApiError> {
    let p = prepare(core, who, centre, number, &input).await?;
    let now = core.clock.now();
    let id = Uuid::new_v4();
    let expires_at = now + SIGN_REQUEST_LIFETIME;
    sqlx::query("delete from sign_requests where expires_at <= $1")
        .bind(now)
        .execute(&core.pool)
        .await?;
    sqlx::query(
        "insert into sign_requests (id, operator_iin, application_id, bytes, input, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&who.iin)
    .bind(p.app.id)
    .bind(&p.bytes)
    .bind(serde_json::to_value(&input).expect("serializes"))
    .bind(now)
    .bind(expires_at)
    .execute(&core.pool)
    .await?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &p.bytes);
    Ok(SignRequest {
        request: id,
        media_type: "application/json",
        bytes: base64::engine::general_purpose::STANDARD.encode(&p.bytes),
        digest: json!({"algorithm": "SHA-256", "value": hex::encode(digest.as_ref())}),
        expires_at,
    })
}

/// The signature an operator's client made over a sign request's bytes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureInput {
    /// The sign request.
    pub request: Uuid,
    /// The detached CMS signature (DER, or OpenSSL's BER), base64.
    pub signature: String,
}

/// Step 2 signed on the operator's own client, second half: the signature checked
/// against exactly the bytes handed out (the chain to the test PKI's root, validity at
/// the workstation's clock, revocation, signing key usage, the certificate's IIN the
/// operator's), each failure under its own code; then [`record`] with those bytes.
pub async fn signature(
    core: &Core,
    who: &Operator,
    number: &str,
    s: SignatureInput,
) -> Result<(Application, Delivery), ApiError> {
    inspector_only(who)?;
    let app = own(core, who, number).await?;
    let now = core.clock.now();
    let kept: Option<(Vec<u8>, Value)> = sqlx::query_as(
        "select bytes, input from sign_requests
         where id = $1 and operator_iin = $2 and application_id = $3 and expires_at > $4",
    )
    .bind(s.request)
    .bind(&who.iin)
    .bind(app.id)
    .bind(now)
    .fetch_optional(&core.pool)
    .await?;
    let Some((bytes, input)) = kept else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "SIGN_REQUEST_NOT_FOUND",
            format!(
                "запроса на подпись {} по заявлению № {} вам не выдавалось, или его срок истёк; запросите данные для подписи снова",
                s.request, app.number
            ),
            format!(
                "№ {} өтініш бойынша {} қол қою сұрауы сізге берілмеген немесе оның мерзімі өтті; қол қоюға деректерді қайта сұраңыз",
                app.number, s.request
            ),
        ));
    };
    let cms = base64::engine::general_purpose::STANDARD
        .decode(s.signature.trim())
        .map_err(|e| signature_refused("SIGNATURE_MALFORMED", &format!("base64: {e}")))?;
    let expected = egov_iin::Iin::parse(&who.iin).map_err(ApiError::internal)?;
    core.verifier
        .verify_detached(
            &bytes,
            &cms,
            &egov_pki::VerifyOptions {
                expected_iin: Some(expected),
                at: Some(now),
                require_revocation: true,
                usage: egov_pki::verify::Usage::Signing,
            },
        )
        .await
        .map_err(|e| signature_refused(e.client_code("SIGNER_NOT_OPERATOR"), &e.to_string()))?;
    let input: SubmitInput = serde_json::from_value(input).map_err(ApiError::internal)?;
    let reg = core
        .catalog
        .get(&app.regulation_id)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("regulation {} is gone", app.regulation_id)))?;
    let done = record(core, who, Prepared { app, reg, bytes }, &input, cms).await?;
    sqlx::query("delete from sign_requests where id = $1")
        .bind(s.request)
        .execute(&core.pool)
        .await?;
    Ok(done)
}

/// A client's signature refused: 422 under the code of the check that failed (503
/// `CERT_STATUS_UNKNOWN` when the certificate's status cannot be had now), the
/// verifier's words in the details.
fn signature_refused(code: &'static str, why: &str) -> ApiError {
    let (ru, kk) = match code {
        "SIGNATURE_MALFORMED" => (
            "подпись не является подписью CMS",
            "қолтаңба CMS қолтаңбасы емес",
        ),
        "SIGNATURE_MISMATCH" => (
            "подпись сделана не над выданными данными",
            "қолтаңба берілген деректерге қойылмаған",
        ),
        "CERT_UNTRUSTED" => (
            "сертификат выдан не доверенным УЦ",
            "сертификатты сенімді КО бермеген",
        ),
        "CERT_EXPIRED" => (
            "срок действия сертификата истёк",
            "сертификаттың қолданылу мерзімі өтті",
        ),
        "CERT_NOT_YET_VALID" => ("сертификат ещё не действует", "сертификат әлі жарамды емес"),
        "CERT_REVOKED" => ("сертификат отозван", "сертификат кері қайтарылған"),
        "CERT_STATUS_UNKNOWN" => (
            "статус сертификата сейчас не проверить; повторите позже",
            "сертификат мәртебесін қазір тексеру мүмкін емес; кейінірек қайталаңыз",
        ),
        "CERT_WRONG_USAGE" => (
            "сертификат не предназначен для подписи",
            "сертификат қол қоюға арналмаған",
        ),
        _ => (
            "сертификат выдан не вам: подпишите своим ключом",
            "сертификат сізге берілмеген: өз кілтіңізбен қол қойыңыз",
        ),
    };
    let status = if code == "CERT_STATUS_UNKNOWN" {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    ApiError::new(
        status,
        code,
        format!("подпись не принята: {ru}"),
        format!("қолтаңба қабылданбады: {kk}"),
    )
    .with_details(json!({"reason": why}))
}

pub use egov_shep_client::outbox::Delivery;

/// Records the signed application: in one transaction, the application `sent` with its
/// steps (the next lane's first step opened as a task) and its message to the region's
/// ИС МИО in the outbox, its messageId fixed there; after commit the relay sends it
/// through the gateway, again with the same messageId until the gateway takes it. Waits
/// up to [`Core::send_wait`] for the first delivery; returns the application and where
/// its message is.
pub async fn record(
    core: &Core,
    who: &Operator,
    p: Prepared,
    input: &SubmitInput,
    signature: Vec<u8>,
) -> Result<(Application, Delivery), ApiError> {
    let Prepared { app, reg, bytes } = p;
    let now = core.clock.now();
    let plan = steps::plan(&reg);
    let started: OffsetDateTime = sqlx::query_scalar(
        "select coalesce(max(completed_at), $2) from step_runs where application_id = $1",
    )
    .bind(app.id)
    .bind(app.created_at)
    .fetch_one(&core.pool)
    .await?;
    let rec = steps::recorder(core, &reg, app.id, &who.iin, now);
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = serde_json::to_vec(&Submission {
        document: b64.encode(&bytes),
        signature: b64.encode(&signature),
    })
    .expect("serializes");
    let message_id = Uuid::new_v4().to_string();
    let due = reg.total_deadline.due(core.calendar, now);
    let mut tx = core.pool.begin().await?;
    let updated = sqlx::query(
        "update applications set state = 'sent', category = $2, form = $3, documents = $4, message_id = $5,
           sent_at = $6, due_at = $7, updated_at = $6 where id = $1 and state = 'draft'",
    )
    .bind(app.id)
    .bind(&input.category)
    .bind(Value::Object(input.form.clone()))
    .bind(documents_record(&input.documents))
    .bind(&message_id)
    .bind(now)
    .bind(due)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(ApiError::conflict(
            format!("заявление № {} уже обработано", app.number),
            format!("№ {} өтініш өңделіп қойған", app.number),
        ));
    }
    let at = rec.done(&mut tx, &plan.submit, started, None).await?;
    if let Some(next) = plan.next_task {
        rec.open(&mut tx, next, at).await?;
    }
    let trace_parent: Option<String> =
        sqlx::query_scalar("select trace_parent from applications where id = $1")
            .bind(app.id)
            .fetch_one(&mut *tx)
            .await?;
    egov_shep_client::outbox::enqueue(
        &mut tx,
        egov_shep_client::outbox::Outgoing {
            service_id: services::SUBMIT,
            route_id: &app.region,
            message_type: egov_proto::shep::v1::MessageType::Request,
            correlation_id: &app.number,
            message_id: message_id.clone(),
            trace_parent,
        },
        &payload,
        now,
    )
    .await?;
    tx.commit().await?;
    core.outbox_wake.notify_one();
    metrics::counter!("egov_con_sent_total", "regulation" => reg.id.clone()).increment(1);
    let delivery = wait_for_delivery(core, &message_id).await?;
    let app = by_number(&core.pool, &app.number)
        .await?
        .ok_or_else(|| ApiError::internal("the application just recorded is gone"))?;
    Ok((app, delivery))
}

/// Where the message `message_id` is, waiting up to [`Core::send_wait`] while it is
/// still queued.
async fn wait_for_delivery(core: &Core, message_id: &str) -> Result<Delivery, ApiError> {
    let deadline = std::time::Instant::now() + core.send_wait;
    loop {
        let d = egov_shep_client::outbox::delivery(&core.pool, message_id)
            .await?
            .ok_or_else(|| ApiError::internal("the outbox lost a message"))?;
        if !matches!(d, Delivery::Queued { .. }) || std::time::Instant::now() >= deadline {
            return Ok(d);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The documents as recorded: kind, name, paper original seen, scan attached (its size),
/// never the scan itself (it travels in the signed application).
fn documents_record(docs: &[Attachment]) -> Value {
    Value::Array(
        docs.iter()
            .map(|a| {
                json!({
                    "kind": a.kind,
                    "name": a.name,
                    "paper": a.paper,
                    "scan_bytes": a.content.as_deref().map(|c| c.len() / 4 * 3).unwrap_or(0),
                })
            })
            .collect(),
    )
}
