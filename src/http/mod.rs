//! toker's poem middlewares: CORS, token authentication, the request log line and the headers
//! every API response carries.

pub mod auth;
pub mod client_ip;
pub mod cors;
pub mod credentials;
pub mod request_log;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    error::ResponseError,
    http::{HeaderValue, header},
};

/// `Cache-Control: no-store` and no validators on API responses: a 304 must never replay or
/// drop auth headers (docs/decisions.md D1, docs/contract.md §6 #4); `nosniff` for every JSON body.
pub struct ApiHeaders;

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

/// 431 for oversized headers and 413 for a declared `Content-Length` over the limit, before
/// anything reads the request. Bodies without a length (chunked) are limited while being read
/// (`contract::params`).
pub struct RequestLimits(pub usize);

impl<E: Endpoint> Middleware<E> for RequestLimits {
    type Output = RequestLimitsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestLimitsEndpoint(ep, self.0)
    }
}

pub struct RequestLimitsEndpoint<E>(E, usize);

impl<E: Endpoint> Endpoint for RequestLimitsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut total = 0;
        for (name, value) in req.headers() {
            total += name.as_str().len() + value.len();
            if value.len() > MAX_HEADER_VALUE_BYTES || total > MAX_HEADERS_BYTES {
                return Ok(crate::error::error_response(
                    poem::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "Request headers are too large.",
                ));
            }
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.1 as u64) {
            return Ok(crate::error::ApiError::payload_too_large().as_response());
        }
        Ok(self.0.call(req).await?.into_response())
    }
}
