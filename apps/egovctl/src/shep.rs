//! `egovctl shep`: talking through the gateway (ШЭП/РШЭП) as an information system, and
//! reading the gateways' tamper-evident message log.
//!
//! `send` and `status` act as one information system: its transport-signing key and
//! certificate sign the envelope, its TLS certificate opens the mutual-TLS connection,
//! and the test PKI folder verifies the gateway's signed answer. `log` reads the journal
//! the gateways write into PostgreSQL (schema `gateway`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use egov_gateway::journal::{Filter, Journal, JournalOptions, StoredRecord, VerifyReport};
use egov_grpc::TlsIdentity;
use egov_proto::shep::v1::{DeliveryStatus, ErrorInfo, GetMessageStatusRequest, MessageType};
use egov_shep_client::envelope::{self, SystemSigner};
use egov_shep_client::{Client, ClientError, Reply, codes};
use time::format_description::well_known::Rfc3339;

use crate::util::{self, shown};

/// The message log's database when neither --database-url nor EGOV_DATABASE_URL is given.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/egov";
/// The schema the gateways keep their message log in.
const JOURNAL_SCHEMA: &str = "gateway";
/// Default deadline of a call.
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Problems named in the one-line error of `log verify`.
const PROBLEMS_IN_ERROR: usize = 3;

/// The `shep` subcommands.
#[derive(Debug, Subcommand)]
pub enum ShepCommand {
    /// Sign an envelope as an information system, send it through a gateway (sync or
    /// async channel) and show the verified answer.
    #[command(
        after_help = "Exit codes: 0 when the gateway answers a success code (SCSS001 \
                      processed, SCSS002 accepted for async delivery); 1 when it answers \
                      any other code (\"gateway answered SE005: ...\" on stderr, the answer \
                      on stdout), when it cannot be reached, or when its answer does not \
                      verify; 2 usage error."
    )]
    Send(SendArgs),
    /// The delivery status of an async message this system sent (ON_DELIVERY,
    /// DELIVERED, NOT_DELIVERED, DELIVERY_STOPPED).
    Status(StatusArgs),
    /// The gateways' tamper-evident message log (journal) in PostgreSQL.
    #[command(subcommand)]
    Log(LogCommand),
}

/// How this system connects to the gateway and signs (shared by `send` and `status`).
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// The system's transport-signing private key (PKCS#8 PEM), e.g.
    /// DIR/systems/portal.sign.key.pem.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The system's transport-signing certificate (PEM or DER), e.g.
    /// DIR/systems/portal.sign.cert.pem.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The senderId. Default: the CN of --cert. A different value makes the gateway
    /// refuse with SE015 (sender mismatch).
    #[arg(long, value_name = "ID")]
    pub sender: Option<String>,
    /// The gateway's gRPC address, HOST:PORT. Default: the fixed local port of
    /// --gateway-id in the topology (shep 127.0.0.1:7100, rshep-almaty 127.0.0.1:7101, ...).
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<String>,
    /// The gateway's system id: the name its TLS certificate must carry.
    #[arg(long, value_name = "ID", default_value = "shep")]
    pub gateway_id: String,
    /// The deployment's topology folder that gives --gateway-id its port (default: the
    /// shipped `deploy/topology`).
    #[arg(long, value_name = "DIR", env = "EGOV_TOPOLOGY_DIR")]
    pub topology: Option<PathBuf>,
    /// The test PKI folder: its root (DIR/root.cert.pem) is the TLS trust anchor, its
    /// CAs and CRL verify the gateway's signed answer, and it holds the default TLS
    /// identity DIR/systems/SENDER.tls.{key,cert}.pem.
    #[arg(long, value_name = "DIR")]
    pub pki_dir: PathBuf,
    /// The TLS client key (PKCS#8 PEM). Default: DIR/systems/SENDER.tls.key.pem.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The TLS client certificate (PEM chain or DER). Default:
    /// DIR/systems/SENDER.tls.cert.pem.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Deadline of the call, milliseconds.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000)
    )]
    pub timeout_ms: u64,
}

/// The channel `send` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    /// SyncChannel: the gateway forwards to the provider and returns its answer.
    Sync,
    /// AsyncChannel: the gateway accepts (SCSS002) into the recipient's inbox.
    Async,
}

