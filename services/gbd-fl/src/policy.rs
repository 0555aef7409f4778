//! Which field groups a calling system may see, per service (personal data protection:
//! an answer carries only what the caller needs). Loaded from `deploy/gbd-fl/policy.toml`.

use std::collections::BTreeSet;

use egov_contracts::gbd_fl::FieldGroup;

/// The shipped policy.
pub const DEFAULT_POLICY: &str = include_str!("../../../deploy/gbd-fl/policy.toml");

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    sender: String,
    services: Vec<String>,
    fields: Vec<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Clone)]
struct Rule {
    sender: String,
    services: Vec<String>,
    fields: BTreeSet<FieldGroup>,
}

/// The field policy.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

impl Policy {
    /// Parses a policy file.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let f: PolicyFile = toml::from_str(text).map_err(|e| format!("field policy: {e}"))?;
        let mut rules = Vec::new();
        for (i, r) in f.rules.into_iter().enumerate() {
            let mut fields = BTreeSet::new();
            for name in &r.fields {
                if name == "*" {
                    fields.extend(FieldGroup::ALL);
                } else {
                    fields.insert(FieldGroup::parse(name).ok_or_else(|| {
                        format!(
                            "field policy: rule {} ({}): unknown field group {name:?} (known: name, birth, citizenship, document, address, family, death, *)",
                            i + 1,
                            r.sender
                        )
                    })?);
                }
            }
            if r.services.is_empty() {
                return Err(format!(
                    "field policy: rule {} ({}) names no service",
                    i + 1,
                    r.sender
                ));
            }
            rules.push(Rule {
                sender: r.sender,
                services: r.services,
                fields,
            });
        }
        Ok(Policy { rules })
    }

    /// The groups `sender` may see in `service` (empty: none but IIN and status).
    pub fn allowed(&self, sender: &str, service: &str) -> BTreeSet<FieldGroup> {
        self.rules
            .iter()
            .find(|r| matches(&r.sender, sender) && r.services.iter().any(|s| matches(s, service)))
            .map(|r| r.fields.clone())
            .unwrap_or_default()
    }

    /// What to disclose: the allowed groups, narrowed to `wanted` when the caller asked
    /// for some. Unknown names in `wanted` are an error naming them.
    pub fn disclose(
        &self,
        sender: &str,
        service: &str,
        wanted: Option<&[String]>,
    ) -> Result<BTreeSet<FieldGroup>, String> {
        let allowed = self.allowed(sender, service);
        match wanted {
            None => Ok(allowed),
            Some(w) => {
                let mut set = BTreeSet::new();
                for name in w {
                    let g = FieldGroup::parse(name).ok_or_else(|| {
                        format!("unknown field group {name:?} (known: name, birth, citizenship, document, address, family, death)")
                    })?;
                    set.insert(g);
                }
                Ok(set.intersection(&allowed).copied().collect())
            }
        }
    }
}

/// The names of the groups not in `disclosed`.
pub fn withheld(disclosed: &BTreeSet<FieldGroup>) -> Vec<String> {
    FieldGroup::ALL
        .into_iter()
        .filter(|g| !disclosed.contains(g))
        .map(|g| g.as_str().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policy_grants_per_sender_and_service() {
        let p = Policy::from_toml(DEFAULT_POLICY).unwrap();
        let portal = p.allowed("portal", "gbd-fl.person.get");
        assert!(portal.contains(&FieldGroup::Name));
        assert!(!portal.contains(&FieldGroup::Document));
        assert_eq!(
            p.allowed("con-is", "gbd-fl.person.get").len(),
            FieldGroup::ALL.len()
        );
        // the date of death is its own group: the provider's system sees the status only
        assert!(!mio_death(&p));
        let mio = p.allowed("mio-almaty", "gbd-fl.person.get");
        assert!(mio.contains(&FieldGroup::Address) && !mio.contains(&FieldGroup::Document));
        assert!(p.allowed("stranger", "gbd-fl.person.get").is_empty());
        let narrowed = p
            .disclose("con-is", "gbd-fl.person.get", Some(&["name".into()]))
            .unwrap();
        assert_eq!(
            narrowed.into_iter().collect::<Vec<_>>(),
            vec![FieldGroup::Name]
        );
        assert!(
            p.disclose("portal", "gbd-fl.person.get", Some(&["document".into()]))
                .unwrap()
                .is_empty()
        );
        assert!(
            p.disclose("portal", "gbd-fl.person.get", Some(&["shoe-size".into()]))
                .unwrap_err()
                .contains("shoe-size")
        );
    }

    fn mio_death(p: &Policy) -> bool {
        p.allowed("mio-almaty", "gbd-fl.person.get")
            .contains(&FieldGroup::Death)
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(
            Policy::from_toml(
                "[[rules]]\nsender = \"x\"\nservices = [\"a\"]\nfields = [\"salary\"]"
            )
            .unwrap_err()
            .contains("salary")
        );
        assert!(
            Policy::from_toml("[[rules]]\nsender = \"x\"\nservices = []\nfields = []").is_err()
        );
        assert!(Policy::from_toml("rulez = 1").is_err());
    }
}
