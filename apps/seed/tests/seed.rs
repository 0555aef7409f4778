//! Seeding both registries into a real PostgreSQL: counts, determinism, refusal of a
//! non-empty registry, atomicity, and the keys the load rebuilds.

use egov_seed::{Error, Options, seed};
use egov_synth::fixtures;
use sqlx::{Connection, PgConnection};

async fn fresh() -> egov_devenv::TestDatabase {
    egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "seed")
        .await
        .unwrap()
}

fn as_of() -> time::Date {
    egov_synth::date(2026, 6, 1)
}

async fn digest(url: &str) -> (String, String, String) {
    let mut c = PgConnection::connect(url).await.unwrap();
    let q = |sql: &'static str| sql;
    let persons: String = sqlx::query_scalar(q(
        "select md5(string_agg(p::text, '|' order by iin)) from gbd_fl.persons p",
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    let links: String = sqlx::query_scalar(q(
        "select md5(string_agg(l::text, '|' order by person, relative)) from gbd_fl.family_links l",
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    let poas: String = sqlx::query_scalar(q(
        "select md5(string_agg(p::text, '|' order by number)) from enis.powers_of_attorney p",
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    (persons, links, poas)
}

async fn indexes(url: &str) -> Vec<String> {
    let mut c = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "select indexdef from pg_indexes where schemaname in ('gbd_fl', 'enis') order by indexname, indexdef",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

#[tokio::test]
async fn seeds_deterministically_and_refuses_to_overwrite() {
    let db = fresh().await;
    let other = fresh().await;
    let opts = Options::new(3000, 7, as_of());
    // the keys as the migrations create them
    egov_system::open_database(&other.url, "gbd_fl", 1, &egov_gbd_fl::MIGRATOR)
        .await
        .unwrap();
    egov_system::open_database(&other.url, "enis", 1, &egov_enis::MIGRATOR)
        .await
        .unwrap();
    let migrated = indexes(&other.url).await;

    let r = seed(&db.url, &opts).await.unwrap();
    let named = fixtures::household(as_of());
    assert_eq!(r.persons, 3000 + named.persons.len() as u64);
    assert!(r.links > 1000, "{r:?}");
    assert!(r.poas >= named.poas.len() as u64);
    assert!(r.gbd_fl_bytes > 0 && r.enis_bytes > 0);
    assert_eq!(r.citizens.last().unwrap().key, "absent");
    // the load rebuilt exactly the keys of the migrations
    assert_eq!(indexes(&db.url).await, migrated);

    let first = digest(&db.url).await;
    // not again without --replace, and nothing changes
    let err = seed(&db.url, &opts).await.unwrap_err();
    assert!(
        matches!(err, Error::NotEmpty { persons, .. } if persons == r.persons as i64),
        "{err}"
    );
    assert!(err.to_string().contains("--replace"));
    assert_eq!(digest(&db.url).await, first);

    // the same seed gives the same registries, byte for byte
    let again = Options {
        replace: true,
        ..opts.clone()
    };
    seed(&db.url, &again).await.unwrap();
    assert_eq!(digest(&db.url).await, first);
    seed(&other.url, &opts).await.unwrap();
    assert_eq!(digest(&other.url).await, first);

    // another seed, other people
    let different = Options {
        seed: 8,
        replace: true,
        ..opts.clone()
    };
    seed(&other.url, &different).await.unwrap();
    assert_ne!(digest(&other.url).await.0, first.0);

    db.drop_database().await.unwrap();
    other.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_failed_seed_leaves_the_registries_as_they_were() {
    let db = fresh().await;
    seed(&db.url, &Options::new(500, 1, as_of())).await.unwrap();
    let before = digest(&db.url).await;
    // make the last table of the load refuse every row
    let mut c = PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "alter table enis.powers_of_attorney add constraint refuse_all check (false) not valid",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let mut opts = Options::new(800, 2, as_of());
    opts.replace = true;
    let err = seed(&db.url, &opts).await.unwrap_err();
    assert!(matches!(err, Error::Sql(_)), "{err}");
    assert_eq!(
        digest(&db.url).await,
        before,
        "the persons loaded before the failure were rolled back"
    );
    let keys: i64 = sqlx::query_scalar(
        "select count(*) from pg_indexes where schemaname = 'gbd_fl' and indexname in ('persons_pkey', 'family_links_pkey')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(keys, 2, "the dropped keys came back with the rollback");
    drop(c);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn bad_settings_are_refused_before_touching_anything() {
    let mut opts = Options::new(10, 1, as_of());
    opts.gbd_fl_schema = "gbd-fl; drop table x".into();
    let err = seed("postgres://postgres@127.0.0.1:5432/postgres", &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Schema(_)), "{err}");
    let err = seed(
        "postgres://postgres@127.0.0.1:1/none",
        &Options::new(10, 1, as_of()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("database"), "{err}");
}
