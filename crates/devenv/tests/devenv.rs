//! Integration tests against the machine's PostgreSQL (EGOV_TEST_DATABASE_URL,
//! default 127.0.0.1:5432) and NATS (EGOV_TEST_NATS_URL, default
//! 127.0.0.1:4222), plus private instances started on free ports.

use std::time::Duration;

use async_nats::jetstream::{self, stream::StorageType};
use egov_devenv::{
    Error, PrivateNats, PrivatePostgres, default_database_admin_url, default_nats_url,
    ensure_services, free_port, fresh_database, tcp_reachable, unique_prefix,
};
use sqlx::{Connection, PgConnection};

const PROBE: Duration = Duration::from_millis(500);

async fn database_exists(admin_url: &str, name: &str) -> bool {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("admin connect");
    let exists = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("query pg_database");
    conn.close().await.expect("close");
    exists
}

#[tokio::test]
async fn tcp_reachable_follows_a_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    assert!(tcp_reachable(&addr, PROBE).await);
    drop(listener);
    assert!(!tcp_reachable(&addr, PROBE).await);
    assert!(!tcp_reachable("not a host:port", PROBE).await);
}

#[tokio::test]
async fn fresh_database_is_usable_unique_and_droppable() {
    let admin = default_database_admin_url();
    let a = fresh_database(&admin, "devenv_test_")
        .await
        .expect("create a");
    let b = fresh_database(&admin, "devenv_test_")
        .await
        .expect("create b");
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);
    assert!(a.name.starts_with("devenv_test_"), "{}", a.name);
    assert!(a.name.len() <= 63);

    let mut conn = PgConnection::connect(&a.url).await.expect("connect to a");
    let current: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(current, a.name);
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)")
        .execute(&mut conn)
        .await
        .expect("create table");
    sqlx::query("INSERT INTO t VALUES ($1, $2)")
        .bind(1_i32)
        .bind("x")
        .execute(&mut conn)
        .await
        .unwrap();
    let v: String = sqlx::query_scalar("SELECT v FROM t WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, "x");

    // The table exists only in `a`.
    let mut conn_b = PgConnection::connect(&b.url).await.expect("connect to b");
    let in_b: bool = sqlx::query_scalar("SELECT to_regclass('public.t') IS NOT NULL")
        .fetch_one(&mut conn_b)
        .await
        .unwrap();
    assert!(!in_b);
    conn_b.close().await.unwrap();

    // drop_database terminates the still open connection.
    let (a_name, b_name) = (a.name.clone(), b.name.clone());
    assert!(database_exists(&admin, &a_name).await);
    a.drop_database().await.expect("drop a");
    assert!(!database_exists(&admin, &a_name).await);
    assert!(sqlx::query("SELECT 1").execute(&mut conn).await.is_err());

    b.drop_database().await.expect("drop b");
    assert!(!database_exists(&admin, &b_name).await);
}

#[tokio::test]
async fn private_nats_jetstream_survives_stop_and_restart() {
    let mut nats = PrivateNats::start_ephemeral().await.expect("start nats");
    let addr = format!("127.0.0.1:{}", nats.port());
    assert_eq!(nats.url(), format!("nats://{addr}"));
    let prefix = unique_prefix("devenv");
    let stream_name = format!("{prefix}_events");
    let subject = format!("{prefix}.created");

    {
        let client = async_nats::connect(nats.url()).await.expect("connect");
        let js = jetstream::new(client);
        js.create_stream(jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![format!("{prefix}.>")],
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .expect("create stream");
        let ack = js
            .publish(subject.clone(), "hello".into())
            .await
            .expect("publish")
            .await
            .expect("ack");
        assert_eq!(ack.stream, stream_name);
        assert_eq!(ack.sequence, 1);
    }

    nats.stop().await;
    assert!(!nats.is_running());
    assert!(
        !tcp_reachable(&addr, PROBE).await,
        "port still answers after stop"
    );

    nats.restart().await.expect("restart nats");
    assert!(nats.is_running());
    assert!(tcp_reachable(&addr, PROBE).await);

    let client = async_nats::connect(nats.url()).await.expect("reconnect");
    let js = jetstream::new(client);
    let mut stream = js.get_stream(&stream_name).await.expect("stream survived");
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    let msg = stream.get_raw_message(1).await.expect("message survived");
    assert_eq!(msg.payload, "hello");
    assert_eq!(msg.subject.as_str(), subject);
    drop(js);

    let dir = nats.data_dir().to_owned();
    assert!(dir.join("nats").is_dir());
    drop(nats);
    assert!(
        !tcp_reachable(&addr, PROBE).await,
        "port still answers after drop"
    );
    assert!(!dir.exists(), "temporary store not removed");
}

#[tokio::test]
async fn private_nats_refuses_a_busy_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    match PrivateNats::start(dir.path(), port).await {
        Err(Error::PortInUse { port: p, .. }) => assert_eq!(p, port),
        other => panic!("expected PortInUse, got {other:?}"),
    }
}

