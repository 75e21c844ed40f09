//! The keys that sign assertions (docs/decisions.md D14) and the JWK Set that publishes them.
//!
//! Either configured (`gateway.assertion_keys`: the first signs, all are published, so an
//! operator rotates by adding the next key at the end, moving it first once upstreams have seen
//! it, and finally dropping the old one), or generated: kept in the database so that every
//! instance signs with the same key and a restart keeps it. A generated key is rotated with
//! `toker assertion-keys rotate`: the new key is published at once and signs only from
//! [`PUBLISH_AHEAD`] later, when every JWKS cache has picked it up; a key is dropped once it has
//! been out of use for [`RETIRE_AFTER`], longer than any assertion it signed can live. Every
//! instance reloads the stored keys every [`RELOAD_EVERY`].

use std::{
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    config::{Secret, gateway::parse_assertion_key},
    store::{Store, StoredKey},
};

/// How long the JWK Set may be cached (its `Cache-Control: max-age`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// A rotated-in key is published this long before it signs: twice the JWKS cache time.
pub const PUBLISH_AHEAD: Duration = Duration::from_secs(2 * 300);

/// A key no longer signing stays published this long (well over the longest assertion
/// lifetime, one hour).
pub const RETIRE_AFTER: Duration = Duration::from_secs(2 * 3600);

/// How often an instance reloads the stored keys.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

const ALGORITHM: &str = "ES256";

/// One P-256 key: its `kid`, the signer, and its public JWK.
pub struct SigningKey {
    pub kid: String,
    /// Parsed once: parsing a PKCS#8 key derives its public key, as costly as a signature.
    pair: EcdsaKeyPair,
    /// The JWS header of this key, already base64url-encoded.
    header: String,
    jwk: Value,
    /// Unix milliseconds from which it signs.
    signs_from: i64,
}

impl SigningKey {
    fn from_pkcs8(der: &[u8], signs_from: i64) -> Result<SigningKey, String> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|_| "not a P-256 PKCS#8 key".to_string())?;
        // The uncompressed point: 0x04 ‖ x ‖ y.
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        // RFC 7638: the SHA-256 of the required members, in lexicographic order.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "use": "sig", "alg": ALGORITHM,
        });
        let header = URL_SAFE_NO_PAD
            .encode(json!({ "typ": "JWT", "alg": ALGORITHM, "kid": kid }).to_string());
        Ok(SigningKey {
            kid,
            pair,
            header,
            jwk,
            signs_from,
        })
    }

    /// A compact JWS (RFC 7515) of `payload` signed with this key: ES256's signature is the
    /// fixed-length `r ‖ s` that ring produces.
    pub fn sign_jwt(&self, payload: &[u8]) -> anyhow::Result<String> {
        let mut jwt = format!("{}.{}", self.header, URL_SAFE_NO_PAD.encode(payload));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), jwt.as_bytes())
            .map_err(|_| anyhow::anyhow!("ES256 signing failed"))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(jwt)
    }
}

/// The keys in use, newest first.
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    fn new(mut keys: Vec<SigningKey>) -> KeySet {
        keys.sort_by(|a, b| b.signs_from.cmp(&a.signs_from).then(b.kid.cmp(&a.kid)));
        KeySet { keys }
    }

    /// The key that signs now: the newest one whose time has come (the oldest if none has).
    pub fn signer(&self, now_ms: i64) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| k.signs_from <= now_ms)
            .or_else(|| self.keys.last())
    }

    /// `{"keys": [...]}` with every published key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }
}

struct Inner {
    current: RwLock<Arc<KeySet>>,
    store: Option<Store>,
}

/// The assertion keys of this instance; cheap to clone.
#[derive(Clone)]
pub struct AssertionKeys(Arc<Inner>);

impl AssertionKeys {
    /// Configured keys: the first signs, the others are only published.
    pub fn configured(pems: &[Secret]) -> anyhow::Result<AssertionKeys> {
        let keys = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                let der = parse_assertion_key(pem.expose())
                    .map_err(|p| anyhow::anyhow!("gateway.assertion_keys: key {}: {p}", i + 1))?;
                // Only the first key's time has come.
                let signs_from = if i == 0 {
                    i64::MIN
                } else {
                    i64::MAX - i as i64
                };
                SigningKey::from_pkcs8(&der, signs_from).map_err(anyhow::Error::msg)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(AssertionKeys(Arc::new(Inner {
            current: RwLock::new(Arc::new(KeySet::new(keys))),
            store: None,
        })))
    }

