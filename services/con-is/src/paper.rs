//! The paper side of channel C, from the sent application to the result in the
//! citizen's hands or in the archive; each action done by the operator of its role at
//! the application's own centre, in one transaction with the channel's steps it does.
//!
//! 1. **The register** ([`form_register`], role accumulation): the accumulation sector
//!    lists the centre's sent applications whose paper still waits for the transfer
//!    (the step the submission opened, `plan.next_task`) in a numbered register
//!    (`<centre code>-REG-<year>-<n>`, gap-free per centre and year).
//! 2. **The hand-over** ([`hand_over`], role courier): the courier takes the register
//!    to the provider; the transfer step of each of its applications is done (late
//!    past its deadline, one working day where the seed says so).
//! 3. **The return** ([`return_result`], role courier): once ИС МИО's result has
//!    arrived, the courier brings the paper result back; the courier's steps of the
//!    leg after the procedure are done, and the next step there (the barcode mark of
//!    Atyrau 2014) is opened. Only a channel whose paper goes by courier has a return.
//! 4. **The scan** ([`scan`], role issuer): the cover's barcode (Code 128 of the
//!    journal number, [`crate::cover`]), as the text a hand scanner types or as the
//!    scanned image, finds the application; the leg's marking steps are done, and the
//!    scan's time begins the issue.
//! 5. **The issue** ([`issue`], role issuer): the person's IIN checked against the
//!    applicant and the representative, the survey of the regulation's last appendix
//!    ([`crate::survey`]) recorded, the leg's issue step done (begun at the scan), the
//!    diamond «the citizen came» decided `yes`. A second issue is 409 `ALREADY_ISSUED`.
//! 6. **The archive** ([`archive_due`], every `sla_interval_secs` on the clock): a
//!    result not issued within one month of being ready at the centre (returned by the
//!    courier, or arrived where no paper travels) goes to the archive; the diamond is
//!    decided `no` and the leg's archive step is done, begun when the month ended. An
//!    archived result is still issued on request, scanned and checked the same way.
//!
//! Every function takes the operator and returns the typed result or an [`ApiError`]
//! (its code, HTTP status and message in Russian and Kazakh), for the JSON API and for
//! the screens alike.

use std::time::Duration;

use axum::http::StatusCode;
use egov_regulation::{ChannelStep, Regulation};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Core;
use crate::api::error::ApiError;
use crate::catalog::con;
use crate::centres::Centre;
use crate::desk::{self, Application};
use crate::operators::{Operator, Role};
use crate::steps::{self, EXECUTED_BY};
use crate::survey;

/// The steps of a channel's leg after the procedure that ИС ЦОН executes, by the
/// action that does them.
#[derive(Debug, Default)]
pub struct Leg<'a> {
    /// The courier's (`actor = "courier"`): done by the return.
    pub courier: Vec<&'a ChannelStep>,
    /// The others before the issue (the barcode mark of Atyrau 2014): done by the scan.
    pub marks: Vec<&'a ChannelStep>,
    /// The last step of the way forward: done by the issue.
    pub issue: Option<&'a ChannelStep>,
    /// The diamond whose `no` leads to the archive («the citizen came»).
    pub collect: Option<&'a ChannelStep>,
    /// The step its `no` leads to: done by the archive job.
    pub archive: Option<&'a ChannelStep>,
}

/// The leg of a regulation's `con` channel: its steps from the first along `yes`
/// (or `next`) to `end`, those executed here.
pub fn leg(reg: &Regulation) -> Leg<'_> {
    let ch = con(reg);
    let find = |id: &str| ch.after.iter().find(|s| s.id == id);
    let mut path: Vec<&ChannelStep> = Vec::new();
    let mut at = ch.after.first();
    while let Some(s) = at {
        if path.iter().any(|p| p.id == s.id) {
            break;
        }
        path.push(s);
        at = s
            .branches
            .iter()
            .find(|(w, _)| w == "yes")
            .map(|(_, n)| n.as_str())
            .or(s.next.as_deref())
            .and_then(find);
    }
    let ours: Vec<&ChannelStep> = path
        .into_iter()
        .filter(|s| s.executed_by == EXECUTED_BY)
        .collect();
    let collect = ours
        .iter()
        .copied()
        .find(|s| s.branches.iter().any(|(w, _)| w == "no"));
    let archive = collect
        .and_then(|c| c.branches.iter().find(|(w, _)| w == "no"))
        .and_then(|(_, n)| find(n))
        .filter(|s| s.executed_by == EXECUTED_BY);
    let issue = ours.last().copied();
    let before: Vec<&ChannelStep> = ours[..ours.len().saturating_sub(1)].to_vec();
    Leg {
        courier: before
            .iter()
            .copied()
            .filter(|s| s.actor == "courier")
            .collect(),
        marks: before
            .iter()
            .copied()
            .filter(|s| s.actor != "courier")
            .collect(),
        issue,
        collect,
        archive,
    }
}

