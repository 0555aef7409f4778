//! The on-disk test PKI made by `egovctl pki init`.
//!
//! Two folders. The **PKI folder** is what every service reads: certificates, the CRL and
//! each system's own identities; it holds no CA key.
//!
//! | file | content |
//! |---|---|
//! | `root.cert.pem` | the test root CA |
//! | `issuing.cert.pem` | the issuing CA (signs every end-entity certificate) |
//! | `chain.pem` | issuing CA then root CA |
//! | `crl.pem` | the issuing CA's CRL as of the last `pki init`, `pki revoke` or `pki crl` |
//! | `systems/<id>.sign.{key,cert}.pem` | each system's transport-signing identity |
//! | `systems/<id>.tls.{key,cert}.pem` | each system's mutual-TLS identity (cert file holds the chain) |
//! | `systems/egovctl.tls.{key,cert}.pem` | the registration authority's mutual-TLS client identity: the only one `uc` lets issue and revoke |
//!
//! The **CA folder** (mode 0700; by default beside the PKI folder, its name plus `-ca`:
//! [`default_ca_dir`]) is given only to `uc` and to the registration tools (`egovctl pki`,
//! the launcher and the test world when they create the PKI or enrol employees):
//!
//! | file | content |
//! |---|---|
//! | `pki.json` | settings: CRL/OCSP URLs, the next CRL number, the CRL lifetime |
//! | `root.key.pem`, `issuing.key.pem` | the CAs' private keys |
//! | `index.jsonl` | one line per issued or revoked certificate (like OpenSSL's `index.txt`) |
//!
//! Services open the PKI folder as [`Trust`]; only the CA's holders open [`PkiDir`].
//! Every key here is test material, generated on the machine that runs the system.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::authority::{Authority, CertProfile, Endpoints, IssuedCert, RevokedEntry, SubjectSpec};
use crate::cert::CertInfo;
use crate::crl::Crl;
use crate::keys::KeyAlgorithm;
use crate::verify::Verifier;
use crate::{Error, Result};

/// Settings stored in `pki.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// When the PKI was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// URLs written into issued certificates.
    pub endpoints: Endpoints,
    /// The number the next CRL gets.
    pub next_crl_number: u64,
    /// Lifetime of a CRL in days (its nextUpdate).
    pub crl_days: i64,
}

/// Options of [`PkiDir::init`].
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Key algorithm of the CAs and system certificates.
    pub algorithm: KeyAlgorithm,
    /// URLs written into issued certificates.
    pub endpoints: Endpoints,
    /// The current time.
    pub now: OffsetDateTime,
    /// Lifetime of system certificates, days.
    pub system_days: i64,
    /// The gateways and systems to issue certificates for (default: the shipped
    /// topology's).
    pub systems: Vec<crate::systems::System>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            algorithm: KeyAlgorithm::Rsa2048,
            endpoints: Endpoints::default(),
            now: OffsetDateTime::now_utc(),
            system_days: 365 * 2,
            systems: crate::systems::shipped(),
        }
    }
}

/// One line of `index.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum IndexRecord {
    /// A certificate was issued.
    Issue {
        /// Serial, hex.
        serial: String,
        /// Subject (RFC 4514).
        subject: String,
        /// Profile.
        profile: CertProfile,
        /// End of validity.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
    },
    /// A certificate was revoked.
    Revoke {
        /// Serial, hex.
        serial: String,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// RFC 5280 reason code.
        reason: u8,
    },
}

/// Paths of one system's identities.
#[derive(Debug, Clone)]
pub struct SystemFiles {
    /// Transport-signing key.
    pub sign_key: PathBuf,
    /// Transport-signing certificate.
    pub sign_cert: PathBuf,
    /// TLS key.
    pub tls_key: PathBuf,
    /// TLS certificate chain (leaf, issuing CA).
    pub tls_cert: PathBuf,
}

/// The id (CN) of the registration authority's mutual-TLS identity, written by
/// [`PkiDir::init`] as `systems/egovctl.tls.{key,cert}.pem`.
pub const REGISTRATION_AUTHORITY: &str = "egovctl";

/// The CA folder of the PKI folder `pki_dir` when none is named: beside it, its name
/// plus `-ca` (`.egov/pki` → `.egov/pki-ca`), never inside it.
pub fn default_ca_dir(pki_dir: &Path) -> PathBuf {
    let name = pki_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pki".into());
    pki_dir.with_file_name(format!("{name}-ca"))
}

