//! `GET`, `POST` and `DELETE` on `session_path` (default `/session`): browser sessions for static
//! apps, in the shape the Backbone tutorial's Session model reads (`auth`, `id`, `username`,
//! `_csrf`), with the sign-in rules of `POST /auth/sign_in` (docs/decisions.md D15).

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use super::{AccountsData, ApiTags, busy_or_internal, client_of, internal, origin_of, too_many};
use crate::{
    accounts::{
        Accounts, Limited, SignInOutcome,
        browser_sessions::{BrowserAttempt, BrowserSession, BrowserSignIn, User},
    },
    contract::{
        ErrorBody,
        messages::{self, Message},
        params::{EmailParam, Param, Params},
    },
    http::{
        cookie::CsrfRefusal,
        locale::RequestTexts,
        session::{SessionMode, Sessions, app_of},
    },
};

/// The sign-in fields: `email` (or `username`, as the tutorial's form names it) and
/// `password`. Other fields the model sends back (`auth`, `_csrf`) are ignored.
#[derive(Debug, Object)]
pub struct SessionSignIn {
    email: EmailParam,
    /// Read as the e-mail address when `email` is absent.
    username: Param,
    password: Param,
}

/// What the browser's session is.
#[derive(Debug, Object)]
pub struct SessionState {
    /// Whether the browser is signed in.
    auth: bool,
    /// The user's id.
    #[oai(skip_serializing_if_is_none)]
    id: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    uid: Option<String>,
    /// The uid again, under the name the Backbone tutorial's client shows.
    #[oai(skip_serializing_if_is_none)]
    username: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    provider: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    nickname: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    image: Option<String>,
    /// The token to send back as `X-CSRF-Token` (checked when `csrf_tokens = true`).
    #[oai(rename = "_csrf")]
    csrf: String,
}

impl SessionState {
    fn signed_out(csrf: String) -> SessionState {
        SessionState {
            auth: false,
            id: None,
            uid: None,
            username: None,
            email: None,
            provider: None,
            name: None,
            nickname: None,
            image: None,
            csrf,
        }
    }

