//! The HTTP server: toker's poem app served by hyper (HTTP/1.1, and HTTP/2 with prior knowledge)
//! one connection at a time under the connection cap (`listener`) and timeouts (`connection`).
//! poem's own `Server` has neither, spins when accepting fails, and cannot see whether a handler
//! read the request body; this one knows, and closes the connection when it did not
//! (docs/contract.md §2.0.9).

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
use tokio::net::TcpListener;

use super::{
    connection::{ConnectionLimits, GuardedIo},
    listener::Listener,
};

type App = Arc<BoxEndpoint<'static, Response>>;

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish for `grace` at most (forever when `None`).
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static, Response>,
    limits: ConnectionLimits,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
    grace: Option<Duration>,
) -> io::Result<()> {
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
        let service = hyper::service::service_fn(move |req| {
            let (app, local, remote, state) =
                (app.clone(), local.clone(), remote.clone(), state.clone());
            async move {
                let _in_flight = state.request_received();
                let resp = answer(&app, req, local, remote).await;
                Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, io::Error>>::from(resp))
            }
        });
        let watcher = graceful.watcher();
        let peer = accepted.peer;
        tokio::spawn(async move {
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
) -> Response {
    let http1 = req.version() <= Version::HTTP_11;
    let mut req = poem::Request::from((req, local, remote, Scheme::HTTP));
    let body_read = track_body(&mut req);
    let mut resp = app.get_response(req).await;
    if http1 && body_read.is_some_and(|read| !read.load(Ordering::Acquire)) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
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