/// The messageType of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    /// REQUEST.
    Request,
    /// NOTIFICATION.
    Notification,
    /// UPDATE.
    Update,
    /// RESPONSE: an async answer to an earlier request (give its --correlation-id).
    Response,
}

impl From<TypeArg> for MessageType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::Request => MessageType::Request,
            TypeArg::Notification => MessageType::Notification,
            TypeArg::Update => MessageType::Update,
            TypeArg::Response => MessageType::Response,
        }
    }
}

/// Arguments of `shep send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The serviceId, e.g. gbd-fl.person.get.
    #[arg(long, value_name = "ID")]
    pub service: String,
    /// The region (routeId) of a regional service, e.g. almaty.
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// The channel.
    #[arg(long, value_enum, default_value_t = ChannelArg::Sync)]
    pub channel: ChannelArg,
    /// The messageType.
    #[arg(long = "type", value_enum, default_value_t = TypeArg::Request)]
    pub message_type: TypeArg,
    /// The correlationId. Default: the new messageId.
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// The payload, sent as raw bytes; - reads standard input.
    #[arg(long, value_name = "FILE")]
    pub payload_file: PathBuf,
    /// Write the answer's payload to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Connection and signing.
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Arguments of `shep status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The messageId printed by `shep send --channel async`.
    #[arg(long, value_name = "ID")]
    pub message_id: String,
    /// Connection and signing (the status is asked as the system of --cert / --sender,
    /// which must be the message's sender).
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// The `shep log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Find journal rows: the newest matching rows (at most --limit), printed oldest
    /// first.
    #[command(
        after_help = "Each row on one line: SEQ TIME GATEWAY EVENT CHANNEL SERVICE \
                      SENDER → RECIPIENT STATUS-CODE MESSAGE-ID (SEQ counts within the \
                      GATEWAY's chain; RECIPIENT is - when unknown). With --json, one \
                      object per row with every column, the hashes included."
    )]
    Search(SearchArgs),
    /// Check the hash chains: every row's hash, the links, no holes, the recorded head.
    #[command(
        after_help = "Exit codes: 0 when every chain checked is intact, 1 when any \
                      problem is found (the journal was tampered with) or the database \
                      cannot be read, 2 usage error."
    )]
    Verify(LogVerifyArgs),
}

/// Where the message log is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL of the gateways' database (the log is in its schema `gateway`).
    #[arg(
        long,
        value_name = "URL",
        env = "EGOV_DATABASE_URL",
        hide_env_values = true,
        default_value = DEFAULT_DATABASE_URL
    )]
    pub database_url: String,
}

/// Arguments of `shep log search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Exact messageId.
    #[arg(long, value_name = "ID")]
    pub message_id: Option<String>,
    /// Exact correlationId.
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Exact senderId.
    #[arg(long, value_name = "ID")]
    pub sender: Option<String>,
    /// Exact serviceId.
    #[arg(long, value_name = "ID")]
    pub service: Option<String>,
    /// Exact gateway (chain), e.g. shep or rshep-almaty.
    #[arg(long, value_name = "ID")]
    pub gateway: Option<String>,
    /// Rows at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Rows before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Most rows (default 100; above 1000 counts as 1000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: Option<i64>,
    /// One JSON object per line (every column) instead of one summary line per row.
    #[arg(long)]
    pub json: bool,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `shep log verify`.
