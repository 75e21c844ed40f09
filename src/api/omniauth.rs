//! OAuth sign-in routes (docs/contract.md §4): the request phase `GET`/`POST /auth/:provider`, the
//! provider callback at `/omniauth/:provider/callback` (the URI registered at the provider) and
//! its alias `/auth/:provider/callback`, the failure route, and the native token exchange
//! `POST /auth/:provider/token`.

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Path,
    payload::{Html, Json},
};
use serde_json::{Map, Value};

use super::{AccountsData, ApiTags, RequestTexts, internal, origin_of};
use crate::{
    accounts::{
        Accounts,
        attributes::permitted as permitted_attributes,
        omniauth::{ProviderSignIn, ProviderSignInError},
        user_json::{Shape, user_json},
    },
    contract::{
        DataBody, ErrorBody, messages,
        params::{Param, Params, QueryParams},
    },
    http::auth::RequestAuth,
    oauth::{SignInRequest, page, providers::ProviderConfig, state::StatePayload},
    redirect::{build_redirect_url, is_absolute_http_url},
};

#[derive(Debug, Object)]
pub struct StartRequest {
    /// The frontend page that started the sign-in; credentials go back to its origin.
    auth_origin_url: Param,
    /// `newWindow` (popup), `inAppBrowser` (Cordova) or `sameWindow` (redirect back).
    omniauth_window_type: Param,
    /// Echoed back as `config`.
    config_name: Param,
}

#[derive(Debug, Object)]
pub struct CallbackRequest {
    code: Param,
    state: Param,
    /// Set by the provider when the user refused or something failed there.
    error: Param,
}

#[derive(Debug, Object)]
pub struct FailureRequest {
    message: Param,
    auth_origin_url: Param,
    omniauth_window_type: Param,
}

#[derive(Debug, Object)]
pub struct TokenExchangeRequest {
    /// An access token the app got from the provider. Accepted only when the provider says it
    /// was issued to this app (`client_id` or `audiences`): GitHub's check-token, Google's
    /// tokeninfo, Facebook's debug_token or RFC 7662 introspection.
    access_token: Param,
    /// An OpenID Connect id_token: signature, `iss`, `aud`, `exp` and `sub` required and
    /// checked, `azp` too when present.
    id_token: Param,
}

