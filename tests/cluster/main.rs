//! The async channel on a three-node NATS cluster: three `nats-server` processes with
//! JetStream and cluster routes on loopback, the inbox stream replicated three times, a
//! load from ПЭП to ИС МИО Алматы through ШЭП and РШЭП Алматы while the node leading
//! the inbox is killed, brought back, and another node is killed. Every accepted message
//! is processed exactly once and the gateways' message-log chains verify.
//!
//! Needs `nats-server` (Debian package) and the machine's PostgreSQL; the broker of the
//! test is its own cluster, not the machine's NATS.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use egov_proto::shep::v1::MessageType;
use egov_shep_client::codes;
use egov_shep_client::inbox::{self, Delivery, InboxConfig, Outcome};
use egov_testkit::nats::Cluster;
use egov_testkit::{Options, World};
use futures::StreamExt as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Messages sent through the gateways, in four equal parts.
const MESSAGES: usize = 300;
/// Sends in flight at once.
const IN_FLIGHT: usize = 4;

/// What the recipient saw.
#[derive(Default)]
struct Seen {
    /// Handler calls (first deliveries and redeliveries).
    calls: AtomicUsize,
    /// Messages registered (the dedup record written for the first time).
    registered: AtomicUsize,
}

async fn recipient_db(w: &World) -> PgPool {
    let pool = egov_db::pool(&w.db.url, "mio_test", 4).await.unwrap();
    sqlx::query(inbox::DEDUP_TABLE_SQL)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("create table applications (message_id text primary key, body text not null)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

/// The recipient's handler: the application and its dedup record in one transaction; a
/// redelivery of something committed is acknowledged and skipped.
async fn register(pool: PgPool, d: Delivery, seen: Arc<Seen>) -> Outcome {
    seen.calls.fetch_add(1, Ordering::Relaxed);
    let id = d.opened.header.message_id.clone();
    let sender = d
        .opened
        .header
        .sender
        .as_ref()
        .map(|s| s.sender_id.clone())
        .unwrap_or_default();
    let mut tx = match pool.begin().await {
        Ok(t) => t,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    match inbox::first_time(&mut tx, &sender, &id).await {
        Ok(true) => {}
        Ok(false) => return Outcome::Done,
        Err(e) => return Outcome::Retry(e.to_string()),
    }
    let body = String::from_utf8_lossy(&d.opened.payload).to_string();
    if let Err(e) = sqlx::query("insert into applications (message_id, body) values ($1, $2)")
        .bind(&id)
        .bind(body)
        .execute(&mut *tx)
        .await
    {
        return Outcome::Retry(e.to_string());
    }
    if let Err(e) = tx.commit().await {
        return Outcome::Retry(e.to_string());
    }
    seen.registered.fetch_add(1, Ordering::Relaxed);
    Outcome::Done
}

/// The inbox consumer of ИС МИО Алматы, begun again whenever its pull ends (a node of
/// the cluster going away), until `stop`.
fn start_consumer(w: &World, pool: PgPool, seen: Arc<Seen>) -> CancellationToken {
    let stop = CancellationToken::new();
    let (js, names, verifier) = (w.js(), w.names(), w.verifier());
    let notifier = Arc::new(w.client("mio-almaty"));
    let token = stop.clone();
    tokio::spawn(async move {
        while !token.is_cancelled() {
            let mut cfg = InboxConfig::new("mio-almaty");
            cfg.retry_delay = Duration::from_millis(50);
            cfg.ack_wait = Duration::from_secs(2);
            cfg.concurrency = 4;
            let (pool, seen) = (pool.clone(), seen.clone());
            let result = inbox::consume(
                js.clone(),
                names.clone(),
                cfg,
                verifier.clone(),
                notifier.clone(),
                move |d| register(pool.clone(), d, seen.clone()),
                token.clone(),
            )
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "inbox consumer stopped; beginning again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    stop
}

/// Sends `count` applications from ПЭП, each sealed once and sent again (the same
/// envelope) until a gateway accepts it; returns the accepted message ids.
async fn send(
    portal: &egov_shep_client::Client,
    from: usize,
    count: usize,
    accepted: &AtomicUsize,
) -> Vec<String> {
    futures::stream::iter(from..from + count)
        .map(|i| async move {
            let info = portal.signer().request_info(
                "mio.application.submit",
                MessageType::Request,
                "almaty",
                "",
            );
            let env = portal
                .signer()
                .seal_request(&info, format!("{{\"application\":{i}}}").into_bytes())
                .expect("sealed");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let last = match portal
                    .send_async_sealed(&info.message_id, env.clone())
                    .await
                {
                    Ok(r) if r.code() == codes::ACCEPTED => break,
                    Ok(r) => format!("{}: {:?}", r.code(), r.info.status),
                    Err(e) => e.to_string(),
                };
                assert!(
                    Instant::now() < deadline,
                    "application {i} not accepted in 30 s: {last}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            accepted.fetch_add(1, Ordering::Relaxed);
            info.message_id
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

/// The server leading the inbox stream.
async fn stream_leader(w: &World) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let leader = match w.js().get_stream(w.names().stream()).await {
            Ok(mut s) => s
                .info()
                .await
                .ok()
                .and_then(|i| i.cluster.as_ref().and_then(|c| c.leader.clone())),
            Err(_) => None,
        };
        if let Some(l) = leader.filter(|l| !l.is_empty()) {
            return l;
        }
        assert!(Instant::now() < deadline, "the inbox stream has no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a part of the load and `action` once `after` of its messages are accepted, so
/// the action lands with sends in flight.
async fn part_with<F: std::future::Future<Output = ()>>(
    portal: &egov_shep_client::Client,
    from: usize,
    count: usize,
    after: usize,
    action: F,
) -> Vec<String> {
    let accepted = AtomicUsize::new(0);
    let trigger = async {
        while accepted.load(Ordering::Relaxed) < after {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        action.await;
    };
    let (ids, ()) = tokio::join!(send(portal, from, count, &accepted), trigger);
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lost_and_another_loses_nothing_and_processes_nothing_twice() {
    let started = Instant::now();
    let cluster = Cluster::start(3);
    cluster.wait_for_meta_leader().await;

    let mut opts = Options::new(&["shep", "rshep-almaty"]);
    opts.nats_url = Some(cluster.url());
    opts.inbox_replicas = 3;
    opts.ack_wait_secs = 2;
    let mut w = World::with(opts).await;
    w.start();
    w.ready().await;
    let info = w
        .js()
        .get_stream(w.names().stream())
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.num_replicas, 3, "the inbox is replicated");
    let replicas = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
    assert_eq!(replicas, 2, "a leader and two followers");

    let pool = recipient_db(&w).await;
    let seen = Arc::new(Seen::default());
    let stop = start_consumer(&w, pool.clone(), seen.clone());
    let portal = w.client("portal");
    let part = MESSAGES / 4;
    let cluster = Arc::new(tokio::sync::Mutex::new(cluster));

    // 1: all three nodes
    let mut ids = send(&portal, 0, part, &AtomicUsize::new(0)).await;
    // 2: the node leading the inbox is killed with sends in flight
    let first = stream_leader(&w).await;
    ids.extend(
        part_with(&portal, part, part, 10, async {
            let mut c = cluster.lock().await;
            let i = c.node(&first);
            c.kill(i);
        })
        .await,
    );
    // 3: the first node comes back and catches up
    ids.extend(
        part_with(&portal, 2 * part, part, 10, async {
            let mut c = cluster.lock().await;
            let i = c.node(&first);
            c.restart(i);
            c.wait_healthy(i).await;
        })
        .await,
    );
    // 4: another node is killed: the leader now, or a follower if the first leads again
    let now = stream_leader(&w).await;
    let second = if now != first {
        now
    } else {
        let c = cluster.lock().await;
        c.names()
            .into_iter()
            .find(|n| *n != first)
            .expect("three nodes")
    };
    ids.extend(
        part_with(&portal, 3 * part, MESSAGES - 3 * part, 10, async {
            let mut c = cluster.lock().await;
            let i = c.node(&second);
            c.kill(i);
        })
        .await,
    );
    let load_done = started.elapsed();
    assert_ne!(first, second);
    {
        let c = cluster.lock().await;
        let down = c.down();
        assert_eq!(
            down,
            [second.as_str()],
            "the second node is down, the first back"
        );
    }
    let accepted: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(accepted.len(), MESSAGES, "every application accepted once");

    // everything accepted is registered, and the inbox is drained to the last ack
    let deadline = Instant::now() + Duration::from_secs(40);
    let consumer = w.names().consumer("mio-almaty");
    loop {
        let registered: i64 = sqlx::query_scalar("select count(*) from applications")
            .fetch_one(&pool)
            .await
            .unwrap();
        let drained = match w.js().get_stream(w.names().stream()).await {
            Ok(s) => match s
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&consumer)
                .await
            {
                Ok(mut c) => c
                    .info()
                    .await
                    .is_ok_and(|i| i.num_pending == 0 && i.num_ack_pending == 0),
                Err(_) => false,
            },
            Err(_) => false,
        };
        if registered as usize >= MESSAGES && drained {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{registered} of {MESSAGES} applications registered (drained: {drained})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();

    let registered: BTreeSet<String> = sqlx::query_scalar("select message_id from applications")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        registered, accepted,
        "exactly the accepted applications are registered"
    );
    assert_eq!(
        seen.registered.load(Ordering::Relaxed),
        MESSAGES,
        "each application processed once"
    );
    let calls = seen.calls.load(Ordering::Relaxed);
    assert!(calls >= MESSAGES);

    // the message log of both gateways holds together
    let report = w.journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chains.len(), 2, "{report:?}");

    eprintln!(
        "cluster: {MESSAGES} applications ({IN_FLIGHT} in flight) through ШЭП → РШЭП Алматы \
         into an R3 inbox, killed {first} then {second} (after restarting {first}): load {:.1} s, \
         all registered {:.1} s, {} deliveries ({} redeliveries absorbed)",
        load_done.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        calls,
        calls - MESSAGES
    );
    // the world (its inbox deleted) before the cluster
    drop(w);
    drop(cluster);
}
