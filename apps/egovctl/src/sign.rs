//! `egovctl sign`: CMS SignedData signatures (DER), as the gateways' clients make them.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;
use egov_pki::CertInfo;
use time::OffsetDateTime;

use crate::util;

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The signer's private key (PKCS#8 PEM, e.g. PREFIX.key.pem of `pki issue`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The signer's certificate (PEM or DER). When the file is a chain, the first
    /// certificate is the signer's and the others are embedded as with --chain.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The file to sign (signed as raw bytes).
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write the signature (DER).
    #[arg(long, value_name = "SIG")]
    pub out: PathBuf,
    /// Put the content inside the signature (default: detached, content left out).
    #[arg(long)]
    pub attached: bool,
    /// CA certificates (PEM bundle) to embed in the signature, e.g. the issuing CA, so
    /// that a verifier needs only the root.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// The signingTime attribute (RFC 3339 or YYYY-MM-DD). Default: now. Verifiers check
    /// the certificate's validity at this time.
    #[arg(long, value_name = "TIME")]
    pub signing_time: Option<String>,
}

/// Runs `sign`.
pub fn run(a: SignArgs, out: &mut dyn Write) -> Result<()> {
    let signing_time = match &a.signing_time {
        Some(s) => util::parse_time(s, "--signing-time")?,
        None => OffsetDateTime::now_utc(),
    };
    let key = util::load_key(&a.key, "--key")?;
    let mut certs = util::load_certs(&a.cert, "--cert")?.into_iter();
    let signer = certs
        .next()
        .ok_or_else(|| anyhow!("--cert {}: no certificate", a.cert.display()))?;
    let mut chain: Vec<CertInfo> = certs.collect();
    for p in &a.chain {
        chain.extend(util::load_certs(p, "--chain")?);
    }
    // Each certificate once, and not the signer's again.
    let mut seen = vec![signer.der.clone()];
    chain.retain(|c| {
        let new = !seen.contains(&c.der);
        seen.push(c.der.clone());
        new
    });
    let data = util::read(&a.input, "--in")?;
    let sig = egov_pki::cms::sign(&data, &key, &signer, &chain, !a.attached, signing_time)
        .map_err(|e| {
            anyhow!(
                "cannot sign with --key {} and --cert {}: {e}",
                a.key.display(),
                a.cert.display()
            )
        })?;
    util::write(&a.out, &sig, "signature")?;
    writeln!(
        out,
        "wrote {} signature {} ({} bytes) by {} (serial {}), {} CA certificate(s) embedded, signing time {}",
        if a.attached { "attached" } else { "detached" },
        a.out.display(),
        sig.len(),
        util::cn_or_subject(&signer),
        signer.serial_hex,
        chain.len(),
        util::fmt_time(signing_time)
    )?;
    if signing_time < signer.not_before || signing_time > signer.not_after {
        writeln!(
            out,
            "note: the certificate is not valid at the signing time (valid {} .. {}): verification will fail",
            util::fmt_time(signer.not_before),
            util::fmt_time(signer.not_after)
        )?;
    }
    Ok(())
}
