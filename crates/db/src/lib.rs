//! PostgreSQL access shared by the services: one schema per service in a shared
//! database (or a database of its own), the database created on first use.
//!
//! Least privilege: [`provision`] is the administrator's step (the launcher's, as
//! `EGOV_DATABASE_URL`'s user) that gives each service a login role of its own,
//! `egov_<schema>` ([`role_name`]), without superuser, database or role creation rights,
//! owning its schema and everything in it and nothing else; the service then connects
//! as that role ([`service_url`]) and runs its migrations as the owner. A role has no
//! right on another service's schema, so it can neither read nor write it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
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
    #[error("schema name {0:?} must be 1 to 50 lower-case letters, digits and _")]
    SchemaName(String),
    /// A reader asked for a schema the database does not have.
    #[error("the database has no schema {0:?}")]
    NoSchema(String),
    /// A role password that is not plain letters and digits.
    #[error("a service role's password must be letters and digits")]
    Password,
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

fn check_schema(schema: &str) -> Result<(), Error> {
    if schema.is_empty()
        || schema.len() > 50
        || !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::SchemaName(schema.to_string()));
    }
    Ok(())
}

/// The login role of the service owning `schema`: `egov_<schema>`.
pub fn role_name(schema: &str) -> String {
    format!("egov_{schema}")
}

/// `url` with its user (and password) replaced: how a service connects as its role.
pub fn service_url(url: &str, user: &str, password: Option<&str>) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let host_start = rest
        .find('/')
        .map_or(rest, |slash| &rest[..slash])
        .rfind('@')
        .map_or(0, |at| at + 1);
    let userinfo = match password {
        Some(p) => format!("{user}:{p}@"),
        None => format!("{user}@"),
    };
    format!("{scheme}{userinfo}{}", &rest[host_start..])
}

/// The administrator's step for one service: in the database of `admin_url` (created
/// if missing), the login role `egov_<schema>` exists without superuser, database, role
/// or replication rights (with `password` when given, else as it was), the schema
/// exists owned by it, and every table, sequence and view already in the schema (made by
/// an earlier start as the administrator, or by a seeding step) is handed over to it.
/// Returns the URL the service connects with. Safe to run at every start and by several
/// starters at once.
pub async fn provision(
    admin_url: &str,
    schema: &str,
    password: Option<&str>,
) -> Result<String, Error> {
    check_schema(schema)?;
    if let Some(p) = password
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(Error::Password);
    }
    ensure_database(admin_url).await?;
    let opts = connect_options(admin_url)?;
    let mut conn = opts.connect().await.map_err(|source| Error::Sql {
        what: format!("connect to {}", hide_password(admin_url)),
        source,
    })?;
    let role = role_name(schema);
    let sql = |what: String| move |source| Error::Sql { what, source };
    // roles are the cluster's: another database's provisioning may create it at once
    let create = format!(
        "create role {role} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit"
    );
    match sqlx::query(&create).execute(&mut conn).await {
        Ok(_) => tracing::info!(%role, "created the service's role"),
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42710") | Some("23505")) =>
        {
            sqlx::query(&format!(
                "alter role {role} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit"
            ))
            .execute(&mut conn)
            .await
            .map_err(sql(format!("alter role {role}")))?;
        }
        Err(source) => {
            return Err(Error::Sql {
                what: format!("create role {role}"),
                source,
            });
        }
    }
    if let Some(p) = password {
        sqlx::query(&format!("alter role {role} password '{p}'"))
            .execute(&mut conn)
            .await
            .map_err(sql(format!("set the password of {role}")))?;
    }
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_namespace where nspname = $1)")
            .bind(schema)
            .fetch_one(&mut conn)
            .await
            .map_err(sql("look up the schema".into()))?;
    let q = if exists {
        format!("alter schema {schema} owner to {role}")
    } else {
        format!("create schema {schema} authorization {role}")
    };
    match sqlx::query(&q).execute(&mut conn).await {
        Ok(_) => {}
        // created concurrently
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42P06") | Some("23505")) =>
        {
            sqlx::query(&format!("alter schema {schema} owner to {role}"))
                .execute(&mut conn)
                .await
                .map_err(sql(format!("alter schema {schema}")))?;
        }
        Err(source) => {
            return Err(Error::Sql {
                what: format!("schema {schema} for {role}"),
                source,
            });
        }
    }
    // what an earlier start made as the administrator goes to the role (sequences owned
    // by a column follow their table)
    let others: Vec<(String, String)> = sqlx::query_as(
        "select c.oid::regclass::text, c.relkind::text from pg_class c \
         join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'S') \
         and c.relowner <> (select oid from pg_roles where rolname = $2) \
         and not (c.relkind = 'S' and exists (select 1 from pg_depend d \
             where d.objid = c.oid and d.deptype in ('a', 'i')))",
    )
    .bind(schema)
    .bind(&role)
    .fetch_all(&mut conn)
    .await
    .map_err(sql(format!("list the objects of {schema}")))?;
    for (name, kind) in others {
        let what = match kind.as_str() {
            "S" => "sequence",
            "v" => "view",
            "m" => "materialized view",
            _ => "table",
        };
        sqlx::query(&format!("alter {what} {name} owner to {role}"))
            .execute(&mut conn)
            .await
            .map_err(sql(format!("hand {name} over to {role}")))?;
    }
    let _ = conn.close().await;
    Ok(service_url(admin_url, &role, password))
}

