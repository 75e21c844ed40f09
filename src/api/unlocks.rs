//! `POST /auth/unlock` (mail an unlock link) and `GET /auth/unlock` (its landing), docs/contract.md
//! §2.12–2.13. Served only when `lockable` is on and `unlock_strategy` includes e-mail.

use poem::Request;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};

use super::{AccountsData, ApiTags, RequestTexts, client_of, internal, origin_of, too_many};
use crate::{
    accounts::{Limited, LinkOutcome, LinkRequest},
    contract::{
        ErrorBody, SuccessMessageBody, messages,
        params::{Params, RequiredEmailParam},
    },
    redirect::{build_redirect_url_owned, credential_params},
};

#[derive(Debug, Object)]
pub struct UnlockRequest {
    email: RequiredEmailParam,
}

#[derive(Debug, ApiResponse)]
pub enum UnlockRequestResponse {
    /// Mailed (with `paranoid`, the same answer whether or not the account exists).
    #[oai(status = 200)]
    Sent(Json<SuccessMessageBody>),
    /// E1: no e-mail given.
    #[oai(status = 401)]
    MissingEmail(Json<ErrorBody>),
    /// E1: no e-mail user with that address, or unlocking by e-mail is off.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// E1: too many unlock requests from this address or for this e-mail
    /// (`mail_limit_per_ip`, `mail_limit_per_email`).
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
    /// The e-mail could not be sent.
    #[oai(status = 503)]
    MailNotSent(Json<ErrorBody>),
}

#[derive(Debug, ApiResponse)]
pub enum UnlockLinkResponse {
    /// To `unlock_success_url` with a new device's credentials and `unlock=true`.
    #[oai(status = 302)]
    Redirect(#[oai(header = "location")] String),
    /// E1: unknown or used token, or unlocking by e-mail is off.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

fn not_found(message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody::new(message))
}

#[derive(Default)]
pub struct Unlocks;

#[OpenApi(tag = "ApiTags::Unlocks")]
impl Unlocks {
    /// Request unlock instructions
    ///
    /// Mails an unlock link to an e-mail user.
    #[oai(path = "/auth/unlock", method = "post")]
    async fn request_unlock(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        params: Params<UnlockRequest>,
    ) -> poem::Result<UnlockRequestResponse> {
        let t = t.with_param(params.get("locale"));
        let sent = |message: String| {
            Ok(UnlockRequestResponse::Sent(Json(SuccessMessageBody {
                success: true,
                message,
            })))
        };
        let outcome = accounts
            .request_link_limited(
                client_of(req),
                params.typed.email.as_deref(),
                LinkRequest::Unlock,
                &t.audience(),
            )
            .await
            .map_err(internal)?;
        let outcome = match outcome {
            Limited::Ran(outcome) => outcome,
            Limited::Refused(wait) => {
                return Ok(too_many(UnlockRequestResponse::TooManyRequests, wait, &t));
            }
        };
        match outcome {
            LinkOutcome::Sent { email } => sent(t.text(&messages::unlock_sent(&email))),
            LinkOutcome::Accepted => sent(t.text(&messages::UNLOCK_SENT_PARANOID)),
            LinkOutcome::Unavailable => Ok(UnlockRequestResponse::NotFound(not_found(
                t.text(&messages::NOT_FOUND),
            ))),
            LinkOutcome::MissingEmail => Ok(UnlockRequestResponse::MissingEmail(Json(
                ErrorBody::new(t.text(&messages::MISSING_EMAIL)),
            ))),
            LinkOutcome::NotFound { email } => Ok(UnlockRequestResponse::NotFound(not_found(
                t.text(&messages::user_with_email_not_found(&email)),
            ))),
            LinkOutcome::MailNotSent => Ok(UnlockRequestResponse::MailNotSent(Json(
                ErrorBody::new(t.text(&messages::MAIL_NOT_SENT)),
            ))),
        }
    }

    /// Unlock link landing
    ///
    /// The link in the unlock mail: unlocks the account, signs a new device in and redirects
    /// to `unlock_success_url` with its credentials.
    #[oai(path = "/auth/unlock", method = "get")]
    async fn unlock(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        /// The token from the mail.
        unlock_token: Query<Option<String>>,
        /// The frontend configuration name.
        config: Query<Option<String>>,
    ) -> poem::Result<UnlockLinkResponse> {
        let invalid = || {
            Ok(UnlockLinkResponse::NotFound(not_found(
                t.text(&messages::UNLOCK_TOKEN_INVALID),
            )))
        };
        let token = unlock_token.0.unwrap_or_default();
        let Some((user, session)) = accounts
            .unlock_with_token(&token, &origin_of(req))
            .await
            .map_err(internal)?
        else {
            return invalid();
        };
        let s = &accounts.settings;
        // devise_token_auth builds this from the path `/` and produces `http://host:///?…`; the
        // same query goes to a real page here.
        let target = s
            .unlock_success_url
            .clone()
            .unwrap_or_else(|| format!("{}/", s.public_url()));
        let mut params = credential_params(
            &s.headers_names,
            &session.token,
            &session.device.client,
            session.device.expiry,
            &user.uid,
            Some(config.0.as_deref().unwrap_or("default")),
        );
        params.push(("unlock".into(), Some("true".into())));
        Ok(UnlockLinkResponse::Redirect(build_redirect_url_owned(
            &target, &params,
        )))
    }
}
