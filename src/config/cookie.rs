//! Cookie mode's settings (docs/contract.md §3.11, docs/decisions.md D7, D15): devise_token_auth's
//! `cookie_enabled`, `cookie_name` and `cookie_attributes`, but with safe attributes when unset —
//! DTA passes an empty attribute hash to Rails, which makes a cookie neither `Secure` nor
//! `HttpOnly`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Settings, invalid};

/// `SameSite` of the auth cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// `cookie_attributes`: unset values are chosen from the other settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieAttributes {
    /// `Domain`: unset = this host only (required for a `__Host-` name).
    pub domain: Option<String>,
    pub path: String,
    /// Unset: `Secure` when `public_url` is https.
    pub secure: Option<bool>,
    pub httponly: bool,
    /// Unset: `Lax` when every `cors_origins` entry is on `public_url`'s site, else `None`.
    pub same_site: Option<SameSite>,
    /// CHIPS: the cookie is kept per top-level site, so it survives third-party cookie blocking.
    pub partitioned: bool,
}

impl Default for CookieAttributes {
    fn default() -> Self {
        CookieAttributes {
            domain: None,
            path: "/".into(),
            secure: None,
            httponly: true,
            same_site: None,
            partitioned: false,
        }
    }
}

/// The cookie as it will be written: every attribute decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    pub name: String,
    pub domain: Option<String>,
    pub path: String,
    pub secure: bool,
    pub httponly: bool,
    pub same_site: SameSite,
    pub partitioned: bool,
}

impl CookieSpec {
    /// `; Path=/; Secure; …`: everything after `name=value`.
    pub fn attributes(&self) -> String {
        let mut out = String::new();
        if let Some(domain) = &self.domain {
            out.push_str(&format!("; Domain={domain}"));
        }
        out.push_str(&format!("; Path={}", self.path));
        if self.secure {
            out.push_str("; Secure");
        }
        if self.httponly {
            out.push_str("; HttpOnly");
        }
        out.push_str(&format!("; SameSite={}", self.same_site.as_str()));
        if self.partitioned {
            out.push_str("; Partitioned");
        }
        out
    }
}

/// `(scheme, registrable domain or host)` of an origin or URL: what browsers call its site.
fn site_of(url: &str) -> Option<(String, String)> {
    // A pattern's `*` stands for host characters; any label keeps the site the same.
    let url = url::Url::parse(&url.replace('*', "x")).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let site = psl::domain_str(&host).unwrap_or(&host).to_string();
    Some((url.scheme().to_string(), site))
}

