//! Lookups by uid, e-mail and token digest match byte for byte on every backend. MySQL and
//! MariaDB compare strings case- and trailing-space-insensitively by default, which would let
//! `ABC` find the OAuth account `abc` or an upper-cased digest find a reset token; toker's keys
//! are compared in binary there (docs/contract.md §3.3).

use reqwest::Method;
use toker::store::User;

use crate::helpers::*;

#[tokio::test]
async fn provider_uids_that_differ_only_in_letter_case_are_two_accounts() {
    // Arrange
    let app = spawn_app().await;
    let now = chrono::Utc::now();

    // Act
    let lower = app
        .store
        .insert_user(
            provider_account("corp", "abc", Some("lower@example.com")),
            now,
        )
        .await;
    let upper = app
        .store
        .insert_user(
            provider_account("corp", "ABC", Some("upper@example.com")),
            now,
        )
        .await;

    // Assert
    let (lower, upper) = (lower.expect("abc"), upper.expect("ABC is another user"));
    assert_ne!(lower.id, upper.id);
    let found = |uid: &'static str| {
        let store = app.store.clone();
        async move { store.find_provider_user("corp", uid).await.unwrap() }
    };
    assert_eq!(found("abc").await.map(|u| u.id), Some(lower.id));
    assert_eq!(found("ABC").await.map(|u| u.id), Some(upper.id));
    assert!(found("Abc").await.is_none());
    assert!(found("abc ").await.is_none());
}

#[tokio::test]
async fn addresses_and_token_digests_are_found_only_when_exactly_equal() {
    // Arrange: an account with a reset token's digest stored
    let app = spawn_app().await;
    app.sign_up("exact@example.com", "password1").await;
    let user: User = app
        .store
        .find_email_user("exact@example.com")
        .await
        .unwrap()
        .unwrap();
    let digest = toker::tokens::digest("reset-token");
    let with_token = User {
        reset_password_token: Some(digest.clone()),
        ..user.clone()
    };
    app.store.update_user(&user, &with_token).await.unwrap();

    // Act + Assert
    let store = &app.store;
    assert!(store.find_by_reset_digest(&digest).await.unwrap().is_some());
    assert!(
        store
            .find_by_reset_digest(&digest.to_uppercase())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_by_reset_digest(&format!("{digest} "))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_email_user("EXACT@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_email_user("exact@example.com ")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.email_in_use("Exact@Example.com", None).await.unwrap());
    assert!(store.email_in_use("exact@example.com", None).await.unwrap());
}

#[tokio::test]
async fn a_uid_in_another_letter_case_does_not_authenticate() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("case@example.com").await;

    // Act
    let shouted = Auth {
        uid: "CASE@example.com".into(),
        ..auth.clone()
    };
    let resp = app
        .authed(Method::GET, "/auth/validate_token", &shouted)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(resp.status(), 401);
}
