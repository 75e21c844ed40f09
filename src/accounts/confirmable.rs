//! Devise's `:confirmable` (docs/contract.md §2.10–2.11): the confirmation mail, its resend and the
//! link landing. Confirmation tokens are stored as SHA-256 digests (devise_token_auth stores
//! them raw), so a database leak does not confirm accounts; links are single-use.

use chrono::{DateTime, Utc};

use super::{
    Accounts,
    mailed_token::{MailFlowError, TokenKind},
};
use crate::{mail::templates, store::User, tokens};

/// What a confirmation link did.
#[derive(Debug)]
pub enum ConfirmOutcome {
    Confirmed(Box<User>),
    /// Unknown, already used, or expired (`confirm_within`).
    Invalid,
}

impl Accounts {
    fn confirmation_expired(&self, sent_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match (self.settings.confirm_within, sent_at) {
            (Some(secs), Some(sent)) => super::later(sent, secs) <= now,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Mails `to` a new confirmation link for `user` (the previous link stops working).
    pub async fn send_confirmation(
        &self,
        user: &User,
        to: &str,
        redirect_url: &str,
        config: &str,
    ) -> Result<User, MailFlowError> {
        self.mail_token(user, TokenKind::Confirmation, |token| {
            let link = self.api_link(
                "/confirmation",
                &[
                    ("config", Some(config)),
                    ("confirmation_token", Some(token)),
                    ("redirect_url", Some(redirect_url)),
                ],
            );
            templates::confirmation(to, &link)
        })
        .await
    }

    /// Follows a confirmation link: confirms the account, or applies a pending e-mail change.
    pub async fn confirm(&self, token: &str) -> anyhow::Result<ConfirmOutcome> {
        if token.is_empty() || token.len() > 255 {
            return Ok(ConfirmOutcome::Invalid);
        }
        let now = Utc::now();
        let Some(before) = self
            .store
            .find_by_confirmation_digest(&tokens::digest(token))
            .await?
        else {
            return Ok(ConfirmOutcome::Invalid);
        };
        let mut user = before.clone();
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
        match self.save_user_changes(&before, &user).await {
            Ok(saved) => Ok(ConfirmOutcome::Confirmed(Box::new(saved))),
            // The new address was taken meanwhile by someone else.
            Err(crate::store::StoreError::Conflict) => Ok(ConfirmOutcome::Invalid),
            Err(e) => Err(e.into()),
        }
    }
}
