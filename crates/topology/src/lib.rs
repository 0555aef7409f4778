//! The deployment's topology, one description read by everything that names a system:
//! the regions, the gateways (the central ШЭП and one РШЭП per region), the information
//! systems with the gateway each is registered on, their fixed local ports, and the
//! regulation files each ИС МИО runs.
//!
//! It lives in a folder (`deploy/topology/` in the repository, compiled in as
//! [`Topology::shipped`]): `national.toml` holds the central gateway and the national
//! systems; each file of `regions/` holds one region, its gateway and its systems. A new
//! region is a new file, nothing else:
//!
//! ```toml
//! [region]
//! code = "ulytau"
//! name = "Улытауская область"
//!
//! [[gateways]]
//! id = "rshep-ulytau"
//! lane = "РШЭП Улытауской области"
//! organization = "Акимат Улытауской области (test)"
//! bin = "000140000199"
//! grpc_port = 7104
//! http_port = 7114
//!
//! [[systems]]
//! id = "mio-ulytau"
//! kind = "mio-is"
//! lane = "ИС МИО Улытауской области"
//! organization = "Отдел жилищных отношений Улытауской области (test)"
//! bin = "000140000198"
//! gateway = "rshep-ulytau"
//! grpc_port = 7303
//! http_port = 7383
//! regulations = ["ulytau-2026-housing-queue.toml"]
//! ```
//!
//! Every problem is reported with the file it is in; a topology with a problem is never
//! half-loaded.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The shipped topology's files, compiled in.
const SHIPPED: &[(&str, &str)] = &[
    (
        "national.toml",
        include_str!("../../../deploy/topology/national.toml"),
    ),
    (
        "regions/almaty.toml",
        include_str!("../../../deploy/topology/regions/almaty.toml"),
    ),
    (
        "regions/atyrau.toml",
        include_str!("../../../deploy/topology/regions/atyrau.toml"),
    ),
    (
        "regions/nko.toml",
        include_str!("../../../deploy/topology/regions/nko.toml"),
    ),
];

/// The folder of the shipped topology in the source tree.
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/topology")
}

/// A topology that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or the folder cannot be read.
    #[error("topology {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid TOML of the expected shape.
    #[error("topology {file}: {message}")]
    Parse {
        /// The file, relative to the folder.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// The files contradict each other or themselves.
    #[error("topology {file}: {message}")]
    Invalid {
        /// The file the problem is in.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// What an information system is: which service binary runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// ИС УЦ, the certification authority.
    Uc,
    /// ГБД ФЛ, the individuals' database.
    GbdFl,
    /// ЕНИС, the notarial system.
    Enis,
    /// ПЭП, the citizen portal.
    Portal,
    /// ИС ЦОН, the service centres' system.
    ConIs,
    /// ИС МИО with АРМ РШЭП, one per region.
    MioIs,
}

impl Kind {
    /// The name in the files.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Uc => "uc",
            Kind::GbdFl => "gbd-fl",
            Kind::Enis => "enis",
            Kind::Portal => "portal",
            Kind::ConIs => "con-is",
            Kind::MioIs => "mio-is",
        }
    }

    /// Whether a system of this kind belongs to a region (and so to a region's file).
    pub fn regional(self) -> bool {
        self == Kind::MioIs
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A region (the routeId of regional services).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Code, e.g. `almaty`.
    pub code: String,
    /// Name as the regulations write it.
    pub name: String,
}

/// A gateway: the central ШЭП or a region's РШЭП.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Id: its certificate CN, e.g. `rshep-almaty`.
    pub id: String,
    /// Lane name in the diagrams.
    pub lane: String,
    /// The organisation that runs it (test).
    pub organization: String,
    /// Test BIN of the organisation.
    pub bin: String,
    /// Fixed local gRPC port.
    pub grpc_port: u16,
    /// Fixed local HTTP port (health, metrics).
    pub http_port: u16,
    /// The region of a regional gateway (from its file); none for ШЭП.
    #[serde(skip_deserializing)]
    pub region: Option<String>,
}

/// An information system.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// Id: certificate CN, senderId.
    pub id: String,
    /// What it is.
    pub kind: Kind,
    /// Lane name in the diagrams.
    pub lane: String,
    /// The organisation that runs it (test).
    pub organization: String,
    /// Test BIN of the organisation.
    pub bin: String,
    /// The gateway it is registered on.
    pub gateway: String,
    /// Fixed local gRPC port.
    pub grpc_port: u16,
    /// Fixed local HTTP port.
    pub http_port: u16,
    /// The regulation files it runs (ИС МИО), by file name.
    #[serde(default)]
    pub regulations: Vec<String>,
    /// The region of a regional system (from its file).
    #[serde(skip_deserializing)]
    pub region: Option<String>,
}

/// The identity a system or gateway is issued certificates for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Certificate CN.
    pub id: String,
    /// Lane name.
    pub lane: String,
    /// Organisation.
    pub organization: String,
    /// BIN.
    pub bin: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    region: Option<Region>,
    #[serde(default)]
    gateways: Vec<Gateway>,
    #[serde(default)]
    systems: Vec<System>,
}

