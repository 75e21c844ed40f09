//! The languages toker speaks: Fluent bundles of the shipped `locales/*.ftl`, embedded in the
//! binary, with the app's own files from `locales_dir` added or laid over them message by
//! message. A message a language lacks is rendered in English.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};
use fluent_syntax::ast;
use unic_langid::LanguageIdentifier;

use super::{Locale, accept::parse_tag};
use crate::contract::messages::{Arg, Message, Translate, errors};

/// The languages toker ships, English first (the fallback of every other).
pub const SHIPPED: [(&str, &str); 7] = [
    ("en", include_str!("../../locales/en.ftl")),
    ("de", include_str!("../../locales/de.ftl")),
    ("fr", include_str!("../../locales/fr.ftl")),
    ("es", include_str!("../../locales/es.ftl")),
    ("pt-BR", include_str!("../../locales/pt-BR.ftl")),
    ("ja", include_str!("../../locales/ja.ftl")),
    ("zh-CN", include_str!("../../locales/zh-CN.ftl")),
];

/// Why a language file was refused at startup.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}:{line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
    #[error("default_locale: {0}")]
    Default(String),
}

struct Language {
    id: LanguageIdentifier,
    bundle: FluentBundle<FluentResource>,
}

/// Every language's messages, and the default language.
pub struct Catalog {
    /// English first.
    languages: Vec<Language>,
    default: Locale,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("languages", &self.tags())
            .field("default", &self.default.tag())
            .finish()
    }
}

fn bundle(id: &LanguageIdentifier, source: String) -> Result<FluentBundle<FluentResource>, String> {
    let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
    // No Unicode isolation marks around inserted values: the English texts are wire facts.
    bundle.set_use_isolating(false);
    let resource = FluentResource::try_new(source).map_err(|(_, e)| format!("{e:?}"))?;
    bundle
        .add_resource(resource)
        .map_err(|e| format!("{e:?}"))?;
    Ok(bundle)
}

/// The variables (`$email`) each message of a Fluent source uses, by id.
pub fn variables(source: &str) -> Result<BTreeMap<String, BTreeSet<String>>, (usize, String)> {
    let resource = fluent_syntax::parser::parse(source).map_err(|(_, errors)| {
        let e = &errors[0];
        // The parser stops where it expected more, often at the start of the next line.
        let at = e.pos.start.min(source.len());
        let at = if at > 0 && source.as_bytes()[at - 1] == b'\n' {
            at - 1
        } else {
            at
        };
        (line_of(source, at), e.kind.to_string())
    })?;
    let mut out = BTreeMap::new();
    for entry in resource.body {
        if let ast::Entry::Message(message) = entry {
            let mut found = BTreeSet::new();
            if let Some(pattern) = &message.value {
                pattern_variables(pattern, &mut found);
            }
            out.insert(message.id.name.to_string(), found);
        }
    }
    Ok(out)
}

fn pattern_variables(pattern: &ast::Pattern<&str>, found: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, found);
        }
    }
}

fn expression_variables(expression: &ast::Expression<&str>, found: &mut BTreeSet<String>) {
    let inline = |e: &ast::InlineExpression<&str>, found: &mut BTreeSet<String>| match e {
        ast::InlineExpression::VariableReference { id } => {
            found.insert(id.name.to_string());
        }
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, found),
        _ => {}
    };
    match expression {
        ast::Expression::Inline(e) => inline(e, found),
        ast::Expression::Select { selector, variants } => {
            inline(selector, found);
            for variant in variants {
                pattern_variables(&variant.value, found);
            }
        }
    }
}

fn line_of(source: &str, byte: usize) -> usize {
    source[..byte.min(source.len())].matches('\n').count() + 1
}

impl Catalog {
    /// The shipped languages, English by default.
    pub fn shipped() -> Catalog {
        Catalog::load(None, "en").expect("the shipped languages load")
    }