#[tokio::test]
async fn ensure_services_uses_the_running_services() {
    let dir = tempfile::tempdir().unwrap();
    let (db, nats) = (default_database_admin_url(), default_nats_url());
    let ensured = ensure_services(dir.path(), &db, &nats)
        .await
        .expect("ensure services");
    assert!(!ensured.postgres_is_private());
    assert!(!ensured.nats_is_private());
    assert_eq!(ensured.database_url(), db);
    assert_eq!(ensured.nats_url(), nats);
}

#[tokio::test]
async fn ensure_services_starts_a_private_nats_on_a_free_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let url = format!("nats://127.0.0.1:{port}");
    let ensured = ensure_services(dir.path(), &default_database_admin_url(), &url)
        .await
        .expect("ensure services");
    assert!(ensured.nats_is_private());
    assert!(!ensured.postgres_is_private());
    assert_eq!(ensured.nats_url(), url);

    let client = async_nats::connect(ensured.nats_url())
        .await
        .expect("connect");
    let js = jetstream::new(client.clone());
    let prefix = unique_prefix("ensure");
    js.create_stream(jetstream::stream::Config {
        name: prefix.clone(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .expect("JetStream enabled");
    let ack = js
        .publish(format!("{prefix}.x"), "x".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    assert_eq!(ack.sequence, 1);
    drop(js);
    drop(client);
    assert!(dir.path().join("nats").is_dir());

    drop(ensured);
    assert!(!tcp_reachable(&format!("127.0.0.1:{port}"), PROBE).await);
}

#[tokio::test]
async fn ensure_services_takes_a_cluster_url_when_any_node_answers() {
    let dir = tempfile::tempdir().unwrap();
    // the first node is down, the machine's broker answers as the second
    let down = format!("nats://127.0.0.1:{}", free_port().unwrap());
    let url = format!("{down}, {}", default_nats_url());
    let ensured = ensure_services(dir.path(), &default_database_admin_url(), &url)
        .await
        .expect("ensure services");
    assert!(
        !ensured.nats_is_private(),
        "no private broker beside a cluster"
    );
    assert_eq!(ensured.nats_url(), url);

    // no node answers: nothing is started in the cluster's place
    let other = format!("nats://127.0.0.1:{}", free_port().unwrap());
    let err = ensure_services(
        dir.path(),
        &default_database_admin_url(),
        &format!("{down},{other}"),
    )
    .await
    .expect_err("a cluster is never stood in for");
    assert!(matches!(err, Error::ClusterDown { .. }), "{err}");
    assert!(!dir.path().join("nats").exists());

    let err = ensure_services(
        dir.path(),
        &default_database_admin_url(),
        &format!("{down},,{other}"),
    )
    .await
    .expect_err("an empty entry");
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
}

#[tokio::test]
async fn ensure_services_rejects_unreachable_remote_hosts() {
    let dir = tempfile::tempdir().unwrap();
    // 192.0.2.0/24 is TEST-NET-1: never routed.
    let err = ensure_services(
        dir.path(),
        "postgres://postgres@192.0.2.1:5432/x",
        &default_nats_url(),
    )
    .await
    .expect_err("remote host cannot be started locally");
    assert!(matches!(err, Error::NotLocal { .. }), "{err}");
}

// Slow (a few seconds): runs initdb for a throw-away cluster.
#[tokio::test]
async fn private_postgres_initdb_start_select_and_cleanup() {
    let pg = PrivatePostgres::start_ephemeral()
        .await
        .expect("start postgres");
    let dir = pg.data_dir().to_owned();
    let port = pg.port();
    assert_eq!(
        pg.url(),
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );
    assert!(dir.join("pg/PG_VERSION").is_file());

    let mut conn = PgConnection::connect(&pg.url()).await.expect("connect");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();

    drop(pg);
    assert!(!tcp_reachable(&format!("127.0.0.1:{port}"), PROBE).await);
    assert!(!dir.exists(), "temporary cluster not removed");
}

// Slow (a few seconds): runs initdb, then restarts on the existing cluster.
#[tokio::test]
async fn ensure_services_starts_a_private_postgres_and_reuses_its_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let url = format!("postgres://egov_app@127.0.0.1:{port}/egov_app_db");

    let ensured = ensure_services(dir.path(), &url, &default_nats_url())
        .await
        .expect("ensure services");
    assert!(ensured.postgres_is_private());
    assert!(!ensured.nats_is_private());
    let mut conn = PgConnection::connect(ensured.database_url())
        .await
        .expect("connect as the URL's role to the URL's database");
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(user, "egov_app");
    sqlx::raw_sql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        .execute(&mut conn)
        .await
        .expect("create table");
    conn.close().await.unwrap();
    ensured.shutdown().await;
    assert!(!tcp_reachable(&format!("127.0.0.1:{port}"), PROBE).await);

    // Second start: no initdb, the data is still there.
    let ensured = ensure_services(dir.path(), &url, &default_nats_url())
        .await
        .expect("ensure services again");
    assert!(ensured.postgres_is_private());
    let mut conn = PgConnection::connect(ensured.database_url()).await.unwrap();
    let v: String = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(v, "still here");
    conn.close().await.unwrap();
    drop(ensured);

    let path = dir.path().to_owned();
    dir.close().expect("remove data dir");
    assert!(!path.exists());
}
