//! `GET /auth/validate_token` (docs/contract.md §2.6).

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use super::{AccountsData, ApiTags, internal, security::TokenHeaders};
use crate::{
    accounts::user_json::{Shape, user_json},
    contract::{ErrorBody, SuccessDataBody, messages},
    http::{auth::RequestAuth, locale::RequestTexts},
};

#[derive(Debug, ApiResponse)]
pub enum ValidateResponse {
    /// The token is good; the headers carry the next one (or none inside the batch window).
    #[oai(status = 200)]
    Valid(Json<SuccessDataBody>),
    /// E1 `Invalid login credentials`.
    #[oai(status = 401)]
    Invalid(Json<ErrorBody>),
}

#[derive(Default)]
pub struct TokenValidations;

#[OpenApi(tag = "ApiTags::TokenValidations")]
impl TokenValidations {
    /// Validate token
    ///
    /// Frontends call this on page load. Credentials come from the headers, or from the
    /// `access-token`, `client` and `uid` query parameters (redux-token-auth) unless
    /// `accept_token_params = false`.
    #[oai(path = "/auth/validate_token", method = "get")]
    async fn validate_token(
        &self,
        t: RequestTexts<'_>,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
    ) -> poem::Result<ValidateResponse> {
        match auth
            .authenticate_allowing_params(None)
            .await
            .map_err(internal)?
        {
            Some(user) => Ok(ValidateResponse::Valid(Json(SuccessDataBody {
                success: true,
                data: user_json(&user, &accounts.settings, Shape::Lite),
            }))),
            None => Ok(ValidateResponse::Invalid(Json(ErrorBody::new(
                t.text(&messages::TOKEN_INVALID),
            )))),
        }
    }
}
