//! `[oauth.<name>]` tables: the OAuth2 / OpenID Connect providers as configured. The presets
//! and defaults are applied by `oauth::providers`.

use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// What kind of OAuth provider an `[oauth.<name>]` table describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Github,
    GoogleOauth2,
    Facebook,
    /// Any OAuth2 provider: `authorize_url`, `token_url` and `userinfo_url` given.
    Oauth2,
    /// Any OpenID Connect provider: `issuer` given (discovery), or explicit URLs.
    Oidc,
}

/// How the provider returns the user to the callback (OAuth 2.0 response modes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// `code` and `state` in the callback URL's query (a GET); nothing is sent to ask for it.
    #[default]
    Query,
    /// `response_mode=form_post`: the provider's page posts `code` and `state` to the callback
    /// (Apple). The browser-binding cookie then needs `SameSite=None`.
    FormPost,
}

/// One `[oauth.<name>]` table: `<name>` is the path segment (`/auth/<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthProviderSettings {
    /// `github`, `google_oauth2`, `facebook`, `oauth2` or `oidc`; defaults to the preset of the
    /// same name, else `oidc` when `issuer` is set, else `oauth2`.
    pub kind: Option<ProviderKind>,
    pub client_id: String,
    pub client_secret: Secret,
    /// OpenID Connect issuer; its discovery document supplies the URLs not given here.
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    /// GitHub's e-mail list, used when the profile hides the e-mail.
    pub emails_url: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Profile fields (dotted paths like `picture.data.url`) giving each user attribute.
    pub uid_field: Option<String>,
    pub email_field: Option<String>,
    pub email_verified_field: Option<String>,
    pub name_field: Option<String>,
    pub nickname_field: Option<String>,
    pub image_field: Option<String>,
    /// Send a PKCE challenge (default true).
    pub pkce: Option<bool>,
    /// Further client ids whose id_tokens and access tokens `POST /auth/<name>/token` accepts
    /// (mobile apps).
    pub audiences: Vec<String>,
    /// Where `POST /auth/<name>/token` asks which app an access token was issued to: GitHub's
    /// check-token API, Google's tokeninfo, Facebook's debug_token (the presets), or an RFC 7662
    /// introspection endpoint (`oidc` / `oauth2`; discovery's `introspection_endpoint` by
    /// default). `{client_id}` in it stands for the client id.
    pub introspection_url: Option<String>,
    /// `query` (default) or `form_post`.
    pub response_mode: Option<ResponseMode>,
    /// The provider hands out verified e-mail addresses only, so every address it gives is
    /// stored; otherwise only those it marks verified are (`email_verified_field`, or GitHub's
    /// e-mail list). Default: `true` for the Facebook preset, else `false`.
    pub emails_verified: Option<bool>,
}

#[cfg(test)]
mod tests {
    use figment::{Figment, providers::Format as _, providers::Toml};

    use super::*;

    fn parse(toml: &str) -> Option<OAuthProviderSettings> {
        Figment::from(Toml::string(toml)).extract().ok()
    }

    #[test]
    fn response_mode_and_emails_verified_take_only_their_values() {
        let s = parse("client_id = \"a\"\nresponse_mode = \"form_post\"\nemails_verified = true")
            .unwrap();
        assert_eq!(s.response_mode, Some(ResponseMode::FormPost));
        assert_eq!(s.emails_verified, Some(true));
        assert_eq!(
            parse("response_mode = \"query\"").unwrap().response_mode,
            Some(ResponseMode::Query)
        );
        for bad in [
            "response_mode = \"fragment\"",
            "response_mode = \"FORM_POST\"",
            "response_mode = 1",
            "emails_verified = \"yes\"",
            "introspection_url = [\"x\"]",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