/// Whether the channel's paper goes to the provider by courier (it has a transfer after
/// the desk), so that the paper result comes back the same way.
pub fn by_courier(reg: &Regulation) -> bool {
    steps::plan(reg).next_task.is_some()
}

/// Where an application's result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultState {
    /// No result from ИС МИО yet.
    Pending,
    /// The result has arrived; its paper is still to come back by courier.
    InTransit,
    /// At the centre, waiting for the citizen.
    Ready,
    /// Issued to the citizen.
    Issued,
    /// Not collected within a month: in the centre's archive.
    Archived,
}

/// The paper side of one application.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Paper {
    /// The register its documents went on.
    pub register: Option<String>,
    /// When the courier took that register to the provider.
    #[serde(with = "time::serde::rfc3339::option")]
    pub handed_over_at: Option<OffsetDateTime>,
    /// When ИС МИО's result arrived.
    #[serde(with = "time::serde::rfc3339::option")]
    pub result_at: Option<OffsetDateTime>,
    /// When the courier brought the paper result back.
    #[serde(with = "time::serde::rfc3339::option")]
    pub returned_at: Option<OffsetDateTime>,
    /// The courier (IIN).
    pub returned_by: Option<String>,
    /// When the cover's barcode was last scanned.
    #[serde(with = "time::serde::rfc3339::option")]
    pub scanned_at: Option<OffsetDateTime>,
    /// By whom (IIN).
    pub scanned_by: Option<String>,
    /// When the result was issued.
    #[serde(with = "time::serde::rfc3339::option")]
    pub issued_at: Option<OffsetDateTime>,
    /// By whom (IIN).
    pub issued_by: Option<String>,
    /// To whom (the applicant's or the representative's IIN).
    pub issued_to_iin: Option<String>,
    /// When it went to the archive.
    #[serde(with = "time::serde::rfc3339::option")]
    pub archived_at: Option<OffsetDateTime>,
    /// The survey's answers (none: declined or not asked).
    pub survey: Option<Value>,
}

/// The paper side of an application.
pub async fn paper(pool: &sqlx::PgPool, application: Uuid) -> sqlx::Result<Paper> {
    sqlx::query_as(
        "select r.number as register, r.handed_over_at, a.result_at, a.returned_at, a.returned_by,
                a.scanned_at, a.scanned_by, a.issued_at, a.issued_by, a.issued_to_iin, a.archived_at,
                s.answers as survey
         from applications a
         left join registers r on r.id = a.register_id
         left join surveys s on s.application_id = a.id
         where a.id = $1",
    )
    .bind(application)
    .fetch_one(pool)
    .await
}

/// Where the result of `app` is.
pub fn result_state(reg: Option<&Regulation>, app: &Application, p: &Paper) -> ResultState {
    state_of(
        reg,
        app.result.is_some(),
        p.returned_at.is_some(),
        p.issued_at.is_some(),
        p.archived_at.is_some(),
    )
}

fn state_of(
    reg: Option<&Regulation>,
    arrived: bool,
    returned: bool,
    issued: bool,
    archived: bool,
) -> ResultState {
    if issued {
        ResultState::Issued
    } else if archived {
        ResultState::Archived
    } else if !arrived {
        ResultState::Pending
    } else if reg.is_some_and(by_courier) && !returned {
        ResultState::InTransit
    } else {
        ResultState::Ready
    }
}

/// Where the results of a centre's applications are, by journal number (the
/// worklists: results in transit for the courier, ready for the issuing inspector).
pub async fn result_states(
    core: &Core,
    centre: &str,
) -> sqlx::Result<std::collections::HashMap<String, ResultState>> {
    let rows: Vec<(String, String, bool, bool, bool, bool)> = sqlx::query_as(
        "select number, regulation_id, result is not null, returned_at is not null,
                issued_at is not null, archived_at is not null
         from applications where centre_id = $1",
    )
    .bind(centre)
    .fetch_all(&core.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(number, regulation, arrived, returned, issued, archived)| {
                let reg = core.catalog.get(&regulation).map(|r| r.as_ref());
                (number, state_of(reg, arrived, returned, issued, archived))
            },
        )
        .collect())
}

/// 403 `WRONG_ROLE`: the action belongs to `role`.
fn role_only(who: &Operator, role: Role, what_ru: &str, what_kk: &str) -> Result<(), ApiError> {
    if who.role == role {
        return Ok(());
    }
    let (need_ru, need_kk) = role.position();
    let (is_ru, is_kk) = who.role.position();
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "WRONG_ROLE",
        format!("{what_ru} — дело роли «{need_ru}», а не «{is_ru}»"),
        format!("{what_kk} — «{is_kk}» емес, «{need_kk}» рөлінің ісі"),
    ))
}

fn conflict(code: &str, ru: String, kk: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, ru, kk)
}

