//! The hosted sign-in page on toker's own origin (docs/decisions.md D15): one sign-in for every
//! registered app. An app sends the browser to `GET <session_path>/sign_in?app_id=…&return_to=…`
//! (the return URL must be on one of that app's origins); the page signs the browser in with a
//! plain form (no JavaScript at all, so no script to allow), or, when it is signed in already,
//! offers to continue to the app, and sends it back. Each app a browser continues to is
//! granted its session. The form posts back to the page itself only, with the page's `_csrf`.

use poem::Request;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Html,
};

use super::{AccountsData, ApiTags, busy_or_internal, client_of, internal, origin_of};
use crate::{
    accounts::{
        Accounts, Limited, SignInOutcome,
        apps::ClientApp,
        browser_sessions::{BrowserAttempt, BrowserSession, BrowserSignIn, User},
    },
    contract::{
        messages::{self, Message},
        params::{Param, Params},
    },
    http::{
        locale::RequestTexts,
        session::{SessionMode, Sessions},
    },
};

/// The page's only style; its hash is the one style the Content-Security-Policy allows.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.25rem 0}input,button{padding:.5rem;box-sizing:border-box}button{margin-top:1rem}.error{color:#a00}";

/// No `form-action`: Chromium applies it to the redirects that follow a submission, and this
/// page's forms end at the app's return URL or at an OAuth provider (found by discovery, so not
/// known here). Every value in the page is escaped, and no script can run to add a form.
fn csp() -> String {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use sha2::{Digest, Sha256};
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; \
         base-uri 'none'"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "unreadable_form")]
pub enum PageResponse {
    /// The sign-in form, or "continue as …" for a browser signed in already.
    #[oai(status = 200)]
    Page(
        Html<String>,
        #[oai(header = "content-security-policy")] String,
        #[oai(header = "x-frame-options")] String,
    ),
    /// Signed in (or continuing): back to the app's return URL.
    #[oai(status = 303)]
    Back(
        #[oai(header = "location")] String,
        /// The session cookie of a new sign-in.
        #[oai(header = "set-cookie")]
        Option<String>,
    ),
    /// The app id or return URL is missing, unknown or not one of the app's origins.
    #[oai(status = 400)]
    BadRequest(
        Html<String>,
        #[oai(header = "content-security-policy")] String,
    ),
    /// The sign-in was refused: the form again, with the reason.
    #[oai(status = 401)]
    Refused(
        Html<String>,
        #[oai(header = "content-security-policy")] String,
        #[oai(header = "x-frame-options")] String,
    ),
    /// Not posted from this page (origin or `_csrf`).
    #[oai(status = 403)]
    Forbidden(
        Html<String>,
        #[oai(header = "content-security-policy")] String,
    ),
    /// Browser sessions are off.
    #[oai(status = 404)]
    NotFound(Html<String>),
    /// Too many attempts, or password checking at capacity.
    #[oai(status = 429)]
    TooMany(
        Html<String>,
        #[oai(header = "content-security-policy")] String,
    ),
}

/// The page's form fields.
#[derive(Debug, Object)]
pub struct PageForm {
    app_id: Param,
    return_to: Param,
    /// The page's anti-forgery token.
    #[oai(rename = "_csrf")]
    csrf: Param,
    email: Param,
    password: Param,
}

/// `same-origin` referrers: the form's POST carries the page's `Origin`, which the check of
/// `submit` needs (under `no-referrer` browsers send `Origin: null`), and nothing of the page's
/// address reaches the app or a provider.
fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        title = escape(title)
    )
}

fn message_page(text: &str) -> String {
    document(
        "Sign in",
        &format!("<h1>Sign in</h1><p class=\"error\">{}</p>", escape(text)),
    )
}

