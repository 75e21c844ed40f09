//! `POST /auth/sign_in`, `GET /auth/sign_in` (405), `DELETE /auth/sign_out` (docs/contract.md §2.4–2.5).

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    AccountsData, ApiTags, internal, origin_of, registrations::BodyCredentials,
    security::TokenHeaders,
};
use crate::{
    accounts::{
        SignInOutcome,
        user_json::{Shape, user_json},
    },
    contract::{
        DataBody, ErrorBody, SuccessBody, messages,
        params::{Param, Params},
    },
    http::auth::RequestAuth,
};

#[derive(Debug, Object)]
pub struct SignInRequest {
    email: Param,
    password: Param,
}

#[derive(Debug, ApiResponse)]
pub enum SignInResponse {
    /// Signed in on a new device: the body has the user, the headers its first token.
    #[oai(status = 200)]
    SignedIn(Json<DataBody>),
    /// E1: bad credentials, or (unless `paranoid`) an unconfirmed or locked account.
    #[oai(status = 401)]
    Refused(Json<ErrorBody>),
}

#[derive(Debug, ApiResponse)]
pub enum SignInGetResponse {
    /// E1: sign-in is POST only.
    #[oai(status = 405)]
    MethodNotAllowed(Json<ErrorBody>),
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
    #[oai(
        path = "/auth/sign_in",
        method = "post",
        response_header(
            name = "access-token",
            ty = "Option<String>",
            description = "The device's first token."
        ),
        response_header(
            name = "token-type",
            ty = "Option<String>",
            description = "Always `Bearer`."
        ),
        response_header(
            name = "client",
            ty = "Option<String>",
            description = "The new device's client id."
        ),
        response_header(
            name = "expiry",
            ty = "Option<String>",
            description = "Unix seconds when the token expires."
        ),
        response_header(name = "uid", ty = "Option<String>", description = "The user's uid."),
        response_header(
            name = "authorization",
            ty = "Option<String>",
            description = "`Bearer` + base64 of the five values as JSON."
        )
    )]
    async fn sign_in(
        &self,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        req: &Request,
        params: Params<SignInRequest>,
    ) -> poem::Result<SignInResponse> {
        let refused = |m: &str| Ok(SignInResponse::Refused(Json(ErrorBody::new(m))));
        let outcome = accounts
            .sign_in(
                params.typed.email.as_deref(),
                params.typed.password.as_deref(),
                &origin_of(req),
            )
            .await
            .map_err(internal)?;
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
            SignInOutcome::NotConfirmed(email) => refused(&messages::not_confirmed(&email)),
        }
    }

    /// Sign in with GET (not supported)
    ///
    /// Always 405, as devise_token_auth.
    #[oai(path = "/auth/sign_in", method = "get")]
    async fn sign_in_get(&self) -> SignInGetResponse {
        SignInGetResponse::MethodNotAllowed(Json(ErrorBody::new(messages::NOT_SUPPORTED)))
    }

    /// Sign out
    ///
    /// Deletes the calling device's token. Credentials may also come in the query or the body
    /// (redux-token-auth), unless `accept_token_params = false`.
    #[oai(path = "/auth/sign_out", method = "delete")]
    async fn sign_out(
        &self,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        params: Params<BodyCredentials>,
    ) -> poem::Result<SignOutResponse> {
        let not_found = || {
            Ok(SignOutResponse::NotFound(Json(ErrorBody::new(
                messages::USER_NOT_LOGGED_IN,
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
        auth.silence();
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
