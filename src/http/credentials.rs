//! Where a request's credentials come from (docs/contract.md §2.0.3, docs/decisions.md D10): each of
//! `uid`, `access-token` and `client` independently from the first source that has it — the
//! header, then a query or body param, then the base64 JSON inside `Authorization`.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use poem::http::HeaderMap;
use serde_json::{Map, Value};

use crate::contract::headers::HeaderNames;

/// Longest value considered for any credential; longer ones are garbage, never looked up.
const MAX_CREDENTIAL_LEN: usize = 255;

/// The three values that identify a device's token. `None` = not supplied by this source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub access_token: Option<String>,
    pub client: Option<String>,
    pub uid: Option<String>,
}

impl Credentials {
    /// Fills each missing value from `other`.
    pub fn or(self, other: &Credentials) -> Credentials {
        Credentials {
            access_token: self.access_token.or_else(|| other.access_token.clone()),
            client: self.client.or_else(|| other.client.clone()),
            uid: self.uid.or_else(|| other.uid.clone()),
        }
    }

    pub fn from_headers(headers: &HeaderMap, names: &HeaderNames) -> Credentials {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(clean)
        };
        Credentials {
            access_token: get(&names.access_token),
            client: get(&names.client),
            uid: get(&names.uid),
        }
    }

    pub fn from_params(params: &Map<String, Value>, names: &HeaderNames) -> Credentials {
        let get = |name: &str| match params.get(name) {
            Some(Value::String(s)) => clean(s),
            _ => None,
        };
        Credentials {
            access_token: get(&names.access_token),
            client: get(&names.client),
            uid: get(&names.uid),
        }
    }

    /// `Authorization: Bearer <base64 JSON>`: the last whitespace-separated piece, strictly
    /// decoded; anything that is not a JSON object with string values yields nothing.
    pub fn from_authorization(headers: &HeaderMap, names: &HeaderNames) -> Credentials {
        let parsed = headers
            .get(&names.authorization)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().last())
            .filter(|v| v.len() <= 4 * MAX_CREDENTIAL_LEN)
            .and_then(|v| STANDARD.decode(v).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        match parsed {
            Some(Value::Object(map)) => Credentials::from_params(&map, names),
            _ => Credentials::default(),
        }
    }
}

/// A credential worth looking up: non-empty, short, and free of control characters (a NUL
/// would not even reach PostgreSQL).
fn clean(value: &str) -> Option<String> {
    (!value.is_empty() && value.len() <= MAX_CREDENTIAL_LEN && !value.contains(char::is_control))
        .then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::headers::authorization_value;
    use poem::http::HeaderValue;

    #[test]
    fn authorization_round_trips() {
        let names = HeaderNames::default();
        let value = authorization_value(&names, "tok", "cli", "1796631026", "a@b.co");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&value).unwrap());
        let creds = Credentials::from_authorization(&headers, &names);
        assert_eq!(creds.access_token.as_deref(), Some("tok"));
        assert_eq!(creds.client.as_deref(), Some("cli"));
        assert_eq!(creds.uid.as_deref(), Some("a@b.co"));
        let json = STANDARD
            .decode(value.trim_start_matches("Bearer "))
            .unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"access-token":"tok","token-type":"Bearer","client":"cli","expiry":"1796631026","uid":"a@b.co"}"#
        );
    }

    #[test]
    fn garbage_authorization_yields_nothing() {
        let names = HeaderNames::default();
        for value in ["Bearer !!!", "Bearer WzFd", "Bearer bnVsbA==", "Basic"] {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_str(value).unwrap());
            assert_eq!(
                Credentials::from_authorization(&headers, &names),
                Credentials::default(),
                "{value}"
            );
        }
    }

    #[test]
    fn headers_win_over_params_per_value() {
        let names = HeaderNames::default();
        let mut headers = HeaderMap::new();
        headers.insert("uid", HeaderValue::from_static("h@x.co"));
        let params: Map<String, Value> = serde_json::from_str(
            r#"{"uid":"p@x.co","access-token":"pt","client":["not","scalar"]}"#,
        )
        .unwrap();
        let creds = Credentials::from_headers(&headers, &names)
            .or(&Credentials::from_params(&params, &names));
        assert_eq!(creds.uid.as_deref(), Some("h@x.co"));
        assert_eq!(creds.access_token.as_deref(), Some("pt"));
        assert_eq!(creds.client, None);
    }
}
