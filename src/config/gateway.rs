//! Settings of gateway mode and forward-auth (docs/decisions.md D14, docs/gateway.md §4, §6):
//! the `[gateway]` table and its `[[gateway.routes]]`.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::Secret;

/// Where the public keys of the assertions are served (a JWK Set).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The forward-auth endpoint's path below `mount_path`.
pub const FORWARD_SEGMENT: &str = "/forward";

/// Longest lifetime of an assertion, in seconds.
const MAX_ASSERTION_LIFETIME: u64 = 3600;

/// Who may pass a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteAuth {
    /// Only authenticated requests reach the upstream; the others get the contract's 401.
    Required,
    /// Every request reaches the upstream; authenticated ones with the identity headers.
    Optional,
    /// No authentication: forwarded as it came (credentials still removed).
    None,
}

/// What one assertion is about (docs/decisions.md D19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssertionBinding {
    /// The user, the device and the audience, as Pomerium's and Oathkeeper's assertions: one
    /// signature serves a device's requests to one audience while at least half of its
    /// lifetime is left.
    #[default]
    Device,
    /// Also the request: the client's method and path (`htm`, `htu`) and a `jti` of its own,
    /// so one signature per request.
    Request,
}

/// One `[[gateway.routes]]` entry: requests whose path is `prefix` or below it go to `upstream`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRoute {
    /// Path prefix, matched on whole segments (`/api/items` matches `/api/items/7`, not
    /// `/api/itemsX`). The longest matching prefix wins.
    pub prefix: String,
    /// Base URL of the upstream (`http://127.0.0.1:8080`, `https://orders.internal/v2`); the
    /// request path is appended to its path.
    pub upstream: String,
    /// `required`, `optional` or `none`.
    pub auth: RouteAuth,
    /// Remove `prefix` from the path before appending it to `upstream`.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Send the client's `Host` to the upstream instead of the upstream's own.
    #[serde(default)]
    pub preserve_host: bool,
    /// Methods allowed on this route (`["GET", "POST"]`); empty = all. Others get 405.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Seconds to connect to the upstream.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// Seconds to wait for the upstream's response headers (never for the whole body).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// The assertion's `aud`; default: the upstream URL.
    #[serde(default)]
    pub audience: Option<String>,
    /// The user type whose tokens the route accepts (`[[user_types]]`); default: `User`.
    #[serde(default)]
    pub user_type: Option<String>,
}

fn default_connect_timeout() -> u64 {
    5
}

fn default_timeout() -> u64 {
    60
}

impl GatewayRoute {
    /// The assertion audience of this route.
    pub fn audience(&self) -> String {
        self.audience
            .clone()
            .unwrap_or_else(|| self.upstream.trim_end_matches('/').to_string())
    }

    /// The allowed methods, upper-cased; empty = all.
    pub fn allowed_methods(&self) -> Vec<String> {
        self.methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect()
    }
}

/// The `[gateway]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    /// The routes toker forwards, each behind its authentication.
    pub routes: Vec<GatewayRoute>,
    /// Serve the forward-auth endpoint at `<mount_path>/forward` for nginx, Traefik, Caddy and
    /// Envoy.
    pub forward_auth: bool,
    /// PEM PKCS#8 P-256 private keys signing the assertion: the first signs, all are published.
    /// Empty: a key is generated once and kept in the database.
    pub assertion_keys: Vec<Secret>,
    /// Seconds an assertion is valid.
    pub assertion_lifetime: u64,
    /// Whether an assertion names the device (reused) or each request (signed every time).
    pub assertion_binding: AssertionBinding,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            routes: Vec::new(),
            forward_auth: false,
            assertion_keys: Vec::new(),
            assertion_lifetime: 60,
            assertion_binding: AssertionBinding::Device,
        }
    }
}

