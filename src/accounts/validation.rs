//! Model validations with Rails' wording (docs/contract.md §5.2): the e-mail, password and profile
//! rules. The shape the messages are answered in is `contract::validation`.

use regex::Regex;
use std::sync::LazyLock;

use crate::contract::{messages::errors, validation::Errors};

/// DTA's e-mail format rule.
static EMAIL_FORMAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\A([^@\s]+)@((?:[-a-z0-9]+\.)+[a-z]{2,})\z").expect("valid regex")
});

/// Devise's `strip_whitespace_keys` and `case_insensitive_keys` for e-mail.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Longest e-mail (and so uid) the users table holds: 191 characters keeps its unique index
/// within MySQL's key size with utf8mb4.
pub const EMAIL_MAX_CHARS: usize = 191;
/// Longest `name`, `nickname` or `image` the users table holds.
pub const PROFILE_MAX_CHARS: usize = 255;

/// E-mail presence, format and length, for e-mail users.
pub fn check_email(errors: &mut Errors, email: Option<&str>) {
    match email {
        None | Some("") => errors.add("email", errors::BLANK),
        Some(e) if e.chars().count() > EMAIL_MAX_CHARS => {
            errors.add("email", errors::too_long(EMAIL_MAX_CHARS))
        }
        Some(e) if !EMAIL_FORMAT.is_match(e) => errors.add("email", errors::NOT_EMAIL),
        _ => {}
    }
}

/// Length of a profile column value.
pub fn check_profile_length(errors: &mut Errors, attribute: &str, value: Option<&str>) {
    if value.is_some_and(|v| v.chars().count() > PROFILE_MAX_CHARS) {
        errors.add(attribute, errors::too_long(PROFILE_MAX_CHARS));
    }
}

/// bcrypt reads at most 72 bytes and ignores the rest, so a longer password would be cut
/// silently: any text sharing its first 72 bytes would sign in. New passwords are refused
/// beyond it (existing hashes keep verifying as they were made). The limit is on the password
/// alone: Devise appends the pepper after it, so the pepper only fills whatever room the
/// password leaves, and subtracting the pepper's length would refuse every password under
/// Devise's usual 128-character pepper.
pub const PASSWORD_MAX_BYTES: usize = 72;

/// Devise validatable's password rules: presence when required, confirmation when a
/// confirmation was given, length within `[min, max]` unless blank; and at most
/// [`PASSWORD_MAX_BYTES`] bytes.
pub fn check_password(
    errors: &mut Errors,
    password: Option<&str>,
    confirmation: Option<&str>,
    required: bool,
    [min, max]: [usize; 2],
) {
    let blank = password.is_none_or(|p| p.trim().is_empty());
    if required && blank {
        errors.add("password", errors::BLANK);
    }
    if let Some(confirmation) = confirmation
        && Some(confirmation) != password
    {
        errors.add("password_confirmation", errors::CONFIRMATION);
    }
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        let len = p.chars().count();
        if len < min {
            errors.add("password", errors::too_short(min));
        } else if len > max {
            errors.add("password", errors::too_long(max));
        } else if p.len() > PASSWORD_MAX_BYTES {
            errors.add("password", errors::too_long_bytes(PASSWORD_MAX_BYTES));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locale::{Catalog, Locale};

    fn english() -> impl crate::contract::messages::Translate {
        static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::shipped);
        static EN: LazyLock<Locale> = LazyLock::new(Locale::english);
        CATALOG.texts(&EN)
    }

    #[test]
    fn password_rules_in_devise_order() {
        let check = |p: Option<&str>, c: Option<&str>, required: bool| {
            let mut errors = Errors::default();
            check_password(&mut errors, p, c, required, [6, 8]);
            errors.to_body(&english()).0["full_messages"].clone()
        };
        assert_eq!(
            check(Some("abc"), Some("abd"), true),
            serde_json::json!([
                "Password confirmation doesn't match Password",
                "Password is too short (minimum is 6 characters)"
            ])
        );
        assert_eq!(
            check(None, None, true),
            serde_json::json!(["Password can't be blank"])
        );
        assert_eq!(check(None, None, false), serde_json::json!([]));
        assert_eq!(
            check(Some("123456789"), None, true),
            serde_json::json!(["Password is too long (maximum is 8 characters)"])
        );
    }

    #[test]
    fn passwords_beyond_bcrypts_72_bytes_are_refused_in_bytes_not_characters() {
        let check = |p: &str| {
            let mut errors = Errors::default();
            check_password(&mut errors, Some(p), None, true, [6, 128]);
            errors.to_body(&english()).0["full_messages"].clone()
        };
        assert_eq!(check(&"a".repeat(72)), serde_json::json!([]));
        assert_eq!(
            check(&"a".repeat(73)),
            serde_json::json!(["Password is too long (maximum is 72 bytes)"])
        );
        // 25 characters of 3 bytes each: within 128 characters, over 72 bytes.
        assert_eq!(
            check(&"€".repeat(25)),
            serde_json::json!(["Password is too long (maximum is 72 bytes)"])
        );
        assert_eq!(check(&"€".repeat(24)), serde_json::json!([]));
    }

    #[test]
    fn email_rules() {
        let check = |e: Option<&str>| {
            let mut errors = Errors::default();
            check_email(&mut errors, e);
            errors.to_body(&english()).0["full_messages"].clone()
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
