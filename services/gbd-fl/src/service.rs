//! The sync-channel services of ГБД ФЛ: validate, look up, log the access, answer with
//! only the fields the caller may see.

use std::collections::BTreeSet;

use egov_contracts::Purpose;
use egov_contracts::gbd_fl::{
    AccessLogAnswer, AccessLogRequest, AddressCheckAnswer, AddressCheckRequest, FamilyAnswer,
    FieldGroup, Member, PersonAnswer, PersonRequest, PersonStatus, errors, services,
};
use egov_shep_client::server::{Answer, Incoming, SyncHandler};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

use crate::policy::{Policy, withheld};
use crate::store::{self, Access, PersonRow};

/// The handler behind ГБД ФЛ's `SyncChannel`.
pub struct Registry {
    pool: PgPool,
    policy: Policy,
    /// The region codes of the deployment's topology.
    regions: Vec<String>,
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("contract types serialize")
}

fn refuse(code: &str, message: impl Into<String>, details: serde_json::Value) -> Answer {
    egov_system::refusal(code, message, details)
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(payload).map_err(|e| {
        refuse(
            errors::INVALID_REQUEST,
            format!("the request is not valid: {e}"),
            serde_json::Value::Null,
        )
    })
}

/// Validates an IIN before any look-up.
fn valid_iin(s: &str, what: &str) -> Result<String, Answer> {
    egov_iin::Iin::parse(s).map(|i| i.as_string()).map_err(|e| {
        refuse(
            errors::INVALID_IIN,
            format!("{what} {s:?} is not a valid IIN: {e}"),
            serde_json::json!({ "rule": e.rule(), "field": what }),
        )
    })
}

fn check_purpose(p: &Purpose) -> Result<(), Answer> {
    if let Some(r) = &p.requester_iin {
        valid_iin(r, "purpose.requester_iin")?;
    }
    Ok(())
}

fn internal(e: sqlx::Error) -> Answer {
    tracing::error!(error = %e, "ГБД ФЛ database error");
    Answer::internal()
}

fn group_names(g: &BTreeSet<FieldGroup>) -> Vec<String> {
    g.iter().map(|g| g.as_str().to_string()).collect()
}

/// Whether two address parts mean the same place: case, spacing, punctuation and the
/// customary abbreviations ("ул.", "г.", "мкр.", ...) are ignored.
pub fn same_place(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> String {
        let lower = s.to_lowercase();
        let mut words: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        const PREFIXES: [&str; 12] = [
            "ул.",
            "ул",
            "улица",
            "пр.",
            "пр",
            "проспект",
            "мкр.",
            "мкр",
            "г.",
            "г",
            "с.",
            "пос.",
        ];
        while words.len() > 1 && PREFIXES.contains(&words[0]) {
            words.remove(0);
        }
        words
            .concat()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-')
            .collect()
    }
    norm(a) == norm(b)
}

impl Registry {
    /// A handler over the registry's database with a field policy, knowing the region
    /// codes of the deployment.
    pub fn new(pool: PgPool, policy: Policy, regions: Vec<String>) -> Self {
        Registry {
            pool,
            policy,
            regions,
        }
    }

    fn access(
        req: &Incoming,
        subject: &str,
        purpose: &Purpose,
        outcome: &'static str,
        disclosed: Vec<String>,
    ) -> Access {
        Access {
            subject_iin: subject.to_string(),
            system: req.sender().to_string(),
            service_id: req.service().to_string(),
            purpose: purpose.service.clone(),
            application: purpose.application.clone(),
            requester_iin: purpose.requester_iin.clone(),
            message_id: req.opened.header.message_id.clone(),
            correlation_id: req.opened.header.correlation_id.clone(),
            outcome,
            disclosed,
        }
    }

    /// Looks up a person for `req`; absent and cancelled IINs are logged and refused.
    async fn subject(
        &self,
        req: &Incoming,
        iin: &str,
        purpose: &Purpose,
    ) -> Result<PersonRow, Answer> {
        let row = store::person(&self.pool, iin).await.map_err(internal)?;
        match row {
            None => {
                store::log_access(
                    &self.pool,
                    &Self::access(req, iin, purpose, "not-found", vec![]),
                )
                .await
                .map_err(internal)?;
                Err(refuse(
                    errors::PERSON_NOT_FOUND,
                    format!("сведения о лице с ИИН {iin} отсутствуют в ГБД ФЛ"),
                    serde_json::json!({ "iin": iin }),
                ))
            }
            Some(p) if p.status() == PersonStatus::Cancelled => {
                store::log_access(
                    &self.pool,
                    &Self::access(req, iin, purpose, "cancelled", vec![]),
                )
                .await
                .map_err(internal)?;
                Err(refuse(
                    errors::IIN_CANCELLED,
                    format!("ИИН {iin} аннулирован"),
                    serde_json::json!({
                        "iin": iin,
                        "cancelled_on": p.cancelled_on.map(egov_contracts::date::format),
                        "reason": p.cancel_reason,
                    }),
                ))
            }
            Some(p) => Ok(p),
        }
    }

