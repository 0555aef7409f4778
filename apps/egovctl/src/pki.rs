//! `egovctl pki`: the on-disk test PKI (see [`egov_pki::dir`] for its layout).
//!
//! Everything made here is TEST MATERIAL: no key belongs to a real person or system.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use egov_pki::authority::{self, CertProfile, Endpoints, SubjectSpec};
use egov_pki::dir::{InitOptions, PkiDir};
use time::{Duration, OffsetDateTime};

use crate::util::{self, Algo};

/// OCSP URL written into certificates by default: the uc service's fixed port.
pub const DEFAULT_OCSP_URL: &str = "http://127.0.0.1:7010/ocsp";
/// CRL distribution point written into certificates by default: the uc service.
pub const DEFAULT_CRL_URL: &str = "http://127.0.0.1:7010/crl";

/// Longest validity `pki issue --days` accepts (the issuing CA's own validity is shorter).
const MAX_DAYS: i64 = 36_500;

/// The `pki` subcommands.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a test PKI: root CA, issuing CA, chain, an empty CRL and the signing and
    /// TLS certificates of every information system.
    Init(InitArgs),
    /// Issue a person's (or an employee's) certificate from the issuing CA.
    #[command(
        after_help = "Writes PREFIX.key.pem (PKCS#8, mode 0600), PREFIX.cert.pem (the certificate \
                      alone), PREFIX.chain.pem (the certificate, then the issuing CA) and \
                      PREFIX.p12 (mode 0600): the key, the certificate and the issuing CA as \
                      PKCS#12 under --p12-password (PBES2 with PBKDF2-HMAC-SHA256 and \
                      AES-256-CBC, HMAC-SHA256 MAC), the file NCALayer and its stand-in \
                      load and `openssl pkcs12 -in PREFIX.p12 -nodes` reads. Without \
                      --p12-password the file gets the test password Qwerty12."
    )]
    Issue(IssueArgs),
    /// Revoke a certificate of this PKI and regenerate DIR/crl.pem.
    Revoke(RevokeArgs),
    /// Regenerate DIR/crl.pem as of now (when it expired: a CRL lives 7 days).
    Crl(CrlArgs),
}

/// Arguments of `pki init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory of the new PKI (created when missing; refused when it already holds one).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA folder with the CAs' keys, settings and index (created 0700 by `init`);
    /// default beside DIR, its name plus `-ca`. Only uc and this tool are given it.
    #[arg(long, value_name = "DIR", env = "EGOV_UC__CA_DIR")]
    pub ca_dir: Option<PathBuf>,
    /// Key algorithm of the CAs and the system certificates.
    #[arg(long, value_enum, default_value_t = Algo::Rsa2048)]
    pub algo: Algo,
    /// OCSP responder URL written into every issued certificate (authorityInfoAccess);
    /// an empty value leaves it out.
    #[arg(long, value_name = "URL", default_value = DEFAULT_OCSP_URL)]
    pub ocsp_url: String,
    /// CRL distribution point URL written into every issued certificate; an empty value
    /// leaves it out.
    #[arg(long, value_name = "URL", default_value = DEFAULT_CRL_URL)]
    pub crl_url: String,
    /// Make the PKI as if it were created at this time (RFC 3339 or YYYY-MM-DD): the CA
    /// certificates are valid from a day before it and the system certificates from it.
    /// Needed to issue certificates that start (`pki issue --not-before`) more than a
    /// day before now. The CRL is still issued as of now. Default: now.
    #[arg(long, value_name = "TIME")]
    pub created_at: Option<String>,
    /// The deployment's topology folder whose gateways and systems get certificates
    /// (default: the shipped `deploy/topology`).
    #[arg(long, value_name = "DIR", env = "EGOV_TOPOLOGY_DIR")]
    pub topology: Option<PathBuf>,
}

/// Certificate profiles `pki issue` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// Document signing (ЭЦП): keyUsage nonRepudiation + digitalSignature, extKeyUsage
    /// emailProtection.
    Signing,
    /// Authentication (login): keyUsage digitalSignature + keyEncipherment, extKeyUsage
    /// clientAuth. Signatures made with it fail verification as wrong-usage.
    Auth,
}

impl From<ProfileArg> for CertProfile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Signing => CertProfile::Signing,
            ProfileArg::Auth => CertProfile::Authentication,
        }
    }
}

