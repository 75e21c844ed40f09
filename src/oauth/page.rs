//! The page a popup or in-app browser ends on (docs/contract.md §4.2): it answers the frontend's
//! `requestCredentials` message with the credentials (`deliverCredentials`) or the failure
//! (`authFailure`), and defines `requestCredentials()` for Cordova's `executeScript`. Unlike
//! devise_token_auth's, it posts credentials only to the origin of `auth_origin_url`
//! (docs/decisions.md D6), and its Content-Security-Policy allows nothing but its own inline script,
//! named by hash.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A rendered page and the CSP header that goes with it.
#[derive(Debug, Clone)]
pub struct Page {
    pub html: String,
    pub csp: String,
}

/// Percent-encodes every byte but `A-Z a-z 0-9 - _ . ~`: the embedded data can then hold no
/// quote, no `<` and no `</script>`, whatever the provider's profile says.
fn percent_encode_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The page for `data` (`message` is `deliverCredentials` or `authFailure`), posting to
/// `target_origin` (`*` only for failures, which carry no secret).
pub fn render(data: &Value, target_origin: &str) -> Page {
    let origin_literal = Value::String(target_origin.to_string())
        .to_string()
        .replace('<', "\\u003c");
    let script = format!(
        r#"(function () {{
  var data = JSON.parse(decodeURIComponent("{data}"));
  var targetOrigin = {origin};
  window.requestCredentials = function () {{ return data; }};
  window.addEventListener("message", function (ev) {{
    if (ev.data === "requestCredentials" && ev.source) {{
      ev.source.postMessage(data, targetOrigin);
      window.close();
    }}
  }});
  setTimeout(function () {{
    document.getElementById("text").textContent = data.error ? data.error : "Redirecting...";
  }}, 1000);
}})();"#,
        data = percent_encode_all(&data.to_string()),
        origin = origin_literal,
    );
    let hash = STANDARD.encode(Sha256::digest(script.as_bytes()));
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Signing in</title>\n\
         </head>\n<body>\n<pre id=\"text\"></pre>\n<script>{script}</script>\n</body>\n</html>\n"
    );
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    Page { html, csp }
}

/// The page shown when there is nowhere to send the browser: just the (escaped) text.
pub fn message_page(text: &str) -> Page {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Page {
        html: format!(
            "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Sign-in</title>\n\
             </head>\n<body>\n<pre>{escaped}</pre>\n</body>\n</html>\n"
        ),
        csp: "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_hash_in_the_csp_matches_the_inline_script() {
        let page = render(
            &serde_json::json!({"name": "</script><script>alert(1)</script>", "message": "deliverCredentials"}),
            "https://app.example.com",
        );
        let start = page.html.find("<script>").unwrap() + "<script>".len();
        let end = page.html.find("</script>").unwrap();
        let script = &page.html[start..end];
        let hash = STANDARD.encode(Sha256::digest(script.as_bytes()));
        assert!(page.csp.contains(&format!("'sha256-{hash}'")));
        assert!(!script.contains("alert(1)</script>"));
        assert_eq!(page.html.matches("</script>").count(), 1);
        assert!(script.contains(r#"var targetOrigin = "https://app.example.com";"#));
    }
}