/// The whole deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Regions, in file order.
    pub regions: Vec<Region>,
    /// Gateways: ШЭП first, then each region's.
    pub gateways: Vec<Gateway>,
    /// Systems: national first, then each region's.
    pub systems: Vec<System>,
    /// Which file each gateway and system came from (by id).
    files: BTreeMap<String, String>,
}

impl Topology {
    /// The topology shipped with the project (`deploy/topology/`), parsed once per process.
    pub fn shipped() -> Topology {
        static SHIPPED_TOPOLOGY: std::sync::LazyLock<Topology> = std::sync::LazyLock::new(|| {
            Topology::from_files(
                SHIPPED
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect(),
            )
            .unwrap_or_else(|e| panic!("the shipped topology: {e}"))
        });
        SHIPPED_TOPOLOGY.clone()
    }

    /// The topology of `dir` if given, else the shipped one.
    pub fn open(dir: Option<&Path>) -> Result<Topology, Error> {
        match dir {
            Some(d) => Topology::load(d),
            None => Ok(Topology::shipped()),
        }
    }

    /// Reads `dir/national.toml` and every `dir/regions/*.toml` (in name order).
    pub fn load(dir: &Path) -> Result<Topology, Error> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| Error::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let mut files = vec![(
            "national.toml".to_string(),
            read(&dir.join("national.toml"))?,
        )];
        let regions = dir.join("regions");
        if regions.is_dir() {
            let mut names: Vec<PathBuf> = std::fs::read_dir(&regions)
                .map_err(|source| Error::Io {
                    path: regions.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            names.sort();
            for p in names {
                let name = format!(
                    "regions/{}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                );
                files.push((name, read(&p)?));
            }
        }
        Topology::from_files(files)
    }

    /// Builds a topology from `(file name, text)` pairs: the first is the national file,
    /// the others are regions.
    pub fn from_files(files: Vec<(String, String)>) -> Result<Topology, Error> {
        let mut t = Topology {
            regions: Vec::new(),
            gateways: Vec::new(),
            systems: Vec::new(),
            files: BTreeMap::new(),
        };
        for (i, (name, text)) in files.into_iter().enumerate() {
            let parsed: File = toml::from_str(&text).map_err(|e| Error::Parse {
                file: name.clone(),
                message: e.message().to_string(),
            })?;
            let invalid = |message: String| Error::Invalid {
                file: name.clone(),
                message,
            };
            let region = match (i, parsed.region) {
                (0, Some(_)) => {
                    return Err(invalid(
                        "the national file has no [region]; a region is a file of regions/".into(),
                    ));
                }
                (0, None) => None,
                (_, None) => return Err(invalid("a region's file needs [region]".into())),
                (_, Some(r)) => {
                    check_code(&r.code).map_err(|m| invalid(format!("region code: {m}")))?;
                    if t.regions.iter().any(|o| o.code == r.code) {
                        return Err(invalid(format!("region {:?} appears twice", r.code)));
                    }
                    t.regions.push(r.clone());
                    Some(r.code)
                }
            };
            for mut g in parsed.gateways {
                g.region = region.clone();
                t.files.insert(g.id.clone(), name.clone());
                t.gateways.push(g);
            }
            for mut s in parsed.systems {
                s.region = region.clone();
                t.files.insert(s.id.clone(), name.clone());
                t.systems.push(s);
            }
        }
        t.check()?;
        Ok(t)
    }

    fn file_of(&self, id: &str) -> String {
        self.files.get(id).cloned().unwrap_or_default()
    }

    fn check(&self) -> Result<(), Error> {
        let invalid = |id: &str, message: String| Error::Invalid {
            file: self.file_of(id),
            message,
        };
        let mut ids = HashSet::new();
        let mut ports = BTreeMap::new();
        let central: Vec<&Gateway> = self
            .gateways
            .iter()
            .filter(|g| g.region.is_none())
            .collect();
        if central.len() != 1 {
            return Err(Error::Invalid {
                file: "national.toml".into(),
                message: format!(
                    "exactly one central gateway is needed, found {}",
                    central.len()
                ),
            });
        }
        let identities = self
            .gateways
            .iter()
            .map(|g| (&g.id, &g.bin, [g.grpc_port, g.http_port]))
            .chain(
                self.systems
                    .iter()
                    .map(|s| (&s.id, &s.bin, [s.grpc_port, s.http_port])),
            );
        for (id, bin, own_ports) in identities {
            check_code(id).map_err(|m| invalid(id, format!("id: {m}")))?;
            if !ids.insert(id.as_str()) {
                return Err(invalid(id, format!("{id:?} appears twice")));
            }
            if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(id, format!("{id}: bin {bin:?} is not 12 digits")));
            }
            for p in own_ports {
                if p == 0 {
                    return Err(invalid(id, format!("{id}: port 0 is not a fixed port")));
                }
                if let Some(other) = ports.insert(p, id.clone()) {
                    return Err(invalid(id, format!("{id}: port {p} is already {other}'s")));
                }
            }
        }
        for (id, region) in self.gateways.iter().map(|g| (&g.id, &g.region)) {
            if let Some(r) = region
                && self
                    .gateways
                    .iter()
                    .filter(|g| g.region.as_ref() == Some(r))
                    .count()
                    > 1
            {
                return Err(invalid(
                    id,
                    format!("region {r:?} has more than one gateway"),
                ));
            }
        }
        for s in &self.systems {
            let Some(g) = self.gateway(&s.gateway) else {
                return Err(invalid(
                    &s.id,
                    format!("{}: unknown gateway {:?}", s.id, s.gateway),
                ));
            };
            if g.region != s.region {
                return Err(invalid(
                    &s.id,
                    format!(
                        "{}: registered on {}, a gateway of another region",
                        s.id, g.id
                    ),
                ));
            }
            if s.kind.regional() != s.region.is_some() {
                return Err(invalid(
                    &s.id,
                    if s.kind.regional() {
                        format!("{}: a {} belongs to a region's file", s.id, s.kind)
                    } else {
                        format!("{}: a {} belongs to the national file", s.id, s.kind)
                    },
                ));
            }
            if s.kind == Kind::MioIs && s.regulations.is_empty() {
                return Err(invalid(
                    &s.id,
                    format!("{}: an ИС МИО runs at least one regulation file", s.id),
                ));
            }
            if s.kind != Kind::MioIs && !s.regulations.is_empty() {
                return Err(invalid(
                    &s.id,
                    format!("{}: only an ИС МИО runs regulation files", s.id),
                ));
            }
            for r in &s.regulations {
                if !r.ends_with(".toml") || r.contains('/') || r.contains('\\') {
                    return Err(invalid(
                        &s.id,
                        format!(
                            "{}: regulation {r:?} is not a file name ending in .toml",
                            s.id
                        ),
                    ));
                }
            }
        }
        for region in &self.regions {
            if self.gateway_of_region(&region.code).is_none() {
                return Err(Error::Invalid {
                    file: format!("regions/{}.toml", region.code),
                    message: format!("region {:?} has no gateway", region.code),
                });
            }
        }
        Ok(())
    }

