//! `/metrics` (issue 14 §3): off by default, on its own listener when `metrics_bind` is set,
//! never on the public port; counters that move with requests, labels from route templates so
//! that hostile paths add no series.

use reqwest::Method;

use crate::helpers::{spawn_app, spawn_app_with};

async fn scrape(port: u16) -> String {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    resp.text().await.unwrap()
}

/// The value of the sample `name{labels}` (the whole text before the value), 0 when absent.
fn value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn series(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
        .collect()
}

#[tokio::test]
async fn metrics_are_off_by_default_and_never_served_on_the_public_port() {
    let app = spawn_app().await;
    assert_eq!(app.metrics_port, None);
    let resp = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), 404);

    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    assert!(app.metrics_port.is_some());
    let resp = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(
        resp.status(),
        404,
        "metrics leaked onto the public listener"
    );
}

#[tokio::test]
async fn a_scrape_after_requests_shows_the_counters_moved() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let port = app.metrics_port.unwrap();
    let before = scrape(port).await;
    assert_eq!(
        value(&before, "toker_database_pool_max_connections"),
        5.0,
        "{before}"
    );

    let mut auth = app.signed_in_user("metrics@example.com").await;
    let wrong = app
        .sign_in_response("metrics@example.com", "not-the-password")
        .await;
    assert_eq!(wrong.status(), 401);
    for _ in 0..2 {
        let resp = app.get_authed("/auth/validate_token", &mut auth).await;
        assert_eq!(resp.status(), 200);
    }

    let after = scrape(port).await;
    let sign_in_ok =
        r#"toker_http_requests_total{route="/auth/sign_in",method="POST",status="200"}"#;
    let sign_in_refused =
        r#"toker_http_requests_total{route="/auth/sign_in",method="POST",status="401"}"#;
    assert_eq!(value(&after, sign_in_ok) - value(&before, sign_in_ok), 1.0);
    assert_eq!(value(&after, sign_in_refused), 1.0);
    assert_eq!(
        value(
            &after,
            r#"toker_http_requests_total{route="/auth/validate_token",method="GET",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &after,
            r#"toker_http_request_duration_seconds_count{route="/auth/validate_token",method="GET"}"#
        ),
        2.0,
        "{after}"
    );
    assert_eq!(
        value(&after, r#"toker_sign_ins_total{method="password"}"#),
        1.0
    );
    assert_eq!(
        value(
            &after,
            r#"toker_sign_in_failures_total{reason="wrong_password"}"#
        ),
        1.0
    );
    // Each authenticated answer is a rotation or, inside the batch window, a batch response.
    let rotations = value(&after, "toker_token_rotations_total");
    let batches = value(&after, "toker_batch_responses_total");
    assert_eq!(rotations + batches, 2.0, "{after}");
    assert!(
        after
            .lines()
            .any(|l| l.starts_with(r#"toker_database_pool_connections{state="idle"}"#)),
        "{after}"
    );
    assert!(after.contains("toker_password_hash_waiting 0"), "{after}");
}

#[tokio::test]
async fn hostile_paths_and_methods_add_no_series() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let port = app.metrics_port.unwrap();
    // One request of each kind first, so that their series exist.
    app.request(Method::GET, "/no/such/page")
        .send()
        .await
        .unwrap();
    app.request(Method::GET, "/auth/github")
        .send()
        .await
        .unwrap();
    let before = series(&scrape(port).await, "toker_http_requests_total");

    for i in 0..40 {
        let paths = [
            format!("/no/such/page-{i}"),
            format!("/%2e%2e/etc/passwd-{i}"),
            format!("/auth/provider-{i}"),
            format!("/auth/validate_token/{i}"),
        ];
        for path in paths {
            let resp = app.request(Method::GET, &path).send().await.unwrap();
            assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        }
        let method = Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let resp = app.request(method, "/auth/sign_in").send().await.unwrap();
        assert!(resp.status().is_client_error());
    }
    let after_text = scrape(port).await;
    let after = series(&after_text, "toker_http_requests_total");
    assert!(
        !after_text.contains("provider-")
            && !after_text.contains("passwd")
            && !after_text.contains("BREW"),
        "a raw path became a label:\n{after_text}"
    );
    let new: Vec<&String> = after.iter().filter(|s| !before.contains(s)).collect();
    // 200 requests to distinct paths and methods: at most a few statuses more on the same
    // templates, and the unknown methods as one `OTHER`.
    assert!(new.len() <= 4, "new series: {new:#?}");
    for s in &new {
        assert!(
            s.contains(r#"route="other""#)
                || s.contains(r#"route="/auth/{provider}""#)
                || s.contains(r#"method="OTHER""#),
            "{s}"
        );
    }
}

#[tokio::test]
async fn a_taken_metrics_port_stops_startup_naming_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let db = crate::helpers::fresh_database().await;
    let mut settings = crate::helpers::test_settings(&db.url);
    settings.metrics_bind = Some(address);
    let e = toker::startup::Application::build(settings)
        .await
        .err()
        .expect("startup refused");
    assert!(e.to_string().contains("`metrics_bind`"), "{e}");
}

#[tokio::test]
async fn gateway_routes_and_forward_auth_are_labelled_by_their_prefix() {
    let upstream = crate::support::upstream::Upstream::start().await;
    let app = spawn_app_with(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.gateway.forward_auth = true;
        s.gateway.routes = vec![crate::gateway::route(
            "/up",
            &upstream.url,
            toker::config::gateway::RouteAuth::None,
        )];
    })
    .await;
    for i in 0..5 {
        let resp = app
            .request(Method::GET, &format!("/up/items/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let resp = app
            .request(Method::GET, &format!("/auth/forward/{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }

    let text = scrape(app.metrics_port.unwrap()).await;
    assert_eq!(
        value(
            &text,
            r#"toker_http_requests_total{route="/up",method="GET",status="200"}"#
        ),
        5.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"toker_http_requests_total{route="/auth/forward",method="GET",status="401"}"#
        ),
        5.0,
        "{text}"
    );
}

#[tokio::test]
async fn locks_and_mails_are_counted() {
    let app = spawn_app_with(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.lockable = true;
        s.maximum_attempts = 2;
    })
    .await;
    assert_eq!(
        app.sign_up("locked@example.com", "password1")
            .await
            .status(),
        200
    );
    for _ in 0..2 {
        let resp = app
            .sign_in_response("locked@example.com", "wrong-one")
            .await;
        assert_eq!(resp.status(), 401);
    }

    // The unlock mail may go out after the answer.
    let port = app.metrics_port.unwrap();
    let mut text = scrape(port).await;
    for _ in 0..50 {
        if value(&text, r#"toker_mails_total{outcome="sent"}"#) >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = scrape(port).await;
    }
    assert_eq!(value(&text, "toker_account_locks_total"), 1.0, "{text}");
    assert_eq!(
        value(&text, r#"toker_mails_total{outcome="sent"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"toker_sign_in_failures_total{reason="wrong_password"}"#
        ),
        2.0
    );
}
