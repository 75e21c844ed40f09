//! Validation errors in Rails' shape (docs/contract.md §2.0.4): per-attribute messages in the order
//! they were added, and `full_messages` with humanized attribute names.

use serde_json::{Map, Value};

use super::{
    bodies::ValidationErrors,
    messages::{Message, Translate, errors, humanize},
};

/// Errors in the order they were added, rendered in the reader's language only when answered.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    entries: Vec<(String, Message)>,
}

impl Errors {
    pub fn add(&mut self, attribute: &str, message: Message) {
        self.entries.push((attribute.to_string(), message));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn has(&self, attribute: &str) -> bool {
        self.entries.iter().any(|(a, _)| a == attribute)
    }

    /// `{"attr": [msgs…], …, "full_messages": [...]}` in `t`'s language; `full_messages` name
    /// each attribute as that language does (Rails' `human_attribute_name`), or humanized.
    pub fn to_body(&self, t: &dyn Translate) -> ValidationErrors {
        let mut map = Map::new();
        let mut full = Vec::with_capacity(self.entries.len());
        for (attribute, message) in &self.entries {
            let text = t.text(message);
            let name = t
                .attribute(attribute)
                .unwrap_or_else(|| humanize(attribute));
            full.push(Value::String(t.text(&errors::full(name, text.clone()))));
            let list = map
                .entry(attribute.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(Value::String(text));
            }
        }
        map.insert("full_messages".into(), Value::Array(full));
        ValidationErrors(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// English without the catalogue: the id, and `errors-format`'s join.
    struct Ids;

    impl Translate for Ids {
        fn text(&self, m: &Message) -> String {
            match m.id() {
                "errors-format" => m
                    .args()
                    .iter()
                    .map(|(_, a)| match a {
                        crate::contract::messages::Arg::Text(t) => t.clone(),
                        crate::contract::messages::Arg::Count(n) => n.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                id => id.to_string(),
            }
        }

        fn attribute(&self, attribute: &str) -> Option<String> {
            (attribute == "password").then(|| "Passwort".into())
        }
    }

    #[test]
    fn errors_render_like_rails() {
        let mut e = Errors::default();
        e.add("password_confirmation", errors::CONFIRMATION);
        e.add("password", errors::too_short(6));
        let body = serde_json::to_value(&e.to_body(&Ids).0).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "password_confirmation": ["errors-confirmation"],
                "password": ["errors-too-short"],
                "full_messages": [
                    "Password confirmation errors-confirmation",
                    "Passwort errors-too-short"
                ]
            })
        );
    }
}
