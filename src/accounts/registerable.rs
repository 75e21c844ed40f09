//! Devise's `:registerable` as devise_token_auth exposes it (docs/contract.md §2.1–2.3):
//! signing up, updating the account (with `reconfirmable` e-mail changes and the
//! `check_current_password_before_update` rule), and deleting it.

use serde_json::{Map, Value};

use super::{
    Accounts, NewSession, Origin,
    attributes::{self, Attributes},
    events::{self, Revocation, SignInMethod},
    validation::{check_email, check_password, normalize_email},
};
use crate::{
    config::CurrentPasswordMode,
    contract::{messages::errors, validation::Errors},
    mail::Audience,
    store::{NewUser, StoreError, User},
};

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
    /// `POST /auth`; the confirmation mail is written for `audience`.
    pub async fn sign_up(
        &self,
        input: SignUp,
        origin: &Origin,
        audience: &Audience,
    ) -> anyhow::Result<SignUpOutcome> {
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
            errors.add("email", errors::TAKEN);
        }
        check_password(
            &mut errors,
            input.password.as_deref(),
            input.password_confirmation.as_deref(),
            true,
            s.password_length,
        );
        attributes::check(&mut errors, &input.attributes);
        if !errors.is_empty() {
            return Ok(SignUpOutcome::Invalid(errors, draft));
        }

        let email = email.unwrap_or_default();
        let encrypted_password = self
            .hasher
            .hash(input.password.as_deref().unwrap_or_default())
            .await?;
        let now = Self::now();
        let mut profile = super::blank_user();
        Attributes::split(input.attributes).apply(&mut profile);
        let new = NewUser {
            provider: "email".into(),
            uid: email.clone(),
            email: Some(email),
            encrypted_password,
            name: profile.name,
            nickname: profile.nickname,
            image: profile.image,
            extra: profile.extra,
            confirmed_at: None,
            confirmation_token: None,
            confirmation_sent_at: None,
        };
        let user = match self.store.insert_user(new, now).await {
            Ok(user) => user,
            // Lost a race with an identical sign-up: the same answer as the check above.
            Err(StoreError::Conflict) => {
                let mut errors = Errors::default();
                errors.add("email", errors::TAKEN);
                return Ok(SignUpOutcome::Invalid(errors, draft));
            }
            Err(e) => return Err(e.into()),
        };
        let user = match (s.confirmable, redirect) {
            (true, Some(redirect)) => {
                let to = user.email.clone().unwrap_or_default();
                let config = input.config_name.as_deref().unwrap_or("default");
                match self
                    .send_confirmation(&user, &to, &redirect, config, audience)
                    .await
                {
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
            Some(
                self.open_session(&user, origin, SignInMethod::SignUp)
                    .await?,
            )
        } else {
            None
        };
        Ok(SignUpOutcome::Created {
            user: Box::new(user),
            session,
        })
    }

    /// `PUT /auth` for an authenticated user. `device` is the caller's, kept
    /// when `remove_tokens_after_password_reset` signs other devices out. Mails are written
    /// for `audience`.
    pub async fn update(
        &self,
        user: &User,
        device_id: i64,
        mut input: AccountUpdate,
        audience: &Audience,
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
            let changed = user.email.as_deref() != Some(email.as_str());
            // An OAuth account's address passes the same rules as anyone's: the app shows it
            // as the user's, and it blocks that address for sign-ups (docs/contract.md §5.2).
            if changed {
                check_email(&mut errors, Some(&email));
            }
            if changed
                && !errors.has("email")
                && self.store.email_in_use(&email, Some(user.id)).await?
            {
                errors.add("email", errors::TAKEN);
            }
            if changed && s.confirmable && s.reconfirmable {
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
        attributes::check(&mut errors, &input.attributes);
        Attributes::split(input.attributes).apply(&mut updated);

        if require_current {
            self.check_current_password(&mut errors, user, input.current_password.as_deref())
                .await?;
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
        let saved = match self.save_user_changes(user, &updated).await {
            Ok(saved) => saved,
            Err(StoreError::Conflict) => {
                let mut errors = Errors::default();
                errors.add("email", errors::TAKEN);
                return Ok(UpdateOutcome::Invalid(errors));
            }
            Err(e) => return Err(e.into()),
        };
        if password_changed {
            self.end_other_sessions(user.id, Some(device_id)).await?;
            self.notify_password_change(&saved, audience).await;
        }
        if saved.email != user.email
            && let Some(new_email) = saved.email.as_deref()
        {
            self.notify_email_change(user.email.as_deref(), new_email, false, audience)
                .await;
        }
        let saved = match reconfirm_to {
            Some(new_email) => {
                let redirect = input
                    .confirm_success_url
                    .clone()
                    .or_else(|| s.default_confirm_success_url.clone())
                    .unwrap_or_default();
                let config = input.config_name.as_deref().unwrap_or("default");
                let mut pending = saved.clone();
                pending.unconfirmed_email = Some(new_email.clone());
                let pending = self.save_user_changes(&saved, &pending).await?;
                match self
                    .send_confirmation(&pending, &new_email, &redirect, config, audience)
                    .await
                {
                    Ok(sent) => {
                        events::email_changed(sent.id, true);
                        self.notify_email_change(user.email.as_deref(), &new_email, true, audience)
                            .await;
                        sent
                    }
                    Err(e) => {
                        // Nothing mailed, nothing pending: the change simply did not happen.
                        let mut reverted = pending.clone();
                        reverted.unconfirmed_email = user.unconfirmed_email.clone();
                        self.save_user_changes(&pending, &reverted).await?;
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
    ) -> Result<(), super::password::Busy> {
        let current = current.unwrap_or_default();
        let valid = !current.is_empty()
            && self
                .hasher
                .verify(current, Some(&user.encrypted_password))
                .await?;
        if !valid {
            let message = if current.is_empty() {
                errors::BLANK
            } else {
                errors::INVALID
            };
            errors.add("current_password", message);
        }
        Ok(())
    }

    /// `DELETE /auth`.
    pub async fn destroy(&self, user: &User) -> Result<bool, StoreError> {
        let Some(devices) = self.store.delete_user(user.id).await? else {
            return Ok(false);
        };
        events::device_revoked(user.id, 0, devices, Revocation::AccountDeleted);
        Ok(true)
    }

    /// `remove_tokens_after_password_reset`: after a password change, every device of the
    /// user but `keep` (the caller's) is signed out (docs/contract.md §3.9).
    pub(super) async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: Option<i64>,
    ) -> Result<(), StoreError> {
        if self.settings.remove_tokens_after_password_reset {
            let count = self.store.delete_other_devices(user_id, keep).await?;
            events::device_revoked(user_id, 0, count, Revocation::PasswordChanged);
        }
        Ok(())
    }

    /// The unsaved user that E3/E4 sign-up errors carry: `"id":null`, `"uid":""`.
    fn draft_json(
        &self,
        email: Option<&str>,
        attributes: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut draft = super::blank_user();
        draft.email = email.map(str::to_string);
        Attributes::split(attributes.clone()).apply(&mut draft);
        let mut json =
            super::user_json::user_json(&draft, &self.settings, super::user_json::Shape::Full).0;
        json.insert("id".into(), Value::Null);
        json.insert("created_at".into(), Value::Null);
        json.insert("updated_at".into(), Value::Null);
        json
    }
}
