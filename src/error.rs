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

use std::sync::Arc;

use crate::{
    contract::{
        messages::{self, Translate},
        params::ParamsError,
        shapes::ErrorShape,
    },
    http::locale::LocaleHints,
    locale::Catalog,
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

impl ApiError {
    /// The answer, its text in `t`'s language.
    fn response_in(&self, t: &dyn Translate) -> Response {
        match self {
            ApiError::Status { status, message } => error_response(*status, message),
            ApiError::Internal(e) => match self.outage() {
                // Logged once per outage by `Availability`, not once per request.
                Some((cause, _)) => {
                    tracing::debug!(error = %cause, "request answered 503");
                    unavailable_response(ErrorShape::Success, &t.text(&messages::UNAVAILABLE))
                }
                None => {
                    tracing::error!(error = %format!("{e:#}"), "request failed");
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &t.text(&messages::INTERNAL_ERROR),
                    )
                }
            },
        }
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
        self.response_in(&english())
    }
}

/// English, for answers given where no request says otherwise.
fn english() -> impl Translate {
    static CATALOG: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(Catalog::shipped);
    static EN: std::sync::LazyLock<crate::locale::Locale> =
        std::sync::LazyLock::new(crate::locale::Locale::english);
    CATALOG.texts(&EN)
}

/// 503 with `Retry-After`, `message` in `shape`.
pub fn unavailable_response(shape: ErrorShape, message: &str) -> Response {
    let mut resp = shape.response(StatusCode::SERVICE_UNAVAILABLE, message);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

/// Middleware over the API operations, the one place their failures become answers, in the
/// request's language: a database outage is answered 503 in the operation's error shape (E2 on
/// the registrations routes, E7 on protected resources, E1 elsewhere) and reported to
/// `Availability`, which logs the outage once; any other failure as [`json_error`].
pub struct Outages(pub Availability, pub Arc<Catalog>);

impl<E: Endpoint> Middleware<E> for Outages {
    type Output = OutagesEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        OutagesEndpoint {
            inner,
            availability: self.0.clone(),
            catalog: self.1.clone(),
        }
    }
}

pub struct OutagesEndpoint<E> {
    inner: E,
    availability: Availability,
    catalog: Arc<Catalog>,
}

impl<E: Endpoint> Endpoint for OutagesEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let shape = ErrorShape::of(req.method().as_str(), req.uri().path());
        // Copies only: the language is worked out if an answer needs it.
        let hints = LocaleHints::of(req.uri(), req.headers());
        let started = Instant::now();
        let err = match self.inner.call(req).await {
            Ok(resp) => return Ok(resp.into_response()),
            Err(err) => err,
        };
        let locale = hints.locale(&self.catalog, None);
        let t = self.catalog.texts(&locale);
        match err.downcast_ref::<ApiError>().and_then(ApiError::outage) {
            Some((cause, outage)) => {
                self.availability.failed(started, outage, cause);
                tracing::debug!(error = %cause, "request answered 503");
                Ok(unavailable_response(shape, &t.text(&messages::UNAVAILABLE)))
            }
            None => Ok(json_error(err, &t)),
        }
    }
}

pub use crate::contract::error_response;

/// Maps every error that escapes an endpoint (unknown route, wrong method, unreadable body,
/// oversized body, a framework parse error, a panic-free internal failure) to JSON, in English:
/// the layers around the operations, where `Outages` has not answered in the request's language.
pub async fn to_json_error(err: poem::Error) -> Response {
    json_error(err, &english())
}

/// [`to_json_error`] in `t`'s language.
pub fn json_error(err: poem::Error, t: &dyn Translate) -> Response {
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return e.response_in(t);
    }
    if let Some(e) = err.downcast_ref::<ParamsError>() {
        let text = e.message().map_or_else(|| e.to_string(), |m| t.text(&m));
        return error_response(e.status(), &text);
    }
    let status = err.status();
    let message = match status {
        StatusCode::NOT_FOUND => t.text(&messages::NOT_FOUND),
        StatusCode::METHOD_NOT_ALLOWED => t.text(&messages::METHOD_NOT_ALLOWED),
        StatusCode::PAYLOAD_TOO_LARGE => t.text(&messages::BODY_TOO_LARGE),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => t.text(&messages::UNSUPPORTED_CONTENT_TYPE),
        s if s.is_server_error() => {
            tracing::error!(error = %err, "request failed");
            t.text(&messages::INTERNAL_ERROR)
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
