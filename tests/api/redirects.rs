//! The redirect rule at every place toker sends a browser (docs/decisions.md D5, docs/contract.md
//! §2.0.6–2.0.7): the whitelist matches the URL a browser would open, hash routes and queries
//! pass, every `Location` is written from the parsed URL, and with no whitelist only the origins
//! of `cors_origins` and `public_url` pass. One table of hostile and one of allowed URLs is run
//! through each site: sign-up, account update, confirmation resend and landing, reset request
//! and landing, unlock landing, and OAuth's popup, in-app browser, same window and failure.

use std::collections::BTreeMap;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use toker::config::{MailTransport, OAuthProviderSettings, Settings, SmtpTls};

use crate::{
    helpers::*,
    oauth_provider::OAuthProvider,
    support::smtp::{SmtpServer, first_link},
};

const WHITELIST: [&str; 2] = ["https://*.example.com/*", "http://localhost:8080/*"];

/// URLs the whitelist must refuse: each is read by browsers as another host, scheme or port,
/// or is not an absolute http(s) URL at all.
const HOSTILE: &[&str] = &[
    // Browsers read `\` as `/`: the host is evil.test.
    "https://evil.test\\.example.com/x",
    "https://app.example.com@evil.test/x",
    "https://evil.test%2f.example.com/x",
    "https://evil.test%5c.example.com/x",
    "https://evil.test%2F%2F.example.com/x",
    "https://evil.test/.example.com/x",
    "https://evil.test?.example.com/x",
    "https://evil.test#.example.com/x",
    "https://app.example.com.evil.test/x",
    // U+3002 is a dot to IDNA: app.example.com.evil.test.
    "https://app.example.com\u{3002}evil.test/x",
    // A trailing dot is another origin.
    "https://app.example.com./x",
    "https://example.com/x",
    "https://app.exa\tmple.com/x",
    "https://app.example.com/\nx",
    "https://app.example.com/x\r\n",
    "//app.example.com/x",
    "/x",
    "javascript:alert(1)//.example.com/x",
    "JAVASCRIPT:alert(1)//app.example.com/x",
    "data:text/html,https://app.example.com/x",
    "http://app.example.com/x",
    "https://app.example.com:8443/x",
    "http://localhost:8081/#/reset",
    "http://localhost/#/reset",
    "http://127.0.0.1:8080/x",
    "https://[::1]/x",
    "https://xn--bcher-kva.example.com.evil.test/x",
];

/// URLs the whitelist must allow, with the target every later step works on (as a browser's
/// URL parser writes it).
const ALLOWED: &[(&str, &str)] = &[
    (
        "https://app.example.com/x?y=1",
        "https://app.example.com/x?y=1",
    ),
    (
        "http://localhost:8080/#/reset",
        "http://localhost:8080/#/reset",
    ),
    ("http://localhost:8080", "http://localhost:8080/"),
    (
        "https://a.b.example.com/app#/confirmed",
        "https://a.b.example.com/app#/confirmed",
    ),
    ("HTTPS://APP.EXAMPLE.COM/X", "https://app.example.com/X"),
    ("https://app.example.com:443/x", "https://app.example.com/x"),
    (
        "https://bücher.example.com/straße?q=ü#/ä",
        "https://xn--bcher-kva.example.com/stra%C3%9Fe?q=%C3%BC#/%C3%A4",
    ),
    (
        "https://xn--bcher-kva.example.com/x",
        "https://xn--bcher-kva.example.com/x",
    ),
];

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn idp(provider: &OAuthProvider) -> OAuthProviderSettings {
    OAuthProviderSettings {
        issuer: Some(provider.issuer()),
        client_id: "toker-test".into(),
        client_secret: "test-secret".into(),
        ..Default::default()
    }
}

/// The app with the whitelist, confirmable, lockable and an OAuth provider, and the SMTP
/// server and provider it talks to.
struct Whitelisted {
    smtp: SmtpServer,
    provider: OAuthProvider,
    app: TestApp,
}

