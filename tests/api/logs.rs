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

/// The `event` field of a `toker::security` line.
fn security_event(line: &str) -> Option<&str> {
    if !line.contains("toker::security") {
        return None;
    }
    let rest = line.split("event=\"").nth(1)?;
    rest.split('"').next()
}

#[tokio::test]
async fn every_security_event_is_one_line_under_toker_security_without_secrets() {
    // Arrange: lockable with two attempts, every request rotating
    let db = fresh_database().await;
    let mut serve = Serve::start(
        &db.url,
        &[
            ("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "0"),
            ("TOKER_LOCKABLE", "true"),
            ("TOKER_MAXIMUM_ATTEMPTS", "2"),
        ],
    )
    .await;
    let http = client();
    let base = serve.address.clone();
    let url = |path: &str| format!("{base}{path}");
    let (password, new_password) = ("Sup3r-secret-pw", "An0ther-secret-pw");
    let unknown = "typed-a-secret-here@example.com";
    let mut secrets: Vec<String> = vec![password.into(), new_password.into(), unknown.into()];
    let keep = |auth: &Auth, secrets: &mut Vec<String>| {
        secrets.push(auth.token.clone());
        auth.clone()
    };

    // Act: sign up (a sign-in), fail twice (locks), an unknown account, the unlock link
    let signup = http
        .post(url("/auth"))
        .json(&json!({"email": "sec@example.com", "password": password, "password_confirmation": password}))
        .send()
        .await
        .unwrap();
    let mut auth = keep(&Auth::from_headers(signup.headers()).unwrap(), &mut secrets);
    for _ in 0..2 {
        let resp = http
            .post(url("/auth/sign_in"))
            .json(&json!({"email": "sec@example.com", "password": "wrong-guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    http.post(url("/auth/sign_in"))
        .json(&json!({"email": unknown, "password": password}))
        .send()
        .await
        .unwrap();
    let mail = serve
        .wait_for_line(|l| l.contains("toker::mail") && l.contains("Unlock instructions"))
        .await;
    let link = mail
        .split("link=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let link = link.replace("http://127.0.0.1:0", &serve.address);
    secrets.push(link.split("unlock_token=").nth(1).unwrap().to_string());
    let unlocked = http.get(&link).send().await.unwrap();
    assert_eq!(unlocked.status(), 302);

    // ... a password change and an e-mail change, a refused token, a sign-out
    let resp = auth
        .apply(http.put(url("/auth")))
        .json(&json!({"password": new_password, "password_confirmation": new_password, "current_password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    auth = keep(&Auth::from_headers(resp.headers()).unwrap(), &mut secrets);
    let resp = auth
        .apply(http.put(url("/auth")))
        .json(&json!({"email": "sec2@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    auth = keep(&Auth::from_headers(resp.headers()).unwrap(), &mut secrets);
    let forged = Auth {
        token: "not-the-token-00000000".into(),
        ..auth.clone()
    };
    let refused = forged.apply(http.get(url("/api/me"))).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let out = auth
        .apply(http.delete(url("/auth/sign_out")))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);

    // Assert: the events, in order, each on one line of its own target
    let lines = serve.drain().await.to_vec();
    let events: Vec<&str> = lines.iter().filter_map(|l| security_event(l)).collect();
    assert_eq!(
        events,
        [
            "sign_in",
            "sign_in_failed",
            "sign_in_failed",
            "account_locked",
            "sign_in_failed",
            "account_unlocked",
            "sign_in",
            "password_changed",
            "email_changed",
            "token_refused",
            "device_revoked",
        ],
        "{lines:#?}"
    );
    let line_of = |event: &str| {
        lines
            .iter()
            .find(|l| security_event(l) == Some(event))
            .unwrap()
            .clone()
    };
    assert!(line_of("sign_in").contains("method=\"sign_up\""));
    assert!(line_of("sign_in_failed").contains("reason=\"wrong_password\""));
    assert!(line_of("account_unlocked").contains("via=\"link\""));
    assert!(line_of("token_refused").contains("reason=\"unknown_token\""));
    assert!(line_of("device_revoked").contains("reason=\"sign_out\""));
    let unknown_line = lines
        .iter()
        .find(|l| l.contains("reason=\"unknown_account\""))
        .expect("the unknown account's failure");
    assert!(!unknown_line.contains("user_id="), "{unknown_line}");
    assert!(line_of("account_locked").contains("attempts=2"));
    let all = lines.join("\n");
    for secret in &secrets {
        assert!(
            !lines
                .iter()
                .filter(|l| l.contains("toker::security") || l.contains("toker::request"))
                .any(|l| l.contains(secret.as_str())),
            "{secret} reached the log:\n{all}"
        );
        let digest = toker::tokens::digest(secret);
        assert!(!all.contains(&digest), "a digest reached the log:\n{all}");
    }
}
