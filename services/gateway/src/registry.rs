//! The registry: gateways, information systems, services and the access table, and the
//! routing decision made from them.
//!
//! Who exists and where each is registered comes from the deployment's topology
//! ([`egov_topology`]); the services and the access table from the gateway's own file
//! (`deploy/gateway/registry.toml`), where a regional service names the kind of system
//! that provides it in each region and an access rule may name a kind of sender, so a
//! new region needs no edit here.

use std::collections::{BTreeMap, HashMap};

use egov_topology::{Kind, Topology};

/// The services and access table shipped with the project (`deploy/gateway/registry.toml`).
pub const DEFAULT_REGISTRY: &str = include_str!("../../../deploy/gateway/registry.toml");

/// Room for an envelope's headers, routing and CMS signature (with its certificates)
/// around the payload.
pub const ENVELOPE_OVERHEAD: usize = egov_shep_client::envelope::ENVELOPE_OVERHEAD;

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
    /// The kind of system that provides a regional service in each region (in the file).
    #[serde(default)]
    pub regional: Option<Kind>,
    /// Region code → providing system, for a regional service (filled from the topology).
    #[serde(skip_deserializing)]
    pub regions: BTreeMap<String, String>,
    /// Sync deadline in milliseconds.
    pub deadline_ms: u64,
    /// Largest payload in bytes.
    pub max_payload: usize,
}

/// Who may call what.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccessRule {
    /// The calling system (every system of `kind` when the file names a kind instead).
    #[serde(default)]
    pub sender: String,
    /// In the file: a rule for every system of this kind.
    #[serde(default, skip_serializing)]
    pub kind: Option<Kind>,
    /// Service ids or prefixes ending in `*`.
    pub services: Vec<String>,
}

/// The whole registry.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Gateways (from the topology).
    #[serde(skip_deserializing)]
    pub gateways: Vec<GatewayEntry>,
    /// Systems (from the topology).
    #[serde(skip_deserializing)]
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
    /// The registry of `topology` with the services and access table of `text` (TOML),
    /// checked for consistency.
    pub fn new(topology: &Topology, text: &str) -> Result<Self, String> {
        let mut r: Registry = toml::from_str(text).map_err(|e| format!("registry: {e}"))?;
        r.gateways = topology
            .gateways
            .iter()
            .map(|g| GatewayEntry {
                id: g.id.clone(),
                lane: g.lane.clone(),
                region: g.region.clone(),
                endpoint: None,
            })
            .collect();
        r.systems = topology
            .systems
            .iter()
            .map(|s| SystemEntry {
                id: s.id.clone(),
                gateway: s.gateway.clone(),
                endpoint: None,
            })
            .collect();
        for svc in &mut r.services {
            if let Some(kind) = svc.regional {
                svc.regions = topology
                    .systems_of(kind)
                    .filter_map(|s| Some((s.region.clone()?, s.id.clone())))
                    .collect();
                if svc.regions.is_empty() {
                    return Err(format!(
                        "registry: service {} is provided by {kind} in each region, and no region has one",
                        svc.id
                    ));
                }
            }
        }
        let mut access = Vec::new();
        for a in std::mem::take(&mut r.access) {
            match (a.kind, a.sender.is_empty()) {
                (Some(kind), true) => {
                    access.extend(topology.systems_of(kind).map(|s| AccessRule {
                        sender: s.id.clone(),
                        kind: None,
                        services: a.services.clone(),
                    }))
                }
                (None, false) => access.push(a),
                _ => {
                    return Err(format!(
                        "registry: an access rule names either a sender or a kind (services {:?})",
                        a.services
                    ));
                }
            }
        }
        r.access = access;
        r.check()?;
        Ok(r)
    }

    /// The shipped registry on the shipped topology.
    pub fn shipped() -> Self {
        Registry::new(&Topology::shipped(), DEFAULT_REGISTRY).expect("the shipped registry")
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
            match (&svc.provider, svc.regional.is_some()) {
                (Some(p), false) if systems.contains_key(p.as_str()) => {}
                (None, true) => {
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
                        "registry: service {} needs either a known provider or a regional kind",
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

    /// The largest gRPC message the gateway takes or sends: the largest payload any service
    /// allows, plus [`ENVELOPE_OVERHEAD`] for the headers and the signature. Anything
    /// larger is refused by the transport before it is read into memory.
    pub fn max_message_bytes(&self) -> usize {
        self.services
            .iter()
            .map(|s| s.max_payload)
            .max()
            .unwrap_or(0)
            + ENVELOPE_OVERHEAD
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
        let r = Registry::shipped();
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
        let t = Topology::shipped();
        let bad = DEFAULT_REGISTRY.replace("provider = \"enis\"", "provider = \"nobody\"");
        assert!(
            Registry::new(&t, &bad)
                .unwrap_err()
                .contains("enis.poa.check")
        );
        // who exists is the topology's, not the file's
        assert!(
            Registry::new(&t, "[[gateways]]\nid = \"x\"")
                .unwrap_err()
                .contains("unknown field `gateways`")
        );
        let both = DEFAULT_REGISTRY.replace(
            "[[access]]\nsender = \"portal\"",
            "[[access]]\nsender = \"portal\"\nkind = \"portal\"",
        );
        assert!(
            Registry::new(&t, &both)
                .unwrap_err()
                .contains("either a sender or a kind")
        );
        let nowhere = DEFAULT_REGISTRY.replace("regional = \"mio-is\"", "regional = \"enis\"");
        assert!(
            Registry::new(&t, &nowhere)
                .unwrap_err()
                .contains("no region has one")
        );
    }
}
