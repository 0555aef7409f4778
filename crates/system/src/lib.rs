//! What every information system of the mirror (ГБД ФЛ, ЕНИС, ИС МИО, ИС ЦОН, ПЭП) has in
//! common, so that each service's own code is only its business:
//!
//! - [`Identity`]: the system's transport-signing key and certificate, the verifier of
//!   other systems' signatures (with OCSP against the certification authority), and its
//!   mutual-TLS identity, all from the test PKI folder;
//! - [`serve_sync`]: a `SyncChannel` gRPC server (mutual TLS, `grpc.health.v1`) for a
//!   [`SyncHandler`], accepting calls only from the gateways the system is registered on;
//! - [`http_router`]: `/health` (database, own certificate) and `/metrics` (Prometheus);
//! - [`Config`] and [`Bound`]: the settings every system has (ports, PKI, database,
//!   schema, OCSP, gateways, limits) and a system built from them (database migrated,
//!   ports bound) that [`Bound::run_sync`] serves;
//! - [`api`]: what the systems' JSON APIs share (the error shape in Russian and Kazakh,
//!   the body parsed on demand, the bearer token, hardened headers).
//!
//! A system's gRPC server takes messages up to [`Config::max_message_bytes`]: by default
//! the largest payload of the services the shipped registry says it provides, plus the
//! envelope's room ([`shipped_max_message_bytes`]); the transport refuses a larger one
//! before reading it. Its servers run with [`egov_grpc::Limits`].

pub mod api;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use egov_grpc::TlsIdentity;
use egov_pki::Verifier;
use egov_proto::shep::v1::sync_channel_server::SyncChannelServer;
use egov_shep_client::SystemSigner;
use egov_shep_client::server::{SyncHandler, SyncServer};
use serde_json::json;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The settings every information system has (`EGOV_<SYSTEM>__*`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// The system id (certificate CN, senderId).
    pub system_id: String,
    /// gRPC address (SyncChannel); port 0 picks a free one.
    pub grpc_addr: SocketAddr,
    /// HTTP address (health, metrics, and the system's own API where it has one).
    pub http_addr: SocketAddr,
    /// The test PKI folder.
    pub pki_dir: PathBuf,
    /// PostgreSQL URL.
    pub database_url: String,
    /// The system's schema.
    pub schema: String,
    /// OCSP responder for checking certificates (the uc service).
    pub ocsp_url: Option<String>,
    /// CRL distribution point (the uc service), fetched when OCSP fails or the held CRL
    /// is past its nextUpdate; `None`: the one the certificates name.
    pub crl_url: Option<String>,
    /// Seconds an OCSP "good" answer is used at most: a certificate revoked at the CA is
    /// refused within this time.
    pub ocsp_cache_secs: u64,
    /// Timeout of each OCSP request and CRL fetch, milliseconds.
    pub ca_timeout_ms: u64,
    /// Gateways allowed to call the system (the one it is registered on).
    pub gateways: Vec<String>,
    /// Largest gRPC message the system's server reads, bytes (its answers may be as large
    /// as a gateway takes back, [`shipped_largest_message`], or this if larger).
    pub max_message_bytes: usize,
    /// Concurrency and HTTP timeouts of its servers.
    pub limits: egov_grpc::Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config::new("system", "system", 0, 0)
    }
}

