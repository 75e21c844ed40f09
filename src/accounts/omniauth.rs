//! Signing in through an OAuth provider (docs/contract.md §4.1 step 6): the user is found by provider
//! and uid, or created; the profile's `name`, `nickname`, `image` and `email` are copied on every
//! sign-in; permitted sign-up params from the request phase apply; a new device signs in.
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
    oauth::profile::Profile,
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

impl Accounts {
    pub async fn sign_in_with_provider(
        &self,
        provider: &str,
        profile: &Profile,
        params: &Map<String, Value>,
        origin: &Origin,
    ) -> anyhow::Result<ProviderSignIn> {
        use super::validation::EMAIL_MAX_CHARS;
        let now = Utc::now();
        let email = clip(profile.email.clone(), EMAIL_MAX_CHARS);
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
        let user = self.store.save_user(&user).await?;
        let session = self.open_session(&user, origin).await?;
        Ok(ProviderSignIn {
            user,
            session,
            registered,
        })
    }
}
