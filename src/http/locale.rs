//! The request's language, found only when a message is rendered: the `locale` parameter (query,
//! or the body where the operation reads one), then `Accept-Language`, then `default_locale`
//! (`crate::locale::Catalog::negotiate`).

use std::sync::{Arc, LazyLock, OnceLock};

use poem::{
    FromRequest, Request, RequestBody,
    http::{HeaderMap, HeaderValue, Uri, header},
};

use crate::{
    contract::messages::{Message, Translate},
    locale::{Catalog, Locale},
    mail::Audience,
};

/// The shipped catalogue, for an app built without one (a handler test).
static SHIPPED: LazyLock<Arc<Catalog>> = LazyLock::new(|| Arc::new(Catalog::shipped()));

/// The app's catalogue, as request data.
pub fn catalog_of(req: &Request) -> &Arc<Catalog> {
    req.data::<Arc<Catalog>>().unwrap_or(&SHIPPED)
}

/// What a request says about its reader's language, kept so that an answer built after the
/// request was handed on (an error caught by a middleware) can still be in it.
#[derive(Debug, Clone, Default)]
pub struct LocaleHints {
    uri: Uri,
    /// The first `Accept-Language` (a request rarely splits it over several).
    accept_language: Option<HeaderValue>,
}

impl LocaleHints {
    /// Shares the raw inputs, copying nothing: reading them waits for [`Self::locale`].
    pub fn of(uri: &Uri, headers: &HeaderMap) -> LocaleHints {
        LocaleHints {
            uri: uri.clone(),
            accept_language: headers.get(header::ACCEPT_LANGUAGE).cloned(),
        }
    }

    /// The `locale` query parameter, if any (the last, as `Params` and Rails read a repeated
    /// one).
    fn query_locale(&self) -> Option<String> {
        form_urlencoded::parse(self.uri.query()?.as_bytes())
            .filter(|(name, _)| name == "locale")
            .last()
            .map(|(_, value)| value.into_owned())
    }

    /// The reader's language; `param` (the body's `locale`) comes before the query's.
    pub fn locale(&self, catalog: &Catalog, param: Option<&str>) -> Locale {
        let query = self.query_locale();
        catalog.negotiate(
            param.or(query.as_deref()),
            self.accept_language.as_ref().and_then(|v| v.to_str().ok()),
        )
    }
}

/// The catalogue in the request's language, as a handler argument.
pub struct RequestTexts<'a> {
    catalog: &'a Catalog,
    req: &'a Request,
    param: Option<String>,
    locale: OnceLock<Locale>,
}

impl<'a> RequestTexts<'a> {
    pub fn new(req: &'a Request) -> RequestTexts<'a> {
        RequestTexts {
            catalog: catalog_of(req),
            req,
            param: None,
            locale: OnceLock::new(),
        }
    }

    /// With the body's `locale` parameter, which wins over the query's.
    pub fn with_param(mut self, locale: Option<String>) -> RequestTexts<'a> {
        self.param = locale;
        self.locale = OnceLock::new();
        self
    }

    pub fn locale(&self) -> &Locale {
        self.locale.get_or_init(|| {
            LocaleHints::of(self.req.uri(), self.req.headers())
                .locale(self.catalog, self.param.as_deref())
        })
    }

    /// `message` in the request's language.
    pub fn text(&self, message: &Message) -> String {
        self.catalog.texts(self.locale()).text(message)
    }

    /// Who a mail sent for this request is written for.
    pub fn audience(&self) -> Audience {
        Audience::new(self.locale().clone())
    }
}

impl Translate for RequestTexts<'_> {
    fn text(&self, message: &Message) -> String {
        RequestTexts::text(self, message)
    }

    fn attribute(&self, attribute: &str) -> Option<String> {
        self.catalog.texts(self.locale()).attribute(attribute)
    }
}

impl<'a> FromRequest<'a> for RequestTexts<'a> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(RequestTexts::new(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locale(uri: &str, accept: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT_LANGUAGE, value.parse().unwrap());
        }
        LocaleHints::of(&uri.parse().unwrap(), &headers)
            .locale(&Catalog::shipped(), None)
            .tag()
    }

    #[test]
    fn the_parameter_wins_then_accept_language_then_the_default() {
        assert_eq!(locale("/auth?locale=ja", &["de"]), "ja");
        assert_eq!(locale("/auth?a=1&locale=pt_BR", &[]), "pt-BR");
        assert_eq!(locale("/auth", &["fr-CA, de;q=0.5"]), "fr");
        assert_eq!(locale("/auth", &["xx, de;q=0.9"]), "de");
        assert_eq!(locale("/auth", &[]), "en");
    }

    #[test]
    fn an_unknown_or_garbled_locale_is_passed_over() {
        assert_eq!(locale("/auth?locale=tlh", &["es"]), "es");
        assert_eq!(locale("/auth?locale=%FF%FE", &["ja"]), "ja");
        assert_eq!(locale("/auth?locale=", &[]), "en");
        assert_eq!(locale("/auth?locale=zh-TW", &["q=x;;,"]), "en");
    }
}
