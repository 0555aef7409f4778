//! gRPC transport shared by the services: mutual TLS with identities from the test PKI
//! (every hop presents a certificate of the trusted CA), health checking, and reading
//! which information system the peer is.

pub mod limits;

pub use limits::Limits;

use std::path::Path;
use std::time::Duration;

use tonic::transport::{
    Certificate, Channel, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig,
};

/// Transport set-up problems.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A PKI file is missing or unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The endpoint or TLS settings are not acceptable.
    #[error("transport: {0}")]
    Transport(String),
}

/// Installs aws-lc-rs as the process-wide rustls provider (idempotent). Every binary and
/// test calls it before the first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A system's TLS identity and the trust anchor it accepts peers from.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    /// The system id (certificate CN and DNS name).
    pub system_id: String,
    /// Certificate chain PEM (leaf, issuing CA).
    pub cert_pem: String,
    /// Private key PEM.
    pub key_pem: String,
    /// The root CA PEM peers must chain to.
    pub ca_pem: String,
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

impl TlsIdentity {
    /// Loads `system_id`'s TLS identity from a test PKI folder.
    pub fn load(pki_dir: &Path, system_id: &str) -> Result<Self, Error> {
        let d = pki_dir.join("systems");
        Ok(TlsIdentity {
            system_id: system_id.to_string(),
            cert_pem: read(&d.join(format!("{system_id}.tls.cert.pem")))?,
            key_pem: read(&d.join(format!("{system_id}.tls.key.pem")))?,
            ca_pem: read(&pki_dir.join("root.cert.pem"))?,
        })
    }

    /// Server TLS: presents this identity, requires a client certificate of the CA.
    pub fn server_tls(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .client_auth_optional(false)
    }

    /// Client TLS towards the system `server_id` (its DNS name in the certificate).
    pub fn client_tls(&self, server_id: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .domain_name(server_id.to_string())
    }

    /// A lazily connecting mTLS channel to `https://addr` served by `server_id`.
    pub fn channel(
        &self,
        addr: &str,
        server_id: &str,
        timeout: Duration,
    ) -> Result<Channel, Error> {
        let uri = if addr.starts_with("https://") {
            addr.to_string()
        } else {
            format!("https://{addr}")
        };
        Ok(Endpoint::from_shared(uri)
            .map_err(|e| Error::Transport(format!("endpoint {addr}: {e}")))?
            .tls_config(self.client_tls(server_id))
            .map_err(|e| Error::Transport(format!("TLS for {addr}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy())
    }
}

/// The accepted connections of a bound listener, with `TCP_NODELAY` set on each (tonic
/// sets it only on listeners it binds itself; without it small gRPC frames wait for the
/// peer's delayed acknowledgement, about 40 ms on Linux).
pub fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// The certificate a gRPC peer authenticated with (mutual TLS), parsed.
pub fn peer_certificate<T>(req: &tonic::Request<T>) -> Option<egov_pki::CertInfo> {
    let certs = req.peer_certs()?;
    let leaf = certs.first()?;
    egov_pki::CertInfo::from_der(leaf.as_ref()).ok()
}

/// The information system a gRPC peer authenticated as: the CN of its client certificate.
pub fn peer_system<T>(req: &tonic::Request<T>) -> Option<String> {
    peer_certificate(req)?.identity.common_name
}

/// A `grpc.health.v1` service and its reporter.
pub fn health() -> (
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    tonic_health::server::health_reporter()
}

/// The gRPC services a server offers, for [`reflection`].
pub mod services {
    /// ШЭП's synchronous channel.
    pub const SYNC_CHANNEL: &str = "egov.shep.v1.SyncChannel";
    /// ШЭП's asynchronous channel.
    pub const ASYNC_CHANNEL: &str = "egov.shep.v1.AsyncChannel";
    /// The gateways' message log.
    pub const MESSAGE_LOG: &str = "egov.shep.v1.MessageLog";
    /// The certification authority.
    pub const CERTIFICATION_AUTHORITY: &str = "egov.uc.v1.CertificationAuthority";
    /// Health checking.
    pub const HEALTH: &str = "grpc.health.v1.Health";
}

/// gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha` that most tools
/// still ask first) listing `services` with their message types, so that `grpcurl` and
/// similar tools list and call a server without the .proto files.
pub fn reflection(
    services: &[&str],
) -> (
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
) {
    let builder = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(egov_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for s in services {
            b = b.with_service_name(*s);
        }
        b
    };
    (
        builder()
            .build_v1()
            .expect("the descriptor sets are built with the crate"),
        builder()
            .build_v1alpha()
            .expect("the descriptor sets are built with the crate"),
    )
}

/// The two listening sockets of a service: gRPC (mutual TLS) and HTTP (health, metrics,
/// the service's own API). Bound before the service runs, so port 0 can pick free ports
/// and the caller learns them before anything is served.
#[derive(Debug)]
pub struct Listeners {
    /// The gRPC socket.
    pub grpc: tokio::net::TcpListener,
    /// The HTTP socket.
    pub http: tokio::net::TcpListener,
}

impl Listeners {
    /// Binds both addresses (port 0: any free port); the error names the address.
    pub async fn bind(
        grpc: std::net::SocketAddr,
        http: std::net::SocketAddr,
    ) -> Result<Self, (std::net::SocketAddr, std::io::Error)> {
        let bind = |addr| async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| (addr, e))
        };
        Ok(Listeners {
            grpc: bind(grpc).await?,
            http: bind(http).await?,
        })
    }
}

/// A service bound to its [`Listeners`]: where it listens, before and while it runs.
pub trait Listening {
    /// Its sockets.
    fn listeners(&self) -> &Listeners;

    /// The bound gRPC address.
    fn grpc_addr(&self) -> std::net::SocketAddr {
        self.listeners().grpc.local_addr().expect("a bound socket")
    }

    /// The bound HTTP address.
    fn http_addr(&self) -> std::net::SocketAddr {
        self.listeners().http.local_addr().expect("a bound socket")
    }
}
