//! The HTTP layer's one error type and the one place that turns any failure, ours or the
//! framework's, into a JSON body of the contract's E1 shape (docs/decisions.md D9): j-toker hangs on
//! a non-JSON error body, and no client should ever see a stack trace or a 5xx it can't parse.
//! A database outage is not a fault of ours: it is answered 503 with `Retry-After`, in the
//! operation's own error shape (docs/contract.md §2.0.4), and the request changed nothing.

use std::time::Instant;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    error::ResponseError,
    http::{HeaderValue, StatusCode, header},
};

use crate::{
    contract::{messages, shapes::ErrorShape},
    store::{Availability, Outage, StoreError},
};

/// Seconds a client is asked to wait before retrying while the database is unavailable: about
/// what a database restart takes, short enough for a person to try again by hand.
pub const RETRY_AFTER_SECS: u32 = 5;

/// An error answered with `{"success":false,"errors":[message]}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Status { status: StatusCode, message: String },
    /// A failure of ours: logged with its cause, answered with a generic 500.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::Status {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::status(StatusCode::BAD_REQUEST, message)
    }

    pub fn payload_too_large() -> ApiError {
        ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(anyhow::Error::new(e))
    }
}

impl ApiError {
    /// The database outage behind this failure, found anywhere in its chain of causes: account
    /// rules pass store errors up through `anyhow` and their own error types unchanged.
    pub fn outage(&self) -> Option<(&StoreError, Outage)> {
        let ApiError::Internal(e) = self else {
            return None;
        };
        e.chain()
            .filter_map(|cause| cause.downcast_ref::<StoreError>())
            .find_map(|e| Some((e, e.outage()?)))
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Status { status, .. } => *status,
            ApiError::Internal(_) if self.outage().is_some() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        match self {
            ApiError::Status { status, message } => error_response(*status, message),
            ApiError::Internal(e) => match self.outage() {
                // Logged once per outage by `Availability`, not once per request.
                Some((cause, _)) => {
                    tracing::debug!(error = %cause, "request answered 503");
                    unavailable_response(ErrorShape::Success, messages::UNAVAILABLE)
                }
                None => {
                    tracing::error!(error = %format!("{e:#}"), "request failed");
                    error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
                }
            },
        }
    }
}

/// 503 with `Retry-After`, `message` in `shape`.
pub fn unavailable_response(shape: ErrorShape, message: &str) -> Response {
    let mut resp = shape.response(StatusCode::SERVICE_UNAVAILABLE, message);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

/// Middleware over the API operations: a database outage escaping an operation is answered
/// 503 in that operation's error shape (E2 on the registrations routes, E7 on protected
/// resources, E1 elsewhere) and reported to `Availability`, which logs the outage once.
pub struct Outages(pub Availability);

impl<E: Endpoint> Middleware<E> for Outages {
    type Output = OutagesEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        OutagesEndpoint {
            inner,
            availability: self.0.clone(),
        }
    }
}

pub struct OutagesEndpoint<E> {
    inner: E,
    availability: Availability,
}

impl<E: Endpoint> Endpoint for OutagesEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let shape = ErrorShape::of(req.method().as_str(), req.uri().path());
        let started = Instant::now();
        let err = match self.inner.call(req).await {
            Ok(resp) => return Ok(resp.into_response()),
            Err(err) => err,
        };
        match err.downcast_ref::<ApiError>().and_then(ApiError::outage) {
            Some((cause, outage)) => {
                self.availability.failed(started, outage, cause);
                tracing::debug!(error = %cause, "request answered 503");
                Ok(unavailable_response(shape, messages::UNAVAILABLE))
            }
            None => Err(err),
        }
    }
}

pub use crate::contract::error_response;

/// Maps every error that escapes an endpoint (unknown route, wrong method, unreadable body,
/// oversized body, a framework parse error, a panic-free internal failure) to JSON.
pub async fn to_json_error(err: poem::Error) -> Response {
    if err.is::<ApiError>() || err.is::<crate::contract::params::ParamsError>() {
        return err.into_response();
    }
    let status = err.status();
    let message = match status {
        StatusCode::NOT_FOUND => "Not found.".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed.".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large.".to_string(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => crate::contract::params::UNSUPPORTED_TYPE.to_string(),
        s if s.is_server_error() => {
            tracing::error!(error = %err, "request failed");
            "Internal server error.".to_string()
        }
        _ => {
            let text = err.to_string();
            if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("Bad request")
                    .to_string()
            } else {
                text
            }
        }
    };
    error_response(status, &message)
}

/// Endpoint adapter: `to_json_error` for everything below it.
pub fn json_errors<E: Endpoint + 'static>(ep: E) -> impl Endpoint<Output = Response> {
    poem::EndpointExt::catch_all_error(ep, to_json_error)
}
