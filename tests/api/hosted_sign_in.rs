//! The hosted sign-in page (docs/decisions.md D15): one sign-in on toker's origin for every
//! registered app, the return URL checked against the app's origins, a form that works without
//! JavaScript and posts only from the page itself, sign-out from any app ending the session for
//! all, and "sign out everywhere".

use reqwest::{Method, Response};
use serde_json::json;

use crate::apps::{ONE, TWO, toker, two_apps};
use crate::browser_sessions::session_cookie;
use crate::helpers::*;

const OWN: &str = "https://api.example.com";

fn page_url(app_id: &str, return_to: &str) -> String {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("app_id", app_id)
        .append_pair("return_to", return_to)
        .finish();
    format!("/session/sign_in?{q}")
}

/// The `_csrf` of a page's form.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"_csrf\" value=\"").expect("a _csrf field") + 20;
    html[start..][..html[start..].find('"').unwrap()].to_string()
}

/// A page's status, headers and HTML.
struct Page {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
}

impl Page {
    fn status(&self) -> reqwest::StatusCode {
        self.status
    }

    fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.headers
    }
}

async fn open_page(
    app: &TestApp,
    app_id: &str,
    return_to: &str,
    cookie: Option<&str>,
) -> (Page, String) {
    let mut rb = app.request(Method::GET, &page_url(app_id, return_to));
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    let resp = rb.send().await.unwrap();
    let page = Page {
        status: resp.status(),
        headers: resp.headers().clone(),
    };
    (page, resp.text().await.unwrap())
}

