//! Redirects to frontends: the rule every redirect parameter passes (docs/decisions.md D5,
//! docs/contract.md §2.0.7) and devise_token_auth's redirect URL builder (docs/contract.md §2.0.6).
//!
//! Everything here works on the URL as a browser reads it (the WHATWG parser of the `url`
//! crate), never on the raw text: a backslash, an `@`, a tab or an IDN host means to the matcher
//! what it means to the browser that follows the `Location`, and the `Location` itself is
//! written from that same parsed URL.

use url::{Host, Position, Url};

use crate::origins::OriginMatcher;

/// A redirect target as the browser will read it: an absolute `http`/`https` URL with a host.
/// Text with an ASCII control character is refused outright: the parser would silently drop
/// tabs and newlines, and no frontend sends them.
fn parse_target(url: &str) -> Option<Url> {
    if url.chars().any(|c| c.is_ascii_control()) {
        return None;
    }
    let parsed = Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some()).then_some(parsed)
}

/// Whether `url` can be redirected to at all: an absolute http(s) URL with a host.
pub fn is_absolute_http_url(url: &str) -> bool {
    parse_target(url).is_some()
}

/// The host part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host (a domain in lower-case ASCII/punycode, or an IP address).
    Exact(Host<String>),
    /// `*.suffix`: one or more whole labels in front of `suffix`.
    Subdomains(String),
}

/// One `redirect_whitelist` entry, parsed: `scheme://host[:port]` followed by an optional
/// path/query/fragment pattern where `*` matches anything.
#[derive(Debug, Clone)]
struct Pattern {
    scheme: String,
    host: HostPattern,
    /// The port, with the scheme's default filled in.
    port: u16,
    /// The text after the authority, normalised as the URL parser writes it, lower-cased and
    /// split at each `*`.
    rest: Vec<String>,
}

const HOST_STAR: &str = "`*` in a host stands only for whole leading labels, as in \
                         https://*.example.com/*";

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, String> {
        let text = text.trim();
        let bad = |why: &str| Err(format!("`{text}`: {why}"));
        if text.is_empty() {
            return Err("patterns must not be empty".into());
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return bad("must not contain spaces or control characters");
        }
        if text.contains('\\') {
            return bad("must not contain `\\` (browsers read it as `/`)");
        }
        let Some((scheme, after)) = text.split_once("://") else {
            return bad("must start with http:// or https://");
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return bad("must start with http:// or https://");
        }
        let (subdomains, after) = match after.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, after),
        };
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (mut authority, mut rest) = after.split_at(authority_end);
        // `https://app.example.com*` reads as `https://app.example.com/*`: the host is
        // matched apart, so this `*` can only ever cover what follows the authority.
        let mut any_rest = false;
        if let Some(a) = authority.strip_suffix('*')
            && rest.is_empty()
            && !a.ends_with(':')
        {
            authority = a;
            rest = "";
            any_rest = true;
        }
        if authority.contains('@') {
            return bad("must not contain user information (`@`)");
        }
        if authority.contains(":*") {
            return bad("ports are matched exactly: list each port instead of `:*`");
        }
        if authority.contains('*') || authority.is_empty() {
            return bad(HOST_STAR);
        }
        let Ok(origin) = Url::parse(&format!("{scheme}://{authority}/")) else {
            return bad("the host or port is not valid");
        };
        let (Some(host), Some(port)) = (origin.host(), origin.port_or_known_default()) else {
            return bad("the host or port is not valid");
        };
        let host = if subdomains {
            let Host::Domain(suffix) = host else {
                return bad(HOST_STAR);
            };
            // `*.co.uk` or `*.github.io` would admit every site under a public suffix.
            if psl::domain(suffix.as_bytes()).is_none() {
                return bad(
                    "`*.` must be followed by a registrable domain (such as example.com), \
                     not a public suffix",
                );
            }
            HostPattern::Subdomains(suffix.to_string())
        } else {
            HostPattern::Exact(host.to_owned())
        };
        let rest = if any_rest {
            "*".to_string()
        } else {
            // The parser normalises the pattern's path, query and fragment exactly as it does
            // a target's (percent-encoding, `..`), and leaves `*` alone.
            let Ok(parsed) = Url::parse(&format!("{scheme}://h.invalid{rest}")) else {
                return bad("the path, query or fragment is not valid");
            };
            let normalised = &parsed[Position::BeforePath..];
            if normalised.matches('*').count() != rest.matches('*').count() {
                return bad("the path, query or fragment is not valid");
            }
            normalised.to_string()
        };
        Ok(Pattern {
            scheme,
            host,
            port,
            rest: rest
                .to_ascii_lowercase()
                .split('*')
                .map(str::to_string)
                .collect(),
        })
    }

    fn matches(&self, url: &Url) -> bool {
        if url.scheme() != self.scheme || url.port_or_known_default() != Some(self.port) {
            return false;
        }
        let host_ok = match (&self.host, url.host()) {
            (HostPattern::Exact(want), Some(host)) => *want == host.to_owned(),
            (HostPattern::Subdomains(suffix), Some(Host::Domain(domain))) => domain
                .strip_suffix(suffix.as_str())
                .and_then(|labels| labels.strip_suffix('.'))
                .is_some_and(|labels| {
                    !labels.is_empty() && labels.split('.').all(|l| !l.is_empty())
                }),
            _ => false,
        };
        host_ok
            && glob(
                &self.rest,
                &url[Position::BeforePath..].to_ascii_lowercase(),
            )
    }
}

