//! The single-use tokens that travel by mail (confirmation, password reset, unlock): issued,
//! stored as a SHA-256 digest, mailed, and withdrawn again when the mail cannot be sent, so no
//! link that never reached anyone stays valid.

use chrono::{DateTime, Utc};

use super::Accounts;
use crate::{
    mail::{Audience, Email, MailError},
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

/// `user`'s token of `kind` and when it was sent.
fn token_fields(
    user: &mut User,
    kind: TokenKind,
) -> (&mut Option<String>, &mut Option<DateTime<Utc>>) {
    match kind {
        TokenKind::Confirmation => (&mut user.confirmation_token, &mut user.confirmation_sent_at),
        TokenKind::ResetPassword => (
            &mut user.reset_password_token,
            &mut user.reset_password_sent_at,
        ),
        TokenKind::Unlock => (&mut user.unlock_token, &mut user.unlock_token_sent_at),
    }
}

fn set_token(user: &mut User, kind: TokenKind, digest: String, sent_at: DateTime<Utc>) {
    let (token, sent) = token_fields(user, kind);
    *token = Some(digest);
    *sent = Some(sent_at);
}

/// Puts back `from`'s token of `kind` and when it was sent: the previous link stays valid for
/// exactly as long as it was.
fn restore_token(user: &mut User, kind: TokenKind, from: &User) {
    let mut from = from.clone();
    let (previous, previous_sent) = token_fields(&mut from, kind);
    let (previous, previous_sent) = (previous.take(), previous_sent.take());
    let (token, sent) = token_fields(user, kind);
    *token = previous;
    *sent = previous_sent;
}

impl Accounts {
    /// Issues a new `kind` token for `user`, saves its digest, and mails the message `email`
    /// builds from the raw token. Returns the saved user.
    pub async fn mail_token(
        &self,
        user: &User,
        kind: TokenKind,
        email: impl FnOnce(&str) -> Result<Email, MailError>,
    ) -> Result<User, MailFlowError> {
        self.mail_issued_token(user, kind, tokens::friendly_token(), Utc::now(), email)
            .await
    }

    /// [`Self::mail_token`] for a `token` the caller made, sent at `sent_at`.
    pub async fn mail_issued_token(
        &self,
        user: &User,
        kind: TokenKind,
        token: String,
        sent_at: DateTime<Utc>,
        email: impl FnOnce(&str) -> Result<Email, MailError>,
    ) -> Result<User, MailFlowError> {
        let mut pending = user.clone();
        set_token(&mut pending, kind, tokens::digest(&token), sent_at);
        pending.updated_at = Utc::now();
        let saved = self.save_user_changes(user, &pending).await?;
        let sent = match email(&token) {
            Ok(message) => {
                let recipient = message.to.clone();
                self.mailer.send(message).await.map_err(|e| (recipient, e))
            }
            Err(e) => Err((String::new(), e)),
        };
        if let Err((recipient, e)) = sent {
            tracing::error!(%recipient, error = %e, ?kind, "mail not sent");
            let mut withdrawn = saved.clone();
            restore_token(&mut withdrawn, kind, user);
            self.save_user_changes(&saved, &withdrawn).await?;
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

/// A link someone asked to be mailed to an address (docs/contract.md §2.7, §2.10, §2.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRequest {
    /// A new confirmation link (to the pending address when an e-mail change awaits it).
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

/// What asking for a link came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Mailed to the account of `email` (the normalised address).
    Sent { email: String },
    /// `paranoid`: the answer must not say whether an account exists, so the lookup and the
    /// mail happen after the response has gone.
    Accepted,
    /// Unlock links are off (`lockable` off, or no e-mail unlock strategy).
    Unavailable,
    /// No e-mail was given.
    MissingEmail,
    /// No e-mail account has that address.
    NotFound { email: String },
    /// The mail transport failed; no new link is valid.
    MailNotSent,
}

impl Accounts {
    /// The one rule behind "mail me a link": normalise the address, then in `paranoid` mode
    /// answer at once and look up and mail in the background; otherwise look up, answer
    /// `NotFound`, or mail and report whether the transport took it. The mail is written for
    /// `audience`.
    pub async fn request_link(
        &self,
        email: Option<&str>,
        request: LinkRequest,
        audience: &Audience,
    ) -> Result<LinkOutcome, StoreError> {
        if request == LinkRequest::Unlock && !self.unlocks_by_email() {
            return Ok(LinkOutcome::Unavailable);
        }
        let Some(email) = email
            .map(super::validation::normalize_email)
            .filter(|e| !e.is_empty())
        else {
            return Ok(LinkOutcome::MissingEmail);
        };
        if self.settings.paranoid {
            // Bounded (`mail_background_limit`): a flood of requests must not pile up tasks.
            let Some(slot) = self.limits.background_slot() else {
                tracing::warn!(
                    "mail_background_limit reached: a paranoid-mode mail request is dropped"
                );
                return Ok(LinkOutcome::Accepted);
            };
            let accounts = self.clone();
            let audience = audience.clone();
            tokio::spawn(async move {
                let _slot = slot;
                match accounts.store.find_email_user(&email).await {
                    Ok(Some(user)) => {
                        if let Err(e) = accounts.send_link(&user, &email, &request, &audience).await
                        {
                            tracing::warn!(error = %e, "background mail not sent");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "mail lookup failed"),
                }
            });
            return Ok(LinkOutcome::Accepted);
        }
        let Some(user) = self.store.find_email_user(&email).await? else {
            return Ok(LinkOutcome::NotFound { email });
        };
        match self.send_link(&user, &email, &request, audience).await {
            Ok(_) => Ok(LinkOutcome::Sent { email }),
            Err(MailFlowError::Mail(_)) => Ok(LinkOutcome::MailNotSent),
            Err(MailFlowError::Store(e)) => Err(e),
        }
    }

    async fn send_link(
        &self,
        user: &User,
        email: &str,
        request: &LinkRequest,
        audience: &Audience,
    ) -> Result<User, MailFlowError> {
        let (kind, to) = match request {
            LinkRequest::Confirmation { .. } => (
                "confirmation",
                user.unconfirmed_email.as_deref().unwrap_or(email),
            ),
            LinkRequest::ResetPassword { .. } => ("reset_password", email),
            LinkRequest::Unlock => ("unlock", email),
        };
        // Within `mail_cooldown` of the last such mail: answered alike, nothing sent, and the
        // link already mailed stays the valid one.
        if !self.limits.may_mail(kind, to).await {
            return Ok(user.clone());
        }
        match request {
            LinkRequest::Confirmation {
                redirect_url,
                config,
            } => {
                self.send_confirmation(user, to, redirect_url, config, audience)
                    .await
            }
            LinkRequest::ResetPassword {
                redirect_url,
                config,
            } => {
                self.send_reset_password(user, redirect_url, config, audience)
                    .await
            }
            LinkRequest::Unlock => self.send_unlock(user, audience).await,
        }
    }
}
