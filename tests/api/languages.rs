//! Answers and mails in the reader's language (issue 15): the `locale` parameter, then
//! `Accept-Language`, then `default_locale`; the app's own language files and mail templates;
//! and input about languages that is bad or unknown, which never breaks anything.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, json, spawn_app, spawn_app_mailing_to, spawn_app_with},
    support::smtp::{SmtpServer, first_link},
};

const LANDING: &str = "http://localhost:4200/welcome";

/// Confirmable, mailing to `smtp`, with the landing page allowed.
async fn mailing_app(
    smtp: &SmtpServer,
    configure: impl FnOnce(&mut toker::config::Settings),
) -> TestApp {
    spawn_app_mailing_to(smtp.port, move |s| {
        s.confirmable = true;
        s.redirect_whitelist = Some(vec!["http://localhost:4200/**".into()]);
        configure(s);
    })
    .await
}

async fn post(
    app: &TestApp,
    path: &str,
    accept_language: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let resp = app
        .request(Method::POST, path)
        .header("accept-language", accept_language)
        .json(body)
        .send()
        .await
        .expect("request");
    (resp.status(), json(resp).await)
}

#[tokio::test]
async fn a_german_reader_gets_german_validation_errors_mail_and_refusals_end_to_end() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mailing_app(&smtp, |_| {}).await;
    let german = "de-DE,de;q=0.9,en;q=0.8";

    // Act: a sign-up with a short, mismatched password
    let (status, body) = post(
        &app,
        "/auth",
        german,
        &json!({"email": "nope", "password": "abc", "password_confirmation": "abd",
                "confirm_success_url": LANDING}),
    )
    .await;

    // Assert: Rails' shape, German words and attribute names
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"],
        json!({
            "email": ["ist keine gültige E-Mail-Adresse"],
            "password_confirmation": ["stimmt nicht mit Passwort überein"],
            "password": ["ist zu kurz (mindestens 6 Zeichen)"],
            "full_messages": [
                "E-Mail ist keine gültige E-Mail-Adresse",
                "Passwortbestätigung stimmt nicht mit Passwort überein",
                "Passwort ist zu kurz (mindestens 6 Zeichen)"
            ]
        })
    );

    // Act: a good sign-up, then signing in before confirming
    let (status, _) = post(
        &app,
        "/auth",
        german,
        &json!({"email": "anna@example.com", "password": "password1",
                "password_confirmation": "password1", "confirm_success_url": LANDING}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = post(
        &app,
        "/auth/sign_in",
        german,
        &json!({"email": "anna@example.com", "password": "password1"}),
    )
    .await;

    // Assert: the confirmation mail and the refusal are German
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Anleitung zur Bestätigung Ihres Kontos");
    assert!(
        mail.text.starts_with("Willkommen, anna@example.com!"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("Mein Konto bestätigen: http"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("<html lang=\"de\">"), "{}", mail.html);
    assert_eq!(status, 401);
    assert_eq!(
        refused["errors"][0],
        "Eine Bestätigungs-E-Mail wurde an Ihre E-Mail-Adresse „anna@example.com“ gesendet. \
         Bitte folgen Sie den Anweisungen in der E-Mail, um Ihr Konto zu aktivieren."
    );
    // The link in the German mail works like any other (public_url is 127.0.0.1:0 in tests).
    let link = first_link(&mail.text).replace(&app.settings.public_url(), &app.address);
    let landing = app.client.get(link).send().await.unwrap();
    assert_eq!(landing.status(), 302);
}

#[tokio::test]
async fn a_japanese_reader_named_by_the_locale_parameter_gets_japanese_texts_and_mail() {
    // Arrange
    let smtp = SmtpServer::start();
    let app = mailing_app(&smtp, |s| s.confirmable = false).await;
    assert_eq!(
        app.sign_up("taro@example.com", "password1").await.status(),
        200
    );

    // Act: the parameter wins over a German Accept-Language, in the query or the body
    let (status, query) = post(
        &app,
        "/auth/sign_in?locale=ja",
        "de",
        &json!({"email": "taro@example.com", "password": "wrong"}),
    )
    .await;
    let (_, body_param) = post(
        &app,
        "/auth",
        "de",
        &json!({"email": "taro@example.com", "password": "password1", "locale": "ja-JP"}),
    )
    .await;
    let (reset_status, reset) = post(
        &app,
        "/auth/password?locale=ja",
        "de",
        &json!({"email": "taro@example.com", "redirect_url": LANDING}),
    )
    .await;

    // Assert
    assert_eq!(status, 401);
    assert_eq!(
        query,
        json!({"success": false, "errors": ["ログイン情報が正しくありません。もう一度お試しください。"]})
    );
    assert_eq!(
        body_param["errors"]["full_messages"],
        json!(["メールアドレスはすでに使用されています"])
    );
    assert_eq!(reset_status, 200);
    assert_eq!(
        reset["message"],
        "パスワードの再設定手順を記載したメールを「taro@example.com」宛てに送信しました。"
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "パスワード再設定のご案内");
    assert!(
        mail.text.starts_with("taro@example.com 様"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("パスワードを変更する：http"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("<html lang=\"ja\">"), "{}", mail.html);
}

#[tokio::test]
async fn answers_outside_the_handlers_and_protected_resources_speak_the_readers_language() {
    let app = spawn_app().await;
    let get = |path: &str, lang: &str| {
        app.request(Method::GET, path)
            .header("accept-language", lang)
            .send()
    };

    let not_found = get("/auth/nothing/here", "es").await.unwrap();
    assert_eq!(not_found.status(), 404);
    assert_eq!(json(not_found).await["errors"][0], "No encontrado.");

    let me = get("/api/me", "zh-CN").await.unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(
        json(me).await,
        json!({"errors": ["请先登录或注册再继续。"]})
    );

    let bad_json = app
        .request(Method::POST, "/auth/sign_in?locale=fr")
        .header("content-type", "application/json")
        .body("[1, 2")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let text = json(bad_json).await["errors"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.starts_with("Corps JSON invalide\u{a0}: "), "{text}");
}

#[tokio::test]
async fn unknown_or_malformed_languages_fall_back_and_never_break_anything() {
    let app = spawn_app_with(|s| s.default_locale = "pt-BR".into()).await;
    let english = "Invalid login credentials. Please try again.";
    let portuguese = "Credenciais de login inválidas. Tente novamente.";
    for (query, accept, expected) in [
        ("", "", portuguese),
        ("?locale=tlh", "", portuguese),
        ("?locale=", "en", english),
        ("?locale=%FF%00", "en-US;q=0.5", english),
        ("?locale=zh-TW", "zh-Hant, en;q=0.1", english),
        // As Rails reads a repeated parameter: the last one.
        ("?locale=de&locale=en", "", english),
        ("", "*", portuguese),
        ("", "en;q=2, de;q=abc, ;;;, ==", portuguese),
        ("", "x-klingon, i-default, 12", portuguese),
        ("", &("xx;q=0.9,".repeat(700) + "en"), portuguese),
        ("", "de;q=0, en;q=0.001", english),
    ] {
        let resp = app
            .request(Method::POST, &format!("/auth/sign_in{query}"))
            .header("accept-language", accept)
            .json(&json!({"email": "who@example.com", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{query} {accept:.40}");
        assert_eq!(
            json(resp).await["errors"][0],
            expected,
            "{query} {accept:.40}"
        );
    }
    // Not UTF-8, and `locale` as something other than a string.
    let resp = app
        .request(Method::POST, "/auth/sign_in")
        .header(
            "accept-language",
            reqwest::header::HeaderValue::from_bytes(b"d\xe9").unwrap(),
        )
        .json(&json!({"email": "who@example.com", "password": "x", "locale": ["de"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(json(resp).await["errors"][0], portuguese);
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn an_apps_language_file_overrides_one_message_and_its_templates_brand_the_mail() {
    // Arrange
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "locales/de.ftl",
        "sessions-bad-credentials = Das hat nicht gepasst.\n",
    );
    write(
        dir.path(),
        "mail/default/de/reset_password.subject",
        "{{ t(\"mail-reset-subject\") }} – Acme\n",
    );
    let (locales, templates) = (dir.path().join("locales"), dir.path().join("mail"));
    let app = mailing_app(&smtp, move |s| {
        s.confirmable = false;
        s.locales_dir = Some(locales.display().to_string());
        s.mail_templates = Some(templates.display().to_string());
    })
    .await;
    assert_eq!(
        app.sign_up("ida@example.com", "password1").await.status(),
        200
    );

    // Act
    let (_, overridden) = post(
        &app,
        "/auth/sign_in",
        "de",
        &json!({"email": "ida@example.com", "password": "wrong"}),
    )
    .await;
    let (_, untouched) = post(
        &app,
        "/auth/password",
        "de",
        &json!({"redirect_url": LANDING}),
    )
    .await;
    let (_, english) = post(
        &app,
        "/auth/sign_in",
        "en",
        &json!({"email": "ida@example.com", "password": "wrong"}),
    )
    .await;
    post(
        &app,
        "/auth/password",
        "de",
        &json!({"email": "ida@example.com", "redirect_url": LANDING}),
    )
    .await;

    // Assert: the one message is the app's, the rest shipped German, English untouched
    assert_eq!(overridden["errors"][0], "Das hat nicht gepasst.");
    assert_eq!(
        untouched["errors"][0],
        "Bitte geben Sie eine E-Mail-Adresse an."
    );
    assert_eq!(
        english["errors"][0],
        "Invalid login credentials. Please try again."
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(
        mail.subject,
        "Anleitung zum Zurücksetzen Ihres Passworts – Acme"
    );
    assert!(
        mail.text.starts_with("Hallo ida@example.com!"),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn a_template_that_names_an_unknown_value_stops_startup_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "default/en/unlock.text",
        "Hello {{ email }}\n{{ unlock_url }}\n",
    );
    let mut settings = crate::helpers::test_settings("sqlite::memory:");
    settings.mail_templates = Some(dir.path().display().to_string());
    let err = toker::startup::Application::build(settings)
        .await
        .err()
        .expect("startup refused")
        .to_string();
    assert!(err.contains("default/en/unlock.text:2"), "{err}");
    assert!(err.contains("unknown variable `unlock_url`"), "{err}");
}