async fn whitelisted(configure: impl FnOnce(&mut Settings)) -> Whitelisted {
    let smtp = SmtpServer::start();
    let provider = OAuthProvider::start();
    let port = smtp.port;
    let idp = idp(&provider);
    let app = spawn_app_with(move |s| {
        s.redirect_whitelist = Some(WHITELIST.iter().map(|p| p.to_string()).collect());
        s.confirmable = true;
        s.lockable = true;
        s.mail_transport = MailTransport::Smtp;
        s.smtp_port = port;
        s.smtp_tls = SmtpTls::None;
        s.batch_request_buffer_throttle = 0;
        s.account_update_attributes = vec!["name".into()];
        s.oauth = BTreeMap::from([("idp".to_string(), idp)]);
        s.secret_key = Some("a test secret key that is long enough!".into());
        configure(s);
    })
    .await;
    Whitelisted {
        smtp,
        provider,
        app,
    }
}

fn location(resp: &Response) -> Option<String> {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().expect("Location is ASCII").to_string())
}

/// Asserts `resp` sends the browser to `target` (already normalised) with `params` added:
/// ASCII, the same origin, path and own query, and for a hash route the same route carrying
/// the parameters too.
fn assert_redirect_to(resp: &Response, target: &str, params: &[(&str, &str)], case: &str) {
    assert_eq!(resp.status(), 302, "{case}");
    let to = location(resp).unwrap_or_else(|| panic!("{case}: 302 without Location"));
    let got = url::Url::parse(&to).unwrap_or_else(|e| panic!("{case}: {to}: {e}"));
    let want = url::Url::parse(target).unwrap();
    assert_eq!(got.origin(), want.origin(), "{case}: {to}");
    assert_eq!(got.path(), want.path(), "{case}: {to}");
    assert!(got.username().is_empty(), "{case}: {to}");
    let pairs: Vec<(String, String)> = got
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let own: Vec<(String, String)> = want
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert!(pairs.starts_with(&own), "{case}: {to}");
    for (k, v) in params {
        assert!(
            pairs.iter().any(|(pk, pv)| pk == k && pv == v),
            "{case}: {k}={v} missing from {to}"
        );
    }
    match want.fragment() {
        Some(route) => {
            let fragment = got.fragment().unwrap_or_else(|| panic!("{case}: {to}"));
            assert!(fragment.starts_with(route), "{case}: {to}");
            for (k, _) in params {
                assert!(fragment.contains(&format!("{k}=")), "{case}: {to}");
            }
        }
        None => assert_eq!(got.fragment(), None, "{case}: {to}"),
    }
}

/// `GET /auth/confirmation` with a made-up token and `url` to land on.
async fn confirmation_landing(app: &TestApp, url: &str) -> Response {
    let path = format!(
        "/auth/confirmation?confirmation_token=x&redirect_url={}",
        enc(url)
    );
    app.request(Method::GET, &path).send().await.unwrap()
}

/// `GET /auth/password/edit` with `token` and `url` to land on.
async fn reset_landing(app: &TestApp, token: &str, url: &str) -> Response {
    let path = format!(
        "/auth/password/edit?reset_password_token={token}&redirect_url={}",
        enc(url)
    );
    app.request(Method::GET, &path).send().await.unwrap()
}

async fn assert_not_allowed(resp: Response, url: &str, case: &str) {
    assert_eq!(resp.status(), 422, "{case}");
    assert!(location(&resp).is_none(), "{case}");
    let body = json(resp).await;
    assert_eq!(
        body["errors"],
        json!([format!("Redirect to '{url}' not allowed.")]),
        "{case}"
    );
}