impl Config {
    /// Local defaults for `system_id` on its fixed ports.
    pub fn new(system_id: &str, schema: &str, grpc_port: u16, http_port: u16) -> Self {
        Config {
            system_id: system_id.to_string(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], grpc_port)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], http_port)),
            pki_dir: PathBuf::from(".egov/pki"),
            database_url: "postgres://postgres@127.0.0.1:5432/egov".into(),
            schema: schema.to_string(),
            ocsp_url: Some("http://127.0.0.1:7010/ocsp".into()),
            crl_url: Some("http://127.0.0.1:7010/crl".into()),
            ocsp_cache_secs: 60,
            ca_timeout_ms: 3000,
            gateways: vec!["shep".into()],
            max_message_bytes: shipped_max_message_bytes(system_id),
            limits: egov_grpc::Limits::default(),
        }
    }

    /// Local defaults for `system_id` on the fixed ports the topology gives it, accepted
    /// from the gateway it is registered on; port 0 for a system the topology lacks.
    pub fn of(topology: &egov_topology::Topology, system_id: &str, schema: &str) -> Self {
        match topology.system(system_id) {
            Some(s) => {
                let mut c = Config::new(system_id, schema, s.grpc_port, s.http_port);
                c.gateways = vec![s.gateway.clone()];
                c
            }
            None => Config::new(system_id, schema, 0, 0),
        }
    }

    /// Binds both addresses to `host`, keeping their ports.
    pub fn bind_host(&mut self, host: std::net::IpAddr) {
        self.grpc_addr.set_ip(host);
        self.http_addr.set_ip(host);
    }

    /// Where the system's verifier learns revocation.
    pub fn revocation(&self) -> egov_shep_client::envelope::RevocationSources {
        egov_shep_client::envelope::RevocationSources {
            ocsp_url: self.ocsp_url.clone(),
            crl_url: self.crl_url.clone(),
            ocsp_max_age: Duration::from_secs(self.ocsp_cache_secs),
            timeout: Duration::from_millis(self.ca_timeout_ms),
        }
    }

    /// Checks the values types alone cannot, for settings under `key` (`gbd_fl`, ...):
    /// the error names the variable (`EGOV_GBD_FL__MAX_MESSAGE_BYTES`).
    pub fn check(&self, key: &str) -> Result<(), egov_config::Error> {
        let zero = |field: &str| {
            egov_config::Error::invalid(&format!("{key}.{field}"), "must be more than 0")
        };
        if self.max_message_bytes == 0 {
            return Err(zero("max_message_bytes"));
        }
        if self.ca_timeout_ms == 0 {
            return Err(zero("ca_timeout_ms"));
        }
        if let Err(var) = self.limits.check(key) {
            return Err(egov_config::Error::invalid(&var, "must be more than 0"));
        }
        Ok(())
    }

    /// Both ports 0 (tests, several instances on one machine).
    pub fn any_ports(&mut self) {
        self.grpc_addr.set_port(0);
        self.http_addr.set_port(0);
    }
}

/// A service of the shipped registry: its provider (a system), or the kind of system
/// that provides it in every region, and its largest payload.
type ShippedService = (Option<String>, Option<String>, usize);

/// The services of the shipped registry (`deploy/gateway/registry.toml`).
fn shipped_services() -> &'static [ShippedService] {
    #[derive(serde::Deserialize)]
    struct Registry {
        services: Vec<Service>,
    }
    #[derive(serde::Deserialize)]
    struct Service {
        provider: Option<String>,
        regional: Option<String>,
        max_payload: usize,
    }
    static SERVICES: std::sync::LazyLock<Vec<ShippedService>> = std::sync::LazyLock::new(|| {
        let r: Registry = toml::from_str(include_str!("../../../deploy/gateway/registry.toml"))
            .expect("the shipped registry parses");
        r.services
            .into_iter()
            .map(|s| (s.provider, s.regional, s.max_payload))
            .collect()
    });
    &SERVICES
}

/// The largest gRPC message `system_id` receives under the shipped registry: the largest
/// payload of the services it provides (by its id, or by its kind for regional
/// services), plus the envelope's room; a system providing none receives answers and
/// health checks only, the envelope's room.
pub fn shipped_max_message_bytes(system_id: &str) -> usize {
    let kind = egov_topology::Topology::shipped()
        .system(system_id)
        .map(|s| s.kind.as_str().to_string());
    shipped_services()
        .iter()
        .filter(|(provider, regional, _)| {
            provider.as_deref() == Some(system_id)
                || (regional.is_some() && regional.as_deref() == kind.as_deref())
        })
        .map(|(_, _, max)| *max)
        .max()
        .unwrap_or(0)
        + egov_shep_client::envelope::ENVELOPE_OVERHEAD
}

/// The largest message a gateway takes back from a system under the shipped registry
/// (its largest payload plus the envelope's room): the bound on a system's answers.
pub fn shipped_largest_message() -> usize {
    shipped_services()
        .iter()
        .map(|(_, _, max)| *max)
        .max()
        .unwrap_or(0)
        + egov_shep_client::envelope::ENVELOPE_OVERHEAD
}

