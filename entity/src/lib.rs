//! sea-orm entities for toker's tables. The schema itself is owned by the `migration` crate;
//! these types mirror it and are only used by toker's `store` module.

pub mod browser_session;
pub mod browser_session_app;
pub mod client_app;
pub mod device;
pub mod imported_account;
pub mod oauth_nonce;
pub mod prelude;
pub mod signing_key;
pub mod user;
