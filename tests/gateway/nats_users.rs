//! The broker with a user per gateway and system (`egov_shep_client::nats_auth`): a
//! private nats-server on a free loopback port with the configuration generated from
//! the inbox names, started by the test and killed at its end. Only gateways publish
//! into the inboxes; a system reads only its own; a message still goes through.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use async_nats::jetstream;
use egov_grpc::Listening as _;
use egov_proto::shep::v1::MessageType;
use egov_shep_client::codes;
use egov_shep_client::nats_auth::{self, Role, User};
use futures::StreamExt;

/// A nats-server of the test's own, killed on drop.
struct Broker {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn broker(config: &str) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(&conf, config).unwrap();
    let port = egov_devenv::free_port().unwrap();
    let binary = egov_devenv::find_nats_server().expect("nats-server is installed");
    let child = Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir.path().join("store"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let b = Broker {
        child,
        url: format!("nats://127.0.0.1:{port}"),
        _dir: dir,
    };
    for _ in 0..100 {
        if egov_devenv::tcp_reachable(&format!("127.0.0.1:{port}"), Duration::from_millis(200))
            .await
        {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nats-server did not come up");
}

/// JetStream of `id`'s own user, answering within a second.
async fn js_as(w: &World, url: &str, id: &str) -> jetstream::Context {
    let password = egov_pki::dir::nats_password(&w.pki, id).unwrap();
    let client = nats_auth::connect(url, Some((id, &password)))
        .await
        .unwrap();
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(1));
    js
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_gateways_publish_into_inboxes_and_each_system_reads_its_own() {
    let w = world().await;
    let names = w.names();
    let users: Vec<User> = [
        ("shep", Role::Gateway),
        ("rshep-almaty", Role::Gateway),
        ("mio-almaty", Role::System),
        ("gbd-fl", Role::System),
        ("portal", Role::System),
    ]
    .into_iter()
    .map(|(id, role)| User {
        id: id.into(),
        password: egov_pki::dir::nats_password(&w.pki, id).unwrap(),
        role,
    })
    .collect();
    let b = broker(&nats_auth::server_config(&names, &users, 256 << 20)).await;

    // a stranger and a wrong password are not let in
    assert!(nats_auth::connect(&b.url, None).await.is_err());
    assert!(
        nats_auth::connect(&b.url, Some(("mio-almaty", "guess")))
            .await
            .is_err()
    );

    // the two gateways on this broker, each as its own user
    let mut built = Vec::new();
    for id in ["shep", "rshep-almaty"] {
        let mut cfg = w.gateway_config(id);
        cfg.nats_url = b.url.clone();
        cfg.nats_credentials = true;
        cfg.inbox_max_bytes = 64 << 20;
        built.push(egov_gateway::Gateway::build(cfg).await.unwrap());
    }
    let addrs: Vec<(String, String)> = built
        .iter()
        .map(|g| (g.id().to_string(), g.grpc_addr().to_string()))
        .collect();
    for mut g in built {
        for (id, addr) in addrs.iter().chain(w.echoes.iter()) {
            if id != g.id() {
                g.set_endpoint(id, addr);
            }
        }
        tokio::spawn(g.run(w.cancel.clone()));
    }
    let stream_max: i64 = {
        let js = js_as(&w, &b.url, "shep").await;
        let mut s = js.get_stream(names.stream()).await.unwrap();
        s.info().await.unwrap().config.max_bytes
    };
    assert_eq!(stream_max, 64 << 20, "the inbox stream is bounded");

    // a message through the gateways arrives in mio-almaty's inbox
    let portal = w.client_on("portal", "shep", &addrs[0].1);
    let r = portal
        .send_async(
            "mio.application.submit",
            "almaty",
            MessageType::Request,
            "",
            b"{\"application\":1}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.code(), codes::ACCEPTED, "{:?}", r.info);

    // mio-almaty reads it from its own consumer, as itself
    let mio = js_as(&w, &b.url, "mio-almaty").await;
    let consumer = names
        .consumer_for(&mio, "mio-almaty", Duration::from_secs(5), 5)
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), batch.next())
        .await
        .expect("the message arrives")
        .unwrap()
        .unwrap();
    msg.ack().await.unwrap();

    // but cannot publish into an inbox, its own or another's
    for recipient in ["mio-almaty", "gbd-fl"] {
        let sent: Result<_, String> = async {
            mio.publish(names.subject(recipient), "forged".into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        let e = sent.expect_err("a system publishing into an inbox");
        // the server drops what a user may not publish: no answer ever comes
        assert!(e.to_string().contains("timed out"), "{e}");
    }
    // nor read another system's inbox
    let e = names
        .consumer_for(&mio, "gbd-fl", Duration::from_secs(5), 5)
        .await
        .unwrap_err();
    assert!(e.contains("timed out"), "{e}");
    // nor make a consumer of its own name over another's subject
    let sneaky = mio
        .get_stream(names.stream())
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some(names.consumer("mio-almaty")),
            filter_subject: names.subject("gbd-fl"),
            ..Default::default()
        })
        .await;
    let e = sneaky.unwrap_err().to_string();
    assert!(e.contains("timed out"), "{e}");
    // gbd-fl cannot pull from mio-almaty's consumer
    let gbd = js_as(&w, &b.url, "gbd-fl").await;
    let e = names
        .consumer_for(&gbd, "mio-almaty", Duration::from_secs(5), 5)
        .await
        .unwrap_err();
    assert!(e.contains("timed out"), "{e}");
    // and nothing forged reached the stream: the one message, taken
    let shep = js_as(&w, &b.url, "shep").await;
    let mut s = shep.get_stream(names.stream()).await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 1);
}
