//! The citizens' accounts: registration with IIN and password, login (C-auth) and the
//! bearer tokens of their sessions.
//!
//! Registration asks ГБД ФЛ through the gateway (`gbd-fl.person.get`, the portal's
//! policy gives name, birth and address) whether the IIN belongs to a living person, and
//! keeps what it answers to fill the citizen's forms; nothing is written when it does not.
//! The password is hashed with argon2id ([`egov_accounts::hash_password`]). Logins are
//! [`egov_accounts::login`]: throttled after repeated failures of one IIN; a token lives
//! [`crate::Config::session_minutes`] and only its SHA-256 is stored.

use egov_accounts::token_hash;
use egov_contracts::gbd_fl::{self, Person, PersonAnswer, PersonRequest, PersonStatus};
use egov_contracts::{ErrorBody, Purpose};
use egov_shep_client::codes;
use egov_system::api::ApiError;
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::Core;

/// Where the accounts and their sessions are.
const STORE: egov_accounts::Store = egov_accounts::Store {
    accounts: "citizens",
    session_column: "citizen_iin",
};

/// The shortest password.
pub const MIN_PASSWORD: usize = 8;
/// The longest password.
pub const MAX_PASSWORD: usize = 128;

/// A registered citizen as the cabinet shows them.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Citizen {
    /// IIN.
    pub iin: String,
    /// E-mail for notifications.
    pub email: Option<String>,
    /// Surname (ГБД ФЛ).
    pub surname: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Patronymic.
    pub patronymic: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// The registered address.
    pub address: Option<String>,
}

const COLUMNS: &str = "iin, email, surname, name, patronymic, birth_date, address";

/// A citizen by IIN.
pub async fn get(pool: &PgPool, iin: &str) -> sqlx::Result<Option<Citizen>> {
    sqlx::query_as(&format!("select {COLUMNS} from citizens where iin = $1"))
        .bind(iin)
        .fetch_optional(pool)
        .await
}

/// Parses an IIN of a request.
pub fn parse_iin(value: &str) -> Result<String, ApiError> {
    egov_iin::Iin::parse(value.trim())
        .map(|i| i.as_string())
        .map_err(|_| ApiError::invalid_iin(value, "ИИН", "ЖСН"))
}

/// Checks an e-mail address (one `@`, a dot in the domain, no spaces, at most 254).
pub fn parse_email(value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let ok = v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(v.to_string())
    } else {
        Err(ApiError::refused(
            "INVALID_EMAIL",
            format!("«{value}» не адрес электронной почты"),
            format!("«{value}» электрондық пошта мекенжайы емес"),
        ))
    }
}

/// C-person: ГБД ФЛ, through the gateway, on the citizen's own behalf.
pub async fn person(core: &Core, iin: &str) -> Result<Person, ApiError> {
    let client = core
        .client()
        .map_err(|e| ApiError::gateway_unavailable("ГБД ФЛ", e))?;
    let body = PersonRequest {
        iin: iin.to_string(),
        purpose: Purpose {
            service: Some("portal-registration".into()),
            application: None,
            requester_iin: Some(iin.to_string()),
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
    let unknown = |code: &str| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!(
                "ИИН {iin} не найден в государственной базе данных «Физические лица» среди действующих: регистрация невозможна"
            ),
            format!(
                "ЖСН {iin} «Жеке тұлғалар» мемлекеттік дерекқорында қолданыстағылар арасында табылмады: тіркелу мүмкін емес"
            ),
        )
    };
    if reply.is_success() {
        let a: PersonAnswer = serde_json::from_slice(&reply.payload).map_err(|e| {
            ApiError::gateway_unavailable("ГБД ФЛ", format!("unreadable answer: {e}"))
        })?;
        return match a.person.status {
            PersonStatus::Alive => Ok(a.person),
            PersonStatus::Deceased => Err(unknown("PERSON_DECEASED")),
            PersonStatus::Cancelled => Err(unknown("IIN_CANCELLED")),
        };
    }
    if reply.code() == codes::BUSINESS_ERROR
        && let Ok(e) = serde_json::from_slice::<ErrorBody>(&reply.payload)
    {
        return Err(match e.code.as_str() {
            gbd_fl::errors::INVALID_IIN => ApiError::invalid_iin(iin, "ИИН", "ЖСН"),
            gbd_fl::errors::IIN_CANCELLED => unknown("IIN_CANCELLED"),
            _ => unknown("PERSON_NOT_FOUND"),
        });
    }
    Err(ApiError::gateway_unavailable(
        "ГБД ФЛ",
        format!("the gateway answered {}", reply.code()),
    ))
}

