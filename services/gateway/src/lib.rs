//! ШЭП and РШЭП: the e-government gateway in its central or regional role.
//!
//! One service, two roles chosen by configuration (`gateway_id` names an entry of the
//! registry: the one without a region is the central ШЭП). Every envelope is checked
//! (registered sender, transport signature by a valid, non-revoked system certificate,
//! access table, known service and region, clock skew, replay, payload size), written to
//! the tamper-evident message log, then forwarded: sync to the next hop's `SyncChannel`
//! within the service's deadline, async into the recipient's JetStream inbox (or to the
//! next gateway). The interface and status codes are in `docs/shep-interface.md`.

pub mod asyncch;
pub mod core;
pub mod http;
/// The message log (the crate `egov-journal`), as the gateway writes it.
pub use egov_journal as journal;
pub mod logsvc;
pub mod metrics_names;
pub mod registry;
pub mod replay;
mod status;
pub mod sync;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use egov_shep_client::SystemSigner;
use egov_shep_client::inbox::InboxNames;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::journal::{Journal, JournalOptions};
use crate::registry::Registry;

/// The migrations of the gateway's schema (message log, deliveries).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// One gateway instance's settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Which gateway of the registry this is (`shep`, `rshep-almaty`, ...).
    pub gateway_id: String,
    /// gRPC address (SyncChannel, AsyncChannel, health).
    pub grpc_addr: SocketAddr,
    /// HTTP address (health, metrics).
    pub http_addr: SocketAddr,
    /// The test PKI folder.
    pub pki_dir: PathBuf,
    /// PostgreSQL URL.
    pub database_url: String,
    /// Schema.
    pub schema: String,
    /// NATS URL.
    pub nats_url: String,
    /// Prefix of the inbox stream and subjects (empty in deployments; unique in tests).
    pub nats_prefix: String,
    /// OCSP responder for checking senders' certificates (the uc service).
    pub ocsp_url: Option<String>,
    /// CRL distribution point (the uc service), fetched when OCSP fails or the held CRL
    /// is past its nextUpdate; `None`: the one the certificates name.
    pub crl_url: Option<String>,
    /// Seconds an OCSP "good" answer is used at most: a certificate revoked at the CA is
    /// refused within this time.
    pub ocsp_cache_secs: u64,
    /// Timeout of each OCSP request and CRL fetch, milliseconds.
    pub ca_timeout_ms: u64,
    /// Concurrency of the gRPC and HTTP servers, HTTP timeouts.
    pub limits: egov_grpc::Limits,
    /// The deployment's topology folder instead of the shipped one (`deploy/topology`).
    pub topology_dir: Option<PathBuf>,
    /// A registry file (services, access table) instead of the shipped one.
    pub registry_file: Option<PathBuf>,
    /// Allowed |messageDate − now|, seconds.
    pub max_clock_skew_secs: i64,
    /// Message log retention, days.
    pub retention_days: i64,
    /// How long an undelivered message waits in an inbox, hours.
    pub inbox_max_age_hours: u64,
    /// Seconds a recipient has to acknowledge before redelivery.
    pub ack_wait_secs: u64,
    /// Deliveries before a message is given up.
    pub max_deliver: i64,
    /// Systems allowed to search and verify the message log over gRPC; empty: the gateways.
    pub log_readers: Vec<String>,
    /// How often the gateway signs its message-log chain's head, seconds (when it moved;
    /// and once when it stops).
    pub head_sign_secs: u64,
    /// The most the inbox stream holds, bytes (-1: no limit); beyond it new messages
    /// are refused (SE011) rather than old ones dropped.
    pub inbox_max_bytes: i64,
    /// Connect to NATS as the gateway's own user (`systems/<id>.nats.pass` of the PKI
    /// folder), for a broker with per-system users (`nats_auth`).
    pub nats_credentials: bool,
    /// Copies of the inbox stream on a clustered NATS (`EGOV_INBOX_REPLICAS` for the
    /// `egov-gateway` binary): 1 on one server, 3 on a three-node cluster.
    pub inbox_replicas: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gateway_id: "shep".into(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 7100)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 7110)),
            pki_dir: PathBuf::from(".egov/pki"),
            database_url: "postgres://postgres@127.0.0.1:5432/egov".into(),
            schema: "gateway".into(),
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_prefix: String::new(),
            ocsp_url: Some("http://127.0.0.1:7010/ocsp".into()),
            crl_url: Some("http://127.0.0.1:7010/crl".into()),
            ocsp_cache_secs: 60,
            ca_timeout_ms: 3000,
            limits: egov_grpc::Limits::default(),
            topology_dir: None,
            registry_file: None,
            max_clock_skew_secs: 300,
            retention_days: 90,
            inbox_max_age_hours: 24 * 7,
            ack_wait_secs: 30,
            max_deliver: 20,
            log_readers: Vec::new(),
            head_sign_secs: 10,
            inbox_max_bytes: 1 << 30,
            nats_credentials: false,
            inbox_replicas: 1,
        }
    }
}

