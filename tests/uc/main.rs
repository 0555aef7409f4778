//! The uc service against the real PostgreSQL, over real HTTP and gRPC with mutual TLS,
//! checked with our verifier and with the `openssl` binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use egov_pki::PkiDir;
use egov_pki::authority::{CertProfile, SubjectSpec};
use egov_pki::dir::InitOptions;
use egov_pki::keys::KeyAlgorithm;
use egov_pki::verify::{Revocation, VerifyOptions};
use egov_proto::uc::v1 as pb;
use pb::certification_authority_client::CertificationAuthorityClient;
use tonic::transport::Channel;

/// The uc of a test world (the kit's: fresh PKI, database, uc on loopback ports).
struct App {
    http: String,
    grpc: std::net::SocketAddr,
    pki: PathBuf,
    ca: PathBuf,
    _world: egov_testkit::World,
}

async fn spawn_uc() -> App {
    let world = egov_testkit::World::new(&["shep"]).await;
    App {
        http: format!("http://{}", world.uc_http),
        grpc: world.uc_grpc,
        pki: world.pki.clone(),
        ca: world.ca.clone(),
        _world: world,
    }
}

impl App {
    /// A client with the registration authority's identity (the only one uc serves).
    fn client(&self) -> CertificationAuthorityClient<Channel> {
        self.client_as(
            egov_grpc::TlsIdentity::load(&self.pki, egov_pki::REGISTRATION_AUTHORITY).unwrap(),
        )
    }

