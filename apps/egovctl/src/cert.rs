//! `egovctl cert`: inspect certificates.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use const_oid::AssociatedOid;
use der::Decode;
use egov_pki::{CertInfo, oids};
use sha2::Digest;
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints, SubjectAltName};

use crate::util;

/// The `cert` subcommands.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print what a certificate holds: subject, issuer, serial, validity, IIN, BIN, name,
    /// what it may be used for, revocation URLs. Every certificate of a chain file.
    Show(ShowArgs),
}

/// Arguments of `cert show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The certificate file (PEM, possibly a chain or bundle, or DER).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs a `cert` subcommand.
pub fn run(cmd: CertCommand, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CertCommand::Show(a) => show(&a, out),
    }
}

fn show(a: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let certs = util::load_certs(&a.file, "certificate file")?;
    let now = OffsetDateTime::now_utc();
    for (i, c) in certs.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        describe(c, now, out)?;
    }
    Ok(())
}

/// What a certificate is for, in the terms of the test PKI's profiles.
pub fn kind(c: &CertInfo) -> &'static str {
    let eku = c.ext_key_usage.as_deref().unwrap_or_default();
    if c.is_ca {
        if c.subject() == c.issuer() {
            "root CA"
        } else {
            "CA (issuing)"
        }
    } else if c.allows_document_signing() {
        "signing (document signatures, ЭЦП)"
    } else if eku.contains(&oids::KP_SERVER_AUTH) && eku.contains(&oids::KP_CLIENT_AUTH) {
        "TLS (server and client authentication)"
    } else if eku.contains(&oids::KP_CLIENT_AUTH) {
        "authentication (login)"
    } else if eku.contains(&oids::KP_OCSP_SIGNING) {
        "OCSP responder"
    } else {
        "other"
    }
}

fn eku_name(o: &const_oid::ObjectIdentifier) -> String {
    match *o {
        o if o == oids::KP_SERVER_AUTH => "serverAuth".into(),
        o if o == oids::KP_CLIENT_AUTH => "clientAuth".into(),
        o if o == oids::KP_EMAIL_PROTECTION => "emailProtection".into(),
        o if o == oids::KP_OCSP_SIGNING => "OCSPSigning".into(),
        o if o == oids::KP_ANY => "anyExtendedKeyUsage".into(),
        o => o.to_string(),
    }
}

fn general_name(g: &GeneralName) -> String {
    match g {
        GeneralName::UniformResourceIdentifier(s) => s.to_string(),
        GeneralName::DnsName(s) => format!("DNS:{s}"),
        GeneralName::IpAddress(ip) => match ip.as_bytes() {
            [a, b, c, d] => format!("IP:{a}.{b}.{c}.{d}"),
            other => format!("IP:{}", hex::encode(other)),
        },
        GeneralName::Rfc822Name(s) => format!("email:{s}"),
        GeneralName::DirectoryName(n) => n.to_string(),
        _ => "(other name)".into(),
    }
}

/// The URLs and names of the extensions the verifier and the gateways read.
struct Extras {
    crl_urls: Vec<String>,
    ocsp_urls: Vec<String>,
    alt_names: Vec<String>,
}

fn extras(c: &CertInfo) -> Extras {
    let mut x = Extras {
        crl_urls: Vec::new(),
        ocsp_urls: Vec::new(),
        alt_names: Vec::new(),
    };
    for ext in c.cert.tbs_certificate.extensions.iter().flatten() {
        let v = ext.extn_value.as_bytes();
        if ext.extn_id == CrlDistributionPoints::OID {
            if let Ok(dps) = CrlDistributionPoints::from_der(v) {
                for dp in dps.0 {
                    if let Some(DistributionPointName::FullName(names)) = dp.distribution_point {
                        x.crl_urls.extend(names.iter().map(general_name));
                    }
                }
            }
        } else if ext.extn_id == AuthorityInfoAccessSyntax::OID {
            if let Ok(aia) = AuthorityInfoAccessSyntax::from_der(v) {
                for ad in aia.0 {
                    if ad.access_method == const_oid::db::rfc5280::ID_AD_OCSP {
                        x.ocsp_urls.push(general_name(&ad.access_location));
                    }
                }
            }
        } else if ext.extn_id == SubjectAltName::OID
            && let Ok(san) = SubjectAltName::from_der(v)
        {
            x.alt_names.extend(san.0.iter().map(general_name));
        }
    }
    x
}

fn key_algorithm(c: &CertInfo) -> String {
    let spki = &c.cert.tbs_certificate.subject_public_key_info;
    match spki.algorithm.oid {
        o if o == oids::RSA_ENCRYPTION => "RSA".into(),
        o if o == oids::EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
            match curve {
                Some(c) if c == const_oid::db::rfc5912::SECP_256_R_1 => "ECDSA P-256".into(),
                Some(c) => format!("EC ({c})"),
                None => "EC".into(),
            }
        }
        o => o.to_string(),
    }
}

fn describe(c: &CertInfo, now: OffsetDateTime, out: &mut dyn Write) -> Result<()> {
    let id = &c.identity;
    let status = if now < c.not_before {
        "not yet valid"
    } else if now > c.not_after {
        "expired"
    } else {
        "valid now"
    };
    writeln!(out, "subject:      {}", c.subject_string())?;
    writeln!(out, "issuer:       {}", c.issuer())?;
    writeln!(out, "serial:       {}", c.serial_hex)?;
    writeln!(
        out,
        "validity:     {} .. {} ({status})",
        util::fmt_time(c.not_before),
        util::fmt_time(c.not_after)
    )?;
    writeln!(out, "kind:         {}", kind(c))?;
    if let Some(iin) = id.iin {
        writeln!(
            out,
            "IIN:          {iin} (born {}, {})",
            iin.birth_date(),
            iin.sex()
        )?;
    }
    if let Some(cn) = &id.common_name {
        writeln!(out, "name:         {cn}")?;
    }
    if let Some(s) = &id.surname {
        writeln!(out, "surname:      {s}")?;
    }
    if let Some(g) = &id.given_name {
        writeln!(out, "given name:   {g}")?;
    }
    if let Some(o) = &id.organization {
        writeln!(out, "organisation: {o}")?;
    }
    if let Some(b) = &id.bin {
        writeln!(out, "BIN:          {b}")?;
    }
    if let Some(ku) = &c.key_usage {
        let bits: Vec<String> = ku.0.into_iter().map(|b| format!("{b:?}")).collect();
        writeln!(out, "key usage:    {}", bits.join(", "))?;
    }
    if let Some(eku) = &c.ext_key_usage {
        let names: Vec<String> = eku.iter().map(eku_name).collect();
        writeln!(out, "ext. usage:   {}", names.join(", "))?;
    }
    writeln!(out, "key:          {}", key_algorithm(c))?;
    let x = extras(c);
    if !x.alt_names.is_empty() {
        writeln!(out, "alt. names:   {}", x.alt_names.join(", "))?;
    }
    if !x.crl_urls.is_empty() {
        writeln!(out, "CRL:          {}", x.crl_urls.join(", "))?;
    }
    if !x.ocsp_urls.is_empty() {
        writeln!(out, "OCSP:         {}", x.ocsp_urls.join(", "))?;
    }
    writeln!(
        out,
        "SHA-256:      {}",
        hex::encode_upper(sha2::Sha256::digest(&c.der))
    )?;
    Ok(())
}
