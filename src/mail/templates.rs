//! The Devise / devise_token_auth messages (docs/contract.md §7): subjects, greetings and link texts,
//! as plain text and HTML. Every interpolated value is HTML-escaped in the HTML part.

use super::Email;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(paragraphs: &[String], link: &str, link_text: &str, after: &[&str]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    for p in paragraphs {
        out.push_str(&format!("<p>{}</p>\n", escape(p)));
    }
    out.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n",
        escape(link),
        escape(link_text)
    ));
    for p in after {
        out.push_str(&format!("<p>{}</p>\n", escape(p)));
    }
    out.push_str("</body></html>\n");
    out
}

/// "Confirmation instructions".
pub fn confirmation(email: &str, link: &str) -> Email {
    let lines = vec![
        format!("Welcome {email}!"),
        "You can confirm your account email through the link below:".to_string(),
    ];
    Email {
        to: email.to_string(),
        subject: "Confirmation instructions".into(),
        text: format!(
            "{}\n\n{}\n\nConfirm my account: {link}\n",
            lines[0], lines[1]
        ),
        html: html(&lines, link, "Confirm my account", &[]),
        link: link.to_string(),
    }
}

/// "Reset password instructions".
pub fn reset_password(email: &str, link: &str) -> Email {
    let lines = vec![
        format!("Hello {email}!"),
        "Someone has requested a link to change your password. You can do this through the link below."
            .to_string(),
    ];
    let after = [
        "If you didn't request this, please ignore this email.",
        "Your password won't change until you access the link above and create a new one.",
    ];
    Email {
        to: email.to_string(),
        subject: "Reset password instructions".into(),
        text: format!(
            "{}\n\n{}\n\nChange my password: {link}\n\n{}\n{}\n",
            lines[0], lines[1], after[0], after[1]
        ),
        html: html(&lines, link, "Change my password", &after),
        link: link.to_string(),
    }
}

/// "Unlock instructions".
pub fn unlock(email: &str, link: &str) -> Email {
    let lines = vec![
        format!("Hello {email}!"),
        crate::contract::messages::LOCKED.to_string(),
        "Click the link below to unlock your account:".to_string(),
    ];
    Email {
        to: email.to_string(),
        subject: "Unlock instructions".into(),
        text: format!(
            "{}\n\n{}\n\n{}\n\nUnlock my account: {link}\n",
            lines[0], lines[1], lines[2]
        ),
        html: html(&lines, link, "Unlock my account", &[]),
        link: link.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_mail_has_devise_texts_and_escaped_html() {
        let mail = confirmation("a<b>@x.co", "https://api.test/auth/confirmation?a=1&b=2");
        assert_eq!(mail.subject, "Confirmation instructions");
        assert!(mail.text.starts_with("Welcome a<b>@x.co!"));
        assert!(
            mail.text
                .contains("Confirm my account: https://api.test/auth/confirmation?a=1&b=2")
        );
        assert!(mail.html.contains("Welcome a&lt;b&gt;@x.co!"));
        assert!(
            mail.html
                .contains("href=\"https://api.test/auth/confirmation?a=1&amp;b=2\"")
        );
    }
}
