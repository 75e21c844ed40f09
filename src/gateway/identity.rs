//! Who the user is, as upstreams receive it (docs/gateway.md §3, §6.4): the `X-Toker-*`
//! identity headers, and `X-Toker-Assertion`, a short-lived ES256 JWT over the same facts whose
//! keys toker publishes at `/.well-known/jwks.json`. Gateway mode sends these to the upstream;
//! forward-auth answers them to the proxy, which copies them onto the request it forwards.
//!
//! An unsigned header can be believed only while nothing reaches the upstream except through
//! toker or the proxy; the assertion still holds when something does.

use std::{sync::Arc, time::Duration};

use poem::http::{HeaderName, HeaderValue};
use serde::Serialize;

use super::keys::AssertionKeys;
use crate::{config::AssertionBinding, store::User};

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
    /// The client's method (`htm`, in request-bound assertions).
    pub method: &'a str,
    /// The client's path, without the query (`htu`, in request-bound assertions).
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
    #[serde(skip_serializing_if = "Option::is_none")]
    htm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    htu: Option<&'a str>,
}

/// How many devices' assertions are kept for reuse; past it the least used are signed anew.
const REUSED_ASSERTIONS: usize = 20_000;

/// The identity headers with their assertion, as one request sends them; cheap to clone.
pub type IdentityHeaders = Arc<[(HeaderName, HeaderValue)]>;

/// A device's identity headers and the Unix millisecond from which they are no longer handed out.
#[derive(Clone)]
struct Reusable {
    headers: IdentityHeaders,
    until_ms: i64,
}

/// Signs assertions.
#[derive(Clone)]
pub struct Assertions {
    keys: AssertionKeys,
    issuer: String,
    lifetime: Duration,
    binding: AssertionBinding,
    /// Device-bound assertions by everything they say except time; shared by every route.
    reusable: Arc<quick_cache::sync::Cache<String, Reusable>>,
}

impl Assertions {
    pub fn new(
        keys: AssertionKeys,
        issuer: String,
        lifetime: Duration,
        binding: AssertionBinding,
    ) -> Assertions {
        Assertions {
            keys,
            issuer,
            lifetime,
            binding,
            reusable: Arc::new(quick_cache::sync::Cache::new(REUSED_ASSERTIONS)),
        }
    }

    pub fn keys(&self) -> &AssertionKeys {
        &self.keys
    }

