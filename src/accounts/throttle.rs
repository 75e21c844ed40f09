//! The credential routes behind their abuse limits (docs/decisions.md D16). Each wrapper counts
//! the request by client address, then by e-mail address, and runs the rule only when both
//! allow it. A refused request does nothing else: no bcrypt, no failed-attempt count (so the
//! limits never hasten a lock), no lookup, no mail.
//!
//! The e-mail key is the address as given, normalised as sign-in normalises it, whether or not
//! an account has it: a refusal looks the same for every address and reveals nothing about which
//! accounts exist.
//!
//! A limit per e-mail address could lock a user out: anyone can spend the address's allowance.
//! For sign-in it therefore does not apply from the addresses the account last signed in from
//! (Devise's trackable columns): the owner at home or at work still gets in while someone
//! elsewhere hammers the address, and what a stranger can do to an account stays what
//! `lockable` lets them do.

use std::net::IpAddr;

use super::{
    Accounts, LinkOutcome, LinkRequest, Origin, SignInOutcome, SignUp, SignUpOutcome,
    validation::normalize_email,
};
use crate::{
    limits::{Decision, RetryAfter, RouteLimits},
    mail::Audience,
    store::StoreError,
};

/// A rule's outcome, or its refusal by a limit before it ran.
#[derive(Debug)]
pub enum Limited<T> {
    Ran(T),
    Refused(RetryAfter),
}

/// Which limit refused a request.
enum Refusal {
    Client(RetryAfter),
    /// The normalised address.
    Email(RetryAfter, String),
}

impl Refusal {
    fn retry_after(&self) -> RetryAfter {
        match self {
            Refusal::Client(wait) | Refusal::Email(wait, _) => *wait,
        }
    }
}

impl Accounts {
    /// Counts a request to `route`: `None` when it may go on.
    async fn over_limit(
        &self,
        route: &RouteLimits,
        client: IpAddr,
        email: Option<&str>,
    ) -> Option<Refusal> {
        if let Decision::Limited(wait) = self.limits.by_ip(route, client).await {
            return Some(Refusal::Client(wait));
        }
        let email = email.map(normalize_email).filter(|e| !e.is_empty())?;
        match self.limits.by_email(route, &email).await {
            Decision::Limited(wait) => Some(Refusal::Email(wait, email)),
            Decision::Allowed => None,
        }
    }

    /// Whether the account of `email` last signed in from `client`.
    async fn signed_in_from(&self, email: &str, client: IpAddr) -> Result<bool, StoreError> {
        let client = client.to_string();
        Ok(self
            .store
            .find_email_user(email)
            .await?
            .is_some_and(|user| {
                [&user.current_sign_in_ip, &user.last_sign_in_ip]
                    .into_iter()
                    .any(|ip| ip.as_deref() == Some(client.as_str()))
            }))
    }

    /// `POST /auth/sign_in` within `sign_in_limit_per_ip` and `sign_in_limit_per_email`.
    pub async fn sign_in_limited(
        &self,
        client: IpAddr,
        email: Option<&str>,
        password: Option<&str>,
        origin: &Origin,
        audience: &Audience,
    ) -> anyhow::Result<Limited<SignInOutcome>> {
        match self.over_limit(&self.limits.sign_in, client, email).await {
            None => {}
            Some(Refusal::Email(_, address)) if self.signed_in_from(&address, client).await? => {}
            Some(refusal) => return Ok(Limited::Refused(refusal.retry_after())),
        }
        Ok(Limited::Ran(
            self.sign_in(email, password, origin, audience).await?,
        ))
    }

    /// `POST /auth` within `sign_up_limit_per_ip` and `sign_up_limit_per_email`.
    pub async fn sign_up_limited(
        &self,
        client: IpAddr,
        input: SignUp,
        origin: &Origin,
        audience: &Audience,
    ) -> anyhow::Result<Limited<SignUpOutcome>> {
        if let Some(refusal) = self
            .over_limit(&self.limits.sign_up, client, input.email.as_deref())
            .await
        {
            return Ok(Limited::Refused(refusal.retry_after()));
        }
        Ok(Limited::Ran(self.sign_up(input, origin, audience).await?))
    }

    /// A reset, confirmation or unlock mail request within `mail_limit_per_ip` and
    /// `mail_limit_per_email`, each kind counted on its own.
    pub async fn request_link_limited(
        &self,
        client: IpAddr,
        email: Option<&str>,
        request: LinkRequest,
        audience: &Audience,
    ) -> Result<Limited<LinkOutcome>, StoreError> {
        let route = match request {
            LinkRequest::Confirmation { .. } => &self.limits.confirmation,
            LinkRequest::ResetPassword { .. } => &self.limits.reset,
            LinkRequest::Unlock => &self.limits.unlock,
        };
        if let Some(refusal) = self.over_limit(route, client, email).await {
            return Ok(Limited::Refused(refusal.retry_after()));
        }
        Ok(Limited::Ran(
            self.request_link(email, request, audience).await?,
        ))
    }
}
