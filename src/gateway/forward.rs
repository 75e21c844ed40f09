//! Forward-auth (docs/gateway.md §2, §6): nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth` and Envoy `ext_authz` ask `<mount_path>/forward` about each request before
//! passing it to the app. toker authenticates and rotates exactly as for `GET /api/me` and
//! answers **200** with the identity headers and the next token, or 401 with the contract's
//! body; never a 3xx or 404 (nginx turns those into 500), whatever the method and path below
//! the endpoint (Envoy sends the client's own, prefixed).
//!
//! The request toker is asked about is the client's: its method and URI come from
//! `X-Forwarded-Method`/`-Uri` (Traefik, Caddy), `X-Original-Method`/`-URI` (nginx) or the
//! request line (Envoy), its host from `X-Forwarded-Host`. [`Forwarded`] puts them in place
//! before CORS and authentication run, so both judge the client's request: an allowed
//! cross-origin request gets the CORS headers for the proxy to copy, a preflight gets 200
//! without identity (§6.7), and the query's `unbatch` and credential parameters count.

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, Method, StatusCode, header, uri::PathAndQuery},
};

use super::{
    identity::{Assertions, Audience, Identity},
    route::unauthenticated,
};
use crate::{
    accounts::Accounts, contract::error_response, error::ApiError, http::auth::RequestAuth,
    http::credentials::Credentials,
};

/// Tells Envoy which of the client's headers not to forward (docs/gateway.md §6.4).
const ENVOY_REMOVE: &str = "x-envoy-auth-headers-to-remove";

/// The client's request, as the proxy describes it.
#[derive(Debug, Clone)]
pub struct OriginalRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub host: Option<HeaderValue>,
    pub proto: &'static str,
}

impl OriginalRequest {
    fn is_preflight(&self, req: &Request) -> bool {
        self.method == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }
}

fn first_header<'a>(req: &'a Request, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| req.headers().get(*n))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Reads the client's request out of the proxy's; `Err` names what is malformed.
pub fn original_request(req: &Request, endpoint: &str) -> Result<OriginalRequest, &'static str> {
    let method = match first_header(req, &["x-forwarded-method", "x-original-method"]) {
        Some(m) => Method::from_bytes(m.as_bytes()).map_err(|_| "X-Forwarded-Method")?,
        None => req.method().clone(),
    };
    let (path, query) = match first_header(req, &["x-forwarded-uri", "x-original-uri"]) {
        Some(uri) => {
            let parsed: PathAndQuery = uri.parse().map_err(|_| "X-Forwarded-Uri")?;
            if !parsed.path().starts_with('/') {
                return Err("X-Forwarded-Uri");
            }
            (parsed.path().to_string(), parsed.query().map(String::from))
        }
        None => {
            // Envoy: the endpoint's path, then the client's.
            let rest = &req.uri().path()[endpoint.len().min(req.uri().path().len())..];
            let path = if rest.is_empty() { "/" } else { rest };
            (path.to_string(), req.uri().query().map(String::from))
        }
    };
    let host = first_header(req, &["x-forwarded-host"])
        .and_then(|h| HeaderValue::from_str(h).ok())
        .or_else(|| req.headers().get(header::HOST).cloned());
    let proto = match first_header(req, &["x-forwarded-proto"]) {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(_) => "http",
        None if req.scheme() == &poem::http::uri::Scheme::HTTPS => "https",
        None => "http",
    };
    Ok(OriginalRequest {
        method,
        path,
        query,
        host,
        proto,
    })
}

/// Middleware in front of CORS and `TokenAuth` on the forward-auth endpoint: gives them the
/// client's method, host and query, and turns the preflight answer into the 200 every proxy
/// takes as "allowed".
pub struct Forwarded<E> {
    pub inner: E,
    /// `<mount_path>/forward`.
    pub endpoint: String,
}

impl<E: Endpoint> Endpoint for Forwarded<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let original = match original_request(&req, &self.endpoint) {
            Ok(o) => o,
            Err(what) => {
                return Ok(error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("Bad request: malformed {what} header."),
                ));
            }
        };
        let preflight = original.is_preflight(&req);
        req.set_method(original.method.clone());
        if let Some(host) = &original.host {
            req.headers_mut().insert(header::HOST, host.clone());
        }
        let path_and_query = match &original.query {
            Some(q) => format!("{}?{q}", self.endpoint),
            None => self.endpoint.clone(),
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = path_and_query.parse().ok();
        if let Ok(uri) = poem::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
        req.extensions_mut().insert(original);
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => crate::error::to_json_error(err).await,
        };
        if preflight && resp.status() == StatusCode::NO_CONTENT {
            resp.set_status(StatusCode::OK);
        }
        Ok(resp)
    }
}

