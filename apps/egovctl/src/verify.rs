//! `egovctl verify`: verifies a CMS signature with [`egov_pki::Verifier`], as the
//! gateways do, and reports the signer or the reason of the failure.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use egov_pki::verify::Revocation;
use egov_pki::{Verifier, VerifyOptions};

use crate::util;

/// Timeout of one OCSP request.
const OCSP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Arguments of `verify`.
#[derive(Debug, Args)]
#[command(after_help = "On failure the stderr line is \
    \"egovctl: verification failed: <reason>: <message>\" where <reason> is one of \
    bad-signature, untrusted, expired, not-yet-valid, revoked, iin-mismatch, wrong-usage, \
    malformed, crl-expired, crl-invalid, revocation-unknown.")]
pub struct VerifyArgs {
    /// The signed data of a detached signature. Leave it out for an attached signature.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The signature: CMS SignedData, DER, BER or PEM.
    #[arg(long, value_name = "SIG")]
    pub sig: PathBuf,
    /// CA certificates (PEM bundle or DER), repeatable: self-signed ones are trusted
    /// roots, the others intermediates (the issuing CA may also come inside the signature).
    #[arg(long, value_name = "FILE", required = true)]
    pub ca: Vec<PathBuf>,
    /// CRLs of the issuing CA (PEM or DER), repeatable. Revocation is checked against
    /// them (after OCSP when --ocsp-url is given).
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// The IIN the signer's certificate must carry.
    #[arg(long, value_name = "IIN")]
    pub iin: Option<String>,
    /// OCSP responder to ask first (e.g. http://127.0.0.1:7010/ocsp); when it fails, the
    /// CRLs are used.
    #[arg(long, value_name = "URL")]
    pub ocsp_url: Option<String>,
    /// Fail (revocation-unknown) unless revocation is established by OCSP or a CRL.
    #[arg(long)]
    pub require_revocation: bool,
    /// Check the certificates' validity at this time (RFC 3339 or YYYY-MM-DD) instead of
    /// the signature's signingTime.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Write the signed content here after a successful verification (the content of an
    /// attached signature).
    #[arg(long, value_name = "FILE")]
    pub out_content: Option<PathBuf>,
}

/// Runs `verify`.
pub fn run(a: VerifyArgs, out: &mut dyn Write) -> Result<()> {
    let expected_iin = a
        .iin
        .as_deref()
        .map(util::parse_iin)
        .transpose()
        .context("--iin")?;
    let at =
        a.at.as_deref()
            .map(|s| util::parse_time(s, "--at"))
            .transpose()?;
    let mut cas = Vec::new();
    for p in &a.ca {
        cas.extend(util::load_certs(p, "--ca")?);
    }
    let mut crls = Vec::new();
    for p in &a.crl {
        crls.extend(util::load_crls(p, "--crl")?);
    }
    let sig = util::read(&a.sig, "--sig")?;
    let data = a
        .input
        .as_ref()
        .map(|p| util::read(p, "--in"))
        .transpose()?;
    let mut verifier = Verifier::new(vec![]).with_cas(cas).with_crls(crls);
    if let Some(url) = &a.ocsp_url {
        verifier = verifier.with_ocsp(Arc::new(egov_pki::ocsp::Client::new(
            url.clone(),
            OCSP_TIMEOUT,
            time::Duration::hours(1),
        )));
    }
    let opts = VerifyOptions {
        expected_iin,
        at,
        require_revocation: a.require_revocation,
        ..VerifyOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(async {
        match &data {
            Some(d) => verifier.verify_detached(d, &sig, &opts).await,
            None => verifier.verify_attached(&sig, &opts).await,
        }
    });
    let signer = result.map_err(|e| anyhow!("verification failed: {}: {e}", e.reason()))?;

    let id = &signer.identity;
    let cn = util::cn_or_subject(&signer.cert);
    match (&id.iin, &id.bin) {
        (Some(iin), _) => writeln!(out, "OK signer IIN {iin} {cn}")?,
        (None, Some(bin)) => writeln!(out, "OK signer BIN {bin} {cn}")?,
        (None, None) => writeln!(out, "OK signer {cn}")?,
    }
    if let Some(org) = &id.organization {
        writeln!(out, "organisation: {org}")?;
    }
    if let Some(bin) = &id.bin {
        writeln!(out, "BIN: {bin}")?;
    }
    writeln!(
        out,
        "certificate: serial {}, valid {} .. {}",
        signer.cert.serial_hex,
        util::fmt_time(signer.cert.not_before),
        util::fmt_time(signer.cert.not_after)
    )?;
    let chain: Vec<String> = signer.chain.iter().map(util::cn_or_subject).collect();
    writeln!(out, "chain: {}", chain.join(" <- "))?;
    if has_signing_time(&sig) {
        writeln!(
            out,
            "signing time: {} (signingTime attribute, as the signer claims it)",
            util::fmt_time(signer.signing_time)
        )?;
    }
    writeln!(
        out,
        "validity checked at: {} ({})",
        util::fmt_time(signer.checked_at),
        if at.is_some() {
            "given with --at"
        } else {
            "now"
        }
    )?;
    let revocation = match signer.revocation {
        Revocation::Ocsp => format!(
            "good per OCSP {}",
            a.ocsp_url.as_deref().unwrap_or_default()
        ),
        Revocation::Crl => {
            let issuer = signer
                .chain
                .get(1)
                .map_or_else(String::new, util::cn_or_subject);
            format!("not revoked per the CRL of {issuer}")
        }
        Revocation::NotChecked => {
            "not checked (no --crl or --ocsp-url; --require-revocation makes this an error)".into()
        }
    };
    writeln!(out, "revocation: {revocation}")?;
    if let Some(p) = &a.out_content {
        util::write(p, &signer.content, "--out-content")?;
        writeln!(
            out,
            "content: {} bytes written to {}",
            signer.content.len(),
            p.display()
        )?;
    }
    Ok(())
}

/// Whether the (already verified) signature carries a signingTime attribute.
fn has_signing_time(sig: &[u8]) -> bool {
    egov_pki::cms::parse(sig).is_ok_and(|p| {
        p.signed_data
            .signer_infos
            .0
            .iter()
            .next()
            .is_some_and(|si| egov_pki::cms::attr_value(si, egov_pki::oids::SIGNING_TIME).is_some())
    })
}
