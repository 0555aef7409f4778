//! The gateway journal against a real PostgreSQL: one fresh database per
//! test (`EGOV_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! The benchmark is ignored by default:
//! `cargo test --release -p egov-tests --test gateway journal:: -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use egov_devenv::TestDatabase;
use egov_gateway::journal::*;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;

struct Db {
    pool: PgPool,
    db: TestDatabase,
}

impl Db {
    async fn new() -> Self {
        let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "journal")
            .await
            .expect("fresh database");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&db.url)
            .await
            .expect("connect to the test database");
        egov_gateway::MIGRATOR.run(&pool).await.expect("migrations");
        Self { pool, db }
    }

    async fn journal(&self, options: JournalOptions) -> Journal {
        Journal::open(self.pool.clone(), options)
            .await
            .expect("open journal")
    }

    /// Runs `sql` the way an intruder with the database's rights would: past the
    /// triggers that refuse UPDATE, DELETE and TRUNCATE.
    async fn tamper(&self, sql: &str) {
        let mut tx = self.pool.begin().await.unwrap();
        sqlx::query("set local session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn seqs(&self, gateway_id: &str) -> Vec<i64> {
        sqlx::query_scalar("select seq from journal where gateway_id = $1 order by seq")
            .bind(gateway_id)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    async fn drop(self) {
        self.pool.close().await;
        self.db.drop_database().await.expect("drop test database");
    }
}

fn record(gateway_id: &str, message_id: &str) -> Record {
    let payload = format!("<request id=\"{message_id}\"/>");
    let now = OffsetDateTime::now_utc();
    Record {
        gateway_id: gateway_id.into(),
        event: Event::RequestIn,
        channel: Channel::Sync,
        message_id: message_id.into(),
        correlation_id: format!("corr-{message_id}"),
        service_id: "gbdfl.person-by-iin".into(),
        sender_id: "egov-portal".into(),
        recipient_id: Some("gbdfl".into()),
        message_type: "request".into(),
        region: None,
        route: vec![gateway_id.into()],
        payload_size: payload.len() as i64,
        signature_size: 1824,
        payload_sha256: hex::encode(Sha256::digest(payload.as_bytes())),
        signer_serial: Some("4F1A0C".into()),
        verification: "ok".into(),
        status_code: "SCSS001".into(),
        status_message: "processed successfully".into(),
        at: now,
        request_in_at: Some(now),
        request_out_at: None,
        response_in_at: None,
        response_out_at: None,
        duration_ms: None,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

/// What a record looks like once stored: microsecond timestamps.
fn as_stored(mut r: Record) -> Record {
    r.at = truncate_to_micros(r.at);
    for t in [
        &mut r.request_in_at,
        &mut r.request_out_at,
        &mut r.response_in_at,
        &mut r.response_out_at,
    ]
    .into_iter()
    .flatten()
    {
        *t = truncate_to_micros(*t);
    }
    r
}

fn key(found: &[StoredRecord]) -> Vec<(String, i64)> {
    found
        .iter()
        .map(|s| (s.record.gateway_id.clone(), s.seq))
        .collect()
}

fn k(gateway_id: &str, seq: i64) -> (String, i64) {
    (gateway_id.to_owned(), seq)
}

async fn append_n(journal: &Journal, gateway_id: &str, n: usize) {
    for i in 0..n {
        journal
            .append(record(gateway_id, &format!("{gateway_id}-{i}")))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn append_and_search_by_each_filter() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::hours(1);
    let sec = time::Duration::SECOND;

    // Nanoseconds on purpose: they must not survive, nor break the hash.
    let mut a = record("shep", "m1");
    a.correlation_id = "c1".into();
    a.at = t0 + time::Duration::nanoseconds(123_456_789);
    a.request_in_at = Some(a.at);
    let mut b = record("shep", "m2");
    b.event = Event::ResponseOut;
    b.correlation_id = "c1".into();
    b.sender_id = "s2".into();
    b.at = t0 + sec;
    b.response_out_at = Some(b.at);
    b.duration_ms = Some(42);
    let mut c = record("rshep-almaty", "m3");
    c.channel = Channel::Async;
    c.event = Event::Published;
    c.correlation_id = "c2".into();
    c.service_id = "svc-b".into();
    c.region = Some("almaty".into());
    c.recipient_id = None;
    c.route = vec!["shep".into(), "rshep-almaty".into()];
    c.at = t0 + 2 * sec;
    let mut d = record("rshep-almaty", "m1");
    d.event = Event::RequestOut;
    d.correlation_id = "c1".into();
    d.verification = "bad-signature".into();
    d.signer_serial = None;
    d.trace_id = None;
    d.route = vec![];
    d.at = t0 + 3 * sec;

    assert_eq!(journal.append(a.clone()).await.unwrap(), 1);
    assert_eq!(journal.append(b.clone()).await.unwrap(), 2);
    assert_eq!(journal.append(c.clone()).await.unwrap(), 1);
    assert_eq!(journal.append(d.clone()).await.unwrap(), 2);

    let search = |f: Filter| {
        let journal = journal.clone();
        async move { journal.search(&f).await.unwrap() }
    };

    // Round trip: every field back, timestamps truncated to microseconds.
    let found = search(Filter {
        message_id: Some("m1".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("rshep-almaty", 2), k("shep", 1)]);
    assert_eq!(found[1].record, as_stored(a.clone()));
    assert_ne!(found[1].record.at, a.at);
    assert_eq!(found[1].record.at.nanosecond(), 123_456_000);
    assert_eq!(found[0].record, as_stored(d.clone()));
    assert_eq!(found[1].prev_hash, GENESIS_HASH);
    assert_eq!(
        found[1].hash,
        record_hash(1, GENESIS_HASH, &found[1].record)
    );

    let found = search(Filter {
        correlation_id: Some("c1".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(
        key(&found),
        [k("rshep-almaty", 2), k("shep", 2), k("shep", 1)]
    );
    assert_eq!(found[1].record, as_stored(b.clone()));
    assert_eq!(found[1].prev_hash, found[2].hash, "shep 2 links to shep 1");

    let found = search(Filter {
        sender_id: Some("s2".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("shep", 2)]);

    let found = search(Filter {
        service_id: Some("svc-b".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("rshep-almaty", 1)]);
    assert_eq!(found[0].record, as_stored(c.clone()));

    let found = search(Filter {
        gateway_id: Some("rshep-almaty".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("rshep-almaty", 2), k("rshep-almaty", 1)]);

    // [from, to): b sits exactly on `from`, d exactly on `to`.
    let found = search(Filter {
        from: Some(t0 + sec),
        to: Some(t0 + 3 * sec),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("rshep-almaty", 1), k("shep", 2)]);
    // a's `at` is t0 + 0.123456789 s, stored as t0 + 0.123456 s: a bound
    // between the two excludes it, as it would have excluded the original.
    let found = search(Filter {
        from: Some(t0 + time::Duration::nanoseconds(123_456_500)),
        to: Some(t0 + sec),
        ..Filter::default()
    })
    .await;
    assert!(found.is_empty(), "{:?}", key(&found));
    let found = search(Filter {
        to: Some(t0 + time::Duration::nanoseconds(123_456_500)),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("shep", 1)]);

    let found = search(Filter {
        sender_id: Some("egov-portal".into()),
        gateway_id: Some("shep".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("shep", 1)]);

    // Limits: newest first, capped, and refused below 1.
    let found = search(Filter {
        limit: Some(2),
        ..Filter::default()
    })
    .await;
    assert_eq!(key(&found), [k("rshep-almaty", 2), k("rshep-almaty", 1)]);
    assert_eq!(
        search(Filter {
            limit: Some(1_000_000),
            ..Filter::default()
        })
        .await
        .len(),
        4
    );
    assert!(matches!(
        journal
            .search(&Filter {
                limit: Some(0),
                ..Filter::default()
            })
            .await,
        Err(Error::InvalidFilter(_))
    ));
    assert!(
        search(Filter {
            message_id: Some("nope".into()),
            ..Filter::default()
        })
        .await
        .is_empty()
    );

    let report = journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    let gateways: Vec<_> = report
        .chains
        .iter()
        .map(|c| c.gateway_id.as_str())
        .collect();
    assert_eq!(gateways, ["rshep-almaty", "shep"]);
    assert!(report.chains.iter().all(|c| c.rows == 2 && c.head_seq == 2));

    journal.shutdown().await;
    db.drop().await;
}

/// Sub-microsecond parts are cut before hashing and storing. sqlx alone
/// would round instants before 2000-01-01 the other way (towards its
/// epoch), and the stored row would no longer match its hash.
#[tokio::test]
async fn timestamps_are_cut_to_microseconds_before_hashing() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    let mut r = record("shep", "old-clock");
    r.at = time::macros::datetime!(1999-12-31 23:59:59.123456789 UTC);
    r.request_in_at = Some(time::macros::datetime!(1969-07-20 20:17:40.000000999 UTC));
    r.response_out_at = Some(time::macros::datetime!(2030-01-01 00:00:00.000000001 +05:00));
    journal.append(r.clone()).await.unwrap();
    let found = journal.search(&Filter::default()).await.unwrap();
    assert_eq!(
        found[0].record.at,
        time::macros::datetime!(1999-12-31 23:59:59.123456 UTC)
    );
    assert_eq!(
        found[0].record.request_in_at,
        Some(time::macros::datetime!(1969-07-20 20:17:40 UTC))
    );
    assert_eq!(found[0].record, as_stored(r));
    let report = journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_make_contiguous_chains() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let journal = journal.clone();
            let gateway = if i % 2 == 0 { "shep" } else { "rshep-almaty" };
            tokio::spawn(async move {
                let seq = journal
                    .append(record(gateway, &format!("msg-{i}")))
                    .await
                    .unwrap();
                (gateway, seq)
            })
        })
        .collect();
    let mut by_gateway: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for t in tasks {
        let (g, seq) = t.await.unwrap();
        by_gateway.entry(g).or_default().push(seq);
    }
    let expected: Vec<i64> = (1..=250).collect();
    for (g, mut seqs) in by_gateway {
        seqs.sort_unstable();
        assert_eq!(seqs, expected, "{g}");
        assert_eq!(db.seqs(g).await, expected, "{g}");
    }
    let report = journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chains.len(), 2);
    assert!(
        report
            .chains
            .iter()
            .all(|c| c.rows == 250 && c.head_seq == 250)
    );
    journal.shutdown().await;
    db.drop().await;
}

/// The launcher's layout: one journal per gateway, all in one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_journal_per_gateway_in_one_database() {
    let db = Db::new().await;
    let gateways = ["shep", "rshep-almaty", "rshep-astana", "rshep-shymkent"];
    let mut tasks = Vec::new();
    let mut journals = Vec::new();
    for g in gateways {
        let journal = db.journal(JournalOptions::default()).await;
        for i in 0..60 {
            let journal = journal.clone();
            tasks.push(tokio::spawn(async move {
                journal.append(record(g, &format!("m{i}"))).await.unwrap()
            }));
        }
        journals.push(journal);
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected: Vec<i64> = (1..=60).collect();
    for g in gateways {
        assert_eq!(db.seqs(g).await, expected, "{g}");
    }
    let report = journals[0].verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chains.len(), 4);
    for j in journals {
        j.shutdown().await;
    }
    db.drop().await;
}

#[tokio::test]
async fn an_edited_row_is_reported() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    append_n(&journal, "shep", 5).await;
    append_n(&journal, "rshep-almaty", 3).await;

    // The application cannot rewrite the log...
    let err = sqlx::query("update journal set status_code = 'SCSS001' where seq = 1")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    // ...and whoever gets past the trigger is caught.
    db.tamper("update journal set status_code = 'ERR500' where gateway_id = 'shep' and seq = 2")
        .await;
    db.tamper(
        "update journal set route = array['shep', 'elsewhere'] where gateway_id = 'shep' and seq = 4",
    )
    .await;
    db.tamper(
        "update journal set at = at + interval '1 microsecond' \
         where gateway_id = 'rshep-almaty' and seq = 3",
    )
    .await;

    let report = journal.verify(None).await.unwrap();
    assert!(!report.ok());
    assert_eq!(
        report.chain("shep").unwrap().problems,
        [Problem::Edited { seq: 2 }, Problem::Edited { seq: 4 }]
    );
    assert_eq!(
        report.chain("rshep-almaty").unwrap().problems,
        [Problem::Edited { seq: 3 }]
    );
    assert_eq!(
        journal.verify(Some("shep")).await.unwrap().chains,
        [report.chain("shep").unwrap().clone()]
    );
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn a_row_deleted_in_the_middle_is_missing() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    append_n(&journal, "shep", 6).await;
    db.tamper("delete from journal where seq in (3, 4)").await;
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(
        report.chains[0].problems,
        [Problem::Missing {
            after_seq: 2,
            next_seq: 5
        }]
    );
    assert_eq!(report.chains[0].rows, 4);
    assert_eq!(
        report.chains[0].problems[0].to_string(),
        "rows 3 to 4 are missing"
    );
    db.tamper("delete from journal where seq = 1").await;
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(
        report.chains[0].problems,
        [
            Problem::Missing {
                after_seq: 0,
                next_seq: 2
            },
            Problem::Missing {
                after_seq: 2,
                next_seq: 5
            }
        ]
    );
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn a_deleted_last_row_is_missing_through_the_head() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    append_n(&journal, "shep", 5).await;
    db.tamper("delete from journal where seq = 5").await;
    let missing = Problem::Missing {
        after_seq: 4,
        next_seq: 6,
    };
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(report.chains[0].problems, [missing]);
    assert_eq!(report.chains[0].head_seq, 5);

    // A journal opened afterwards continues after the head: seq 5 is not
    // reused, so the hole stays visible.
    journal.shutdown().await;
    let journal = db.journal(JournalOptions::default()).await;
    assert_eq!(journal.append(record("shep", "later")).await.unwrap(), 6);
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(report.chains[0].problems, [missing]);

    // Deleting the head too hides nothing: the head is then missing.
    db.tamper("delete from journal where seq = 6").await;
    db.tamper("delete from journal_head").await;
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(
        report.chains[0].problems,
        [Problem::HeadMismatch {
            head_seq: 0,
            last_seq: 4
        }]
    );
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn a_changed_prev_hash_is_a_broken_link() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    append_n(&journal, "shep", 5).await;
    append_n(&journal, "rshep-almaty", 5).await;
    db.tamper(&format!(
        "update journal set prev_hash = '{}' where gateway_id = 'shep' and seq = 3",
        "1".repeat(64)
    ))
    .await;

    // An intruder who knows the algorithm edits row 3 and recomputes its
    // hash: the row is self-consistent, but row 4 no longer links to it.
    let mut row3 = journal
        .search(&Filter {
            gateway_id: Some("rshep-almaty".into()),
            message_id: Some("rshep-almaty-2".into()),
            ..Filter::default()
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row3.seq, 3);
    row3.record.status_code = "ERR500".into();
    let forged = record_hash(3, &row3.prev_hash, &row3.record);
    db.tamper(&format!(
        "update journal set status_code = 'ERR500', hash = '{forged}' \
         where gateway_id = 'rshep-almaty' and seq = 3"
    ))
    .await;

    let report = journal.verify(None).await.unwrap();
    assert_eq!(
        report.chain("shep").unwrap().problems,
        [Problem::BrokenLink { seq: 3 }]
    );
    assert_eq!(
        report.chain("rshep-almaty").unwrap().problems,
        [Problem::BrokenLink { seq: 4 }]
    );
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn purge_removes_a_prefix_and_keeps_the_chain_verifiable() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    let t0 = OffsetDateTime::now_utc() - time::Duration::days(100);
    let minute = time::Duration::MINUTE;
    for i in 1..=10i64 {
        let mut r = record("shep", &format!("shep-{i}"));
        // Row 7 happened long ago but was logged late (e.g. a delayed
        // async delivery report).
        r.at = if i == 7 {
            t0 - 60 * minute
        } else {
            t0 + time::Duration::minutes(i)
        };
        journal.append(r).await.unwrap();
    }
    for i in 1..=3i64 {
        let mut r = record("rshep-almaty", &format!("almaty-{i}"));
        r.at = t0 + time::Duration::minutes(100 + i);
        journal.append(r).await.unwrap();
    }

    // Rows 1..3 are older than the cutoff, and so is row 7: the prefix up
    // to 7 goes, rows 4..6 with it (never a hole).
    let cutoff = t0 + 3 * minute + time::Duration::SECOND;
    assert_eq!(journal.purge_before(cutoff).await.unwrap(), 7);
    assert_eq!(db.seqs("shep").await, [8, 9, 10]);
    assert_eq!(db.seqs("rshep-almaty").await, [1, 2, 3]);
    let anchor: (i64, String) =
        sqlx::query_as("select seq, hash from journal_anchor where gateway_id = 'shep'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(anchor.0, 7);
    let row8 = journal
        .search(&Filter {
            message_id: Some("shep-8".into()),
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(row8[0].prev_hash, anchor.1);

    let report = journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chain("shep").unwrap().rows, 3);

    for purged in ["shep-1", "shep-5", "shep-7"] {
        let found = journal
            .search(&Filter {
                message_id: Some(purged.into()),
                ..Filter::default()
            })
            .await
            .unwrap();
        assert!(found.is_empty(), "{purged} is still there");
    }
    let found = journal
        .search(&Filter {
            gateway_id: Some("shep".into()),
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(key(&found), [k("shep", 10), k("shep", 9), k("shep", 8)]);

    // The chain goes on, and purging again is a no-op.
    assert_eq!(journal.append(record("shep", "shep-11")).await.unwrap(), 11);
    assert_eq!(journal.purge_before(cutoff).await.unwrap(), 0);
    assert!(journal.verify(None).await.unwrap().ok());

    // A hole right after the anchor is still seen.
    db.tamper("delete from journal where gateway_id = 'shep' and seq = 8")
        .await;
    assert_eq!(
        journal.verify(Some("shep")).await.unwrap().chains[0].problems,
        [Problem::Missing {
            after_seq: 7,
            next_seq: 9
        }]
    );

    // Purging everything leaves anchor = head; a new journal continues.
    let everything = OffsetDateTime::now_utc() + time::Duration::days(1);
    assert_eq!(journal.purge_before(everything).await.unwrap(), 3 + 3);
    journal.shutdown().await;
    let journal = db.journal(JournalOptions::default()).await;
    let report = journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert!(report.chains.iter().all(|c| c.rows == 0));
    assert_eq!(journal.append(record("shep", "shep-12")).await.unwrap(), 12);
    assert_eq!(
        journal
            .append(record("rshep-almaty", "almaty-4"))
            .await
            .unwrap(),
        4
    );
    assert!(journal.verify(None).await.unwrap().ok());
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn a_database_error_fails_the_batch_and_leaves_no_gap() {
    let db = Db::new().await;
    // A constraint the journal does not check up front, standing in for any
    // failure of the database.
    sqlx::query("alter table journal add constraint test_no_poison check (message_id <> 'poison')")
        .execute(&db.pool)
        .await
        .unwrap();
    let journal = db
        .journal(JournalOptions {
            max_batch: 64,
            max_delay: Duration::from_millis(500),
        })
        .await;
    assert_eq!(journal.append(record("shep", "first")).await.unwrap(), 1);

    // One poisoned record fails everyone in its batch...
    let tasks: Vec<_> = ["good-a", "poison", "good-b", "good-c"]
        .into_iter()
        .map(|m| {
            let journal = journal.clone();
            tokio::spawn(async move { journal.append(record("shep", m)).await })
        })
        .collect();
    for t in tasks {
        let result = t.await.unwrap();
        assert!(matches!(result, Err(Error::Database(_))), "{result:?}");
    }
    // ...and alone too; the next append takes the next seq.
    let err = journal.append(record("shep", "poison")).await.unwrap_err();
    assert!(err.to_string().contains("test_no_poison"), "{err}");
    assert_eq!(journal.append(record("shep", "second")).await.unwrap(), 2);
    assert_eq!(db.seqs("shep").await, [1, 2]);
    assert!(journal.verify(None).await.unwrap().ok());
    journal.shutdown().await;
    db.drop().await;
}

#[tokio::test]
async fn an_invalid_record_is_refused_before_the_database() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    let mut bad = record("", "m1");
    bad.gateway_id.clear();
    assert!(matches!(
        journal.append(bad).await,
        Err(Error::InvalidRecord(_))
    ));
    let mut bad = record("shep", "m1");
    bad.payload_sha256 = "not a digest".into();
    assert!(matches!(
        journal.append(bad).await,
        Err(Error::InvalidRecord(_))
    ));
    // The database refuses it as well.
    let err = sqlx::query(
        "insert into journal (gateway_id, seq, event, channel, message_id, correlation_id, \
         service_id, sender_id, message_type, route, payload_size, signature_size, \
         payload_sha256, verification, status_code, status_message, at, prev_hash, hash) \
         values ('', 1, 'request_in', 'sync', 'm', 'c', 's', 's', 't', '{}', 0, 0, \
         repeat('0', 64), 'ok', 'S', 'S', now(), repeat('0', 64), repeat('0', 64))",
    )
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("journal_gateway_id_not_empty"),
        "{err}"
    );
    assert_eq!(journal.append(record("shep", "m1")).await.unwrap(), 1);
    journal.shutdown().await;
    db.drop().await;
}

/// The writer keeps a connection of its own between batches. When the server ends it,
/// the batch that meets the loss fails like any other (no row, no gap) and the next
/// append opens a new connection and continues the chain.
#[tokio::test]
async fn the_writer_opens_a_new_connection_when_its_own_is_lost() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    assert_eq!(journal.append(record("shep", "m1")).await.unwrap(), 1);
    let writers = "select pid from pg_stat_activity \
                   where application_name = $1 and datname = current_database()";
    let pids: Vec<i32> = sqlx::query_scalar(writers)
        .bind(WRITER_APPLICATION_NAME)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(pids.len(), 1, "one connection of its own: {pids:?}");
    let ended: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(pids[0])
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(ended);
    let lost = journal.append(record("shep", "m2")).await;
    assert!(matches!(lost, Err(Error::Database(_))), "{lost:?}");
    assert_eq!(journal.append(record("shep", "m3")).await.unwrap(), 2);
    let again: Vec<i32> = sqlx::query_scalar(writers)
        .bind(WRITER_APPLICATION_NAME)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(again[0], pids[0]);
    assert_eq!(db.seqs("shep").await, [1, 2]);
    let report = journal.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    journal.shutdown().await;
    db.drop().await;
}

/// Not supported, but safe: a second writer of the same chain gets errors,
/// never a fork.
#[tokio::test]
async fn two_writers_of_one_chain_clash_instead_of_forking() {
    let db = Db::new().await;
    let first = db.journal(JournalOptions::default()).await;
    let second = db.journal(JournalOptions::default()).await;
    assert_eq!(first.append(record("shep", "a")).await.unwrap(), 1);
    assert_eq!(second.append(record("shep", "b")).await.unwrap(), 2);
    // `first` still believes the chain ends at 1.
    let err = first.append(record("shep", "c")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // It reloaded the tail: the retry continues the chain.
    assert_eq!(first.append(record("shep", "c")).await.unwrap(), 3);
    assert_eq!(db.seqs("shep").await, [1, 2, 3]);
    let report = first.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    first.shutdown().await;
    second.shutdown().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_writes_what_is_queued() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    assert_eq!(journal.append(record("shep", "m0")).await.unwrap(), 1);
    // Stall the writer: its next batch waits for this lock, while the
    // appends after it queue up.
    let mut lock = db.pool.begin().await.unwrap();
    sqlx::query("lock table journal in exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let tasks: Vec<_> = (1..=50)
        .map(|i| {
            let journal = journal.clone();
            tokio::spawn(async move { journal.append(record("shep", &format!("m{i}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let survivor = journal.clone();
    let shutdown = tokio::spawn(journal.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!shutdown.is_finished(), "shutdown must wait for the queue");
    assert!(tasks.iter().all(|t| !t.is_finished()));
    lock.rollback().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), shutdown)
        .await
        .expect("shutdown finishes once the database answers")
        .unwrap();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=51).collect::<Vec<i64>>());
    assert!(matches!(
        survivor.append(record("shep", "late")).await,
        Err(Error::Closed)
    ));
    // Reading still works.
    let report = survivor.verify(None).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chains[0].rows, 51);
    db.drop().await;
}

/// More rows than one verification chunk (10,000), with a hole right at
/// the chunk boundary.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_streams_long_chains() {
    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    let total = 10_003;
    run_appenders(&journal, "shep", total, 32).await;
    let report = journal.verify(Some("shep")).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chains[0].rows, total as u64);
    db.tamper("delete from journal where seq in (10000, 10001)")
        .await;
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(
        report.chains[0].problems,
        [Problem::Missing {
            after_seq: 9_999,
            next_seq: 10_002
        }]
    );
    journal.shutdown().await;
    db.drop().await;
}

/// Appends `total` records to `gateway_id` from `appenders` concurrent
/// tasks; returns how long it took.
async fn run_appenders(
    journal: &Journal,
    gateway_id: &str,
    total: usize,
    appenders: usize,
) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|a| {
            let journal = journal.clone();
            let gateway_id = gateway_id.to_owned();
            tokio::spawn(async move {
                for i in (a..total).step_by(appenders) {
                    journal
                        .append(record(&gateway_id, &format!("m{i}")))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark; run with --ignored --nocapture (in --release)"]
async fn bench_batching() {
    const TOTAL: usize = 5_000;
    const APPENDERS: usize = 32;
    let db = Db::new().await;
    for (label, max_batch) in [
        ("batching on, max_batch 256", 256),
        ("batching off, max_batch 1", 1),
    ] {
        let journal = db
            .journal(JournalOptions {
                max_batch,
                ..JournalOptions::default()
            })
            .await;
        let gateway_id = format!("bench-{max_batch}");
        let elapsed = run_appenders(&journal, &gateway_id, TOTAL, APPENDERS).await;
        let report = journal.verify(Some(&gateway_id)).await.unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.chains[0].rows, TOTAL as u64);
        journal.shutdown().await;
        println!(
            "journal {label}: {TOTAL} appends from {APPENDERS} tasks in {:.3} s = {:.0} appends/s",
            elapsed.as_secs_f64(),
            TOTAL as f64 / elapsed.as_secs_f64()
        );
    }
    db.drop().await;
}

/// The error of running `sql` on `pool`, which must fail.
async fn refused(pool: &PgPool, sql: &str) -> String {
    match sqlx::query(sql).execute(pool).await {
        Ok(r) => panic!("{sql}: done, {} rows", r.rows_affected()),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn the_gateways_role_appends_to_its_log_and_cannot_rewrite_it() {
    let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "jrole")
        .await
        .unwrap();
    // the administrator's step: a role per service, each owning its schema alone
    let url = egov_db::provision(&db.url, "gateway", None).await.unwrap();
    let other = egov_db::provision(&db.url, "gbd_fl", None).await.unwrap();
    let gbd = egov_db::pool(&other, "gbd_fl", 1).await.unwrap();
    sqlx::query("create table persons (iin text)")
        .execute(&gbd)
        .await
        .unwrap();
    // the gateway migrates and writes as its role
    let pool = egov_db::pool(&url, "gateway", 4).await.unwrap();
    let me: (String, bool, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolcreatedb, rolcreaterole from pg_roles \
         where rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(me, ("egov_gateway".into(), false, false, false));
    egov_gateway::MIGRATOR.run(&pool).await.unwrap();
    let journal = Journal::open(pool.clone(), JournalOptions::default())
        .await
        .unwrap();
    let t0 = OffsetDateTime::now_utc() - time::Duration::days(2);
    for i in 0..5 {
        let mut r = record("shep", &format!("m-{i}"));
        r.at = t0 + time::Duration::minutes(i);
        journal.append(r).await.unwrap();
    }

    // nothing of the log can be rewritten, emptied or cut short by its own writer
    for sql in [
        "truncate journal",
        "truncate journal_head",
        "truncate journal_anchor",
        "update journal set status_code = 'ERR500' where seq = 2",
        "delete from journal_head",
        "delete from journal_anchor",
    ] {
        let e = refused(&pool, sql).await;
        assert!(e.contains("permission denied"), "{sql}: {e}");
    }
    for sql in [
        "delete from journal where seq = 2",
        "delete from journal where seq = 5",
        "update journal_head set seq = 1",
    ] {
        let e = refused(&pool, sql).await;
        assert!(
            e.contains("append-only") || e.contains("only moves forward"),
            "{sql}: {e}"
        );
    }
    // a grant back is possible for the owner, the triggers still refuse
    sqlx::query("grant truncate, update on journal to current_user")
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        refused(&pool, "truncate journal")
            .await
            .contains("TRUNCATE refused")
    );
    assert!(
        refused(&pool, "update journal set seq = seq")
            .await
            .contains("append-only")
    );
    // retention still cuts an anchored prefix
    let cutoff = t0 + time::Duration::minutes(2) + time::Duration::SECOND;
    assert_eq!(journal.purge_before(cutoff).await.unwrap(), 3);
    assert!(journal.verify(Some("shep")).await.unwrap().ok());

    // and another service's schema is closed to it, both ways
    let e = refused(&pool, "select * from gbd_fl.persons").await;
    assert!(e.contains("permission denied"), "{e}");
    let e = refused(&gbd, "select * from gateway.journal").await;
    assert!(e.contains("permission denied"), "{e}");
    let e = refused(&pool, "create schema intruder").await;
    assert!(e.contains("permission denied"), "{e}");
    journal.shutdown().await;
    pool.close().await;
    gbd.close().await;
    db.drop_database().await.unwrap();
}

/// The rows of `gateway_id`'s chain, by seq.
async fn chain_rows(journal: &Journal, gateway_id: &str) -> Vec<StoredRecord> {
    let mut rows = journal
        .search(&Filter {
            gateway_id: Some(gateway_id.into()),
            ..Filter::default()
        })
        .await
        .unwrap();
    rows.sort_by_key(|r| r.seq);
    rows
}

#[tokio::test]
async fn a_chain_rebuilt_by_a_database_writer_fails_against_the_gateways_signed_head() {
    egov_grpc::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    egov_pki::PkiDir::init(
        &pki,
        &dir.path().join("ca"),
        &egov_pki::dir::InitOptions {
            algorithm: egov_pki::KeyAlgorithm::EcdsaP256,
            ..Default::default()
        },
    )
    .unwrap();
    let shep = egov_shep_client::SystemSigner::load(&pki, "shep").unwrap();
    let verifier = egov_shep_client::envelope::pki_verifier(&pki, None).unwrap();

    let db = Db::new().await;
    let journal = db.journal(JournalOptions::default()).await;
    assert_eq!(
        journal
            .sign_head("shep", &egov_gateway::HeadsSignedBy(&shep))
            .await
            .unwrap(),
        None
    );
    append_n(&journal, "shep", 5).await;
    assert_eq!(
        journal
            .sign_head("shep", &egov_gateway::HeadsSignedBy(&shep))
            .await
            .unwrap(),
        Some(5)
    );
    assert_eq!(
        journal
            .sign_head("shep", &egov_gateway::HeadsSignedBy(&shep))
            .await
            .unwrap(),
        None
    );
    let report = journal
        .verify_signed(Some("shep"), &verifier)
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.chains[0].signed_seq, 5);

    // A database writer rewrites row 2 and rebuilds the chain after it, hashes, links
    // and journal_head included: the chain alone looks intact...
    let rows = chain_rows(&journal, "shep").await;
    let mut prev = rows[0].hash.clone();
    for row in &rows[1..] {
        let mut record = row.record.clone();
        if row.seq == 2 {
            record.status_code = "ERR500".into();
        }
        let hash = record_hash(row.seq, &prev, &record);
        db.tamper(&format!(
            "update journal set status_code = '{}', prev_hash = '{prev}', hash = '{hash}' \
             where gateway_id = 'shep' and seq = {}",
            record.status_code, row.seq
        ))
        .await;
        prev = hash;
    }
    db.tamper(&format!(
        "update journal_head set hash = '{prev}' where gateway_id = 'shep'"
    ))
    .await;
    let structural = [Problem::SignedHeadMismatch { seq: 5 }];
    // ...but its last row is not the one the gateway signed
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(report.chains[0].problems, structural, "{report:?}");
    assert!(
        report.chains[0].problems[0]
            .to_string()
            .contains("rewritten")
    );

    // Forging the signed head along with it: its hash now fits, its signature does not
    db.tamper(&format!(
        "update journal_heads set hash = '{prev}' where gateway_id = 'shep' and seq = 5"
    ))
    .await;
    assert!(journal.verify(Some("shep")).await.unwrap().ok());
    let report = journal
        .verify_signed(Some("shep"), &verifier)
        .await
        .unwrap();
    assert_eq!(
        report.chains[0].problems,
        [Problem::BadHeadSignature { seq: 5 }]
    );

    // nor does another system's valid signature over the forged head pass
    let portal = egov_shep_client::SystemSigner::load(&pki, "portal").unwrap();
    let forged = portal
        .sign_detached(&head_message("shep", 5, &prev))
        .unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("update journal_heads set signature = $1 where gateway_id = 'shep' and seq = 5")
        .bind(&forged)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let report = journal
        .verify_signed(Some("shep"), &verifier)
        .await
        .unwrap();
    assert_eq!(
        report.chains[0].problems,
        [Problem::BadHeadSignature { seq: 5 }]
    );

    // Cutting the signed rows off is no way out either
    db.tamper("delete from journal where gateway_id = 'shep' and seq >= 4")
        .await;
    db.tamper("update journal_head set seq = 3 where gateway_id = 'shep'")
        .await;
    db.tamper(&format!(
        "update journal_head set hash = '{}' where gateway_id = 'shep'",
        chain_rows(&journal, "shep").await[2].hash
    ))
    .await;
    let report = journal.verify(Some("shep")).await.unwrap();
    assert_eq!(report.chains[0].problems, structural, "{report:?}");
    journal.shutdown().await;
    db.drop().await;
}
