//! The names of the auth headers (DTA's `headers_names`, docs/contract.md §1.1) and the format
//! of the `Authorization` header toker sends (§2.15).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// DTA's `headers_names`: the wire names of the auth headers (also the JSON keys inside the
/// `Authorization` payload and the query-parameter fallbacks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderNames {
    pub authorization: String,
    #[serde(rename = "access-token")]
    pub access_token: String,
    pub client: String,
    pub expiry: String,
    pub uid: String,
    #[serde(rename = "token-type")]
    pub token_type: String,
}

impl Default for HeaderNames {
    fn default() -> Self {
        HeaderNames {
            authorization: "Authorization".into(),
            access_token: "access-token".into(),
            client: "client".into(),
            expiry: "expiry".into(),
            uid: "uid".into(),
            token_type: "token-type".into(),
        }
    }
}

/// The `Authorization` value toker sends: `Bearer ` + base64 of the five-key JSON, in DTA's
/// key order, with `expiry` as a string.
pub fn authorization_value(
    names: &HeaderNames,
    token: &str,
    client: &str,
    expiry: &str,
    uid: &str,
) -> String {
    let mut map = Map::new();
    map.insert(names.access_token.clone(), Value::from(token));
    map.insert(names.token_type.clone(), Value::from("Bearer"));
    map.insert(names.client.clone(), Value::from(client));
    map.insert(names.expiry.clone(), Value::from(expiry));
    map.insert(names.uid.clone(), Value::from(uid));
    format!("Bearer {}", STANDARD.encode(Value::Object(map).to_string()))
}
