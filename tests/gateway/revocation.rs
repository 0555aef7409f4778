//! Revocation that stays fresh: a certificate revoked through uc is refused by every
//! gateway within the bound on cached OCSP answers, without a restart; and a CA out of
//! reach delays a message (SE017, retried), never refuses it for good.

use egov_grpc::Listening as _;
use std::time::{Duration, Instant};

use crate::common::*;
use egov_proto::shep::v1::MessageType;
use egov_proto::uc::v1 as pb;
use egov_shep_client::codes;
use tokio_util::sync::CancellationToken;

/// A new async application from `c` (a fresh messageId).
fn submit(c: &egov_shep_client::Client) -> egov_proto::shep::v1::RequestInfo {
    c.signer().request_info(
        "mio.application.submit",
        MessageType::Request,
        "almaty",
        "corr-revocation",
    )
}

async fn send(c: &egov_shep_client::Client, info: &egov_proto::shep::v1::RequestInfo) -> String {
    let r = c
        .send_async_with(info.clone(), b"{\"application\":\"revocation\"}".to_vec())
        .await
        .unwrap();
    let status = r.info.status.clone().unwrap_or_default();
    format!("{} {}", status.code, status.message)
}

/// How many messages the inboxes of this world hold.
async fn in_inboxes(w: &World) -> u64 {
    match w.js().get_stream(w.names().stream()).await {
        Ok(mut s) => s.info().await.unwrap().state.messages,
        Err(_) => 0,
    }
}

/// Runs another instance of gateway `id` on the world's database and inboxes with
/// `config`'s revocation settings, `rshep` as РШЭП Алматы (one instance of a gateway
/// writes its message log at a time); returns its gRPC address.
async fn start_gateway(w: &World, id: &str, config: egov_gateway::Config, rshep: &str) -> String {
    let mut g = egov_gateway::Gateway::build(egov_gateway::Config {
        gateway_id: id.into(),
        ..config
    })
    .await
    .unwrap();
    g.set_endpoint("shep", &w.shep);
    g.set_endpoint("rshep-almaty", rshep);
    for (system, addr) in &w.echoes {
        g.set_endpoint(system, addr);
    }
    let addr = g.grpc_addr().to_string();
    tokio::spawn(g.run(w.cancel.clone()));
    addr
}

