//! One client connection's socket, guarded by the timeouts poem's own server lacks: a connection
//! that waits for its next request too long, takes too long to send a request's headers, or stops
//! reading an answer is closed; closing lingers so the client reads the last answer before it
//! learns of the close. The socket also holds its slot in the connection cap until it is dropped.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, Waker, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::OwnedSemaphorePermit,
    time::{Instant, Sleep},
};

/// How long a connection may wait, per phase.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_read: Duration,
    /// Between two requests, and the longest a client may leave an answer unread.
    pub keep_alive: Duration,
}

/// After the last answer, how long closing waits for the client to close its side, and how
/// much of what it still sends is read and dropped meanwhile. Closing a socket with unread data
/// resets the connection, and a reset can destroy the answer before the client has read it
/// (a 413 sent while the client is still uploading), hence this pause.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// What a connection is doing, told by its socket (bytes moved) and by the request handler
/// (requests started and answered).
#[derive(Debug)]
pub struct ConnectionState(Mutex<Phase>);

#[derive(Debug)]
struct Phase {
    /// Requests whose answer is not yet handed to the connection (HTTP/2 runs several).
    in_flight: usize,
    /// When the first byte of the next request arrived; `None` while none has.
    request_started: Option<Instant>,
    /// When the connection last became idle: accepted, answered, or an answer byte written.
    idle_since: Instant,
    /// The task waiting to read: woken when a request is answered, since its read deadline
    /// moves then (the keep-alive window starts) and nothing else may wake it before the old one.
    reader: Option<Waker>,
}

