//! Devise's `:database_authenticatable` as devise_token_auth exposes it (docs/contract.md §2.4,
//! §2.5): signing in with e-mail and password, the devices a sign-in creates, signing one out,
//! and whether an account may authenticate at all (Devise's `active_for_authentication?`).

use chrono::{DateTime, Utc};

use super::{
    Accounts, NewSession, Origin,
    events::{self, SignInFailure, SignInMethod},
    later,
    lockable::{self, Attempt, FailedSignIn},
    validation::normalize_email,
};
use crate::{
    config::Settings,
    mail::Audience,
    store::{NewDevice, StoreError, User},
    tokens::{self, Chain},
};

/// Why an account may not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Locked,
    Unconfirmed,
}

#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn {
        user: Box<User>,
        session: Box<NewSession>,
    },
    BadCredentials,
    /// Bad credentials with one attempt left (`last_attempt_warning`).
    LastAttempt,
    Locked,
    NotConfirmed(String),
}

/// Devise's `active_for_authentication?` for the modules switched on: locked (and not yet
/// unlocked by time), or unconfirmed past `allow_unconfirmed_access_for`.
pub fn inactive_reason(s: &Settings, user: &User, now: DateTime<Utc>) -> Option<Inactive> {
    if lockable::is_locked(s, user, now) {
        return Some(Inactive::Locked);
    }
    if s.confirmable && user.confirmed_at.is_none() {
        let allowed = match s.allow_unconfirmed_access_for {
            None => true,
            Some(0) => false,
            Some(secs) => user
                .confirmation_sent_at
                .is_some_and(|sent| later(sent, secs) > now),
        };
        if !allowed {
            return Some(Inactive::Unconfirmed);
        }
    }
    None
}

impl Accounts {
    pub fn inactive_reason(&self, user: &User, now: DateTime<Utc>) -> Option<Inactive> {
        inactive_reason(&self.settings, user, now)
    }

    /// Creates a device with a fresh token for `user` (sign-in, sign-up, mailed links, OAuth).
    pub async fn open_session(
        &self,
        user: &User,
        origin: &Origin,
        method: SignInMethod,
    ) -> Result<NewSession, StoreError> {
        let now = Self::now();
        let now_ms = now.timestamp_millis();
        let token = tokens::generate();
        let chain = Chain {
            token_hash: tokens::digest(&token),
            previous_token_hash: None,
            last_token_hash: None,
            expiry: self.policy.expiry_from(now_ms),
            touched_at: now_ms,
            rotated_at: now_ms,
        };
        let (device, evicted) = self
            .store
            .create_device(
                NewDevice {
                    user_id: user.id,
                    client: tokens::generate(),
                    chain,
                    user_agent: origin.user_agent.clone(),
                    ip: origin.ip.clone(),
                },
                &self.policy,
                now,
            )
            .await?;
        events::sign_in(
            &self.metrics,
            user.id,
            &user.provider,
            device.id,
            method,
            origin.ip.as_deref(),
        );
        for id in evicted {
            events::device_revoked(user.id, id, 1, events::Revocation::Evicted);
        }
        Ok(NewSession { device, token })
    }