/// The form: e-mail and password, or continue as the signed-in user.
fn form_page(
    app: &ClientApp,
    return_to: &str,
    csrf: &str,
    signed_in: Option<&User>,
    error: Option<&str>,
    providers: &[String],
) -> String {
    let hidden = format!(
        "<input type=\"hidden\" name=\"app_id\" value=\"{}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{}\">\
         <input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        escape(&app.app_id),
        escape(return_to),
        escape(csrf)
    );
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let fields = match signed_in {
        Some(user) => format!(
            "<p>You are signed in as <strong>{}</strong>.</p>\
             <button type=\"submit\">Continue to {}</button>",
            escape(&user.uid),
            escape(&app.name)
        ),
        None => "<label for=\"email\">E-mail</label>\
                 <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required>\
                 <label for=\"password\">Password</label>\
                 <input id=\"password\" name=\"password\" type=\"password\" \
                 autocomplete=\"current-password\" required>\
                 <button type=\"submit\">Sign in</button>"
            .to_string(),
    };
    // One small form per OAuth provider, posting to `<session_path>/oauth/<name>` (relative to
    // this page's own path).
    let oauth: String = match signed_in {
        Some(_) => String::new(),
        None => providers
            .iter()
            .map(|name| {
                format!(
                    "<form method=\"post\" action=\"oauth/{n}\">{hidden}\
                     <button type=\"submit\">Sign in with {n}</button></form>",
                    n = escape(name)
                )
            })
            .collect(),
    };
    document(
        &format!("Sign in to {}", app.name),
        &format!(
            // No `action`: the form posts back to this page's own URL.
            "<h1>Sign in to {}</h1>{error}<form method=\"post\">{hidden}{fields}</form>{oauth}",
            escape(&app.name),
        ),
    )
}

/// The app and return URL of a request, if the URL is on one of the app's origins.
async fn target(
    accounts: &Accounts,
    app_id: Option<&str>,
    return_to: Option<&str>,
) -> poem::Result<Option<(ClientApp, String)>> {
    let (Some(app_id), Some(return_to)) = (app_id, return_to) else {
        return Ok(None);
    };
    let Some(app) = accounts.app(app_id).await.map_err(internal)? else {
        return Ok(None);
    };
    let on_app = url::Url::parse(return_to).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && app
                .origins
                .iter()
                .any(|o| *o == u.origin().ascii_serialization())
    });
    Ok(on_app.then(|| (app, return_to.to_string())))
}

async fn live(
    accounts: &Accounts,
    mode: &SessionMode,
    req: &Request,
) -> poem::Result<Option<(String, BrowserSession, User)>> {
    let Some(id) = mode.session_id(req.headers()) else {
        return Ok(None);
    };
    Ok(accounts
        .browser_session(id)
        .await
        .map_err(internal)?
        .map(|(s, u)| (id.to_string(), s, u)))
}

fn providers(accounts: &Accounts) -> Vec<String> {
    accounts.settings.oauth.keys().cloned().collect()
}

fn forbidden_page() -> PageResponse {
    PageResponse::Forbidden(
        Html(message_page(
            "This form was not sent from this page, or it is too old: open the sign-in link \
             again.",
        )),
        csp(),
    )
}

/// A body or query that cannot be read answers as the page's other refusals do: a page.
fn unreadable_form(_: poem::Error) -> PageResponse {
    PageResponse::BadRequest(
        Html(message_page(
            "This form could not be read: open the sign-in link again.",
        )),
        csp(),
    )
}

fn bad_request() -> PageResponse {
    PageResponse::BadRequest(
        Html(message_page(
            "This sign-in link is not valid: it needs a registered app id and a return URL on \
             one of that app's origins.",
        )),
        csp(),
    )
}

#[derive(Default)]
pub struct HostedSignIn;

