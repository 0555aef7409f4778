//! PostgreSQL access shared by the services: one schema per service in a shared
//! database (or a database of its own), the database created on first use.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// A database problem at start-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL does not parse.
    #[error("database URL {url:?}: {source}")]
    Url {
        /// The URL with the password hidden.
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// The server refused or could not be reached.
    #[error("database {what}: {source}")]
    Sql {
        /// What was being done.
        what: String,
        /// Why.
        source: sqlx::Error,
    },
    /// A schema name that is not a plain identifier.
    #[error("schema name {0:?} must be lower-case letters, digits and _")]
    SchemaName(String),
    /// A reader asked for a schema the database does not have.
    #[error("the database has no schema {0:?}")]
    NoSchema(String),
}

fn hide_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Creates the database of `url` if it does not exist (connecting to `postgres`).
pub async fn ensure_database(url: &str) -> Result<(), Error> {
    let opts = PgConnectOptions::from_str(url).map_err(|source| Error::Url {
        url: hide_password(url),
        source,
    })?;
    let name = opts.get_database().unwrap_or("postgres").to_string();
    let admin = opts.clone().database("postgres");
    let mut conn = admin.connect().await.map_err(|source| Error::Sql {
        what: format!("connect to {}", hide_password(url)),
        source,
    })?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| Error::Sql {
                what: "look up the database".into(),
                source,
            })?;
    if !exists {
        let q = format!("create database \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(&q).execute(&mut conn).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // created concurrently by another service of the launcher
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(source) => {
                return Err(Error::Sql {
                    what: format!("create database {name}"),
                    source,
                });
            }
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// A pool whose connections use `schema` first in their search path, creating the schema.
/// Migrations run on this pool keep their bookkeeping table in the schema too.
pub async fn pool(url: &str, schema: &str, max_connections: u32) -> Result<PgPool, Error> {
    if schema.is_empty()
        || !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::SchemaName(schema.to_string()));
    }
    let opts = PgConnectOptions::from_str(url).map_err(|source| Error::Url {
        url: hide_password(url),
        source,
    })?;
    {
        let mut conn = opts.connect().await.map_err(|source| Error::Sql {
            what: format!("connect to {}", hide_password(url)),
            source,
        })?;
        sqlx::query(&format!("create schema if not exists {schema}"))
            .execute(&mut conn)
            .await
            .or_else(|e| match &e {
                // two services creating the same schema at once
                sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => {
                    Ok(Default::default())
                }
                _ => Err(e),
            })
            .map_err(|source| Error::Sql {
                what: format!("create schema {schema}"),
                source,
            })?;
        let _ = conn.close().await;
    }
    let opts = opts.options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|source| Error::Sql {
            what: format!("open pool on {}", hide_password(url)),
            source,
        })
}

/// A pool on an existing `schema` for a reader (the operators' tools): unlike [`pool`] it
/// creates nothing, and a schema that does not exist is [`Error::NoSchema`].
pub async fn reader_pool(url: &str, schema: &str, max_connections: u32) -> Result<PgPool, Error> {
    if schema.is_empty()
        || !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::SchemaName(schema.to_string()));
    }
    let opts = PgConnectOptions::from_str(url).map_err(|source| Error::Url {
        url: hide_password(url),
        source,
    })?;
    let p = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts.options([("search_path", schema)]))
        .await
        .map_err(|source| Error::Sql {
            what: format!("open pool on {}", hide_password(url)),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_namespace where nspname = $1)")
            .bind(schema)
            .fetch_one(&p)
            .await
            .map_err(|source| Error::Sql {
                what: format!("look for schema {schema}"),
                source,
            })?;
    if !exists {
        p.close().await;
        return Err(Error::NoSchema(schema.to_string()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_hidden() {
        assert_eq!(
            hide_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(hide_password("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[tokio::test]
    async fn a_reader_creates_nothing() {
        let admin = egov_devenv::default_database_admin_url();
        let name = format!("egov_dbreader_{}", std::process::id());
        let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
        ensure_database(&url).await.unwrap();
        let e = reader_pool(&url, "nobody_here", 1).await.unwrap_err();
        assert!(
            matches!(e, Error::NoSchema(ref s) if s == "nobody_here"),
            "{e}"
        );
        let p = pool(&url, "somebody", 1).await.unwrap();
        p.close().await;
        let r = reader_pool(&url, "somebody", 1).await.unwrap();
        let schemas: i64 = sqlx::query_scalar(
            "select count(*) from pg_namespace where nspname in ('nobody_here', 'somebody')",
        )
        .fetch_one(&r)
        .await
        .unwrap();
        assert_eq!(schemas, 1, "the reader created no schema");
        r.close().await;
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("drop database {name} with (force)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn creates_database_and_schema() {
        let admin = egov_devenv::default_database_admin_url();
        let name = format!("egov_dbtest_{}", std::process::id());
        let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
        ensure_database(&url).await.unwrap();
        ensure_database(&url).await.unwrap();
        let p = pool(&url, "svc_a", 2).await.unwrap();
        sqlx::query("create table t (x int)")
            .execute(&p)
            .await
            .unwrap();
        let schema: String = sqlx::query_scalar(
            "select table_schema::text from information_schema.tables where table_name = 't'",
        )
        .fetch_one(&p)
        .await
        .unwrap();
        assert_eq!(schema, "svc_a");
        p.close().await;
        assert!(matches!(
            pool(&url, "Bad-Name", 1).await,
            Err(Error::SchemaName(_))
        ));
        let mut admin_conn = PgConnectOptions::from_str(&admin)
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(&format!("drop database {name} with (force)"))
            .execute(&mut admin_conn)
            .await
            .unwrap();
    }
}