    /// `POST /auth/sign_in`; an unlock mail it sends is written for `audience`.
    pub async fn sign_in(
        &self,
        email: Option<&str>,
        password: Option<&str>,
        origin: &Origin,
        audience: &Audience,
    ) -> anyhow::Result<SignInOutcome> {
        let now = Self::now();
        let ip = origin.ip.as_deref();
        let user = match email.map(normalize_email).filter(|e| !e.is_empty()) {
            Some(email) => self.store.find_email_user(&email).await?,
            None => None,
        };
        let Some(mut user) = user else {
            self.hasher
                .verify_dummy(password.unwrap_or_default())
                .await?;
            events::sign_in_failed(&self.metrics, None, SignInFailure::UnknownAccount, None, ip);
            return Ok(SignInOutcome::BadCredentials);
        };
        self.end_expired_lock(&mut user, now).await?;
        if let Some(reason) = self.inactive_reason(&user, now) {
            // Devise answers this before the password check; paranoid mode hides it.
            self.hasher
                .verify_dummy(password.unwrap_or_default())
                .await?;
            let failure = match reason {
                Inactive::Locked => SignInFailure::Locked,
                Inactive::Unconfirmed => SignInFailure::Unconfirmed,
            };
            events::sign_in_failed(&self.metrics, Some(user.id), failure, None, ip);
            return Ok(self.inactive_answer(&user, reason));
        }
        let Some(password) = password else {
            self.hasher.verify_dummy("").await?;
            events::sign_in_failed(
                &self.metrics,
                Some(user.id),
                SignInFailure::MissingPassword,
                None,
                ip,
            );
            return Ok(SignInOutcome::BadCredentials);
        };
        let attempt = self.reserve_attempt(&user).await?;
        if attempt == Attempt::NoneLeft {
            // Not checked: the account locked since it was read, or parallel requests hold
            // every remaining attempt.
            self.hasher.verify_dummy(password).await?;
            let locked = self
                .store
                .find_user(user.id)
                .await?
                .is_some_and(|u| lockable::is_locked(&self.settings, &u, now));
            let failure = match locked {
                true => SignInFailure::Locked,
                false => SignInFailure::NoAttemptLeft,
            };
            events::sign_in_failed(&self.metrics, Some(user.id), failure, None, ip);
            return Ok(match locked {
                true => self.inactive_answer(&user, Inactive::Locked),
                false => SignInOutcome::BadCredentials,
            });
        }
        let verified = match self
            .hasher
            .verify(password, Some(&user.encrypted_password))
            .await
        {
            Ok(verified) => verified,
            Err(busy) => {
                // The password was never checked: the attempt taken for it goes back, so a full
                // hashing queue cannot lock anyone out.
                self.release_attempt(&user, attempt).await?;
                return Err(busy.into());
            }
        };
        if !verified {
            let attempts = match attempt {
                Attempt::Numbered(n) => Some(n),
                _ => None,
            };
            events::sign_in_failed(
                &self.metrics,
                Some(user.id),
                SignInFailure::WrongPassword,
                attempts,
                ip,
            );
            let failed = self
                .settle_failed_attempt(&user, attempt, origin, audience)
                .await?;
            let warn = self.settings.last_attempt_warning && !self.settings.paranoid;
            return Ok(match failed {
                FailedSignIn::LastAttempt if warn => SignInOutcome::LastAttempt,
                // The attempt that locks still gets the bad-credentials text, as DTA.
                _ => SignInOutcome::BadCredentials,
            });
        }
        // Trackable, and the failed attempts (this one's included) back to zero: only those
        // columns are written, and only while the account is unlocked, so a lock taken by a
        // parallel attempt while this password was checked stands and this sign-in fails.
        let guard_lock = self.settings.lockable;
        if !self
            .store
            .record_sign_in(user.id, now, ip, guard_lock)
            .await?
        {
            events::sign_in_failed(
                &self.metrics,
                Some(user.id),
                SignInFailure::Locked,
                None,
                ip,
            );
            return Ok(self.inactive_answer(&user, Inactive::Locked));
        }
        user.failed_attempts = 0;
        user.updated_at = now;
        let session = self
            .open_session(&user, origin, SignInMethod::Password)
            .await?;
        Ok(SignInOutcome::SignedIn {
            user: Box::new(user),
            session: Box::new(session),
        })
    }

    /// The answer for an account that may not sign in; paranoid mode hides why.
    fn inactive_answer(&self, user: &User, reason: Inactive) -> SignInOutcome {
        match (self.settings.paranoid, reason) {
            (true, _) => SignInOutcome::BadCredentials,
            (false, Inactive::Locked) => SignInOutcome::Locked,
            (false, Inactive::Unconfirmed) => {
                SignInOutcome::NotConfirmed(user.email.clone().unwrap_or_default())
            }
        }
    }

    /// `DELETE /auth/sign_out`: the device's token is gone; false when it already was.
    pub async fn sign_out(&self, user_id: i64, device_id: i64) -> Result<bool, StoreError> {
        let deleted = self.store.delete_device(device_id).await?;
        if deleted {
            events::device_revoked(user_id, device_id, 1, events::Revocation::SignOut);
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UnlockStrategy;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn an_unconfirmed_user_is_inactive_once_the_grace_period_is_over() {
        let s = Settings {
            confirmable: true,
            allow_unconfirmed_access_for: Some(60),
            ..Settings::default()
        };
        let user = User {
            confirmation_sent_at: Some(at(0)),
            ..super::super::blank_user()
        };
        assert_eq!(inactive_reason(&s, &user, at(59)), None);
        assert_eq!(
            inactive_reason(&s, &user, at(60)),
            Some(Inactive::Unconfirmed)
        );
        let forever = Settings {
            allow_unconfirmed_access_for: None,
            ..s.clone()
        };
        assert_eq!(inactive_reason(&forever, &user, at(1_000_000)), None);
        let never = Settings {
            allow_unconfirmed_access_for: Some(0),
            ..s.clone()
        };
        assert_eq!(
            inactive_reason(&never, &user, at(0)),
            Some(Inactive::Unconfirmed)
        );
        let confirmed = User {
            confirmed_at: Some(at(1)),
            ..user.clone()
        };
        assert_eq!(inactive_reason(&never, &confirmed, at(5)), None);
        let off = Settings {
            confirmable: false,
            ..never
        };
        assert_eq!(inactive_reason(&off, &user, at(5)), None);
    }

    #[test]
    fn a_lock_comes_before_a_missing_confirmation() {
        let s = Settings {
            confirmable: true,
            lockable: true,
            unlock_strategy: UnlockStrategy::Email,
            ..Settings::default()
        };
        let user = User {
            locked_at: Some(at(0)),
            ..super::super::blank_user()
        };
        assert_eq!(inactive_reason(&s, &user, at(10)), Some(Inactive::Locked));
    }
}
