//! Bad input of every class docs/decisions.md D9 names, against every endpoint that takes input:
//! always a JSON 4xx (E1-shaped when the framework answers), never a 5xx, never a panic, and the
//! server keeps serving. Requests reqwest refuses to send go over a raw TCP socket.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::*;

// ----- Raw HTTP/1.1 over TCP -----

/// A response read off the socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_cors_headers(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A request with `Host` and `Connection: close`; `Content-Length` is added for a non-empty
/// body unless the headers already frame it.
pub fn raw_request(
    method: &str,
    path: &str,
    port: u16,
    headers: &[(&[u8], &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let framed = headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case(b"content-length") || n.eq_ignore_ascii_case(b"transfer-encoding")
    });
    if !body.is_empty() && !framed {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// Writes `request`, reads until the server closes, parses the answer. Panics when the server
/// closes without a response (what a crashed handler looks like from outside).
pub async fn send_raw(port: u16, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    // The server may answer (413) and close before reading everything: keep what it sent.
    let _ = stream.write_all(request).await;
    let read = async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf
    };
    let buf = tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the server answers and closes within 20 s");
    parse_response(&buf)
}

fn parse_response(buf: &[u8]) -> RawResponse {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(rest.len());
        rest[..len.min(rest.len())].to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[(size + 2).min(rest.len())..];
    }
    body
}

/// A chunked body: `data` in chunks of at most 1000 bytes, then the last chunk.
fn chunked(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in data.chunks(1000) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ----- What every answer must look like -----

/// Status, headers and body of an answer, from reqwest or the raw socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    async fn from_reqwest(resp: reqwest::Response) -> Reply {
        Reply {
            status: resp.status().as_u16(),
            content_type: resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: resp.bytes().await.expect("body").to_vec(),
        }
    }

    fn from_raw(resp: RawResponse) -> Reply {
        Reply {
            status: resp.status,
            content_type: resp.header("content-type").map(str::to_string),
            body: resp.body,
        }
    }
}

/// Who answers: the framework (E1 shape required) or the endpoint (its own error shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    E1,
    Endpoint,
}

/// Asserts a JSON 4xx with `status`; returns the body.
fn check(reply: &Reply, status: u16, shape: Shape, case: &str) -> Value {
    let text: String = String::from_utf8_lossy(&reply.body)
        .chars()
        .take(300)
        .collect();
    assert!(
        reply.status < 500,
        "{case}: server error {} {text}",
        reply.status
    );
    assert_eq!(reply.status, status, "{case}: body {text}");
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/json; charset=utf-8"),
        "{case}"
    );
    let body: Value =
        serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("{case}: not JSON: {text}"));
    assert!(body.is_object(), "{case}: {text}");
    assert!(body.get("errors").is_some(), "{case}: no errors: {text}");
    if shape == Shape::E1 {
        assert_eq!(body["success"], false, "{case}: {text}");
        assert!(
            body["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty() && e.iter().all(Value::is_string)),
            "{case}: not E1: {text}"
        );
    }
    body
}

/// A value's JSON, cut to a readable length for assertion messages.
fn short(value: &Value) -> String {
    value.to_string().chars().take(300).collect()
}

// ----- The endpoints that take input -----

#[derive(Debug, Clone, Copy)]
struct Target {
    method: &'static str,
    path: &'static str,
    /// Whether the endpoint reads a body (GET endpoints ignore one).
    reads_body: bool,
    /// Its answer to a body with no permitted parameter.
    no_params: u16,
    /// A body it accepts as well-formed (when it reads one), and its answer to it when the
    /// request carries no valid credentials.
    neutral_body: &'static str,
    neutral: u16,
}