#[OpenApi(tag = "ApiTags::BrowserSessions")]
impl HostedSignIn {
    /// Hosted sign-in page
    ///
    /// An HTML form on toker's origin that signs the browser in once for every registered
    /// app; `return_to` must be on one of the app's origins. No JavaScript.
    #[oai(path = "/session/sign_in", method = "get")]
    async fn page(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        /// The registered app's id.
        app_id: Query<Option<String>>,
        /// Where to send the browser afterwards: a URL on one of the app's origins.
        return_to: Query<Option<String>>,
    ) -> poem::Result<PageResponse> {
        let Some(mode) = Sessions::of(req) else {
            return Ok(PageResponse::NotFound(Html(message_page("Not found."))));
        };
        let Some((app, return_to)) =
            target(&accounts, app_id.0.as_deref(), return_to.0.as_deref()).await?
        else {
            return Ok(bad_request());
        };
        let live = live(&accounts, mode, req).await?;
        let csrf = mode.csrf_token(live.as_ref().map(|(id, _, _)| id.as_str()));
        let page = form_page(
            &app,
            &return_to,
            &csrf,
            live.as_ref().map(|(_, _, u)| u),
            None,
            &providers(&accounts),
        );
        Ok(PageResponse::Page(Html(page), csp(), "DENY".into()))
    }

    /// Hosted sign-in
    ///
    /// The page's form: signs the browser in (the rules of `POST /auth/sign_in`), or continues
    /// a signed-in browser to the app, then redirects to `return_to`. Only from the page itself.
    #[oai(path = "/session/sign_in", method = "post")]
    async fn submit(
        &self,
        t: RequestTexts<'_>,
        accounts: AccountsData<'_>,
        req: &Request,
        params: Params<PageForm>,
    ) -> poem::Result<PageResponse> {
        let Some(mode) = Sessions::of(req) else {
            return Ok(PageResponse::NotFound(Html(message_page("Not found."))));
        };
        let p = &params.typed;
        let live = live(&accounts, mode, req).await?;
        let bound = live.as_ref().map(|(id, _, _)| id.as_str());
        let csrf_ok = p
            .csrf
            .as_deref()
            .is_some_and(|c| mode.csrf_matches(bound, c));
        if !mode.guard.from_own_page(req.headers()) || !csrf_ok {
            return Ok(forbidden_page());
        }
        let Some((app, return_to)) =
            target(&accounts, p.app_id.as_deref(), p.return_to.as_deref()).await?
        else {
            return Ok(bad_request());
        };
        // Continue as the signed-in user: no password, the session is granted to this app.
        if let (Some((_, session, _)), None) = (&live, p.password.filled()) {
            accounts
                .grant_session(session, &app.app_id)
                .await
                .map_err(internal)?;
            return Ok(PageResponse::Back(return_to, None));
        }
        let outcome = accounts
            .sign_in_browser(
                client_of(req),
                BrowserAttempt {
                    email: p.email.as_deref(),
                    password: p.password.as_deref(),
                    previous: bound,
                    app: Some(&app.app_id),
                },
                &origin_of(req),
                &t.audience(),
            )
            .await;
        let again = |m: Message| {
            let page = form_page(
                &app,
                &return_to,
                &mode.csrf_token(None),
                None,
                Some(&t.text(&m)),
                &providers(&accounts),
            );
            Ok(PageResponse::Refused(Html(page), csp(), "DENY".into()))
        };
        let too_many = || {
            Ok(PageResponse::TooMany(
                Html(message_page(&t.text(&messages::TOO_MANY_REQUESTS))),
                csp(),
            ))
        };
        match outcome {
            Ok(Limited::Ran(BrowserSignIn::SignedIn { session_id, .. })) => Ok(PageResponse::Back(
                return_to,
                Some(mode.set_cookie(&session_id)),
            )),
            Ok(Limited::Ran(BrowserSignIn::Refused(outcome))) => match outcome {
                SignInOutcome::LastAttempt => again(messages::LAST_ATTEMPT),
                SignInOutcome::Locked => again(messages::LOCKED),
                SignInOutcome::NotConfirmed(email) => again(messages::not_confirmed(&email)),
                SignInOutcome::BadCredentials | SignInOutcome::SignedIn { .. } => {
                    again(messages::BAD_CREDENTIALS)
                }
            },
            Ok(Limited::Refused(_)) => too_many(),
            Err(e) => busy_or_internal(e, |_| {
                PageResponse::TooMany(Html(message_page(&t.text(&messages::BUSY))), csp())
            }),
        }
    }

