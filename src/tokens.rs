//! The token rules of docs/contract.md §3 and docs/decisions.md D1–D3, as plain functions of a clock: which
//! presented token a device accepts, whether a response rotates, batches or echoes, what the
//! chain looks like after a rotation, and which devices the device cap evicts. No HTTP, no SQL.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh access token or client id: 16 bytes from the OS-seeded CSPRNG, URL-safe base64
/// without padding (22 characters), as devise_token_auth.
pub fn generate() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Devise's "friendly token" for confirmation, reset and unlock links: 20 URL-safe characters
/// with the look-alikes `l I O 0` replaced by `s x y z`.
pub fn friendly_token() -> String {
    friendly_encoding(rand::rng().random())
}

/// The friendly-token text of 15 given bytes (for tokens derived rather than drawn).
pub fn friendly_encoding(bytes: [u8; 15]) -> String {
    URL_SAFE_NO_PAD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            'l' => 's',
            'I' => 'x',
            'O' => 'y',
            '0' => 'z',
            c => c,
        })
        .collect()
}

/// What is stored for a token: its SHA-256, hex. A 128-bit random token needs no slow hash (D2).
pub fn digest(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in hash.iter() {
        out.push(HEX[usize::from(b >> 4)].into());
        out.push(HEX[usize::from(b & 0x0f)].into());
    }
    out
}

fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The token knobs of docs/contract.md §1.1.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    pub lifespan: Duration,
    /// `batch_request_buffer_throttle`.
    pub batch_window: Duration,
    /// `change_headers_on_each_request`.
    pub rotate: bool,
    pub max_devices: usize,
}

impl TokenPolicy {
    /// Saturating, like every clock sum here: settings bound the durations, but arithmetic on
    /// them must not be able to overflow whatever a caller builds.
    pub fn expiry_from(&self, now_ms: i64) -> i64 {
        let lifespan = i64::try_from(self.lifespan.as_secs()).unwrap_or(i64::MAX);
        (now_ms / 1000).saturating_add(lifespan)
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.batch_window.as_millis()).unwrap_or(i64::MAX)
    }
}

/// One device's token chain as stored (all hashes are [`digest`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub token_hash: String,
    pub previous_token_hash: Option<String>,
    pub last_token_hash: Option<String>,
    /// Unix seconds.
    pub expiry: i64,
    /// Unix milliseconds of the last rotation or batch touch.
    pub touched_at: i64,
    /// Unix milliseconds of the last rotation (or of the device's creation).
    pub rotated_at: i64,
}

impl Chain {
    /// The device's newest token has expired, so no token of it is accepted any more.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expiry <= now_ms / 1000
    }
}

/// A bcrypt hash as devise_token_auth stored tokens; toker's own digests are hex and never
/// start with `$` (docs/decisions.md D2).
pub fn is_bcrypt(hash: &str) -> bool {
    hash.starts_with("$2")
}

impl Chain {
    /// A link of the chain still holds a bcrypt hash imported from devise_token_auth.
    pub fn holds_bcrypt(&self) -> bool {
        is_bcrypt(&self.token_hash)
            || self.previous_token_hash.as_deref().is_some_and(is_bcrypt)
            || self.last_token_hash.as_deref().is_some_and(is_bcrypt)
    }

    /// The links holding imported bcrypt hashes, newest first.
    pub fn bcrypt_links(&self) -> Vec<(Accepted, String)> {
        [
            (Accepted::Current, Some(&self.token_hash)),
            (Accepted::Previous, self.previous_token_hash.as_ref()),
            (Accepted::TwoBack, self.last_token_hash.as_ref()),
        ]
        .into_iter()
        .filter_map(|(link, hash)| hash.filter(|h| is_bcrypt(h)).map(|h| (link, h.clone())))
        .collect()
    }

