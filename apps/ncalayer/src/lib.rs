//! A development stand-in for NCALayer, the program through which Kazakhstan's web
//! frontends sign: a WebSocket server over TLS, by default on `wss://127.0.0.1:13579`,
//! that speaks NCALayer's protocol ([`protocol`]: the version greeting, the
//! `kz.gov.pki.knca.commonUtils` calls, `kz.gov.pki.knca.basics` `sign`) and signs with
//! `.p12` keys of the test PKI, so that a frontend written for NCALayer signs against the
//! test PKI unchanged. **Development and tests only**: it holds test keys and signs
//! whatever a page on this machine asks, without asking anyone.
//!
//! NCALayer shows a dialog to choose the key; the stand-in is headless. Which key signs is
//! set by [`Config::select`] (an IIN, an alias or a file name) and, while it runs, by its
//! own control module ([`control`]), which can also make every dialog "cancelled"; a
//! request for a usage the chosen person has no key of is refused as NCALayer refuses it
//! ([`keys`]). Its TLS certificate is a server certificate for `127.0.0.1` and
//! `localhost` issued by the test PKI ([`provision`]); a browser must trust the test root.
//!
//! The shape is that of every service here: [`StandIn::build`] loads the keys and the TLS
//! identity and binds, [`StandIn::run`] serves until the token is cancelled. The protocol
//! itself is plain functions from a request text to an answer text ([`protocol::answer`]).
//! `docs/ncalayer.md` is the page for frontend developers.

pub mod basics;
pub mod common_utils;
pub mod control;
pub mod key_info;
pub mod keys;
pub mod protocol;
pub mod provision;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::keys::{Dialog, Keyring, Sources};

/// NCALayer's own address, where frontends look for it.
pub const DEFAULT_ADDR: &str = "127.0.0.1:13579";

/// How long a client has to finish the TLS and WebSocket handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections get to close when the stand-in stops.
const DRAIN: Duration = Duration::from_secs(5);

/// A key file named one by one.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The `.p12` file.
    pub path: PathBuf,
    /// Its password; default [`Config::keys_password`].
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The stand-in's settings (`EGOV_NCALAYER__<FIELD>` when run by `egov up` or alone).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where it listens (`EGOV_NCALAYER__ADDR`), default NCALayer's own `127.0.0.1:13579`.
    pub addr: SocketAddr,
    /// The test PKI folder, in which the TLS identity and the key folder are by default:
    /// set by the program that runs the stand-in (from `EGOV_PKI_DIR`).
    #[serde(skip)]
    pub pki_dir: PathBuf,
    /// Its TLS certificate chain (PEM, leaf first); default
    /// `<pki_dir>/systems/ncalayer.tls.cert.pem`, which `egov up` issues.
    pub tls_cert: Option<PathBuf>,
    /// Its TLS private key (PKCS#8 PEM); default `<pki_dir>/systems/ncalayer.tls.key.pem`.
    pub tls_key: Option<PathBuf>,
    /// A folder whose `.p12` files it holds, all opened with [`Config::keys_password`];
    /// default `<pki_dir>/ncalayer` (no keys when that folder does not exist).
    pub keys_dir: Option<PathBuf>,
    /// The password of the folder's files (and of listed files without their own);
    /// default the test password `Qwerty12`.
    pub keys_password: String,
    /// Files held one by one, before the folder's.
    pub keys: Vec<KeyFile>,
    /// The key the dialog picks at start: an IIN, an alias or a file name
    /// (`EGOV_NCALAYER__SELECT`); none: the first key of the usage asked for.
    pub select: Option<String>,
    /// Whether the control module `egov.ncalayer.control` answers (default true).
    pub control: bool,
    /// The largest request accepted, bytes (the data to sign travels in base64 inside it).
    pub max_message_bytes: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("pki_dir", &self.pki_dir)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("keys_dir", &self.keys_dir)
            .field("keys", &self.keys)
            .field("select", &self.select)
            .field("control", &self.control)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR.parse().expect("a socket address"),
            pki_dir: PathBuf::from(".egov/pki"),
            tls_cert: None,
            tls_key: None,
            keys_dir: None,
            keys_password: egov_pki::pkcs12::TEST_PASSWORD.to_string(),
            keys: Vec::new(),
            select: None,
            control: true,
            max_message_bytes: 32 << 20,
        }
    }
}

