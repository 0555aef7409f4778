//! `enis.poa.check`: is this power of attorney valid today for this service?

use egov_contracts::enis::{
    Invalidity, PoaCheckAnswer, PoaCheckRequest, SCOPE_ALL, errors, services,
};
use egov_shep_client::server::{Answer, Incoming, SyncHandler};
use sqlx::PgPool;
use time::Date;

use crate::store;

/// The handler behind ЕНИС's `SyncChannel`.
pub struct Notarial {
    pool: PgPool,
}

fn refuse(code: &str, message: impl Into<String>) -> Answer {
    egov_system::refusal(code, message, serde_json::Value::Null)
}

/// Today in Kazakhstan (UTC+5).
pub fn today() -> Date {
    egov_calendar::today()
}

fn valid_iin(s: &str, what: &str) -> Result<(), Answer> {
    egov_iin::Iin::parse(s).map(|_| ()).map_err(|e| {
        refuse(
            errors::INVALID_IIN,
            format!("{what} {s:?} is not a valid IIN: {e}"),
        )
    })
}

/// The verdict on a power of attorney (pure: the rules of validity in one place).
pub fn verdict(
    poa: Option<&egov_contracts::enis::Poa>,
    req: &PoaCheckRequest,
    on: Date,
) -> (Option<Invalidity>, String) {
    let Some(p) = poa else {
        return (
            Some(Invalidity::Absent),
            format!("доверенность № {} в ЕНИС не найдена", req.number),
        );
    };
    if p.principal_iin != req.principal_iin {
        return (
            Some(Invalidity::OtherPrincipal),
            format!("доверенность № {} выдана другим доверителем", req.number),
        );
    }
    if p.representative_iin != req.representative_iin {
        return (
            Some(Invalidity::OtherRepresentative),
            format!("доверенность № {} выдана другому представителю", req.number),
        );
    }
    if let Some(r) = p.revoked_on
        && r <= on
    {
        return (
            Some(Invalidity::Revoked),
            format!(
                "доверенность № {} отменена {}",
                req.number,
                egov_contracts::date::format(r)
            ),
        );
    }
    if on < p.valid_from {
        return (
            Some(Invalidity::NotYetValid),
            format!(
                "доверенность № {} действует с {}",
                req.number,
                egov_contracts::date::format(p.valid_from)
            ),
        );
    }
    if on > p.valid_until {
        return (
            Some(Invalidity::Expired),
            format!(
                "срок действия доверенности № {} истек {}",
                req.number,
                egov_contracts::date::format(p.valid_until)
            ),
        );
    }
    if !p.scope.iter().any(|s| s == SCOPE_ALL || *s == req.service) {
        return (
            Some(Invalidity::OutOfScope),
            format!(
                "доверенность № {} не распространяется на услугу {} (полномочия: {})",
                req.number,
                req.service,
                p.scope.join(", ")
            ),
        );
    }
    (None, format!("доверенность № {} действительна", req.number))
}

impl Notarial {
    /// A handler over ЕНИС's database.
    pub fn new(pool: PgPool) -> Self {
        Notarial { pool }
    }