#[derive(Debug, Args)]
pub struct LogVerifyArgs {
    /// Check only this gateway's chain (default: every chain).
    #[arg(long, value_name = "ID")]
    pub gateway: Option<String>,
    /// The test PKI folder: the latest signed head of each chain must then carry its
    /// gateway's valid signature (without it, only that the rows still give the signed
    /// hashes is checked).
    #[arg(long, value_name = "DIR")]
    pub pki_dir: Option<PathBuf>,
    /// The database.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Runs a `shep` subcommand.
pub fn run(c: ShepCommand, out: &mut dyn Write) -> Result<()> {
    match c {
        ShepCommand::Send(a) => send(a, out),
        ShepCommand::Status(a) => status(a, out),
        ShepCommand::Log(LogCommand::Search(a)) => search(a, out),
        ShepCommand::Log(LogCommand::Verify(a)) => verify(a, out),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

// ------------------------------------------------------------------ connecting

/// A client of one system on one gateway.
struct Connection {
    client: Client,
    signer: Arc<SystemSigner>,
    gateway_id: String,
    addr: String,
}

impl Connection {
    /// A one-line error for a failed call.
    fn call_error(&self, e: ClientError) -> anyhow::Error {
        let gw = format!("gateway {} at {}", self.gateway_id, self.addr);
        match e {
            ClientError::Transport(s) => anyhow!("cannot call {gw}: {}", status_text(&s)),
            ClientError::Envelope(e) => {
                anyhow!("the answer of {gw} cannot be trusted: {e}")
            }
            ClientError::Empty => anyhow!("{gw} answered without an envelope"),
            ClientError::Unrelated(why) => {
                anyhow!("the answer of {gw} is not the answer to this request: {why}")
            }
        }
    }
}

/// A gRPC status on one line: code, message and the causes the message does not repeat.
fn status_text(s: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", s.code(), s.message());
    let mut source = std::error::Error::source(s);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}

/// The gateway address: --gateway, or the fixed local port of --gateway-id.
fn gateway_addr(c: &ConnArgs) -> Result<String> {
    if let Some(a) = &c.gateway {
        if a.trim().is_empty() {
            bail!("--gateway: empty address");
        }
        return Ok(a.clone());
    }
    let topology = egov_topology::Topology::open(c.topology.as_deref())?;
    topology
        .gateway(&c.gateway_id)
        .map(|g| format!("127.0.0.1:{}", g.grpc_port))
        .ok_or_else(|| {
            anyhow!(
                "--gateway-id {}: not a gateway of the topology ({}); give --gateway",
                shown(&c.gateway_id),
                topology
                    .gateways
                    .iter()
                    .map(|g| g.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// The TLS identity: --tls-key/--tls-cert, or the sender's from the PKI folder.
fn tls_identity(c: &ConnArgs, sender: &str) -> Result<TlsIdentity> {
    let explicit = c.tls_key.is_some() && c.tls_cert.is_some();
    let (key_path, cert_path, key_what, cert_what) = match (&c.tls_key, &c.tls_cert) {
        (Some(k), Some(cert)) => (k.clone(), cert.clone(), "--tls-key", "--tls-cert"),
        _ => {
            let d = c.pki_dir.join("systems");
            (
                d.join(format!("{sender}.tls.key.pem")),
                d.join(format!("{sender}.tls.cert.pem")),
                "TLS key",
                "TLS certificate",
            )
        }
    };
    let hint = || {
        format!(
            "no TLS identity of {} in --pki-dir {} (give --tls-key and --tls-cert)",
            shown(sender),
            c.pki_dir.display()
        )
    };
    let loaded = util::load_key(&key_path, key_what)
        .and_then(|k| Ok((k, util::load_certs(&cert_path, cert_what)?)));
    let (key, certs) = if explicit {
        loaded?
    } else {
        loaded.with_context(hint)?
    };
    let leaf = certs
        .first()
        .ok_or_else(|| anyhow!("{cert_what} {}: no certificate", cert_path.display()))?;
    if key.public_key_raw() != leaf.public_key_raw() {
        bail!(
            "the TLS key {} does not belong to the TLS certificate {} (their public keys differ)",
            key_path.display(),
            cert_path.display()
        );
    }
    let root = c.pki_dir.join("root.cert.pem");
    let ca = util::load_certs(&root, "trust anchor")?;
    Ok(TlsIdentity {
        system_id: sender.to_string(),
        cert_pem: certs.iter().map(|c| c.to_pem()).collect(),
        key_pem: key.to_pem(),
        ca_pem: ca.iter().map(|c| c.to_pem()).collect(),
    })
}

/// Loads the signing identity, the TLS identity and the verifier, and connects (lazily).
fn connect(c: &ConnArgs) -> Result<Connection> {
    egov_grpc::install_crypto_provider();
    let key = util::load_key(&c.key, "--key")?;
    let cert = util::load_cert(&c.cert, "--cert")?;
    if key.public_key_raw() != cert.public_key_raw() {
        bail!(
            "--key {} does not belong to --cert {} (their public keys differ)",
            c.key.display(),
            c.cert.display()
        );
    }
    let sender = match &c.sender {
        Some(s) => s.clone(),
        None => cert.identity.common_name.clone().ok_or_else(|| {
            anyhow!(
                "--cert {}: the certificate has no CN to take the senderId from; give --sender",
                c.cert.display()
            )
        })?,
    };
    if sender.is_empty() || sender.chars().any(char::is_control) {
        bail!("--sender {}: not a system id", shown(&sender));
    }
    let verifier = envelope::pki_verifier(&c.pki_dir, None)
        .map_err(|e| anyhow!("--pki-dir {}: {e}", c.pki_dir.display()))?;
    let signer = SystemSigner::from_pem(&sender, &key.to_pem(), &cert.to_pem()).map_err(|e| {
        anyhow!(
            "cannot sign with --key {} and --cert {}: {e}",
            c.key.display(),
            c.cert.display()
        )
    })?;
    let tls = tls_identity(c, &sender)?;
    let addr = gateway_addr(c)?;
    let signer = Arc::new(signer);
    let client = Client::connect(
        &addr,
        &c.gateway_id,
        &tls,
        signer.clone(),
        verifier,
        Duration::from_millis(c.timeout_ms),
    )
    .map_err(|e| anyhow!("gateway {} at {addr}: {e}", c.gateway_id))?;
    Ok(Connection {
        client,
        signer,
        gateway_id: c.gateway_id.clone(),
        addr,
    })
}

// ------------------------------------------------------------------ send

/// The payload file, or standard input for `-`.
fn read_payload(path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .context("cannot read the payload from standard input")?;
        return Ok(v);
    }
    util::read(path, "--payload-file")
}

/// errorInfo and its sub-errors on one line.
fn error_info_text(e: &ErrorInfo) -> String {
    let mut parts = Vec::new();
    let mut cur = Some(e);
    while let Some(e) = cur {
        let mut p = format!("{}: {}", shown(&e.error_code), e.error_message);
        if !e.error_data.is_empty() {
            p.push_str(&format!(" ({})", e.error_data));
        }
        parts.push(p.replace(['\n', '\r'], " "));
        cur = e.sub_error.as_deref();
    }
    parts.join(" <- ")
}

fn print_reply(reply: &Reply, out_file: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let (code, message) = reply
        .info
        .status
        .as_ref()
        .map(|s| (s.code.as_str(), s.message.as_str()))
        .unwrap_or(("", ""));
    writeln!(
        out,
        "status: {} {}",
        shown(code),
        message.replace(['\n', '\r'], " ")
    )?;
    writeln!(out, "responder: {}", shown(&reply.responder))?;
    if !reply.info.route.is_empty() {
        writeln!(out, "route: {}", reply.info.route.join(" -> "))?;
    }
    if let Some(e) = &reply.info.error_info {
        writeln!(out, "errorInfo: {}", error_info_text(e))?;
    }
    match out_file {
        Some(p) => {
            util::write(p, &reply.payload, "the answer's payload")?;
            writeln!(
                out,
                "payload: {} bytes written to {}",
                reply.payload.len(),
                p.display()
            )?;
        }
        None if reply.payload.is_empty() => writeln!(out, "payload: empty")?,
        None => {
            writeln!(out, "payload ({} bytes):", reply.payload.len())?;
            out.write_all(&reply.payload)?;
            if !reply.payload.ends_with(b"\n") {
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Runs `shep send`.
fn send(a: SendArgs, out: &mut dyn Write) -> Result<()> {
    let payload = read_payload(&a.payload_file)?;
    if a.service.is_empty() {
        bail!("--service: empty serviceId");
    }
    let rt = runtime()?;
    // The lazy channel needs the runtime's reactor when it is made.
    let _guard = rt.enter();
    let conn = connect(&a.conn)?;
    let info = conn.signer.request_info(
        &a.service,
        a.message_type.into(),
        a.region.as_deref().unwrap_or(""),
        a.correlation_id.as_deref().unwrap_or(""),
    );
    let message_id = info.message_id.clone();
    let env = conn.signer.seal_request(&info, payload).map_err(|e| {
        anyhow!(
            "cannot sign with --key {} and --cert {}: {e}",
            a.conn.key.display(),
            a.conn.cert.display()
        )
    })?;
    // Shown before the call: even if it fails, the log can be searched for it.
    writeln!(out, "messageId: {message_id}")?;
    writeln!(out, "correlationId: {}", shown(&info.correlation_id))?;
    out.flush()?;
    let reply = rt
        .block_on(async {
            match a.channel {
                ChannelArg::Sync => conn.client.send_sealed(&message_id, env).await,
                ChannelArg::Async => conn.client.send_async_sealed(&message_id, env).await,
            }
        })
        .map_err(|e| conn.call_error(e))?;
    print_reply(&reply, a.out.as_deref(), out)?;
    if !codes::is_success(reply.code()) {
        let message = reply
            .info
            .status
            .as_ref()
            .map(|s| s.message.as_str())
            .unwrap_or("");
        bail!("gateway answered {}: {message}", shown(reply.code()));
    }
    Ok(())
}

// ------------------------------------------------------------------ status

/// Runs `shep status`.
fn status(a: StatusArgs, out: &mut dyn Write) -> Result<()> {
    if a.message_id.is_empty() {
        bail!("--message-id: empty");
    }
    let rt = runtime()?;
    let _guard = rt.enter();
    let conn = connect(&a.conn)?;
    let mut channel = conn.client.async_channel();
    let r = rt
        .block_on(channel.get_message_status(GetMessageStatusRequest {
            message_id: a.message_id.clone(),
            sender_id: conn.signer.system_id.clone(),
        }))
        .map_err(|s| {
            anyhow!(
                "cannot get the status of {} from gateway {} at {}: {}",
                shown(&a.message_id),
                conn.gateway_id,
                conn.addr,
                status_text(&s)
            )
        })?
        .into_inner();
    let st = DeliveryStatus::try_from(r.status).unwrap_or(DeliveryStatus::Unspecified);
    writeln!(out, "messageId: {}", shown(&a.message_id))?;
    writeln!(out, "status: {}", st.as_str_name())?;
    if let Some(t) = r
        .updated_at
        .as_ref()
        .and_then(envelope::from_timestamp)
        .and_then(|t| t.format(&Rfc3339).ok())
    {
        writeln!(out, "updated: {t}")?;
    }
    if !r.detail.is_empty() {
        writeln!(out, "detail: {}", r.detail.replace(['\n', '\r'], " "))?;
    }
    Ok(())
}

// ------------------------------------------------------------------ log

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub(crate) async fn open_journal(db: &DbArgs) -> Result<Journal> {
    let pool = egov_db::reader_pool(&db.database_url, JOURNAL_SCHEMA, 2)
        .await
        .map_err(|e| match e {
            egov_db::Error::NoSchema(_) => anyhow!(
                "no gateway message log in {}: {e}",
                redact(&db.database_url)
            ),
            e => anyhow!("{e}"),
        })?;
    Journal::open(pool, JournalOptions::default())
        .await
        .map_err(|e| {
            anyhow!(
                "no gateway message log in schema {JOURNAL_SCHEMA} of {}: {e}",
                redact(&db.database_url)
            )
        })
}

fn fmt_at(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// One summary line of a row.
fn row_line(r: &StoredRecord) -> String {
    let x = &r.record;
    format!(
        "{} {} {} {} {} {} {} → {} {} {}",
        r.seq,
        fmt_at(x.at),
        shown(&x.gateway_id),
        x.event,
        x.channel,
        shown(&x.service_id),
        shown(&x.sender_id),
        x.recipient_id.as_deref().map(shown).unwrap_or("-".into()),
        shown(&x.status_code),
        shown(&x.message_id),
    )
}

/// Runs `shep log search`.
fn search(a: SearchArgs, out: &mut dyn Write) -> Result<()> {
    let filter = Filter {
        message_id: a.message_id,
        correlation_id: a.correlation_id,
        sender_id: a.sender,
        service_id: a.service,
        gateway_id: a.gateway,
        from: a
            .from
            .as_deref()
            .map(|s| util::parse_time(s, "--from"))
            .transpose()?,
        to: a
            .to
            .as_deref()
            .map(|s| util::parse_time(s, "--to"))
            .transpose()?,
        limit: a.limit,
    };
    if let (Some(f), Some(t)) = (filter.from, filter.to)
        && f >= t
    {
        bail!("--from must be before --to");
    }
    let rt = runtime()?;
    let rows = rt.block_on(async {
        let journal = open_journal(&a.db).await?;
        let rows = journal
            .search(&filter)
            .await
            .map_err(|e| anyhow!("cannot search the message log: {e}"));
        journal.shutdown().await;
        rows
    })?;
    if rows.is_empty() && !a.json {
        writeln!(out, "no journal rows match")?;
    }
    // The journal returns the newest first; a trace reads better oldest first.
    for r in rows.iter().rev() {
        if a.json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            writeln!(out, "{}", row_line(r))?;
        }
    }
    Ok(())
}

/// Prints the report; the one-line summary of the problems when there are any.
fn print_report(report: &VerifyReport, out: &mut dyn Write) -> Result<Option<String>> {
    let mut found = Vec::new();
    for c in &report.chains {
        let g = shown(&c.gateway_id);
        if c.ok() {
            if c.rows == 0 && c.head_seq == 0 {
                writeln!(out, "{g}: no rows")?;
            } else {
                let head = c
                    .head_hash
                    .as_deref()
                    .map(|h| format!(" (head row {} hash {h})", c.head_seq))
                    .unwrap_or_default();
                let signed = if c.signed_seq > 0 {
                    format!(", signed by the gateway up to row {}", c.signed_seq)
                } else {
                    ", no signed head yet".into()
                };
                writeln!(out, "{g}: {} rows ok{head}{signed}", c.rows)?;
            }
            continue;
        }
        writeln!(
            out,
            "{g}: {} rows checked, {} problem{}:",
            c.rows,
            c.problems.len(),
            if c.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &c.problems {
            writeln!(out, "  {p}")?;
            found.push(format!("{g}: {p}"));
        }
    }
    if report.chains.is_empty() {
        writeln!(out, "no chains in the message log")?;
    }
    if found.is_empty() {
        return Ok(None);
    }
    let total = found.len();
    let mut summary = found
        .into_iter()
        .take(PROBLEMS_IN_ERROR)
        .collect::<Vec<_>>()
        .join("; ");
    if total > PROBLEMS_IN_ERROR {
        summary.push_str(&format!("; and {} more", total - PROBLEMS_IN_ERROR));
    }
    Ok(Some(summary))
}

/// Runs `shep log verify`.
fn verify(a: LogVerifyArgs, out: &mut dyn Write) -> Result<()> {
    if a.gateway.as_deref() == Some("") {
        bail!("--gateway: empty gateway id");
    }
    let rt = runtime()?;
    let report = rt.block_on(async {
        let journal = open_journal(&a.db).await?;
        let report = match &a.pki_dir {
            Some(dir) => {
                let verifier = envelope::pki_verifier(dir, None)
                    .map_err(|e| anyhow!("--pki-dir {}: {e}", dir.display()))?;
                journal.verify_signed(a.gateway.as_deref(), &verifier).await
            }
            None => journal.verify(a.gateway.as_deref()).await,
        }
        .map_err(|e| anyhow!("cannot verify the message log: {e}"));
        journal.shutdown().await;
        report
    })?;
    if let Some(problems) = print_report(&report, out)? {
        bail!("the message log was tampered with: {problems}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/egov"),
            "postgres://postgres@127.0.0.1/egov"
        );
    }

    #[test]
    fn error_info_reads_on_one_line() {
        let e = ErrorInfo {
            error_code: "E1".into(),
            error_message: "outer\nline".into(),
            error_data: String::new(),
            error_date: None,
            sub_error: Some(Box::new(ErrorInfo {
                error_code: "E2".into(),
                error_message: "inner".into(),
                error_data: "d".into(),
                error_date: None,
                sub_error: None,
            })),
        };
        assert_eq!(error_info_text(&e), "E1: outer line <- E2: inner (d)");
    }
}
