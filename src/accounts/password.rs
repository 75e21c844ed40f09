//! Password hashing with bcrypt, always on tokio's blocking pool (docs/decisions.md D4): one bcrypt
//! at cost 12 is a quarter second of CPU, which on an async worker would stall every request
//! that worker serves.
//!
//! A bounded pool in front of it (docs/decisions.md D16): at most `password_hash_workers` run at
//! once (default cores − 1, at least one), so a burst of sign-ins queues instead of taking every
//! core from the requests that only need a token check; at most `password_hash_queue` wait, and
//! a request beyond that is refused at once with a `Retry-After` instead of waiting minutes.
//! The worker's permit moves into the blocking task: a request that is cancelled (its client
//! went away) cannot cancel a hash that has started, so the permit is held until the hash
//! really ends and the cap counts what actually runs.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::RetryAfter;

/// The pool's size: `password_hash_workers` (unset = cores − 1) and `password_hash_queue`
/// (0 = no bound).
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolSize {
    pub workers: Option<usize>,
    pub queue: usize,
}

/// Every worker is busy and `password_hash_queue` requests already wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is at capacity; retry in {} s", .retry_after.secs())]
pub struct Busy {
    pub retry_after: RetryAfter,
}

/// Hashes and verifies passwords with the configured cost and Devise's optional pepper.
#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    pepper: Arc<str>,
    /// Verified against when the e-mail is unknown, so timing does not reveal accounts.
    dummy_hash: Arc<str>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("cost", &self.cost)
            .field("workers", &self.pool.workers)
            .field("queue", &self.pool.queue)
            .finish_non_exhaustive()
    }
}

struct Pool {
    workers: usize,
    queue: usize,
    /// One permit per worker; held by the blocking task while it runs.
    running: Arc<Semaphore>,
    /// Workers + queue places; `None` when the queue has no bound.
    admitted: Option<Arc<Semaphore>>,
    /// How long one hash takes here (measured at startup), for `Retry-After`.
    one_hash: Duration,
    gauges: Arc<Gauges>,
}

/// What the pool is doing, for tests and operators.
#[derive(Debug, Default)]
pub struct Gauges {
    running: AtomicUsize,
    peak_running: AtomicUsize,
    waiting: AtomicUsize,
    finished: AtomicUsize,
}

impl Gauges {
    /// Hashes running right now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// The most hashes that ever ran at once.
    pub fn peak_running(&self) -> usize {
        self.peak_running.load(Ordering::SeqCst)
    }

    /// Requests waiting for a worker right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Hashes run to the end so far.
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// Counts one unit in `gauge` while alive.
struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    fn new(size: PoolSize, one_hash: Duration) -> Pool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = size.workers.unwrap_or(cores.saturating_sub(1)).max(1);
        Pool {
            workers,
            queue: size.queue,
            running: Arc::new(Semaphore::new(workers)),
            admitted: (size.queue > 0).then(|| Arc::new(Semaphore::new(workers + size.queue))),
            one_hash,
            gauges: Arc::default(),
        }
    }

    /// A full queue drains in about (queue ÷ workers + 1) hashes' time.
    fn busy(&self) -> Busy {
        let rounds = (self.queue / self.workers + 1) as u32;
        Busy {
            retry_after: RetryAfter(self.one_hash * rounds),
        }
    }

    /// [`Pool::run`] that waits for a worker whatever the queue holds.
    async fn run_waiting<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let worker = {
            self.gauges.waiting.fetch_add(1, Ordering::SeqCst);
            let _waiting = Held(&self.gauges.waiting);
            self.running.clone().acquire_owned().await?
        };
        let gauges = self.gauges.clone();
        let task = tokio::task::spawn_blocking(move || {
            let now = gauges.running.fetch_add(1, Ordering::SeqCst) + 1;
            gauges.peak_running.fetch_max(now, Ordering::SeqCst);
            let out = work();
            gauges.finished.fetch_add(1, Ordering::SeqCst);
            gauges.running.fetch_sub(1, Ordering::SeqCst);
            drop(worker);
            out
        });
        Ok(task.await?)
    }

    /// Runs `work` on the blocking pool once a worker is free, or refuses when the queue is
    /// full. Cancelling the returned future before the work starts gives its place back;
    /// after it starts, the work and its worker permit live on until the work ends.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<anyhow::Result<T>, Busy> {
        let admitted = match &self.admitted {
            Some(places) => Some(
                places
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| self.busy())?,
            ),
            None => None,
        };
        let worker = {
            self.gauges.waiting.fetch_add(1, Ordering::SeqCst);
            let _waiting = Held(&self.gauges.waiting);
            match self.running.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(closed) => return Ok(Err(closed.into())),
            }
        };
        let gauges = self.gauges.clone();
        let task = tokio::task::spawn_blocking(move || {
            let permits: (OwnedSemaphorePermit, Option<OwnedSemaphorePermit>) = (worker, admitted);
            let now = gauges.running.fetch_add(1, Ordering::SeqCst) + 1;
            gauges.peak_running.fetch_max(now, Ordering::SeqCst);
            let out = work();
            gauges.finished.fetch_add(1, Ordering::SeqCst);
            // Counted down before the permits go, so the next hash cannot start while this
            // one still counts as running.
            gauges.running.fetch_sub(1, Ordering::SeqCst);
            drop(permits);
            out
        });
        Ok(task.await.map_err(anyhow::Error::from))
    }
}

