//! Account rules over the store: sign-up, sign-in, account update and deletion, with Devise's
//! and devise_token_auth's behaviour (server.md §2.1–2.4, §5.2). No HTTP here: handlers turn
//! these outcomes into the contract's responses.

pub mod confirmable;
pub mod lockable;
pub mod mailed_token;
pub mod messages;
pub mod omniauth;
pub mod password;
pub mod recoverable;
pub mod user_json;
pub mod validation;

use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Map, Value};

use crate::{
    config::{CurrentPasswordMode, PROFILE_COLUMNS, Settings},
    mail::Mailer,
    redirect::RedirectPolicy,
    store::{Device, NewDevice, NewUser, Store, StoreError, User},
    tokens::{self, Chain, TokenPolicy},
};
pub use password::Hasher;
use validation::{Errors, check_email, check_password, normalize_email};

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

/// Why an account may not authenticate (Devise's `active_for_authentication?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Locked,
    Unconfirmed,
}

/// Account rules with their dependencies.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub store: Store,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub policy: TokenPolicy,
    pub redirects: RedirectPolicy,
    pub mailer: Mailer,
    pub oauth: Arc<crate::oauth::OAuth>,
}

/// Sign-up input, already read from params.
#[derive(Debug, Default)]
pub struct SignUp {
    pub email: Option<String>,
    pub password: Option<String>,
    pub password_confirmation: Option<String>,
    /// `None` when absent or not a string.
    pub confirm_success_url: Option<String>,
    /// Copied into the confirmation link as `config`.
    pub config_name: Option<String>,
    /// Permitted extra attributes that were sent.
    pub attributes: Map<String, Value>,
    /// Whether any permitted sign-up param was sent at all.
    pub any_permitted: bool,
}

#[derive(Debug)]
pub enum SignUpOutcome {
    Created {
        user: Box<User>,
        session: Option<NewSession>,
    },
    NoParams,
    MissingConfirmUrl(Map<String, Value>),
    RedirectNotAllowed(String, Map<String, Value>),
    Invalid(Errors, Map<String, Value>),
    /// The confirmation mail could not be sent; the account was not kept.
    MailNotSent,
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

/// Account-update input, already read from params.
#[derive(Debug, Default)]
pub struct AccountUpdate {
    pub email: Option<String>,
    pub password: Option<String>,
    pub password_confirmation: Option<String>,
    pub current_password: Option<String>,
    pub current_password_sent: bool,
    pub password_sent: bool,
    pub attributes: Map<String, Value>,
    pub any_permitted: bool,
    /// Where the reconfirmation link lands (`reconfirmable`), if given.
    pub confirm_success_url: Option<String>,
    pub config_name: Option<String>,
}

#[derive(Debug)]
pub enum UpdateOutcome {
    Updated(Box<User>),
    Invalid(Errors),
    /// The new address's confirmation mail could not be sent; nothing changed.
    MailNotSent,
}

impl Accounts {
    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    /// Devise's `active_for_authentication?` for the modules toker has switched on.
    pub fn inactive_reason(&self, user: &User, now: DateTime<Utc>) -> Option<Inactive> {
        let s = &self.settings;
        if self.is_locked(user, now) {
            return Some(Inactive::Locked);
        }
        if s.confirmable && user.confirmed_at.is_none() {
            let allowed = match s.allow_unconfirmed_access_for {
                None => true,
                Some(0) => false,
                Some(secs) => user
                    .confirmation_sent_at
                    .is_some_and(|sent| sent + ChronoDuration::seconds(secs as i64) > now),
            };
            if !allowed {
                return Some(Inactive::Unconfirmed);
            }
        }
        None
    }

    /// Creates a device with a fresh token for `user` (sign-in, sign-up).
    pub async fn open_session(
        &self,
        user: &User,
        origin: &Origin,
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
        };
        let device = self
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
        Ok(NewSession { device, token })
    }

