//! `egovctl`: the command line of integration testers.
//!
//! It checks and generates IINs, runs the on-disk test PKI (create it, issue and revoke
//! certificates, refresh the CRL), makes CMS signatures and verifies them the way the
//! gateways do, and shows what a certificate holds. It also talks through the gateway
//! (ШЭП/РШЭП) as an information system and checks the gateways' message log.
//!
//! Exit codes: 0 on success, 1 when an input is rejected (the reason on stderr, one line
//! starting with `egovctl: `), 2 on a usage error (unknown flag, missing argument, a value
//! outside a fixed list).
//!
//! Layout: this file only parses, dispatches and maps errors to exit codes. Each group of
//! subcommands has its own module with its clap arguments and its `run` function; a new
//! group is a new variant of [`Command`] and a new module.

mod cert;
mod diagram;
mod iin;
mod journey;
mod pki;
mod regulation;
mod scenario;
mod seed;
mod shep;
mod sign;
mod util;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code of a rejected input or a failed operation.
const EXIT_REJECTED: u8 = 1;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "egovctl",
    version,
    about = "Command line for integration testers of the e-government gateway mirror",
    long_about = "Command line for integration testers of the e-government gateway mirror: \
                  IINs, the test PKI (TEST MATERIAL ONLY, no real authority), CMS signing \
                  and verification, calls through ШЭП and its message log.",
    after_help = "Exit codes: 0 success, 1 rejected input (reason on stderr, one line \
                  starting with \"egovctl: \"), 2 usage error.",
    propagate_version = true
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommand groups.
#[derive(Debug, Subcommand)]
enum Command {
    /// Check and generate IINs (individual identification numbers, ИИН).
    #[command(subcommand)]
    Iin(iin::IinCommand),
    /// The on-disk test PKI: create it, issue and revoke certificates, refresh the CRL.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Sign a file: CMS SignedData (DER), detached unless --attached.
    Sign(sign::SignArgs),
    /// Verify a CMS signature: signature, chain, validity, key usage, IIN, revocation.
    Verify(verify::VerifyArgs),
    /// Inspect certificates.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Talk through the gateway (ШЭП/РШЭП) as an information system, and check the
    /// gateways' message log.
    #[command(subcommand)]
    Shep(shep::ShepCommand),
    /// Fill ГБД ФЛ and ЕНИС with synthetic residents and powers of attorney
    /// (deterministic from --seed), plus the named test citizens.
    Seed(seed::SeedArgs),
    /// Regulations as data: validate regulation files.
    #[command(subcommand)]
    Regulation(regulation::RegulationCommand),
    /// The regulations' SFE diagrams (lanes, processes with deadlines, conditions) drawn
    /// from the files, as SVG, BPMN 2.0 or Mermaid.
    Diagram(diagram::DiagramArgs),
    /// The diagram of a real application: each gateway hop and step at its time, from
    /// the message log and its ИС МИО's history; steps past their deadline in red.
    Journey(journey::JourneyArgs),
    /// The regulations' scenarios as data files, run against a running stack through
    /// the portal's, ИС ЦОН's and the АРМ's APIs, with JUnit output.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
}

/// Runs one command, writing its normal output to `out`.
fn run(command: Command, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        Command::Iin(c) => iin::run(c, out),
        Command::Pki(c) => pki::run(c, out),
        Command::Sign(a) => sign::run(a, out),
        Command::Verify(a) => verify::run(a, out),
        Command::Cert(c) => cert::run(c, out),
        Command::Shep(c) => shep::run(c, out),
        Command::Seed(a) => seed::run(a, out),
        Command::Regulation(c) => regulation::run(c, out),
        Command::Diagram(a) => diagram::run(a, out),
        Command::Journey(a) => journey::run(a, out),
        Command::Scenario(c) => scenario::run(c, out),
    }?;
    out.flush()?;
    Ok(())
}

/// Whether the error is a closed stdout (`egovctl iin generate --count 1000 | head`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, `context: cause: cause`. A cause whose text
/// the message already ends with (libraries that print their source) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace(['\n', '\r'], " ")
}

fn main() -> ExitCode {
    // A bug must still end with exit code 1 and one line on stderr, not 101.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string().replace('\n', " ");
        eprintln!("egovctl: internal error (please report): {msg}");
        std::process::exit(i32::from(EXIT_REJECTED));
    }));
    // Usage errors exit 2 here, --help and --version exit 0.
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(cli.command, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("egovctl: {}", one_line(&e));
            ExitCode::from(EXIT_REJECTED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn one_line_does_not_repeat_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(io)
            .context("x.pem: gone")
            .context("cannot revoke");
        assert_eq!(one_line(&e), "cannot revoke: x.pem: gone");
        let e = anyhow::anyhow!("two\nlines").context("ctx");
        assert_eq!(one_line(&e), "ctx: two lines");
    }
}