/// Whether `path` is `prefix` or below it, on whole segments.
pub fn covers(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl GatewaySettings {
    /// Whether toker proxies or answers forward-auth at all (then it also signs assertions).
    pub fn enabled(&self) -> bool {
        self.forward_auth || !self.routes.is_empty()
    }

    /// Checks the table; `own` are the paths toker serves itself, which no route may shadow.
    /// Errors are `(setting, problem)`.
    pub fn validate(&self, own: &[String]) -> Result<(), (&'static str, String)> {
        let routes_error = |i: usize, route: &GatewayRoute, problem: String| {
            (
                "gateway.routes",
                format!("route {} (`{}`): {problem}", i + 1, route.prefix),
            )
        };
        for (i, route) in self.routes.iter().enumerate() {
            check_prefix(&route.prefix).map_err(|p| routes_error(i, route, p))?;
            if let Some(path) = own
                .iter()
                .find(|own| covers(&route.prefix, own) || covers(own, &route.prefix))
            {
                return Err(routes_error(
                    i,
                    route,
                    format!("clashes with toker's own `{path}`"),
                ));
            }
            if let Some(other) = self.routes[..i].iter().find(|r| r.prefix == route.prefix) {
                return Err(routes_error(
                    i,
                    route,
                    format!("the prefix `{}` is configured twice", other.prefix),
                ));
            }
            check_upstream(&route.upstream).map_err(|p| routes_error(i, route, p))?;
            for method in &route.methods {
                let token = !method.is_empty()
                    && method.len() <= 32
                    && method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-');
                if !token {
                    return Err(routes_error(
                        i,
                        route,
                        format!("`{method}` is not an HTTP method"),
                    ));
                }
            }
            if !(1..=300).contains(&route.connect_timeout) {
                return Err(routes_error(
                    i,
                    route,
                    "connect_timeout must be 1 to 300 seconds".into(),
                ));
            }
            if !(1..=86_400).contains(&route.timeout) {
                return Err(routes_error(
                    i,
                    route,
                    "timeout must be 1 to 86400 seconds".into(),
                ));
            }
            if route
                .audience
                .as_ref()
                .is_some_and(|a| a.trim().is_empty() || a.len() > 512)
            {
                return Err(routes_error(
                    i,
                    route,
                    "audience must be a non-empty string".into(),
                ));
            }
        }
        for (i, key) in self.assertion_keys.iter().enumerate() {
            parse_assertion_key(key.expose())
                .map_err(|p| ("gateway.assertion_keys", format!("key {}: {p}", i + 1)))?;
        }
        if !(1..=MAX_ASSERTION_LIFETIME).contains(&self.assertion_lifetime) {
            return Err((
                "gateway.assertion_lifetime",
                format!("must be 1 to {MAX_ASSERTION_LIFETIME} seconds"),
            ));
        }
        Ok(())
    }
}

/// A route prefix: an absolute path of plain segments, not `/` itself, no trailing `/`.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
        return Err("the prefix must start with `/`, not end with `/`, and not be `/`".into());
    }
    if prefix.len() > 256 {
        return Err("the prefix is longer than 256 characters".into());
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c);
    if !prefix.chars().all(plain) {
        return Err("the prefix may hold only letters, digits, `/` and `-._~!$&'()*+,;=:@`".into());
    }
    if prefix[1..]
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err("the prefix may not hold empty, `.` or `..` segments".into());
    }
    Ok(())
}

/// An upstream: an absolute http(s) URL with a host, no credentials, query or fragment.
fn check_upstream(upstream: &str) -> Result<(), String> {
    let url = url::Url::parse(upstream)
        .map_err(|e| format!("upstream `{upstream}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "upstream `{upstream}` must be an absolute http:// or https:// URL"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the upstream URL may not hold credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the upstream URL may not have a query or fragment".into());
    }
    Ok(())
}

/// The PKCS#8 document of a PEM `PRIVATE KEY` holding a P-256 key (what
/// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes).
pub fn parse_assertion_key(pem_text: &str) -> Result<Vec<u8>, String> {
    let parsed = pem::parse(pem_text.trim()).map_err(|_| {
        "not a PEM block (-----BEGIN PRIVATE KEY----- … -----END PRIVATE KEY-----)".to_string()
    })?;
    if parsed.tag() != "PRIVATE KEY" {
        return Err(format!(
            "a `{}` block; give a PKCS#8 `PRIVATE KEY` (`openssl pkcs8 -topk8 -nocrypt` converts)",
            parsed.tag()
        ));
    }
    let der = parsed.contents().to_vec();
    let rng = ring::rand::SystemRandom::new();
    ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &der,
        &rng,
    )
    .map_err(|_| "not a P-256 (prime256v1) EC private key".to_string())?;
    Ok(der)
}