#[derive(Debug, ApiResponse)]
pub enum OAuthResponse {
    /// The credentials page for `newWindow` / `inAppBrowser` (it answers `requestCredentials`
    /// with `deliverCredentials` or `authFailure`), or a message page when there is nowhere to
    /// go back to.
    #[oai(status = 200)]
    Page(
        Html<String>,
        #[oai(header = "content-security-policy")] String,
        #[oai(header = "referrer-policy")] String,
        /// Removes the cookie of the sign-in this callback finished.
        #[oai(header = "set-cookie")]
        Option<String>,
    ),
    /// To the provider (request phase), or back to `auth_origin_url` with the credentials or
    /// the error in the query (`sameWindow`).
    #[oai(status = 302)]
    Redirect(
        #[oai(header = "location")] String,
        #[oai(header = "referrer-policy")] String,
        /// Request phase: the short-lived cookie binding the sign-in to this browser
        /// (`toker_oauth_…`, `__Host-` prefixed over HTTPS; no credential). Callback: removes it.
        #[oai(header = "set-cookie")]
        Option<String>,
    ),
    /// E1: no such provider.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

#[derive(Debug, ApiResponse)]
pub enum TokenExchangeResponse {
    /// Signed in on a new device, as `POST /auth/sign_in`.
    #[oai(status = 200)]
    SignedIn(Json<DataBody>),
    /// E1: the provider token is not valid.
    #[oai(status = 401)]
    Invalid(Json<ErrorBody>),
    /// E1: no such provider.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

const NO_REFERRER: &str = "no-referrer";

fn unknown_provider(name: &str, t: &RequestTexts<'_>) -> Json<ErrorBody> {
    Json(ErrorBody::new(t.text(&messages::unknown_provider(name))))
}

fn page_response(page: page::Page) -> OAuthResponse {
    OAuthResponse::Page(Html(page.html), page.csp, NO_REFERRER.into(), None)
}

fn redirect(url: String) -> OAuthResponse {
    OAuthResponse::Redirect(url, NO_REFERRER.into(), None)
}

impl OAuthResponse {
    /// The same answer, setting `cookie` (the sign-in's browser binding, docs/decisions.md D6).
    fn with_cookie(mut self, cookie: String) -> OAuthResponse {
        match &mut self {
            OAuthResponse::Page(.., set_cookie) | OAuthResponse::Redirect(.., set_cookie) => {
                *set_cookie = Some(cookie)
            }
            OAuthResponse::NotFound(_) => {}
        }
        self
    }
}

/// Where the answer may go: `auth_origin_url` when it is absolute and whitelisted.
fn allowed_origin_url(accounts: &Accounts, url: Option<&str>) -> Option<String> {
    url.filter(|u| is_absolute_http_url(u) && accounts.redirects.allows(u))
        .map(str::to_string)
}

fn origin_of_url(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "null".into())
}

fn is_window(window_type: Option<&str>) -> bool {
    matches!(window_type, Some("newWindow") | Some("inAppBrowser"))
}

/// The failure answer, per window type (docs/contract.md §4.2): `authFailure` page, `?blank=true&error=`
/// redirect, or the bare message.
fn failure(
    accounts: &Accounts,
    error: &str,
    auth_origin_url: Option<&str>,
    window_type: Option<&str>,
) -> OAuthResponse {
    let allowed = allowed_origin_url(accounts, auth_origin_url);
    if is_window(window_type) || (allowed.is_none() && window_type.is_none()) {
        let data = serde_json::json!({"error": error, "message": "authFailure"});
        // A failure carries no secret: without an allowed origin it may go to any opener.
        let target = allowed.as_deref().map_or("*".to_string(), origin_of_url);
        return page_response(page::render(&data, &target));
    }
    match allowed {
        Some(url) => redirect(build_redirect_url(
            &url,
            &[("blank", Some("true")), ("error", Some(error))],
        )),
        None => page_response(page::message_page(error)),
    }
}

/// The success answer, per window type.
fn success(
    accounts: &Accounts,
    signed_in: &ProviderSignIn,
    auth_origin_url: Option<&str>,
    window_type: Option<&str>,
    config: Option<&str>,
    t: &RequestTexts<'_>,
) -> OAuthResponse {
    let Some(origin_url) = allowed_origin_url(accounts, auth_origin_url) else {
        // No place to deliver credentials to: say so, never post them to an unknown origin.
        return page_response(page::message_page(&t.text(&messages::OMNIAUTH_NO_ORIGIN)));
    };
    let token = &signed_in.session.token;
    let client = &signed_in.session.device.client;
    let expiry = signed_in.session.device.expiry;
    let uid = &signed_in.user.uid;
    if is_window(window_type) {
        let mut data: Map<String, Value> =
            user_json(&signed_in.user, &accounts.settings, Shape::Full).0;
        data.insert("auth_token".into(), Value::from(token.as_str()));
        data.insert("client_id".into(), Value::from(client.as_str()));
        data.insert("uid".into(), Value::from(uid.as_str()));
        data.insert("expiry".into(), Value::from(expiry));
        data.insert("config".into(), config.map_or(Value::Null, Value::from));
        if signed_in.registered {
            data.insert("oauth_registration".into(), Value::Bool(true));
        }
        data.insert("message".into(), Value::from("deliverCredentials"));
        return page_response(page::render(
            &Value::Object(data),
            &origin_of_url(&origin_url),
        ));
    }
    let expiry = expiry.to_string();
    let mut params = vec![
        ("auth_token", Some(token.as_str())),
        ("blank", Some("true")),
        ("client_id", Some(client.as_str())),
        ("config", Some(config.unwrap_or(""))),
        ("expiry", Some(expiry.as_str())),
        ("uid", Some(uid.as_str())),
    ];
    if signed_in.registered {
        params.push(("oauth_registration", Some("true")));
    }
    redirect(build_redirect_url(&origin_url, &params))
}

#[derive(Default)]
pub struct OmniAuth;

#[OpenApi(tag = "ApiTags::OmniAuth")]
impl OmniAuth {
    /// Start an OAuth sign-in
    ///
    /// Opened by the frontend (popup, in-app browser or the page itself): redirects to the
    /// provider with a signed `state`.
    #[oai(path = "/auth/:provider", method = "get")]
    async fn start_get(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        provider: Path<String>,
        query: QueryParams<StartRequest>,
    ) -> poem::Result<OAuthResponse> {
        self.start(t, accounts, provider, query.0).await
    }