    /// The identity headers and the assertion for this identity and request. Bound to the
    /// device, the ones made earlier for the same facts, key and audience are handed out again
    /// while at least half of the assertion's lifetime is left, so an upstream always gets one
    /// valid for `assertion_lifetime / 2` or longer; an ECDSA signature is the largest single
    /// cost of a proxied request.
    pub fn headers(
        &self,
        identity: &Identity,
        about: &Audience<'_>,
    ) -> anyhow::Result<IdentityHeaders> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let keys = self.keys.current();
        let key = keys
            .signer(now_ms)
            .ok_or_else(|| anyhow::anyhow!("no assertion key"))?;
        let per_request = self.binding == AssertionBinding::Request;
        // Every claim but the times and `jti`, so a changed e-mail or key gets a new one.
        let facts = (!per_request).then(|| {
            format!(
                "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
                key.kid,
                about.audience,
                identity.user_id,
                identity.uid,
                identity.email.as_deref().map_or("\u{0}", |e| e),
                identity.provider,
                identity.client,
                identity.user_type,
                self.issuer,
            )
        });
        if let Some(facts) = &facts
            && let Some(found) = self.reusable.get(facts)
            && now_ms < found.until_ms
        {
            return Ok(found.headers);
        }
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
            htm: per_request.then_some(about.method),
            htu: per_request.then_some(about.path),
        };
        let jwt = key.sign_jwt(&serde_json::to_vec(&claims)?)?;
        let headers: IdentityHeaders = identity.headers(&jwt).into();
        if let Some(facts) = facts {
            // Counted from the whole second in `iat`, which is what the upstream sees.
            let half_life_ms = self.lifetime.as_millis() as i64 / 2;
            self.reusable.insert(
                facts,
                Reusable {
                    headers: headers.clone(),
                    until_ms: now * 1000 + half_life_ms,
                },
            );
        }
        Ok(headers)
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

    fn someone(client: &str) -> Identity {
        Identity {
            user_id: 7,
            uid: "a@example.com".into(),
            email: Some("a@example.com".into()),
            provider: "email".into(),
            client: client.into(),
            user_type: "User".into(),
        }
    }

    fn about<'a>(audience: &'a str, path: &'a str) -> Audience<'a> {
        Audience {
            audience,
            method: "GET",
            path,
        }
    }

    fn claims(jwt: &str) -> serde_json::Value {
        use base64::Engine as _;
        let payload = jwt.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The assertion alone, as [`Assertions::headers`] sends it in `X-Toker-Assertion`.
    trait Sign {
        fn sign(&self, identity: &Identity, about: &Audience<'_>) -> anyhow::Result<String>;
    }

    impl Sign for Assertions {
        fn sign(&self, identity: &Identity, about: &Audience<'_>) -> anyhow::Result<String> {
            let headers = self.headers(identity, about)?;
            let (_, value) = headers
                .iter()
                .find(|(name, _)| name == ASSERTION)
                .ok_or_else(|| anyhow::anyhow!("no assertion header"))?;
            Ok(value.to_str()?.to_string())
        }
    }

    fn assertions(lifetime: u64, binding: AssertionBinding) -> Assertions {
        Assertions::new(
            AssertionKeys::ephemeral(),
            "https://toker.test".into(),
            Duration::from_secs(lifetime),
            binding,
        )
    }

    #[test]
    fn a_device_bound_assertion_serves_the_same_facts_again() {
        let a = assertions(60, AssertionBinding::Device);
        let first = a.sign(&someone("c1"), &about("up", "/items")).unwrap();
        // Another path of the same device and audience: the same assertion.
        assert_eq!(
            first,
            a.sign(&someone("c1"), &about("up", "/other")).unwrap()
        );
        let c = claims(&first);
        assert!(c.get("htm").is_none() && c.get("htu").is_none(), "{c}");
        assert_eq!(c["client"], "c1");
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 60);
        // Anything it says changes it: the device, the audience, the e-mail.
        assert_ne!(
            first,
            a.sign(&someone("c2"), &about("up", "/items")).unwrap()
        );
        assert_ne!(
            first,
            a.sign(&someone("c1"), &about("other", "/items")).unwrap()
        );
        let renamed = Identity {
            email: Some("b@example.com".into()),
            ..someone("c1")
        };
        let again = a.sign(&renamed, &about("up", "/items")).unwrap();
        assert_eq!(claims(&again)["email"], "b@example.com");
        let without = Identity {
            email: None,
            ..someone("c1")
        };
        assert!(claims(&a.sign(&without, &about("up", "/items")).unwrap())["email"].is_null());
    }

    #[test]
    fn a_device_bound_assertion_is_signed_anew_at_half_its_lifetime() {
        let a = assertions(2, AssertionBinding::Device);
        let first = a.sign(&someone("c1"), &about("up", "/")).unwrap();
        // Reused for at most one second (half of two) counted from its whole-second `iat`.
        std::thread::sleep(Duration::from_millis(1_100));
        let second = a.sign(&someone("c1"), &about("up", "/")).unwrap();
        assert_ne!(first, second);
        assert!(claims(&second)["iat"].as_i64() > claims(&first)["iat"].as_i64());
    }

    #[test]
    fn a_request_bound_assertion_is_new_for_every_request() {
        let a = assertions(60, AssertionBinding::Request);
        let first = a.sign(&someone("c1"), &about("up", "/items")).unwrap();
        let second = a.sign(&someone("c1"), &about("up", "/items")).unwrap();
        assert_ne!(first, second);
        let (c1, c2) = (claims(&first), claims(&second));
        assert_ne!(c1["jti"], c2["jti"]);
        assert_eq!(c1["htm"], "GET");
        assert_eq!(c1["htu"], "/items");
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
