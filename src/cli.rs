//! The `toker` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A devise_token_auth-compatible token auth server: sign-up, sign-in and rotating tokens for
/// j-toker, ng-token-auth, angular-token and redux-token-auth frontends.
#[derive(Debug, Parser)]
#[command(name = "toker", version, about)]
pub struct Cli {
    /// TOML settings file (default: ./toker.toml when present). TOKER_* variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default): migrates the database unless auto_migrate = false.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Only list the migrations and whether each is applied.
        #[arg(long)]
        status: bool,
    },
    /// Print the OpenAPI document (YAML) that openapi.yaml holds.
    Openapi,
    /// Load and validate the settings as `serve` would, then print them (secrets masked).
    ///
    /// Exits 2 with the same message as `serve` when a setting is invalid; otherwise prints
    /// the effective settings (defaults, then the settings file, then TOKER_* variables) as
    /// TOML and exits 0. Nothing is connected to or written. Language files and mail
    /// templates are checked too.
    CheckConfig,
    /// Mail templates.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// The generated keys that sign gateway assertions, kept in the database (used when
    /// `gateway.assertion_keys` is not set).
    #[command(subcommand)]
    AssertionKeys(AssertionKeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum AssertionKeysCommand {
    /// List the stored keys: kid, created, signing from.
    List,
    /// Add a new key, published at once and signing 10 minutes later (after every JWKS cache
    /// has seen it); keys out of use for two hours are removed.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Print a mail as it would be sent (subject, plain text and HTML), with sample values.
    ///
    /// KIND is one of confirmation, reset_password, unlock, password_change, email_changed.
    /// The templates and languages are those of the settings (`mail_templates`,
    /// `locales_dir`, `default_locale`).
    Preview {
        /// confirmation, reset_password, unlock, password_change or email_changed.
        kind: String,
        /// The reader's language (default: `default_locale`); a language toker does not speak
        /// falls back as a request's would.
        #[arg(long, value_name = "LOCALE")]
        locale: Option<String>,
        /// The user type whose templates to use (default: the default type).
        #[arg(long = "type", value_name = "TYPE")]
        user_type: Option<String>,
        /// For email_changed: the change still waits for confirmation.
        #[arg(long)]
        pending: bool,
    },
}