    /// One freshly generated key, signing now, kept nowhere.
    #[cfg(test)]
    pub fn ephemeral() -> AssertionKeys {
        let key = decode(&generate(0, 0).expect("a key")).expect("its PKCS#8");
        AssertionKeys(Arc::new(Inner {
            current: RwLock::new(Arc::new(KeySet::new(vec![key]))),
            store: None,
        }))
    }

    /// The keys kept in the database; generates and stores the first one when there is none.
    /// Reloads them every minute, so a rotation done elsewhere reaches this instance.
    pub async fn stored(store: Store) -> anyhow::Result<AssertionKeys> {
        if store.signing_keys().await?.is_empty() {
            let now = chrono::Utc::now().timestamp_millis();
            // Two instances starting at once may both insert one: both get published, and
            // both instances sign with the newer.
            store.insert_signing_key(generate(now, now)?).await?;
            tracing::info!("generated the gateway assertion key (kept in the database)");
        }
        let keys = AssertionKeys(Arc::new(Inner {
            current: RwLock::new(Arc::new(KeySet::new(Vec::new()))),
            store: Some(store),
        }));
        keys.reload().await?;
        spawn_reloads(Arc::downgrade(&keys.0));
        Ok(keys)
    }

    /// The current key set.
    pub fn current(&self) -> Arc<KeySet> {
        self.0
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn reload(&self) -> anyhow::Result<()> {
        let Some(store) = &self.0.store else {
            return Ok(());
        };
        let keys = store
            .signing_keys()
            .await?
            .iter()
            .filter_map(|row| match decode(row) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::error!(kid = %row.kid, "stored assertion key unusable: {e}");
                    None
                }
            })
            .collect::<Vec<_>>();
        if keys.is_empty() {
            anyhow::bail!("no usable assertion key in the database");
        }
        *self.0.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet::new(keys));
        Ok(())
    }
}

fn spawn_reloads(keys: Weak<Inner>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RELOAD_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(inner) = keys.upgrade() else { return };
            if let Err(e) = AssertionKeys(inner).reload().await {
                tracing::warn!("could not reload the assertion keys: {e:#}");
            }
        }
    });
}

fn decode(row: &StoredKey) -> Result<SigningKey, String> {
    if row.algorithm != ALGORITHM {
        return Err(format!("unknown algorithm {}", row.algorithm));
    }
    let der = STANDARD
        .decode(&row.private_key)
        .map_err(|_| "not base64".to_string())?;
    SigningKey::from_pkcs8(&der, row.signs_from)
}

/// A new P-256 key as stored, signing from `signs_from`.
fn generate(now_ms: i64, signs_from: i64) -> anyhow::Result<StoredKey> {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| anyhow::anyhow!("could not generate a P-256 key"))?;
    let key = SigningKey::from_pkcs8(doc.as_ref(), signs_from).map_err(anyhow::Error::msg)?;
    Ok(StoredKey {
        kid: key.kid,
        algorithm: ALGORITHM.into(),
        private_key: STANDARD.encode(doc.as_ref()),
        created_at: now_ms,
        signs_from,
    })
}

/// The stored keys that have been out of use for longer than [`RETIRE_AFTER`]: each key stops
/// signing when the next newer one's time comes.
fn retired(keys: &[(String, i64)], now_ms: i64) -> Vec<String> {
    let mut keys = keys.to_vec();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let retire_ms = RETIRE_AFTER.as_millis() as i64;
    keys.windows(2)
        .filter(|pair| pair[0].1 <= now_ms && now_ms - pair[0].1 > retire_ms)
        .map(|pair| pair[1].0.clone())
        .collect()
}

/// What `toker assertion-keys rotate` did.
#[derive(Debug)]
pub struct Rotation {
    pub added: String,
    pub signs_from: i64,
    pub removed: Vec<String>,
}

