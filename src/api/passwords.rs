//! `POST /auth/password`, `GET /auth/password/edit`, `PUT`/`PATCH /auth/password`
//! (docs/contract.md §2.7–2.9), with the redirect whitelist applied when the reset is requested and
//! again when the link is followed (docs/decisions.md D5).

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};

use super::{
    AccountsData, ApiTags, RequestTexts, busy_or_internal, client_of, internal, origin_of,
    security::TokenHeaders, too_many,
};
use crate::{
    accounts::{
        Accounts, Limited, LinkOutcome, LinkRequest, SignInMethod,
        recoverable::{PasswordOutcome, PasswordUpdate},
        user_json::{Shape, user_json},
    },
    contract::{
        ErrorBody, StatusErrorWithDataBody, SuccessMessageBody, SuccessUserMessageBody,
        SuccessValidationErrorBody, messages,
        params::{Param, Params, RequiredEmailParam, RequiredParam},
    },
    http::auth::RequestAuth,
    redirect::{Target, build_redirect_url, build_redirect_url_owned, credential_params},
};

#[derive(Debug, Object)]
pub struct ResetRequest {
    email: RequiredEmailParam,
    /// Where the mailed link lands (default: `default_password_reset_url`).
    redirect_url: Param,
    /// Copied into the link as `config`.
    config_name: Param,
}

#[derive(Debug, Object)]
pub struct PasswordUpdateRequest {
    password: RequiredParam,
    password_confirmation: RequiredParam,
    /// Required when `check_current_password_before_update` is set, unless the user came
    /// through a reset link.
    current_password: Param,
    /// With `require_client_password_reset_token`: the token from the link, instead of auth
    /// headers.
    reset_password_token: Param,
}

