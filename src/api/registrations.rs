//! `POST /auth`, `PUT`/`PATCH /auth`, `DELETE /auth` (docs/contract.md §2.1–2.3).

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, Union, payload::Json};

use super::{
    AccountsData, ApiTags, RequestTexts, busy_or_internal, client_of, internal, origin_of,
    security::TokenHeaders,
};
use crate::{
    accounts::{
        AccountUpdate, Limited, SignUp, SignUpOutcome, UpdateOutcome,
        attributes::permitted as permitted_attributes,
        user_json::{Shape, user_json},
    },
    contract::{
        ErrorBody, StatusDataBody, StatusErrorBody, StatusErrorWithDataBody, StatusMessageBody,
        UnsavedUser, ValidationErrorBody, messages,
        params::{EmailParam, Param, Params, RequiredEmailParam, RequiredParam},
    },
    http::auth::RequestAuth,
};

/// Sign-up parameters; the app's `sign_up_attributes` are accepted beside them.
#[derive(Debug, Object)]
pub struct SignUpRequest {
    /// The account's e-mail; lower-cased and stripped, it becomes the `uid`.
    email: RequiredEmailParam,
    password: RequiredParam,
    password_confirmation: Param,
    /// Where the confirmation link lands; required when `confirmable` is on and
    /// `default_confirm_success_url` is unset. Checked against `redirect_whitelist`.
    confirm_success_url: Param,
    /// Copied into the confirmation link as `config`.
    config_name: Param,
}

/// Account-update parameters; the app's `account_update_attributes` are accepted beside them.
#[derive(Debug, Object)]
pub struct AccountUpdateRequest {
    email: EmailParam,
    password: Param,
    password_confirmation: Param,
    /// Required per `check_current_password_before_update`.
    current_password: Param,
    /// With `confirmable` and `reconfirmable`: where the new address's confirmation link lands
    /// (default: `default_confirm_success_url`).
    confirm_success_url: Param,
    /// Copied into that link as `config`.
    config_name: Param,
}

/// Credential fallbacks in the body (redux-token-auth sends them there after a reload).
#[derive(Debug, Object)]
pub struct BodyCredentials {
    #[oai(rename = "access-token")]
    access_token: Param,
    client: Param,
    uid: Param,
}

/// The 422 answers of sign-up. `anyOf`, not `oneOf`: an E3 body also fits E2's schema.
#[derive(Debug, Union)]
pub enum SignUpRejection {
    /// E2: no sign-up parameter at all.
    NoParams(StatusErrorBody),
    /// E3: missing or disallowed `confirm_success_url`, with the unsaved user.
    Redirect(StatusErrorWithDataBody),
    /// E4: validation errors, with the unsaved user.
    Invalid(ValidationErrorBody),
}