/// The endpoint itself (inside CORS and `TokenAuth`).
pub struct ForwardEndpoint {
    pub accounts: Accounts,
    pub assertions: Assertions,
}

impl Endpoint for ForwardEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let original = req
            .extensions()
            .get::<OriginalRequest>()
            .cloned()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("forward-auth without Forwarded")))?;
        if original.is_preflight(&req) {
            // A preflight carries no credentials; the browser needs a 2xx to go on.
            return Ok(StatusCode::OK.into_response());
        }
        let auth = req
            .extensions()
            .get::<RequestAuth>()
            .cloned()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("forward-auth without TokenAuth")))?;
        let Some(user) = auth.authenticate(None).await.map_err(ApiError::from)? else {
            return Ok(unauthenticated(&req));
        };
        let identity = Identity::new(&user, auth.client().unwrap_or_default());
        if req.headers().contains_key(header::UPGRADE) {
            // As in gateway mode: a 101 cannot hand the browser a new token.
            auth.silence();
        }
        let host = original
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let audience = format!("{}://{host}", original.proto);
        let identity_headers = self
            .assertions
            .headers(
                &identity,
                &Audience {
                    audience: &audience,
                    method: original.method.as_str(),
                    path: &original.path,
                },
            )
            .map_err(ApiError::Internal)?;
        let mut resp = StatusCode::OK.into_response();
        let h = resp.headers_mut();
        for (name, value) in identity_headers.iter() {
            h.insert(name.clone(), value.clone());
        }
        let names = &self.accounts.settings.headers_names;
        let mut remove = vec![
            names.access_token.to_ascii_lowercase(),
            names.client.to_ascii_lowercase(),
            names.uid.to_ascii_lowercase(),
            names.expiry.to_ascii_lowercase(),
            names.token_type.to_ascii_lowercase(),
        ];
        if Credentials::from_authorization(req.headers(), names) != Credentials::default() {
            remove.push(names.authorization.to_ascii_lowercase());
        }
        if let Ok(v) = HeaderValue::from_str(&remove.join(", ")) {
            h.insert(ENVOY_REMOVE, v);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(uri.parse().unwrap());
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.finish()
    }

    #[test]
    fn nginx_traefik_and_envoy_descriptions_are_read() {
        let nginx = request(
            "/auth/forward",
            &[
                ("x-original-method", "POST"),
                ("x-original-uri", "/api/items?unbatch=1"),
                ("x-forwarded-host", "app.example.com:8443"),
                ("x-forwarded-proto", "https"),
            ],
        );
        let o = original_request(&nginx, "/auth/forward").unwrap();
        assert_eq!(o.method, Method::POST);
        assert_eq!(
            (o.path.as_str(), o.query.as_deref()),
            ("/api/items", Some("unbatch=1"))
        );
        assert_eq!(o.host.unwrap(), "app.example.com:8443");
        assert_eq!(o.proto, "https");

        let traefik = request(
            "/auth/forward",
            &[
                ("x-forwarded-method", "DELETE"),
                ("x-forwarded-uri", "/x"),
                ("x-original-method", "GET"),
            ],
        );
        assert_eq!(
            original_request(&traefik, "/auth/forward").unwrap().method,
            Method::DELETE
        );

        let envoy = request(
            "/auth/forward/api/items/7?a=b",
            &[("host", "app.example.com")],
        );
        let o = original_request(&envoy, "/auth/forward").unwrap();
        assert_eq!(
            (o.path.as_str(), o.query.as_deref()),
            ("/api/items/7", Some("a=b"))
        );
        assert_eq!(o.proto, "http");
        let bare = request("/auth/forward", &[]);
        assert_eq!(original_request(&bare, "/auth/forward").unwrap().path, "/");
    }

    #[test]
    fn malformed_descriptions_are_named() {
        for (name, value, what) in [
            ("x-original-method", "GE T", "X-Forwarded-Method"),
            ("x-original-uri", "api/items", "X-Forwarded-Uri"),
            (
                "x-forwarded-uri",
                "http://evil.example/x",
                "X-Forwarded-Uri",
            ),
        ] {
            let req = request("/auth/forward", &[(name, value)]);
            assert_eq!(
                original_request(&req, "/auth/forward").unwrap_err(),
                what,
                "{value}"
            );
        }
    }
}
