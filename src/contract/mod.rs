//! The wire contract in one place: the request-parameter rules, the response body shapes, the
//! message catalogue, the validation-error shape and the auth header names (docs/contract.md).
//! It depends on nothing else in toker, so every layer may use it and none of it can drift
//! with the code that uses it.

pub mod bodies;
pub mod headers;
pub mod messages;
pub mod params;
pub mod shapes;
pub mod validation;

pub use bodies::*;
