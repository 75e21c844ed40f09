//! The registered apps' origins for CORS (docs/decisions.md D15, docs/cors.md §2.5): a preflight
//! carries no `Authorization`, so it is answered for the union of every app's origins. The union
//! is read from the database at most every [`REFRESH`], not per preflight; a change made with
//! `toker apps` reaches CORS within that time, and the actual request checks its app afresh.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;

use crate::accounts::Accounts;

/// How long the union of app origins is reused.
pub const REFRESH: Duration = Duration::from_secs(2);

struct Snapshot {
    loaded: Option<Instant>,
    origins: HashSet<String>,
}

/// The cached union of the registered apps' origins.
#[derive(Clone)]
pub struct AppOrigins {
    accounts: Accounts,
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl AppOrigins {
    pub fn new(accounts: &Accounts) -> AppOrigins {
        AppOrigins {
            accounts: accounts.clone(),
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot {
                loaded: None,
                origins: HashSet::new(),
            })),
        }
    }

    /// Whether app `app_id` lists `origin`, read afresh: an actual request names its app, and
    /// a change made with `toker apps` applies to it at once.
    pub async fn app_allows(&self, app_id: &str, origin: &str) -> bool {
        matches!(self.accounts.app(app_id).await, Ok(Some(app)) if app.origins.iter().any(|o| o == origin))
    }

    /// Whether some registered app lists `origin`.
    pub async fn allows(&self, origin: &str) -> bool {
        let current = self.snapshot.load_full();
        if current.loaded.is_some_and(|at| at.elapsed() < REFRESH) {
            return current.origins.contains(origin);
        }
        match self.accounts.apps().await {
            Ok(apps) => {
                let origins: HashSet<String> = apps.into_iter().flat_map(|a| a.origins).collect();
                let allowed = origins.contains(origin);
                self.snapshot.store(Arc::new(Snapshot {
                    loaded: Some(Instant::now()),
                    origins,
                }));
                allowed
            }
            // The database is away: the last known list stands (an outage is logged by the
            // store's availability already).
            Err(_) => current.origins.contains(origin),
        }
    }
}