/// `*`-glob over `pieces` (the pattern split at its stars): anchored at both ends.
fn glob(pieces: &[String], text: &str) -> bool {
    let [first, middle @ .., last] = pieces else {
        return pieces.first().is_some_and(|p| p == text);
    };
    let Some(mut rest) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    for piece in middle {
        match rest.find(piece.as_str()) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

/// `redirect_whitelist`, parsed (docs/contract.md §2.0.7): scheme and port exact, host exact or
/// `*.` for one or more whole leading labels, and after the authority `*` matching anything,
/// `/`, `?` and `#` included.
#[derive(Debug, Clone)]
pub struct Whitelist {
    patterns: Vec<Pattern>,
}

impl Whitelist {
    pub fn new(patterns: &[String]) -> Result<Whitelist, String> {
        let patterns = patterns
            .iter()
            .map(|p| Pattern::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Whitelist { patterns })
    }

    pub fn allows(&self, url: &str) -> bool {
        parse_target(url).is_some_and(|u| self.patterns.iter().any(|p| p.matches(&u)))
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Whitelist(Whitelist),
    /// No whitelist configured: the origins this deployment already trusts.
    Origins {
        cors: OriginMatcher,
        public_origin: String,
    },
}

/// Where redirects may go: `redirect_whitelist` when it is set, otherwise only the origins of
/// `cors_origins` and `public_url` (docs/decisions.md D5).
#[derive(Debug, Clone)]
pub struct RedirectPolicy {
    rule: Rule,
    description: String,
}

impl RedirectPolicy {
    pub fn new(
        whitelist: Option<&Vec<String>>,
        cors_origins: &[String],
        public_url: &str,
    ) -> Result<RedirectPolicy, String> {
        if let Some(patterns) = whitelist {
            return Ok(RedirectPolicy {
                rule: Rule::Whitelist(Whitelist::new(patterns)?),
                description: format!("redirect_whitelist: {}", patterns.join(", ")),
            });
        }
        let cors = OriginMatcher::new(cors_origins)?;
        let public_origin = Url::parse(public_url)
            .map_err(|e| format!("public_url: {e}"))?
            .origin()
            .ascii_serialization();
        let mut origins: Vec<&str> = cors_origins.iter().map(String::as_str).collect();
        origins.push(&public_origin);
        let description = format!(
            "redirect_whitelist is not set: redirects go only to the origins of cors_origins \
             and public_url ({})",
            origins.join(", ")
        );
        Ok(RedirectPolicy {
            rule: Rule::Origins {
                cors,
                public_origin,
            },
            description,
        })
    }

    /// Whether `url` is an absolute http(s) URL this policy lets a browser be sent to.
    pub fn allows(&self, url: &str) -> bool {
        let Some(parsed) = parse_target(url) else {
            return false;
        };
        match &self.rule {
            Rule::Whitelist(w) => w.patterns.iter().any(|p| p.matches(&parsed)),
            Rule::Origins {
                cors,
                public_origin,
            } => {
                let origin = parsed.origin().ascii_serialization();
                origin == *public_origin || cors.allows(&origin)
            }
        }
    }

    /// One line for the startup log: what redirects are allowed.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

/// A frontend redirect parameter after the rules: given (or the configured default), absolute
/// and allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Allowed; the URL as the parser writes it (what every later step works on).
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
        match parse_target(&url) {
            Some(parsed) if self.allows(&url) => Target::Url(parsed.into()),
            _ => Target::NotAllowed(url),
        }
    }
}

/// Builds DTA's redirect URL from the parsed `target` (docs/contract.md §2.0.6): query keys
/// sorted, a `?` always, the target's own query kept, and when the target has a fragment the
/// whole query repeated after it, for hash-routed apps. Scheme, host (punycode), port, path,
/// query and fragment are written as the URL parser serialises them, so the result is ASCII
/// and goes where the whitelist looked. `target` must be absolute (see
/// [`is_absolute_http_url`]).
pub fn build_redirect_url(target: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", cgi_escape(k), cgi_escape(v.unwrap_or(""))))
        .collect();
    pairs.sort();
    let pairs = pairs.join("&");
    let Some(url) = parse_target(target) else {
        // Only a caller that skipped the rules gets here; the text then stays as given.
        debug_assert!(false, "redirect to a URL that is not absolute: {target}");
        return format!("{target}?{pairs}");
    };
    let query = [url.query().unwrap_or(""), &pairs]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    // User-info is dropped, as DTA does.
    let mut out = format!(
        "{}{}?{query}",
        &url[..Position::BeforeUsername],
        &url[Position::BeforeHost..Position::AfterPath]
    );
    if let Some(fragment) = url.fragment() {
        out.push('#');
        out.push_str(fragment);
        // A hash route with its own query (`#/reset?lang=en`) gets the parameters added to
        // it; DTA's second `?` would make them part of its last value.
        out.push(if fragment.contains('?') { '&' } else { '?' });
        out.push_str(&query);
    }
    out
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

    fn whitelist(patterns: &[&str]) -> Whitelist {
        Whitelist::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn builder_follows_devise_token_auth_on_the_parsed_url() {
        assert_eq!(
            build_redirect_url("http://example.com#fragment", &[("client_id", Some("123"))]),
            "http://example.com/?client_id=123#fragment?client_id=123"
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
    fn builder_writes_ascii_for_any_target() {
        let table = [
            // IDN host to punycode, non-ASCII path and fragment percent-encoded.
            (
                "https://bücher.example/straße#/ü",
                "https://xn--bcher-kva.example/stra%C3%9Fe?k=v#/%C3%BC?k=v",
            ),
            // A backslash is a slash to the browser.
            (
                "https://app.example.com\\x",
                "https://app.example.com/x?k=v",
            ),
            // Upper case scheme and host.
            (
                "HTTPS://APP.Example.COM/Path",
                "https://app.example.com/Path?k=v",
            ),
            // A non-default port stays, even 443 on http; the default one goes.
            ("http://a.test:443/", "http://a.test:443/?k=v"),
            ("http://a.test:80/", "http://a.test/?k=v"),
            ("http://[::1]:3000/x", "http://[::1]:3000/x?k=v"),
            // A hash route with its own query gets the parameters appended to it.
            (
                "http://localhost:8080/#/reset?lang=en",
                "http://localhost:8080/?k=v#/reset?lang=en&k=v",
            ),
        ];
        for (target, want) in table {
            assert_eq!(
                build_redirect_url(target, &[("k", Some("v"))]),
                want,
                "{target}"
            );
        }
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
    fn whitelist_matches_the_url_a_browser_would_open() {
        let w = whitelist(&[
            "https://*.example.com/*",
            "http://localhost:8080/*",
            "https://app.example.org",
            "https://spa.example.net/app#/confirmed",
            "https://bücher.example/*",
            "https://[::1]:8443/cb",
        ]);
        let allowed = [
            "https://app.example.com/x",
            "https://a.b.example.com/x?y=1",
            "https://app.example.com/x?y=1#/z",
            "https://APP.EXAMPLE.COM/X",
            "HTTPS://app.example.com/",
            "https://app.example.com:443/x",
            "https://app.example.com",
            "http://localhost:8080/#/reset",
            "http://localhost:8080/",
            "http://localhost:8080",
            "http://localhost:8080/a%2fb",
            "https://app.example.org",
            "https://app.example.org/",
            "https://spa.example.net/app#/confirmed",
            "https://xn--bcher-kva.example/x",
            "https://bücher.example/x",
            "https://[::1]:8443/cb",
            "https://user@app.example.com/x",
        ];
        let refused = [
            "https://evil.test\\.example.com/x",
            "https://evil.test/.example.com/x",
            "https://evil.test?.example.com/x",
            "https://evil.test#.example.com/x",
            "https://app.example.com@evil.test/x",
            "https://evil.test%2f.example.com/x",
            "https://evil.test%5c.example.com/x",
            "https://app.example.com.evil.test/x",
            "https://app.example.com./x",
            "https://example.com/x",
            "https://.example.com/x",
            "http://app.example.com/x",
            "https://app.example.com:8443/x",
            "https://app.exa\tmple.com/x",
            "https://app.example.com/\nx",
            "https://app.example.com/x\r",
            "//app.example.com/x",
            "/x",
            "javascript:alert(1)//https://app.example.com/x",
            "JAVASCRIPT://app.example.com/x",
            "data:text/html,https://app.example.com/x",
            "ftp://app.example.com/x",
            "http://localhost:8081/x",
            "http://localhost/x",
            "http://127.0.0.1:8080/x",
            "https://app.example.org/x",
            "https://app.example.org/?x",
            "https://spa.example.net/app#/confirmed/x",
            "https://spa.example.net/app",
            "https://xn--bcher-kva.example.evil.test/x",
            "https://[::1]:8443/cb/x",
            "https://[::2]:8443/cb",
            "",
            "not a url",
        ];
        for url in allowed {
            assert!(w.allows(url), "should allow {url:?}");
        }
        for url in refused {
            assert!(!w.allows(url), "should refuse {url:?}");
        }
    }

    #[test]
    fn a_star_after_the_authority_covers_path_query_and_fragment() {
        let w = whitelist(&["https://app.example.com*", "https://b.example.com/r?x=*"]);
        assert!(w.allows("https://app.example.com"));
        assert!(w.allows("https://app.example.com/a/b?c#d"));
        assert!(!w.allows("https://app.example.com.evil.test/"));
        assert!(!w.allows("https://app.example.comevil.test/"));
        assert!(w.allows("https://b.example.com/r?x=1&y=2#z"));
        assert!(!w.allows("https://b.example.com/r"));
    }

    #[test]
    fn patterns_that_cannot_be_read_safely_are_refused() {
        for pattern in [
            "",
            "  ",
            "*",
            "https://*",
            "https://*/x",
            "https://*.com/*",
            "https://*.co.uk/*",
            "https://*.github.io/*",
            "https://app*.example.com/*",
            "https://*app.example.com/*",
            "https://app.*.example.com/*",
            "https://*.*.example.com/*",
            "https://*.127.0.0.1/*",
            "http://localhost:*/x",
            "http://localhost:*",
            "https://user@app.example.com/*",
            "https://app.example.com\\*",
            "https://app.example.com/\t*",
            "app.example.com/*",
            "//app.example.com/*",
            "javascript:alert(1)",
            "ftp://app.example.com/*",
            "https://app.example.com:99999/*",
        ] {
            assert!(
                Whitelist::new(&[pattern.to_string()]).is_err(),
                "{pattern:?} should be refused"
            );
        }
    }

    #[test]
    fn without_a_whitelist_only_the_cors_and_public_origins_pass() {
        let policy = RedirectPolicy::new(
            None,
            &[
                "https://app.example.com".into(),
                "http://localhost:*".into(),
            ],
            "https://api.example.com/base",
        )
        .unwrap();
        for url in [
            "https://app.example.com/#/reset",
            "https://app.example.com/x?y=1",
            "http://localhost:4200/confirmed",
            "https://api.example.com/anything",
            "HTTPS://APP.example.com",
        ] {
            assert!(policy.allows(url), "{url}");
        }
        for url in [
            "https://evil.test/",
            "https://app.example.com.evil.test/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "https://api.example.com:444/",
            "javascript:alert(1)",
        ] {
            assert!(!policy.allows(url), "{url}");
        }
        assert!(policy.describe().contains("https://api.example.com"));
    }

    #[test]
    fn targets_come_back_normalised() {
        let policy = RedirectPolicy::new(None, &[], "https://app.example.com").unwrap();
        assert_eq!(
            policy.target(Some("HTTPS://App.Example.com/ü".into()), None),
            Target::Url("https://app.example.com/%C3%BC".into())
        );
        assert_eq!(policy.target(Some(String::new()), None), Target::Missing);
        assert_eq!(
            policy.target(Some("https://evil.test/".into()), None),
            Target::NotAllowed("https://evil.test/".into())
        );
    }
}