fn already_registered(iin: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "ALREADY_REGISTERED",
        format!("ИИН {iin} уже зарегистрирован на портале"),
        format!("ЖСН {iin} порталда тіркелген"),
    )
}

/// What registration takes.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// IIN.
    pub iin: String,
    /// Password.
    pub password: String,
    /// E-mail for notifications.
    #[serde(default)]
    pub email: Option<String>,
}

/// Registers a citizen: the IIN known to ГБД ФЛ, not registered yet, the password long
/// enough.
pub async fn register(core: &Core, r: Registration) -> Result<Citizen, ApiError> {
    let iin = parse_iin(&r.iin)?;
    let chars = r.password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&chars) {
        return Err(ApiError::refused(
            "WEAK_PASSWORD",
            format!("пароль должен быть от {MIN_PASSWORD} до {MAX_PASSWORD} символов"),
            format!("құпиясөз {MIN_PASSWORD}-ден {MAX_PASSWORD}-ге дейін таңбадан тұруы керек"),
        ));
    }
    let email = r.email.as_deref().map(parse_email).transpose()?;
    if get(&core.pool, &iin).await?.is_some() {
        return Err(already_registered(&iin));
    }
    let p = person(core, &iin).await?;
    let address = p
        .address
        .as_ref()
        .map(egov_contracts::gbd_fl::Address::line);
    let hash = egov_accounts::hash_password(&r.password);
    let done = sqlx::query(
        "insert into citizens (iin, password_hash, email, surname, name, patronymic, birth_date, address, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (iin) do nothing",
    )
    .bind(&iin)
    .bind(hash)
    .bind(&email)
    .bind(&p.surname)
    .bind(&p.name)
    .bind(&p.patronymic)
    .bind(p.birth_date.map(egov_contracts::date::format))
    .bind(address)
    .bind(core.clock.now())
    .execute(&core.pool)
    .await?;
    if done.rows_affected() != 1 {
        return Err(already_registered(&iin));
    }
    metrics::counter!("egov_portal_registrations_total").increment(1);
    get(&core.pool, &iin)
        .await?
        .ok_or_else(|| ApiError::internal("the citizen just registered is gone"))
}

/// What a login came to.
pub enum Login {
    /// A new session: its token and when it expires.
    Ok(String, OffsetDateTime),
    /// Wrong IIN or password.
    Refused,
    /// Too many failures lately.
    Throttled {
        /// When the next attempt is checked.
        until: OffsetDateTime,
    },
}

/// Checks a password and opens a session.
pub async fn login(core: &Core, iin: &str, password: &str) -> sqlx::Result<Login> {
    let now = core.clock.now();
    Ok(
        match egov_accounts::login(&core.pool, STORE, iin, password, now, core.session_lifetime)
            .await?
        {
            egov_accounts::Attempt::Ok(token) => Login::Ok(token, now + core.session_lifetime),
            egov_accounts::Attempt::Refused => {
                // C-auth's `no` (`portal-auth-refused`): no application to record it on
                metrics::counter!("egov_portal_login_refused_total", "reason" => "password")
                    .increment(1);
                Login::Refused
            }
            egov_accounts::Attempt::Throttled { until } => {
                metrics::counter!("egov_portal_login_refused_total", "reason" => "throttled")
                    .increment(1);
                Login::Throttled { until }
            }
        },
    )
}

/// The citizen of a live session token.
pub async fn session(
    pool: &PgPool,
    token: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select citizen_iin from sessions where token_hash = $1 and expires_at > $2")
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(pool)
        .await
}

/// Whether `token` is of a session that has expired (not one never opened).
pub async fn expired(pool: &PgPool, token: &str, now: OffsetDateTime) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from sessions where token_hash = $1 and expires_at <= $2)",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_one(pool)
    .await
}

/// Ends a session.
pub async fn logout(pool: &PgPool, token: &str) -> sqlx::Result<()> {
    sqlx::query("delete from sessions where token_hash = $1")
        .bind(token_hash(token))
        .execute(pool)
        .await?;
    Ok(())
}
