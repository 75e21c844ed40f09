//! `POST /auth/confirmation` (resend) and `GET /auth/confirmation` (the mailed link's landing),
//! docs/contract.md §2.10–2.11, with the redirect whitelist applied to both (docs/decisions.md D5).

use poem::Request;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Query,
    payload::{Html, Json},
};

use super::{AccountsData, ApiTags, RequestTexts, client_of, internal, too_many};
use crate::{
    accounts::{Accounts, Limited, LinkOutcome, LinkRequest, confirmable::ConfirmOutcome},
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
    /// E1: too many confirmation requests from this address or for this e-mail
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
pub enum ConfirmResponse {
    /// To `redirect_url` with `account_confirmation_success=true` or `false`.
    #[oai(status = 302)]
    Redirect(#[oai(header = "location")] String),
    /// Confirmed, with no redirect URL given and no `default_confirm_success_url` (the link of
    /// an e-mail change made without `confirm_success_url`): a page saying so.
    #[oai(status = 200)]
    ConfirmedPage(
        Html<&'static str>,
        #[oai(header = "content-security-policy")] String,
    ),
    /// E1: not confirmed, and no redirect URL given and no `default_confirm_success_url`.
    #[oai(status = 404)]
    NoRedirect(Json<ErrorBody>),
    /// E3: `redirect_url` not allowed by `redirect_whitelist`.
    #[oai(status = 422)]
    RedirectNotAllowed(Json<StatusErrorWithDataBody>),
}

/// The page of a confirmation link that names nowhere to go: static, so nothing to escape.
const CONFIRMED_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
    <title>E-mail address confirmed</title>\n</head>\n<body>\n\
    <p>Your e-mail address has been confirmed. You can close this page.</p>\n</body>\n</html>\n";
const CONFIRMED_PAGE_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn target(accounts: &Accounts, given: Option<String>) -> Target {
    accounts.redirects.target(
        given,
        accounts.settings.default_confirm_success_url.as_ref(),
    )
}

fn not_allowed(url: &str, t: &RequestTexts<'_>) -> Json<StatusErrorWithDataBody> {
    Json(StatusErrorWithDataBody::new(
        t.text(&messages::redirect_not_allowed(url)),
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
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        params: Params<ResendRequest>,
    ) -> poem::Result<ResendResponse> {
        let t = t.with_param(params.get("locale"));
        if params.typed.email.filled().is_none() {
            return Ok(ResendResponse::MissingEmail(Json(ErrorBody::new(
                t.text(&messages::MISSING_EMAIL),
            ))));
        }
        let redirect = match target(&accounts, params.get_string("redirect_url")) {
            Target::Url(url) => url,
            // A link without a landing page cannot work; say so like a disallowed one.
            Target::Missing => String::new(),
            Target::NotAllowed(url) => {
                return Ok(ResendResponse::RedirectNotAllowed(not_allowed(&url, &t)));
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
        let outcome = accounts
            .request_link_limited(
                client_of(req),
                params.typed.email.as_deref(),
                request,
                &t.audience(),
            )
            .await
            .map_err(internal)?;
        let outcome = match outcome {
            Limited::Ran(outcome) => outcome,
            Limited::Refused(wait) => {
                return Ok(too_many(ResendResponse::TooManyRequests, wait, &t));
            }
        };
        match outcome {
            LinkOutcome::Sent { email } => sent(t.text(&messages::confirmation_sent(&email))),
            LinkOutcome::Accepted => sent(t.text(&messages::CONFIRMATION_SENT_PARANOID)),
            LinkOutcome::MissingEmail | LinkOutcome::Unavailable => {
                Ok(ResendResponse::MissingEmail(Json(ErrorBody::new(
                    t.text(&messages::MISSING_EMAIL),
                ))))
            }
            LinkOutcome::NotFound { email } => Ok(ResendResponse::NotFound(Json(ErrorBody::new(
                t.text(&messages::user_with_email_not_found(&email)),
            )))),
            LinkOutcome::MailNotSent => Ok(ResendResponse::MailNotSent(Json(ErrorBody::new(
                t.text(&messages::MAIL_NOT_SENT),
            )))),
        }
    }

    /// Confirmation link landing
    ///
    /// The link in the confirmation mail: confirms the account and redirects to the frontend.
    #[oai(path = "/auth/confirmation", method = "get")]
    async fn confirm(
        &self,
        t: RequestTexts<'_>,
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
            Target::Url(url) => Some(url),
            // Still confirm: the link of an e-mail change made without `confirm_success_url`
            // has no landing page, and the new address must not stay unconfirmable.
            Target::Missing => None,
            Target::NotAllowed(url) => {
                return Ok(ConfirmResponse::RedirectNotAllowed(not_allowed(&url, &t)));
            }
        };
        let token = confirmation_token.0.unwrap_or_default();
        let confirmed = matches!(
            accounts.confirm(&token).await.map_err(internal)?,
            ConfirmOutcome::Confirmed(_)
        );
        Ok(match (url, confirmed) {
            (Some(url), _) => ConfirmResponse::Redirect(build_redirect_url(
                &url,
                &[(
                    "account_confirmation_success",
                    Some(if confirmed { "true" } else { "false" }),
                )],
            )),
            (None, true) => {
                ConfirmResponse::ConfirmedPage(Html(CONFIRMED_PAGE), CONFIRMED_PAGE_CSP.into())
            }
            (None, false) => {
                ConfirmResponse::NoRedirect(Json(ErrorBody::new(t.text(&messages::NOT_FOUND))))
            }
        })
    }
}