fn regulation(core: &Core, app: &Application) -> Result<std::sync::Arc<Regulation>, ApiError> {
    core.catalog
        .get(&app.regulation_id)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("regulation {} is gone", app.regulation_id)))
}

/// 422 `INVALID_NUMBER` unless `number` looks like a journal or register number.
pub fn valid_number(number: &str) -> Result<(), ApiError> {
    let valid = !number.is_empty()
        && number.len() <= 40
        && number
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        return Ok(());
    }
    Err(ApiError::refused(
        "INVALID_NUMBER",
        format!("«{number}» не номер (заглавные латинские буквы, цифры и дефис)"),
        format!("«{number}» нөмір емес (бас латын әріптері, цифрлар және сызықша)"),
    ))
}

// ---------------------------------------------------------------- registers

/// A register (реестр) of the accumulation sector.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Register {
    /// Its number.
    pub number: String,
    /// The centre.
    pub centre_id: String,
    /// Who formed it (IIN).
    pub formed_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub formed_at: OffsetDateTime,
    /// The courier who took it to the provider.
    pub handed_over_by: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    pub handed_over_at: Option<OffsetDateTime>,
    /// Its applications' journal numbers.
    pub applications: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct RegisterRow {
    id: Uuid,
    number: String,
    centre_id: String,
    formed_by: String,
    formed_at: OffsetDateTime,
    handed_over_by: Option<String>,
    handed_over_at: Option<OffsetDateTime>,
}

const REGISTER_COLUMNS: &str =
    "id, number, centre_id, formed_by, formed_at, handed_over_by, handed_over_at";

async fn register_of(pool: &sqlx::PgPool, row: RegisterRow) -> sqlx::Result<Register> {
    let applications: Vec<String> = sqlx::query_scalar(
        "select number from applications where register_id = $1 order by number",
    )
    .bind(row.id)
    .fetch_all(pool)
    .await?;
    Ok(Register {
        number: row.number,
        centre_id: row.centre_id,
        formed_by: row.formed_by,
        formed_at: row.formed_at,
        handed_over_by: row.handed_over_by,
        handed_over_at: row.handed_over_at,
        applications,
    })
}

/// What the accumulation sector puts on a register.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRegister {
    /// The journal numbers (default: every application of the centre waiting for one).
    #[serde(default)]
    pub applications: Option<Vec<String>>,
}

/// The ids of the transfer steps (the first step after the desk) of every regulation.
fn transfer_steps(core: &Core) -> Vec<String> {
    core.catalog
        .regulations
        .iter()
        .filter_map(|r| steps::plan(r).next_task.map(|s| s.id.clone()))
        .collect()
}

/// The centre's sent applications whose paper waits for a register (their transfer
/// step open), oldest first.
pub async fn awaiting_register(core: &Core, centre: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select a.number from applications a
         where a.centre_id = $1 and a.state = 'sent' and a.register_id is null
           and exists (select 1 from step_runs s where s.application_id = a.id
                       and s.completed_at is null and s.step_id = any($2))
         order by a.sent_at, a.number",
    )
    .bind(centre)
    .bind(transfer_steps(core))
    .fetch_all(&core.pool)
    .await
}

