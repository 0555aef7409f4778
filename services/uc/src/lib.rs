//! ИС УЦ: the test certification authority service.
//!
//! **Test infrastructure.** It exists so that the rest of the system runs with real X.509
//! certificates: it issues certificates for test citizens, employees and systems (keys
//! generated here, or a CSR), revokes them with a reason, publishes the issuing CA's CRL
//! over HTTP and answers OCSP (RFC 6960) over HTTP, as НУЦ РК does for real ones.
//!
//! HTTP (plain, as CRL distribution points and OCSP responders are):
//!
//! | route | answer |
//! |---|---|
//! | `GET /crl` | the current CRL, DER (`application/pkix-crl`) |
//! | `GET /crl.pem` | the same, PEM |
//! | `POST /ocsp` | OCSP, `application/ocsp-request` → `application/ocsp-response` |
//! | `GET /ocsp/{base64}` | OCSP by GET (RFC 6960 appendix A.1) |
//! | `GET /ca/root.pem`, `GET /ca/issuing.pem` | the CA certificates |
//! | `GET /health` | JSON: database and CA checks, 200 or 503 |
//! | `GET /metrics` | Prometheus |
//!
//! gRPC (`egov.uc.v1.CertificationAuthority`, mutual TLS with the `uc` system identity):
//! issue, revoke, get and list certificates; plus `grpc.health.v1`.

pub mod grpc;
pub mod http;
pub mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use egov_pki::PkiDir;
use egov_pki::authority::RevokedEntry;
use egov_pki::dir::IndexRecord;
use egov_pki::ocsp::Status;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// The uc service's settings (`EGOV_UC__*` when loaded through `egov-config`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// HTTP address (CRL, OCSP, health, metrics).
    pub http_addr: SocketAddr,
    /// gRPC address.
    pub grpc_addr: SocketAddr,
    /// The test PKI folder whose issuing CA this service runs (certificates, CRL, its own
    /// TLS identity).
    pub pki_dir: PathBuf,
    /// The CA folder with the CAs' keys, settings and index (`EGOV_UC__CA_DIR`); default
    /// beside the PKI folder, its name plus `-ca` ([`egov_pki::dir::default_ca_dir`]).
    /// Only uc and the registration tools are given it.
    pub ca_dir: Option<PathBuf>,
    /// PostgreSQL URL.
    pub database_url: String,
    /// Schema of this service.
    pub schema: String,
    /// How long an OCSP answer is valid (nextUpdate - thisUpdate), seconds.
    pub ocsp_validity_secs: i64,
    /// How long a CRL is valid (nextUpdate - thisUpdate), seconds.
    pub crl_validity_secs: i64,
    /// Largest gRPC message the server reads, bytes (a request with a CSR is a few
    /// kilobytes). Answers (a list of up to 200 certificates) may take up to
    /// [`MAX_ANSWER_BYTES`] or this if larger.
    pub max_message_bytes: usize,
    /// Concurrency of the gRPC and HTTP servers, HTTP timeouts.
    pub limits: egov_grpc::Limits,
}

impl Default for Config {
    /// The fixed local ports of the shipped topology (HTTP: CRL, OCSP; gRPC).
    fn default() -> Self {
        let topology = egov_topology::Topology::shipped();
        let uc = topology.system("uc").expect("the shipped topology has uc");
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], uc.http_port)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], uc.grpc_port)),
            pki_dir: PathBuf::from(".egov/pki"),
            ca_dir: None,
            database_url: "postgres://postgres@127.0.0.1:5432/egov".into(),
            schema: "uc".into(),
            ocsp_validity_secs: 3600,
            crl_validity_secs: 24 * 3600,
            max_message_bytes: 256 * 1024,
            limits: egov_grpc::Limits::default(),
        }
    }
}

impl Config {
    /// The CA folder: `ca_dir`, else beside the PKI folder.
    pub fn ca_dir(&self) -> PathBuf {
        self.ca_dir
            .clone()
            .unwrap_or_else(|| egov_pki::dir::default_ca_dir(&self.pki_dir))
    }

    /// Checks the values types alone cannot (settings under `EGOV_UC__`): the error names
    /// the variable.
    pub fn check(&self) -> Result<(), egov_config::Error> {
        for (field, value) in [
            ("uc.ocsp_validity_secs", self.ocsp_validity_secs),
            ("uc.crl_validity_secs", self.crl_validity_secs),
            ("uc.max_message_bytes", self.max_message_bytes as i64),
        ] {
            if value <= 0 {
                return Err(egov_config::Error::invalid(field, "must be more than 0"));
            }
        }
        if let Err(var) = self.limits.check("uc") {
            return Err(egov_config::Error::invalid(&var, "must be more than 0"));
        }
        Ok(())
    }
}