/// The administrator's step for a reader (the operators' page): the login role
/// `egov_<reader>` exists without any right but reading: USAGE on each of `schemas`,
/// SELECT on their tables now and on the tables their owners make later, every
/// transaction read-only by default. Every schema must exist ([`Error::NoSchema`]).
/// Returns the URL the reader connects with. Safe to run at every start.
pub async fn provision_reader(
    admin_url: &str,
    reader: &str,
    schemas: &[&str],
    password: Option<&str>,
) -> Result<String, Error> {
    check_schema(reader)?;
    for s in schemas {
        check_schema(s)?;
    }
    if let Some(p) = password
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(Error::Password);
    }
    let opts = connect_options(admin_url)?;
    let mut conn = opts.connect().await.map_err(|source| Error::Sql {
        what: format!("connect to {}", hide_password(admin_url)),
        source,
    })?;
    let role = role_name(reader);
    let create = format!(
        "create role {role} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit"
    );
    match sqlx::query(&create).execute(&mut conn).await {
        Ok(_) => {}
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42710") | Some("23505")) => {}
        Err(source) => {
            return Err(Error::Sql {
                what: create,
                source,
            });
        }
    }
    let mut statements = vec![
        format!(
            "alter role {role} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit"
        ),
        format!("alter role {role} set default_transaction_read_only = on"),
    ];
    if let Some(p) = password {
        statements.push(format!("alter role {role} password '{p}'"));
    }
    for schema in schemas {
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_namespace where nspname = $1)")
                .bind(schema)
                .fetch_one(&mut conn)
                .await
                .map_err(|source| Error::Sql {
                    what: "look up the schema".into(),
                    source,
                })?;
        if !exists {
            return Err(Error::NoSchema(schema.to_string()));
        }
        let owner: String = sqlx::query_scalar(
            "select pg_get_userbyid(nspowner)::text from pg_namespace where nspname = $1",
        )
        .bind(schema)
        .fetch_one(&mut conn)
        .await
        .map_err(|source| Error::Sql {
            what: format!("the owner of {schema}"),
            source,
        })?;
        statements.push(format!("grant usage on schema {schema} to {role}"));
        statements.push(format!(
            "grant select on all tables in schema {schema} to {role}"
        ));
        statements.push(format!(
            "alter default privileges for role \"{owner}\" in schema {schema} grant select on tables to {role}"
        ));
    }
    for q in statements {
        if let Err(source) = sqlx::query(&q).execute(&mut conn).await {
            return Err(Error::Sql { what: q, source });
        }
    }
    let _ = conn.close().await;
    Ok(service_url(admin_url, &role, password))
}