    fn client_as(&self, id: egov_grpc::TlsIdentity) -> CertificationAuthorityClient<Channel> {
        CertificationAuthorityClient::new(
            id.channel(&self.grpc.to_string(), "uc", Duration::from_secs(10))
                .unwrap(),
        )
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.pki.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    fn openssl_ocsp(&self, cert: &Path) -> String {
        let out = Command::new("openssl")
            .args(["ocsp", "-url", &format!("{}/ocsp", self.http), "-issuer"])
            .arg(self.pki.join("issuing.cert.pem"))
            .arg("-cert")
            .arg(cert)
            .arg("-CAfile")
            .arg(self.pki.join("chain.pem"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "openssl ocsp failed: {text}");
        assert!(text.contains("Response verify OK"), "{text}");
        text
    }
}

fn issue_req(iin: &str) -> pb::IssueCertificateRequest {
    pb::IssueCertificateRequest {
        iin: iin.into(),
        name: "СЕРИКОВА АЙГУЛЬ МАРАТОВНА".into(),
        profile: pb::Profile::Signing as i32,
        algorithm: pb::KeyAlgorithm::EcdsaP256 as i32,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_ocsp_revoke_crl_with_openssl_and_our_verifier() {
    let app = spawn_uc().await;
    let mut c = app.client();
    let resp = c
        .issue_certificate(issue_req("870312300046"))
        .await
        .unwrap()
        .into_inner();
    let rec = resp.certificate.unwrap();
    assert_eq!(rec.status, "GOOD");
    assert_eq!(rec.iin, "870312300046");
    let cert_path = app.write("citizen.pem", &rec.certificate_pem);

    // openssl asks our responder over HTTP (with a nonce) and verifies the answer
    let text = app.openssl_ocsp(&cert_path);
    assert!(text.contains(": good"), "{text}");

    // a document signed with the returned key verifies with OCSP as the revocation source
    let key = egov_pki::PrivateKey::from_pem(&resp.private_key_pem).unwrap();
    let cert = egov_pki::CertInfo::from_pem(&rec.certificate_pem).unwrap();
    let sig = egov_pki::cms::sign(
        b"doc",
        &key,
        &cert,
        &[],
        true,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let pki = PkiDir::open(&app.pki, &app.ca).unwrap();
    let ocsp = Arc::new(egov_pki::ocsp::Client::new(
        format!("{}/ocsp", app.http),
        Duration::from_secs(5),
        time::Duration::hours(1),
    ));
    let verifier = egov_pki::Verifier::new(vec![pki.root.clone()])
        .with_cas(vec![pki.issuing.cert.clone()])
        .with_ocsp(ocsp.clone());
    let s = verifier
        .verify_detached(b"doc", &sig, &VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(s.revocation, Revocation::Ocsp);

    // revoke through gRPC
    let r = c
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: rec.serial.clone(),
            reason: "key-compromise".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.certificate.unwrap().status, "REVOKED");
    let text = app.openssl_ocsp(&cert_path);
    assert!(text.contains(": revoked"), "{text}");
    assert!(text.contains("keyCompromise"), "{text}");

    // the cached "good" answer is still valid, by design, until it expires; a fresh
    // client sees the revocation at once
    ocsp.clear_cache();
    let e = verifier
        .verify_detached(b"doc", &sig, &VerifyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "revoked", "{e}");

    // the CRL over HTTP lists it and verifies with openssl
    let der = reqwest::get(format!("{}/crl", app.http))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let crl = egov_pki::crl::Crl::from_der(&der).unwrap();
    assert!(crl.revoked_at(&rec.serial).is_some());
    let pem = reqwest::get(format!("{}/crl.pem", app.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let crl_path = app.write("served-crl.pem", pem);
    let out = Command::new("openssl")
        .args(["crl", "-noout", "-verify", "-in"])
        .arg(&crl_path)
        .arg("-CAfile")
        .arg(app.pki.join("issuing.cert.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // with the responder unreachable, the verifier falls back to the CRL
    let dead = Arc::new(egov_pki::ocsp::Client::new(
        "http://127.0.0.1:9/ocsp",
        Duration::from_millis(500),
        time::Duration::hours(1),
    ));
    let v = egov_pki::Verifier::new(vec![pki.root.clone()])
        .with_cas(vec![pki.issuing.cert.clone()])
        .with_crls(vec![crl])
        .with_ocsp(dead);
    let e = v
        .verify_detached(b"doc", &sig, &VerifyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "revoked", "{e}");
    assert!(e.to_string().contains("crl"), "{e}");

    // listing by IIN
    let list = c
        .list_certificates(pb::ListCertificatesRequest {
            iin: "870312300046".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.certificates.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_issued_certificates_are_known_to_the_responder() {
    let app = spawn_uc().await;
    let mut pki = PkiDir::open(&app.pki, &app.ca).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let spec = SubjectSpec::person(
        egov_iin::Iin::parse("870312300046").unwrap(),
        "АХМЕТОВ ЕРЛАН",
    );
    let issued = pki
        .issue(
            &spec,
            CertProfile::Signing,
            KeyAlgorithm::EcdsaP256,
            now,
            now + time::Duration::days(1),
        )
        .unwrap();
    let p = app.write("offline.pem", issued.cert.to_pem());
    assert!(app.openssl_ocsp(&p).contains(": good"));
    pki.revoke(&issued.cert, 4, now).unwrap();
    assert!(app.openssl_ocsp(&p).contains(": revoked"));
    let der = reqwest::get(format!("{}/crl", app.http))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        egov_pki::crl::Crl::from_der(&der)
            .unwrap()
            .revoked_at(&issued.cert.serial_hex)
            .is_some()
    );

    // a certificate the CA never issued (another PKI, same names) is "unknown"
    let other = tempfile::tempdir().unwrap();
    let opki = PkiDir::init(
        &other.path().join("pki"),
        &other.path().join("ca"),
        &InitOptions {
            algorithm: KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    let stranger = opki
        .issue(
            &spec,
            CertProfile::Signing,
            KeyAlgorithm::EcdsaP256,
            now,
            now + time::Duration::days(1),
        )
        .unwrap();
    let ocsp = egov_pki::ocsp::Client::new(
        format!("{}/ocsp", app.http),
        Duration::from_secs(5),
        time::Duration::hours(1),
    );
    // ask about the stranger's serial as if our CA issued it: the responder does not know it
    let fake = egov_pki::CertInfo::from_der(&stranger.cert.der).unwrap();
    let a = ocsp.status(&fake, &pki.issuing.cert, now).await.unwrap();
    assert_eq!(a.status, egov_pki::ocsp::Status::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_specific_errors() {
    let app = spawn_uc().await;
    let mut c = app.client();
    let e = c
        .issue_certificate(issue_req("870312300047"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().starts_with("invalid-iin:"), "{}", e.message());
    assert_eq!(e.metadata().get("egov-error-code").unwrap(), "invalid-iin");

    let mut r = issue_req("870312300046");
    r.name = "ОДНОСЛОВО".into();
    let e = c.issue_certificate(r).await.unwrap_err();
    assert!(
        e.message().starts_with("invalid-subject:"),
        "{}",
        e.message()
    );

    let mut r = issue_req("870312300046");
    r.bin = "12345".into();
    let e = c.issue_certificate(r).await.unwrap_err();
    assert!(e.message().contains("BIN"), "{}", e.message());

    let mut r = issue_req("870312300046");
    r.csr_pem =
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n".into();
    let e = c.issue_certificate(r).await.unwrap_err();
    assert!(e.message().starts_with("invalid-csr:"), "{}", e.message());

    let e = c
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: "zz".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        e.message().starts_with("invalid-serial:"),
        "{}",
        e.message()
    );
    let e = c
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: "ABCDEF".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);

    let rec = c
        .issue_certificate(issue_req("870312300046"))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    let e = c
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: rec.serial.clone(),
            reason: "bogus".into(),
        })
        .await
        .unwrap_err();
    assert!(
        e.message().starts_with("invalid-reason:"),
        "{}",
        e.message()
    );
    c.revoke_certificate(pb::RevokeCertificateRequest {
        serial: rec.serial.clone(),
        reason: String::new(),
    })
    .await
    .unwrap();
    let e = c
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: rec.serial.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");

    // OCSP: garbage gets malformedRequest (status 1), a wrong content type 415
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/ocsp", app.http))
        .header("content-type", "application/ocsp-request")
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        &resp.bytes().await.unwrap()[..],
        &[0x30, 0x03, 0x0a, 0x01, 0x01]
    );
    let resp = http
        .post(format!("{}/ocsp", app.http))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = http
        .get(format!("{}/ocsp/!!notbase64!!", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(
        &resp.bytes().await.unwrap()[..],
        &[0x30, 0x03, 0x0a, 0x01, 0x01]
    );

    // health and metrics
    let h: serde_json::Value = http
        .get(format!("{}/health", app.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["checks"]["database"]["status"], "ok");
}

/// Only the registration authority issues and revokes: a system's mutual-TLS identity
/// and a citizen's authentication certificate are refused with PERMISSION_DENIED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_registration_authority_issues_and_revokes() {
    let app = spawn_uc().await;
    let request = || issue_req("870312300046");
    // the RA may
    let issued = app
        .client()
        .issue_certificate(request())
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert!(!issued.serial.is_empty());

    // a system's TLS identity may not
    let portal = app.client_as(egov_grpc::TlsIdentity::load(&app.pki, "portal").unwrap());
    // a citizen's authentication certificate (clientAuth) may not either
    let pki = PkiDir::open(&app.pki, &app.ca).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let citizen = pki
        .issue(
            &SubjectSpec::person(
                egov_iin::Iin::parse("870312300046").unwrap(),
                "АХМЕТОВ ЕРЛАН",
            ),
            CertProfile::Authentication,
            KeyAlgorithm::EcdsaP256,
            now - time::Duration::minutes(1),
            now + time::Duration::days(30),
        )
        .unwrap();
    let issuing = std::fs::read_to_string(app.pki.join("issuing.cert.pem")).unwrap();
    let citizen = app.client_as(egov_grpc::TlsIdentity {
        system_id: "citizen".into(),
        cert_pem: format!("{}{issuing}", citizen.cert.to_pem()),
        key_pem: citizen.key.as_ref().unwrap().to_pem(),
        ca_pem: std::fs::read_to_string(app.pki.join("root.cert.pem")).unwrap(),
    });
    for mut c in [portal, citizen] {
        let e = c.issue_certificate(request()).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        assert!(
            e.message().contains("only the registration authority"),
            "{e:?}"
        );
        let e = c
            .revoke_certificate(pb::RevokeCertificateRequest {
                serial: issued.serial.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    }
    // nothing was revoked by them; the RA still can
    let got = app
        .client()
        .get_certificate(pb::GetCertificateRequest {
            serial: issued.serial.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.status, "GOOD", "{got:?}");
    app.client()
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: issued.serial.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// A distribution point of the test's own: answers every request with the bytes last
/// put in `body` (a plain HTTP/1.1 server on loopback).
async fn fake_distribution_point(
    body: Arc<std::sync::Mutex<Vec<u8>>>,
) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/crl", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/pkix-crl\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (url, task)
}

/// A verifier whose OCSP responder never answers fetches the CRL from its distribution
/// point; it takes a list only when the issuing CA signed it, it is current and newer
/// than the one held. A list signed by another key (a CA with the same name), an older
/// one and one already expired are ignored, each with its own reason, and verification
/// goes on with the held list; a genuine newer list is taken at once. With uc as the
/// distribution point, a revocation made through its gRPC reaches the verifier so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_crl_is_taken_only_when_the_issuer_signed_it_and_it_is_newer() {
    use egov_pki::authority::RevokedEntry;
    use egov_pki::crl::{Crl, FetchError, Fetcher};
    let app = spawn_uc().await;
    let pki = PkiDir::open(&app.pki, &app.ca).unwrap();
    let mut c = app.client();
    let resp = c
        .issue_certificate(issue_req("870312300046"))
        .await
        .unwrap()
        .into_inner();
    let rec = resp.certificate.unwrap();
    let cert = egov_pki::CertInfo::from_pem(&rec.certificate_pem).unwrap();
    let key = egov_pki::PrivateKey::from_pem(&resp.private_key_pem).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let sig = egov_pki::cms::sign(b"doc", &key, &cert, &[], true, now).unwrap();
    let listing_it = [RevokedEntry {
        serial_hex: rec.serial.clone(),
        revoked_at: now - time::Duration::minutes(5),
        reason: 1,
    }];
    let issuing = &pki.issuing;
    let crl =
        |by: &egov_pki::Authority, revoked: &[RevokedEntry], number, this_update, next_update| {
            by.crl(revoked, number, this_update, next_update).unwrap()
        };
    let held = crl(
        issuing,
        &[],
        5000,
        now - time::Duration::minutes(2),
        now + time::Duration::days(1),
    );
    let body = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (url, _server) = fake_distribution_point(body.clone()).await;
    let dead = Arc::new(egov_pki::ocsp::Client::new(
        "http://127.0.0.1:9/ocsp",
        Duration::from_millis(300),
        time::Duration::hours(1),
    ));
    let v = egov_pki::Verifier::new(vec![pki.root.clone()])
        .with_cas(vec![issuing.cert.clone()])
        .with_crls(vec![Crl::from_der(&held).unwrap()])
        .with_ocsp(dead.clone())
        .with_crl_fetcher(Arc::new(
            Fetcher::new(Some(url), Duration::from_secs(2)).with_retry(Duration::ZERO),
        ));
    let opts = VerifyOptions::default();
    let verify = || v.verify_detached(b"doc", &sig, &opts);

    // another PKI with the same names: its issuing CA's list is not this issuer's
    let other = tempfile::tempdir().unwrap();
    let stranger = PkiDir::init(
        &other.path().join("pki"),
        &other.path().join("ca"),
        &InitOptions {
            algorithm: KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(stranger.issuing.cert.subject(), issuing.cert.subject());
    *body.lock().unwrap() = crl(
        &stranger.issuing,
        &listing_it,
        9000,
        now,
        now + time::Duration::days(1),
    );
    let e = v.refresh_crl(&issuing.cert, &cert).await.unwrap_err();
    assert!(matches!(e, FetchError::WrongIssuer(_)), "{e}");
    let s = verify().await.unwrap();
    assert_eq!(s.revocation, Revocation::Crl);

    // the issuer's own list, but older than the one held
    *body.lock().unwrap() = crl(
        issuing,
        &listing_it,
        4000,
        now - time::Duration::hours(1),
        now + time::Duration::days(1),
    );
    let e = v.refresh_crl(&issuing.cert, &cert).await.unwrap_err();
    assert!(matches!(e, FetchError::NotNewer { .. }), "{e}");
    assert_eq!(verify().await.unwrap().revocation, Revocation::Crl);

    // the issuer's own, newer, but already past its nextUpdate
    *body.lock().unwrap() = crl(
        issuing,
        &listing_it,
        6000,
        now - time::Duration::minutes(1),
        now - time::Duration::seconds(1),
    );
    let e = v.refresh_crl(&issuing.cert, &cert).await.unwrap_err();
    assert!(matches!(e, FetchError::NotCurrent(_)), "{e}");
    // not a CRL at all
    *body.lock().unwrap() = b"<html>maintenance</html>".to_vec();
    let e = v.refresh_crl(&issuing.cert, &cert).await.unwrap_err();
    assert!(matches!(e, FetchError::Malformed(_)), "{e}");
    assert_eq!(verify().await.unwrap().revocation, Revocation::Crl);

    // the issuer's own, current and newer: taken when OCSP fails, and it says revoked
    *body.lock().unwrap() = crl(
        issuing,
        &listing_it,
        6001,
        now - time::Duration::minutes(1),
        now + time::Duration::days(1),
    );
    let e = verify().await.unwrap_err();
    assert_eq!(e.reason(), "revoked", "{e}");
    assert!(e.to_string().contains("crl"), "{e}");

    // uc as the distribution point: a revocation through gRPC reaches a verifier that
    // holds only the PKI folder's list, through the fetched CRL (OCSP out of reach)
    let v = egov_pki::Verifier::new(vec![pki.root.clone()])
        .with_cas(vec![issuing.cert.clone()])
        .with_crls(vec![pki.crl().unwrap()])
        .with_ocsp(dead)
        .with_crl_fetcher(Arc::new(
            Fetcher::new(Some(format!("{}/crl", app.http)), Duration::from_secs(2))
                .with_retry(Duration::ZERO),
        ));
    let s = v
        .verify_detached(b"doc", &sig, &VerifyOptions::default())
        .await
        .unwrap();
    assert_eq!(s.revocation, Revocation::Crl);
    c.revoke_certificate(pb::RevokeCertificateRequest {
        serial: rec.serial.clone(),
        reason: "key-compromise".into(),
    })
    .await
    .unwrap();
    let e = v
        .verify_detached(b"doc", &sig, &VerifyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "revoked", "{e}");
}

/// uc reads no request larger than its limit (256 KiB: a request with a CSR is a few
/// kilobytes); the transport refuses it before reading, and uc goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_ucs_limit_is_refused_by_the_transport() {
    let app = spawn_uc().await;
    let mut c = app.client();
    let mut big = issue_req("870312300046");
    big.csr_pem = "A".repeat(egov_uc::Config::default().max_message_bytes + 1);
    let e = c.issue_certificate(big).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::OutOfRange, "{e:?}");
    let ok = c
        .issue_certificate(issue_req("870312300046"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.certificate.unwrap().status, "GOOD");
}
