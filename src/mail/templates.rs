//! Mail in the app's own words: every mail's subject, plain text and HTML come from minijinja
//! templates. Built-in defaults (Devise's and devise_token_auth's wording, docs/contract.md §7)
//! are embedded and say everything through the catalogue's `t()`, so they speak every language
//! the catalogue does. An app's `mail_templates` directory overrides them per language and per
//! user type as `<type>/<locale>/<kind>.{subject,text,html}`.
//!
//! For a mail of `kind` to a reader of locale `de-AT` and type `admin`, the first of these
//! directories holding any of the kind's three files decides the mail's language:
//! `admin/de-AT`, `default/de-AT`, `admin/de`, `default/de`, `admin/en`, `default/en`. Parts it
//! lacks come from the built-ins in that language; with none of them, the built-ins in the
//! reader's language. HTML parts escape every value; every template is checked when the app
//! starts (syntax, names it may use, a sample render), and a bad one stops startup with its file
//! and line.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::Arc,
};

use fluent_bundle::{FluentArgs, FluentValue};
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior, Value, value::Kwargs,
};

use super::Email;
use crate::locale::{Catalog, Locale, parse_tag};

/// The mails toker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MailKind {
    /// "Confirmation instructions", with the confirmation link.
    Confirmation,
    /// "Reset password instructions", with the reset link.
    ResetPassword,
    /// "Unlock instructions", with the unlock link.
    Unlock,
    /// Devise's "Password Changed" notice.
    PasswordChange,
    /// Devise's "Email Changed" notice, to the address being left.
    EmailChanged,
}

impl MailKind {
    pub const ALL: [MailKind; 5] = [
        MailKind::Confirmation,
        MailKind::ResetPassword,
        MailKind::Unlock,
        MailKind::PasswordChange,
        MailKind::EmailChanged,
    ];

    /// The name its template files carry.
    pub fn name(self) -> &'static str {
        match self {
            MailKind::Confirmation => "confirmation",
            MailKind::ResetPassword => "reset_password",
            MailKind::Unlock => "unlock",
            MailKind::PasswordChange => "password_change",
            MailKind::EmailChanged => "email_changed",
        }
    }

    pub fn parse(name: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The variables its templates are given, beside `email`, `locale` and `user_type`.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            MailKind::Confirmation | MailKind::ResetPassword | MailKind::Unlock => &["link"],
            MailKind::PasswordChange => &[],
            MailKind::EmailChanged => &["new_email", "pending"],
        }
    }
}

/// The parts of a mail, as template file extensions.
const PARTS: [&str; 3] = ["subject", "text", "html"];

/// What every template is given: the recipient's address, the mail's language tag, the user
/// type's name.
const COMMON: [&str; 3] = ["email", "locale", "user_type"];

/// Names a template may call that are no variables: the catalogue and minijinja's globals.
const GLOBALS: [&str; 5] = ["t", "range", "dict", "namespace", "debug"];

/// The directory of templates for every user type, and the type of a mail that names none.
pub const DEFAULT_TYPE: &str = "default";

const BUILTIN: [(&str, &str); 15] = [
    (
        "confirmation.subject",
        include_str!("templates/confirmation.subject"),
    ),
    (
        "confirmation.text",
        include_str!("templates/confirmation.text"),
    ),
    (
        "confirmation.html",
        include_str!("templates/confirmation.html"),
    ),
    (
        "reset_password.subject",
        include_str!("templates/reset_password.subject"),
    ),
    (
        "reset_password.text",
        include_str!("templates/reset_password.text"),
    ),
    (
        "reset_password.html",
        include_str!("templates/reset_password.html"),
    ),
    ("unlock.subject", include_str!("templates/unlock.subject")),
    ("unlock.text", include_str!("templates/unlock.text")),
    ("unlock.html", include_str!("templates/unlock.html")),
    (
        "password_change.subject",
        include_str!("templates/password_change.subject"),
    ),
    (
        "password_change.text",
        include_str!("templates/password_change.text"),
    ),
    (
        "password_change.html",
        include_str!("templates/password_change.html"),
    ),
    (
        "email_changed.subject",
        include_str!("templates/email_changed.subject"),
    ),
    (
        "email_changed.text",
        include_str!("templates/email_changed.text"),
    ),
    (
        "email_changed.html",
        include_str!("templates/email_changed.html"),
    ),
];