/// The base64 of a PKCS#8 document (how generated keys are stored).
pub fn encode_key(der: &[u8]) -> String {
    STANDARD.encode(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, upstream: &str) -> GatewayRoute {
        GatewayRoute {
            prefix: prefix.into(),
            upstream: upstream.into(),
            auth: RouteAuth::Required,
            strip_prefix: false,
            preserve_host: false,
            methods: Vec::new(),
            connect_timeout: 5,
            timeout: 60,
            audience: None,
            user_type: None,
        }
    }

    fn own() -> Vec<String> {
        ["/auth", "/omniauth", "/api/me", "/docs", "/ping", JWKS_PATH]
            .map(String::from)
            .to_vec()
    }

    fn problem(settings: &GatewaySettings) -> String {
        let (setting, problem) = settings.validate(&own()).unwrap_err();
        format!("{setting}: {problem}")
    }

    #[test]
    fn covers_matches_whole_segments() {
        assert!(covers("/api/items", "/api/items"));
        assert!(covers("/api/items", "/api/items/7"));
        assert!(!covers("/api/items", "/api/itemsX"));
        assert!(!covers("/api/items", "/api"));
    }

    #[test]
    fn a_route_may_not_shadow_toker_paths_or_sit_below_them() {
        for prefix in ["/api", "/auth", "/auth/extra", "/docs/x", "/.well-known"] {
            let s = GatewaySettings {
                routes: vec![route(prefix, "http://127.0.0.1:9")],
                ..GatewaySettings::default()
            };
            let p = problem(&s);
            assert!(p.starts_with("gateway.routes: route 1"), "{p}");
            assert!(p.contains("clashes with toker's own"), "{p}");
        }
        let fine = GatewaySettings {
            routes: vec![
                route("/api/items", "http://127.0.0.1:9"),
                route("/apiary", "https://x.example/v2/"),
            ],
            ..GatewaySettings::default()
        };
        fine.validate(&own()).unwrap();
    }

    #[test]
    fn hostile_prefixes_and_upstreams_are_refused() {
        for prefix in [
            "", "/", "api", "/api/", "/a//b", "/a/../b", "/a/./b", "/a b", "/a?x", "/a#x",
            "/a%2fb", "/a\\b", "/é",
        ] {
            let s = GatewaySettings {
                routes: vec![route(prefix, "http://127.0.0.1:9")],
                ..GatewaySettings::default()
            };
            assert!(s.validate(&own()).is_err(), "{prefix:?}");
        }
        for upstream in [
            "127.0.0.1:9",
            "ftp://x.example",
            "http://user:pw@x.example",
            "http://x.example/?a=1",
            "http://x.example/#f",
            "file:///etc/passwd",
            "http://",
        ] {
            let s = GatewaySettings {
                routes: vec![route("/app", upstream)],
                ..GatewaySettings::default()
            };
            assert!(s.validate(&own()).is_err(), "{upstream:?}");
        }
    }

    #[test]
    fn methods_timeouts_and_duplicates_are_checked() {
        let mut bad_method = route("/app", "http://127.0.0.1:9");
        bad_method.methods = vec!["GET".into(), "PO ST".into()];
        let mut zero_timeout = route("/app", "http://127.0.0.1:9");
        zero_timeout.timeout = 0;
        let mut zero_connect = route("/app", "http://127.0.0.1:9");
        zero_connect.connect_timeout = 0;
        for r in [bad_method, zero_timeout, zero_connect] {
            let s = GatewaySettings {
                routes: vec![r],
                ..GatewaySettings::default()
            };
            assert!(s.validate(&own()).is_err());
        }
        let twice = GatewaySettings {
            routes: vec![
                route("/app", "http://127.0.0.1:9"),
                route("/app", "http://127.0.0.1:10"),
            ],
            ..GatewaySettings::default()
        };
        assert!(problem(&twice).contains("configured twice"));
        let lifetime = GatewaySettings {
            assertion_lifetime: 0,
            ..GatewaySettings::default()
        };
        assert!(problem(&lifetime).starts_with("gateway.assertion_lifetime"));
    }

    #[test]
    fn assertion_keys_must_be_pkcs8_p256() {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let good = pem::encode(&pem::Pem::new("PRIVATE KEY", doc.as_ref().to_vec()));
        assert_eq!(parse_assertion_key(&good).unwrap(), doc.as_ref());
        let sec1 = pem::encode(&pem::Pem::new("EC PRIVATE KEY", doc.as_ref().to_vec()));
        let garbage = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![1, 2, 3]));
        for bad in [sec1.as_str(), garbage.as_str(), "secret", ""] {
            let s = GatewaySettings {
                assertion_keys: vec![Secret::new(bad)],
                ..GatewaySettings::default()
            };
            let p = problem(&s);
            assert!(p.starts_with("gateway.assertion_keys: key 1"), "{p}");
            assert!(!p.contains("BEGIN EC"), "the key is never echoed: {p}");
        }
    }
}