const TARGETS: [Target; 7] = [
    Target {
        method: "POST",
        path: "/auth",
        reads_body: true,
        no_params: 422,
        neutral_body: "{}",
        neutral: 422,
    },
    Target {
        method: "PUT",
        path: "/auth",
        reads_body: true,
        no_params: 422,
        neutral_body: r#"{"password":"password2","password_confirmation":"password2"}"#,
        neutral: 404,
    },
    Target {
        method: "DELETE",
        path: "/auth",
        reads_body: true,
        no_params: 404,
        neutral_body: "{}",
        neutral: 404,
    },
    Target {
        method: "POST",
        path: "/auth/sign_in",
        reads_body: true,
        no_params: 401,
        neutral_body: r#"{"email":"nobody@example.com","password":"password1"}"#,
        neutral: 401,
    },
    Target {
        method: "DELETE",
        path: "/auth/sign_out",
        reads_body: true,
        no_params: 404,
        neutral_body: "{}",
        neutral: 404,
    },
    Target {
        method: "GET",
        path: "/auth/validate_token",
        reads_body: false,
        no_params: 401,
        neutral_body: "",
        neutral: 401,
    },
    Target {
        method: "GET",
        path: "/api/me",
        reads_body: false,
        no_params: 401,
        neutral_body: "",
        neutral: 401,
    },
];

