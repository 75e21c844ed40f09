//! `toker import dta`: a users table made as devise_token_auth's generator makes it, on the
//! backend under test (SQLite, or the PostgreSQL / MariaDB server of `TOKER_TEST_DATABASE_URL`,
//! each source in a database of its own), filled with rows in both `tokens` serialisations,
//! missing optional columns and bad rows; then tokens made "by Rails" authenticate and rotate.

use chrono::{NaiveDateTime, Utc};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value};
use serde_json::json;
use toker::import::{Options, Report, run};

use crate::helpers::{TestApp, fresh_database, spawn_app, spawn_app_with};

const PEPPER: &str = "devise-pepper";

/// The source database and a connection to it.
struct Source {
    url: String,
    db: DatabaseConnection,
    _keep: crate::helpers::TestDatabase,
}

/// The generator's `create_table(:users)` for this backend, with the lockable columns when
/// `lockable`, and without confirmable when `minimal`.
fn create_table(backend: DbBackend, table: &str, lockable: bool, minimal: bool) -> String {
    let (id, string, time, boolean, tokens) = match backend {
        DbBackend::Postgres => (
            "bigserial PRIMARY KEY",
            "character varying",
            "timestamp(6) without time zone",
            "boolean",
            "json",
        ),
        DbBackend::MySql => (
            "bigint NOT NULL AUTO_INCREMENT PRIMARY KEY",
            "varchar(255)",
            "datetime(6)",
            "tinyint(1)",
            "json",
        ),
        _ => (
            "integer PRIMARY KEY AUTOINCREMENT NOT NULL",
            "varchar",
            "datetime(6)",
            "boolean",
            "text",
        ),
    };
    let mut cols = vec![
        format!("id {id}"),
        format!("provider {string} DEFAULT 'email' NOT NULL"),
        format!("uid {string} DEFAULT '' NOT NULL"),
        format!("encrypted_password {string} DEFAULT '' NOT NULL"),
    ];
    if !minimal {
        cols.extend([
            format!("reset_password_token {string}"),
            format!("reset_password_sent_at {time}"),
            format!("allow_password_change {boolean} DEFAULT false"),
            format!("remember_created_at {time}"),
            format!("confirmation_token {string}"),
            format!("confirmed_at {time}"),
            format!("confirmation_sent_at {time}"),
            format!("unconfirmed_email {string}"),
        ]);
    }
    if lockable {
        cols.extend([
            "failed_attempts integer DEFAULT 0 NOT NULL".to_string(),
            format!("unlock_token {string}"),
            format!("locked_at {time}"),
        ]);
    }
    cols.extend([
        format!("name {string}"),
        format!("nickname {string}"),
        format!("image {string}"),
        format!("email {string}"),
        format!("tokens {tokens}"),
        format!("favorite_color {string}"),
        format!("created_at {time} NOT NULL"),
        format!("updated_at {time} NOT NULL"),
    ]);
    format!("CREATE TABLE {table} ({})", cols.join(", "))
}

async fn source(table: &str, lockable: bool, minimal: bool) -> Source {
    let keep = fresh_database().await;
    let db = Database::connect(toker::store::with_default_pg_user(&keep.url))
        .await
        .expect("source database");
    db.execute_unprepared(&create_table(
        db.get_database_backend(),
        table,
        lockable,
        minimal,
    ))
    .await
    .expect("create the DTA table");
    Source {
        url: keep.url.clone(),
        db,
        _keep: keep,
    }
}

impl Source {
    /// Inserts a row; `tokens` is the column's JSON text.
    async fn insert(&self, table: &str, columns: &[(&str, Value)]) {
        let backend = self.db.get_database_backend();
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let marks: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let mark = match backend {
                    DbBackend::Postgres => format!("${}", i + 1),
                    _ => "?".into(),
                };
                match (backend, *name) {
                    (DbBackend::Postgres, "tokens") => format!("CAST({mark} AS json)"),
                    _ => mark,
                }
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            marks.join(", ")
        );
        self.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                columns.iter().map(|(_, v)| v.clone()),
            ))
            .await
            .expect("insert a DTA row");
    }

    async fn execute(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.expect(sql);
    }
}

fn text(s: &str) -> Value {
    Value::from(s.to_string())
}

