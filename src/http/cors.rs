//! toker's own CORS (docs/decisions.md D8, docs/cors.md §1–2). poem's `Cors` reflects any origin
//! with credentials when unconfigured, drops `Vary`, accepts a preflight when one requested
//! header of many is allowed and panics on non-ASCII origins; this middleware does none of that:
//! - no `Origin` → no CORS headers (but `Vary: Origin`, appended);
//! - exact origins or anchored patterns; `null`, empty, malformed or multiple origins refused;
//! - a preflight (`OPTIONS` + `Access-Control-Request-Method`) is answered here, 204 or 403,
//!   never reaching authentication or handlers;
//! - a request from a refused cross-origin page gets 403 before its handler runs, so a simple
//!   (unpreflighted) form POST from a foreign page changes nothing;
//! - allowed responses, errors included, expose the token headers;
//! - except on the OAuth callback paths, where the provider's own page posts the callback
//!   (`form_post`, docs/contract.md §4.3): any origin passes there, without CORS headers, as the
//!   signed state and the browser-binding cookie guard it (docs/decisions.md D6).

use crate::{
    contract::headers::HeaderNames, error::error_response, http::apps::AppOrigins,
    origins::OriginMatcher,
};
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};

/// Methods a preflight may ask for. Matching is case-sensitive, as the Fetch standard's: a
/// lower-case `patch` (which browsers do not normalise) is refused.
const ALLOWED_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Request headers the four frontends send (docs/clients.md §0.5) plus the safelisted ones.
const BASE_ALLOWED_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-language",
    "content-type",
    "if-modified-since",
    "x-requested-with",
    // The double-submit token of browser sessions (the Backbone tutorial's client sends it).
    "x-csrf-token",
];

/// The CORS middleware.
#[derive(Clone)]
pub struct Cors {
    origins: OriginMatcher,
    allowed_headers: Vec<String>,
    allow_headers_value: String,
    expose_headers_value: String,
    max_age: u64,
    private_network: bool,
    /// Paths any origin may post to (the OAuth callbacks).
    open_paths: std::collections::HashSet<String>,
    /// The registered apps' origins (browser sessions on), allowed besides `cors_origins`.
    apps: Option<AppOrigins>,
    /// `public_url`'s origin, for toker's own pages behind a proxy that changes `Host`
    /// (cookie modes only).
    own_origin: Option<String>,
}

impl Cors {
    /// Lets any origin reach `paths` (exact request paths): the OAuth callbacks.
    pub fn open_to_any_origin(mut self, paths: impl IntoIterator<Item = String>) -> Cors {
        self.open_paths.extend(paths);
        self
    }

    /// Treats `origin` (`public_url`'s) as toker's own: its pages' requests are same-origin.
    pub fn with_own_origin(mut self, origin: Option<String>) -> Cors {
        self.own_origin = origin;
        self
    }

    /// Also allows the origins of the registered apps (docs/decisions.md D15).
    pub fn with_apps(mut self, apps: Option<AppOrigins>) -> Cors {
        self.apps = apps;
        self
    }

    pub fn new(
        origins: OriginMatcher,
        names: &HeaderNames,
        max_age: u64,
        private_network: bool,
    ) -> Cors {
        let token_headers = [
            &names.access_token,
            &names.token_type,
            &names.client,
            &names.expiry,
            &names.uid,
            &names.authorization,
        ]
        .map(|n| n.to_ascii_lowercase());
        let mut allowed_headers: Vec<String> =
            BASE_ALLOWED_HEADERS.iter().map(|s| s.to_string()).collect();
        for name in &token_headers {
            if !allowed_headers.contains(name) {
                allowed_headers.push(name.clone());
            }
        }
        Cors {
            origins,
            allow_headers_value: allowed_headers.join(", "),
            allowed_headers,
            expose_headers_value: token_headers.join(", "),
            max_age,
            private_network,
            open_paths: Default::default(),
            apps: None,
            own_origin: None,
        }
    }
}

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CorsEndpoint {
            inner: ep,
            cors: self.clone(),
        }
    }
}

pub struct CorsEndpoint<E> {
    inner: E,
    cors: Cors,
}