    /// The chain once an imported bcrypt `link` was verified for a token whose digest is
    /// `digest` (docs/decisions.md D2): that link holds the digest from now on, and the
    /// older bcrypt links are dropped, so no request pays for bcrypt on them again. A
    /// bcrypt current token stays when an older one matched (the column is never empty, and
    /// another tab may hold it); it is checked with bcrypt, once, if it is ever presented.
    pub fn upgraded(&self, link: Accepted, digest: String) -> Chain {
        let keep = |hash: &Option<String>| hash.clone().filter(|h| !is_bcrypt(h));
        let mut next = Chain {
            token_hash: self.token_hash.clone(),
            previous_token_hash: keep(&self.previous_token_hash),
            last_token_hash: keep(&self.last_token_hash),
            ..self.clone()
        };
        match link {
            Accepted::Current => next.token_hash = digest,
            Accepted::Previous => next.previous_token_hash = Some(digest),
            Accepted::TwoBack => next.last_token_hash = Some(digest),
        }
        next
    }
}

/// Which link of the chain a presented token matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Current,
    Previous,
    /// Two rotations back: only inside the batch window after the last touch.
    TwoBack,
}

/// Why a presented token was refused for a device that exists (a security event: someone
/// holds the uid and client id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A token of this device, but the device has expired.
    Expired,
    /// The token two rotations back, after its grace.
    RotatedAway,
    /// None of the device's tokens (older, forged or from another device).
    Unknown,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Expired => "expired",
            Refused::RotatedAway => "rotated_away",
            Refused::Unknown => "unknown_token",
        }
    }
}

/// docs/contract.md §3.3 steps 4–5 with docs/decisions.md D3: the current and previous tokens
/// until expiry (strictly later than now); the one before them only while unexpired and within
/// the batch window after the rotation that superseded it. Touches do not extend that grace, so
/// a request carrying an old token cannot keep it alive.
pub fn check(
    policy: &TokenPolicy,
    chain: &Chain,
    token: &str,
    now_ms: i64,
) -> Result<Accepted, Refused> {
    let presented = digest(token);
    let matches = |hash: Option<&str>| hash.is_some_and(|h| same_digest(&presented, h));
    let current = matches(Some(&chain.token_hash));
    let previous = matches(chain.previous_token_hash.as_deref());
    let two_back = matches(chain.last_token_hash.as_deref());
    let unexpired = !chain.expired(now_ms);
    let in_grace = chain.rotated_at > now_ms.saturating_sub(policy.window_ms());
    match (current, previous, two_back) {
        _ if !unexpired && (current || previous || two_back) => Err(Refused::Expired),
        (true, _, _) => Ok(Accepted::Current),
        (_, true, _) => Ok(Accepted::Previous),
        (_, _, true) if in_grace => Ok(Accepted::TwoBack),
        (_, _, true) => Err(Refused::RotatedAway),
        _ => Err(Refused::Unknown),
    }
}

/// [`check`] without the reason.
pub fn accept(policy: &TokenPolicy, chain: &Chain, token: &str, now_ms: i64) -> Option<Accepted> {
    check(policy, chain, token, now_ms).ok()
}

/// How an authenticated response ends (docs/contract.md §3.4–3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Issue a new token for this client.
    Rotate,
    /// Inside the batch window: keep the chain, touch the device, send no new token.
    Batch,
    /// Rotation is off: answer with the token the client sent.
    Echo,
}

/// How long after a rotation a request that still presents the superseded token counts as a
/// sibling of the request that rotated, whatever the batch window (even 0).
pub const RACE_GRACE_MS: i64 = 5_000;

