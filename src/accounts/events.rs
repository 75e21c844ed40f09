//! Security events (docs/decisions.md D17): each is one structured log line under the target
//! `toker::security` with an `event` field, so an operator can route them apart from the
//! request log (`RUST_LOG=toker::security=info`, a JSON shipper keyed on `event`). A line holds
//! ids, reasons and the client's address, never a secret: no password, token, token digest,
//! mailed link, and not the e-mail typed at a failed sign-in (people type passwords there).
//! A field whose value is unknown (`None`) is left out of the line.

use crate::{metrics::Metrics, tokens::Refused};

/// How a device came to be signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// `POST /auth/sign_in`.
    Password,
    /// `POST /auth` when the new account may sign in at once.
    SignUp,
    /// An OAuth callback or the native token exchange.
    Provider,
    /// The reset link's landing (`GET /auth/password/edit`).
    ResetLink,
    /// The mobile reset flow: `PUT /auth/password` with the reset token.
    ResetToken,
    /// The unlock link's landing (`GET /auth/unlock`).
    UnlockLink,
}

impl SignInMethod {
    fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::SignUp => "sign_up",
            SignInMethod::Provider => "provider",
            SignInMethod::ResetLink => "reset_link",
            SignInMethod::ResetToken => "reset_token",
            SignInMethod::UnlockLink => "unlock_link",
        }
    }
}

/// Why a password sign-in failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInFailure {
    /// No e-mail account has the address (which is not logged).
    UnknownAccount,
    MissingPassword,
    WrongPassword,
    Locked,
    Unconfirmed,
    /// Every remaining attempt is being checked by parallel requests: this one was not.
    NoAttemptLeft,
}

impl SignInFailure {
    fn as_str(self) -> &'static str {
        match self {
            SignInFailure::UnknownAccount => "unknown_account",
            SignInFailure::MissingPassword => "missing_password",
            SignInFailure::WrongPassword => "wrong_password",
            SignInFailure::Locked => "locked",
            SignInFailure::Unconfirmed => "unconfirmed",
            SignInFailure::NoAttemptLeft => "no_attempt_left",
        }
    }
}

/// Why devices stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    SignOut,
    /// `remove_tokens_after_password_reset`: the user's other devices.
    PasswordChanged,
    /// Deleted by the device cap, or as expired when a new device was created.
    Evicted,
    /// Met by a request after its expiry.
    Expired,
    AccountDeleted,
    /// By an operator (`toker devices revoke`).
    Admin,
}

impl Revocation {
    fn as_str(self) -> &'static str {
        match self {
            Revocation::SignOut => "sign_out",
            Revocation::PasswordChanged => "password_changed",
            Revocation::Evicted => "evicted",
            Revocation::Expired => "expired",
            Revocation::AccountDeleted => "account_deleted",
            Revocation::Admin => "admin",
        }
    }
}

/// `event="sign_in"`: a new device is signed in.
pub fn sign_in(
    metrics: &Metrics,
    user_id: i64,
    provider: &str,
    device_id: i64,
    method: SignInMethod,
    ip: Option<&str>,
) {
    metrics.signed_in(method.as_str());
    tracing::info!(
        target: "toker::security",
        event = "sign_in",
        user_id,
        provider,
        device_id,
        method = method.as_str(),
        ip,
        "signed in"
    );
}

/// `event="browser_session"`: a browser session began for (or was granted to) a registered
/// app — the sign-in attributed to the app (docs/decisions.md D15). `app` is absent for a
/// session opened from `cors_origins` or toker's own page without an app.
pub fn browser_session(user_id: i64, device_id: i64, app: Option<&str>, granted: bool) {
    tracing::info!(
        target: "toker::security",
        event = "browser_session",
        user_id,
        device_id,
        app,
        action = if granted { "granted" } else { "opened" },
        "browser session"
    );
}