    /// `POST /auth` (server.md §2.1).
    pub async fn sign_up(&self, input: SignUp, origin: &Origin) -> anyhow::Result<SignUpOutcome> {
        if !input.any_permitted {
            return Ok(SignUpOutcome::NoParams);
        }
        let email = input.email.as_deref().map(normalize_email);
        let draft = self.draft_json(email.as_deref(), &input.attributes);
        let s = &self.settings;
        let redirect = input
            .confirm_success_url
            .clone()
            .or_else(|| s.default_confirm_success_url.clone());
        if s.confirmable && redirect.is_none() {
            return Ok(SignUpOutcome::MissingConfirmUrl(draft));
        }
        if let Some(url) = &input.confirm_success_url
            && !self.redirects.allows(url)
        {
            return Ok(SignUpOutcome::RedirectNotAllowed(url.clone(), draft));
        }

        let mut errors = Errors::default();
        check_email(&mut errors, email.as_deref());
        if let Some(e) = email.as_deref().filter(|_| !errors.has("email"))
            && self.store.email_in_use(e, None).await?
        {
            errors.add("email", "has already been taken");
        }
        check_password(
            &mut errors,
            input.password.as_deref(),
            input.password_confirmation.as_deref(),
            true,
            s.password_length,
        );
        check_profile(&mut errors, &input.attributes);
        if !errors.is_empty() {
            return Ok(SignUpOutcome::Invalid(errors, draft));
        }

        let email = email.unwrap_or_default();
        let encrypted_password = self
            .hasher
            .hash(input.password.as_deref().unwrap_or_default())
            .await?;
        let now = Self::now();
        let (profile, extra) = split_attributes(input.attributes, None);
        let new = NewUser {
            provider: "email".into(),
            uid: email.clone(),
            email: Some(email),
            encrypted_password,
            name: profile.name.flatten(),
            nickname: profile.nickname.flatten(),
            image: profile.image.flatten(),
            extra,
            confirmed_at: None,
            confirmation_token: None,
            confirmation_sent_at: None,
        };
        let user = match self.store.insert_user(new, now).await {
            Ok(user) => user,
            // Lost a race with an identical sign-up: the same answer as the check above.
            Err(StoreError::Conflict) => {
                let mut errors = Errors::default();
                errors.add("email", "has already been taken");
                return Ok(SignUpOutcome::Invalid(errors, draft));
            }
            Err(e) => return Err(e.into()),
        };
        let user = match (s.confirmable, redirect) {
            (true, Some(redirect)) => {
                let to = user.email.clone().unwrap_or_default();
                let config = input.config_name.as_deref().unwrap_or("default");
                match self.send_confirmation(&user, &to, &redirect, config).await {
                    Ok(user) => user,
                    Err(e) => {
                        // No half-created account: the user can simply sign up again.
                        self.store.delete_user(user.id).await?;
                        tracing::warn!(error = %e, "sign-up undone: confirmation mail failed");
                        return Ok(SignUpOutcome::MailNotSent);
                    }
                }
            }
            _ => user,
        };
        let session = if self.inactive_reason(&user, now).is_none() {
            Some(self.open_session(&user, origin).await?)
        } else {
            None
        };
        Ok(SignUpOutcome::Created {
            user: Box::new(user),
            session,
        })
    }

    /// `POST /auth/sign_in` (server.md §2.4).
    pub async fn sign_in(
        &self,
        email: Option<&str>,
        password: Option<&str>,
        origin: &Origin,
    ) -> anyhow::Result<SignInOutcome> {
        let now = Self::now();
        let user = match email.map(normalize_email).filter(|e| !e.is_empty()) {
            Some(email) => self.store.find_email_user(&email).await?,
            None => None,
        };
        let Some(mut user) = user else {
            self.hasher.verify_dummy(password.unwrap_or_default()).await;
            return Ok(SignInOutcome::BadCredentials);
        };
        if let Some(reason) = self.inactive_reason(&user, now) {
            // Devise answers this before the password check; paranoid mode hides it.
            self.hasher.verify_dummy(password.unwrap_or_default()).await;
            return Ok(match (self.settings.paranoid, reason) {
                (true, _) => SignInOutcome::BadCredentials,
                (false, Inactive::Locked) => SignInOutcome::Locked,
                (false, Inactive::Unconfirmed) => {
                    SignInOutcome::NotConfirmed(user.email.clone().unwrap_or_default())
                }
            });
        }
        let Some(password) = password else {
            self.hasher.verify_dummy("").await;
            return Ok(SignInOutcome::BadCredentials);
        };
        if !self
            .hasher
            .verify(password, Some(&user.encrypted_password))
            .await
        {
            let failed = self.record_failed_sign_in(&user).await?;
            let warn = self.settings.last_attempt_warning && !self.settings.paranoid;
            return Ok(match failed {
                lockable::FailedSignIn::LastAttempt if warn => SignInOutcome::LastAttempt,
                // The attempt that locks still gets the bad-credentials text, as DTA.
                _ => SignInOutcome::BadCredentials,
            });
        }
        // Trackable, and a successful sign-in clears failed attempts: only those columns are
        // written, so a lock taken meanwhile by a parallel failed attempt is not undone.
        // A lock still set here has expired (`unlock_in`): the account passed the lock check.
        let clear_lock = user.locked_at.is_some();
        self.store
            .record_sign_in(user.id, now, origin.ip.as_deref(), clear_lock)
            .await?;
        user.updated_at = now;
        let session = self.open_session(&user, origin).await?;
        Ok(SignInOutcome::SignedIn {
            user: Box::new(user),
            session: Box::new(session),
        })
    }

