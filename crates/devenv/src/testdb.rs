use sqlx::{Connection, PgConnection};

use crate::url::{redact, with_database};
use crate::{Error, Result};

/// PostgreSQL's identifier length limit (NAMEDATALEN - 1).
const MAX_IDENT: usize = 63;
/// Length of a simple (hyphen-less) UUID.
const UUID_LEN: usize = 32;

/// A database created by [`fresh_database`] for one test.
///
/// Dropping the value drops the database (on a thread and runtime of its own, since
/// `Drop` cannot be async and the test's runtime may be gone), so a test that fails
/// or forgets leaves nothing behind; `EGOV_KEEP_TEST_DATABASES=1` keeps them for a
/// post-mortem. [`TestDatabase::drop_database`] drops it at a chosen point and reports
/// a failure.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the new database (the admin URL with its database replaced).
    pub url: String,
    /// Name of the new database (`[a-z0-9_]`, at most 63 characters).
    pub name: String,
    admin_url: String,
    dropped: bool,
}

impl TestDatabase {
    /// Terminates every connection to the database and drops it
    /// (`DROP DATABASE ... WITH (FORCE)`) through the admin URL it was
    /// created from.
    pub async fn drop_database(mut self) -> Result<()> {
        self.dropped = true;
        drop_now(&self.admin_url, &self.name).await
    }
}

async fn drop_now(admin_url: &str, name: &str) -> Result<()> {
    let mut conn = admin_connection(admin_url).await?;
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    let result = sqlx::raw_sql(&sql)
        .execute(&mut conn)
        .await
        .map_err(|e| Error::db(format!("could not drop database {name}"), e));
    let _ = conn.close().await;
    result.map(drop)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped || std::env::var_os("EGOV_KEEP_TEST_DATABASES").is_some() {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                && let Err(e) = rt.block_on(drop_now(&admin_url, &name))
            {
                tracing::warn!(%name, error = %e, "test database left behind");
            }
        })
        .join();
    }
}

/// Creates a new, uniquely named database through a connection to
/// `admin_url` (e.g. [`crate::default_database_admin_url`]).
///
/// The name is `prefix` (lowercased, characters other than `[a-z0-9_]`
/// replaced by `_`, truncated to leave room) followed by a simple UUID,
/// at most 63 characters in all.
pub async fn fresh_database(admin_url: &str, prefix: &str) -> Result<TestDatabase> {
    let name = database_name(prefix);
    let url = with_database(admin_url, &name)?;
    let mut conn = admin_connection(admin_url).await?;
    let sql = format!("CREATE DATABASE \"{name}\"");
    let result = sqlx::raw_sql(&sql).execute(&mut conn).await.map_err(|e| {
        Error::db(
            format!(
                "could not create database {name} through {} (the user needs CREATEDB)",
                redact(admin_url)
            ),
            e,
        )
    });
    let _ = conn.close().await;
    result?;
    tracing::debug!(%name, "created test database");
    Ok(TestDatabase {
        url,
        name,
        admin_url: admin_url.to_owned(),
        dropped: false,
    })
}

/// A unique prefix for NATS subjects and stream names, `t_<tag>_<8 hex>`.
///
/// The tag is lowercased and every character other than `[a-z0-9_]` becomes
/// `_`, so the result is a valid subject token and stream name component.
pub fn unique_prefix(tag: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t_{}_{}", sanitize(tag), &id[..8])
}

pub(crate) async fn admin_connection(admin_url: &str) -> Result<PgConnection> {
    PgConnection::connect(admin_url).await.map_err(|e| {
        Error::db(
            format!(
                "could not connect to PostgreSQL at {} (is it running? set EGOV_TEST_DATABASE_URL to use another server)",
                redact(admin_url)
            ),
            e,
        )
    })
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn database_name(prefix: &str) -> String {
    let mut prefix = sanitize(prefix);
    prefix.truncate(MAX_IDENT - UUID_LEN);
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(s: &str) -> bool {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn database_names_are_valid_and_bounded() {
        let n = database_name("Test-Ä.x_");
        assert!(n.starts_with("test___x_"), "{n}");
        assert!(valid(&n));
        let long = database_name(&"a".repeat(100));
        assert_eq!(long.len(), MAX_IDENT);
        assert!(valid(&long));
        assert_ne!(database_name("p"), database_name("p"));
        assert_eq!(database_name("").len(), UUID_LEN);
    }

    #[test]
    fn unique_prefixes_are_valid_stream_names() {
        let p = unique_prefix("Outbox.Relay");
        assert!(p.starts_with("t_outbox_relay_"), "{p}");
        assert_eq!(p.len(), "t_outbox_relay_".len() + 8);
        assert!(valid(&p));
        assert_ne!(unique_prefix("x"), unique_prefix("x"));
    }
}
