//! One gateway route: method and path checks, authentication through `RequestAuth` (exactly
//! the rules of `GET /api/me`; `TokenAuth` around this endpoint does the rotation and adds the
//! token headers to whatever the upstream answers), then the request goes to the upstream with
//! the identity headers and the assertion, and the answer streams back.

use std::borrow::Cow;

use poem::{
    Endpoint, Request, Response,
    error::ResponseError,
    http::{HeaderValue, Method, StatusCode, header},
};

use super::{
    headers::{self, Hop},
    identity::{Assertions, Audience, Identity},
    proxy::{self, Head, Upstream},
};
use crate::{
    accounts::Accounts,
    config::{GatewayRoute, RouteAuth},
    contract::{error_response, messages::UNAUTHENTICATED},
    error::ApiError,
    http::{auth::RequestAuth, client_ip::FromTrustedProxy, locale::RequestTexts},
};

pub struct RouteEndpoint {
    route: GatewayRoute,
    methods: Vec<Method>,
    upstream: Upstream,
    /// The upstream's `Host`, unless the route keeps the client's.
    upstream_host: HeaderValue,
    audience: String,
    accounts: Accounts,
    assertions: Assertions,
    /// toker's own cookies (browser session, cookie mode): credentials, kept from the upstream.
    toker_cookies: Vec<String>,
}

impl RouteEndpoint {
    pub fn new(
        route: GatewayRoute,
        accounts: Accounts,
        assertions: Assertions,
    ) -> anyhow::Result<RouteEndpoint> {
        let methods = route
            .allowed_methods()
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()))
            .collect::<Result<_, _>>()?;
        let settings = &accounts.settings;
        let mut toker_cookies = Vec::new();
        if settings.session_enabled {
            let name = &settings.session_cookie_name;
            toker_cookies.extend([name.clone(), format!("__Host-{name}")]);
        }
        if settings.cookie_enabled {
            toker_cookies.push(settings.cookie_name.clone());
        }
        let upstream = Upstream::new(&route)?;
        Ok(RouteEndpoint {
            toker_cookies,
            upstream_host: HeaderValue::from_str(upstream.authority())?,
            upstream,
            audience: route.audience(),
            methods,
            route,
            accounts,
            assertions,
        })
    }

    /// The path the upstream gets (below the upstream URL's own path).
    fn upstream_path<'a>(&self, path: &'a str) -> &'a str {
        if !self.route.strip_prefix {
            return path;
        }
        match &path[self.route.prefix.len()..] {
            "" => "/",
            rest => rest,
        }
    }

    fn method_not_allowed(&self) -> Response {
        let allow = self
            .methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut resp = error_response(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
        if let Ok(v) = HeaderValue::from_str(&allow) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        resp
    }

    /// The authenticated identity, `Ok(None)` for an anonymous request the route lets through,
    /// `Err` with the answer otherwise (the contract's 401, or a failure of the store).
    async fn identity(&self, req: &Request) -> Result<Option<Identity>, Response> {
        if self.route.auth == RouteAuth::None {
            return Ok(None);
        }
        let internal = |e: anyhow::Error| ApiError::Internal(e).as_response();
        let auth = req
            .extensions()
            .get::<RequestAuth>()
            .cloned()
            .ok_or_else(|| internal(anyhow::anyhow!("route without TokenAuth")))?;
        let user = auth
            .authenticate(None)
            .await
            .map_err(|e| ApiError::from(e).as_response())?;
        match user {
            Some(user) => {
                let client = auth.client().unwrap_or_default();
                // Whatever the upstream answers (its 5xx, or a 502/504 for not answering),
                // the next token goes back with it.
                auth.answer_from_upstream();
                // The browser cannot read a 101's headers, so a protocol switch must not
                // rotate the token it holds: authenticated, nothing written.
                if headers::requested_upgrade(req.headers()).is_some() {
                    auth.silence();
                }
                Ok(Some(Identity::new(&user, client)))
            }
            None if self.route.auth == RouteAuth::Required => Err(unauthenticated(req)),
            None => Ok(None),
        }
    }

    /// The upstream request's head: the client's headers without credentials, identity
    /// headers and hop-by-hop ones, toker's forwarding headers, the identity, the upgrade.
    fn head(
        &self,
        req: &Request,
        path: &str,
        identity: Option<&Identity>,
        upgrade: Option<&HeaderValue>,
    ) -> poem::Result<Head> {
        let settings = &self.accounts.settings;
        let names = &settings.headers_names;
        let query: Option<Cow<'_, str>> = match req.uri().query() {
            // Only where toker read credentials from parameters are they credentials.
            Some(q) if settings.accept_token_params.on(false) => {
                headers::remove_credential_params(q, names).map(Cow::Owned)
            }
            q => q.map(Cow::Borrowed),
        };
        let uri = self
            .upstream
            .uri(self.upstream_path(path), query.as_deref())
            .map_err(|e| ApiError::bad_request(format!("Bad request: {e}")))?;
        let mut out = req.headers().clone();
        headers::remove_hop_by_hop(&mut out);
        headers::remove_credentials(&mut out, names);
        headers::remove_toker_cookies(&mut out, &self.toker_cookies);
        out.remove(header::EXPECT);
        let client_host = req.headers().get(header::HOST).cloned();
        headers::set_forwarding(
            &mut out,
            &Hop {
                peer: req.remote_addr().as_socket_addr().map(|a| a.ip()),
                host: client_host.as_ref(),
                proto: if req.scheme() == &poem::http::uri::Scheme::HTTPS {
                    "https"
                } else {
                    "http"
                },
                from_trusted_proxy: req.extensions().get::<FromTrustedProxy>().is_some(),
            },
        );
        if !self.route.preserve_host {
            out.insert(header::HOST, self.upstream_host.clone());
        }
        if let Some(identity) = identity {
            let identity_headers = self
                .assertions
                .headers(
                    identity,
                    &Audience {
                        audience: &self.audience,
                        method: req.method().as_str(),
                        path,
                    },
                )
                .map_err(ApiError::Internal)?;
            for (name, value) in identity_headers.iter() {
                out.insert(name.clone(), value.clone());
            }
        }
        if let Some(upgrade) = upgrade {
            headers::restore_upgrade(&mut out, upgrade.clone());
        }
        Ok(Head {
            method: req.method().clone(),
            uri,
            headers: out,
        })
    }
}