/// Forms a register of the centre's applications waiting for one (or of those named,
/// each of which must be waiting). Nothing waiting is 409 `NOTHING_TO_REGISTER`.
pub async fn form_register(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    input: NewRegister,
) -> Result<Register, ApiError> {
    role_only(
        who,
        Role::Accumulation,
        "реестр формирует накопительный сектор",
        "тізілімді жинақтаушы сектор жасайды",
    )?;
    let waiting = awaiting_register(core, &centre.id).await?;
    let chosen = match input.applications {
        None => waiting,
        Some(named) => {
            if named.is_empty() || named.len() > 500 {
                return Err(ApiError::refused(
                    "INVALID",
                    "укажите от 1 до 500 номеров заявлений",
                    "1-ден 500-ге дейін өтініш нөмірін көрсетіңіз",
                ));
            }
            let mut out: Vec<String> = Vec::new();
            for n in named {
                valid_number(&n)?;
                desk::own(core, who, &n).await?;
                if !waiting.contains(&n) {
                    return Err(conflict(
                        "NOT_AWAITING_REGISTER",
                        format!(
                            "документы заявления № {n} не ждут реестра (не отправлено, уже в реестре или передаётся не курьером)"
                        ),
                        format!(
                            "№ {n} өтініштің құжаттары тізілімді күтпейді (жіберілмеген, тізілімде бар немесе курьермен берілмейді)"
                        ),
                    ));
                }
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            out
        }
    };
    if chosen.is_empty() {
        return Err(conflict(
            "NOTHING_TO_REGISTER",
            format!("в {} нет документов, ожидающих реестра", centre.name.ru),
            format!("{} ішінде тізілімді күтетін құжаттар жоқ", centre.name.kk),
        ));
    }
    let now = core.clock.now();
    let mut tx = core.pool.begin().await?;
    // the applications are locked, and still waiting, or nothing is written
    let locked: Vec<Uuid> = sqlx::query_scalar(
        "select id from applications where number = any($1) and centre_id = $2 and register_id is null for update",
    )
    .bind(&chosen)
    .bind(&centre.id)
    .fetch_all(&mut *tx)
    .await?;
    if locked.len() != chosen.len() {
        return Err(conflict(
            "NOT_AWAITING_REGISTER",
            "документы вошли в другой реестр одновременно; сформируйте реестр заново".into(),
            "құжаттар бір мезгілде басқа тізілімге енді; тізілімді қайта жасаңыз".into(),
        ));
    }
    let year = egov_calendar::local_date(now).year();
    let n: i64 = sqlx::query_scalar(
        "insert into register_counters (centre_id, year, value) values ($1, $2, 1)
         on conflict (centre_id, year) do update set value = register_counters.value + 1
         returning value",
    )
    .bind(&centre.id)
    .bind(year)
    .fetch_one(&mut *tx)
    .await?;
    let number = format!("{}-REG-{year}-{n:06}", centre.code);
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into registers (id, number, centre_id, formed_by, formed_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(&number)
    .bind(&centre.id)
    .bind(&who.iin)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update applications set register_id = $1, updated_at = $2 where id = any($3)")
        .bind(id)
        .bind(now)
        .bind(&locked)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    metrics::counter!("egov_con_registers_total").increment(1);
    register(core, who, &number).await
}

/// A register of the operator's centre: 404 `NOT_FOUND` for none of that number, 403
/// for another centre's.
pub async fn register(core: &Core, who: &Operator, number: &str) -> Result<Register, ApiError> {
    valid_number(number)?;
    let row: RegisterRow = sqlx::query_as(&format!(
        "select {REGISTER_COLUMNS} from registers where number = $1"
    ))
    .bind(number)
    .fetch_optional(&core.pool)
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("реестр № {number} не найден"),
            format!("№ {number} тізілім табылмады"),
        )
    })?;
    if row.centre_id != who.centre_id {
        return Err(ApiError::forbidden(
            format!("реестр № {number} сформирован в другом ЦОН"),
            format!("№ {number} тізілім басқа ХҚО-да жасалған"),
        ));
    }
    Ok(register_of(&core.pool, row).await?)
}

/// The registers of the operator's centre, newest first.
pub async fn registers(core: &Core, who: &Operator) -> Result<Vec<Register>, ApiError> {
    let rows: Vec<RegisterRow> = sqlx::query_as(&format!(
        "select {REGISTER_COLUMNS} from registers where centre_id = $1 order by formed_at desc, number desc limit 200"
    ))
    .bind(&who.centre_id)
    .fetch_all(&core.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(register_of(&core.pool, r).await?);
    }
    Ok(out)
}

/// The register `number` as PDF (Russian and Kazakh), for any operator of its centre.
pub async fn register_pdf(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    number: &str,
) -> Result<Vec<u8>, ApiError> {
    let r = register(core, who, number).await?;
    let mut lines = Vec::with_capacity(r.applications.len());
    for n in &r.applications {
        let app = desk::own(core, who, n).await?;
        let reg = regulation(core, &app)?;
        let name = ["surname", "name", "patronymic"]
            .iter()
            .filter_map(|k| app.applicant.get(*k).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let provider = reg
            .provider(&app.provider_id)
            .map(|p| (p.name.ru.clone(), p.name.kk.clone()))
            .unwrap_or_else(|| (app.provider_id.clone(), app.provider_id.clone()));
        lines.push(crate::cover::RegisterLine {
            number: app.number.clone(),
            service: (reg.service_name.ru.clone(), reg.service_name.kk.clone()),
            applicant: format!("{name} ({})", app.applicant_iin),
            provider,
        });
    }
    let name_of = |iin: &str| {
        let iin = iin.to_string();
        async move {
            crate::operators::get(&core.pool, &iin)
                .await
                .map(|o| o.map(|o| o.full_name()).unwrap_or(iin))
        }
    };
    let formed_by = name_of(&r.formed_by).await?;
    let courier = match &r.handed_over_by {
        Some(c) => Some(name_of(c).await?),
        None => None,
    };
    crate::cover::register_pdf(&r, centre, &lines, &formed_by, courier.as_deref())
        .map_err(ApiError::internal)
}

/// The courier takes the register to the provider: the transfer step of each of its
/// applications is done. A second hand-over is 409 `ALREADY_HANDED_OVER`.
pub async fn hand_over(core: &Core, who: &Operator, number: &str) -> Result<Register, ApiError> {
    role_only(
        who,
        Role::Courier,
        "реестр доставляет курьер",
        "тізілімді курьер жеткізеді",
    )?;
    let reg = register(core, who, number).await?;
    let now = core.clock.now();
    let mut tx = core.pool.begin().await?;
    let taken = sqlx::query(
        "update registers set handed_over_by = $2, handed_over_at = $3 where number = $1 and handed_over_at is null",
    )
    .bind(number)
    .bind(&who.iin)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(conflict(
            "ALREADY_HANDED_OVER",
            format!("реестр № {number} уже передан услугодателю"),
            format!("№ {number} тізілім көрсетілетін қызметті берушіге берілген"),
        ));
    }
    let apps: Vec<(Uuid, String)> = sqlx::query_as(
        "select a.id, a.regulation_id from applications a join registers r on r.id = a.register_id
         where r.number = $1 for update of a",
    )
    .bind(number)
    .fetch_all(&mut *tx)
    .await?;
    for (id, regulation) in apps {
        let Some(r) = core.catalog.get(&regulation) else {
            continue;
        };
        if let Some(step) = steps::plan(r).next_task {
            let rec = steps::recorder(core, r, id, &who.iin, now);
            rec.finish(&mut tx, step, now, None).await?;
        }
    }
    tx.commit().await?;
    metrics::counter!("egov_con_registers_handed_over_total").increment(1);
    Ok(Register {
        handed_over_by: Some(who.iin.clone()),
        handed_over_at: Some(now),
        ..reg
    })
}