/// A cookie name: an RFC 6265 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Settings {
    /// The auth cookie with its defaults decided, or why the combination cannot work in a
    /// browser.
    pub fn cookie_spec(&self) -> Result<CookieSpec, ConfigError> {
        let a = &self.cookie_attributes;
        let name = self.cookie_name.as_str();
        if !is_token(name) {
            return Err(invalid(
                "cookie_name",
                "must be a cookie name of letters, digits and -_.!#$%&'*+^`|~ (at most 64)",
            ));
        }
        let public = self.public_url();
        let secure = a.secure.unwrap_or(public.starts_with("https://"));
        let own_site = site_of(&public);
        let cross_site = self.cors_origins.iter().any(|o| site_of(o) != own_site);
        let same_site = a.same_site.unwrap_or(if cross_site {
            SameSite::None
        } else {
            SameSite::Lax
        });
        if let Some(domain) = &a.domain {
            let bare = domain.trim_start_matches('.');
            if bare.is_empty()
                || !bare
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err(invalid(
                    "cookie_attributes",
                    "`domain` must be a host name like example.com",
                ));
            }
        }
        if !a.path.starts_with('/') || a.path.contains(|c: char| c == ';' || c.is_control()) {
            return Err(invalid(
                "cookie_attributes",
                "`path` must start with `/` and hold no `;`",
            ));
        }
        let needs_secure = if same_site == SameSite::None && a.same_site.is_none() {
            Some(
                "a cors_origins entry is on another site than public_url, so the cookie needs \
                 SameSite=None, which browsers accept only with Secure: serve toker over https \
                 (public_url) or set cookie_attributes.same_site",
            )
        } else if same_site == SameSite::None {
            Some("SameSite=None needs `secure = true` (browsers drop it otherwise)")
        } else if a.partitioned {
            Some("`partitioned = true` needs `secure = true`")
        } else if name.starts_with("__Secure-") || name.starts_with("__Host-") {
            Some("a `__Secure-` or `__Host-` name needs `secure = true`")
        } else {
            None
        };
        if let Some(problem) = needs_secure.filter(|_| !secure) {
            return Err(invalid("cookie_attributes", problem));
        }
        if name.starts_with("__Host-") && (a.domain.is_some() || a.path != "/") {
            return Err(invalid(
                "cookie_name",
                "a `__Host-` cookie must have no `domain` and `path = \"/\"`",
            ));
        }
        Ok(CookieSpec {
            name: name.to_string(),
            domain: a.domain.clone(),
            path: a.path.clone(),
            secure,
            httponly: a.httponly,
            same_site,
            partitioned: a.partitioned,
        })
    }

    /// The browser session cookie: the attributes of `cookie_attributes`, named
    /// `session_cookie_name`, with the `__Host-` prefix whenever the cookie qualifies for it
    /// (so a sibling subdomain cannot plant or overwrite it).
    pub fn session_cookie_spec(&self) -> Result<CookieSpec, ConfigError> {
        let named = Settings {
            cookie_name: self.session_cookie_name.clone(),
            ..self.clone()
        };
        let mut spec = named.cookie_spec().map_err(|e| match e {
            ConfigError::Invalid {
                setting: "cookie_name",
                problem,
            } => invalid("session_cookie_name", problem),
            other => other,
        })?;
        let prefixed = spec.name.starts_with("__Host-") || spec.name.starts_with("__Secure-");
        if spec.secure && spec.domain.is_none() && spec.path == "/" && !prefixed {
            spec.name = format!("__Host-{}", spec.name);
        }
        Ok(spec)
    }

    pub(super) fn validate_cookie(&self) -> Result<(), ConfigError> {
        if self.cookie_enabled {
            self.cookie_spec()?;
        }
        if !self.session_enabled {
            return Ok(());
        }
        self.session_cookie_spec()?;
        let p = &self.session_path;
        if !p.starts_with('/')
            || p.len() < 2
            || p.ends_with('/')
            || p.contains(['?', '#', ' ', '{', '}', ':'])
        {
            return Err(invalid(
                "session_path",
                "must start with `/` and not end with `/` (for example `/session`)",
            ));
        }
        let clashes = |other: &str| {
            p == other || p.starts_with(&format!("{other}/")) || other.starts_with(&format!("{p}/"))
        };
        if ["/api", "/docs", "/health", "/ping", "/openapi.json"]
            .iter()
            .any(|o| clashes(o))
            || clashes(&self.mount_path)
            || clashes(&self.omniauth_prefix)
        {
            return Err(invalid(
                "session_path",
                "overlaps a path toker already serves (mount_path, omniauth_prefix, /docs, …)",
            ));
        }
        if self.session_lifetime == 0 || self.session_lifetime > self.token_lifespan {
            return Err(invalid(
                "session_lifetime",
                "must be between 1 second and token_lifespan (the session's device expires then)",
            ));
        }
        if !(60..=self.session_lifetime).contains(&self.session_idle_timeout) {
            return Err(invalid(
                "session_idle_timeout",
                "must be between 60 seconds and session_lifetime",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public: &str, origins: &[&str]) -> Settings {
        Settings {
            public_url: Some(public.into()),
            cors_origins: origins.iter().map(|s| s.to_string()).collect(),
            cookie_enabled: true,
            ..Settings::default()
        }
    }

    #[test]
    fn defaults_follow_public_url_and_origins() {
        let spec = settings("https://api.example.com", &["https://app.example.com"])
            .cookie_spec()
            .unwrap();
        assert_eq!(
            spec.attributes(),
            "; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let spec = settings("https://api.example.com", &["https://app.other.org"])
            .cookie_spec()
            .unwrap();
        assert_eq!(spec.same_site, SameSite::None);
        // co.uk is a public suffix: two shops under it are two sites.
        let spec = settings("https://api.a.co.uk", &["https://*.b.co.uk"])
            .cookie_spec()
            .unwrap();
        assert_eq!(spec.same_site, SameSite::None);
        let spec = settings("http://localhost:3000", &["http://localhost:8080"])
            .cookie_spec()
            .unwrap();
        assert!(!spec.secure);
        assert_eq!(spec.same_site, SameSite::Lax);
    }

    #[test]
    fn unsafe_combinations_are_refused() {
        assert!(
            settings("http://api.example.com", &["https://app.other.org"])
                .cookie_spec()
                .is_err()
        );
        let mut s = settings("https://api.example.com", &[]);
        s.cookie_name = "__Host-auth".into();
        s.cookie_attributes.domain = Some("example.com".into());
        assert!(s.cookie_spec().is_err());
        for name in ["", "a b", "a;b", "a=b", "é"] {
            s.cookie_name = name.into();
            assert!(s.cookie_spec().is_err(), "{name}");
        }
        let mut s = settings("http://localhost:3000", &[]);
        s.cookie_attributes.partitioned = true;
        assert!(s.cookie_spec().is_err());
        s.cookie_attributes.partitioned = false;
        s.cookie_attributes.path = "/a;b".into();
        assert!(s.cookie_spec().is_err());
    }
}
