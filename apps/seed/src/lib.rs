//! Seeding the registries: ГБД ФЛ (persons, family links) and ЕНИС (notaries, powers of
//! attorney) from one deterministic [`egov_synth::Generator`], plus the named test
//! citizens of [`egov_synth::fixtures`].
//!
//! Everything goes in one transaction on one connection (both schemas live in one
//! database), with `COPY`: a failed or interrupted seed leaves both registries as they
//! were. The residents are generated and formatted on a thread of their own while the
//! database takes the previous chunk.

use std::time::{Duration, Instant};

use egov_synth::fixtures::{self, Citizen, NamedPoa};
use egov_synth::{Generator, data};
use sqlx::{Connection, PgConnection};
use time::Date;

/// What to seed.
#[derive(Debug, Clone)]
pub struct Options {
    /// Generated residents (the named test citizens come on top).
    pub persons: u64,
    /// The seed of the generator.
    pub seed: u64,
    /// The "today" of the data (validity of documents and powers of attorney).
    pub as_of: Date,
    /// Empty non-empty registries first instead of refusing.
    pub replace: bool,
    /// ГБД ФЛ's schema.
    pub gbd_fl_schema: String,
    /// ЕНИС's schema.
    pub enis_schema: String,
}

impl Options {
    /// `persons` residents from `seed` as of `as_of`, default schemas, no replacing.
    pub fn new(persons: u64, seed: u64, as_of: Date) -> Self {
        Options {
            persons,
            seed,
            as_of,
            replace: false,
            gbd_fl_schema: egov_gbd_fl::SCHEMA.into(),
            enis_schema: egov_enis::SCHEMA.into(),
        }
    }
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct Report {
    /// Residents in ГБД ФЛ (named test citizens included).
    pub persons: u64,
    /// Family links (both directions).
    pub links: u64,
    /// Notaries.
    pub notaries: u64,
    /// Powers of attorney.
    pub poas: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Bytes on disk of ГБД ФЛ's tables and indexes.
    pub gbd_fl_bytes: i64,
    /// Bytes on disk of ЕНИС's tables and indexes.
    pub enis_bytes: i64,
    /// The named test citizens.
    pub citizens: Vec<Citizen>,
    /// The named powers of attorney.
    pub named_poas: Vec<NamedPoa>,
}

/// Seeding errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registries already hold data and `replace` was not asked for.
    #[error(
        "the registries are not empty ({persons} persons in ГБД ФЛ, {poas} powers of attorney in ЕНИС); pass --replace to empty them first"
    )]
    NotEmpty {
        /// Persons found.
        persons: i64,
        /// Powers of attorney found.
        poas: i64,
    },
    /// A schema name that is not a plain identifier.
    #[error("schema name {0:?} must be lower-case letters, digits and _")]
    Schema(String),
    /// Opening or migrating the schemas.
    #[error(transparent)]
    System(#[from] egov_system::Error),
    /// The database failed (nothing was written).
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

fn check_schema(s: &str) -> Result<(), Error> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::Schema(s.to_string()));
    }
    Ok(())
}

/// Bytes of a chunk of formatted rows sent to the database at once.
const CHUNK: usize = 1 << 20;

struct Chunk {
    persons: Vec<u8>,
    links: Vec<u8>,
    poas: Vec<u8>,
    counts: (u64, u64, u64),
}

