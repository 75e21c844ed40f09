//! Model validations with Rails' wording: per-attribute messages in validation order and
//! `full_messages` with humanized attribute names (server.md §2.0.4, §5.2).

use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

use crate::api::contract::ValidationErrors;

/// DTA's e-mail format rule.
static EMAIL_FORMAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\A([^@\s]+)@((?:[-a-z0-9]+\.)+[a-z]{2,})\z").expect("valid regex")
});

/// Devise's `strip_whitespace_keys` and `case_insensitive_keys` for e-mail.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Errors in the order they were added.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    entries: Vec<(String, String)>,
}

impl Errors {
    pub fn add(&mut self, attribute: &str, message: &str) {
        self.entries
            .push((attribute.to_string(), message.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn has(&self, attribute: &str) -> bool {
        self.entries.iter().any(|(a, _)| a == attribute)
    }

    /// `{"attr": [msgs…], …, "full_messages": [...]}`.
    pub fn to_body(&self) -> ValidationErrors {
        let mut map = Map::new();
        for (attribute, message) in &self.entries {
            let list = map
                .entry(attribute.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(Value::String(message.clone()));
            }
        }
        let full: Vec<Value> = self
            .entries
            .iter()
            .map(|(a, m)| Value::String(format!("{} {m}", humanize(a))))
            .collect();
        map.insert("full_messages".into(), Value::Array(full));
        ValidationErrors(map)
    }
}

/// Rails' `humanize`: `password_confirmation` → `Password confirmation`.
pub fn humanize(attribute: &str) -> String {
    let text = attribute.trim_end_matches("_id").replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Longest e-mail (and so uid) the users table holds: 191 characters keeps its unique index
/// within MySQL's key size with utf8mb4.
pub const EMAIL_MAX_CHARS: usize = 191;
/// Longest `name`, `nickname` or `image` the users table holds.
pub const PROFILE_MAX_CHARS: usize = 255;

/// E-mail presence, format and length, for e-mail users.
pub fn check_email(errors: &mut Errors, email: Option<&str>) {
    match email {
        None | Some("") => errors.add("email", "can't be blank"),
        Some(e) if e.chars().count() > EMAIL_MAX_CHARS => errors.add(
            "email",
            &format!("is too long (maximum is {EMAIL_MAX_CHARS} characters)"),
        ),
        Some(e) if !EMAIL_FORMAT.is_match(e) => errors.add("email", "is not an email"),
        _ => {}
    }
}

/// Length of a profile column value.
pub fn check_profile_length(errors: &mut Errors, attribute: &str, value: Option<&str>) {
    if value.is_some_and(|v| v.chars().count() > PROFILE_MAX_CHARS) {
        errors.add(
            attribute,
            &format!("is too long (maximum is {PROFILE_MAX_CHARS} characters)"),
        );
    }
}

/// Devise validatable's password rules: presence when required, confirmation when a
/// confirmation was given, length within `[min, max]` unless blank.
pub fn check_password(
    errors: &mut Errors,
    password: Option<&str>,
    confirmation: Option<&str>,
    required: bool,
    [min, max]: [usize; 2],
) {
    let blank = password.is_none_or(|p| p.trim().is_empty());
    if required && blank {
        errors.add("password", "can't be blank");
    }
    if let Some(confirmation) = confirmation
        && Some(confirmation) != password
    {
        errors.add("password_confirmation", "doesn't match Password");
    }
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        let len = p.chars().count();
        if len < min {
            errors.add(
                "password",
                &format!("is too short (minimum is {min} characters)"),
            );
        } else if len > max {
            errors.add(
                "password",
                &format!("is too long (maximum is {max} characters)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_like_rails() {
        let mut e = Errors::default();
        check_password(&mut e, Some("abc"), Some("abd"), true, [6, 128]);
        let body = serde_json::to_value(&e.to_body().0).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "password_confirmation": ["doesn't match Password"],
                "password": ["is too short (minimum is 6 characters)"],
                "full_messages": [
                    "Password confirmation doesn't match Password",
                    "Password is too short (minimum is 6 characters)"
                ]
            })
        );
    }

    #[test]
    fn email_rules() {
        let check = |e: Option<&str>| {
            let mut errors = Errors::default();
            check_email(&mut errors, e);
            errors.to_body().0["full_messages"].clone()
        };
        assert_eq!(check(None), serde_json::json!(["Email can't be blank"]));
        assert_eq!(
            check(Some("nope")),
            serde_json::json!(["Email is not an email"])
        );
        assert_eq!(check(Some("ak+testing@gmail.com")), serde_json::json!([]));
        assert_eq!(normalize_email("  Alice@Example.COM "), "alice@example.com");
    }
}
