//! Which error shape of docs/contract.md §2.0.4 an operation answers in, for the answers toker
//! gives on any operation alike (503 while the database is unavailable): E2 for the
//! registrations routes, E7 for protected resources, E1 everywhere else.

use poem::{
    Response,
    http::{StatusCode, header},
};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// E1 `{"success":false,"errors":[…]}`.
    Success,
    /// E2 `{"success":false,"errors":[…],"status":"error"}`.
    Status,
    /// E7 `{"errors":[…]}`.
    Bare,
}

impl ErrorShape {
    /// The shape of the operation `method path`, with `path` as the operations declare it
    /// (`/auth/…` whatever `mount_path` is, `/api/me`).
    pub fn of(method: &str, path: &str) -> ErrorShape {
        match path {
            "/auth" if !method.eq_ignore_ascii_case("GET") => ErrorShape::Status,
            "/api/me" => ErrorShape::Bare,
            _ => ErrorShape::Success,
        }
    }

    pub fn body(self, message: &str) -> Value {
        match self {
            ErrorShape::Success => json!({"success": false, "errors": [message]}),
            ErrorShape::Status => {
                json!({"success": false, "errors": [message], "status": "error"})
            }
            ErrorShape::Bare => json!({"errors": [message]}),
        }
    }

    /// The OpenAPI schema (in `components/schemas`) of this shape.
    pub fn schema_name(self) -> &'static str {
        match self {
            ErrorShape::Success => "ErrorBody",
            ErrorShape::Status => "StatusErrorBody",
            ErrorShape::Bare => "UnauthenticatedBody",
        }
    }

    /// `message` in this shape, as a finished JSON response.
    pub fn response(self, status: StatusCode, message: &str) -> Response {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(self.body(message).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_answer_e2_protected_resources_e7_the_rest_e1() {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(ErrorShape::of(method, "/auth"), ErrorShape::Status);
        }
        assert_eq!(ErrorShape::of("GET", "/api/me"), ErrorShape::Bare);
        for (method, path) in [
            ("POST", "/auth/sign_in"),
            ("GET", "/auth/validate_token"),
            ("DELETE", "/auth/sign_out"),
            ("PUT", "/auth/password"),
            ("POST", "/auth/github/token"),
            ("POST", "/auth/sign_in/"),
        ] {
            assert_eq!(ErrorShape::of(method, path), ErrorShape::Success, "{path}");
        }
    }

    #[test]
    fn the_bodies_keep_the_contract_key_order() {
        assert_eq!(
            ErrorShape::Status.body("x").to_string(),
            r#"{"success":false,"errors":["x"],"status":"error"}"#
        );
        assert_eq!(
            ErrorShape::Bare.body("x").to_string(),
            r#"{"errors":["x"]}"#
        );
        assert_eq!(
            ErrorShape::Success.body("x").to_string(),
            r#"{"success":false,"errors":["x"]}"#
        );
    }
}
