//! Devise's `:lockable` (docs/contract.md §2.4, §2.12–2.13): failed sign-ins counted, the account
//! locked at `maximum_attempts`, unlocked by a mailed link (`email`), by time (`time`), either
//! (`both`) or neither (`none`).
//!
//! Each password check first takes one of the remaining attempts in the database, and a
//! correct password is accepted only if the account is still unlocked when the sign-in is
//! recorded. So however many guesses arrive at once, on however many instances, at most
//! `maximum_attempts` passwords are checked before the lock, and a right guess that was being
//! checked while others locked the account does not get in.

use chrono::{DateTime, Utc};

use super::{
    Accounts, NewSession, Origin, events,
    events::SignInMethod,
    later,
    mailed_token::{MailFlowError, TokenKind},
};
use crate::{
    config::{LockStrategy, Settings},
    mail::{Audience, MailKind, MailValues},
    store::{StoreResult, User},
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

/// The attempt a password check runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Failed sign-ins are not counted (`lockable` off, or `lock_strategy = none`).
    Uncounted,
    /// The n-th consecutive attempt, already counted as failed until the password proves right.
    Numbered(i32),
    /// Locked, or every remaining attempt is being checked by other requests.
    NoneLeft,
}

/// Locked now: `lockable` on, `locked_at` set and, with a time-based unlock, `unlock_in` not
/// yet over.
pub fn is_locked(s: &Settings, user: &User, now: DateTime<Utc>) -> bool {
    let Some(locked_at) = user.locked_at.filter(|_| s.lockable) else {
        return false;
    };
    !lock_expired(s, locked_at, now)
}

fn lock_expired(s: &Settings, locked_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    s.unlock_strategy.by_time() && later(locked_at, s.unlock_in) <= now
}

fn counts_failures(s: &Settings) -> bool {
    s.lockable && s.lock_strategy == LockStrategy::FailedAttempts
}

impl Accounts {
    /// Whether unlock links exist at all (`POST`/`GET /auth/unlock`).
    pub fn unlocks_by_email(&self) -> bool {
        self.settings.lockable && self.settings.unlock_strategy.by_email()
    }

    /// Devise's `unlock_access! if lock_expired?` at a sign-in attempt: a lock whose `unlock_in`
    /// is over ends, with its failed attempts and unlock link, before anything is checked.
    pub(super) async fn end_expired_lock(
        &self,
        user: &mut User,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let s = &self.settings;
        let Some(locked_at) = user.locked_at.filter(|_| s.lockable) else {
            return Ok(());
        };
        if !lock_expired(s, locked_at, now) {
            return Ok(());
        }
        // Any lock at least `unlock_in` old ends; one taken meanwhile stays.
        let unlock_in = later(locked_at, s.unlock_in) - locked_at;
        let cutoff = now - unlock_in;
        if self.store.unlock_expired(user.id, cutoff).await? {
            events::account_unlocked(user.id, "time");
        }
        user.locked_at = None;
        user.failed_attempts = 0;
        user.unlock_token = None;
        user.unlock_token_sent_at = None;
        Ok(())
    }

    /// Takes one of the account's attempts before its password is checked.
    pub(super) async fn reserve_attempt(&self, user: &User) -> StoreResult<Attempt> {
        let s = &self.settings;
        if !counts_failures(s) {
            return Ok(Attempt::Uncounted);
        }
        let maximum = i32::try_from(s.maximum_attempts).unwrap_or(i32::MAX);
        Ok(
            match self.store.reserve_sign_in_attempt(user.id, maximum).await? {
                Some(n) => Attempt::Numbered(n),
                None => Attempt::NoneLeft,
            },
        )
    }

    /// Gives back an attempt whose password was never checked.
    pub(super) async fn release_attempt(&self, user: &User, attempt: Attempt) -> StoreResult<()> {
        if let Attempt::Numbered(_) = attempt {
            self.store.release_sign_in_attempt(user.id).await?;
        }
        Ok(())
    }

    /// The password of `attempt` was wrong: it stays counted, and the attempt that reaches
    /// `maximum_attempts` locks the account and mails the unlock link when unlocking by e-mail
    /// is on.
    pub(super) async fn settle_failed_attempt(
        &self,
        user: &User,
        attempt: Attempt,
        origin: &Origin,
        audience: &Audience,
    ) -> anyhow::Result<FailedSignIn> {
        let s = &self.settings;
        let Attempt::Numbered(number) = attempt else {
            return Ok(FailedSignIn::Counted);
        };
        let maximum = i32::try_from(s.maximum_attempts).unwrap_or(i32::MAX);
        if number < maximum {
            return Ok(if number == maximum - 1 {
                FailedSignIn::LastAttempt
            } else {
                FailedSignIn::Counted
            });
        }
        if self
            .store
            .lock_if_exhausted(user.id, maximum, Utc::now())
            .await?
        {
            events::account_locked(&self.metrics, user.id, number, origin.ip.as_deref());
            if s.unlock_strategy.by_email() {
                let fresh = self
                    .store
                    .find_user(user.id)
                    .await?
                    .unwrap_or_else(|| user.clone());
                // The lock stands even when the mail fails: `POST /auth/unlock` sends another.
                if let Err(e) = self.send_unlock(&fresh, audience).await {
                    tracing::warn!(error = %e, "account locked, unlock mail not sent");
                }
            }
        }
        Ok(FailedSignIn::Locked)
    }

    /// Mails an unlock link to `user` (even when not locked, as Devise), written for
    /// `audience`.
    pub async fn send_unlock(
        &self,
        user: &User,
        audience: &Audience,
    ) -> Result<User, MailFlowError> {
        let to = user.email.clone().unwrap_or_else(|| user.uid.clone());
        self.mail_token(user, TokenKind::Unlock, |token| {
            let link = self.api_link(
                "/unlock",
                &[("config", Some("default")), ("unlock_token", Some(token))],
            );
            self.mailer
                .compose(MailKind::Unlock, audience, &to, &MailValues::link(link))
        })
        .await
    }

    /// Follows an unlock link: unlocks the account and signs a new device in. `None` for an
    /// unknown, used or expired (`unlock_within`) token; a link works once, even when clicked
    /// twice at the same moment.
    pub async fn unlock_with_token(
        &self,
        token: &str,
        origin: &Origin,
    ) -> anyhow::Result<Option<(User, NewSession)>> {
        if !self.unlocks_by_email() || token.is_empty() || token.len() > 255 {
            return Ok(None);
        }
        let digest = tokens::digest(token);
        let Some(user) = self.store.find_by_unlock_digest(&digest).await? else {
            return Ok(None);
        };
        let fresh = user
            .unlock_token_sent_at
            .is_some_and(|sent| later(sent, self.settings.unlock_within) > Utc::now());
        if !fresh || !self.store.unlock_with_digest(user.id, &digest).await? {
            return Ok(None);
        }
        events::account_unlocked(user.id, "link");
        let Some(user) = self.store.find_user(user.id).await? else {
            return Ok(None);
        };
        let session = self
            .open_session(&user, origin, SignInMethod::UnlockLink)
            .await?;
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
