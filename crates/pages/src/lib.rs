//! What the systems' server-rendered pages share (АРМ ИС ЦОН's, the portal's cabinet):
//!
//! - a [`Site`]: the names of its cookies and CSRF tokens, its login and home pages, the
//!   session cookie set and cleared, the check of every posted form ([`Site::guard`]:
//!   its `Origin` this site's, its CSRF token the session's) and the language switch;
//! - the page's language ([`Lang`], kept in the site's cookie), Russian or Kazakh;
//! - a regulation's form as fields to fill and the values posted back ([`form`]), a
//!   multipart form with its files ([`upload`]);
//! - askama templates rendered into answers ([`render`]), local times as the pages show
//!   them ([`when`]), PDF answers ([`pdf`]).
//!
//! Sessions, tokens and the origin check are those of [`egov_accounts::web`]; errors are
//! [`egov_system::api::ApiError`], shown in the page in its language.

pub mod form;
pub mod upload;

use askama::Template;
use axum::Router;
use axum::extract::{Extension, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use egov_system::api::ApiError;

/// A site of server-rendered pages: what its cookies and tokens are called and where
/// its pages are. Mounted with [`Site::mount`], which also lets [`Lang`] find its cookie.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// Its name in logs.
    pub name: &'static str,
    /// The cookie that keeps the pages' language.
    pub lang_cookie: &'static str,
    /// The cookie that holds the session's token.
    pub session_cookie: &'static str,
    /// The label its CSRF tokens are derived with.
    pub csrf_label: &'static str,
    /// The pages' prefix (`/ui`).
    pub prefix: &'static str,
    /// The first page after the login (and of the language switch without `back`).
    pub home: &'static str,
    /// The login page.
    pub login: &'static str,
}

impl Site {
    /// `routes` with the language switch (`<prefix>/lang/{lang}?back=`) and the site
    /// known to every handler (so that [`Lang`] reads its cookie), served at `public`.
    pub fn mount<S: Clone + Send + Sync + 'static>(
        self,
        routes: Router<S>,
        public: PublicUrl,
    ) -> Router<S> {
        routes
            .route(
                &format!("{}/lang/{{lang}}", self.prefix),
                get(switch_language),
            )
            .layer(Extension(self))
            .layer(Extension(public))
    }

    /// The session token of the request's cookie.
    pub fn token(&self, headers: &HeaderMap) -> Option<String> {
        egov_accounts::web::cookie(headers, self.session_cookie).filter(|t| !t.is_empty())
    }

    /// The CSRF token of the session `token`: a hidden field of every form.
    pub fn csrf(&self, token: &str) -> String {
        egov_accounts::web::csrf_token(self.csrf_label, token)
    }

    /// To the login page.
    pub fn to_login(&self) -> Response {
        Redirect::to(self.login).into_response()
    }

    /// 303 to `to`, with the session cookie holding `token`: HttpOnly, SameSite=Strict,
    /// living as long as the session, and `Secure` when the site is served at an
    /// `https` public URL.
    pub fn open_session(
        &self,
        to: &str,
        token: &str,
        lifetime: time::Duration,
        public: &PublicUrl,
    ) -> Response {
        let cookie = format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.session_cookie,
            lifetime.whole_seconds().max(1),
            public.cookie_flags()
        );
        (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, to.to_string()),
                (header::SET_COOKIE, cookie),
            ],
        )
            .into_response()
    }

    /// 303 to the login page, the session cookie cleared (with the attributes it was
    /// set with).
    pub fn close_session(&self, public: &PublicUrl) -> Response {
        let cookie = format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            self.session_cookie,
            public.cookie_flags()
        );
        (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, self.login.to_string()),
                (header::SET_COOKIE, cookie),
            ],
        )
            .into_response()
    }

    /// A posted form: refused (403 `FOREIGN_ORIGIN`) when its `Origin` (or `Referer`) is
    /// not the site's own (`public`'s, else `http://` and the request's `Host`), the
    /// login's included; with a session (`expected`, its CSRF token), refused (403
    /// `CSRF_TOKEN`) without that token in the form (`sent`).
    pub fn guard(
        &self,
        headers: &HeaderMap,
        public: &PublicUrl,
        expected: Option<&str>,
        sent: Option<&str>,
    ) -> Result<(), ApiError> {
        if !egov_accounts::web::same_origin(headers, public.origin()) {
            return Err(ApiError::forbidden(
                "форма отправлена с другого сайта",
                "нысан басқа сайттан жіберілген",
            )
            .with_code("FOREIGN_ORIGIN"));
        }
        if let Some(expected) = expected
            && !egov_accounts::web::csrf_matches(sent, expected)
        {
            return Err(ApiError::forbidden(
                "в форме нет токена CSRF этой сессии; откройте страницу заново",
                "нысанда осы сессияның CSRF токені жоқ; бетті қайта ашыңыз",
            )
            .with_code("CSRF_TOKEN"));
        }
        Ok(())
    }
}

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Russian (the default).
    #[default]
    Ru,
    /// Kazakh.
    Kk,
}

