//! Talking to providers: OpenID Connect discovery, the authorization URL, the code exchange
//! (the `oauth2` crate, PKCE S256), the profile (user-info endpoint, GitHub's e-mail list),
//! id_token verification against the provider's keys, and asking the provider who an access
//! token was issued to. One reqwest client with timeouts and no redirects (a provider answering
//! with a redirect is an error, never followed: SSRF). Errors never carry a URL's query: it can
//! hold a token or Facebook's app secret.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    providers::{ProviderConfig, TokenCheck},
    token_check::{self, Owner},
};
use crate::config::oauth::ResponseMode;

/// The token response with OpenID Connect's `id_token`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type Client = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
>;

/// `Client` with its authorization and token endpoints set.
type ConfiguredClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    oauth2::EndpointSet,
>;

/// A provider's endpoints, after discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: Option<String>,
    pub authorize: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: Option<String>,
    /// RFC 7662 introspection (discovery's `introspection_endpoint`).
    pub introspection: Option<String>,
}

/// What the provider gave back for a code.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("provider unreachable or answered badly: {0}")]
    Http(String),
    #[error("provider configuration: {0}")]
    Config(String),
    #[error("token rejected: {0}")]
    Rejected(String),
}

/// A provider's key set, kept as long as its `Cache-Control` allows.
struct CachedKeys {
    keys: JwkSet,
    fresh_until: Instant,
    /// The last refresh forced by an unknown `kid`: at most one a minute, so tokens with made-up
    /// key ids cannot turn toker into a flood of requests to the provider.
    forced_at: Option<Instant>,
}

/// How often an unknown `kid` may make toker fetch the key set again.
const FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Key set lifetime when the provider sends no `max-age`, and the longest one honoured.
const DEFAULT_KEYS_LIFETIME: Duration = Duration::from_secs(3600);
const MAX_KEYS_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The HTTP side of every provider, with discovery documents and key sets cached.
pub struct OAuthClient {
    http: reqwest::Client,
    endpoints: Mutex<HashMap<String, Endpoints>>,
    keys: Mutex<HashMap<String, CachedKeys>>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OAuthClient")
    }
}

fn http_error(e: reqwest::Error) -> ProviderError {
    ProviderError::Http(e.without_url().to_string())
}

/// `url` without its query and fragment, for messages.
fn shown(url: &str) -> String {
    url::Url::parse(url).map_or_else(
        |_| "(unparsable URL)".into(),
        |u| format!("{}{}", u.origin().ascii_serialization(), u.path()),
    )
}

/// The lifetime `Cache-Control` gives a response: `max-age`, 0 for `no-store`/`no-cache`,
/// `DEFAULT_KEYS_LIFETIME` without either; never more than `MAX_KEYS_LIFETIME`.
fn cache_lifetime(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_KEYS_LIFETIME;
    };
    let mut lifetime = DEFAULT_KEYS_LIFETIME;
    for directive in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            lifetime = seconds
                .trim_matches('"')
                .parse()
                .map_or(Duration::ZERO, Duration::from_secs);
        }
    }
    lifetime.min(MAX_KEYS_LIFETIME)
}

/// The key for `kid`, or the only key when the token names none.
fn find_key<'a>(keys: &'a JwkSet, kid: Option<&str>) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(kid) => keys.find(kid),
        None => (keys.keys.len() == 1).then(|| &keys.keys[0]),
    }
}

/// OpenID Connect Core §3.1.3.7: with several audiences `azp` must be present, and when
/// present it must be a client of this app.
fn check_authorized_party(p: &ProviderConfig, claims: &Value) -> Result<(), ProviderError> {
    let several = claims["aud"].as_array().is_some_and(|a| a.len() > 1);
    match &claims["azp"] {
        Value::Null if several => Err(ProviderError::Rejected(
            "several audiences and no azp".into(),
        )),
        Value::Null => Ok(()),
        Value::String(azp) if p.accepts_client(azp) => Ok(()),
        other => Err(ProviderError::Rejected(format!(
            "azp {other} is not this app"
        ))),
    }
}

/// An access token in JWT form (RFC 9068 `typ: at+jwt`) is not an id_token, whatever it holds.
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| t == "at+jwt" || t == "application/at+jwt")
}