/// The files of the CA folder that an older layout kept in the PKI folder.
const CA_FILES: [&str; 4] = ["pki.json", "root.key.pem", "issuing.key.pem", "index.jsonl"];

/// An opened test PKI as its certification authority holds it: the PKI folder and the
/// CA folder with the CAs' keys. Only `uc` and the registration tools open it; a
/// service opens [`Trust`].
#[derive(Debug)]
pub struct PkiDir {
    path: PathBuf,
    ca_path: PathBuf,
    /// The root CA certificate.
    pub root: CertInfo,
    /// The issuing CA.
    pub issuing: Authority,
    /// Settings.
    pub meta: Meta,
}

/// Writes a file; a secret (a private key) is created readable by its owner alone
/// (0600) from its first byte, in a new file renamed over the old one, so that no
/// moment exists when it is readable by others.
fn write(path: &Path, content: &[u8], secret: bool) -> Result<()> {
    if !secret {
        return fs::write(path, content).map_err(|e| Error::io(path, e));
    }
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = fs::remove_file(&tmp);
    let mut f = options.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(content)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Writes a secret (a private key, a `.p12` file) readable by its owner alone (0600) from
/// its first byte, replacing any file at `path`.
pub fn write_secret(path: &Path, content: &[u8]) -> Result<()> {
    write(path, content, true)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn create_private_dir(path: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(|e| Error::io(path, e))
}

impl PkiDir {
    /// Whether `path` holds a test PKI (its root certificate, or the older layout's
    /// `pki.json`).
    pub fn exists(path: &Path) -> bool {
        path.join("root.cert.pem").is_file() || path.join("pki.json").is_file()
    }

    /// Creates a new test PKI: root CA, issuing CA, an empty CRL and the system
    /// certificates of every system of `opts.systems` in `path`, the CAs' keys, settings
    /// and index in `ca_path` (created 0700). Refuses to overwrite an existing one, and a
    /// CA folder inside the PKI folder.
    pub fn init(path: &Path, ca_path: &Path, opts: &InitOptions) -> Result<Self> {
        if Self::exists(path) || ca_path.join("pki.json").exists() {
            return Err(Error::Invalid(format!(
                "{} already holds a test PKI",
                if Self::exists(path) { path } else { ca_path }.display()
            )));
        }
        check_apart(path, ca_path)?;
        fs::create_dir_all(path.join("systems")).map_err(|e| Error::io(path, e))?;
        create_private_dir(ca_path)?;
        let root = Authority::new_root("TEST egov-mirror Root CA", opts.algorithm, opts.now, 20)?;
        let mut issuing = root.new_issuing(
            "TEST egov-mirror Issuing CA (НУЦ РК model)",
            opts.algorithm,
            opts.now,
            10,
        )?;
        issuing.endpoints = opts.endpoints.clone();
        write(
            &path.join("root.cert.pem"),
            root.cert.to_pem().as_bytes(),
            false,
        )?;
        write(
            &ca_path.join("root.key.pem"),
            root.key.to_pem().as_bytes(),
            true,
        )?;
        write(
            &path.join("issuing.cert.pem"),
            issuing.cert.to_pem().as_bytes(),
            false,
        )?;
        write(
            &ca_path.join("issuing.key.pem"),
            issuing.key.to_pem().as_bytes(),
            true,
        )?;
        write(
            &path.join("chain.pem"),
            format!("{}{}", issuing.cert.to_pem(), root.cert.to_pem()).as_bytes(),
            false,
        )?;
        write(&ca_path.join("index.jsonl"), b"", false)?;
        let meta = Meta {
            created_at: opts.now,
            endpoints: opts.endpoints.clone(),
            next_crl_number: 1,
            crl_days: 7,
        };
        let mut dir = PkiDir {
            path: path.to_path_buf(),
            ca_path: ca_path.to_path_buf(),
            root: root.cert,
            issuing,
            meta,
        };
        dir.save_meta()?;
        dir.write_crl(opts.now)?;
        for s in &opts.systems {
            let spec = SubjectSpec::system(&s.id, &s.organization, &s.bin);
            let files = dir.system_files(&s.id);
            let not_after = opts.now + Duration::days(opts.system_days);
            for (profile, key_path, cert_path) in [
                (
                    CertProfile::SystemSigning,
                    &files.sign_key,
                    &files.sign_cert,
                ),
                (CertProfile::SystemTls, &files.tls_key, &files.tls_cert),
            ] {
                let issued = dir.issue(
                    &spec,
                    profile,
                    opts.algorithm,
                    opts.now - Duration::minutes(5),
                    not_after,
                )?;
                dir.write_issued(
                    &issued,
                    key_path,
                    cert_path,
                    profile == CertProfile::SystemTls,
                )?;
            }
        }
        // the registration authority: the mutual-TLS identity with which egovctl (and the
        // tests) ask uc to issue and revoke; nobody else may
        let (organization, bin) = opts
            .systems
            .iter()
            .find(|s| s.id == "uc")
            .map(|s| (s.organization.as_str(), s.bin.as_str()))
            .unwrap_or(("НУЦ РК (test)", "000140000101"));
        let files = dir.system_files(REGISTRATION_AUTHORITY);
        let issued = dir.issue(
            &SubjectSpec::system(REGISTRATION_AUTHORITY, organization, bin),
            CertProfile::RegistrationAuthority,
            opts.algorithm,
            opts.now - Duration::minutes(5),
            opts.now + Duration::days(opts.system_days),
        )?;
        dir.write_issued(&issued, &files.tls_key, &files.tls_cert, true)?;
        Ok(dir)
    }

    /// Opens an existing test PKI with its CA folder. A PKI folder of the older layout
    /// (CA keys, settings and index beside the certificates) has those files moved into
    /// `ca_path` first, so that the services' folder no longer holds them.
    pub fn open(path: &Path, ca_path: &Path) -> Result<Self> {
        if !Self::exists(path) {
            return Err(Error::Invalid(format!(
                "{} holds no test PKI: run `egovctl pki init --dir {}` first",
                path.display(),
                path.display()
            )));
        }
        check_apart(path, ca_path)?;
        Self::move_ca_files(path, ca_path)?;
        if !ca_path.join("pki.json").is_file() {
            return Err(Error::Invalid(format!(
                "{} holds no CA of the test PKI in {} (pki.json, issuing.key.pem): only uc \
                 and the registration tools are given it",
                ca_path.display(),
                path.display()
            )));
        }
        let meta: Meta = serde_json::from_str(&read(&ca_path.join("pki.json"))?)
            .map_err(|e| Error::malformed("pki.json", e))?;
        let root = CertInfo::from_pem(&read(&path.join("root.cert.pem"))?)?;
        let issuing = Authority::from_pem(
            &read(&path.join("issuing.cert.pem"))?,
            &read(&ca_path.join("issuing.key.pem"))?,
            meta.endpoints.clone(),
        )?;
        Ok(PkiDir {
            path: path.to_path_buf(),
            ca_path: ca_path.to_path_buf(),
            root,
            issuing,
            meta,
        })
    }

    /// Moves the CA files an older layout kept in the PKI folder into the CA folder.
    fn move_ca_files(path: &Path, ca_path: &Path) -> Result<()> {
        if !path.join("pki.json").is_file() {
            return Ok(());
        }
        create_private_dir(ca_path)?;
        for name in CA_FILES {
            let from = path.join(name);
            let to = ca_path.join(name);
            if from.is_file() && !to.exists() {
                fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
            }
        }
        Ok(())
    }

    /// The PKI folder (what services read).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The CA folder (the CAs' keys, settings, index).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// Path of the root CA certificate.
    pub fn root_cert_path(&self) -> PathBuf {
        self.path.join("root.cert.pem")
    }

    /// Path of the issuing CA certificate.
    pub fn issuing_cert_path(&self) -> PathBuf {
        self.path.join("issuing.cert.pem")
    }

    /// Path of the CRL.
    pub fn crl_path(&self) -> PathBuf {
        self.path.join("crl.pem")
    }

    /// Paths of a system's identities.
    pub fn system_files(&self, id: &str) -> SystemFiles {
        let d = self.path.join("systems");
        SystemFiles {
            sign_key: d.join(format!("{id}.sign.key.pem")),
            sign_cert: d.join(format!("{id}.sign.cert.pem")),
            tls_key: d.join(format!("{id}.tls.key.pem")),
            tls_cert: d.join(format!("{id}.tls.cert.pem")),
        }
    }

    fn save_meta(&self) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(&self.meta).map_err(|e| Error::Invalid(e.to_string()))?;
        write(&self.ca_path.join("pki.json"), &json, false)
    }

    fn append_index(&self, rec: &IndexRecord) -> Result<()> {
        let p = self.ca_path.join("index.jsonl");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p)
            .map_err(|e| Error::io(&p, e))?;
        let mut line = serde_json::to_vec(rec).map_err(|e| Error::Invalid(e.to_string()))?;
        line.push(b'\n');
        f.write_all(&line).map_err(|e| Error::io(&p, e))
    }

    /// Every record of the index, in order.
    pub fn index(&self) -> Result<Vec<IndexRecord>> {
        let p = self.ca_path.join("index.jsonl");
        let text = match fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&p, e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| Error::malformed("index.jsonl", format!("line {}: {e}", i + 1)))
            })
            .collect()
    }

    /// Revoked serials with their time and reason, from the index.
    pub fn revoked(&self) -> Result<HashMap<String, (OffsetDateTime, u8)>> {
        Ok(self
            .index()?
            .into_iter()
            .filter_map(|r| match r {
                IndexRecord::Revoke { serial, at, reason } => Some((serial, (at, reason))),
                IndexRecord::Issue { .. } => None,
            })
            .collect())
    }

    /// Issues a certificate from the issuing CA and records it in the index.
    pub fn issue(
        &self,
        spec: &SubjectSpec,
        profile: CertProfile,
        alg: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert> {
        let issued = self
            .issuing
            .issue(spec, profile, alg, not_before, not_after)?;
        self.append_index(&IndexRecord::Issue {
            serial: issued.cert.serial_hex.clone(),
            subject: issued.cert.subject_string(),
            profile,
            not_after: issued.cert.not_after,
        })?;
        Ok(issued)
    }

    /// Writes an issued certificate (and its key) to files. `with_chain` appends the
    /// issuing CA certificate to the certificate file, as TLS servers send it.
    pub fn write_issued(
        &self,
        issued: &IssuedCert,
        key_path: &Path,
        cert_path: &Path,
        with_chain: bool,
    ) -> Result<()> {
        if let Some(k) = &issued.key {
            write(key_path, k.to_pem().as_bytes(), true)?;
        }
        let mut pem = issued.cert.to_pem();
        if with_chain {
            pem.push_str(&self.issuing.cert.to_pem());
        }
        write(cert_path, pem.as_bytes(), false)
    }

    /// Revokes a certificate issued by this PKI's issuing CA and regenerates the CRL.
    pub fn revoke(&mut self, cert: &CertInfo, reason: u8, at: OffsetDateTime) -> Result<()> {
        if cert.issuer() != self.issuing.cert.subject()
            || crate::verify::cert_signed_by(cert, &self.issuing.cert).is_err()
        {
            return Err(Error::Invalid(format!(
                "certificate {} was not issued by this PKI's issuing CA",
                cert.serial_hex
            )));
        }
        if self.revoked()?.contains_key(&cert.serial_hex) {
            return Err(Error::Invalid(format!(
                "certificate {} is already revoked",
                cert.serial_hex
            )));
        }
        self.append_index(&IndexRecord::Revoke {
            serial: cert.serial_hex.clone(),
            at,
            reason,
        })?;
        self.write_crl(at)
    }

    /// Regenerates `crl.pem` from the index, valid from `now` for `crl_days`.
    pub fn write_crl(&mut self, now: OffsetDateTime) -> Result<()> {
        let revoked: Vec<RevokedEntry> = self
            .revoked()?
            .into_iter()
            .map(|(serial_hex, (revoked_at, reason))| RevokedEntry {
                serial_hex,
                revoked_at,
                reason,
            })
            .collect();
        let der = self.issuing.crl(
            &revoked,
            self.meta.next_crl_number,
            now - Duration::minutes(1),
            now + Duration::days(self.meta.crl_days),
        )?;
        self.meta.next_crl_number += 1;
        self.save_meta()?;
        write(
            &self.crl_path(),
            pem::encode(&pem::Pem::new("X509 CRL", der)).as_bytes(),
            false,
        )
    }

    /// The current CRL.
    pub fn crl(&self) -> Result<Crl> {
        Crl::all_from_pem(&read(&self.crl_path())?)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::malformed("crl.pem", "empty"))
    }

    /// A verifier trusting this PKI's root, knowing its issuing CA, with its current CRL.
    pub fn verifier(&self) -> Result<Verifier> {
        Ok(Verifier::new(vec![self.root.clone()])
            .with_cas(vec![self.issuing.cert.clone()])
            .with_crls(vec![self.crl()?]))
    }
}