impl Hasher {
    pub async fn new(cost: u32, pepper: Option<String>, size: PoolSize) -> anyhow::Result<Hasher> {
        let started = Instant::now();
        let dummy =
            tokio::task::spawn_blocking(move || bcrypt::hash(crate::tokens::generate(), cost))
                .await??;
        let one_hash = started.elapsed();
        Ok(Hasher {
            cost,
            pepper: pepper.unwrap_or_default().into(),
            dummy_hash: dummy.into(),
            pool: Arc::new(Pool::new(size, one_hash)),
        })
    }

    /// The pool's gauges.
    pub fn gauges(&self) -> Arc<Gauges> {
        self.pool.gauges.clone()
    }

    /// The hash of `password`; a `Busy` error (inside the `anyhow::Error`) when the queue is
    /// full.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let peppered = format!("{password}{}", self.pepper);
        let cost = self.cost;
        Ok(self
            .pool
            .run(move || bcrypt::hash(peppered, cost))
            .await???)
    }

    /// Verifies `password` against `hash` (Devise's `$2a$` hashes included). A missing or
    /// malformed hash verifies against the dummy instead, taking as long, and fails.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Busy> {
        let peppered = format!("{password}{}", self.pepper);
        let (hash, real) = match hash.filter(|h| h.starts_with("$2")) {
            Some(h) => (h.to_string(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let ok = self
            .pool
            .run(move || bcrypt::verify(peppered, &hash))
            .await?
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        Ok(ok && real)
    }

    /// Which of `hashes` (bcrypt hashes devise_token_auth made of access tokens, newest
    /// first) `token` matches, checked in one blocking task (docs/decisions.md D2). No pepper:
    /// DTA hashes tokens with plain `BCrypt::Password.create`. Each imported device pays this
    /// once, so it waits for a worker like a sign-in but is never refused for a full queue: a
    /// refusal would answer 401 and sign a live user out of a browser that did nothing wrong.
    pub async fn verify_imported_token<L: Send + 'static>(
        &self,
        token: &str,
        hashes: Vec<(L, String)>,
    ) -> anyhow::Result<Option<L>> {
        let token = token.to_string();
        self.pool
            .run_waiting(move || {
                hashes
                    .into_iter()
                    .find(|(_, hash)| bcrypt::verify(&token, hash).unwrap_or(false))
                    .map(|(link, _)| link)
            })
            .await
    }

    /// Burns one verification's time for an unknown account.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), Busy> {
        self.verify(password, None).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn pool(workers: usize, queue: usize) -> Arc<Pool> {
        Arc::new(Pool::new(
            PoolSize {
                workers: Some(workers),
                queue,
            },
            Duration::from_millis(300),
        ))
    }

    /// Starts a job that runs until its sender is dropped or sent to.
    fn blocked_job(
        pool: &Arc<Pool>,
    ) -> (mpsc::Sender<()>, tokio::task::JoinHandle<Result<(), Busy>>) {
        let (release, wait) = mpsc::channel::<()>();
        let pool = pool.clone();
        let job = tokio::spawn(async move {
            pool.run(move || {
                let _ = wait.recv();
            })
            .await
            .map(|r| r.unwrap())
        });
        (release, job)
    }

    async fn until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_refused_at_once_with_a_retry_after() {
        let pool = pool(1, 1);
        let g = pool.gauges.clone();
        let (release_a, a) = blocked_job(&pool);
        until("the first job to run", || g.running() == 1).await;
        let (release_b, b) = blocked_job(&pool);
        until("the second job to wait", || g.waiting() == 1).await;

        let refused = pool.run(|| ()).await.unwrap_err();
        // One worker, one waiting: about two hashes' time.
        assert_eq!(refused.retry_after, RetryAfter(Duration::from_millis(600)));

        release_a.send(()).unwrap();
        a.await.unwrap().unwrap();
        release_b.send(()).unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(g.peak_running(), 1);
        assert!(pool.run(|| ()).await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_request_keeps_its_worker_until_the_hash_ends() {
        let pool = pool(1, 0);
        let g = pool.gauges.clone();
        let (release_a, a) = blocked_job(&pool);
        until("the first job to run", || g.running() == 1).await;

        // The request goes away while its hash runs.
        a.abort();
        assert!(a.await.unwrap_err().is_cancelled());

        // The next one must wait for that hash, not start beside it.
        let (release_b, b) = blocked_job(&pool);
        until("the second job to queue", || g.waiting() == 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(g.running(), 1);
        assert_eq!(g.waiting(), 1, "the second hash started beside the first");

        release_a.send(()).unwrap();
        until("the second job to run", || g.waiting() == 0).await;
        release_b.send(()).unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(g.peak_running(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_cancelled_while_waiting_gives_its_place_back() {
        let pool = pool(1, 1);
        let g = pool.gauges.clone();
        let (release_a, a) = blocked_job(&pool);
        until("the first job to run", || g.running() == 1).await;
        let (_release_b, b) = blocked_job(&pool);
        until("the second job to wait", || g.waiting() == 1).await;
        b.abort();
        let _ = b.await;
        assert_eq!(g.waiting(), 0);

        // The place is free again: one more may wait.
        let (release_c, c) = blocked_job(&pool);
        until("the third job to wait", || g.waiting() == 1).await;
        release_a.send(()).unwrap();
        a.await.unwrap().unwrap();
        release_c.send(()).unwrap();
        c.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn no_queue_bound_never_refuses() {
        let pool = pool(1, 0);
        let jobs: Vec<_> = (0..50)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(|| ()).await.map(|r| r.unwrap()) })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn imported_token_hashes_are_checked_without_the_pepper() {
        let hasher = Hasher::new(4, Some("pepper".into()), PoolSize::default())
            .await
            .unwrap();
        let made_by_rails = bcrypt::hash("the-token", 4).unwrap();
        let other = bcrypt::hash("other", 4).unwrap();
        let hashes = vec![(1, other.clone()), (2, made_by_rails.clone())];
        assert_eq!(
            hasher
                .verify_imported_token("the-token", hashes)
                .await
                .unwrap(),
            Some(2)
        );
        let hashes = vec![(1, other), (2, "not bcrypt".to_string())];
        assert_eq!(
            hasher
                .verify_imported_token("the-token", hashes)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_wrong_password_and_a_missing_hash_fail() {
        let hasher = Hasher::new(4, Some("pepper".into()), PoolSize::default())
            .await
            .unwrap();
        let hash = hasher.hash("secret").await.unwrap();
        assert!(hasher.verify("secret", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("secret", None).await.unwrap());
        assert!(!hasher.verify("secret", Some("not-bcrypt")).await.unwrap());
    }
}
