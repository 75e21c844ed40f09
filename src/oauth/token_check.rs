//! Judging a provider's answer to "who was this access token issued to?" (docs/decisions.md D13):
//! GitHub's check-token, Google's tokeninfo, Facebook's debug_token and RFC 7662 introspection.
//! A token passes only when the answer names one of this app's client ids and says the token is
//! live; the user the answer names is returned, so the caller can make sure the profile it
//! signs in is that user's. Pure functions over the JSON the provider sent.

use serde_json::Value;

use super::providers::ProviderConfig;

/// The user an accepted token belongs to, as the check named them: the user-info profile
/// field that must carry the same value (`sub`, or `id` for GitHub and Facebook) and that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub field: &'static str,
    pub id: String,
}

/// Why a check's answer does not let the token in (logged, never shown).
pub type Refusal = String;

/// A string, or a number written as one (Google sends numbers as strings, GitHub ids are numbers).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn require_client(p: &ProviderConfig, what: &str, value: &Value) -> Result<(), Refusal> {
    match text(value) {
        Some(id) if p.accepts_client(&id) => Ok(()),
        Some(id) => Err(format!("issued to another app ({what} {id})")),
        None => Err(format!("the answer names no {what}")),
    }
}

/// GitHub `POST /applications/{client_id}/token`: 200 with `app.client_id` and `user` (404 for
/// a token that is not this app's, handled before this). `expires_at` is null for tokens that
/// do not expire.
pub fn github(p: &ProviderConfig, answer: &Value, now: i64) -> Result<Owner, Refusal> {
    require_client(p, "app.client_id", &answer["app"]["client_id"])?;
    if let Some(expires) = answer["expires_at"].as_str() {
        let expires = chrono::DateTime::parse_from_rfc3339(expires)
            .map_err(|_| format!("unreadable expires_at {expires:?}"))?;
        if expires.timestamp() <= now {
            return Err("expired".into());
        }
    }
    let id = text(&answer["user"]["id"]).ok_or("the answer names no user.id")?;
    Ok(Owner { field: "id", id })
}

/// Google `tokeninfo?access_token=`: `aud` (and `azp`) the client the token was issued to,
/// `expires_in` seconds left, `sub` the user (numbers arrive as strings).
pub fn google(p: &ProviderConfig, answer: &Value, now: i64) -> Result<Owner, Refusal> {
    require_client(p, "aud", &answer["aud"])?;
    if !answer["azp"].is_null() {
        require_client(p, "azp", &answer["azp"])?;
    }
    let live = match (number(&answer["expires_in"]), number(&answer["exp"])) {
        (Some(left), _) => left > 0,
        (None, Some(exp)) => exp > now,
        (None, None) => false,
    };
    if !live {
        return Err("expired, or no expiry in the answer".into());
    }
    let id = text(&answer["sub"]).ok_or("the answer names no sub")?;
    Ok(Owner { field: "sub", id })
}

/// Facebook `debug_token`: `data.is_valid`, `data.app_id`, `data.user_id`, `data.expires_at`
/// (0: does not expire).
pub fn facebook(p: &ProviderConfig, answer: &Value, now: i64) -> Result<Owner, Refusal> {
    let data = &answer["data"];
    if data["is_valid"] != Value::Bool(true) {
        return Err("not valid".into());
    }
    require_client(p, "data.app_id", &data["app_id"])?;
    if let Some(kind) = data["type"].as_str()
        && kind != "USER"
    {
        return Err(format!("a {kind} token, not a user's"));
    }
    if let Some(expires) = number(&data["expires_at"])
        && expires != 0
        && expires <= now
    {
        return Err("expired".into());
    }
    let id = text(&data["user_id"]).ok_or("the answer names no data.user_id")?;
    Ok(Owner { field: "id", id })
}

/// RFC 7662 introspection: `active`, then `client_id` (the client the token was issued to)
/// decides; without it `aud` must name this app. `exp`, when given, must be ahead.
pub fn introspection(p: &ProviderConfig, answer: &Value, now: i64) -> Result<Owner, Refusal> {
    if answer["active"] != Value::Bool(true) {
        return Err("not active".into());
    }
    if !answer["client_id"].is_null() {
        require_client(p, "client_id", &answer["client_id"])?;
    } else {
        let audiences: Vec<&Value> = match &answer["aud"] {
            Value::Array(list) => list.iter().collect(),
            other => vec![other],
        };
        if !audiences
            .iter()
            .any(|a| text(a).is_some_and(|a| p.accepts_client(&a)))
        {
            return Err("neither client_id nor aud names this app".into());
        }
    }
    if let Some(exp) = number(&answer["exp"])
        && exp <= now
    {
        return Err("expired".into());
    }
    let id = text(&answer["sub"]).ok_or("the answer names no sub")?;
    Ok(Owner { field: "sub", id })
}

