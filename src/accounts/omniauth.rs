//! Signing in through an OAuth provider (docs/contract.md §4.1 step 6): the user is found by provider
//! and uid, or created; the profile's `name`, `nickname`, `image` and `email` are copied on every
//! sign-in; permitted sign-up params from the request phase apply; a new device signs in.
//!
//! The e-mail is kept only when the provider vouches for it (`email_verified`, GitHub's e-mail
//! list, or a provider that hands out verified addresses only): an address is unique across
//! sign-in methods, so an unverified one would let anybody reserve someone else's address.
//!
//! An address used by an e-mail account and by a provider account gives two separate accounts,
//! keyed by provider and uid, as devise_token_auth intends (its unique e-mail index made this a
//! 500 instead). toker never merges them: a provider's claim about an e-mail address is not
//! proof that the person holds the password account, so linking would let an account at a lax
//! provider take over a password account.

use chrono::Utc;
use serde_json::{Map, Value};

use super::{
    Accounts, NewSession, Origin,
    attributes::{self, Attributes},
};
use crate::{
    oauth::{CallbackError, profile::Profile, providers::ProviderConfig, state::StatePayload},
    store::{NewUser, StoreError, User},
};

/// The result of an OAuth sign-in.
#[derive(Debug)]
pub struct ProviderSignIn {
    pub user: User,
    pub session: NewSession,
    /// The account was created by this sign-in (`oauth_registration`).
    pub registered: bool,
}

fn clip(value: Option<String>, max: usize) -> Option<String> {
    value.map(|v| v.chars().take(max).collect())
}

/// Why a provider sign-in did not happen: the provider's or the request's fault (shown to the
/// frontend), or ours.
#[derive(Debug, thiserror::Error)]
pub enum ProviderSignInError {
    #[error(transparent)]
    Refused(CallbackError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<CallbackError> for ProviderSignInError {
    fn from(e: CallbackError) -> Self {
        match e {
            CallbackError::Store(e) => ProviderSignInError::Internal(e.into()),
            e => ProviderSignInError::Refused(e),
        }
    }
}

impl Accounts {
    /// The callback of a browser sign-in (docs/contract.md §4.1): the state's nonce spent, the
    /// code traded, the profile read, the user found or created and a device signed in.
    pub async fn finish_provider_sign_in(
        &self,
        provider: &ProviderConfig,
        state: &StatePayload,
        code: &str,
        origin: &Origin,
    ) -> Result<ProviderSignIn, ProviderSignInError> {
        let profile = self
            .oauth
            .complete(&self.store, provider, state, code)
            .await?;
        Ok(self
            .sign_in_with_provider(&provider.name, &profile, &state.params, origin)
            .await?)
    }

    /// The native exchange: a provider token a mobile app already holds, checked with the
    /// provider, signs a device in.
    pub async fn sign_in_with_provider_token(
        &self,
        provider: &ProviderConfig,
        access_token: Option<&str>,
        id_token: Option<&str>,
        origin: &Origin,
    ) -> Result<ProviderSignIn, ProviderSignInError> {
        let profile = self
            .oauth
            .profile_from_token(provider, access_token, id_token)
            .await?;
        Ok(self
            .sign_in_with_provider(&provider.name, &profile, &Map::new(), origin)
            .await?)
    }

    pub async fn sign_in_with_provider(
        &self,
        provider: &str,
        profile: &Profile,
        params: &Map<String, Value>,
        origin: &Origin,
    ) -> anyhow::Result<ProviderSignIn> {
        use super::validation::EMAIL_MAX_CHARS;
        let now = Utc::now();
        let verified_email = profile.email.clone().filter(|_| profile.email_verified);
        let email = clip(verified_email, EMAIL_MAX_CHARS);
        let (user, registered) = match self
            .store
            .find_provider_user(provider, &profile.uid)
            .await?
        {
            Some(user) => (user, false),
            None => {
                let new = NewUser {
                    provider: provider.to_string(),
                    uid: profile.uid.clone(),
                    email: email.clone(),
                    // No password: `sign_in` only ever checks e-mail accounts.
                    encrypted_password: String::new(),
                    name: None,
                    nickname: None,
                    image: None,
                    extra: None,
                    confirmed_at: None,
                    confirmation_token: None,
                    confirmation_sent_at: None,
                };
                match self.store.insert_user(new, now).await {
                    Ok(user) => (user, true),
                    // A parallel first sign-in of the same person created it.
                    Err(StoreError::Conflict) => (
                        self.store
                            .find_provider_user(provider, &profile.uid)
                            .await?
                            .ok_or_else(|| anyhow::anyhow!("provider user vanished"))?,
                        false,
                    ),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let before = user.clone();
        let mut user = user;
        // The provider's profile, then the permitted sign-up attributes of the request phase.
        let mut from_provider = Map::new();
        for (column, value) in [
            ("name", &profile.name),
            ("nickname", &profile.nickname),
            ("image", &profile.image),
        ] {
            if let Some(value) = value {
                from_provider.insert(column.into(), Value::from(value.as_str()));
            }
        }
        Attributes::split(from_provider).clipped().apply(&mut user);
        if email.is_some() {
            user.email = email;
        }
        let permitted = attributes::permitted(params, &self.settings.sign_up_attributes);
        Attributes::split(permitted).clipped().apply(&mut user);
        if self.settings.confirmable && user.confirmed_at.is_none() {
            user.confirmed_at = Some(now);
        }
        user.last_sign_in_at = user.current_sign_in_at;
        user.current_sign_in_at = Some(now);
        user.last_sign_in_ip = user.current_sign_in_ip.take();
        user.current_sign_in_ip = origin.ip.clone();
        user.sign_in_count = user.sign_in_count.saturating_add(1);
        user.updated_at = now;
        let user = self.save_user_changes(&before, &user).await?;
        let session = self
            .open_session(&user, origin, super::SignInMethod::Provider)
            .await?;
        Ok(ProviderSignIn {
            user,
            session,
            registered,
        })
    }
}
