//! The message catalogue (docs/contract.md §7): every text toker answers with, as an id and its
//! values. The texts themselves live in `locales/<language>.ftl`, English exact as devise_token_auth
//! and Devise word it; the request's language renders them (`crate::locale`). Keeping ids here
//! and texts there lets the rules say *what* happened without knowing the reader's language.

/// A value a message inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    /// A number the wording may agree with (plural forms).
    Count(usize),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Arg {
        Arg::Count(n)
    }
}

/// One message: its id in the catalogue and the values it inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    id: &'static str,
    args: Vec<(&'static str, Arg)>,
}

impl Message {
    pub const fn new(id: &'static str) -> Message {
        Message {
            id,
            args: Vec::new(),
        }
    }

    /// This message with `$name` set to `value`.
    pub fn with(mut self, name: &'static str, value: impl Into<Arg>) -> Message {
        self.args.push((name, value.into()));
        self
    }

    pub fn id(&self) -> &'static str {
        self.id
    }

    pub fn args(&self) -> &[(&'static str, Arg)] {
        &self.args
    }
}

/// Renders messages in one language.
pub trait Translate {
    /// The message's text (English where the language lacks it).
    fn text(&self, message: &Message) -> String;

    /// The name of a model attribute (`password_confirmation`), where some language has one.
    fn attribute(&self, attribute: &str) -> Option<String>;
}

// Sessions and token validation.
pub const BAD_CREDENTIALS: Message = Message::new("sessions-bad-credentials");
pub const NOT_SUPPORTED: Message = Message::new("sessions-not-supported");
pub const USER_NOT_LOGGED_IN: Message = Message::new("sessions-user-not-found");
pub const TOKEN_INVALID: Message = Message::new("token-validations-invalid");
pub const LOCKED: Message = Message::new("locked");
pub const LAST_ATTEMPT: Message = Message::new("last-attempt");
pub const UNAUTHENTICATED: Message = Message::new("unauthenticated");

pub fn not_confirmed(email: &str) -> Message {
    Message::new("sessions-not-confirmed").with("email", email)
}

// Registrations.
pub const MISSING_CONFIRM_SUCCESS_URL: Message =
    Message::new("registrations-missing-confirm-success-url");
pub const ACCOUNT_TO_DESTROY_NOT_FOUND: Message =
    Message::new("registrations-account-to-destroy-not-found");
pub const USER_NOT_FOUND: Message = Message::new("registrations-user-not-found");
pub const VALIDATE_SIGN_UP_PARAMS: Message = Message::new("validate-sign-up-params");
pub const VALIDATE_ACCOUNT_UPDATE_PARAMS: Message = Message::new("validate-account-update-params");

pub fn redirect_not_allowed(url: &str) -> Message {
    Message::new("redirect-not-allowed").with("redirect_url", url)
}

pub fn account_destroyed(uid: &str) -> Message {
    Message::new("registrations-account-destroyed").with("uid", uid)
}

// Passwords, confirmations and unlocks.
pub const MISSING_EMAIL: Message = Message::new("missing-email");
pub const MISSING_REDIRECT_URL: Message = Message::new("passwords-missing-redirect-url");
pub const PASSWORD_RESET_SENT_PARANOID: Message = Message::new("passwords-sent-paranoid");
pub const MISSING_PASSWORDS: Message = Message::new("passwords-missing-passwords");
pub const PASSWORD_UPDATED: Message = Message::new("passwords-updated");
pub const UNAUTHORIZED: Message = Message::new("passwords-unauthorized");
pub const RESET_TOKEN_INVALID: Message = Message::new("passwords-reset-token-invalid");
pub const CONFIRMATION_SENT_PARANOID: Message = Message::new("confirmations-sent-paranoid");
pub const UNLOCK_SENT_PARANOID: Message = Message::new("unlocks-sent-paranoid");
pub const UNLOCK_TOKEN_INVALID: Message = Message::new("unlocks-token-invalid");

