//! What a change of password or e-mail ends (docs/decisions.md D17): every save of a user goes
//! through [`Accounts::save_user_changes`], which writes only the changed columns, withdraws any
//! reset or unlock link when the password or the address changed (Devise clears them on the
//! same condition) and logs the change as a security event; and Devise's two change notices.

use super::{Accounts, events};
use crate::{
    mail::{Audience, Email, MailKind, MailValues},
    store::{StoreResult, User},
};

/// What a saved change did to the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialChange {
    pub password: bool,
    pub email: bool,
}

impl CredentialChange {
    pub fn between(before: &User, after: &User) -> CredentialChange {
        CredentialChange {
            password: after.encrypted_password != before.encrypted_password,
            email: after.email != before.email,
        }
    }

    pub fn any(self) -> bool {
        self.password || self.email
    }
}

/// The links a new password or address withdraws: whoever asked for them may no longer be the
/// one who holds the account, and a reset link would undo the new password.
pub fn withdraw_links(user: &mut User) {
    user.reset_password_token = None;
    user.reset_password_sent_at = None;
    user.unlock_token = None;
    user.unlock_token_sent_at = None;
}

impl Accounts {
    /// Saves the columns in which `after` differs from `before` (as read by this request), with
    /// the model rules of a save: a changed password or e-mail withdraws reset and unlock links,
    /// even one mailed while this request ran, and is logged.
    pub async fn save_user_changes(&self, before: &User, after: &User) -> StoreResult<User> {
        let change = CredentialChange::between(before, after);
        let saved = if change.any() {
            let mut after = after.clone();
            withdraw_links(&mut after);
            self.store
                .update_user_replacing_links(before, &after)
                .await?
        } else {
            self.store.update_user(before, after).await?
        };
        if change.password {
            events::password_changed(saved.id);
        }
        if change.email {
            events::email_changed(saved.id, false);
        }
        let newly_pending = after.unconfirmed_email.is_some()
            && after.unconfirmed_email != before.unconfirmed_email;
        if newly_pending {
            events::email_changed(saved.id, true);
        }
        Ok(saved)
    }

    /// Devise's `send_password_change_notification`, after a password change, written for
    /// `audience`. A notice that cannot be sent is logged; the change stands.
    pub async fn notify_password_change(&self, user: &User, audience: &Audience) {
        if !self.settings.send_password_change_notification {
            return;
        }
        if let Some(email) = user.email.as_deref().filter(|e| !e.is_empty()) {
            let notice = self.mailer.compose(
                MailKind::PasswordChange,
                audience,
                email,
                &MailValues::default(),
            );
            self.send_notice(notice).await;
        }
    }

    /// Devise's `send_email_changed_notification`, to the address being left: when a change
    /// waits for confirmation (`pending`), as it is asked for, otherwise once made. Written
    /// for `audience`.
    pub async fn notify_email_change(
        &self,
        old: Option<&str>,
        new: &str,
        pending: bool,
        audience: &Audience,
    ) {
        if !self.settings.send_email_changed_notification {
            return;
        }
        if let Some(old) = old.filter(|e| !e.is_empty() && *e != new) {
            let values = MailValues {
                new_email: Some(new.to_string()),
                pending,
                ..MailValues::default()
            };
            let notice = self
                .mailer
                .compose(MailKind::EmailChanged, audience, old, &values);
            self.send_notice(notice).await;
        }
    }

    async fn send_notice(&self, email: Result<Email, crate::mail::MailError>) {
        let sent = match email {
            Ok(email) => {
                let subject = email.subject.clone();
                self.mailer.send(email).await.map_err(|e| (e, subject))
            }
            Err(e) => Err((e, String::new())),
        };
        if let Err((e, subject)) = sent {
            tracing::warn!(error = %e, %subject, "change notice not sent");
        }
    }
}
