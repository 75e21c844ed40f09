//! The HTTP server: toker's poem app served by hyper (HTTP/1.1, and HTTP/2 with prior knowledge)
//! one connection at a time under the connection cap (`listener`) and timeouts (`connection`).
//! poem's own `Server` has neither, spins when accepting fails, and cannot see whether a handler
//! read the request body; this one knows, and closes the connection when it did not
//! (docs/contract.md §2.0.9). With `tls_cert` and `tls_key` each connection is a TLS one
//! first (`tls`), HTTP/2 or HTTP/1.1 as ALPN chose.

use std::{
    convert::Infallible,
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use http_body::{Body as _, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use poem::{
    Addr, Endpoint, Response,
    endpoint::BoxEndpoint,
    http::{HeaderValue, Version, header, uri::Scheme},
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use super::{
    connection::{ConnectionLimits, GuardedIo},
    listener::Listener,
    tls::TlsFiles,
};

type App = Arc<BoxEndpoint<'static, Response>>;

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then
/// stops accepting and lets the requests in flight finish for `grace` at most (forever when
/// `None`); idle connections are closed at once.
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static, Response>,
    limits: ConnectionLimits,
    max_connections: usize,
    tls: Option<Arc<TlsFiles>>,
    shutdown: impl Future<Output = ()>,
    grace: Option<Duration>,
) -> io::Result<()> {
    let scheme = if tls.is_some() {
        Scheme::HTTPS
    } else {
        Scheme::HTTP
    };
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let mut listener = Listener::new(listener, max_connections);
    let app: App = Arc::new(app);
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // Answers go out whole; waiting to coalesce them only adds latency.
        let _ = accepted.io.set_nodelay(true);
        let io = GuardedIo::new(accepted.io, limits, accepted.slot);
        let state = io.state();
        let remote = RemoteAddr(Addr::SocketAddr(accepted.peer));
        let (app, local, builder) = (app.clone(), local.clone(), builder.clone());
        let scheme = scheme.clone();
        let service = hyper::service::service_fn(move |req| {
            let (app, local, remote, state, scheme) = (
                app.clone(),
                local.clone(),
                remote.clone(),
                state.clone(),
                scheme.clone(),
            );
            async move {
                let _in_flight = state.request_received();
                let resp = answer(&app, req, local, remote, scheme).await;
                Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, io::Error>>::from(resp))
            }
        });
        let watcher = graceful.watcher();
        let peer = accepted.peer;
        // The configuration of this handshake: a reload (SIGHUP) changes later ones only.
        let tls = tls.as_ref().map(|t| TlsAcceptor::from(t.current()));
        tokio::spawn(async move {
            // The handshake runs under the connection's header timeout (its bytes are the
            // first the guard sees), in this task, so a slow client holds up no other.
            let io = match tls {
                None => Conn::Plain(io),
                Some(acceptor) => match acceptor.accept(io).await {
                    Ok(stream) => Conn::Tls(Box::new(stream)),
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            // With upgrades: the gateway passes WebSocket connections through (docs/decisions.md D14).
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    match grace {
        Some(grace) => {
            if tokio::time::timeout(grace, graceful.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(
                    grace_seconds = grace.as_secs(),
                    "requests still running at shutdown were cut"
                );
            }
        }
        None => graceful.shutdown().await,
    }
    Ok(())
}

/// One request through the app. On HTTP/1 an answer given before the request body was read to
/// its end (413, 415, 400 on bad framing, a route that takes no body…) says `Connection: close`:
/// the unread rest would otherwise be taken for the next request, so the connection ends, and
/// a client that knows it opens a new one instead of losing its next request to the close.
async fn answer(
    app: &App,
    req: hyper::Request<Incoming>,
    local: LocalAddr,
    remote: RemoteAddr,
    scheme: Scheme,
) -> Response {
    let http1 = req.version() <= Version::HTTP_11;
    let mut req = poem::Request::from((req, local, remote, scheme));
    let body_read = track_body(&mut req);
    let mut resp = app.get_response(req).await;
    if http1 && body_read.is_some_and(|read| !read.load(Ordering::Acquire)) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A client connection, in clear or over TLS.
enum Conn {
    Plain(GuardedIo<TcpStream>),
    Tls(Box<TlsStream<GuardedIo<TcpStream>>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Conn::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Conn::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Conn::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(io) => io.is_write_vectored(),
            Conn::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_flush(cx),
            Conn::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Conn::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Replaces the request body with one that flags when it has been read to its end. `None` when
/// there is no body at all.
fn track_body(req: &mut poem::Request) -> Option<Arc<AtomicBool>> {
    let body: BoxBody<Bytes, io::Error> = req.take_body().into();
    if body.is_end_stream() {
        req.set_body(poem::Body::from(body));
        return None;
    }
    let read = Arc::new(AtomicBool::new(false));
    let tracked = TrackedBody {
        inner: body,
        read: read.clone(),
    };
    req.set_body(poem::Body::from(BoxBody::new(tracked)));
    Some(read)
}

struct TrackedBody {
    inner: BoxBody<Bytes, io::Error>,
    read: Arc<AtomicBool>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            _ => false,
        };
        if ended {
            this.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