/// The largest answer uc writes: what a gRPC client reads by default.
pub const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PKI folder cannot be used.
    #[error("test PKI: {0}")]
    Pki(#[from] egov_pki::Error),
    /// The database cannot be used.
    #[error(transparent)]
    Db(#[from] egov_db::Error),
    /// Migrations failed.
    #[error("uc migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A socket cannot be bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS identity problems.
    #[error(transparent)]
    Transport(#[from] egov_grpc::Error),
    /// The servers failed while running.
    #[error("uc server: {0}")]
    Serve(String),
}

struct CachedCrl {
    der: Vec<u8>,
    fingerprint: (usize, Option<OffsetDateTime>),
    next_update: OffsetDateTime,
    made_at: OffsetDateTime,
}

/// Shared state of the HTTP and gRPC handlers.
pub struct State {
    pki: PkiDir,
    pool: PgPool,
    config: Config,
    crl: Mutex<Option<CachedCrl>>,
}

impl State {
    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The PKI.
    pub fn pki(&self) -> &PkiDir {
        &self.pki
    }

    /// Every revoked certificate, from the database and the PKI folder's index.
    async fn revoked(&self) -> Result<Vec<RevokedEntry>, String> {
        let mut out: HashMap<String, RevokedEntry> = HashMap::new();
        for (serial, at, reason) in store::revoked(&self.pool)
            .await
            .map_err(|e| e.to_string())?
        {
            out.insert(
                serial.clone(),
                RevokedEntry {
                    serial_hex: serial,
                    revoked_at: at,
                    reason: reason as u8,
                },
            );
        }
        for (serial, (at, reason)) in self.pki.revoked().map_err(|e| e.to_string())? {
            out.entry(serial.clone()).or_insert(RevokedEntry {
                serial_hex: serial,
                revoked_at: at,
                reason,
            });
        }
        let mut v: Vec<_> = out.into_values().collect();
        v.sort_by(|a, b| a.serial_hex.cmp(&b.serial_hex));
        Ok(v)
    }

    /// The current CRL (DER): reissued when a revocation happened or half its life passed.
    pub async fn crl_der(&self) -> Result<Vec<u8>, String> {
        let revoked = self.revoked().await?;
        let fingerprint = (revoked.len(), revoked.iter().map(|r| r.revoked_at).max());
        let now = OffsetDateTime::now_utc();
        let life = Duration::seconds(self.config.crl_validity_secs);
        let mut cache = self.crl.lock().await;
        if let Some(c) = cache.as_ref()
            && c.fingerprint == fingerprint
            && now < c.made_at + life / 2
            && now < c.next_update
        {
            return Ok(c.der.clone());
        }
        let number = store::next_crl_number(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        let next_update = now + life;
        let der = self
            .pki
            .issuing
            .crl(
                &revoked,
                number as u64,
                now - Duration::minutes(1),
                next_update,
            )
            .map_err(|e| e.to_string())?;
        metrics::counter!("egov_uc_crl_issued_total").increment(1);
        *cache = Some(CachedCrl {
            der: der.clone(),
            fingerprint,
            next_update,
            made_at: now,
        });
        Ok(der)
    }

    /// Status of serials: database first, then the PKI folder's index; unknown otherwise.
    pub async fn statuses(&self, serials: &[String]) -> Result<HashMap<String, Status>, String> {
        let mut out = HashMap::new();
        for r in store::by_serials(&self.pool, serials)
            .await
            .map_err(|e| e.to_string())?
        {
            let st = match (r.revoked_at, r.revocation_reason) {
                (Some(at), Some(reason)) => Status::Revoked {
                    at,
                    reason: reason as u8,
                },
                _ => Status::Good,
            };
            out.insert(r.serial, st);
        }
        let missing: Vec<&String> = serials.iter().filter(|s| !out.contains_key(*s)).collect();
        if !missing.is_empty() {
            let index = self.pki.index().map_err(|e| e.to_string())?;
            for rec in index {
                match rec {
                    IndexRecord::Issue { serial, .. } if missing.contains(&&serial) => {
                        out.entry(serial).or_insert(Status::Good);
                    }
                    IndexRecord::Revoke { serial, at, reason } if missing.contains(&&serial) => {
                        out.insert(serial, Status::Revoked { at, reason });
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Answers a DER OCSP request.
    pub async fn ocsp(&self, request: &[u8]) -> Vec<u8> {
        let serials = egov_pki::ocsp::requested_serials(request);
        let statuses = match self.statuses(&serials).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "OCSP status look-up failed");
                return egov_pki::ocsp::internal_error();
            }
        };
        for s in &serials {
            let label = match statuses.get(s) {
                Some(Status::Good) => "good",
                Some(Status::Revoked { .. }) => "revoked",
                _ => "unknown",
            };
            metrics::counter!("egov_uc_ocsp_answers_total", "status" => label).increment(1);
        }
        egov_pki::ocsp::respond(
            request,
            &self.pki.issuing,
            OffsetDateTime::now_utc(),
            Duration::seconds(self.config.ocsp_validity_secs),
            |s| statuses.get(s).copied().unwrap_or(Status::Unknown),
        )
    }
}

/// A built, bound uc service, ready to run.
pub struct Uc {
    state: Arc<State>,
    listeners: egov_grpc::Listeners,
    tls: egov_grpc::TlsIdentity,
}

impl egov_grpc::Listening for Uc {
    fn listeners(&self) -> &egov_grpc::Listeners {
        &self.listeners
    }
}

impl Uc {
    /// Opens the PKI, connects to the database, runs the migrations and binds both ports
    /// (port 0 picks a free one).
    pub async fn build(config: Config) -> Result<Self, Error> {
        let pki = PkiDir::open(&config.pki_dir, &config.ca_dir())?;
        let tls = egov_grpc::TlsIdentity::load(&config.pki_dir, "uc")?;
        egov_db::ensure_database(&config.database_url).await?;
        let pool = egov_db::pool(&config.database_url, &config.schema, 8).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let listeners = egov_grpc::Listeners::bind(config.grpc_addr, config.http_addr)
            .await
            .map_err(|(addr, source)| Error::Bind { addr, source })?;
        Ok(Uc {
            state: Arc::new(State {
                pki,
                pool,
                config,
                crl: Mutex::new(None),
            }),
            listeners,
            tls,
        })
    }

    /// The shared state (for tests and the launcher's checks).
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `shutdown` is cancelled, then drains in-flight requests.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let limits = self.state.config.limits;
        let max_message = self.state.config.max_message_bytes;
        let app = limits.http(http::router(self.state.clone()));
        let http_cancel = shutdown.clone();
        let http = axum::serve(self.listeners.http, app)
            .with_graceful_shutdown(async move { http_cancel.cancelled().await });

        let (reporter, health) = egov_grpc::health();
        reporter
            .set_serving::<egov_proto::uc::v1::certification_authority_server::CertificationAuthorityServer<grpc::Service>>()
            .await;
        let grpc_cancel = shutdown.clone();
        let (reflection, reflection_alpha) = egov_grpc::reflection(&[
            egov_grpc::services::CERTIFICATION_AUTHORITY,
            egov_grpc::services::HEALTH,
        ]);
        let grpc = limits
            .grpc_server()
            .tls_config(self.tls.server_tls())
            .map_err(|e| Error::Serve(e.to_string()))?
            .add_service(health)
            .add_service(reflection)
            .add_service(reflection_alpha)
            .add_service(
                grpc::server(self.state.clone())
                    .max_decoding_message_size(max_message)
                    .max_encoding_message_size(max_message.max(MAX_ANSWER_BYTES)),
            )
            .serve_with_incoming_shutdown(egov_grpc::incoming(self.listeners.grpc), async move {
                grpc_cancel.cancelled().await
            });
        let (h, g) = tokio::join!(http, grpc);
        self.state.pool.close().await;
        h.map_err(|e| Error::Serve(format!("http: {e}")))?;
        g.map_err(|e| Error::Serve(format!("grpc: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_setting_names_its_variable() {
        assert!(Config::default().check().is_ok());
        for (config, var) in [
            (
                Config {
                    crl_validity_secs: 0,
                    ..Default::default()
                },
                "EGOV_UC__CRL_VALIDITY_SECS",
            ),
            (
                Config {
                    max_message_bytes: 0,
                    ..Default::default()
                },
                "EGOV_UC__MAX_MESSAGE_BYTES",
            ),
            (
                Config {
                    limits: egov_grpc::Limits {
                        grpc_concurrency: 0,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "EGOV_UC__LIMITS__GRPC_CONCURRENCY",
            ),
        ] {
            let e = config.check().unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
    }
}
