//! Minimal URL handling for `postgres://` and `nats://` URLs (no extra crates).

use crate::{Error, Result};

/// The parts of a URL we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    /// Everything up to and including `://` (empty if there is no scheme).
    pub scheme_prefix: &'a str,
    /// `user[:password]@`, including the `@` (may be empty).
    pub userinfo: &'a str,
    /// Host without brackets.
    pub host: &'a str,
    /// Explicit or default port.
    pub port: u16,
    /// Path without the leading `/` (may be empty).
    pub path: &'a str,
    /// `?query` including the `?` (may be empty).
    pub query: &'a str,
}

impl Parsed<'_> {
    /// `host:port`, with brackets around IPv6 hosts.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether a private instance listening on 127.0.0.1 serves this host.
    pub fn is_local(&self) -> bool {
        matches!(
            self.host.to_ascii_lowercase().as_str(),
            "127.0.0.1" | "localhost"
        )
    }

    /// The user name from the userinfo, if any.
    pub fn user(&self) -> Option<&str> {
        let info = self.userinfo.strip_suffix('@')?;
        let user = info.split(':').next().unwrap_or_default();
        (!user.is_empty()).then_some(user)
    }
}

/// Parses `url` (first entry of a comma-separated list), using `default_port`
/// when it has none and `localhost` when it has no host.
pub(crate) fn parse<'a>(what: &'static str, url: &'a str, default_port: u16) -> Result<Parsed<'a>> {
    let invalid = |reason: &str| Error::InvalidUrl {
        what,
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let url_first = url.split(',').next().unwrap_or_default().trim();
    let (scheme_prefix, rest) = match url_first.find("://") {
        Some(i) => url_first.split_at(i + 3),
        None => ("", url_first),
    };
    let (before_query, query) = match rest.find('?') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i + 1..]),
        None => (before_query, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => authority.split_at(i + 1),
        None => ("", authority),
    };
    let (host, port) = if let Some(after_bracket) = hostport.strip_prefix('[') {
        let end = after_bracket
            .find(']')
            .ok_or_else(|| invalid("unterminated `[` in host"))?;
        let host = &after_bracket[..end];
        let port = match &after_bracket[end + 1..] {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid("unexpected text after `]`"))?,
            ),
        };
        (host, port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("the port is not a number between 1 and 65535"))?,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok(Parsed {
        scheme_prefix,
        userinfo,
        host,
        port,
        path,
        query,
    })
}

/// Parses every entry of a comma-separated list of URLs (the nodes of a cluster), as
/// [`parse`] does the first; empty entries are refused.
pub(crate) fn parse_all<'a>(
    what: &'static str,
    url: &'a str,
    default_port: u16,
) -> Result<Vec<Parsed<'a>>> {
    url.split(',')
        .map(|entry| {
            if entry.trim().is_empty() {
                return Err(Error::InvalidUrl {
                    what,
                    url: url.to_owned(),
                    reason: "an empty entry in the list of servers".to_owned(),
                });
            }
            parse(what, entry, default_port)
        })
        .collect()
}

/// Replaces the database (path) of a PostgreSQL URL, keeping everything else.
pub(crate) fn with_database(url: &str, database: &str) -> Result<String> {
    let p = parse("database", url, 5432)?;
    let authority_end = {
        // Reconstruct from the original text so that the authority is untouched.
        let first = url.split(',').next().unwrap_or_default().trim();
        let rest = &first[p.scheme_prefix.len()..];
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        &first[..p.scheme_prefix.len() + end]
    };
    Ok(format!("{authority_end}/{database}{}", p.query))
}

/// The URL with any password replaced by `***`, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postgres_urls() {
        let p = parse(
            "database",
            "postgres://postgres@127.0.0.1:5432/postgres",
            5432,
        )
        .unwrap();
        assert_eq!(p.host, "127.0.0.1");
        assert_eq!(p.port, 5432);
        assert_eq!(p.path, "postgres");
        assert_eq!(p.user(), Some("postgres"));
        assert!(p.is_local());

        let p = parse(
            "database",
            "postgresql://u:p@db.example:6000/app?sslmode=disable",
            5432,
        )
        .unwrap();
        assert_eq!(p.host_port(), "db.example:6000");
        assert_eq!(p.path, "app");
        assert_eq!(p.query, "?sslmode=disable");
        assert_eq!(p.user(), Some("u"));
        assert!(!p.is_local());

        let p = parse("database", "postgres:///app", 5432).unwrap();
        assert_eq!(p.host_port(), "localhost:5432");

        let p = parse("database", "postgres://[::1]:7000/x", 5432).unwrap();
        assert_eq!(p.host_port(), "[::1]:7000");

        assert!(parse("database", "postgres://h:notaport/x", 5432).is_err());
        assert!(parse("database", "postgres://h:0/x", 5432).is_err());
    }

    #[test]
    fn parses_every_server_of_a_cluster_url() {
        let all = parse_all(
            "NATS",
            "nats://127.0.0.1:4301, nats://127.0.0.1:4302,nats://n3",
            4222,
        )
        .unwrap();
        let addrs: Vec<String> = all.iter().map(Parsed::host_port).collect();
        assert_eq!(addrs, ["127.0.0.1:4301", "127.0.0.1:4302", "n3:4222"]);
        assert_eq!(parse_all("NATS", "nats://a:1", 4222).unwrap().len(), 1);
        assert!(parse_all("NATS", "nats://a:1,,nats://b:2", 4222).is_err());
        assert!(parse_all("NATS", "nats://a:1,nats://b:notaport", 4222).is_err());
    }

    #[test]
    fn parses_nats_urls() {
        assert_eq!(
            parse("NATS", "nats://127.0.0.1:4222", 4222)
                .unwrap()
                .host_port(),
            "127.0.0.1:4222"
        );
        assert_eq!(
            parse("NATS", "localhost", 4222).unwrap().host_port(),
            "localhost:4222"
        );
        assert_eq!(
            parse("NATS", "nats://a:b@localhost:5000,nats://other:4222", 4222)
                .unwrap()
                .host_port(),
            "localhost:5000"
        );
    }

    #[test]
    fn replaces_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t_1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/a?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h:1/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h?x=1", "b").unwrap(),
            "postgres://h/b?x=1"
        );
        assert_eq!(
            with_database("postgres://h", "b").unwrap(),
            "postgres://h/b"
        );
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
    }
}
