//! The OpenAPI document: what `toker openapi` prints and `openapi.yaml` holds, what
//! `/openapi.json` serves, and the page `/docs` shows, all from one transformation of
//! poem-openapi's output, for what its declarations cannot say: the token headers required
//! together and answered by the authentication middleware rather than by any one operation, the
//! answers of the body extractor shared by every operation with a body, the 503 every operation
//! that uses the database answers while it is unavailable, the configured `mount_path` and
//! `omniauth_prefix` in place of the declared `/auth` and `/omniauth`, and links that carry a
//! response's token to the next request.

use serde_json::{Map, Value, json};

use super::{DEFAULT_MOUNT, security::TOKEN_HEADERS, service};
use crate::contract::shapes::ErrorShape;

const DECLARED_OMNIAUTH: &str = "/omniauth";

/// An additional user type (`[[user_types]]`) as the document shows it: every
/// devise_token_auth operation once more under its mount and callback prefix, tagged with its
/// name.
#[derive(Debug, Clone, Copy)]
pub struct TypeMount<'a> {
    pub name: &'a str,
    pub mount: &'a str,
    pub omniauth: &'a str,
}

/// The document as JSON, with the paths where this server serves them.
pub fn json(mount: &str, omniauth: &str) -> String {
    json_with_types(mount, omniauth, &[])
}