#[derive(Debug, ApiResponse)]
pub enum ResetResponse {
    /// Mailed (with `paranoid`, the same answer whether or not the account exists).
    #[oai(status = 200)]
    Sent(Json<SuccessMessageBody>),
    /// E1: no redirect URL, or no e-mail.
    #[oai(status = 401)]
    Missing(Json<ErrorBody>),
    /// E1: no e-mail user with that address.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// E3: the redirect URL is not allowed.
    #[oai(status = 422)]
    RedirectNotAllowed(Json<StatusErrorWithDataBody>),
    /// E1: too many reset requests from this address or for this e-mail
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
pub enum EditResponse {
    /// To the frontend with a new device's credentials and `reset_password=true`.
    #[oai(status = 302)]
    Redirect(#[oai(header = "location")] String),
    /// E1: no redirect URL.
    #[oai(status = 401)]
    MissingRedirect(Json<ErrorBody>),
    /// E1: unknown or expired reset token.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// E3: the redirect URL is not allowed.
    #[oai(status = 422)]
    RedirectNotAllowed(Json<StatusErrorWithDataBody>),
}

#[derive(Debug, ApiResponse)]
pub enum UpdateResponse {
    /// The new password is set; the auth headers carry the next token.
    #[oai(status = 200)]
    Updated(Json<SuccessUserMessageBody>),
    /// E1 `Unauthorized`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// E1 for an OAuth account or missing fields, E5 for validation errors.
    #[oai(status = 422)]
    Rejected(Json<PasswordRejection>),
    /// E1: password hashing is at capacity (`password_hash_queue`).
    #[oai(status = 503)]
    Busy(
        Json<ErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
}

#[derive(Debug, poem_openapi::Union)]
#[oai(one_of)]
pub enum PasswordRejection {
    /// E1.
    Message(ErrorBody),
    /// E5.
    Invalid(SuccessValidationErrorBody),
}

fn target(accounts: &Accounts, given: Option<String>) -> Target {
    accounts
        .redirects
        .target(given, accounts.settings.default_password_reset_url.as_ref())
}

fn not_allowed(url: &str, t: &RequestTexts<'_>) -> Json<StatusErrorWithDataBody> {
    Json(StatusErrorWithDataBody::new(
        t.text(&messages::redirect_not_allowed(url)),
        None,
    ))
}

#[derive(Default)]
pub struct Passwords;

#[OpenApi(tag = "ApiTags::Passwords")]
impl Passwords {
    /// Request a password reset
    ///
    /// Mails a reset link to an e-mail user.
    #[oai(path = "/auth/password", method = "post")]
    async fn request_reset(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        params: Params<ResetRequest>,
    ) -> poem::Result<ResetResponse> {
        let t = t.with_param(params.get("locale"));
        let redirect = match target(&accounts, params.get_string("redirect_url")) {
            Target::Url(url) => url,
            Target::Missing => {
                return Ok(ResetResponse::Missing(Json(ErrorBody::new(
                    t.text(&messages::MISSING_REDIRECT_URL),
                ))));
            }
            Target::NotAllowed(url) => {
                return Ok(ResetResponse::RedirectNotAllowed(not_allowed(&url, &t)));
            }
        };
        let config = params
            .get("config_name")
            .unwrap_or_else(|| "default".into());
        let request = LinkRequest::ResetPassword {
            redirect_url: redirect,
            config,
        };
        let sent = |message: String| {
            Ok(ResetResponse::Sent(Json(SuccessMessageBody {
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
                return Ok(too_many(ResetResponse::TooManyRequests, wait, &t));
            }
        };
        match outcome {
            LinkOutcome::Sent { email } => sent(t.text(&messages::password_reset_sent(&email))),
            LinkOutcome::Accepted => sent(t.text(&messages::PASSWORD_RESET_SENT_PARANOID)),
            LinkOutcome::MissingEmail | LinkOutcome::Unavailable => Ok(ResetResponse::Missing(
                Json(ErrorBody::new(t.text(&messages::MISSING_EMAIL))),
            )),
            LinkOutcome::NotFound { email } => Ok(ResetResponse::NotFound(Json(ErrorBody::new(
                t.text(&messages::user_with_email_not_found(&email)),
            )))),
            LinkOutcome::MailNotSent => Ok(ResetResponse::MailNotSent(Json(ErrorBody::new(
                t.text(&messages::MAIL_NOT_SENT),
            )))),
        }
    }

    /// Password reset link landing
    ///
    /// The link in the reset mail: signs a new device in and redirects to the frontend with
    /// its credentials and `reset_password=true`.
    #[oai(path = "/auth/password/edit", method = "get")]
    async fn edit(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        /// The token from the mail.
        reset_password_token: Query<Option<String>>,
        /// Where to land (default: `default_password_reset_url`).
        redirect_url: Query<Option<String>>,
        /// The frontend configuration name.
        config: Query<Option<String>>,
    ) -> poem::Result<EditResponse> {
        let url = match target(&accounts, redirect_url.0) {
            Target::Url(url) => url,
            Target::Missing => {
                return Ok(EditResponse::MissingRedirect(Json(ErrorBody::new(
                    t.text(&messages::MISSING_REDIRECT_URL),
                ))));
            }
            Target::NotAllowed(url) => {
                return Ok(EditResponse::RedirectNotAllowed(not_allowed(&url, &t)));
            }
        };
        let token = reset_password_token.0.unwrap_or_default();
        let Some(user) = accounts
            .user_for_reset_token(&token)
            .await
            .map_err(internal)?
        else {
            return Ok(EditResponse::NotFound(Json(ErrorBody::new(
                t.text(&messages::RESET_TOKEN_INVALID),
            ))));
        };
        let (user, session) = accounts
            .accept_reset_link(&user, &origin_of(req))
            .await
            .map_err(internal)?;
        let Some(session) = session else {
            // The mobile flow: the app trades the token for a session in PUT /auth/password.
            return Ok(EditResponse::Redirect(build_redirect_url(
                &url,
                &[("reset_password_token", Some(&token))],
            )));
        };
        if let Some(auth) = req.extensions().get::<RequestAuth>() {
            auth.set_cookie_for(&user, &session);
        }
        let mut params = credential_params(
            &accounts.settings.headers_names,
            &session.token,
            &session.device.client,
            session.device.expiry,
            &user.uid,
            Some(config.0.as_deref().unwrap_or("default")),
        );
        params.push(("reset_password".into(), Some("true".into())));
        params.push(("reset_password_token".into(), Some(token)));
        Ok(EditResponse::Redirect(build_redirect_url_owned(
            &url, &params,
        )))
    }

    /// Change password
    ///
    /// Sets a new password for the signed-in user (or, in the mobile flow, the holder of a
    /// reset token); PUT or PATCH.
    #[oai(path = "/auth/password", method = "put", method = "patch")]
    async fn update(
        &self,
        t: RequestTexts<'_>,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        req: &Request,
        params: Params<PasswordUpdateRequest>,
    ) -> poem::Result<UpdateResponse> {
        let t = t.with_param(params.get("locale"));
        update_password(&accounts, &auth, req, params, &t).await
    }
}

async fn update_password(
    accounts: &Accounts,
    auth: &RequestAuth,
    req: &Request,
    params: Params<PasswordUpdateRequest>,
    t: &RequestTexts<'_>,
) -> poem::Result<UpdateResponse> {
    let unauthorized = || {
        Ok(UpdateResponse::Unauthorized(Json(ErrorBody::new(
            t.text(&messages::UNAUTHORIZED),
        ))))
    };
    let p = &params.typed;
    let reset_token = p.reset_password_token.filled().map(str::to_string);
    let user = match reset_token {
        Some(token) if accounts.settings.require_client_password_reset_token => {
            let Some(user) = accounts
                .user_for_reset_token(&token)
                .await
                .map_err(internal)?
            else {
                return unauthorized();
            };
            let session = accounts
                .open_session(&user, &origin_of(req), SignInMethod::ResetToken)
                .await
                .map_err(internal)?;
            auth.issue(&user, session);
            user
        }
        _ => match auth
            .authenticate(Some(&params.raw))
            .await
            .map_err(internal)?
        {
            Some(user) => user,
            None => return unauthorized(),
        },
    };
    let input = PasswordUpdate {
        password: p.password.0.clone(),
        password_confirmation: p.password_confirmation.0.clone(),
        current_password: p.current_password.0.clone(),
    };
    let message = |m: String| {
        Ok(UpdateResponse::Rejected(Json(PasswordRejection::Message(
            ErrorBody::new(m),
        ))))
    };
    let outcome = match accounts
        .update_password(&user, auth.device_id(), input, &t.audience())
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => {
            return busy_or_internal(e, |secs| {
                UpdateResponse::Busy(Json(ErrorBody::new(t.text(&messages::BUSY))), secs)
            });
        }
    };
    match outcome {
        PasswordOutcome::Updated(user) => {
            auth.update_user(&user);
            Ok(UpdateResponse::Updated(Json(SuccessUserMessageBody {
                success: true,
                data: user_json(&user, &accounts.settings, Shape::Full),
                message: t.text(&messages::PASSWORD_UPDATED),
            })))
        }
        PasswordOutcome::NotRequired(provider) => {
            message(t.text(&messages::password_not_required(&provider)))
        }
        PasswordOutcome::MissingPasswords => message(t.text(&messages::MISSING_PASSWORDS)),
        PasswordOutcome::Invalid(errors) => Ok(UpdateResponse::Rejected(Json(
            PasswordRejection::Invalid(SuccessValidationErrorBody {
                success: false,
                errors: errors.to_body(t),
            }),
        ))),
    }
}
