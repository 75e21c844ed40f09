//! Cookie mode (docs/contract.md §3.11, docs/decisions.md D15): the auth cookie read and written,
//! and the CSRF defence every cookie-authenticated request that changes state must pass
//! (docs/cors.md §4). A header token needs none of this: browsers never attach it by themselves.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use poem::http::{HeaderMap, Method, header};
use serde_json::{Map, Value};

use crate::{
    config::{CookieSpec, Settings},
    contract::headers::HeaderNames,
    http::credentials::Credentials,
    origins::OriginMatcher,
};

/// Longest cookie value read; browsers keep at most 4096 bytes per cookie.
const MAX_COOKIE_LEN: usize = 4096;

/// Rails' cookie escaping keeps these unescaped; everything else is %-encoded.
const COOKIE_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'*');

/// Cookie mode as configured; `None` when it is off.
#[derive(Debug, Clone)]
pub struct CookieMode {
    pub spec: CookieSpec,
    attributes: String,
    guard: CsrfGuard,
}

/// The origin and content-type half of the CSRF defence, shared by cookie mode and browser
/// sessions.
#[derive(Debug, Clone)]
pub struct CsrfGuard {
    /// Origins whose pages may change state with a cookie (`cors_origins`).
    origins: OriginMatcher,
    /// `scheme://host[:port]` of `public_url`: toker's own pages.
    own_origin: String,
}

impl CsrfGuard {
    pub fn new(settings: &Settings) -> Option<CsrfGuard> {
        let public = settings.public_url();
        let own_origin = url::Url::parse(&public)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or(public);
        Some(CsrfGuard {
            origins: OriginMatcher::new(&settings.cors_origins).ok()?,
            own_origin,
        })
    }

    /// Whether the request comes from one of toker's own pages: `Origin` is toker's, or absent
    /// with `Sec-Fetch-Site: same-origin`.
    pub fn from_own_page(&self, headers: &HeaderMap) -> bool {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        match (origins.next(), origins.next()) {
            (Some(origin), None) => origin.to_str().is_ok_and(|o| o == self.own_origin),
            (None, _) => headers
                .get("sec-fetch-site")
                .is_some_and(|v| v == "same-origin"),
            _ => false,
        }
    }

    /// Whether `origin` is toker's own or one of `cors_origins`.
    pub fn allows(&self, origin: &str) -> bool {
        origin != "null" && (origin == self.own_origin || self.origins.allows(origin))
    }

    /// The CSRF defence (docs/cors.md §4.2) for a request a cookie authenticates. Safe
    /// methods change nothing and pass. Others need an allowed `Origin` (or, from toker's own
    /// pages, `Sec-Fetch-Site: same-origin`), and, for a POST — the one method a cross-site
    /// form can send — a JSON body or a custom header, which no form can carry.
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        allowed: impl Fn(&str) -> bool,
    ) -> Result<(), CsrfRefusal> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let mut origins = headers.get_all(header::ORIGIN).iter();
        match (origins.next(), origins.next()) {
            (None, _) => {
                let same_origin = headers
                    .get("sec-fetch-site")
                    .is_some_and(|v| v == "same-origin");
                if !same_origin {
                    return Err(CsrfRefusal::MissingOrigin);
                }
            }
            (Some(origin), None) => {
                let origin = origin.to_str().unwrap_or("null");
                if !allowed(origin) {
                    return Err(CsrfRefusal::OriginNotAllowed);
                }
            }
            (Some(_), Some(_)) => return Err(CsrfRefusal::OriginNotAllowed),
        }
        if *method == Method::POST && !is_json(headers) && !has_custom_header(headers) {
            return Err(CsrfRefusal::FormContentType);
        }
        Ok(())
    }
}

/// Why a cookie-authenticated request was refused (the 403's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfRefusal {
    MissingOrigin,
    OriginNotAllowed,
    FormContentType,
    CsrfToken,
}

impl CsrfRefusal {
    pub fn message(self) -> &'static str {
        match self {
            CsrfRefusal::MissingOrigin => {
                "CSRF check failed: a request authenticated by a cookie needs an Origin header."
            }
            CsrfRefusal::OriginNotAllowed => {
                "CSRF check failed: the request's Origin may not use the session cookie."
            }
            CsrfRefusal::FormContentType => {
                "CSRF check failed: send JSON (Content-Type: application/json) or an X-CSRF-Token \
                 header; a form's body is refused with a cookie."
            }
            CsrfRefusal::CsrfToken => "CSRF check failed: X-CSRF-Token is missing or wrong.",
        }
    }
}

impl CookieMode {
    /// Cookie mode for `settings`, if it is on (the settings are validated already).
    pub fn new(settings: &Settings) -> Option<CookieMode> {
        if !settings.cookie_enabled {
            return None;
        }
        let spec = settings.cookie_spec().ok()?;
        Some(CookieMode {
            attributes: spec.attributes(),
            spec,
            guard: CsrfGuard::new(settings)?,
        })
    }

