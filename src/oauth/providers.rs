//! Provider definitions: the GitHub, Google and Facebook presets with their real endpoints,
//! scopes and profile fields, and generic OAuth2 / OpenID Connect providers, all resolved from
//! `[oauth.<name>]` settings. Every preset URL can be overridden.

use crate::config::{
    oauth::{OAuthProviderSettings, ProviderKind, ResponseMode},
    secret::Secret,
};

/// Which profile field gives each user attribute (dotted paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub uid: String,
    pub email: String,
    pub email_verified: Option<String>,
    pub name: String,
    pub nickname: Option<String>,
    pub image: Option<String>,
}

/// A provider with every default applied. URLs left `None` come from OIDC discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Secret,
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub emails_url: Option<String>,
    pub scopes: Vec<String>,
    pub fields: Fields,
    pub pkce: bool,
    /// Client ids whose tokens the native exchange accepts: `client_id`, then `audiences`.
    pub audiences: Vec<String>,
    /// Where the native exchange asks who an access token was issued to (docs/decisions.md
    /// D13); for `oidc` providers discovery may supply it.
    pub introspection_url: Option<String>,
    pub response_mode: ResponseMode,
    /// Every e-mail the provider gives is verified (docs/decisions.md D13, README).
    pub emails_verified: bool,
}

/// How a provider says which app an access token was issued to (docs/decisions.md D13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// `POST /applications/{client_id}/token`, HTTP Basic with the app's credentials.
    GithubCheckToken,
    /// `GET tokeninfo?access_token=…`.
    GoogleTokeninfo,
    /// `GET debug_token?input_token=…&access_token=<app_id>|<app_secret>`.
    FacebookDebugToken,
    /// RFC 7662: `POST token=…` with the client's credentials.
    Introspection,
}

impl ProviderConfig {
    pub fn token_check(&self) -> TokenCheck {
        match self.kind {
            ProviderKind::Github => TokenCheck::GithubCheckToken,
            ProviderKind::GoogleOauth2 => TokenCheck::GoogleTokeninfo,
            ProviderKind::Facebook => TokenCheck::FacebookDebugToken,
            ProviderKind::Oidc | ProviderKind::Oauth2 => TokenCheck::Introspection,
        }
    }

    /// Whether `client_id` is this app's (or one of `audiences`).
    pub fn accepts_client(&self, client_id: &str) -> bool {
        self.audiences.iter().any(|a| a == client_id)
    }
}

/// Path segments the provider route `/auth/:provider` must not shadow.
const RESERVED: &[&str] = &[
    "sign_in",
    "sign_out",
    "sign_up",
    "validate_token",
    "password",
    "confirmation",
    "unlock",
    "failure",
    "edit",
    "cancel",
];

/// What a provider kind brings before settings override it.
struct Preset {
    issuer: Option<&'static str>,
    authorize_url: Option<&'static str>,
    token_url: Option<&'static str>,
    userinfo_url: Option<&'static str>,
    emails_url: Option<&'static str>,
    introspection_url: Option<&'static str>,
    scopes: &'static [&'static str],
    fields: PresetFields,
    emails_verified: bool,
}

/// `Fields` with static names, so presets can be constants.
struct PresetFields {
    uid: &'static str,
    email: &'static str,
    email_verified: Option<&'static str>,
    name: &'static str,
    nickname: Option<&'static str>,
    image: Option<&'static str>,
}

/// OpenID Connect's standard claims.
const OIDC_FIELDS: PresetFields = PresetFields {
    uid: "sub",
    email: "email",
    email_verified: Some("email_verified"),
    name: "name",
    nickname: Some("preferred_username"),
    image: Some("picture"),
};

impl Preset {
    const NONE: Preset = Preset {
        issuer: None,
        authorize_url: None,
        token_url: None,
        userinfo_url: None,
        emails_url: None,
        introspection_url: None,
        scopes: &[],
        fields: OIDC_FIELDS,
        emails_verified: false,
    };