/// Seeds both registries of the database at `database_url`.
pub async fn seed(database_url: &str, opts: &Options) -> Result<Report, Error> {
    check_schema(&opts.gbd_fl_schema)?;
    check_schema(&opts.enis_schema)?;
    let started = Instant::now();
    // the schemas exist and are migrated before the load
    egov_system::open_database(database_url, &opts.gbd_fl_schema, 1, &egov_gbd_fl::MIGRATOR)
        .await?
        .close()
        .await;
    egov_system::open_database(database_url, &opts.enis_schema, 1, &egov_enis::MIGRATOR)
        .await?
        .close()
        .await;

    let mut conn = PgConnection::connect(database_url).await?;
    let mut tx = conn.begin().await?;
    let g = &opts.gbd_fl_schema;
    let e = &opts.enis_schema;
    let persons = egov_gbd_fl::seed::count(&mut tx, g).await?;
    let poas = egov_enis::seed::count(&mut tx, e).await?;
    if (persons > 0 || poas > 0) && !opts.replace {
        return Err(Error::NotEmpty { persons, poas });
    }
    egov_gbd_fl::seed::prepare(&mut tx, g).await?;
    egov_enis::seed::prepare(&mut tx, e).await?;

    // generation and formatting on their own thread, a few chunks ahead
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(4);
    let (n, seed_value, as_of) = (opts.persons, opts.seed, opts.as_of);
    let producer = std::thread::spawn(move || {
        let data = data();
        let mut chunk = Chunk {
            persons: Vec::with_capacity(CHUNK + 4096),
            links: Vec::new(),
            poas: Vec::new(),
            counts: (0, 0, 0),
        };
        let push = |h: egov_synth::Household, chunk: &mut Chunk| -> bool {
            egov_gbd_fl::seed::rows(&h, &mut chunk.persons, &mut chunk.links);
            egov_enis::seed::poa_rows(data, &h.poas, &mut chunk.poas);
            chunk.counts.0 += h.persons.len() as u64;
            chunk.counts.1 += h.links.len() as u64;
            chunk.counts.2 += h.poas.len() as u64;
            if chunk.persons.len() >= CHUNK {
                let full = std::mem::replace(
                    chunk,
                    Chunk {
                        persons: Vec::with_capacity(CHUNK + 4096),
                        links: Vec::new(),
                        poas: Vec::new(),
                        counts: (0, 0, 0),
                    },
                );
                return sender.blocking_send(full).is_ok();
            }
            true
        };
        if !push(fixtures::household(as_of), &mut chunk) {
            return;
        }
        let mut alive = true;
        Generator::new(seed_value, as_of).generate(n, |h| {
            if alive {
                alive = push(h, &mut chunk);
            }
        });
        if alive {
            let _ = sender.blocking_send(chunk);
        }
    });

    let mut links = Vec::new();
    let mut poa_rows = Vec::new();
    let mut counts = (0u64, 0u64, 0u64);
    {
        let mut copy = tx
            .copy_in_raw(&egov_gbd_fl::seed::copy_persons_sql(g))
            .await?;
        while let Some(c) = receiver.recv().await {
            copy.send(c.persons).await?;
            links.extend_from_slice(&c.links);
            poa_rows.extend_from_slice(&c.poas);
            counts.0 += c.counts.0;
            counts.1 += c.counts.1;
            counts.2 += c.counts.2;
        }
        copy.finish().await?;
    }
    producer
        .join()
        .map_err(|_| sqlx::Error::Protocol("the generator thread panicked".into()))?;
    {
        let mut copy = tx
            .copy_in_raw(&egov_gbd_fl::seed::copy_links_sql(g))
            .await?;
        for part in links.chunks(CHUNK) {
            copy.send(part).await?;
        }
        copy.finish().await?;
    }
    let data = data();
    {
        let mut copy = tx
            .copy_in_raw(&egov_enis::seed::copy_notaries_sql(e))
            .await?;
        copy.send(egov_enis::seed::notary_rows(data)).await?;
        copy.finish().await?;
    }
    {
        let mut copy = tx.copy_in_raw(&egov_enis::seed::copy_poas_sql(e)).await?;
        for part in poa_rows.chunks(CHUNK) {
            copy.send(part).await?;
        }
        copy.finish().await?;
    }
    egov_gbd_fl::seed::finish(&mut tx, g).await?;
    tx.commit().await?;
    sqlx::raw_sql(&format!(
        "analyze {g}.persons; analyze {g}.family_links; analyze {e}.powers_of_attorney;"
    ))
    .execute(&mut conn)
    .await?;
    let size = |schema: &str| {
        format!(
            "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint from pg_class c
             join pg_namespace n on n.oid = c.relnamespace where n.nspname = '{schema}' and c.relkind = 'r'"
        )
    };
    let gbd_fl_bytes: i64 = sqlx::query_scalar(&size(g)).fetch_one(&mut conn).await?;
    let enis_bytes: i64 = sqlx::query_scalar(&size(e)).fetch_one(&mut conn).await?;
    let _ = conn.close().await;
    tracing::info!(
        persons = counts.0,
        links = counts.1,
        poas = counts.2,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "registries seeded"
    );
    Ok(Report {
        persons: counts.0,
        links: counts.1,
        notaries: data.notaries.len() as u64,
        poas: counts.2,
        elapsed: started.elapsed(),
        gbd_fl_bytes,
        enis_bytes,
        citizens: fixtures::citizens(opts.as_of),
        named_poas: fixtures::named_poas(opts.as_of),
    })
}

/// Whether ГБД ФЛ already holds residents (the launcher seeds only an empty one).
pub async fn is_seeded(database_url: &str, gbd_fl_schema: &str) -> Result<bool, Error> {
    check_schema(gbd_fl_schema)?;
    let mut conn = PgConnection::connect(database_url).await?;
    let exists: bool = sqlx::query_scalar(
        "select exists(select 1 from information_schema.tables where table_schema = $1 and table_name = 'persons')",
    )
    .bind(gbd_fl_schema)
    .fetch_one(&mut conn)
    .await?;
    let seeded = if exists {
        egov_gbd_fl::seed::count(&mut conn, gbd_fl_schema).await? > 0
    } else {
        false
    };
    let _ = conn.close().await;
    Ok(seeded)
}