/// Who a mail is for: the reader's language and the user type (`None`: the default type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    pub locale: Locale,
    pub user_type: Option<String>,
}

impl Audience {
    pub fn new(locale: Locale) -> Audience {
        Audience {
            locale,
            user_type: None,
        }
    }

    /// The same reader, as a user of type `name`.
    pub fn of_type(mut self, name: impl Into<String>) -> Audience {
        self.user_type = Some(name.into());
        self
    }

    fn type_name(&self) -> &str {
        self.user_type.as_deref().unwrap_or(DEFAULT_TYPE)
    }
}

/// The values a mail inserts beside the recipient's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailValues {
    /// The link of a confirmation, reset or unlock mail.
    pub link: Option<String>,
    /// The address an e-mail change goes to.
    pub new_email: Option<String>,
    /// Whether that change still waits for confirmation.
    pub pending: bool,
}

impl MailValues {
    pub fn link(link: impl Into<String>) -> MailValues {
        MailValues {
            link: Some(link.into()),
            ..MailValues::default()
        }
    }
}

/// A template refused at startup.
#[derive(Debug, thiserror::Error)]
#[error("mail_templates: {file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// The built-in and the app's templates, checked.
pub struct MailTemplates {
    env: Environment<'static>,
    /// `<type>/<locale>` → the kinds that directory has any part of.
    overrides: BTreeMap<String, BTreeSet<MailKind>>,
    /// Template names that exist (`default/de/unlock.subject`, `builtin/unlock.html`).
    names: BTreeSet<String>,
    catalog: Arc<Catalog>,
}

impl std::fmt::Debug for MailTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTemplates")
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// The HTML escaping of the built-in mails: the five characters that can end a text or an
/// attribute value (minijinja's own also escapes `/`, which would mangle every link).
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn environment(catalog: Arc<Catalog>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters"),
    );
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
            out.write_str(&escape_html(&value.to_string()))
                .map_err(|_| Error::from(ErrorKind::WriteFailure))
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.add_function(
        "t",
        move |state: &State, id: String, kwargs: Kwargs| -> Result<String, Error> {
            let locale = state
                .lookup("locale")
                .and_then(|l| l.as_str().and_then(parse_tag))
                .and_then(|id| catalog.matching(&id))
                .unwrap_or_default();
            let mut args = FluentArgs::new();
            for name in kwargs.args() {
                let value: Value = kwargs.get(name)?;
                let value = match i64::try_from(value.clone()) {
                    Ok(n) if value.is_number() => FluentValue::from(n),
                    _ => FluentValue::from(value.to_string()),
                };
                args.set(name.to_string(), value);
            }
            catalog.format(&locale, &id, Some(&args)).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("t(\"{id}\"): no such message in any language"),
                )
            })
        },
    );
    env
}

/// The first line where `name` appears as a word inside a `{{ }}` or `{% %}` tag.
fn line_naming(source: &str, name: &str) -> Option<usize> {
    let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(name))).ok()?;
    source
        .lines()
        .position(|l| (l.contains("{{") || l.contains("{%")) && word.is_match(l))
        .or_else(|| source.lines().position(|l| word.is_match(l)))
        .map(|i| i + 1)
}

impl MailTemplates {
    /// The built-in templates only.
    pub fn builtin(catalog: Arc<Catalog>) -> MailTemplates {
        MailTemplates::load(None, catalog).expect("the built-in templates are valid")
    }

    /// The built-in templates and, from `dir`, the app's. Every template is parsed, checked
    /// for names it is not given, and rendered once with sample values.
    pub fn load(dir: Option<&Path>, catalog: Arc<Catalog>) -> Result<MailTemplates, TemplateError> {
        let mut templates = MailTemplates {
            env: environment(catalog.clone()),
            overrides: BTreeMap::new(),
            names: BTreeSet::new(),
            catalog,
        };
        for (file, source) in BUILTIN {
            templates.add(&format!("builtin/{file}"), source.to_string(), file)?;
        }
        if let Some(dir) = dir {
            for (name, path) in override_files(dir)? {
                let source = std::fs::read_to_string(&path).map_err(|e| TemplateError {
                    file: path.display().to_string(),
                    line: None,
                    message: e.to_string(),
                })?;
                templates.add(&name, source, &path.display().to_string())?;
                let (directory, file) = name.rsplit_once('/').expect("type/locale/file");
                let kind = file.split('.').next().and_then(MailKind::parse);
                templates
                    .overrides
                    .entry(directory.to_string())
                    .or_default()
                    .extend(kind);
            }
        }
        templates.check_all()?;
        Ok(templates)
    }