    /// Start an OAuth sign-in (form post)
    ///
    /// The same as `GET`, with the parameters in the body.
    #[oai(path = "/auth/:provider", method = "post")]
    async fn start(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        provider: Path<String>,
        params: Params<StartRequest>,
    ) -> poem::Result<OAuthResponse> {
        let Some(config) = accounts.oauth.provider(&provider) else {
            return Ok(OAuthResponse::NotFound(unknown_provider(&provider, &t)));
        };
        let p = &params.typed;
        let origin_url = params.get_string("auth_origin_url");
        let window_type = p.omniauth_window_type.0.clone();
        if let Some(url) = &origin_url
            && allowed_origin_url(&accounts, Some(url)).is_none()
        {
            let message = t.text(&messages::redirect_not_allowed(url));
            return Ok(failure(&accounts, &message, None, window_type.as_deref()));
        }
        let request = SignInRequest {
            auth_origin_url: origin_url.clone(),
            window_type: window_type.clone(),
            config: p.config_name.0.clone(),
            params: permitted_attributes(&params.raw, &accounts.settings.sign_up_attributes),
        };
        match accounts.oauth.authorize_url(config, request).await {
            Ok(to) => Ok(redirect(to.url).with_cookie(to.set_cookie)),
            Err(e) => {
                tracing::warn!(provider = %provider.0, error = %e, "OAuth request phase failed");
                Ok(failure(
                    &accounts,
                    "timeout",
                    origin_url.as_deref(),
                    window_type.as_deref(),
                ))
            }
        }
    }

    /// Start an OAuth sign-in (OmniAuth's path)
    ///
    /// The same as `/auth/{provider}`.
    #[oai(path = "/omniauth/:provider", method = "get")]
    async fn start_alias_get(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        provider: Path<String>,
        query: QueryParams<StartRequest>,
    ) -> poem::Result<OAuthResponse> {
        self.start(t, accounts, provider, query.0).await
    }

    /// Start an OAuth sign-in (OmniAuth's path, form post)
    ///
    /// The same as `POST /auth/{provider}`.
    #[oai(path = "/omniauth/:provider", method = "post")]
    async fn start_alias(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        provider: Path<String>,
        params: Params<StartRequest>,
    ) -> poem::Result<OAuthResponse> {
        self.start(t, accounts, provider, params).await
    }

    /// OAuth callback (the redirect URI registered at the provider)
    ///
    /// The provider sends the browser here with `code` and `state`; the answer is the
    /// credentials page or a redirect to the frontend.
    #[oai(path = "/omniauth/:provider/callback", method = "get")]
    async fn callback_get(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        provider: Path<String>,
        query: QueryParams<CallbackRequest>,
    ) -> poem::Result<OAuthResponse> {
        callback(&accounts, req, &provider, &query.0).await
    }

    /// OAuth callback (form post)
    ///
    /// The same as `GET`, for providers that post the answer (`response_mode=form_post`).
    #[oai(path = "/omniauth/:provider/callback", method = "post")]
    async fn callback(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        provider: Path<String>,
        params: Params<CallbackRequest>,
    ) -> poem::Result<OAuthResponse> {
        callback(&accounts, req, &provider, &params).await
    }

    /// OAuth callback (alias)
    ///
    /// The same as `/omniauth/{provider}/callback`.
    #[oai(path = "/auth/:provider/callback", method = "get")]
    async fn callback_alias_get(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        provider: Path<String>,
        query: QueryParams<CallbackRequest>,
    ) -> poem::Result<OAuthResponse> {
        callback(&accounts, req, &provider, &query.0).await
    }

    /// OAuth callback (alias, form post)
    ///
    /// The same as `POST /omniauth/{provider}/callback`.
    #[oai(path = "/auth/:provider/callback", method = "post")]
    async fn callback_alias(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        provider: Path<String>,
        params: Params<CallbackRequest>,
    ) -> poem::Result<OAuthResponse> {
        callback(&accounts, req, &provider, &params).await
    }

    /// OAuth failure
    ///
    /// Renders a failure for the frontend (`authFailure` page or `?blank=true&error=` redirect).
    #[oai(path = "/auth/failure", method = "get")]
    async fn failure_route_get(
        &self,
        accounts: AccountsData<'_>,
        query: QueryParams<FailureRequest>,
    ) -> OAuthResponse {
        failure_from(&accounts, &query.0)
    }

    /// OAuth failure (form post)
    ///
    /// The same as `GET`, with the parameters in the body.
    #[oai(path = "/auth/failure", method = "post")]
    async fn failure_route(
        &self,
        accounts: AccountsData<'_>,
        params: Params<FailureRequest>,
    ) -> OAuthResponse {
        failure_from(&accounts, &params)
    }

    /// OAuth failure (OmniAuth's path)
    ///
    /// The same as `/auth/failure`.
    #[oai(path = "/omniauth/failure", method = "get")]
    async fn omniauth_failure_get(
        &self,
        accounts: AccountsData<'_>,
        query: QueryParams<FailureRequest>,
    ) -> OAuthResponse {
        failure_from(&accounts, &query.0)
    }

    /// OAuth failure (OmniAuth's path, form post)
    ///
    /// The same as `POST /auth/failure`.
    #[oai(path = "/omniauth/failure", method = "post")]
    async fn omniauth_failure(
        &self,
        accounts: AccountsData<'_>,
        params: Params<FailureRequest>,
    ) -> OAuthResponse {
        failure_from(&accounts, &params)
    }