/// Adds a new generated key (signing from [`PUBLISH_AHEAD`] on) and removes retired ones.
pub async fn rotate(store: &Store) -> anyhow::Result<Rotation> {
    let now = chrono::Utc::now().timestamp_millis();
    let signs_from = now + PUBLISH_AHEAD.as_millis() as i64;
    let key = generate(now, signs_from)?;
    let added = key.kid.clone();
    store.insert_signing_key(key).await?;
    let listed: Vec<(String, i64)> = store
        .signing_keys()
        .await?
        .into_iter()
        .map(|k| (k.kid, k.signs_from))
        .collect();
    let removed = retired(&listed, now);
    store.delete_signing_keys(&removed).await?;
    Ok(Rotation {
        added,
        signs_from,
        removed,
    })
}

/// `(kid, created_at, signs_from)` of every stored key, newest first.
pub async fn list(store: &Store) -> anyhow::Result<Vec<(String, i64, i64)>> {
    Ok(store
        .signing_keys()
        .await?
        .into_iter()
        .map(|k| (k.kid, k.created_at, k.signs_from))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn key(signs_from: i64) -> SigningKey {
        let stored = generate(0, signs_from).unwrap();
        decode(&stored).unwrap()
    }

    #[test]
    fn the_newest_key_whose_time_has_come_signs() {
        let set = KeySet::new(vec![key(0), key(10 * HOUR), key(5 * HOUR)]);
        assert_eq!(set.signer(6 * HOUR).unwrap().signs_from, 5 * HOUR);
        assert_eq!(set.signer(11 * HOUR).unwrap().signs_from, 10 * HOUR);
        assert_eq!(set.signer(HOUR).unwrap().signs_from, 0);
        // Before any key's time (a clock far behind): the oldest signs rather than nobody.
        assert_eq!(set.signer(-HOUR).unwrap().signs_from, 0);
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint_and_the_jwk_has_no_private_part() {
        let k = key(0);
        let jwk = &k.jwk;
        assert_eq!(jwk["kid"], k.kid.as_str());
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert!(jwk.get("d").is_none());
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(
            k.kid,
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
    }

    #[test]
    fn a_signed_jwt_verifies_with_the_published_jwk() {
        let k = key(0);
        let jwt = k.sign_jwt(br#"{"sub":"7","aud":"x"}"#).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.kid.as_deref(), Some(k.kid.as_str()));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(k.jwk.clone()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["x"]);
        validation.set_required_spec_claims(&["sub"]);
        let claims = jsonwebtoken::decode::<Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], "7");
    }

    #[test]
    fn configured_keys_sign_with_the_first_and_publish_all() {
        let rng = SystemRandom::new();
        let pems: Vec<Secret> = (0..2)
            .map(|_| {
                let doc =
                    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
                Secret::new(pem::encode(&pem::Pem::new(
                    "PRIVATE KEY",
                    doc.as_ref().to_vec(),
                )))
            })
            .collect();
        let keys = AssertionKeys::configured(&pems).unwrap();
        let set = keys.current();
        let first = SigningKey::from_pkcs8(&parse_assertion_key(pems[0].expose()).unwrap(), 0)
            .unwrap()
            .kid;
        for now in [0, i64::MAX / 2] {
            assert_eq!(set.signer(now).unwrap().kid, first);
        }
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn keys_retire_two_hours_after_their_successor_starts_signing() {
        let keys = vec![
            ("old".to_string(), 0),
            ("mid".to_string(), 10 * HOUR),
            ("new".to_string(), 20 * HOUR),
        ];
        assert!(retired(&keys, 11 * HOUR).is_empty(), "old stopped 1 h ago");
        assert_eq!(retired(&keys, 13 * HOUR), ["old"]);
        // `new` is not signing yet at 19 h: `mid` signs and stays.
        assert_eq!(retired(&keys, 19 * HOUR), ["old"]);
        assert_eq!(retired(&keys, 23 * HOUR), ["mid", "old"]);
        assert!(
            retired(&keys[..1], 100 * HOUR).is_empty(),
            "the only key stays"
        );
    }
}
