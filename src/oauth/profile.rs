//! Reading the user attributes out of a provider's profile JSON, by (dotted) field paths.

use serde_json::Value;

use super::providers::Fields;

/// The attributes toker keeps from a provider profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub uid: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub image: Option<String>,
}

/// The value at `path` (`picture.data.url`).
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn text(value: &Value, path: &str) -> Option<String> {
    match lookup(value, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Lets an e-mail list (GitHub's `[{email, primary, verified}]`) decide the profile's address
/// and whether it is verified: the profile's own address when the list has it, else the
/// primary one. Without a usable list the address stays, marked unverified.
pub fn apply_email_list(profile: &mut Value, list: &Value, fields: &Fields) {
    let verified_key = fields
        .email_verified
        .clone()
        .unwrap_or_else(|| "email_verified".into());
    let entries = list.as_array().map(Vec::as_slice).unwrap_or_default();
    let listed = |wanted: &str| {
        entries.iter().find(|m| {
            m["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(wanted))
        })
    };
    let chosen = text(profile, &fields.email)
        .and_then(|own| listed(&own))
        .or_else(|| entries.iter().find(|m| m["primary"] == Value::Bool(true)));
    let Some(obj) = profile.as_object_mut() else {
        return;
    };
    let verified = chosen.is_some_and(|m| m["verified"] == Value::Bool(true));
    if let Some(entry) = chosen {
        obj.insert(fields.email.clone(), entry["email"].clone());
    }
    obj.insert(verified_key, Value::Bool(verified));
}

/// Maps `profile` with `fields`; `None` when it carries no uid.
pub fn map(profile: &Value, fields: &Fields) -> Option<Profile> {
    let uid = text(profile, &fields.uid)?;
    let email_verified = fields
        .email_verified
        .as_deref()
        .and_then(|f| lookup(profile, f))
        .is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true"));
    Some(Profile {
        uid,
        email: text(profile, &fields.email).map(|e| e.trim().to_lowercase()),
        email_verified,
        name: text(profile, &fields.name),
        nickname: fields.nickname.as_deref().and_then(|f| text(profile, f)),
        image: fields.image.as_deref().and_then(|f| text(profile, f)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::providers::{ProviderConfig, resolve};

    fn preset(name: &str) -> ProviderConfig {
        let settings = crate::config::OAuthProviderSettings {
            client_id: "x".into(),
            ..Default::default()
        };
        resolve(name, &settings).unwrap()
    }

    #[test]
    fn github_and_facebook_profiles_map() {
        let github = preset("github");
        let p = map(
            &serde_json::json!({"id": 12345, "login": "gina", "name": "Gina Hub",
                                "email": "Gina@Example.com", "avatar_url": "https://img/g.png"}),
            &github.fields,
        )
        .unwrap();
        assert_eq!(p.uid, "12345");
        assert_eq!(p.nickname.as_deref(), Some("gina"));
        assert_eq!(p.email.as_deref(), Some("gina@example.com"));
        let facebook = preset("facebook");
        let p = map(
            &serde_json::json!({"id": "9", "picture": {"data": {"url": "https://fb/p.jpg"}}}),
            &facebook.fields,
        )
        .unwrap();
        assert_eq!(p.image.as_deref(), Some("https://fb/p.jpg"));
        assert!(map(&serde_json::json!({"name": "no id"}), &facebook.fields).is_none());
    }

    #[test]
    fn the_email_list_decides_address_and_verification() {
        let github = preset("github");
        let list = serde_json::json!([
            {"email": "old@example.com", "primary": false, "verified": false},
            {"email": "main@example.com", "primary": true, "verified": true},
            {"email": "Public@example.com", "primary": false, "verified": true},
        ]);
        let mapped = |profile: serde_json::Value, list: &serde_json::Value| {
            let mut profile = profile;
            apply_email_list(&mut profile, list, &github.fields);
            let p = map(&profile, &github.fields).unwrap();
            (p.email, p.email_verified)
        };
        // The public address, when listed; else the primary one.
        assert_eq!(
            mapped(
                serde_json::json!({"id": 1, "email": "public@example.com"}),
                &list
            ),
            (Some("public@example.com".into()), true)
        );
        assert_eq!(
            mapped(serde_json::json!({"id": 1, "email": null}), &list),
            (Some("main@example.com".into()), true)
        );
        assert_eq!(
            mapped(
                serde_json::json!({"id": 1, "email": "old@example.com"}),
                &list
            ),
            (Some("old@example.com".into()), false)
        );
        // No list (scope not granted): the address is not verified, even if the profile
        // claims so.
        assert_eq!(
            mapped(
                serde_json::json!({"id": 1, "email": "a@example.com", "email_verified": true}),
                &serde_json::Value::Null
            ),
            (Some("a@example.com".into()), false)
        );
    }
}
