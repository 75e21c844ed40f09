//! The OpenAPI document: what `toker openapi` prints and `openapi.yaml` holds, what
//! `/openapi.json` serves, and the page `/docs` shows, all from one transformation of
//! poem-openapi's output: the token headers required together, and the configured
//! `mount_path` and `omniauth_prefix` in place of the declared `/auth` and `/omniauth`.

use serde_json::{Map, Value};

use super::{DEFAULT_MOUNT, security::TOKEN_HEADERS, service};

const DECLARED_OMNIAUTH: &str = "/omniauth";

/// The document as JSON, with the paths where this server serves them.
pub fn json(mount: &str, omniauth: &str) -> String {
    let original = service("/").spec();
    let Ok(mut doc) = serde_json::from_str::<Value>(&original) else {
        return original;
    };
    token_requirements(&mut doc);
    mount_paths(&mut doc, mount, omniauth);
    serde_json::to_string_pretty(&doc).unwrap_or(original)
}

/// The document as YAML at the default paths: `openapi.yaml`.
pub fn yaml() -> String {
    let doc: Value = serde_json::from_str(&json(DEFAULT_MOUNT, DECLARED_OMNIAUTH))
        .expect("the document is JSON");
    serde_yaml::to_string(&doc).expect("JSON converts to YAML")
}

/// The Swagger UI page for the document as served (poem-openapi's page, with its embedded
/// document replaced).
pub fn docs_page(mount: &str, omniauth: &str) -> String {
    let service = service("/");
    service
        .swagger_ui_html()
        .replacen(&service.spec(), &json(mount, omniauth), 1)
}

/// `[{access-token}, {client}, {uid}]` (any one) becomes `[{access-token, client, uid}]` (all).
fn token_requirements(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|p| p.values_mut())
    {
        let Some(security) = operation.get_mut("security").and_then(Value::as_array_mut) else {
            continue;
        };
        let names: Vec<&str> = security
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|r| r.keys().map(String::as_str))
            .collect();
        if names == TOKEN_HEADERS {
            let all: Map<String, Value> = TOKEN_HEADERS
                .iter()
                .map(|n| (n.to_string(), Value::Array(Vec::new())))
                .collect();
            *security = vec![Value::Object(all)];
        }
    }
}

fn strip_segment_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn mount_paths(doc: &mut Value, mount: &str, omniauth: &str) {
    if mount == DEFAULT_MOUNT && omniauth == DECLARED_OMNIAUTH {
        return;
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        *paths = std::mem::take(paths)
            .into_iter()
            .map(|(k, v)| {
                if let Some(rest) = strip_segment_prefix(&k, DEFAULT_MOUNT) {
                    (format!("{mount}{rest}"), v)
                } else if let Some(rest) = strip_segment_prefix(&k, DECLARED_OMNIAUTH) {
                    (format!("{omniauth}{rest}"), v)
                } else {
                    (k, v)
                }
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_headers_are_one_requirement() {
        let doc: Value = serde_json::from_str(&json("/auth", "/omniauth")).unwrap();
        let me = &doc["paths"]["/api/me"]["get"]["security"];
        assert_eq!(
            me,
            &serde_json::json!([{"access-token": [], "client": [], "uid": []}])
        );
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["client"]["in"], "header");
        assert!(
            doc["paths"]["/auth/sign_in"]["post"]
                .get("security")
                .is_none()
        );
    }

    #[test]
    fn paths_follow_the_configured_mounts() {
        let doc: Value = serde_json::from_str(&json("/api/v1/auth", "/oauth")).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/auth/sign_in"));
        assert!(paths.contains_key("/oauth/{provider}/callback"));
        assert!(paths.contains_key("/api/me"));
        assert!(
            !paths
                .keys()
                .any(|p| p.starts_with("/auth/") || p.starts_with("/omniauth/"))
        );
        let page = docs_page("/api/v1/auth", "/oauth");
        assert!(page.contains("/api/v1/auth/sign_in"));
        assert!(!page.contains("\"/auth/sign_in\""));
    }
}
