//! Several user types (devise_token_auth's `mount_devise_token_auth_for 'Admin', at:
//! 'admin_auth'`): the top-level settings describe the default type `User`; each
//! `[[user_types]]` table adds a type with its own mount and any override of the account
//! settings. Every type shares the database (a `user_type` column) but none sees another's
//! users or tokens.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Settings, gateway::covers};

/// The user type of every existing row, and of the settings' top-level account options.
pub const DEFAULT_USER_TYPE: &str = "User";

/// One `[[user_types]]` table. Unset overrides take the top-level value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserTypeSettings {
    /// The type's name (DTA's resource class, `Admin`): stored on its users, sent in the
    /// `X-Toker-User-Type` identity header, and the folder of its mail templates.
    pub name: String,
    /// Path prefix of its devise_token_auth routes (`/admin_auth`).
    pub mount_path: String,
    /// Prefix of its provider callback URLs; unset: `<mount_path>/omniauth`.
    pub omniauth_prefix: Option<String>,
    pub confirmable: Option<bool>,
    pub lockable: Option<bool>,
    pub sign_up_attributes: Option<Vec<String>>,
    pub password_length: Option<[usize; 2]>,
    pub max_number_of_devices: Option<u32>,
    pub token_lifespan: Option<u64>,
    pub redirect_whitelist: Option<Vec<String>>,
    /// Which of the `[oauth.*]` providers this type may sign in with; unset: all of them.
    pub oauth_providers: Option<Vec<String>>,
}

fn bad(name: &str, setting: &str, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError::Load(format!(
        "invalid setting `user_types` (type `{name}`): `{setting}` {problem}"
    ))
}

impl UserTypeSettings {
    /// The type's settings: the top-level ones with this table's overrides applied.
    pub fn applied_to(&self, base: &Settings) -> Settings {
        let mut s = base.clone();
        s.user_types = Vec::new();
        s.mount_path = self.mount_path.clone();
        s.omniauth_prefix = self
            .omniauth_prefix
            .clone()
            .unwrap_or_else(|| format!("{}/omniauth", self.mount_path));
        let t = self.clone();
        s.confirmable = t.confirmable.unwrap_or(s.confirmable);
        s.lockable = t.lockable.unwrap_or(s.lockable);
        s.sign_up_attributes = t.sign_up_attributes.unwrap_or(s.sign_up_attributes);
        s.password_length = t.password_length.unwrap_or(s.password_length);
        s.max_number_of_devices = t.max_number_of_devices.unwrap_or(s.max_number_of_devices);
        s.token_lifespan = t.token_lifespan.unwrap_or(s.token_lifespan);
        if t.redirect_whitelist.is_some() {
            s.redirect_whitelist = t.redirect_whitelist;
        }
        if let Some(names) = &t.oauth_providers {
            s.oauth.retain(|name, _| names.contains(name));
        }
        // The gateway is built from the top-level settings; the type's copy of the routes
        // only serves to check that none shadows the type's paths.
        for route in &mut s.gateway.routes {
            route.user_type = None;
        }
        s
    }

    /// The prefixes the type's app answers: its mount and its OAuth callbacks.
    pub fn prefixes(&self) -> [String; 2] {
        let s = self.applied_to(&Settings::default());
        [s.mount_path, s.omniauth_prefix]
    }
}

impl Settings {
    /// Each additional type with its settings (the default type is `self`).
    pub fn additional_types(&self) -> Vec<(String, Settings)> {
        self.user_types
            .iter()
            .map(|t| (t.name.clone(), t.applied_to(self)))
            .collect()
    }

    /// `user_types`: names well formed and distinct, mounts that no other type or toker
    /// path covers, providers that exist, and each type's settings valid as a whole.
    pub(super) fn validate_user_types(&self) -> Result<(), ConfigError> {
        let mut taken: Vec<(String, String)> = vec![
            (DEFAULT_USER_TYPE.into(), self.mount_path.clone()),
            (DEFAULT_USER_TYPE.into(), self.omniauth_prefix.clone()),
            ("toker".into(), "/api".into()),
            ("toker".into(), "/docs".into()),
            ("toker".into(), "/openapi.json".into()),
            ("toker".into(), "/health".into()),
            ("toker".into(), "/ping".into()),
            ("toker".into(), "/.well-known".into()),
        ];
        let mut names = vec![DEFAULT_USER_TYPE.to_string()];
        for t in &self.user_types {
            let name = &t.name;
            let well_formed = !name.is_empty()
                && name.len() <= 64
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !well_formed {
                return Err(ConfigError::Load(format!(
                    "invalid setting `user_types`: `{name}` is not a type name (a letter, then \
                     letters, digits or `_`, at most 64)"
                )));
            }
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(ConfigError::Load(format!(
                    "invalid setting `user_types`: the type `{name}` is named twice (`{}` is \
                     the default type's name)",
                    DEFAULT_USER_TYPE
                )));
            }
            names.push(name.clone());
            let derived = t.applied_to(self);
            derived.validate().map_err(|e| {
                ConfigError::Load(format!("invalid setting `user_types` (type `{name}`): {e}"))
            })?;
            if derived.mount_path == "/" {
                return Err(bad(name, "mount_path", "cannot be `/`"));
            }
            if let Some(clash) = derived
                .oauth
                .keys()
                .find(|p| derived.omniauth_prefix == format!("{}/{p}", derived.mount_path))
            {
                return Err(bad(
                    name,
                    "omniauth_prefix",
                    format!("is the path of the provider `{clash}` below mount_path; set another"),
                ));
            }
            let unknown = t
                .oauth_providers
                .iter()
                .flatten()
                .find(|p| !self.oauth.contains_key(*p));
            if let Some(unknown) = unknown {
                return Err(bad(
                    name,
                    "oauth_providers",
                    format!("names `{unknown}`, which no [oauth.{unknown}] table configures"),
                ));
            }
            for (setting, prefix) in [
                ("mount_path", &derived.mount_path),
                ("omniauth_prefix", &derived.omniauth_prefix),
            ] {
                if let Some((owner, path)) = taken
                    .iter()
                    .find(|(_, path)| covers(path, prefix) || covers(prefix, path))
                {
                    return Err(bad(
                        name,
                        setting,
                        format!("`{prefix}` overlaps `{path}` ({owner})"),
                    ));
                }
            }
            for prefix in [&derived.mount_path, &derived.omniauth_prefix] {
                taken.push((format!("type `{name}`"), prefix.clone()));
            }
        }
        for route in &self.gateway.routes {
            if let Some(name) = &route.user_type
                && !names.contains(name)
            {
                return Err(ConfigError::Load(format!(
                    "invalid setting `gateway.routes`: route `{}` names the user type `{name}`, \
                     which is neither `{DEFAULT_USER_TYPE}` nor a `name` of [[user_types]]",
                    route.prefix
                )));
            }
        }
        Ok(())
    }
}
