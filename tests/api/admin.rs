//! `toker users …` and `toker devices …` run as an operator runs them: the real binary on the
//! database of a running app, JSON output read back, changes seen by the API and in the
//! security log, and bad input refused with a clear message and a non-zero exit.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Runs `toker ARGS` on `app`'s database, `stdin` written to its standard input.
fn toker(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_toker"))
        .args(args)
        .env_remove("RUST_LOG")
        .env("TOKER_DATABASE_URL", &app.db.url)
        .env("TOKER_PASSWORD_COST", "4")
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run toker");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn failed_with(out: &Output, text: &str) {
    assert!(!out.status.success(), "should fail: {}", stderr(out));
    assert!(stderr(out).contains(text), "{}", stderr(out));
}

#[tokio::test]
async fn an_operator_creates_confirms_locks_unlocks_and_deletes_a_user() {
    let app = spawn_app_with(|s| s.lockable = true).await;
    let created = toker(
        &app,
        &["users", "create", "Ops@Example.com", "--json"],
        "first-pass\n",
    );
    let user = ok_json(&created);
    assert_eq!(user["email"], "ops@example.com");
    assert_eq!(user["confirmed_at"], Value::Null);
    assert!(
        stderr(&created).contains("account_created"),
        "{}",
        stderr(&created)
    );
    let id = user["id"].as_i64().unwrap().to_string();

    let confirmed = toker(&app, &["users", "confirm", "ops@example.com", "--json"], "");
    assert!(ok_json(&confirmed)["confirmed_at"].is_string());
    assert!(stderr(&confirmed).contains("account_confirmed"));
    assert_eq!(
        app.sign_in_response("ops@example.com", "first-pass")
            .await
            .status(),
        200
    );

    let locked = toker(&app, &["users", "lock", &id, "--json"], "");
    assert!(ok_json(&locked)["locked_at"].is_string());
    assert!(stderr(&locked).contains("account_locked"));
    assert_eq!(
        app.sign_in_response("ops@example.com", "first-pass")
            .await
            .status(),
        401
    );

    let unlocked = toker(&app, &["users", "unlock", &id, "--json"], "");
    assert_eq!(ok_json(&unlocked)["locked_at"], Value::Null);
    assert!(stderr(&unlocked).contains("account_unlocked"));
    assert_eq!(
        app.sign_in_response("ops@example.com", "first-pass")
            .await
            .status(),
        200
    );

    let list = ok_json(&toker(&app, &["users", "list", "--json"], ""));
    assert_eq!(list.as_array().unwrap().len(), 1);
    let shown = ok_json(&toker(&app, &["users", "show", &id, "--json"], ""));
    assert_eq!(shown["devices"].as_array().unwrap().len(), 2);
    let text = toker(&app, &["users", "list"], "");
    assert!(String::from_utf8_lossy(&text.stdout).contains("ops@example.com"));

    let deleted = toker(&app, &["users", "delete", &id, "--json"], "");
    assert_eq!(ok_json(&deleted)["devices"], 2);
    assert!(stderr(&deleted).contains("account_deleted"));
    assert!(
        app.store
            .find_email_user("ops@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn set_password_reads_standard_input_and_applies_the_apis_rules() {
    let app = spawn_app().await;
    app.sign_up("pw@example.com", "old-password").await;
    let out = toker(
        &app,
        &["users", "set-password", "pw@example.com"],
        "new-password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("password_changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        app.sign_in_response("pw@example.com", "new-password")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.sign_in_response("pw@example.com", "old-password")
            .await
            .status(),
        401
    );

    // Too short, too long in bytes, or nothing at all: refused, password unchanged.
    for bad in ["short\n", &format!("{}\n", "é".repeat(40)), ""] {
        let out = toker(&app, &["users", "set-password", "pw@example.com"], bad);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(stderr(&out).contains("Password"), "{}", stderr(&out));
    }
    assert_eq!(
        app.sign_in_response("pw@example.com", "new-password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn devices_are_listed_and_revoked_one_or_all() {
    let app = spawn_app().await;
    app.sign_up("dev@example.com", "password1").await;
    for _ in 0..2 {
        app.sign_in_response("dev@example.com", "password1").await;
    }
    let devices = ok_json(&toker(
        &app,
        &["devices", "list", "dev@example.com", "--json"],
        "",
    ));
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 3);
    assert!(devices.iter().all(|d| d.get("token_hash").is_none()));
    let first = devices[0]["id"].as_i64().unwrap().to_string();

    let out = toker(&app, &["devices", "revoke", &first, "--json"], "");
    assert_eq!(ok_json(&out)["revoked"], 1);
    assert!(stderr(&out).contains("device_revoked"), "{}", stderr(&out));
    let out = toker(
        &app,
        &["devices", "revoke", "--all", "dev@example.com", "--json"],
        "",
    );
    assert_eq!(ok_json(&out)["revoked"], 2);
    let user = app
        .store
        .find_email_user("dev@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(app.store.devices_of(user.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_fails_with_a_clear_message_and_a_non_zero_exit() {
    let app = spawn_app().await;
    failed_with(
        &toker(&app, &["users", "show", "nobody@example.com"], ""),
        "no user nobody@example.com",
    );
    failed_with(
        &toker(&app, &["users", "lock", "424242"], ""),
        "no user 424242",
    );
    failed_with(
        &toker(&app, &["devices", "list", "ghost"], ""),
        "no user ghost",
    );
    failed_with(
        &toker(&app, &["devices", "revoke", "99999"], ""),
        "no device 99999",
    );
    failed_with(
        &toker(&app, &["users", "create", "not-an-email"], "password1\n"),
        "Email",
    );
    app.sign_up("taken@example.com", "password1").await;
    failed_with(
        &toker(
            &app,
            &["users", "create", "TAKEN@example.com"],
            "password1\n",
        ),
        "already in use",
    );
    // Usage errors are clap's (exit 2).
    let out = toker(&app, &["devices", "revoke"], "");
    assert_eq!(out.status.code(), Some(2));
    let out = toker(
        &app,
        &["users", "create", "x@example.com", "--password", "p"],
        "",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "no password on the command line"
    );
}
