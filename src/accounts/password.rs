//! Password hashing with bcrypt, always on tokio's blocking pool (docs/decisions.md D4): one bcrypt
//! at cost 12 is a quarter second of CPU, which on an async worker would stall every request
//! that worker serves. At most `cores − 1` run at once (at least one): a burst of sign-ins then
//! queues instead of taking every core from the requests that only need a token check.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Hashes and verifies passwords with the configured cost and Devise's optional pepper.
#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    pepper: Arc<str>,
    /// Verified against when the e-mail is unknown, so timing does not reveal accounts.
    dummy_hash: Arc<str>,
    /// Caps concurrent bcrypt runs.
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    pub async fn new(cost: u32, pepper: Option<String>) -> anyhow::Result<Hasher> {
        let dummy =
            tokio::task::spawn_blocking(move || bcrypt::hash(crate::tokens::generate(), cost))
                .await??;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Hasher {
            cost,
            pepper: pepper.unwrap_or_default().into(),
            dummy_hash: dummy.into(),
            permits: Arc::new(Semaphore::new(cores.saturating_sub(1).max(1))),
        })
    }

    /// Runs one bcrypt operation on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await?;
        Ok(tokio::task::spawn_blocking(work).await?)
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let peppered = format!("{password}{}", self.pepper);
        let cost = self.cost;
        Ok(self.run(move || bcrypt::hash(peppered, cost)).await??)
    }

    /// Verifies `password` against `hash` (Devise's `$2a$` hashes included). A missing or
    /// malformed hash verifies against the dummy instead, taking as long, and fails.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let peppered = format!("{password}{}", self.pepper);
        let (hash, real) = match hash.filter(|h| h.starts_with("$2")) {
            Some(h) => (h.to_string(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        let ok = self
            .run(move || bcrypt::verify(peppered, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        ok && real
    }

    /// Burns one verification's time for an unknown account.
    pub async fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, None).await;
    }
}
