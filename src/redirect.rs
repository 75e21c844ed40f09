//! Redirects to frontends: the whitelist every redirect parameter passes through (docs/decisions.md
//! D5, docs/contract.md §2.0.7) and devise_token_auth's redirect URL builder (docs/contract.md §2.0.6).

use regex::{Regex, RegexBuilder};

/// `redirect_whitelist`, compiled. Patterns are anchored at both ends and case-insensitive, as
/// DTA's; unlike DTA's, `*` never matches across `/`, `:` or `@`, so `https://*.example.com`
/// cannot be satisfied by `https://evil.test/.example.com` or `https://x@evil.test`.
#[derive(Debug, Clone)]
pub struct Whitelist {
    patterns: Vec<Regex>,
}

impl Whitelist {
    pub fn new(patterns: &[String]) -> Result<Whitelist, String> {
        let patterns = patterns
            .iter()
            .map(|p| {
                if p.trim().is_empty() {
                    return Err("patterns must not be empty".to_string());
                }
                let body = p
                    .split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join("[^/:@?#]*");
                RegexBuilder::new(&format!(r"\A{body}\z"))
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("pattern `{p}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Whitelist { patterns })
    }

    pub fn allows(&self, url: &str) -> bool {
        // A URL with control characters (a newline slipped past Ruby's line anchors) never passes.
        !url.chars().any(char::is_control) && self.patterns.iter().any(|p| p.is_match(url))
    }
}

/// The redirect policy: no whitelist configured means every URL passes (DTA's `nil`).
#[derive(Debug, Clone, Default)]
pub struct RedirectPolicy {
    whitelist: Option<Whitelist>,
}

impl RedirectPolicy {
    pub fn new(patterns: Option<&Vec<String>>) -> Result<RedirectPolicy, String> {
        Ok(RedirectPolicy {
            whitelist: patterns.map(|p| Whitelist::new(p)).transpose()?,
        })
    }

    pub fn allows(&self, url: &str) -> bool {
        self.whitelist.as_ref().is_none_or(|w| w.allows(url))
    }
}

/// A frontend redirect parameter after the rules: given (or the configured default), absolute
/// and allowed by the whitelist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Url(String),
    Missing,
    NotAllowed(String),
}

impl RedirectPolicy {
    /// Resolves `given` (empty counts as absent) or `default` into a [`Target`].
    pub fn target(&self, given: Option<String>, default: Option<&String>) -> Target {
        let Some(url) = given.filter(|u| !u.is_empty()).or_else(|| default.cloned()) else {
            return Target::Missing;
        };
        if !is_absolute_http_url(&url) || !self.allows(&url) {
            return Target::NotAllowed(url);
        }
        Target::Url(url)
    }
}

/// Whether `url` can be redirected to at all: an absolute http(s) URL with a host.
pub fn is_absolute_http_url(url: &str) -> bool {
    matches!(url::Url::parse(url), Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Builds DTA's redirect URL: query keys sorted, a `?` always, the target's own query kept, and
/// when the target has a fragment the whole query repeated after it, for hash-routed apps.
/// `target` must be absolute (see [`is_absolute_http_url`]).
pub fn build_redirect_url(target: &str, params: &[(&str, Option<&str>)]) -> String {
    let parts = split_url(target);
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", cgi_escape(k), cgi_escape(v.unwrap_or(""))))
        .collect();
    pairs.sort();
    let query = [parts.query.unwrap_or(""), &pairs.join("&")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    let port = match parts.port {
        Some(p) if p != "80" && p != "443" => format!(":{p}"),
        _ => String::new(),
    };
    let mut url = format!(
        "{}://{}{}{}?{}",
        parts.scheme, parts.host, port, parts.path, query
    );
    if let Some(fragment) = parts.fragment {
        url.push('#');
        url.push_str(fragment);
        url.push('?');
        url.push_str(&query);
    }
    url
}

struct UrlParts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Splits an absolute URL into its raw parts; unlike `url::Url` it keeps an empty path empty,
/// which DTA's output depends on (`http://example.com?x=1#frag?x=1`).
fn split_url(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (rest, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (before_fragment, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    // User-info is dropped, as DTA does.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if host_port.starts_with('[') {
        match host_port.rsplit_once("]:") {
            Some((h, p)) => (&host_port[..h.len() + 1], Some(p)),
            None => (host_port, None),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    UrlParts {
        scheme,
        host,
        port: port.filter(|p| !p.is_empty()),
        path,
        query: query.filter(|q| !q.is_empty()),
        fragment,
    }
}

/// Ruby's `CGI.escape`: everything but `A-Z a-z 0-9 - _ . ~` percent-encoded, space as `+`.
pub fn cgi_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The credentials a redirect to a frontend carries (docs/contract.md §2.0.6 "redirect headers"):
/// `access-token` and `client` (named per `headers_names`), their legacy twins `token` and
/// `client_id` that ng-token-auth and angular-token read, `config`, `expiry` and `uid`.
pub fn credential_params(
    names: &crate::contract::headers::HeaderNames,
    token: &str,
    client: &str,
    expiry: i64,
    uid: &str,
    config: Option<&str>,
) -> Vec<(String, Option<String>)> {
    vec![
        (names.access_token.clone(), Some(token.to_string())),
        (names.client.clone(), Some(client.to_string())),
        ("client_id".into(), Some(client.to_string())),
        ("config".into(), config.map(str::to_string)),
        ("expiry".into(), Some(expiry.to_string())),
        ("token".into(), Some(token.to_string())),
        ("uid".into(), Some(uid.to_string())),
    ]
}

/// `build_redirect_url` over owned pairs.
pub fn build_redirect_url_owned(target: &str, params: &[(String, Option<String>)]) -> String {
    let borrowed: Vec<(&str, Option<&str>)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    build_redirect_url(target, &borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_matches_devise_token_auth_examples() {
        assert_eq!(
            build_redirect_url("http://example.com#fragment", &[("client_id", Some("123"))]),
            "http://example.com?client_id=123#fragment?client_id=123"
        );
        assert_eq!(
            build_redirect_url(
                "https://app.example.com:443/login?a=1",
                &[
                    ("uid", Some("a b@x.com")),
                    ("config", None),
                    ("blank", Some("true"))
                ]
            ),
            "https://app.example.com/login?a=1&blank=true&config=&uid=a+b%40x.com"
        );
        assert_eq!(
            build_redirect_url("http://u:p@localhost:8080/x", &[("k", Some("v"))]),
            "http://localhost:8080/x?k=v"
        );
    }

    #[test]
    fn pairs_sort_by_encoded_text() {
        let url = build_redirect_url(
            "https://a.test/r",
            &[
                ("token", Some("t")),
                ("access-token", Some("t")),
                ("client_id", Some("c")),
                ("client", Some("c")),
            ],
        );
        assert_eq!(
            url,
            "https://a.test/r?access-token=t&client=c&client_id=c&token=t"
        );
    }

    #[test]
    fn whitelist_is_anchored_and_stars_stay_inside_a_segment() {
        let w = Whitelist::new(&[
            "https://*.example.com".to_string(),
            "http://localhost:*/confirmed".to_string(),
        ])
        .unwrap();
        assert!(w.allows("https://app.example.com"));
        assert!(w.allows("HTTPS://APP.example.com"));
        assert!(w.allows("http://localhost:4200/confirmed"));
        assert!(!w.allows("https://evil.test/.example.com"));
        assert!(!w.allows("https://x@evil.test?.example.com"));
        assert!(!w.allows("https://app.example.com.evil.test"));
        assert!(!w.allows("https://app.example.com/\nx"));
        assert!(!w.allows("http://localhost:4200/confirmed/extra"));
        assert!(!w.allows("https://evil.test:1/.example.com"));
    }

    #[test]
    fn no_whitelist_allows_everything() {
        assert!(
            RedirectPolicy::new(None)
                .unwrap()
                .allows("https://anything.test")
        );
    }
}
