//! Connections: answers after which the rest of a request is not read say `Connection: close`
//! and keep-alive clients recover from them; malformed framing is refused; 405 lists what is
//! allowed; slow, idle and excess connections are cut or made to wait, and the server neither
//! runs out of file descriptors nor spins when it nears them.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{helpers::*, support::serve::Serve};

/// One HTTP/1.1 answer read off a raw socket.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect")
}

/// Reads one answer (headers, then `Content-Length` bytes of body).
async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let read = async {
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    let status = head[9..12].parse().expect("a status code");
                    return Answer {
                        status,
                        body: body.into_owned(),
                        head,
                    };
                }
            }
            let n = stream.read(&mut buf).await.expect("read an answer");
            assert!(
                n > 0,
                "closed before a whole answer: {:?}",
                String::from_utf8_lossy(&data)
            );
            data.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s")
}

/// Waits until the server closes the connection; how long that took, or `None` when it was
/// still open after `within`. Bytes that arrive meanwhile are returned too.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let result = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (result.ok().map(|()| started.elapsed()), received)
}

fn oversized_sign_in(body_len: usize) -> Vec<u8> {
    let mut request = format!(
        "POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\n\
         Content-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    request.resize(request.len() + body_len, b' ');
    request
}

#[tokio::test]
async fn an_answer_to_an_unread_oversized_body_says_close_and_closes_cleanly() {
    // Arrange
    let app = spawn_app().await;
    let mut stream = connect(&app).await;

    // Act
    stream.write_all(&oversized_sign_in(100_000)).await.unwrap();
    let answer = read_answer(&mut stream).await;

    // Assert: the client is told, and the close is a close, not a reset that could have
    // destroyed the answer.
    assert_eq!(answer.status, 413);
    assert!(answer.closes(), "{}", answer.head);
    assert_eq!(
        answer.body,
        r#"{"success":false,"errors":["Request body is too large."]}"#
    );
    let (closed, _) = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the connection stayed open");
}

#[tokio::test]
async fn a_streamed_oversized_body_is_refused_with_close_too() {
    let app = spawn_app().await;
    let mut stream = connect(&app).await;
    let mut request =
        b"POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..25 {
        request.extend_from_slice(b"1000\r\n");
        request.extend_from_slice(&[b' '; 0x1000]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");

    stream.write_all(&request).await.unwrap();
    let answer = read_answer(&mut stream).await;

    assert_eq!(answer.status, 413);
    assert!(answer.closes(), "{}", answer.head);
    let (closed, _) = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the connection stayed open");
}

#[tokio::test]
async fn a_keep_alive_client_never_loses_the_request_after_an_early_answer() {
    // Arrange: one pooled keep-alive client, as a browser or Python requests.
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let oversized = vec![b' '; 100_000];
    let huge_header = "x".repeat(40 * 1024);

    for round in 0..200 {
        // Act: an answer given without reading the request (413 or 431)...
        let early = if round % 2 == 0 {
            client
                .post(app.url("/auth/sign_in"))
                .header("content-type", "application/json")
                .body(oversized.clone())
                .send()
                .await
        } else {
            client
                .get(app.url("/auth/validate_token"))
                .header("x-padding", huge_header.as_str())
                .send()
                .await
        }
        .unwrap_or_else(|e| panic!("round {round}: the refused request failed: {e}"));
        assert!(
            matches!(early.status().as_u16(), 413 | 431),
            "round {round}: {}",
            early.status()
        );
        assert_eq!(early.headers()["connection"], "close", "round {round}");
        drop(early.bytes().await);

        // ...then an ordinary one on the same pool.
        let next = client
            .post(app.url("/auth/sign_in"))
            .json(&serde_json::json!({"email": "nobody@example.com", "password": "secret1"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the next request failed: {e}"));

        // Assert
        assert_eq!(next.status(), 401, "round {round}");
    }
}

/// Every other refusal that may come before the body is read: either the answer says
/// `Connection: close` and the connection closes, or the connection is still good for the next
/// request on it. A refusal that read the whole body (a wrong password) keeps the connection.
#[tokio::test]
async fn every_early_refusal_either_says_close_or_keeps_the_connection_usable() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"email":"nobody@example.com","password":"wrong","pad":"{}"}}"#,
        "x".repeat(30_000)
    );
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "unknown path",
            format!(
                "POST /no/such/route HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            404,
        ),
        (
            "wrong method",
            format!(
                "PATCH /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            405,
        ),
        (
            "unsupported type",
            format!(
                "POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            415,
        ),
        (
            "malformed JSON",
            format!(
                "POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{{body}",
                body.len() + 1
            ),
            400,
        ),
        (
            "unauthenticated",
            format!(
                "POST /api/me HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            405,
        ),
        (
            "wrong password",
            format!(
                "POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            401,
        ),
    ];
    for (name, request, status) in cases {
        let mut stream = connect(&app).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.head);
        assert!(answer.body.starts_with('{'), "{name}: {}", answer.body);
        if answer.closes() {
            let (closed, _) = closed_within(&mut stream, Duration::from_secs(5)).await;
            assert!(closed.is_some(), "{name}: said close and stayed open");
        } else {
            stream
                .write_all(b"GET /ping HTTP/1.1\r\nHost: toker\r\n\r\n")
                .await
                .unwrap();
            let next = read_answer(&mut stream).await;
            assert_eq!(
                next.status, 200,
                "{name}: the next request on the connection"
            );
        }
        if name == "wrong password" {
            assert!(
                !answer.closes(),
                "a refusal that read the body keeps the connection"
            );
        }
    }
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408_and_a_close() {
    let app = spawn_app_with(|s| s.body_read_timeout = 1).await;
    let mut stream = connect(&app).await;

    stream
        .write_all(
            b"POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut stream).await;

    assert_eq!(answer.status, 408);
    assert!(answer.closes(), "{}", answer.head);
    assert!(answer.body.contains("Request body not received in time."));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

async fn raw_answer(app: &TestApp, request: &[u8]) -> (Answer, TcpStream) {
    let mut stream = connect(app).await;
    stream.write_all(request).await.unwrap();
    (read_answer(&mut stream).await, stream)
}

#[tokio::test]
async fn an_http11_request_needs_exactly_one_host() {
    let app = spawn_app().await;

    for request in [
        &b"GET /ping HTTP/1.1\r\n\r\n"[..],
        b"GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let (answer, _) = raw_answer(&app, request).await;

        assert_eq!(answer.status, 400);
        assert!(answer.closes());
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        assert!(
            answer.body.contains("exactly one Host header"),
            "{}",
            answer.body
        );
    }
    // HTTP/1.0 has no Host requirement.
    let (answer, _) = raw_answer(&app, b"GET /ping HTTP/1.0\r\n\r\n").await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_body_framed_twice_or_with_unknown_codings_is_refused() {
    let app = spawn_app().await;
    let framings = [
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
    ];

    for framing in framings {
        let request = format!(
            "POST /auth/sign_in HTTP/1.1\r\nHost: toker\r\nContent-Type: application/json\r\n\
             {framing}\r\n2\r\n{{}}\r\n0\r\n\r\n"
        );
        let (answer, mut stream) = raw_answer(&app, request.as_bytes()).await;

        assert_eq!(answer.status, 400, "{framing}");
        assert!(answer.closes(), "{framing}");
        assert!(answer.body.contains("Transfer-Encoding"), "{}", answer.body);
        let (closed, _) = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "{framing}: the connection stayed open");
    }
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_its_400_or_431_and_a_close() {
    let app = spawn_app().await;
    let many_headers: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases = [
        (b"GET /ping HTTP/1.1\r\nHost toker\r\n\r\n".to_vec(), 400),
        (
            format!("GET /ping HTTP/1.1\r\nHost: toker\r\n{many_headers}\r\n").into_bytes(),
            431,
        ),
    ];

    for (request, status) in cases {
        let (answer, mut stream) = raw_answer(&app, &request).await;

        assert_eq!(answer.status, status);
        assert!(answer.closes(), "{}", answer.head);
        let (closed, _) = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(closed.is_some());
    }
}

#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    let app = spawn_app().await;
    let cases = [
        ("TRACE", "/auth/sign_in", "POST"),
        ("PUT", "/auth/sign_in", "POST"),
        ("GET", "/auth/sign_in", "POST"),
        ("DELETE", "/auth/validate_token", "GET, HEAD"),
        ("POST", "/api/me", "GET, HEAD"),
        ("GET", "/auth/password", "POST, PUT, PATCH"),
        ("DELETE", "/auth/github", "GET, HEAD, POST"),
        ("PUT", "/auth/github/token", "POST"),
        ("POST", "/ping", "GET, HEAD"),
        ("DELETE", "/openapi.json", "GET, HEAD"),
    ];

    for (method, path, allowed) in cases {
        let resp = app
            .request(method.parse().unwrap(), path)
            .send()
            .await
            .unwrap();

        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allowed, "{method} {path}");
        assert_json_content_type(&resp);
    }
}

#[tokio::test]
async fn allow_follows_a_custom_mount_path() {
    let app = spawn_app_with(|s| s.mount_path = "/api/v1/auth".into()).await;

    let resp = app
        .request(reqwest::Method::DELETE, "/api/v1/auth/sign_in")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off() {
    // Arrange
    let app = spawn_app_with(|s| s.header_read_timeout = 1).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /ping HTTP/1.1\r\n").await.unwrap();
    let (mut reader, mut writer) = stream.into_split();

    // Act: one header line every 200 ms, never the blank line that ends them.
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b"X-Slow: yes\r\n").await.is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let outcome = tokio::time::timeout(Duration::from_secs(8), reader.read(&mut buf)).await;
    trickle.abort();

    // Assert: closed with no answer, about a second after the first byte.
    let read = outcome.expect("the server kept the connection open");
    assert!(matches!(read, Ok(0) | Err(_)), "got an answer: {read:?}");
    let after = started.elapsed();
    assert!(after >= Duration::from_millis(800), "{after:?}");
    assert!(after < Duration::from_secs(4), "{after:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|s| s.keep_alive_timeout = 1).await;
    let (answer, mut stream) = raw_answer(&app, b"GET /ping HTTP/1.1\r\nHost: toker\r\n\r\n").await;
    assert_eq!(answer.status, 200);
    assert!(!answer.closes());

    let (closed, received) = closed_within(&mut stream, Duration::from_secs(8)).await;

    let after = closed.expect("the idle connection stayed open");
    assert!(received.is_empty());
    assert!(after >= Duration::from_millis(800), "{after:?}");
    assert!(after < Duration::from_secs(4), "{after:?}");
}

#[tokio::test]
async fn a_full_connection_table_recovers_when_idle_connections_time_out() {
    // Arrange: two slots, both taken by clients that connect and say nothing.
    let app = spawn_app_with(|s| {
        s.max_connections = 2;
        s.header_read_timeout = 1;
        s.keep_alive_timeout = 1;
    })
    .await;
    let mut idle = vec![connect(&app).await, connect(&app).await];
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Act: a real request waits for a slot.
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .get(app.url("/ping"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("served once a slot freed");

    // Assert
    assert_eq!(resp.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "{waited:?}: not queued"
    );
    for stream in &mut idle {
        let (closed, _) = closed_within(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "an idle connection kept its slot");
    }
}

/// `Max open files` of a process: (soft, hard).
fn open_files_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// CPU time a process has used (user + system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn startup_raises_the_soft_open_files_limit_to_the_hard_one() {
    let db = fresh_database().await;

    let serve = Serve::start_with_open_files("-Sn 256", &db.url, &[]).await;

    let (soft, hard) = open_files_limits(serve.pid());
    assert_eq!(soft, hard);
}

#[tokio::test]
async fn near_the_open_files_limit_excess_clients_wait_without_spinning_and_then_are_served() {
    // Arrange: 128 files in all, so room for 64 connections; 150 clients hold theirs open.
    let db = fresh_database().await;
    let mut serve = Serve::start_with_open_files("-n 128", &db.url, &[]).await;
    let lowered = serve
        .lines
        .iter()
        .find(|l| l.contains("max_connections lowered"))
        .unwrap_or_else(|| panic!("no warning: {:#?}", serve.lines));
    assert!(lowered.contains("max_connections=64"), "{lowered}");
    let port: u16 = serve.address.rsplit(':').next().unwrap().parse().unwrap();
    let mut clients = Vec::new();
    for _ in 0..150 {
        clients.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act
    let before = cpu_ticks(serve.pid());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_ticks(serve.pid()) - before;
    drop(clients);
    let resp = reqwest::Client::new()
        .get(format!("{}/ping", serve.address))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("served once the clients left");

    // Assert: a tenth of a second of CPU at most (100 ticks a second), where a loop retrying a
    // failing accept would burn the whole second.
    assert!(used <= 10, "{used} ticks of CPU while waiting");
    assert_eq!(resp.status(), 200);
    let log = serve.drain().await.join("\n");
    assert!(!log.contains("accepting a connection failed"), "{log}");
}
