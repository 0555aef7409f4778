//! The registry: gateways, information systems, services and the access table, and the
//! routing decision made from them.

use std::collections::{BTreeMap, HashMap};

/// The registry shipped with the project (`deploy/gateway/registry.toml`).
pub const DEFAULT_REGISTRY: &str = include_str!("../../../deploy/gateway/registry.toml");

/// A gateway instance.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GatewayEntry {
    /// Id (its system certificate CN), e.g. `rshep-almaty`.
    pub id: String,
    /// Lane name in the diagrams.
    pub lane: String,
    /// Region code of a regional gateway; none for the central ШЭП.
    #[serde(default)]
    pub region: Option<String>,
    /// gRPC address (filled at run time when absent).
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// A registered information system.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SystemEntry {
    /// Id (certificate CN, senderId).
    pub id: String,
    /// The gateway it is registered on.
    pub gateway: String,
    /// Its SyncChannel gRPC address (filled at run time when absent).
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// A service.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ServiceEntry {
    /// Id, e.g. `gbd-fl.person.get`.
    pub id: String,
    /// The providing system, for a service with one provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Region code → providing system, for a regional service.
    #[serde(default)]
    pub regions: BTreeMap<String, String>,
    /// Sync deadline in milliseconds.
    pub deadline_ms: u64,
    /// Largest payload in bytes.
    pub max_payload: usize,
}

/// Who may call what.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccessRule {
    /// The calling system.
    pub sender: String,
    /// Service ids or prefixes ending in `*`.
    pub services: Vec<String>,
}

/// The whole registry.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Registry {
    /// Gateways.
    #[serde(default)]
    pub gateways: Vec<GatewayEntry>,
    /// Systems.
    #[serde(default)]
    pub systems: Vec<SystemEntry>,
    /// Services.
    #[serde(default)]
    pub services: Vec<ServiceEntry>,
    /// The access table.
    #[serde(default)]
    pub access: Vec<AccessRule>,
}

/// Where the gateway sends a message next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// The recipient system itself (registered on this gateway).
    System {
        /// The system id.
        id: String,
    },
    /// Another gateway (central → regional, regional → central).
    Gateway {
        /// The gateway id.
        id: String,
    },
}

/// A routing refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No such service.
    UnknownService(String),
    /// The service has no provider in that region.
    UnknownRegion(String),
    /// The registry is inconsistent (a provider that is not a system, ...).
    Misconfigured(String),
}

