//! Who the user is, as upstreams receive it (docs/gateway.md §3, §6.4): the `X-Toker-*`
//! identity headers, and `X-Toker-Assertion`, a short-lived ES256 JWT over the same facts whose
//! keys toker publishes at `/.well-known/jwks.json`. Gateway mode sends these to the upstream;
//! forward-auth answers them to the proxy, which copies them onto the request it forwards.
//!
//! An unsigned header can be believed only while nothing reaches the upstream except through
//! toker or the proxy; the assertion still holds when something does.

use std::time::Duration;

use poem::http::{HeaderName, HeaderValue};
use serde::Serialize;

use super::keys::AssertionKeys;
use crate::store::User;

/// Every identity header starts with this; incoming ones are removed whatever they are.
pub const PREFIX: &str = "x-toker-";

pub const USER_ID: &str = "x-toker-user-id";
pub const UID: &str = "x-toker-uid";
pub const EMAIL: &str = "x-toker-email";
pub const PROVIDER: &str = "x-toker-provider";
pub const CLIENT: &str = "x-toker-client";
/// The user type (`User`, or a `name` of `[[user_types]]`): a user id is unique across types,
/// but what the user may do usually depends on the type.
pub const USER_TYPE: &str = "x-toker-user-type";
pub const ASSERTION: &str = "x-toker-assertion";

/// The identity headers in the order they are set.
pub const HEADERS: [&str; 7] = [USER_ID, UID, EMAIL, PROVIDER, CLIENT, USER_TYPE, ASSERTION];

/// Whether a header name is an identity header: case-insensitively, with `_` counted as `-`
/// (servers that map headers to `HTTP_X_TOKER_UID` variables read both spellings as one).
pub fn is_identity_header(name: &str) -> bool {
    name.len() >= PREFIX.len()
        && name.as_bytes()[..PREFIX.len()]
            .iter()
            .zip(PREFIX.as_bytes())
            .all(|(a, b)| a.to_ascii_lowercase() == *b || (*a == b'_' && *b == b'-'))
}

/// The authenticated user and device of one request.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: i64,
    pub uid: String,
    pub email: Option<String>,
    pub provider: String,
    /// The device's `client` id.
    pub client: String,
    pub user_type: String,
}

impl Identity {
    pub fn new(user: &User, client: String) -> Identity {
        Identity {
            user_id: user.id,
            uid: user.uid.clone(),
            email: user.email.clone(),
            provider: user.provider.clone(),
            client,
            user_type: user.user_type.clone(),
        }
    }

    /// All seven headers, an absent e-mail as an empty value (a proxy copying a header the
    /// answer lacks may write its placeholder literally). Values are UTF-8.
    pub fn headers(&self, assertion: &str) -> Vec<(HeaderName, HeaderValue)> {
        let values = [
            self.user_id.to_string(),
            self.uid.clone(),
            self.email.clone().unwrap_or_default(),
            self.provider.clone(),
            self.client.clone(),
            self.user_type.clone(),
            assertion.to_string(),
        ];
        HEADERS
            .iter()
            .zip(values)
            .filter_map(|(name, value)| {
                // A control character cannot travel in a header; no stored value holds one.
                let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
                Some((HeaderName::from_static(name), value))
            })
            .collect()
    }
}

/// The request an assertion is about.
pub struct Audience<'a> {
    /// Whom it is for (`aud`): the route's upstream, or the host the proxy serves.
    pub audience: &'a str,
    /// The client's method (`htm`).
    pub method: &'a str,
    /// The client's path, without the query (`htu`).
    pub path: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    uid: &'a str,
    email: Option<&'a str>,
    provider: &'a str,
    client: &'a str,
    user_type: &'a str,
    htm: &'a str,
    htu: &'a str,
}

/// Signs assertions.
#[derive(Clone)]
pub struct Assertions {
    keys: AssertionKeys,
    issuer: String,
    lifetime: Duration,
}

impl Assertions {
    pub fn new(keys: AssertionKeys, issuer: String, lifetime: Duration) -> Assertions {
        Assertions {
            keys,
            issuer,
            lifetime,
        }
    }

    pub fn keys(&self) -> &AssertionKeys {
        &self.keys
    }

    /// The JWT for this identity and request.
    pub fn sign(&self, identity: &Identity, about: &Audience<'_>) -> anyhow::Result<String> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let keys = self.keys.current();
        let key = keys
            .signer(now_ms)
            .ok_or_else(|| anyhow::anyhow!("no assertion key"))?;
        let now = now_ms / 1000;
        let claims = Claims {
            iss: &self.issuer,
            sub: identity.user_id.to_string(),
            aud: about.audience,
            iat: now,
            nbf: now,
            exp: now + self.lifetime.as_secs() as i64,
            jti: crate::tokens::generate(),
            uid: &identity.uid,
            email: identity.email.as_deref(),
            provider: &identity.provider,
            client: &identity.client,
            user_type: &identity.user_type,
            htm: about.method,
            htu: about.path,
        };
        key.sign_jwt(&serde_json::to_vec(&claims)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_are_recognised_in_any_spelling() {
        for name in [
            "x-toker-uid",
            "X-Toker-Uid",
            "X_TOKER_UID",
            "x_toker-anything",
        ] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in ["x-tokers", "x-toke", "toker-uid", "x-toker"] {
            assert!(!is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn every_header_is_sent_even_without_an_email() {
        let identity = Identity {
            user_id: 7,
            uid: "4242".into(),
            email: None,
            provider: "github".into(),
            client: "c".into(),
            user_type: "User".into(),
        };
        let headers = identity.headers("jwt");
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, HEADERS);
        assert_eq!(headers[2].1, "");
        assert_eq!(headers[0].1, "7");
    }
}