/// The cover sheet of application `number`'s result (PDF, Russian and Kazakh, with the
/// journal number's barcode), for any operator of its centre once the result arrived.
pub async fn cover(
    core: &Core,
    who: &Operator,
    centre: &Centre,
    number: &str,
) -> Result<Vec<u8>, ApiError> {
    let app = desk::own(core, who, number).await?;
    arrived(&app)?;
    let reg = regulation(core, &app)?;
    crate::cover::render(&app, &reg, centre).map_err(ApiError::internal)
}

// ---------------------------------------------------------------- the result's way back

/// The result has arrived from ИС МИО (in the inbox's transaction): opens the first
/// step of the leg that waits on this centre: the courier's, or, where no paper
/// travels, the marking one. The issue's step begins only when the citizen is at the
/// desk (the scan), so it is never opened here.
pub async fn on_result(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    reg: &Regulation,
    application: Uuid,
    by: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("update applications set result_at = coalesce(result_at, $2) where id = $1")
        .bind(application)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let l = leg(reg);
    let first = match l.courier.first() {
        Some(c) => Some(*c),
        None if !by_courier(reg) => l.marks.first().copied(),
        None => None,
    };
    if let Some(step) = first {
        open_once(core, tx, reg, application, by, step, now).await?;
    }
    Ok(())
}

async fn open_once(
    core: &Core,
    tx: &mut sqlx::PgConnection,
    reg: &Regulation,
    application: Uuid,
    by: &str,
    step: &ChannelStep,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    let opened: bool = sqlx::query_scalar(
        "select exists (select 1 from step_runs where application_id = $1 and step_id = $2)",
    )
    .bind(application)
    .bind(&step.id)
    .fetch_one(&mut *tx)
    .await?;
    if !opened {
        let rec = steps::recorder(core, reg, application, by, now);
        rec.open(tx, step, now).await?;
    }
    Ok(())
}

/// The result of `app` must have arrived: else 409 `RESULT_NOT_ARRIVED`.
fn arrived(app: &Application) -> Result<(), ApiError> {
    if app.result.is_some() {
        return Ok(());
    }
    Err(conflict(
        "RESULT_NOT_ARRIVED",
        format!(
            "результат по заявлению № {} от услугодателя ещё не поступил",
            app.number
        ),
        format!(
            "№ {} өтініш бойынша нәтиже көрсетілетін қызметті берушіден әлі түскен жоқ",
            app.number
        ),
    ))
}

/// The courier brings the paper result of application `number` back to the centre.
pub async fn return_result(core: &Core, who: &Operator, number: &str) -> Result<Paper, ApiError> {
    role_only(
        who,
        Role::Courier,
        "результат от услугодателя доставляет курьер",
        "нәтижені көрсетілетін қызметті берушіден курьер жеткізеді",
    )?;
    let app = desk::own(core, who, number).await?;
    let reg = regulation(core, &app)?;
    if !by_courier(&reg) {
        return Err(conflict(
            "NOT_BY_COURIER",
            format!(
                "по регламенту {} документы не передаются курьером: результат поступает в ИС ЦОН электронно",
                reg.id
            ),
            format!(
                "{} регламенті бойынша құжаттар курьермен берілмейді: нәтиже ХҚО АЖ-ға электронды түрде түседі",
                reg.id
            ),
        ));
    }
    arrived(&app)?;
    let now = core.clock.now();
    let mut tx = core.pool.begin().await?;
    let done = sqlx::query(
        "update applications set returned_at = $2, returned_by = $3, updated_at = $2
         where id = $1 and returned_at is null",
    )
    .bind(app.id)
    .bind(now)
    .bind(&who.iin)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(conflict(
            "ALREADY_RETURNED",
            format!(
                "результат по заявлению № {} уже возвращён в ЦОН",
                app.number
            ),
            format!("№ {} өтініш бойынша нәтиже ХҚО-ға қайтарылған", app.number),
        ));
    }
    let l = leg(&reg);
    let rec = steps::recorder(core, &reg, app.id, &who.iin, now);
    let begun = app.status_at.unwrap_or(now);
    for s in &l.courier {
        rec.finish(&mut tx, s, begun, None).await?;
    }
    if let Some(m) = l.marks.first() {
        open_once(core, &mut tx, &reg, app.id, &who.iin, m, now).await?;
    }
    tx.commit().await?;
    metrics::counter!("egov_con_results_returned_total", "regulation" => reg.id.clone())
        .increment(1);
    Ok(paper(&core.pool, app.id).await?)
}

