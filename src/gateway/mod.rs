//! toker as the auth layer in front of the user's own services (docs/decisions.md D14):
//! **gateway mode** forwards configured path prefixes to upstreams once it has authenticated
//! and rotated, and **forward-auth** answers a reverse proxy's question about a request. Both
//! authenticate with `RequestAuth` and rotate with `TokenAuth`, exactly as `GET /api/me` does,
//! and both hand the upstream the same identity headers and signed assertion (`identity`),
//! whose keys are published at `/.well-known/jwks.json` (`keys`).
//!
//! [`Gateway::around`] puts the routes, the forward-auth endpoint and the JWK Set in front of
//! toker's own app; every other request goes to the app unchanged.

mod forward;
mod headers;
pub mod identity;
pub mod keys;
mod proxy;
mod route;
mod upgrade;

use std::time::Duration;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response,
    endpoint::BoxEndpoint,
    http::{HeaderValue, Method, StatusCode, header},
};

use crate::{
    accounts::Accounts,
    config::{
        RouteAuth,
        gateway::{FORWARD_SEGMENT, JWKS_PATH, covers},
    },
    contract::error_response,
    error::Outages,
    http::{RequestLimits, auth::TokenAuth, cors::Cors, session::Sessions},
};

use keys::{AssertionKeys, JWKS_MAX_AGE};

/// The routes, the forward-auth endpoint and the JWK Set, when configured.
pub struct Gateway {
    /// Longest prefix first.
    routes: Vec<(String, BoxEndpoint<'static, Response>)>,
    /// `<mount_path>/forward` and its endpoint, one per user type.
    forward: Vec<(String, BoxEndpoint<'static, Response>)>,
    keys: Option<AssertionKeys>,
}

impl Gateway {
    /// Builds what `settings.gateway` asks for; loads (or generates and stores) the assertion
    /// keys when anything is enabled. Each route and the forward endpoint get toker's CORS.
    /// `types` are the additional user types: each has its own forward-auth endpoint below
    /// its mount, and a route authenticates the one type its `user_type` names.
    /// `sessions` are the default type's browser sessions (docs/decisions.md D15): a route of
    /// that type also takes `Authorization: Session <APP_ID>` with the session cookie.
    pub async fn build(
        accounts: &Accounts,
        types: &[Accounts],
        cors: &Cors,
        sessions: &Sessions,
    ) -> anyhow::Result<Gateway> {
        let settings = &accounts.settings;
        let gateway = &settings.gateway;
        if !gateway.enabled() {
            return Ok(Gateway {
                routes: Vec::new(),
                forward: Vec::new(),
                keys: None,
            });
        }
        let keys = if gateway.assertion_keys.is_empty() {
            AssertionKeys::stored(accounts.store.clone()).await?
        } else {
            AssertionKeys::configured(&gateway.assertion_keys)?
        };
        let assertions = identity::Assertions::new(
            keys.clone(),
            settings.public_url(),
            Duration::from_secs(gateway.assertion_lifetime),
            gateway.assertion_binding,
        );
        // A database outage met while authenticating is a 503 that `/health` and the log
        // hear about, as on toker's own routes.
        let outages = || {
            Outages(
                accounts.store.availability().clone(),
                accounts.mailer.templates().catalog().clone(),
            )
        };
        let mut routes = Vec::new();
        for route in &gateway.routes {
            let default_type = route
                .user_type
                .as_deref()
                .is_none_or(|name| name == accounts.store.user_type());
            let accounts = match &route.user_type {
                Some(name) if name != accounts.store.user_type() => types
                    .iter()
                    .find(|t| t.store.user_type() == name)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "gateway route `{}`: no user type named `{name}`",
                            route.prefix
                        )
                    })?,
                _ => accounts,
            };
            let endpoint =
                route::RouteEndpoint::new(route.clone(), accounts.clone(), assertions.clone())
                    .map_err(|e| anyhow::anyhow!("gateway route `{}`: {e}", route.prefix))?;
            let authenticated = route.auth != RouteAuth::None;
            // Another type's route never sees the sessions, so they cannot authenticate there.
            let sessions = if default_type {
                sessions.clone()
            } else {
                Sessions::default()
            };
            let endpoint: BoxEndpoint<'static, Response> = if authenticated {
                endpoint
                    .with(TokenAuth::gateway(accounts))
                    .data(sessions)
                    .with(outages())
                    .boxed()
            } else {
                endpoint.map_to_response().boxed()
            };
            // Header limits apply; the body streams, so no body limit does.
            let endpoint = endpoint
                .with(RequestLimits(usize::MAX))
                .with(cors.clone())
                .boxed();
            routes.push((route.prefix.clone(), endpoint));
        }
        routes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let mut forward = Vec::new();
        if gateway.forward_auth {
            for accounts in std::iter::once(accounts).chain(types) {
                let path = format!("{}{FORWARD_SEGMENT}", accounts.settings.mount_path);
                let endpoint = forward::ForwardEndpoint {
                    accounts: accounts.clone(),
                    assertions: assertions.clone(),
                }
                .with(TokenAuth::gateway(accounts))
                .with(outages())
                .with(RequestLimits(accounts.settings.max_body_size))
                .with(cors.clone());
                let endpoint = forward::Forwarded {
                    inner: endpoint,
                    endpoint: path.clone(),
                }
                .boxed();
                forward.push((path, endpoint));
            }
        }
        Ok(Gateway {
            routes,
            forward,
            keys: Some(keys),
        })
    }

    /// toker's app with the gateway in front of it.
    pub fn around<E>(self, app: E) -> GatewayDispatch<E>
    where
        E: Endpoint<Output = Response>,
    {
        GatewayDispatch { gateway: self, app }
    }
}

/// Sends each request to its route, the forward-auth endpoint, the JWK Set, or toker's app.
pub struct GatewayDispatch<E> {
    gateway: Gateway,
    app: E,
}

impl<E: Endpoint<Output = Response>> Endpoint for GatewayDispatch<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path();
        if let Some((_, endpoint)) = self
            .gateway
            .routes
            .iter()
            .find(|(prefix, _)| covers(prefix, path))
        {
            return endpoint.call(req).await;
        }
        if let Some((_, endpoint)) = self
            .gateway
            .forward
            .iter()
            .find(|(prefix, _)| covers(prefix, path))
        {
            return endpoint.call(req).await;
        }
        if path == JWKS_PATH
            && let Some(keys) = &self.gateway.keys
        {
            return Ok(jwks(keys, req.method()));
        }
        self.app.call(req).await
    }
}

/// The JWK Set: every published key; cacheable for [`JWKS_MAX_AGE`].
fn jwks(keys: &AssertionKeys, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut resp = error_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let mut resp = Response::builder()
        .content_type("application/jwk-set+json")
        .header(
            header::CACHE_CONTROL,
            format!("public, max-age={}", JWKS_MAX_AGE.as_secs()),
        )
        .body(keys.current().jwks().to_string())
        .into_response();
    resp.extensions_mut().insert(crate::http::KeepCaching);
    resp
}