/// Opens `schema` of the database at `url` (creating both if missing) and runs the
/// system's migrations on it.
pub async fn open_database(
    url: &str,
    schema: &str,
    max_connections: u32,
    migrator: &'static sqlx::migrate::Migrator,
) -> Result<PgPool, Error> {
    egov_db::ensure_database(url)
        .await
        .map_err(|e| Error::Database(e.to_string()))?;
    let pool = egov_db::pool(url, schema, max_connections)
        .await
        .map_err(|e| Error::Database(e.to_string()))?;
    migrator
        .run(&pool)
        .await
        .map_err(|e| Error::Database(format!("migrations of {schema}: {e}")))?;
    Ok(pool)
}

/// A system with its database open and its ports bound.
pub struct Bound {
    /// Its settings.
    pub config: Config,
    /// Its database.
    pub pool: PgPool,
    listeners: egov_grpc::Listeners,
}

impl egov_grpc::Listening for Bound {
    fn listeners(&self) -> &egov_grpc::Listeners {
        &self.listeners
    }
}

impl Bound {
    /// Opens the database (migrations) and binds both ports.
    pub async fn build(
        config: Config,
        migrator: &'static sqlx::migrate::Migrator,
    ) -> Result<Self, Error> {
        let pool = open_database(&config.database_url, &config.schema, 16, migrator).await?;
        let listeners = egov_grpc::Listeners::bind(config.grpc_addr, config.http_addr)
            .await
            .map_err(|(addr, source)| Error::Bind { addr, source })?;
        Ok(Bound {
            config,
            pool,
            listeners,
        })
    }

    /// Loads the identity.
    pub fn identity(&self) -> Result<Identity, Error> {
        Identity::load_with(
            &self.config.pki_dir,
            &self.config.system_id,
            &self.config.revocation(),
        )
    }

    /// Serves `handler` on gRPC and `router` merged with health and metrics on HTTP
    /// until `shutdown`, then closes the pool.
    pub async fn run_sync<H: SyncHandler>(
        self,
        identity: Identity,
        handler: Arc<H>,
        router: Router,
        lane: &str,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let grpc = serve_sync_with(
            self.listeners.grpc,
            &identity,
            handler,
            self.config.gateways.clone(),
            lane,
            &self.config,
            shutdown.clone(),
        );
        let http = serve_http(
            self.listeners.http,
            self.config
                .limits
                .http(router.merge(http_router(self.pool.clone(), identity.clone()))),
            shutdown.clone(),
        );
        let (g, h) = tokio::join!(grpc, http);
        self.pool.close().await;
        g?;
        h
    }
}

/// Start-up problems shared by the systems.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Keys or certificates cannot be loaded.
    #[error("identity of {system}: {message}")]
    Identity {
        /// The system.
        system: String,
        /// Why.
        message: String,
    },
    /// A socket cannot be bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A server failed.
    #[error("{0}")]
    Serve(String),
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Database(String),
}

/// A system's identities.
#[derive(Clone)]
pub struct Identity {
    /// The system id.
    pub system_id: String,
    /// Signs the system's envelopes.
    pub signer: Arc<SystemSigner>,
    /// Verifies other systems' (and people's) signatures.
    pub verifier: Arc<Verifier>,
    /// Mutual TLS.
    pub tls: TlsIdentity,
}

impl Identity {
    /// Loads `system_id`'s identities from the test PKI folder; `ocsp_url` makes the
    /// verifier check revocation by OCSP (with the CRL as fallback).
    pub fn load(pki_dir: &Path, system_id: &str, ocsp_url: Option<&str>) -> Result<Self, Error> {
        Identity::load_with(
            pki_dir,
            system_id,
            &egov_shep_client::envelope::RevocationSources {
                ocsp_url: ocsp_url.map(str::to_string),
                ..Default::default()
            },
        )
    }

    /// Loads `system_id`'s identities, its verifier learning revocation from `sources`.
    pub fn load_with(
        pki_dir: &Path,
        system_id: &str,
        sources: &egov_shep_client::envelope::RevocationSources,
    ) -> Result<Self, Error> {
        let err = |m: String| Error::Identity {
            system: system_id.to_string(),
            message: m,
        };
        let signer = SystemSigner::load(pki_dir, system_id).map_err(|e| err(e.to_string()))?;
        let verifier = egov_shep_client::envelope::pki_verifier_with(pki_dir, sources)
            .map_err(|e| err(e.to_string()))?;
        let tls = TlsIdentity::load(pki_dir, system_id).map_err(|e| err(e.to_string()))?;
        Ok(Identity {
            system_id: system_id.to_string(),
            signer: Arc::new(signer),
            verifier,
            tls,
        })
    }
}

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Serves `handler` as the system's `SyncChannel` on `listener` until `shutdown`, with
/// the default limits of `identity`'s system.
pub async fn serve_sync<H: SyncHandler>(
    listener: TcpListener,
    identity: &Identity,
    handler: Arc<H>,
    gateways: Vec<String>,
    lane: &str,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let config = Config::new(&identity.system_id, "", 0, 0);
    serve_sync_with(
        listener, identity, handler, gateways, lane, &config, shutdown,
    )
    .await
}

