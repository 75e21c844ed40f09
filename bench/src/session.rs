//! One simulated device's credentials and the client side of the token contract: send
//! `access-token`, `client`, `uid` (with `token-type` and `expiry`, as j-toker does), and take
//! the next token from each response — unless the response carries none (toker's batch
//! responses omit the headers, docs/decisions.md D1) or a blank one (devise_token_auth's `" "`,
//! toker's `batch_response = "blank"`), in which case the device keeps the token it has.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// What a response did to the device's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absorbed {
    /// A new token: the device sends it from now on.
    Rotated,
    /// The same token came back (rotation is off on the server).
    Echoed,
    /// No token, or a blank one: a batch response, the device keeps its token.
    Kept,
}

/// A signed-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub client: String,
    pub uid: String,
    pub expiry: String,
}

/// A header's value, trimmed; `None` when absent, not text, or blank.
fn value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl Session {
    /// The session a sign-in or sign-up response starts, if it carries a full set of credentials.
    pub fn from_headers(headers: &HeaderMap) -> Option<Session> {
        Some(Session {
            token: value(headers, "access-token")?.to_string(),
            client: value(headers, "client")?.to_string(),
            uid: value(headers, "uid")?.to_string(),
            expiry: value(headers, "expiry").unwrap_or_default().to_string(),
        })
    }

    /// Takes what a response says about the token. Only a non-blank `access-token` replaces
    /// the token; `client`, `uid` and `expiry` are taken along with it when they are non-blank.
    pub fn absorb(&mut self, headers: &HeaderMap) -> Absorbed {
        let Some(token) = value(headers, "access-token") else {
            return Absorbed::Kept;
        };
        let outcome = if token == self.token {
            Absorbed::Echoed
        } else {
            Absorbed::Rotated
        };
        self.token = token.to_string();
        if let Some(client) = value(headers, "client") {
            self.client = client.to_string();
        }
        if let Some(uid) = value(headers, "uid") {
            self.uid = uid.to_string();
        }
        if let Some(expiry) = value(headers, "expiry") {
            self.expiry = expiry.to_string();
        }
        outcome
    }

    /// The request headers of an authenticated request.
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(5);
        let mut put = |name: &'static str, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        put("access-token", &self.token);
        put("token-type", "Bearer");
        put("client", &self.client);
        put("uid", &self.uid);
        if !self.expiry.is_empty() {
            put("expiry", &self.expiry);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn session() -> Session {
        Session {
            token: "t0".into(),
            client: "c".into(),
            uid: "a@example.com".into(),
            expiry: "100".into(),
        }
    }

    #[test]
    fn a_new_token_replaces_the_old_one_with_its_expiry() {
        let mut s = session();
        let got = s.absorb(&headers(&[
            ("access-token", "t1"),
            ("client", "c"),
            ("uid", "a@example.com"),
            ("expiry", "200"),
        ]));
        assert_eq!(got, Absorbed::Rotated);
        assert_eq!(s.token, "t1");
        assert_eq!(s.expiry, "200");
    }

    #[test]
    fn omitted_headers_keep_the_token() {
        let mut s = session();
        assert_eq!(s.absorb(&HeaderMap::new()), Absorbed::Kept);
        assert_eq!(s, session());
    }

    #[test]
    fn blank_headers_keep_the_token_and_expiry() {
        // devise_token_auth's batch response: a single space in access-token and expiry, the
        // real client and uid beside them.
        let mut s = session();
        let got = s.absorb(&headers(&[
            ("access-token", " "),
            ("token-type", "Bearer"),
            ("client", "c"),
            ("expiry", " "),
            ("uid", "a@example.com"),
        ]));
        assert_eq!(got, Absorbed::Kept);
        assert_eq!(s, session());
    }

    #[test]
    fn the_same_token_back_is_an_echo_not_a_rotation() {
        let mut s = session();
        assert_eq!(
            s.absorb(&headers(&[("access-token", "t0"), ("expiry", "100")])),
            Absorbed::Echoed
        );
        assert_eq!(s, session());
    }

    #[test]
    fn blank_client_or_expiry_beside_a_new_token_is_not_taken() {
        let mut s = session();
        s.absorb(&headers(&[
            ("access-token", "t1"),
            ("client", " "),
            ("expiry", " "),
        ]));
        assert_eq!(s.token, "t1");
        assert_eq!(s.client, "c");
        assert_eq!(s.expiry, "100");
    }

    #[test]
    fn sign_in_needs_token_client_and_uid() {
        assert_eq!(
            Session::from_headers(&headers(&[("access-token", "t"), ("client", "c")])),
            None
        );
        let s = Session::from_headers(&headers(&[
            ("access-token", "t"),
            ("client", "c"),
            ("uid", "u"),
        ]))
        .unwrap();
        assert_eq!(s.expiry, "");
        let sent = s.headers();
        assert_eq!(sent["access-token"], "t");
        assert_eq!(sent["token-type"], "Bearer");
        assert!(sent.get("expiry").is_none());
    }
}
