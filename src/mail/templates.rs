//! The Devise / devise_token_auth messages (docs/contract.md §7): subjects, greetings and link
//! texts, and Devise's two change notices, as plain text and HTML. Every interpolated value is
//! HTML-escaped in the HTML part.

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
    if !link.is_empty() {
        out.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            escape(link),
            escape(link_text)
        ));
    }
    for p in after {
        out.push_str(&format!("<p>{}</p>\n", escape(p)));
    }
    out.push_str("</body></html>\n");
    out
}

/// A notice without a link: the paragraphs, as text and HTML.
fn notice(to: &str, subject: &str, lines: Vec<String>) -> Email {
    Email {
        to: to.to_string(),
        subject: subject.into(),
        text: format!("{}\n", lines.join("\n\n")),
        html: html(&lines, "", "", &[]),
        link: String::new(),
    }
}

/// Devise's "Password Changed" (`send_password_change_notification`), to the account's address.
pub fn password_change(email: &str) -> Email {
    notice(
        email,
        "Password Changed",
        vec![
            format!("Hello {email}!"),
            "We're contacting you to notify you that your password has been changed.".into(),
        ],
    )
}

/// Devise's "Email Changed" (`send_email_changed_notification`), to the address being left:
/// with `reconfirmable` when the change is asked for (`pending`), otherwise once it is made.
pub fn email_changed(old_email: &str, new_email: &str, pending: bool) -> Email {
    let what = if pending {
        "is being changed to"
    } else {
        "has been changed to"
    };
    notice(
        old_email,
        "Email Changed",
        vec![
            format!("Hello {old_email}!"),
            format!("We're contacting you to notify you that your email {what} {new_email}."),
        ],
    )
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
    fn change_notices_have_devise_texts_and_no_link() {
        let mail = password_change("a@x.co");
        assert_eq!(mail.subject, "Password Changed");
        assert_eq!(
            mail.text,
            "Hello a@x.co!\n\nWe're contacting you to notify you that your password has been changed.\n"
        );
        assert!(!mail.html.contains("<a "));
        let pending = email_changed("old@x.co", "n<e>w@x.co", true);
        assert_eq!(pending.subject, "Email Changed");
        assert_eq!(pending.to, "old@x.co");
        assert!(pending.text.contains(
            "We're contacting you to notify you that your email is being changed to n<e>w@x.co."
        ));
        assert!(pending.html.contains("n&lt;e&gt;w@x.co"));
        let done = email_changed("old@x.co", "new@x.co", false);
        assert!(
            done.text
                .contains("your email has been changed to new@x.co.")
        );
    }

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
