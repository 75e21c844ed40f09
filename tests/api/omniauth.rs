//! OAuth sign-in against a real OpenID Connect provider on loopback (oauth2-mock-server, see
//! `oauth_provider.rs`), configured once as a generic provider and once as the `github` preset
//! with overridden URLs (docs/contract.md §4, docs/decisions.md D5–D6).

use std::collections::BTreeMap;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use toker::config::{OAuthProviderSettings, Settings};

use crate::{helpers::*, oauth_provider::OAuthProvider};

const ORIGIN_URL: &str = "https://app.example.com/login";
const CLIENT_ID: &str = "toker-test";

fn generic(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        issuer: Some(provider.issuer()),
        client_id: CLIENT_ID.into(),
        client_secret: "test-secret".into(),
        audiences: vec!["mobile-app".into()],
        ..Default::default()
    }
}

fn github(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        client_id: CLIENT_ID.into(),
        client_secret: "test-secret".into(),
        authorize_url: Some(format!("{}/authorize", provider.url)),
        token_url: Some(format!("{}/token", provider.url)),
        userinfo_url: Some(format!("{}/user", provider.url)),
        emails_url: Some(format!("{}/user/emails", provider.url)),
        ..Default::default()
    }
}

async fn oauth_app(provider: &OAuthProvider, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (idp, gh) = (generic(provider), github(provider));
    spawn_app_with(move |s| {
        s.oauth = BTreeMap::from([("idp".to_string(), idp), ("github".to_string(), gh)]);
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

/// Request phase, then the provider's authorization endpoint: the callback URL it sends the
/// browser to (pointed at the test app's real port).
async fn to_callback(app: &TestApp, provider: &str, query: &str) -> String {
    let resp = start(app, provider, query).await;
    assert_eq!(resp.status(), 302, "request phase");
    let authorize = location(&resp);
    let at_provider = app.client.get(&authorize).send().await.unwrap();
    assert_eq!(at_provider.status(), 302, "provider authorize");
    location(&at_provider).replace("http://127.0.0.1:0", &app.address)
}

async fn sign_in(app: &TestApp, provider: &str, query: &str) -> Response {
    let callback = to_callback(app, provider, query).await;
    app.client.get(&callback).send().await.unwrap()
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
    let authorize = location(&start(&app, "idp", query).await);
    let state = query_param(&authorize, "state").unwrap();

    // Act + Assert: the user refused at the provider
    let denied = app
        .request(
            Method::GET,
            &format!("/omniauth/idp/callback?error=access_denied&state={state}"),
        )
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
    let good_state = query_param(&callback, "state").unwrap();
    let tampered = callback.replace(&good_state, &format!("x{good_state}"));
    let page = read_page(app.client.get(&tampered).send().await.unwrap()).await;
    assert_eq!(page.data["error"], "csrf_detected");
    assert_eq!(page.target_origin, "*");

    // Replayed: the first use works, the second is refused
    assert_eq!(
        app.client.get(&callback).send().await.unwrap().status(),
        200
    );
    let replay = read_page(app.client.get(&callback).send().await.unwrap()).await;
    assert_eq!(replay.data["error"], "csrf_detected");

    // Expired
    let late = to_callback(&app, "idp", query).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = read_page(app.client.get(&late).send().await.unwrap()).await;
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

#[tokio::test]
async fn native_apps_can_trade_a_provider_access_token() {
    // Arrange: the app's own authorization-code flow at the provider gives it an access token
    let provider = OAuthProvider::start();
    provider.set_profile(profile("app-user")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let redirect_uri = "http://127.0.0.1:9/app-callback";
    let authorize = app
        .client
        .get(format!("{}/authorize", provider.url))
        .query(&[
            ("response_type", "code"),
            ("client_id", "mobile-app"),
            ("redirect_uri", redirect_uri),
            ("state", "s"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    let code = query_param(&location(&authorize), "code").unwrap();
    let token: Value = app
        .client
        .post(format!("{}/token", provider.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", "mobile-app"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = token["access_token"].as_str().expect("an access token");

    // Act
    let resp = app
        .post_json("/auth/github/token", &json!({"access_token": access_token}))
        .await;

    // Assert: checked with the provider's user endpoint, signed in as that user
    assert_eq!(resp.status(), 200);
    assert!(Auth::from_headers(resp.headers()).is_some());
    assert_eq!(json(resp).await["data"]["uid"], "12345");
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
    // Arrange: Apple-style `form_post` callbacks, and OmniAuth's own request path
    let provider = OAuthProvider::start();
    provider.set_profile(profile("poster")).await;
    let app = oauth_app(&provider, |_| {}).await;
    let resp = app
        .request(
            Method::GET,
            "/omniauth/idp?auth_origin_url=https%3A%2F%2Fapp.example.com%2F&omniauth_window_type=newWindow",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let at_provider = app.client.get(location(&resp)).send().await.unwrap();
    let callback = location(&at_provider);

    // Act: the same code and state, posted as a form
    let resp = app
        .request(Method::POST, "/omniauth/idp/callback")
        .form(&[
            ("code", query_param(&callback, "code").unwrap()),
            ("state", query_param(&callback, "state").unwrap()),
        ])
        .send()
        .await
        .unwrap();

    // Assert
    let page = read_page(resp).await;
    assert_eq!(page.data["message"], "deliverCredentials");
    assert_eq!(page.data["uid"], "poster");
}
