//! `log_format` and colour: JSON lines whose fields a collector can read, and text that carries
//! colour codes only when stderr is a terminal and `NO_COLOR` is unset.

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::{
    helpers::{Auth, client, fresh_database},
    support::serve::Serve,
};

const ESC: char = '\u{1b}';

#[tokio::test]
async fn json_format_writes_one_object_per_line_with_top_level_fields() {
    // Arrange
    let db = fresh_database().await;
    let mut serve = Serve::start(&db.url, &[("TOKER_LOG_FORMAT", "json")]).await;
    let http = client();
    let signup = http
        .post(format!("{}/auth", serve.address))
        .json(&json!({"email": "json@example.com", "password": "password1", "password_confirmation": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);
    let auth = Auth::from_headers(signup.headers()).unwrap();

    // Act
    let me = auth
        .apply(http.get(format!("{}/api/me", serve.address)))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let user_id = me.json::<Value>().await.unwrap()["data"]["id"]
        .as_i64()
        .unwrap();
    let health = http
        .get(format!("{}/health", serve.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // Assert: every line is an object with the event's fields at the top level
    let lines = serve.drain().await.to_vec();
    let events: Vec<Value> = lines
        .iter()
        .map(|l| {
            assert!(!l.contains(ESC), "colour code in a JSON line: {l:?}");
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
        })
        .collect();
    for event in &events {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(event.get(key).is_some(), "{key} missing from {event}");
        }
    }
    let starting = events
        .iter()
        .find(|e| e["message"] == "toker starting")
        .expect("startup event");
    assert_eq!(starting["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(starting["level"], "INFO");
    let request = events
        .iter()
        .find(|e| e["target"] == "toker::request" && e["path"] == "/api/me")
        .unwrap_or_else(|| panic!("no request event: {lines:#?}"));
    assert_eq!(request["method"], "GET");
    assert_eq!(request["status"], 200);
    assert_eq!(request["user_id"], user_id);
    let requests: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "toker::request")
        .collect();
    assert_eq!(requests.len(), 3, "{lines:#?}");
    let anonymous = requests.iter().find(|e| e["path"] == "/health").unwrap();
    assert!(anonymous.get("user_id").is_none(), "{anonymous}");
    for request in requests {
        // Signed in or not, status and latency are numbers.
        assert!(request["status"].is_u64(), "{request}");
        assert!(request["latency_ms"].is_f64(), "{request}");
    }
    assert!(
        request.get("fields").is_none(),
        "fields must be flattened: {request}"
    );
}

#[tokio::test]
async fn text_format_on_a_pipe_has_no_colour_codes_even_without_no_color() {
    // Serve::start removes NO_COLOR and reads stderr through a pipe.
    let db = fresh_database().await;
    let mut serve = Serve::start(&db.url, &[]).await;
    let resp = client()
        .get(format!("{}/health", serve.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let lines = serve.drain().await.join("\n");

    assert!(lines.contains("toker::request"), "{lines}");
    assert!(
        !lines.contains(ESC),
        "colour codes in a piped log:\n{lines:?}"
    );
    assert!(lines.contains("status=200"), "{lines}");
}

/// Runs `toker migrate` on a fresh SQLite file with stderr on a pseudo-terminal (util-linux
/// `script`), returning everything the terminal showed.
fn migrate_on_a_terminal(no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let toker = env!("CARGO_BIN_EXE_toker");
    let mut cmd = Command::new("script");
    cmd.args(["--quiet", "--return", "--command"])
        .arg(format!("{toker} migrate"))
        .arg("/dev/null")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env("TOKER_DATABASE_URL", &url)
        .current_dir(dir.path())
        .stdin(Stdio::null());
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let out: Output = cmd.output().expect("run script(1)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("migrations up to date"), "{text}");
    text
}

#[test]
fn text_format_on_a_terminal_is_coloured_unless_no_color_is_set() {
    assert!(migrate_on_a_terminal(None).contains(ESC));
    assert!(migrate_on_a_terminal(Some("")).contains(ESC));
    assert!(!migrate_on_a_terminal(Some("1")).contains(ESC));
}

#[test]
fn a_log_format_other_than_text_or_json_stops_startup_naming_the_setting() {
    for bad in ["xml", "JSON", "", "text json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_toker"))
            .arg("check-config")
            .env_remove("TOKER_DATABASE_URL")
            .env("TOKER_LOG_FORMAT", bad)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("`log_format`"), "{bad:?}: {stderr}");
    }
}