    fn of(kind: ProviderKind) -> Preset {
        match kind {
            ProviderKind::Github => Preset {
                authorize_url: Some("https://github.com/login/oauth/authorize"),
                token_url: Some("https://github.com/login/oauth/access_token"),
                userinfo_url: Some("https://api.github.com/user"),
                emails_url: Some("https://api.github.com/user/emails"),
                introspection_url: Some("https://api.github.com/applications/{client_id}/token"),
                scopes: &["user:email"],
                fields: PresetFields {
                    uid: "id",
                    email: "email",
                    // Written from the e-mail list (`profile::apply_email_list`).
                    email_verified: Some("email_verified"),
                    name: "name",
                    nickname: Some("login"),
                    image: Some("avatar_url"),
                },
                ..Preset::NONE
            },
            ProviderKind::GoogleOauth2 => Preset {
                issuer: Some("https://accounts.google.com"),
                introspection_url: Some("https://oauth2.googleapis.com/tokeninfo"),
                scopes: &["openid", "email", "profile"],
                fields: PresetFields {
                    uid: "sub",
                    email: "email",
                    email_verified: Some("email_verified"),
                    name: "name",
                    nickname: None,
                    image: Some("picture"),
                },
                ..Preset::NONE
            },
            ProviderKind::Facebook => Preset {
                authorize_url: Some("https://www.facebook.com/v19.0/dialog/oauth"),
                token_url: Some("https://graph.facebook.com/v19.0/oauth/access_token"),
                userinfo_url: Some("https://graph.facebook.com/me?fields=id,name,email,picture"),
                introspection_url: Some("https://graph.facebook.com/debug_token"),
                scopes: &["email", "public_profile"],
                fields: PresetFields {
                    uid: "id",
                    email: "email",
                    email_verified: None,
                    name: "name",
                    nickname: None,
                    image: Some("picture.data.url"),
                },
                // Facebook leaves `email` out until its owner has confirmed the address, and
                // has no flag saying so.
                emails_verified: true,
                ..Preset::NONE
            },
            ProviderKind::Oidc => Preset {
                scopes: &["openid", "email", "profile"],
                ..Preset::NONE
            },
            ProviderKind::Oauth2 => Preset::NONE,
        }
    }

    fn fields(&self) -> Fields {
        let f = &self.fields;
        Fields {
            uid: f.uid.into(),
            email: f.email.into(),
            email_verified: f.email_verified.map(Into::into),
            name: f.name.into(),
            nickname: f.nickname.map(Into::into),
            image: f.image.map(Into::into),
        }
    }
}

