//! OAuth2 / OpenID Connect sign-in (docs/contract.md §4, docs/decisions.md D6): providers from settings,
//! the request phase (a signed `state`, a PKCE challenge and the cookie binding the sign-in to
//! the browser), the callback (state and cookie checked, state spent once, code exchanged,
//! profile read), and the native exchange of a provider token a mobile app already holds
//! (docs/decisions.md D13).

pub mod binding;
pub mod client;
pub mod page;
pub mod profile;
pub mod providers;
pub mod state;
pub mod token_check;

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use serde_json::{Map, Value};

use crate::{
    config::{Settings, oauth::ResponseMode},
    store::Store,
    tokens,
};
use binding::BrowserCookie;
use client::{OAuthClient, ProviderError};
use profile::Profile;
use providers::ProviderConfig;
use state::{StateError, StatePayload, StateSigner};

/// What the request phase remembers for the callback.
#[derive(Debug, Clone, Default)]
pub struct SignInRequest {
    pub auth_origin_url: Option<String>,
    pub window_type: Option<String>,
    pub config: Option<String>,
    pub params: Map<String, Value>,
}

/// Why a callback failed, in OmniAuth's words (they reach the frontend as `error`).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Forged, tampered, expired or replayed state.
    #[error("csrf_detected")]
    State,
    /// The provider refused the code or the token, or gave no usable profile.
    #[error("invalid_credentials")]
    Credentials(#[source] ProviderError),
    #[error("invalid_credentials")]
    NoUid,
    #[error("internal error")]
    Store(#[from] crate::store::StoreError),
}

/// Where the request phase sends the browser, and the cookie it sets on the way.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub url: String,
    /// `Set-Cookie` binding the sign-in to this browser.
    pub set_cookie: String,
}

/// The configured providers and everything needed to talk to them.
#[derive(Debug)]
pub struct OAuth {
    providers: BTreeMap<String, ProviderConfig>,
    client: OAuthClient,
    signer: StateSigner,
    state_lifetime: i64,
    callback_base: String,
    /// Served over HTTPS (`public_url`): the binding cookie is `__Host-` and `Secure`.
    secure_cookies: bool,
}