/// `event="sign_in_failed"`: a password sign-in was refused. `user_id` is absent for an unknown
/// account; `attempts` is the account's failed-attempt count when lockable counts them.
pub fn sign_in_failed(
    metrics: &Metrics,
    user_id: Option<i64>,
    reason: SignInFailure,
    attempts: Option<i32>,
    ip: Option<&str>,
) {
    metrics.sign_in_failed(reason.as_str());
    tracing::warn!(
        target: "toker::security",
        event = "sign_in_failed",
        user_id,
        reason = reason.as_str(),
        attempts,
        ip,
        "sign-in refused"
    );
}

/// `event="account_locked"`: failed attempts reached `maximum_attempts`.
pub fn account_locked(metrics: &Metrics, user_id: i64, attempts: i32, ip: Option<&str>) {
    metrics.account_locked();
    tracing::warn!(
        target: "toker::security",
        event = "account_locked",
        user_id,
        attempts,
        ip,
        "account locked"
    );
}

/// `event="account_unlocked"`: by the mailed link (`via="link"`) or because `unlock_in` is
/// over (`via="time"`, noticed at the next sign-in attempt).
pub fn account_unlocked(user_id: i64, via: &'static str) {
    tracing::info!(target: "toker::security", event = "account_unlocked", user_id, via, "account unlocked");
}

/// `event="password_changed"`.
pub fn password_changed(user_id: i64) {
    tracing::info!(target: "toker::security", event = "password_changed", user_id, "password changed");
}

/// `event="email_changed"`: `pending=true` when the new address waits for its confirmation
/// (`reconfirmable`), `false` when the account's address changed.
pub fn email_changed(user_id: i64, pending: bool) {
    tracing::info!(
        target: "toker::security",
        event = "email_changed",
        user_id,
        pending,
        "e-mail changed"
    );
}

/// `event="device_revoked"`: `count` devices of the user stopped working; `device_id` is the
/// one device when it is a single known one (0 otherwise).
pub fn device_revoked(user_id: i64, device_id: i64, count: u64, reason: Revocation) {
    if count == 0 {
        return;
    }
    tracing::info!(
        target: "toker::security",
        event = "device_revoked",
        user_id,
        device_id,
        count,
        reason = reason.as_str(),
        "device revoked"
    );
}

/// `event="token_refused"`: credentials named an existing device but its token was not
/// accepted: expired, rotated away past its grace, or not one of the device's tokens (replayed
/// from long ago, or guessed).
pub fn token_refused(user_id: i64, device_id: i64, reason: Refused, ip: Option<&str>) {
    tracing::warn!(
        target: "toker::security",
        event = "token_refused",
        user_id,
        device_id,
        reason = reason.as_str(),
        ip,
        "token refused"
    );
}

/// `event="imported_token_upgraded"`: a device imported from devise_token_auth was used for the
/// first time; its bcrypt token hash was checked and replaced by a digest (docs/decisions.md D2).
pub fn imported_token_upgraded(user_id: i64, device_id: i64) {
    tracing::info!(
        target: "toker::security",
        event = "imported_token_upgraded",
        user_id,
        device_id,
        "imported device upgraded"
    );
}

/// `event="account_created"`: outside sign-up (`via="admin"`: `toker users create`).
pub fn account_created(user_id: i64, provider: &str, via: &'static str) {
    tracing::info!(
        target: "toker::security",
        event = "account_created",
        user_id,
        provider,
        via,
        "account created"
    );
}

/// `event="account_confirmed"`: outside a confirmation link (`via="admin"`).
pub fn account_confirmed(user_id: i64, via: &'static str) {
    tracing::info!(target: "toker::security", event = "account_confirmed", user_id, via, "account confirmed");
}

/// `event="account_deleted"`: outside `DELETE /auth` (`via="admin"`).
pub fn account_deleted(user_id: i64, via: &'static str) {
    tracing::info!(target: "toker::security", event = "account_deleted", user_id, via, "account deleted");
}
