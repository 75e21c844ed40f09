//! Registered client apps (docs/decisions.md D15): `toker apps add|list|remove|set-origins` run as an
//! operator runs them, no restart needed; `Authorization: Session <APP_ID>` checked against the
//! app's origins (docs/cors.md F1–F7); a session bound to the apps it was granted to; CORS for
//! the union of app origins and `cors_origins`.

use std::process::{Command, Output};

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser_sessions::{session_cookie, sessions_on};
use crate::helpers::*;

pub const ONE: &str = "https://one.test";
pub const TWO: &str = "https://two.test";
const EVIL: &str = "https://evil.test";

/// Runs `toker ARGS` on `app`'s database.
pub fn toker(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toker"))
        .args(args)
        .env_remove("RUST_LOG")
        .env("TOKER_DATABASE_URL", &app.db.url)
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run toker")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn failed_with(out: &Output, text: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(stderr.contains(text), "{stderr}");
}

/// Two registered apps, `app-one` on `ONE` and `app-two` on `TWO`, added with the CLI.
pub async fn two_apps() -> TestApp {
    let app = spawn_app_with(sessions_on).await;
    ok_json(&toker(
        &app,
        &[
            "apps", "add", "--name", "One", "--origin", ONE, "--id", "app-one", "--json",
        ],
    ));
    ok_json(&toker(
        &app,
        &[
            "apps", "add", "--name", "Two", "--origin", TWO, "--id", "app-two", "--json",
        ],
    ));
    app
}

fn from_app(
    app: &TestApp,
    method: Method,
    path: &str,
    app_id: &str,
    origin: &str,
) -> reqwest::RequestBuilder {
    app.request(method, path)
        .header("origin", origin)
        .header("authorization", format!("Session {app_id}"))
}