/// The contract's 401 (E7), as `GET /api/me` answers it, in the reader's language.
pub fn unauthenticated(req: &Request) -> Response {
    let text = RequestTexts::new(req).text(&UNAUTHENTICATED);
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .content_type("application/json; charset=utf-8")
        .body(serde_json::json!({ "errors": [text] }).to_string())
}

/// Refuses paths an upstream could read as another path than the one the route matched:
/// dot segments, empty segments, encoded slashes, backslashes and NULs (plain or
/// percent-encoded). Routes are matched on the raw path, so `/public/../admin` must not pass
/// a `none` route on to an upstream that resolves it.
pub fn ambiguous_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if ["%2f", "%5c", "%00", "\\"]
        .iter()
        .any(|s| lower.contains(s))
    {
        return true;
    }
    let segments: Vec<&str> = lower.split('/').skip(1).collect();
    segments.iter().enumerate().any(|(i, segment)| {
        let decoded = segment.replace("%2e", ".");
        // A trailing `/` (an empty last segment) is an ordinary path.
        (segment.is_empty() && i + 1 < segments.len()) || decoded == "." || decoded == ".."
    })
}

impl Endpoint for RouteEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if !self.methods.is_empty() && !self.methods.contains(req.method()) {
            return Ok(self.method_not_allowed());
        }
        let path = req.uri().path().to_string();
        if ambiguous_path(&path) {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "Bad request: the path has dot segments, empty segments or encoded separators.",
            ));
        }
        let identity = match self.identity(&req).await {
            Ok(identity) => identity,
            Err(answer) => return Ok(answer),
        };
        let upgrade = headers::requested_upgrade(req.headers());
        let head = self.head(&req, &path, identity.as_ref(), upgrade.as_ref())?;
        let client_upgrade = match upgrade {
            Some(_) => req.take_upgrade().ok(),
            None => None,
        };
        let body = has_body(req.headers()).then(|| proxy::request_body(req.take_body()));
        let again = || {
            self.head(&req, &path, identity.as_ref(), upgrade.as_ref())
                .ok()
        };
        let mut resp = match self.upstream.send(head, body, again).await {
            Ok(resp) => resp,
            Err(failure) => {
                tracing::warn!(
                    upstream = %self.route.upstream,
                    prefix = %self.route.prefix,
                    ?failure,
                    "upstream request failed"
                );
                return Ok(error_response(failure.status(), failure.message()));
            }
        };
        let names = &self.accounts.settings.headers_names;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            return Ok(super::upgrade::splice(client_upgrade, &mut resp, names));
        }
        let (mut parts, body) = resp.into_parts();
        headers::clean_response(&mut parts.headers, names);
        let mut out = Response::builder().status(parts.status).finish();
        *out.headers_mut() = parts.headers;
        out.set_body(proxy::stream_body(body));
        if self.route.auth == RouteAuth::None {
            out.extensions_mut().insert(crate::http::KeepCaching);
        }
        Ok(out)
    }
}

/// Whether the request has a body to stream (a length above zero, or chunked).
fn has_body(headers: &poem::http::HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_an_upstream_could_resolve_elsewhere_are_refused() {
        for path in [
            "/app/../admin",
            "/app/./x",
            "/app/%2e%2e/admin",
            "/app/%2E./admin",
            "/app/.%2e",
            "/app//x",
            "/app/a%2fb",
            "/app/a%5Cb",
            "/app/a\\b",
            "/app/a%00",
        ] {
            assert!(ambiguous_path(path), "{path}");
        }
        for path in [
            "/app",
            "/app/",
            "/app/x/",
            "/app/a.b",
            "/app/...",
            "/app/%41",
            "/app/.well",
        ] {
            assert!(!ambiguous_path(path), "{path}");
        }
    }
}