    /// The central gateway ШЭП.
    pub fn central(&self) -> &Gateway {
        self.gateways
            .iter()
            .find(|g| g.region.is_none())
            .expect("checked at load")
    }

    /// A gateway by id.
    pub fn gateway(&self, id: &str) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.id == id)
    }

    /// The gateway of a region.
    pub fn gateway_of_region(&self, code: &str) -> Option<&Gateway> {
        self.gateways
            .iter()
            .find(|g| g.region.as_deref() == Some(code))
    }

    /// A system by id.
    pub fn system(&self, id: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.id == id)
    }

    /// The region codes, in file order.
    pub fn region_codes(&self) -> Vec<String> {
        self.regions.iter().map(|r| r.code.clone()).collect()
    }

    /// A region by code.
    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }

    /// The systems of one kind, in file order.
    pub fn systems_of(&self, kind: Kind) -> impl Iterator<Item = &System> {
        self.systems.iter().filter(move |s| s.kind == kind)
    }

    /// The system of `kind` in `region`.
    pub fn regional(&self, kind: Kind, region: &str) -> Option<&System> {
        self.systems_of(kind)
            .find(|s| s.region.as_deref() == Some(region))
    }

    /// Every gateway and system: what the test PKI issues certificates for.
    pub fn identities(&self) -> Vec<Identity> {
        self.gateways
            .iter()
            .map(|g| Identity {
                id: g.id.clone(),
                lane: g.lane.clone(),
                organization: g.organization.clone(),
                bin: g.bin.clone(),
            })
            .chain(self.systems.iter().map(|s| Identity {
                id: s.id.clone(),
                lane: s.lane.clone(),
                organization: s.organization.clone(),
                bin: s.bin.clone(),
            }))
            .collect()
    }

    /// The fixed local gRPC address of a gateway or system.
    pub fn grpc_port(&self, id: &str) -> Option<u16> {
        self.gateway(id)
            .map(|g| g.grpc_port)
            .or_else(|| self.system(id).map(|s| s.grpc_port))
    }

    /// The fixed local HTTP port of a gateway or system.
    pub fn http_port(&self, id: &str) -> Option<u16> {
        self.gateway(id)
            .map(|g| g.http_port)
            .or_else(|| self.system(id).map(|s| s.http_port))
    }
}

/// Whether `code` is well formed as an id or region code (see [`check_code`]).
pub fn is_code(code: &str) -> bool {
    code.len() <= 32
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Ids and region codes: a lowercase latin letter, then lowercase letters, digits or `-`,
/// at most 32 characters.
pub fn check_code(code: &str) -> Result<(), String> {
    if is_code(code) {
        Ok(())
    } else {
        Err(format!(
            "{code:?} is not a code (lowercase latin letters, digits and -, starting with a letter, at most 32)"
        ))
    }
}
