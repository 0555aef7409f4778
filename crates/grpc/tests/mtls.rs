//! Mutual TLS between two systems of a fresh test PKI; a client without a certificate of
//! the CA does not get through.

use std::time::Duration;

use egov_grpc::TlsIdentity;
use egov_pki::dir::{InitOptions, PkiDir};
use egov_pki::keys::KeyAlgorithm;
use tonic::transport::Server;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn mtls_accepts_pki_clients_and_refuses_others() {
    egov_grpc::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let opts = InitOptions {
        algorithm: KeyAlgorithm::EcdsaP256,
        ..Default::default()
    };
    PkiDir::init(&dir.path().join("pki"), &dir.path().join("ca"), &opts).unwrap();
    let server_id = TlsIdentity::load(&dir.path().join("pki"), "uc").unwrap();
    let (reporter, health) = egov_grpc::health();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .tls_config(server_id.server_tls())
            .unwrap()
            .add_service(health)
            .serve_with_incoming(egov_grpc::incoming(listener)),
    );

    let client_id = TlsIdentity::load(&dir.path().join("pki"), "portal").unwrap();
    let ch = client_id
        .channel(&addr.to_string(), "uc", Duration::from_secs(5))
        .unwrap();
    let resp = HealthClient::new(ch)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(resp.into_inner().status, 1); // SERVING

    // a client whose certificate comes from another CA
    let other = tempfile::tempdir().unwrap();
    PkiDir::init(&other.path().join("pki"), &other.path().join("ca"), &opts).unwrap();
    let mut stranger = TlsIdentity::load(&other.path().join("pki"), "portal").unwrap();
    stranger.ca_pem = client_id.ca_pem.clone(); // it trusts our server...
    let ch = stranger
        .channel(&addr.to_string(), "uc", Duration::from_secs(5))
        .unwrap();
    let e = HealthClient::new(ch)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_err();
    // ...but the server refuses it during the handshake
    assert!(
        matches!(e.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{e}"
    );
    assert!(format!("{e:?}").contains("transport error"), "{e:?}");

    // a client without any certificate
    let ch = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&client_id.ca_pem))
                .domain_name("uc"),
        )
        .unwrap()
        .connect_lazy();
    let e = HealthClient::new(ch)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e.code(), tonic::Code::Unavailable | tonic::Code::Unknown),
        "{e}"
    );
    assert!(format!("{e:?}").contains("transport error"), "{e:?}");
}