/// Signs `email` up and confirms it through its mail, so it can sign in.
async fn confirmed_user(app: &TestApp, smtp: &SmtpServer, email: &str) -> Auth {
    let before = smtp.messages().len();
    let resp = app
        .post_json(
            "/auth",
            &json!({"email": email, "password": "password1", "password_confirmation": "password1",
                    "confirm_success_url": "https://app.example.com/confirmed"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mail = smtp.wait_for(before + 1).await.remove(before);
    let link = first_link(&mail.text).replace(&app.settings.public_url(), &app.address);
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), 302);
    let resp = app.sign_in_response(email, "password1").await;
    assert_eq!(resp.status(), 200);
    Auth::from_headers(resp.headers()).unwrap()
}

#[tokio::test]
async fn mail_sites_refuse_hostile_urls_and_accept_hash_routes_and_queries() {
    // Arrange
    let Whitelisted {
        smtp,
        provider: _provider,
        app,
    } = whitelisted(|_| {}).await;
    let mut auth = confirmed_user(&app, &smtp, "update@example.com").await;
    let mails_before = smtp.messages().len();

    for url in HOSTILE {
        // Act + Assert
        for (site, resp) in mail_site_answers(&app, &mut auth, "hostile@example.com", url).await {
            assert_not_allowed(resp, url, &format!("{site} {url:?}")).await;
        }
    }
    // Nothing was mailed for a refused URL, and no account was made.
    assert_eq!(smtp.messages().len(), mails_before);
    assert!(
        app.store
            .find_email_user("hostile@example.com")
            .await
            .unwrap()
            .is_none()
    );

    for (i, (url, _)) in ALLOWED.iter().enumerate() {
        let email = format!("ok{i}@example.com");
        for (site, resp) in mail_site_answers(&app, &mut auth, &email, url).await {
            assert_eq!(resp.status(), 200, "{site} {url}");
        }
    }
}

/// The answers of the four requests that name where a mailed link lands: sign-up of `email`,
/// an account update by `auth`, a confirmation resend to `email`, a reset request by `auth`'s
/// user.
async fn mail_site_answers(
    app: &TestApp,
    auth: &mut Auth,
    email: &str,
    url: &str,
) -> Vec<(&'static str, Response)> {
    let sign_up = app
        .post_json(
            "/auth",
            &json!({"email": email, "password": "password1",
                    "password_confirmation": "password1", "confirm_success_url": url}),
        )
        .await;
    let update = app
        .authed(Method::PUT, "/auth", auth)
        .json(&json!({"name": "x", "confirm_success_url": url}))
        .send()
        .await
        .unwrap();
    auth.update_from(update.headers());
    let resend = app
        .post_json(
            "/auth/confirmation",
            &json!({"email": email, "redirect_url": url}),
        )
        .await;
    let reset = app
        .post_json(
            "/auth/password",
            &json!({"email": auth.uid, "redirect_url": url}),
        )
        .await;
    vec![
        ("sign-up", sign_up),
        ("account update", update),
        ("confirmation resend", resend),
        ("reset request", reset),
    ]
}

#[tokio::test]
async fn mailed_links_carry_the_normalised_target_and_land_on_it() {
    // Arrange: a reset and a confirmation requested for a non-ASCII hash route
    let Whitelisted {
        smtp,
        provider: _provider,
        app,
    } = whitelisted(|_| {}).await;
    confirmed_user(&app, &smtp, "links@example.com").await;
    let (given, target) = ALLOWED[6];

    // Act
    let reset = app
        .post_json(
            "/auth/password",
            &json!({"email": "links@example.com", "redirect_url": given}),
        )
        .await;
    assert_eq!(reset.status(), 200);
    let mail = smtp.wait_for(2).await.remove(1);
    let link = first_link(&mail.text).replace(&app.settings.public_url(), &app.address);
    let landing = app.client.get(&link).send().await.unwrap();

    // Assert: the link names the parsed target, and the 302 has a Location (ASCII) going there
    assert!(
        link.contains(&format!(
            "redirect_url={}",
            toker::redirect::cgi_escape(target)
        )),
        "{link}"
    );
    assert_redirect_to(
        &landing,
        target,
        &[("reset_password", "true"), ("config", "default")],
        "reset landing",
    );
    assert_eq!(
        location(&landing).unwrap().split_once('?').unwrap().0,
        "https://xn--bcher-kva.example.com/stra%C3%9Fe"
    );
}

#[tokio::test]
async fn landing_sites_redirect_only_where_the_whitelist_allows() {
    // Arrange: a valid reset token (landing does not use it up)
    let Whitelisted {
        smtp,
        provider: _provider,
        app,
    } = whitelisted(|_| {}).await;
    confirmed_user(&app, &smtp, "land@example.com").await;
    app.post_json(
        "/auth/password",
        &json!({"email": "land@example.com", "redirect_url": "https://app.example.com/reset"}),
    )
    .await;
    let mail = smtp.wait_for(2).await.remove(1);
    let reset_link = first_link(&mail.text);
    let reset_token = url::Url::parse(&reset_link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "reset_password_token")
        .unwrap()
        .1
        .into_owned();
    let devices_before = app
        .store
        .devices_of(app.user_id("land@example.com").await)
        .await
        .unwrap()
        .len();

    for url in HOSTILE {
        // Act + Assert: no 302, and no credentials anywhere in the answer
        let confirm = confirmation_landing(&app, url).await;
        assert_not_allowed(confirm, url, &format!("confirmation landing {url:?}")).await;

        let edit = reset_landing(&app, &reset_token, url).await;
        assert_not_allowed(edit, url, &format!("reset landing {url:?}")).await;
    }
    // The refused landings made no device.
    assert_eq!(
        app.store
            .devices_of(app.user_id("land@example.com").await)
            .await
            .unwrap()
            .len(),
        devices_before
    );

    for (url, target) in ALLOWED {
        let confirm = confirmation_landing(&app, url).await;
        assert_redirect_to(
            &confirm,
            target,
            &[("account_confirmation_success", "false")],
            &format!("confirmation landing {url}"),
        );

        let edit = reset_landing(&app, &reset_token, url).await;
        assert_redirect_to(
            &edit,
            target,
            &[
                ("reset_password", "true"),
                ("reset_password_token", &reset_token),
                ("uid", "land@example.com"),
            ],
            &format!("reset landing {url}"),
        );
    }
}

#[tokio::test]
async fn hash_routes_get_the_parameters_in_the_route_too() {
    // Arrange
    let Whitelisted {
        smtp: _smtp,
        provider: _provider,
        app,
    } = whitelisted(|_| {}).await;

    // Act
    let plain = confirmation_landing(&app, "http://localhost:8080/#/reset").await;
    let with_query = confirmation_landing(&app, "http://localhost:8080/#/reset?lang=en").await;

    // Assert: AngularJS reads $location.search() from the route
    assert_eq!(
        location(&plain).unwrap(),
        "http://localhost:8080/?account_confirmation_success=false#/reset?account_confirmation_success=false"
    );
    assert_eq!(
        location(&with_query).unwrap(),
        "http://localhost:8080/?account_confirmation_success=false#/reset?lang=en&account_confirmation_success=false"
    );
}

#[tokio::test]
async fn unlock_landing_writes_a_location_for_a_non_ascii_hash_route() {
    // Arrange
    let Whitelisted {
        smtp,
        provider: _provider,
        app,
    } = whitelisted(|s| {
        s.unlock_success_url = Some("https://app.example.com/ünlocked#/dône".into());
    })
    .await;
    confirmed_user(&app, &smtp, "unlock@example.com").await;
    let resp = app
        .post_json("/auth/unlock", &json!({"email": "unlock@example.com"}))
        .await;
    assert_eq!(resp.status(), 200);
    let link = first_link(&smtp.wait_for(2).await[1].text)
        .replace(&app.settings.public_url(), &app.address);

    // Act
    let landing = app.client.get(&link).send().await.unwrap();

    // Assert
    assert_redirect_to(
        &landing,
        "https://app.example.com/%C3%BCnlocked#/d%C3%B4ne",
        &[("unlock", "true"), ("uid", "unlock@example.com")],
        "unlock landing",
    );
}

// ----- OAuth -----

/// The request phase for `url` in `window`.
async fn oauth_start(app: &TestApp, url: &str, window: &str) -> Response {
    app.request(
        Method::GET,
        &format!(
            "/auth/idp?auth_origin_url={}&omniauth_window_type={window}",
            enc(url)
        ),
    )
    .send()
    .await
    .unwrap()
}

/// The whole OAuth round trip for `url` in `window`: the final answer.
async fn oauth_sign_in(app: &TestApp, url: &str, window: &str) -> Response {
    let start = oauth_start(app, url, window).await;
    assert_eq!(start.status(), 302, "request phase for {url}");
    let at_provider = app
        .client
        .get(location(&start).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(at_provider.status(), 302, "provider for {url}");
    let callback = location(&at_provider)
        .unwrap()
        .replace("http://127.0.0.1:0", &app.address);
    // The browser that started the sign-in comes back with its binding cookie (docs/decisions.md D6).
    let cookies: Vec<String> = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    app.client
        .get(&callback)
        .header("cookie", cookies.join("; "))
        .send()
        .await
        .unwrap()
}

/// A popup page's target origin and data.
async fn page(resp: Response) -> (String, Value) {
    assert_eq!(resp.status(), 200);
    assert!(location(&resp).is_none());
    let html = resp.text().await.unwrap();
    let origin = html
        .split("var targetOrigin = ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .map(|lit| serde_json::from_str::<String>(lit).unwrap())
        .unwrap_or_default();
    let data = html
        .split("decodeURIComponent(\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|encoded| {
            let text = percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .unwrap()
                .into_owned();
            serde_json::from_str(&text).unwrap()
        })
        .unwrap_or(Value::Null);
    (origin, data)
}

#[tokio::test]
async fn oauth_request_phase_refuses_hostile_auth_origin_urls_in_every_window_type() {
    // Arrange
    let Whitelisted {
        smtp: _smtp,
        provider,
        app,
    } = whitelisted(|_| {}).await;

    for url in HOSTILE {
        for window in ["newWindow", "inAppBrowser"] {
            // Act
            let resp = oauth_start(&app, url, window).await;

            // Assert: the failure page, to any opener, instead of a trip to the provider
            let case = format!("{window} {url:?}");
            let (origin, data) = page(resp).await;
            assert_eq!(origin, "*", "{case}");
            assert_eq!(data["message"], "authFailure", "{case}");
            assert_eq!(
                data["error"],
                format!("Redirect to '{url}' not allowed."),
                "{case}"
            );
        }
        let same = oauth_start(&app, url, "sameWindow").await;
        assert_eq!(same.status(), 200, "sameWindow {url:?}");
        assert!(location(&same).is_none(), "sameWindow {url:?}");
    }
    for (url, _) in ALLOWED {
        for window in ["newWindow", "inAppBrowser", "sameWindow"] {
            let resp = oauth_start(&app, url, window).await;
            assert_eq!(resp.status(), 302, "{window} {url}");
            assert!(location(&resp).unwrap().starts_with(&provider.url));
        }
    }
}

#[tokio::test]
async fn oauth_delivers_credentials_to_the_parsed_origin_and_route() {
    // Arrange
    let Whitelisted {
        smtp: _smtp,
        provider,
        app,
    } = whitelisted(|_| {}).await;
    provider
        .set_profile(json!({"sub": "olga", "email": "olga@example.com", "email_verified": true}))
        .await;

    for (url, target) in ALLOWED {
        // Act + Assert: popup and in-app browser post to the parsed origin only
        for window in ["newWindow", "inAppBrowser"] {
            let (origin, data) = page(oauth_sign_in(&app, url, window).await).await;
            let want = url::Url::parse(target)
                .unwrap()
                .origin()
                .ascii_serialization();
            assert_eq!(origin, want, "{window} {url}");
            assert_eq!(data["message"], "deliverCredentials", "{window} {url}");
        }
        // sameWindow: back to the route with the credentials
        let resp = oauth_sign_in(&app, url, "sameWindow").await;
        assert_redirect_to(
            &resp,
            target,
            &[("blank", "true"), ("uid", "olga")],
            &format!("sameWindow {url}"),
        );
    }
}

#[tokio::test]
async fn oauth_failure_route_redirects_only_where_the_whitelist_allows() {
    // Arrange
    let Whitelisted {
        smtp: _smtp,
        provider: _provider,
        app,
    } = whitelisted(|_| {}).await;
    let failure = |url: &str, window: &str| {
        app.request(
            Method::GET,
            &format!(
                "/auth/failure?message=denied&auth_origin_url={}&omniauth_window_type={window}",
                enc(url)
            ),
        )
        .send()
    };

    for url in HOSTILE {
        // Act + Assert: a page, never a redirect to the hostile URL, never posting to it
        let same = failure(url, "sameWindow").await.unwrap();
        assert_eq!(same.status(), 200, "sameWindow {url:?}");
        assert!(location(&same).is_none());
        let (origin, data) = page(failure(url, "newWindow").await.unwrap()).await;
        assert_eq!(origin, "*", "newWindow {url:?}");
        assert_eq!(data["error"], "denied");
    }
    for (url, target) in ALLOWED {
        let same = failure(url, "sameWindow").await.unwrap();
        assert_redirect_to(
            &same,
            target,
            &[("blank", "true"), ("error", "denied")],
            &format!("failure {url}"),
        );
        let (origin, _) = page(failure(url, "inAppBrowser").await.unwrap()).await;
        assert_eq!(
            origin,
            url::Url::parse(target)
                .unwrap()
                .origin()
                .ascii_serialization()
        );
    }
}

// ----- No whitelist -----

#[tokio::test]
async fn without_a_whitelist_only_the_cors_and_public_url_origins_are_allowed() {
    // Arrange: test settings allow https://app.example.com and https://b.example.org
    let provider = OAuthProvider::start();
    let idp = idp(&provider);
    let app = spawn_app_with(move |s| {
        s.oauth = BTreeMap::from([("idp".to_string(), idp)]);
        s.public_url = Some("https://api.example.net/base".into());
    })
    .await;
    app.sign_up("open@example.com", "password1").await;
    let app = &app;
    let reset = |url: &str| {
        let body = json!({"email": "open@example.com", "redirect_url": url});
        async move { app.post_json("/auth/password", &body).await }
    };

    for url in [
        "https://evil.test/x",
        "https://app.example.com.evil.test/x",
        "https://app.example.com@evil.test/x",
        "https://evil.test\\.app.example.com/x",
        "http://app.example.com/x",
        "https://app.example.com:8443/x",
        "https://api.example.net:444/x",
    ] {
        // Act + Assert: a reset link or an OAuth popup would hand credentials to that site
        assert_not_allowed(reset(url).await, url, &format!("reset {url}")).await;
        let (origin, data) = page(oauth_start(app, url, "newWindow").await).await;
        assert_eq!(origin, "*");
        assert_eq!(data["error"], format!("Redirect to '{url}' not allowed."));
    }
    for url in [
        "https://app.example.com/#/reset",
        "https://b.example.org/reset?lang=en",
        "HTTPS://APP.EXAMPLE.COM",
        "https://api.example.net/elsewhere",
    ] {
        assert_eq!(reset(url).await.status(), 200, "{url}");
        assert_eq!(
            oauth_start(app, url, "newWindow").await.status(),
            302,
            "{url}"
        );
    }
}

#[test]
fn settings_that_would_redirect_where_the_rule_refuses_stop_startup() {
    let base = || Settings {
        cors_origins: vec!["https://app.example.com".into()],
        ..Settings::default()
    };
    for (configure, setting) in [
        (
            Box::new(|s: &mut Settings| {
                s.default_confirm_success_url = Some("https://evil.test/confirmed".into())
            }) as Box<dyn Fn(&mut Settings)>,
            "default_confirm_success_url",
        ),
        (
            Box::new(|s: &mut Settings| {
                s.default_password_reset_url = Some("https://app.example.com.evil.test/".into())
            }),
            "default_password_reset_url",
        ),
        (
            Box::new(|s: &mut Settings| {
                s.redirect_whitelist = Some(vec!["https://*.example.com/*".into()]);
                s.unlock_success_url = Some("https://evil.test\\.example.com/".into())
            }),
            "unlock_success_url",
        ),
    ] {
        let mut s = base();
        configure(&mut s);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains(&format!("`{setting}`")), "{e}");
    }
    // Allowed by the rule: fine.
    let mut s = base();
    s.default_confirm_success_url = Some("https://app.example.com/#/confirmed".into());
    s.validate().unwrap();
}

#[test]
fn whitelist_patterns_that_cannot_be_matched_safely_stop_startup() {
    for pattern in [
        "*",
        "https://*",
        "https://*.com/*",
        "https://*.co.uk/*",
        "https://*.github.io/*",
        "https://app*.example.com/*",
        "https://*.*.example.com/*",
        "http://localhost:*/*",
        "https://user@app.example.com/*",
        "https://app.example.com\\*",
        "app.example.com/*",
        "javascript:alert(1)",
        "https://app.example.com/\n*",
        "",
    ] {
        let s = Settings {
            redirect_whitelist: Some(vec![pattern.into()]),
            ..Settings::default()
        };
        let e = s
            .validate()
            .expect_err(&format!("{pattern:?} should be refused"))
            .to_string();
        assert!(e.contains("`redirect_whitelist`"), "{e}");
    }
}