impl ConnectionState {
    fn new() -> ConnectionState {
        ConnectionState(Mutex::new(Phase {
            in_flight: 0,
            request_started: None,
            idle_since: Instant::now(),
            reader: None,
        }))
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A panic elsewhere cannot leave these counters inconsistent: keep using them.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handler received a request (its headers are complete). The guard marks it answered
    /// when dropped, also when the handler is cancelled.
    pub fn request_received(self: &Arc<Self>) -> InFlight {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.request_started = None;
        InFlight(self.clone())
    }

    fn bytes_read(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.request_started.is_none() {
            phase.request_started = Some(Instant::now());
        }
    }

    fn bytes_written(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 {
            phase.idle_since = Instant::now();
        }
    }

    /// Until when a read may stay pending: none while a request is handled (its body has its
    /// own timeout, `body_read_timeout`), else the end of the header or keep-alive window.
    /// `reader` is the task that waits.
    fn read_deadline(&self, limits: &ConnectionLimits, reader: &Waker) -> Option<Instant> {
        let mut phase = self.phase();
        if !phase.reader.as_ref().is_some_and(|w| w.will_wake(reader)) {
            phase.reader = Some(reader.clone());
        }
        if phase.in_flight > 0 {
            return None;
        }
        Some(match phase.request_started {
            Some(started) => started + limits.header_read,
            None => phase.idle_since + limits.keep_alive,
        })
    }
}

/// A request being handled; dropping it marks the request answered.
pub struct InFlight(Arc<ConnectionState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let reader = {
            let mut phase = self.0.phase();
            phase.in_flight = phase.in_flight.saturating_sub(1);
            if phase.in_flight > 0 {
                return;
            }
            phase.idle_since = Instant::now();
            phase.reader.clone()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

enum Closing {
    Open,
    /// Our side is shut; reading and dropping what the client still sends.
    Lingering {
        drained: usize,
    },
    Closed,
}

/// A client socket under the connection timeouts, holding a slot of the connection cap.
pub struct GuardedIo<T> {
    io: T,
    state: Arc<ConnectionState>,
    limits: ConnectionLimits,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    /// When the client stopped taking what we write.
    write_stalled_since: Option<Instant>,
    closing: Closing,
    _slot: OwnedSemaphorePermit,
}

impl<T> GuardedIo<T> {
    pub fn new(io: T, limits: ConnectionLimits, slot: OwnedSemaphorePermit) -> GuardedIo<T> {
        let now = Instant::now();
        GuardedIo {
            io,
            state: Arc::new(ConnectionState::new()),
            limits,
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            write_stalled_since: None,
            closing: Closing::Open,
            _slot: slot,
        }
    }

    pub fn state(&self) -> Arc<ConnectionState> {
        self.state.clone()
    }
}

/// Whether `deadline` has passed, with `timer` set to wake the task when it does. The timer is
/// moved only to an earlier deadline: a later one (the keep-alive window after each answer)
/// waits until the timer fires, so a busy connection does not re-register a timer per request.
fn expired(timer: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    if deadline < timer.deadline() {
        timer.as_mut().reset(deadline);
    }
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        if Instant::now() >= deadline {
            return true;
        }
        timer.as_mut().reset(deadline);
    }
}

fn timed_out(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl<T: AsyncRead + AsyncWrite + Unpin> GuardedIo<T> {
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match write(Pin::new(&mut self.io), cx) {
            Poll::Ready(Ok(n)) => {
                self.write_stalled_since = None;
                self.state.bytes_written();
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let since = *self.write_stalled_since.get_or_insert_with(Instant::now);
                if expired(&mut self.write_timer, since + self.limits.keep_alive, cx) {
                    return Poll::Ready(Err(timed_out("the client stopped reading")));
                }
                Poll::Pending
            }
        }
    }

    /// Reads and drops what the client still sends until it closes, `LINGER` passes or
    /// `LINGER_BYTES` were dropped.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut scratch = [0u8; 4096];
        loop {
            let Closing::Lingering { drained } = &mut self.closing else {
                return Poll::Ready(());
            };
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    *drained += buf.filled().len();
                    if *drained > LINGER_BYTES {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => {
                    return if self.read_timer.as_mut().poll(cx).is_ready() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.state.read_deadline(&this.limits, cx.waker()) {
                Some(deadline) if expired(&mut this.read_timer, deadline, cx) => {
                    Poll::Ready(Err(timed_out("no request in time")))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// Shuts our side, then lingers (see `LINGER`).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.closing {
                Closing::Open => {
                    // A client that is already gone has nothing left to read either.
                    if ready!(Pin::new(&mut this.io).poll_shutdown(cx)).is_err() {
                        this.closing = Closing::Closed;
                        continue;
                    }
                    this.read_timer.as_mut().reset(Instant::now() + LINGER);
                    this.closing = Closing::Lingering { drained: 0 };
                }
                Closing::Lingering { .. } => {
                    ready!(this.poll_linger(cx));
                    this.closing = Closing::Closed;
                }
                Closing::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt, DuplexStream},
        sync::Semaphore,
        time::Instant,
    };

    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read: Duration::from_secs(2),
        keep_alive: Duration::from_secs(5),
    };

    async fn guarded() -> (GuardedIo<DuplexStream>, DuplexStream) {
        let (server, client) = tokio::io::duplex(64);
        let slot = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        (GuardedIo::new(server, LIMITS, slot), client)
    }

    /// Reads until the connection fails; the error and when.
    async fn read_until_error(io: &mut GuardedIo<DuplexStream>) -> (io::ErrorKind, Duration) {
        let started = Instant::now();
        let mut buf = [0u8; 16];
        loop {
            if let Err(e) = io.read(&mut buf).await {
                return (e.kind(), started.elapsed());
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_closes_after_the_keep_alive_timeout() {
        let (mut io, _client) = guarded().await;

        let (kind, after) = read_until_error(&mut io).await;

        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert_eq!(after, LIMITS.keep_alive);
    }

    #[tokio::test(start_paused = true)]
    async fn headers_trickled_byte_by_byte_are_cut_at_the_header_timeout() {
        let (mut io, mut client) = guarded().await;
        tokio::spawn(async move {
            for _ in 0..100 {
                if client.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });

        let (kind, after) = read_until_error(&mut io).await;

        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert!(after >= LIMITS.header_read, "{after:?}");
        assert!(
            after < LIMITS.header_read + Duration::from_millis(400),
            "{after:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_handled_has_no_read_deadline_and_its_answer_starts_the_keep_alive() {
        // The server reads a request's headers and keeps reading while the request is handled
        // (as hyper does), for longer than either timeout.
        let (mut io, mut client) = guarded().await;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let _ = io.read(&mut buf).await.unwrap();
        let state = io.state();
        let handled_for = LIMITS.keep_alive * 10;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let in_flight = state.request_received();
            tokio::time::sleep(handled_for).await;
            drop(in_flight);
        });

        let outcome = tokio::time::timeout(handled_for * 2, read_until_error(&mut io)).await;

        // Closed a keep-alive window after the answer, not during the handling, and not never.
        let (kind, after) = outcome.expect("the read was never woken after the answer");
        assert_eq!(kind, io::ErrorKind::TimedOut);
        assert_eq!(
            after,
            Duration::from_millis(100) + handled_for + LIMITS.keep_alive
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_cut_after_the_keep_alive_timeout() {
        let (mut io, _client) = guarded().await;
        let started = Instant::now();

        let mut result = Ok(());
        for _ in 0..10_000 {
            result = io.write_all(&[b'x'; 1024]).await;
            if result.is_err() {
                break;
            }
        }

        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), LIMITS.keep_alive);
    }

    #[tokio::test(start_paused = true)]
    async fn closing_lingers_until_the_client_closes() {
        let (mut io, mut client) = guarded().await;
        client.write_all(b"unread upload").await.unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut answer = Vec::new();
            let _ = client.read_to_end(&mut answer).await;
            drop(client);
        });
        let started = Instant::now();

        io.shutdown().await.unwrap();

        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn closing_lingers_no_longer_than_the_linger_time() {
        let (mut io, _client) = guarded().await;
        let started = Instant::now();

        io.shutdown().await.unwrap();

        assert_eq!(started.elapsed(), LINGER);
    }
}
