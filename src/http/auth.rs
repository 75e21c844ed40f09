//! Token authentication for one request, and DTA's after-step (docs/contract.md §2.0.8, §3): handlers
//! ask `RequestAuth` for the user (one indexed read), and once the handler has answered, the
//! middleware rotates, batches or echoes the token (one write) and adds the auth headers —
//! also on 4xx answers of authenticated actions, never on a 401.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicI64, Ordering},
};

use chrono::Utc;
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderName, HeaderValue, StatusCode},
};
use serde_json::{Map, Value};

use crate::{
    accounts::{
        Accounts, NewSession,
        events::{self, Revocation},
    },
    config::{AcceptTokenParams, BatchResponse, gateway::covers},
    contract::headers::HeaderNames,
    contract::headers::authorization_value,
    contract::params::query_params,
    http::{
        cookie::CookieMode,
        credentials::Credentials,
        session::{SessionMode, Sessions},
    },
    store::{Device, User, chain_of},
    tokens::{self, Accepted, Finish, Refused},
};

/// The user id of the request, for its log line (set once known).
#[derive(Debug, Clone, Default)]
pub struct LogUser(pub Arc<AtomicI64>);

impl LogUser {
    pub fn set(&self, id: i64) {
        self.0.store(id, Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|id| *id > 0)
    }
}

#[derive(Debug)]
enum State {
    /// Not (yet) authenticated.
    Anonymous,
    /// Authenticated with an existing device's token.
    Authenticated {
        device: Device,
        user: User,
        token: String,
        accepted: Accepted,
    },
    /// A device was just created (sign-in, sign-up): its token goes out as it is.
    Issued { user: User, session: NewSession },
    /// Authenticated, but this action answers without auth headers (sign-out, delete).
    Silent,
    /// Signed out: in cookie mode the cookie is removed too.
    SignedOut,
    /// Authenticated by a browser session for a registered app (`Authorization: Session
    /// <APP_ID>` and the session cookie): no token, so no auth headers.
    Session { user: User, device_id: i64 },
}

/// What the after-step does with the auth cookie (cookie mode only).
enum CookieAction {
    Keep,
    /// The credentials of this response's full header set.
    Set {
        token: String,
        client: String,
        expiry: String,
        uid: String,
    },
    Clear,
}

struct Inner {
    accounts: Accounts,
    header_creds: Credentials,
    /// Read only where `accept_token_params` allows it (docs/decisions.md D10).
    query_creds: Credentials,
    authorization_creds: Credentials,
    /// The auth cookie's credentials (cookie mode), read after headers and parameters.
    cookie_creds: Credentials,
    cookie: Option<Arc<CookieMode>>,
    /// A cookie set without auth headers (a redirect that signed a device in).
    cookie_only: Mutex<Option<CookieAction>>,
    /// The client's address, for security events.
    ip: Option<std::net::IpAddr>,
    unbatch: bool,
    started_ms: i64,
    log_user: Option<LogUser>,
    /// The answer is another server's (the gateway's upstream): its 5xx is not toker failing.
    answer_is_upstreams: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
}

/// The per-request authentication handle handlers receive as `Data<&RequestAuth>`.
#[derive(Clone)]
pub struct RequestAuth(Arc<Inner>);

