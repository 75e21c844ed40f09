//! `POST /auth/sign_in`, `GET /auth/sign_in` (405), `DELETE /auth/sign_out` (docs/contract.md §2.4–2.5).

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    AccountsData, ApiTags, busy_or_internal, client_of, internal, origin_of,
    registrations::BodyCredentials, security::TokenHeaders, too_many,
};
use crate::{
    accounts::{
        Limited, SignInOutcome,
        user_json::{Shape, user_json},
    },
    contract::{
        DataBody, ErrorBody, SuccessBody,
        messages::{self, Message},
        params::{Params, RequiredEmailParam, RequiredParam},
    },
    http::{auth::RequestAuth, locale::RequestTexts},
};

#[derive(Debug, Object)]
pub struct SignInRequest {
    email: RequiredEmailParam,
    password: RequiredParam,
}

#[derive(Debug, ApiResponse)]
pub enum SignInResponse {
    /// Signed in on a new device: the body has the user, the headers its first token.
    #[oai(status = 200)]
    SignedIn(Json<DataBody>),
    /// E1: bad credentials, or (unless `paranoid`) an unconfirmed or locked account.
    #[oai(status = 401)]
    Refused(Json<ErrorBody>),
    /// E1: too many attempts from this address or for this e-mail (`sign_in_limit_per_ip`,
    /// `sign_in_limit_per_email`); nothing was checked and no failed attempt counted.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
    /// E1: password checking is at capacity (`password_hash_queue`).
    #[oai(status = 503)]
    Busy(
        Json<ErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum SignInGetResponse {
    /// E1: sign-in is POST only.
    #[oai(status = 405)]
    MethodNotAllowed(
        Json<ErrorBody>,
        /// `POST`.
        #[oai(header = "allow")]
        String,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum SignOutResponse {
    /// This device's token is gone; the user's other devices stay signed in.
    #[oai(status = 200)]
    SignedOut(Json<SuccessBody>),
    /// E1: no valid credentials.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

#[derive(Default)]
pub struct Sessions;

#[OpenApi(tag = "ApiTags::Sessions")]
impl Sessions {
    /// Sign in
    ///
    /// Checks e-mail and password and creates a new device (client) with its first token.
    #[oai(path = "/auth/sign_in", method = "post")]
    async fn sign_in(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        req: &Request,
        params: Params<SignInRequest>,
    ) -> poem::Result<SignInResponse> {
        let t = t.with_param(params.get("locale"));
        let refused = |m: Message| Ok(SignInResponse::Refused(Json(ErrorBody::new(t.text(&m)))));
        let outcome = accounts
            .sign_in_limited(
                client_of(req),
                params.typed.email.as_deref(),
                params.typed.password.as_deref(),
                &origin_of(req),
                &t.audience(),
            )
            .await;
        let outcome = match outcome {
            Ok(Limited::Ran(outcome)) => outcome,
            Ok(Limited::Refused(wait)) => {
                return Ok(too_many(SignInResponse::TooManyRequests, wait, &t));
            }
            Err(e) => {
                return busy_or_internal(e, |secs| {
                    SignInResponse::Busy(Json(ErrorBody::new(t.text(&messages::BUSY))), secs)
                });
            }
        };
        match outcome {
            SignInOutcome::SignedIn { user, session } => {
                auth.issue(&user, *session);
                Ok(SignInResponse::SignedIn(Json(DataBody {
                    data: user_json(&user, &accounts.settings, Shape::Lite),
                })))
            }
            SignInOutcome::BadCredentials => refused(messages::BAD_CREDENTIALS),
            SignInOutcome::LastAttempt => refused(messages::LAST_ATTEMPT),
            SignInOutcome::Locked => refused(messages::LOCKED),
            SignInOutcome::NotConfirmed(email) => refused(messages::not_confirmed(&email)),
        }
    }

    /// Sign in with GET: always 405 with devise_token_auth's message. Not in the document,
    /// which lists what the server serves: this only says what it does not.
    #[oai(path = "/auth/sign_in", method = "get", hidden)]
    async fn sign_in_get(&self, t: RequestTexts<'_>) -> SignInGetResponse {
        SignInGetResponse::MethodNotAllowed(
            Json(ErrorBody::new(t.text(&messages::NOT_SUPPORTED))),
            "POST".into(),
        )
    }

    /// Sign out
    ///
    /// Deletes the calling device's token. Credentials may also come in the query or the body
    /// (redux-token-auth), unless `accept_token_params = false`.
    #[oai(path = "/auth/sign_out", method = "delete")]
    async fn sign_out(
        &self,
        t: RequestTexts<'_>,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        params: Params<BodyCredentials>,
    ) -> poem::Result<SignOutResponse> {
        let not_found = || {
            Ok(SignOutResponse::NotFound(Json(ErrorBody::new(
                t.text(&messages::USER_NOT_LOGGED_IN),
            ))))
        };
        let Some(user) = auth
            .authenticate_allowing_params(Some(&params.raw))
            .await
            .map_err(internal)?
        else {
            return not_found();
        };
        let device_id = auth.device_id();
        auth.signed_out();
        match device_id {
            Some(id) if accounts.sign_out(user.id, id).await.map_err(internal)? => {
                Ok(SignOutResponse::SignedOut(Json(SuccessBody {
                    success: true,
                })))
            }
            _ => not_found(),
        }
    }
}
