//! Real parts the tests start beside the app: an SMTP server, and the `toker` binary itself.

pub mod serve;
pub mod smtp;