/// [`json`] with the operations of each additional user type.
pub fn json_with_types(mount: &str, omniauth: &str, types: &[TypeMount<'_>]) -> String {
    let original = service("/").spec();
    let Some(mut doc) = document(&original, mount, omniauth, false) else {
        return original;
    };
    for t in types {
        let Some(mut typed) = document(&original, t.mount, t.omniauth, true) else {
            continue;
        };
        let (Some(paths), Some(typed_paths)) = (
            doc.get_mut("paths").and_then(Value::as_object_mut),
            typed.get_mut("paths").and_then(Value::as_object_mut),
        ) else {
            continue;
        };
        for (path, mut item) in std::mem::take(typed_paths) {
            for operation in item
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                if let Some(op) = operation.as_object_mut() {
                    op.insert("tags".into(), json!([t.name]));
                }
            }
            paths.insert(path, item);
        }
        if let Some(tags) = doc.get_mut("tags").and_then(Value::as_array_mut) {
            tags.push(json!({
                "name": t.name,
                "description": format!(
                    "The user type `{}`: the devise_token_auth operations under `{}` (callbacks \
                     under `{}`), for its own users; its tokens are refused everywhere else.",
                    t.name, t.mount, t.omniauth
                ),
            }));
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or(original)
}

/// poem-openapi's document `original`, completed, at `mount` and `omniauth`; `mounted_only`
/// keeps only the paths below those two (an additional type's: `/api/me` is the default
/// type's, so no link may lead there).
fn document(original: &str, mount: &str, omniauth: &str, mounted_only: bool) -> Option<Value> {
    let mut doc = serde_json::from_str::<Value>(original).ok()?;
    token_requirements(&mut doc);
    locale_parameters(&mut doc);
    outage_responses(&mut doc);
    token_response_headers(&mut doc);
    body_errors(&mut doc);
    mount_paths(&mut doc, mount, omniauth);
    if mounted_only && let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        paths.retain(|path, _| {
            [mount, omniauth]
                .iter()
                .any(|p| strip_segment_prefix(path, p).is_some())
        });
    }
    token_links(&mut doc, mount);
    Some(doc)
}

/// The document as YAML at the default paths: `openapi.yaml`.
pub fn yaml() -> String {
    yaml_with_types(DEFAULT_MOUNT, DECLARED_OMNIAUTH, &[])
}

/// The document as YAML for a configuration (`toker openapi --config`).
pub fn yaml_with_types(mount: &str, omniauth: &str, types: &[TypeMount<'_>]) -> String {
    let doc: Value = serde_json::from_str(&json_with_types(mount, omniauth, types))
        .expect("the document is JSON");
    serde_yaml::to_string(&doc).expect("JSON converts to YAML")
}

/// The Swagger UI page for the document as served (poem-openapi's page, with its embedded
/// document replaced).
pub fn docs_page(mount: &str, omniauth: &str, types: &[TypeMount<'_>]) -> String {
    let service = service("/");
    service
        .swagger_ui_html()
        .replacen(&service.spec(), &json_with_types(mount, omniauth, types), 1)
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

/// The reader's language, which every operation answers in (`crate::http::locale`): the
/// `locale` query parameter (also read from a form or JSON body), then `Accept-Language`.
fn locale_parameters(doc: &mut Value) {
    let locale = json!({
        "name": "locale",
        "in": "query",
        "description": "The language of messages and mails (`de`, `pt-BR`, `ja`): a language \
                        toker speaks, else the best of `Accept-Language`, else `default_locale`. \
                        Also read from the body. An unknown or malformed value is ignored.",
        "required": false,
        "deprecated": false,
        "schema": {"type": "string", "example": "de"}
    });
    let accept_language = json!({
        "name": "Accept-Language",
        "in": "header",
        "description": "The reader's languages with weights (`de-CH, de;q=0.9, en;q=0.5`), used \
                        when `locale` names none toker speaks.",
        "required": false,
        "deprecated": false,
        "schema": {"type": "string"}
    });
    for (_, _, op) in operations_mut(doc) {
        let Some(op) = op.as_object_mut() else {
            continue;
        };
        let parameters = op
            .entry("parameters")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = parameters.as_array_mut() {
            list.push(locale.clone());
            list.push(accept_language.clone());
        }
    }
}

/// Every operation: (path, method, operation object).
fn operations_mut(doc: &mut Value) -> impl Iterator<Item = (&String, &String, &mut Value)> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .filter_map(|(path, item)| item.as_object_mut().map(|item| (path, item)))
        .flat_map(|(path, item)| item.iter_mut().map(move |(method, op)| (path, method, op)))
}

/// The headers `http::auth` puts on the answers of an authenticated request and of one that
/// opens a session (docs/contract.md §2.0.8, §2.15), named as poem-openapi names headers.
const TOKEN_RESPONSE_HEADERS: [(&str, &str); 6] = [
    (
        "ACCESS-TOKEN",
        "The device's next token (its first on a new session); absent from an answer inside the \
         batch window (see README: rotation).",
    ),
    ("TOKEN-TYPE", "Always `Bearer`."),
    ("CLIENT", "The device's client id."),
    ("EXPIRY", "Unix seconds when the token expires."),
    ("UID", "The user's uid."),
    (
        "AUTHORIZATION",
        "`Bearer` + base64 of the five values as JSON.",
    ),
];

/// Operations that open a session without taking a token (declared paths).
const OPENS_SESSION: [(&str, &str); 3] = [
    ("/auth", "post"),
    ("/auth/sign_in", "post"),
    ("/auth/{provider}/token", "post"),
];

/// The token headers on every answer of the operations that take a token (but deletions, which
/// end the session) or open a session.
fn token_response_headers(doc: &mut Value) {
    for (path, method, op) in operations_mut(doc) {
        let takes_token = op.get("security").is_some() && method != "delete";
        if !takes_token && !OPENS_SESSION.contains(&(path.as_str(), method.as_str())) {
            continue;
        }
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for response in responses.values_mut().filter_map(Value::as_object_mut) {
            let headers = response
                .entry("headers")
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(headers) = headers.as_object_mut() else {
                continue;
            };
            for (name, description) in TOKEN_RESPONSE_HEADERS {
                headers.insert(
                    name.into(),
                    json!({
                        "description": description,
                        "deprecated": false,
                        "schema": {"type": "string"}
                    }),
                );
            }
        }
    }
}

/// What reading a body may answer, on every operation that takes one
/// (`contract::params::ParamsError`); poem-openapi has no way for an extractor to add responses.
const BODY_ERRORS: [(&str, &str); 4] = [
    (
        "400",
        "E1: the body is neither a JSON object nor a UTF-8 form (`Invalid JSON body: …`).",
    ),
    (
        "408",
        "E1: the body did not arrive within `body_read_timeout` seconds.",
    ),
    ("413", "E1: the body is larger than `max_body_size`."),
    (
        "415",
        "E1: a Content-Type other than `application/json` or \
         `application/x-www-form-urlencoded`.",
    ),
];

fn body_errors(doc: &mut Value) {
    for (_, _, op) in operations_mut(doc) {
        if op.get("requestBody").is_none() {
            continue;
        }
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, description) in BODY_ERRORS {
            responses.entry(status).or_insert_with(|| {
                json!({
                    "description": description,
                    "content": {"application/json; charset=utf-8": {
                        "schema": {"$ref": "#/components/schemas/ErrorBody"}
                    }}
                })
            });
        }
        responses.sort_keys();
    }
}

/// `#/paths/~1auth~1sign_in/post` (RFC 6901 escaping).
fn operation_ref(path: &str, method: &str) -> String {
    format!(
        "#/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    )
}

/// `delete /auth/sign_out` → `delete_auth_sign_out`: a link name (letters, digits, `_`).
fn link_name(path: &str, method: &str) -> String {
    format!("{method}{path}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .replace("__", "_")
}

/// From every 200 that documents the token headers (except an account deletion) to every
/// operation that requires them, passing the three on, so tools that follow links (a stateful
/// fuzzer, a client generator) can chain requests as a device does; and from sign-up to
/// sign-in with the same e-mail and password.
fn token_links(doc: &mut Value, mount: &str) {
    let mut targets = Vec::new();
    let mut sources = Vec::new();
    for (path, method, op) in operations_mut(doc) {
        let security = op.get("security").map(Value::to_string).unwrap_or_default();
        if TOKEN_HEADERS.iter().all(|h| security.contains(h)) {
            targets.push((path.clone(), method.clone()));
        }
        let issues_tokens = op
            .pointer("/responses/200/headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case(TOKEN_HEADERS[0])));
        if issues_tokens && method != "delete" {
            sources.push((path.clone(), method.clone()));
        }
    }
    let carried: Map<String, Value> = TOKEN_HEADERS
        .iter()
        .map(|h| {
            (
                format!("header.{h}"),
                json!(format!("$response.header.{h}")),
            )
        })
        .collect();
    let sign_in = format!("{mount}/sign_in");
    for (path, method, op) in operations_mut(doc) {
        if !sources.contains(&(path.clone(), method.clone())) {
            continue;
        }
        let mut links = Map::new();
        for (target, target_method) in &targets {
            links.insert(
                link_name(target, target_method),
                json!({
                    "operationRef": operation_ref(target, target_method),
                    "description": "The device's next request, with the token of this answer.",
                    "parameters": carried,
                }),
            );
        }
        if path == mount && method == "post" {
            links.insert(
                link_name(&sign_in, "post"),
                json!({
                    "operationRef": operation_ref(&sign_in, "post"),
                    "description": "Sign in again with the e-mail and password just registered.",
                    "requestBody": {
                        "email": "$request.body#/email",
                        "password": "$request.body#/password"
                    },
                }),
            );
        }
        if let Some(ok) = op
            .pointer_mut("/responses/200")
            .and_then(Value::as_object_mut)
        {
            ok.insert("links".into(), Value::Object(links));
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
    fn operations_with_a_body_document_what_reading_it_may_answer() {
        let doc: Value = serde_json::from_str(&json("/auth", "/omniauth")).unwrap();
        let sign_in = &doc["paths"]["/auth/sign_in"]["post"]["responses"];
        for status in ["400", "408", "413", "415"] {
            assert_eq!(
                sign_in[status]["content"]["application/json; charset=utf-8"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{status}"
            );
        }
        // GET operations take query parameters, never a body.
        for (path, item) in doc["paths"].as_object().unwrap() {
            if let Some(get) = item.get("get") {
                assert!(get.get("requestBody").is_none(), "GET {path} has a body");
                assert!(get["responses"].get("415").is_none(), "GET {path}");
            }
        }
        let failure = &doc["paths"]["/auth/failure"]["get"]["parameters"][0];
        assert_eq!(failure["in"], "query");
        assert_eq!(
            failure["schema"]["$ref"],
            "#/components/schemas/FailureRequest"
        );
    }

    #[test]
    fn answers_that_carry_a_token_link_to_the_requests_that_take_one() {
        let doc: Value = serde_json::from_str(&json("/api/v1/auth", "/omniauth")).unwrap();
        let links = &doc["paths"]["/api/v1/auth/sign_in"]["post"]["responses"]["200"]["links"];
        let validate = &links["get_api_v1_auth_validate_token"];
        assert_eq!(
            validate["operationRef"],
            "#/paths/~1api~1v1~1auth~1validate_token/get"
        );
        assert_eq!(
            validate["parameters"]["header.access-token"],
            "$response.header.access-token"
        );
        assert!(links.get("delete_api_v1_auth_sign_out").is_some());
        assert!(links.get("get_api_me").is_some());
        // Sign-up also leads to signing in with what it registered.
        let sign_up = &doc["paths"]["/api/v1/auth"]["post"]["responses"]["200"]["links"];
        assert_eq!(
            sign_up["post_api_v1_auth_sign_in"]["requestBody"]["email"],
            "$request.body#/email"
        );
        // A deletion ends the session: nothing follows it.
        let deleted = &doc["paths"]["/api/v1/auth"]["delete"]["responses"]["200"];
        assert!(deleted.get("links").is_none());
        assert!(deleted.get("headers").is_none());
    }

    #[test]
    fn refused_sign_up_bodies_have_schemas_of_their_own() {
        let doc: Value = serde_json::from_str(&json("/auth", "/omniauth")).unwrap();
        let schemas = &doc["components"]["schemas"];
        // E3's `data` is there, and may be null.
        let e3 = &schemas["StatusErrorWithDataBody"];
        assert!(e3["required"].as_array().unwrap().contains(&"data".into()));
        assert_eq!(e3["properties"]["data"]["nullable"], true);
        assert_eq!(
            e3["properties"]["data"]["allOf"][0]["$ref"],
            "#/components/schemas/UnsavedUser"
        );
        // The unsaved user has no id yet.
        assert_eq!(schemas["UnsavedUser"]["properties"]["id"]["nullable"], true);
        assert!(
            schemas["User"]["properties"]["id"]
                .get("nullable")
                .is_none()
        );
        // E2 bodies also fit E3's schema, so the 422 unions are anyOf.
        assert!(schemas["SignUpRejection"].get("anyOf").is_some());
        assert!(schemas["UpdateRejection"].get("anyOf").is_some());
        // What an operation cannot do without is required.
        let sign_in = &schemas["SignInRequest"];
        assert_eq!(
            sign_in["required"],
            serde_json::json!(["email", "password"])
        );
        assert_eq!(sign_in["properties"]["email"]["format"], "email");
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
        let page = docs_page("/api/v1/auth", "/oauth", &[]);
        assert!(page.contains("/api/v1/auth/sign_in"));
        assert!(!page.contains("\"/auth/sign_in\""));
    }
}