pub fn user_with_email_not_found(email: &str) -> Message {
    Message::new("user-with-email-not-found").with("email", email)
}

pub fn password_reset_sent(email: &str) -> Message {
    Message::new("passwords-sent").with("email", email)
}

pub fn confirmation_sent(email: &str) -> Message {
    Message::new("confirmations-sent").with("email", email)
}

pub fn unlock_sent(email: &str) -> Message {
    Message::new("unlocks-sent").with("email", email)
}

/// `google_oauth2` → `Google oauth2`, as Rails' `humanize`.
pub fn password_not_required(provider: &str) -> Message {
    Message::new("passwords-not-required").with("provider", humanize(provider))
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

// OAuth.
pub const INVALID_PROVIDER_TOKEN: Message = Message::new("invalid-provider-token");
pub const OMNIAUTH_NO_ORIGIN: Message = Message::new("omniauth-no-origin");

pub fn unknown_provider(name: &str) -> Message {
    Message::new("unknown-provider").with("name", name)
}

// toker's own.
/// A mail transport failure (devise_token_auth would raise a 500).
pub const MAIL_NOT_SENT: Message = Message::new("mail-not-sent");
/// The database is unreachable, restarting or refusing (docs/contract.md §2.0.4).
pub const UNAVAILABLE: Message = Message::new("unavailable");
/// `/health` while the database is unavailable.
pub const DATABASE_UNREACHABLE: Message = Message::new("database-unreachable");
/// A request over an abuse limit (429, docs/decisions.md D16).
pub const TOO_MANY_REQUESTS: Message = Message::new("too-many-requests");
/// Password hashing is at capacity (503, docs/decisions.md D16).
pub const BUSY: Message = Message::new("busy");
pub const NOT_FOUND: Message = Message::new("not-found");
pub const METHOD_NOT_ALLOWED: Message = Message::new("method-not-allowed");
pub const INTERNAL_ERROR: Message = Message::new("internal-error");
pub const BODY_TOO_LARGE: Message = Message::new("body-too-large");
pub const UNSUPPORTED_CONTENT_TYPE: Message = Message::new("unsupported-content-type");

/// Rails' validation messages (`errors.messages.*`) and how `full_messages` joins an attribute's
/// name to one (`errors.format`).
pub mod errors {
    use super::Message;

    pub const BLANK: Message = Message::new("errors-blank");
    pub const TAKEN: Message = Message::new("errors-taken");
    pub const INVALID: Message = Message::new("errors-invalid");
    /// `password_confirmation`'s: "doesn't match Password".
    pub const CONFIRMATION: Message = Message::new("errors-confirmation");
    pub const NOT_EMAIL: Message = Message::new("errors-not-email");

    pub fn too_short(count: usize) -> Message {
        Message::new("errors-too-short").with("count", count)
    }

    pub fn too_long(count: usize) -> Message {
        Message::new("errors-too-long").with("count", count)
    }

    /// toker's own: bcrypt's limit (docs/decisions.md D17).
    pub fn too_long_bytes(count: usize) -> Message {
        Message::new("errors-too-long-bytes").with("count", count)
    }

    /// A `full_messages` entry: the attribute's name and its message, joined as the language joins
    /// them (`Password is too short`, `パスワードは…`).
    pub fn full(attribute: String, message: String) -> Message {
        Message::new("errors-format")
            .with("attribute", attribute)
            .with("message", message)
    }

    /// The catalogue id of an attribute's name.
    pub fn attribute_id(attribute: &str) -> String {
        format!("attribute-{attribute}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_follows_rails() {
        assert_eq!(humanize("password_confirmation"), "Password confirmation");
        assert_eq!(humanize("google_oauth2"), "Google oauth2");
        assert_eq!(humanize("user_id"), "User");
        assert_eq!(humanize(""), "");
    }
}
