//! The user JSON of docs/contract.md §2.0.5: every column but Devise's secret ones, plus the app's
//! extra attributes; U-lite (sign-in, validate_token) leaves out the timestamps.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::{
    config::{PROFILE_COLUMNS, Settings},
    contract::UserJson,
    store::User,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Registration, account update, password update, OAuth.
    Full,
    /// `POST /auth/sign_in`, `GET /auth/validate_token`.
    Lite,
}

/// DTA's timestamp format: ISO-8601 UTC with milliseconds.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn user_json(user: &User, settings: &Settings, shape: Shape) -> UserJson {
    let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let mut map = Map::new();
    map.insert("id".into(), Value::from(user.id));
    map.insert("provider".into(), Value::String(user.provider.clone()));
    map.insert("uid".into(), Value::String(user.uid.clone()));
    map.insert(
        "allow_password_change".into(),
        Value::Bool(user.allow_password_change),
    );
    map.insert("name".into(), opt(&user.name));
    map.insert("nickname".into(), opt(&user.nickname));
    map.insert("image".into(), opt(&user.image));
    map.insert("email".into(), opt(&user.email));
    let extra = super::attributes::extra_of(user);
    for name in settings
        .sign_up_attributes
        .iter()
        .chain(&settings.account_update_attributes)
        .filter(|n| !PROFILE_COLUMNS.contains(&n.as_str()))
    {
        let value = extra.get(name).cloned().unwrap_or(Value::Null);
        map.insert(name.clone(), value);
    }
    if shape == Shape::Full {
        map.insert(
            "created_at".into(),
            Value::String(timestamp(&user.created_at)),
        );
        map.insert(
            "updated_at".into(),
            Value::String(timestamp(&user.updated_at)),
        );
    }
    UserJson(map)
}