/// The NATS password of `id` (a gateway or system), `systems/<id>.nats.pass` in the PKI
/// folder: read, or made (32 random hex digits, written 0600) on first use. The broker's
/// configuration and the system itself read it; nobody else is given it.
pub fn nats_password(pki_dir: &Path, id: &str) -> Result<String> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Error::Invalid(format!("{id:?} is not a system id")));
    }
    let path = pki_dir.join("systems").join(format!("{id}.nats.pass"));
    match fs::read_to_string(&path) {
        Ok(p) if !p.trim().is_empty() => return Ok(p.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    fs::create_dir_all(pki_dir.join("systems")).map_err(|e| Error::io(pki_dir, e))?;
    write(&path, password.as_bytes(), true)?;
    Ok(password)
}

/// A CA folder inside the PKI folder would hand the CA keys to every service.
fn check_apart(path: &Path, ca_path: &Path) -> Result<()> {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .collect::<PathBuf>()
    };
    if abs(ca_path).starts_with(abs(path)) {
        return Err(Error::Invalid(format!(
            "the CA folder {} lies inside the PKI folder {} that every service reads",
            ca_path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Issues certificates: the issuing CA itself ([`PkiDir`]), handed by a registration tool
/// to whom it enrols (ИС МИО's seeded employees), which never reads the CA folder.
pub trait Issuer: Send + Sync {
    /// The algorithm of the issuing CA's key (the default of new keys).
    fn algorithm(&self) -> KeyAlgorithm;
    /// Issues a certificate with a new key and records it.
    fn issue(
        &self,
        spec: &SubjectSpec,
        profile: CertProfile,
        alg: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert>;
}

impl Issuer for PkiDir {
    fn algorithm(&self) -> KeyAlgorithm {
        self.issuing.key.algorithm()
    }

    fn issue(
        &self,
        spec: &SubjectSpec,
        profile: CertProfile,
        alg: KeyAlgorithm,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert> {
        PkiDir::issue(self, spec, profile, alg, not_before, not_after)
    }
}

/// The PKI folder as a service reads it: the root and issuing CA certificates and the
/// CRL, no private key of a CA.
#[derive(Debug, Clone)]
pub struct Trust {
    path: PathBuf,
    /// The root CA certificate.
    pub root: CertInfo,
    /// The issuing CA certificate.
    pub issuing: CertInfo,
}

impl Trust {
    /// Opens the PKI folder `path` (made by `egovctl pki init`).
    pub fn open(path: &Path) -> Result<Self> {
        if !PkiDir::exists(path) {
            return Err(Error::Invalid(format!(
                "{} holds no test PKI: run `egovctl pki init --dir {}` first",
                path.display(),
                path.display()
            )));
        }
        Ok(Trust {
            path: path.to_path_buf(),
            root: CertInfo::from_pem(&read(&path.join("root.cert.pem"))?)?,
            issuing: CertInfo::from_pem(&read(&path.join("issuing.cert.pem"))?)?,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The CRL of the folder.
    pub fn crl(&self) -> Result<Crl> {
        Crl::all_from_pem(&read(&self.path.join("crl.pem"))?)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::malformed("crl.pem", "empty"))
    }

    /// A verifier trusting the root, knowing the issuing CA, with the folder's CRL.
    pub fn verifier(&self) -> Result<Verifier> {
        Ok(Verifier::new(vec![self.root.clone()])
            .with_cas(vec![self.issuing.clone()])
            .with_crls(vec![self.crl()?]))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn every_private_key_is_created_for_its_owner_alone() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("pki");
        PkiDir::init(
            &dir,
            &default_ca_dir(&dir),
            &InitOptions {
                algorithm: KeyAlgorithm::EcdsaP256,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(mode(&default_ca_dir(&dir)), 0o700);
        let mut keys = Vec::new();
        let mut stack = vec![dir.clone(), default_ca_dir(&dir)];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.to_string_lossy().ends_with(".key.pem") {
                    keys.push(p);
                }
            }
        }
        assert!(keys.len() > 10, "{keys:?}");
        for k in &keys {
            assert_eq!(mode(k), 0o600, "{}", k.display());
        }
        // a key written over a file others could read takes the new file's mode
        let p = t.path().join("over.key.pem");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write(&p, b"new", true).unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        // no temporary file is left behind
        assert_eq!(
            fs::read_dir(t.path())
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".tmp"))
                .count(),
            0
        );
    }

    fn ecdsa() -> InitOptions {
        InitOptions {
            algorithm: KeyAlgorithm::EcdsaP256,
            ..Default::default()
        }
    }

    /// Every file under `dir`.
    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    #[test]
    fn the_pki_folder_holds_no_ca_key_and_serves_without_the_ca_folder() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("pki");
        let ca = default_ca_dir(&dir);
        assert_eq!(ca, t.path().join("pki-ca"));
        let pki = PkiDir::init(&dir, &ca, &ecdsa()).unwrap();
        let root_key = fs::read_to_string(ca.join("root.key.pem")).unwrap();
        let issuing_key = fs::read_to_string(ca.join("issuing.key.pem")).unwrap();
        assert!(issuing_key.contains("PRIVATE KEY"));
        for f in files(&dir) {
            let text = fs::read_to_string(&f).unwrap_or_default();
            assert!(
                text != root_key && text != issuing_key && !CA_FILES.iter().any(|n| f.ends_with(n)),
                "{} is CA material in the services' folder",
                f.display()
            );
        }
        // a service's view opens and verifies with the CA folder gone
        fs::rename(&ca, t.path().join("elsewhere")).unwrap();
        let trust = Trust::open(&dir).unwrap();
        assert_eq!(trust.issuing.der, pki.issuing.cert.der);
        trust.verifier().unwrap();
        // the CA's own view needs the CA folder and says so
        let e = PkiDir::open(&dir, &ca).unwrap_err().to_string();
        assert!(e.contains("holds no CA"), "{e}");
        PkiDir::open(&dir, &t.path().join("elsewhere")).unwrap();
    }

    #[test]
    fn nats_passwords_are_made_once_for_their_owner_alone() {
        let t = tempfile::tempdir().unwrap();
        let p = nats_password(t.path(), "mio-almaty").unwrap();
        assert_eq!(p.len(), 32);
        assert_eq!(nats_password(t.path(), "mio-almaty").unwrap(), p);
        assert_ne!(nats_password(t.path(), "shep").unwrap(), p);
        assert_eq!(mode(&t.path().join("systems/mio-almaty.nats.pass")), 0o600);
        for bad in ["", "../x", "Shep", "a b"] {
            assert!(nats_password(t.path(), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_ca_folder_inside_the_pki_folder_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("pki");
        let e = PkiDir::init(&dir, &dir.join("ca"), &ecdsa())
            .unwrap_err()
            .to_string();
        assert!(e.contains("inside the PKI folder"), "{e}");
        assert!(!dir.join("ca").exists());
        let e = PkiDir::init(&dir, &dir, &ecdsa()).unwrap_err().to_string();
        assert!(e.contains("inside the PKI folder"), "{e}");
    }

    #[test]
    fn the_older_layout_has_its_ca_files_moved_out_of_the_pki_folder() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("pki");
        let ca = default_ca_dir(&dir);
        let made = PkiDir::init(&dir, &ca, &ecdsa()).unwrap();
        // the older layout: everything in one folder
        for name in CA_FILES {
            fs::rename(ca.join(name), dir.join(name)).unwrap();
        }
        fs::remove_dir(&ca).unwrap();
        let opened = PkiDir::open(&dir, &ca).unwrap();
        assert_eq!(opened.issuing.cert.der, made.issuing.cert.der);
        for name in CA_FILES {
            assert!(!dir.join(name).exists(), "{name} left in the PKI folder");
            assert!(ca.join(name).is_file(), "{name} not in the CA folder");
        }
        assert_eq!(mode(&ca.join("issuing.key.pem")), 0o600);
        assert_eq!(mode(&ca), 0o700);
    }
}