fn time(offset_s: i64) -> Value {
    let t: NaiveDateTime = (Utc::now() + chrono::Duration::seconds(offset_s)).naive_utc();
    Value::from(t)
}

fn null_time() -> Value {
    Value::ChronoDateTime(None)
}

/// A bcrypt hash of `secret` as Ruby's bcrypt writes it (`$2a$`).
fn rails_bcrypt(secret: &str) -> String {
    bcrypt::hash_with_result(secret, 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA)
}

/// DTA's `tokens` entry for one client whose current token is `token`.
fn device(token: &str, expiry_from_now: i64) -> serde_json::Value {
    json!({
        "token": rails_bcrypt(token),
        "previous_token": rails_bcrypt(&format!("{token}-before")),
        "expiry": Utc::now().timestamp() + expiry_from_now,
        "updated_at": (Utc::now() - chrono::Duration::minutes(10)).to_rfc3339(),
    })
}

fn password(p: &str) -> String {
    rails_bcrypt(&format!("{p}{PEPPER}"))
}

/// The generator's table with rows in each serialisation and the bad ones.
async fn filled_source() -> Source {
    let s = source("users", true, false).await;
    let object = json!({ "c-alice": device("rails-alice", 3600) }).to_string();
    let as_string =
        serde_json::Value::String(json!({ "c-bob": device("rails-bob", 3600) }).to_string())
            .to_string();
    let mixed = json!({
        "c-frank": device("rails-frank", 3600),
        "c-old": device("rails-old", -10),
    })
    .to_string();
    let user = |email: &str, tokens: Option<String>| -> Vec<(&'static str, Value)> {
        vec![
            ("provider", text("email")),
            ("uid", text(email)),
            ("email", text(email)),
            ("encrypted_password", text(&password("secret123"))),
            ("confirmed_at", time(-86400)),
            ("tokens", tokens.map_or(Value::String(None), |t| text(&t))),
            ("created_at", time(-86400)),
            ("updated_at", time(-3600)),
        ]
    };
    s.insert("users", &user("alice@example.com", Some(object)))
        .await;
    s.insert("users", &user("bob@example.com", Some(as_string)))
        .await;
    let mut carol = user("carol@example.com", None);
    carol[0].1 = text("github");
    carol[1].1 = text("12345");
    carol[3].1 = text("");
    carol.push(("name", text("Carol")));
    carol.push(("nickname", text("caz")));
    carol.push(("favorite_color", text("teal")));
    s.insert("users", &carol).await;
    let mut dave = user("dave@example.com", Some("{}".into()));
    dave[4].1 = null_time();
    dave.push(("unconfirmed_email", text("dave.new@example.com")));
    dave.push(("locked_at", time(-60)));
    dave.push(("failed_attempts", Value::from(5)));
    s.insert("users", &dave).await;
    // Alice again in another letter case: DTA without case-insensitive keys allowed it.
    s.insert("users", &user("ALICE@example.com", None)).await;
    // Valid JSON (the column may be json), but the string inside is not.
    s.insert(
        "users",
        &user("eve@example.com", Some("\"{not json\"".into())),
    )
    .await;
    s.insert("users", &user("frank@example.com", Some(mixed)))
        .await;
    let mut no_uid = user("nobody@example.com", None);
    no_uid[1].1 = text("");
    s.insert("users", &no_uid).await;
    s
}

fn options(source: &Source, table: &str) -> Options {
    Options {
        from: source.url.clone(),
        table: table.into(),
        maps: vec!["favorite_color=favorite_color".parse().unwrap()],
        dry_run: false,
    }
}

async fn import(app: &TestApp, options: &Options) -> Report {
    run(&app.store, options, &indicatif::ProgressBar::hidden())
        .await
        .expect("import runs")
}

async fn app_with_pepper() -> TestApp {
    spawn_app_with(|s| {
        s.pepper = Some(toker::config::secret::Secret::new(PEPPER));
    })
    .await
}

async fn user_count(app: &TestApp) -> usize {
    app.store.list_users(0, 1000).await.unwrap().len()
}

