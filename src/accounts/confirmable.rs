//! Devise's `:confirmable` (docs/contract.md §2.10–2.11): the confirmation mail, its resend and the
//! link landing. Confirmation tokens are stored as SHA-256 digests (devise_token_auth stores
//! them raw), so a database leak does not confirm accounts; a link works once.

use chrono::{DateTime, SubsecRound, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{
    Accounts,
    mailed_token::{MailFlowError, TokenKind},
};
use crate::{
    mail::{Audience, MailKind, MailValues},
    store::User,
    tokens,
};

/// What a confirmation link did.
#[derive(Debug)]
pub enum ConfirmOutcome {
    Confirmed(Box<User>),
    /// Unknown, already used, or expired (`confirm_within`).
    Invalid,
}

/// Confirmation tokens are derived, not drawn, so that a resend can mail the very token of the
/// earlier mail (docs/contract.md §2.10).
///
/// Devise keeps one confirmation token until it is used or expires and mails it again on every
/// resend, and users do click the older mail. toker stores only the token's SHA-256, so it cannot
/// read the token back; keeping a second digest valid would need a second indexed column and
/// would still lose the mail before last. Instead the token is an HMAC, under a key derived
/// from `secret_key`, of what identifies one issuance: the account, the address the mail goes
/// to, when it was issued (whole seconds, so every database stores it exactly), and the
/// account's password hash. A resend recomputes it and, when its digest is the stored one,
/// mails it again. So:
/// - a database leak alone still mints no link (the key is not in the database), and a leaked
///   `secret_key` alone does not either (the password hash is only in the database);
/// - a new pending address, a password change, expiry or use all end reuse: the next mail
///   then carries a fresh token, as Devise's would after expiry;
/// - without `secret_key` the key is random per process, so a resend handled by another
///   instance or after a restart mails a fresh token and the earlier link stops working.
#[derive(Clone)]
pub struct ConfirmationTokens {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for ConfirmationTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmationTokens")
    }
}

impl ConfirmationTokens {
    /// Keyed from `secret_key`, or from a random key when there is none.
    pub fn new(secret_key: Option<&[u8]>) -> ConfirmationTokens {
        let random;
        let secret = match secret_key {
            Some(secret) => secret,
            None => {
                random = tokens::generate() + &tokens::generate();
                random.as_bytes()
            }
        };
        // Its own key, so no other use of `secret_key` can be made to produce these tokens.
        let mut derive = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC accepts keys of any length");
        derive.update(b"toker confirmation tokens v1");
        let key = <Hmac<Sha256> as KeyInit>::new_from_slice(&derive.finalize().into_bytes())
            .expect("HMAC accepts keys of any length");
        ConfirmationTokens { key }
    }