/// A certificate of a running system revoked through uc's gRPC (by the registration
/// authority) is refused by ШЭП and by РШЭП Алматы within their OCSP cache bound (one
/// second here; a minute by default), with no restart of either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_revoked_through_uc_is_refused_by_every_gateway_without_a_restart() {
    let w = world().await;
    let config = egov_gateway::Config {
        ocsp_cache_secs: 1,
        ..w.config.clone()
    };
    let rshep = start_gateway(&w, "rshep-almaty", config.clone(), &w.rshep).await;
    let shep = start_gateway(&w, "shep", config, &rshep).await;
    let via_shep = w.client_on("portal", "shep", &shep);
    let via_rshep = w.client_on("portal", "rshep-almaty", &rshep);
    // both take the portal's messages, and cache the "good" answer for its certificate
    for c in [&via_shep, &via_rshep] {
        let r = send(c, &submit(c)).await;
        assert!(r.starts_with(codes::ACCEPTED), "{r}");
    }

    let ra = egov_grpc::TlsIdentity::load(&w.pki, egov_pki::REGISTRATION_AUTHORITY).unwrap();
    let mut uc = pb::certification_authority_client::CertificationAuthorityClient::new(
        ra.channel(&w.uc_grpc.to_string(), "uc", Duration::from_secs(10))
            .unwrap(),
    );
    let serial = via_shep.signer().cert().serial_hex.clone();
    let revoked = uc
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: serial.clone(),
            reason: "key-compromise".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.certificate.unwrap().status, "REVOKED");
    // a second revocation of the same certificate is refused as such
    let again = uc
        .revoke_certificate(pb::RevokeCertificateRequest {
            serial: serial.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition, "{again:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    for (name, c) in [("ШЭП", &via_shep), ("РШЭП", &via_rshep)] {
        loop {
            let r = send(c, &submit(c)).await;
            if r.starts_with(codes::CERTIFICATE_REJECTED) {
                assert!(r.contains("revoked"), "{name}: {r}");
                break;
            }
            assert!(r.starts_with(codes::ACCEPTED), "{name}: {r}");
            assert!(
                Instant::now() < deadline,
                "{name} still takes a certificate revoked a minute ago"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A uc of the test's own on the world's PKI and database at `http_addr` (port 0: any),
/// issuing CRLs that live two seconds; it stops with `stop`.
async fn start_uc(
    w: &World,
    http_addr: std::net::SocketAddr,
    stop: CancellationToken,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let uc = egov_uc::Uc::build(egov_uc::Config {
        http_addr,
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        pki_dir: w.pki.clone(),
        ca_dir: Some(w.ca.clone()),
        database_url: w.db.url.clone(),
        crl_validity_secs: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let addr = uc.http_addr();
    let task = tokio::spawn(async move {
        uc.run(stop).await.unwrap();
    });
    (addr, task)
}

/// uc stops for a while: the gateway's held CRL is past its nextUpdate, OCSP and the
/// distribution point do not answer, so the sender's certificate status is unknown and
/// the message is refused transiently (SE017), never for good. uc starts again: the
/// retried message (same messageId and content) goes through, late, and lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_refused_while_uc_is_down_goes_through_once_uc_is_back() {
    let w = world().await;
    let stop = w.cancel.child_token();
    let (uc_addr, uc_task) = start_uc(&w, "127.0.0.1:0".parse().unwrap(), stop.clone()).await;
    // the gateway starts with a CRL long out of date: only a fetched one can serve
    let pki = w.dir.path().join("pki-stale");
    copy_dir(&w.pki, &pki);
    egov_pki::PkiDir::open(&pki, &w.ca)
        .unwrap()
        .write_crl(time::OffsetDateTime::now_utc() - time::Duration::days(400))
        .unwrap();
    let shep = start_gateway(
        &w,
        "shep",
        egov_gateway::Config {
            pki_dir: pki,
            ocsp_url: Some(format!("http://{uc_addr}/ocsp")),
            crl_url: Some(format!("http://{uc_addr}/crl")),
            ocsp_cache_secs: 1,
            ca_timeout_ms: 500,
            ..w.config.clone()
        },
        &w.rshep,
    )
    .await;
    let portal = w.client_on("portal", "shep", &shep);
    let before = in_inboxes(&w).await;
    let mut accepted = 0;
    let r = send(&portal, &submit(&portal)).await;
    assert!(r.starts_with(codes::ACCEPTED), "{r}");
    accepted += 1;

    // uc stops: once the cached answer and the fetched CRL are out of date, SE017
    stop.cancel();
    uc_task.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        let info = submit(&portal);
        let r = send(&portal, &info).await;
        if r.starts_with(codes::REVOCATION_UNKNOWN) {
            break info;
        }
        assert!(r.starts_with(codes::ACCEPTED), "{r}");
        accepted += 1;
        assert!(Instant::now() < deadline, "no SE017 with uc stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(codes::is_transient(codes::REVOCATION_UNKNOWN));
    // asked again while uc is still down: the same transient answer
    let r = send(&portal, &refused).await;
    assert!(r.starts_with(codes::REVOCATION_UNKNOWN), "{r}");
    // the refused message is not delivered, or, when the РШЭП had already put it into the
    // inbox before ШЭП could not check the РШЭП's answer, delivered once: either way the
    // retry below must not deliver it again
    let now_in = in_inboxes(&w).await;
    assert!(
        now_in == before + accepted || now_in == before + accepted + 1,
        "{now_in} in the inboxes, {accepted} accepted"
    );

    // uc is back on the same address: the retry goes through, and only once
    let (again, _task) = start_uc(&w, uc_addr, w.cancel.child_token()).await;
    assert_eq!(again, uc_addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = send(&portal, &refused).await;
        if r.starts_with(codes::ACCEPTED) {
            break;
        }
        assert!(r.starts_with(codes::REVOCATION_UNKNOWN), "{r}");
        assert!(Instant::now() < deadline, "still refused with uc back: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    accepted += 1;
    assert_eq!(in_inboxes(&w).await, before + accepted);
    let r = send(&portal, &refused).await;
    assert!(r.contains("a retry: delivered once"), "{r}");
    assert_eq!(in_inboxes(&w).await, before + accepted);
}
