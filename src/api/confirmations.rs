//! `POST /auth/confirmation` (resend) and `GET /auth/confirmation` (the mailed link's landing),
//! docs/contract.md §2.10–2.11, with the redirect whitelist applied to both (docs/decisions.md D5).

use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};

use super::{AccountsData, ApiTags, internal};
use crate::{
    accounts::{Accounts, LinkOutcome, LinkRequest, confirmable::ConfirmOutcome},
    contract::{
        ErrorBody, StatusErrorWithDataBody, SuccessMessageBody, messages,
        params::{Param, Params, RequiredEmailParam},
    },
    redirect::{Target, build_redirect_url},
};

#[derive(Debug, Object)]
pub struct ResendRequest {
    email: RequiredEmailParam,
    /// Where the new link lands (default: `default_confirm_success_url`).
    redirect_url: Param,
    /// Copied into the link as `config`.
    config_name: Param,
}

#[derive(Debug, ApiResponse)]
pub enum ResendResponse {
    /// Sent (or, with `paranoid`, perhaps not: the answer is the same).
    #[oai(status = 200)]
    Sent(Json<SuccessMessageBody>),
    /// E1: no e-mail given.
    #[oai(status = 401)]
    MissingEmail(Json<ErrorBody>),
    /// E1: no e-mail user with that address.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// E3: `redirect_url` not allowed by `redirect_whitelist`.
    #[oai(status = 422)]
    RedirectNotAllowed(Json<StatusErrorWithDataBody>),
    /// The e-mail could not be sent.
    #[oai(status = 503)]
    MailNotSent(Json<ErrorBody>),
}

#[derive(Debug, ApiResponse)]
pub enum ConfirmResponse {
    /// To `redirect_url` with `account_confirmation_success=true` or `false`.
    #[oai(status = 302)]
    Redirect(#[oai(header = "location")] String),
    /// E1: no redirect URL given and no `default_confirm_success_url`.
    #[oai(status = 404)]
    NoRedirect(Json<ErrorBody>),
    /// E3: `redirect_url` not allowed by `redirect_whitelist`.
    #[oai(status = 422)]
    RedirectNotAllowed(Json<StatusErrorWithDataBody>),
}

fn target(accounts: &Accounts, given: Option<String>) -> Target {
    accounts.redirects.target(
        given,
        accounts.settings.default_confirm_success_url.as_ref(),
    )
}

fn not_allowed(url: &str) -> Json<StatusErrorWithDataBody> {
    Json(StatusErrorWithDataBody::new(
        messages::redirect_not_allowed(url),
        None,
    ))
}

#[derive(Default)]
pub struct Confirmations;

#[OpenApi(tag = "ApiTags::Confirmations")]
impl Confirmations {
    /// Resend confirmation instructions
    ///
    /// Mails a new confirmation link to an e-mail user.
    #[oai(path = "/auth/confirmation", method = "post")]
    async fn resend(
        &self,
        accounts: AccountsData<'_>,
        params: Params<ResendRequest>,
    ) -> poem::Result<ResendResponse> {
        if params.typed.email.filled().is_none() {
            return Ok(ResendResponse::MissingEmail(Json(ErrorBody::new(
                messages::MISSING_EMAIL,
            ))));
        }
        let redirect = match target(&accounts, params.get_string("redirect_url")) {
            Target::Url(url) => url,
            // A link without a landing page cannot work; say so like a disallowed one.
            Target::Missing => String::new(),
            Target::NotAllowed(url) => {
                return Ok(ResendResponse::RedirectNotAllowed(not_allowed(&url)));
            }
        };
        let config = params
            .get("config_name")
            .unwrap_or_else(|| "default".into());
        let request = LinkRequest::Confirmation {
            redirect_url: redirect,
            config,
        };
        let sent = |message: String| {
            Ok(ResendResponse::Sent(Json(SuccessMessageBody {
                success: true,
                message,
            })))
        };
        match accounts
            .request_link(params.typed.email.as_deref(), request)
            .await
            .map_err(internal)?
        {
            LinkOutcome::Sent { email } => sent(messages::confirmation_sent(&email)),
            LinkOutcome::Accepted => sent(messages::CONFIRMATION_SENT_PARANOID.into()),
            LinkOutcome::MissingEmail | LinkOutcome::Unavailable => Ok(
                ResendResponse::MissingEmail(Json(ErrorBody::new(messages::MISSING_EMAIL))),
            ),
            LinkOutcome::NotFound { email } => Ok(ResendResponse::NotFound(Json(ErrorBody::new(
                messages::user_with_email_not_found(&email),
            )))),
            LinkOutcome::MailNotSent => Ok(ResendResponse::MailNotSent(Json(ErrorBody::new(
                messages::MAIL_NOT_SENT,
            )))),
        }
    }

    /// Confirmation link landing
    ///
    /// The link in the confirmation mail: confirms the account and redirects to the frontend.
    #[oai(path = "/auth/confirmation", method = "get")]
    async fn confirm(
        &self,
        accounts: AccountsData<'_>,
        /// The token from the mail.
        confirmation_token: Query<Option<String>>,
        /// Where to land (default: `default_confirm_success_url`).
        redirect_url: Query<Option<String>>,
        /// The frontend configuration name (`config_name` at sign-up).
        #[oai(name = "config")]
        _config: Query<Option<String>>,
    ) -> poem::Result<ConfirmResponse> {
        let url = match target(&accounts, redirect_url.0) {
            Target::Url(url) => url,
            Target::Missing => {
                return Ok(ConfirmResponse::NoRedirect(Json(ErrorBody::new(
                    "Not found.",
                ))));
            }
            Target::NotAllowed(url) => {
                return Ok(ConfirmResponse::RedirectNotAllowed(not_allowed(&url)));
            }
        };
        let token = confirmation_token.0.unwrap_or_default();
        let success = match accounts.confirm(&token).await.map_err(internal)? {
            ConfirmOutcome::Confirmed(_) => "true",
            ConfirmOutcome::Invalid => "false",
        };
        Ok(ConfirmResponse::Redirect(build_redirect_url(
            &url,
            &[("account_confirmation_success", Some(success))],
        )))
    }
}