    /// The shipped languages, then every `<language tag>.ftl` in `dir`: a shipped language's
    /// file replaces the messages it defines, any other adds a language. `default_locale` must
    /// be one of them. A file that does not parse, or that uses a value its English message
    /// does not have, is refused with its line.
    pub fn load(dir: Option<&Path>, default_locale: &str) -> Result<Catalog, CatalogError> {
        let mut languages = Vec::new();
        for (tag, source) in SHIPPED {
            let id: LanguageIdentifier = tag.parse().expect("a shipped tag");
            let bundle = bundle(&id, source.to_string())
                .unwrap_or_else(|e| panic!("locales/{tag}.ftl: {e}"));
            languages.push(Language { id, bundle });
        }
        let mut catalog = Catalog {
            languages,
            default: Locale::english(),
        };
        if let Some(dir) = dir {
            catalog.add_dir(dir)?;
        }
        let requested = parse_tag(default_locale).ok_or_else(|| {
            CatalogError::Default(format!("`{default_locale}` is not a language tag"))
        })?;
        catalog.default = catalog.matching(&requested).ok_or_else(|| {
            CatalogError::Default(format!(
                "no `{default_locale}` messages (available: {}); add {default_locale}.ftl to \
                 locales_dir",
                catalog.tags().join(", ")
            ))
        })?;
        Ok(catalog)
    }

