//! Helpers shared by the subcommands: files, times, IINs and PKI material.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use egov_iin::Iin;
use egov_pki::crl::Crl;
use egov_pki::{CertInfo, KeyAlgorithm, PrivateKey};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// A key algorithm as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algo {
    /// RSA-2048 with SHA-256 (as НУЦ РК's RSA certificates).
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// ECDSA over P-256 with SHA-256 (much faster to generate).
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
}

impl From<Algo> for KeyAlgorithm {
    fn from(a: Algo) -> Self {
        match a {
            Algo::Rsa2048 => KeyAlgorithm::Rsa2048,
            Algo::EcdsaP256 => KeyAlgorithm::EcdsaP256,
        }
    }
}

/// The command-line name of a key algorithm.
pub fn algo_name(a: KeyAlgorithm) -> &'static str {
    match a {
        KeyAlgorithm::Rsa2048 => "rsa-2048",
        KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
    }
}

/// `s` as it can be shown on one line: as is, or quoted and escaped when it holds
/// control characters.
pub fn shown(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) || s.is_empty() {
        Cow::Owned(format!("{s:?}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Parses an IIN; the error names the rule that failed, e.g.
/// `invalid IIN 870312300047: check-digit: the check digit is 7, expected 6`.
pub fn parse_iin(s: &str) -> Result<Iin> {
    Iin::parse(s).map_err(|e| anyhow!("invalid IIN {}: {}: {e}", shown(s), e.rule()))
}

/// Parses a time given on the command line: RFC 3339 (`2025-01-31T09:00:00Z`,
/// `2025-01-31T12:00:00+05:00`) or a bare date (`2025-01-31`, midnight UTC).
pub fn parse_time(s: &str, flag: &str) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(s, &date_fmt) {
        return Ok(d.midnight().assume_utc());
    }
    bail!(
        "{flag} {}: not a time; expected RFC 3339 such as 2025-01-31T09:00:00Z, or a date such as 2025-01-31",
        shown(s)
    )
}

/// Formats a time as RFC 3339, whole seconds (as certificates hold them).
pub fn fmt_time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Reads a whole file; the error names the option it was given with.
pub fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// Writes a whole file, creating its parent directory.
pub fn write(path: &Path, content: &[u8], what: &str) -> Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {what} {}", path.display()))
}

/// The `-----BEGIN X-----` labels of a PEM text.
fn pem_labels(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .collect()
}

/// Whether the bytes look like PEM rather than DER.
fn is_pem(data: &[u8]) -> bool {
    data.trim_ascii_start().starts_with(b"-----BEGIN ")
}

/// A hint when a file holds the wrong kind of PEM block.
fn wrong_kind_hint(labels: &[&str]) -> Option<&'static str> {
    if labels.contains(&"X509 CRL") {
        Some("this is a CRL: give it with --crl")
    } else if labels.iter().any(|l| l.contains("PRIVATE KEY")) {
        Some("this is a private key, not a certificate")
    } else if labels.iter().any(|l| matches!(*l, "CMS" | "PKCS7")) {
        Some("this is a signature, not a certificate")
    } else {
        None
    }
}

/// Every certificate of a file (PEM bundle or a single DER certificate). `what` names
/// the file in errors (e.g. `--ca root.pem`).
pub fn load_certs(path: &Path, what: &str) -> Result<Vec<CertInfo>> {
    let data = read(path, what)?;
    let shown_path = path.display();
    if !is_pem(&data) {
        return CertInfo::from_der(&data)
            .map(|c| vec![c])
            .map_err(|e| anyhow!("{what} {shown_path}: neither PEM nor a DER certificate: {e}"));
    }
    let text = String::from_utf8_lossy(&data);
    let labels = pem_labels(&text);
    if !labels.contains(&"CERTIFICATE")
        && let Some(hint) = wrong_kind_hint(&labels)
    {
        bail!(
            "{what} {shown_path} holds no certificate ({hint}; found {})",
            labels.join(", ")
        );
    }
    CertInfo::all_from_pem(&text).map_err(|e| anyhow!("{what} {shown_path}: {e}"))
}

/// The first certificate of a file (the leaf of a chain file).
pub fn load_cert(path: &Path, what: &str) -> Result<CertInfo> {
    load_certs(path, what)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("{what} {}: no certificate", path.display()))
}

/// Every CRL of a file (PEM with `X509 CRL` blocks, or a single DER CRL).
pub fn load_crls(path: &Path, what: &str) -> Result<Vec<Crl>> {
    let data = read(path, what)?;
    let shown_path = path.display();
    if !is_pem(&data) {
        return Crl::from_der(&data)
            .map(|c| vec![c])
            .map_err(|e| anyhow!("{what} {shown_path}: neither PEM nor a DER CRL: {e}"));
    }
    let text = String::from_utf8_lossy(&data);
    let labels = pem_labels(&text);
    if !labels.contains(&"X509 CRL") && labels.contains(&"CERTIFICATE") {
        bail!("{what} {shown_path} holds certificates, not a CRL (give CA certificates with --ca)");
    }
    Crl::all_from_pem(&text).map_err(|e| anyhow!("{what} {shown_path}: {e}"))
}

/// A PKCS#8 private key from a PEM file.
pub fn load_key(path: &Path, what: &str) -> Result<PrivateKey> {
    let data = read(path, what)?;
    let text = std::str::from_utf8(&data)
        .map_err(|_| anyhow!("{what} {}: not a PEM file", path.display()))?;
    PrivateKey::from_pem(text).map_err(|e| anyhow!("{what} {}: {e}", path.display()))
}

/// The common name of a certificate's subject, or the whole subject.
pub fn cn_or_subject(c: &CertInfo) -> String {
    c.identity
        .common_name
        .clone()
        .unwrap_or_else(|| c.subject_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = parse_time("2025-01-31T09:00:00Z", "--at").unwrap();
        assert_eq!(fmt_time(t), "2025-01-31T09:00:00Z");
        let t = parse_time("2025-01-31T14:00:00+05:00", "--at").unwrap();
        assert_eq!(t.unix_timestamp(), 1738314000);
        let d = parse_time("2025-01-31", "--at").unwrap();
        assert_eq!(fmt_time(d), "2025-01-31T00:00:00Z");
        let e = parse_time("2025-02-30", "--at").unwrap_err().to_string();
        assert!(e.starts_with("--at 2025-02-30: not a time"), "{e}");
    }

    #[test]
    fn iin_errors_name_the_rule() {
        let e = parse_iin("870312300047").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid IIN 870312300047: check-digit: the check digit is 7, expected 6"
        );
        let e = parse_iin("8703\n12300046").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn labels() {
        let t = "x\n-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n";
        assert_eq!(pem_labels(t), vec!["X509 CRL"]);
        assert_eq!(
            wrong_kind_hint(&pem_labels(t)),
            Some("this is a CRL: give it with --crl")
        );
    }
}
