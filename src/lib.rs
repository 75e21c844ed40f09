//! toker: a devise_token_auth-compatible token auth server. The binary is a thin shell over
//! this library so that the integration tests can start the real application.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod cli;
pub mod config;
pub mod contract;
pub mod error;
pub mod gateway;
pub mod http;
pub mod import;
pub mod limits;
pub mod locale;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod origins;
pub mod proxies;
pub mod redirect;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;