/// Serves `handler` as the system's `SyncChannel` on `listener` until `shutdown`, taking
/// messages up to `config.max_message_bytes` with `config.limits`.
pub async fn serve_sync_with<H: SyncHandler>(
    listener: TcpListener,
    identity: &Identity,
    handler: Arc<H>,
    gateways: Vec<String>,
    lane: &str,
    config: &Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let (reporter, health) = egov_grpc::health();
    reporter
        .set_serving::<SyncChannelServer<SyncServer<H>>>()
        .await;
    let server = SyncServer::new(
        handler,
        identity.signer.clone(),
        identity.verifier.clone(),
        gateways,
        lane,
    );
    let (reflection, reflection_alpha) = egov_grpc::reflection(&[
        egov_grpc::services::SYNC_CHANNEL,
        egov_grpc::services::HEALTH,
    ]);
    config
        .limits
        .grpc_server()
        .tls_config(identity.tls.server_tls())
        .map_err(|e| Error::Serve(e.to_string()))?
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(
            SyncChannelServer::new(server)
                .max_decoding_message_size(config.max_message_bytes)
                .max_encoding_message_size(config.max_message_bytes.max(shipped_largest_message())),
        )
        .serve_with_incoming_shutdown(egov_grpc::incoming(listener), async move {
            shutdown.cancelled().await
        })
        .await
        .map_err(|e| Error::Serve(format!("grpc: {e}")))
}

struct HealthState {
    pool: PgPool,
    identity: Identity,
}

/// A business refusal of a sync service: the error code, a human message, and the
/// contracts' [`egov_contracts::ErrorBody`] (code, message, details) as its payload, the
/// one shape every registry and ИС МИО answers a refusal in.
pub fn refusal(
    code: &str,
    message: impl Into<String>,
    details: serde_json::Value,
) -> egov_shep_client::server::Answer {
    let message = message.into();
    let body = egov_contracts::ErrorBody {
        code: code.to_string(),
        message: message.clone(),
        details: match details {
            serde_json::Value::Object(m) => m,
            _ => Default::default(),
        },
    };
    egov_shep_client::server::Answer::business(
        code,
        message,
        serde_json::to_vec(&body).expect("an error body serializes"),
    )
}

/// `/health` (the database answers; the system's own certificate is within its
/// validity) and `/metrics`.
pub fn http_router(pool: PgPool, identity: Identity) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(Arc::new(HealthState { pool, identity }))
        .merge(egov_telemetry::metrics_router())
}