    fn signed_in(user: &User, csrf: String) -> SessionState {
        SessionState {
            auth: true,
            id: Some(user.id),
            uid: Some(user.uid.clone()),
            username: Some(user.uid.clone()),
            email: user.email.clone(),
            provider: Some(user.provider.clone()),
            name: user.name.clone(),
            nickname: user.nickname.clone(),
            image: user.image.clone(),
            csrf,
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum SessionGetResponse {
    /// `auth: true` with the user, or `auth: false`; both with a fresh `_csrf`.
    #[oai(status = 200)]
    State(
        Json<Box<SessionState>>,
        /// Removes a session cookie that no longer names a live session.
        #[oai(header = "set-cookie")]
        Option<String>,
    ),
    /// `Authorization: Session <APP_ID>` names no registered app, or the `Origin` is not one
    /// of its origins.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Browser sessions are off (`session_enabled = false`).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

#[derive(Debug, ApiResponse)]
pub enum SessionPostResponse {
    /// Signed in: a new session (cookie) bound to a new device.
    #[oai(status = 200)]
    SignedIn(
        Json<Box<SessionState>>,
        /// The session cookie: HttpOnly, `__Host-` over https.
        #[oai(header = "set-cookie")]
        String,
    ),
    /// Bad credentials, or (unless `paranoid`) an unconfirmed or locked account.
    #[oai(status = 401)]
    Refused(Json<ErrorBody>),
    /// The CSRF check failed (origin, content type or `X-CSRF-Token`); nothing happened.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Browser sessions are off.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Too many attempts from this address or for this e-mail.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
    /// Password checking is at capacity.
    #[oai(status = 503)]
    Busy(
        Json<ErrorBody>,
        /// Whole seconds until a new try may succeed.
        #[oai(header = "retry-after")]
        u64,
    ),
}

#[derive(Debug, ApiResponse)]
pub enum SessionDeleteResponse {
    /// Signed out (or was not signed in): `auth: false` and a fresh `_csrf`.
    #[oai(status = 200)]
    SignedOut(
        Json<Box<SessionState>>,
        /// Removes the session cookie.
        #[oai(header = "set-cookie")]
        String,
    ),
    /// The CSRF check failed; the session goes on.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Browser sessions are off.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

fn not_found(t: &RequestTexts<'_>) -> Json<ErrorBody> {
    Json(ErrorBody::new(t.text(&messages::NOT_FOUND)))
}

fn forbidden(refusal: CsrfRefusal) -> Json<ErrorBody> {
    Json(ErrorBody::new(refusal.message()))
}

/// Who is calling: a registered app (`Authorization: Session <APP_ID>` from one of its
/// origins), a trusted page (toker's own, one of `cors_origins`, or no browser at all), or a
/// page that may not see or use the session.
enum Caller {
    App {
        app_id: String,
        origins: Vec<String>,
    },
    Trusted,
    Untrusted,
}

impl Caller {
    fn app(&self) -> Option<&str> {
        match self {
            Caller::App { app_id, .. } => Some(app_id),
            _ => None,
        }
    }

    /// Whether `origin` may change this caller's session.
    fn allows(&self, mode: &SessionMode, origin: &str) -> bool {
        match self {
            Caller::App { origins, .. } => origins.iter().any(|o| o == origin),
            Caller::Trusted => mode.guard.allows(origin),
            Caller::Untrusted => false,
        }
    }
}

/// The request's one `Origin` (`Some(None)`: none; `None`: several, or not text).
fn single_origin(req: &Request) -> Option<Option<&str>> {
    let mut values = req.headers().get_all(poem::http::header::ORIGIN).iter();
    match (values.next(), values.next()) {
        (None, _) => Some(None),
        (Some(v), None) => v.to_str().ok().map(Some),
        _ => None,
    }
}

/// The caller, or why it is refused (an unknown app, or an origin that is not the app's).
async fn caller(
    accounts: &Accounts,
    mode: &SessionMode,
    req: &Request,
) -> poem::Result<Result<Caller, &'static str>> {
    let origin = single_origin(req);
    let Some(app_id) = app_of(req.headers()) else {
        return Ok(Ok(match origin {
            Some(None) => Caller::Trusted,
            Some(Some(o)) if mode.guard.allows(o) => Caller::Trusted,
            _ => Caller::Untrusted,
        }));
    };
    let Some(app) = accounts.app(app_id).await.map_err(internal)? else {
        return Ok(Err(
            "Unknown app: Authorization: Session names no registered app.",
        ));
    };
    let from_app = matches!(origin, Some(Some(o)) if app.origins.iter().any(|a| a == o));
    if !from_app {
        return Ok(Err(
            "Origin not allowed: it is not one of this app's origins.",
        ));
    }
    Ok(Ok(Caller::App {
        app_id: app.app_id,
        origins: app.origins,
    }))
}

/// Why a request to the session resource was answered before its handler's own rule ran.
enum Refused {
    /// Browser sessions are off: 404.
    Off(Json<ErrorBody>),
    /// An unknown app, or an origin that is not the app's: 403.
    Forbidden(Json<ErrorBody>),
}

/// Each response of the resource answers a refusal the same way.
macro_rules! answers_refusals {
    ($($response:ident),+) => {$(
        impl From<Refused> for $response {
            fn from(refused: Refused) -> $response {
                match refused {
                    Refused::Off(body) => $response::NotFound(body),
                    Refused::Forbidden(body) => $response::Forbidden(body),
                }
            }
        }
    )+};
}

answers_refusals!(
    SessionGetResponse,
    SessionPostResponse,
    SessionDeleteResponse
);

/// What every handler of the resource starts with: the session mode and the caller.
async fn session_caller<'r>(
    t: &RequestTexts<'_>,
    accounts: &Accounts,
    req: &'r Request,
) -> poem::Result<Result<(&'r SessionMode, Caller), Refused>> {
    let Some(mode) = Sessions::of(req) else {
        return Ok(Err(Refused::Off(not_found(t))));
    };
    Ok(match caller(accounts, mode, req).await? {
        Ok(caller) => Ok((mode, caller)),
        Err(why) => Err(Refused::Forbidden(Json(ErrorBody::new(why)))),
    })
}

/// The live session of the request's cookie that `caller` may use: its id, row and user.
async fn live_session<'a>(
    accounts: &Accounts,
    mode: &SessionMode,
    req: &'a Request,
    caller: &Caller,
) -> poem::Result<Option<(&'a str, BrowserSession, User)>> {
    let Some(id) = mode.session_id(req.headers()) else {
        return Ok(None);
    };
    if let Caller::Untrusted = caller {
        return Ok(None);
    }
    let Some((session, user)) = accounts.browser_session(id).await.map_err(internal)? else {
        return Ok(None);
    };
    // A session is bound to the apps it was granted to (docs/cors.md F6).
    if let Some(app) = caller.app()
        && !accounts
            .session_granted(&session, app)
            .await
            .map_err(internal)?
    {
        return Ok(None);
    }
    Ok(Some((id, session, user)))
}

#[derive(Default)]
pub struct BrowserSessions;

#[OpenApi(tag = "ApiTags::BrowserSessions")]
impl BrowserSessions {
    /// Browser session state
    ///
    /// Whether the browser is signed in (by the session cookie), with a fresh `_csrf`.
    #[oai(path = "/session", method = "get")]
    async fn get(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
    ) -> poem::Result<SessionGetResponse> {
        state(&t, &accounts, req).await
    }

    /// Browser session state (Backbone's `fetch` of a signed-in model)
    ///
    /// The same as `GET /session`: the id in the path is the model's and is not needed.
    #[oai(path = "/session/:id", method = "get")]
    async fn get_id(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        /// The id the client's model holds (ignored).
        #[oai(name = "id")]
        _id: Path<String>,
    ) -> poem::Result<SessionGetResponse> {
        state(&t, &accounts, req).await
    }

    /// Sign a browser in
    ///
    /// The rules of `POST /auth/sign_in`; on success the session cookie is set and any session
    /// the browser had ends. Must pass the CSRF check (an allowed `Origin`, JSON, and with
    /// `csrf_tokens` the `X-CSRF-Token` from `GET`).
    #[oai(path = "/session", method = "post")]
    async fn post(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        params: Params<SessionSignIn>,
    ) -> poem::Result<SessionPostResponse> {
        let t = t.with_param(params.get("locale"));
        let (mode, caller) = match session_caller(&t, &accounts, req).await? {
            Ok(found) => found,
            Err(refused) => return Ok(refused.into()),
        };
        let live = live_session(&accounts, mode, req, &caller).await?;
        let current = live.as_ref().map(|(id, _, _)| *id);
        if let Err(refusal) = mode.check(req.method(), req.headers(), current, |o| {
            caller.allows(mode, o)
        }) {
            return Ok(SessionPostResponse::Forbidden(forbidden(refusal)));
        }
        // The browser's own session, even one granted to other apps only, ends at sign-in.
        let previous = mode.session_id(req.headers());
        let p = &params.typed;
        let email = p.email.as_deref().or(p.username.as_deref());
        let outcome = accounts
            .sign_in_browser(
                client_of(req),
                BrowserAttempt {
                    email,
                    password: p.password.as_deref(),
                    previous,
                    app: caller.app(),
                },
                &origin_of(req),
                &t.audience(),
            )
            .await;
        let refused = |m: Message| {
            Ok(SessionPostResponse::Refused(Json(ErrorBody::new(
                t.text(&m),
            ))))
        };
        match outcome {
            Ok(Limited::Ran(BrowserSignIn::SignedIn { user, session_id })) => {
                Ok(SessionPostResponse::SignedIn(
                    Json(Box::new(SessionState::signed_in(
                        &user,
                        mode.csrf_token(Some(&session_id)),
                    ))),
                    mode.set_cookie(&session_id),
                ))
            }
            Ok(Limited::Ran(BrowserSignIn::Refused(outcome))) => match outcome {
                SignInOutcome::LastAttempt => refused(messages::LAST_ATTEMPT),
                SignInOutcome::Locked => refused(messages::LOCKED),
                SignInOutcome::NotConfirmed(email) => refused(messages::not_confirmed(&email)),
                SignInOutcome::BadCredentials | SignInOutcome::SignedIn { .. } => {
                    refused(messages::BAD_CREDENTIALS)
                }
            },
            Ok(Limited::Refused(wait)) => {
                Ok(too_many(SessionPostResponse::TooManyRequests, wait, &t))
            }
            Err(e) => busy_or_internal(e, |secs| {
                SessionPostResponse::Busy(Json(ErrorBody::new(t.text(&messages::BUSY))), secs)
            }),
        }
    }

    /// Sign a browser out
    ///
    /// Ends the browser's session (and its device) for every app that shares it; answers a
    /// fresh `_csrf` for the next sign-in.
    #[oai(path = "/session", method = "delete")]
    async fn delete(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
    ) -> poem::Result<SessionDeleteResponse> {
        sign_out(&t, &accounts, req).await
    }

    /// Sign out everywhere
    ///
    /// Ends every browser session and every device (token clients too) of the signed-in user.
    #[oai(path = "/session/everywhere", method = "delete")]
    async fn delete_everywhere(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
    ) -> poem::Result<SessionDeleteResponse> {
        sign_out_on(&t, &accounts, req, true).await
    }

    /// Sign a browser out (Backbone's `destroy`)
    ///
    /// The same as `DELETE /session`: the id in the path is the model's and is not needed.
    #[oai(path = "/session/:id", method = "delete")]
    async fn delete_id(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        /// The id the client's model holds (ignored).
        #[oai(name = "id")]
        _id: Path<String>,
    ) -> poem::Result<SessionDeleteResponse> {
        sign_out(&t, &accounts, req).await
    }
}

/// What `GET /session` answers.
async fn state(
    t: &RequestTexts<'_>,
    accounts: &Data<&Accounts>,
    req: &Request,
) -> poem::Result<SessionGetResponse> {
    let (mode, caller) = match session_caller(t, accounts, req).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused.into()),
    };
    Ok(match live_session(accounts, mode, req, &caller).await? {
        Some((id, _, user)) => SessionGetResponse::State(
            Json(Box::new(SessionState::signed_in(
                &user,
                mode.csrf_token(Some(id)),
            ))),
            None,
        ),
        None => {
            // A cookie naming no live session is removed; one the caller may merely not
            // use stays, for the apps it was granted to.
            let dead = match (&caller, mode.session_id(req.headers())) {
                (Caller::Trusted, Some(id)) => accounts
                    .browser_session(id)
                    .await
                    .map_err(internal)?
                    .is_none(),
                _ => false,
            };
            let stale = dead.then(|| mode.clear_cookie());
            SessionGetResponse::State(
                Json(Box::new(SessionState::signed_out(mode.csrf_token(None)))),
                stale,
            )
        }
    })
}

