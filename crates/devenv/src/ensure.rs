use std::path::Path;
use std::time::Duration;

use sqlx::Connection;

use crate::testdb::admin_connection;
use crate::url::{self, redact};
use crate::{Error, PrivateNats, PrivatePostgres, Result, tcp_reachable};

/// How long to wait for an existing service to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The services found or started by [`ensure_services`].
///
/// Privately started instances are stopped when this value is dropped, so
/// keep it alive as long as the services are used.
#[derive(Debug)]
pub struct Ensured {
    database_url: String,
    nats_url: String,
    nats: Option<PrivateNats>,
    postgres: Option<PrivatePostgres>,
}

impl Ensured {
    /// The database URL to use (the one passed in: private instances listen
    /// on the same port).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The NATS URL to use (the one passed in).
    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    /// Whether PostgreSQL was started privately (rather than found running).
    pub fn postgres_is_private(&self) -> bool {
        self.postgres.is_some()
    }

    /// Whether NATS was started privately (rather than found running).
    pub fn nats_is_private(&self) -> bool {
        self.nats.is_some()
    }

    /// The private PostgreSQL instance, if one was started.
    pub fn private_postgres(&mut self) -> Option<&mut PrivatePostgres> {
        self.postgres.as_mut()
    }

    /// The private NATS instance, if one was started (e.g. to restart it).
    pub fn private_nats(&mut self) -> Option<&mut PrivateNats> {
        self.nats.as_mut()
    }

    /// Stops the private instances without blocking the runtime (dropping
    /// the value does the same, blocking).
    pub async fn shutdown(mut self) {
        if let Some(nats) = self.nats.as_mut() {
            nats.stop().await;
        }
        if let Some(pg) = self.postgres.as_mut() {
            pg.stop().await;
        }
    }
}

/// Makes PostgreSQL and NATS available at the given URLs.
///
/// For each service: if the `host:port` of its URL answers, it is used as is.
/// Otherwise, if the host is local (`127.0.0.1`/`localhost`) and the server
/// binaries are installed, a private instance is started on that port with
/// its state under `data_dir` (see [`PrivatePostgres`], [`PrivateNats`]);
/// for PostgreSQL the URL's role and database are created if missing.
/// Otherwise an error names the Debian package to install.
pub async fn ensure_services(
    data_dir: &Path,
    database_url: &str,
    nats_url: &str,
) -> Result<Ensured> {
    ensure_services_with(data_dir, database_url, nats_url, None).await
}

/// [`ensure_services`], a private NATS (when one is started) running with the
/// configuration file `nats_config` (users, permissions, limits).
pub async fn ensure_services_with(
    data_dir: &Path,
    database_url: &str,
    nats_url: &str,
    nats_config: Option<&Path>,
) -> Result<Ensured> {
    let pg = url::parse("database", database_url, 5432)?;
    // NATS may be a cluster: several servers separated by commas, any one of which
    // answering will do (the clients find the others)
    let nats_all = url::parse_all("NATS", nats_url, 4222)?;
    let nats = nats_all[0].clone();

    let pg_addr = pg.host_port();
    let nats_probe = async {
        for node in &nats_all {
            if tcp_reachable(&node.host_port(), PROBE_TIMEOUT).await {
                return true;
            }
        }
        false
    };
    let (pg_up, nats_up) = tokio::join!(tcp_reachable(&pg_addr, PROBE_TIMEOUT), nats_probe);

    // Check everything before starting anything.
    if !pg_up {
        if !pg.is_local() {
            return Err(Error::NotLocal {
                service: "PostgreSQL",
                address: pg.host_port(),
            });
        }
        crate::find_postgres_bin_dir().ok_or(Error::PostgresNotFound)?;
    }
    if !nats_up {
        if nats_all.len() > 1 {
            return Err(Error::ClusterDown {
                service: "NATS",
                addresses: nats_all
                    .iter()
                    .map(url::Parsed::host_port)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if !nats.is_local() {
            return Err(Error::NotLocal {
                service: "NATS",
                address: nats.host_port(),
            });
        }
        crate::find_nats_server().ok_or(Error::NatsServerNotFound)?;
    }

    if pg_up {
        tracing::info!(url = %redact(database_url), "using running PostgreSQL");
    } else {
        tracing::info!(
            port = pg.port,
            data_dir = %data_dir.display(),
            "PostgreSQL not reachable; starting a private instance"
        );
    }
    if nats_up {
        tracing::info!(url = %redact(nats_url), "using running NATS");
    } else {
        tracing::info!(
            port = nats.port,
            data_dir = %data_dir.display(),
            "NATS not reachable; starting a private instance"
        );
    }

    let start_pg = async {
        if pg_up {
            return Ok(None);
        }
        let instance = PrivatePostgres::start(data_dir, pg.port).await?;
        prepare_database(&instance, pg.user(), pg.path).await?;
        Ok(Some(instance))
    };
    let start_nats = async {
        if nats_up {
            Ok(None)
        } else {
            PrivateNats::start_with_config(data_dir, nats.port, nats_config)
                .await
                .map(Some)
        }
    };
    let (postgres, nats) = tokio::try_join!(start_pg, start_nats)?;

    Ok(Ensured {
        database_url: database_url.to_owned(),
        nats_url: nats_url.to_owned(),
        nats,
        postgres,
    })
}

/// Creates the URL's role and database in a fresh private cluster if missing.
async fn prepare_database(pg: &PrivatePostgres, user: Option<&str>, database: &str) -> Result<()> {
    let user = user.filter(|u| *u != "postgres");
    let database = (!database.is_empty() && database != "postgres").then_some(database);
    if user.is_none() && database.is_none() {
        return Ok(());
    }
    let mut conn = admin_connection(&pg.url()).await?;
    let result = async {
        if let Some(user) = user {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                    .bind(user)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| Error::db("could not query pg_roles", e))?;
            if !exists {
                let sql = format!("CREATE ROLE {} LOGIN CREATEDB", quote_ident(user));
                sqlx::raw_sql(&sql)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| Error::db(format!("could not create role {user}"), e))?;
                tracing::info!(%user, "created role in private PostgreSQL");
            }
        }
        if let Some(database) = database {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(database)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| Error::db("could not query pg_database", e))?;
            if !exists {
                let owner = user
                    .map(|u| format!(" OWNER {}", quote_ident(u)))
                    .unwrap_or_default();
                let sql = format!("CREATE DATABASE {}{owner}", quote_ident(database));
                sqlx::raw_sql(&sql)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| Error::db(format!("could not create database {database}"), e))?;
                tracing::info!(%database, "created database in private PostgreSQL");
            }
        }
        Ok(())
    }
    .await;
    let _ = conn.close().await;
    result
}

fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}