impl Lang {
    /// `ru` or `kk`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::Kk => "kk",
        }
    }

    /// The language of a code (`ru`, `kk`).
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ru" => Some(Lang::Ru),
            "kk" => Some(Lang::Kk),
            _ => None,
        }
    }

    /// The language kept in the cookie `cookie` of a request, else Russian.
    pub fn from_cookie(headers: &HeaderMap, cookie: &str) -> Lang {
        egov_accounts::web::cookie(headers, cookie)
            .and_then(|v| Lang::parse(v.trim()))
            .unwrap_or_default()
    }

    /// One of two things (texts, sets of words): `ru` or `kk`.
    pub fn pick<'a, T: ?Sized>(self, ru: &'a T, kk: &'a T) -> &'a T {
        match self {
            Lang::Ru => ru,
            Lang::Kk => kk,
        }
    }
}

/// The language of a request: the site's cookie the switch sets, else Russian.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Site>()
            .map(|site| Lang::from_cookie(&parts.headers, site.lang_cookie))
            .unwrap_or_default())
    }
}

/// What a site's layout shows around every page: the language and its words (`W`, the
/// site's own), the title, who is signed in (`Who`, as the site shows them), the page's
/// path (the language switch comes back to it), the session's CSRF token (a hidden field
/// of every form) and an error with its code.
#[derive(Debug, Clone)]
pub struct Page<W: 'static, Who> {
    /// `ru` or `kk`.
    pub lang: &'static str,
    /// The words.
    pub t: &'static W,
    /// Title.
    pub title: String,
    /// Who is signed in.
    pub who: Option<Who>,
    /// This page's path.
    pub here: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// An error to show at the top.
    pub error: Option<String>,
    /// Its code.
    pub code: Option<String>,
}

impl<W, Who> Page<W, Who> {
    /// A page in `lang` with its words `t`, no one signed in.
    pub fn new(lang: Lang, t: &'static W, here: &str, title: &str) -> Self {
        Page {
            lang: lang.code(),
            t,
            title: title.to_string(),
            who: None,
            here: here.to_string(),
            csrf: String::new(),
            error: None,
            code: None,
        }
    }

    /// Signed in as `who`, with the session's CSRF token.
    pub fn of(mut self, who: Who, csrf: &str) -> Self {
        self.who = Some(who);
        self.csrf = csrf.to_string();
        self
    }

    /// With `e` shown at the top in the page's language, with its code.
    pub fn failed(mut self, e: &ApiError) -> Self {
        self.error = Some(e.message(self.lang).to_string());
        self.code = Some(e.code.clone());
        self
    }
}

#[derive(serde::Deserialize)]
struct Back {
    back: Option<String>,
}

/// Where browsers reach a site's pages when it runs behind a proxy or a TLS front
/// (`https://cabinet.example.kz`): the one origin its forms may be posted from, and, when
/// `https`, every cookie it sets is `Secure`. The default (none): `http://` and the
/// request's own `Host`, cookies without `Secure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicUrl(Option<String>);