    fn add_dir(&mut self, dir: &Path) -> Result<(), CatalogError> {
        let english = variables(SHIPPED[0].1).expect("en.ftl parses");
        let read = std::fs::read_dir(dir).map_err(|e| CatalogError::File {
            file: dir.display().to_string(),
            message: format!("cannot read locales_dir: {e}"),
        })?;
        let mut files: Vec<_> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
            .collect();
        files.sort();
        for path in files {
            let file = path.display().to_string();
            let refuse = |message: String| CatalogError::File {
                file: file.clone(),
                message,
            };
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let id = parse_tag(stem).ok_or_else(|| {
                refuse(format!(
                    "`{stem}` is not a language tag; name the file after its language \
                     (de.ftl, pt-BR.ftl)"
                ))
            })?;
            let source = std::fs::read_to_string(&path).map_err(|e| refuse(e.to_string()))?;
            let used = variables(&source).map_err(|(line, message)| CatalogError::Line {
                file: file.clone(),
                line,
                message,
            })?;
            for (message, vars) in &used {
                let Some(known) = english.get(message) else {
                    tracing::warn!(
                        %file,
                        message,
                        "not one of toker's messages (usable from mail templates)"
                    );
                    continue;
                };
                if let Some(unknown) = vars.difference(known).next() {
                    let at = source.find(&format!("{message} =")).unwrap_or(0);
                    return Err(CatalogError::Line {
                        file: file.clone(),
                        line: line_of(&source, at),
                        message: format!(
                            "`{message}` uses ${unknown}, which it is never given (it has: {})",
                            known
                                .iter()
                                .map(|v| format!("${v}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
            let resource =
                FluentResource::try_new(source).map_err(|(_, e)| refuse(format!("{e:?}")))?;
            match self.languages.iter_mut().find(|l| l.id == id) {
                Some(language) => language.bundle.add_resource_overriding(resource),
                None => {
                    let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
                    bundle.set_use_isolating(false);
                    bundle.add_resource_overriding(resource);
                    self.languages.push(Language { id, bundle });
                }
            }
        }
        Ok(())
    }

    /// Every language, as tags (`en`, `pt-BR`).
    pub fn tags(&self) -> Vec<String> {
        self.languages.iter().map(|l| l.id.to_string()).collect()
    }

    pub fn default_locale(&self) -> &Locale {
        &self.default
    }

    /// The reader's language: the `locale` parameter, else the best of `Accept-Language`,
    /// else `default_locale`. Neither input can fail: what matches no language is passed over.
    pub fn negotiate(&self, param: Option<&str>, accept_language: Option<&str>) -> Locale {
        param
            .and_then(parse_tag)
            .and_then(|id| self.matching(&id))
            .or_else(|| {
                super::accept::accepted_languages(accept_language?)
                    .iter()
                    .find_map(|id| self.matching(id))
            })
            .unwrap_or_else(|| self.default.clone())
    }

    /// The language that serves a reader of `requested`: the same tag; else the same
    /// language in the same script (`zh-Hans` and `zh-SG` read `zh-CN`, `zh-TW` does not),
    /// preferring the one without a region (`de` for `de-AT`), else the first listed (`pt-BR`
    /// for `pt`).
    pub fn matching(&self, requested: &LanguageIdentifier) -> Option<Locale> {
        let found = self
            .languages
            .iter()
            .find(|l| l.id == *requested)
            .or_else(|| {
                let same = |l: &&Language| {
                    l.id.language == requested.language && script(&l.id) == script(requested)
                };
                let mut candidates = self.languages.iter().filter(same);
                let first = candidates.clone().next();
                candidates
                    .find(|l| l.id.region == requested.region && requested.region.is_some())
                    .or_else(|| {
                        self.languages
                            .iter()
                            .filter(same)
                            .find(|l| l.id.region.is_none())
                    })
                    .or(first)
            })?;
        Some(Locale::new(found.id.clone()))
    }

    /// `locale`'s language, then the same language without region or script (`de` for a
    /// `de-AT` file that has only some messages), then English.
    fn chain<'a>(&'a self, locale: &'a Locale) -> impl Iterator<Item = &'a Language> + 'a {
        let id = locale.id();
        let exact = self.languages.iter().filter(move |l| l.id == *id);
        let base = self.languages.iter().filter(move |l| {
            l.id != *id
                && l.id.language == id.language
                && l.id.region.is_none()
                && l.id.script.is_none()
        });
        exact.chain(base).chain(self.languages.first())
    }

    /// Message `id` with `args` in `locale` (falling back as [`Self::chain`]); `None` when no
    /// language has it.
    pub fn format(&self, locale: &Locale, id: &str, args: Option<&FluentArgs>) -> Option<String> {
        self.chain(locale).find_map(|language| {
            let pattern = language.bundle.get_message(id)?.value()?;
            let mut problems = Vec::new();
            let text = language
                .bundle
                .format_pattern(pattern, args, &mut problems)
                .into_owned();
            if !problems.is_empty() {
                tracing::warn!(id, locale = %locale.tag(), ?problems, "message rendered with problems");
            }
            Some(text)
        })
    }

    /// A [`Translate`] for `locale`.
    pub fn texts<'a>(&'a self, locale: &'a Locale) -> Texts<'a> {
        Texts {
            catalog: self,
            locale,
        }
    }
}

/// The script a language is written in, where it tells readers apart: Chinese regions imply
/// Simplified or Traditional characters.
fn script(id: &LanguageIdentifier) -> Option<String> {
    if let Some(script) = id.script {
        return Some(script.as_str().to_ascii_lowercase());
    }
    if id.language.as_str() != "zh" {
        return None;
    }
    let traditional = id
        .region
        .is_some_and(|r| matches!(r.as_str(), "TW" | "HK" | "MO"));
    Some(if traditional { "hant" } else { "hans" }.into())
}

/// A message's values as Fluent arguments.
pub fn fluent_args(message: &Message) -> Option<FluentArgs<'static>> {
    if message.args().is_empty() {
        return None;
    }
    let mut args = FluentArgs::new();
    for (name, value) in message.args() {
        match value {
            Arg::Text(text) => args.set(*name, FluentValue::from(text.clone())),
            Arg::Count(n) => args.set(*name, FluentValue::from(*n)),
        }
    }
    Some(args)
}

/// The catalogue in one language.
#[derive(Clone, Copy)]
pub struct Texts<'a> {
    catalog: &'a Catalog,
    locale: &'a Locale,
}

impl Translate for Texts<'_> {
    fn text(&self, message: &Message) -> String {
        let args = fluent_args(message);
        self.catalog
            .format(self.locale, message.id(), args.as_ref())
            // Only a message missing from English itself: a bug, answered with its id.
            .unwrap_or_else(|| message.id().to_string())
    }

    fn attribute(&self, attribute: &str) -> Option<String> {
        self.catalog
            .format(self.locale, &errors::attribute_id(attribute), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::messages::{self, Message};

    fn english() -> BTreeMap<String, BTreeSet<String>> {
        variables(SHIPPED[0].1).unwrap()
    }

    #[test]
    fn every_shipped_language_has_every_message_with_englishs_placeholders() {
        let english = english();
        for (tag, source) in SHIPPED {
            let theirs = variables(source).unwrap_or_else(|e| panic!("{tag}.ftl: {e:?}"));
            let missing: Vec<_> = english
                .keys()
                .filter(|id| !theirs.contains_key(*id))
                .collect();
            let extra: Vec<_> = theirs
                .keys()
                .filter(|id| !english.contains_key(*id))
                .collect();
            assert!(missing.is_empty(), "{tag}.ftl lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{tag}.ftl has messages English lacks: {extra:?}"
            );
            for (id, vars) in &english {
                assert_eq!(&theirs[id], vars, "{tag}.ftl `{id}` placeholders");
            }
        }
    }

    #[test]
    fn every_message_resolves_in_every_shipped_language_without_fallback_or_error() {
        let catalog = Catalog::shipped();
        let sample = |vars: &BTreeSet<String>| {
            let mut args = FluentArgs::new();
            for v in vars {
                match v.as_str() {
                    "count" => args.set(v.clone(), FluentValue::from(6)),
                    _ => args.set(v.clone(), FluentValue::from(format!("<{v}>"))),
                }
            }
            args
        };
        for language in &catalog.languages {
            for (id, vars) in english() {
                let message = language
                    .bundle
                    .get_message(&id)
                    .unwrap_or_else(|| panic!("{} lacks {id}", language.id));
                let mut problems = Vec::new();
                let text = language.bundle.format_pattern(
                    message.value().expect("a value"),
                    Some(&sample(&vars)),
                    &mut problems,
                );
                assert!(problems.is_empty(), "{} {id}: {problems:?}", language.id);
                for v in &vars {
                    let shown = if v == "count" {
                        "6".to_string()
                    } else {
                        format!("<{v}>")
                    };
                    assert!(text.contains(&shown), "{} {id}: {text}", language.id);
                }
                assert!(!text.trim().is_empty(), "{} {id}", language.id);
            }
        }
    }

    #[test]
    fn english_is_the_contracts_catalogue_exactly() {
        let catalog = Catalog::shipped();
        let en = Locale::english();
        let t = catalog.texts(&en);
        let cases: Vec<(Message, &str)> = vec![
            (
                messages::not_confirmed("a@b.co"),
                "A confirmation email was sent to your account at 'a@b.co'. You must follow the instructions in the email before your account can be activated",
            ),
            (
                messages::BAD_CREDENTIALS,
                "Invalid login credentials. Please try again.",
            ),
            (
                messages::NOT_SUPPORTED,
                "Use POST /sign_in to sign in. GET is not supported.",
            ),
            (
                messages::USER_NOT_LOGGED_IN,
                "User was not found or was not logged in.",
            ),
            (messages::TOKEN_INVALID, "Invalid login credentials"),
            (
                messages::LOCKED,
                "Your account has been locked due to an excessive number of unsuccessful sign in attempts.",
            ),
            (
                messages::LAST_ATTEMPT,
                "You have one more attempt before your account is locked.",
            ),
            (
                messages::UNAUTHENTICATED,
                "You need to sign in or sign up before continuing.",
            ),
            (
                messages::MISSING_CONFIRM_SUCCESS_URL,
                "Missing 'confirm_success_url' parameter.",
            ),
            (
                messages::redirect_not_allowed("https://x.test/?a=1&b"),
                "Redirect to 'https://x.test/?a=1&b' not allowed.",
            ),
            (
                messages::account_destroyed("u@x.co"),
                "Account with UID 'u@x.co' has been destroyed.",
            ),
            (
                messages::ACCOUNT_TO_DESTROY_NOT_FOUND,
                "Unable to locate account for destruction.",
            ),
            (messages::USER_NOT_FOUND, "User not found."),
            (
                messages::VALIDATE_SIGN_UP_PARAMS,
                "Please submit proper sign up data in request body.",
            ),
            (
                messages::VALIDATE_ACCOUNT_UPDATE_PARAMS,
                "Please submit proper account update data in request body.",
            ),
            (
                messages::MISSING_EMAIL,
                "You must provide an email address.",
            ),
            (messages::MISSING_REDIRECT_URL, "Missing redirect URL."),
            (
                messages::password_reset_sent("a@b.co"),
                "An email has been sent to 'a@b.co' containing instructions for resetting your password.",
            ),
            (
                messages::PASSWORD_RESET_SENT_PARANOID,
                "If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes.",
            ),
            (
                messages::user_with_email_not_found("a@b.co"),
                "Unable to find user with email 'a@b.co'.",
            ),
            (
                messages::password_not_required("google_oauth2"),
                "This account does not require a password. Sign in using your 'Google oauth2' account instead.",
            ),
            (
                messages::MISSING_PASSWORDS,
                "You must fill out the fields labeled 'Password' and 'Password confirmation'.",
            ),
            (
                messages::PASSWORD_UPDATED,
                "Your password has been successfully updated.",
            ),
            (messages::UNAUTHORIZED, "Unauthorized"),
            (
                messages::confirmation_sent("a@b.co"),
                "An email has been sent to 'a@b.co' containing instructions for confirming your account.",
            ),
            (
                messages::CONFIRMATION_SENT_PARANOID,
                "If your email address exists in our database, you will receive an email with instructions for how to confirm your email address in a few minutes.",
            ),
            (
                messages::unlock_sent("a@b.co"),
                "An email has been sent to 'a@b.co' containing instructions for unlocking your account.",
            ),
            (
                messages::UNLOCK_SENT_PARANOID,
                "If your account exists, you will receive an email with instructions for how to unlock it in a few minutes.",
            ),
            (
                messages::RESET_TOKEN_INVALID,
                "Reset password token is invalid or has expired.",
            ),
            (messages::UNLOCK_TOKEN_INVALID, "Unlock token is invalid."),
            (
                messages::unknown_provider("nope"),
                "Unknown provider 'nope'.",
            ),
            (messages::INVALID_PROVIDER_TOKEN, "Invalid provider token."),
            (
                messages::MAIL_NOT_SENT,
                "The e-mail could not be sent. Please try again later.",
            ),
            (
                messages::TOO_MANY_REQUESTS,
                "Too many attempts. Please try again later.",
            ),
            (
                messages::BUSY,
                "The server is busy. Please try again later.",
            ),
            (
                messages::UNAVAILABLE,
                "The service is temporarily unavailable. Please try again later.",
            ),
            (messages::DATABASE_UNREACHABLE, "Database unreachable."),
            (messages::NOT_FOUND, "Not found."),
            (messages::METHOD_NOT_ALLOWED, "Method not allowed."),
            (messages::INTERNAL_ERROR, "Internal server error."),
            (messages::BODY_TOO_LARGE, "Request body is too large."),
            (
                messages::UNSUPPORTED_CONTENT_TYPE,
                crate::contract::params::UNSUPPORTED_TYPE,
            ),
            (messages::errors::BLANK, "can't be blank"),
            (messages::errors::TAKEN, "has already been taken"),
            (messages::errors::INVALID, "is invalid"),
            (messages::errors::CONFIRMATION, "doesn't match Password"),
            (messages::errors::NOT_EMAIL, "is not an email"),
            (
                messages::errors::too_short(6),
                "is too short (minimum is 6 characters)",
            ),
            (
                messages::errors::too_short(1),
                "is too short (minimum is 1 character)",
            ),
            (
                messages::errors::too_long(128),
                "is too long (maximum is 128 characters)",
            ),
            (
                messages::errors::too_long_bytes(72),
                "is too long (maximum is 72 bytes)",
            ),
        ];
        for (message, text) in cases {
            assert_eq!(t.text(&message), text, "{}", message.id());
        }
        for (attribute, name) in [
            ("email", "Email"),
            ("password", "Password"),
            ("password_confirmation", "Password confirmation"),
            ("current_password", "Current password"),
        ] {
            assert_eq!(t.attribute(attribute).as_deref(), Some(name));
        }
        assert_eq!(t.attribute("favourite_colour"), None);
    }

    fn tag_for(catalog: &Catalog, requested: &str) -> Option<String> {
        catalog
            .matching(&requested.parse().unwrap())
            .map(|l| l.tag())
    }

    #[test]
    fn a_requested_language_matches_by_tag_then_script_then_language() {
        let c = Catalog::shipped();
        for (requested, served) in [
            ("de", "de"),
            ("de-AT", "de"),
            ("en-GB", "en"),
            ("pt", "pt-BR"),
            ("pt-PT", "pt-BR"),
            ("pt-BR", "pt-BR"),
            ("zh", "zh-CN"),
            ("zh-Hans", "zh-CN"),
            ("zh-SG", "zh-CN"),
            ("zh-Hans-CN", "zh-CN"),
            ("ja-JP", "ja"),
            ("fr-CA", "fr"),
            ("es-419", "es"),
        ] {
            assert_eq!(
                tag_for(&c, requested).as_deref(),
                Some(served),
                "{requested}"
            );
        }
        // Traditional Chinese readers are not served Simplified characters.
        for requested in ["zh-TW", "zh-HK", "zh-Hant", "zh-Hant-TW", "tlh", "it"] {
            assert_eq!(tag_for(&c, requested), None, "{requested}");
        }
    }

    #[test]
    fn negotiation_falls_back_by_language_then_to_the_default() {
        let c = Catalog::load(None, "fr").unwrap();
        assert_eq!(c.negotiate(Some("ja"), Some("de")).tag(), "ja");
        assert_eq!(
            c.negotiate(Some("xx-YY"), Some("zh-TW, de-CH;q=0.8")).tag(),
            "de"
        );
        assert_eq!(c.negotiate(None, Some("it, en;q=0.1")).tag(), "en");
        assert_eq!(c.negotiate(None, Some("it, *")).tag(), "fr");
        assert_eq!(c.negotiate(Some("\u{0}"), Some(";;q=,,")).tag(), "fr");
        assert_eq!(c.negotiate(None, None).tag(), "fr");
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn an_apps_file_replaces_one_message_and_another_adds_a_language() {
        let dir = dir_with(&[
            (
                "de.ftl",
                "sessions-bad-credentials = Falsches Passwort, { $nothing }?\n",
            ),
            (
                "it.ftl",
                "sessions-bad-credentials = Credenziali non valide.\n",
            ),
        ]);
        // A placeholder English does not have is refused with its line.
        let err = Catalog::load(Some(dir.path()), "en")
            .unwrap_err()
            .to_string();
        assert!(err.contains("de.ftl:1:"), "{err}");
        assert!(err.contains("$nothing"), "{err}");

        std::fs::write(
            dir.path().join("de.ftl"),
            "# ours\n\nsessions-bad-credentials = Falsches Passwort.\n",
        )
        .unwrap();
        let c = Catalog::load(Some(dir.path()), "it").unwrap();
        let de = c.negotiate(Some("de"), None);
        assert_eq!(
            c.texts(&de).text(&messages::BAD_CREDENTIALS),
            "Falsches Passwort."
        );
        // The rest of German is still the shipped German.
        assert_eq!(
            c.texts(&de).text(&messages::USER_NOT_FOUND),
            "Benutzer nicht gefunden."
        );
        // Italian is a language now, and the default; what it lacks is English.
        let it = c.negotiate(None, None);
        assert_eq!(it.tag(), "it");
        assert_eq!(
            c.texts(&it).text(&messages::BAD_CREDENTIALS),
            "Credenziali non valide."
        );
        assert_eq!(
            c.texts(&it).text(&messages::USER_NOT_FOUND),
            "User not found."
        );
        // A regional file falls back to its language before English.
        let dir = dir_with(&[("de-AT.ftl", "sessions-bad-credentials = Servus, falsch.\n")]);
        let c = Catalog::load(Some(dir.path()), "en").unwrap();
        let at = c.negotiate(Some("de-AT"), None);
        assert_eq!(
            c.texts(&at).text(&messages::BAD_CREDENTIALS),
            "Servus, falsch."
        );
        assert_eq!(
            c.texts(&at).text(&messages::USER_NOT_FOUND),
            "Benutzer nicht gefunden."
        );
        assert_eq!(c.negotiate(Some("de-DE"), None).tag(), "de");
    }

    #[test]
    fn bad_language_files_and_defaults_stop_startup_with_file_and_line() {
        let dir = dir_with(&[("fr.ftl", "ok = bien\n\nbroken = { $x\n")]);
        let err = Catalog::load(Some(dir.path()), "en")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fr.ftl:3:"), "{err}");
        let dir = dir_with(&[("not a tag!.ftl", "x = y\n")]);
        let err = Catalog::load(Some(dir.path()), "en")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a language tag"), "{err}");
        let err = Catalog::load(None, "it").unwrap_err().to_string();
        assert!(err.starts_with("default_locale:"), "{err}");
        assert!(
            err.contains("available: en, de, fr, es, pt-BR, ja, zh-CN"),
            "{err}"
        );
        let err = Catalog::load(Some(Path::new("/nonexistent/toker")), "en").unwrap_err();
        assert!(err.to_string().contains("cannot read locales_dir"), "{err}");
    }
}
