//! Devise's `:lockable` (docs/contract.md §2.4, §2.12–2.13): failed sign-ins counted atomically, the
//! account locked at `maximum_attempts`, unlocked by a mailed link (`email`), by time (`time`),
//! either (`both`) or neither (`none`).

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::{
    Accounts, NewSession, Origin,
    mailed_token::{MailFlowError, TokenKind},
};
use crate::{
    config::{LockStrategy, Settings},
    mail::templates,
    store::User,
    tokens,
};

/// What one failed sign-in did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedSignIn {
    Counted,
    /// One attempt is left before the lock.
    LastAttempt,
    /// This attempt locked the account.
    Locked,
}

/// Locked now: `lockable` on, `locked_at` set and, with a time-based unlock, `unlock_in` not
/// yet over.
pub fn is_locked(s: &Settings, user: &User, now: DateTime<Utc>) -> bool {
    let Some(locked_at) = user.locked_at.filter(|_| s.lockable) else {
        return false;
    };
    !(s.unlock_strategy.by_time() && locked_at + ChronoDuration::seconds(s.unlock_in as i64) <= now)
}

impl Accounts {
    /// Whether unlock links exist at all (`POST`/`GET /auth/unlock`).
    pub fn unlocks_by_email(&self) -> bool {
        self.settings.lockable && self.settings.unlock_strategy.by_email()
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
        if !self.unlocks_by_email() || token.is_empty() || token.len() > 255 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UnlockStrategy;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn locked() -> User {
        User {
            locked_at: Some(at(0)),
            ..crate::accounts::blank_user()
        }
    }

    fn settings(unlock_strategy: UnlockStrategy) -> Settings {
        Settings {
            lockable: true,
            unlock_strategy,
            unlock_in: 60,
            ..Settings::default()
        }
    }

    #[test]
    fn a_time_unlock_ends_the_lock_after_unlock_in() {
        for strategy in [UnlockStrategy::Time, UnlockStrategy::Both] {
            let s = settings(strategy);
            assert!(is_locked(&s, &locked(), at(59)), "{strategy:?}");
            assert!(!is_locked(&s, &locked(), at(60)), "{strategy:?}");
        }
    }

    #[test]
    fn without_a_time_unlock_the_lock_stays() {
        for strategy in [UnlockStrategy::Email, UnlockStrategy::None] {
            assert!(is_locked(&settings(strategy), &locked(), at(1_000_000)));
        }
    }

    #[test]
    fn nothing_is_locked_when_lockable_is_off_or_no_lock_is_set() {
        let off = Settings {
            lockable: false,
            ..settings(UnlockStrategy::Email)
        };
        assert!(!is_locked(&off, &locked(), at(1)));
        let open = crate::accounts::blank_user();
        assert!(!is_locked(&settings(UnlockStrategy::Email), &open, at(1)));
    }
}
