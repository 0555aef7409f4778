//! The stack a run is aimed at: where its doors are and whose accounts open them
//! (`stack.json`, which `egov up` writes into its data folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An employee account of an АРМ РШЭП.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Employee {
    /// The login.
    pub iin: String,
    /// The provider.
    pub provider: String,
    /// The role in the regulations.
    pub role: String,
    /// Its password, when not the workstation's common one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// An АРМ РШЭП of one ИС МИО.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Workstation {
    /// Its base URL.
    pub url: String,
    /// Its region (the routeId of its applications).
    pub region: String,
    /// The common password of its accounts (development stacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file of `IIN password` lines (the generated passwords of a start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords_file: Option<PathBuf>,
    /// The accounts.
    pub employees: Vec<Employee>,
}

impl Workstation {
    /// The password of its employee `iin`: the account's own, else the one in the
    /// passwords file, else the common one.
    pub fn password_of(&self, iin: &str) -> Option<String> {
        let e = self.employees.iter().find(|e| e.iin == iin)?;
        e.password
            .clone()
            .or_else(|| from_file(self.passwords_file.as_deref(), iin))
            .or_else(|| self.password.clone())
    }
}

/// An operator account of ИС ЦОН.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Operator {
    /// The login.
    pub iin: String,
    /// The centre.
    pub centre: String,
    /// The centre's region.
    pub region: String,
    /// `inspector`, `accumulation`, `courier` or `issuer`.
    pub role: String,
    /// Its password, when not the workstation's common one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// АРМ ИС ЦОН.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Centres {
    /// Its base URL.
    pub url: String,
    /// The common password of its accounts (development stacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file of `IIN password` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords_file: Option<PathBuf>,
    /// The accounts.
    pub operators: Vec<Operator>,
}

/// A running stack.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// The portal's base URL.
    pub portal: Option<String>,
    /// ИС ЦОН.
    pub con: Option<Centres>,
    /// Each ИС МИО's АРМ, by system id.
    pub mio: BTreeMap<String, Workstation>,
    /// The test PKI folder (its trust anchors), to issue the citizens' keys.
    pub pki_dir: PathBuf,
    /// The certification authority's folder (its keys and index).
    pub ca_dir: PathBuf,
    /// The regulation files the stack runs.
    pub regulation_dirs: Vec<PathBuf>,
    /// The stack's movable clock (`GET /clock`, `POST /clock/advance`), where it has one
    /// (`EGOV_DEV_CLOCK_ADDR`): scenarios that let a month pass need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
}

/// A descriptor that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Unreadable.
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    /// Not a descriptor.
    #[error("{0}: {1}")]
    Parse(String, serde_json::Error),
}

impl Target {
    /// Reads a `stack.json`.
    pub fn read(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TargetError::Read(path.display().to_string(), e))?;
        serde_json::from_str(&text).map_err(|e| TargetError::Parse(path.display().to_string(), e))
    }

    /// Writes it to `path` (0600: it may hold development passwords).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_private(path, text.as_bytes())
    }

    /// The password of the operator `iin`.
    pub fn operator_password(&self, iin: &str) -> Option<String> {
        let c = self.con.as_ref()?;
        let o = c.operators.iter().find(|o| o.iin == iin)?;
        o.password
            .clone()
            .or_else(|| from_file(c.passwords_file.as_deref(), iin))
            .or_else(|| c.password.clone())
    }
}

fn from_file(path: Option<&Path>, iin: &str) -> Option<String> {
    let text = std::fs::read_to_string(path?).ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next() == Some(iin))
            .then(|| parts.next().map(str::to_string))
            .flatten()
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)
}