    /// The checks of a person request, then the person (absent and cancelled refused).
    async fn person_request(
        &self,
        req: &Incoming,
    ) -> Result<(PersonRequest, String, BTreeSet<FieldGroup>, PersonRow), Answer> {
        let r: PersonRequest = parse(&req.opened.payload)?;
        let iin = valid_iin(&r.iin, "iin")?;
        check_purpose(&r.purpose)?;
        let groups = self
            .policy
            .disclose(req.sender(), req.service(), r.fields.as_deref())
            .map_err(|m| refuse(errors::INVALID_REQUEST, m, serde_json::Value::Null))?;
        let row = self.subject(req, &iin, &r.purpose).await?;
        Ok((r, iin, groups, row))
    }

    async fn person_get(&self, req: &Incoming) -> Result<Answer, Answer> {
        let (r, iin, groups, row) = self.person_request(req).await?;
        let mut shown = groups.clone();
        shown.remove(&FieldGroup::Family);
        let outcome = if row.status() == PersonStatus::Deceased {
            "deceased"
        } else {
            "found"
        };
        store::log_access(
            &self.pool,
            &Self::access(req, &iin, &r.purpose, outcome, group_names(&shown)),
        )
        .await
        .map_err(internal)?;
        Ok(Answer::ok(json(&PersonAnswer {
            person: row.to_person(&shown),
            withheld: withheld(&shown),
        })))
    }

    async fn family_get(&self, req: &Incoming) -> Result<Answer, Answer> {
        let (r, iin, groups, row) = self.person_request(req).await?;
        let relatives = if groups.contains(&FieldGroup::Family) {
            store::family(&self.pool, &iin).await.map_err(internal)?
        } else {
            Vec::new()
        };
        let mut shown = groups.clone();
        shown.remove(&FieldGroup::Family);
        let members: Vec<Member> = relatives
            .iter()
            .map(|(relation, p)| Member {
                relation: relation.clone(),
                same_address: p.status() == PersonStatus::Alive && p.same_address(&row),
                person: p.to_person(&shown),
            })
            .collect();
        let household_size = 1 + members.iter().filter(|m| m.same_address).count() as u32;
        let mut disclosed = group_names(&shown);
        if groups.contains(&FieldGroup::Family) {
            disclosed.push(FieldGroup::Family.as_str().into());
        }
        let outcome = if row.status() == PersonStatus::Deceased {
            "deceased"
        } else {
            "found"
        };
        store::log_access(
            &self.pool,
            &Self::access(req, &iin, &r.purpose, outcome, disclosed.clone()),
        )
        .await
        .map_err(internal)?;
        // the relatives' data was disclosed too: their own access logs say so
        for (_, p) in &relatives {
            store::log_access(
                &self.pool,
                &Self::access(req, &p.iin, &r.purpose, "found", group_names(&shown)),
            )
            .await
            .map_err(internal)?;
        }
        let mut w = withheld(&shown);
        if groups.contains(&FieldGroup::Family) {
            w.retain(|g| g != FieldGroup::Family.as_str());
        }
        Ok(Answer::ok(json(&FamilyAnswer {
            person: row.to_person(&shown),
            members,
            household_size,
            withheld: w,
        })))
    }

