//! `egov-ncalayer`: the NCALayer stand-in alone (`egov up` runs it with the rest).
//!
//! Settings as every service's (`EGOV_PKI_DIR`, `EGOV_NCALAYER__ADDR`,
//! `EGOV_NCALAYER__KEYS_DIR`, `EGOV_NCALAYER__SELECT`, ...; `docs/ncalayer.md`), the two
//! a developer changes most also as flags. It needs its TLS identity and keys in the PKI
//! folder: `egov up` makes them.

use std::net::SocketAddr;

use clap::Parser;
use egov_config::{Common, Validate};

/// A development stand-in for NCALayer: signs with the test PKI's .p12 keys, headless.
#[derive(Parser)]
#[command(name = "egov-ncalayer", version)]
struct Cli {
    /// The key its dialog picks: an IIN, an alias or a .p12 file name
    /// (`EGOV_NCALAYER__SELECT`).
    #[arg(long, value_name = "IIN|ALIAS|FILE")]
    select: Option<String>,
    /// Where it listens (`EGOV_NCALAYER__ADDR`, default 127.0.0.1:13579).
    #[arg(long, value_name = "ADDR")]
    addr: Option<SocketAddr>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Settings {
    #[serde(flatten)]
    common: Common,
    ncalayer: egov_ncalayer::Config,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), egov_config::Error> {
        self.common.validate()?;
        self.ncalayer.check("ncalayer")
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let mut settings: Settings = match egov_config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("egov-ncalayer: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    let cfg = &mut settings.ncalayer;
    cfg.pki_dir = settings.common.pki_dir();
    if let Some(s) = cli.select {
        cfg.select = Some(s);
    }
    if let Some(a) = cli.addr {
        cfg.addr = a;
    }
    if let Err(e) = cfg.check("ncalayer") {
        eprintln!("egov-ncalayer: {e}");
        std::process::exit(egov_config::EXIT_CONFIG);
    }
    let _guard = match egov_telemetry::init(&settings.common.telemetry(), "ncalayer") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("egov-ncalayer: telemetry: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    let standin = match egov_ncalayer::StandIn::build(settings.ncalayer).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("egov-ncalayer: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "egov-ncalayer: the NCALayer stand-in (development, test keys) at {}",
        standin.url()
    );
    for k in standin.keys() {
        println!(
            "  {:<12}  {:<32} {:<14} {}",
            k.iin.as_deref().unwrap_or("-"),
            k.name,
            k.key_type,
            k.file.display()
        );
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        stop_signal().await;
        c.cancel();
    });
    if let Err(e) = standin.run(cancel).await {
        eprintln!("egov-ncalayer: {e}");
        std::process::exit(1);
    }
}
