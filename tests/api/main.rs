//! The integration suite: one binary, each test against the real app on a random port with a
//! fresh database (SQLite temp file, or `TOKER_TEST_DATABASE_URL` for PostgreSQL / MariaDB).

mod admin;
mod apps;
mod architecture;
mod bad_input;
mod browser_sessions;
mod cli;
mod concurrency;
mod confirmations;
mod connections;
mod cookies;
mod cors;
mod credential_changes;
mod exact_keys;
mod forward_auth;

mod gateway;
mod helpers;
mod hosted_sign_in;
mod import;
mod languages;
mod limits;
mod log_format;
mod logs;
mod metrics;
mod multipart;
mod oauth_provider;
mod omniauth;
mod openapi;
mod outage;
mod packaging;
mod passwords;
mod redirects;
mod registrations;
mod rotation;
mod sessions;
mod shutdown;
mod smoke;
mod support;
mod tls;
mod unlocks;
mod user_types;
