//! What `toker serve` tells its operator: the startup lines, one line per request with the user
//! id, the `log` mail transport's message and link — and never a token or password.

use reqwest::Method;
use serde_json::json;

use crate::{
    helpers::{Auth, client, fresh_database, json},
    support::serve::Serve,
};

#[tokio::test]
async fn startup_lines_name_version_address_database_and_mail() {
    let db = fresh_database().await;
    let mut serve = Serve::start(&db.url, &[]).await;

    let lines = serve.drain().await.join("\n");

    assert!(
        lines.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{lines}"
    );
    assert!(
        lines.contains(&format!("listening on {}", serve.address)),
        "{lines}"
    );
    assert!(lines.contains("database="), "{lines}");
    assert!(lines.contains("mail: log"), "{lines}");
    // Without redirect_whitelist, the operator learns where links and OAuth may land.
    assert!(
        lines.contains(
            "redirect_whitelist is not set: redirects go only to the origins of cors_origins \
             and public_url"
        ),
        "{lines}"
    );
}

#[tokio::test]
async fn database_passwords_are_elided_from_the_startup_lines() {
    // A server that cannot be reached: startup fails, but says where it tried.
    let mut serve = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
            .arg("serve")
            .env(
                "TOKER_DATABASE_URL",
                "postgres://toker:s3cret-pw@127.0.0.1:1/toker",
            )
            .env("NO_COLOR", "1")
            .output()
            .expect("run toker")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&std::mem::take(&mut serve.stderr)).into_owned();

    assert!(!serve.status.success());
    assert!(
        stderr.contains("postgres://toker:****@127.0.0.1:1/toker"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}

#[tokio::test]
async fn each_request_is_one_line_and_no_secret_is_ever_logged() {
    // Arrange
    let db = fresh_database().await;
    let mut serve = Serve::start(&db.url, &[("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "0")]).await;
    let http = client();
    let password = "Sup3r-secret-pw";
    let signup = http
        .post(format!("{}/auth", serve.address))
        .json(&json!({"email": "log@example.com", "password": password, "password_confirmation": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);
    let first = Auth::from_headers(signup.headers()).unwrap();

    // Act: authenticated requests with credentials in headers, query and Authorization
    let resp = http
        .get(format!("{}/api/me", serve.address))
        .header("access-token", &first.token)
        .header("client", &first.client)
        .header("uid", &first.uid)
        .send()
        .await
        .unwrap();
    let second = Auth::from_headers(resp.headers()).unwrap();
    let resp = http
        .request(
            Method::GET,
            format!(
                "{}/auth/validate_token?access-token={}&client={}&uid={}",
                serve.address, second.token, second.client, second.uid
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let third = Auth::from_headers(resp.headers()).unwrap();
    let user_id = json(
        http.get(format!("{}/api/me", serve.address))
            .header("access-token", &third.token)
            .header("client", &third.client)
            .header("uid", &third.uid)
            .send()
            .await
            .unwrap(),
    )
    .await["data"]["id"]
        .as_i64()
        .unwrap();

    // Assert
    let lines = serve.drain().await.to_vec();
    let requests: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("toker::request"))
        .collect();
    assert_eq!(requests.len(), 4, "{lines:#?}");
    let me = requests[1];
    for field in [
        "method=GET",
        "path=\"/api/me\"",
        "status=200",
        "latency_ms=",
        &format!("user_id={user_id}"),
    ] {
        assert!(me.contains(field), "{field} missing from: {me}");
    }
    assert!(
        requests[2].contains("path=\"/auth/validate_token\""),
        "{}",
        requests[2]
    );
    let all = lines.join("\n");
    for secret in [password, &first.token, &second.token, &third.token] {
        assert!(!all.contains(secret), "a secret reached the log:\n{all}");
    }
}

#[tokio::test]
async fn the_log_transport_prints_the_mail_and_its_link() {
    // Arrange
    let db = fresh_database().await;
    let mut serve = Serve::start(
        &db.url,
        &[
            ("TOKER_CONFIRMABLE", "true"),
            // The landing's origin must be one toker trusts (docs/decisions.md D5).
            ("TOKER_CORS_ORIGINS", r#"["https://app.example.com"]"#),
            (
                "TOKER_DEFAULT_CONFIRM_SUCCESS_URL",
                "https://app.example.com/welcome",
            ),
        ],
    )
    .await;

    // Act
    let resp = client()
        .post(format!("{}/auth", serve.address))
        .json(&json!({"email": "logmail@example.com", "password": "password1", "password_confirmation": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Assert: the message, its recipient and a link that works
    let line = serve.wait_for_line(|l| l.contains("toker::mail")).await;
    assert!(line.contains("to=logmail@example.com"), "{line}");
    assert!(line.contains("subject=Confirmation instructions"), "{line}");
    let start = line.find("link=").expect("link") + "link=".len();
    let link: String = line[start..].split_whitespace().next().unwrap().to_string();
    let link = link.replace("http://127.0.0.1:0", &serve.address);
    let landing = client().get(&link).send().await.unwrap();
    assert_eq!(landing.status(), 302);
    assert_eq!(
        landing.headers()["location"],
        "https://app.example.com/welcome?account_confirmation_success=true"
    );
}