/// DTA's batch rule, plus the race rule of docs/decisions.md D3. A request is a batch request when
/// `unbatch` is absent and the device was touched after `request start − window`. And a request
/// whose token is no longer the current one (`accepted` is not `Current`) lost a race to a
/// sibling that rotated recently: rotating again would push the token its other siblings still
/// carry out of the chain, so it is a batch request too, `unbatch` or not. `chain` is the state
/// read when the request began.
pub fn finish(
    policy: &TokenPolicy,
    chain: &Chain,
    accepted: Accepted,
    request_started_ms: i64,
    unbatch: bool,
) -> Finish {
    let touched_within = |ms: i64| chain.touched_at > request_started_ms.saturating_sub(ms);
    let window = policy.window_ms();
    let batch = !unbatch && touched_within(window);
    let lost_race = accepted != Accepted::Current && touched_within(window.max(RACE_GRACE_MS));
    if !policy.rotate {
        Finish::Echo
    } else if batch || lost_race {
        Finish::Batch
    } else {
        Finish::Rotate
    }
}

/// The chain after rotating to `new_token_hash`: the current token becomes the previous one and
/// the previous one the two-back one; expiry slides forward.
pub fn rotated(policy: &TokenPolicy, chain: &Chain, new_token_hash: String, now_ms: i64) -> Chain {
    Chain {
        token_hash: new_token_hash,
        previous_token_hash: Some(chain.token_hash.clone()),
        last_token_hash: chain.previous_token_hash.clone(),
        expiry: policy.expiry_from(now_ms),
        touched_at: now_ms,
        rotated_at: now_ms,
    }
}

/// A device as the cap sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAge {
    pub id: i64,
    pub touched_at: i64,
    pub expiry: i64,
}

