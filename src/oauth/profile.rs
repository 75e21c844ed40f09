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
    use crate::oauth::providers::resolve;

    #[test]
    fn github_and_facebook_profiles_map() {
        let github = resolve(
            "github",
            &crate::config::OAuthProviderSettings {
                client_id: "x".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let p = map(
            &serde_json::json!({"id": 12345, "login": "gina", "name": "Gina Hub",
                                "email": "Gina@Example.com", "avatar_url": "https://img/g.png"}),
            &github.fields,
        )
        .unwrap();
        assert_eq!(p.uid, "12345");
        assert_eq!(p.nickname.as_deref(), Some("gina"));
        assert_eq!(p.email.as_deref(), Some("gina@example.com"));
        let facebook = resolve(
            "facebook",
            &crate::config::OAuthProviderSettings {
                client_id: "x".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let p = map(
            &serde_json::json!({"id": "9", "picture": {"data": {"url": "https://fb/p.jpg"}}}),
            &facebook.fields,
        )
        .unwrap();
        assert_eq!(p.image.as_deref(), Some("https://fb/p.jpg"));
        assert!(map(&serde_json::json!({"name": "no id"}), &facebook.fields).is_none());
    }
}
