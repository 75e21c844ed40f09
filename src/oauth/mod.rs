//! OAuth2 / OpenID Connect sign-in (docs/contract.md §4, docs/decisions.md D6): providers from settings,
//! the request phase (a signed `state` and a PKCE challenge), the callback (state checked and
//! spent once, code exchanged, profile read), and the native exchange of a provider token a
//! mobile app already holds.

pub mod client;
pub mod page;
pub mod profile;
pub mod providers;
pub mod state;

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use serde_json::{Map, Value};

use crate::{config::Settings, store::Store, tokens};
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

/// The configured providers and everything needed to talk to them.
#[derive(Debug)]
pub struct OAuth {
    providers: BTreeMap<String, ProviderConfig>,
    client: OAuthClient,
    signer: StateSigner,
    state_lifetime: i64,
    callback_base: String,
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

    /// The request phase: the provider URL to send the browser to.
    pub async fn authorize_url(
        &self,
        provider: &ProviderConfig,
        request: SignInRequest,
    ) -> Result<String, ProviderError> {
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
        self.client.authorize_url(
            provider,
            &endpoints,
            &self.redirect_uri(&provider.name),
            self.signer.sign(&payload),
            &verifier,
        )
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
        profile::map(&raw, &provider.fields).ok_or(CallbackError::NoUid)
    }

    /// The native exchange: a provider access token is checked by calling the user-info
    /// endpoint with it; an OpenID Connect id_token by its signature, issuer, audience and
    /// expiry.
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
            (None, Some(token)) => self
                .client
                .profile(provider, &endpoints, token)
                .await
                .map_err(CallbackError::Credentials)?,
            (None, None) => return Err(CallbackError::NoUid),
        };
        profile::map(&raw, &provider.fields).ok_or(CallbackError::NoUid)
    }
}
