//! Limits every server of a service runs with, so that no client can hold it without
//! bound: requests served at once (gRPC per connection and in all, HTTP in all; more
//! wait their turn) and the time an HTTP request may take (then it is answered 408 in
//! the API's error shape, `{"code", "message", "details"}`).

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::limit::GlobalConcurrencyLimitLayer;

/// The limits of a service's servers (`EGOV_<SERVICE>__LIMITS__*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// gRPC requests served at once over one connection.
    pub grpc_per_connection: usize,
    /// gRPC requests served at once over all connections.
    pub grpc_concurrency: usize,
    /// HTTP requests served at once.
    pub http_concurrency: usize,
    /// Seconds an HTTP request may take before it is answered 408.
    pub http_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            grpc_per_connection: 256,
            grpc_concurrency: 1024,
            http_concurrency: 256,
            http_timeout_secs: 30,
        }
    }
}

impl Limits {
    /// The first limit that is zero (a server that would serve nothing), by its name.
    pub fn invalid(&self) -> Option<&'static str> {
        [
            ("grpc_per_connection", self.grpc_per_connection as u64),
            ("grpc_concurrency", self.grpc_concurrency as u64),
            ("http_concurrency", self.http_concurrency as u64),
            ("http_timeout_secs", self.http_timeout_secs),
        ]
        .into_iter()
        .find(|(_, v)| *v == 0)
        .map(|(n, _)| n)
    }

    /// Checks the limits of the service whose settings are under `key` (`gateway`,
    /// `gbd_fl`, ...): a zero is an error naming its variable.
    pub fn check(&self, key: &str) -> Result<(), String> {
        match self.invalid() {
            Some(name) => Err(format!("{key}.limits.{name}")),
            None => Ok(()),
        }
    }

    /// A tonic server builder with these limits (mutual TLS and services still to add).
    pub fn grpc_server(
        &self,
    ) -> tonic::transport::Server<
        tower::layer::util::Stack<GlobalConcurrencyLimitLayer, tower::layer::util::Identity>,
    > {
        tonic::transport::Server::builder()
            .concurrency_limit_per_connection(self.grpc_per_connection.max(1))
            .layer(GlobalConcurrencyLimitLayer::new(
                self.grpc_concurrency.max(1),
            ))
    }

    /// `router` with these limits: at most `http_concurrency` requests at once, each
    /// answered within `http_timeout_secs` or with 408 `REQUEST_TIMEOUT`.
    pub fn http(&self, router: Router) -> Router {
        router
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_secs(self.http_timeout_secs.max(1)),
                timeout,
            ))
            .layer(GlobalConcurrencyLimitLayer::new(
                self.http_concurrency.max(1),
            ))
    }
}

async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(%path, limit_secs = limit.as_secs(), "HTTP request timed out");
            (
                StatusCode::REQUEST_TIMEOUT,
                axum::Json(serde_json::json!({
                    "code": "REQUEST_TIMEOUT",
                    "message": format!("no answer within {} s", limit.as_secs()),
                    "details": {},
                })),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    async fn serve(router: Router) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
        format!("http://{addr}")
    }

    async fn get_status(url: &str) -> (u16, String) {
        // a bare HTTP/1.1 exchange: this crate has no HTTP client
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let u = url.trim_start_matches("http://");
        let (host, path) = u.split_once('/').unwrap();
        let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
        s.write_all(
            format!("GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        (code, out)
    }

    #[tokio::test]
    async fn a_slow_request_is_answered_408_in_the_error_shape_and_a_quick_one_passes() {
        let limits = Limits {
            http_timeout_secs: 1,
            ..Default::default()
        };
        let router = limits.http(
            Router::new()
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        "late"
                    }),
                )
                .route("/quick", get(|| async { "ok" })),
        );
        let base = serve(router).await;
        let (code, text) = get_status(&format!("{base}/slow")).await;
        assert_eq!(code, 408, "{text}");
        assert!(text.contains("\"code\":\"REQUEST_TIMEOUT\""), "{text}");
        let (code, text) = get_status(&format!("{base}/quick")).await;
        assert_eq!(code, 200, "{text}");
    }

    #[tokio::test]
    async fn requests_past_the_concurrency_limit_wait_their_turn() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let limits = Limits {
            http_concurrency: 2,
            ..Default::default()
        };
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (n, m) = (now.clone(), most.clone());
        let router = limits.http(Router::new().route(
            "/work",
            get(move || {
                let (n, m) = (n.clone(), m.clone());
                async move {
                    let at = n.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(at, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    "done"
                }
            }),
        ));
        let base = serve(router).await;
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let url = format!("{base}/work");
                tokio::spawn(async move { get_status(&url).await.0 })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.unwrap(), 200);
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_zero_limit_is_named() {
        assert_eq!(Limits::default().invalid(), None);
        let l = Limits {
            http_timeout_secs: 0,
            ..Default::default()
        };
        assert_eq!(l.invalid(), Some("http_timeout_secs"));
    }
}
