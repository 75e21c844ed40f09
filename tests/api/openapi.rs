//! The committed `openapi.yaml` is the output of `toker openapi`, and the document describes
//! what clients depend on: the credential headers and the error shapes.

use crate::helpers::*;

#[test]
fn committed_openapi_yaml_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml exists at the workspace root");
    let generated = toker::api::spec_yaml();
    assert!(
        committed == generated,
        "openapi.yaml is stale: regenerate it with `cargo run -- openapi > openapi.yaml`"
    );
}

#[test]
fn spec_documents_credential_headers_and_error_shapes() {
    let spec: serde_json::Value =
        serde_json::from_str(&toker::api::spec::json("/auth", "/omniauth")).expect("spec is JSON");
    let validate = &spec["paths"]["/auth/validate_token"]["get"];
    // The request headers are the security schemes, all three required together, so the
    // Authorize button of /docs sends them with every request it tries.
    assert_eq!(
        validate["security"],
        serde_json::json!([{"access-token": [], "client": [], "uid": []}])
    );
    for header in ["access-token", "client", "uid"] {
        let scheme = &spec["components"]["securitySchemes"][header];
        assert_eq!(scheme["type"], "apiKey", "{header}");
        assert_eq!(scheme["in"], "header", "{header}");
        assert_eq!(scheme["name"], header);
    }
    let ok_headers = &validate["responses"]["200"]["headers"];
    for header in [
        "ACCESS-TOKEN",
        "TOKEN-TYPE",
        "CLIENT",
        "EXPIRY",
        "UID",
        "AUTHORIZATION",
    ] {
        assert!(ok_headers.get(header).is_some(), "{header} not documented");
    }
    let schemas = &spec["components"]["schemas"];
    for shape in [
        "ErrorBody",
        "StatusErrorBody",
        "StatusErrorWithDataBody",
        "ValidationErrorBody",
        "UnauthenticatedBody",
        "User",
    ] {
        assert!(schemas.get(shape).is_some(), "schema {shape} missing");
    }
    let sign_up = &spec["paths"]["/auth"]["post"]["requestBody"]["content"];
    assert!(sign_up.get("application/json").is_some());
    assert!(sign_up.get("application/x-www-form-urlencoded").is_some());
}

#[tokio::test]
async fn docs_page_and_json_spec_are_served() {
    let app = spawn_app().await;

    let docs = app
        .request(reqwest::Method::GET, "/docs")
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));

    let spec = app
        .request(reqwest::Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(spec.status(), 200);
    let spec = json(spec).await;
    assert!(spec["paths"].get("/auth/sign_in").is_some());
}

#[tokio::test]
async fn served_spec_follows_a_custom_mount_path() {
    let app = spawn_app_with(|s| s.mount_path = "/api/v1/auth".into()).await;

    let spec = json(
        app.request(reqwest::Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert!(spec["paths"].get("/api/v1/auth/sign_in").is_some());
    assert!(spec["paths"].get("/auth/sign_in").is_none());

    // The page of /docs tries requests against the same paths.
    let page = app
        .request(reqwest::Method::GET, "/docs")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("\"/api/v1/auth/sign_in\""));
    assert!(!page.contains("\"/auth/sign_in\""));
}

#[tokio::test]
async fn custom_mount_path_serves_the_routes_there_only() {
    // Arrange
    let app = spawn_app_with(|s| s.mount_path = "/api/v1/auth".into()).await;
    let body = serde_json::json!({
        "email": "m@example.com", "password": "password1", "password_confirmation": "password1"
    });

    // Act
    let mounted = app.post_json("/api/v1/auth", &body).await;
    let default_path = app.post_json("/auth", &body).await;

    // Assert
    assert_eq!(mounted.status(), 200);
    assert_eq!(default_path.status(), 404);
    assert_json_content_type(&default_path);
    let resp = app
        .sign_in_response_at("/api/v1/auth/sign_in", "m@example.com")
        .await;
    assert_eq!(resp.status(), 200);
}

impl TestApp {
    async fn sign_in_response_at(&self, path: &str, email: &str) -> reqwest::Response {
        self.post_json(
            path,
            &serde_json::json!({"email": email, "password": "password1"}),
        )
        .await
    }
}