impl RequestAuth {
    fn new(accounts: &Accounts, cookie: Option<&Arc<CookieMode>>, req: &Request) -> RequestAuth {
        let s = &accounts.settings;
        let names = &s.headers_names;
        let query = query_params(req);
        let query_creds = if s.accept_token_params != AcceptTokenParams::Switch(false) {
            Credentials::from_params(&query, names)
        } else {
            Credentials::default()
        };
        RequestAuth(Arc::new(Inner {
            accounts: accounts.clone(),
            header_creds: Credentials::from_headers(req.headers(), names),
            query_creds,
            authorization_creds: Credentials::from_authorization(req.headers(), names),
            cookie_creds: cookie
                .map(|c| c.read(req.headers(), names))
                .unwrap_or_default(),
            cookie: cookie.cloned(),
            cookie_only: Mutex::new(None),
            ip: req.remote_addr().as_socket_addr().map(|a| a.ip()),
            // DTA: any value of `unbatch`, even `false`, disables batching.
            unbatch: query.contains_key("unbatch"),
            started_ms: Utc::now().timestamp_millis(),
            log_user: req.data::<LogUser>().cloned(),
            answer_is_upstreams: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State::Anonymous),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a handler panicked mid-update; the state is still usable.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The signed-in user, if the request's credentials name a live token: from the headers
    /// and `Authorization` (docs/contract.md §2.0.3). Query and body parameters (`body`: the
    /// route's body, DTA reads `params`) count only with `accept_token_params = "everywhere"`.
    pub async fn authenticate(
        &self,
        body: Option<&Map<String, Value>>,
    ) -> Result<Option<User>, crate::store::StoreError> {
        self.authenticate_on(body, false).await
    }

    /// [`RequestAuth::authenticate`] for `GET validate_token` and `DELETE sign_out`, where
    /// redux-token-auth sends its credentials as query or body parameters: they count unless
    /// `accept_token_params = false` (docs/decisions.md D10).
    pub async fn authenticate_allowing_params(
        &self,
        body: Option<&Map<String, Value>>,
    ) -> Result<Option<User>, crate::store::StoreError> {
        self.authenticate_on(body, true).await
    }

    async fn authenticate_on(
        &self,
        body: Option<&Map<String, Value>>,
        fallback_route: bool,
    ) -> Result<Option<User>, crate::store::StoreError> {
        match &*self.state() {
            State::Authenticated { user, .. }
            | State::Issued { user, .. }
            | State::Session { user, .. } => {
                return Ok(Some(user.clone()));
            }
            State::Silent | State::SignedOut | State::Anonymous => {}
        }
        let inner = &self.0;
        let s = &inner.accounts.settings;
        let params = s.accept_token_params.on(fallback_route);
        let mut creds = inner.header_creds.clone();
        if params {
            creds = creds.or(&inner.query_creds);
            if let Some(body) = body {
                creds = creds.or(&Credentials::from_params(body, &s.headers_names));
            }
        }
        let creds = creds.or(&inner.cookie_creds).or(&inner.authorization_creds);
        let (Some(token), Some(uid)) = (creds.access_token, creds.uid) else {
            return Ok(None);
        };
        let client = creds.client.unwrap_or_else(|| "default".into());
        let Some((mut device, user)) = inner.accounts.store.find_device(&uid, &client).await?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let chain = chain_of(&device);
        let accepted = match tokens::check(&inner.accounts.policy, &chain, &token, now_ms) {
            Ok(accepted) => accepted,
            // A device imported from devise_token_auth whose bcrypt hash this token may match
            // (docs/decisions.md D2); no other device comes here.
            Err(Refused::Unknown) if chain.holds_bcrypt() && !chain.expired(now_ms) => {
                match inner
                    .accounts
                    .upgrade_imported_device(&device, user.id, &token, now_ms)
                    .await?
                {
                    Ok((upgraded, accepted)) => {
                        device = upgraded;
                        accepted
                    }
                    Err(refused) => {
                        self.refused(&device, &user, refused, false, now_ms).await;
                        return Ok(None);
                    }
                }
            }
            Err(refused) => {
                self.refused(&device, &user, refused, chain.expired(now_ms), now_ms)
                    .await;
                return Ok(None);
            }
        };
        if !s.bypass_sign_in && inner.accounts.inactive_reason(&user, now).is_some() {
            return Ok(None);
        }
        if let Some(log) = &inner.log_user {
            log.set(user.id);
        }
        *self.state() = State::Authenticated {
            device,
            user: user.clone(),
            token,
            accepted,
        };
        Ok(Some(user))
    }

    /// A token refused for an existing device: a security event, and a device met after its
    /// expiry is deleted on the spot, since none of its tokens can work again.
    async fn refused(
        &self,
        device: &Device,
        user: &User,
        refused: Refused,
        expired: bool,
        now_ms: i64,
    ) {
        let ip = self.0.ip.map(|ip| ip.to_string());
        events::token_refused(user.id, device.id, refused, ip.as_deref());
        if !expired {
            return;
        }
        match self
            .0
            .accounts
            .store
            .delete_expired_device(device.id, now_ms / 1000)
            .await
        {
            Ok(true) => events::device_revoked(user.id, device.id, 1, Revocation::Expired),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "could not delete an expired device"),
        }
    }

    /// The authenticated device's id.
    pub fn device_id(&self) -> Option<i64> {
        match &*self.state() {
            State::Authenticated { device, .. } => Some(device.id),
            State::Issued { session, .. } => Some(session.device.id),
            State::Session { device_id, .. } => Some(*device_id),
            _ => None,
        }
    }

    /// The authenticated device's `client` id.
    pub fn client(&self) -> Option<String> {
        match &*self.state() {
            State::Authenticated { device, .. } => Some(device.client.clone()),
            State::Issued { session, .. } => Some(session.device.client.clone()),
            _ => None,
        }
    }

    /// A new device's token goes out with this response.
    pub fn issue(&self, user: &User, session: NewSession) {
        if let Some(log) = &self.0.log_user {
            log.set(user.id);
        }
        *self.state() = State::Issued {
            user: user.clone(),
            session,
        };
    }

    /// The user changed during the request (e-mail, so `uid`): headers carry the new one.
    pub fn update_user(&self, updated: &User) {
        if let State::Authenticated { user, .. }
        | State::Issued { user, .. }
        | State::Session { user, .. } = &mut *self.state()
        {
            *user = updated.clone();
        }
    }

    /// The answer comes from an upstream (gateway mode): it carries the next token whatever its
    /// status, as toker's own 4xx answers do (docs/decisions.md D14). Only toker's own 5xx
    /// (a failure here, e.g. the database gone) leave the token as it was.
    pub fn answer_from_upstream(&self) {
        self.0
            .answer_is_upstreams
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The request is authenticated by a browser session (docs/decisions.md D15).
    fn by_session(&self, user: User, device_id: i64) {
        if let Some(log) = &self.0.log_user {
            log.set(user.id);
        }
        *self.state() = State::Session { user, device_id };
    }

    /// This action answers without auth headers.
    pub fn silence(&self) {
        *self.state() = State::Silent;
    }

    /// The device signed out: no auth headers, and in cookie mode the cookie is removed.
    pub fn signed_out(&self) {
        *self.state() = State::SignedOut;
    }

    /// In cookie mode, `session`'s credentials go out in the cookie of this response, which
    /// carries no auth headers (the password-reset link and OAuth success redirects, as
    /// devise_token_auth does).
    pub fn set_cookie_for(&self, user: &User, session: &NewSession) {
        if self.0.cookie.is_some() {
            *self.0.cookie_only.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(CookieAction::Set {
                    token: session.token.clone(),
                    client: session.device.client.clone(),
                    expiry: session.device.expiry.to_string(),
                    uid: user.uid.clone(),
                });
        }
    }

    /// The after-step: decides and writes the token outcome, returns the headers to add.
    /// A failed request (5xx: the database unavailable, say) writes nothing and sends no
    /// headers, so the client keeps the token it sent, which still works.
    async fn finish(&self, status: StatusCode) -> (Vec<(String, String)>, CookieAction) {
        let cookie_only = self
            .0
            .cookie_only
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let (headers, cookie) = self.finish_headers(status).await;
        (headers, cookie_only.unwrap_or(cookie))
    }

    async fn finish_headers(&self, status: StatusCode) -> (Vec<(String, String)>, CookieAction) {
        let upstreams = self
            .0
            .answer_is_upstreams
            .load(std::sync::atomic::Ordering::Relaxed);
        if status == StatusCode::UNAUTHORIZED || (status.is_server_error() && !upstreams) {
            return (Vec::new(), CookieAction::Keep);
        }
        let state = std::mem::replace(&mut *self.state(), State::Silent);
        let inner = &self.0;
        let accounts = &inner.accounts;
        let s = &accounts.settings;
        let names = &s.headers_names;
        let full = |headers: Vec<(String, String)>| {
            let cookie = CookieAction::from_headers(names, &headers);
            (headers, cookie)
        };
        let batch_of = |headers| (headers, CookieAction::Keep);
        match state {
            State::Anonymous | State::Silent | State::Session { .. } => {
                (Vec::new(), CookieAction::Keep)
            }
            State::SignedOut if status.is_success() => (Vec::new(), CookieAction::Clear),
            State::SignedOut => (Vec::new(), CookieAction::Keep),
            State::Issued { user, session } => full(credential_headers(
                names,
                &session.token,
                &session.device.client,
                &session.device.expiry.to_string(),
                &user.uid,
            )),
            State::Authenticated {
                device,
                user,
                token,
                accepted,
            } => {
                let chain = chain_of(&device);
                let batch = || {
                    accounts.metrics.batch_response();
                    batch_headers(s.batch_response, names, &token, &device, &user)
                };
                match tokens::finish(
                    &accounts.policy,
                    &chain,
                    accepted,
                    inner.started_ms,
                    inner.unbatch,
                ) {
                    Finish::Echo => full(credential_headers(
                        names,
                        &token,
                        &device.client,
                        &device.expiry.to_string(),
                        &user.uid,
                    )),
                    // A request that presented a superseded token leaves the device as it is:
                    // its touch would stretch the batch window for a token that is no longer
                    // the device's own (docs/decisions.md D3).
                    Finish::Batch if accepted != Accepted::Current => batch_of(batch()),
                    Finish::Batch => {
                        let now_ms = Utc::now().timestamp_millis();
                        if let Err(e) = accounts.store.touch_device(device.id, now_ms).await
                            && !e.is_unavailable()
                        {
                            tracing::error!(error = %e, "could not touch device");
                        }
                        batch_of(batch())
                    }
                    Finish::Rotate => {
                        let now_ms = Utc::now().timestamp_millis();
                        let new_token = tokens::generate();
                        let next = tokens::rotated(
                            &accounts.policy,
                            &chain,
                            tokens::digest(&new_token),
                            now_ms,
                        );
                        match accounts
                            .store
                            .rotate_device(device.id, device.version, &next)
                            .await
                        {
                            Ok(true) => {
                                accounts.metrics.token_rotated();
                                full(credential_headers(
                                    names,
                                    &new_token,
                                    &device.client,
                                    &next.expiry.to_string(),
                                    &user.uid,
                                ))
                            }
                            // Another request rotated first: this one is a batch request (D3).
                            Ok(false) => batch_of(batch()),
                            Err(e) => {
                                // No headers: the client keeps its current token, which stays
                                // valid (a failed round writes nothing). An outage is logged
                                // once, by the store's `Availability`.
                                if !e.is_unavailable() {
                                    tracing::error!(error = %e, "could not rotate token");
                                }
                                (Vec::new(), CookieAction::Keep)
                            }
                        }
                    }
                }
            }
        }
    }
}

impl CookieAction {
    /// The cookie of a full credential header set.
    fn from_headers(names: &HeaderNames, headers: &[(String, String)]) -> CookieAction {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        CookieAction::Set {
            token: get(&names.access_token),
            client: get(&names.client),
            expiry: get(&names.expiry),
            uid: get(&names.uid),
        }
    }
}

/// The six headers of a credentialed response (docs/contract.md §2.15).
fn credential_headers(
    names: &HeaderNames,
    token: &str,
    client: &str,
    expiry: &str,
    uid: &str,
) -> Vec<(String, String)> {
    vec![
        (names.access_token.clone(), token.to_string()),
        (names.token_type.clone(), "Bearer".into()),
        (names.client.clone(), client.to_string()),
        (names.expiry.clone(), expiry.to_string()),
        (names.uid.clone(), uid.to_string()),
        (
            names.authorization.clone(),
            authorization_value(names, token, client, expiry, uid),
        ),
    ]
}

/// A batch response's headers: none (D1), or DTA's single-space blanks with the request's own
/// token inside `Authorization`.
fn batch_headers(
    mode: BatchResponse,
    names: &HeaderNames,
    token: &str,
    device: &Device,
    user: &User,
) -> Vec<(String, String)> {
    match mode {
        BatchResponse::Omit => Vec::new(),
        BatchResponse::Blank => {
            let expiry = device.expiry.to_string();
            vec![
                (names.access_token.clone(), " ".into()),
                (names.token_type.clone(), "Bearer".into()),
                (names.client.clone(), device.client.clone()),
                (names.expiry.clone(), " ".into()),
                (names.uid.clone(), user.uid.clone()),
                (
                    names.authorization.clone(),
                    authorization_value(names, token, &device.client, &expiry, &user.uid),
                ),
            ]
        }
    }
}

/// Where toker's own app serves the browser-session resource, whatever `session_path` says
/// (`startup::MountPath` maps the configured path onto it before the app sees the request).
pub const SESSION_RESOURCE: &str = "/session";

/// Middleware giving each request a `RequestAuth` and running its after-step.
pub struct TokenAuth {
    accounts: Accounts,
    /// The session resource checks its callers itself; set only around toker's own app, so a
    /// gateway route whose prefix merely looks like it still takes sessions.
    session_resource: Option<&'static str>,
}

impl TokenAuth {
    /// Around toker's own routes, where [`SESSION_RESOURCE`] is the session resource.
    pub fn app(accounts: &Accounts) -> TokenAuth {
        TokenAuth {
            accounts: accounts.clone(),
            session_resource: Some(SESSION_RESOURCE),
        }
    }

    /// Around a gateway route or the forward-auth endpoint: every path is the user's.
    pub fn gateway(accounts: &Accounts) -> TokenAuth {
        TokenAuth {
            accounts: accounts.clone(),
            session_resource: None,
        }
    }
}

/// `Authorization: Session <APP_ID>` on a route of its own (the session resource checks its
/// callers itself): the app must exist and the `Origin` be one of its origins, else 403; then
/// the session cookie, if it names a live session granted to that app, authenticates the
/// request, and a state change must pass the CSRF check against the app's origins.
async fn session_request(
    accounts: &Accounts,
    mode: &SessionMode,
    req: &Request,
    app_id: &str,
) -> Result<Option<(User, i64)>, Response> {
    let forbidden = |m: &str| crate::error::error_response(StatusCode::FORBIDDEN, m);
    let failed = |e: crate::store::StoreError| {
        use poem::error::ResponseError;
        crate::error::ApiError::Internal(e.into()).as_response()
    };
    let Some(app) = accounts.app(app_id).await.map_err(failed)? else {
        return Err(forbidden(
            "Unknown app: Authorization: Session names no registered app.",
        ));
    };
    let mut origins = req.headers().get_all(poem::http::header::ORIGIN).iter();
    let from_app = match (origins.next(), origins.next()) {
        (Some(o), None) => o.to_str().is_ok_and(|o| app.origins.iter().any(|a| a == o)),
        _ => false,
    };
    if !from_app {
        return Err(forbidden(
            "Origin not allowed: it is not one of this app's origins.",
        ));
    }
    let Some(id) = mode.session_id(req.headers()) else {
        return Ok(None);
    };
    let Some((session, user)) = accounts.browser_session(id).await.map_err(failed)? else {
        return Ok(None);
    };
    if !accounts
        .session_granted(&session, &app.app_id)
        .await
        .map_err(failed)?
    {
        return Ok(None);
    }
    mode.check(req.method(), req.headers(), Some(id), |o| {
        app.origins.iter().any(|a| a == o)
    })
    .map_err(|refusal| forbidden(refusal.message()))?;
    Ok(Some((user, session.device_id)))
}

/// A request the cookie would authenticate: cookie mode is on, the request carries the cookie,
/// and no `access-token` header takes precedence over it.
fn cookie_authenticated(mode: &CookieMode, req: &Request, names: &HeaderNames) -> bool {
    mode.present(req.headers()) && !req.headers().contains_key(names.access_token.as_str())
}

impl<E: Endpoint> Middleware<E> for TokenAuth {
    type Output = TokenAuthEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        TokenAuthEndpoint {
            inner: ep,
            cookie: CookieMode::new(&self.accounts.settings).map(Arc::new),
            accounts: self.accounts.clone(),
            session_resource: self.session_resource,
        }
    }
}

pub struct TokenAuthEndpoint<E> {
    inner: E,
    accounts: Accounts,
    cookie: Option<Arc<CookieMode>>,
    session_resource: Option<&'static str>,
}

impl<E> TokenAuthEndpoint<E> {
    /// The session resource checks its callers itself (only around toker's own app).
    fn is_session_resource(&self, path: &str) -> bool {
        self.session_resource
            .is_some_and(|prefix| covers(prefix, path))
    }
}

impl<E: Endpoint> Endpoint for TokenAuthEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let names = &self.accounts.settings.headers_names;
        if let Some(mode) = &self.cookie
            && cookie_authenticated(mode, &req, names)
            && let Err(refusal) = mode.check(req.method(), req.headers())
        {
            // Nothing ran: the handler never sees a forged request (docs/cors.md §4.2).
            tracing::info!(reason = ?refusal, "cookie request refused by the CSRF check");
            return Ok(crate::error::error_response(
                StatusCode::FORBIDDEN,
                refusal.message(),
            ));
        }
        // Token requests carry no `Authorization: Session`: one header check, nothing more.
        let by_session = match crate::http::session::app_of(req.headers()) {
            Some(app_id) if !self.is_session_resource(req.uri().path()) => match Sessions::of(&req)
            {
                Some(mode) => match session_request(&self.accounts, mode, &req, app_id).await {
                    Ok(found) => found,
                    Err(refused) => return Ok(refused),
                },
                None => None,
            },
            _ => None,
        };
        let auth = RequestAuth::new(&self.accounts, self.cookie.as_ref(), &req);
        if let Some((user, device_id)) = by_session {
            auth.by_session(user, device_id);
        }
        req.extensions_mut().insert(auth.clone());
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => crate::error::to_json_error(err).await,
        };
        let (headers, cookie) = auth.finish(resp.status()).await;
        if let Some(mode) = &self.cookie {
            let set_cookie = match cookie {
                CookieAction::Keep => None,
                CookieAction::Clear => Some(mode.clear()),
                CookieAction::Set {
                    token,
                    client,
                    expiry,
                    uid,
                } => Some(mode.set(names, &token, &client, &expiry, &uid)),
            };
            if let Some(value) = set_cookie.and_then(|v| HeaderValue::from_str(&v).ok()) {
                resp.headers_mut()
                    .append(poem::http::header::SET_COOKIE, value);
            }
        }
        for (name, value) in headers {
            // Cookie mode sends the plain headers but not `Authorization` (docs/contract.md §3.11).
            if self.cookie.is_some() && name == names.authorization {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                resp.headers_mut().insert(name, value);
            }
        }
        Ok(resp)
    }
}