/// Applies presets and defaults to one `[oauth.<name>]` table, checking what it needs.
pub fn resolve(name: &str, s: &OAuthProviderSettings) -> Result<ProviderConfig, String> {
    let well_formed = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err("provider names are lower-case letters, digits and `_`".into());
    }
    if RESERVED.contains(&name) {
        return Err(format!("`{name}` is one of toker's own routes"));
    }
    if s.client_id.trim().is_empty() {
        return Err("client_id is required".into());
    }
    let kind = s.kind.unwrap_or(match name {
        "github" => ProviderKind::Github,
        "google_oauth2" => ProviderKind::GoogleOauth2,
        "facebook" => ProviderKind::Facebook,
        _ if s.issuer.is_some() => ProviderKind::Oidc,
        _ => ProviderKind::Oauth2,
    });
    let preset = Preset::of(kind);
    let defaults = preset.fields();
    let pick =
        |given: &Option<String>, preset: Option<&str>| given.clone().or(preset.map(Into::into));
    let config = ProviderConfig {
        name: name.to_string(),
        kind,
        client_id: s.client_id.clone(),
        client_secret: s.client_secret.clone(),
        issuer: pick(&s.issuer, preset.issuer),
        authorize_url: pick(&s.authorize_url, preset.authorize_url),
        token_url: pick(&s.token_url, preset.token_url),
        userinfo_url: pick(&s.userinfo_url, preset.userinfo_url),
        jwks_url: s.jwks_url.clone(),
        emails_url: pick(&s.emails_url, preset.emails_url),
        scopes: s
            .scopes
            .clone()
            .unwrap_or_else(|| preset.scopes.iter().map(|s| s.to_string()).collect()),
        fields: Fields {
            uid: s.uid_field.clone().unwrap_or(defaults.uid),
            email: s.email_field.clone().unwrap_or(defaults.email),
            email_verified: s.email_verified_field.clone().or(defaults.email_verified),
            name: s.name_field.clone().unwrap_or(defaults.name),
            nickname: s.nickname_field.clone().or(defaults.nickname),
            image: s.image_field.clone().or(defaults.image),
        },
        pkce: s.pkce.unwrap_or(true),
        audiences: std::iter::once(s.client_id.clone())
            .chain(s.audiences.iter().cloned())
            .collect(),
        introspection_url: pick(&s.introspection_url, preset.introspection_url).map(|url| {
            let id = url::form_urlencoded::byte_serialize(s.client_id.as_bytes())
                .collect::<String>()
                .replace('+', "%20");
            url.replace("{client_id}", &id)
        }),
        response_mode: s.response_mode.unwrap_or_default(),
        emails_verified: s.emails_verified.unwrap_or(preset.emails_verified),
    };
    let discovered = config.issuer.is_some();
    for (setting, url) in [
        ("issuer", &config.issuer),
        ("authorize_url", &config.authorize_url),
        ("token_url", &config.token_url),
        ("userinfo_url", &config.userinfo_url),
        ("jwks_url", &config.jwks_url),
        ("emails_url", &config.emails_url),
        ("introspection_url", &config.introspection_url),
    ] {
        if let Some(url) = url
            && !crate::redirect::is_absolute_http_url(url)
        {
            return Err(format!("{setting} must be an absolute http(s) URL"));
        }
    }
    if !discovered
        && (config.authorize_url.is_none()
            || config.token_url.is_none()
            || config.userinfo_url.is_none())
    {
        return Err(
            "set `issuer` (OpenID Connect discovery) or all of authorize_url, token_url and userinfo_url"
                .into(),
        );
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(id: &str) -> OAuthProviderSettings {
        OAuthProviderSettings {
            client_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn presets_come_from_the_name_and_can_be_overridden() {
        let github = resolve("github", &settings("abc")).unwrap();
        assert_eq!(github.kind, ProviderKind::Github);
        assert_eq!(
            github.token_url.as_deref(),
            Some("https://github.com/login/oauth/access_token")
        );
        assert_eq!(github.fields.nickname.as_deref(), Some("login"));
        let mut s = settings("abc");
        s.userinfo_url = Some("http://127.0.0.1:9/user".into());
        assert_eq!(
            resolve("github", &s).unwrap().userinfo_url.as_deref(),
            Some("http://127.0.0.1:9/user")
        );
        let google = resolve("google_oauth2", &settings("abc")).unwrap();
        assert_eq!(
            google.issuer.as_deref(),
            Some("https://accounts.google.com")
        );
        let facebook = resolve("facebook", &settings("abc")).unwrap();
        assert_eq!(facebook.fields.image.as_deref(), Some("picture.data.url"));
    }

    #[test]
    fn introspection_urls_come_from_presets_name_the_client_and_must_be_http() {
        let github = resolve("github", &settings("Iv1.ab/c?d e")).unwrap();
        assert_eq!(
            github.introspection_url.as_deref(),
            Some("https://api.github.com/applications/Iv1.ab%2Fc%3Fd%20e/token")
        );
        let mut s = settings("abc");
        s.introspection_url = Some("http://127.0.0.1:9/apps/{client_id}/token".into());
        assert_eq!(
            resolve("github", &s).unwrap().introspection_url.as_deref(),
            Some("http://127.0.0.1:9/apps/abc/token")
        );
        for hostile in ["javascript:alert(1)", "file:///etc/passwd", "/relative", ""] {
            s.introspection_url = Some(hostile.into());
            let err = resolve("github", &s).unwrap_err();
            assert!(err.contains("introspection_url"), "{hostile}: {err}");
        }
        assert_eq!(
            resolve(
                "forge",
                &OAuthProviderSettings {
                    authorize_url: Some("https://f.example/a".into()),
                    token_url: Some("https://f.example/t".into()),
                    userinfo_url: Some("https://f.example/u".into()),
                    ..settings("abc")
                }
            )
            .unwrap()
            .introspection_url,
            None
        );
        assert_eq!(
            resolve("google_oauth2", &settings("abc"))
                .unwrap()
                .token_check(),
            TokenCheck::GoogleTokeninfo
        );
    }

    #[test]
    fn only_facebook_vouches_for_every_address_unless_told_otherwise() {
        assert!(
            resolve("facebook", &settings("abc"))
                .unwrap()
                .emails_verified
        );
        assert!(!resolve("github", &settings("abc")).unwrap().emails_verified);
        let mut s = settings("abc");
        s.emails_verified = Some(false);
        assert!(!resolve("facebook", &s).unwrap().emails_verified);
    }

    #[test]
    fn generic_providers_need_an_issuer_or_urls() {
        assert!(resolve("corp", &settings("abc")).is_err());
        let mut s = settings("abc");
        s.issuer = Some("https://idp.example.com".into());
        assert_eq!(resolve("corp", &s).unwrap().kind, ProviderKind::Oidc);
        assert!(resolve("sign_in", &s).is_err());
        assert!(resolve("Corp", &s).is_err());
        assert!(resolve("corp", &settings(" ")).is_err());
    }
}