impl OAuthClient {
    pub fn new(timeout: Duration) -> OAuthClient {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("toker/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        OAuthClient {
            http,
            endpoints: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, ProviderError> {
        let mut request = self.http.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        Ok(self.send_json(request, url).await?.0)
    }

    /// Sends `request`; its JSON answer and `Cache-Control`. A 4xx means the provider refused
    /// what was asked (a bad token), anything else that is not a 2xx means trouble there.
    async fn send_json(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(Value, Option<String>), ProviderError> {
        let resp = request
            .header("accept", "application/json")
            .send()
            .await
            .map_err(http_error)?;
        let status = resp.status();
        if status.is_client_error() {
            return Err(ProviderError::Rejected(format!(
                "{} answered {status}",
                shown(url)
            )));
        }
        if !status.is_success() {
            return Err(ProviderError::Http(format!(
                "{} answered {status}",
                shown(url)
            )));
        }
        let cache_control = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.json().await.map_err(http_error)?;
        Ok((body, cache_control))
    }

    /// The provider's endpoints: configured ones, the rest from its discovery document.
    pub async fn endpoints(&self, p: &ProviderConfig) -> Result<Endpoints, ProviderError> {
        if let Some(cached) = self.endpoints.lock().expect("lock").get(&p.name) {
            return Ok(cached.clone());
        }
        let discovered = match &p.issuer {
            Some(issuer)
                if p.authorize_url.is_none()
                    || p.token_url.is_none()
                    || p.userinfo_url.is_none()
                    || p.jwks_url.is_none()
                    || p.introspection_url.is_none() =>
            {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                Some(self.get_json(&url, None).await?)
            }
            _ => None,
        };
        let from_doc = |key: &str| {
            discovered
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let missing = |what: &str| ProviderError::Config(format!("{}: no {what}", p.name));
        let endpoints = Endpoints {
            issuer: from_doc("issuer").or_else(|| p.issuer.clone()),
            authorize: p
                .authorize_url
                .clone()
                .or_else(|| from_doc("authorization_endpoint"))
                .ok_or_else(|| missing("authorization endpoint"))?,
            token: p
                .token_url
                .clone()
                .or_else(|| from_doc("token_endpoint"))
                .ok_or_else(|| missing("token endpoint"))?,
            userinfo: p
                .userinfo_url
                .clone()
                .or_else(|| from_doc("userinfo_endpoint")),
            jwks: p.jwks_url.clone().or_else(|| from_doc("jwks_uri")),
            introspection: p
                .introspection_url
                .clone()
                .or_else(|| from_doc("introspection_endpoint")),
        };
        self.endpoints
            .lock()
            .expect("lock")
            .insert(p.name.clone(), endpoints.clone());
        Ok(endpoints)
    }

    fn client(
        &self,
        p: &ProviderConfig,
        e: &Endpoints,
        redirect_uri: &str,
    ) -> Result<ConfiguredClient, ProviderError> {
        let config = |e: oauth2::url::ParseError| ProviderError::Config(e.to_string());
        Ok(Client::new(ClientId::new(p.client_id.clone()))
            .set_client_secret(ClientSecret::new(p.client_secret.expose().to_string()))
            // Credentials in the body: what GitHub, Google and Facebook all accept.
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::new(e.authorize.clone()).map_err(config)?)
            .set_token_uri(TokenUrl::new(e.token.clone()).map_err(config)?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(config)?))
    }

    /// Where to send the browser: the provider's authorization URL with our `state`.
    pub fn authorize_url(
        &self,
        p: &ProviderConfig,
        e: &Endpoints,
        redirect_uri: &str,
        state: String,
        pkce_verifier: &str,
    ) -> Result<String, ProviderError> {
        let client = self.client(p, e, redirect_uri)?;
        let mut request = client
            .authorize_url(|| CsrfToken::new(state))
            .add_scopes(p.scopes.iter().cloned().map(Scope::new));
        if p.response_mode == ResponseMode::FormPost {
            request = request.add_extra_param("response_mode", "form_post");
        }
        if p.pkce {
            let verifier = PkceCodeVerifier::new(pkce_verifier.to_string());
            request =
                request.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        }
        Ok(request.url().0.to_string())
    }

    /// Trades the authorization code for tokens.
    pub async fn exchange(
        &self,
        p: &ProviderConfig,
        e: &Endpoints,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<Tokens, ProviderError> {
        let client = self.client(p, e, redirect_uri)?;
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_string()));
        if p.pkce {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
        }
        let token = request
            .request_async(&self.http)
            .await
            .map_err(|e| ProviderError::Rejected(e.to_string()))?;
        Ok(Tokens {
            access_token: token.access_token().secret().clone(),
            id_token: token.extra_fields().id_token.clone(),
        })
    }

    /// The user's profile from the user-info endpoint. With an e-mail list (GitHub's), the
    /// address and whether it is verified come from the list; a list that cannot be read (the
    /// token lacks the scope) leaves the address unverified.
    pub async fn profile(
        &self,
        p: &ProviderConfig,
        e: &Endpoints,
        access_token: &str,
    ) -> Result<Value, ProviderError> {
        let url = e
            .userinfo
            .as_deref()
            .ok_or_else(|| ProviderError::Config(format!("{}: no user-info endpoint", p.name)))?;
        let mut profile = self.get_json(url, Some(access_token)).await?;
        if let Some(emails_url) = &p.emails_url {
            let list = match self.get_json(emails_url, Some(access_token)).await {
                Ok(list) => list,
                Err(e) => {
                    tracing::info!(provider = %p.name, error = %e, "e-mail list unreadable");
                    Value::Null
                }
            };
            super::profile::apply_email_list(&mut profile, &list, &p.fields);
        }
        Ok(profile)
    }

    /// The provider's key set, from the cache while it is fresh and knows `kid`. An unknown
    /// `kid` fetches it again (key rotation), at most once a minute; a provider that cannot be
    /// reached leaves the stale set in use.
    async fn key_set(
        &self,
        p: &ProviderConfig,
        url: &str,
        kid: Option<&str>,
    ) -> Result<JwkSet, ProviderError> {
        let now = Instant::now();
        let (stale, forced_at) = {
            let mut cache = self.keys.lock().expect("lock");
            match cache.get_mut(&p.name) {
                Some(c) if now < c.fresh_until => {
                    let recently_forced = c
                        .forced_at
                        .is_some_and(|at| now.duration_since(at) < FORCED_REFRESH_INTERVAL);
                    if find_key(&c.keys, kid).is_some() || recently_forced {
                        return Ok(c.keys.clone());
                    }
                    c.forced_at = Some(now);
                    (Some(c.keys.clone()), Some(now))
                }
                Some(c) => (Some(c.keys.clone()), c.forced_at),
                None => (None, None),
            }
        };
        let fetched =
            self.send_json(self.http.get(url), url)
                .await
                .and_then(|(doc, cache_control)| {
                    let keys: JwkSet = serde_json::from_value(doc)
                        .map_err(|e| ProviderError::Http(format!("{}: {e}", shown(url))))?;
                    Ok((keys, cache_lifetime(cache_control.as_deref())))
                });
        match (fetched, stale) {
            (Ok((keys, lifetime)), _) => {
                self.keys.lock().expect("lock").insert(
                    p.name.clone(),
                    CachedKeys {
                        keys: keys.clone(),
                        fresh_until: now + lifetime,
                        forced_at,
                    },
                );
                Ok(keys)
            }
            (Err(e), Some(stale)) => {
                tracing::warn!(provider = %p.name, error = %e, "key set refresh failed; the cached keys stay in use");
                Ok(stale)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// Verifies an OpenID Connect id_token (docs/decisions.md D13): signature by one of the
    /// provider's keys (asymmetric algorithms only), `iss`, `aud`, `exp` and `sub` all present
    /// and right, `azp` a client of this app when present and required with several audiences,
    /// and not an access token (`typ: at+jwt`). Returns its claims.
    pub async fn verify_id_token(
        &self,
        p: &ProviderConfig,
        e: &Endpoints,
        id_token: &str,
    ) -> Result<Value, ProviderError> {
        let jwks_url = e
            .jwks
            .as_deref()
            .ok_or_else(|| ProviderError::Config(format!("{}: no jwks endpoint", p.name)))?;
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| ProviderError::Rejected(e.to_string()))?;
        if is_access_token_type(header.typ.as_deref()) {
            return Err(ProviderError::Rejected(
                "an access token (typ at+jwt), not an id_token".into(),
            ));
        }
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::PS256
        ) {
            return Err(ProviderError::Rejected(format!(
                "algorithm {:?} not accepted",
                header.alg
            )));
        }
        let keys = self.key_set(p, jwks_url, header.kid.as_deref()).await?;
        let jwk = find_key(&keys, header.kid.as_deref())
            .ok_or_else(|| ProviderError::Rejected("unknown signing key".into()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| ProviderError::Rejected(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        // jsonwebtoken checks a claim it is given only when the token carries it: make the
        // token carry them.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.set_audience(&p.audiences);
        let Some(issuer) = &e.issuer else {
            return Err(ProviderError::Config(format!("{}: no issuer", p.name)));
        };
        validation.set_issuer(&issuer_spellings(issuer));
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map_err(|e| ProviderError::Rejected(e.to_string()))?;
        let claims = data.claims;
        // A single issuer, and a subject that is a non-empty string.
        if !claims["iss"].is_string() || claims["sub"].as_str().is_none_or(str::is_empty) {
            return Err(ProviderError::Rejected("iss or sub malformed".into()));
        }
        check_authorized_party(p, &claims)?;
        Ok(claims)
    }

    /// Asks the provider who `access_token` was issued to (docs/decisions.md D13) and judges
    /// the answer: the token's owner when it is one of this app's live tokens.
    pub async fn check_access_token(
        &self,
        p: &ProviderConfig,
        e: &Endpoints,
        access_token: &str,
    ) -> Result<Owner, ProviderError> {
        let Some(url) = e.introspection.as_deref() else {
            return Err(ProviderError::Rejected(format!(
                "{}: no introspection_url, so access tokens cannot be checked",
                p.name
            )));
        };
        let secret = p.client_secret.expose();
        let request = match p.token_check() {
            TokenCheck::GithubCheckToken => self
                .http
                .post(url)
                .basic_auth(&p.client_id, Some(secret))
                .json(&serde_json::json!({ "access_token": access_token })),
            TokenCheck::GoogleTokeninfo => {
                self.http.get(url).query(&[("access_token", access_token)])
            }
            TokenCheck::FacebookDebugToken => self.http.get(url).query(&[
                ("input_token", access_token),
                ("access_token", &format!("{}|{secret}", p.client_id)),
            ]),
            TokenCheck::Introspection => self
                .http
                .post(url)
                .basic_auth(form_encoded(&p.client_id), Some(form_encoded(secret)))
                .form(&[("token", access_token), ("token_type_hint", "access_token")]),
        };
        let (answer, _) = self.send_json(request, url).await?;
        let now = chrono::Utc::now().timestamp();
        let judged = match p.token_check() {
            TokenCheck::GithubCheckToken => token_check::github(p, &answer, now),
            TokenCheck::GoogleTokeninfo => token_check::google(p, &answer, now),
            TokenCheck::FacebookDebugToken => token_check::facebook(p, &answer, now),
            TokenCheck::Introspection => token_check::introspection(p, &answer, now),
        };
        judged.map_err(ProviderError::Rejected)
    }
}

/// RFC 6749 §2.3.1: client credentials in HTTP Basic are form-encoded first.
fn form_encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The issuers an id_token may name: the configured or discovered one, and for Google also the
/// scheme-less `accounts.google.com` its tokens sometimes carry.
fn issuer_spellings(issuer: &str) -> Vec<String> {
    let mut issuers = vec![issuer.to_string()];
    if issuer == "https://accounts.google.com" {
        issuers.push("accounts.google.com".into());
    }
    issuers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_live_as_long_as_cache_control_says_within_bounds() {
        assert_eq!(cache_lifetime(None), DEFAULT_KEYS_LIFETIME);
        assert_eq!(
            cache_lifetime(Some("public, max-age=19800, must-revalidate")),
            Duration::from_secs(19800)
        );
        assert_eq!(cache_lifetime(Some("no-store")), Duration::ZERO);
        assert_eq!(cache_lifetime(Some("max-age=nonsense")), Duration::ZERO);
        assert_eq!(cache_lifetime(Some("max-age=99999999")), MAX_KEYS_LIFETIME);
        assert_eq!(cache_lifetime(Some("public")), DEFAULT_KEYS_LIFETIME);
    }

    #[test]
    fn messages_never_show_a_query() {
        assert_eq!(
            shown("https://graph.facebook.com/debug_token?input_token=t&access_token=id|secret"),
            "https://graph.facebook.com/debug_token"
        );
    }

    #[test]
    fn access_tokens_in_jwt_form_are_recognised() {
        assert!(is_access_token_type(Some("at+jwt")));
        assert!(is_access_token_type(Some("application/AT+JWT")));
        assert!(!is_access_token_type(Some("JWT")));
        assert!(!is_access_token_type(None));
    }

    #[test]
    fn azp_is_required_with_several_audiences_and_checked_when_present() {
        let p = crate::oauth::providers::resolve(
            "corp",
            &crate::config::OAuthProviderSettings {
                client_id: "ours".into(),
                audiences: vec!["ios".into()],
                issuer: Some("https://idp.example.com".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let ok = |claims: Value| check_authorized_party(&p, &claims).is_ok();
        assert!(ok(serde_json::json!({"aud": "ours"})));
        assert!(ok(serde_json::json!({"aud": ["ours"]})));
        assert!(!ok(serde_json::json!({"aud": ["ours", "theirs"]})));
        assert!(ok(
            serde_json::json!({"aud": ["ours", "theirs"], "azp": "ios"})
        ));
        assert!(!ok(
            serde_json::json!({"aud": ["ours", "theirs"], "azp": "theirs"})
        ));
        assert!(!ok(serde_json::json!({"aud": "ours", "azp": "theirs"})));
        assert!(!ok(serde_json::json!({"aud": "ours", "azp": 7})));
    }
}
