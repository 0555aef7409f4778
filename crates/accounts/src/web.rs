//! What the workstations' server-rendered pages share about sessions (АРМ РШЭП, АРМ
//! ИС ЦОН): the session cookie read from the request, the CSRF token every form carries
//! (derived from the session's secret), and the same-origin check of a posted form.

use http::HeaderMap;

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The CSRF token of a session: SHA-256 of a label (the workstation's) and the session's
/// secret token, hex. Only who holds the session cookie (the workstation's own pages)
/// knows it; it lives as long as the session.
pub fn csrf_token(label: &str, session: &str) -> String {
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(label.as_bytes());
    h.update(b"\0");
    h.update(session.as_bytes());
    hex::encode(h.finish().as_ref())
}

/// Whether the token a form sent is `expected`, compared in constant time.
pub fn csrf_matches(sent: Option<&str>, expected: &str) -> bool {
    sent.is_some_and(|s| {
        s.len() == expected.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), expected.as_bytes())
                .is_ok()
    })
}

/// `scheme://authority` of a URL (an `Origin` is one already; a `Referer` is cut there).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if scheme.is_empty() || authority.is_empty() {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// Whether a request comes from the workstation's own pages: its `Origin`, or its
/// `Referer` when it has no `Origin`, is the workstation's origin (`public_url`'s, else
/// `http://<Host>`). A request with neither (not from a browser) passes this check.
pub fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let header = |h| {
        headers
            .get(h)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    let claimed = match header(http::header::ORIGIN) {
        Some(o) => o,
        None => match header(http::header::REFERER) {
            Some(r) => r,
            None => return true,
        },
    };
    let own = match public_url {
        Some(u) => origin_of(u),
        None => header(http::header::HOST).map(|h| format!("http://{}", h.to_ascii_lowercase())),
    };
    matches!((origin_of(claimed), own), (Some(c), Some(o)) if c == o)
}

/// A path of this site to go back to (`back` of the language switch), or `default`:
/// never another site, a scheme-relative URL or a path with control characters.
pub fn local_path(back: Option<String>, default: &str) -> String {
    back.filter(|b| {
        b.starts_with('/')
            && !b.starts_with("//")
            && !b.contains('\\')
            && !b.chars().any(char::is_control)
    })
    .unwrap_or_else(|| default.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let h = headers(&[("cookie", "a=1; arm_session=tok; b=2")]);
        assert_eq!(cookie(&h, "arm_session").as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "con_session"), None);
    }

    #[test]
    fn csrf_tokens_are_per_label_and_session() {
        let a = csrf_token("arm-csrf", "s1");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_token("arm-csrf", "s2"));
        assert_ne!(a, csrf_token("con-csrf", "s1"));
        assert!(csrf_matches(Some(&a), &a));
        assert!(!csrf_matches(Some("x"), &a));
        assert!(!csrf_matches(None, &a));
    }

    #[test]
    fn only_the_own_origin_posts() {
        let own = |pairs: &[(&'static str, &str)], public: Option<&str>| {
            same_origin(&headers(pairs), public)
        };
        assert!(own(
            &[("host", "arm:80"), ("origin", "http://arm:80")],
            None
        ));
        assert!(!own(&[("host", "arm:80"), ("origin", "http://evil")], None));
        assert!(own(
            &[("host", "x"), ("referer", "https://arm.kz/page?x=1")],
            Some("https://arm.kz")
        ));
        assert!(own(&[("host", "arm")], None), "not a browser");
        assert_eq!(local_path(Some("//evil".into()), "/"), "/");
        assert_eq!(local_path(Some("/ui/x".into()), "/"), "/ui/x");
    }
}