async fn sign_out(
    t: &RequestTexts<'_>,
    accounts: &Data<&Accounts>,
    req: &Request,
) -> poem::Result<SessionDeleteResponse> {
    sign_out_on(t, accounts, req, false).await
}

/// Ends the browser's session, or with `everywhere` every session and device of its user.
async fn sign_out_on(
    t: &RequestTexts<'_>,
    accounts: &Data<&Accounts>,
    req: &Request,
    everywhere: bool,
) -> poem::Result<SessionDeleteResponse> {
    let (mode, caller) = match session_caller(t, accounts, req).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused.into()),
    };
    let live = live_session(accounts, mode, req, &caller).await?;
    let current = live.as_ref().map(|(id, _, _)| *id);
    if let Err(refusal) = mode.check(req.method(), req.headers(), current, |o| {
        caller.allows(mode, o)
    }) {
        return Ok(SessionDeleteResponse::Forbidden(forbidden(refusal)));
    }
    match (live, everywhere) {
        (Some((_, _, user)), true) => {
            accounts
                .sign_out_everywhere(&user)
                .await
                .map_err(internal)?;
        }
        (Some((id, _, _)), false) => {
            accounts.end_browser_session(id).await.map_err(internal)?;
        }
        (None, _) => {}
    }
    Ok(SessionDeleteResponse::SignedOut(
        Json(Box::new(SessionState::signed_out(mode.csrf_token(None)))),
        mode.clear_cookie(),
    ))
}
