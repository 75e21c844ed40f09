use crate::helpers::*;

#[tokio::test]
async fn ping_and_health_answer() {
    let app = spawn_app().await;
    for path in ["/ping", "/health"] {
        let resp = app
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(json(resp).await, serde_json::json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn sign_up_sign_in_and_validate_work_end_to_end() {
    // Arrange
    let app = spawn_app().await;
    let mut auth = app.signed_in_user("alice@example.com").await;

    // Act
    let resp = app.get_authed("/auth/validate_token", &mut auth).await;

    // Assert
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["uid"], "alice@example.com");
}