impl Registry {
    /// Parses a registry (TOML) and checks its consistency.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let r: Registry = toml::from_str(text).map_err(|e| format!("registry: {e}"))?;
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), String> {
        let systems: HashMap<&str, &SystemEntry> =
            self.systems.iter().map(|s| (s.id.as_str(), s)).collect();
        let gateways: HashMap<&str, &GatewayEntry> =
            self.gateways.iter().map(|g| (g.id.as_str(), g)).collect();
        if self.gateways.iter().filter(|g| g.region.is_none()).count() != 1 {
            return Err("registry: exactly one central gateway (without region) is needed".into());
        }
        for s in &self.systems {
            if !gateways.contains_key(s.gateway.as_str()) {
                return Err(format!(
                    "registry: system {} is registered on unknown gateway {}",
                    s.id, s.gateway
                ));
            }
        }
        for svc in &self.services {
            match (&svc.provider, svc.regions.is_empty()) {
                (Some(p), true) if systems.contains_key(p.as_str()) => {}
                (None, false) => {
                    for (region, sys) in &svc.regions {
                        if !systems.contains_key(sys.as_str()) {
                            return Err(format!(
                                "registry: service {} region {region}: unknown system {sys}",
                                svc.id
                            ));
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "registry: service {} needs either a known provider or regions",
                        svc.id
                    ));
                }
            }
        }
        for a in &self.access {
            if !systems.contains_key(a.sender.as_str()) {
                return Err(format!(
                    "registry: access rule for unknown system {}",
                    a.sender
                ));
            }
        }
        Ok(())
    }

    /// A gateway by id.
    pub fn gateway(&self, id: &str) -> Option<&GatewayEntry> {
        self.gateways.iter().find(|g| g.id == id)
    }

    /// The central gateway.
    pub fn central(&self) -> &GatewayEntry {
        self.gateways
            .iter()
            .find(|g| g.region.is_none())
            .expect("checked at load")
    }

    /// A system by id.
    pub fn system(&self, id: &str) -> Option<&SystemEntry> {
        self.systems.iter().find(|s| s.id == id)
    }

    /// A service by id.
    pub fn service(&self, id: &str) -> Option<&ServiceEntry> {
        self.services.iter().find(|s| s.id == id)
    }

    /// Whether `sender` may call `service`.
    pub fn allowed(&self, sender: &str, service: &str) -> bool {
        self.access.iter().filter(|a| a.sender == sender).any(|a| {
            a.services.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => service.starts_with(prefix),
                None => p == service,
            })
        })
    }

    /// The system that provides `service` for `region`.
    pub fn recipient(&self, service: &ServiceEntry, region: &str) -> Result<String, RouteError> {
        if let Some(p) = &service.provider {
            return Ok(p.clone());
        }
        service.regions.get(region).cloned().ok_or_else(|| {
            RouteError::UnknownRegion(format!(
                "service {} has no provider in region {region:?} (known: {})",
                service.id,
                service
                    .regions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// The next hop from gateway `me` towards `recipient`.
    pub fn next_hop(&self, me: &str, recipient: &str) -> Result<Hop, RouteError> {
        let sys = self.system(recipient).ok_or_else(|| {
            RouteError::Misconfigured(format!("recipient {recipient} is not a registered system"))
        })?;
        if sys.gateway == me {
            return Ok(Hop::System { id: sys.id.clone() });
        }
        let me_entry = self.gateway(me).ok_or_else(|| {
            RouteError::Misconfigured(format!("gateway {me} is not in the registry"))
        })?;
        if me_entry.region.is_none() {
            Ok(Hop::Gateway {
                id: sys.gateway.clone(),
            })
        } else {
            Ok(Hop::Gateway {
                id: self.central().id.clone(),
            })
        }
    }

    /// The endpoint of a system or gateway.
    pub fn endpoint(&self, hop: &Hop) -> Option<String> {
        match hop {
            Hop::System { id } => self.system(id).and_then(|s| s.endpoint.clone()),
            Hop::Gateway { id } => self.gateway(id).and_then(|g| g.endpoint.clone()),
        }
    }

    /// Sets the endpoint of a system or gateway.
    pub fn set_endpoint(&mut self, id: &str, endpoint: &str) -> bool {
        if let Some(s) = self.systems.iter_mut().find(|s| s.id == id) {
            s.endpoint = Some(endpoint.to_string());
            return true;
        }
        if let Some(g) = self.gateways.iter_mut().find(|g| g.id == id) {
            g.endpoint = Some(endpoint.to_string());
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_registry_routes_both_ways() {
        let r = Registry::from_toml(DEFAULT_REGISTRY).unwrap();
        let svc = r.service("mio.application.submit").unwrap();
        assert_eq!(r.recipient(svc, "almaty").unwrap(), "mio-almaty");
        assert!(matches!(
            r.recipient(svc, "mars"),
            Err(RouteError::UnknownRegion(_))
        ));
        assert_eq!(
            r.next_hop("shep", "mio-almaty").unwrap(),
            Hop::Gateway {
                id: "rshep-almaty".into()
            }
        );
        assert_eq!(
            r.next_hop("rshep-almaty", "mio-almaty").unwrap(),
            Hop::System {
                id: "mio-almaty".into()
            }
        );
        assert_eq!(
            r.next_hop("rshep-almaty", "gbd-fl").unwrap(),
            Hop::Gateway { id: "shep".into() }
        );
        assert_eq!(
            r.next_hop("shep", "gbd-fl").unwrap(),
            Hop::System {
                id: "gbd-fl".into()
            }
        );
        assert!(r.allowed("portal", "gbd-fl.person.get"));
        assert!(!r.allowed("portal", "enis.poa.check"));
        assert!(!r.allowed("stranger", "gbd-fl.person.get"));
    }

    #[test]
    fn inconsistent_registries_are_refused() {
        let bad = DEFAULT_REGISTRY.replace("provider = \"enis\"", "provider = \"nobody\"");
        assert!(
            Registry::from_toml(&bad)
                .unwrap_err()
                .contains("enis.poa.check")
        );
        assert!(Registry::from_toml("gateways = 3").is_err());
    }
}
