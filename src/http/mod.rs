//! toker's HTTP layer: the server and its connection limits, and the poem middlewares (CORS,
//! token authentication, the request log line, request limits and the headers every API
//! response carries).

pub mod allow;
pub mod apps;
pub mod auth;
pub mod client_ip;
pub mod connection;
pub mod cookie;
pub mod cors;
pub mod credentials;
pub mod listener;
pub mod locale;
pub mod request_log;
pub mod request_metrics;
pub mod server;
pub mod session;
pub mod tls;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    error::ResponseError,
    http::{HeaderValue, StatusCode, Version, header},
};

/// `Cache-Control: no-store` and no validators on API responses: a 304 must never replay or
/// drop auth headers (docs/decisions.md D1, docs/contract.md §6 #4); `nosniff` for every JSON body.
pub struct ApiHeaders;

/// A response extension that exempts a response from `ApiHeaders`: it carries no token and is
/// not toker's own JSON (an unauthenticated gateway route's answer, the JWK Set), so its own
/// caching headers stand (docs/decisions.md D14).
#[derive(Debug, Clone, Copy)]
pub struct KeepCaching;

impl<E: Endpoint> Middleware<E> for ApiHeaders {
    type Output = ApiHeadersEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        ApiHeadersEndpoint(ep)
    }
}

pub struct ApiHeadersEndpoint<E>(E);

impl<E: Endpoint> Endpoint for ApiHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut resp = match self.0.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => crate::error::to_json_error(err).await,
        };
        if resp.extensions().get::<KeepCaching>().is_some() {
            return Ok(resp);
        }
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.remove(header::ETAG);
        h.remove(header::LAST_MODIFIED);
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        Ok(resp)
    }
}

/// Largest total size of a request's headers, and of one header value. Real clients send a
/// few hundred bytes; hyper's own limit (an empty-bodied 431) only starts around 400 KiB.
const MAX_HEADERS_BYTES: usize = 32 * 1024;
const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;

/// Refusals before anything reads the request: 431 for oversized headers, 413 for a declared
/// `Content-Length` over the limit, 400 for an HTTP/1.1 request without exactly one `Host`
/// (RFC 9112 §3.2) and for a `Transfer-Encoding` other than one `chunked` (a body framed twice
/// is how requests are smuggled past proxies that read it differently). Bodies without a length
/// (chunked) are limited while being read (`contract::params`). A refused request may be framed
/// in a way we do not trust, so each refusal closes the connection (`Connection: close`).
pub struct RequestLimits(pub usize);

impl<E: Endpoint> Middleware<E> for RequestLimits {
    type Output = RequestLimitsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestLimitsEndpoint(ep, self.0)
    }
}

pub struct RequestLimitsEndpoint<E>(E, usize);

/// Why a request is refused before it is handled, if it is.
fn refusal(req: &Request, max_body: usize) -> Option<Response> {
    let headers = req.headers();
    let mut total = 0;
    for (name, value) in headers {
        total += name.as_str().len() + value.len();
        if value.len() > MAX_HEADER_VALUE_BYTES || total > MAX_HEADERS_BYTES {
            return Some(crate::error::error_response(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request headers are too large.",
            ));
        }
    }
    if req.version() == Version::HTTP_11 && headers.get_all(header::HOST).iter().count() != 1 {
        return Some(crate::error::error_response(
            StatusCode::BAD_REQUEST,
            "An HTTP/1.1 request needs exactly one Host header.",
        ));
    }
    let codings: Vec<String> = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    if !codings.is_empty() && codings != ["chunked"] {
        return Some(crate::error::error_response(
            StatusCode::BAD_REQUEST,
            "Unsupported Transfer-Encoding: send the body chunked once, or with a Content-Length.",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_body as u64) {
        return Some(crate::error::ApiError::payload_too_large().as_response());
    }
    None
}

impl<E: Endpoint> Endpoint for RequestLimitsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if let Some(mut refused) = refusal(&req, self.1) {
            if req.version() <= Version::HTTP_11 {
                refused
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return Ok(refused);
        }
        Ok(self.0.call(req).await?.into_response())
    }
}
