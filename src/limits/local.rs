//! The limits counted in this process, with governor's keyed GCRA: the default store, and the
//! fallback while a shared store does not answer.

use std::{num::NonZeroU32, sync::Weak, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use super::{Decision, Key, Rate, RetryAfter};

/// How often keys whose limit has fully recovered are forgotten: memory stays proportional to
/// the clients seen within one period, however many addresses an attacker cycles through.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// One rule's counts, per key.
pub struct Local(DefaultKeyedRateLimiter<Key>);

impl Local {
    pub fn new(rate: Rate) -> Local {
        let count = NonZeroU32::new(rate.count.max(1)).unwrap_or(NonZeroU32::MIN);
        let interval = (rate.period / count.get()).max(Duration::from_micros(1));
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(count);
        Local(DefaultKeyedRateLimiter::keyed(quota))
    }

    pub fn check(&self, key: Key) -> Decision {
        match self.0.check_key(&key) {
            Ok(()) => Decision::Allowed,
            Err(not_until) => {
                Decision::Limited(RetryAfter(not_until.wait_time_from(self.0.clock().now())))
            }
        }
    }

    fn prune(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

/// Prunes every `PRUNE_EVERY` while the limits live (outside a runtime, as in unit tests of
/// the rules, nothing is spawned).
pub fn prune_periodically(rules: Vec<Weak<Local>>) {
    if rules.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let mut alive = false;
            for rule in rules.iter().filter_map(Weak::upgrade) {
                alive = true;
                rule.prune();
            }
            if !alive {
                break;
            }
        }
    });
}
