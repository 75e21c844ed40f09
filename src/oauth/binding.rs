//! Binding a sign-in to the browser that started it (docs/decisions.md D6, login CSRF): the
//! request phase sets a short-lived cookie holding the SHA-256 of the state's nonce, and the
//! callback refuses a state whose cookie this browser does not send. A callback link made in
//! one browser therefore signs nobody in when opened in another.
//!
//! Each sign-in has its own cookie, named after its nonce, so a browser may run several at once
//! (two tabs, a popup opened twice) without one overwriting the other's. The cookie carries no
//! credential; it is `HttpOnly`, lives as long as the state, and is `__Host-` prefixed and
//! `Secure` when toker is served over HTTPS. `SameSite=Lax` lets it ride the provider's
//! top-level redirect back; a `form_post` provider posts the callback from its own site, which
//! only `SameSite=None` survives, and browsers take that only with `Secure`.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie of one sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserCookie {
    name: String,
    value: String,
    secure: bool,
}

/// How many characters of the hash name the cookie: enough that two sign-ins of one browser
/// never share a name, short enough that many fit in a `Cookie` header.
const NAME_CHARS: usize = 12;

impl BrowserCookie {
    /// The cookie for the sign-in with `nonce`; `secure` when toker is served over HTTPS.
    pub fn for_nonce(nonce: &str, secure: bool) -> BrowserCookie {
        let value = URL_SAFE_NO_PAD.encode(Sha256::digest(nonce.as_bytes()));
        let prefix = if secure { "__Host-" } else { "" };
        BrowserCookie {
            name: format!("{prefix}toker_oauth_{}", &value[..NAME_CHARS]),
            value,
            secure,
        }
    }

    fn attributes(&self, max_age: u64, cross_site_post: bool) -> String {
        let same_site = if cross_site_post && self.secure {
            "None"
        } else {
            "Lax"
        };
        let secure = if self.secure { "; Secure" } else { "" };
        format!("Max-Age={max_age}; Path=/; HttpOnly; SameSite={same_site}{secure}")
    }

    /// `Set-Cookie` for the request phase. `cross_site_post`: the provider posts the callback
    /// (`form_post`).
    pub fn set(&self, max_age: u64, cross_site_post: bool) -> String {
        format!(
            "{}={}; {}",
            self.name,
            self.value,
            self.attributes(max_age, cross_site_post)
        )
    }

    /// `Set-Cookie` removing it once the callback has used it.
    pub fn clear(&self) -> String {
        format!("{}=; {}", self.name, self.attributes(0, false))
    }

    /// Whether one of the `Cookie` headers carries this cookie with its value (compared in
    /// constant time).
    pub fn is_in<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> bool {
        cookie_headers
            .into_iter()
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| {
                name.trim() == self.name
                    && bool::from(value.trim().as_bytes().ct_eq(self.value.as_bytes()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_https_the_cookie_is_host_prefixed_and_secure() {
        let cookie = BrowserCookie::for_nonce("n1", true);
        let set = cookie.set(600, false);
        assert!(set.starts_with("__Host-toker_oauth_"), "{set}");
        assert!(set.ends_with("; Max-Age=600; Path=/; HttpOnly; SameSite=Lax; Secure"));
        assert!(!set.contains("Domain"));
        assert!(cookie.set(600, true).contains("SameSite=None; Secure"));
        assert!(cookie.clear().contains("=; Max-Age=0; Path=/"));
    }

    #[test]
    fn over_http_it_is_neither_prefixed_nor_secure_and_stays_lax() {
        let cookie = BrowserCookie::for_nonce("n1", false);
        let set = cookie.set(600, true);
        assert!(set.starts_with("toker_oauth_"), "{set}");
        assert!(set.ends_with("; SameSite=Lax"), "{set}");
        assert!(!set.contains("Secure"));
    }

    #[test]
    fn each_sign_in_has_its_own_cookie_and_only_its_value_matches() {
        let one = BrowserCookie::for_nonce("n1", false);
        let two = BrowserCookie::for_nonce("n2", false);
        assert_ne!(one.name, two.name);
        let both = format!(
            "a=b; {}={}; {}={}",
            one.name, one.value, two.name, two.value
        );
        assert!(one.is_in([both.as_str()]));
        assert!(two.is_in(["x=y", both.as_str()]));
        assert!(!one.is_in([format!("{}={}", one.name, two.value).as_str()]));
        assert!(!one.is_in([format!("{}=", one.name).as_str()]));
        assert!(!one.is_in(["", ";;;", "=", "garbage"]));
        assert!(!one.is_in([]));
    }
}