/// What the issuing inspector scanned: the text a hand scanner types, or the image of
/// the scanned cover (PNG, base64).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanInput {
    /// The decoded text.
    #[serde(default)]
    pub text: Option<String>,
    /// The scanned image, PNG in base64.
    #[serde(default)]
    pub image: Option<String>,
}

/// What a scan found.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The text the barcode holds.
    pub text: String,
    /// The application.
    pub application: Application,
    /// Its paper side after the scan.
    pub paper: Paper,
}

/// Reads the barcode of a scan: the text as typed, or decoded from the image. A
/// damaged barcode (its check character wrong) is 422 `BARCODE_DAMAGED`; an image
/// without a readable barcode, 422 `BARCODE_NOT_FOUND`.
pub fn read_barcode(input: &ScanInput) -> Result<String, ApiError> {
    use base64::Engine as _;
    match (&input.text, &input.image) {
        (Some(t), None) => Ok(t.trim().to_string()),
        (None, Some(img)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(img.trim())
                .map_err(|e| {
                    ApiError::refused(
                        "INVALID_IMAGE",
                        format!("изображение скана не в base64: {e}"),
                        format!("скан кескіні base64 емес: {e}"),
                    )
                })?;
            let (pixels, width) = crate::cover::gray_png(&bytes).map_err(|e| {
                ApiError::refused(
                    "INVALID_IMAGE",
                    format!("скан не читается как PNG: {e}"),
                    format!("скан PNG ретінде оқылмайды: {e}"),
                )
            })?;
            egov_documents::code128::decode_image(&pixels, width).map_err(|e| match e {
                egov_documents::code128::Error::Checksum => ApiError::refused(
                    "BARCODE_DAMAGED",
                    "штрих-код повреждён: контрольный символ не совпадает; отсканируйте ещё раз или введите номер",
                    "штрих-код бүлінген: бақылау таңбасы сәйкес емес; қайта сканерлеңіз немесе нөмірді енгізіңіз",
                ),
                _ => ApiError::refused(
                    "BARCODE_NOT_FOUND",
                    "на скане не найден штрих-код Code 128",
                    "сканнан Code 128 штрих-коды табылмады",
                ),
            })
        }
        _ => Err(ApiError::refused(
            "INVALID",
            "укажите либо текст штрих-кода, либо изображение скана",
            "штрих-кодтың мәтінін немесе скан кескінін көрсетіңіз",
        )),
    }
}

/// The issuing inspector scans a cover: the application of its barcode, at this
/// centre, with its result back. A barcode of no application is 404
/// `BARCODE_UNKNOWN`; the leg's marking steps are done, and the scan's time begins
/// the issue.
pub async fn scan(core: &Core, who: &Operator, input: ScanInput) -> Result<Scanned, ApiError> {
    role_only(
        who,
        Role::Issuer,
        "штрих-код результата сканирует инспектор по выдаче",
        "нәтиженің штрих-кодын беру жөніндегі инспектор сканерлейді",
    )?;
    let text = read_barcode(&input)?;
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "BARCODE_UNKNOWN",
            format!("штрих-код «{text}» не соответствует ни одному заявлению"),
            format!("«{text}» штрих-коды ешбір өтінішке сәйкес келмейді"),
        )
    };
    if valid_number(&text).is_err() {
        return Err(unknown());
    }
    let app = desk::by_number(&core.pool, &text)
        .await?
        .filter(|a| a.number == text)
        .ok_or_else(unknown)?;
    let app = desk::own(core, who, &app.number).await?;
    let reg = regulation(core, &app)?;
    arrived(&app)?;
    let p = paper(&core.pool, app.id).await?;
    if by_courier(&reg) && p.returned_at.is_none() {
        return Err(conflict(
            "NOT_RETURNED",
            format!(
                "бумажный результат по заявлению № {} курьер ещё не вернул в ЦОН",
                app.number
            ),
            format!(
                "№ {} өтініш бойынша қағаз нәтижені курьер ХҚО-ға әлі қайтарған жоқ",
                app.number
            ),
        ));
    }
    if p.issued_at.is_none() {
        let now = core.clock.now();
        let mut tx = core.pool.begin().await?;
        sqlx::query(
            "update applications set scanned_at = $2, scanned_by = $3, updated_at = $2 where id = $1",
        )
        .bind(app.id)
        .bind(now)
        .bind(&who.iin)
        .execute(&mut *tx)
        .await?;
        let rec = steps::recorder(core, &reg, app.id, &who.iin, now);
        let begun = p.returned_at.or(p.result_at).unwrap_or(now);
        for m in leg(&reg).marks {
            rec.finish(&mut tx, m, begun, None).await?;
        }
        tx.commit().await?;
    }
    Ok(Scanned {
        text,
        paper: paper(&core.pool, app.id).await?,
        application: app,
    })
}

