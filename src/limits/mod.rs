//! Abuse limits (docs/decisions.md D16): how often one client address or one e-mail address may
//! use a credential route, the pause between two mails to one address, and the bound on
//! `paranoid` mode's background mail work. No HTTP and no accounts here: the account rules ask,
//! the handlers turn a refusal into 429 with `Retry-After`.
//!
//! Every limit is a GCRA ("generic cell rate algorithm"): `count` per `period` means a burst of
//! `count`, then one more every `period / count`. One timestamp per key is the whole state, so
//! the same rule runs in this process (governor) and, with `rate_limit_store`, atomically in
//! Redis for every instance at once (`shared.rs`).

mod local;
mod shared;

use std::{net::IpAddr, sync::Arc, time::Duration};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use self::{local::Local, shared::SharedStore};

/// `count` events per `period`; a count of 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    pub fn new(count: u32, period_secs: u64) -> Rate {
        Rate {
            count,
            period: Duration::from_secs(period_secs),
        }
    }
}

/// How long a refused caller should wait: the `Retry-After` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up, at least 1 (`Retry-After: 0` would invite a retry storm).
    pub fn secs(self) -> u64 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// Whether one more request fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited(RetryAfter),
}

/// What a limit counts by, kept only as a digest: an IPv6 client by its /64 (one subscriber's
/// network, which hands its owner 2^64 addresses), an e-mail address as the account rules
/// normalise it. A digest keeps addresses out of Redis and bounds the key size whatever the
/// client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    fn of(parts: &[&[u8]]) -> Key {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        let digest = hash.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Key(key)
    }

    pub fn client(ip: IpAddr) -> Key {
        match crate::proxies::canonical(ip) {
            IpAddr::V4(v4) => Key::of(&[b"ip4", &v4.octets()]),
            IpAddr::V6(v6) => Key::of(&[b"ip6/64", &v6.octets()[..8]]),
        }
    }

    pub fn email(normalized: &str) -> Key {
        Key::of(&[b"email", normalized.as_bytes()])
    }

    fn mail(kind: &str, address: &str) -> Key {
        Key::of(&[b"mail", kind.as_bytes(), address.as_bytes()])
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One limit: its name (part of its Redis key), its rate, and its counts in this process.
#[derive(Clone)]
pub struct Rule {
    name: &'static str,
    rate: Rate,
    local: Arc<Local>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("rate", &self.rate)
            .finish()
    }
}

impl Rule {
    fn new(name: &'static str, rate: Rate) -> Option<Rule> {
        (rate.count > 0 && !rate.period.is_zero()).then(|| Rule {
            name,
            rate,
            local: Arc::new(Local::new(rate)),
        })
    }

    /// The GCRA's emission interval: one more request every `period / count`.
    fn interval(&self) -> Duration {
        (self.rate.period / self.rate.count).max(Duration::from_micros(1))
    }

    /// How far ahead of now the schedule may run: the rest of the burst.
    fn tolerance(&self) -> Duration {
        self.interval() * (self.rate.count - 1)
    }
}

/// The limits of one route, by client address and by e-mail address.
#[derive(Debug, Clone, Default)]
pub struct RouteLimits {
    pub per_ip: Option<Rule>,
    pub per_email: Option<Rule>,
}

impl RouteLimits {
    fn new(route: &'static [&'static str; 2], [per_ip, per_email]: [Rate; 2]) -> RouteLimits {
        RouteLimits {
            per_ip: Rule::new(route[0], per_ip),
            per_email: Rule::new(route[1], per_email),
        }
    }
}

/// The limit settings, read by `startup` from `Settings`.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// `[per client address, per e-mail address]` of each route.
    pub sign_in: [Rate; 2],
    pub sign_up: [Rate; 2],
    /// Each of the three mail requests (reset, confirmation, unlock) counts on its own.
    pub mail: [Rate; 2],
    pub mail_cooldown: Duration,
    /// 0 = no bound.
    pub mail_background_limit: usize,
    /// `rate_limit_store`.
    pub store_url: Option<String>,
}

