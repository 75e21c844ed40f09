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

    /// The user type `users`, `devices` and `import` work on: `User` (the default) or a `name`
    /// of [[user_types]].
    #[arg(long, global = true, value_name = "NAME")]
    pub user_type: Option<String>,

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
    /// Print the OpenAPI document (YAML): of the defaults, which openapi.yaml holds, or with
    /// --config of that configuration (its mounts and user types).
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
    /// Import users from another system into the configured database.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Administer users on the configured database (changes show in the security log).
    #[command(subcommand)]
    Users(UsersCommand),
    /// List and revoke users' devices (signed-in clients) on the configured database.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Register the static apps that use browser sessions, each with its approved origins
    /// (`Authorization: Session <APP_ID>`), on the configured database; no restart needed.
    #[command(subcommand)]
    Apps(AppsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the users table of a devise_token_auth app: passwords, e-mails, uid/provider,
    /// confirmation and lock state, profile, and every live device of the `tokens` column,
    /// so users stay signed in.
    ///
    /// Idempotent and resumable: a re-run updates the users it imported before (and skips
    /// rows whose `updated_at` did not change), never duplicates. Bad rows are skipped and
    /// listed with their reason at the end. Set `pepper` to Devise's `config.pepper` first.
    Dta {
        /// The old app's database URL: postgres://…, mysql://… or sqlite://….
        #[arg(long, value_name = "DATABASE_URL")]
        from: String,
        /// The users table.
        #[arg(long, default_value = "users", value_name = "NAME")]
        table: String,
        /// Copy an extra column into the users' extra attributes (as `sign_up_attributes`
        /// names them); repeatable: `--map favorite_color=favorite_color`.
        #[arg(long = "map", value_name = "COLUMN=ATTRIBUTE")]
        maps: Vec<crate::import::dta_source::Mapping>,
        /// Read everything and report what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Names a user: its numeric id, an e-mail address (of an e-mail user), or a uid.
pub type UserRef = String;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users, by id.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Print JSON (an array of users) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one user with its devices.
    Show {
        /// Id, e-mail or uid.
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
    /// Create an e-mail user. The password is read from standard input (or asked for on a
    /// terminal), never taken from the command line.
    Create {
        /// The e-mail address (also the uid).
        email: String,
        /// Mark the account confirmed (otherwise it signs in once confirmed, when
        /// confirmable is on).
        #[arg(long)]
        confirmed: bool,
        #[arg(long)]
        json: bool,
    },
    /// Confirm a user's account (or its pending new e-mail address).
    Confirm {
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
    /// Lock a user's account: no sign-in until unlocked.
    Lock {
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
    /// Unlock a user's account and forget its failed attempts.
    Unlock {
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
    /// Delete a user and all its devices.
    Delete {
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, read from standard input (or asked for on a terminal). The
    /// API's length rules apply; the user's reset and unlock links are withdrawn.
    SetPassword {
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an app; prints its id.
    Add {
        /// A name for people (shown by `list`).
        #[arg(long)]
        name: String,
        /// An approved origin, like https://app.example.com; repeat for several.
        #[arg(long = "origin", value_name = "ORIGIN", required = true)]
        origins: Vec<String>,
        /// The app id to use (3–64 letters, digits, `-`, `_`); generated when absent.
        #[arg(long, value_name = "APP_ID")]
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the registered apps.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an app; browser sessions granted to it no longer work for it.
    Remove {
        app_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Replace an app's approved origins.
    SetOrigins {
        app_id: String,
        #[arg(value_name = "ORIGIN", required = true)]
        origins: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List a user's devices.
    List {
        user: UserRef,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one device (by its id) or, with --all, every device of a user: their tokens
    /// stop working at once.
    Revoke {
        /// The device id (from `devices list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        device: Option<i64>,
        /// Revoke every device of this user.
        #[arg(long, value_name = "USER")]
        all: Option<UserRef>,
        #[arg(long)]
        json: bool,
    },
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