/// Creates the database of `url` if it does not exist (connecting to `postgres`).
pub async fn ensure_database(url: &str) -> Result<(), Error> {
    let opts = connect_options(url)?;
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

/// The options of a database URL. A URL that names no `sslmode` and whose host is this
/// machine (`localhost`, `127.0.0.1`, `::1`, or a Unix socket) connects without TLS:
/// encrypting traffic that never leaves the machine protects nothing, and it cost a
/// sixth of the CPU of a message through the gateways on the benchmarks. Any other host
/// keeps sqlx's default (`prefer`: TLS when the server offers it), and a mode named in
/// the URL (`sslmode` or `ssl-mode`, in any spelling) or in `PGSSLMODE` is always taken
/// as written: a loopback address that forwards elsewhere (a tunnel, a proxy) says
/// `sslmode=require`.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, Error> {
    let opts = PgConnectOptions::from_str(url).map_err(|source| Error::Url {
        url: hide_password(url),
        source,
    })?;
    let named = std::env::var_os("PGSSLMODE").is_some()
        || url.split_once('?').is_some_and(|(_, query)| {
            query.split('&').any(|pair| {
                let key = pair
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                // a percent-encoded key might spell it: taken as named
                key == "sslmode" || key == "ssl-mode" || key.contains('%')
            })
        });
    let local = opts.get_socket().is_some()
        || matches!(opts.get_host(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
        || opts.get_host().starts_with('/');
    Ok(if !named && local {
        opts.ssl_mode(PgSslMode::Disable)
    } else {
        opts
    })
}

/// How long a connection may sit idle in a pool before it is checked with a round trip
/// when next handed out.
pub const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The pools' options. sqlx checks every idle connection with a round trip before
/// handing it out, and again when it comes back (that one cannot be switched off).
/// The first check is kept for connections idle [`IDLE_CHECK`] or longer, the ones that
/// may have died since (a PostgreSQL restart, a firewall's idle timeout); one handed
/// back a moment ago passed its check then. A dead one is closed and another taken.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// A pool whose connections use `schema` first in their search path, creating the schema.
/// Migrations run on this pool keep their bookkeeping table in the schema too.
/// The schema is created only when missing (a service role owning its schema has no
/// right to create one in the database).
pub async fn pool(url: &str, schema: &str, max_connections: u32) -> Result<PgPool, Error> {
    check_schema(schema)?;
    let opts = connect_options(url)?;
    {
        let mut conn = opts.connect().await.map_err(|source| Error::Sql {
            what: format!("connect to {}", hide_password(url)),
            source,
        })?;
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_namespace where nspname = $1)")
                .bind(schema)
                .fetch_one(&mut conn)
                .await
                .map_err(|source| Error::Sql {
                    what: "look up the schema".into(),
                    source,
                })?;
        let create = if exists {
            Ok(Default::default())
        } else {
            sqlx::query(&format!("create schema if not exists {schema}"))
                .execute(&mut conn)
                .await
        };
        create
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
    pool_options(max_connections)
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
    let opts = connect_options(url)?;
    let p = pool_options(max_connections)
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
    fn a_database_on_this_machine_is_reached_without_tls_unless_the_url_says() {
        let mode = |url: &str| connect_options(url).unwrap().get_ssl_mode();
        for local in [
            "postgres://postgres@127.0.0.1:5432/egov",
            "postgres://postgres@localhost/egov?application_name=x",
            "postgres://postgres@[::1]:5432/egov",
            "postgres:///egov?host=/var/run/postgresql",
        ] {
            assert!(matches!(mode(local), PgSslMode::Disable), "{local}");
        }
        assert!(matches!(
            mode("postgres://postgres@db.internal:5432/egov"),
            PgSslMode::Prefer
        ));
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1:5432/egov?sslmode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            mode("postgres://postgres@10.0.0.5/egov?application_name=a&sslmode=verify-full"),
            PgSslMode::VerifyFull
        ));
        // sqlx's other spelling, and a key it would decode
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1/egov?ssl-mode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1/egov?ssl%6Dode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            connect_options("postgres://x/egov?sslmode=sometimes").unwrap_err(),
            Error::Url { .. }
        ));
    }

    #[test]
    fn password_is_hidden() {
        assert_eq!(
            hide_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(hide_password("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn a_service_url_names_its_role() {
        assert_eq!(
            service_url("postgres://postgres@127.0.0.1:5432/egov", "egov_uc", None),
            "postgres://egov_uc@127.0.0.1:5432/egov"
        );
        assert_eq!(
            service_url(
                "postgres://a:b@h/db?sslmode=disable",
                "egov_uc",
                Some("pw1")
            ),
            "postgres://egov_uc:pw1@h/db?sslmode=disable"
        );
        assert_eq!(
            service_url("postgres://h:5432/db", "egov_uc", None),
            "postgres://egov_uc@h:5432/db"
        );
    }

    #[tokio::test]
    async fn provisioning_refuses_bad_names_and_passwords() {
        let admin = egov_devenv::default_database_admin_url();
        for bad in ["", "Gateway", "a;drop", &"x".repeat(51)] {
            assert!(matches!(
                provision(&admin, bad, None).await,
                Err(Error::SchemaName(_))
            ));
        }
        for bad in ["", "a'b", "with space"] {
            assert!(matches!(
                provision(&admin, "gateway", Some(bad)).await,
                Err(Error::Password)
            ));
        }
    }

    #[tokio::test]
    async fn provisioning_hands_what_the_administrator_made_to_the_role() {
        let db = egov_devenv::fresh_database(&egov_devenv::default_database_admin_url(), "prov")
            .await
            .unwrap();
        // an older start made the schema and its tables as the administrator
        let admin = pool(&db.url, "prov_svc", 1).await.unwrap();
        sqlx::query("create table t (id bigserial primary key, x int)")
            .execute(&admin)
            .await
            .unwrap();
        sqlx::query("create view v as select x from t")
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let url = provision(&db.url, "prov_svc", None).await.unwrap();
        assert!(url.contains("egov_prov_svc@"), "{url}");
        // twice is the same
        provision(&db.url, "prov_svc", None).await.unwrap();
        let p = pool(&url, "prov_svc", 1).await.unwrap();
        sqlx::query("insert into t (x) values (1)")
            .execute(&p)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("select count(*) from v")
            .fetch_one(&p)
            .await
            .unwrap();
        assert_eq!(n, 1);
        // it owns them: it may change its own tables (its migrations)
        sqlx::query("alter table t add column y int")
            .execute(&p)
            .await
            .unwrap();
        let e = sqlx::query("create database prov_intruder")
            .execute(&p)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("permission denied"), "{e}");
        p.close().await;
        db.drop_database().await.unwrap();
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
