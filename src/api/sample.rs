//! `GET /api/me`: a protected resource of the kind an app adds next to toker, showing how any
//! handler authenticates with `RequestAuth` and gets token rotation for free.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};

use super::{AccountsData, ApiTags, internal, security::TokenHeaders};
use crate::{
    accounts::user_json::{Shape, user_json},
    contract::{DataBody, UnauthenticatedBody, messages},
    http::{auth::RequestAuth, locale::RequestTexts},
};

#[derive(Debug, ApiResponse)]
pub enum MeResponse {
    /// The signed-in user; headers carry the next token.
    #[oai(status = 200)]
    Me(Json<DataBody>),
    /// E7: Devise's `authenticate_user!` answer.
    #[oai(status = 401)]
    Unauthenticated(Json<UnauthenticatedBody>),
}

#[derive(Default)]
pub struct Sample;

#[OpenApi(tag = "ApiTags::Sample")]
impl Sample {
    /// The signed-in user
    ///
    /// A sample protected resource: send the auth headers, get the user and the next token.
    #[oai(path = "/api/me", method = "get")]
    async fn me(
        &self,
        t: RequestTexts<'_>,
        _token: TokenHeaders,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
    ) -> poem::Result<MeResponse> {
        match auth.authenticate(None).await.map_err(internal)? {
            Some(user) => Ok(MeResponse::Me(Json(DataBody {
                data: user_json(&user, &accounts.settings, Shape::Full),
            }))),
            None => Ok(MeResponse::Unauthenticated(Json(UnauthenticatedBody::new(
                t.text(&messages::UNAUTHENTICATED),
            )))),
        }
    }
}