    /// Sign in with a provider token (native apps)
    ///
    /// A mobile app that signed in with the provider's own SDK trades the provider's access
    /// token or id_token for toker credentials: the answer is that of `POST /auth/sign_in`.
    #[oai(path = "/auth/:provider/token", method = "post")]
    async fn token(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        auth: Data<&RequestAuth>,
        req: &Request,
        provider: Path<String>,
        params: Params<TokenExchangeRequest>,
    ) -> poem::Result<TokenExchangeResponse> {
        let Some(config) = accounts.oauth.provider(&provider) else {
            return Ok(TokenExchangeResponse::NotFound(unknown_provider(
                &provider, &t,
            )));
        };
        let p = &params.typed;
        let signed_in = match accounts
            .sign_in_with_provider_token(
                config,
                p.access_token.filled(),
                p.id_token.filled(),
                &origin_of(req),
            )
            .await
        {
            Ok(signed_in) => signed_in,
            Err(ProviderSignInError::Internal(e)) => return Err(internal(e)),
            Err(ProviderSignInError::Refused(e)) => {
                tracing::info!(provider = %provider.0, error = %e, "provider token refused");
                return Ok(TokenExchangeResponse::Invalid(Json(ErrorBody::new(
                    t.text(&messages::INVALID_PROVIDER_TOKEN),
                ))));
            }
        };
        let data = user_json(&signed_in.user, &accounts.settings, Shape::Lite);
        auth.issue(&signed_in.user, signed_in.session);
        Ok(TokenExchangeResponse::SignedIn(Json(DataBody { data })))
    }
}

fn failure_from(accounts: &Accounts, params: &Params<FailureRequest>) -> OAuthResponse {
    let p = &params.typed;
    let message = p.message.filled().unwrap_or("invalid_credentials");
    failure(
        accounts,
        message,
        params.get_string("auth_origin_url").as_deref(),
        p.omniauth_window_type.as_deref(),
    )
}

async fn callback(
    accounts: &Accounts,
    req: &Request,
    provider: &str,
    params: &Params<CallbackRequest>,
) -> poem::Result<OAuthResponse> {
    let t = RequestTexts::new(req);
    let Some(config) = accounts.oauth.provider(provider) else {
        return Ok(OAuthResponse::NotFound(unknown_provider(provider, &t)));
    };
    let p = &params.typed;
    let state = match p
        .state
        .filled()
        .map(|s| accounts.oauth.read_state(provider, s))
    {
        Some(Ok(state)) => state,
        _ => return Ok(failure(accounts, "csrf_detected", None, None)),
    };
    let cookies = req
        .headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    if !accounts.oauth.started_here(&state, cookies) {
        // Login CSRF: a callback link made in another browser (docs/decisions.md D6). Its
        // auth_origin_url is the other browser's choice, so nothing goes there.
        tracing::info!(provider, "OAuth callback without the cookie of its sign-in");
        return Ok(failure(accounts, "csrf_detected", None, None));
    }
    let clear_cookie = accounts.oauth.clear_cookie(&state);
    let response = finish_callback(accounts, req, config, &state, p).await?;
    Ok(response.with_cookie(clear_cookie))
}

/// The callback once its state is known good and bound to this browser.
async fn finish_callback(
    accounts: &Accounts,
    req: &Request,
    config: &ProviderConfig,
    state: &StatePayload,
    p: &CallbackRequest,
) -> poem::Result<OAuthResponse> {
    let provider = config.name.as_str();
    let origin_url = state.auth_origin_url.as_deref();
    let window_type = state.window_type.as_deref();
    if let Some(error) = p.error.filled() {
        // What the provider says went wrong (`access_denied` when the user refused).
        let error: String = error.chars().take(100).collect();
        return Ok(failure(accounts, &error, origin_url, window_type));
    }
    let Some(code) = p.code.filled() else {
        return Ok(failure(
            accounts,
            "invalid_credentials",
            origin_url,
            window_type,
        ));
    };
    let signed_in = match accounts
        .finish_provider_sign_in(config, state, code, &origin_of(req))
        .await
    {
        Ok(signed_in) => signed_in,
        Err(ProviderSignInError::Internal(e)) => return Err(internal(e)),
        Err(ProviderSignInError::Refused(e)) => {
            tracing::info!(provider, error = ?e, "OAuth callback failed");
            return Ok(failure(accounts, &e.to_string(), origin_url, window_type));
        }
    };
    if let Some(auth) = req.extensions().get::<RequestAuth>() {
        auth.set_cookie_for(&signed_in.user, &signed_in.session);
    }
    Ok(success(
        accounts,
        &signed_in,
        origin_url,
        window_type,
        state.config.as_deref(),
        &RequestTexts::new(req),
    ))
}