impl PublicUrl {
    /// A public URL as configured: `http` or `https`, a host (and port), nothing after
    /// but a `/`. The error says what is wrong with it.
    pub fn parse(url: Option<&str>) -> Result<PublicUrl, String> {
        let Some(url) = url else {
            return Ok(PublicUrl(None));
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?} is not a URL (https://host[:port])"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{url:?}: the scheme must be http or https"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty()
            || authority
                .chars()
                .any(|c| matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace())
        {
            return Err(format!(
                "{url:?}: only scheme://host[:port], no path, query or user"
            ));
        }
        let authority = authority.to_ascii_lowercase();
        // the host, and the port after it (an IPv6 host is bracketed)
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("{url:?}: an IPv6 host without its ']'"))?;
                let port =
                    match after {
                        "" => None,
                        p => Some(p.strip_prefix(':').ok_or_else(|| {
                            format!("{url:?}: only a port may follow the IPv6 host")
                        })?),
                    };
                if host.is_empty()
                    || !host
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                {
                    return Err(format!("{url:?}: not an IPv6 host"));
                }
                (format!("[{host}]"), port)
            }
            None => {
                let (host, port) = match authority.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), Some(p)),
                    None => (authority.clone(), None),
                };
                if host.is_empty() || host.contains([':', '[', ']']) {
                    return Err(format!("{url:?}: no host"));
                }
                (host, port)
            }
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(format!("{url:?}: the port must be 1 to 65535")),
            },
        };
        // a browser's Origin leaves the scheme's own port out
        let default = if scheme == "https" { 443 } else { 80 };
        Ok(PublicUrl(Some(match port {
            Some(p) if p != default => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        })))
    }

    /// The origin (`scheme://host[:port]`), when set.
    pub fn origin(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Whether browsers reach the site over HTTPS only.
    pub fn is_https(&self) -> bool {
        self.0.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    /// `; Secure` for a site served over HTTPS, else nothing: the end of each cookie.
    pub fn cookie_flags(&self) -> &'static str {
        if self.is_https() { "; Secure" } else { "" }
    }
}

/// The language switch: keeps the language in the site's cookie and goes back to the
/// page (of this site only).
async fn switch_language(
    Extension(site): Extension<Site>,
    Extension(public): Extension<PublicUrl>,
    Path(lang): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let back = egov_accounts::web::local_path(q.back, site.home);
    let Some(lang) = Lang::parse(&lang) else {
        return Redirect::to(&back).into_response();
    };
    let cookie = format!(
        "{}={}; Path=/; SameSite=Lax; Max-Age=31536000{}",
        site.lang_cookie,
        lang.code(),
        public.cookie_flags()
    );
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, back), (header::SET_COOKIE, cookie)],
    )
        .into_response()
}

/// A page: the template rendered with `status`; a template that fails is a bare 500 and
/// a log line.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Local time (`egov_calendar::LOCAL_OFFSET`) as the pages show it, `—` for none.
pub fn when(t: Option<time::OffsetDateTime>) -> String {
    match t {
        None => "—".into(),
        Some(t) => {
            let l = t.to_offset(egov_calendar::LOCAL_OFFSET);
            format!(
                "{:02}.{:02}.{} {:02}:{:02}",
                l.day(),
                l.month() as u8,
                l.year(),
                l.hour(),
                l.minute()
            )
        }
    }
}

