//! Browser sessions' HTTP side (docs/decisions.md D15): the session cookie (an opaque random id,
//! `__Host-` prefixed when it can be), its CSRF defence, and the `_csrf` double-submit token.
//! The token is `<nonce>.<HMAC(nonce, session)>`: bound to the session it was issued for (or to
//! "no session" before sign-in), so a token read on one browser is worthless on another's
//! session, and any instance sharing `secret_key` can check it.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use poem::http::{HeaderMap, Method};
use sha2::Sha256;

use crate::{
    config::{CookieSpec, Settings},
    http::cookie::{CsrfGuard, CsrfRefusal, cookie_value},
    tokens,
};

type HmacSha256 = Hmac<Sha256>;

/// The app id of `Authorization: Session <APP_ID>`, if the request names one (`Some("")` for
/// a malformed value, which names no app).
pub fn app_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let id = match value.strip_prefix("Session") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => rest.trim(),
        _ => return None,
    };
    let plain = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    Some(if plain { id } else { "" })
}

/// Request data: browser sessions, when they are on.
#[derive(Debug, Clone, Default)]
pub struct Sessions(pub Option<std::sync::Arc<SessionMode>>);

impl Sessions {
    pub fn new(settings: &Settings) -> Sessions {
        Sessions(SessionMode::new(settings).map(std::sync::Arc::new))
    }

    /// The request's browser-session mode, if sessions are on.
    pub fn of(req: &poem::Request) -> Option<&SessionMode> {
        req.data::<Sessions>().and_then(|s| s.0.as_deref())
    }
}

/// Browser sessions as configured.
#[derive(Clone)]
pub struct SessionMode {
    pub spec: CookieSpec,
    attributes: String,
    max_age: u64,
    /// Seconds an OAuth sign-in from the hosted page may take (`oauth_state_lifetime`).
    oauth_max_age: u64,
    key: Vec<u8>,
    pub csrf_tokens: bool,
    pub guard: CsrfGuard,
}

impl std::fmt::Debug for SessionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMode")
            .field("cookie", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl SessionMode {
    /// Browser sessions for `settings`, if they are on (the settings are validated already).
    pub fn new(settings: &Settings) -> Option<SessionMode> {
        if !settings.session_enabled {
            return None;
        }
        let spec = settings.session_cookie_spec().ok()?;
        let key = match &settings.secret_key {
            Some(key) => key.expose().as_bytes().to_vec(),
            None => (0..4)
                .flat_map(|_| tokens::generate().into_bytes())
                .collect(),
        };
        Some(SessionMode {
            attributes: spec.attributes(),
            spec,
            max_age: settings.session_lifetime,
            oauth_max_age: settings.oauth_state_lifetime,
            key,
            csrf_tokens: settings.csrf_tokens,
            guard: CsrfGuard::new(settings)?,
        })
    }

    /// The session id in the request's cookie, if it looks like one toker issues.
    pub fn session_id<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        cookie_value(headers, &self.spec.name).filter(|id| {
            (16..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }

    pub fn set_cookie(&self, session_id: &str) -> String {
        format!(
            "{}={session_id}; Max-Age={}{}",
            self.spec.name, self.max_age, self.attributes
        )
    }

    pub fn clear_cookie(&self) -> String {
        format!(
            "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{}",
            self.spec.name, self.attributes
        )
    }

    fn oauth_cookie_name(&self) -> String {
        format!("{}_oauth", self.spec.name)
    }

    /// The hosted page's OAuth sign-in binding: a nonce only this browser holds, whose digest
    /// rides in the return URL (no credential; `SameSite=Lax`, so the provider's redirect back
    /// carries it).
    pub fn oauth_cookie(&self, nonce: &str) -> String {
        format!(
            "{}={nonce}; Max-Age={}; Path=/{}; HttpOnly; SameSite=Lax",
            self.oauth_cookie_name(),
            self.oauth_max_age,
            if self.spec.secure { "; Secure" } else { "" }
        )
    }

    /// A new OAuth binding nonce and its digest (for the return URL).
    pub fn oauth_nonce(&self) -> (String, String) {
        let nonce = tokens::generate();
        let digest = tokens::digest(&nonce);
        (nonce, digest)
    }

    /// Whether the browser holds the nonce whose digest is `digest` (constant time).
    pub fn oauth_nonce_matches(&self, headers: &HeaderMap, digest: &str) -> bool {
        use subtle::ConstantTimeEq;
        cookie_value(headers, &self.oauth_cookie_name()).is_some_and(|nonce| {
            let held = tokens::digest(nonce);
            held.len() == digest.len() && bool::from(held.as_bytes().ct_eq(digest.as_bytes()))
        })
    }

    fn mac(&self, session_id: Option<&str>, nonce: &str) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        mac.update(b"csrf:");
        // The digest, not the id: the key never meets the raw id twice in one place.
        mac.update(
            session_id
                .map(tokens::digest)
                .unwrap_or_default()
                .as_bytes(),
        );
        mac.update(b":");
        mac.update(nonce.as_bytes());
        mac
    }

    /// A fresh `_csrf` for `session_id` (`None`: the browser is not signed in).
    pub fn csrf_token(&self, session_id: Option<&str>) -> String {
        let nonce = tokens::generate();
        let tag = self.mac(session_id, &nonce).finalize().into_bytes();
        format!("{nonce}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `token` was issued for `session_id` (constant time).
    pub fn csrf_matches(&self, session_id: Option<&str>, token: &str) -> bool {
        let Some((nonce, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        nonce.len() <= 64 && self.mac(session_id, nonce).verify_slice(&tag).is_ok()
    }

    /// The whole CSRF defence for a state-changing request on a session: the origin and
    /// content-type rules (`allowed`: may this origin act?), then, with `csrf_tokens`, the
    /// `X-CSRF-Token` header.
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        session_id: Option<&str>,
        allowed: impl Fn(&str) -> bool,
    ) -> Result<(), CsrfRefusal> {
        self.guard.check(method, headers, allowed)?;
        if self.csrf_tokens && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let token = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !self.csrf_matches(session_id, token) {
                return Err(CsrfRefusal::CsrfToken);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode() -> SessionMode {
        SessionMode::new(&Settings {
            session_enabled: true,
            public_url: Some("https://api.example.com".into()),
            ..Settings::default()
        })
        .unwrap()
    }

    #[test]
    fn the_cookie_is_host_prefixed_over_https() {
        let m = mode();
        assert_eq!(m.spec.name, "__Host-toker_session");
        assert_eq!(
            m.set_cookie("abc"),
            "__Host-toker_session=abc; Max-Age=1209600; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let m = mode();
        let anon = m.csrf_token(None);
        let signed = m.csrf_token(Some("session-a"));
        assert!(m.csrf_matches(None, &anon));
        assert!(m.csrf_matches(Some("session-a"), &signed));
        assert!(!m.csrf_matches(Some("session-b"), &signed));
        assert!(!m.csrf_matches(None, &signed));
        assert!(!m.csrf_matches(Some("session-a"), &anon));
        for bad in ["", ".", "x", "a.b", "a.!!!", &format!("{anon}x")] {
            assert!(!m.csrf_matches(None, bad), "{bad}");
        }
        // Another process without a shared secret_key does not accept it.
        assert!(!mode().csrf_matches(None, &anon));
    }
}