impl Config {
    /// The settings of the gateway `id` of `topology` on its fixed local ports.
    pub fn for_gateway(topology: &egov_topology::Topology, id: &str) -> Self {
        let mut c = Config {
            gateway_id: id.to_string(),
            ..Default::default()
        };
        if let Some(g) = topology.gateway(id) {
            c.grpc_addr = SocketAddr::from(([127, 0, 0, 1], g.grpc_port));
            c.http_addr = SocketAddr::from(([127, 0, 0, 1], g.http_port));
        }
        c
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Configuration or registry problems.
    #[error("gateway {0}")]
    Config(String),
    /// The database cannot be used.
    #[error(transparent)]
    Db(#[from] egov_db::Error),
    /// Migrations failed.
    #[error("gateway migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// NATS cannot be used.
    #[error("gateway NATS: {0}")]
    Nats(String),
    /// Identity problems.
    #[error("gateway identity: {0}")]
    Identity(String),
    /// Binding failed.
    #[error("bind {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The message log failed.
    #[error("gateway message log: {0}")]
    Journal(String),
    /// Serving failed.
    #[error("gateway server: {0}")]
    Serve(String),
}

/// A built gateway, bound and ready to run.
pub struct Gateway {
    config: Config,
    registry: Registry,
    pool: PgPool,
    journal: Journal,
    nats: async_nats::Client,
    js: jetstream::Context,
    listeners: egov_grpc::Listeners,
}

impl egov_grpc::Listening for Gateway {
    fn listeners(&self) -> &egov_grpc::Listeners {
        &self.listeners
    }
}

impl Gateway {
    /// Loads the registry, connects to PostgreSQL and NATS, runs the migrations, creates
    /// the inbox stream and binds both ports.
    pub async fn build(config: Config) -> Result<Self, Error> {
        let text = match &config.registry_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::Config(format!("registry {}: {e}", p.display())))?,
            None => registry::DEFAULT_REGISTRY.to_string(),
        };
        let topology = egov_topology::Topology::open(config.topology_dir.as_deref())
            .map_err(|e| Error::Config(e.to_string()))?;
        let registry = Registry::new(&topology, &text).map_err(Error::Config)?;
        if registry.gateway(&config.gateway_id).is_none() {
            return Err(Error::Config(format!(
                "{} is not a gateway of the registry",
                config.gateway_id
            )));
        }
        egov_db::ensure_database(&config.database_url).await?;
        let pool = egov_db::pool(&config.database_url, &config.schema, 16).await?;
        MIGRATOR.run(&pool).await?;
        let journal = Journal::open(pool.clone(), JournalOptions::default())
            .await
            .map_err(|e| Error::Journal(e.to_string()))?;
        let password = if config.nats_credentials {
            Some(
                egov_pki::dir::nats_password(&config.pki_dir, &config.gateway_id)
                    .map_err(|e| Error::Nats(e.to_string()))?,
            )
        } else {
            None
        };
        let nats = egov_shep_client::nats_auth::connect(
            &config.nats_url,
            password.as_deref().map(|p| (config.gateway_id.as_str(), p)),
        )
        .await
        .map_err(|e| Error::Nats(format!("{}: {e}", config.nats_url)))?;
        let js = jetstream::new(nats.clone());
        InboxNames::new(&config.nats_prefix)
            .ensure_stream_replicated(
                &js,
                Duration::from_secs(600),
                Duration::from_secs(config.inbox_max_age_hours * 3600),
                config.inbox_max_bytes,
                config.inbox_replicas,
            )
            .await
            .map_err(Error::Nats)?;
        let listeners = egov_grpc::Listeners::bind(config.grpc_addr, config.http_addr)
            .await
            .map_err(|(addr, source)| Error::Bind { addr, source })?;
        Ok(Gateway {
            config,
            registry,
            pool,
            journal,
            nats,
            js,
            listeners,
        })
    }