/// What the issuing inspector enters at the issue.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueInput {
    /// The IIN of the person at the desk: the applicant or the representative.
    pub iin: String,
    /// The survey's answers (question → answer), where the regulation has a survey;
    /// none: the citizen declined it.
    #[serde(default)]
    pub survey: Option<survey::Answers>,
}

/// Issues the result of application `number` to the person at the desk.
pub async fn issue(
    core: &Core,
    who: &Operator,
    number: &str,
    input: IssueInput,
) -> Result<Paper, ApiError> {
    role_only(
        who,
        Role::Issuer,
        "результат выдаёт инспектор по выдаче",
        "нәтижені беру жөніндегі инспектор береді",
    )?;
    let app = desk::own(core, who, number).await?;
    let reg = regulation(core, &app)?;
    let iin = egov_iin::Iin::parse(input.iin.trim())
        .map(|i| i.as_string())
        .map_err(|_| ApiError::invalid_iin(&input.iin, "ИИН получателя", "Алушының ЖСН"))?;
    arrived(&app)?;
    let p = paper(&core.pool, app.id).await?;
    if p.issued_at.is_some() {
        return Err(already_issued(&app));
    }
    let Some(scanned_at) = p.scanned_at else {
        return Err(conflict(
            "NOT_SCANNED",
            format!(
                "сначала отсканируйте штрих-код на обложке результата по заявлению № {}",
                app.number
            ),
            format!(
                "алдымен № {} өтініш нәтижесінің мұқабасындағы штрих-кодты сканерлеңіз",
                app.number
            ),
        ));
    };
    if iin != app.applicant_iin && app.representative_iin.as_deref() != Some(iin.as_str()) {
        return Err(ApiError::refused(
            "RECIPIENT_MISMATCH",
            format!(
                "ИИН {iin} не принадлежит ни услугополучателю, ни его представителю по заявлению № {}: результат не выдаётся",
                app.number
            ),
            format!(
                "ЖСН {iin} № {} өтініш бойынша қызметті алушыға да, оның өкіліне де тиесілі емес: нәтиже берілмейді",
                app.number
            ),
        ));
    }
    let answers = match (survey::of(&reg), &input.survey) {
        (_, None) => None,
        (None, Some(_)) => {
            return Err(ApiError::refused(
                "NO_SURVEY",
                format!("регламент {} не содержит анкеты", reg.id),
                format!("{} регламентінде сауалнама жоқ", reg.id),
            ));
        }
        (Some(s), Some(a)) => {
            survey::check(s, a).map_err(|(ru, kk)| ApiError::refused("INVALID_SURVEY", ru, kk))?;
            Some(serde_json::to_value(a).expect("serializes"))
        }
    };
    let now = core.clock.now();
    let mut tx = core.pool.begin().await?;
    let done = sqlx::query(
        "update applications set issued_at = $2, issued_by = $3, issued_to_iin = $4, updated_at = $2
         where id = $1 and issued_at is null",
    )
    .bind(app.id)
    .bind(now)
    .bind(&who.iin)
    .bind(&iin)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(already_issued(&app));
    }
    if survey::of(&reg).is_some() {
        sqlx::query("insert into surveys (application_id, answers, at) values ($1, $2, $3)")
            .bind(app.id)
            .bind(&answers)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    let l = leg(&reg);
    let rec = steps::recorder(core, &reg, app.id, &who.iin, now);
    // from the archive, the leg ended there: the issue is recorded on the application only
    let via_archive = p.archived_at.is_some() && l.archive.is_some();
    if !via_archive {
        if let Some(c) = l.collect {
            rec.decide(&mut tx, c, "yes").await?;
        }
        if let Some(i) = l.issue {
            rec.finish(&mut tx, i, scanned_at, None).await?;
        }
    }
    tx.commit().await?;
    metrics::counter!("egov_con_results_issued_total", "regulation" => reg.id.clone()).increment(1);
    for (question, answer) in input.survey.iter().flatten() {
        metrics::counter!(
            "egov_survey_answers_total",
            "system" => crate::SYSTEM_ID,
            "regulation" => reg.id.clone(),
            "question" => question.clone(),
            "answer" => answer.clone()
        )
        .increment(1);
    }
    Ok(paper(&core.pool, app.id).await?)
}

