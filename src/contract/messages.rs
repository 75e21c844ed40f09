//! devise_token_auth's English message catalog (docs/contract.md §7): wire texts, quoted exactly.

pub const BAD_CREDENTIALS: &str = "Invalid login credentials. Please try again.";
pub const NOT_SUPPORTED: &str = "Use POST /sign_in to sign in. GET is not supported.";
pub const USER_NOT_LOGGED_IN: &str = "User was not found or was not logged in.";
pub const TOKEN_INVALID: &str = "Invalid login credentials";
pub const MISSING_CONFIRM_SUCCESS_URL: &str = "Missing 'confirm_success_url' parameter.";
pub const ACCOUNT_TO_DESTROY_NOT_FOUND: &str = "Unable to locate account for destruction.";
pub const USER_NOT_FOUND: &str = "User not found.";
pub const VALIDATE_SIGN_UP_PARAMS: &str = "Please submit proper sign up data in request body.";
pub const VALIDATE_ACCOUNT_UPDATE_PARAMS: &str =
    "Please submit proper account update data in request body.";
pub const LOCKED: &str =
    "Your account has been locked due to an excessive number of unsuccessful sign in attempts.";
pub const UNAUTHENTICATED: &str = "You need to sign in or sign up before continuing.";

pub fn not_confirmed(email: &str) -> String {
    format!(
        "A confirmation email was sent to your account at '{email}'. You must follow the \
         instructions in the email before your account can be activated"
    )
}

pub fn redirect_not_allowed(url: &str) -> String {
    format!("Redirect to '{url}' not allowed.")
}

pub fn account_destroyed(uid: &str) -> String {
    format!("Account with UID '{uid}' has been destroyed.")
}

/// toker's own: a mail transport failure (devise_token_auth would raise a 500).
pub const MAIL_NOT_SENT: &str = "The e-mail could not be sent. Please try again later.";
/// toker's own: the database is unreachable, restarting or refusing (docs/contract.md §2.0.4).
pub const UNAVAILABLE: &str = "The service is temporarily unavailable. Please try again later.";
/// toker's own: `/health` while the database is unavailable.
pub const DATABASE_UNREACHABLE: &str = "Database unreachable.";
pub const MISSING_EMAIL: &str = "You must provide an email address.";
/// toker's own: a request over an abuse limit (429, docs/decisions.md D16).
pub const TOO_MANY_REQUESTS: &str = "Too many attempts. Please try again later.";
/// toker's own: password hashing is at capacity (503, docs/decisions.md D16).
pub const BUSY: &str = "The server is busy. Please try again later.";

pub fn user_with_email_not_found(email: &str) -> String {
    format!("Unable to find user with email '{email}'.")
}

pub fn confirmation_sent(email: &str) -> String {
    format!(
        "An email has been sent to '{email}' containing instructions for confirming your account."
    )
}

pub const CONFIRMATION_SENT_PARANOID: &str = "If your email address exists in our database, you will receive an email with instructions for how to confirm your email address in a few minutes.";

pub const MISSING_REDIRECT_URL: &str = "Missing redirect URL.";
pub const PASSWORD_RESET_SENT_PARANOID: &str = "If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes.";
pub const MISSING_PASSWORDS: &str =
    "You must fill out the fields labeled 'Password' and 'Password confirmation'.";
pub const PASSWORD_UPDATED: &str = "Your password has been successfully updated.";
pub const UNAUTHORIZED: &str = "Unauthorized";
pub const UNLOCK_SENT_PARANOID: &str = "If your account exists, you will receive an email with instructions for how to unlock it in a few minutes.";
pub const LAST_ATTEMPT: &str = "You have one more attempt before your account is locked.";

pub fn password_reset_sent(email: &str) -> String {
    format!(
        "An email has been sent to '{email}' containing instructions for resetting your password."
    )
}

pub fn unlock_sent(email: &str) -> String {
    format!(
        "An email has been sent to '{email}' containing instructions for unlocking your account."
    )
}

/// `google_oauth2` → `Google oauth2`, as Rails' `humanize`.
pub fn password_not_required(provider: &str) -> String {
    format!(
        "This account does not require a password. Sign in using your '{}' account instead.",
        super::validation::humanize(provider)
    )
}
