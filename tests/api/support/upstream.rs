//! Real upstream servers for the gateway tests, on free loopback ports: an HTTP app (poem over
//! TCP) that records what reached it, a WebSocket echo server (tokio-tungstenite) that records
//! its handshake, and a bare TCP server that drops the first request unanswered.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use poem::{
    Body, Endpoint, Request, Response,
    http::{HeaderMap, StatusCode},
    listener::{Acceptor, Listener, TcpListener},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body_bytes: u64,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

/// The HTTP upstream. Paths:
/// - `/…/status/<code>`: answers that status with `{"status": code}`;
/// - `/…/slow`: answers after 3 s;
/// - `/…/upload`: reads the body as it streams and answers `{"bytes": n}`;
/// - `/…/download?bytes=N`: streams N bytes in 64 KiB chunks;
/// - `/…/own-headers`: answers with token, identity, CORS and caching headers of its own;
/// - anything else: `{"data": {…identity headers…}, "method", "path", "query"}`, the shape
///   of `GET /api/me`'s body where the browser tests read it.
pub struct Upstream {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start() -> Upstream {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind upstream");
        let port = acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("tcp")
            .port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = App { seen: seen.clone() };
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Upstream {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            task,
        }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the upstream received a request")
    }
}

struct App {
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(value.to_string())
}

impl Endpoint for App {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().map(String::from);
        let mut body_bytes = 0u64;
        let mut stream = req.take_body().into_bytes_stream();
        while let Some(chunk) = stream.next().await {
            body_bytes += chunk.map_err(poem::error::BadRequest)?.len() as u64;
        }
        self.seen.lock().unwrap().push(Seen {
            method: req.method().to_string(),
            path: path.clone(),
            query: query.clone(),
            headers: req.headers().clone(),
            body_bytes,
        });
        let last = path.rsplit('/').next().unwrap_or_default();
        let parent = path.rsplit('/').nth(1).unwrap_or_default();
        if parent == "status" {
            let code = last.parse::<u16>().unwrap_or(500);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(json(status, serde_json::json!({ "status": code })));
        }
        match last {
            "slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(json(StatusCode::OK, serde_json::json!({ "slow": true })))
            }
            "upload" => Ok(json(
                StatusCode::OK,
                serde_json::json!({ "bytes": body_bytes }),
            )),
            "download" => {
                let total: u64 = query
                    .as_deref()
                    .and_then(|q| q.strip_prefix("bytes="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let chunks = futures::stream::unfold(total, |left| async move {
                    (left > 0).then(|| {
                        let n = left.min(64 * 1024);
                        (
                            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![7u8; n as usize])),
                            left - n,
                        )
                    })
                });
                Ok(Response::builder()
                    .content_type("application/octet-stream")
                    .header("content-length", total.to_string())
                    .body(Body::from_bytes_stream(chunks)))
            }
            "own-headers" => Ok(Response::builder()
                .content_type("application/json")
                .header("access-token", "forged-by-upstream")
                .header("uid", "admin@example.com")
                .header("x-toker-user-id", "1")
                .header("access-control-allow-origin", "*")
                .header("cache-control", "public, max-age=60")
                .header("etag", "\"v1\"")
                .header("set-cookie", "app=1; Path=/")
                .body("{}")),
            _ => {
                let h = |name: &str| {
                    req.headers()
                        .get(name)
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                };
                Ok(json(
                    StatusCode::OK,
                    serde_json::json!({
                        "data": {
                            "id": h("x-toker-user-id").and_then(|v| v.parse::<i64>().ok()),
                            "uid": h("x-toker-uid"),
                            "email": h("x-toker-email"),
                            "provider": h("x-toker-provider"),
                            "client": h("x-toker-client"),
                        },
                        "method": req.method().as_str(),
                        "path": path,
                        "query": query,
                    }),
                ))
            }
        }
    }
}

/// A WebSocket echo server; `handshakes` holds the request headers of every upgrade.
pub struct WsUpstream {
    pub url: String,
    handshakes: Arc<Mutex<Vec<HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WsUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WsUpstream {
    pub async fn start() -> WsUpstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let record = handshakes.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    // The signature is tungstenite's.
                    #[allow(clippy::result_large_err)]
                    let callback =
                        |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                            let mut headers = HeaderMap::new();
                            for (k, v) in req.headers() {
                                if let (Ok(k), Ok(v)) = (
                                    poem::http::HeaderName::from_bytes(k.as_str().as_bytes()),
                                    poem::http::HeaderValue::from_bytes(v.as_bytes()),
                                ) {
                                    headers.append(k, v);
                                }
                            }
                            record.lock().unwrap().push(headers);
                            Ok(resp)
                        };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await
                    else {
                        return;
                    };
                    while let Some(Ok(msg)) = ws.next().await {
                        if msg.is_close() {
                            break;
                        }
                        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        WsUpstream {
            url: format!("http://127.0.0.1:{port}"),
            handshakes,
            task,
        }
    }

    pub fn handshakes(&self) -> Vec<HeaderMap> {
        self.handshakes.lock().unwrap().clone()
    }
}

/// A bare HTTP/1.1 server that reads the first request and closes the connection without a
/// word, then answers `200 ok` to the ones after; counts the requests it read.
pub struct DroppingUpstream {
    pub url: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DroppingUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DroppingUpstream {
    pub async fn start() -> DroppingUpstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // The head, then whatever body the Content-Length announces.
                    loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    if count.fetch_add(1, Ordering::SeqCst) == 0 {
                        return; // dropped: no answer at all
                    }
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        DroppingUpstream {
            url: format!("http://127.0.0.1:{port}"),
            requests,
            task,
        }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A loopback URL where nothing listens.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