impl LimitSettings {
    /// Every limit off (unit tests of the rules).
    pub fn off() -> LimitSettings {
        let off = [Rate::new(0, 1); 2];
        LimitSettings {
            sign_in: off,
            sign_up: off,
            mail: off,
            mail_cooldown: Duration::ZERO,
            mail_background_limit: 0,
            store_url: None,
        }
    }
}

/// Every limit, and where they are counted.
#[derive(Debug, Clone)]
pub struct Limits {
    pub sign_in: RouteLimits,
    pub sign_up: RouteLimits,
    pub reset: RouteLimits,
    pub confirmation: RouteLimits,
    pub unlock: RouteLimits,
    mail_cooldown: Option<Rule>,
    shared: Option<SharedStore>,
    background: Option<Arc<Semaphore>>,
}

/// A place among `paranoid` mode's background tasks, held until the task ends.
#[derive(Debug)]
pub struct BackgroundSlot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Limits {
    /// Builds the limits. With a store URL the Redis connection is made lazily, so toker
    /// starts (and limits per process) while Redis is still unreachable.
    pub fn new(settings: &LimitSettings) -> anyhow::Result<Limits> {
        let shared = settings
            .store_url
            .as_deref()
            .map(SharedStore::new)
            .transpose()?;
        let limits = Limits {
            sign_in: RouteLimits::new(&["sign_in:ip", "sign_in:email"], settings.sign_in),
            sign_up: RouteLimits::new(&["sign_up:ip", "sign_up:email"], settings.sign_up),
            reset: RouteLimits::new(&["reset:ip", "reset:email"], settings.mail),
            confirmation: RouteLimits::new(
                &["confirmation:ip", "confirmation:email"],
                settings.mail,
            ),
            unlock: RouteLimits::new(&["unlock:ip", "unlock:email"], settings.mail),
            mail_cooldown: Rule::new(
                "mail_cooldown",
                Rate {
                    count: 1,
                    period: settings.mail_cooldown,
                },
            ),
            shared,
            background: (settings.mail_background_limit > 0)
                .then(|| Arc::new(Semaphore::new(settings.mail_background_limit))),
        };
        local::prune_periodically(limits.rules().map(|r| Arc::downgrade(&r.local)).collect());
        Ok(limits)
    }

    fn rules(&self) -> impl Iterator<Item = &Rule> {
        [
            &self.sign_in,
            &self.sign_up,
            &self.reset,
            &self.confirmation,
            &self.unlock,
        ]
        .into_iter()
        .flat_map(|r| [&r.per_ip, &r.per_email])
        .chain([&self.mail_cooldown])
        .flatten()
    }

    /// Counts one request against `rule` for `key`: in Redis when configured and answering,
    /// else in this process.
    pub async fn check(&self, rule: Option<&Rule>, key: Key) -> Decision {
        let Some(rule) = rule else {
            return Decision::Allowed;
        };
        if let Some(shared) = &self.shared
            && let Some(decision) = shared.check(rule, key).await
        {
            return decision;
        }
        rule.local.check(key)
    }

    /// Counts a request to `route` from `client`.
    pub async fn by_ip(&self, route: &RouteLimits, client: IpAddr) -> Decision {
        self.check(route.per_ip.as_ref(), Key::client(client)).await
    }

    /// Counts a request to `route` for the (normalised) e-mail address `email`.
    pub async fn by_email(&self, route: &RouteLimits, email: &str) -> Decision {
        self.check(route.per_email.as_ref(), Key::email(email))
            .await
    }

    /// Whether a `kind` mail to `address` may go now (`mail_cooldown`); when it may, the pause
    /// starts.
    pub async fn may_mail(&self, kind: &str, address: &str) -> bool {
        let key = Key::mail(kind, &address.trim().to_lowercase());
        self.check(self.mail_cooldown.as_ref(), key).await == Decision::Allowed
    }

