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
        vec!["check-config", "--help"],
        vec!["mail", "preview", "--help"],
        vec!["assertion-keys", "list", "--help"],
        vec!["assertion-keys", "rotate", "--help"],
        vec!["import", "--help"],
        vec!["import", "dta", "--help"],
        vec!["users", "--help"],
        vec!["users", "list", "--help"],
        vec!["users", "show", "--help"],
        vec!["users", "create", "--help"],
        vec!["users", "confirm", "--help"],
        vec!["users", "lock", "--help"],
        vec!["users", "unlock", "--help"],
        vec!["users", "delete", "--help"],
        vec!["users", "set-password", "--help"],
        vec!["devices", "--help"],
        vec!["devices", "list", "--help"],
        vec!["devices", "revoke", "--help"],
    ] {
        let out = toker(&args, &[]);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("Usage: toker"), "{args:?}");
    }
    let top = stdout(&toker(&["--help"], &[]));
    for command in [
        "serve",
        "migrate",
        "openapi",
        "check-config",
        "mail",
        "assertion-keys",
        "import",
        "users",
        "devices",
        "--config",
    ] {
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
fn check_config_prints_the_effective_settings_with_secrets_masked() {
    // Arrange: a file, and variables that override and add to it
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toker.toml");
    std::fs::write(
        &path,
        "bind = \"0.0.0.0:8080\"\n\
         log_level = \"debug\"\n\
         database_url = \"postgres://toker:db-s3cret@db.internal/toker\"\n\
         smtp_password = \"smtp-s3cret\"\n\
         [oauth.github]\n\
         client_id = \"Iv1.abc\"\n\
         client_secret = \"oauth-s3cret\"\n",
    )
    .unwrap();
    let key = "k".repeat(48);

    // Act
    let out = toker(
        &["check-config", "--config", path.to_str().unwrap()],
        &[
            ("TOKER_LOG_LEVEL", "warn"),
            ("TOKER_SECRET_KEY", &key),
            ("TOKER_LOG_FORMAT", "json"),
        ],
    );

    // Assert
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let effective: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(effective["bind"].as_str(), Some("0.0.0.0:8080"));
    assert_eq!(
        effective["log_level"].as_str(),
        Some("warn"),
        "the variable wins"
    );
    assert_eq!(effective["log_format"].as_str(), Some("json"));
    assert_eq!(effective["token_lifespan"].as_integer(), Some(1_209_600));
    assert_eq!(
        effective["database_url"].as_str(),
        Some("postgres://toker:****@db.internal/toker")
    );
    assert_eq!(effective["smtp_password"].as_str(), Some("[redacted]"));
    assert_eq!(effective["secret_key"].as_str(), Some("[redacted]"));
    assert_eq!(
        effective["oauth"]["github"]["client_secret"].as_str(),
        Some("[redacted]")
    );
    for secret in ["db-s3cret", "smtp-s3cret", "oauth-s3cret", key.as_str()] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
        assert!(!stderr(&out).contains(secret));
    }
}

#[test]
fn check_config_refuses_what_serve_refuses_with_the_same_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toker.toml");
    std::fs::write(&path, "cors_origins = [\"*\"]\n").unwrap();
    let file = path.to_str().unwrap();
    let file_args = ["--config", file];
    let cases = [
        (&[][..], ("TOKER_TOKEN_LIFESPAN", "0")),
        (&[], ("TOKER_LOG_FORMAT", "yaml")),
        (&[], ("TOKER_NO_SUCH_SETTING", "1")),
        (&file_args, ("TOKER_LOG_LEVEL", "info")),
    ];
    for (args, env) in cases {
        let env = &[env];
        let check = toker(&[args, &["check-config"]].concat(), env);
        let serve = toker(&[args, &["serve"]].concat(), env);

        assert_eq!(check.status.code(), Some(2), "{env:?}: {}", stderr(&check));
        assert_eq!(serve.status.code(), Some(2), "{env:?}: {}", stderr(&serve));
        assert_eq!(stderr(&check), stderr(&serve), "{env:?}");
        assert!(stderr(&check).starts_with("toker: "), "{}", stderr(&check));
        assert!(stdout(&check).is_empty(), "{}", stdout(&check));
    }
}

#[test]
fn check_config_output_is_a_settings_file_that_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let first = toker(
        &["check-config"],
        &[
            ("TOKER_BIND", "127.0.0.1:4000"),
            ("TOKER_CORS_ORIGINS", "[\"https://app.example.com\"]"),
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let path = dir.path().join("effective.toml");
    std::fs::write(&path, stdout(&first)).unwrap();

    let second = toker(&["check-config", "--config", path.to_str().unwrap()], &[]);

    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second), stdout(&first));
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

