//! Several user types (devise_token_auth's several mounts): `[[user_types]]` adds a type with
//! its own mount and users; the same e-mail can be a User and an Admin with different
//! passwords, and a token of one type authenticates nowhere else.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use toker::config::{Settings, UserTypeSettings};

use crate::helpers::*;

fn admin_type() -> UserTypeSettings {
    UserTypeSettings {
        name: "Admin".into(),
        mount_path: "/admin_auth".into(),
        ..UserTypeSettings::default()
    }
}

async fn two_type_app(configure: impl FnOnce(&mut UserTypeSettings)) -> TestApp {
    let mut admin = admin_type();
    configure(&mut admin);
    spawn_app_with(move |s| s.user_types = vec![admin]).await
}

async fn sign_up_at(app: &TestApp, mount: &str, email: &str, password: &str) -> reqwest::Response {
    app.post_json(
        mount,
        &json!({"email": email, "password": password, "password_confirmation": password}),
    )
    .await
}

async fn sign_in_at(app: &TestApp, mount: &str, email: &str, password: &str) -> reqwest::Response {
    app.post_json(
        &format!("{mount}/sign_in"),
        &json!({"email": email, "password": password}),
    )
    .await
}

async fn signed_in_at(app: &TestApp, mount: &str, email: &str, password: &str) -> Auth {
    let resp = sign_in_at(app, mount, email, password).await;
    assert_eq!(resp.status(), 200, "sign in at {mount}");
    Auth::from_headers(resp.headers()).expect("credentials")
}

