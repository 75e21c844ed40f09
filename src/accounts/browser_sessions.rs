//! Browser sessions for static apps (docs/decisions.md D15): signing a browser in with the rules of
//! `POST /auth/sign_in` (rate limits, lockable, confirmable, paranoid), the session then bound to
//! the device that sign-in created, its idle and absolute lifetimes, and signing it out.

use std::net::IpAddr;

use super::{
    Accounts, Limited, Origin, SignInOutcome,
    events::{self, Revocation},
};
use crate::{
    mail::Audience,
    store::{StoreError, chain_of},
    tokens::{self, Accepted, Chain},
};

/// The account a browser session belongs to.
pub use crate::store::{BrowserSession, User};

/// Seconds between two writes of a session's last-seen time: a page making many requests
/// writes once a minute, not once per request.
const TOUCH_EVERY: i64 = 60;

/// A browser's sign-in attempt.
#[derive(Debug, Clone, Copy)]
pub struct BrowserAttempt<'a> {
    pub email: Option<&'a str>,
    pub password: Option<&'a str>,
    /// The session id the browser's cookie holds already, which the sign-in replaces.
    pub previous: Option<&'a str>,
    /// The registered app the browser signs in for.
    pub app: Option<&'a str>,
}

#[derive(Debug)]
pub enum BrowserSignIn {
    SignedIn {
        user: Box<User>,
        /// The cookie's id: the one copy of it, never stored.
        session_id: String,
    },
    /// Refused, for the reason `POST /auth/sign_in` would give.
    Refused(SignInOutcome),
}

impl Accounts {
    /// Signs the browser in, for `app` when a registered app asks. A session the browser
    /// already had (`previous`) ends: a sign-in always starts a new session id (session
    /// fixation).
    pub async fn sign_in_browser(
        &self,
        client: IpAddr,
        attempt: BrowserAttempt<'_>,
        origin: &Origin,
        audience: &Audience,
    ) -> anyhow::Result<Limited<BrowserSignIn>> {
        let BrowserAttempt {
            email,
            password,
            previous,
            app,
        } = attempt;
        let outcome = match self
            .sign_in_limited(client, email, password, origin, audience)
            .await?
        {
            Limited::Refused(wait) => return Ok(Limited::Refused(wait)),
            Limited::Ran(outcome) => outcome,
        };
        let SignInOutcome::SignedIn { user, session } = outcome else {
            return Ok(Limited::Ran(BrowserSignIn::Refused(outcome)));
        };
        if let Some(previous) = previous {
            self.end_browser_session(previous).await?;
        }
        let session_id = tokens::generate();
        let stored = self
            .store
            .create_browser_session(
                tokens::digest(&session_id),
                user.id,
                session.device.id,
                Self::now().timestamp(),
            )
            .await?;
        if let Some(app) = app {
            self.store.grant_browser_session(stored.id, app).await?;
        }
        events::browser_session(user.id, session.device.id, app, false);
        Ok(Limited::Ran(BrowserSignIn::SignedIn { user, session_id }))
    }

    /// The live session with cookie id `session_id`, and its user. A session past its idle or
    /// absolute lifetime ends here (its device with it); one whose account may no longer
    /// authenticate (locked, unconfirmed) is not live.
    pub async fn browser_session(
        &self,
        session_id: &str,
    ) -> Result<Option<(BrowserSession, User)>, StoreError> {
        let Some((session, user)) = self
            .store
            .find_browser_session(&tokens::digest(session_id))
            .await?
        else {
            return Ok(None);
        };
        let s = &self.settings;
        let now = Self::now();
        let now_s = now.timestamp();
        let expired = now_s - session.created_at >= s.session_lifetime as i64
            || now_s - session.seen_at >= s.session_idle_timeout as i64;
        if expired {
            if self.store.delete_device(session.device_id).await? {
                events::device_revoked(user.id, session.device_id, 1, Revocation::Expired);
            }
            return Ok(None);
        }
        if !s.bypass_sign_in && self.inactive_reason(&user, now).is_some() {
            return Ok(None);
        }
        if now_s - session.seen_at >= TOUCH_EVERY {
            self.store.touch_browser_session(session.id, now_s).await?;
            // The device cap evicts the least recently touched device first.
            self.store
                .touch_device(session.device_id, now.timestamp_millis())
                .await?;
        }
        Ok(Some((session, user)))
    }

    /// Whether a live session was granted to `app` (signed in from it, or through the hosted
    /// sign-in page for it).
    pub async fn session_granted(
        &self,
        session: &BrowserSession,
        app: &str,
    ) -> Result<bool, StoreError> {
        self.store.browser_session_granted(session.id, app).await
    }

    /// Grants a live session to `app`: one sign-in serves every app the user continues to.
    pub async fn grant_session(
        &self,
        session: &BrowserSession,
        app: &str,
    ) -> Result<(), StoreError> {
        self.store.grant_browser_session(session.id, app).await?;
        events::browser_session(session.user_id, session.device_id, Some(app), true);
        Ok(())
    }

    /// An OAuth sign-in of the hosted page becomes a browser session: the device the provider
    /// callback just created (named by `uid`, `client` and its first token, which came back
    /// through the browser's address bar) is taken over by a new session granted to `app`, and
    /// its token is replaced by one nobody holds, so the URL's copy is worthless. `None` when
    /// the token is not that device's current one.
    pub async fn adopt_oauth_device(
        &self,
        uid: &str,
        client: &str,
        token: &str,
        app: &str,
    ) -> Result<Option<(User, String)>, StoreError> {
        let Some((device, user)) = self.store.find_device(uid, client).await? else {
            return Ok(None);
        };
        let now = Self::now();
        let now_ms = now.timestamp_millis();
        let chain = chain_of(&device);
        if !matches!(
            tokens::check(&self.policy, &chain, token, now_ms),
            Ok(Accepted::Current)
        ) || (!self.settings.bypass_sign_in && self.inactive_reason(&user, now).is_some())
        {
            return Ok(None);
        }
        let unheld = Chain {
            token_hash: tokens::digest(&tokens::generate()),
            previous_token_hash: None,
            last_token_hash: None,
            expiry: chain.expiry,
            touched_at: now_ms,
            rotated_at: now_ms,
        };
        if !self
            .store
            .rotate_device(device.id, device.version, &unheld)
            .await?
        {
            return Ok(None);
        }
        let session_id = tokens::generate();
        let stored = self
            .store
            .create_browser_session(
                tokens::digest(&session_id),
                user.id,
                device.id,
                now.timestamp(),
            )
            .await?;
        self.store.grant_browser_session(stored.id, app).await?;
        events::browser_session(user.id, device.id, Some(app), false);
        Ok(Some((user, session_id)))
    }

    /// "Sign out everywhere": every device of the user ends, browser sessions with them.
    pub async fn sign_out_everywhere(&self, user: &User) -> Result<u64, StoreError> {
        let ended = self.store.delete_other_devices(user.id, None).await?;
        if ended > 0 {
            events::device_revoked(user.id, 0, ended, Revocation::SignOut);
        }
        Ok(ended)
    }

    /// Signs the session with cookie id `session_id` out (its device too); false when there
    /// was none.
    pub async fn end_browser_session(&self, session_id: &str) -> Result<bool, StoreError> {
        let Some((session, user)) = self
            .store
            .find_browser_session(&tokens::digest(session_id))
            .await?
        else {
            return Ok(false);
        };
        self.sign_out(user.id, session.device_id).await
    }
}
