//! Devise's `:lockable` (server.md §2.4, §2.12–2.13): failed sign-ins counted atomically, the
//! account locked at `maximum_attempts`, unlocked by a mailed link (`email`), by time (`time`),
//! either (`both`) or neither (`none`).

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::{
    Accounts, NewSession, Origin,
    mailed_token::{MailFlowError, TokenKind},
};
use crate::{config::LockStrategy, mail::templates, store::User, tokens};

/// What one failed sign-in did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedSignIn {
    Counted,
    /// One attempt is left before the lock.
    LastAttempt,
    /// This attempt locked the account.
    Locked,
}

impl Accounts {
    /// Locked now: `locked_at` set and, with a time-based unlock, `unlock_in` not yet over.
    pub fn is_locked(&self, user: &User, now: DateTime<Utc>) -> bool {
        let s = &self.settings;
        let Some(locked_at) = user.locked_at.filter(|_| s.lockable) else {
            return false;
        };
        !(s.unlock_strategy.by_time()
            && locked_at + ChronoDuration::seconds(s.unlock_in as i64) <= now)
    }

    /// Counts a failed sign-in and locks the account at `maximum_attempts`, mailing the unlock
    /// link when unlocking by e-mail is on.
    pub async fn record_failed_sign_in(&self, user: &User) -> anyhow::Result<FailedSignIn> {
        let s = &self.settings;
        if !s.lockable || s.lock_strategy == LockStrategy::None {
            return Ok(FailedSignIn::Counted);
        }
        let attempts = self.store.count_failed_attempt(user.id).await?;
        let max = s.maximum_attempts as i32;
        if attempts < max {
            return Ok(if attempts == max - 1 {
                FailedSignIn::LastAttempt
            } else {
                FailedSignIn::Counted
            });
        }
        if self.store.lock(user.id, Utc::now()).await? && s.unlock_strategy.by_email() {
            let fresh = self
                .store
                .find_user(user.id)
                .await?
                .unwrap_or_else(|| user.clone());
            // The lock stands even when the mail fails: `POST /auth/unlock` sends another.
            if let Err(e) = self.send_unlock(&fresh).await {
                tracing::warn!(error = %e, "account locked, unlock mail not sent");
            }
        }
        Ok(FailedSignIn::Locked)
    }

    /// Mails an unlock link to `user` (even when not locked, as Devise).
    pub async fn send_unlock(&self, user: &User) -> Result<User, MailFlowError> {
        let to = user.email.clone().unwrap_or_else(|| user.uid.clone());
        self.mail_token(user, TokenKind::Unlock, |token| {
            let link = self.api_link(
                "/unlock",
                &[("config", Some("default")), ("unlock_token", Some(token))],
            );
            templates::unlock(&to, &link)
        })
        .await
    }

    /// Follows an unlock link: unlocks the account and signs a new device in. `None` for an
    /// unknown or used token.
    pub async fn unlock_with_token(
        &self,
        token: &str,
        origin: &Origin,
    ) -> anyhow::Result<Option<(User, NewSession)>> {
        if token.is_empty() || token.len() > 255 {
            return Ok(None);
        }
        let Some(mut user) = self
            .store
            .find_by_unlock_digest(&tokens::digest(token))
            .await?
        else {
            return Ok(None);
        };
        user.locked_at = None;
        user.failed_attempts = 0;
        user.unlock_token = None;
        user.updated_at = Utc::now();
        let user = self.store.save_user(&user).await?;
        let session = self.open_session(&user, origin).await?;
        Ok(Some((user, session)))
    }
}