#[tokio::test]
async fn the_same_email_is_a_user_and_an_admin_with_different_passwords() {
    // Arrange
    let app = two_type_app(|_| {}).await;

    // Act: one address signs up at both mounts, with two passwords
    let user = sign_up_at(&app, "/auth", "Same@Example.com", "user-password").await;
    let admin = sign_up_at(&app, "/admin_auth", "same@example.com", "admin-password").await;

    // Assert: two accounts; each password opens its own type only
    assert_eq!(user.status(), 200);
    assert_eq!(admin.status(), 200);
    let user_id = json(user).await["data"]["id"].as_i64().unwrap();
    let admin_id = json(admin).await["data"]["id"].as_i64().unwrap();
    assert_ne!(user_id, admin_id);
    for (mount, password, status) in [
        ("/auth", "user-password", 200),
        ("/auth", "admin-password", 401),
        ("/admin_auth", "admin-password", 200),
        ("/admin_auth", "user-password", 401),
    ] {
        let resp = sign_in_at(&app, mount, "same@example.com", password).await;
        assert_eq!(resp.status(), status, "{mount} with {password}");
        if status == 200 {
            let id = json(resp).await["data"]["id"].as_i64().unwrap();
            assert_eq!(id, if mount == "/auth" { user_id } else { admin_id });
        }
    }
    // A second sign-up of the same type is still refused.
    let again = sign_up_at(&app, "/admin_auth", "same@example.com", "another-one").await;
    assert_eq!(again.status(), 422);
    let stored = app
        .store
        .for_type("Admin")
        .find_user(admin_id)
        .await
        .unwrap();
    assert_eq!(stored.unwrap().user_type, "Admin");
    assert!(app.store.find_user(admin_id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_token_of_one_type_authenticates_only_on_its_own_mount() {
    // Arrange: the same address as both types, each signed in
    let app = two_type_app(|_| {}).await;
    sign_up_at(&app, "/auth", "both@example.com", "user-password").await;
    sign_up_at(&app, "/admin_auth", "both@example.com", "admin-password").await;
    let user = signed_in_at(&app, "/auth", "both@example.com", "user-password").await;
    let admin = signed_in_at(&app, "/admin_auth", "both@example.com", "admin-password").await;
    assert_eq!(user.uid, admin.uid);

    // Act + Assert: each token works at home, nowhere else
    for (auth, path, status) in [
        (&admin, "/auth/validate_token", 401),
        (&admin, "/api/me", 401),
        (&user, "/admin_auth/validate_token", 401),
        (&user, "/auth/validate_token", 200),
        (&admin, "/admin_auth/validate_token", 200),
        (&user, "/api/me", 200),
    ] {
        let resp = app
            .authed(Method::GET, path, auth)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), status, "{path}");
        if status == 401 {
            assert!(resp.headers().get("access-token").is_none());
        }
    }
    // A refused token is not spent: the admin's still works (rotation is per request, so
    // use the token the last 200 answered with for the user).
    let mut admin = admin;
    let resp = app
        .get_authed("/admin_auth/validate_token", &mut admin)
        .await;
    assert_eq!(resp.status(), 200);
    // Signing out as admin at the user mount does nothing to either device.
    let resp = app
        .authed(Method::DELETE, "/auth/sign_out", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .get_authed("/admin_auth/validate_token", &mut admin)
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn per_type_overrides_apply_to_that_type_only() {
    // Arrange: Admins are confirmable with longer passwords and one device, and their own
    // confirmation subject
    let smtp = crate::support::smtp::SmtpServer::start();
    let port = smtp.port;
    let templates = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(templates.path().join("Admin/en")).unwrap();
    std::fs::write(
        templates.path().join("Admin/en/confirmation.subject"),
        "Admin access for {{ email }} ({{ user_type }})\n",
    )
    .unwrap();
    let templates_dir = templates.path().display().to_string();
    let app = spawn_app_with(move |s| {
        s.mail_templates = Some(templates_dir);
        s.mail_transport = toker::config::MailTransport::Smtp;
        s.smtp_port = port;
        s.smtp_tls = toker::config::SmtpTls::None;
        s.user_types = vec![UserTypeSettings {
            confirmable: Some(true),
            password_length: Some([12, 128]),
            max_number_of_devices: Some(1),
            token_lifespan: Some(3600),
            ..admin_type()
        }];
    })
    .await;

    // Act + Assert: a short password is fine for a User, not for an Admin
    assert_eq!(
        sign_up_at(&app, "/auth", "u@example.com", "short1")
            .await
            .status(),
        200
    );
    let short = app
        .post_json(
            "/admin_auth",
            &json!({"email": "a@example.com", "password": "short1",
                    "password_confirmation": "short1",
                    "confirm_success_url": "https://app.example.com/confirmed"}),
        )
        .await;
    assert_eq!(short.status(), 422);
    let body = json(short).await;
    assert!(
        body.to_string().contains("minimum is 12 characters"),
        "{body}"
    );

    // The Admin must confirm first: no token at sign-up, sign-in refused, and the mail's link
    // points at the Admin mount.
    let resp = app
        .post_json(
            "/admin_auth",
            &json!({"email": "a@example.com", "password": "a-long-password",
                    "password_confirmation": "a-long-password",
                    "confirm_success_url": "https://app.example.com/confirmed"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-token").is_none());
    let refused = sign_in_at(&app, "/admin_auth", "a@example.com", "a-long-password").await;
    assert_eq!(refused.status(), 401);
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Admin access for a@example.com (Admin)");
    let link = crate::support::smtp::first_link(&mail.text);
    let path = url::Url::parse(&link).unwrap().path().to_string();
    assert_eq!(path, "/admin_auth/confirmation", "{link}");
    let followed = app
        .client
        .get(app.url(&link[link.find(&path).unwrap()..]))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 302);

    // Confirmed: the Admin signs in; its token lives an hour, and a second device evicts the
    // first (cap 1).
    let first = signed_in_at(&app, "/admin_auth", "a@example.com", "a-long-password").await;
    let expiry: i64 = first.expiry.parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 3500..=now + 3700).contains(&expiry), "{expiry}");
    let _second = signed_in_at(&app, "/admin_auth", "a@example.com", "a-long-password").await;
    let resp = app
        .authed(Method::GET, "/admin_auth/validate_token", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Users keep the top-level settings: signed in at once, two weeks.
    let user = signed_in_at(&app, "/auth", "u@example.com", "short1").await;
    let expiry: i64 = user.expiry.parse().unwrap();
    assert!(expiry > now + 13 * 24 * 3600);
}

#[tokio::test]
async fn a_reset_link_of_one_type_does_not_open_the_other() {
    // Arrange: the same address as both types; the User asks for a reset link
    let smtp = crate::support::smtp::SmtpServer::start();
    let port = smtp.port;
    let app = spawn_app_with(move |s| {
        s.mail_transport = toker::config::MailTransport::Smtp;
        s.smtp_port = port;
        s.smtp_tls = toker::config::SmtpTls::None;
        s.user_types = vec![admin_type()];
    })
    .await;
    sign_up_at(&app, "/auth", "r@example.com", "user-password").await;
    sign_up_at(&app, "/admin_auth", "r@example.com", "admin-password").await;
    let resp = app
        .post_json(
            "/auth/password",
            &json!({"email": "r@example.com", "redirect_url": "https://app.example.com/reset"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let link = crate::support::smtp::first_link(&smtp.wait_for(1).await.remove(0).text);
    let path = url::Url::parse(&link).unwrap().path().to_string();
    assert_eq!(path, "/auth/password/edit", "{link}");
    let admin = app
        .store
        .for_type("Admin")
        .find_email_user("r@example.com")
        .await
        .unwrap()
        .unwrap();
    let devices_before = app.store.devices_of(admin.id).await.unwrap().len();

    // Act: the same link at the Admin mount
    let query = url::Url::parse(&link).unwrap().query().unwrap().to_string();
    let resp = app
        .client
        .get(app.url(&format!("/admin_auth/password/edit?{query}")))
        .send()
        .await
        .unwrap();

    // Assert: no admin device came out of it
    assert!(resp.status().is_client_error() || resp.status().is_redirection());
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        !location.contains("access-token") && !location.contains("token="),
        "{location}"
    );
    assert_eq!(
        app.store.devices_of(admin.id).await.unwrap().len(),
        devices_before
    );
}

#[tokio::test]
async fn hostile_paths_and_type_names_never_fail_the_server() {
    // Arrange
    let app = two_type_app(|_| {}).await;
    sign_up_at(&app, "/admin_auth", "h@example.com", "admin-password").await;
    let admin = signed_in_at(&app, "/admin_auth", "h@example.com", "admin-password").await;

    // Act + Assert: near-miss mounts, a traversal, a body naming another type
    for (method, path) in [
        (Method::GET, "/admin_authx/validate_token"),
        (Method::GET, "/admin_auth/../auth/validate_token"),
        (Method::GET, "/admin_auth%2Fvalidate_token"),
        (Method::GET, "/Admin_auth/validate_token"),
        (Method::POST, "/admin_auth/omniauth/nope"),
        (Method::GET, "/admin_auth/omniauth/%00/callback"),
        (
            Method::GET,
            "/auth/validate_token?resource_class=Admin&config_name=Admin",
        ),
    ] {
        let resp = app
            .authed(method.clone(), path, &admin)
            .send()
            .await
            .expect("request");
        assert!(
            resp.status().is_client_error(),
            "{method} {path}: {}",
            resp.status()
        );
    }
    let resp = app
        .request(Method::POST, "/admin_auth/sign_in")
        .header("content-type", "application/json")
        .body("{\"email\": [], \"password\": {\"user_type\": \"User\"}")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
}

#[test]
fn bad_user_type_settings_stop_startup_with_a_clear_message() {
    let with = |t: UserTypeSettings| Settings {
        user_types: vec![t],
        ..Settings::default()
    };
    for (t, needle) in [
        (
            UserTypeSettings {
                name: "".into(),
                ..admin_type()
            },
            "is not a type name",
        ),
        (
            UserTypeSettings {
                name: "Ad min".into(),
                ..admin_type()
            },
            "is not a type name",
        ),
        (
            UserTypeSettings {
                name: "user".into(),
                ..admin_type()
            },
            "named twice",
        ),
        (
            UserTypeSettings {
                mount_path: "/auth".into(),
                ..admin_type()
            },
            "overlaps `/auth`",
        ),
        (
            UserTypeSettings {
                mount_path: "/auth/admin".into(),
                ..admin_type()
            },
            "overlaps `/auth`",
        ),
        (
            UserTypeSettings {
                mount_path: "/api".into(),
                ..admin_type()
            },
            "mount_path",
        ),
        (
            UserTypeSettings {
                mount_path: "admin".into(),
                ..admin_type()
            },
            "mount_path",
        ),
        (
            UserTypeSettings {
                password_length: Some([0, 10]),
                ..admin_type()
            },
            "password_length",
        ),
        (
            UserTypeSettings {
                max_number_of_devices: Some(0),
                ..admin_type()
            },
            "max_number_of_devices",
        ),
        (
            UserTypeSettings {
                oauth_providers: Some(vec!["github".into()]),
                ..admin_type()
            },
            "no [oauth.github] table",
        ),
    ] {
        let e = with(t.clone())
            .validate()
            .expect_err(&format!("{t:?}"))
            .to_string();
        assert!(e.contains(needle), "{t:?}: {e}");
        assert!(e.contains("user_types"), "{e}");
    }
    // With browser sessions on, their resource is toker's too.
    let sessions = Settings {
        session_enabled: true,
        user_types: vec![UserTypeSettings {
            mount_path: "/session".into(),
            ..admin_type()
        }],
        ..Settings::default()
    };
    let e = sessions.validate().unwrap_err().to_string();
    assert!(e.contains("session_path") && e.contains("overlaps"), "{e}");
    // A provider whose request path would be the type's callback prefix.
    let clash = Settings {
        user_types: vec![admin_type()],
        oauth: [(
            "omniauth".to_string(),
            toker::config::OAuthProviderSettings {
                client_id: "id".into(),
                client_secret: "secret".into(),
                issuer: Some("https://idp.example.com".into()),
                ..Default::default()
            },
        )]
        .into(),
        ..Settings::default()
    };
    let e = clash.validate().unwrap_err().to_string();
    assert!(e.contains("provider `omniauth`"), "{e}");
    // Two types may not share a mount either.
    let twice = Settings {
        user_types: vec![
            admin_type(),
            UserTypeSettings {
                name: "Staff".into(),
                ..admin_type()
            },
        ],
        ..Settings::default()
    };
    assert!(
        twice
            .validate()
            .unwrap_err()
            .to_string()
            .contains("overlaps")
    );
    // The TOML form loads.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toker.toml");
    std::fs::write(
        &path,
        "[[user_types]]\nname = \"Admin\"\nmount_path = \"/admin_auth\"\nconfirmable = true\n",
    )
    .unwrap();
    let loaded = Settings::load(Some(&path)).unwrap();
    assert_eq!(loaded.user_types[0].name, "Admin");
    assert_eq!(loaded.user_types[0].confirmable, Some(true));
    std::fs::write(
        &path,
        "[[user_types]]\nname = \"Admin\"\nmount_path = \"/admin_auth\"\ncolour = 1\n",
    )
    .unwrap();
    assert!(Settings::load(Some(&path)).is_err());
}

/// The migration that adds the type keeps every existing user, password and device.
#[tokio::test]
async fn the_migration_keeps_existing_users_and_their_sessions() {
    // Arrange: a database at the schema before user types, with one user and one device
    let db = fresh_database().await;
    let conn = Database::connect(toker::store::with_default_pg_user(&db.url))
        .await
        .unwrap();
    use migration::MigratorTrait;
    migration::Migrator::up(&conn, Some(8)).await.unwrap();
    let backend = conn.get_database_backend();
    let hash = bcrypt::hash("old-password", 4).unwrap();
    let token = "an-existing-token";
    let at = "2026-11-30 12:00:00";
    let expiry = chrono::Utc::now().timestamp() + 3600;
    let now_ms = chrono::Utc::now().timestamp_millis();
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO users (provider, uid, email, encrypted_password, confirmed_at, \
                 created_at, updated_at) VALUES ('email', $1, $1, $2, $3::timestamptz, \
                 $3::timestamptz, $3::timestamptz)"
            }
            _ => {
                "INSERT INTO users (provider, uid, email, encrypted_password, confirmed_at, \
                 created_at, updated_at) VALUES ('email', ?, ?, ?, ?, ?, ?)"
            }
        },
        match backend {
            sea_orm::DbBackend::Postgres => {
                vec!["old@example.com".into(), hash.clone().into(), at.into()]
            }
            _ => vec![
                "old@example.com".into(),
                "old@example.com".into(),
                hash.clone().into(),
                at.into(),
                at.into(),
                at.into(),
            ],
        },
    ))
    .await
    .unwrap();
    let insert_device = format!(
        "INSERT INTO devices (user_id, client, token_hash, expiry, touched_at, rotated_at, \
         version, created_at) SELECT id, 'old-client', '{}', {expiry}, {now_ms}, {now_ms}, 0, \
         created_at FROM users",
        toker::tokens::digest(token)
    );
    conn.execute_unprepared(&insert_device).await.unwrap();
    conn.close().await.unwrap();

    // Act: the server migrates on start, with an Admin type configured
    let app = spawn_app_on(&db.url, |s| s.user_types = vec![admin_type()]).await;

    // Assert: the old user is a User, signs in with the old password, keeps its session
    let old = app
        .store
        .find_email_user("old@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.user_type, "User");
    assert_eq!(
        sign_in_at(&app, "/auth", "old@example.com", "old-password")
            .await
            .status(),
        200
    );
    let existing = Auth {
        token: token.into(),
        client: "old-client".into(),
        uid: "old@example.com".into(),
        expiry: expiry.to_string(),
    };
    let resp = app
        .authed(Method::GET, "/auth/validate_token", &existing)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Not an Admin, but the address is free to become one.
    assert_eq!(
        sign_in_at(&app, "/admin_auth", "old@example.com", "old-password")
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_up_at(&app, "/admin_auth", "old@example.com", "admin-password")
            .await
            .status(),
        200
    );
    // The unique key still holds within a type.
    let dup = app
        .store
        .insert_user(
            provider_account("email", "old@example.com", None),
            chrono::Utc::now(),
        )
        .await;
    assert!(
        matches!(dup, Err(toker::store::StoreError::Conflict)),
        "{dup:?}"
    );
}

/// toker with an Admin type, forward-auth on, and two gateway routes: `/app` for Users and
/// `/admin_app` for Admins.
async fn gateway_app(upstream: &crate::support::upstream::Upstream) -> TestApp {
    use toker::config::RouteAuth;
    let url = upstream.url.clone();
    spawn_app_with(move |s| {
        s.user_types = vec![admin_type()];
        s.gateway.forward_auth = true;
        s.batch_request_buffer_throttle = 0;
        s.gateway.routes = vec![
            crate::gateway::route("/app", &url, RouteAuth::Required),
            toker::config::GatewayRoute {
                user_type: Some("Admin".into()),
                ..crate::gateway::route("/admin_app", &url, RouteAuth::Required)
            },
        ];
    })
    .await
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn gateway_routes_take_their_own_types_tokens_and_name_the_type() {
    // Arrange: the same address as both types
    let upstream = crate::support::upstream::Upstream::start().await;
    let app = gateway_app(&upstream).await;
    sign_up_at(&app, "/auth", "gw@example.com", "user-password").await;
    sign_up_at(&app, "/admin_auth", "gw@example.com", "admin-password").await;
    let mut user = signed_in_at(&app, "/auth", "gw@example.com", "user-password").await;
    let mut admin = signed_in_at(&app, "/admin_auth", "gw@example.com", "admin-password").await;

    // Act + Assert: each route takes its own type only
    let resp = app.get_authed("/admin_app/x", &mut user).await;
    assert_eq!(resp.status(), 401);
    let resp = app.get_authed("/app/x", &mut admin).await;
    assert_eq!(resp.status(), 401);
    let before = upstream.seen().len();
    let resp = app.get_authed("/admin_app/x", &mut admin).await;
    assert_eq!(resp.status(), 200);
    let seen = upstream.last();
    assert_eq!(upstream.seen().len(), before + 1);
    assert_eq!(seen.header("x-toker-user-type").as_deref(), Some("Admin"));
    let jwt = seen.header("x-toker-assertion").unwrap();
    let claims = crate::gateway::verify_assertion(&app, &jwt, &upstream.url).await;
    assert_eq!(claims["user_type"], "Admin");
    let resp = app.get_authed("/app/x", &mut user).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        upstream.last().header("x-toker-user-type").as_deref(),
        Some("User")
    );
    // A client cannot claim a type.
    let resp = app
        .authed(Method::GET, "/app/y", &user)
        .header("x-toker-user-type", "Admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        upstream.last().header("x-toker-user-type").as_deref(),
        Some("User")
    );
}

#[tokio::test]
async fn forward_auth_answers_per_mount_and_names_the_type() {
    // Arrange
    let upstream = crate::support::upstream::Upstream::start().await;
    let app = gateway_app(&upstream).await;
    sign_up_at(&app, "/auth", "fa@example.com", "user-password").await;
    sign_up_at(&app, "/admin_auth", "fa@example.com", "admin-password").await;
    let user = signed_in_at(&app, "/auth", "fa@example.com", "user-password").await;
    let admin = signed_in_at(&app, "/admin_auth", "fa@example.com", "admin-password").await;
    let ask = |endpoint: &str, auth: &Auth| {
        auth.apply(app.request(Method::GET, endpoint))
            .header("x-original-method", "GET")
            .header("x-original-uri", "/orders")
            .header("x-forwarded-host", "app.example.com")
            .header("x-forwarded-proto", "https")
    };

    // Act + Assert: a token is only good at its own type's endpoint
    for (endpoint, auth, status, user_type) in [
        ("/auth/forward", &admin, 401, None),
        ("/admin_auth/forward", &user, 401, None),
        ("/admin_auth/forward", &admin, 200, Some("Admin")),
        ("/auth/forward", &user, 200, Some("User")),
    ] {
        let resp = ask(endpoint, auth).send().await.unwrap();
        assert_eq!(resp.status(), status, "{endpoint}");
        assert_eq!(header(&resp, "x-toker-user-type").as_deref(), user_type);
        if let Some(user_type) = user_type {
            let jwt = header(&resp, "x-toker-assertion").unwrap();
            let claims =
                crate::gateway::verify_assertion(&app, &jwt, "https://app.example.com").await;
            assert_eq!(claims["user_type"], user_type);
        }
    }
}

#[test]
fn a_gateway_route_must_name_a_configured_type() {
    let mut s = Settings {
        user_types: vec![admin_type()],
        ..Settings::default()
    };
    s.gateway.routes = vec![toker::config::GatewayRoute {
        user_type: Some("Staff".into()),
        ..crate::gateway::route(
            "/app",
            "http://127.0.0.1:9",
            toker::config::RouteAuth::Required,
        )
    }];
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("`Staff`") && e.contains("gateway.routes"), "{e}");
    s.gateway.routes[0].user_type = Some("Admin".into());
    s.validate().unwrap();
    s.gateway.routes[0].user_type = Some("User".into());
    s.validate().unwrap();
}

#[tokio::test]
async fn the_api_document_lists_each_types_operations_under_its_mount() {
    // Arrange
    let app = two_type_app(|_| {}).await;

    // Act
    let doc = json(
        app.request(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;

    // Assert: the default type's paths as before, the Admin's tagged with its name
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths["/auth/sign_in"]["post"]["tags"], json!(["Sessions"]));
    assert_eq!(
        paths["/admin_auth/sign_in"]["post"]["tags"],
        json!(["Admin"])
    );
    for path in [
        "/admin_auth",
        "/admin_auth/validate_token",
        "/admin_auth/password",
        "/admin_auth/{provider}",
        "/admin_auth/omniauth/{provider}/callback",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    assert!(!paths.keys().any(|p| p.starts_with("/admin_auth/api")));
    assert!(paths.contains_key("/api/me"));
    let links = paths["/admin_auth/sign_in"]["post"]["responses"]["200"]["links"]
        .as_object()
        .unwrap();
    assert!(
        links.values().all(|l| l["operationRef"]
            .as_str()
            .unwrap()
            .starts_with("#/paths/~1admin_auth")),
        "{links:?}"
    );
    let tags = doc["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t["name"] == "Admin"));
    // The Swagger page embeds the same document.
    let page = app.request(Method::GET, "/docs").send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("/admin_auth/validate_token")
    );
    // `toker openapi --config` prints it too; without --config, the defaults' document.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("toker.toml");
    std::fs::write(
        &config,
        "[[user_types]]\nname = \"Admin\"\nmount_path = \"/admin_auth\"\n",
    )
    .unwrap();
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
        .args(["--config", config.to_str().unwrap(), "openapi"])
        .env_remove("TOKER_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(printed.status.success());
    let yaml: serde_json::Value = serde_yaml::from_slice(&printed.stdout).unwrap();
    assert_eq!(
        yaml["paths"]["/admin_auth/sign_in"]["post"]["tags"],
        json!(["Admin"])
    );
    let plain = std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
        .arg("openapi")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let yaml: serde_json::Value = serde_yaml::from_slice(&plain.stdout).unwrap();
    assert!(yaml["paths"].get("/admin_auth/sign_in").is_none());
    // A bad configuration is refused, not half printed.
    std::fs::write(
        &config,
        "[[user_types]]\nname = \"\"\nmount_path = \"/x\"\n",
    )
    .unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
        .args(["--config", config.to_str().unwrap(), "openapi"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
}

#[tokio::test]
async fn lockable_sign_up_attributes_and_redirects_are_per_type_too() {
    // Arrange: Users lock after 2 failures and may give a nickname; Admins never lock, may not
    // give one, and may only be sent to the admin site.
    let app = spawn_app_with(|s| {
        s.lockable = true;
        s.maximum_attempts = 2;
        s.sign_up_attributes = vec!["nickname".into()];
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.user_types = vec![UserTypeSettings {
            lockable: Some(false),
            sign_up_attributes: Some(Vec::new()),
            redirect_whitelist: Some(vec!["https://admin.example.com/*".into()]),
            ..admin_type()
        }];
    })
    .await;
    for mount in ["/auth", "/admin_auth"] {
        let resp = app
            .post_json(
                mount,
                &json!({"email": "l@example.com", "password": "password1",
                        "password_confirmation": "password1", "nickname": "lo"}),
            )
            .await;
        assert_eq!(resp.status(), 200, "{mount}");
        let nickname = json(resp).await["data"]["nickname"].clone();
        assert_eq!(
            nickname,
            if mount == "/auth" {
                json!("lo")
            } else {
                json!(null)
            }
        );
    }

    // Act: three wrong passwords at each mount
    for mount in ["/auth", "/admin_auth"] {
        for _ in 0..3 {
            sign_in_at(&app, mount, "l@example.com", "wrong-password").await;
        }
    }

    // Assert: the User is locked, the Admin is not
    assert_eq!(
        sign_in_at(&app, "/auth", "l@example.com", "password1")
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in_at(&app, "/admin_auth", "l@example.com", "password1")
            .await
            .status(),
        200
    );
    // Redirects: the Admin's whitelist, not the top-level default (the API's origins).
    for (mount, url, allowed) in [
        ("/auth", "https://app.example.com/reset", true),
        ("/admin_auth", "https://app.example.com/reset", false),
        ("/admin_auth", "https://admin.example.com/reset", true),
    ] {
        let resp = app
            .post_json(
                &format!("{mount}/password"),
                &json!({"email": "l@example.com", "redirect_url": url}),
            )
            .await;
        assert_eq!(
            resp.status() == 200,
            allowed,
            "{mount} {url}: {}",
            resp.status()
        );
        if !allowed {
            assert_eq!(resp.status(), 422);
        }
    }
    // The metrics name the Admin's routes by their templates.
    let port = app.metrics_port.unwrap();
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"route="/admin_auth/sign_in",method="POST",status="200""#),
        "{text}"
    );
}

#[test]
fn malformed_user_types_from_the_environment_stop_startup_with_a_message() {
    for (value, needle) in [
        ("garbage", "user_types"),
        ("[{name = \"Admin\"}]", "user_types"),
        ("[{name = \"Admin\", mount_path = \"/auth\"}]", "overlaps"),
        (
            "[{name = \"Admin\", mount_path = \"/admin_auth\", token_lifespan = -1}]",
            "user_types",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
            .arg("check-config")
            .env_remove("TOKER_DATABASE_URL")
            .env("TOKER_USER_TYPES", value)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains(needle), "{value}: {stderr}");
    }
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
        .arg("check-config")
        .env_remove("TOKER_DATABASE_URL")
        .env(
            "TOKER_USER_TYPES",
            "[{name = \"Admin\", mount_path = \"/admin_auth\", confirmable = true}]",
        )
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("admin_auth"));
}

/// Runs `toker ARGS` on `app`'s database and settings file.
fn toker_on(app: &TestApp, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_toker"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env("TOKER_DATABASE_URL", &app.db.url)
        .env("TOKER_PASSWORD_COST", "4")
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_operator_commands_work_on_the_type_user_type_names() {
    // Arrange: the same address as both types, each signed in once
    let app = two_type_app(|_| {}).await;
    sign_up_at(&app, "/auth", "op@example.com", "user-password").await;
    sign_up_at(&app, "/admin_auth", "op@example.com", "admin-password").await;
    let admin = signed_in_at(&app, "/admin_auth", "op@example.com", "admin-password").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("toker.toml");
    std::fs::write(
        &config,
        "[[user_types]]\nname = \"Admin\"\nmount_path = \"/admin_auth\"\n",
    )
    .unwrap();
    let listed = |args: &[&str]| {
        let out = toker_on(&app, &config, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };

    // Act + Assert: each type lists its own user
    let users = listed(&["users", "list", "--json"]);
    let admins = listed(&["--user-type", "Admin", "users", "list", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(admins.as_array().unwrap().len(), 1);
    assert_ne!(users[0]["id"], admins[0]["id"]);
    // An Admin device is not the User type's to revoke; the Admin's command revokes it.
    let devices = listed(&[
        "--user-type",
        "Admin",
        "devices",
        "list",
        "op@example.com",
        "--json",
    ]);
    let device = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["client"] == admin.client.as_str())
        .expect("the signed-in device")["id"]
        .to_string();
    let out = toker_on(&app, &config, &["devices", "revoke", &device]);
    assert!(!out.status.success());
    let resp = app
        .authed(Method::GET, "/admin_auth/validate_token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    listed(&[
        "--user-type",
        "Admin",
        "devices",
        "revoke",
        &device,
        "--json",
    ]);
    let resp = app
        .authed(Method::GET, "/admin_auth/validate_token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // An unknown type, or the flag on a command it does not apply to, is refused.
    let out = toker_on(&app, &config, &["--user-type", "Staff", "users", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user type named `Staff`"));
    let out = toker_on(&app, &config, &["--user-type", "Admin", "migrate"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The migration goes down (while no uid exists under two types) and up again, keeping rows.
#[tokio::test]
async fn the_migration_goes_down_and_up_again() {
    use migration::MigratorTrait;
    let db = fresh_database().await;
    let conn = Database::connect(toker::store::with_default_pg_user(&db.url))
        .await
        .unwrap();
    migration::Migrator::up(&conn, None).await.unwrap();
    let store = toker::store::Store::from_connection(conn.clone());
    store
        .insert_user(
            provider_account("email", "down@example.com", Some("down@example.com")),
            chrono::Utc::now(),
        )
        .await
        .unwrap();

    migration::Migrator::down(&conn, Some(1)).await.unwrap();
    let count = |sql: &'static str| {
        let conn = conn.clone();
        async move {
            conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM users").await, 1);
    migration::Migrator::up(&conn, None).await.unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE user_type = 'User'").await,
        1
    );
    let admins = store.for_type("Admin");
    let again = admins
        .insert_user(
            provider_account("email", "down@example.com", Some("down@example.com")),
            chrono::Utc::now(),
        )
        .await;
    assert!(again.is_ok(), "{again:?}");
}
