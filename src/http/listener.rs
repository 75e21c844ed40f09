//! Accepting connections without exhausting the process: at most `max_connections` open at once
//! (the rest wait in the kernel's backlog until a slot frees), a pause instead of a busy loop
//! when accepting fails (out of file descriptors, say), and the process's open-files limit
//! raised to what it is allowed, so the cap rather than the limit is what clients meet.

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};

/// File descriptors kept for everything but client connections: the listener, database
/// connections (three files each on SQLite), mail and OAuth clients, logs.
const RESERVED_FILES: u64 = 256;

/// How often a full connection table is reported.
const FULL_TABLE_REPORT: Duration = Duration::from_secs(60);

/// Pause after a failed accept: doubled on each failure in a row, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Raises the soft open-files limit to the hard one and returns it (`None` where the
/// platform has no such limit or it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The connection cap that fits in `open_files`: `wanted`, or less when the limit would be
/// reached first.
pub fn connection_cap(wanted: usize, open_files: Option<u64>) -> usize {
    let Some(limit) = open_files else {
        return wanted;
    };
    let available = limit.saturating_sub(RESERVED_FILES).max(limit / 2).max(1);
    wanted.min(usize::try_from(available).unwrap_or(usize::MAX))
}

/// Something that accepts connections: the TCP listener, or a stand-in in tests.
pub trait Accept {
    type Io;
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}

impl Accept for TcpListener {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

/// A connection taken from the listener, with its slot under the cap.
pub struct Accepted<Io> {
    pub io: Io,
    pub peer: SocketAddr,
    pub slot: OwnedSemaphorePermit,
}

/// The listener behind the connection cap.
pub struct Listener<A> {
    inner: A,
    slots: Arc<Semaphore>,
    cap: usize,
    reported_full: Option<tokio::time::Instant>,
}

impl<A: Accept> Listener<A> {
    pub fn new(inner: A, cap: usize) -> Listener<A> {
        Listener {
            inner,
            slots: Arc::new(Semaphore::new(cap)),
            cap,
            reported_full: None,
        }
    }

    /// The next connection, once a slot is free.
    pub async fn accept(&mut self) -> Accepted<A::Io> {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let now = tokio::time::Instant::now();
                if self
                    .reported_full
                    .is_none_or(|at| now.duration_since(at) >= FULL_TABLE_REPORT)
                {
                    self.reported_full = Some(now);
                    tracing::warn!(
                        max_connections = self.cap,
                        "connection limit reached: new connections wait until one closes"
                    );
                }
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed")
            }
        };
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.inner.accept().await {
                Ok((io, peer)) => return Accepted { io, peer, slot },
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    tracing::error!(error = %e, pause_ms = backoff.as_millis() as u64, "accepting a connection failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Errors about one connection (its client gave up before it was accepted), not about the
/// listener: accepting the next one can go on at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::{
        collections::VecDeque,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    /// Fails with each scripted error in turn, then accepts.
    struct Scripted {
        errors: VecDeque<io::ErrorKind>,
        calls: Arc<AtomicUsize>,
    }

    impl Accept for Scripted {
        type Io = ();

        async fn accept(&mut self) -> io::Result<((), SocketAddr)> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.errors.pop_front() {
                Some(kind) => Err(io::Error::from(kind)),
                None => Ok(((), "127.0.0.1:1".parse().unwrap())),
            }
        }
    }

    fn scripted(errors: &[io::ErrorKind]) -> (Listener<Scripted>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let inner = Scripted {
            errors: errors.iter().copied().collect(),
            calls: calls.clone(),
        };
        (Listener::new(inner, 2), calls)
    }

    #[tokio::test(start_paused = true)]
    async fn failing_accepts_back_off_instead_of_spinning() {
        // Out of file descriptors ten times in a row (EMFILE).
        let (mut listener, calls) = scripted(&[io::ErrorKind::Other; 10]);
        let started = tokio::time::Instant::now();

        let _accepted = listener.accept().await;

        assert_eq!(calls.load(Ordering::SeqCst), 11);
        // 5 + 10 + … + 1000 + 1000 ms: the pauses doubled up to a second each.
        let paused = started.elapsed();
        assert_eq!(
            paused,
            Duration::from_millis(5 + 10 + 20 + 40 + 80 + 160 + 320 + 640 + 1000 + 1000)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_gave_up_costs_no_pause() {
        let (mut listener, calls) = scripted(&[io::ErrorKind::ConnectionAborted; 3]);
        let started = tokio::time::Instant::now();

        let _accepted = listener.accept().await;

        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_waits_for_a_slot() {
        let (mut listener, calls) = scripted(&[]);
        let first = listener.accept().await;
        let _second = listener.accept().await;

        let third = tokio::time::timeout(Duration::from_secs(60), listener.accept()).await;
        assert!(
            third.is_err(),
            "a third connection was accepted over the cap of 2"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), listener.accept()).await;
        assert!(third.is_ok(), "the freed slot was not reused");
    }

    #[test]
    fn the_cap_leaves_files_for_everything_else() {
        assert_eq!(connection_cap(16_384, Some(1_048_576)), 16_384);
        assert_eq!(
            connection_cap(16_384, Some(4_096)),
            4_096 - RESERVED_FILES as usize
        );
        assert_eq!(connection_cap(16_384, Some(300)), 150);
        assert_eq!(connection_cap(100, None), 100);
        assert_eq!(connection_cap(16_384, Some(0)), 1);
    }
}