/// What the `Origin` header says.
enum RequestOrigin {
    None,
    /// The page is served by this server (browsers send `Origin` on same-origin POSTs too).
    SameOrigin,
    Allowed(HeaderValue),
    Refused,
}

fn classify(headers: &HeaderMap, cors: &Cors) -> RequestOrigin {
    let mut values = headers.get_all(header::ORIGIN).iter();
    let Some(value) = values.next() else {
        return RequestOrigin::None;
    };
    if values.next().is_some() {
        return RequestOrigin::Refused;
    }
    let Ok(origin) = value.to_str() else {
        return RequestOrigin::Refused;
    };
    if origin.is_empty() || origin == "null" {
        return RequestOrigin::Refused;
    }
    if cors.origins.allows(origin) {
        return RequestOrigin::Allowed(value.clone());
    }
    if cors.own_origin.as_deref() == Some(origin) {
        return RequestOrigin::SameOrigin;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_authority = origin.split_once("://").map(|(_, a)| a);
    if host.is_some() && host == origin_authority {
        return RequestOrigin::SameOrigin;
    }
    RequestOrigin::Refused
}

fn append_vary(headers: &mut HeaderMap, value: &'static str) {
    headers.append(header::VARY, HeaderValue::from_static(value));
}

impl<E: Endpoint> CorsEndpoint<E> {
    fn preflight(&self, req: &Request, origin: HeaderValue) -> Response {
        let cors = &self.cors;
        let headers = req.headers();
        let method_ok = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .is_some_and(|m| ALLOWED_METHODS.contains(&m));
        let headers_ok = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .all(|v| {
                v.to_str().is_ok_and(|list| {
                    list.split(',')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .all(|h| cors.allowed_headers.contains(&h))
                })
            });
        let mut resp = if method_ok && headers_ok {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
            );
            if let Ok(v) = HeaderValue::from_str(&cors.allow_headers_value) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(cors.max_age),
            );
            let pna_requested = headers
                .get("access-control-request-private-network")
                .is_some_and(|v| v == "true");
            if cors.private_network && pna_requested {
                h.insert(
                    "access-control-allow-private-network",
                    HeaderValue::from_static("true"),
                );
            }
            resp
        } else {
            error_response(
                StatusCode::FORBIDDEN,
                "CORS preflight refused: method or headers not allowed.",
            )
        };
        append_vary(resp.headers_mut(), "Origin");
        append_vary(resp.headers_mut(), "Access-Control-Request-Method");
        append_vary(resp.headers_mut(), "Access-Control-Request-Headers");
        resp
    }
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let is_preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut origin = classify(req.headers(), &self.cors);
        if let (RequestOrigin::Refused, Some(apps)) = (&origin, &self.cors.apps) {
            // One value, ASCII, not `null`: the only origins an app may list.
            let mut values = req.headers().get_all(header::ORIGIN).iter();
            let named_app = crate::http::session::app_of(req.headers()).filter(|_| !is_preflight);
            if let (Some(value), None) = (values.next(), values.next())
                && let Ok(text) = value.to_str()
                && match named_app {
                    Some(app_id) => apps.app_allows(app_id, text).await || apps.allows(text).await,
                    None => apps.allows(text).await,
                }
            {
                origin = RequestOrigin::Allowed(value.clone());
            }
        }
        let allowed = match origin {
            RequestOrigin::Refused if self.cors.open_paths.contains(req.uri().path()) => None,
            RequestOrigin::Refused => {
                let mut resp = error_response(
                    StatusCode::FORBIDDEN,
                    "Origin not allowed: add it to the cors_origins setting.",
                );
                append_vary(resp.headers_mut(), "Origin");
                return Ok(resp);
            }
            RequestOrigin::Allowed(origin) if is_preflight => {
                return Ok(self.preflight(&req, origin));
            }
            RequestOrigin::Allowed(origin) => Some(origin),
            RequestOrigin::None | RequestOrigin::SameOrigin => None,
        };
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => crate::error::to_json_error(err).await,
        };
        let h = resp.headers_mut();
        if let Some(origin) = allowed {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            if let Ok(v) = HeaderValue::from_str(&self.cors.expose_headers_value) {
                h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
        append_vary(h, "Origin");
        Ok(resp)
    }
}
