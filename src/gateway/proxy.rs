//! The upstream side of a route: hyper-util's pooled client, streaming bodies both ways
//! (docs/gateway.md §4, §5). Only the wait for the response headers is timed, never the body
//! (downloads, server-sent events). A request is sent again only when that cannot repeat an
//! effect: an idempotent method without a body, after the connection failed before any answer
//! (RFC 9110 §9.2.2); hyper-util itself also resends a request that never left a reused idle
//! connection.

use std::{io, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use poem::http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version, uri::Scheme};

use crate::config::GatewayRoute;

pub type ProxyBody = BoxBody<Bytes, io::Error>;

/// Why no upstream answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connection refused, no route, DNS, TLS: 502.
    Unreachable,
    /// Connecting or the response headers took too long: 504.
    TimedOut,
    /// The connection broke before a complete answer: 502.
    Broken,
}

impl Failure {
    pub fn status(self) -> StatusCode {
        match self {
            Failure::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            Failure::Unreachable | Failure::Broken => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Failure::Unreachable => "Bad gateway: the upstream could not be reached.",
            Failure::TimedOut => "Gateway timeout: the upstream did not answer in time.",
            Failure::Broken => "Bad gateway: the upstream closed the connection without an answer.",
        }
    }
}

/// One route's upstream.
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
    scheme: Scheme,
    authority: poem::http::uri::Authority,
    /// The upstream URL's path without its trailing `/`.
    base_path: String,
    timeout: Duration,
}

/// What goes to the upstream besides the body.
pub struct Head {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
}

impl Upstream {
    pub fn new(route: &GatewayRoute) -> anyhow::Result<Upstream> {
        let url = url::Url::parse(&route.upstream)?;
        let scheme: Scheme = url.scheme().parse()?;
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("upstream without a host"))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
        .parse()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(route.connect_timeout)));
        let https = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Ok(Upstream {
            client,
            scheme,
            authority,
            base_path: url.path().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(route.timeout),
        })
    }

    /// The upstream's `host[:port]`, for its `Host` header.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    /// The upstream URI for `path` (starting with `/`) and the client's query.
    pub fn uri(&self, path: &str, query: Option<&str>) -> Result<Uri, poem::http::Error> {
        let path_and_query = match query {
            Some(q) => format!("{}{path}?{q}", self.base_path),
            None => format!("{}{path}", self.base_path),
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }

    /// Sends the request; `body` is `None` for a request without one. Such a request with an
    /// idempotent method is sent once more, with the head `again` builds, when the first try
    /// failed before any answer; building it only then spares every other request a copy.
    pub async fn send(
        &self,
        head: Head,
        body: Option<ProxyBody>,
        again: impl FnOnce() -> Option<Head>,
    ) -> Result<Response<Incoming>, Failure> {
        let replayable = body.is_none() && is_idempotent(&head.method);
        match self.attempt(head, body).await {
            Err(Failure::Broken | Failure::Unreachable) if replayable => match again() {
                Some(head) => self.attempt(head, None).await,
                None => Err(Failure::Broken),
            },
            outcome => outcome,
        }
    }

    async fn attempt(
        &self,
        head: Head,
        body: Option<ProxyBody>,
    ) -> Result<Response<Incoming>, Failure> {
        let mut req = Request::new(body.unwrap_or_else(empty));
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.headers_mut() = head.headers;
        // The upstream speaks HTTP/1.1, whatever the client spoke to toker.
        *req.version_mut() = Version::HTTP_11;
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => Err(Failure::TimedOut),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(classify(&e)),
        }
    }
}

fn empty() -> ProxyBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}

/// RFC 9110 §9.2.2.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn classify(e: &hyper_util::client::legacy::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut timed_out = false;
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            timed_out |= io.kind() == io::ErrorKind::TimedOut;
        }
        if err.to_string().contains("timed out") {
            timed_out = true;
        }
        source = err.source();
    }
    match (e.is_connect(), timed_out) {
        (_, true) => Failure::TimedOut,
        (true, false) => Failure::Unreachable,
        (false, false) => Failure::Broken,
    }
}

/// A response body for poem, streamed as it arrives.
pub fn stream_body(body: Incoming) -> poem::Body {
    poem::Body::from(body.map_err(io::Error::other).boxed())
}

/// A request body from poem, streamed into the upstream request.
pub fn request_body(body: poem::Body) -> ProxyBody {
    body.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteAuth;

    fn upstream(url: &str) -> Upstream {
        Upstream::new(&GatewayRoute {
            prefix: "/app".into(),
            upstream: url.into(),
            auth: RouteAuth::None,
            strip_prefix: false,
            preserve_host: false,
            methods: Vec::new(),
            connect_timeout: 1,
            timeout: 1,
            audience: None,
            user_type: None,
        })
        .unwrap()
    }

    #[test]
    fn paths_are_appended_to_the_upstream_path() {
        let u = upstream("http://127.0.0.1:8080/base/");
        assert_eq!(
            u.uri("/items/7", Some("a=1&b")).unwrap().to_string(),
            "http://127.0.0.1:8080/base/items/7?a=1&b"
        );
        let root = upstream("https://orders.internal");
        assert_eq!(
            root.uri("/", None).unwrap().to_string(),
            "https://orders.internal/"
        );
        assert_eq!(root.authority(), "orders.internal");
    }

    #[test]
    fn only_idempotent_methods_are_replayed() {
        for m in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            assert!(is_idempotent(&m), "{m}");
        }
        for m in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&m), "{m}");
        }
    }
}
