//! Outgoing mail (docs/decisions.md D11) over lettre: `log` prints each message and its link to the
//! server log (the default, so a newcomer sees the confirmation link in the terminal), `file`
//! writes one `.eml` per message into a folder, `smtp` delivers. Every transport is async, so
//! sending never blocks a tokio worker. What a mail says comes from `templates`, in its
//! reader's language.

pub mod templates;

use std::{path::PathBuf, sync::Arc, time::Duration};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use crate::{
    config::{MailTransport, Settings, SmtpTls},
    metrics::Metrics,
};
pub use templates::{Audience, DEFAULT_TYPE, MailKind, MailTemplates, MailValues};

/// A message ready to send: the recipient, subject, both bodies, and the link it carries (the
/// `log` transport prints it).
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub link: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("could not deliver the message: {0}")]
    Delivery(String),
    #[error("could not render the message: {0}")]
    Template(String),
}

#[derive(Clone)]
enum Transport {
    Log,
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>, String),
}

/// The configured mail transport and sender, and the templates mails are written from.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Arc<MailTemplates>,
    metrics: Metrics,
    /// The user type whose templates its mails use (`None`: the default type's).
    user_type: Option<String>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Mailer {
    pub fn from_settings(s: &Settings, templates: Arc<MailTemplates>) -> Result<Mailer, MailError> {
        let from: Mailbox = s
            .mail_from
            .parse()
            .map_err(|e| MailError::Address(format!("mail_from: {e}")))?;
        let transport = match s.mail_transport {
            MailTransport::Log => Transport::Log,
            MailTransport::File => {
                let dir = PathBuf::from(&s.mail_dir);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| MailError::Build(format!("mail_dir {}: {e}", dir.display())))?;
                Transport::File(AsyncFileTransport::new(&dir), dir)
            }
            MailTransport::Smtp => {
                let host = s.smtp_host.clone();
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
                    .port(s.smtp_port)
                    .timeout(Some(Duration::from_secs(s.smtp_timeout)));
                let tls = || {
                    TlsParameters::new(host.clone())
                        .map_err(|e| MailError::Build(format!("smtp TLS: {e}")))
                };
                builder = match s.smtp_tls {
                    SmtpTls::None => builder.tls(Tls::None),
                    SmtpTls::Starttls => builder.tls(Tls::Required(tls()?)),
                    SmtpTls::Tls => builder.tls(Tls::Wrapper(tls()?)),
                };
                if let Some(user) = &s.smtp_username {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        s.smtp_password
                            .as_ref()
                            .map(|p| p.expose().to_string())
                            .unwrap_or_default(),
                    ));
                }
                let label = format!("smtp://{host}:{} (tls: {:?})", s.smtp_port, s.smtp_tls);
                Transport::Smtp(builder.build(), label)
            }
        };
        Ok(Mailer {
            transport,
            from,
            templates,
            metrics: Metrics::off(),
            user_type: None,
        })
    }

    /// The same mailer, writing the mails of the user type `name` (its templates first).
    pub fn for_type(self, name: &str) -> Mailer {
        Mailer {
            user_type: Some(name.to_string()),
            ..self
        }
    }

    /// The same mailer, counting what it sends (and fails to) in `metrics`.
    pub fn with_metrics(self, metrics: Metrics) -> Mailer {
        Mailer { metrics, ..self }
    }

    pub fn templates(&self) -> &Arc<MailTemplates> {
        &self.templates
    }

    /// The `kind` mail to `to`, in `audience`'s language and words.
    pub fn compose(
        &self,
        kind: MailKind,
        audience: &Audience,
        to: &str,
        values: &MailValues,
    ) -> Result<Email, MailError> {
        let typed;
        let audience = match (&audience.user_type, &self.user_type) {
            (None, Some(name)) => {
                typed = audience.clone().of_type(name.clone());
                &typed
            }
            _ => audience,
        };
        self.templates
            .compose(kind, audience, to, values)
            .map_err(|e| MailError::Template(format!("{e:#}")))
    }

    /// One line for the startup log: where mail goes.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Log => "log (messages and their links are printed here)".into(),
            Transport::File(_, dir) => format!("file ({})", dir.display()),
            Transport::Smtp(_, label) => label.clone(),
        }
    }

    pub async fn send(&self, email: Email) -> Result<(), MailError> {
        let sent = self.deliver(email).await;
        self.metrics.mail(sent.is_ok());
        sent
    }

    async fn deliver(&self, email: Email) -> Result<(), MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| MailError::Address(format!("{}: {e}", email.to)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Log => {
                tracing::info!(
                    target: "toker::mail",
                    to = %email.to,
                    subject = %email.subject,
                    link = %email.link,
                    "mail (log transport)"
                );
                tracing::debug!(target: "toker::mail", "message body:\n{}", email.text);
                Ok(())
            }
            Transport::File(t, _) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Delivery(e.to_string())),
            Transport::Smtp(t, _) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Delivery(e.to_string())),
        }
    }
}