impl OAuth {
    pub fn from_settings(s: &Settings) -> anyhow::Result<OAuth> {
        let providers = s
            .oauth
            .iter()
            .map(|(name, p)| {
                providers::resolve(name, p)
                    .map(|c| (name.clone(), c))
                    .map_err(|e| anyhow::anyhow!("[oauth.{name}]: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let key = match &s.secret_key {
            Some(key) => key.expose().as_bytes().to_vec(),
            None => {
                if !s.oauth.is_empty() {
                    tracing::warn!(
                        "secret_key is not set: OAuth states are signed with a random key, so a \
                         sign-in must come back to this same process; set secret_key when \
                         running several instances"
                    );
                }
                (0..4)
                    .flat_map(|_| tokens::generate().into_bytes())
                    .collect()
            }
        };
        Ok(OAuth {
            providers,
            client: OAuthClient::new(Duration::from_secs(s.oauth_timeout)),
            signer: StateSigner::new(&key),
            state_lifetime: s.oauth_state_lifetime as i64,
            callback_base: format!("{}{}", s.public_url(), s.omniauth_prefix),
            secure_cookies: s.public_url().starts_with("https://"),
        })
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.providers.keys().cloned().collect()
    }

    /// The redirect URI to register at the provider: `<public_url><omniauth_prefix>/<name>/callback`.
    pub fn redirect_uri(&self, name: &str) -> String {
        format!("{}/{name}/callback", self.callback_base)
    }

    /// The request phase: the provider URL to send the browser to, and the cookie binding
    /// the sign-in to that browser.
    pub async fn authorize_url(
        &self,
        provider: &ProviderConfig,
        request: SignInRequest,
    ) -> Result<Authorization, ProviderError> {
        let endpoints = self.client.endpoints(provider).await?;
        let payload = StatePayload {
            provider: provider.name.clone(),
            auth_origin_url: request.auth_origin_url,
            window_type: request.window_type,
            config: request.config,
            params: request.params,
            nonce: tokens::generate(),
            expires: Utc::now().timestamp() + self.state_lifetime,
        };
        let verifier = self.signer.pkce_verifier(&payload.nonce);
        let url = self.client.authorize_url(
            provider,
            &endpoints,
            &self.redirect_uri(&provider.name),
            self.signer.sign(&payload),
            &verifier,
        )?;
        let cross_site_post = provider.response_mode == ResponseMode::FormPost;
        Ok(Authorization {
            url,
            set_cookie: self
                .browser_cookie(&payload)
                .set(self.state_lifetime as u64, cross_site_post),
        })
    }

    fn browser_cookie(&self, payload: &StatePayload) -> BrowserCookie {
        BrowserCookie::for_nonce(&payload.nonce, self.secure_cookies)
    }

    /// Whether the browser sending these `Cookie` headers is the one that started the sign-in
    /// of `payload` (docs/decisions.md D6).
    pub fn started_here<'a>(
        &self,
        payload: &StatePayload,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        self.browser_cookie(payload).is_in(cookie_headers)
    }

    /// `Set-Cookie` removing the sign-in's cookie once its callback came.
    pub fn clear_cookie(&self, payload: &StatePayload) -> String {
        self.browser_cookie(payload).clear()
    }

    /// The state of a callback, checked: signature, expiry, provider. Not yet spent.
    pub fn read_state(&self, provider: &str, state: &str) -> Result<StatePayload, StateError> {
        let payload = self.signer.verify(state, Utc::now().timestamp())?;
        if payload.provider != provider {
            return Err(StateError::Invalid);
        }
        Ok(payload)
    }

    /// The callback: spends the state's nonce (a replay fails here, on any instance), trades
    /// the code, reads the profile.
    pub async fn complete(
        &self,
        store: &Store,
        provider: &ProviderConfig,
        payload: &StatePayload,
        code: &str,
    ) -> Result<Profile, CallbackError> {
        if !store
            .consume_nonce(&payload.nonce, payload.expires, Utc::now().timestamp())
            .await?
        {
            return Err(CallbackError::State);
        }
        let endpoints = self
            .client
            .endpoints(provider)
            .await
            .map_err(CallbackError::Credentials)?;
        let verifier = self.signer.pkce_verifier(&payload.nonce);
        let tokens = self
            .client
            .exchange(
                provider,
                &endpoints,
                &self.redirect_uri(&provider.name),
                code,
                &verifier,
            )
            .await
            .map_err(CallbackError::Credentials)?;
        let raw = self
            .client
            .profile(provider, &endpoints, &tokens.access_token)
            .await
            .map_err(CallbackError::Credentials)?;
        map_profile(provider, &raw)
    }

    /// The native exchange (docs/decisions.md D13): an access token counts only when the
    /// provider says it was issued to this app, and the profile read with it must be its
    /// owner's; an OpenID Connect id_token is checked by its signature and claims.
    pub async fn profile_from_token(
        &self,
        provider: &ProviderConfig,
        access_token: Option<&str>,
        id_token: Option<&str>,
    ) -> Result<Profile, CallbackError> {
        let endpoints = self
            .client
            .endpoints(provider)
            .await
            .map_err(CallbackError::Credentials)?;
        let raw = match (id_token, access_token) {
            (Some(id_token), _) => self
                .client
                .verify_id_token(provider, &endpoints, id_token)
                .await
                .map_err(CallbackError::Credentials)?,
            (None, Some(token)) => {
                let owner = self
                    .client
                    .check_access_token(provider, &endpoints, token)
                    .await
                    .map_err(CallbackError::Credentials)?;
                let raw = self
                    .client
                    .profile(provider, &endpoints, token)
                    .await
                    .map_err(CallbackError::Credentials)?;
                if !token_check::owns(&owner, &raw) {
                    return Err(CallbackError::Credentials(ProviderError::Rejected(
                        format!(
                            "the profile is not that of the token's owner ({} {})",
                            owner.field, owner.id
                        ),
                    )));
                }
                raw
            }
            (None, None) => return Err(CallbackError::NoUid),
        };
        map_profile(provider, &raw)
    }
}

/// The profile's attributes; every e-mail counts as verified for providers that hand out
/// verified addresses only.
fn map_profile(provider: &ProviderConfig, raw: &Value) -> Result<Profile, CallbackError> {
    let mut profile = profile::map(raw, &provider.fields).ok_or(CallbackError::NoUid)?;
    profile.email_verified |= provider.emails_verified;
    Ok(profile)
}