    /// The user-type folders the app's templates sit in (`default` and type names).
    pub fn type_folders(&self) -> BTreeSet<String> {
        self.overrides
            .keys()
            .filter_map(|directory| directory.split('/').next())
            .map(str::to_string)
            .collect()
    }

    fn add(&mut self, name: &str, source: String, file: &str) -> Result<(), TemplateError> {
        self.env
            .add_template_owned(name.to_string(), source)
            .map_err(|e| TemplateError {
                file: file.to_string(),
                line: e.line(),
                message: e.to_string(),
            })?;
        self.names.insert(name.to_string());
        Ok(())
    }

    /// Every template uses only its kind's names and renders with sample values.
    fn check_all(&self) -> Result<(), TemplateError> {
        for name in &self.names {
            let (directory, file) = name.rsplit_once('/').expect("a directory");
            let kind = file
                .split('.')
                .next()
                .and_then(MailKind::parse)
                .expect("names are checked when read");
            let template = self.env.get_template(name).expect("added");
            let source = template.source();
            let shown = |line| TemplateError {
                file: name.clone(),
                line,
                message: String::new(),
            };
            let allowed: BTreeSet<&str> = COMMON
                .iter()
                .chain(kind.variables())
                .chain(&GLOBALS)
                .copied()
                .collect();
            let mut unknown: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| !allowed.contains(v.as_str()))
                .collect();
            unknown.sort();
            if let Some(first) = unknown.first() {
                return Err(TemplateError {
                    message: format!(
                        "unknown variable `{first}`; a {} mail has: {}",
                        kind.name(),
                        allowed
                            .iter()
                            .filter(|v| !GLOBALS.contains(v))
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    ..shown(line_naming(source, first))
                });
            }
            let locale = directory.split('/').nth(1).unwrap_or("en").to_string();
            let sample = sample_values(kind);
            for pending in [false, true] {
                let values = MailValues {
                    pending,
                    ..sample.clone()
                };
                template
                    .render(self.context("reader@example.com", &locale, DEFAULT_TYPE, &values))
                    .map_err(|e| TemplateError {
                        message: e.to_string(),
                        ..shown(e.line())
                    })?;
            }
        }
        Ok(())
    }

    fn context(&self, to: &str, locale: &str, user_type: &str, values: &MailValues) -> Value {
        let mut ctx = BTreeMap::new();
        ctx.insert("email", Value::from(to));
        ctx.insert("locale", Value::from(locale));
        ctx.insert("user_type", Value::from(user_type));
        if let Some(link) = &values.link {
            ctx.insert("link", Value::from(link.as_str()));
        }
        if let Some(new_email) = &values.new_email {
            ctx.insert("new_email", Value::from(new_email.as_str()));
            ctx.insert("pending", Value::from(values.pending));
        }
        Value::from(ctx)
    }

    /// The directory that decides a `kind` mail for `audience`, with its language tag.
    fn directory(&self, kind: MailKind, audience: &Audience) -> Option<(String, String)> {
        let tag = audience.locale.tag();
        let mut locales = vec![tag.clone()];
        for more in [audience.locale.language(), "en"] {
            if !locales.iter().any(|l| l == more) {
                locales.push(more.to_string());
            }
        }
        let mut types = vec![audience.type_name()];
        if types[0] != DEFAULT_TYPE {
            types.push(DEFAULT_TYPE);
        }
        locales.iter().find_map(|locale| {
            types.iter().find_map(|ty| {
                let directory = format!("{ty}/{locale}");
                self.overrides
                    .get(&directory)
                    .is_some_and(|kinds| kinds.contains(&kind))
                    .then(|| (directory, locale.clone()))
            })
        })
    }

