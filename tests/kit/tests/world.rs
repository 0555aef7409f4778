//! The world cleans up after itself: its inbox and the streams the test made are gone
//! once it is dropped.

use async_nats::jetstream;
use egov_testkit::{Options, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_world_deletes_its_streams() {
    let mut w = World::with(Options::new(&["shep"])).await;
    let inbox = w.names().stream();
    let own = format!("{}_OWN", w.prefix.to_ascii_uppercase());
    w.create_stream(jetstream::stream::Config {
        name: own.clone(),
        subjects: vec![format!("{}.own", w.prefix)],
        ..Default::default()
    })
    .await;
    let js = jetstream::new(
        async_nats::connect(egov_devenv::default_nats_url())
            .await
            .expect("NATS"),
    );
    assert!(
        js.get_stream(&own).await.is_ok(),
        "the test's stream exists"
    );
    assert!(js.get_stream(&inbox).await.is_ok(), "the inbox exists");
    drop(w);
    assert!(js.get_stream(&own).await.is_err(), "{own} is left behind");
    assert!(
        js.get_stream(&inbox).await.is_err(),
        "{inbox} is left behind"
    );
}