#[derive(Debug, ApiResponse)]
pub enum SignUpResponse {
    /// The account was created. When it may sign in at once (not awaiting confirmation), the
    /// response carries the auth headers of a new device.
    #[oai(status = 200)]
    Created(Json<StatusDataBody>),
    /// E2, E3 or E4.
    #[oai(status = 422)]
    Rejected(Json<SignUpRejection>),
    /// E2: too many sign-ups from this address or for this e-mail (`sign_up_limit_per_ip`,
    /// `sign_up_limit_per_email`).
    #[oai(status = 429)]
    TooManyRequests(
        Json<StatusErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
    /// E1: the confirmation e-mail could not be sent (no account was created); or E2 with
    /// `Retry-After`: password hashing is at capacity (`password_hash_queue`).
    #[oai(status = 503)]
    Unavailable(
        Json<Unavailable>,
        /// With a busy hasher: whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        Option<u64>,
    ),
}

/// The 503 answers of sign-up and account update.
#[derive(Debug, Union)]
#[oai(one_of)]
pub enum Unavailable {
    /// E1: the mail could not be sent (docs/contract.md §2.1).
    MailNotSent(ErrorBody),
    /// E2, with `Retry-After`: password hashing is at capacity (docs/decisions.md D16).
    Busy(StatusErrorBody),
}

/// The 422 answers of account update. `anyOf`, not `oneOf`: an E3 body also fits E2's schema.
#[derive(Debug, Union)]
pub enum UpdateRejection {
    /// E2: no account-update parameter at all.
    NoParams(StatusErrorBody),
    /// E4: validation errors (auth headers still rotate).
    Invalid(ValidationErrorBody),
    /// E3: `confirm_success_url` (for a reconfirmation) not allowed.
    Redirect(StatusErrorWithDataBody),
}

#[derive(Debug, ApiResponse)]
pub enum UpdateResponse {
    /// Updated; `uid` follows a changed e-mail, already in this response's headers.
    #[oai(status = 200)]
    Updated(Json<StatusDataBody>),
    /// E2 `User not found.`: no valid credentials.
    #[oai(status = 404)]
    NotFound(Json<StatusErrorBody>),
    /// E2, E3 or E4.
    #[oai(status = 422)]
    Rejected(Json<UpdateRejection>),
    /// E1: the new address's confirmation e-mail could not be sent (nothing changed); or E2
    /// with `Retry-After`: password hashing is at capacity (`password_hash_queue`).
    #[oai(status = 503)]
    Unavailable(
        Json<Unavailable>,
        /// With a busy hasher: whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        Option<u64>,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum DestroyResponse {
    /// The account and all its devices are gone.
    #[oai(status = 200)]
    Destroyed(Json<StatusMessageBody>),
    /// E2 `Unable to locate account for destruction.`
    #[oai(status = 404)]
    NotFound(Json<StatusErrorBody>),
}

#[derive(Default)]
pub struct Registrations;

#[OpenApi(tag = "ApiTags::Registrations")]
impl Registrations {
    /// Sign up
    ///
    /// Creates an e-mail account. JSON and form-urlencoded bodies are both accepted.
    #[oai(path = "/auth", method = "post")]
    async fn sign_up(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        req: &Request,
        params: Params<SignUpRequest>,
    ) -> poem::Result<SignUpResponse> {
        let t = t.with_param(params.get("locale"));
        let attrs = &accounts.settings.sign_up_attributes;
        let attributes = permitted_attributes(&params.raw, attrs);
        let p = &params.typed;
        let input = SignUp {
            email: p.email.0.clone(),
            password: p.password.0.clone(),
            password_confirmation: p.password_confirmation.0.clone(),
            confirm_success_url: params.get_string("confirm_success_url"),
            config_name: params.get("config_name"),
            any_permitted: ["email", "password", "password_confirmation"]
                .iter()
                .any(|k| params.has(k))
                || !attributes.is_empty(),
            attributes,
        };
        let rejected = |r| Ok(SignUpResponse::Rejected(Json(r)));
        let outcome = match accounts
            .sign_up_limited(client_of(req), input, &origin_of(req), &t.audience())
            .await
        {
            Ok(Limited::Ran(outcome)) => outcome,
            Ok(Limited::Refused(wait)) => {
                return Ok(SignUpResponse::TooManyRequests(
                    Json(StatusErrorBody::new(t.text(&messages::TOO_MANY_REQUESTS))),
                    wait.secs(),
                ));
            }
            Err(e) => {
                return busy_or_internal(e, |secs| {
                    unavailable(SignUpResponse::Unavailable, Some(secs), &t)
                });
            }
        };
        match outcome {
            SignUpOutcome::Created { user, session } => {
                if let Some(session) = session {
                    auth.issue(&user, session);
                }
                let data = user_json(&user, &accounts.settings, Shape::Full);
                Ok(SignUpResponse::Created(Json(StatusDataBody::new(data))))
            }
            SignUpOutcome::MailNotSent => Ok(unavailable(SignUpResponse::Unavailable, None, &t)),
            SignUpOutcome::NoParams => rejected(SignUpRejection::NoParams(StatusErrorBody::new(
                t.text(&messages::VALIDATE_SIGN_UP_PARAMS),
            ))),
            SignUpOutcome::MissingConfirmUrl(draft) => {
                rejected(SignUpRejection::Redirect(StatusErrorWithDataBody::new(
                    t.text(&messages::MISSING_CONFIRM_SUCCESS_URL),
                    Some(UnsavedUser(draft)),
                )))
            }
            SignUpOutcome::RedirectNotAllowed(url, draft) => {
                rejected(SignUpRejection::Redirect(StatusErrorWithDataBody::new(
                    t.text(&messages::redirect_not_allowed(&url)),
                    Some(UnsavedUser(draft)),
                )))
            }
            SignUpOutcome::Invalid(errors, draft) => {
                rejected(SignUpRejection::Invalid(ValidationErrorBody {
                    status: "error".into(),
                    data: Some(UnsavedUser(draft)),
                    errors: errors.to_body(&t),
                }))
            }
        }
    }

    /// Update account
    ///
    /// Changes e-mail, password or permitted attributes of the signed-in user (PUT or PATCH).
    #[oai(path = "/auth", method = "put", method = "patch")]
    async fn update(
        &self,
        t: RequestTexts<'_>,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        params: Params<AccountUpdateRequest>,
    ) -> poem::Result<UpdateResponse> {
        let t = t.with_param(params.get("locale"));
        update_account(&accounts, &auth, params, &t).await
    }

