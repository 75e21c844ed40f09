//! The token headers as the OpenAPI document's security schemes, so the Authorize button of
//! `/docs` can send `access-token`, `client` and `uid` with every request it tries. The
//! extractor itself checks nothing: `RequestAuth` authenticates (and answers the contract's own
//! 401 and 404 bodies, which a failing security scheme could not).

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaSecurityScheme, Registry},
};

/// The scheme names, which are also the header names (at the default `headers_names`).
pub const TOKEN_HEADERS: [&str; 3] = ["access-token", "client", "uid"];

/// An operation's argument that marks it as authenticated by the token headers.
pub struct TokenHeaders;

impl<'a> ApiExtractor<'a> for TokenHeaders {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        let descriptions = [
            "The `access-token` of the previous response.",
            "The device's `client` id.",
            "The user's `uid`.",
        ];
        for (name, description) in TOKEN_HEADERS.into_iter().zip(descriptions) {
            registry.create_security_scheme(
                name,
                MetaSecurityScheme {
                    ty: "apiKey",
                    description: Some(description),
                    name: Some(name),
                    key_in: Some("header"),
                    scheme: None,
                    bearer_format: None,
                    flows: None,
                    openid_connect_url: None,
                },
            );
        }
    }

    /// poem-openapi lists each name as a requirement of its own (any one of them); the
    /// document is corrected to one requirement naming all three (`spec::token_requirements`).
    fn security_schemes() -> Vec<&'static str> {
        TOKEN_HEADERS.to_vec()
    }

    async fn from_request(
        _request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(TokenHeaders)
    }
}