    /// The `kind` mail to `to` for `audience`, in its language.
    pub fn compose(
        &self,
        kind: MailKind,
        audience: &Audience,
        to: &str,
        values: &MailValues,
    ) -> Result<Email, minijinja::Error> {
        let (directory, locale) = self
            .directory(kind, audience)
            .unwrap_or_else(|| ("builtin".into(), audience.locale.tag()));
        let ctx = self.context(to, &locale, audience.type_name(), values);
        let render = |part: &str| {
            let file = format!("{}.{part}", kind.name());
            let own = format!("{directory}/{file}");
            let name = if self.names.contains(&own) {
                own
            } else {
                format!("builtin/{file}")
            };
            self.env.get_template(&name)?.render(&ctx)
        };
        // One line: a header cannot hold a line break.
        let subject = render("subject")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Email {
            to: to.to_string(),
            subject,
            text: render("text")?,
            html: render("html")?,
            link: values.link.clone().unwrap_or_default(),
        })
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }
}

/// What `toker mail preview` and the startup check fill a mail with.
pub fn sample_values(kind: MailKind) -> MailValues {
    let link = match kind {
        MailKind::Confirmation => Some(
            "https://auth.example.com/auth/confirmation?config=default&confirmation_token=SAMPLE",
        ),
        MailKind::ResetPassword => Some(
            "https://auth.example.com/auth/password/edit?config=default&redirect_url=https%3A%2F%2Fapp.example.com%2Freset&reset_password_token=SAMPLE",
        ),
        MailKind::Unlock => {
            Some("https://auth.example.com/auth/unlock?config=default&unlock_token=SAMPLE")
        }
        MailKind::PasswordChange | MailKind::EmailChanged => None,
    };
    MailValues {
        link: link.map(str::to_string),
        new_email: (kind == MailKind::EmailChanged).then(|| "new.address@example.com".into()),
        pending: false,
    }
}