fn already_issued(app: &Application) -> ApiError {
    conflict(
        "ALREADY_ISSUED",
        format!("результат по заявлению № {} уже выдан", app.number),
        format!("№ {} өтініш бойынша нәтиже берілген", app.number),
    )
}

// ---------------------------------------------------------------- the archive

/// How long a result waits for the citizen before the archive.
pub const UNCOLLECTED: egov_calendar::Deadline = egov_calendar::Deadline::Months(1);

/// An uncollected result: id, number, regulation, arrived, returned.
type Uncollected = (
    Uuid,
    String,
    String,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

/// Moves to the archive every result not issued within one month of being ready at its
/// centre (returned by the courier, or arrived where no paper travels); returns their
/// journal numbers. Each in its own transaction, once.
pub async fn archive_due(core: &Core) -> sqlx::Result<Vec<String>> {
    let now = core.clock.now();
    let waiting: Vec<Uncollected> = sqlx::query_as(
        "select id, number, regulation_id, result_at, returned_at from applications
             where result is not null and issued_at is null and archived_at is null",
    )
    .fetch_all(&core.pool)
    .await?;
    let mut archived = Vec::new();
    for (id, number, regulation, result_at, returned_at) in waiting {
        let Some(reg) = core.catalog.get(&regulation) else {
            continue;
        };
        let ready = if by_courier(reg) {
            returned_at
        } else {
            result_at
        };
        let Some(ready) = ready else { continue };
        let month_end = UNCOLLECTED.due(core.calendar, ready);
        if month_end > now {
            continue;
        }
        let mut tx = core.pool.begin().await?;
        let moved = sqlx::query(
            "update applications set archived_at = $2, updated_at = $2
             where id = $1 and archived_at is null and issued_at is null",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            continue;
        }
        let l = leg(reg);
        let rec = steps::recorder(core, reg, id, crate::SYSTEM_ID, now);
        if let Some(c) = l.collect {
            rec.decide(&mut tx, c, "no").await?;
        }
        if let Some(a) = l.archive {
            rec.finish(&mut tx, a, month_end, None).await?;
        }
        tx.commit().await?;
        metrics::counter!("egov_con_results_archived_total", "regulation" => reg.id.clone())
            .increment(1);
        tracing::info!(application = %number, "result not collected within a month: archived");
        archived.push(number);
    }
    Ok(archived)
}

/// Runs [`archive_due`] every `every` until `shutdown`.
pub async fn archive_monitor(core: Core, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = archive_due(&core).await {
            tracing::warn!(error = %e, "archive scan failed");
        }
    }
}

/// The paper side of an application as the API shows it.
pub fn view(reg: Option<&Regulation>, app: &Application, p: &Paper) -> Value {
    let mut v = serde_json::to_value(p).expect("serializes");
    v["state"] = json!(result_state(reg, app, p));
    v["by_courier"] = json!(reg.is_some_and(by_courier));
    v["cover"] = json!(
        app.result
            .is_some()
            .then(|| format!("/api/v1/applications/{}/cover.pdf", app.number))
    );
    v["survey_questions"] = json!(reg.and_then(survey::of).map(|s| json!({
        "questions": s.questions, "answers": s.answers,
    })));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Vec<Regulation> {
        egov_regulation::load_dir(&egov_regulation::shipped_dir())
            .unwrap()
            .into_iter()
            .filter(|r| r.channel(crate::catalog::CON).is_some())
            .collect()
    }

    #[test]
    fn every_leg_ends_in_an_issue_and_atyrau_2014_has_the_archive() {
        for r in &regs() {
            let l = leg(r);
            assert!(l.issue.is_some(), "{}: an issue step", r.id);
            match r.id.as_str() {
                "almaty-2013-housing-queue" => {
                    assert_eq!(l.courier.len(), 1);
                    assert_eq!(l.issue.unwrap().id, "con-issue");
                    assert!(by_courier(r));
                }
                "atyrau-2014-housing-queue" => {
                    assert_eq!(l.marks[0].id, "con-mark-returned");
                    assert_eq!(l.collect.unwrap().id, "con-mark-returned");
                    assert_eq!(l.issue.unwrap().id, "con-issue-result");
                    assert_eq!(l.archive.unwrap().id, "con-archive");
                    assert!(by_courier(r));
                }
                "akzhar-2012-housing-queue" | "atyrau-2012-housing-queue" => {
                    assert!(l.courier.is_empty() && l.marks.is_empty());
                    assert!(!by_courier(r));
                }
                _ => assert!(l.courier.is_empty() && l.marks.is_empty()),
            }
        }
    }
}