async fn health(State(s): State<Arc<HealthState>>) -> Response {
    let database = match tokio::time::timeout(
        Duration::from_secs(3),
        sqlx::query_scalar::<_, i32>("select 1").fetch_one(&s.pool),
    )
    .await
    {
        Ok(Ok(_)) => json!({"status": "ok"}),
        Ok(Err(e)) => json!({"status": "error", "message": e.to_string()}),
        Err(_) => json!({"status": "error", "message": "no answer within 3 s"}),
    };
    let cert = s.identity.signer.cert();
    let now = time::OffsetDateTime::now_utc();
    let certificate = if now < cert.not_before || now > cert.not_after {
        json!({"status": "error", "message": format!("valid {} to {}", cert.not_before, cert.not_after)})
    } else {
        json!({"status": "ok", "serial": cert.serial_hex, "not_after": cert.not_after.to_string()})
    };
    let ok = database["status"] == "ok" && certificate["status"] == "ok";
    let body = json!({
        "status": if ok { "ok" } else { "error" },
        "system": s.identity.system_id,
        "checks": {"database": database, "certificate": certificate},
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// Serves `router` on `listener` until `shutdown`.
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| Error::Serve(format!("http: {e}")))
}

/// What a standalone binary takes from the shared settings for a system's [`Config`]: the
/// database URL and the PKI folder; the bind host when `EGOV_BIND_HOST` is other than
/// loopback (containers: `0.0.0.0`); and, with `EGOV_PEER_HOST`, uc's OCSP and CRL URLs
/// on uc's host.
pub fn standalone(cfg: &mut Config, common: &egov_config::Common) -> Result<(), String> {
    cfg.database_url = common.database_url.clone();
    cfg.pki_dir = common.pki_dir();
    if !common.bind_host.is_loopback() {
        cfg.bind_host(common.bind_host);
    }
    let topology = common.topology().map_err(|e| e.to_string())?;
    if let Some((ocsp, crl)) = common.uc_urls(&topology) {
        cfg.ocsp_url = Some(ocsp);
        cfg.crl_url = Some(crl);
    }
    Ok(())
}

/// The gRPC address of `gateway` as a standalone system reaches it
/// ([`egov_config::Common::peer_addr`] at the topology's port); `None` for a gateway the
/// topology lacks or without `EGOV_PEER_HOST` (the system's default then stands).
pub fn gateway_addr(common: &egov_config::Common, gateway: &str) -> Option<String> {
    common.peer_host.as_ref()?;
    let topology = common.topology().ok()?;
    let port = topology.gateway(gateway)?.grpc_port;
    Some(common.peer_addr(gateway, port))
}

#[doc(hidden)]
pub use egov_config as __config;
#[doc(hidden)]
pub use egov_grpc as __grpc;

/// The whole `main.rs` of a system that needs nothing but its own settings: a `Settings`
/// with the shared settings and the system's own under `$key` (`EGOV_<KEY>__*`),
/// validated, then the system built with `$build`, its addresses logged, and run under
/// [`serve_binary`]. The binary's package needs `serde`, `tokio` and `tracing`.
///
/// ```ignore
/// egov_system::system_main!("egov-enis", enis: egov_enis::Config, egov_enis::Enis::build, "ЕНИС");
/// ```
///
/// The shared settings reach the system's own through [`standalone`]. A system that needs
/// more of them (ИС ЦОН: the NATS URL) gives a fifth argument, a closure
/// `|&mut Config, &Common|` run before the build.
#[macro_export]
macro_rules! system_main {
    ($bin:literal, $key:ident: $config:ty, $build:path, $lane:literal) => {
        $crate::system_main!(
            $bin,
            $key: $config,
            $build,
            $lane,
            |_: &mut $config, _: &$crate::__config::Common| {}
        );
    };
    ($bin:literal, $key:ident: $config:ty, $build:path, $lane:literal, $adjust:expr) => {
        #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        struct Settings {
            #[serde(flatten)]
            common: $crate::__config::Common,
            $key: $config,
        }

        impl $crate::__config::Validate for Settings {
            fn validate(&self) -> Result<(), $crate::__config::Error> {
                self.common.validate()?;
                self.$key.system.check(stringify!($key))
            }
        }

        #[tokio::main]
        async fn main() -> std::process::ExitCode {
            $crate::serve_binary(
                $bin,
                |s: &Settings| &s.common,
                |s, cancel| async move {
                    use $crate::__grpc::Listening as _;
                    let mut cfg = s.$key;
                    $crate::standalone(&mut cfg.system, &s.common)?;
                    ($adjust)(&mut cfg, &s.common);
                    let svc = $build(cfg).await.map_err(|e| e.to_string())?;
                    tracing::info!(grpc = %svc.grpc_addr(), http = %svc.http_addr(), concat!($lane, " listening"));
                    svc.run(cancel).await.map_err(|e| e.to_string())
                },
            )
            .await
        }
    };
}

