//! The HTTP layer's one error type and the one place that turns any failure, ours or the
//! framework's, into a JSON body of the contract's E1 shape (docs/decisions.md D9): j-toker hangs on
//! a non-JSON error body, and no client should ever see a stack trace or a 5xx it can't parse.

use poem::{Endpoint, Response, error::ResponseError, http::StatusCode};

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

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal(anyhow::Error::new(e))
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Status { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        match self {
            ApiError::Status { status, message } => error_response(*status, message),
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
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
