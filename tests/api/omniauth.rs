//! OAuth sign-in against a real OpenID Connect provider on loopback (oauth2-mock-server, see
//! `oauth_provider.rs`), configured as a generic OpenID Connect provider, as a generic OAuth2
//! one, as a `form_post` one, and as the `github`, `google_oauth2` and `facebook` presets with
//! their URLs pointed at it (docs/contract.md §4, docs/decisions.md D5, D6, D13).

use std::collections::BTreeMap;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use toker::config::{OAuthProviderSettings, Settings, oauth::ResponseMode};

use crate::{helpers::*, oauth_provider::OAuthProvider};

const ORIGIN_URL: &str = "https://app.example.com/login";
const CLIENT_ID: &str = "toker-test";

/// toker's client at the provider, with `configure`'s changes.
fn client(configure: impl FnOnce(&mut OAuthProviderSettings)) -> OAuthProviderSettings {
    let mut settings = OAuthProviderSettings {
        client_id: CLIENT_ID.into(),
        client_secret: "test-secret".into(),
        ..Default::default()
    };
    configure(&mut settings);
    settings
}

/// A provider found by OpenID Connect discovery; `mobile-app` is one of its audiences.
fn generic(provider: &OAuthProvider) -> OAuthProviderSettings {
    client(|s| {
        s.issuer = Some(provider.issuer());
        s.audiences = vec!["mobile-app".into()];
    })
}

/// A provider with its URLs given, the user endpoint at `userinfo_path`.
fn explicit(provider: &OAuthProvider, userinfo_path: &str) -> OAuthProviderSettings {
    client(|s| {
        s.authorize_url = Some(format!("{}/authorize", provider.url));
        s.token_url = Some(format!("{}/token", provider.url));
        s.userinfo_url = Some(format!("{}{userinfo_path}", provider.url));
    })
}

fn github(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        emails_url: Some(format!("{}/user/emails", provider.url)),
        introspection_url: Some(format!("{}/applications/{{client_id}}/token", provider.url)),
        ..explicit(provider, "/user")
    }
}

fn google(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        introspection_url: Some(format!("{}/tokeninfo", provider.url)),
        ..generic(provider)
    }
}

fn facebook(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        introspection_url: Some(format!("{}/debug_token", provider.url)),
        ..explicit(provider, "/userinfo")
    }
}

/// A generic OAuth2 provider: no way to ask who an access token was issued to.
fn forge(provider: &OAuthProvider) -> OAuthProviderSettings {
    explicit(provider, "/userinfo")
}

/// An OpenID Connect provider that posts its callbacks (Apple's `form_post`).
fn poster(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        response_mode: Some(ResponseMode::FormPost),
        ..generic(provider)
    }
}

async fn oauth_app(provider: &OAuthProvider, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let providers = BTreeMap::from([
        ("idp".to_string(), generic(provider)),
        ("github".to_string(), github(provider)),
        ("google_oauth2".to_string(), google(provider)),
        ("facebook".to_string(), facebook(provider)),
        ("forge".to_string(), forge(provider)),
        ("poster".to_string(), poster(provider)),
    ]);
    spawn_app_with(move |s| {
        s.oauth = providers;
        s.secret_key = Some("a test secret key that is long enough!".into());
        s.sign_up_attributes = vec!["favorite_color".into()];
        configure(s);
    })
    .await
}

fn profile(sub: &str) -> Value {
    json!({
        "sub": sub, "email": format!("{sub}@example.com"), "email_verified": true,
        "name": "Gina Hub", "preferred_username": "gina", "picture": "https://img.example/g.png",
        "id": 12345, "login": "gina-gh", "avatar_url": "https://avatars.example/g.png"
    })
}