    /// Hosted sign-in with an OAuth provider
    ///
    /// The page's provider button: binds the sign-in to this browser (a nonce cookie) and sends
    /// it through `<mount_path>/<provider>`, which comes back to `oauth_return`.
    #[oai(path = "/session/oauth/:provider", method = "post")]
    async fn oauth(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        /// A configured provider.
        provider: Path<String>,
        params: Params<PageForm>,
    ) -> poem::Result<PageResponse> {
        let Some(mode) = Sessions::of(req) else {
            return Ok(PageResponse::NotFound(Html(message_page("Not found."))));
        };
        let p = &params.typed;
        let live = live(&accounts, mode, req).await?;
        let bound = live.as_ref().map(|(id, _, _)| id.as_str());
        let csrf_ok = p
            .csrf
            .as_deref()
            .is_some_and(|c| mode.csrf_matches(bound, c));
        if !mode.guard.from_own_page(req.headers()) || !csrf_ok {
            return Ok(forbidden_page());
        }
        let Some((app, return_to)) =
            target(&accounts, p.app_id.as_deref(), p.return_to.as_deref()).await?
        else {
            return Ok(bad_request());
        };
        let s = &accounts.settings;
        if !s.oauth.contains_key(&provider.0) {
            return Ok(bad_request());
        }
        let (nonce, digest) = mode.oauth_nonce();
        let public = s.public_url();
        let back: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("app_id", &app.app_id)
            .append_pair("return_to", &return_to)
            .append_pair("n", &digest)
            .finish();
        let origin_url = format!("{public}{}/oauth_return?{back}", s.session_path);
        let start: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("auth_origin_url", &origin_url)
            .append_pair("omniauth_window_type", "sameWindow")
            .finish();
        let to = format!("{public}{}/{}?{start}", s.mount_path, provider.0);
        Ok(PageResponse::Back(to, Some(mode.oauth_cookie(&nonce))))
    }

    /// Hosted OAuth sign-in's return
    ///
    /// Where the provider callback sends the browser (`sameWindow`): the device it signed in
    /// becomes this browser's session, for the app, if the browser holds the nonce cookie of
    /// the sign-in it started (no login CSRF); then back to `return_to`. A GET that changes
    /// state, as every OAuth return is: single-use (the token in the URL is replaced at once).
    #[oai(path = "/session/oauth_return", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn oauth_return(
        &self,
        accounts: AccountsData<'_>,
        req: &Request,
        app_id: Query<Option<String>>,
        return_to: Query<Option<String>>,
        /// The digest of this browser's sign-in nonce.
        n: Query<Option<String>>,
        /// The new device's token (devise_token_auth's `sameWindow` parameters).
        auth_token: Query<Option<String>>,
        client_id: Query<Option<String>>,
        uid: Query<Option<String>>,
    ) -> poem::Result<PageResponse> {
        let Some(mode) = Sessions::of(req) else {
            return Ok(PageResponse::NotFound(Html(message_page("Not found."))));
        };
        let bound =
            n.0.as_deref()
                .is_some_and(|n| mode.oauth_nonce_matches(req.headers(), n));
        if !bound {
            return Ok(forbidden_page());
        }
        let Some((app, return_to)) =
            target(&accounts, app_id.0.as_deref(), return_to.0.as_deref()).await?
        else {
            return Ok(bad_request());
        };
        let refused = || {
            Ok(PageResponse::Refused(
                Html(message_page(
                    "The sign-in with the provider did not complete.",
                )),
                csp(),
                "DENY".into(),
            ))
        };
        let (Some(token), Some(client), Some(uid)) = (&auth_token.0, &client_id.0, &uid.0) else {
            return refused();
        };
        let Some((_, session_id)) = accounts
            .adopt_oauth_device(uid, client, token, &app.app_id)
            .await
            .map_err(internal)?
        else {
            return refused();
        };
        if let Some(previous) = mode.session_id(req.headers()) {
            accounts
                .end_browser_session(previous)
                .await
                .map_err(internal)?;
        }
        Ok(PageResponse::Back(
            return_to,
            Some(mode.set_cookie(&session_id)),
        ))
    }
}