/// Whether the user-info `profile` belongs to the user the check named.
pub fn owns(owner: &Owner, profile: &Value) -> bool {
    text(&profile[owner.field]).is_some_and(|id| id == owner.id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{config::OAuthProviderSettings, oauth::providers::resolve};

    const NOW: i64 = 1_800_000_000;

    fn provider(name: &str) -> ProviderConfig {
        let mut s = OAuthProviderSettings {
            client_id: "ours".into(),
            audiences: vec!["our-ios-app".into()],
            ..Default::default()
        };
        s.issuer = (name == "corp").then(|| "https://idp.example.com".into());
        resolve(name, &s).unwrap()
    }

    #[test]
    fn github_needs_this_apps_client_id_and_a_live_token() {
        let p = provider("github");
        let ok = json!({"app": {"client_id": "ours"}, "user": {"id": 42, "login": "g"},
                        "expires_at": null});
        assert_eq!(
            github(&p, &ok, NOW),
            Ok(Owner {
                field: "id",
                id: "42".into()
            })
        );
        let other = json!({"app": {"client_id": "theirs"}, "user": {"id": 42}});
        assert!(github(&p, &other, NOW).is_err());
        let expired = json!({"app": {"client_id": "ours"}, "user": {"id": 42},
                             "expires_at": "2020-01-01T00:00:00Z"});
        assert!(github(&p, &expired, NOW).is_err());
        assert!(github(&p, &json!({"app": {"client_id": "ours"}}), NOW).is_err());
        assert!(github(&p, &json!([]), NOW).is_err());
    }

    #[test]
    fn google_checks_aud_and_azp_and_reads_numbers_sent_as_strings() {
        let p = provider("google_oauth2");
        let ok = json!({"aud": "ours", "azp": "our-ios-app", "sub": "1001",
                        "expires_in": "3599", "exp": "1800003599"});
        assert_eq!(google(&p, &ok, NOW).unwrap().id, "1001");
        let mut bad = ok.clone();
        bad["aud"] = json!("theirs");
        assert!(google(&p, &bad, NOW).is_err());
        let mut bad = ok.clone();
        bad["azp"] = json!("theirs");
        assert!(google(&p, &bad, NOW).is_err());
        let mut bad = ok.clone();
        bad["expires_in"] = json!("0");
        assert!(google(&p, &bad, NOW).is_err());
        let no_expiry = json!({"aud": "ours", "sub": "1001"});
        assert!(google(&p, &no_expiry, NOW).is_err());
    }

    #[test]
    fn facebook_needs_a_valid_user_token_of_this_app() {
        let p = provider("facebook");
        let ok = json!({"data": {"app_id": "ours", "type": "USER", "is_valid": true,
                                 "expires_at": NOW + 60, "user_id": "10215"}});
        assert_eq!(
            facebook(&p, &ok, NOW),
            Ok(Owner {
                field: "id",
                id: "10215".into()
            })
        );
        for (key, value) in [
            ("app_id", json!("theirs")),
            ("is_valid", json!(false)),
            ("type", json!("PAGE")),
            ("expires_at", json!(NOW - 1)),
            ("user_id", Value::Null),
        ] {
            let mut bad = ok.clone();
            bad["data"][key] = value;
            assert!(facebook(&p, &bad, NOW).is_err(), "{key}");
        }
        let mut forever = ok.clone();
        forever["data"]["expires_at"] = json!(0);
        assert!(facebook(&p, &forever, NOW).is_ok());
    }

    #[test]
    fn introspection_trusts_client_id_first_then_aud() {
        let p = provider("corp");
        let ok = json!({"active": true, "client_id": "ours", "sub": "u1", "exp": NOW + 60});
        assert_eq!(introspection(&p, &ok, NOW).unwrap().id, "u1");
        let aud_only = json!({"active": true, "aud": ["api", "our-ios-app"], "sub": "u1"});
        assert!(introspection(&p, &aud_only, NOW).is_ok());
        // Issued to another client, even if it names us as an audience.
        let other = json!({"active": true, "client_id": "theirs", "aud": "ours", "sub": "u1"});
        assert!(introspection(&p, &other, NOW).is_err());
        assert!(introspection(&p, &json!({"active": false}), NOW).is_err());
        assert!(introspection(&p, &json!({"active": "true", "client_id": "ours"}), NOW).is_err());
        let expired = json!({"active": true, "client_id": "ours", "sub": "u1", "exp": NOW});
        assert!(introspection(&p, &expired, NOW).is_err());
        let anonymous = json!({"active": true, "client_id": "ours"});
        assert!(introspection(&p, &anonymous, NOW).is_err());
    }

    #[test]
    fn the_profile_must_be_the_named_users() {
        let owner = Owner {
            field: "id",
            id: "42".into(),
        };
        assert!(owns(&owner, &json!({"id": 42})));
        assert!(owns(&owner, &json!({"id": "42"})));
        assert!(!owns(&owner, &json!({"id": 43})));
        assert!(!owns(&owner, &json!({"sub": "42"})));
    }
}
