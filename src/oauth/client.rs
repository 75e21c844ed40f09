//! Talking to providers: OpenID Connect discovery, the authorization URL, the code exchange
//! (the `oauth2` crate, PKCE S256), the profile (user-info endpoint, GitHub's e-mail list), and
//! id_token verification against the provider's keys. One reqwest client with timeouts and no
//! redirects (a provider answering with a redirect is an error, never followed: SSRF).

use std::{collections::HashMap, sync::Mutex, time::Duration};

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

use super::providers::ProviderConfig;

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

/// The HTTP side of every provider, with discovery documents and key sets cached.
pub struct OAuthClient {
    http: reqwest::Client,
    endpoints: Mutex<HashMap<String, Endpoints>>,
    keys: Mutex<HashMap<String, JwkSet>>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OAuthClient")
    }
}

fn http_error(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Http(e.to_string())
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
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let resp = request.send().await.map_err(http_error)?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(ProviderError::Rejected(format!("{url} answered {status}")));
        }
        if !status.is_success() {
            return Err(ProviderError::Http(format!("{url} answered {status}")));
        }
        resp.json().await.map_err(http_error)
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
                    || p.jwks_url.is_none() =>
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

    /// The user's profile from the user-info endpoint; for GitHub, the primary e-mail from the
    /// e-mail list when the profile hides it.
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
        let email_missing = super::profile::lookup(&profile, &p.fields.email)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
        if let (true, Some(emails_url)) = (email_missing, &p.emails_url) {
            let emails = self.get_json(emails_url, Some(access_token)).await?;
            let primary = emails
                .as_array()
                .and_then(|list| list.iter().find(|m| m["primary"] == Value::Bool(true)));
            if let (Some(primary), Some(obj)) = (primary, profile.as_object_mut()) {
                obj.insert(p.fields.email.clone(), primary["email"].clone());
                obj.insert("email_verified".into(), primary["verified"].clone());
            }
        }
        Ok(profile)
    }

    async fn key_set(
        &self,
        p: &ProviderConfig,
        url: &str,
        refresh: bool,
    ) -> Result<JwkSet, ProviderError> {
        if !refresh && let Some(keys) = self.keys.lock().expect("lock").get(&p.name) {
            return Ok(keys.clone());
        }
        let doc = self.get_json(url, None).await?;
        let keys: JwkSet = serde_json::from_value(doc).map_err(http_error)?;
        self.keys
            .lock()
            .expect("lock")
            .insert(p.name.clone(), keys.clone());
        Ok(keys)
    }

    /// Verifies an OpenID Connect id_token: signature by one of the provider's keys (fetched
    /// again once when the key id is new: rotation), issuer, audience and expiry. Returns its
    /// claims.
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
        let kid = header.kid.clone().unwrap_or_default();
        let mut keys = self.key_set(p, jwks_url, false).await?;
        if keys.find(&kid).is_none() {
            keys = self.key_set(p, jwks_url, true).await?;
        }
        let jwk = keys
            .find(&kid)
            .or_else(|| (kid.is_empty() && keys.keys.len() == 1).then(|| &keys.keys[0]))
            .ok_or_else(|| ProviderError::Rejected("unknown signing key".into()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| ProviderError::Rejected(e.to_string()))?;
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
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&p.audiences);
        match &e.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => return Err(ProviderError::Config(format!("{}: no issuer", p.name))),
        }
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map_err(|e| ProviderError::Rejected(e.to_string()))?;
        Ok(data.claims)
    }
}
