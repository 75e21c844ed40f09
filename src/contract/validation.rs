//! Validation errors in Rails' shape (docs/contract.md §2.0.4): per-attribute messages in the order
//! they were added, and `full_messages` with humanized attribute names.

use serde_json::{Map, Value};

use super::bodies::ValidationErrors;

/// Errors in the order they were added.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    entries: Vec<(String, String)>,
}

impl Errors {
    pub fn add(&mut self, attribute: &str, message: &str) {
        self.entries
            .push((attribute.to_string(), message.to_string()));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn has(&self, attribute: &str) -> bool {
        self.entries.iter().any(|(a, _)| a == attribute)
    }

    /// `{"attr": [msgs…], …, "full_messages": [...]}`.
    pub fn to_body(&self) -> ValidationErrors {
        let mut map = Map::new();
        for (attribute, message) in &self.entries {
            let list = map
                .entry(attribute.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(Value::String(message.clone()));
            }
        }
        let full: Vec<Value> = self
            .entries
            .iter()
            .map(|(a, m)| Value::String(format!("{} {m}", humanize(a))))
            .collect();
        map.insert("full_messages".into(), Value::Array(full));
        ValidationErrors(map)
    }
}

/// Rails' `humanize`: `password_confirmation` → `Password confirmation`.
pub fn humanize(attribute: &str) -> String {
    let text = attribute.trim_end_matches("_id").replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_like_rails() {
        let mut e = Errors::default();
        e.add("password_confirmation", "doesn't match Password");
        e.add("password", "is too short (minimum is 6 characters)");
        let body = serde_json::to_value(&e.to_body().0).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "password_confirmation": ["doesn't match Password"],
                "password": ["is too short (minimum is 6 characters)"],
                "full_messages": [
                    "Password confirmation doesn't match Password",
                    "Password is too short (minimum is 6 characters)"
                ]
            })
        );
    }

    #[test]
    fn humanize_follows_rails() {
        assert_eq!(humanize("password_confirmation"), "Password confirmation");
        assert_eq!(humanize("google_oauth2"), "Google oauth2");
        assert_eq!(humanize("user_id"), "User");
        assert_eq!(humanize(""), "");
    }
}