    /// The gateway id.
    pub fn id(&self) -> &str {
        &self.config.gateway_id
    }

    /// The message log.
    pub fn journal(&self) -> Journal {
        self.journal.clone()
    }

    /// Sets where a system or another gateway listens (before `run`).
    pub fn set_endpoint(&mut self, id: &str, addr: &str) -> bool {
        self.registry.set_endpoint(id, addr)
    }

    /// Serves until `shutdown`, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        let cfg = self.config.clone();
        let entry = self
            .registry
            .gateway(&cfg.gateway_id)
            .cloned()
            .expect("checked in build");
        let signer = SystemSigner::load(&cfg.pki_dir, &cfg.gateway_id)
            .map_err(|e| Error::Identity(e.to_string()))?;
        let verifier =
            egov_shep_client::envelope::pki_verifier_with(&cfg.pki_dir, &cfg.revocation())
                .map_err(|e| Error::Identity(e.to_string()))?;
        let issuing = egov_pki::Trust::open(&cfg.pki_dir)
            .map_err(|e| Error::Identity(e.to_string()))?
            .issuing;
        let tls = egov_grpc::TlsIdentity::load(&cfg.pki_dir, &cfg.gateway_id)
            .map_err(|e| Error::Identity(e.to_string()))?;
        let core = Arc::new(core::Core::new(
            cfg.gateway_id.clone(),
            entry.lane.clone(),
            self.registry.clone(),
            signer,
            verifier,
            tls.clone(),
            self.journal.clone(),
            time::Duration::seconds(cfg.max_clock_skew_secs),
        ));
        // what was delivered within the replay window is remembered across restarts: a
        // retry gets its outcome, a replay with other content is refused
        let horizon =
            time::OffsetDateTime::now_utc() - time::Duration::seconds(cfg.max_clock_skew_secs * 2);
        type Done = (
            String,
            String,
            time::OffsetDateTime,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        let done: Vec<Done> = sqlx::query_as(
            "select i.sender_id, i.message_id, i.at, i.service_id, coalesce(i.region, ''), i.message_type,
                    i.correlation_id, i.payload_sha256, o.status_code, o.status_message
             from journal i
             join journal o on o.gateway_id = i.gateway_id and o.message_id = i.message_id
                  and o.sender_id = i.sender_id and o.seq > i.seq
                  and o.event in ('published', 'response_out')
                  and (o.status_code like 'SCSS%' or o.status_code = $3)
             where i.gateway_id = $1 and i.event = 'request_in' and i.at > $2",
        )
        .bind(&cfg.gateway_id)
        .bind(horizon)
        .bind(egov_shep_client::envelope::codes::BUSINESS_ERROR)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| Error::Journal(e.to_string()))?;
        core.marks.preload(done.into_iter().map(
            |(sender, id, at, service, region, kind, correlation, sha, code, message)| {
                (
                    replay::key(&sender, &id),
                    replay::fingerprint(&service, &region, &kind, &correlation, &sha),
                    at,
                    replay::Outcome { code, message },
                )
            },
        ));

