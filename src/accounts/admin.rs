//! What `toker users …` and `toker devices …` do on the configured database: the same rules
//! and security events as the API (a password is checked as sign-up checks it, a save goes
//! through `save_user_changes`), started by an operator instead of a request. Every change is
//! a security event with `via="admin"` where the event has a `via`.

use chrono::Utc;

use super::{
    Accounts,
    events::{self, Revocation},
    validation::{check_email, check_password, normalize_email},
};
use crate::{
    contract::validation::Errors,
    store::{Device, NewUser, StoreError, User},
};

/// Why an admin command could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no user {0}")]
    NoSuchUser(String),
    #[error("{0} names several users (uid of several providers); use the id")]
    Ambiguous(String),
    #[error("no device {0}")]
    NoSuchDevice(i64),
    #[error("no app {0}")]
    NoSuchApp(String),
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Accounts {
    /// The messages of `errors` in the default language (`full_messages`).
    fn messages(&self, errors: &Errors) -> Vec<String> {
        let catalog = self.mailer.templates().catalog();
        let locale = catalog.negotiate(None, None);
        let body = errors.to_body(&catalog.texts(&locale));
        body.0
            .get("full_messages")
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The user `reference` names: a numeric id, an e-mail user's address, or a uid.
    pub async fn find_user_ref(&self, reference: &str) -> Result<User, AdminError> {
        let reference = reference.trim();
        let missing = || AdminError::NoSuchUser(reference.to_string());
        if let Ok(id) = reference.parse::<i64>() {
            return self.store.find_user(id).await?.ok_or_else(missing);
        }
        if reference.contains('@')
            && let Some(user) = self
                .store
                .find_email_user(&normalize_email(reference))
                .await?
        {
            return Ok(user);
        }
        let mut users = self.store.find_users_by_uid(reference).await?;
        match users.len() {
            0 => Err(missing()),
            1 => Ok(users.remove(0)),
            _ => Err(AdminError::Ambiguous(reference.to_string())),
        }
    }

    /// Creates an e-mail user with `password`, checked as sign-up checks them.
    pub async fn admin_create_user(
        &self,
        email: &str,
        password: &str,
        confirmed: bool,
    ) -> Result<User, AdminError> {
        let email = normalize_email(email);
        let mut errors = Errors::default();
        check_email(&mut errors, Some(&email));
        check_password(
            &mut errors,
            Some(password),
            None,
            true,
            self.settings.password_length,
        );
        if !errors.is_empty() {
            return Err(AdminError::Invalid(self.messages(&errors)));
        }
        if self.store.email_in_use(&email, None).await? {
            return Err(AdminError::Invalid(vec![format!(
                "{email} is already in use"
            )]));
        }
        let hash = self.hasher.hash(password).await?;
        let now = Utc::now();
        let user = self
            .store
            .insert_user(
                NewUser {
                    provider: "email".into(),
                    uid: email.clone(),
                    email: Some(email.clone()),
                    encrypted_password: hash,
                    name: None,
                    nickname: None,
                    image: None,
                    extra: None,
                    confirmed_at: confirmed.then_some(now),
                    confirmation_token: None,
                    confirmation_sent_at: None,
                },
                now,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict => {
                    AdminError::Invalid(vec![format!("{email} is already in use")])
                }
                e => e.into(),
            })?;
        events::account_created(user.id, &user.provider, "admin");
        if confirmed {
            events::account_confirmed(user.id, "admin");
        }
        Ok(user)
    }

    /// Confirms the account, or applies its pending e-mail change, as a confirmation link
    /// would.
    pub async fn admin_confirm(&self, before: &User) -> Result<User, AdminError> {
        let now = Utc::now();
        let mut user = before.clone();
        if user.confirmed_at.is_none() {
            user.confirmed_at = Some(now);
        }
        user.confirmation_token = None;
        if let Some(email) = user.unconfirmed_email.take() {
            if user.provider == "email" {
                user.uid = email.clone();
            }
            user.email = Some(email);
        }
        user.updated_at = now;
        let saved = self
            .save_user_changes(before, &user)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => {
                    AdminError::Invalid(vec!["the pending e-mail address is taken".into()])
                }
                e => e.into(),
            })?;
        events::account_confirmed(saved.id, "admin");
        Ok(saved)
    }

    /// Locks the account now (until unlocked, or until `unlock_in` with a time-based unlock).
    pub async fn admin_lock(&self, before: &User) -> Result<User, AdminError> {
        let mut user = before.clone();
        let now = Utc::now();
        user.locked_at = Some(now);
        user.updated_at = now;
        let saved = self.save_user_changes(before, &user).await?;
        events::account_locked(&self.metrics, saved.id, saved.failed_attempts, None);
        Ok(saved)
    }

    /// Ends a lock, with its failed attempts and unlock link (Devise's `unlock_access!`).
    pub async fn admin_unlock(&self, before: &User) -> Result<User, AdminError> {
        let mut user = before.clone();
        user.locked_at = None;
        user.failed_attempts = 0;
        user.unlock_token = None;
        user.unlock_token_sent_at = None;
        user.updated_at = Utc::now();
        let saved = self.save_user_changes(before, &user).await?;
        events::account_unlocked(saved.id, "admin");
        Ok(saved)
    }

    /// Deletes the user and its devices; how many devices went with it.
    pub async fn admin_delete(&self, user: &User) -> Result<u64, AdminError> {
        let devices = self
            .store
            .delete_user(user.id)
            .await?
            .ok_or_else(|| AdminError::NoSuchUser(user.id.to_string()))?;
        events::account_deleted(user.id, "admin");
        events::device_revoked(user.id, 0, devices, Revocation::AccountDeleted);
        Ok(devices)
    }

    /// Sets the password, checked as the API checks a new one; reset and unlock links are
    /// withdrawn (`save_user_changes`). Devices stay signed in unless
    /// `remove_tokens_after_password_reset`.
    pub async fn admin_set_password(
        &self,
        before: &User,
        password: &str,
    ) -> Result<User, AdminError> {
        let mut errors = Errors::default();
        check_password(
            &mut errors,
            Some(password),
            None,
            true,
            self.settings.password_length,
        );
        if !errors.is_empty() {
            return Err(AdminError::Invalid(self.messages(&errors)));
        }
        let mut user = before.clone();
        user.encrypted_password = self.hasher.hash(password).await?;
        user.updated_at = Utc::now();
        let saved = self.save_user_changes(before, &user).await?;
        self.end_other_sessions(saved.id, None).await?;
        Ok(saved)
    }

    /// Revokes one device; its owner.
    pub async fn admin_revoke_device(&self, id: i64) -> Result<Device, AdminError> {
        let device = self
            .store
            .find_device_by_id(id)
            .await?
            .ok_or(AdminError::NoSuchDevice(id))?;
        // Another type's device is not this command's (`--user-type`).
        if self.store.find_user(device.user_id).await?.is_none() {
            return Err(AdminError::NoSuchDevice(id));
        }
        if !self.store.delete_device(id).await? {
            return Err(AdminError::NoSuchDevice(id));
        }
        events::device_revoked(device.user_id, id, 1, Revocation::Admin);
        Ok(device)
    }

    /// Revokes every device of `user`; how many there were.
    pub async fn admin_revoke_all(&self, user: &User) -> Result<u64, AdminError> {
        let count = self.store.delete_other_devices(user.id, None).await?;
        events::device_revoked(user.id, 0, count, Revocation::Admin);
        Ok(count)
    }
}