impl Target {
    fn method(&self) -> Method {
        Method::from_bytes(self.method.as_bytes()).expect("method")
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Expected answer to a body that fails to parse with `status`: GET endpoints never read it.
    fn body_error(&self, status: u16) -> (u16, Shape) {
        if self.reads_body {
            (status, Shape::E1)
        } else {
            (self.neutral, Shape::Endpoint)
        }
    }
}

/// Sends `body` with `content_type` (none when `None`) to `target`.
async fn send_body(
    app: &TestApp,
    target: &Target,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut rb = app.request(target.method(), target.path).body(body);
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    Reply::from_reqwest(rb.send().await.expect("request")).await
}

/// Sends the target's neutral body (if any) with extra `headers`.
async fn send_neutral(app: &TestApp, target: &Target, headers: &[(&str, &str)]) -> Reply {
    let mut rb = app.request(target.method(), target.path);
    if target.reads_body {
        rb = rb
            .header("content-type", "application/json")
            .body(target.neutral_body);
    }
    for (name, value) in headers {
        rb = rb.header(*name, *value);
    }
    Reply::from_reqwest(rb.send().await.expect("request")).await
}

async fn assert_still_serving(app: &TestApp) {
    let resp = app
        .request(Method::GET, "/health")
        .send()
        .await
        .expect("server still answers");
    assert_eq!(resp.status(), 200);
}

// ----- The classes, each usable on its own or in the full battery -----

async fn malformed_json(app: &TestApp) {
    for target in &TARGETS {
        let reply = send_body(app, target, Some("application/json"), r#"{"email":"#).await;
        let (status, shape) = target.body_error(400);
        check(
            &reply,
            status,
            shape,
            &format!("{}: malformed JSON", target.name()),
        );
    }
}

async fn non_object_json(app: &TestApp) {
    for target in &TARGETS {
        for body in [
            r#"["email","a@b.co"]"#,
            r#""a string""#,
            "42",
            "null",
            "true",
        ] {
            let reply = send_body(app, target, Some("application/json"), body).await;
            let (status, shape) = target.body_error(400);
            check(&reply, status, shape, &format!("{}: {body}", target.name()));
        }
    }
}

async fn wrongly_typed_fields(app: &TestApp) {
    // docs/contract.md §9.4: non-string values count as absent or bad, never a 500.
    for target in &TARGETS {
        for body in [
            r#"{"email":5,"password":true}"#,
            r#"{"email":null,"password":null}"#,
            r#"{"email":["a@b.co"],"password":{"x":1},"password_confirmation":[]}"#,
            r#"{"email":1e400,"password":-0.0}"#,
        ] {
            let reply = send_body(app, target, Some("application/json"), body).await;
            let (status, shape) = if body.contains("1e400") {
                // Out of f64 range: serde_json refuses it as malformed JSON.
                target.body_error(400)
            } else if body.contains("[]") {
                // Arrays and objects are dropped: no permitted scalar is left.
                (target.no_params, Shape::Endpoint)
            } else {
                (target.neutral, Shape::Endpoint)
            };
            check(&reply, status, shape, &format!("{}: {body}", target.name()));
        }
    }
}

async fn missing_fields_and_empty_bodies(app: &TestApp) {
    for target in &TARGETS {
        for (content_type, body) in [
            (Some("application/json"), "{}"),
            (Some("application/json"), r#"{"unknown":"field"}"#),
            (Some("application/json"), ""),
            (Some("application/json"), "  \r\n "),
            (Some("application/x-www-form-urlencoded"), ""),
            (Some("multipart/form-data; boundary=x"), "--x--\r\n"),
            (None, ""),
        ] {
            let reply = send_body(app, target, content_type, body).await;
            check(
                &reply,
                target.no_params,
                Shape::Endpoint,
                &format!("{}: {content_type:?} {body:?}", target.name()),
            );
        }
    }
}

async fn unsupported_content_types(app: &TestApp) {
    for target in &TARGETS {
        for (content_type, body) in [
            (
                Some("text/plain"),
                r#"{"email":"a@b.co","password":"password1"}"#,
            ),
            (Some("application/xml"), "<email>a@b.co</email>"),
            (Some("multipart/mixed; boundary=x"), "--x--\r\n"),
            (Some("not a mime type"), "email=a%40b.co"),
            (None, "email=a%40b.co"),
        ] {
            let reply = send_body(app, target, content_type, body).await;
            let (status, shape) = target.body_error(415);
            check(
                &reply,
                status,
                shape,
                &format!("{}: {content_type:?}", target.name()),
            );
        }
    }
}

async fn malformed_multipart(app: &TestApp) {
    let part = "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n";
    for target in &TARGETS {
        for (content_type, body) in [
            // No boundary to split on.
            ("multipart/form-data", format!("{part}--x--\r\n")),
            // The closing boundary never comes.
            ("multipart/form-data; boundary=x", part.to_string()),
            // A part without headers or a blank line.
            (
                "multipart/form-data; boundary=x",
                "--x\r\ngarbage".to_string(),
            ),
            // A different boundary than the header names.
            (
                "multipart/form-data; boundary=y",
                format!("{part}--x--\r\n"),
            ),
        ] {
            let reply = send_body(app, target, Some(content_type), body.clone()).await;
            let (status, shape) = target.body_error(400);
            check(
                &reply,
                status,
                shape,
                &format!("{}: {content_type} {body:?}", target.name()),
            );
        }
    }
}

async fn oversized_bodies(app: &TestApp) {
    let big = format!(
        r#"{{"email":"big@example.com","password":"password1","password_confirmation":"password1","name":"{}"}}"#,
        "x".repeat(app.settings.max_body_size + 1000)
    );
    for target in &TARGETS {
        // Declared length over the limit: refused before anything reads it, GET included.
        let reply = send_body(app, target, Some("application/json"), big.clone()).await;
        check(
            &reply,
            413,
            Shape::E1,
            &format!("{}: Content-Length over the limit", target.name()),
        );

        // The same limit for a multipart body.
        let part = format!(
            "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{}\r\n--x--\r\n",
            "x".repeat(app.settings.max_body_size + 1000)
        );
        let reply = send_body(app, target, Some("multipart/form-data; boundary=x"), part).await;
        check(
            &reply,
            413,
            Shape::E1,
            &format!("{}: multipart over the limit", target.name()),
        );

        // Chunked, no declared length: refused while reading.
        let request = raw_request(
            target.method,
            target.path,
            app.port,
            &[
                (b"Content-Type", b"application/json"),
                (b"Transfer-Encoding", b"chunked"),
            ],
            &chunked(big.as_bytes()),
        );
        let reply = Reply::from_raw(send_raw(app.port, &request).await);
        let (status, shape) = target.body_error(413);
        check(
            &reply,
            status,
            shape,
            &format!("{}: chunked over the limit", target.name()),
        );
    }
}

async fn invalid_chunked_framing(app: &TestApp) {
    for target in TARGETS.iter().filter(|t| t.reads_body) {
        for body in [
            &b"zz\r\n{\"email\":1}\r\n0\r\n\r\n"[..],
            &b"5\r\n{\"email\":1}\r\n0\r\n\r\n"[..],
        ] {
            let request = raw_request(
                target.method,
                target.path,
                app.port,
                &[
                    (b"Content-Type", b"application/json"),
                    (b"Transfer-Encoding", b"chunked"),
                ],
                body,
            );
            let reply = Reply::from_raw(send_raw(app.port, &request).await);
            check(
                &reply,
                400,
                Shape::E1,
                &format!(
                    "{}: invalid chunked body {:?}",
                    target.name(),
                    String::from_utf8_lossy(&body[..4])
                ),
            );
        }
    }
}

async fn non_utf8_bodies(app: &TestApp) {
    for target in &TARGETS {
        let form = send_body(
            app,
            target,
            Some("application/x-www-form-urlencoded"),
            "email=%FF%FE&password=password1",
        )
        .await;
        let (status, shape) = target.body_error(400);
        check(
            &form,
            status,
            shape,
            &format!("{}: form %FF%FE", target.name()),
        );

        let raw_form = send_body(
            app,
            target,
            Some("application/x-www-form-urlencoded"),
            b"email=\xff\xfe&password=password1".to_vec(),
        )
        .await;
        check(
            &raw_form,
            status,
            shape,
            &format!("{}: form raw 0xFF", target.name()),
        );

        let json_body = send_body(
            app,
            target,
            Some("application/json"),
            b"{\"email\":\"\xff\xfe@example.com\",\"password\":\"password1\"}".to_vec(),
        )
        .await;
        check(
            &json_body,
            status,
            shape,
            &format!("{}: JSON with invalid UTF-8", target.name()),
        );

        let multipart = send_body(
            app,
            target,
            Some("multipart/form-data; boundary=x"),
            b"--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n\xff\xfe@example.com\r\n--x--\r\n"
                .to_vec(),
        )
        .await;
        check(
            &multipart,
            status,
            shape,
            &format!("{}: multipart part with invalid UTF-8", target.name()),
        );
    }
}

async fn non_utf8_credential_headers(app: &TestApp) {
    for target in &TARGETS {
        for (name, value) in [
            (&b"uid"[..], &b"\xff\xfe@example.com"[..]),
            (&b"access-token"[..], &b"tok\x80en"[..]),
            (&b"client"[..], &b"\xc3\x28"[..]),
        ] {
            let mut headers: Vec<(&[u8], &[u8])> = vec![(name, value)];
            if target.reads_body {
                headers.push((b"Content-Type", b"application/json"));
            }
            let request = raw_request(
                target.method,
                target.path,
                app.port,
                &headers,
                target.neutral_body.as_bytes(),
            );
            let reply = Reply::from_raw(send_raw(app.port, &request).await);
            check(
                &reply,
                target.neutral,
                Shape::Endpoint,
                &format!(
                    "{}: non-UTF-8 {} header",
                    target.name(),
                    String::from_utf8_lossy(name)
                ),
            );
        }
    }
}

async fn oversized_credential_headers(app: &TestApp) {
    // Over toker's per-value limit (8 KiB, commit 833292f): a JSON 431 before any handler.
    let long = "a".repeat(10 * 1024);
    let long_uid = format!("{}@example.com", "u".repeat(10 * 1024));
    // Under it but far over any real credential (255): ignored, so not authenticated.
    let medium = "a".repeat(4 * 1024);
    let medium_uid = format!("{}@example.com", "u".repeat(4 * 1024));
    for target in &TARGETS {
        for (headers, status, shape) in [
            (
                vec![
                    ("access-token", long.as_str()),
                    ("client", "c"),
                    ("uid", "a@b.co"),
                ],
                431,
                Shape::E1,
            ),
            (
                vec![
                    ("access-token", "t"),
                    ("client", "c"),
                    ("uid", long_uid.as_str()),
                ],
                431,
                Shape::E1,
            ),
            (
                vec![
                    ("access-token", medium.as_str()),
                    ("client", "c"),
                    ("uid", "a@b.co"),
                ],
                target.neutral,
                Shape::Endpoint,
            ),
            (
                vec![
                    ("access-token", medium.as_str()),
                    ("client", medium.as_str()),
                    ("uid", medium_uid.as_str()),
                ],
                target.neutral,
                Shape::Endpoint,
            ),
        ] {
            let reply = send_neutral(app, target, &headers).await;
            check(
                &reply,
                status,
                shape,
                &format!("{}: long credential header ({status})", target.name()),
            );
        }
    }
}

async fn garbage_bearer_authorization(app: &TestApp) {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let values = [
        "Bearer !!!not base64!!!".to_string(),
        format!("Bearer {}", b64(r#"["access-token","client","uid"]"#)),
        format!("Bearer {}", b64("null")),
        format!("Bearer {}", b64("42")),
        format!("Bearer {}", b64(r#""a string""#)),
        format!(
            "Bearer {}",
            b64(r#"{"access-token":5,"client":null,"uid":["a@b.co"]}"#)
        ),
        format!("Bearer {}", b64(r#"{"access-token":"#)),
        format!("Bearer {}", "A".repeat(4 * 1024)),
        "Bearer".to_string(),
        "Basic dXNlcjpwYXNz".to_string(),
    ];
    for target in &TARGETS {
        for value in &values {
            let reply = send_neutral(app, target, &[("authorization", value)]).await;
            check(
                &reply,
                target.neutral,
                Shape::Endpoint,
                &format!(
                    "{}: Authorization {}",
                    target.name(),
                    &value[..value.len().min(40)]
                ),
            );
        }
    }
}

async fn hostile_origins(app: &TestApp) {
    let long = format!("https://{}.example.com", "a".repeat(8 * 1024));
    for target in &TARGETS {
        for origin in [
            "not an origin at all",
            "https://app.example.com evil",
            "https://app.example.com, https://evil.test",
            "javascript:alert(1)",
            long.as_str(),
        ] {
            let reply = send_neutral(app, target, &[("origin", origin)]).await;
            check(
                &reply,
                403,
                Shape::E1,
                &format!(
                    "{}: Origin {}",
                    target.name(),
                    &origin[..origin.len().min(40)]
                ),
            );
        }
        let mut headers: Vec<(&[u8], &[u8])> = vec![(b"Origin", b"https://\xe4pp.example.com")];
        if target.reads_body {
            headers.push((b"Content-Type", b"application/json"));
        }
        let request = raw_request(
            target.method,
            target.path,
            app.port,
            &headers,
            target.neutral_body.as_bytes(),
        );
        let raw = send_raw(app.port, &request).await;
        assert!(!raw.has_cors_headers(), "{}", target.name());
        check(
            &Reply::from_raw(raw),
            403,
            Shape::E1,
            &format!("{}: non-ASCII Origin", target.name()),
        );
    }
}

const SQL_INJECTIONS: [&str; 4] = [
    "' OR '1'='1' --",
    "a@b.co' OR 1=1; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "admin@example.com'/*",
];

async fn sql_injection_lookalikes(app: &TestApp) {
    for value in SQL_INJECTIONS {
        // Sign-up: not an e-mail → validation error.
        let resp = app
            .post_json(
                "/auth",
                &json!({"email": value, "password": "password1", "password_confirmation": "password1"}),
            )
            .await;
        let reply = Reply::from_reqwest(resp).await;
        let body = check(&reply, 422, Shape::Endpoint, &format!("sign-up {value}"));
        assert!(body["errors"]["email"].is_array(), "{value}: {body}");

        // Sign-in: bad credentials.
        let resp = app
            .post_json("/auth/sign_in", &json!({"email": value, "password": value}))
            .await;
        check(
            &Reply::from_reqwest(resp).await,
            401,
            Shape::E1,
            &format!("sign-in {value}"),
        );

        // As credentials, everywhere.
        for target in &TARGETS {
            let reply = send_neutral(
                app,
                target,
                &[("uid", value), ("access-token", value), ("client", value)],
            )
            .await;
            check(
                &reply,
                target.neutral,
                Shape::Endpoint,
                &format!("{}: uid {value}", target.name()),
            );
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("uid", value)
            .append_pair("access-token", value)
            .append_pair("client", value)
            .finish();
        let resp = app
            .request(Method::GET, &format!("/auth/validate_token?{query}"))
            .send()
            .await
            .expect("request");
        check(
            &Reply::from_reqwest(resp).await,
            401,
            Shape::E1,
            &format!("validate_token ?uid={value}"),
        );
    }
}

/// Asserts anything but a server error (and that the server answered at all).
async fn assert_not_server_error(resp: reqwest::Response, case: &str) {
    let status = resp.status().as_u16();
    let text: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    assert!((200..500).contains(&status), "{case}: {status} {text}");
}

async fn nul_bytes_in_sign_up(app: &TestApp) {
    // Refused or stored, but never a 500 (PostgreSQL text cannot hold NUL).
    let resp = app
        .post_json(
            "/auth",
            &json!({"email": "nul\u{0}byte@example.com", "password": "password1", "password_confirmation": "password1"}),
        )
        .await;
    assert_not_server_error(resp, "sign-up with NUL in the e-mail").await;

    let resp = app
        .post_json(
            "/auth",
            &json!({"email": "nulpw@example.com", "password": "pass\u{0}word1", "password_confirmation": "pass\u{0}word1"}),
        )
        .await;
    assert_not_server_error(resp, "sign-up with NUL in the password").await;
}

async fn nul_bytes_in_sign_in(app: &TestApp) {
    let resp = app
        .post_json(
            "/auth/sign_in",
            &json!({"email": "nobody\u{0}@example.com", "password": "pass\u{0}word"}),
        )
        .await;
    check(
        &Reply::from_reqwest(resp).await,
        401,
        Shape::E1,
        "sign-in with NUL in the e-mail",
    );
}

async fn nul_bytes_in_credential_params(app: &TestApp) {
    // Headers cannot carry NUL; the body and query fallbacks (docs/decisions.md D10) can.
    let creds = json!({"uid": "a\u{0}@b.co", "access-token": "t\u{0}k", "client": "c\u{0}"});
    for (method, path) in [
        (Method::DELETE, "/auth/sign_out"),
        (Method::DELETE, "/auth"),
    ] {
        let resp = app
            .request(method.clone(), path)
            .json(&creds)
            .send()
            .await
            .expect("request");
        check(
            &Reply::from_reqwest(resp).await,
            404,
            Shape::Endpoint,
            &format!("{method} {path} with NUL body credentials"),
        );
    }
    let resp = app
        .request(
            Method::GET,
            "/auth/validate_token?uid=a%00%40b.co&access-token=t%00k&client=c%00",
        )
        .send()
        .await
        .expect("request");
    check(
        &Reply::from_reqwest(resp).await,
        401,
        Shape::E1,
        "validate_token with NUL query credentials",
    );
}

async fn nul_bytes(app: &TestApp) {
    nul_bytes_in_sign_up(app).await;
    nul_bytes_in_sign_in(app).await;
    nul_bytes_in_credential_params(app).await;
}

async fn unknown_routes_and_wrong_methods(app: &TestApp) {
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::POST, "/nope"),
        (Method::GET, "/auth/nope/deeper"),
        (Method::DELETE, "/auth/nope/deeper"),
        (Method::GET, "/api/me/more"),
    ] {
        let resp = app
            .request(method.clone(), path)
            .send()
            .await
            .expect("request");
        check(
            &Reply::from_reqwest(resp).await,
            404,
            Shape::E1,
            &format!("{method} {path}"),
        );
    }
    for (method, path) in [
        (Method::PUT, "/auth/sign_in"),
        (Method::POST, "/auth/validate_token"),
        (Method::GET, "/auth/sign_out"),
        (Method::POST, "/api/me"),
        (Method::GET, "/auth"),
    ] {
        let resp = app
            .request(method.clone(), path)
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        let reply = Reply::from_reqwest(resp).await;
        assert!(
            [404, 405].contains(&reply.status),
            "{method} {path}: {reply:?}"
        );
        check(&reply, reply.status, Shape::E1, &format!("{method} {path}"));
    }
}

async fn extremely_long_emails(app: &TestApp) {
    let long = format!("{}@example.com", "a".repeat(10_000));
    let resp = app.sign_up(&long, "password1").await;
    let reply = Reply::from_reqwest(resp).await;
    let body = check(&reply, 422, Shape::Endpoint, "sign-up with a 10k e-mail");
    assert!(body["errors"]["email"].is_array(), "{}", short(&body));

    let resp = app.sign_in_response(&long, "password1").await;
    check(
        &Reply::from_reqwest(resp).await,
        401,
        Shape::E1,
        "sign-in with a 10k e-mail",
    );
}

async fn extremely_long_passwords(app: &TestApp) {
    let long = "p".repeat(10_000);
    let resp = app.sign_up("longpw@example.com", &long).await;
    let reply = Reply::from_reqwest(resp).await;
    let body = check(&reply, 422, Shape::Endpoint, "sign-up with a 10k password");
    assert!(body["errors"]["password"].is_array(), "{}", short(&body));

    assert_eq!(
        app.sign_up("haspw@example.com", "password1").await.status(),
        200
    );
    let resp = app.sign_in_response("haspw@example.com", &long).await;
    check(
        &Reply::from_reqwest(resp).await,
        401,
        Shape::E1,
        "sign-in with a 10k password",
    );
}

/// E-mails of sign-ups every class above must have refused.
const REFUSED_EMAILS: [&str; 4] = [
    "big@example.com",
    "a@b.co",
    "longpw@example.com",
    "\u{fffd}\u{fffd}@example.com",
];

async fn small_body_app() -> TestApp {
    spawn_app_with(|s| s.max_body_size = 2048).await
}

// ----- One test per class -----

#[tokio::test]
async fn malformed_json_gets_a_json_400_on_every_endpoint() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    malformed_json(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn json_arrays_strings_numbers_and_null_bodies_get_a_json_400() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    non_object_json(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn wrongly_typed_fields_count_as_absent_or_bad_never_as_a_server_error() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    wrongly_typed_fields(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn wrongly_typed_fields_from_a_signed_in_user_are_a_validation_error() {
    // Arrange
    let app = spawn_app().await;
    let mut auth = app.signed_in_user("typed@example.com").await;

    // Act
    let resp = app
        .authed(Method::PUT, "/auth", &auth)
        .json(&json!({"email": 5, "password": true, "password_confirmation": false}))
        .send()
        .await
        .expect("request");
    auth.update_from(resp.headers());

    // Assert
    let body = check(
        &Reply::from_reqwest(resp).await,
        422,
        Shape::Endpoint,
        "PUT /auth with wrong types",
    );
    assert_eq!(body["status"], "error");
    let still = app.get_authed("/auth/validate_token", &mut auth).await;
    assert_eq!(still.status(), 200);
    assert_eq!(json(still).await["data"]["uid"], "typed@example.com");
}

#[tokio::test]
async fn missing_fields_and_empty_bodies_get_each_endpoints_own_answer() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    missing_fields_and_empty_bodies(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn unsupported_content_types_get_a_json_415() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    unsupported_content_types(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn malformed_multipart_bodies_get_a_json_400() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    malformed_multipart(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_a_json_413_declared_or_chunked() {
    // Arrange
    let app = small_body_app().await;

    // Act + Assert
    oversized_bodies(&app).await;
    assert_still_serving(&app).await;
    assert!(
        app.store
            .find_email_user("big@example.com")
            .await
            .expect("store")
            .is_none()
    );
}

#[tokio::test]
async fn invalid_chunked_framing_gets_a_json_400_and_the_server_keeps_serving() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    invalid_chunked_framing(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn non_utf8_form_and_json_bodies_get_a_json_400() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    non_utf8_bodies(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn non_utf8_credential_headers_count_as_no_credentials() {
    // Arrange (docs/contract.md §9.4: the gem answers a non-UTF-8 uid with a 500)
    let app = spawn_app().await;

    // Act + Assert
    non_utf8_credential_headers(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn long_credential_headers_get_a_json_431_or_count_as_no_credentials() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    oversized_credential_headers(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_hundred_kilobyte_request_header_gets_a_json_431() {
    // Arrange
    let app = spawn_app().await;
    let value = "a".repeat(100 * 1024);

    // Act
    let resp = app
        .request(Method::GET, "/auth/validate_token")
        .header("x-padding", &value)
        .send()
        .await
        .expect("request");

    // Assert
    check(
        &Reply::from_reqwest(resp).await,
        431,
        Shape::E1,
        "100 KB header",
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_megabyte_request_header_is_refused_with_431_not_a_crash() {
    // hyper answers this one itself (empty body): poem 3.1 exposes no HTTP/1 buffer setting.
    // Arrange
    let app = spawn_app().await;
    let value = vec![b'a'; 1024 * 1024];
    let request = raw_request(
        "GET",
        "/auth/validate_token",
        app.port,
        &[(b"uid", &value)],
        b"",
    );

    // Act
    let resp = send_raw(app.port, &request).await;

    // Assert
    assert_eq!(resp.status, 431, "1 MB header");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn garbage_bearer_authorization_counts_as_no_credentials() {
    // Arrange (docs/contract.md §9.4: a non-object payload is a 500 on the gem)
    let app = spawn_app().await;

    // Act + Assert
    garbage_bearer_authorization(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn hostile_origins_get_a_json_403_on_every_endpoint() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    hostile_origins(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn sql_injection_lookalikes_get_the_normal_401_or_422() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    sql_injection_lookalikes(&app).await;
    assert_still_serving(&app).await;
    for value in SQL_INJECTIONS {
        assert!(
            app.store
                .find_email_user(&value.to_lowercase())
                .await
                .expect("store")
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_nul_byte_in_a_sign_up_email_or_password_is_never_a_server_error() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    nul_bytes_in_sign_up(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_nul_byte_in_a_sign_in_email_is_bad_credentials() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    nul_bytes_in_sign_in(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn nul_bytes_in_body_or_query_credentials_count_as_no_credentials() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    nul_bytes_in_credential_params(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_ten_thousand_character_email_in_an_account_update_is_a_validation_error() {
    // Arrange
    let app = spawn_app().await;
    let mut auth = app.signed_in_user("upd@example.com").await;
    let long = format!("{}@example.com", "a".repeat(10_000));

    // Act
    let resp = app
        .authed(Method::PUT, "/auth", &auth)
        .json(&json!({ "email": long }))
        .send()
        .await
        .expect("request");
    auth.update_from(resp.headers());

    // Assert
    let body = check(
        &Reply::from_reqwest(resp).await,
        422,
        Shape::Endpoint,
        "PUT /auth with a 10k e-mail",
    );
    assert!(body["errors"]["email"].is_array(), "{}", short(&body));
    let resp = app.get_authed("/auth/validate_token", &mut auth).await;
    assert_eq!(resp.status(), 200, "still signed in as before");
    assert_eq!(json(resp).await["data"]["uid"], "upd@example.com");
}

#[tokio::test]
async fn a_nul_byte_in_an_account_update_email_is_never_a_server_error() {
    // Arrange
    let app = spawn_app().await;
    let auth = app.signed_in_user("upd@example.com").await;

    // Act
    let resp = app
        .authed(Method::PUT, "/auth", &auth)
        .json(&json!({"email": "v\u{0}@example.com", "name": "x\u{0}y"}))
        .send()
        .await
        .expect("request");

    // Assert
    assert_not_server_error(resp, "PUT /auth with NUL in the e-mail").await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn unknown_routes_get_a_json_404_and_wrong_methods_a_json_404_or_405() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    unknown_routes_and_wrong_methods(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_ten_thousand_character_email_is_a_validation_error_or_bad_credentials() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    extremely_long_emails(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_ten_thousand_character_password_is_a_validation_error_or_bad_credentials() {
    // Arrange
    let app = spawn_app().await;

    // Act + Assert
    extremely_long_passwords(&app).await;
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn after_the_whole_battery_sign_up_and_sign_in_still_work_and_nothing_was_half_written() {
    // Arrange
    let app = spawn_app().await;

    // Act: every class against one server.
    malformed_json(&app).await;
    non_object_json(&app).await;
    wrongly_typed_fields(&app).await;
    missing_fields_and_empty_bodies(&app).await;
    unsupported_content_types(&app).await;
    malformed_multipart(&app).await;
    oversized_bodies(&app).await;
    invalid_chunked_framing(&app).await;
    non_utf8_bodies(&app).await;
    non_utf8_credential_headers(&app).await;
    oversized_credential_headers(&app).await;
    garbage_bearer_authorization(&app).await;
    hostile_origins(&app).await;
    sql_injection_lookalikes(&app).await;
    nul_bytes(&app).await;
    unknown_routes_and_wrong_methods(&app).await;
    extremely_long_emails(&app).await;
    extremely_long_passwords(&app).await;

    // Assert: no refused sign-up left a row behind…
    for email in REFUSED_EMAILS {
        assert!(
            app.store
                .find_email_user(email)
                .await
                .expect("store")
                .is_none(),
            "{email} was stored"
        );
    }
    let long = format!("{}@example.com", "a".repeat(10_000));
    assert!(
        app.store
            .find_email_user(&long)
            .await
            .expect("store")
            .is_none()
    );
    // …and the normal flow still works end to end.
    let mut auth = app.signed_in_user("survivor@example.com").await;
    let resp = app.get_authed("/auth/validate_token", &mut auth).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["data"]["uid"], "survivor@example.com");
}