async fn submit(
    app: &TestApp,
    url: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> Response {
    let mut rb = app.request(Method::POST, url).form(fields);
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    if let Some(o) = origin {
        rb = rb.header("origin", o);
    }
    rb.send().await.unwrap()
}

async fn sees(app: &TestApp, app_id: &str, origin: &str, cookie: &str) -> bool {
    let resp = app
        .request(Method::GET, "/session")
        .header("origin", origin)
        .header("authorization", format!("Session {app_id}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    json(resp).await["auth"] == true
}

#[tokio::test]
async fn one_sign_in_serves_every_app_the_browser_continues_to() {
    let app = two_apps().await;
    assert_eq!(
        app.sign_up("h@example.com", "password1").await.status(),
        200
    );
    let back_one = format!("{ONE}/after?x=1");
    let url = page_url("app-one", &back_one);

    let (resp, html) = open_page(&app, "app-one", &back_one, None).await;

    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("base-uri 'none'"));
    // form-action would stop Chromium following the answer to the app (tests/e2e).
    assert!(!csp.contains("form-action"), "{csp}");
    // The form's POST must carry its Origin (a no-referrer page sends `Origin: null`).
    assert!(html.contains("<meta name=\"referrer\" content=\"same-origin\">"));
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("<label for=\"email\">") && html.contains("id=\"email\""));
    assert!(html.contains("<label for=\"password\">") && html.contains("id=\"password\""));
    assert!(html.contains("<html lang=\"en\">"));
    let resp = submit(
        &app,
        &url,
        None,
        Some(OWN),
        &[
            ("app_id", "app-one"),
            ("return_to", &back_one),
            ("_csrf", &csrf_of(&html)),
            ("email", "h@example.com"),
            ("password", "password1"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], back_one.as_str());
    let cookie = session_cookie(&resp)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(sees(&app, "app-one", ONE, &cookie).await);
    assert!(!sees(&app, "app-two", TWO, &cookie).await);

    // App two sends the browser to the page: signed in already, it only continues.
    let back_two = format!("{TWO}/");
    let (resp, html) = open_page(&app, "app-two", &back_two, Some(&cookie)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        html.contains("signed in as <strong>h@example.com</strong>"),
        "{html}"
    );
    assert!(!html.contains("type=\"password\""));
    let resp = submit(
        &app,
        &page_url("app-two", &back_two),
        Some(&cookie),
        Some(OWN),
        &[
            ("app_id", "app-two"),
            ("return_to", &back_two),
            ("_csrf", &csrf_of(&html)),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], back_two.as_str());
    assert!(session_cookie(&resp).is_none());
    assert!(sees(&app, "app-two", TWO, &cookie).await);

    // Sign-out from app two ends the browser session for app one too.
    let resp = app
        .request(Method::DELETE, "/session")
        .header("origin", TWO)
        .header("authorization", "Session app-two")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!sees(&app, "app-one", ONE, &cookie).await);
    assert!(!sees(&app, "app-two", TWO, &cookie).await);
}

#[tokio::test]
async fn links_to_other_origins_and_unknown_apps_are_refused() {
    let app = two_apps().await;
    for (app_id, return_to) in [
        ("app-one", "https://evil.test/"),
        ("app-one", "https://one.test.evil.test/"),
        ("app-one", TWO),
        ("app-one", "javascript:alert(1)"),
        ("app-one", "/relative"),
        ("app-one", ""),
        ("app-three", ONE),
        ("", ONE),
    ] {
        let resp = app
            .request(Method::GET, &page_url(app_id, return_to))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{app_id} {return_to}");
        assert!(resp.headers().get("location").is_none());
    }
    let resp = app
        .request(Method::GET, "/session/sign_in")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // A body that cannot be read is refused as a page too, with its policy.
    for path in ["/session/sign_in", "/session/oauth/github"] {
        let resp = app
            .request(Method::POST, path)
            .header("origin", "https://api.example.com")
            .header("content-type", "application/json")
            .body("[null, null]")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(resp.headers().get("content-security-policy").is_some());
    }
}

#[tokio::test]
async fn the_form_posts_only_from_the_page_itself() {
    let app = two_apps().await;
    assert_eq!(
        app.sign_up("x@example.com", "password1").await.status(),
        200
    );
    let (_, html) = open_page(&app, "app-one", ONE, None).await;
    let url = page_url("app-one", ONE);
    let csrf = csrf_of(&html);
    let fields = |csrf: &str| {
        vec![
            ("app_id".to_string(), "app-one".to_string()),
            ("return_to".to_string(), ONE.to_string()),
            ("_csrf".to_string(), csrf.to_string()),
            ("email".to_string(), "x@example.com".to_string()),
            ("password".to_string(), "password1".to_string()),
        ]
    };
    let post = |origin: Option<&'static str>, csrf: String| {
        let mut rb = app.request(Method::POST, &url).form(&fields(&csrf));
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb
    };
    // Login CSRF from another page (an app's origin included), no Origin, a wrong token.
    for (origin, token) in [
        (Some(ONE), csrf.clone()),
        (Some("https://evil.test"), csrf.clone()),
        (Some("null"), csrf.clone()),
        (None, csrf.clone()),
        (Some(OWN), "forged.token".to_string()),
        (Some(OWN), String::new()),
    ] {
        let resp = post(origin, token).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{origin:?}");
        assert!(session_cookie(&resp).is_none());
    }
    // No Origin but Sec-Fetch-Site: same-origin is the page itself.
    let resp = post(None, csrf.clone())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    // A wrong password: the form again with the reason, no cookie.
    let mut wrong = fields(&csrf);
    wrong[4].1 = "wrong-pass".into();
    let resp = app
        .request(Method::POST, &url)
        .header("origin", OWN)
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(session_cookie(&resp).is_none());
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\">Invalid login credentials"),
        "{html}"
    );
}

#[tokio::test]
async fn names_and_urls_are_escaped() {
    let app = two_apps().await;
    let out = toker(
        &app,
        &[
            "apps",
            "add",
            "--name",
            "<script>alert(1)</script>",
            "--origin",
            ONE,
            "--id",
            "xss",
            "--json",
        ],
    );
    assert!(out.status.success());
    let back = format!("{ONE}/?a=\"><script>alert(2)</script>");
    let (resp, html) = open_page(&app, "xss", &back, None).await;
    assert_eq!(resp.status(), 200);
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_and_device() {
    let app = two_apps().await;
    let token = app.signed_in_user("e@example.com").await;
    let resp = app
        .request(Method::POST, "/session")
        .header("origin", ONE)
        .header("authorization", "Session app-one")
        .json(&json!({"email": "e@example.com", "password": "password1"}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&resp)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let resp = app
        .request(Method::DELETE, "/session/everywhere")
        .header("origin", ONE)
        .header("authorization", "Session app-one")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["auth"], false);
    assert!(!sees(&app, "app-one", ONE, &cookie).await);
    let resp = app
        .authed(Method::GET, "/auth/validate_token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let id = app.user_id("e@example.com").await;
    assert!(app.store.devices_of(id).await.unwrap().is_empty());
    // Forged from another origin, it ends nothing.
    let resp = app
        .request(Method::DELETE, "/session/everywhere")
        .header("origin", "https://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