    /// The token of one issuance.
    fn token(&self, user: &User, to: &str, sent_at: DateTime<Utc>) -> String {
        let mut mac = self.key.clone();
        for part in [
            user.id.to_string().as_bytes(),
            to.as_bytes(),
            sent_at.timestamp().to_string().as_bytes(),
            user.encrypted_password.as_bytes(),
        ] {
            // Length-prefixed, so no two different inputs read the same.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let tag = mac.finalize().into_bytes();
        let mut bytes = [0u8; 15];
        bytes.copy_from_slice(&tag[..15]);
        tokens::friendly_encoding(bytes)
    }
}

impl Accounts {
    fn confirmation_expired(&self, sent_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match (self.settings.confirm_within, sent_at) {
            (Some(secs), Some(sent)) => super::later(sent, secs) <= now,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The token of `user`'s pending confirmation mail to `to`, when that mail's link still
    /// works (see [`ConfirmationTokens`]).
    fn pending_confirmation_token(&self, user: &User, to: &str) -> Option<String> {
        let (Some(digest), Some(sent_at)) = (&user.confirmation_token, user.confirmation_sent_at)
        else {
            return None;
        };
        if self.confirmation_expired(Some(sent_at), Utc::now()) {
            return None;
        }
        let token = self.confirmation_tokens.token(user, to, sent_at);
        (tokens::digest(&token) == *digest).then_some(token)
    }

    /// Mails `to` a confirmation link for `user`: the link of the earlier mail while that one
    /// still works (as Devise), otherwise a new one. Without `redirect_url` the link lands on
    /// `default_confirm_success_url` or on toker's own page (docs/contract.md §2.11). Written
    /// for `audience`.
    pub async fn send_confirmation(
        &self,
        user: &User,
        to: &str,
        redirect_url: &str,
        config: &str,
        audience: &Audience,
    ) -> Result<User, MailFlowError> {
        let email = |token: &str| {
            let mut params = vec![
                ("config", Some(config)),
                ("confirmation_token", Some(token)),
            ];
            if !redirect_url.is_empty() {
                params.push(("redirect_url", Some(redirect_url)));
            }
            let link = self.api_link("/confirmation", &params);
            self.mailer.compose(
                MailKind::Confirmation,
                audience,
                to,
                &MailValues::link(link),
            )
        };
        if let Some(token) = self.pending_confirmation_token(user, to) {
            let sent = match email(&token) {
                Ok(message) => self.mailer.send(message).await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::error!(recipient = %to, error = %e, "confirmation mail not sent again");
                return Err(e.into());
            }
            return Ok(user.clone());
        }
        let sent_at = Utc::now().trunc_subsecs(0);
        let token = self.confirmation_tokens.token(user, to, sent_at);
        self.mail_issued_token(user, TokenKind::Confirmation, token, sent_at, email)
            .await
    }

    /// Follows a confirmation link: confirms the account, or applies a pending e-mail change.
    pub async fn confirm(&self, token: &str) -> anyhow::Result<ConfirmOutcome> {
        if token.is_empty() || token.len() > 255 {
            return Ok(ConfirmOutcome::Invalid);
        }
        let now = Utc::now();
        let Some(before) = self
            .store
            .find_by_confirmation_digest(&tokens::digest(token))
            .await?
        else {
            return Ok(ConfirmOutcome::Invalid);
        };
        let mut user = before.clone();
        let pending_change = user.unconfirmed_email.is_some();
        if (user.confirmed_at.is_some() && !pending_change)
            || self.confirmation_expired(user.confirmation_sent_at, now)
        {
            return Ok(ConfirmOutcome::Invalid);
        }
        user.confirmed_at = Some(now);
        user.confirmation_token = None;
        if let Some(email) = user.unconfirmed_email.take() {
            if user.provider == "email" {
                user.uid = email.clone();
            }
            user.email = Some(email);
        }
        user.updated_at = now;
        match self.save_user_changes(&before, &user).await {
            Ok(saved) => Ok(ConfirmOutcome::Confirmed(Box::new(saved))),
            // The new address was taken meanwhile by someone else.
            Err(crate::store::StoreError::Conflict) => Ok(ConfirmOutcome::Invalid),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        let mut u = crate::accounts::blank_user();
        u.id = 7;
        u.encrypted_password = "$2b$04$hash".into();
        u
    }

    #[test]
    fn a_token_names_one_issuance_to_one_address_under_one_key() {
        let keys = ConfirmationTokens::new(Some(b"the secret key"));
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let token = keys.token(&user(), "a@example.com", at);

        // Friendly-token shape, and the same inputs give the same token.
        assert_eq!(token.len(), 20);
        assert!(!token.contains(['l', 'I', 'O', '0']), "{token}");
        assert_eq!(token, keys.token(&user(), "a@example.com", at));
        assert_eq!(
            token,
            ConfirmationTokens::new(Some(b"the secret key")).token(&user(), "a@example.com", at)
        );

        // Any other account, address, second, password or key: another token.
        let mut other_id = user();
        other_id.id = 8;
        let mut other_password = user();
        other_password.encrypted_password = "$2b$04$other".into();
        for other in [
            keys.token(&other_id, "a@example.com", at),
            keys.token(&user(), "b@example.com", at),
            keys.token(&user(), "a@example.com", at + chrono::Duration::seconds(1)),
            keys.token(&other_password, "a@example.com", at),
            ConfirmationTokens::new(Some(b"another key")).token(&user(), "a@example.com", at),
            ConfirmationTokens::new(None).token(&user(), "a@example.com", at),
        ] {
            assert_ne!(other, token);
        }
    }

    #[test]
    fn without_a_secret_key_each_process_has_its_own_key() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_ne!(
            ConfirmationTokens::new(None).token(&user(), "a@example.com", at),
            ConfirmationTokens::new(None).token(&user(), "a@example.com", at)
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let keys = ConfirmationTokens::new(Some(b"the secret key"));
        assert_eq!(format!("{keys:?}"), "ConfirmationTokens");
    }
}
