//! The HTTP API: devise_token_auth's routes (one module per DTA controller), the sample
//! protected resource, and the OpenAPI document built from them.

mod browser_session;
mod confirmations;
mod hosted_sign_in;
mod omniauth;
mod passwords;
mod registrations;
mod sample;
mod security;
mod sessions;
pub mod spec;
mod token_validations;
mod unlocks;

use std::net::IpAddr;

use poem::{Request, http::Method, web::Data};
use poem_openapi::{OpenApi, OpenApiService, Tags, payload::Json};

use crate::{
    accounts::{Accounts, Origin, password::Busy},
    contract::{ErrorBody, messages},
    error::ApiError,
    http::{client_ip::client_ip, locale::RequestTexts},
    limits::RetryAfter,
};

#[derive(Tags)]
pub enum ApiTags {
    /// Sign up, update and delete accounts (DTA's registrations controller).
    Registrations,
    /// Sign in and out.
    Sessions,
    /// Browser sessions for static apps: a session cookie instead of tokens.
    BrowserSessions,
    /// Check a token and refresh it.
    TokenValidations,
    /// Confirm e-mail addresses.
    Confirmations,
    /// Reset and change passwords.
    Passwords,
    /// Unlock accounts locked by failed sign-ins.
    Unlocks,
    /// Sign in with OAuth2 / OpenID Connect providers.
    OmniAuth,
    /// An example of your own API behind toker's tokens.
    Sample,
}

/// Every operation, in one document. Paths use the default mount `/auth`; `startup` maps the
/// configured `mount_path` onto them.
pub type Api = (
    registrations::Registrations,
    sessions::Sessions,
    browser_session::BrowserSessions,
    hosted_sign_in::HostedSignIn,
    token_validations::TokenValidations,
    confirmations::Confirmations,
    passwords::Passwords,
    unlocks::Unlocks,
    omniauth::OmniAuth,
    sample::Sample,
);

pub const DEFAULT_MOUNT: &str = "/auth";

pub fn service(server_url: &str) -> OpenApiService<Api, ()> {
    OpenApiService::new(Api::default(), "toker", env!("CARGO_PKG_VERSION"))
        .description(
            "A devise_token_auth-compatible token server. Authenticated requests send the \
             `access-token`, `client` and `uid` headers from the previous response; responses \
             carry the next token in the same headers (see the README for the rotation rules). \
             Each further user type (`[[user_types]]`) has the same operations under its own \
             mount, listed here when the server is configured with it.",
        )
        .server(server_url)
}

/// Every (path template, method) the document lists, for the `Allow` header of 405 answers.
pub fn served_methods() -> Vec<(String, Method)> {
    Api::meta()
        .into_iter()
        .flat_map(|api| api.paths)
        .flat_map(|path| {
            path.operations
                .into_iter()
                .map(move |op| (path.path.clone(), op.method))
        })
        .collect()
}

/// The OpenAPI document as YAML, exactly what `toker openapi` prints and `openapi.yaml` holds.
pub fn spec_yaml() -> String {
    spec::yaml()
}

type AccountsData<'a> = Data<&'a Accounts>;

/// Device facts from the request (user agent, the client's address as the request log settled
/// it).
fn origin_of(req: &Request) -> Origin {
    Origin {
        user_agent: req
            .headers()
            .get(poem::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(255).collect()),
        ip: Some(client_of(req).to_string()),
    }
}

/// The client's address, which the abuse limits count by.
fn client_of(req: &Request) -> IpAddr {
    client_ip(req)
}

fn internal(e: impl Into<anyhow::Error>) -> poem::Error {
    ApiError::Internal(e.into()).into()
}

/// An E1 429 for a request over a limit, as the operation's `variant`.
fn too_many<R>(
    variant: fn(Json<ErrorBody>, u64) -> R,
    wait: RetryAfter,
    t: &RequestTexts<'_>,
) -> R {
    variant(
        Json(ErrorBody::new(t.text(&messages::TOO_MANY_REQUESTS))),
        wait.secs(),
    )
}

/// A rule's failure: a full password-hash queue becomes the operation's own 503, which `busy`
/// builds from the `Retry-After` seconds; anything else is an internal error.
fn busy_or_internal<R>(e: anyhow::Error, busy: impl FnOnce(u64) -> R) -> poem::Result<R> {
    match e.downcast_ref::<Busy>() {
        Some(b) => Ok(busy(b.retry_after.secs())),
        None => Err(internal(e)),
    }
}
