//! The outbox: a signed application waits in it while the gateway cannot be reached, and
//! every retry carries the messageId fixed when the signature was accepted, so that a
//! send repeated after a lost answer registers one application at ИС МИО.

use egov_portal::{applications, citizens, outbox};

use crate::common::registered;
use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_retried_with_the_same_message_id_until_the_gateway_takes_it() {
    let (env, _running) = world(&["mio-almaty"]).await;
    // a second portal, not running: this test drives its relay by hand
    let core = idle_portal(&env, "portal_outbox").await;
    let live = env.w.client("portal");
    let iin = egov_synth::fixtures::iin_of("family-father").as_string();
    let citizen = citizens::register(
        &core,
        citizens::Registration {
            iin: iin.clone(),
            password: PASSWORD.into(),
            email: None,
        },
    )
    .await
    .unwrap();
    let reg = core
        .catalog
        .get("almaty-2013-housing-queue")
        .unwrap()
        .clone();
    let new: applications::NewApplication =
        serde_json::from_value(new_application(&reg, env.clock.today())).unwrap();
    let app = applications::create(&core, &citizen, new).await.unwrap();
    for d in reg.required_documents(&reg.categories[0].id) {
        let a: applications::NewAttachment = serde_json::from_value(scan(&d.id)).unwrap();
        applications::attach(&core, &iin, &app.number, a)
            .await
            .unwrap();
    }
    let bytes = applications::sign_request(&core, &citizen, &app.number)
        .await
        .unwrap();
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD
        .encode(cms(&env.citizen("family-father"), &bytes));
    let signed = applications::sign(&core, &citizen, &app.number, &signature)
        .await
        .unwrap();
    let message_id = signed.message_id.clone().unwrap();
    let row = || async {
        sqlx::query_as::<_, (String, i32, Option<String>, bool)>(
            "select message_id, attempts, last_error, sent_at is not null from outbox",
        )
        .fetch_one(&core.pool)
        .await
        .unwrap()
    };
    // the gateway cannot be reached: the row waits, its messageId unchanged
    let dead = env
        .w
        .client_to("portal", "portal", "shep", "127.0.0.1:1".parse().unwrap());
    assert_eq!(outbox::send_batch(&core, &dead).await.unwrap(), 1);
    let (id, attempts, error, sent) = row().await;
    assert_eq!(
        (id.as_str(), attempts, sent),
        (message_id.as_str(), 1, false)
    );
    assert!(error.is_some());
    // not due again before its back-off
    assert_eq!(outbox::send_batch(&core, &live).await.unwrap(), 0);
    env.clock.advance(time::Duration::seconds(5));
    assert_eq!(outbox::send_batch(&core, &live).await.unwrap(), 1);
    let (id, attempts, _, sent) = row().await;
    assert_eq!(
        (id.as_str(), attempts, sent),
        (message_id.as_str(), 2, true)
    );
    let delivered = applications::by_number(&core.pool, &app.number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.state, "delivered");
    let at_mio = registered(&env, "mio-almaty", &message_id).await;
    assert_eq!(at_mio.applicant_iin, iin);
    // the answer lost after the gateway took it: the send again is the same message
    sqlx::query("update outbox set sent_at = null")
        .execute(&core.pool)
        .await
        .unwrap();
    // (due again once the lease of the last attempt has passed)
    env.clock.advance(time::Duration::seconds(31));
    assert_eq!(outbox::send_batch(&core, &live).await.unwrap(), 1);
    assert!(row().await.3, "taken again as the same message");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let copies: i64 =
        sqlx::query_scalar("select count(*) from applications where applicant_iin = $1")
            .bind(&iin)
            .fetch_one(&env.mio("mio-almaty").engine.pool)
            .await
            .unwrap();
    assert_eq!(copies, 1);
}