/// The devices to delete so that at most `max_devices` remain: expired ones first, then the
/// least recently touched (docs/decisions.md D3). `keep` is never evicted (the device just created).
pub fn evictions(policy: &TokenPolicy, devices: &[DeviceAge], keep: i64, now_ms: i64) -> Vec<i64> {
    let now_s = now_ms / 1000;
    let mut evict: Vec<i64> = devices
        .iter()
        .filter(|d| d.id != keep && d.expiry <= now_s)
        .map(|d| d.id)
        .collect();
    let mut live: Vec<&DeviceAge> = devices
        .iter()
        .filter(|d| d.id == keep || d.expiry > now_s)
        .collect();
    if live.len() > policy.max_devices {
        live.sort_by_key(|d| (d.id != keep, std::cmp::Reverse((d.touched_at, d.id))));
        evict.extend(live[policy.max_devices..].iter().map(|d| d.id));
    }
    evict
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(5);

    fn policy() -> TokenPolicy {
        TokenPolicy {
            lifespan: Duration::from_secs(3600),
            batch_window: WINDOW,
            rotate: true,
            max_devices: 3,
        }
    }

    fn fresh(token: &str, now_ms: i64) -> Chain {
        Chain {
            token_hash: digest(token),
            previous_token_hash: None,
            last_token_hash: None,
            expiry: policy().expiry_from(now_ms),
            touched_at: now_ms,
            rotated_at: now_ms,
        }
    }

    /// "a" issued and rotated twice at `t0`: "c" current, "b" previous, "a" two back.
    fn a_then_b_then_c(p: &TokenPolicy, t0: i64) -> Chain {
        rotated(
            p,
            &rotated(p, &fresh("a", t0), digest("b"), t0),
            digest("c"),
            t0,
        )
    }

    #[test]
    fn an_imported_chain_is_upgraded_to_digests_once_verified() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let bcrypt = |c: char| format!("$2a$10${}", c.to_string().repeat(53));
        let imported = Chain {
            token_hash: bcrypt('a'),
            previous_token_hash: Some(bcrypt('b')),
            last_token_hash: Some(bcrypt('c')),
            ..fresh("x", t0)
        };
        assert!(imported.holds_bcrypt());
        assert!(!fresh("x", t0).holds_bcrypt());
        assert!(!is_bcrypt(&digest("x")));
        let links: Vec<Accepted> = imported.bcrypt_links().into_iter().map(|l| l.0).collect();
        assert_eq!(
            links,
            [Accepted::Current, Accepted::Previous, Accepted::TwoBack]
        );
        // The current token matched: no bcrypt hash is left, and the digest checks.
        let up = imported.upgraded(Accepted::Current, digest("tok"));
        assert!(!up.holds_bcrypt());
        assert_eq!(up.previous_token_hash, None);
        assert_eq!(accept(&p, &up, "tok", t0 + 1), Some(Accepted::Current));
        // The previous one matched: the current bcrypt hash stays, the two-back one goes.
        let up = imported.upgraded(Accepted::Previous, digest("tok"));
        assert_eq!(up.token_hash, bcrypt('a'));
        assert_eq!(up.last_token_hash, None);
        assert_eq!(accept(&p, &up, "tok", t0 + 1), Some(Accepted::Previous));
        // After a rotation from there, the bcrypt hash is the previous one; the next upgrade
        // of it leaves none.
        let rotated = rotated(&p, &up, digest("new"), t0 + 2);
        assert_eq!(rotated.previous_token_hash, Some(bcrypt('a')));
        assert!(
            !rotated
                .upgraded(Accepted::Previous, digest("a"))
                .holds_bcrypt()
        );
    }

    #[test]
    fn generated_tokens_are_22_url_safe_chars_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chain_accepts_current_previous_and_two_back_inside_window() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let c0 = fresh("a", t0);
        let c1 = rotated(&p, &c0, digest("b"), t0 + 10_000);
        let c2 = rotated(&p, &c1, digest("c"), t0 + 20_000);
        let now = t0 + 21_000;
        assert_eq!(accept(&p, &c2, "c", now), Some(Accepted::Current));
        assert_eq!(accept(&p, &c2, "b", now), Some(Accepted::Previous));
        assert_eq!(accept(&p, &c2, "a", now), Some(Accepted::TwoBack));
        assert_eq!(accept(&p, &c2, "z", now), None);
    }

    #[test]
    fn two_back_token_dies_when_the_window_passes() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let c = a_then_b_then_c(&p, t0);
        assert_eq!(accept(&p, &c, "a", t0 + 4_999), Some(Accepted::TwoBack));
        assert_eq!(accept(&p, &c, "a", t0 + 5_000), None);
        // The previous token is still good until expiry.
        assert_eq!(
            accept(&p, &c, "b", t0 + 3_000_000),
            Some(Accepted::Previous)
        );
    }

    #[test]
    fn two_back_grace_runs_from_the_rotation_not_from_later_touches() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let mut c = a_then_b_then_c(&p, t0);
        // Batch requests kept touching the device; the grace of "a" does not move.
        c.touched_at = t0 + 4_900;
        assert_eq!(accept(&p, &c, "a", t0 + 4_999), Some(Accepted::TwoBack));
        assert_eq!(check(&p, &c, "a", t0 + 5_000), Err(Refused::RotatedAway));
        assert_eq!(check(&p, &c, "zz", t0), Err(Refused::Unknown));
    }

    #[test]
    fn no_token_of_an_expired_device_is_accepted_not_even_two_back() {
        let p = TokenPolicy {
            lifespan: Duration::from_secs(1),
            ..policy()
        };
        let t0 = 1_000_000_000_000;
        let c = a_then_b_then_c(&p, t0);
        let after_expiry = c.expiry * 1000;
        assert!(
            after_expiry - t0 < WINDOW.as_millis() as i64,
            "inside the window"
        );
        for token in ["a", "b", "c"] {
            assert_eq!(
                check(&p, &c, token, after_expiry),
                Err(Refused::Expired),
                "{token}"
            );
        }
        assert!(c.expired(after_expiry));
        assert!(!c.expired(after_expiry - 1));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let c = fresh("a", t0);
        let expiry_ms = c.expiry * 1000;
        assert_eq!(accept(&p, &c, "a", expiry_ms - 1), Some(Accepted::Current));
        assert_eq!(accept(&p, &c, "a", expiry_ms), None);
    }

    #[test]
    fn batch_when_touched_inside_window_of_request_start() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let c = fresh("a", t0);
        let cur = Accepted::Current;
        assert_eq!(finish(&p, &c, cur, t0 + 4_999, false), Finish::Batch);
        assert_eq!(finish(&p, &c, cur, t0 + 5_000, false), Finish::Rotate);
        assert_eq!(finish(&p, &c, cur, t0 + 1, true), Finish::Rotate);
        let off = TokenPolicy {
            rotate: false,
            ..policy()
        };
        assert_eq!(finish(&off, &c, cur, t0 + 60_000, false), Finish::Echo);
    }

    #[test]
    fn zero_window_rotates_every_request() {
        let p = TokenPolicy {
            batch_window: Duration::ZERO,
            ..policy()
        };
        let t0 = 1_000_000_000_000;
        assert_eq!(
            finish(&p, &fresh("a", t0), Accepted::Current, t0, false),
            Finish::Rotate
        );
    }

    #[test]
    fn a_superseded_token_never_rotates_again_right_after_a_sibling_rotated() {
        let p = TokenPolicy {
            batch_window: Duration::ZERO,
            ..policy()
        };
        let t0 = 1_000_000_000_000;
        let c = rotated(&p, &fresh("a", t0), digest("b"), t0);
        // "a" is now the previous token: its sibling rotated 1 s ago, even `unbatch` batches.
        assert_eq!(
            finish(&p, &c, Accepted::Previous, t0 + 1_000, true),
            Finish::Batch
        );
        // The current token still rotates at once (window 0).
        assert_eq!(
            finish(&p, &c, Accepted::Current, t0 + 1_000, false),
            Finish::Rotate
        );
        // A lone client that lost a response rotates from its previous token after the grace.
        assert_eq!(
            finish(&p, &c, Accepted::Previous, t0 + RACE_GRACE_MS, false),
            Finish::Rotate
        );
    }

    #[test]
    fn huge_durations_saturate_instead_of_overflowing() {
        let p = TokenPolicy {
            lifespan: Duration::MAX,
            batch_window: Duration::MAX,
            ..policy()
        };
        let t0 = 1_000_000_000_000;
        let c = a_then_b_then_c(&p, t0);
        assert_eq!(c.expiry, i64::MAX);
        assert_eq!(accept(&p, &c, "a", t0 + 1), Some(Accepted::TwoBack));
        assert_eq!(
            finish(&p, &c, Accepted::Current, t0 + 1, false),
            Finish::Batch
        );
    }

    #[test]
    fn rotation_slides_expiry() {
        let p = policy();
        let t0 = 1_000_000_000_000;
        let c = rotated(&p, &fresh("a", t0), digest("b"), t0 + 60_000);
        assert_eq!(c.expiry, (t0 + 60_000) / 1000 + 3600);
        assert_eq!(c.touched_at, t0 + 60_000);
    }

    #[test]
    fn cap_evicts_expired_then_least_recently_touched_never_the_new_one() {
        let p = policy();
        let now = 1_000_000_000_000;
        let live = |id, touched| DeviceAge {
            id,
            touched_at: touched,
            expiry: now / 1000 + 100,
        };
        let devices = [
            live(1, now - 50),
            DeviceAge {
                id: 2,
                touched_at: now - 10,
                expiry: now / 1000 - 1,
            },
            live(3, now - 40),
            live(4, now - 30),
            live(5, now - 20),
            live(6, now - 100),
        ];
        // 6 is the device being created: touched long ago in this made-up data, kept anyway.
        let mut evicted = evictions(&p, &devices, 6, now);
        evicted.sort();
        assert_eq!(evicted, vec![1, 2, 3]);
    }

    #[test]
    fn cap_does_nothing_under_the_limit() {
        let p = policy();
        let now = 1_000_000_000_000;
        let d = |id| DeviceAge {
            id,
            touched_at: now,
            expiry: now / 1000 + 100,
        };
        assert!(evictions(&p, &[d(1), d(2), d(3)], 3, now).is_empty());
    }
}