    /// `PUT /auth` for an authenticated user (server.md §2.2). `device` is the caller's, kept
    /// when `remove_tokens_after_password_reset` signs other devices out.
    pub async fn update(
        &self,
        user: &User,
        device_id: i64,
        mut input: AccountUpdate,
    ) -> anyhow::Result<UpdateOutcome> {
        let s = &self.settings;
        let require_current = match s.check_current_password_before_update.mode() {
            Some(CurrentPasswordMode::Attributes) => true,
            Some(CurrentPasswordMode::Password) => input.password_sent,
            None => input.current_password_sent,
        };
        if require_current && input.password.as_deref().is_none_or(str::is_empty) {
            // Devise's update_with_password ignores a blank new password.
            input.password = None;
            if input.password_confirmation.as_deref() == Some("") {
                input.password_confirmation = None;
            }
        }

        let mut updated = user.clone();
        let mut errors = Errors::default();
        let is_email_user = user.provider == "email";
        let mut reconfirm_to = None;
        if let Some(email) = input.email.as_deref() {
            let email = normalize_email(email);
            if is_email_user {
                check_email(&mut errors, Some(&email));
            } else if email.chars().count() > validation::EMAIL_MAX_CHARS {
                errors.add(
                    "email",
                    &format!(
                        "is too long (maximum is {} characters)",
                        validation::EMAIL_MAX_CHARS
                    ),
                );
            }
            if !errors.has("email")
                && user.email.as_deref() != Some(email.as_str())
                && !email.is_empty()
                && self.store.email_in_use(&email, Some(user.id)).await?
            {
                errors.add("email", "has already been taken");
            }
            let changed = user.email.as_deref() != Some(email.as_str());
            if is_email_user && changed && s.confirmable && s.reconfirmable {
                // Devise's reconfirmable: the new address applies once it is confirmed.
                reconfirm_to = Some(email);
            } else {
                if is_email_user {
                    updated.uid = email.clone();
                }
                updated.email = Some(email).filter(|e| !e.is_empty());
            }
        }
        let changing_password = input.password.is_some() || input.password_confirmation.is_some();
        if is_email_user && changing_password {
            check_password(
                &mut errors,
                input.password.as_deref(),
                input.password_confirmation.as_deref(),
                true,
                s.password_length,
            );
        }
        check_profile(&mut errors, &input.attributes);
        let (profile, extra) = split_attributes(input.attributes, user.extra.as_deref());
        profile.apply(&mut updated);
        updated.extra = extra;

        if require_current {
            self.check_current_password(&mut errors, user, input.current_password.as_deref())
                .await;
        }
        if !errors.is_empty() {
            return Ok(UpdateOutcome::Invalid(errors));
        }

        let password_changed = match input.password.as_deref() {
            Some(p) if is_email_user && changing_password => {
                updated.encrypted_password = self.hasher.hash(p).await?;
                true
            }
            _ => false,
        };
        updated.updated_at = Self::now();
        let saved = match self.store.save_user(&updated).await {
            Ok(saved) => saved,
            Err(StoreError::Conflict) => {
                let mut errors = Errors::default();
                errors.add("email", "has already been taken");
                return Ok(UpdateOutcome::Invalid(errors));
            }
            Err(e) => return Err(e.into()),
        };
        if password_changed && s.remove_tokens_after_password_reset {
            self.store
                .delete_other_devices(user.id, Some(device_id))
                .await?;
        }
        let saved = match reconfirm_to {
            Some(new_email) => {
                let redirect = input
                    .confirm_success_url
                    .clone()
                    .or_else(|| s.default_confirm_success_url.clone())
                    .unwrap_or_default();
                let config = input.config_name.as_deref().unwrap_or("default");
                let mut pending = saved;
                pending.unconfirmed_email = Some(new_email.clone());
                let pending = self.store.save_user(&pending).await?;
                match self
                    .send_confirmation(&pending, &new_email, &redirect, config)
                    .await
                {
                    Ok(sent) => sent,
                    Err(e) => {
                        // Nothing mailed, nothing pending: the change simply did not happen.
                        let mut reverted = pending;
                        reverted.unconfirmed_email = user.unconfirmed_email.clone();
                        self.store.save_user(&reverted).await?;
                        tracing::warn!(error = %e, "e-mail change undone: confirmation mail failed");
                        return Ok(UpdateOutcome::MailNotSent);
                    }
                }
            }
            None => saved,
        };
        Ok(UpdateOutcome::Updated(Box::new(saved)))
    }