        let names = InboxNames::new(&cfg.nats_prefix);
        let async_svc = asyncch::Async {
            core: core.clone(),
            js: self.js.clone(),
            names: names.clone(),
            pool: self.pool.clone(),
            ack_wait: Duration::from_secs(cfg.ack_wait_secs),
            max_deliver: cfg.max_deliver,
        };
        let (reporter, health) = egov_grpc::health();
        reporter
            .set_serving::<egov_proto::shep::v1::sync_channel_server::SyncChannelServer<sync::Sync>>()
            .await;
        reporter
            .set_serving::<egov_proto::shep::v1::async_channel_server::AsyncChannelServer<asyncch::Async>>()
            .await;
        let grpc_cancel = shutdown.clone();
        let max_message = self.registry.max_message_bytes();
        let (reflection, reflection_alpha) = egov_grpc::reflection(&[
            egov_grpc::services::SYNC_CHANNEL,
            egov_grpc::services::ASYNC_CHANNEL,
            egov_grpc::services::MESSAGE_LOG,
            egov_grpc::services::HEALTH,
        ]);
        let grpc = cfg
            .limits
            .grpc_server()
            .tls_config(tls.server_tls())
            .map_err(|e| Error::Serve(e.to_string()))?
            .add_service(health)
            .add_service(reflection)
            .add_service(reflection_alpha)
            .add_service(
                egov_proto::shep::v1::sync_channel_server::SyncChannelServer::new(sync::Sync {
                    core: core.clone(),
                })
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
            )
            .add_service(
                egov_proto::shep::v1::async_channel_server::AsyncChannelServer::new(async_svc)
                    .max_decoding_message_size(max_message)
                    .max_encoding_message_size(max_message),
            )
            .add_service(
                egov_proto::shep::v1::message_log_server::MessageLogServer::new(
                    logsvc::LogService {
                        journal: self.journal.clone(),
                        readers: Arc::new(if cfg.log_readers.is_empty() {
                            self.registry
                                .gateways
                                .iter()
                                .map(|g| g.id.clone())
                                .collect()
                        } else {
                            cfg.log_readers.clone()
                        }),
                        verifier: core.verifier.clone(),
                    },
                ),
            )
            .serve_with_incoming_shutdown(egov_grpc::incoming(self.listeners.grpc), async move {
                grpc_cancel.cancelled().await
            });

        let http_state = Arc::new(http::HealthState {
            core: core.clone(),
            pool: self.pool.clone(),
            nats: self.nats.clone(),
            ocsp_url: cfg.ocsp_url.clone(),
            issuing,
        });
        let http_cancel = shutdown.clone();
        let http = axum::serve(
            self.listeners.http,
            cfg.limits.http(http::router(http_state)),
        )
        .with_graceful_shutdown(async move { http_cancel.cancelled().await });

        let housekeeping = housekeeping(
            core.clone(),
            self.pool.clone(),
            self.js.clone(),
            names,
            cfg.clone(),
            shutdown.clone(),
        );
        let heads = sign_heads(
            self.journal.clone(),
            core.clone(),
            Duration::from_secs(cfg.head_sign_secs.max(1)),
            shutdown.clone(),
        );
        let (g, h, _, _) = tokio::join!(grpc, http, housekeeping, heads);
        let journal = self.journal.clone();
        self.journal.shutdown().await;
        // the last rows written are signed too
        if let Err(e) = journal
            .sign_head(&core.id, &HeadsSignedBy(&core.signer))
            .await
        {
            tracing::warn!(error = %e, "signing the message log's head at shutdown failed");
        }
        self.pool.close().await;
        g.map_err(|e| Error::Serve(format!("grpc: {e}")))?;
        h.map_err(|e| Error::Serve(format!("http: {e}")))?;
        Ok(())
    }
}

/// A gateway's transport-signing key as the signer of its message log's heads.
pub struct HeadsSignedBy<'a>(pub &'a SystemSigner);

impl journal::HeadSigner for HeadsSignedBy<'_> {
    fn sign_head(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.0.sign_detached(message).map_err(|e| e.to_string())
    }
}