/// Arguments of `pki issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Directory of the test PKI (made by `egovctl pki init`).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA folder with the CAs' keys, settings and index (created 0700 by `init`);
    /// default beside DIR, its name plus `-ca`. Only uc and this tool are given it.
    #[arg(long, value_name = "DIR", env = "EGOV_UC__CA_DIR")]
    pub ca_dir: Option<PathBuf>,
    /// The holder's IIN (SERIALNUMBER=IIN… of the subject).
    #[arg(long, value_name = "IIN")]
    pub iin: String,
    /// The holder's name: SURNAME NAME, optionally followed by the PATRONYMIC, e.g.
    /// "АХМЕТОВ ЕРЛАН САБИТОВИЧ" (the CN is SURNAME NAME).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Organisation of an employee's certificate (O=). When only --org-bin is given it is
    /// "Организация БИН" followed by the BIN.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// BIN of the employee's organisation, 12 digits (OU=BIN…).
    #[arg(long, value_name = "BIN")]
    pub org_bin: Option<String>,
    /// Validity in days, counted from --not-before.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 365,
        allow_negative_numbers = true
    )]
    pub days: i64,
    /// Start of validity (RFC 3339 or YYYY-MM-DD). Default: 5 minutes ago (tolerates
    /// clock skew). It cannot precede the issuing CA's validity: see `pki init --created-at`.
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<String>,
    /// What the certificate is for.
    #[arg(long, value_enum, default_value_t = ProfileArg::Signing)]
    pub profile: ProfileArg,
    /// Key algorithm of the new key. Default: the issuing CA's.
    #[arg(long, value_enum)]
    pub algo: Option<Algo>,
    /// Path prefix of the files written: PREFIX.key.pem, PREFIX.cert.pem, PREFIX.chain.pem,
    /// PREFIX.p12.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Password of PREFIX.p12. Default: the test password Qwerty12 (anyone can open the
    /// file; say so to whoever gets it).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "EGOV_P12_PASSWORD",
        hide_env_values = true
    )]
    pub p12_password: Option<String>,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `pki revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Directory of the test PKI.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA folder with the CAs' keys, settings and index (created 0700 by `init`);
    /// default beside DIR, its name plus `-ca`. Only uc and this tool are given it.
    #[arg(long, value_name = "DIR", env = "EGOV_UC__CA_DIR")]
    pub ca_dir: Option<PathBuf>,
    /// The certificate to revoke (PEM or DER; of a chain file, the first certificate).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// RFC 5280 reason: unspecified, key-compromise, ca-compromise, affiliation-changed,
    /// superseded, cessation-of-operation, certificate-hold, privilege-withdrawn,
    /// aa-compromise (or the reason code).
    #[arg(long, value_name = "REASON", default_value = "unspecified")]
    pub reason: String,
}

/// Arguments of `pki crl`.
#[derive(Debug, Args)]
pub struct CrlArgs {
    /// Directory of the test PKI.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA folder with the CAs' keys, settings and index (created 0700 by `init`);
    /// default beside DIR, its name plus `-ca`. Only uc and this tool are given it.
    #[arg(long, value_name = "DIR", env = "EGOV_UC__CA_DIR")]
    pub ca_dir: Option<PathBuf>,
}

/// Runs a `pki` subcommand.
pub fn run(cmd: PkiCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        PkiCommand::Init(a) => init(&a, out),
        PkiCommand::Issue(a) => issue(&a, out),
        PkiCommand::Revoke(a) => revoke(&a, out),
        PkiCommand::Crl(a) => crl(&a, out),
    }
}

fn url_opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `--ca-dir`, else the CA folder beside `dir`.
fn ca_dir(dir: &Path, ca_dir: Option<&Path>) -> PathBuf {
    ca_dir.map_or_else(|| egov_pki::dir::default_ca_dir(dir), Path::to_path_buf)
}

fn open(dir: &Path, ca: Option<&Path>) -> Result<PkiDir> {
    Ok(PkiDir::open(dir, &ca_dir(dir, ca))?)
}

/// The number of the CRL just written.
fn last_crl_number(dir: &PkiDir) -> u64 {
    dir.meta.next_crl_number.saturating_sub(1)
}

fn init(a: &InitArgs, out: &mut dyn Write) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let created_at = match &a.created_at {
        Some(s) => util::parse_time(s, "--created-at")?,
        None => now,
    };
    if !(1971..=2099).contains(&created_at.year()) {
        bail!(
            "--created-at {}: the test PKI supports creation years 1971 to 2099",
            util::fmt_time(created_at)
        );
    }
    let opts = InitOptions {
        algorithm: a.algo.into(),
        endpoints: Endpoints {
            crl_url: url_opt(&a.crl_url),
            ocsp_url: url_opt(&a.ocsp_url),
        },
        now: created_at,
        systems: egov_topology::Topology::open(a.topology.as_deref())?.identities(),
        ..InitOptions::default()
    };
    let mut dir = PkiDir::init(&a.dir, &ca_dir(&a.dir, a.ca_dir.as_deref()), &opts)?;
    if a.created_at.is_some() {
        // The CRL of the back-dated creation may already be stale.
        dir.write_crl(now)?;
    }
    let crl = dir.crl()?;
    let p = |name: &str| dir.path().join(name).display().to_string();
    let k = |name: &str| dir.ca_path().join(name).display().to_string();
    writeln!(
        out,
        "created test PKI in {} ({}, created at {})",
        dir.path().display(),
        util::algo_name(dir.issuing.key.algorithm()),
        util::fmt_time(created_at)
    )?;
    writeln!(
        out,
        "  root CA     {} (key {}), valid until {}",
        p("root.cert.pem"),
        k("root.key.pem"),
        util::fmt_time(dir.root.not_after)
    )?;
    writeln!(
        out,
        "  issuing CA  {} (key {}), valid until {}",
        p("issuing.cert.pem"),
        k("issuing.key.pem"),
        util::fmt_time(dir.issuing.cert.not_after)
    )?;
    writeln!(
        out,
        "  chain       {} (issuing CA, root CA)",
        p("chain.pem")
    )?;
    writeln!(
        out,
        "  CRL         {} (number {}, next update {})",
        p("crl.pem"),
        last_crl_number(&dir),
        crl.next_update
            .map_or_else(|| "none".into(), util::fmt_time)
    )?;
    writeln!(
        out,
        "  systems     {} certificates for {} systems in {} (<id>.sign.*.pem, <id>.tls.*.pem)",
        opts.systems.len() * 2,
        opts.systems.len(),
        p("systems")
    )?;
    writeln!(out, "  index       {}", k("index.jsonl"))?;
    writeln!(
        out,
        "  CA folder   {} (give it to uc alone; services read {})",
        dir.ca_path().display(),
        dir.path().display()
    )?;
    let none = "(none)".to_string();
    writeln!(
        out,
        "  OCSP URL    {}",
        dir.meta.endpoints.ocsp_url.as_ref().unwrap_or(&none)
    )?;
    writeln!(
        out,
        "  CRL URL     {}",
        dir.meta.endpoints.crl_url.as_ref().unwrap_or(&none)
    )?;
    Ok(())
}

/// `PREFIX` + `suffix`, keeping any dots of the prefix.
fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn validate_bin(bin: &str) -> Result<()> {
    if bin.len() != 12 || !bin.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "invalid --org-bin {}: a BIN has 12 digits",
            util::shown(bin)
        );
    }
    Ok(())
}

fn issue(a: &IssueArgs, out: &mut dyn Write) -> Result<()> {
    let iin = util::parse_iin(&a.iin).context("--iin")?;
    if let Some(bin) = &a.org_bin {
        validate_bin(bin)?;
    }
    if a.days <= 0 || a.days > MAX_DAYS {
        bail!(
            "--days {}: the validity must be 1 to {MAX_DAYS} days",
            a.days
        );
    }
    let not_before = match &a.not_before {
        Some(s) => util::parse_time(s, "--not-before")?,
        None => OffsetDateTime::now_utc() - Duration::minutes(5),
    };
    let not_after = not_before
        .checked_add(Duration::days(a.days))
        .ok_or_else(|| anyhow!("--not-before plus --days is out of range"))?;
    let organization = match (&a.org, &a.org_bin) {
        (Some(o), _) => Some(o.clone()),
        (None, Some(bin)) => Some(format!("Организация БИН {bin}")),
        (None, None) => None,
    };
    let key_path = with_suffix(&a.out, ".key.pem");
    let cert_path = with_suffix(&a.out, ".cert.pem");
    let chain_path = with_suffix(&a.out, ".chain.pem");
    let p12_path = with_suffix(&a.out, ".p12");
    if a.p12_password.as_deref() == Some("") {
        bail!("--p12-password is empty: a PKCS#12 file needs a password");
    }
    if !a.force {
        for p in [&key_path, &cert_path, &chain_path, &p12_path] {
            if p.exists() {
                bail!(
                    "{} exists: choose another --out or add --force",
                    p.display()
                );
            }
        }
    }
    if let Some(parent) = a.out.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    let dir = open(&a.dir, a.ca_dir.as_deref())?;
    let ca = &dir.issuing.cert;
    if not_before < ca.not_before {
        bail!(
            "--not-before {} precedes the issuing CA's validity (from {}): make the PKI with an earlier `pki init --created-at`",
            util::fmt_time(not_before),
            util::fmt_time(ca.not_before)
        );
    }
    if not_after > ca.not_after {
        bail!(
            "the validity would end at {}, after the issuing CA's ({}): use fewer --days",
            util::fmt_time(not_after),
            util::fmt_time(ca.not_after)
        );
    }
    let spec = SubjectSpec {
        iin: Some(iin),
        name: a.name.clone(),
        organization,
        bin: a.org_bin.clone(),
        dns_names: Vec::new(),
    };
    let alg = a
        .algo
        .map_or_else(|| dir.issuing.key.algorithm(), Into::into);
    let issued = dir.issue(&spec, a.profile.into(), alg, not_before, not_after)?;
    dir.write_issued(&issued, &key_path, &cert_path, false)?;
    let chain = format!("{}{}", issued.cert.to_pem(), dir.issuing.cert.to_pem());
    util::write(&chain_path, chain.as_bytes(), "certificate chain")?;
    let password = a
        .p12_password
        .as_deref()
        .unwrap_or(egov_pki::pkcs12::TEST_PASSWORD);
    let key = issued
        .key
        .as_ref()
        .ok_or_else(|| anyhow!("the issued certificate came without its key"))?;
    let p12 = egov_pki::pkcs12::write(
        key,
        &issued.cert,
        std::slice::from_ref(&dir.issuing.cert),
        password,
    )?;
    egov_pki::dir::write_secret(&p12_path, &p12)?;
    let c = &issued.cert;
    writeln!(
        out,
        "issued {} certificate serial {}",
        match a.profile {
            ProfileArg::Signing => "signing",
            ProfileArg::Auth => "authentication",
        },
        c.serial_hex
    )?;
    writeln!(out, "  subject  {}", c.subject_string())?;
    writeln!(
        out,
        "  valid    {} .. {}",
        util::fmt_time(c.not_before),
        util::fmt_time(c.not_after)
    )?;
    writeln!(
        out,
        "  key      {} ({}, PKCS#8)",
        key_path.display(),
        util::algo_name(alg)
    )?;
    writeln!(out, "  cert     {}", cert_path.display())?;
    writeln!(
        out,
        "  chain    {} (certificate, issuing CA)",
        chain_path.display()
    )?;
    writeln!(
        out,
        "  p12      {} (PKCS#12: key, certificate, issuing CA; alias {})",
        p12_path.display(),
        egov_pki::pkcs12::alias_of(c)
    )?;
    match &a.p12_password {
        Some(_) => writeln!(out, "  password of the .p12 as given (--p12-password)")?,
        None => writeln!(
            out,
            "  password of the .p12: {} (the TEST default: anyone can open it; --p12-password sets another)",
            egov_pki::pkcs12::TEST_PASSWORD
        )?,
    }
    Ok(())
}

fn revoke(a: &RevokeArgs, out: &mut dyn Write) -> Result<()> {
    let reason = authority::parse_reason(&a.reason).map_err(|e| {
        anyhow!("--reason: {e}: use unspecified, key-compromise, ca-compromise, affiliation-changed, superseded, cessation-of-operation, certificate-hold, privilege-withdrawn or aa-compromise")
    })?;
    let cert = util::load_cert(&a.cert, "--cert")?;
    let mut dir = open(&a.dir, a.ca_dir.as_deref())?;
    let now = OffsetDateTime::now_utc();
    dir.revoke(&cert, reason, now)
        .with_context(|| format!("cannot revoke {}", a.cert.display()))?;
    writeln!(
        out,
        "revoked certificate serial {} ({}), reason {}",
        cert.serial_hex,
        util::cn_or_subject(&cert),
        authority::reason_name(reason)
    )?;
    writeln!(
        out,
        "wrote {} (number {})",
        dir.crl_path().display(),
        last_crl_number(&dir)
    )?;
    Ok(())
}

fn crl(a: &CrlArgs, out: &mut dyn Write) -> Result<()> {
    let mut dir = open(&a.dir, a.ca_dir.as_deref())?;
    dir.write_crl(OffsetDateTime::now_utc())?;
    let crl = dir.crl()?;
    writeln!(
        out,
        "wrote {} (number {}, {} revoked, next update {})",
        dir.crl_path().display(),
        last_crl_number(&dir),
        crl.revoked.len(),
        crl.next_update
            .map_or_else(|| "none".into(), util::fmt_time)
    )?;
    Ok(())
}
