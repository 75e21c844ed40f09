//! The OAuth `state` (docs/decisions.md D6): what the request phase must remember — provider,
//! `auth_origin_url`, window type, config name, permitted sign-up params — plus a nonce and an
//! expiry, HMAC-signed so no session or cookie is needed and any instance can finish the sign-in.
//! The PKCE verifier is derived from the key and the nonce, so it never leaves the server.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What travels in `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatePayload {
    pub provider: String,
    pub auth_origin_url: Option<String>,
    pub window_type: Option<String>,
    pub config: Option<String>,
    /// Permitted sign-up attributes sent with the request phase.
    pub params: Map<String, Value>,
    pub nonce: String,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state is malformed or its signature does not match")]
    Invalid,
    #[error("state has expired")]
    Expired,
}

/// Signs and checks states with one secret key.
#[derive(Clone)]
pub struct StateSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner")
    }
}

impl StateSigner {
    pub fn new(key: &[u8]) -> StateSigner {
        StateSigner { key: key.to_vec() }
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(data);
        mac
    }

    pub fn sign(&self, payload: &StatePayload) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).expect("state serializes"));
        let tag = self.mac("state", body.as_bytes()).finalize().into_bytes();
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The payload, if the signature matches (constant time) and `expires` is after `now`.
    pub fn verify(&self, state: &str, now: i64) -> Result<StatePayload, StateError> {
        let (body, tag) = state.split_once('.').ok_or(StateError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Invalid)?;
        self.mac("state", body.as_bytes())
            .verify_slice(&tag)
            .map_err(|_| StateError::Invalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| StateError::Invalid)?;
        let payload: StatePayload =
            serde_json::from_slice(&json).map_err(|_| StateError::Invalid)?;
        if payload.expires <= now {
            return Err(StateError::Expired);
        }
        Ok(payload)
    }

    /// The PKCE code verifier of a sign-in: 43 URL-safe characters only this server can derive.
    pub fn pkce_verifier(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("pkce", nonce.as_bytes()).finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(expires: i64) -> StatePayload {
        StatePayload {
            provider: "github".into(),
            auth_origin_url: Some("https://app.example.com/".into()),
            window_type: Some("newWindow".into()),
            config: None,
            params: Map::new(),
            nonce: "n1".into(),
            expires,
        }
    }

    #[test]
    fn signed_states_round_trip_until_they_expire() {
        let signer = StateSigner::new(b"0123456789abcdef0123456789abcdef");
        let state = signer.sign(&payload(100));
        assert_eq!(signer.verify(&state, 99).unwrap(), payload(100));
        assert_eq!(signer.verify(&state, 100), Err(StateError::Expired));
    }

    #[test]
    fn tampered_or_foreign_states_are_refused() {
        let signer = StateSigner::new(b"0123456789abcdef0123456789abcdef");
        let state = signer.sign(&payload(100));
        let (body, tag) = state.split_once('.').unwrap();
        let mut forged = payload(100);
        forged.auth_origin_url = Some("https://evil.test/".into());
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            signer.verify(&format!("{forged_body}.{tag}"), 0),
            Err(StateError::Invalid)
        );
        assert_eq!(signer.verify(body, 0), Err(StateError::Invalid));
        let other = StateSigner::new(b"another key of at least 32 bytes!!");
        assert_eq!(other.verify(&state, 0), Err(StateError::Invalid));
    }

    #[test]
    fn pkce_verifiers_are_valid_and_per_nonce() {
        let signer = StateSigner::new(b"0123456789abcdef0123456789abcdef");
        let v = signer.pkce_verifier("n1");
        assert_eq!(v.len(), 43);
        assert_ne!(v, signer.pkce_verifier("n2"));
    }
}