/// The value of the posted field `name` (the first), empty when absent.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A PDF answer named `name`: shown in the browser, or, `save`, downloaded
/// (`Content-Disposition: attachment`).
pub fn pdf(bytes: Vec<u8>, name: &str, save: bool) -> Response {
    let disposition = if save { "attachment" } else { "inline" };
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Checks that no template of `dir` turns askama's escaping off (`|safe`, `escape`):
/// every value of a page is escaped. The number of templates read, or what is wrong (the
/// templates that do, a folder with none).
pub fn check_escaping(dir: &std::path::Path) -> Result<usize, String> {
    let mut read = 0;
    let mut unescaping = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        read += 1;
        if text.contains("|safe") || text.contains("| safe") || text.contains("escape") {
            unescaping.push(path.display().to_string());
        }
    }
    match (read, unescaping.is_empty()) {
        (0, _) => Err(format!("no template in {}", dir.display())),
        (n, true) => Ok(n),
        (_, false) => Err(format!("escaping turned off in {}", unescaping.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: Site = Site {
        name: "test",
        lang_cookie: "t_lang",
        session_cookie: "t_session",
        csrf_label: "t-csrf",
        prefix: "/ui",
        home: "/ui/home",
        login: "/ui/login",
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_form_from_another_site_or_without_the_token_is_refused() {
        let token = SITE.csrf("secret");
        let own = headers(&[("host", "p:1"), ("origin", "http://p:1")]);
        assert!(
            SITE.guard(&own, &PublicUrl::default(), Some(&token), Some(&token))
                .is_ok()
        );
        assert!(
            SITE.guard(&own, &PublicUrl::default(), None, None).is_ok(),
            "the login has no token"
        );
        let e = SITE
            .guard(&own, &PublicUrl::default(), Some(&token), None)
            .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (403, "CSRF_TOKEN"));
        let e = SITE
            .guard(
                &own,
                &PublicUrl::default(),
                Some(&token),
                Some(&SITE.csrf("other")),
            )
            .unwrap_err();
        assert_eq!(e.code, "CSRF_TOKEN");
        let foreign = headers(&[("host", "p:1"), ("origin", "http://evil")]);
        let e = SITE
            .guard(&foreign, &PublicUrl::default(), Some(&token), Some(&token))
            .unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code.as_str()),
            (403, "FOREIGN_ORIGIN")
        );
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_lives_with_the_session() {
        let r = SITE.open_session(
            "/ui/home",
            "tok",
            time::Duration::minutes(30),
            &PublicUrl::default(),
        );
        assert_eq!(r.status(), 303);
        let c = r.headers()[header::SET_COOKIE].to_str().unwrap();
        assert_eq!(
            c,
            "t_session=tok; Path=/; HttpOnly; SameSite=Strict; Max-Age=1800"
        );
        let r = SITE.close_session(&PublicUrl::default());
        assert_eq!(r.headers()[header::LOCATION], "/ui/login");
        assert_eq!(
            r.headers()[header::SET_COOKIE].to_str().unwrap(),
            "t_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
        assert_eq!(
            SITE.token(&headers(&[("cookie", "a=1; t_session=tok")])),
            Some("tok".into())
        );
        assert_eq!(SITE.token(&headers(&[("cookie", "t_session=")])), None);
    }

    #[test]
    fn behind_tls_the_session_cookie_is_secure_set_and_cleared() {
        let https = PublicUrl::parse(Some("https://Cabinet.example.kz/")).unwrap();
        assert_eq!(https.origin(), Some("https://cabinet.example.kz"));
        let r = SITE.open_session("/ui/home", "tok", time::Duration::minutes(30), &https);
        assert_eq!(
            r.headers()[header::SET_COOKIE].to_str().unwrap(),
            "t_session=tok; Path=/; HttpOnly; SameSite=Strict; Max-Age=1800; Secure"
        );
        let r = SITE.close_session(&https);
        assert_eq!(
            r.headers()[header::SET_COOKIE].to_str().unwrap(),
            "t_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        );
    }

    #[tokio::test]
    async fn the_language_switch_marks_its_cookie_secure_as_the_site_is_mounted() {
        use tower::ServiceExt;
        for (public, expected) in [
            (None, "t_lang=kk; Path=/; SameSite=Lax; Max-Age=31536000"),
            (
                Some("http://cabinet.example.kz:8080"),
                "t_lang=kk; Path=/; SameSite=Lax; Max-Age=31536000",
            ),
            (
                Some("https://cabinet.example.kz"),
                "t_lang=kk; Path=/; SameSite=Lax; Max-Age=31536000; Secure",
            ),
        ] {
            let app = SITE.mount(Router::new(), PublicUrl::parse(public).unwrap());
            let r = app
                .oneshot(
                    axum::http::Request::get("/ui/lang/kk?back=/ui/home")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            assert_eq!(r.headers()[header::LOCATION], "/ui/home");
            assert_eq!(r.headers()[header::SET_COOKIE].to_str().unwrap(), expected);
        }
    }

    #[test]
    fn a_public_url_is_a_bare_http_or_https_origin() {
        for bad in [
            "cabinet.example.kz",
            "ftp://cabinet.example.kz",
            "https://",
            "https://cabinet.example.kz/ui",
            "https://cabinet.example.kz?x=1",
            "https://user@cabinet.example.kz",
            "https://cabinet example.kz",
            "https://:443",
            "https://cabinet.example.kz:abc",
            "https://cabinet.example.kz:99999",
            "https://cabinet.example.kz:0",
            "https://[::1",
            "https://[::1]x",
        ] {
            let e = PublicUrl::parse(Some(bad)).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!(PublicUrl::parse(None).unwrap(), PublicUrl::default());
        // as a browser's Origin says it: the scheme's own port left out, others kept
        for (url, origin) in [
            (
                "HTTPS://Cabinet.Example.kz:443/",
                "https://cabinet.example.kz",
            ),
            ("http://cabinet.example.kz:80", "http://cabinet.example.kz"),
            (
                "https://cabinet.example.kz:8443",
                "https://cabinet.example.kz:8443",
            ),
            ("http://[::1]:7500", "http://[::1]:7500"),
            ("https://[2001:db8::1]", "https://[2001:db8::1]"),
        ] {
            assert_eq!(
                PublicUrl::parse(Some(url)).unwrap().origin(),
                Some(origin),
                "{url}"
            );
        }
        assert!(!PublicUrl::default().is_https());
    }

    #[test]
    fn behind_a_proxy_the_forms_origin_is_the_public_one() {
        let https = PublicUrl::parse(Some("https://cabinet.example.kz")).unwrap();
        let ok = headers(&[
            ("host", "10.0.0.5:7500"),
            ("origin", "https://cabinet.example.kz"),
        ]);
        assert!(SITE.guard(&ok, &https, None, None).is_ok());
        // the same request is foreign to a site that knows no public URL
        let e = SITE
            .guard(&ok, &PublicUrl::default(), None, None)
            .unwrap_err();
        assert_eq!(e.code.as_str(), "FOREIGN_ORIGIN");
        // and plain HTTP is not the HTTPS site
        let plain = headers(&[("host", "x"), ("origin", "http://cabinet.example.kz")]);
        assert!(SITE.guard(&plain, &https, None, None).is_err());
    }

    #[tokio::test]
    async fn the_language_is_the_sites_cookie() {
        let (mut parts, _) = axum::http::Request::builder()
            .header("cookie", "t_lang=kk; other_lang=ru")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(
            Lang::from_request_parts(&mut parts, &()).await.unwrap(),
            Lang::Ru,
            "no site: the default"
        );
        parts.extensions.insert(SITE);
        assert_eq!(
            Lang::from_request_parts(&mut parts, &()).await.unwrap(),
            Lang::Kk
        );
        assert_eq!(Lang::Kk.pick("а", "ә"), "ә");
        assert_eq!(Lang::parse("en"), None);
    }

    #[test]
    fn the_shared_partials_escape_every_value() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/pages");
        assert_eq!(check_escaping(&dir), Ok(3));
        let other = tempfile_dir();
        std::fs::write(other.join("bad.html"), "{{ x|safe }}").unwrap();
        assert!(check_escaping(&other).unwrap_err().contains("bad.html"));
        std::fs::remove_dir_all(&other).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("egov-pages-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn times_are_local() {
        let t = time::macros::datetime!(2024-03-01 20:30 UTC);
        assert_eq!(when(Some(t)), "02.03.2024 01:30");
        assert_eq!(when(None), "—");
    }
}