impl Config {
    /// Checks what types cannot; `prefix` is the settings' path (`ncalayer`).
    pub fn check(&self, prefix: &str) -> Result<(), egov_config::Error> {
        let field = |f: &str| format!("{prefix}.{f}");
        if self.keys_password.is_empty() {
            return Err(egov_config::Error::invalid(
                &field("keys_password"),
                "empty: a .p12 file has a password",
            ));
        }
        if self.max_message_bytes < 64 << 10 {
            return Err(egov_config::Error::invalid(
                &field("max_message_bytes"),
                "below 65536: a document to sign would not fit",
            ));
        }
        if self.select.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(egov_config::Error::invalid(
                &field("select"),
                "empty: name an IIN, an alias or a file, or leave it unset",
            ));
        }
        Ok(())
    }

    /// The TLS certificate chain file.
    pub fn tls_cert_path(&self) -> PathBuf {
        self.tls_cert
            .clone()
            .unwrap_or_else(|| provision::tls_paths(&self.pki_dir).0)
    }

    /// The TLS key file.
    pub fn tls_key_path(&self) -> PathBuf {
        self.tls_key
            .clone()
            .unwrap_or_else(|| provision::tls_paths(&self.pki_dir).1)
    }

    /// The key folder.
    pub fn keys_dir_path(&self) -> PathBuf {
        self.keys_dir
            .clone()
            .unwrap_or_else(|| provision::keys_dir(&self.pki_dir))
    }

    fn sources(&self) -> Sources {
        Sources {
            dir: Some((self.keys_dir_path(), self.keys_dir.is_some())),
            dir_password: self.keys_password.clone(),
            files: self
                .keys
                .iter()
                .map(|k| {
                    (
                        k.path.clone(),
                        k.password
                            .clone()
                            .unwrap_or_else(|| self.keys_password.clone()),
                    )
                })
                .collect(),
        }
    }
}

/// Why the stand-in cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Its TLS certificate or key is missing or unusable.
    #[error("TLS identity {path}: {detail}")]
    Tls {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A key file does not open.
    #[error("key file {path}: {detail}")]
    Keys {
        /// The file or folder.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The configured selection names no held key.
    #[error(
        "select {0:?} names no held key (an IIN, an alias or a file name of the keys it holds)"
    )]
    Select(String),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What every connection shares: the keys and the dialog's settings.
#[derive(Debug)]
pub struct Shared {
    keys: Keyring,
    dialog: Mutex<Dialog>,
    initial: Dialog,
    control: bool,
}

impl Shared {
    fn new(keys: Keyring, initial: Dialog, control: bool) -> Self {
        Shared {
            keys,
            dialog: Mutex::new(initial.clone()),
            initial,
            control,
        }
    }