    /// The credentials in the request's auth cookie. A cookie that is not the URL-encoded JSON
    /// object toker writes is ignored (devise_token_auth answers 500 there).
    pub fn read(&self, headers: &HeaderMap, names: &HeaderNames) -> Credentials {
        let Some(raw) = cookie_value(headers, &self.spec.name) else {
            return Credentials::default();
        };
        let parsed = (raw.len() <= MAX_COOKIE_LEN)
            .then(|| percent_decode_str(raw).decode_utf8().ok())
            .flatten()
            .and_then(|json| serde_json::from_str::<Value>(&json).ok());
        match parsed {
            Some(Value::Object(map)) => Credentials::from_params(&map, names),
            _ => Credentials::default(),
        }
    }

    /// Whether the request carries the auth cookie at all (well-formed or not).
    pub fn present(&self, headers: &HeaderMap) -> bool {
        cookie_value(headers, &self.spec.name).is_some()
    }

    /// `Set-Cookie` carrying the header set as JSON, as devise_token_auth writes it.
    pub fn set(
        &self,
        names: &HeaderNames,
        token: &str,
        client: &str,
        expiry: &str,
        uid: &str,
    ) -> String {
        let mut map = Map::new();
        for (name, value) in [
            (&names.access_token, token),
            (&names.token_type, "Bearer"),
            (&names.client, client),
            (&names.expiry, expiry),
            (&names.uid, uid),
        ] {
            map.insert(name.clone(), Value::String(value.to_string()));
        }
        let json = Value::Object(map).to_string();
        format!(
            "{}={}{}",
            self.spec.name,
            utf8_percent_encode(&json, COOKIE_VALUE),
            self.attributes
        )
    }

    /// `Set-Cookie` that removes the cookie (sign-out).
    pub fn clear(&self) -> String {
        format!(
            "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{}",
            self.spec.name, self.attributes
        )
    }

    /// The CSRF defence for a request the cookie authenticates.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), CsrfRefusal> {
        self.guard
            .check(method, headers, |origin| self.guard.allows(origin))
    }
}

/// Exactly one `Content-Type`, and it is JSON: a request with two (`application/json` and
/// `text/plain`) still counts as a simple request for the browser (docs/cors.md R7).
pub fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

/// A header no cross-site form or simple request can send.
fn has_custom_header(headers: &HeaderMap) -> bool {
    ["x-csrf-token", "x-requested-with", "authorization"]
        .iter()
        .any(|h| headers.contains_key(*h))
}

/// The value of cookie `name` in the request's `Cookie` headers (the first one).
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn mode() -> CookieMode {
        CookieMode::new(&Settings {
            cookie_enabled: true,
            public_url: Some("https://api.example.com".into()),
            cors_origins: vec!["https://app.example.com".into()],
            ..Settings::default()
        })
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_cookie_round_trips() {
        let m = mode();
        let names = HeaderNames::default();
        let set = m.set(&names, "tok", "cli", "1796631123", "c@example.com");
        assert!(set.starts_with("auth_cookie=%7B%22access-token%22%3A%22tok%22"));
        assert!(set.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax"));
        let value = set.split(';').next().unwrap().to_string();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {value}")).unwrap(),
        );
        let creds = m.read(&h, &names);
        assert_eq!(creds.access_token.as_deref(), Some("tok"));
        assert_eq!(creds.uid.as_deref(), Some("c@example.com"));
    }

    #[test]
    fn malformed_cookies_yield_nothing() {
        let m = mode();
        let names = HeaderNames::default();
        for bad in [
            "auth_cookie=",
            "auth_cookie=%7B",
            "auth_cookie=%FF%FE",
            "auth_cookie=%5B1%5D",
            "auth_cookie=null",
            "auth_cookie=%7B%22uid%22%3A%5B%5D%7D",
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, HeaderValue::from_static(bad));
            assert_eq!(m.read(&h, &names), Credentials::default(), "{bad}");
        }
    }

    #[test]
    fn csrf_rules() {
        let m = mode();
        let post = Method::POST;
        let json = ("content-type", "application/json");
        assert!(m.check(&Method::GET, &headers(&[])).is_ok());
        assert_eq!(
            m.check(&post, &headers(&[json])),
            Err(CsrfRefusal::MissingOrigin)
        );
        for origin in ["https://evil.test", "null", "https://APP.example.com"] {
            let h = headers(&[json, ("origin", origin)]);
            assert_eq!(m.check(&post, &h), Err(CsrfRefusal::OriginNotAllowed));
        }
        let ok = ("origin", "https://app.example.com");
        assert!(m.check(&post, &headers(&[json, ok])).is_ok());
        assert!(
            m.check(
                &post,
                &headers(&[json, ("origin", "https://api.example.com")])
            )
            .is_ok()
        );
        assert!(
            m.check(&post, &headers(&[json, ("sec-fetch-site", "same-origin")]))
                .is_ok()
        );
        for form in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let h = headers(&[ok, ("content-type", form)]);
            assert_eq!(m.check(&post, &h), Err(CsrfRefusal::FormContentType));
        }
        let twice = headers(&[ok, json, ("content-type", "text/plain")]);
        assert_eq!(m.check(&post, &twice), Err(CsrfRefusal::FormContentType));
        assert!(
            m.check(&post, &headers(&[ok, ("x-csrf-token", "t")]))
                .is_ok()
        );
        assert!(m.check(&Method::DELETE, &headers(&[ok])).is_ok());
    }
}