#[tokio::test]
async fn a_generator_table_imports_with_both_serialisations_and_bad_rows_skipped() {
    let source = filled_source().await;
    let app = app_with_pepper().await;
    let report = import(&app, &options(&source, "users")).await;

    assert_eq!(report.rows, 8);
    assert_eq!(report.users_created, 6, "{}", report.summary());
    let reasons: Vec<&str> = report
        .skipped_rows
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with("duplicate e-mail")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("uid: empty")),
        "{reasons:?}"
    );
    // alice, bob, frank's live one; frank's expired one and eve's malformed JSON skipped.
    assert_eq!(report.devices_added, 3);
    let device_reasons: Vec<&str> = report
        .skipped_devices
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert!(device_reasons.contains(&"expired"), "{device_reasons:?}");
    assert!(
        device_reasons
            .iter()
            .any(|r| r.starts_with("tokens: malformed JSON")),
        "{device_reasons:?}"
    );
    assert!(
        report.summary().contains("skipped rows:"),
        "{}",
        report.summary()
    );

    let carol = app
        .store
        .find_provider_user("github", "12345")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carol.name.as_deref(), Some("Carol"));
    assert_eq!(carol.nickname.as_deref(), Some("caz"));
    assert_eq!(carol.extra.as_deref(), Some(r#"{"favorite_color":"teal"}"#));
    let dave = app
        .store
        .find_email_user("dave@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(dave.confirmed_at.is_none());
    assert!(dave.locked_at.is_some());
    assert_eq!(dave.failed_attempts, 5);
    assert_eq!(
        dave.unconfirmed_email.as_deref(),
        Some("dave.new@example.com")
    );
    let eve = app
        .store
        .find_email_user("eve@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(app.store.devices_of(eve.id).await.unwrap().is_empty());

    // Passwords work with Devise's pepper.
    let resp = app.sign_in_response("alice@example.com", "secret123").await;
    assert_eq!(resp.status(), 200);
    let resp = app.sign_in_response("bob@example.com", "wrong").await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn without_devises_pepper_imported_passwords_do_not_verify() {
    let source = filled_source().await;
    let app = spawn_app().await;
    import(&app, &options(&source, "users")).await;
    let resp = app.sign_in_response("alice@example.com", "secret123").await;
    assert_eq!(resp.status(), 401);
}

/// Requests `validate_token` with the given credentials.
async fn validate(app: &TestApp, token: &str, client: &str, uid: &str) -> reqwest::Response {
    app.request(Method::GET, "/auth/validate_token")
        .header("access-token", token)
        .header("client", client)
        .header("uid", uid)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_made_by_rails_authenticates_after_the_import_then_rotates_normally() {
    let source = filled_source().await;
    let app = app_with_pepper().await;
    import(&app, &options(&source, "users")).await;

    for (token, client, uid) in [
        ("rails-alice", "c-alice", "alice@example.com"),
        ("rails-bob", "c-bob", "bob@example.com"),
    ] {
        let user = app.store.find_email_user(uid).await.unwrap().unwrap();
        let before = &app.store.devices_of(user.id).await.unwrap()[0];
        assert!(before.token_hash.starts_with("$2a$"), "kept as DTA made it");

        let resp = validate(&app, token, client, uid).await;
        assert_eq!(resp.status(), 200, "{uid}");
        let next = resp.headers()["access-token"].to_str().unwrap().to_string();
        assert_ne!(next, token);

        // The next request with the new token works, and no bcrypt hash is left.
        let resp = validate(&app, &next, client, uid).await;
        assert_eq!(resp.status(), 200, "{uid}");
        let after = &app.store.devices_of(user.id).await.unwrap()[0];
        for hash in [
            Some(&after.token_hash),
            after.previous_token_hash.as_ref(),
            after.last_token_hash.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(!hash.starts_with('$'), "{hash}");
        }
        // A wrong token for an imported device is refused.
        let resp = validate(&app, "forged", client, uid).await;
        assert_eq!(resp.status(), 401);
    }
    // A token of the previous generation in Rails was dropped at the upgrade.
    let resp = validate(&app, "rails-alice-before", "c-alice", "alice@example.com").await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn importing_twice_changes_nothing_and_a_later_change_is_picked_up() {
    let source = filled_source().await;
    let app = app_with_pepper().await;
    let first = import(&app, &options(&source, "users")).await;
    let users = user_count(&app).await;
    let second = import(&app, &options(&source, "users")).await;
    assert_eq!(second.rows, first.rows);
    assert_eq!(second.users_created, 0);
    assert_eq!(second.users_unchanged, first.users_created);
    assert_eq!(second.skipped_rows.len(), first.skipped_rows.len());
    assert_eq!(user_count(&app).await, users);

    // The Rails app changed Bob's e-mail (and so his uid) before the switch was over.
    source
        .execute(&format!(
            "UPDATE users SET uid = 'robert@example.com', email = 'robert@example.com', \
             updated_at = {} WHERE uid = 'bob@example.com'",
            match source.db.get_database_backend() {
                DbBackend::Sqlite => "datetime('now')",
                _ => "CURRENT_TIMESTAMP",
            }
        ))
        .await;
    let third = import(&app, &options(&source, "users")).await;
    assert_eq!(third.users_updated, 1, "{}", third.summary());
    assert_eq!(third.users_created, 0);
    assert_eq!(user_count(&app).await, users);
    let robert = app
        .store
        .find_email_user("robert@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(robert.uid, "robert@example.com");
    assert_eq!(app.store.devices_of(robert.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let source = filled_source().await;
    let app = app_with_pepper().await;
    let report = import(
        &app,
        &Options {
            dry_run: true,
            ..options(&source, "users")
        },
    )
    .await;
    assert!(report.dry_run);
    assert_eq!(report.users_created, 6);
    assert_eq!(report.skipped_rows.len(), 2);
    assert!(report.summary().contains("dry run"), "{}", report.summary());
    assert_eq!(user_count(&app).await, 0);
    // The real run afterwards does what the dry run said.
    let real = import(&app, &options(&source, "users")).await;
    assert_eq!(real.users_created, report.users_created);
}

#[tokio::test]
async fn a_table_without_the_optional_columns_imports_under_its_own_name() {
    let source = source("accounts", false, true).await;
    source
        .insert(
            "accounts",
            &[
                ("uid", text("zed@example.com")),
                ("email", text("Zed@Example.com")),
                ("encrypted_password", text(&password("secret123"))),
                ("created_at", time(-100)),
                ("updated_at", time(-100)),
            ],
        )
        .await;
    let app = app_with_pepper().await;
    let mut opts = options(&source, "accounts");
    opts.maps.clear();
    let report = import(&app, &opts).await;
    assert_eq!(report.users_created, 1, "{}", report.summary());
    let zed = app
        .store
        .find_email_user("zed@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(zed.confirmed_at.is_some(), "no confirmable: confirmed");
    assert_eq!(zed.provider, "email");
    let resp = app.sign_in_response("zed@example.com", "secret123").await;
    assert_eq!(resp.status(), 200);

    // Not a DTA table, or a mapping of a column it lacks: a clear error before anything.
    let err = run(
        &app.store,
        &Options {
            table: "nothing_here".into(),
            ..opts.clone()
        },
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    opts.maps = vec!["shoe_size=shoe_size".parse().unwrap()];
    let err = run(&app.store, &opts, &indicatif::ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("shoe_size"), "{err}");
}

#[tokio::test]
async fn the_import_command_reports_a_dry_run_and_refuses_a_bad_source() {
    let source = filled_source().await;
    let app = app_with_pepper().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
            .args(args)
            .env_remove("RUST_LOG")
            .env("TOKER_DATABASE_URL", &app.db.url)
            .env("TOKER_PASSWORD_COST", "4")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    };
    let out = run(&["import", "dta", "--from", &source.url, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("8 rows read (dry run: nothing written)"),
        "{stdout}"
    );
    assert!(stdout.contains("6 would be created"), "{stdout}");
    assert_eq!(user_count(&app).await, 0);

    let out = run(&["import", "dta", "--from", &source.url, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["users_created"], 6);
    // Not a terminal: the progress bar is not drawn, progress comes as lines.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("import: 8/8 rows (100.0 %), "), "{stderr}");

    let out = run(&[
        "import",
        "dta",
        "--from",
        &source.url,
        "--table",
        "users;drop",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("letters, digits and _"));
    let out = run(&["import", "dta", "--from", &source.url, "--map", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}