    /// What the dialog does now.
    pub fn dialog(&self) -> Dialog {
        self.dialog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn update_dialog(&self, f: impl FnOnce(&mut Dialog)) {
        f(&mut self.dialog.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn reset_dialog(&self) {
        let initial = self.initial.clone();
        self.update_dialog(|d| *d = initial);
    }
}

/// A held key as the launcher prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The holder's IIN.
    pub iin: Option<String>,
    /// The certificate's CN.
    pub name: String,
    /// `SIGNATURE`, `AUTHENTICATION` or `OTHER`.
    pub key_type: &'static str,
    /// The key's alias.
    pub alias: String,
    /// Its file.
    pub file: PathBuf,
}

/// The bound stand-in, ready to [`StandIn::run`].
pub struct StandIn {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    ws_config: WebSocketConfig,
}

impl StandIn {
    /// Loads the keys and the TLS identity, checks the selection, and binds.
    pub async fn build(cfg: Config) -> Result<StandIn, Error> {
        let keys = Keyring::load(&cfg.sources())?;
        if let Some(s) = &cfg.select
            && keys.named_by(s).next().is_none()
        {
            return Err(Error::Select(s.clone()));
        }
        let acceptor = tls_acceptor(&cfg.tls_cert_path(), &cfg.tls_key_path())?;
        let listener = TcpListener::bind(cfg.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: cfg.addr,
                source,
            })?;
        let initial = Dialog {
            select: cfg.select.clone(),
            cancel: false,
        };
        tracing::info!(
            addr = %listener.local_addr().unwrap_or(cfg.addr),
            keys = keys.keys().len(),
            select = ?cfg.select,
            "the NCALayer stand-in is bound"
        );
        Ok(StandIn {
            listener,
            acceptor,
            shared: Arc::new(Shared::new(keys, initial, cfg.control)),
            ws_config: WebSocketConfig::default()
                .max_message_size(Some(cfg.max_message_bytes))
                .max_frame_size(Some(cfg.max_message_bytes)),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The URL frontends connect to.
    pub fn url(&self) -> String {
        format!("wss://{}", self.local_addr())
    }

    /// The keys it holds, in the dialog's order.
    pub fn keys(&self) -> Vec<Listing> {
        self.shared
            .keys
            .keys()
            .iter()
            .map(|k| Listing {
                iin: k.iin(),
                name: k.common_name(),
                key_type: k.usage.key_type(),
                alias: k.alias.clone(),
                file: k.file.clone(),
            })
            .collect()
    }

    /// Serves until `shutdown` is cancelled, then closes every connection (within a few
    /// seconds) and returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let tracker = TaskTracker::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    tracker.spawn(connection(
                        tcp,
                        peer,
                        self.acceptor.clone(),
                        self.shared.clone(),
                        self.ws_config,
                        shutdown.child_token(),
                    ));
                }
            }
        }
        tracker.close();
        if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
            tracing::warn!("connections did not close in time");
        }
        Ok(())
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, Error> {
    let err = |path: &Path, detail: String| Error::Tls {
        path: path.display().to_string(),
        detail,
    };
    let hint = "egov up issues it (or give tls_cert and tls_key)";
    let text = std::fs::read_to_string(cert).map_err(|e| err(cert, format!("{e}: {hint}")))?;
    let chain = egov_pki::CertInfo::all_from_pem(&text).map_err(|e| err(cert, e.to_string()))?;
    let leaf = &chain[0];
    if leaf.not_after <= time::OffsetDateTime::now_utc() {
        return Err(err(
            cert,
            format!("the certificate expired at {}: {hint}", leaf.not_after),
        ));
    }
    let key_pem = std::fs::read_to_string(key).map_err(|e| err(key, format!("{e}: {hint}")))?;
    let private = egov_pki::PrivateKey::from_pem(&key_pem).map_err(|e| err(key, e.to_string()))?;
    if private.public_key_raw() != leaf.public_key_raw() {
        return Err(err(
            key,
            "the key does not belong to the certificate".into(),
        ));
    }
    let certs = chain
        .iter()
        .map(|c| rustls::pki_types::CertificateDer::from(c.der.clone()))
        .collect();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(
        rustls::pki_types::PrivatePkcs8KeyDer::from(private.pkcs8_der().to_vec()),
    );
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| err(cert, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// One client: the handshakes, the greeting, then one answer per request, in order.
async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    ws_config: WebSocketConfig,
    stop: CancellationToken,
) {
    let handshake = async {
        let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        // the callback's error type (an HTTP response) is tungstenite's, large as it is
        #[allow(clippy::result_large_err)]
        let log_origin = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
            let origin = req
                .headers()
                .get("origin")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info!(%peer, origin, path = %req.uri(), "a client connected");
            Ok(resp)
        };
        tokio_tungstenite::accept_hdr_async_with_config(tls, log_origin, Some(ws_config))
            .await
            .map_err(|e| e.to_string())
    };
    let mut ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    if ws.send(Message::text(protocol::greeting())).await.is_err() {
        return;
    }
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => {
                let _ = ws.close(None).await;
                break;
            }
            msg = ws.next() => msg,
        };
        let text = match msg {
            None => break,
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(e))) => {
                // a request larger than allowed: say so with 1009 rather than vanish
                tracing::warn!(%peer, error = %e, "a message too large");
                let _ = ws
                    .send(Message::Close(Some(CloseFrame {
                        code: CloseCode::Size,
                        reason: "the message is larger than the stand-in accepts".into(),
                    })))
                    .await;
                break;
            }
            Some(Err(e)) => {
                tracing::debug!(%peer, error = %e, "the connection failed");
                break;
            }
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
            Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        };
        let s = shared.clone();
        // hashing and signing a large document is CPU work: off the reactor
        let reply = match tokio::task::spawn_blocking(move || protocol::answer(&text, &s)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%peer, error = %e, "answering failed");
                protocol::Common::Fail("java.lang.RuntimeException: internal error".into())
                    .to_json()
                    .to_string()
            }
        };
        if ws.send(Message::text(reply)).await.is_err() {
            break;
        }
    }
    tracing::info!(%peer, "a client disconnected");
}

#[cfg(test)]
mod tests;
