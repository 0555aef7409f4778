//! The world of the stand-in's tests: a fresh test PKI (no system certificates: only
//! what the stand-in needs), its TLS identity and the `.p12` keys of named test citizens
//! issued as `egov up` issues them, and the stand-in on port 0; a raw WebSocket client
//! that trusts the test root alone; the Node client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use egov_pki::PkiDir;
use egov_pki::authority::{CertProfile, SubjectSpec};
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// The password of the world's key files (not the default: the setting is used).
pub const PASSWORD: &str = "ключ теста 1";

/// The named test citizens whose signing and authentication keys the stand-in holds.
pub const CITIZENS: [&str; 2] = ["family-father", "atyrau"];

/// A citizen with a signing key only (a .p12 beside the others).
pub const SIGN_ONLY: &str = "akzhar";

/// The IIN of a fixture citizen.
pub fn iin(key: &str) -> String {
    egov_synth::fixtures::iin_of(key).as_string()
}

/// A running stand-in.
pub struct StandIn {
    /// `wss://127.0.0.1:<port>`.
    pub url: String,
    /// Its address.
    pub addr: SocketAddr,
    /// The PKI folder.
    pub pki: PathBuf,
    /// The key folder.
    pub keys_dir: PathBuf,
    /// Temporary files (the PKI, the keys).
    pub dir: tempfile::TempDir,
    cancel: CancellationToken,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A fresh PKI of `alg` with the stand-in's TLS identity and the world's keys in `dir`.
pub fn pki(dir: &Path, alg: KeyAlgorithm) -> (PathBuf, PathBuf) {
    egov_telemetry::init_for_tests();
    let pki = dir.join("pki");
    let ca = PkiDir::init(
        &pki,
        &dir.join("pki-ca"),
        &InitOptions {
            algorithm: alg,
            systems: Vec::new(),
            ..Default::default()
        },
    )
    .expect("test PKI");
    let now = time::OffsetDateTime::now_utc();
    assert!(egov_ncalayer::provision::tls_identity(&ca, now).unwrap());
    // a second call keeps what is good
    assert!(!egov_ncalayer::provision::tls_identity(&ca, now).unwrap());
    let keys = egov_ncalayer::provision::keys_dir(&pki);
    let fixtures = egov_synth::fixtures::citizens(egov_calendar::today());
    for key in CITIZENS {
        let c = fixtures.iter().find(|c| c.key == key).unwrap();
        let person = egov_ncalayer::provision::Person {
            iin: c.iin,
            name: c.name.clone(),
        };
        let made =
            egov_ncalayer::provision::person_keys(&ca, &keys, &person, PASSWORD, now).unwrap();
        assert!(made.iter().all(|k| k.issued), "{made:?}");
        let again =
            egov_ncalayer::provision::person_keys(&ca, &keys, &person, PASSWORD, now).unwrap();
        assert!(
            again.iter().all(|k| !k.issued),
            "good keys are kept: {again:?}"
        );
    }
    // one with a signing key only, written as `egovctl pki issue` writes it
    let c = fixtures.iter().find(|c| c.key == SIGN_ONLY).unwrap();
    let issued = ca
        .issue(
            &SubjectSpec::person(c.iin, &c.name),
            CertProfile::Signing,
            alg,
            now - time::Duration::minutes(5),
            now + time::Duration::days(30),
        )
        .unwrap();
    let der = egov_pki::pkcs12::write(
        issued.key.as_ref().unwrap(),
        &issued.cert,
        std::slice::from_ref(&ca.issuing.cert),
        PASSWORD,
    )
    .unwrap();
    std::fs::write(keys.join(format!("{}-sign.p12", c.iin.as_string())), der).unwrap();
    (pki, keys)
}

/// The stand-in on a fresh PKI of `alg`, its settings changed by `tweak`.
pub async fn standin_with(
    alg: KeyAlgorithm,
    tweak: impl FnOnce(&mut egov_ncalayer::Config),
) -> StandIn {
    let dir = tempfile::tempdir().unwrap();
    let (pki, keys_dir) = pki(dir.path(), alg);
    let mut cfg = egov_ncalayer::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        pki_dir: pki.clone(),
        keys_password: PASSWORD.into(),
        ..Default::default()
    };
    tweak(&mut cfg);
    let standin = egov_ncalayer::StandIn::build(cfg).await.unwrap();
    let addr = standin.local_addr();
    let url = standin.url();
    let cancel = CancellationToken::new();
    tokio::spawn(standin.run(cancel.clone()));
    StandIn {
        url,
        addr,
        pki,
        keys_dir,
        dir,
        cancel,
    }
}

/// The stand-in on a fresh ECDSA PKI (fast), default settings.
pub async fn standin() -> StandIn {
    standin_with(KeyAlgorithm::EcdsaP256, |_| {}).await
}

/// A WebSocket connection to the stand-in, trusting the test root alone.
pub type Ws = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Connects by `host` (`127.0.0.1` or `localhost`) trusting the root in `root` alone,
/// and reads the greeting.
pub async fn connect_as(s: &StandIn, host: &str, root: &Path) -> Result<(Ws, Value), String> {
    let root = std::fs::read_to_string(root).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            egov_pki::CertInfo::from_pem(&root).unwrap().der,
        ))
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(s.addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("wss://{host}:{}/", s.addr.port()), tls)
            .await
            .map_err(|e| format!("WebSocket: {e}"))?;
    let greeting = next_json(&mut ws).await;
    Ok((ws, greeting))
}

/// Connects by IP and reads the greeting.
pub async fn connect(s: &StandIn) -> Ws {
    connect_as(s, "127.0.0.1", &s.pki.join("root.cert.pem"))
        .await
        .unwrap()
        .0
}

/// The next text frame, as JSON.
pub async fn next_json(ws: &mut Ws) -> Value {
    let text = next_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The next text frame.
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
        {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Sends `text` and returns the answer's text.
pub async fn ask_text(ws: &mut Ws, text: &str) -> String {
    ws.send(Message::text(text.to_string())).await.unwrap();
    next_text(ws).await
}

/// Sends `request` and returns the answer.
pub async fn ask(ws: &mut Ws, request: Value) -> Value {
    let text = ask_text(ws, &request.to_string()).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A commonUtils request.
pub fn common(method: &str, args: Value) -> Value {
    json!({"module": "kz.gov.pki.knca.commonUtils", "method": method, "args": args})
}

/// Calls the control module on a connection of its own.
pub async fn control(s: &StandIn, method: &str, args: Value) -> Value {
    let mut ws = connect(s).await;
    ask(
        &mut ws,
        json!({"module": "egov.ncalayer.control", "method": method, "args": args}),
    )
    .await
}

/// Runs `tests/js/ncalayer-sign.mjs` against the stand-in; its JSON line.
pub async fn node(s: &StandIn, mode: &str, data_b64: &str) -> Value {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/ncalayer-js-client").is_dir(),
        "the outside clients are not installed: run `bash deploy/local/prepare.sh --services` \
         (or `npm ci --prefix tests/js`)"
    );
    let out = tokio::process::Command::new("node")
        .current_dir(&js)
        .arg("ncalayer-sign.mjs")
        .args([mode, &s.url, data_b64])
        .env("NODE_EXTRA_CA_CERTS", s.pki.join("root.cert.pem"))
        .output()
        .await
        .expect("node runs (bash deploy/local/prepare.sh --services installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Runs `openssl` in `dir`; whether it succeeded, and what it printed.
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl binary is installed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