    async fn address_check(&self, req: &Incoming) -> Result<Answer, Answer> {
        let r: AddressCheckRequest = parse(&req.opened.payload)?;
        let iin = valid_iin(&r.iin, "iin")?;
        check_purpose(&r.purpose)?;
        if r.region.is_none() && r.address.is_none() {
            return Err(refuse(
                errors::INVALID_REQUEST,
                "name a region, an address, or both to check",
                serde_json::Value::Null,
            ));
        }
        if let Some(region) = &r.region
            && !self.regions.contains(region)
        {
            return Err(refuse(
                errors::INVALID_REQUEST,
                format!(
                    "unknown region code {region:?} (known: {})",
                    self.regions.join(", ")
                ),
                serde_json::Value::Null,
            ));
        }
        // every fact this service answers with (in the region, at the address, since
        // when, the address) is address data: without the group there is nothing to say,
        // and the person is not looked up (no existence oracle either)
        if !self
            .policy
            .allowed(req.sender(), req.service())
            .contains(&FieldGroup::Address)
        {
            store::log_access(
                &self.pool,
                &Self::access(req, &iin, &r.purpose, "not-granted", vec![]),
            )
            .await
            .map_err(internal)?;
            return Err(refuse(
                errors::NOT_GRANTED,
                format!(
                    "the field policy grants {} no address data in {}",
                    req.sender(),
                    req.service()
                ),
                serde_json::json!({ "group": FieldGroup::Address.as_str() }),
            ));
        }
        let row = self.subject(req, &iin, &r.purpose).await?;
        // a deceased person's registration ended with the death
        let registered = row.status() == PersonStatus::Alive;
        let in_region = r
            .region
            .as_ref()
            .map(|code| registered && *code == row.address.region_code);
        let matches = r.address.as_ref().map(|q| {
            registered
                && q.locality
                    .as_ref()
                    .is_none_or(|l| same_place(l, &row.address.locality))
                && q.street
                    .as_ref()
                    .is_none_or(|s| same_place(s, &row.address.street))
                && q.house
                    .as_ref()
                    .is_none_or(|h| same_place(h, &row.address.house))
                && q.flat.as_ref().is_none_or(|f| {
                    row.address
                        .flat
                        .as_ref()
                        .is_some_and(|rf| same_place(f, rf))
                })
        });
        let show_address = registered;
        let disclosed = if show_address {
            vec![FieldGroup::Address.as_str().to_string()]
        } else {
            vec![]
        };
        store::log_access(
            &self.pool,
            &Self::access(
                req,
                &iin,
                &r.purpose,
                if registered { "found" } else { "deceased" },
                disclosed,
            ),
        )
        .await
        .map_err(internal)?;
        let shown: BTreeSet<FieldGroup> = if show_address {
            [FieldGroup::Address].into()
        } else {
            BTreeSet::new()
        };
        Ok(Answer::ok(json(&AddressCheckAnswer {
            iin,
            registered,
            in_region,
            matches,
            since: registered.then_some(row.address.since),
            address: show_address.then(|| row.address()),
            withheld: withheld(&shown),
        })))
    }

    async fn access_log(&self, req: &Incoming) -> Result<Answer, Answer> {
        let r: AccessLogRequest = parse(&req.opened.payload)?;
        let iin = valid_iin(&r.iin, "iin")?;
        check_purpose(&r.purpose)?;
        let limit = r.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(refuse(
                errors::INVALID_REQUEST,
                format!("limit must be 1 to 1000, got {limit}"),
                serde_json::Value::Null,
            ));
        }
        if let (Some(f), Some(t)) = (r.from, r.to)
            && f >= t
        {
            return Err(refuse(
                errors::INVALID_REQUEST,
                "from must be before to",
                serde_json::Value::Null,
            ));
        }
        let entries = store::access_log(&self.pool, &iin, r.from, r.to, limit)
            .await
            .map_err(internal)?;
        // reading the log is an access too
        store::log_access(
            &self.pool,
            &Self::access(req, &iin, &r.purpose, "access-log", vec![]),
        )
        .await
        .map_err(internal)?;
        Ok(Answer::ok(json(&AccessLogAnswer { iin, entries })))
    }
}

impl SyncHandler for Registry {
    async fn handle(&self, req: Incoming) -> Answer {
        let result = match req.service() {
            services::PERSON_GET => self.person_get(&req).await,
            services::FAMILY_GET => self.family_get(&req).await,
            services::ADDRESS_CHECK => self.address_check(&req).await,
            services::ACCESS_LOG_SEARCH => self.access_log(&req).await,
            other => Err(refuse(
                errors::UNKNOWN_SERVICE,
                format!("ГБД ФЛ does not provide {other:?}"),
                serde_json::Value::Null,
            )),
        };
        match result {
            Ok(a) | Err(a) => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_compare_without_abbreviations() {
        assert!(same_place("ул. Абая", "абая"));
        assert!(same_place("г. Алматы", "Алматы"));
        assert!(same_place("мкр. Самал-2", "Самал-2"));
        assert!(same_place("12А", "12а"));
        assert!(!same_place("ул. Абая", "ул. Сатпаева"));
        assert!(!same_place("12", "121"));
    }
}
