//! Devise's `:confirmable` (server.md §2.10–2.11): the confirmation mail, its resend and the
//! link landing. Confirmation tokens are stored as SHA-256 digests (devise_token_auth stores
//! them raw), so a database leak does not confirm accounts; links are single-use.

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::Accounts;
use crate::{
    mail::{MailError, templates},
    redirect::build_redirect_url,
    store::User,
    tokens,
};

/// What a confirmation link did.
#[derive(Debug)]
pub enum ConfirmOutcome {
    Confirmed(Box<User>),
    /// Unknown, already used, or expired (`confirm_within`).
    Invalid,
}

impl Accounts {
    /// The link the confirmation mail carries (params sorted, as DTA).
    pub fn confirmation_link(&self, token: &str, redirect_url: &str, config: &str) -> String {
        let base = format!(
            "{}{}/confirmation",
            self.settings.public_url(),
            self.settings.mount_path
        );
        build_redirect_url(
            &base,
            &[
                ("config", Some(config)),
                ("confirmation_token", Some(token)),
                ("redirect_url", Some(redirect_url)),
            ],
        )
    }

    fn confirmation_expired(&self, sent_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match (self.settings.confirm_within, sent_at) {
            (Some(secs), Some(sent)) => sent + ChronoDuration::seconds(secs as i64) <= now,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Issues a fresh confirmation token for `user` and mails its link to `to`. The token is
    /// saved before sending; when sending fails the token is withdrawn again, so no link that
    /// never reached anyone stays valid.
    pub async fn send_confirmation(
        &self,
        user: &User,
        to: &str,
        redirect_url: &str,
        config: &str,
    ) -> Result<User, ConfirmationMailError> {
        let now = Utc::now();
        let token = tokens::friendly_token();
        let mut pending = user.clone();
        pending.confirmation_token = Some(tokens::digest(&token));
        pending.confirmation_sent_at = Some(now);
        pending.updated_at = now;
        let saved = self.store.save_user(&pending).await?;
        let link = self.confirmation_link(&token, redirect_url, config);
        if let Err(e) = self.mailer.send(templates::confirmation(to, &link)).await {
            tracing::error!(recipient = %to, error = %e, "confirmation mail not sent");
            let mut withdrawn = saved.clone();
            withdrawn.confirmation_token = user.confirmation_token.clone();
            withdrawn.confirmation_sent_at = user.confirmation_sent_at;
            self.store.save_user(&withdrawn).await?;
            return Err(ConfirmationMailError::Mail(e));
        }
        Ok(saved)
    }

    /// Follows a confirmation link: confirms the account, or applies a pending e-mail change.
    pub async fn confirm(&self, token: &str) -> anyhow::Result<ConfirmOutcome> {
        if token.is_empty() || token.len() > 255 {
            return Ok(ConfirmOutcome::Invalid);
        }
        let now = Utc::now();
        let Some(mut user) = self
            .store
            .find_by_confirmation_digest(&tokens::digest(token))
            .await?
        else {
            return Ok(ConfirmOutcome::Invalid);
        };
        let pending_change = user.unconfirmed_email.is_some();
        if (user.confirmed_at.is_some() && !pending_change)
            || self.confirmation_expired(user.confirmation_sent_at, now)
        {
            return Ok(ConfirmOutcome::Invalid);
        }
        user.confirmed_at = Some(now);
        user.confirmation_token = None;
        if let Some(email) = user.unconfirmed_email.take() {
            if user.provider == "email" {
                user.uid = email.clone();
            }
            user.email = Some(email);
        }
        user.updated_at = now;
        match self.store.save_user(&user).await {
            Ok(saved) => Ok(ConfirmOutcome::Confirmed(Box::new(saved))),
            // The new address was taken meanwhile by someone else.
            Err(crate::store::StoreError::Conflict) => Ok(ConfirmOutcome::Invalid),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmationMailError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
