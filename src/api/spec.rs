//! The OpenAPI document: what `toker openapi` prints and `openapi.yaml` holds, what
//! `/openapi.json` serves, and the page `/docs` shows, all from one transformation of
//! poem-openapi's output: the token headers required together, the 503 every operation that
//! uses the database answers while it is unavailable, and the configured `mount_path` and
//! `omniauth_prefix` in place of the declared `/auth` and `/omniauth`.

use serde_json::{Map, Value};

use super::{DEFAULT_MOUNT, security::TOKEN_HEADERS, service};
use crate::contract::shapes::ErrorShape;

const DECLARED_OMNIAUTH: &str = "/omniauth";

/// The document as JSON, with the paths where this server serves them.
pub fn json(mount: &str, omniauth: &str) -> String {
    let original = service("/").spec();
    let Ok(mut doc) = serde_json::from_str::<Value>(&original) else {
        return original;
    };
    token_requirements(&mut doc);
    outage_responses(&mut doc);
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

/// The operations that never touch the database (the OAuth start and failure pages, the 405
/// of `GET /auth/sign_in`), so never answer the outage 503.
const DATABASE_FREE: &[(&str, Option<&str>)] = &[
    ("/auth/sign_in", Some("get")),
    ("/auth/{provider}", None),
    ("/omniauth/{provider}", None),
    ("/auth/failure", None),
    ("/omniauth/failure", None),
];

/// Adds the outage 503 to every other operation, in the operation's error shape (see
/// `crate::error::Outages`); where the operation already documents a 503 (a mail that could
/// not be sent), both bodies are listed.
fn outage_responses(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let free = DATABASE_FREE
                .iter()
                .any(|(p, m)| p == path && m.is_none_or(|m| m == method));
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
                .filter(|_| !free)
            else {
                continue;
            };
            let shape = ErrorShape::of(&method.to_ascii_uppercase(), path);
            let schema = serde_json::json!({
                "$ref": format!("#/components/schemas/{}", shape.schema_name())
            });
            let outage = "the database is unavailable (unreachable, restarting, or refusing \
                          writes: disk full or read-only); nothing changed. Retry after \
                          `Retry-After` seconds.";
            let response = responses
                .entry("503")
                .or_insert_with(|| serde_json::json!({"description": ""}));
            let earlier = response["description"].as_str().unwrap_or_default();
            let (description, retry_after_always) = if earlier.is_empty() {
                (format!("T{}", &outage[1..]), true)
            } else {
                (format!("{earlier} Or {outage}"), false)
            };
            response["description"] = description.into();
            let body = &mut response["content"]["application/json; charset=utf-8"]["schema"];
            *body = match body.take() {
                Value::Null => schema,
                same if same == schema => same,
                // anyOf: an E2 body is an E1 body too.
                other => serde_json::json!({"anyOf": [other, schema]}),
            };
            response["headers"]["Retry-After"] = serde_json::json!({
                "description": "Seconds to wait before retrying (always sent with the \
                                outage 503).",
                "required": retry_after_always,
                "schema": {"type": "integer", "format": "int32"}
            });
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
    fn operations_that_use_the_database_document_the_outage_503_in_their_shape() {
        let doc: Value = serde_json::from_str(&json("/auth", "/omniauth")).unwrap();
        let paths = &doc["paths"];
        let schema = |path: &str, method: &str| {
            let r = &paths[path][method]["responses"]["503"];
            assert!(
                r["headers"]["Retry-After"].is_object(),
                "{method} {path}: {r}"
            );
            r["content"]["application/json; charset=utf-8"]["schema"].clone()
        };
        assert_eq!(
            schema("/auth/validate_token", "get"),
            serde_json::json!({"$ref": "#/components/schemas/ErrorBody"})
        );
        assert_eq!(
            schema("/api/me", "get"),
            serde_json::json!({"$ref": "#/components/schemas/UnauthenticatedBody"})
        );
        assert_eq!(
            schema("/auth", "delete"),
            serde_json::json!({"$ref": "#/components/schemas/StatusErrorBody"})
        );
        // Sign-up's own 503s (the mail, E1; a full bcrypt queue, E2) and the outage's (E2).
        assert_eq!(
            schema("/auth", "post"),
            serde_json::json!({"anyOf": [
                {"$ref": "#/components/schemas/Unavailable"},
                {"$ref": "#/components/schemas/StatusErrorBody"}
            ]})
        );
        assert!(
            paths["/auth/sign_in"]["get"]["responses"]
                .get("503")
                .is_none()
        );
        assert!(
            paths["/auth/{provider}"]["get"]["responses"]
                .get("503")
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
