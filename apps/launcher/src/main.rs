//! `egov`: the launcher. `egov up` runs every service in one process.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "egov",
    version,
    about = "Runs the e-government mirror on this machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts PostgreSQL and NATS if needed, creates the test PKI on first start, runs
    /// every service on its fixed loopback port, and stops them all on Ctrl-C.
    Up,
    /// The one-shot registration step of a deployment with a process (container) per
    /// service: the test PKI, the NATS users, each service's database role with its URL
    /// in a 0600 file, the seeded registries and the enrolled accounts; then exits.
    Init,
}

/// Resolves on the first SIGINT or SIGTERM; a second one exits at once.
async fn stop_signal() {
    let first = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    first.await;
    tokio::spawn(async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("egov: second interrupt, exiting now");
        std::process::exit(130);
    });
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings: egov_launcher::Settings = match egov_config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("egov: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    let _guard = match egov_telemetry::init(&settings.common.telemetry(), "egov") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("egov: telemetry: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    match cli.command {
        Command::Init => match egov_launcher::init::init(&settings).await {
            Ok(r) => {
                println!(
                    "egov init: test PKI {}{}",
                    r.pki_dir.display(),
                    if r.pki_created { " (created now)" } else { "" }
                );
                println!("egov init: NATS users in {}", r.nats_config.display());
                for (id, file) in &r.database_urls {
                    println!("egov init: {id:<12} database URL in {}", file.display());
                }
                match &r.seeded {
                    Some(s) => println!(
                        "egov init: seeded ГБД ФЛ with {} persons and ЕНИС with {} powers of attorney",
                        s.persons, s.poas
                    ),
                    None => println!("egov init: the registries hold data already"),
                }
                for (id, n) in &r.employees {
                    println!("egov init: {id:<12} {n} employee accounts");
                }
                println!("egov init: con-is       {} operator accounts", r.operators);
                for f in &r.passwords_files {
                    println!(
                        "egov init: generated passwords of the new accounts written once to {} (0600)",
                        f.display()
                    );
                }
            }
            Err(e) => {
                eprintln!("egov init: {e}");
                std::process::exit(1);
            }
        },
        Command::Up => {
            let system = match egov_launcher::start(settings).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("egov: {e}");
                    std::process::exit(1);
                }
            };
            println!(
                "egov: database {}{}",
                system.env.database_url(),
                if system.env.postgres_is_private() {
                    " (private instance)"
                } else {
                    ""
                }
            );
            println!(
                "egov: NATS {}{}",
                system.env.nats_url(),
                if system.env.nats_is_private() {
                    " (private instance)"
                } else {
                    ""
                }
            );
            println!(
                "egov: test PKI {}{}",
                system.pki_dir.display(),
                if system.pki_created {
                    " (created now)"
                } else {
                    ""
                }
            );
            print!("{}", system.endpoints_table());
            if let Some(r) = &system.seeded {
                println!(
                    "egov: seeded ГБД ФЛ with {} persons and ЕНИС with {} powers of attorney in {:.1} s; test citizens:",
                    r.persons,
                    r.poas,
                    r.elapsed.as_secs_f64()
                );
                for c in &r.citizens {
                    println!(
                        "  {:<16} {}  {:<34} {}",
                        c.key,
                        c.iin.as_string(),
                        c.name,
                        c.case
                    );
                }
                for p in &r.named_poas {
                    println!(
                        "  power of attorney {:<14} № {} ({})",
                        p.key, p.poa.number, p.case
                    );
                }
            } else {
                println!(
                    "egov: the registries hold data already (egovctl seed --replace refills them)"
                );
            }
            println!(
                "egov: a key for a test citizen: egovctl pki issue --dir {} --iin 870312300046 --name \"АХМЕТОВ ЕРЛАН\" --out citizen",
                system.pki_dir.display()
            );
            for w in &system.workstations {
                let passwords = match (&w.dev_password, &w.passwords_file) {
                    (Some(p), _) => format!(
                        "development password {p:?} (EGOV_DEV_EMPLOYEE_PASSWORD; never in a real deployment)"
                    ),
                    (None, Some(f)) => format!(
                        "generated passwords of the new accounts written once to {} (0600)",
                        f.display()
                    ),
                    (None, None) => "passwords as given when the accounts were created".to_string(),
                };
                if w.server_keystore {
                    println!(
                        "egov: АРМ РШЭП of {} signs with the employees' keys it holds (development; EGOV_DEV_SERVER_KEYSTORE=false to sign on the client only)",
                        w.system
                    );
                }
                println!(
                    "egov: АРМ РШЭП of {} at {} ({} accounts, {passwords}); for example:",
                    w.system,
                    w.url,
                    w.employees.len(),
                );
                // the accounts of the first two providers; the rest are in the same shape
                let mut providers: Vec<&str> = Vec::new();
                for e in &w.employees {
                    if !providers.contains(&e.provider_id.as_str()) {
                        providers.push(&e.provider_id);
                    }
                }
                for e in w
                    .employees
                    .iter()
                    .filter(|e| providers.iter().take(2).any(|p| *p == e.provider_id))
                {
                    println!(
                        "  {:<28} {:<10} {}  {}",
                        e.provider_id,
                        e.role,
                        e.iin,
                        e.full_name()
                    );
                }
            }
            let c = &system.con_workstation;
            let passwords = match (&c.dev_password, &c.passwords_file) {
                (Some(p), _) => format!(
                    "development password {p:?} (EGOV_DEV_EMPLOYEE_PASSWORD; never in a real deployment)"
                ),
                (None, Some(f)) => format!(
                    "generated passwords of the new accounts written once to {} (0600)",
                    f.display()
                ),
                (None, None) => "passwords as given when the accounts were created".to_string(),
            };
            println!(
                "egov: АРМ ИС ЦОН at {} ({} operators, {passwords}); for example:",
                c.url,
                c.operators.len(),
            );
            for o in c
                .operators
                .iter()
                .filter(|o| o.centre_id == "almaty-almaly")
            {
                println!(
                    "  {:<28} {:<12} {}  {}",
                    o.centre_id,
                    o.role.as_str(),
                    o.iin,
                    o.full_name()
                );
            }
            if let Some(n) = &system.ncalayer {
                println!(
                    "egov: the NCALayer stand-in at {} (development: frontends sign through it as through NCALayer; its TLS certificate chains to {}, which a browser must trust: docs/ncalayer.md)",
                    n.url,
                    n.root_cert.display()
                );
                println!(
                    "egov: it holds these keys, password {:?}{}; its dialog picks {} (EGOV_NCALAYER__SELECT, or its control module):",
                    n.password,
                    if n.test_password {
                        " (the TEST default)"
                    } else {
                        ""
                    },
                    n.select.as_deref().map_or_else(
                        || "the first key that fits".to_string(),
                        |s| format!("{s:?}")
                    )
                );
                for k in &n.keys {
                    println!(
                        "  {}  {:<32} {:<14} {}",
                        k.iin.as_deref().unwrap_or("-"),
                        k.name,
                        k.key_type,
                        k.file.display()
                    );
                }
            }
            println!("egov: ready; Ctrl-C stops every service");
            use std::io::Write;
            let _ = std::io::stdout().flush();
            if let Err(e) = system.run_until(stop_signal()).await {
                eprintln!("egov: {e}");
                std::process::exit(1);
            }
            println!("egov: stopped");
        }
    }
}
