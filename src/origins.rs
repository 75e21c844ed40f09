//! The origins allowed to call toker from a browser on another site (`cors_origins`,
//! docs/cors.md §1): exact origins, or patterns whose `*` stands for host characters only.

use std::collections::HashSet;

use regex::Regex;

/// The configured origins.
#[derive(Debug, Clone)]
pub struct OriginMatcher {
    exact: HashSet<String>,
    patterns: Vec<Regex>,
}

impl OriginMatcher {
    /// Validates `cors_origins`: each entry `scheme://host[:port]`, lower-case, no path; `*`
    /// stands for host characters (letters, digits, `-`, `.`) only.
    pub fn new(origins: &[String]) -> Result<OriginMatcher, String> {
        let mut exact = HashSet::new();
        let mut patterns = Vec::new();
        for origin in origins {
            let origin = origin.trim().to_ascii_lowercase();
            if origin == "*" {
                return Err(
                    "`*` would let every site act with users' credentials; list origins".into(),
                );
            }
            if origin == "null" {
                return Err("`null` would allow every sandboxed page; list real origins".into());
            }
            let Some((scheme, rest)) = origin.split_once("://") else {
                return Err(format!(
                    "`{origin}` is not an origin like https://app.example.com"
                ));
            };
            if scheme.is_empty()
                || rest.is_empty()
                || rest.contains(['/', '?', '#', '@', ' '])
                || !scheme.chars().all(|c| c.is_ascii_lowercase())
            {
                return Err(format!(
                    "`{origin}` is not an origin like https://app.example.com (no path, no trailing slash)"
                ));
            }
            if origin.contains('*') {
                let body = origin
                    .split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join("[a-z0-9.-]*");
                patterns.push(Regex::new(&format!(r"\A{body}\z")).map_err(|e| e.to_string())?);
            } else {
                exact.insert(origin);
            }
        }
        Ok(OriginMatcher { exact, patterns })
    }

    /// Byte-exact: browsers serialise origins in lower case, so upper case is refused.
    pub fn allows(&self, origin: &str) -> bool {
        self.exact.contains(origin) || self.patterns.iter().any(|p| p.is_match(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_or_anchored_patterns() {
        let m = OriginMatcher::new(&[
            "https://app.example.com".into(),
            "https://*.preview.example.com".into(),
            "http://localhost:*".into(),
        ])
        .unwrap();
        assert!(m.allows("https://app.example.com"));
        assert!(m.allows("https://pr-1.preview.example.com"));
        assert!(m.allows("http://localhost:4200"));
        for bad in [
            "https://app.example.com/",
            "https://app.example.com.evil.test",
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.test/.preview.example.com",
            "https://x.preview.example.com.evil.test",
            "https://APP.example.com",
            "http://localhost:4200@evil.test",
            "null",
        ] {
            assert!(!m.allows(bad), "{bad}");
        }
    }

    #[test]
    fn dangerous_configuration_is_refused() {
        assert!(OriginMatcher::new(&["*".into()]).is_err());
        assert!(OriginMatcher::new(&["null".into()]).is_err());
        assert!(OriginMatcher::new(&["https://a.test/".into()]).is_err());
        assert!(OriginMatcher::new(&["app.example.com".into()]).is_err());
    }
}
