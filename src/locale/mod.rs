//! The reader's language (issue 15): which language a request is answered in, and the message
//! catalogue in every language toker speaks. A request names its language with the `locale`
//! parameter or `Accept-Language`; neither is read until a message is rendered, so an
//! authenticated request that renders none pays nothing for it.

mod accept;
mod catalog;

use unic_langid::LanguageIdentifier;

pub use accept::{accepted_languages, parse_tag};
pub use catalog::{Catalog, CatalogError, SHIPPED, Texts, fluent_args, variables};

/// One of the catalogue's languages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale {
    id: LanguageIdentifier,
}

impl Locale {
    pub fn new(id: LanguageIdentifier) -> Locale {
        Locale { id }
    }

    /// English: the contract's own language and every other's fallback.
    pub fn english() -> Locale {
        Locale::new(LanguageIdentifier::from_bytes(b"en").expect("a tag"))
    }

    pub fn id(&self) -> &LanguageIdentifier {
        &self.id
    }

    /// `pt-BR`.
    pub fn tag(&self) -> String {
        self.id.to_string()
    }

    /// The language alone (`pt` for `pt-BR`).
    pub fn language(&self) -> &str {
        self.id.language.as_str()
    }
}

impl Default for Locale {
    fn default() -> Locale {
        Locale::english()
    }
}
