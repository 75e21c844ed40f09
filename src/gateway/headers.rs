//! What a reverse proxy does to headers (docs/gateway.md §4): hop-by-hop headers dropped in
//! both directions, the client's credentials and identity headers never forwarded, forwarding
//! headers written by toker, upgrades passed on deliberately.

use std::net::IpAddr;

use poem::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::identity::is_identity_header;
use crate::{contract::headers::HeaderNames, http::credentials::Credentials};

/// Hop-by-hop headers (RFC 9110 §7.6.1, plus the ones proxies commonly add to the list);
/// names, not strings, so removing them parses nothing per request.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// What this gateway adds to `Via` (RFC 9110 §7.6.3).
const VIA: &str = "1.1 toker";

/// The comma-separated tokens of every line of `name`, lower-cased.
fn tokens(headers: &HeaderMap, name: HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The `Upgrade` value when the request asks for a protocol switch (`Connection: upgrade`).
pub fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    if !tokens(headers, header::CONNECTION)
        .iter()
        .any(|t| t == "upgrade")
    {
        return None;
    }
    headers.get(header::UPGRADE).cloned()
}

/// Removes `Connection`, every header it names, and the fixed hop-by-hop headers.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        for name in tokens(headers, header::CONNECTION) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                headers.remove(name);
            }
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Puts an upgrade back after [`remove_hop_by_hop`]: `Connection: upgrade` and `Upgrade`.
pub fn restore_upgrade(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, upgrade);
}

/// Whether two header names are the same once `_` is read as `-` (case is already folded).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let fold = |c: u8| {
                if c == b'_' {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            fold(x) == fold(y)
        })
}

/// Removes the client's toker credentials (the five token headers in any spelling, and an
/// `Authorization` that carries them) and every `X-Toker-*` header, so an upstream never sees a
/// token and a client can never forge an identity.
pub fn remove_credentials(headers: &mut HeaderMap, names: &HeaderNames) {
    let credentials = [
        &names.access_token,
        &names.client,
        &names.uid,
        &names.expiry,
        &names.token_type,
    ];
    if Credentials::from_authorization(headers, names) != Credentials::default()
        && let Ok(name) =
            HeaderName::from_bytes(names.authorization.to_ascii_lowercase().as_bytes())
    {
        headers.remove(name);
    }
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            is_identity_header(name) || credentials.iter().any(|c| same_name(name, c))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Takes toker's own cookies (the browser session's, cookie mode's) out of the `Cookie`
/// headers, keeping the app's own; an `Authorization: Session <APP_ID>` goes too. The session
/// id is a credential like a token: the upstream gets the identity headers instead.
pub fn remove_toker_cookies(headers: &mut HeaderMap, cookie_names: &[impl AsRef<str>]) {
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 8 && v.as_bytes()[..8].eq_ignore_ascii_case(b"session "))
    {
        headers.remove(header::AUTHORIZATION);
    }
    if cookie_names.is_empty() || !headers.contains_key(header::COOKIE) {
        return;
    }
    let mut kept: Vec<HeaderValue> = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        // A value that is not text is not one toker wrote: it goes on as it came.
        let Ok(text) = value.to_str() else {
            kept.push(value.clone());
            continue;
        };
        let pairs: Vec<&str> = text
            .split(';')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
                !cookie_names.iter().any(|c| c.as_ref() == name)
            })
            .collect();
        if !pairs.is_empty()
            && let Ok(v) = HeaderValue::from_str(&pairs.join("; "))
        {
            kept.push(v);
        }
    }
    headers.remove(header::COOKIE);
    for v in kept {
        headers.append(header::COOKIE, v);
    }
}