    /// A place for one background task, or `None` when `mail_background_limit` are running.
    pub fn background_slot(&self) -> Option<BackgroundSlot> {
        match &self.background {
            None => Some(BackgroundSlot { _permit: None }),
            Some(slots) => slots
                .clone()
                .try_acquire_owned()
                .ok()
                .map(|p| BackgroundSlot { _permit: Some(p) }),
        }
    }

    /// Whether the shared store answers (startup reports it).
    pub async fn shared_store_status(&self) -> Option<Result<(), String>> {
        match &self.shared {
            None => None,
            Some(shared) => Some(shared.ping().await),
        }
    }

    /// `rate_limit_store` as logs may show it (password elided).
    pub fn shared_store_for_logs(&self) -> Option<&str> {
        self.shared.as_ref().map(SharedStore::url_for_logs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).secs(), 1);
        assert_eq!(RetryAfter(Duration::ZERO).secs(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(19_001)).secs(), 20);
        assert_eq!(RetryAfter(Duration::from_secs(20)).secs(), 20);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a = Key::client("2001:db8:1:2::a".parse().unwrap());
        let b = Key::client("2001:db8:1:2:ffff::b".parse().unwrap());
        let other = Key::client("2001:db8:1:3::a".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(
            Key::client("::ffff:192.0.2.1".parse().unwrap()),
            Key::client("192.0.2.1".parse().unwrap())
        );
        assert_ne!(
            Key::client("192.0.2.1".parse().unwrap()),
            Key::client("192.0.2.2".parse().unwrap())
        );
    }

    #[test]
    fn keys_of_different_kinds_never_collide() {
        assert_ne!(Key::email("a"), Key::mail("a", ""));
        assert_ne!(Key::mail("ab", "c"), Key::mail("a", "bc"));
    }

    #[tokio::test]
    async fn a_count_of_zero_is_no_limit() {
        let limits = Limits::new(&LimitSettings::off()).unwrap();
        for _ in 0..1000 {
            assert_eq!(
                limits
                    .by_ip(&limits.sign_in, "192.0.2.1".parse().unwrap())
                    .await,
                Decision::Allowed
            );
            assert!(limits.may_mail("reset", "a@example.com").await);
        }
    }

    #[tokio::test]
    async fn a_burst_of_count_then_one_per_interval() {
        let settings = LimitSettings {
            sign_in: [Rate::new(3, 60), Rate::new(0, 60)],
            ..LimitSettings::off()
        };
        let limits = Limits::new(&settings).unwrap();
        let ip = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.by_ip(&limits.sign_in, ip).await, Decision::Allowed);
        }
        let Decision::Limited(wait) = limits.by_ip(&limits.sign_in, ip).await else {
            panic!("the fourth request within the period must be refused");
        };
        // One more every 20 s.
        assert!((19..=20).contains(&wait.secs()), "{wait:?}");
        let other = "192.0.2.2".parse().unwrap();
        assert_eq!(
            limits.by_ip(&limits.sign_in, other).await,
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn the_mail_cooldown_is_per_kind_and_address() {
        let settings = LimitSettings {
            mail_cooldown: Duration::from_secs(60),
            ..LimitSettings::off()
        };
        let limits = Limits::new(&settings).unwrap();
        assert!(limits.may_mail("reset", "a@example.com").await);
        assert!(!limits.may_mail("reset", "A@example.com ").await);
        assert!(limits.may_mail("confirmation", "a@example.com").await);
        assert!(limits.may_mail("reset", "b@example.com").await);
    }

    #[tokio::test]
    async fn background_slots_are_bounded_and_come_back() {
        let settings = LimitSettings {
            mail_background_limit: 2,
            ..LimitSettings::off()
        };
        let limits = Limits::new(&settings).unwrap();
        let a = limits.background_slot().unwrap();
        let _b = limits.background_slot().unwrap();
        assert!(limits.background_slot().is_none());
        drop(a);
        assert!(limits.background_slot().is_some());
    }
}
