//! Devise's `:recoverable` as devise_token_auth exposes it (docs/contract.md §2.7–2.9): the reset mail,
//! the link landing that signs the user in with `allow_password_change`, and the password
//! update. Reset tokens are stored as SHA-256 digests and are single-use.

use chrono::Utc;

use super::{
    Accounts, NewSession, Origin,
    events::SignInMethod,
    later,
    mailed_token::{MailFlowError, TokenKind},
    validation::check_password,
};
use crate::{
    contract::validation::Errors,
    mail::{Audience, MailKind, MailValues},
    store::User,
    tokens,
};

/// `PUT /auth/password` input.
#[derive(Debug, Default)]
pub struct PasswordUpdate {
    pub password: Option<String>,
    pub password_confirmation: Option<String>,
    pub current_password: Option<String>,
}

#[derive(Debug)]
pub enum PasswordOutcome {
    Updated(Box<User>),
    /// An OAuth account: it has no password to change.
    NotRequired(String),
    /// `password` or `password_confirmation` absent.
    MissingPasswords,
    Invalid(Errors),
}

impl Accounts {
    /// Mails a reset link for `user` landing on `redirect_url`, written for `audience`.
    pub async fn send_reset_password(
        &self,
        user: &User,
        redirect_url: &str,
        config: &str,
        audience: &Audience,
    ) -> Result<User, MailFlowError> {
        let to = user.email.clone().unwrap_or_else(|| user.uid.clone());
        self.mail_token(user, TokenKind::ResetPassword, |token| {
            let link = self.api_link(
                "/password/edit",
                &[
                    ("config", Some(config)),
                    ("redirect_url", Some(redirect_url)),
                    ("reset_password_token", Some(token)),
                ],
            );
            self.mailer.compose(
                MailKind::ResetPassword,
                audience,
                &to,
                &MailValues::link(link),
            )
        })
        .await
    }

    /// The user a reset token belongs to, while it is within `reset_password_within`.
    pub async fn user_for_reset_token(&self, token: &str) -> anyhow::Result<Option<User>> {
        if token.is_empty() || token.len() > 255 {
            return Ok(None);
        }
        let user = self
            .store
            .find_by_reset_digest(&tokens::digest(token))
            .await?;
        let within = self.settings.reset_password_within;
        Ok(user.filter(|u| {
            u.reset_password_sent_at
                .is_some_and(|t| later(t, within) > Utc::now())
        }))
    }

    /// The reset link was followed: the user may now set a password without the current one;
    /// an unconfirmed account counts as confirmed (it proved it reads the mail). Unless the
    /// mobile flow is on, the link also signs a new device in.
    pub async fn accept_reset_link(
        &self,
        user: &User,
        origin: &Origin,
    ) -> anyhow::Result<(User, Option<NewSession>)> {
        let now = Utc::now();
        let mut updated = user.clone();
        updated.allow_password_change = true;
        if updated.confirmed_at.is_none() {
            updated.confirmed_at = Some(now);
        }
        updated.updated_at = now;
        let user = self.save_user_changes(user, &updated).await?;
        if self.settings.require_client_password_reset_token {
            return Ok((user, None));
        }
        let session = self
            .open_session(&user, origin, SignInMethod::ResetLink)
            .await?;
        Ok((user, Some(session)))
    }

    /// `PUT /auth/password` for an authenticated user (docs/contract.md §2.9 steps 2–5).
    pub async fn update_password(
        &self,
        user: &User,
        device_id: Option<i64>,
        input: PasswordUpdate,
        audience: &Audience,
    ) -> anyhow::Result<PasswordOutcome> {
        if user.provider != "email" {
            return Ok(PasswordOutcome::NotRequired(user.provider.clone()));
        }
        let (Some(password), Some(confirmation)) = (&input.password, &input.password_confirmation)
        else {
            return Ok(PasswordOutcome::MissingPasswords);
        };
        let s = &self.settings;
        let require_current = s.check_current_password_before_update.mode().is_some()
            && !user.allow_password_change
            && !s.require_client_password_reset_token;
        let mut errors = Errors::default();
        check_password(
            &mut errors,
            Some(password),
            Some(confirmation),
            true,
            s.password_length,
        );
        if require_current {
            self.check_current_password(&mut errors, user, input.current_password.as_deref())
                .await?;
        }
        if !errors.is_empty() {
            return Ok(PasswordOutcome::Invalid(errors));
        }
        let mut updated = user.clone();
        updated.encrypted_password = self.hasher.hash(password).await?;
        updated.allow_password_change = false;
        updated.updated_at = Utc::now();
        // The new password withdraws the reset link (it works once) and any unlock link.
        let saved = self.save_user_changes(user, &updated).await?;
        self.end_other_sessions(user.id, device_id).await?;
        self.notify_password_change(&saved, audience).await;
        Ok(PasswordOutcome::Updated(Box::new(saved)))
    }
}