fn location(resp: &Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location on {}", resp.status()))
        .to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The request phase: toker's redirect to the provider.
async fn start(app: &TestApp, provider: &str, query: &str) -> Response {
    app.request(Method::GET, &format!("/auth/{provider}?{query}"))
        .send()
        .await
        .unwrap()
}

/// A browser's cookies for toker: what `Set-Cookie` left, sent back as `Cookie`.
#[derive(Debug, Clone, Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, resp: &Response) {
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                self.0.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The callback URL the provider sends the browser to (pointed at the test app's real port),
/// and the cookies of the browser that started the sign-in.
struct Callback {
    url: String,
    jar: Jar,
}

impl Callback {
    /// The browser that started the sign-in follows the link.
    async fn open(&self, app: &TestApp) -> Response {
        self.open_in(app, &self.jar).await
    }

    /// A browser with `jar` follows the link.
    async fn open_in(&self, app: &TestApp, jar: &Jar) -> Response {
        app.client
            .get(&self.url)
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap()
    }
}

/// Request phase, then the provider's authorization endpoint, in a browser with `jar`.
async fn to_callback_in(app: &TestApp, jar: &mut Jar, provider: &str, query: &str) -> Callback {
    let resp = start(app, provider, query).await;
    assert_eq!(resp.status(), 302, "request phase");
    jar.take(&resp);
    let authorize = location(&resp);
    let at_provider = app.client.get(&authorize).send().await.unwrap();
    assert_eq!(at_provider.status(), 302, "provider authorize");
    Callback {
        url: location(&at_provider).replace("http://127.0.0.1:0", &app.address),
        jar: jar.clone(),
    }
}

/// Request phase, then the provider's authorization endpoint, in a fresh browser.
async fn to_callback(app: &TestApp, provider: &str, query: &str) -> Callback {
    to_callback_in(app, &mut Jar::default(), provider, query).await
}

async fn sign_in(app: &TestApp, provider: &str, query: &str) -> Response {
    to_callback(app, provider, query).await.open(app).await
}

/// The data and target origin embedded in a credentials page, and its CSP.
struct PageData {
    data: Value,
    target_origin: String,
    csp: String,
}

async fn read_page(resp: Response) -> PageData {
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    let encoded = html
        .split("decodeURIComponent(\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the embedded data");
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .unwrap()
        .into_owned();
    let target_origin = html
        .split("var targetOrigin = ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .map(|lit| serde_json::from_str::<String>(lit).unwrap())
        .expect("the target origin");
    assert!(html.contains("window.requestCredentials = function"));
    assert!(html.contains("\"requestCredentials\""));
    PageData {
        data: serde_json::from_str(&decoded).unwrap(),
        target_origin,
        csp,
    }
}

#[tokio::test]
async fn new_window_page_delivers_every_credential_to_the_origin_only() {
    // Arrange
    let provider = OAuthProvider::start();
    provider.set_profile(profile("gina")).await;
    let app = oauth_app(&provider, |_| {}).await;

    // Act
    let resp = sign_in(
        &app,
        "idp",
        &format!(
            "auth_origin_url={}&omniauth_window_type=newWindow&config_name=altUser&favorite_color=teal",
            percent_encoding::utf8_percent_encode(ORIGIN_URL, percent_encoding::NON_ALPHANUMERIC)
        ),
    )
    .await;
    let page = read_page(resp).await;

    // Assert: the payload of docs/contract.md §4.2
    let d = &page.data;
    assert_eq!(page.target_origin, "https://app.example.com");
    assert!(page.csp.contains("default-src 'none'"));
    assert!(page.csp.contains("script-src 'sha256-"));
    assert_eq!(d["message"], "deliverCredentials");
    assert_eq!(d["provider"], "idp");
    assert_eq!(d["uid"], "gina");
    assert_eq!(d["email"], "gina@example.com");
    assert_eq!(d["name"], "Gina Hub");
    assert_eq!(d["nickname"], "gina");
    assert_eq!(d["image"], "https://img.example/g.png");
    assert_eq!(d["favorite_color"], "teal");
    assert_eq!(d["config"], "altUser");
    assert_eq!(d["oauth_registration"], true);
    assert_eq!(d["auth_token"].as_str().unwrap().len(), 22);
    assert_eq!(d["client_id"].as_str().unwrap().len(), 22);
    assert!(d["expiry"].is_i64());
    assert!(d["id"].is_i64());
    assert!(d["created_at"].is_string());
    // The credentials work.
    let mut auth = Auth {
        token: d["auth_token"].as_str().unwrap().into(),
        client: d["client_id"].as_str().unwrap().into(),
        uid: "gina".into(),
        expiry: d["expiry"].to_string(),
    };
    assert_eq!(
        app.get_authed("/auth/validate_token", &mut auth)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn same_window_redirects_with_the_exact_params_and_a_returning_user_is_not_new() {
    // Arrange
    let provider = OAuthProvider::start();
    provider.set_profile(profile("sam")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let query = format!(
        "auth_origin_url={}&omniauth_window_type=sameWindow",
        percent_encoding::utf8_percent_encode(
            "https://app.example.com/login#/cb",
            percent_encoding::NON_ALPHANUMERIC
        )
    );

    // Act
    let first = sign_in(&app, "idp", &query).await;
    let second = sign_in(&app, "idp", &query).await;

    // Assert
    assert_eq!(first.status(), 302);
    let to = location(&first);
    let (before, after) = to.split_once('#').unwrap();
    let keys: Vec<String> = url::Url::parse(before)
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "auth_token",
            "blank",
            "client_id",
            "config",
            "expiry",
            "oauth_registration",
            "uid"
        ]
    );
    assert!(before.starts_with("https://app.example.com/login?auth_token="));
    assert!(before.contains("&blank=true&"));
    assert!(before.contains("&config=&"));
    assert!(before.ends_with("&oauth_registration=true&uid=sam"));
    assert_eq!(after, format!("/cb?{}", before.split_once('?').unwrap().1));
    let to = location(&second);
    assert!(!to.contains("oauth_registration"), "{to}");
    assert_eq!(query_param(&to, "uid").as_deref(), Some("sam"));
}

#[tokio::test]
async fn github_preset_with_overridden_urls_maps_its_profile() {
    // Arrange: GitHub hides the e-mail in the profile; the e-mail list has it.
    let provider = OAuthProvider::start();
    let mut p = profile("ignored");
    p["email"] = Value::Null;
    provider.set_profile(p).await;
    let app = oauth_app(&provider, |_| {}).await;

    // Act
    let page = read_page(
        sign_in(
            &app,
            "github",
            "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow",
        )
        .await,
    )
    .await;

    // Assert
    let d = &page.data;
    assert_eq!(d["provider"], "github");
    assert_eq!(d["uid"], "12345");
    assert_eq!(d["nickname"], "gina-gh");
    assert_eq!(d["image"], "https://avatars.example/g.png");
    assert_eq!(d["config"], Value::Null);
}

#[tokio::test]
async fn provider_errors_and_bad_states_end_in_auth_failure() {
    // Arrange
    let provider = OAuthProvider::start();
    provider.set_profile(profile("err")).await;
    let app = oauth_app(&provider, |s| s.oauth_state_lifetime = 1).await;
    let query = "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow";
    let started = start(&app, "idp", query).await;
    let mut jar = Jar::default();
    jar.take(&started);
    let state = query_param(&location(&started), "state").unwrap();

    // Act + Assert: the user refused at the provider
    let denied = app
        .request(
            Method::GET,
            &format!("/omniauth/idp/callback?error=access_denied&state={state}"),
        )
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    let page = read_page(denied).await;
    assert_eq!(
        page.data,
        json!({"error": "access_denied", "message": "authFailure"})
    );
    assert_eq!(page.target_origin, "https://app.example.com");

    // A tampered state
    let callback = to_callback(&app, "idp", query).await;
    let good_state = query_param(&callback.url, "state").unwrap();
    let tampered = Callback {
        url: callback.url.replace(&good_state, &format!("x{good_state}")),
        jar: callback.jar.clone(),
    };
    let page = read_page(tampered.open(&app).await).await;
    assert_eq!(page.data["error"], "csrf_detected");
    assert_eq!(page.target_origin, "*");

    // Replayed: the first use works, the second is refused
    assert_eq!(callback.open(&app).await.status(), 200);
    let replay = read_page(callback.open(&app).await).await;
    assert_eq!(replay.data["error"], "csrf_detected");

    // Expired
    let late = to_callback(&app, "idp", query).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = read_page(late.open(&app).await).await;
    assert_eq!(expired.data["error"], "csrf_detected");

    // A state made for another provider
    let for_github = query_param(&location(&start(&app, "github", query).await), "state").unwrap();
    let wrong = read_page(
        app.request(
            Method::GET,
            &format!("/auth/idp/callback?code=x&state={for_github}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(wrong.data["error"], "csrf_detected");
}

#[tokio::test]
async fn a_disallowed_auth_origin_url_never_receives_anything() {
    // Arrange
    let provider = OAuthProvider::start();
    let app = oauth_app(&provider, |s| {
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;

    // Act
    let popup = start(
        &app,
        "idp",
        "auth_origin_url=https%3A%2F%2Fevil.test%2F&omniauth_window_type=newWindow",
    )
    .await;
    let same = start(
        &app,
        "idp",
        "auth_origin_url=https%3A%2F%2Fevil.test%2F&omniauth_window_type=sameWindow",
    )
    .await;

    // Assert: a failure, never a redirect to the provider or to evil.test
    let page = read_page(popup).await;
    assert_eq!(
        page.data,
        json!({"error": "Redirect to 'https://evil.test/' not allowed.", "message": "authFailure"})
    );
    assert_eq!(same.status(), 200);
    assert!(same.headers().get("location").is_none());
    assert!(same.text().await.unwrap().contains("not allowed"));
}

#[tokio::test]
async fn unknown_providers_are_a_json_404() {
    let provider = OAuthProvider::start();
    let app = oauth_app(&provider, |_| {}).await;

    for path in [
        "/auth/nope",
        "/auth/nope/callback",
        "/omniauth/nope/callback",
    ] {
        let resp = app.request(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_json_content_type(&resp);
    }
    let resp = app
        .post_json("/auth/nope/token", &json!({"access_token": "x"}))
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn native_apps_trade_a_valid_provider_token_and_forged_or_expired_ones_fail() {
    // Arrange
    let provider = OAuthProvider::start();
    provider.set_profile(profile("native")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let valid = provider.id_token("mobile-app").await;
    let expired = provider.expired_id_token("mobile-app").await;
    let foreign_audience = provider.id_token("someone-else").await;
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&json!({"sub": "admin", "aud": "mobile-app", "iss": provider.issuer(), "exp": 4102444800i64})).unwrap(),
    );
    let forged = format!("{head}.{forged_claims}.{signature}");

    // Act
    let ok = app
        .post_json("/auth/idp/token", &json!({"id_token": valid}))
        .await;
    let mut refused = Vec::new();
    for bad in [expired, foreign_audience, forged, "not-a-jwt".to_string()] {
        let resp = app
            .post_json("/auth/idp/token", &json!({"id_token": bad}))
            .await;
        refused.push(resp.status().as_u16());
    }
    let forged_access = app
        .post_json("/auth/idp/token", &json!({"access_token": "forged"}))
        .await;

    // Assert
    assert_eq!(ok.status(), 200);
    let mut auth = Auth::from_headers(ok.headers()).expect("sign-in headers");
    let body = json(ok).await;
    assert_eq!(body["data"]["uid"], "native");
    assert!(body["data"].get("created_at").is_none());
    assert_eq!(
        app.get_authed("/auth/validate_token", &mut auth)
            .await
            .status(),
        200
    );
    assert_eq!(refused, vec![401, 401, 401, 401]);
    assert_eq!(forged_access.status(), 401);
    assert_eq!(
        json(forged_access).await,
        json!({"success": false, "errors": ["Invalid provider token."]})
    );
}

/// `POST /auth/<provider>/token` with `body`: the status, and the uid signed in (if any).
async fn exchange(app: &TestApp, provider: &str, body: Value) -> (u16, Option<String>) {
    let resp = app
        .post_json(&format!("/auth/{provider}/token"), &body)
        .await;
    let status = resp.status().as_u16();
    let has_credentials = Auth::from_headers(resp.headers()).is_some();
    assert_json_content_type(&resp);
    let body = json(resp).await;
    if status == 200 {
        assert!(has_credentials, "{body}");
        (status, body["data"]["uid"].as_str().map(str::to_string))
    } else {
        assert!(!has_credentials);
        assert_eq!(
            body,
            json!({"success": false, "errors": ["Invalid provider token."]})
        );
        (status, None)
    }
}

async fn exchange_access_token(
    app: &TestApp,
    provider: &str,
    token: &str,
) -> (u16, Option<String>) {
    exchange(app, provider, json!({ "access_token": token })).await
}

#[tokio::test]
async fn an_access_token_issued_to_another_app_signs_nobody_in() {
    // Arrange: tokens the provider issued to toker's client and to some other app (say, a
    // leaked token of any app the victim uses)
    let provider = OAuthProvider::start();
    provider.set_profile(profile("app-user")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let ours = provider.access_token(CLIENT_ID, 3600).await;
    let theirs = provider.access_token("some-other-app", 3600).await;
    let mobile = provider.access_token("mobile-app", 3600).await;
    let expired = provider.access_token(CLIENT_ID, -10).await;

    // Act + Assert, provider by provider: the provider says whom each token was issued to
    for name in ["github", "google_oauth2", "facebook", "idp"] {
        let uid = if matches!(name, "github" | "facebook") {
            "12345"
        } else {
            "app-user"
        };
        assert_eq!(
            exchange_access_token(&app, name, &ours).await,
            (200, Some(uid.to_string())),
            "{name}: our own token"
        );
        assert_eq!(
            exchange_access_token(&app, name, &theirs).await,
            (401, None),
            "{name}: another app's token"
        );
        assert_eq!(
            exchange_access_token(&app, name, &expired).await,
            (401, None),
            "{name}: an expired token"
        );
        assert_eq!(
            exchange_access_token(&app, name, "forged").await,
            (401, None),
            "{name}: a token the provider never issued"
        );
    }
    // `audiences` lists the mobile app's client id for the providers that can say so.
    assert_eq!(
        exchange_access_token(&app, "google_oauth2", &mobile).await,
        (200, Some("app-user".into()))
    );
    assert_eq!(
        exchange_access_token(&app, "idp", &mobile).await,
        (200, Some("app-user".into()))
    );
    // GitHub's check is made with toker's own client credentials.
    assert_eq!(
        exchange_access_token(&app, "github", &mobile).await,
        (401, None)
    );
}

#[tokio::test]
async fn a_provider_that_cannot_say_whom_a_token_was_issued_to_takes_no_access_tokens() {
    // Arrange: a generic OAuth2 provider without introspection_url; the token is toker's own
    let provider = OAuthProvider::start();
    provider.set_profile(profile("plain")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let ours = provider.access_token(CLIENT_ID, 3600).await;

    // Act
    let result = exchange_access_token(&app, "forge", &ours).await;

    // Assert: its user-info endpoint answers to the token, but that proves nothing
    assert_eq!(result, (401, None));
}

#[tokio::test]
async fn the_user_signed_in_is_the_one_the_token_check_names() {
    // Arrange: the check names another user than the profile read with the token
    let provider = OAuthProvider::start();
    provider.set_profile(profile("victim")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let ours = provider.access_token(CLIENT_ID, 3600).await;
    provider.misreport_owner(Some("someone-else")).await;

    // Act + Assert
    for name in ["github", "google_oauth2", "facebook", "idp"] {
        assert_eq!(
            exchange_access_token(&app, name, &ours).await,
            (401, None),
            "{name}"
        );
    }
    provider.misreport_owner(None).await;
    assert_eq!(exchange_access_token(&app, "idp", &ours).await.0, 200);
}

#[tokio::test]
async fn an_id_token_needs_every_required_claim_and_the_right_party() {
    // Arrange
    let provider = OAuthProvider::start();
    provider.set_profile(profile("claims")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let token = |claims: Value, header: Value| {
        let provider = &provider;
        async move { provider.id_token_with("mobile-app", claims, header).await }
    };
    let none = json!({});

    // Act + Assert: each claim jsonwebtoken would only check when present
    for missing in ["iss", "aud", "sub", "exp"] {
        let id_token = token(json!({ missing: null }), none.clone()).await;
        assert_eq!(
            exchange(&app, "idp", json!({ "id_token": id_token })).await,
            (401, None),
            "without {missing}"
        );
    }
    let cases = [
        // Several audiences: azp must say which is the client it was issued to.
        (
            json!({"aud": ["mobile-app", "someone-else"]}),
            none.clone(),
            401,
        ),
        (
            json!({"aud": ["mobile-app", "someone-else"], "azp": "someone-else"}),
            none.clone(),
            401,
        ),
        (
            json!({"aud": ["mobile-app", "someone-else"], "azp": "mobile-app"}),
            none.clone(),
            200,
        ),
        (json!({"azp": "someone-else"}), none.clone(), 401),
        (json!({"azp": CLIENT_ID}), none.clone(), 200),
        // An access token in JWT form is no id_token.
        (none.clone(), json!({"typ": "at+jwt"}), 401),
        (none.clone(), json!({"typ": "application/at+jwt"}), 401),
        // A number where a string belongs.
        (json!({"sub": 7}), none.clone(), 401),
        (json!({"iss": [provider.issuer()]}), none.clone(), 401),
        (
            json!({"nbf": chrono::Utc::now().timestamp() + 3600}),
            none.clone(),
            401,
        ),
    ];
    for (claims, header, expected) in cases {
        let id_token = token(claims.clone(), header.clone()).await;
        let (status, _) = exchange(&app, "idp", json!({ "id_token": id_token })).await;
        assert_eq!(status, expected, "claims {claims}, header {header}");
    }
}

#[tokio::test]
async fn unknown_key_ids_refresh_the_key_set_at_most_once_a_minute() {
    // Arrange: toker has the key set from a first sign-in
    let provider = OAuthProvider::start();
    provider.set_profile(profile("keys")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let first = provider.id_token("mobile-app").await;
    assert_eq!(
        exchange(&app, "idp", json!({"id_token": first})).await.0,
        200
    );
    assert_eq!(provider.jwks_requests().await, 1);

    // Act + Assert: a rotated key is fetched at once
    provider.rotate_key().await;
    let rotated = provider.id_token("mobile-app").await;
    assert_eq!(
        exchange(&app, "idp", json!({"id_token": rotated})).await.0,
        200
    );
    assert_eq!(provider.jwks_requests().await, 2);

    // Made-up key ids: refused, and no more fetches for a minute however many arrive
    for i in 0..5 {
        let bogus = provider
            .id_token_with(
                "mobile-app",
                json!({}),
                json!({"kid": format!("made-up-{i}")}),
            )
            .await;
        assert_eq!(
            exchange(&app, "idp", json!({"id_token": bogus})).await.0,
            401
        );
    }
    assert_eq!(provider.jwks_requests().await, 2);
    // Known keys keep working from the cache.
    let again = provider.id_token("mobile-app").await;
    assert_eq!(
        exchange(&app, "idp", json!({"id_token": again})).await.0,
        200
    );
    assert_eq!(provider.jwks_requests().await, 2);
}

#[tokio::test]
async fn the_key_set_is_kept_as_long_as_its_cache_control_says() {
    // Arrange: keys that may be cached for one second
    let provider = OAuthProvider::start();
    provider.set_profile(profile("cache")).await;
    provider.set_jwks_cache_control("public, max-age=1").await;
    let app = oauth_app(&provider, |_| {}).await;
    let id_token = provider.id_token("mobile-app").await;

    // Act
    let first = exchange(&app, "idp", json!({"id_token": &id_token}))
        .await
        .0;
    let cached = exchange(&app, "idp", json!({"id_token": &id_token}))
        .await
        .0;
    let fetched_while_fresh = provider.jwks_requests().await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let after = exchange(&app, "idp", json!({"id_token": &id_token}))
        .await
        .0;

    // Assert
    assert_eq!((first, cached, after), (200, 200, 200));
    assert_eq!(fetched_while_fresh, 1);
    assert_eq!(provider.jwks_requests().await, 2);
}

#[tokio::test]
async fn only_emails_the_provider_vouches_for_are_stored() {
    // Arrange: an address the provider has not verified
    let provider = OAuthProvider::start();
    let mut unverified = profile("unverified");
    unverified["email_verified"] = json!(false);
    provider.set_profile(unverified.clone()).await;
    let app = oauth_app(&provider, |s| {
        // Facebook's preset trusts its addresses; this deployment says it should not.
        let mut distrusted = s.oauth["facebook"].clone();
        distrusted.emails_verified = Some(false);
        s.oauth.insert("facebook_strict".into(), distrusted);
    })
    .await;
    let query = "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow";
    let email_of = |resp: Value| resp["data"]["email"].clone();

    // Act + Assert: OpenID Connect `email_verified` false
    let page = read_page(sign_in(&app, "idp", query).await).await;
    assert_eq!(page.data["email"], Value::Null);
    // GitHub's e-mail list says unverified (the profile hides the address)
    let mut hidden = unverified.clone();
    hidden["email"] = Value::Null;
    provider.set_profile(hidden).await;
    let page = read_page(sign_in(&app, "github", query).await).await;
    assert_eq!(page.data["email"], Value::Null);
    // Facebook gives no flag: its preset trusts the address, unless told not to
    provider.set_profile(unverified.clone()).await;
    let token = provider.access_token(CLIENT_ID, 3600).await;
    let resp = app
        .post_json("/auth/facebook/token", &json!({ "access_token": token }))
        .await;
    assert_eq!(email_of(json(resp).await), "unverified@example.com");
    let resp = app
        .post_json(
            "/auth/facebook_strict/token",
            &json!({ "access_token": token }),
        )
        .await;
    assert_eq!(email_of(json(resp).await), Value::Null);
    // Verified addresses are kept, GitHub's from its list
    provider.set_profile(profile("verified")).await;
    let page = read_page(sign_in(&app, "idp", query).await).await;
    assert_eq!(page.data["email"], "verified@example.com");
    let page = read_page(sign_in(&app, "github", query).await).await;
    assert_eq!(page.data["email"], "verified@example.com");
}

#[tokio::test]
async fn an_email_used_by_two_sign_in_methods_gives_two_accounts_and_no_error() {
    // Arrange: a password account with the provider's address
    let provider = OAuthProvider::start();
    provider.set_profile(profile("twin")).await;
    let app = oauth_app(&provider, |_| {}).await;
    assert_eq!(
        app.sign_up("twin@example.com", "password1").await.status(),
        200
    );

    // Act
    let page = read_page(
        sign_in(
            &app,
            "idp",
            "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow",
        )
        .await,
    )
    .await;

    // Assert: a separate provider account; the password account is untouched
    assert_eq!(page.data["message"], "deliverCredentials");
    assert_eq!(page.data["provider"], "idp");
    assert_eq!(page.data["email"], "twin@example.com");
    assert_eq!(
        app.sign_in_response("twin@example.com", "password1")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn providers_may_post_the_callback_and_omniauth_paths_start_sign_ins_too() {
    // Arrange: a `form_post` provider (Apple-style), started on OmniAuth's own request path
    let provider = OAuthProvider::start();
    provider.set_profile(profile("poster")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let resp = app
        .request(
            Method::GET,
            "/omniauth/poster?auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let mut jar = Jar::default();
    jar.take(&resp);
    let authorize = location(&resp);
    assert_eq!(
        query_param(&authorize, "response_mode").as_deref(),
        Some("form_post")
    );
    // The provider answers with a page that posts code and state to the callback.
    let at_provider = app.client.get(&authorize).send().await.unwrap();
    assert_eq!(at_provider.status(), 200);
    let html = at_provider.text().await.unwrap();
    let field = |name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|v| v.replace("&#34;", "\"").replace("&#38;", "&"))
            .unwrap_or_else(|| panic!("no {name} in {html}"))
    };
    assert!(html.contains("action=\"http://127.0.0.1:0/omniauth/poster/callback\""));

    // Act: the browser posts the form, from the provider's page
    let resp = app
        .request(Method::POST, "/omniauth/poster/callback")
        .header("cookie", jar.header())
        .header("origin", &provider.url)
        .form(&[("code", field("code")), ("state", field("state"))])
        .send()
        .await
        .unwrap();

    // Assert: the provider's origin is no CORS origin, yet the callback is its to post to
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let page = read_page(resp).await;
    assert_eq!(page.data["message"], "deliverCredentials");
    assert_eq!(page.data["uid"], "poster");
    // Everywhere else that origin is still refused (docs/decisions.md D8).
    let elsewhere = app
        .request(Method::POST, "/auth/sign_in")
        .header("origin", &provider.url)
        .form(&[("email", "a@example.com"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403);
}

/// The `Set-Cookie` of a request phase.
fn binding_cookie(resp: &Response) -> String {
    let cookies: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 1, "one cookie per request phase");
    cookies[0].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_callback_link_opened_in_another_browser_fails_with_the_auth_failure_page() {
    // Arrange: an attacker starts a sign-in in their own browser and stops at the callback link
    let provider = OAuthProvider::start();
    provider.set_profile(profile("attacker")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let popup = "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow";
    let same = "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=sameWindow";
    let attackers = to_callback(&app, "idp", popup).await;
    let attackers_same_window = to_callback(&app, "idp", same).await;
    // The victim's browser has cookies of a sign-in of its own.
    let mut victim = Jar::default();
    let _ = to_callback_in(&app, &mut victim, "idp", popup).await;

    // Act: the victim opens the attacker's links
    let in_victims_browser = attackers.open_in(&app, &victim).await;
    let same_window = attackers_same_window.open_in(&app, &victim).await;
    let without_cookies = attackers.open_in(&app, &Jar::default()).await;
    let garbage = app
        .client
        .get(&attackers.url)
        .header("cookie", "toker_oauth_=;;; =x; é=\"")
        .send()
        .await
        .unwrap();

    // Assert: the authFailure page, for any window type, and to no origin in particular
    for resp in [in_victims_browser, same_window, without_cookies, garbage] {
        assert!(resp.headers().get("location").is_none());
        assert!(resp.headers().get("set-cookie").is_none());
        let page = read_page(resp).await;
        assert_eq!(
            page.data,
            json!({"error": "csrf_detected", "message": "authFailure"})
        );
        assert_eq!(page.target_origin, "*");
    }
    // The attacker's own browser could still finish: nothing was spent.
    let page = read_page(attackers.open(&app).await).await;
    assert_eq!(page.data["message"], "deliverCredentials");
}

#[tokio::test]
async fn one_browser_may_run_two_sign_ins_at_once() {
    // Arrange: two popups of one browser, both at the provider
    let provider = OAuthProvider::start();
    provider.set_profile(profile("twice")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let query = "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow";
    let mut browser = Jar::default();
    let first = to_callback_in(&app, &mut browser, "idp", query).await;
    let second = to_callback_in(&app, &mut browser, "github", query).await;
    assert_eq!(browser.0.len(), 2, "a cookie per sign-in");

    // Act: they come back in the other order
    let second_back = second.open_in(&app, &browser).await;
    browser.take(&second_back);
    let first_back = first.open_in(&app, &browser).await;
    browser.take(&first_back);

    // Assert: both sign in, and each callback removed its own cookie
    assert_eq!(read_page(second_back).await.data["provider"], "github");
    assert_eq!(read_page(first_back).await.data["provider"], "idp");
    assert!(browser.0.is_empty(), "{:?}", browser.0);
}

#[tokio::test]
async fn the_binding_cookie_is_short_lived_http_only_and_host_only_over_https() {
    // Arrange
    let provider = OAuthProvider::start();
    let plain = oauth_app(&provider, |s| {
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;
    let tls = oauth_app(&provider, |s| {
        s.public_url = Some("https://api.example.com".into());
        s.redirect_whitelist = Some(vec!["https://app.example.com/*".into()]);
    })
    .await;
    let query = "auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow";

    // Act
    let over_http = binding_cookie(&start(&plain, "idp", query).await);
    let over_http_post = binding_cookie(&start(&plain, "poster", query).await);
    let over_https = binding_cookie(&start(&tls, "idp", query).await);
    let over_https_post = binding_cookie(&start(&tls, "poster", query).await);

    // Assert: no credential in it, just the hash of the state's nonce
    let attributes = |cookie: &str| cookie.split_once("; ").unwrap().1.to_string();
    assert!(over_http.starts_with("toker_oauth_"), "{over_http}");
    assert_eq!(
        attributes(&over_http),
        "Max-Age=600; Path=/; HttpOnly; SameSite=Lax"
    );
    // Browsers drop SameSite=None without Secure: over HTTP a form_post provider stays Lax.
    assert_eq!(attributes(&over_http_post), attributes(&over_http));
    assert!(
        over_https.starts_with("__Host-toker_oauth_"),
        "{over_https}"
    );
    assert_eq!(
        attributes(&over_https),
        "Max-Age=600; Path=/; HttpOnly; SameSite=Lax; Secure"
    );
    assert_eq!(
        attributes(&over_https_post),
        "Max-Age=600; Path=/; HttpOnly; SameSite=None; Secure"
    );
    // Nothing else sets a cookie: a failed request phase neither.
    let refused = start(
        &plain,
        "idp",
        "auth_origin_url=https%3A%2F%2Fevil.test%2F&omniauth_window_type=newWindow",
    )
    .await;
    assert!(refused.headers().get("set-cookie").is_none());
}

/// Several user types (README "Several user types"): an Admin signs in with a provider at the
/// Admin mount, its callback is the Admin's own, the account made is an Admin, and a provider
/// left out of the type's `oauth_providers` is not there.
#[tokio::test]
async fn a_user_type_signs_in_with_its_providers_at_its_own_mount() {
    // Arrange
    let provider = OAuthProvider::start();
    provider.set_profile(profile("ada")).await;
    let app = oauth_app(&provider, |s| {
        s.user_types = vec![toker::config::UserTypeSettings {
            name: "Admin".into(),
            mount_path: "/admin_auth".into(),
            oauth_providers: Some(vec!["idp".into()]),
            ..Default::default()
        }];
    })
    .await;
    let query =
        "auth_origin_url=https%3A%2F%2Fapp.example.com%2Flogin&omniauth_window_type=sameWindow";

    // Act: the request phase at the Admin mount, the provider, the callback
    let resp = app
        .request(Method::GET, &format!("/admin_auth/idp?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let mut jar = Jar::default();
    jar.take(&resp);
    let authorize = location(&resp);
    let redirect_uri = query_param(&authorize, "redirect_uri").unwrap();
    assert_eq!(
        url::Url::parse(&redirect_uri).unwrap().path(),
        "/admin_auth/omniauth/idp/callback"
    );
    let at_provider = app.client.get(&authorize).send().await.unwrap();
    let callback = Callback {
        url: location(&at_provider).replace("http://127.0.0.1:0", &app.address),
        jar,
    };
    let done = callback.open(&app).await;

    // Assert: an Admin was made and signed in; its token is good at the Admin mount only
    assert_eq!(done.status(), 302);
    let to = location(&done);
    let auth = Auth {
        token: query_param(&to, "auth_token").unwrap(),
        client: query_param(&to, "client_id").unwrap(),
        uid: query_param(&to, "uid").unwrap(),
        expiry: query_param(&to, "expiry").unwrap(),
    };
    let admin = app
        .store
        .for_type("Admin")
        .find_provider_user("idp", "ada")
        .await
        .unwrap();
    assert_eq!(admin.unwrap().user_type, "Admin");
    assert!(
        app.store
            .find_provider_user("idp", "ada")
            .await
            .unwrap()
            .is_none()
    );
    let at = |path: &str| app.authed(Method::GET, path, &auth).send();
    assert_eq!(at("/auth/validate_token").await.unwrap().status(), 401);
    assert_eq!(
        at("/admin_auth/validate_token").await.unwrap().status(),
        200
    );
    // github is configured, but not for Admins.
    let resp = app
        .request(Method::GET, &format!("/admin_auth/github?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .request(Method::GET, &format!("/auth/github?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
}

#[tokio::test]
async fn cookie_mode_sets_the_auth_cookie_on_oauth_success() {
    let provider = OAuthProvider::start();
    provider.set_profile(profile("cora")).await;
    let app = oauth_app(&provider, |s| {
        s.cookie_enabled = true;
        s.cookie_attributes.same_site = Some(toker::config::SameSite::Lax);
    })
    .await;

    let resp = sign_in(
        &app,
        "idp",
        "auth_origin_url=https%3A%2F%2Fapp.example.com%2Flogin&omniauth_window_type=sameWindow",
    )
    .await;

    assert_eq!(resp.status(), 302);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("auth_cookie="))
        .expect("the auth cookie");
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("auth_cookie=");
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap();
    let sent: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(sent["uid"], "cora");
    assert!(cookie.contains("; HttpOnly; SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn the_hosted_page_signs_a_browser_in_with_a_provider_for_an_app() {
    const ONE: &str = crate::apps::ONE;
    let provider = OAuthProvider::start();
    provider.set_profile(profile("olga")).await;
    let app = oauth_app(&provider, |s| {
        s.session_enabled = true;
        s.cookie_attributes.same_site = Some(toker::config::SameSite::Lax);
    })
    .await;
    let out = crate::apps::toker(
        &app,
        &[
            "apps", "add", "--name", "One", "--origin", ONE, "--id", "app-one",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = app.settings.public_url();
    let local = |url: &str| url.replace(&public, &app.address);
    let back = format!("{ONE}/after");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("app_id", "app-one")
        .append_pair("return_to", &back)
        .finish();
    let html = app
        .request(Method::GET, &format!("/session/sign_in?{query}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("action=\"oauth/idp\""), "{html}");
    let start = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
    let csrf = html[start..][..html[start..].find('"').unwrap()].to_string();
    let mut jar = Jar::default();

    // The provider button, then the request phase, the provider and its callback.
    let resp = app
        .request(Method::POST, "/session/oauth/idp")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("app_id", "app-one"),
            ("return_to", back.as_str()),
            ("_csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    jar.take(&resp);
    let resp = app
        .client
        .get(local(&location(&resp)))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "request phase");
    jar.take(&resp);
    let at_provider = app.client.get(location(&resp)).send().await.unwrap();
    assert_eq!(at_provider.status(), 302);
    let callback = Callback {
        url: local(&location(&at_provider)),
        jar: jar.clone(),
    };
    let resp = callback.open(&app).await;
    assert_eq!(resp.status(), 302, "callback");
    let return_url = local(&location(&resp));
    assert!(
        return_url.contains("/session/oauth_return?"),
        "{return_url}"
    );

    // Opened in another browser (no nonce cookie): login CSRF, refused.
    let other = app.client.get(&return_url).send().await.unwrap();
    assert_eq!(other.status(), 403);

    let resp = app
        .client
        .get(&return_url)
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), back);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("toker_session="))
        .expect("a session cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let state = json(
        app.request(Method::GET, "/session")
            .header("origin", ONE)
            .header("authorization", "Session app-one")
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["auth"], true);
    assert_eq!(state["uid"], "olga");
    // The token that came through the address bar no longer works, and the return is single-use.
    let token = query_param(&return_url, "auth_token").unwrap();
    let client_id = query_param(&return_url, "client_id").unwrap();
    let resp = app
        .request(Method::GET, "/auth/validate_token")
        .header("access-token", token)
        .header("client", client_id)
        .header("uid", "olga")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let again = app
        .client
        .get(&return_url)
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
}