/// What every service binary does around its service: loads its settings from `EGOV_*`
/// (a bad value exits 64 naming the variable), starts telemetry, installs the TLS
/// provider, and runs `body` with a token that the first SIGINT or SIGTERM cancels.
/// An error of `body` is printed on one line and exits 1.
pub async fn serve_binary<S, F, Fut>(
    name: &str,
    common: fn(&S) -> &egov_config::Common,
    body: F,
) -> std::process::ExitCode
where
    S: serde::de::DeserializeOwned + serde::Serialize + Default + egov_config::Validate,
    F: FnOnce(S, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let settings: S = match egov_config::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    let _guard = match egov_telemetry::init(&common(&settings).telemetry(), name) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{name}: telemetry: {e}");
            std::process::exit(egov_config::EXIT_CONFIG);
        }
    };
    egov_grpc::install_crypto_provider();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        c.cancel();
    });
    match body(settings, cancel).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {}", e.replace('\n', " "));
            std::process::ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standalone_system_takes_the_shared_settings_and_its_peers_hosts() {
        let topology = egov_topology::Topology::shipped();
        let mut common = egov_config::Common {
            database_url: "postgres://egov_gbd_fl:pw@postgres:5432/egov".into(),
            ..Default::default()
        };
        // on one machine: loopback addresses and uc stay as they are
        let mut cfg = Config::of(&topology, "gbd-fl", "gbd_fl");
        standalone(&mut cfg, &common).unwrap();
        assert_eq!(cfg.database_url, common.database_url);
        assert_eq!(cfg.grpc_addr.to_string(), "127.0.0.1:7200");
        assert_eq!(cfg.ocsp_url.as_deref(), Some("http://127.0.0.1:7010/ocsp"));
        assert_eq!(gateway_addr(&common, "shep"), None);
        // in a container: every address on 0.0.0.0, uc and the gateway by their ids
        common.bind_host = std::net::IpAddr::from([0, 0, 0, 0]);
        common.peer_host = Some("{id}".into());
        let mut cfg = Config::of(&topology, "gbd-fl", "gbd_fl");
        standalone(&mut cfg, &common).unwrap();
        assert_eq!(cfg.grpc_addr.to_string(), "0.0.0.0:7200");
        assert_eq!(cfg.http_addr.to_string(), "0.0.0.0:7201");
        assert_eq!(cfg.ocsp_url.as_deref(), Some("http://uc:7010/ocsp"));
        assert_eq!(cfg.crl_url.as_deref(), Some("http://uc:7010/crl"));
        assert_eq!(
            gateway_addr(&common, "rshep-almaty").as_deref(),
            Some("rshep-almaty:7101")
        );
        assert_eq!(gateway_addr(&common, "no-such-gateway"), None);
        // a topology folder that is not there is the error it is
        common.topology_dir = Some("/no/such/topology".into());
        let e = standalone(&mut cfg, &common).unwrap_err();
        assert!(e.contains("EGOV_TOPOLOGY_DIR"), "{e}");
    }

    #[test]
    fn the_message_limit_follows_the_services_a_system_provides() {
        // ГБД ФЛ answers look-ups of 64 KiB at most; ИС МИО takes applications of 20 MiB
        let gbd = shipped_max_message_bytes("gbd-fl");
        let mio = shipped_max_message_bytes("mio-almaty");
        assert_eq!(gbd, 65536 + egov_shep_client::envelope::ENVELOPE_OVERHEAD);
        assert_eq!(
            mio,
            20971520 + egov_shep_client::envelope::ENVELOPE_OVERHEAD
        );
        assert_eq!(shipped_largest_message(), mio);
        // a system providing no service receives answers alone
        assert_eq!(
            shipped_max_message_bytes("no-such-system"),
            egov_shep_client::envelope::ENVELOPE_OVERHEAD
        );
        assert_eq!(Config::new("gbd-fl", "gbd_fl", 0, 0).max_message_bytes, gbd);
    }

    #[test]
    fn a_zero_limit_names_its_variable() {
        let ok = Config::new("gbd-fl", "gbd_fl", 0, 0);
        assert!(ok.check("gbd_fl").is_ok());
        let mut c = ok.clone();
        c.max_message_bytes = 0;
        let e = c.check("gbd_fl").unwrap_err().to_string();
        assert!(e.contains("EGOV_GBD_FL__MAX_MESSAGE_BYTES"), "{e}");
        let mut c = ok.clone();
        c.limits.http_timeout_secs = 0;
        let e = c.check("gbd_fl").unwrap_err().to_string();
        assert!(e.contains("EGOV_GBD_FL__LIMITS__HTTP_TIMEOUT_SECS"), "{e}");
        let mut c = ok;
        c.ca_timeout_ms = 0;
        let e = c.check("gbd_fl").unwrap_err().to_string();
        assert!(e.contains("EGOV_GBD_FL__CA_TIMEOUT_MS"), "{e}");
    }
}
