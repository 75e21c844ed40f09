//! The single-use tokens that travel by mail (confirmation, password reset, unlock): issued,
//! stored as a SHA-256 digest, mailed, and withdrawn again when the mail cannot be sent, so no
//! link that never reached anyone stays valid.

use chrono::Utc;

use super::Accounts;
use crate::{
    mail::{Email, MailError},
    store::{StoreError, User},
    tokens,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Confirmation,
    ResetPassword,
    Unlock,
}

#[derive(Debug, thiserror::Error)]
pub enum MailFlowError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn set_token(user: &mut User, kind: TokenKind, digest: Option<String>, from: &User) {
    let now = Utc::now();
    match kind {
        TokenKind::Confirmation => {
            user.confirmation_sent_at = if digest.is_some() {
                Some(now)
            } else {
                from.confirmation_sent_at
            };
            user.confirmation_token = digest;
        }
        TokenKind::ResetPassword => {
            user.reset_password_sent_at = if digest.is_some() {
                Some(now)
            } else {
                from.reset_password_sent_at
            };
            user.reset_password_token = digest;
        }
        TokenKind::Unlock => user.unlock_token = digest,
    }
}

impl Accounts {
    /// Issues a new `kind` token for `user`, saves its digest, and mails the message `email`
    /// builds from the raw token. Returns the saved user.
    pub async fn mail_token(
        &self,
        user: &User,
        kind: TokenKind,
        email: impl FnOnce(&str) -> Email,
    ) -> Result<User, MailFlowError> {
        let token = tokens::friendly_token();
        let mut pending = user.clone();
        set_token(&mut pending, kind, Some(tokens::digest(&token)), user);
        pending.updated_at = Utc::now();
        let saved = self.store.save_user(&pending).await?;
        let message = email(&token);
        let recipient = message.to.clone();
        if let Err(e) = self.mailer.send(message).await {
            tracing::error!(%recipient, error = %e, ?kind, "mail not sent");
            let mut withdrawn = saved.clone();
            let previous = match kind {
                TokenKind::Confirmation => user.confirmation_token.clone(),
                TokenKind::ResetPassword => user.reset_password_token.clone(),
                TokenKind::Unlock => user.unlock_token.clone(),
            };
            set_token(&mut withdrawn, kind, previous, user);
            self.store.save_user(&withdrawn).await?;
            return Err(MailFlowError::Mail(e));
        }
        Ok(saved)
    }

    /// A link to this server's `path` (under the mount path) with sorted query params.
    pub fn api_link(&self, path: &str, params: &[(&str, Option<&str>)]) -> String {
        let base = format!(
            "{}{}{path}",
            self.settings.public_url(),
            self.settings.mount_path
        );
        crate::redirect::build_redirect_url(&base, params)
    }
}

/// A mail to send to whoever owns an address, if anyone does.
#[derive(Debug, Clone)]
pub enum MailJob {
    Confirmation {
        redirect_url: String,
        config: String,
    },
    ResetPassword {
        redirect_url: String,
        config: String,
    },
    Unlock,
}

impl Accounts {
    /// `paranoid` mode: the same answer, in the same time, whether or not `email` has an
    /// account: the lookup and the mail happen after the response has gone.
    pub fn mail_in_background(&self, email: String, job: MailJob) {
        let accounts = self.clone();
        tokio::spawn(async move {
            let user = match accounts.store.find_email_user(&email).await {
                Ok(Some(user)) => user,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "mail lookup failed");
                    return;
                }
            };
            let result = match &job {
                MailJob::Confirmation {
                    redirect_url,
                    config,
                } => {
                    let to = user.unconfirmed_email.clone().unwrap_or(email);
                    accounts
                        .send_confirmation(&user, &to, redirect_url, config)
                        .await
                }
                MailJob::ResetPassword {
                    redirect_url,
                    config,
                } => {
                    accounts
                        .send_reset_password(&user, redirect_url, config)
                        .await
                }
                MailJob::Unlock => accounts.send_unlock(&user).await,
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "background mail not sent");
            }
        });
    }
}
