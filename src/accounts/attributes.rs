//! The app's own user attributes (Devise's permitted parameters, docs/contract.md §2.1–2.2):
//! which were sent, how long they may be, and how they land on a user — `name`, `nickname` and
//! `image` in their columns, everything else in the `extra` JSON object. Sign-up, account
//! update and OAuth sign-in all go through here.

use serde_json::{Map, Value};

use super::validation::{PROFILE_MAX_CHARS, check_profile_length};
use crate::{
    config::PROFILE_COLUMNS,
    contract::{params::scalar, validation::Errors},
    store::User,
};

/// The permitted attributes that were sent (strong parameters: scalars and nulls kept, arrays
/// and objects dropped).
pub fn permitted(raw: &Map<String, Value>, permitted: &[String]) -> Map<String, Value> {
    permitted
        .iter()
        .filter_map(|name| {
            raw.get(name)
                .filter(|v| !matches!(v, Value::Array(_) | Value::Object(_)))
                .map(|v| (name.clone(), v.clone()))
        })
        .collect()
}

/// A user's `extra` attributes; a column that does not hold a JSON object counts as none.
pub fn extra_of(user: &User) -> Map<String, Value> {
    user.extra
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default()
}

/// Length limits of the profile columns among `attributes`.
pub fn check(errors: &mut Errors, attributes: &Map<String, Value>) {
    for column in PROFILE_COLUMNS {
        let value = attributes.get(*column).and_then(scalar);
        check_profile_length(errors, column, value.as_deref());
    }
}

/// Permitted attributes split by where they are stored. A profile column that was sent is
/// `Some(value)`, where `value` is `None` for a null.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Attributes {
    name: Option<Option<String>>,
    nickname: Option<Option<String>>,
    image: Option<Option<String>>,
    extra: Map<String, Value>,
}

impl Attributes {
    pub fn split(attributes: Map<String, Value>) -> Attributes {
        let mut split = Attributes::default();
        for (key, value) in attributes {
            match key.as_str() {
                "name" => split.name = Some(scalar(&value)),
                "nickname" => split.nickname = Some(scalar(&value)),
                "image" => split.image = Some(scalar(&value)),
                _ => {
                    split.extra.insert(key, value);
                }
            }
        }
        split
    }

    /// Cuts profile values to the column size, for values no user typed (a provider's profile).
    pub fn clipped(mut self) -> Attributes {
        for column in [&mut self.name, &mut self.nickname, &mut self.image] {
            if let Some(Some(value)) = column {
                *value = value.chars().take(PROFILE_MAX_CHARS).collect();
            }
        }
        self
    }

    /// Sets the sent profile columns and merges the extras over the user's existing ones.
    pub fn apply(self, user: &mut User) {
        for (column, value) in [
            (&mut user.name, self.name),
            (&mut user.nickname, self.nickname),
            (&mut user.image, self.image),
        ] {
            if let Some(value) = value {
                *column = value;
            }
        }
        let mut extra = extra_of(user);
        extra.extend(self.extra);
        user.extra = (!extra.is_empty()).then(|| Value::Object(extra).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn user(extra: Option<&str>) -> User {
        User {
            extra: extra.map(str::to_string),
            name: Some("Old".into()),
            ..crate::accounts::blank_user()
        }
    }

    #[test]
    fn only_permitted_scalars_are_taken() {
        let raw = map(json!({"name": "Ann", "role": ["admin"], "age": 3, "x": 1, "bio": null}));
        let allowed = ["name", "role", "age", "bio"].map(String::from);
        assert_eq!(
            permitted(&raw, &allowed),
            map(json!({"name": "Ann", "age": 3, "bio": null}))
        );
    }

    #[test]
    fn profile_columns_and_extras_land_in_their_places() {
        let mut u = user(Some(r#"{"team":"a","age":1}"#));
        Attributes::split(map(json!({"nickname": "ann", "age": 2, "image": null}))).apply(&mut u);
        assert_eq!(u.name.as_deref(), Some("Old"));
        assert_eq!(u.nickname.as_deref(), Some("ann"));
        assert_eq!(u.image, None);
        assert_eq!(extra_of(&u), map(json!({"team": "a", "age": 2})));
    }

    #[test]
    fn a_broken_extra_column_counts_as_empty() {
        assert!(extra_of(&user(Some("[1,2]"))).is_empty());
        assert!(extra_of(&user(Some("not json"))).is_empty());
        let mut u = user(Some("not json"));
        Attributes::split(Map::new()).apply(&mut u);
        assert_eq!(u.extra, None);
    }

    #[test]
    fn clipping_cuts_profile_values_to_the_column() {
        let long = "é".repeat(PROFILE_MAX_CHARS + 10);
        let mut u = user(None);
        Attributes::split(map(json!({ "name": long })))
            .clipped()
            .apply(&mut u);
        assert_eq!(u.name.unwrap().chars().count(), PROFILE_MAX_CHARS);
    }

    #[test]
    fn over_long_profile_values_are_validation_errors() {
        let mut errors = Errors::default();
        check(
            &mut errors,
            &map(json!({"nickname": "x".repeat(PROFILE_MAX_CHARS + 1), "name": "ok"})),
        );
        assert!(errors.has("nickname"));
        assert!(!errors.has("name"));
    }
}