/// The query without the toker credentials a client may send as parameters
/// (`accept_token_params`); every other pair is kept byte for byte. `None` when nothing is left.
pub fn remove_credential_params(query: &str, names: &HeaderNames) -> Option<String> {
    let credentials = [
        &names.access_token,
        &names.client,
        &names.uid,
        &names.expiry,
        &names.token_type,
    ];
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            let key: String = form_urlencoded::parse(key.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
                .unwrap_or_default();
            !pair.is_empty() && !credentials.iter().any(|c| **c == key)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// The client side of the hop toker is.
pub struct Hop<'a> {
    /// The connection's peer.
    pub peer: Option<IpAddr>,
    /// The `Host` the client sent.
    pub host: Option<&'a HeaderValue>,
    /// `http` or `https`, as the client reached toker.
    pub proto: &'static str,
    /// The peer is one of our `trusted_proxies`, so the `X-Forwarded-*` it sent describe the
    /// original request and are passed on (with the peer appended to the chain).
    pub from_trusted_proxy: bool,
}

/// Writes `X-Forwarded-For`, `-Proto` and `-Host` for this hop and appends to `Via`. Values a
/// client sent are not believed: they are replaced, and `Forwarded` is removed. Behind one of
/// our own proxies they are the proxy's words about the original request: the chain is kept
/// and extended, and the original scheme and host are passed on, as a proxy in a chain does.
pub fn set_forwarding(headers: &mut HeaderMap, hop: &Hop<'_>) {
    headers.remove(header::FORWARDED);
    let peer = hop.peer.map(|ip| crate::proxies::canonical(ip).to_string());
    let chain = if hop.from_trusted_proxy {
        let earlier: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        earlier
            .into_iter()
            .map(String::from)
            .chain(peer)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        peer.unwrap_or_default()
    };
    headers.remove("x-forwarded-for");
    if let Ok(value) = HeaderValue::from_str(&chain)
        && !chain.is_empty()
    {
        headers.insert("x-forwarded-for", value);
    }
    let proto = match headers.get("x-forwarded-proto").map(HeaderValue::as_bytes) {
        Some(b"https") if hop.from_trusted_proxy => "https",
        Some(b"http") if hop.from_trusted_proxy => "http",
        _ => hop.proto,
    };
    headers.insert("x-forwarded-proto", HeaderValue::from_static(proto));
    let host = match headers.get("x-forwarded-host") {
        Some(h) if hop.from_trusted_proxy && !h.is_empty() => Some(h.clone()),
        _ => hop.host.cloned(),
    };
    match host {
        Some(host) => headers.insert("x-forwarded-host", host),
        None => headers.remove("x-forwarded-host"),
    };
    append_via(headers);
}

/// Adds this hop to `Via`.
pub fn append_via(headers: &mut HeaderMap) {
    headers.append(header::VIA, HeaderValue::from_static(VIA));
}

/// Prepares an upstream's response for the client: hop-by-hop headers go, and so do the
/// headers only toker writes — the token headers (toker's after-step sets them), identity
/// headers, and CORS headers (toker applies its own).
pub fn clean_response(headers: &mut HeaderMap, names: &HeaderNames) {
    remove_hop_by_hop(headers);
    let owned = [
        &names.access_token,
        &names.client,
        &names.uid,
        &names.expiry,
        &names.token_type,
        &names.authorization,
    ];
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with("access-control-")
                || is_identity_header(name)
                || owned.iter().any(|o| same_name(name, o))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
    append_via(headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokers_cookies_and_session_app_ids_are_not_forwarded() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; __Host-toker_session=abc;lang=de"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("toker_session=x"));
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"raw=\xff").unwrap(),
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Session app-one"),
        );
        remove_toker_cookies(&mut h, &["__Host-toker_session", "toker_session"]);
        let cookies: Vec<&[u8]> = h
            .get_all(header::COOKIE)
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        assert_eq!(cookies, [&b"theme=dark; lang=de"[..], &b"raw=\xff"[..]]);
        assert!(h.get(header::AUTHORIZATION).is_none());
        // The app's own Authorization stays.
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        remove_toker_cookies(&mut h, &["toker_session"]);
        assert_eq!(h[header::AUTHORIZATION], "Basic dXNlcjpwdw==");
    }
    use crate::contract::headers::authorization_value;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_go() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("content-type", "text/plain"),
        ]);
        remove_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["content-type"]);
    }

    #[test]
    fn an_upgrade_needs_connection_upgrade() {
        let ws = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
        ]);
        assert_eq!(requested_upgrade(&ws).unwrap(), "websocket");
        let no = map(&[("upgrade", "websocket")]);
        assert!(requested_upgrade(&no).is_none());
    }

    #[test]
    fn credentials_and_identity_headers_never_reach_the_upstream() {
        let names = HeaderNames::default();
        let dta = authorization_value(&names, "t", "c", "1", "u@x.co");
        let mut h = map(&[
            ("access-token", "t"),
            ("access_token", "t"),
            ("client", "c"),
            ("uid", "u@x.co"),
            ("expiry", "1"),
            ("token-type", "Bearer"),
            ("authorization", &dta),
            ("x-toker-uid", "admin@x.co"),
            ("x_toker_user_id", "1"),
            ("x-tokerish", "kept"),
            ("cookie", "a=b"),
        ]);
        remove_credentials(&mut h, &names);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-tokerish", "cookie"]);
    }

    #[test]
    fn an_authorization_of_the_app_itself_is_forwarded() {
        let names = HeaderNames::default();
        for value in ["Basic dTpw", "Bearer eyJhbGciOiJub25lIn0.e30."] {
            let mut h = map(&[("authorization", value)]);
            remove_credentials(&mut h, &names);
            assert_eq!(h.get("authorization").unwrap(), value);
        }
    }

    #[test]
    fn credential_parameters_leave_the_query_and_the_rest_stays_as_sent() {
        let names = HeaderNames::default();
        let q = "page=2&access-token=t&client=c&uid=u%40x.co&expiry=1&token-type=Bearer&q=a%20b&x";
        assert_eq!(
            remove_credential_params(q, &names).as_deref(),
            Some("page=2&q=a%20b&x")
        );
        assert_eq!(
            remove_credential_params("access%2Dtoken=t&uid=u", &names),
            None
        );
        assert_eq!(remove_credential_params("", &names), None);
    }

    #[test]
    fn forwarding_headers_from_the_client_are_replaced() {
        let mut h = map(&[
            ("x-forwarded-for", "10.9.9.9"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=10.9.9.9"),
            ("via", "1.1 corp-proxy"),
        ]);
        let host = HeaderValue::from_static("app.example.com");
        set_forwarding(
            &mut h,
            &Hop {
                peer: Some("192.0.2.7".parse().unwrap()),
                host: Some(&host),
                proto: "http",
                from_trusted_proxy: false,
            },
        );
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-forwarded-host"], "app.example.com");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(h.get("forwarded").is_none());
        let via: Vec<&str> = h
            .get_all("via")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(via, ["1.1 corp-proxy", "1.1 toker"]);
    }

    /// `set_forwarding` on `headers` for a request from `peer`, which is one of our proxies.
    fn from_our_proxy(headers: &[(&str, &str)], peer: &str) -> HeaderMap {
        let mut h = map(headers);
        let host = HeaderValue::from_static("toker.internal:8080");
        set_forwarding(
            &mut h,
            &Hop {
                peer: Some(peer.parse().unwrap()),
                host: Some(&host),
                proto: "http",
                from_trusted_proxy: true,
            },
        );
        h
    }

    #[test]
    fn behind_our_own_proxy_the_chain_is_extended_and_the_original_scheme_kept() {
        let h = from_our_proxy(
            &[
                ("x-forwarded-for", "203.0.113.9, 10.0.0.3"),
                ("x-forwarded-for", "10.0.0.4"),
                ("x-forwarded-host", "app.example.com"),
                ("x-forwarded-proto", "https"),
                ("forwarded", "for=203.0.113.9"),
            ],
            "::ffff:10.0.0.5",
        );
        assert_eq!(
            h["x-forwarded-for"],
            "203.0.113.9, 10.0.0.3, 10.0.0.4, 10.0.0.5"
        );
        assert_eq!(h["x-forwarded-host"], "app.example.com");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert!(h.get("forwarded").is_none());
    }

    #[test]
    fn a_trusted_proxy_still_cannot_smuggle_an_odd_scheme_or_drop_the_host() {
        let h = from_our_proxy(
            &[
                ("x-forwarded-proto", "javascript"),
                ("x-forwarded-host", ""),
            ],
            "10.0.0.5",
        );
        assert_eq!(h["x-forwarded-for"], "10.0.0.5");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "toker.internal:8080");
    }

    #[test]
    fn upstream_responses_cannot_set_tokens_identity_or_cors() {
        let names = HeaderNames::default();
        let mut h = map(&[
            ("access-token", "forged"),
            ("uid", "admin@x.co"),
            ("Authorization", "Bearer x"),
            ("access-control-allow-origin", "*"),
            ("x-toker-user-id", "1"),
            ("transfer-encoding", "chunked"),
            ("set-cookie", "a=b"),
            ("content-type", "application/json"),
        ]);
        clean_response(&mut h, &names);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["set-cookie", "content-type", "via"]);
    }
}
