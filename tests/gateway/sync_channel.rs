//! The sync channel end to end: routing through ШЭП and РШЭП, every check with its own
//! status code, each leaving a log row and nothing forwarded.

use std::sync::atomic::Ordering;

use crate::common::*;
use egov_gateway::journal::Event;
use egov_grpc::Listening as _;
use egov_pki::authority::{CertProfile, SubjectSpec};
use egov_pki::keys::KeyAlgorithm;
use egov_shep_client::envelope::{SystemSigner, codes, timestamp};
use prost::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_to_gbd_fl_through_shep() {
    let w = world().await;
    let portal = w.portal();
    let reply = portal
        .call(
            "gbd-fl.person.get",
            "",
            "",
            b"{\"iin\":\"870312300046\"}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS, "{:?}", reply.info);
    assert_eq!(reply.responder, "gbd-fl");
    assert_eq!(reply.payload, b"{\"iin\":\"870312300046\"}");
    let rows = w.rows(&reply.message_id).await;
    assert_eq!(rows.first().unwrap().record.event, Event::RequestIn);
    let last = &rows.last().unwrap().record;
    assert_eq!(last.event, Event::ResponseOut);
    assert_eq!(last.status_code, codes::SUCCESS);
    assert_eq!(last.sender_id, "portal");
    assert_eq!(last.recipient_id.as_deref(), Some("gbd-fl"));
    assert!(last.request_out_at.is_some() && last.response_in_at.is_some());
    assert_eq!(rows[0].record.verification, "ok");
    assert!(w.journal.verify(Some("shep")).await.unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_signs_its_message_logs_head() {
    let w = world().await;
    let reply = w
        .portal()
        .call("gbd-fl.person.get", "", "", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS, "{:?}", reply.info);
    let last = w.rows(&reply.message_id).await.last().unwrap().seq;
    // the world's gateways sign every second
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let report = loop {
        let report = w
            .journal
            .verify_signed(Some("shep"), &w.verifier())
            .await
            .unwrap();
        if report.chains[0].signed_seq >= last {
            break report;
        }
        assert!(std::time::Instant::now() < deadline, "{report:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(report.ok(), "{report:?}");
    let heads = w.journal.signed_heads("shep").await.unwrap();
    assert!(heads.iter().all(|h| h.gateway_id == "shep"));
}

/// Every file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_from_a_pki_folder_without_the_ca_keys() {
    let w = world().await;
    // the folder the gateways and systems read holds no key of a CA
    let ca_keys: Vec<String> = ["root.key.pem", "issuing.key.pem"]
        .iter()
        .map(|f| std::fs::read_to_string(w.ca.join(f)).unwrap())
        .collect();
    assert!(ca_keys.iter().all(|k| k.contains("PRIVATE KEY")));
    for f in files_under(&w.pki) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(
            !ca_keys.iter().any(|k| text.contains(k.trim())),
            "{} holds a CA key",
            f.display()
        );
    }
    // and no service's settings name the CA folder: only uc's do
    let ca = w.ca.display().to_string();
    let gateway = serde_json::to_string(&w.gateway_config("shep")).unwrap();
    let system = serde_json::to_string(&w.system_config("gbd-fl", "gbd_fl")).unwrap();
    for settings in [&gateway, &system] {
        assert!(!settings.contains(&ca), "{settings}");
        assert!(
            settings.contains(&w.pki.display().to_string()),
            "{settings}"
        );
    }
    // a gateway given a copy of the PKI folder alone, no CA anywhere near it, serves
    let alone = tempfile::tempdir().unwrap();
    let pki = alone.path().join("pki");
    for f in files_under(&w.pki) {
        let to = pki.join(f.strip_prefix(&w.pki).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    assert_eq!(std::fs::read_dir(alone.path()).unwrap().count(), 1);
    let mut g = egov_gateway::Gateway::build(egov_gateway::Config {
        pki_dir: pki,
        ..w.config.clone()
    })
    .await
    .unwrap();
    for (id, addr) in &w.echoes {
        g.set_endpoint(id, addr);
    }
    g.set_endpoint("rshep-almaty", &w.rshep);
    let addr = g.grpc_addr().to_string();
    tokio::spawn(g.run(w.cancel.clone()));
    let reply = w
        .client_on("portal", "shep", &addr)
        .call("gbd-fl.person.get", "", "", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS, "{:?}", reply.info);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_b_regional_to_central_and_back_down() {
    let w = world().await;
    // АРМ РШЭП (ИС МИО Алматы) → РШЭП Алматы → ШЭП → ГБД ФЛ
    let reply = w
        .mio()
        .call("gbd-fl.person.get", "", "", b"person".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS, "{:?}", reply.info);
    let rows = w.rows(&reply.message_id).await;
    let gateways: std::collections::BTreeSet<_> =
        rows.iter().map(|r| r.record.gateway_id.clone()).collect();
    assert!(
        gateways.contains("shep") && gateways.contains("rshep-almaty"),
        "{gateways:?}"
    );
    let at_shep = rows.iter().find(|r| r.record.gateway_id == "shep").unwrap();
    assert_eq!(
        at_shep.record.route,
        vec!["rshep-almaty".to_string(), "shep".to_string()]
    );

    // ПЭП → ШЭП → РШЭП Алматы → ИС МИО Алматы
    let reply = w
        .portal()
        .call("mio.queue.position", "almaty", "", b"queue".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS, "{:?}", reply.info);
    assert_eq!(reply.responder, "mio-almaty");
    assert_eq!(w.mio_calls.load(Ordering::SeqCst), 1);
    assert!(w.journal.verify(None).await.unwrap().ok());
}

async fn refused(
    w: &World,
    client: &egov_shep_client::Client,
    info: egov_proto::shep::v1::RequestInfo,
    payload: Vec<u8>,
    code: &str,
) -> egov_shep_client::Reply {
    let before = w.gbd_calls.load(Ordering::SeqCst) + w.mio_calls.load(Ordering::SeqCst);
    let id = info.message_id.clone();
    let reply = client.call_with(info, payload).await.unwrap();
    assert_eq!(reply.code(), code, "{:?}", reply.info);
    assert_eq!(
        reply.responder, "shep",
        "refusals are signed by the gateway"
    );
    let err = reply
        .info
        .error_info
        .clone()
        .expect("errorInfo on a refusal");
    assert_eq!(err.error_code, code);
    assert!(!err.error_message.is_empty());
    let rows = w.rows(&id).await;
    assert!(
        rows.iter()
            .any(|r| r.record.event == Event::Rejected && r.record.status_code == code),
        "{rows:#?}"
    );
    let after = w.gbd_calls.load(Ordering::SeqCst) + w.mio_calls.load(Ordering::SeqCst);
    assert_eq!(before, after, "a refused request must not be forwarded");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_refuses_with_its_own_code() {
    let w = world().await;
    let portal = w.portal();
    let ok_info = || portal.request_info("gbd-fl.person.get", "", "");

    // forbidden service (portal may not call ЕНИС)
    refused(
        &w,
        &portal,
        portal.request_info("enis.poa.check", "", ""),
        b"x".to_vec(),
        codes::ACCESS_DENIED,
    )
    .await;
    // unknown service, unknown region
    refused(
        &w,
        &portal,
        portal.request_info("nope.service", "", ""),
        b"x".to_vec(),
        codes::UNKNOWN_SERVICE,
    )
    .await;
    refused(
        &w,
        &portal,
        portal.request_info("mio.queue.position", "mars", ""),
        b"x".to_vec(),
        codes::UNKNOWN_REGION,
    )
    .await;
    // stale messageDate
    let mut info = ok_info();
    info.message_date = Some(timestamp(
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
    ));
    refused(&w, &portal, info, b"x".to_vec(), codes::STALE_MESSAGE).await;
    // oversize payload (the service allows 64 KiB)
    refused(&w, &portal, ok_info(), vec![b'a'; 70_000], codes::TOO_LARGE).await;
    // unknown sender (a name the registry does not know, signed by the portal)
    let mut info = ok_info();
    info.sender.as_mut().unwrap().sender_id = "stranger".into();
    refused(&w, &portal, info, b"x".to_vec(), codes::UNKNOWN_SENDER).await;
    // sender mismatch: the portal's certificate, ЦОН's name
    let mut info = ok_info();
    info.sender.as_mut().unwrap().sender_id = "con-is".into();
    refused(&w, &portal, info, b"x".to_vec(), codes::SENDER_MISMATCH).await;

    // replay: the same envelope twice
    let info = ok_info();
    let id = info.message_id.clone();
    let env = portal
        .signer()
        .seal_request(&info, b"once".to_vec())
        .unwrap();
    let first = portal.send_sealed(&id, env.clone()).await.unwrap();
    assert_eq!(first.code(), codes::SUCCESS);
    let again = portal.send_sealed(&id, env).await.unwrap();
    assert_eq!(again.code(), codes::DUPLICATE);

    // tampered payload and tampered signature
    let info = ok_info();
    let id = info.message_id.clone();
    let mut env = portal
        .signer()
        .seal_request(&info, b"original".to_vec())
        .unwrap();
    env.payload = b"tampered".to_vec();
    let r = portal.send_sealed(&id, env).await.unwrap();
    assert_eq!(r.code(), codes::BAD_SIGNATURE);
    let rows = w.rows(&id).await;
    assert_eq!(rows.last().unwrap().record.verification, "bad-signature");
    let info = ok_info();
    let id = info.message_id.clone();
    let mut env = portal
        .signer()
        .seal_request(&info, b"original".to_vec())
        .unwrap();
    let n = env.signature.len();
    env.signature[n - 5] ^= 0x20;
    assert_eq!(
        portal.send_sealed(&id, env).await.unwrap().code(),
        codes::BAD_SIGNATURE
    );

    // malformed: a header that is not a RequestInfo, and no envelope at all
    let env = egov_proto::shep::v1::Envelope {
        header: vec![0xff, 0xff, 0xff],
        payload: vec![],
        signature: vec![1],
    };
    assert_eq!(
        portal.send_sealed("x", env).await.unwrap().code(),
        codes::MALFORMED
    );
    let mut info = ok_info();
    info.message_id.clear();
    let env = portal.signer().seal_request(&info, b"x".to_vec()).unwrap();
    assert_eq!(
        portal.send_sealed("", env).await.unwrap().code(),
        codes::MALFORMED
    );
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "portal").unwrap();
    let ch = tls
        .channel(&w.shep, "shep", std::time::Duration::from_secs(5))
        .unwrap();
    let raw = egov_proto::shep::v1::sync_channel_client::SyncChannelClient::new(ch)
        .send_message(egov_proto::shep::v1::SyncSendMessageRequest { envelope: None })
        .await
        .unwrap()
        .into_inner();
    let header =
        egov_proto::shep::v1::ResponseInfo::decode(raw.envelope.unwrap().header.as_slice())
            .unwrap();
    assert_eq!(header.status.unwrap().code, codes::MALFORMED);

    assert_eq!(
        w.gbd_calls.load(Ordering::SeqCst),
        1,
        "only the one good request reached ГБД ФЛ"
    );
    assert!(w.journal.verify(None).await.unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_expired_system_certificates_are_refused() {
    let w = world().await;
    let mut pki = w.authority();
    let sys = egov_pki::systems::by_id("portal").unwrap();
    let spec = SubjectSpec::system(&sys.id, &sys.organization, &sys.bin);
    let now = time::OffsetDateTime::now_utc();

    let revoked = pki
        .issue(
            &spec,
            CertProfile::SystemSigning,
            KeyAlgorithm::EcdsaP256,
            now - time::Duration::minutes(1),
            now + time::Duration::days(1),
        )
        .unwrap();
    pki.revoke(&revoked.cert, 1, now).unwrap();
    let signer = SystemSigner::from_pem(
        "portal",
        &revoked.key.as_ref().unwrap().to_pem(),
        &revoked.cert.to_pem(),
    )
    .unwrap();
    let client = w.client_with_signer("portal", "shep", &w.shep, signer);
    let r = refused(
        &w,
        &client,
        client.request_info("gbd-fl.person.get", "", ""),
        b"x".to_vec(),
        codes::CERTIFICATE_REJECTED,
    )
    .await;
    assert!(r.info.status.unwrap().message.contains("revoked"));

    let expired = pki
        .issue(
            &spec,
            CertProfile::SystemSigning,
            KeyAlgorithm::EcdsaP256,
            now - time::Duration::hours(20),
            now - time::Duration::hours(1),
        )
        .unwrap();
    let signer = SystemSigner::from_pem(
        "portal",
        &expired.key.as_ref().unwrap().to_pem(),
        &expired.cert.to_pem(),
    )
    .unwrap();
    let client = w.client_with_signer("portal", "shep", &w.shep, signer);
    let r = refused(
        &w,
        &client,
        client.request_info("gbd-fl.person.get", "", ""),
        b"x".to_vec(),
        codes::CERTIFICATE_REJECTED,
    )
    .await;
    assert!(r.info.status.unwrap().message.contains("expired"));

    // a TLS certificate cannot make transport signatures
    let files = pki.system_files("portal");
    let signer = SystemSigner::from_pem(
        "portal",
        &std::fs::read_to_string(files.tls_key).unwrap(),
        &std::fs::read_to_string(files.tls_cert).unwrap(),
    )
    .unwrap();
    let client = w.client_with_signer("portal", "shep", &w.shep, signer);
    refused(
        &w,
        &client,
        client.request_info("gbd-fl.person.get", "", ""),
        b"x".to_vec(),
        codes::CERTIFICATE_REJECTED,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_timeout_and_bad_answer() {
    let w = world().await;
    let portal = w.portal();
    // the service's deadline is 700 ms in the test registry
    let started = std::time::Instant::now();
    let r = portal
        .call("gbd-fl.person.get", "", "", b"sleep:3000".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::TIMEOUT, "{:?}", r.info);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let r = portal
        .call("gbd-fl.person.get", "", "", b"tamper-answer".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::BAD_RESPONSE, "{:?}", r.info);
    let rows = w.rows(&r.message_id).await;
    assert_eq!(rows.last().unwrap().record.status_code, codes::BAD_RESPONSE);
}

/// An answer is tied to its request: signed by the routed recipient and carrying the
/// request's messageId as its correlationId. Another request's answer, or an answer
/// from a system the request was not routed to, is not relayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_to_another_request_or_from_another_system_is_refused() {
    let w = world().await;
    let portal = w.portal();
    let r = portal
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::SUCCESS, "{:?}", r.info);
    assert_eq!(r.info.correlation_id, r.message_id, "tied to the request");
    let r = portal
        .call("gbd-fl.person.get", "", "", b"answer-another".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::BAD_RESPONSE, "{:?}", r.info);
    let msg = r.info.status.clone().unwrap().message;
    assert!(msg.contains("is not the request's messageId"), "{msg}");

    // a ШЭП whose gbd-fl endpoint (gbd-fl's transport identity) answers with envelopes
    // signed by mio-almaty: correctly signed, by the wrong system; refused, not relayed
    let impostor = spawn_echo_signing_as(
        &w.pki,
        "gbd-fl",
        "mio-almaty",
        Default::default(),
        w.cancel.clone(),
    )
    .await;
    let shep = w.start_gateway_with("shep", &[("gbd-fl", &impostor)]).await;
    let r = w
        .client_on("portal", "shep", &shep)
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::BAD_RESPONSE, "{:?}", r.info);
    assert_eq!(r.responder, "shep");
    let msg = r.info.status.clone().unwrap().message;
    assert!(
        msg.contains("answered by \"mio-almaty\", not by \"gbd-fl\""),
        "{msg}"
    );

    // the client checks the tie too: an answer to another request, from whatever
    // answers in the gateway's place, is an error, not a reply
    let mio_echo = w
        .echoes
        .iter()
        .find(|(s, _)| s == "mio-almaty")
        .unwrap()
        .1
        .clone();
    let direct = w.client_on("portal", "mio-almaty", &mio_echo);
    let e = direct
        .call("gbd-fl.person.get", "", "", b"answer-another".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(e, egov_shep_client::ClientError::Unrelated(_)),
        "{e:?}"
    );
    let ok = direct
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(ok.code(), codes::SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_down_is_unavailable_not_a_hang() {
    let w = world_with(false).await;
    let r = w
        .portal()
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::UNAVAILABLE, "{:?}", r.info);
    let rows = w.rows(&r.message_id).await;
    assert_eq!(rows.last().unwrap().record.status_code, codes::UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_each_dependency() {
    let w = world().await;
    let r = w
        .portal()
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::SUCCESS);
    let h: serde_json::Value = reqwest::get(format!("{}/health", w.shep_http))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    for k in ["database", "nats", "ca", "certificate"] {
        assert_eq!(h["checks"][k]["status"], "ok", "{k}: {h}");
    }
    let m = reqwest::get(format!("{}/metrics", w.shep_http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("egov_gateway_messages_total"), "{m}");
    assert!(m.contains("egov_gateway_request_duration_seconds"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_hops_and_the_log_over_grpc() {
    use egov_proto::shep::v1::message_log_client::MessageLogClient;
    use egov_proto::shep::v1::{SearchLogRequest, VerifyLogRequest};
    let w = world().await;
    let reply = w
        .mio()
        .call("gbd-fl.person.get", "", "", b"trace me".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS);
    let rows = w.rows(&reply.message_id).await;
    let traces: std::collections::BTreeSet<_> = rows
        .iter()
        .filter_map(|r| r.record.trace_id.clone())
        .collect();
    assert_eq!(traces.len(), 1, "one trace across РШЭП and ШЭП: {rows:#?}");
    assert_eq!(traces.iter().next().unwrap().len(), 32);

    // an operator tool with a log reader's certificate searches and verifies over gRPC
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "rshep-almaty").unwrap();
    let mut log = MessageLogClient::new(
        tls.channel(&w.shep, "shep", std::time::Duration::from_secs(5))
            .unwrap(),
    );
    let found = log
        .search(SearchLogRequest {
            message_id: reply.message_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(found.records.len() >= 4, "{:?}", found.records);
    assert!(
        found
            .records
            .iter()
            .all(|r| r.message_id == reply.message_id && r.hash.len() == 64)
    );
    let by_sender = log
        .search(SearchLogRequest {
            sender_id: "mio-almaty".into(),
            gateway_id: "shep".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!by_sender.records.is_empty());
    assert!(
        by_sender
            .records
            .iter()
            .all(|r| r.sender_id == "mio-almaty" && r.gateway_id == "shep")
    );
    let v = log
        .verify(VerifyLogRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(v.ok, "{v:?}");
    let e = log
        .search(SearchLogRequest {
            limit: 5000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // a system that is not a log reader may not look
    let tls = egov_grpc::TlsIdentity::load(&w.pki, "portal").unwrap();
    let mut log = MessageLogClient::new(
        tls.channel(&w.shep, "shep", std::time::Duration::from_secs(5))
            .unwrap(),
    );
    let e = log.search(SearchLogRequest::default()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
}

/// The connection is tied to the message: the mutual-TLS client must be the sender, or
/// the previous gateway on the route; a system cannot send as another, nor claim to come
/// through a gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_must_be_the_senders_or_the_previous_gateways() {
    let w = world().await;
    let pki = w.pki.clone();
    // ИС ЦОН's connection, an envelope signed by the portal as the portal
    let impostor = w.client_with_signer(
        "con-is",
        "shep",
        &w.shep,
        egov_shep_client::SystemSigner::load(&pki, "portal").unwrap(),
    );
    let r = impostor
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCESS_DENIED, "{:?}", r.info);
    let msg = r.info.status.clone().unwrap().message;
    assert!(msg.contains("the connection is \"con-is\"'s"), "{msg}");
    assert_eq!(w.gbd_calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    let r = impostor
        .send_async(
            "mio.application.submit",
            "almaty",
            egov_proto::shep::v1::MessageType::Request,
            "",
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCESS_DENIED, "{:?}", r.info);

    // the portal straight to РШЭП Алматы, claiming to come through ШЭП
    let portal = w.client_on("portal", "rshep-almaty", &w.rshep);
    let info = portal.signer().request_info(
        "mio.application.submit",
        egov_proto::shep::v1::MessageType::Request,
        "almaty",
        "",
    );
    let env = portal.signer().seal_request(&info, b"{}".to_vec()).unwrap();
    let mut req = tonic::Request::new(egov_proto::shep::v1::AsyncSendMessageRequest {
        envelope: Some(env),
    });
    req.metadata_mut().insert(
        egov_shep_client::route::ROUTE_METADATA,
        "shep".parse().unwrap(),
    );
    let answer = portal
        .async_channel()
        .send_message(req)
        .await
        .unwrap()
        .into_inner()
        .envelope
        .unwrap();
    let opened = egov_shep_client::envelope::open_response(&answer, &w.verifier())
        .await
        .unwrap();
    let status = opened.header.status.unwrap();
    assert_eq!(status.code, codes::ACCESS_DENIED, "{status:?}");
    assert!(status.message.contains("previous gateway"), "{status:?}");

    // the honest ways still work: the portal to ШЭП, and ШЭП relaying to РШЭП
    let r = w
        .portal()
        .send_async(
            "mio.application.submit",
            "almaty",
            egov_proto::shep::v1::MessageType::Request,
            "",
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);
}

/// A client certificate is checked for revocation too, not only its chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_client_certificate_is_refused() {
    let w = world().await;
    let mut pki = w.authority();
    let sys = egov_pki::systems::by_id("portal").unwrap();
    let spec = SubjectSpec::system(&sys.id, &sys.organization, &sys.bin);
    let now = time::OffsetDateTime::now_utc();
    let tls = pki
        .issue(
            &spec,
            CertProfile::SystemTls,
            KeyAlgorithm::EcdsaP256,
            now - time::Duration::minutes(1),
            now + time::Duration::days(1),
        )
        .unwrap();
    pki.revoke(&tls.cert, 1, now).unwrap();
    let issuing = std::fs::read_to_string(w.pki.join("issuing.cert.pem")).unwrap();
    let identity = egov_grpc::TlsIdentity {
        system_id: "portal".into(),
        cert_pem: format!("{}{issuing}", tls.cert.to_pem()),
        key_pem: tls.key.as_ref().unwrap().to_pem(),
        ca_pem: std::fs::read_to_string(w.pki.join("root.cert.pem")).unwrap(),
    };
    let client = egov_shep_client::Client::connect(
        &w.shep,
        "shep",
        &identity,
        std::sync::Arc::new(SystemSigner::load(&w.pki, "portal").unwrap()),
        w.verifier(),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let r = client
        .call("gbd-fl.person.get", "", "", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(r.code(), codes::CERTIFICATE_REJECTED, "{:?}", r.info);
    let msg = r.info.status.clone().unwrap().message;
    assert!(
        msg.contains("client certificate") && msg.contains("revoked"),
        "{msg}"
    );
    assert_eq!(w.gbd_calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_the_largest_payload_is_refused_by_the_transport() {
    let w = world().await;
    let portal = w.portal();
    let limit = egov_gateway::registry::Registry::shipped().max_message_bytes();
    // the largest payload of the registry (20 MiB) plus the envelope's room: one byte more
    // in the payload alone makes the message too large to be read at all
    let info = portal.request_info("mio.application.submit", "almaty", "");
    let err = portal
        .call_with(info.clone(), vec![b'x'; limit + 1])
        .await
        .unwrap_err();
    match err {
        egov_shep_client::ClientError::Transport(s) => {
            assert_eq!(s.code(), tonic::Code::OutOfRange, "{s:?}")
        }
        other => panic!("expected a transport refusal, got {other:?}"),
    }
    // nothing of it reached the message log, and the gateway still serves
    let rows = w
        .journal
        .search(&egov_gateway::journal::Filter {
            message_id: Some(info.message_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    let reply = portal
        .call("gbd-fl.person.get", "", "", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.code(), codes::SUCCESS, "{:?}", reply.info);
}