/// The app's template files as (`<type>/<locale>/<kind>.<part>`, path); anything else in the
/// directory is refused, so a misnamed file cannot go unnoticed. Hidden files are skipped.
fn override_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, TemplateError> {
    let refuse = |path: &Path, message: String| TemplateError {
        file: path.display().to_string(),
        line: None,
        message,
    };
    let entries = |path: &Path| -> Result<Vec<PathBuf>, TemplateError> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| refuse(path, e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        out.sort();
        Ok(out)
    };
    let expected = "expected <type>/<locale>/<kind>.<part> with kind one of confirmation, \
                    reset_password, unlock, password_change, email_changed and part one of \
                    subject, text, html";
    let mut files = Vec::new();
    for type_dir in entries(dir)? {
        let type_name = type_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let valid_type = !type_name.is_empty()
            && type_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !type_dir.is_dir() || !valid_type {
            return Err(refuse(&type_dir, expected.into()));
        }
        for locale_dir in entries(&type_dir)? {
            let locale = locale_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            let Some(id) = parse_tag(locale).filter(|_| locale_dir.is_dir()) else {
                return Err(refuse(
                    &locale_dir,
                    format!("not a language directory (de, pt-BR); {expected}"),
                ));
            };
            for file in entries(&locale_dir)? {
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let known = name.split_once('.').is_some_and(|(kind, part)| {
                    MailKind::parse(kind).is_some() && PARTS.contains(&part)
                });
                if !known || !file.is_file() {
                    return Err(refuse(&file, expected.into()));
                }
                files.push((format!("{type_name}/{id}/{name}"), file));
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> MailTemplates {
        MailTemplates::builtin(Arc::new(Catalog::shipped()))
    }

    fn english() -> Audience {
        Audience::default()
    }

    #[test]
    fn change_notices_have_devise_texts_and_no_link() {
        let t = templates();
        let mail = t
            .compose(
                MailKind::PasswordChange,
                &english(),
                "a@x.co",
                &MailValues::default(),
            )
            .unwrap();
        assert_eq!(mail.subject, "Password Changed");
        assert_eq!(
            mail.text,
            "Hello a@x.co!\n\nWe're contacting you to notify you that your password has been changed.\n"
        );
        assert!(!mail.html.contains("<a "));
        let changed = |pending| MailValues {
            new_email: Some("n<e>w@x.co".into()),
            pending,
            ..MailValues::default()
        };
        let pending = t
            .compose(
                MailKind::EmailChanged,
                &english(),
                "old@x.co",
                &changed(true),
            )
            .unwrap();
        assert_eq!(pending.subject, "Email Changed");
        assert_eq!(pending.to, "old@x.co");
        assert_eq!(
            pending.text,
            "Hello old@x.co!\n\nWe're contacting you to notify you that your email is being \
             changed to n<e>w@x.co.\n"
        );
        assert!(
            pending.html.contains("n&lt;e&gt;w@x.co"),
            "{}",
            pending.html
        );
        assert!(pending.html.contains("We&#39;re"), "{}", pending.html);
        let done = t
            .compose(
                MailKind::EmailChanged,
                &english(),
                "old@x.co",
                &changed(false),
            )
            .unwrap();
        assert!(
            done.text
                .contains("your email has been changed to n<e>w@x.co.")
        );
    }

    #[test]
    fn link_mails_have_devise_texts_and_escaped_html() {
        let t = templates();
        let link = "https://api.test/auth/confirmation?a=1&b=2";
        let mail = t
            .compose(
                MailKind::Confirmation,
                &english(),
                "a<b>@x.co",
                &MailValues::link(link),
            )
            .unwrap();
        assert_eq!(mail.subject, "Confirmation instructions");
        assert_eq!(
            mail.text,
            format!(
                "Welcome a<b>@x.co!\n\nYou can confirm your account email through the link \
                 below:\n\nConfirm my account: {link}\n"
            )
        );
        assert_eq!(mail.link, link);
        assert_eq!(
            mail.html,
            "<!DOCTYPE html>\n<html lang=\"en\"><body>\n<p>Welcome a&lt;b&gt;@x.co!</p>\n<p>You \
             can confirm your account email through the link below:</p>\n<p><a \
             href=\"https://api.test/auth/confirmation?a=1&amp;b=2\">Confirm my account</a></p>\n\
             </body></html>\n"
        );
        let reset = t
            .compose(
                MailKind::ResetPassword,
                &english(),
                "a@x.co",
                &MailValues::link("L"),
            )
            .unwrap();
        assert_eq!(reset.subject, "Reset password instructions");
        assert_eq!(
            reset.text,
            "Hello a@x.co!\n\nSomeone has requested a link to change your password. You can do \
             this through the link below.\n\nChange my password: L\n\nIf you didn't request \
             this, please ignore this email.\nYour password won't change until you access the \
             link above and create a new one.\n"
        );
        let unlock = t
            .compose(
                MailKind::Unlock,
                &english(),
                "a@x.co",
                &MailValues::link("L"),
            )
            .unwrap();
        assert_eq!(unlock.subject, "Unlock instructions");
        assert_eq!(
            unlock.text,
            "Hello a@x.co!\n\nYour account has been locked due to an excessive number of \
             unsuccessful sign in attempts.\n\nClick the link below to unlock your \
             account:\n\nUnlock my account: L\n"
        );
    }

    #[test]
    fn every_builtin_mail_renders_in_every_shipped_language_without_english_leftovers() {
        let catalog = Arc::new(Catalog::shipped());
        let t = MailTemplates::builtin(catalog.clone());
        let english = |kind| {
            t.compose(kind, &Audience::default(), "r@x.co", &sample_values(kind))
                .unwrap()
        };
        for tag in catalog.tags().into_iter().filter(|t| t != "en") {
            let locale = catalog.matching(&tag.parse().unwrap()).unwrap();
            for kind in MailKind::ALL {
                let mail = t
                    .compose(
                        kind,
                        &Audience::new(locale.clone()),
                        "r@x.co",
                        &sample_values(kind),
                    )
                    .unwrap();
                let en = english(kind);
                assert_ne!(mail.subject, en.subject, "{tag} {kind:?}");
                assert_ne!(mail.text, en.text, "{tag} {kind:?}");
                assert!(mail.html.contains(&format!("lang=\"{tag}\"")), "{tag}");
                assert!(mail.text.contains("r@x.co"), "{tag} {kind:?}");
                if let Some(link) = sample_values(kind).link {
                    assert!(mail.text.contains(&link), "{tag} {kind:?}");
                    assert!(mail.html.contains(&escape_html(&link)), "{tag} {kind:?}");
                }
            }
        }
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn load(dir: &tempfile::TempDir) -> Result<MailTemplates, TemplateError> {
        MailTemplates::load(Some(dir.path()), Arc::new(Catalog::shipped()))
    }

    fn reader(tag: &str) -> Audience {
        Audience::new(Catalog::shipped().negotiate(Some(tag), None))
    }

    #[test]
    fn overrides_apply_per_language_and_user_type_in_one_language_per_mail() {
        let dir = dir_with(&[
            ("default/en/confirmation.subject", "Welcome to Acme\n"),
            (
                "default/en/confirmation.html",
                "<p>{{ email }} → {{ link }}</p><p>{{ t(\"mail-confirmation-link\") }}</p>\n",
            ),
            (
                "admin/de/confirmation.text",
                "Hallo Admin {{ email }}: {{ link }} ({{ user_type }}, {{ locale }})\n",
            ),
            (
                "default/pt/unlock.subject",
                "{{ t(\"mail-unlock-subject\") }} (Acme)\n",
            ),
        ]);
        let t = load(&dir).unwrap();
        let link = MailValues::link("https://x.test/?a=1&b=2");
        let mail =
            |audience: &Audience, kind| t.compose(kind, audience, "a<b>@x.co", &link).unwrap();

        // English: the app's subject and HTML (escaped), the built-in text.
        let en = mail(&reader("en"), MailKind::Confirmation);
        assert_eq!(en.subject, "Welcome to Acme");
        assert_eq!(
            en.html,
            "<p>a&lt;b&gt;@x.co → https://x.test/?a=1&amp;b=2</p><p>Confirm my account</p>\n"
        );
        assert!(en.text.starts_with("Welcome a<b>@x.co!"), "{}", en.text);

        // An admin reading German gets the admin's German text, the German built-ins beside it.
        let admin = mail(&reader("de").of_type("admin"), MailKind::Confirmation);
        assert_eq!(
            admin.text,
            "Hallo Admin a<b>@x.co: https://x.test/?a=1&b=2 (admin, de)\n"
        );
        assert_eq!(admin.subject, "Anleitung zur Bestätigung Ihres Kontos");

        // Any other German reader: no German confirmation of theirs, so the app's English one.
        let de = mail(&reader("de"), MailKind::Confirmation);
        assert_eq!(de.subject, "Welcome to Acme");
        assert!(de.text.starts_with("Welcome a<b>@x.co!"), "{}", de.text);

        // A kind the app did not write stays built-in, in the reader's language.
        let unlock = mail(&reader("de"), MailKind::Unlock);
        assert_eq!(unlock.subject, "Anleitung zum Entsperren Ihres Kontos");

        // `pt` files serve a pt-BR reader (locale → language).
        let pt = mail(&reader("pt-BR"), MailKind::Unlock);
        assert_eq!(pt.subject, "Instruções de desbloqueio (Acme)");
    }

    fn refusal(files: &[(&str, &str)]) -> String {
        load(&dir_with(files)).unwrap_err().to_string()
    }

    #[test]
    fn bad_templates_stop_startup_with_file_and_line() {
        let err = refusal(&[("default/en/unlock.text", "Hi\n{{ email }\n")]);
        assert!(err.contains("default/en/unlock.text:2"), "{err}");
        assert!(err.contains("syntax error"), "{err}");

        let err = refusal(&[("default/de/confirmation.text", "Hallo\n\n{{ token }}\n")]);
        assert!(err.contains("default/de/confirmation.text:3"), "{err}");
        assert!(err.contains("unknown variable `token`"), "{err}");

        // Only the kind's own values: a notice has no link.
        let err = refusal(&[(
            "default/en/password_change.html",
            "<a href=\"{{ link }}\">x</a>\n",
        )]);
        assert!(err.contains("password_change.html:1"), "{err}");
        assert!(err.contains("`link`"), "{err}");

        // Caught by the sample render: a message no language has.
        let err = refusal(&[("x/fr/unlock.subject", "\n{{ t(\"no-such-message\") }}\n")]);
        assert!(err.contains("x/fr/unlock.subject:2"), "{err}");
        assert!(err.contains("no-such-message"), "{err}");

        for misnamed in [
            "default/en/confirmation.txt",
            "default/en/welcome.text",
            "default/english!/unlock.text",
            "default/unlock.text",
            "bad type/en/unlock.text",
        ] {
            let err = refusal(&[(misnamed, "x\n")]);
            assert!(
                err.contains("expected <type>/<locale>/<kind>.<part>"),
                "{misnamed}: {err}"
            );
        }
        // Editors' hidden files are no templates.
        assert!(load(&dir_with(&[("default/en/.unlock.text.swp", "x")])).is_ok());
    }
}