    async fn check(&self, req: &Incoming) -> Result<Answer, Answer> {
        let r: PoaCheckRequest = serde_json::from_slice(&req.opened.payload).map_err(|e| {
            refuse(
                errors::INVALID_REQUEST,
                format!("the request is not valid: {e}"),
            )
        })?;
        if r.number.trim().is_empty() || r.number.len() > 64 {
            return Err(refuse(
                errors::INVALID_REQUEST,
                "number must be given (at most 64 characters)",
            ));
        }
        if r.service.trim().is_empty() {
            return Err(refuse(errors::INVALID_REQUEST, "service must be given"));
        }
        valid_iin(&r.principal_iin, "principal_iin")?;
        valid_iin(&r.representative_iin, "representative_iin")?;
        if let Some(x) = &r.purpose.requester_iin {
            valid_iin(x, "purpose.requester_iin")?;
        }
        let on = r.on.unwrap_or_else(today);
        let poa = store::poa(&self.pool, r.number.trim()).await.map_err(|e| {
            tracing::error!(error = %e, "ЕНИС database error");
            Answer::internal()
        })?;
        let (reason, message) = verdict(poa.as_ref(), &r, on);
        store::log_check(
            &self.pool,
            &store::Check {
                system: req.sender(),
                number: &r.number,
                principal_iin: &r.principal_iin,
                representative_iin: &r.representative_iin,
                service: &r.service,
                checked_on: on,
                outcome: reason.map(Invalidity::as_str).unwrap_or("valid"),
                requester_iin: r.purpose.requester_iin.as_deref(),
                application: r.purpose.application.as_deref(),
                message_id: &req.opened.header.message_id,
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "ЕНИС check log write failed");
            Answer::internal()
        })?;
        // the details go only to a caller who named the right principal and representative
        let disclose = matches!(
            reason,
            None | Some(Invalidity::Revoked)
                | Some(Invalidity::Expired)
                | Some(Invalidity::NotYetValid)
                | Some(Invalidity::OutOfScope)
        );
        let answer = PoaCheckAnswer {
            valid: reason.is_none(),
            reason,
            message,
            checked_on: on,
            poa: if disclose { poa } else { None },
        };
        Ok(Answer::ok(serde_json::to_vec(&answer).expect("serializes")))
    }
}

impl SyncHandler for Notarial {
    async fn handle(&self, req: Incoming) -> Answer {
        let r = match req.service() {
            services::POA_CHECK => self.check(&req).await,
            other => Err(refuse(
                errors::UNKNOWN_SERVICE,
                format!("ЕНИС does not provide {other:?}"),
            )),
        };
        match r {
            Ok(a) | Err(a) => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egov_contracts::enis::Poa;

    fn poa() -> Poa {
        Poa {
            number: "1".into(),
            notary: "N".into(),
            notary_licence: "0000001".into(),
            registered: egov_synth::date(2026, 1, 10),
            principal_iin: "870312300046".into(),
            representative_iin: "920417490000".into(),
            scope: vec!["housing-queue".into()],
            valid_from: egov_synth::date(2026, 1, 10),
            valid_until: egov_synth::date(2026, 12, 31),
            revoked: false,
            revoked_on: None,
        }
    }

    fn req() -> PoaCheckRequest {
        PoaCheckRequest {
            number: "1".into(),
            principal_iin: "870312300046".into(),
            representative_iin: "920417490000".into(),
            service: "housing-queue".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_rules_in_order() {
        let d = |m, day| egov_synth::date(2026, m, day);
        assert_eq!(verdict(Some(&poa()), &req(), d(6, 1)).0, None);
        assert_eq!(verdict(None, &req(), d(6, 1)).0, Some(Invalidity::Absent));
        // the last day is still valid, the day after is not
        assert_eq!(verdict(Some(&poa()), &req(), d(12, 31)).0, None);
        assert_eq!(
            verdict(Some(&poa()), &req(), d(1, 9)).0,
            Some(Invalidity::NotYetValid)
        );
        let mut p = poa();
        p.revoked_on = Some(d(3, 1));
        p.revoked = true;
        // revoked from that day on; before it, valid
        assert_eq!(verdict(Some(&p), &req(), d(2, 28)).0, None);
        assert_eq!(
            verdict(Some(&p), &req(), d(3, 1)).0,
            Some(Invalidity::Revoked)
        );
        let mut p = poa();
        p.scope = vec!["all".into()];
        let mut r = req();
        r.service = "vehicle-registration".into();
        assert_eq!(verdict(Some(&p), &r, d(6, 1)).0, None);
        assert_eq!(
            verdict(Some(&poa()), &r, d(6, 1)).0,
            Some(Invalidity::OutOfScope)
        );
    }
}