    /// Devise's `update_with_password` check: `current_password` must be given and right.
    pub async fn check_current_password(
        &self,
        errors: &mut Errors,
        user: &User,
        current: Option<&str>,
    ) {
        let current = current.unwrap_or_default();
        let valid = !current.is_empty()
            && self
                .hasher
                .verify(current, Some(&user.encrypted_password))
                .await;
        if !valid {
            let message = if current.is_empty() {
                "can't be blank"
            } else {
                "is invalid"
            };
            errors.add("current_password", message);
        }
    }

    /// `DELETE /auth` (server.md §2.3).
    pub async fn destroy(&self, user: &User) -> Result<bool, StoreError> {
        self.store.delete_user(user.id).await
    }

    /// The unsaved user that E3/E4 sign-up errors carry: `"id":null`, `"uid":""`.
    fn draft_json(
        &self,
        email: Option<&str>,
        attributes: &Map<String, Value>,
    ) -> Map<String, Value> {
        let now = Self::now();
        let (profile, extra) = split_attributes(attributes.clone(), None);
        let draft = User {
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
            locked_at: None,
            sign_in_count: 0,
            current_sign_in_at: None,
            last_sign_in_at: None,
            current_sign_in_ip: None,
            last_sign_in_ip: None,
            name: profile.name.flatten(),
            nickname: profile.nickname.flatten(),
            image: profile.image.flatten(),
            email: email.map(str::to_string),
            extra,
            created_at: now,
            updated_at: now,
        };
        let mut json = user_json::user_json(&draft, &self.settings, user_json::Shape::Full).0;
        json.insert("id".into(), Value::Null);
        json.insert("created_at".into(), Value::Null);
        json.insert("updated_at".into(), Value::Null);
        json
    }
}

/// Length limits of the profile columns among the permitted attributes.
fn check_profile(errors: &mut Errors, attributes: &Map<String, Value>) {
    for column in PROFILE_COLUMNS {
        let value = attributes.get(*column).and_then(crate::api::params::scalar);
        validation::check_profile_length(errors, column, value.as_deref());
    }
}

/// Permitted extras that are users columns.
#[derive(Debug, Default)]
struct Profile {
    name: Option<Option<String>>,
    nickname: Option<Option<String>>,
    image: Option<Option<String>>,
}

impl Profile {
    fn apply(self, user: &mut User) {
        if let Some(v) = self.name {
            user.name = v;
        }
        if let Some(v) = self.nickname {
            user.nickname = v;
        }
        if let Some(v) = self.image {
            user.image = v;
        }
    }
}

/// Splits permitted attributes into profile columns and the `extra` JSON object, merged over
/// the existing extras.
fn split_attributes(
    attributes: Map<String, Value>,
    existing_extra: Option<&str>,
) -> (Profile, Option<String>) {
    let mut extra: Map<String, Value> = existing_extra
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let mut profile = Profile::default();
    for (key, value) in attributes {
        let text = crate::api::params::scalar(&value);
        match key.as_str() {
            "name" => profile.name = Some(text),
            "nickname" => profile.nickname = Some(text),
            "image" => profile.image = Some(text),
            _ if !PROFILE_COLUMNS.contains(&key.as_str()) => {
                extra.insert(key, value);
            }
            _ => {}
        }
    }
    let extra = (!extra.is_empty()).then(|| Value::Object(extra).to_string());
    (profile, extra)
}
