//! The `toker` binary: help on every command, settings errors that name the setting, the
//! migrate command, and the OpenAPI printer.

use std::process::{Command, Output};

fn toker(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_toker"));
    // A developer's own settings must not leak into these runs (removed before the test's own
    // variables are set, or a test's database would be dropped for ./toker.db).
    cmd.env_remove("TOKER_DATABASE_URL")
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run toker")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["openapi", "--help"],
    ] {
        let out = toker(&args, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("Usage: toker"), "{args:?}");
    }
    let top = stdout(&toker(&["--help"], &[]));
    for command in ["serve", "migrate", "openapi", "--config"] {
        assert!(top.contains(command), "{command} missing from --help");
    }
}

#[test]
fn openapi_command_prints_the_spec() {
    let out = toker(&["openapi"], &[]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), toker::api::spec_yaml());
}

#[test]
fn invalid_environment_setting_stops_startup_naming_the_setting() {
    let out = toker(&["migrate"], &[("TOKER_TOKEN_LIFESPAN", "0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`token_lifespan`"),
        "{}",
        stderr(&out)
    );

    let out = toker(
        &["migrate"],
        &[("TOKER_BATCH_REQUEST_BUFFER_THROTTLE", "soon")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("batch_request_buffer_throttle"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invalid_config_file_stops_startup_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toker.toml");
    std::fs::write(&path, "cors_origins = [\"*\"]\n").unwrap();
    let out = toker(&["--config", path.to_str().unwrap(), "migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`cors_origins`"), "{}", stderr(&out));

    std::fs::write(&path, "no_such_setting = 1\n").unwrap();
    let out = toker(&["--config", path.to_str().unwrap(), "migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no_such_setting"), "{}", stderr(&out));

    let out = toker(&["--config", "/nonexistent/toker.toml", "migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn migrate_creates_the_schema_and_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
    let out = toker(&["migrate"], &[("TOKER_DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = toker(&["migrate", "--status"], &[("TOKER_DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("m20261123_000002_create_devices"), "{text}");
}

#[test]
fn oauth_providers_come_from_nested_environment_variables() {
    // A provider with neither issuer nor URLs is refused, naming its table.
    let out = toker(&["migrate"], &[("TOKER_OAUTH__CORP__CLIENT_ID", "abc")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("[oauth.corp]"), "{err}");
    assert!(err.contains("issuer"), "{err}");

    // A preset needs only its credentials.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/o.db?mode=rwc", dir.path().display());
    let out = toker(
        &["migrate"],
        &[
            ("TOKER_DATABASE_URL", &url),
            ("TOKER_OAUTH__GITHUB__CLIENT_ID", "Iv1.abc"),
            ("TOKER_OAUTH__GITHUB__CLIENT_SECRET", "s3cret"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn accept_token_params_takes_true_false_or_everywhere_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/p.db?mode=rwc", dir.path().display());
    for good in ["true", "false", "everywhere"] {
        let out = toker(
            &["migrate"],
            &[
                ("TOKER_DATABASE_URL", &url),
                ("TOKER_ACCEPT_TOKEN_PARAMS", good),
            ],
        );
        assert!(out.status.success(), "{good}: {}", stderr(&out));
    }
    let out = toker(&["migrate"], &[("TOKER_ACCEPT_TOKEN_PARAMS", "sometimes")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`accept_token_params`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_duration_too_large_for_dates_stops_startup_naming_the_setting() {
    for (variable, setting) in [
        ("TOKER_UNLOCK_IN", "`unlock_in`"),
        ("TOKER_RESET_PASSWORD_WITHIN", "`reset_password_within`"),
        ("TOKER_CONFIRM_WITHIN", "`confirm_within`"),
        ("TOKER_UNLOCK_WITHIN", "`unlock_within`"),
    ] {
        let out = toker(&["migrate"], &[(variable, "18446744073709551615")]);
        assert_eq!(out.status.code(), Some(2), "{variable}");
        assert!(stderr(&out).contains(setting), "{}", stderr(&out));
    }
}