#[tokio::test]
async fn an_operator_adds_lists_changes_and_removes_apps() {
    let app = spawn_app_with(sessions_on).await;

    let added = ok_json(&toker(
        &app,
        &[
            "apps", "add", "--name", "Shop", "--origin", ONE, "--origin", TWO, "--json",
        ],
    ));
    let id = added["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("app_"), "{added}");
    assert_eq!(added["name"], "Shop");
    assert_eq!(added["origins"], json!([ONE, TWO]));

    let listed = ok_json(&toker(&app, &["apps", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    let changed = ok_json(&toker(&app, &["apps", "set-origins", &id, ONE, "--json"]));
    assert_eq!(changed["origins"], json!([ONE]));
    let text = toker(&app, &["apps", "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("{id}  Shop  {ONE}")));
    let removed = ok_json(&toker(&app, &["apps", "remove", &id, "--json"]));
    assert_eq!(removed["removed"], id.as_str());
    assert_eq!(
        ok_json(&toker(&app, &["apps", "list", "--json"])),
        json!([])
    );

    // Bad input: a clear message and a non-zero exit.
    for bad in [
        "https://one.test/",
        "https://*.one.test",
        "null",
        "one.test",
        "https://ONE.test",
    ] {
        failed_with(
            &toker(&app, &["apps", "add", "--name", "x", "--origin", bad]),
            "is not an origin",
        );
    }
    failed_with(
        &toker(
            &app,
            &["apps", "add", "--name", "x", "--origin", ONE, "--id", "a b"],
        ),
        "is not an app id",
    );
    ok_json(&toker(
        &app,
        &[
            "apps", "add", "--name", "x", "--origin", ONE, "--id", "dup", "--json",
        ],
    ));
    failed_with(
        &toker(
            &app,
            &["apps", "add", "--name", "y", "--origin", ONE, "--id", "dup"],
        ),
        "exists already",
    );
    failed_with(&toker(&app, &["apps", "remove", "nope"]), "no app nope");
    failed_with(
        &toker(&app, &["apps", "set-origins", "nope", ONE]),
        "no app nope",
    );
    failed_with(&toker(&app, &["apps", "add", "--name", "z"]), "--origin");
}

#[tokio::test]
async fn preflights_answer_the_union_of_app_origins_and_cors_origins() {
    let app = two_apps().await;
    for (origin, allowed) in [
        (ONE, true),
        (TWO, true),
        ("https://app.example.com", true),
        (EVIL, false),
        ("null", false),
    ] {
        let resp = app
            .request(Method::OPTIONS, "/session")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-csrf-token",
            )
            .send()
            .await
            .unwrap();
        if allowed {
            assert_eq!(resp.status(), 204, "{origin}");
            assert_eq!(resp.headers()["access-control-allow-origin"], origin);
        } else {
            assert_eq!(resp.status(), 403, "{origin}");
            assert!(resp.headers().get("access-control-allow-origin").is_none());
        }
    }
}

#[tokio::test]
async fn a_session_serves_only_the_apps_it_was_granted_to() {
    let app = two_apps().await;
    assert_eq!(
        app.sign_up("s@example.com", "password1").await.status(),
        200
    );

    // F2: app one signs the browser in from its origin.
    let resp = from_app(&app, Method::POST, "/session", "app-one", ONE)
        .json(&json!({"username": "s@example.com", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ONE);
    let cookie = session_cookie(&resp)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let check = |app_id: &'static str, origin: &'static str| {
        from_app(&app, Method::GET, "/session", app_id, origin).header("cookie", cookie.clone())
    };
    let resp = check("app-one", ONE).send().await.unwrap();
    assert_eq!(json(resp).await["auth"], true);

    // F6: the other app's id from its own origin does not ride the session.
    let resp = check("app-two", TWO).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["auth"], false);
    // F3: app one's id from app two's origin (or a hostile one).
    for origin in [TWO, EVIL] {
        let resp = check("app-one", origin).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{origin}");
    }
    // F4: an unknown or malformed app id; the origin is in the union, so the page reads why.
    for id in ["app-three", "", "a b/c"] {
        let resp = app
            .request(Method::GET, "/session")
            .header("origin", ONE)
            .header("authorization", format!("Session {id}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{id}");
        assert_eq!(resp.headers()["access-control-allow-origin"], ONE);
        assert!(
            json(resp).await["errors"][0]
                .as_str()
                .unwrap()
                .contains("app")
        );
    }
    // An app's origin without the header sees no session and cannot change it (F5).
    let resp = app
        .request(Method::GET, "/session")
        .header("origin", ONE)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(json(resp).await["auth"], false);
    let resp = app
        .request(Method::DELETE, "/session")
        .header("origin", ONE)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = check("app-one", ONE).send().await.unwrap();
    assert_eq!(json(resp).await["auth"], true);

    // Sign-out from the app ends the browser session.
    let resp = from_app(&app, Method::DELETE, "/session", "app-one", ONE)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = check("app-one", ONE).send().await.unwrap();
    assert_eq!(json(resp).await["auth"], false);
}

#[tokio::test]
async fn origin_changes_apply_without_a_restart() {
    let app = two_apps().await;
    assert_eq!(
        app.sign_up("o@example.com", "password1").await.status(),
        200
    );
    let sign_in = || {
        from_app(&app, Method::POST, "/session", "app-two", TWO)
            .json(&json!({"username": "o@example.com", "password": "password1"}))
    };
    assert_eq!(sign_in().send().await.unwrap().status(), 200);

    ok_json(&toker(
        &app,
        &[
            "apps",
            "set-origins",
            "app-two",
            "https://new-two.test",
            "--json",
        ],
    ));

    // The actual request checks the app afresh: refused at once (F7).
    assert_eq!(sign_in().send().await.unwrap().status(), 403);
    let resp = from_app(
        &app,
        Method::POST,
        "/session",
        "app-two",
        "https://new-two.test",
    )
    .json(&json!({"username": "o@example.com", "password": "password1"}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    // Preflights follow within the cache's refresh time.
    tokio::time::sleep(toker::http::apps::REFRESH).await;
    let resp = app
        .request(Method::OPTIONS, "/session")
        .header("origin", TWO)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    ok_json(&toker(&app, &["apps", "remove", "app-two", "--json"]));
    let resp = from_app(
        &app,
        Method::GET,
        "/session",
        "app-two",
        "https://new-two.test",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn a_session_authenticates_the_token_routes_for_its_app() {
    let app = two_apps().await;
    assert_eq!(
        app.sign_up("t@example.com", "password1").await.status(),
        200
    );
    let resp = from_app(&app, Method::POST, "/session", "app-one", ONE)
        .json(&json!({"email": "t@example.com", "password": "password1"}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&resp)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let validate = |app_id: &str, origin: &str| {
        from_app(&app, Method::GET, "/auth/validate_token", app_id, origin)
            .header("cookie", cookie.clone())
    };

    let resp = validate("app-one", ONE).send().await.unwrap();

    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-token").is_none());
    assert_eq!(json(resp).await["data"]["uid"], "t@example.com");
    // Not granted to app two; app one's id from the wrong origin; an unknown app.
    assert_eq!(validate("app-two", TWO).send().await.unwrap().status(), 401);
    assert_eq!(validate("app-one", TWO).send().await.unwrap().status(), 403);
    assert_eq!(
        validate("app-nine", ONE).send().await.unwrap().status(),
        403
    );
    // Without the cookie there is nothing to authenticate with.
    let resp = from_app(&app, Method::GET, "/auth/validate_token", "app-one", ONE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // A state change: the app's origin passes; signing the device out ends the session.
    let resp = from_app(&app, Method::DELETE, "/auth/sign_out", "app-one", ONE)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(validate("app-one", ONE).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn requests_and_sign_ins_are_logged_with_their_app() {
    let db = fresh_database().await;
    let mut serve = crate::support::serve::Serve::start(
        &db.url,
        &[
            ("TOKER_SESSION_ENABLED", "true"),
            ("TOKER_PASSWORD_COST", "4"),
        ],
    )
    .await;
    let out = Command::new(env!("CARGO_BIN_EXE_toker"))
        .args([
            "apps", "add", "--name", "One", "--origin", ONE, "--id", "app-one",
        ])
        .env_remove("RUST_LOG")
        .env("TOKER_DATABASE_URL", &db.url)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let http = client();
    let url = |path: &str| format!("{}{path}", serve.address);
    let resp = http
        .post(url("/auth"))
        .json(&json!({"email": "l@example.com", "password": "password1", "password_confirmation": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let resp = http
        .post(url("/session"))
        .header("origin", ONE)
        .header("authorization", "Session app-one")
        .json(&json!({"email": "l@example.com", "password": "password1"}))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 200);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let session_id = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let lines = serve.drain().await.to_vec();
    let request = lines
        .iter()
        .find(|l| l.contains("toker::request") && l.contains("path=\"/session\""))
        .expect("a request line for /session");
    assert!(request.contains("app=\"app-one\""), "{request}");
    let event = lines
        .iter()
        .find(|l| l.contains("event=\"browser_session\""))
        .expect("a browser_session event");
    assert!(event.contains("app=\"app-one\""), "{event}");
    let all = lines.join("\n");
    assert!(
        !all.contains(&session_id),
        "the session id reached the log:\n{all}"
    );
}

/// Gateway routes (docs/decisions.md D14) take a browser session as toker's own routes do: the
/// app's id from its own origin with the session cookie; the upstream gets the identity, never
/// the cookie; a state change must pass the CSRF check, and a route of another user type
/// does not know the session at all.
#[tokio::test]
async fn a_session_authenticates_gateway_routes_for_its_app() {
    use toker::config::{RouteAuth, UserTypeSettings};

    let upstream = crate::support::upstream::Upstream::start().await;
    let app = spawn_app_with(|s| {
        sessions_on(s);
        s.csrf_tokens = true;
        s.user_types = vec![UserTypeSettings {
            name: "Admin".into(),
            mount_path: "/admin_auth".into(),
            ..Default::default()
        }];
        s.gateway.routes = vec![
            crate::gateway::route("/app", &upstream.url, RouteAuth::Required),
            toker::config::GatewayRoute {
                user_type: Some("Admin".into()),
                ..crate::gateway::route("/admin-app", &upstream.url, RouteAuth::Required)
            },
            // Its prefix starts like the session resource's path, but it is the user's route.
            crate::gateway::route("/sessions-api", &upstream.url, RouteAuth::Required),
        ];
    })
    .await;
    ok_json(&toker(
        &app,
        &[
            "apps", "add", "--name", "One", "--origin", ONE, "--id", "app-one", "--json",
        ],
    ));
    ok_json(&toker(
        &app,
        &[
            "apps", "add", "--name", "Two", "--origin", TWO, "--id", "app-two", "--json",
        ],
    ));
    assert_eq!(
        app.sign_up("g@example.com", "password1").await.status(),
        200
    );
    let state = from_app(&app, Method::GET, "/session", "app-one", ONE)
        .send()
        .await
        .unwrap();
    let csrf = json(state).await["_csrf"].as_str().unwrap().to_string();
    let resp = from_app(&app, Method::POST, "/session", "app-one", ONE)
        .header("x-csrf-token", &csrf)
        .json(&json!({"email": "g@example.com", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = session_cookie(&resp)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = json(resp).await["_csrf"].as_str().unwrap().to_string();
    let call = |method: Method, path: &str, app_id: &str, origin: &str| {
        from_app(&app, method, path, app_id, origin).header("cookie", cookie.clone())
    };

    // The app's id from its own origin, with the cookie: the upstream answers and learns who.
    let resp = call(Method::GET, "/app/items", "app-one", ONE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ONE);
    assert!(resp.headers().get("access-token").is_none());
    let seen = upstream.last();
    assert_eq!(seen.headers["x-toker-uid"], "g@example.com");
    assert_eq!(seen.headers["x-toker-user-type"], "User");
    assert!(
        seen.headers
            .get("cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("toker_session"))
    );
    assert!(seen.headers.get("authorization").is_none());
    let resp = call(Method::GET, "/sessions-api/items", "app-one", ONE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "a route named like the session resource"
    );
    assert_eq!(upstream.last().headers["x-toker-uid"], "g@example.com");

    // Refused before the upstream: not granted, wrong origin, unknown app, no cookie.
    let before = upstream.seen().len();
    assert_eq!(
        call(Method::GET, "/app/items", "app-two", TWO)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    for (app_id, origin) in [("app-one", TWO), ("app-nine", ONE)] {
        let resp = call(Method::GET, "/app/items", app_id, origin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{app_id} from {origin}");
    }
    let resp = from_app(&app, Method::GET, "/app/items", "app-one", ONE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // A state change without the session's CSRF token, or as a form, reaches nothing.
    let resp = call(Method::POST, "/app/items", "app-one", ONE)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // What a cross-site form sends: the cookie, no `Authorization: Session`.
    let resp = app
        .request(Method::POST, "/app/items")
        .header("origin", ONE)
        .header("cookie", cookie.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Another type's route does not take the session.
    assert_eq!(
        call(Method::GET, "/admin-app/items", "app-one", ONE)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        upstream.seen().len(),
        before,
        "nothing refused reached the upstream"
    );

    // With the token it does: a JSON post.
    let resp = call(Method::POST, "/app/items", "app-one", ONE)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(upstream.last().method, "POST");
}
