//! What the stand-in holds, issued by whoever holds the test CA (the launcher, the test
//! world): its TLS identity and test citizens' key files. The stand-in itself never opens
//! the CA folder.
//!
//! | file | what |
//! |---|---|
//! | `<pki>/systems/ncalayer.tls.{cert,key}.pem` | its TLS server certificate (`127.0.0.1`, `localhost`), chain with the issuing CA |
//! | `<pki>/ncalayer/<IIN>-sign.p12` | a citizen's signing key (nonRepudiation, emailProtection) |
//! | `<pki>/ncalayer/<IIN>-auth.p12` | the same citizen's authentication key (clientAuth) |
//!
//! Each is made when missing, expiring within a day, or issued by another CA (a PKI made
//! anew), and left alone otherwise.

use std::path::{Path, PathBuf};

use egov_iin::Iin;
use egov_pki::authority::{CertProfile, IssuedCert, SubjectSpec};
use egov_pki::{CertInfo, PkiDir};
use time::{Duration, OffsetDateTime};

/// The stand-in's id in the PKI folder's `systems/`.
pub const TLS_ID: &str = "ncalayer";

/// The TLS certificate and key files of the PKI folder `pki_dir`.
pub fn tls_paths(pki_dir: &Path) -> (PathBuf, PathBuf) {
    let d = pki_dir.join("systems");
    (
        d.join(format!("{TLS_ID}.tls.cert.pem")),
        d.join(format!("{TLS_ID}.tls.key.pem")),
    )
}

/// The key folder of the PKI folder `pki_dir`.
pub fn keys_dir(pki_dir: &Path) -> PathBuf {
    pki_dir.join("ncalayer")
}

/// Whether `cert` can still be used: issued by the CA's issuing certificate and valid
/// for at least another day.
fn still_good(ca: &PkiDir, cert: &CertInfo, now: OffsetDateTime) -> bool {
    cert.not_after > now + Duration::days(1)
        && cert.not_before <= now
        && cert.issuer() == ca.issuing.cert.subject()
        && egov_pki::verify::cert_signed_by(cert, &ca.issuing.cert).is_ok()
}

/// Issues from the issuing CA, valid from five minutes ago for a year or until the CA ends.
fn issue(
    ca: &PkiDir,
    spec: &SubjectSpec,
    profile: CertProfile,
    now: OffsetDateTime,
) -> Result<IssuedCert, egov_pki::Error> {
    let not_after = (now + Duration::days(365)).min(ca.issuing.cert.not_after);
    ca.issue(
        spec,
        profile,
        ca.issuing.key.algorithm(),
        now - Duration::minutes(5),
        not_after,
    )
}

/// Makes the stand-in's TLS identity in `ca`'s PKI folder unless a good one is there;
/// returns whether it issued one.
pub fn tls_identity(ca: &PkiDir, now: OffsetDateTime) -> Result<bool, egov_pki::Error> {
    let (cert_path, key_path) = tls_paths(ca.path());
    let current = std::fs::read_to_string(&cert_path)
        .ok()
        .and_then(|t| CertInfo::from_pem(&t).ok());
    if key_path.is_file() && current.is_some_and(|c| still_good(ca, &c, now)) {
        return Ok(false);
    }
    std::fs::create_dir_all(ca.path().join("systems"))
        .map_err(|e| egov_pki::Error::Invalid(format!("{}: {e}", ca.path().display())))?;
    let spec = SubjectSpec {
        name: TLS_ID.to_string(),
        organization: Some("TEST egov-mirror: the NCALayer stand-in".into()),
        dns_names: Vec::new(),
        ..SubjectSpec::default()
    };
    let issued = issue(ca, &spec, CertProfile::SystemTls, now)?;
    ca.write_issued(&issued, &key_path, &cert_path, true)?;
    tracing::info!(cert = %cert_path.display(), "issued the NCALayer stand-in's TLS certificate");
    Ok(true)
}

/// A person to hold keys of.
#[derive(Debug, Clone)]
pub struct Person {
    /// The IIN.
    pub iin: Iin,
    /// "SURNAME NAME [PATRONYMIC]".
    pub name: String,
}

/// A key file of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonKey {
    /// The file.
    pub path: PathBuf,
    /// `SIGNATURE` or `AUTHENTICATION`.
    pub key_type: &'static str,
    /// Whether it was issued now.
    pub issued: bool,
}

/// Makes `person`'s signing and authentication key files in `dir` under `password`
/// unless good ones are there (a file that does not open with `password` is made anew).
pub fn person_keys(
    ca: &PkiDir,
    dir: &Path,
    person: &Person,
    password: &str,
    now: OffsetDateTime,
) -> Result<Vec<PersonKey>, egov_pki::Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| egov_pki::Error::Invalid(format!("{}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for (suffix, profile, key_type) in [
        ("sign", CertProfile::Signing, "SIGNATURE"),
        ("auth", CertProfile::Authentication, "AUTHENTICATION"),
    ] {
        let path = dir.join(format!("{}-{suffix}.p12", person.iin.as_string()));
        let good = std::fs::read(&path)
            .ok()
            .and_then(|der| egov_pki::pkcs12::read(&der, password).ok())
            .is_some_and(|f| still_good(ca, &f.cert, now));
        if !good {
            let issued = issue(
                ca,
                &SubjectSpec::person(person.iin, &person.name),
                profile,
                now,
            )?;
            let key = issued
                .key
                .as_ref()
                .ok_or_else(|| egov_pki::Error::Invalid("issued without a key".into()))?;
            let der = egov_pki::pkcs12::write(
                key,
                &issued.cert,
                std::slice::from_ref(&ca.issuing.cert),
                password,
            )?;
            egov_pki::dir::write_secret(&path, &der)?;
        }
        out.push(PersonKey {
            path,
            key_type,
            issued: !good,
        });
    }
    Ok(out)
}