    /// Delete account
    ///
    /// Deletes the signed-in user and every device of it.
    #[oai(path = "/auth", method = "delete")]
    async fn destroy(
        &self,
        t: RequestTexts<'_>,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        params: Params<BodyCredentials>,
    ) -> poem::Result<DestroyResponse> {
        let not_found = || {
            DestroyResponse::NotFound(Json(StatusErrorBody::new(
                t.text(&messages::ACCOUNT_TO_DESTROY_NOT_FOUND),
            )))
        };
        let Some(user) = auth
            .authenticate(Some(&params.raw))
            .await
            .map_err(internal)?
        else {
            return Ok(not_found());
        };
        auth.silence();
        if !accounts.destroy(&user).await.map_err(internal)? {
            return Ok(not_found());
        }
        Ok(DestroyResponse::Destroyed(Json(StatusMessageBody {
            status: "success".into(),
            message: t.text(&messages::account_destroyed(&user.uid)),
        })))
    }
}

async fn update_account(
    accounts: &crate::accounts::Accounts,
    auth: &RequestAuth,
    params: Params<AccountUpdateRequest>,
    t: &RequestTexts<'_>,
) -> poem::Result<UpdateResponse> {
    let attributes =
        permitted_attributes(&params.raw, &accounts.settings.account_update_attributes);
    let p = &params.typed;
    let any_permitted = [
        "email",
        "password",
        "password_confirmation",
        "current_password",
    ]
    .iter()
    .any(|k| params.has(k))
        || !attributes.is_empty();
    if !any_permitted {
        return Ok(UpdateResponse::Rejected(Json(UpdateRejection::NoParams(
            StatusErrorBody::new(t.text(&messages::VALIDATE_ACCOUNT_UPDATE_PARAMS)),
        ))));
    }
    let Some(user) = auth
        .authenticate(Some(&params.raw))
        .await
        .map_err(internal)?
    else {
        return Ok(UpdateResponse::NotFound(Json(StatusErrorBody::new(
            t.text(&messages::USER_NOT_FOUND),
        ))));
    };
    let input = AccountUpdate {
        email: p.email.0.clone(),
        password: p.password.0.clone(),
        password_confirmation: p.password_confirmation.0.clone(),
        current_password: p.current_password.0.clone(),
        current_password_sent: params.has("current_password"),
        password_sent: params.has("password"),
        attributes,
        any_permitted,
        confirm_success_url: params.get_string("confirm_success_url"),
        config_name: params.get("config_name"),
    };
    if let Some(url) = &input.confirm_success_url
        && !accounts.redirects.allows(url)
    {
        return Ok(UpdateResponse::Rejected(Json(UpdateRejection::Redirect(
            StatusErrorWithDataBody::new(t.text(&messages::redirect_not_allowed(url)), None),
        ))));
    }
    let device_id = auth.device_id().unwrap_or_default();
    let outcome = match accounts
        .update(&user, device_id, input, &t.audience())
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => {
            return busy_or_internal(e, |secs| {
                unavailable(UpdateResponse::Unavailable, Some(secs), t)
            });
        }
    };
    match outcome {
        UpdateOutcome::Updated(updated) => {
            auth.update_user(&updated);
            let data = user_json(&updated, &accounts.settings, Shape::Full);
            Ok(UpdateResponse::Updated(Json(StatusDataBody::new(data))))
        }
        UpdateOutcome::MailNotSent => Ok(unavailable(UpdateResponse::Unavailable, None, t)),
        UpdateOutcome::Invalid(errors) => Ok(UpdateResponse::Rejected(Json(
            UpdateRejection::Invalid(ValidationErrorBody {
                status: "error".into(),
                data: None,
                errors: errors.to_body(t),
            }),
        ))),
    }
}

/// The 503 of sign-up and account update: with `Retry-After` the password hasher is at
/// capacity (E2), without it the confirmation mail could not be sent (E1).
fn unavailable<R>(
    variant: fn(Json<Unavailable>, Option<u64>) -> R,
    retry_after: Option<u64>,
    t: &RequestTexts<'_>,
) -> R {
    let body = match retry_after {
        Some(_) => Unavailable::Busy(StatusErrorBody::new(t.text(&messages::BUSY))),
        None => Unavailable::MailNotSent(ErrorBody::new(t.text(&messages::MAIL_NOT_SENT))),
    };
    variant(Json(body), retry_after)
}