#[test]
fn mail_preview_prints_a_rendered_mail_in_the_asked_language() {
    let out = toker(&["mail", "preview", "unlock", "--locale", "fr-CA"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for part in [
        "To: jane@example.com\n",
        "Subject: Instructions de déverrouillage\n",
        "Locale: fr\n",
        "--- text ---\nBonjour jane@example.com,\n",
        "Déverrouiller mon compte\u{a0}: https://",
        "--- html ---\n<!DOCTYPE html>\n<html lang=\"fr\">",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    let pending = stdout(&toker(
        &["mail", "preview", "email_changed", "--pending"],
        &[],
    ));
    assert!(
        pending.contains("is being changed to new.address@example.com."),
        "{pending}"
    );

    let unknown = toker(&["mail", "preview", "welcome"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("unknown mail `welcome`"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn check_config_refuses_a_bad_language_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("de.ftl"), "a = b\nc = { $\n").unwrap();
    let out = toker(
        &["check-config"],
        &[("TOKER_LOCALES_DIR", &dir.path().display().to_string())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("de.ftl:2"), "{}", stderr(&out));
}

#[test]
fn assertion_keys_list_and_rotate_work_on_the_database() {
    let out = toker(&["assertion-keys", "--help"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("rotate"), "{}", stdout(&out));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/k.db?mode=rwc", dir.path().display());
    let env = [("TOKER_DATABASE_URL", url.as_str())];
    let out = toker(&["assertion-keys", "list"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no key until something signs");
    let out = toker(&["assertion-keys", "rotate"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let added = stdout(&out);
    let kid = added
        .strip_prefix("added ")
        .and_then(|rest| rest.split(',').next())
        .expect("`added <kid>, signing from …`");
    assert!(added.contains("signing from"), "{added}");
    let listed = stdout(&toker(&["assertion-keys", "list"], &env));
    assert_eq!(listed.lines().count(), 1);
    assert!(listed.starts_with(kid), "{listed}");
    assert!(!listed.contains("PRIVATE"), "{listed}");
}

#[test]
fn gateway_settings_are_read_from_toml_and_the_environment_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/g.db?mode=rwc", dir.path().display());
    let path = dir.path().join("toker.toml");
    let config = path.to_str().unwrap();
    std::fs::write(
        &path,
        "[gateway]\nforward_auth = true\n\n[[gateway.routes]]\nprefix = \"/orders\"\n\
         upstream = \"http://127.0.0.1:8080\"\nauth = \"required\"\nmethods = [\"GET\"]\n",
    )
    .unwrap();
    let out = toker(
        &["--config", config, "migrate"],
        &[("TOKER_DATABASE_URL", &url)],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let routes = r#"[{prefix = "/orders", upstream = "http://127.0.0.1:8080", auth = "optional"}]"#;
    let out = toker(
        &["migrate"],
        &[
            ("TOKER_DATABASE_URL", &url),
            ("TOKER_GATEWAY__ROUTES", routes),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    for (toml, named) in [
        (
            "[[gateway.routes]]\nprefix = \"/api\"\nupstream = \"http://x\"\nauth = \"none\"\n",
            "clashes with toker's own `/api/me`",
        ),
        (
            "[[gateway.routes]]\nprefix = \"/x\"\nupstream = \"http://x\"\n",
            "auth",
        ),
        (
            "[[gateway.routes]]\nprefix = \"/x\"\nupstream = \"http://x\"\nauth = \"maybe\"\n",
            "auth",
        ),
        (
            "[[gateway.routes]]\nprefix = \"/x\"\nupstream = \"http://x\"\nauth = \"none\"\nretries = 3\n",
            "retries",
        ),
        (
            "[gateway]\nassertion_keys = [\"-----BEGIN PRIVATE KEY-----\\nc2VjcmV0\\n-----END PRIVATE KEY-----\"]\n",
            "`gateway.assertion_keys`",
        ),
    ] {
        std::fs::write(&path, toml).unwrap();
        let out = toker(&["--config", config, "migrate"], &[]);
        assert_eq!(out.status.code(), Some(2), "{toml}");
        let err = stderr(&out);
        assert!(err.contains(named), "{toml}: {err}");
        assert!(!err.contains("c2VjcmV0"), "a key is never printed: {err}");
    }
}