/// Signs the message log chain's head every `every` while it moves, so that a database
/// writer cannot rebuild the chain unnoticed (`journal::heads`).
async fn sign_heads(
    journal: Journal,
    core: Arc<core::Core>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match journal
            .sign_head(&core.id, &HeadsSignedBy(&core.signer))
            .await
        {
            Ok(Some(seq)) => tracing::debug!(seq, "signed the message log's head"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "signing the message log's head failed"),
        }
    }
}

/// Periodic work: expired deliveries become DELIVERY_STOPPED, the inbox lag gauge, and
/// the message log's retention.
async fn housekeeping(
    core: Arc<core::Core>,
    pool: PgPool,
    js: jetstream::Context,
    names: InboxNames,
    cfg: Config,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let max_age = time::Duration::hours(cfg.inbox_max_age_hours as i64);
        if let Err(e) = sqlx::query(
            "update deliveries set status = 'DELIVERY_STOPPED', detail = 'expired in the inbox', updated_at = now()
             where gateway_id = $1 and status = 'ON_DELIVERY' and created_at < $2",
        )
        .bind(&core.id)
        .bind(time::OffsetDateTime::now_utc() - max_age)
        .execute(&pool)
        .await
        {
            tracing::warn!(error = %e, "delivery expiry sweep failed");
        }
        for s in core
            .registry
            .systems
            .iter()
            .filter(|s| s.gateway == core.id)
        {
            if let Ok(stream) = js.get_stream(names.stream()).await
                && let Ok(mut c) = stream
                    .get_consumer::<jetstream::consumer::pull::Config>(&names.consumer(&s.id))
                    .await
                && let Ok(info) = c.info().await
            {
                metrics::gauge!(metrics_names::INBOX_PENDING, "recipient" => s.id.clone())
                    .set(info.num_pending as f64 + info.num_ack_pending as f64);
            }
        }
        if last_purge.elapsed() > Duration::from_secs(3600) {
            last_purge = std::time::Instant::now();
            let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(cfg.retention_days);
            match core.journal.purge_before(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "message log retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "message log retention failed"),
            }
        }
    }
}

impl Config {
    /// Checks the values types alone cannot (settings under `EGOV_GATEWAY__`): the error
    /// names the variable.
    pub fn check(&self) -> Result<(), egov_config::Error> {
        if self.ca_timeout_ms == 0 {
            return Err(egov_config::Error::invalid(
                "gateway.ca_timeout_ms",
                "must be more than 0",
            ));
        }
        if let Err(var) = self.limits.check("gateway") {
            return Err(egov_config::Error::invalid(&var, "must be more than 0"));
        }
        if !(1..=5).contains(&self.inbox_replicas) {
            return Err(egov_config::Error::invalid(
                "gateway.inbox_replicas",
                "must be 1 to 5 (JetStream's limit)",
            ));
        }
        Ok(())
    }

    /// Where the gateway's verifier learns revocation.
    pub fn revocation(&self) -> egov_shep_client::envelope::RevocationSources {
        egov_shep_client::envelope::RevocationSources {
            ocsp_url: self.ocsp_url.clone(),
            crl_url: self.crl_url.clone(),
            ocsp_max_age: Duration::from_secs(self.ocsp_cache_secs),
            timeout: Duration::from_millis(self.ca_timeout_ms),
        }
    }

    /// Binds both addresses to `host`, keeping their ports.
    pub fn bind_host(&mut self, host: std::net::IpAddr) {
        self.grpc_addr.set_ip(host);
        self.http_addr.set_ip(host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_setting_names_its_variable() {
        assert!(Config::default().check().is_ok());
        let c = Config {
            ca_timeout_ms: 0,
            ..Default::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("EGOV_GATEWAY__CA_TIMEOUT_MS"), "{e}");
        let c = Config {
            limits: egov_grpc::Limits {
                http_concurrency: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("EGOV_GATEWAY__LIMITS__HTTP_CONCURRENCY"), "{e}");
    }
}
