//! Account rules over the store, one module per Devise module they follow: sign-up, update and
//! deletion (`registerable`), sign-in and devices (`authenticatable`), confirmation, password
//! reset, locking, OAuth sign-in and the mailed links they share. No HTTP here: handlers turn
//! these outcomes into the contract's responses (docs/contract.md §2).

pub mod admin;
pub mod apps;
pub mod attributes;
pub mod authenticatable;
pub mod browser_sessions;
pub mod confirmable;
pub mod credentials;
pub mod events;
pub mod imported;
pub mod lockable;
pub mod mailed_token;
pub mod omniauth;
pub mod password;
pub mod recoverable;
pub mod registerable;
pub mod throttle;
pub mod user_json;
pub mod validation;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    config::Settings,
    limits::Limits,
    mail::Mailer,
    metrics::Metrics,
    redirect::RedirectPolicy,
    store::{Device, Store, User},
    tokens::TokenPolicy,
};
pub use authenticatable::{Inactive, SignInOutcome};
pub use events::SignInMethod;
pub use mailed_token::{LinkOutcome, LinkRequest};
pub use password::Hasher;
pub use registerable::{AccountUpdate, SignUp, SignUpOutcome, UpdateOutcome};
pub use throttle::Limited;

/// A device created by sign-in or sign-up, with the one copy of its raw token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub device: Device,
    pub token: String,
}

/// Where a device was created from (kept on the device row).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Account rules with their dependencies.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub store: Store,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub policy: TokenPolicy,
    pub redirects: RedirectPolicy,
    pub confirmation_tokens: confirmable::ConfirmationTokens,
    pub mailer: Mailer,
    pub oauth: Arc<crate::oauth::OAuth>,
    /// Abuse limits (docs/decisions.md D16).
    pub limits: Limits,
    /// What `/metrics` reports (off unless `metrics_bind` is set).
    pub metrics: Metrics,
}

impl Accounts {
    fn now() -> DateTime<Utc> {
        Utc::now()
    }
}

/// `at` plus `secs` seconds, saturating at the latest representable time: chrono panics on an
/// overflowing addition, and durations come from settings.
pub(crate) fn later(at: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A user with every column empty: the base of unsaved drafts and of unit tests.
pub(crate) fn blank_user() -> User {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    User {
        id: 0,
        provider: "email".into(),
        uid: String::new(),
        encrypted_password: String::new(),
        reset_password_token: None,
        reset_password_sent_at: None,
        allow_password_change: false,
        remember_created_at: None,
        confirmation_token: None,
        confirmed_at: None,
        confirmation_sent_at: None,
        unconfirmed_email: None,
        failed_attempts: 0,
        unlock_token: None,
        unlock_token_sent_at: None,
        locked_at: None,
        sign_in_count: 0,
        current_sign_in_at: None,
        last_sign_in_at: None,
        current_sign_in_ip: None,
        last_sign_in_ip: None,
        name: None,
        nickname: None,
        image: None,
        email: None,
        extra: None,
        created_at: epoch,
        updated_at: epoch,
        user_type: crate::store::DEFAULT_USER_TYPE.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_saturates_instead_of_panicking_on_huge_durations() {
        let now = Utc::now();
        assert_eq!(later(now, 60), now + chrono::TimeDelta::seconds(60));
        for huge in [u64::MAX, i64::MAX as u64, i64::MAX as u64 / 1000 + 1] {
            assert_eq!(later(now, huge), DateTime::<Utc>::MAX_UTC, "{huge}");
        }
    }
}
