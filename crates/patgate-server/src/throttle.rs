//! Abuse limits, per process (several replicas each count their own share; docs/operations.md):
//!
//! * [`Counters`]: fixed-window counters per key, bounded in memory. An attempt is counted
//!   *before* the work it guards (so that parallel attempts cannot all slip under the limit),
//!   and refunded when it turns out not to count.
//! * [`PasswordGuard`]: what stands between a password guesser and argon2. Per client address
//!   and account (a typo-prone colleague behind the same NAT does not lock anyone else out), per
//!   address over all accounts (spraying), and a per-account backoff against guessing from many
//!   addresses, from which the addresses the account recently signed in from are exempt (so a
//!   stranger can slow the guessing down but cannot lock the owner out).
//! * The limit of `POST /credentials/revoke` (GitHub's 60 an hour), per client address.
//! * [`bad_tokens`]: tokens that do not verify, per client address (never per account).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

/// Fixed-window counters keyed by `K`, at most `capacity` keys (when full, expired windows go
/// first, then the oldest).
pub struct Counters<K> {
    limit: u32,
    window: Duration,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<K, Window>>>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    /// Attempts counted in this window, those still being checked included.
    count: u32,
    /// Of those, the attempts still being checked (not yet settled).
    pending: u32,
}

/// Why an attempt was not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    /// The window is used up; it ends in this long.
    Exhausted(Duration),
    /// The window is full, but some of what fills it is still being checked: it may free up
    /// (an attempt that succeeds is refunded), so ask again once one settles.
    Busy,
}

impl<K: Hash + Eq + Clone> Counters<K> {
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        Counters {
            limit,
            window,
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    fn shard(&self, key: &K) -> &Mutex<HashMap<K, Window>> {
        // The modulo keeps the index in range whatever the hash.
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        &self.shards[i]
    }

    /// Counts one attempt for `key`, pending until it is settled ([`Counters::settle`] or
    /// [`Counters::refund`]), if the window has room.
    pub fn try_count(&self, key: &K, now: Instant) -> Result<(), Full> {
        let Ok(mut map) = self.shard(key).lock() else {
            return Err(Full::Exhausted(self.window));
        };
        let window = self.window;
        if let Some(w) = map.get_mut(key) {
            if now.duration_since(w.start) >= window && w.pending == 0 {
                *w = Window {
                    start: now,
                    count: 0,
                    pending: 0,
                };
            }
            if w.count >= self.limit {
                return Err(if w.pending > 0 {
                    Full::Busy
                } else {
                    Full::Exhausted(window.saturating_sub(now.duration_since(w.start)))
                });
            }
            w.count += 1;
            w.pending += 1;
            return Ok(());
        }
        if self.limit == 0 {
            return Err(Full::Exhausted(window));
        }
        if map.len() >= self.per_shard {
            map.retain(|_, w| w.pending > 0 || now.duration_since(w.start) < window);
            if map.len() >= self.per_shard
                && let Some(oldest) = map
                    .iter()
                    .filter(|(_, w)| w.pending == 0)
                    .min_by_key(|(_, w)| w.start)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            key.clone(),
            Window {
                start: now,
                count: 1,
                pending: 1,
            },
        );
        Ok(())
    }

    /// Counts one attempt that is settled at once (a use of a limited endpoint).
    pub fn try_use(&self, key: &K, now: Instant) -> Result<(), Duration> {
        match self.try_count(key, now) {
            Ok(()) => {
                self.settle(key);
                Ok(())
            }
            Err(Full::Exhausted(d)) => Err(d),
            Err(Full::Busy) => Err(Duration::from_secs(1)),
        }
    }

    /// A pending attempt counts for good (a failure).
    pub fn settle(&self, key: &K) {
        if let Ok(mut map) = self.shard(key).lock()
            && let Some(w) = map.get_mut(key)
        {
            w.pending = w.pending.saturating_sub(1);
        }
    }

    /// A pending attempt is given back (it turned out fine, or could not be checked).
    pub fn refund(&self, key: &K) {
        if let Ok(mut map) = self.shard(key).lock()
            && let Some(w) = map.get_mut(key)
        {
            w.count = w.count.saturating_sub(1);
            w.pending = w.pending.saturating_sub(1);
        }
    }

    /// How long until `key`'s window ends (the whole window when it has none).
    pub fn retry_after(&self, key: &K, now: Instant) -> Duration {
        let Ok(map) = self.shard(key).lock() else {
            return self.window;
        };
        map.get(key).map_or(self.window, |w| {
            self.window.saturating_sub(now.duration_since(w.start))
        })
    }

    /// Whether `key` has used up the current window, without counting.
    pub fn exhausted(&self, key: &K, now: Instant) -> bool {
        let Ok(map) = self.shard(key).lock() else {
            return true;
        };
        map.get(key)
            .is_some_and(|w| now.duration_since(w.start) < self.window && w.count >= self.limit)
    }
}

/// GitHub's abuse limit for `POST /credentials/revoke`: 60 requests an hour per client.
pub fn credential_revocation() -> Counters<IpAddr> {
    Counters::new(60, Duration::from_secs(3600), 100_000)
}

/// Failed password attempts one address may make at one account in 15 minutes.
pub const FAILURES_PER_ADDRESS_AND_ACCOUNT: u32 = 10;
/// Failed password attempts one address may make over all accounts in 15 minutes.
pub const FAILURES_PER_ADDRESS: u32 = 100;
/// Failures an account takes from anywhere before its backoff starts.
pub const FREE_FAILURES_PER_ACCOUNT: u32 = 5;
/// The longest an account's backoff makes a guesser wait between two attempts.
pub const MAX_ACCOUNT_BACKOFF: Duration = Duration::from_secs(60);
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a successful sign-in from an address exempts it from the account's backoff.
const KNOWN_ADDRESS_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
const TRACKED: usize = 100_000;

/// Why a password attempt is refused before it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

#[derive(Clone, Copy, Debug)]
struct AccountBackoff {
    failures: u32,
    last_failure: Instant,
    next_allowed: Instant,
}

pub struct PasswordGuard {
    per_address_and_account: Counters<(IpAddr, String)>,
    per_address: Counters<IpAddr>,
    accounts: Mutex<HashMap<String, AccountBackoff>>,
    known: Mutex<HashMap<(String, IpAddr), Instant>>,
    /// Woken whenever an attempt settles, for attempts waiting on a full but busy window.
    settled: tokio::sync::Notify,
}

impl Default for PasswordGuard {
    fn default() -> Self {
        PasswordGuard {
            per_address_and_account: Counters::new(
                FAILURES_PER_ADDRESS_AND_ACCOUNT,
                WINDOW,
                TRACKED,
            ),
            per_address: Counters::new(FAILURES_PER_ADDRESS, WINDOW, TRACKED),
            accounts: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            settled: tokio::sync::Notify::new(),
        }
    }
}

/// Logins are case-insensitive: one account, one budget.
fn account_key(login: &str) -> String {
    login.to_lowercase()
}

fn backoff_after(failures: u32) -> Duration {
    let beyond = failures.saturating_sub(FREE_FAILURES_PER_ACCOUNT);
    if beyond == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs(1u64 << (beyond - 1).min(6)).min(MAX_ACCOUNT_BACKOFF)
}

/// Bounds a map by dropping the entries `stale` says are stale, then the oldest.
fn bound<K: Clone + Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    stale: impl Fn(&V) -> bool,
    age: impl Fn(&V) -> Instant,
) {
    if map.len() < TRACKED {
        return;
    }
    map.retain(|_, v| !stale(v));
    if map.len() >= TRACKED
        && let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| age(v))
            .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
}

/// An admitted password attempt: report its outcome with [`Attempt::succeeded`] or
/// [`Attempt::failed`]. Dropped without either (the check could not be made), it is refunded.
pub struct Attempt<'a> {
    guard: &'a PasswordGuard,
    ip: IpAddr,
    account: String,
    /// When it was admitted: the time its outcome is recorded at (argon2 takes milliseconds).
    at: Instant,
    settled: bool,
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.settled = true;
        self.guard.refund(self.ip, &self.account);
        self.guard.remember(&self.account, self.ip, self.at);
        self.guard.settled.notify_waiters();
    }

    pub fn failed(mut self) {
        self.settled = true;
        self.guard
            .per_address_and_account
            .settle(&(self.ip, self.account.clone()));
        self.guard.per_address.settle(&self.ip);
        self.guard.record_failure(&self.account, self.at);
        self.guard.settled.notify_waiters();
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.guard.refund(self.ip, &self.account);
            self.guard.settled.notify_waiters();
        }
    }
}

/// How long an attempt waits for a full window's pending attempts to settle.
const WAIT_FOR_SETTLED: Duration = Duration::from_secs(10);

/// What `admit_at` says.
enum Admission<'a> {
    Go(Attempt<'a>),
    Refused(Refused),
    /// Full of attempts still being checked: ask again when one settles.
    Wait,
}

impl PasswordGuard {
    /// Admits one password attempt for `login` from `ip`, counting it before the password is
    /// checked, or refuses it. When the limit is reached only by attempts still being checked,
    /// it waits for them (they may succeed and give their place back), so that parallel correct
    /// passwords all get through while parallel wrong ones stop at the limit.
    pub async fn admit(&self, login: &str, ip: IpAddr) -> Result<Attempt<'_>, Refused> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_SETTLED;
        loop {
            let settled = self.settled.notified();
            match self.admission(login, ip, Instant::now()) {
                Admission::Go(a) => return Ok(a),
                Admission::Refused(r) => return Err(r),
                Admission::Wait => {
                    if tokio::time::timeout_at(deadline, settled).await.is_err() {
                        return Err(Refused {
                            retry_after: Duration::from_secs(1),
                        });
                    }
                }
            }
        }
    }

    #[cfg(test)]
    fn admit_at(&self, login: &str, ip: IpAddr, now: Instant) -> Result<Attempt<'_>, Refused> {
        match self.admission(login, ip, now) {
            Admission::Go(a) => Ok(a),
            Admission::Refused(r) => Err(r),
            Admission::Wait => Err(Refused {
                retry_after: Duration::ZERO,
            }),
        }
    }

    fn admission(&self, login: &str, ip: IpAddr, now: Instant) -> Admission<'_> {
        let account = account_key(login);
        let pair = (ip, account.clone());
        match self.per_address_and_account.try_count(&pair, now) {
            Ok(()) => {}
            Err(Full::Busy) => return Admission::Wait,
            Err(Full::Exhausted(retry_after)) => {
                return Admission::Refused(Refused { retry_after });
            }
        }
        match self.per_address.try_count(&ip, now) {
            Ok(()) => {}
            Err(full) => {
                self.per_address_and_account.refund(&pair);
                return match full {
                    Full::Busy => Admission::Wait,
                    Full::Exhausted(retry_after) => Admission::Refused(Refused { retry_after }),
                };
            }
        }
        if !self.is_known(&account, ip, now)
            && let Err(retry_after) = self.take_backoff_slot(&account, now)
        {
            self.per_address_and_account.refund(&pair);
            self.per_address.refund(&ip);
            return Admission::Refused(Refused { retry_after });
        }
        Admission::Go(Attempt {
            guard: self,
            ip,
            account,
            at: now,
            settled: false,
        })
    }

    fn is_known(&self, account: &str, ip: IpAddr, now: Instant) -> bool {
        let Ok(known) = self.known.lock() else {
            return false;
        };
        known
            .get(&(account.to_owned(), ip))
            .is_some_and(|at| now.duration_since(*at) < KNOWN_ADDRESS_FOR)
    }

    /// Under backoff, an unknown address may try once per slot; taking the slot pushes the next
    /// one out at once, so that parallel attempts cannot share it.
    fn take_backoff_slot(&self, account: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut accounts) = self.accounts.lock() else {
            return Err(MAX_ACCOUNT_BACKOFF);
        };
        let Some(state) = accounts.get_mut(account) else {
            return Ok(());
        };
        if now.duration_since(state.last_failure) >= WINDOW {
            accounts.remove(account);
            return Ok(());
        }
        let delay = backoff_after(state.failures);
        if delay.is_zero() {
            return Ok(());
        }
        if now < state.next_allowed {
            return Err(state.next_allowed - now);
        }
        state.next_allowed = now + delay;
        Ok(())
    }

    fn record_failure(&self, account: &str, now: Instant) {
        let Ok(mut accounts) = self.accounts.lock() else {
            return;
        };
        bound(
            &mut accounts,
            |s| now.duration_since(s.last_failure) >= WINDOW,
            |s| s.last_failure,
        );
        let state = accounts
            .entry(account.to_owned())
            .or_insert(AccountBackoff {
                failures: 0,
                last_failure: now,
                next_allowed: now,
            });
        if now.duration_since(state.last_failure) >= WINDOW {
            state.failures = 0;
        }
        state.failures = state.failures.saturating_add(1);
        state.last_failure = now;
        state.next_allowed = state.next_allowed.max(now + backoff_after(state.failures));
    }

    fn refund(&self, ip: IpAddr, account: &str) {
        self.per_address_and_account
            .refund(&(ip, account.to_owned()));
        self.per_address.refund(&ip);
    }

    /// A success exempts its address from the account's backoff; the backoff itself stays (the
    /// owner signing in must not hand a guesser elsewhere a fresh set of free failures).
    fn remember(&self, account: &str, ip: IpAddr, now: Instant) {
        if let Ok(mut known) = self.known.lock() {
            bound(
                &mut known,
                |at| now.duration_since(*at) >= KNOWN_ADDRESS_FOR,
                |at| *at,
            );
            known.insert((account.to_owned(), ip), now);
        }
    }
}

/// Tokens that do not verify, per client address: 100 in 15 minutes, then every token from that
/// address is refused until the window ends. A real client presents a bad token a few times
/// (a revoked token in a CI job's retries); a scanner presents thousands.
pub fn bad_tokens() -> Counters<IpAddr> {
    Counters::new(
        BAD_TOKENS_PER_ADDRESS,
        Duration::from_secs(15 * 60),
        100_000,
    )
}

pub const BAD_TOKENS_PER_ADDRESS: u32 = 100;

/// Every abuse limit of one process.
pub struct Throttles {
    pub passwords: PasswordGuard,
    pub credential_revocation: Counters<IpAddr>,
    /// Tokens that failed to verify (REST API and git).
    pub bad_tokens: Counters<IpAddr>,
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            passwords: PasswordGuard::default(),
            credential_revocation: credential_revocation(),
            bad_tokens: bad_tokens(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        [198, 51, 100, last].into()
    }

    #[test]
    fn counters_count_before_the_work_and_refund_on_request() {
        let c: Counters<IpAddr> = Counters::new(2, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        assert!(c.try_count(&ip(1), t0).is_ok());
        assert!(c.try_count(&ip(1), t0).is_ok());
        // Both attempts are still being checked: the window may yet free up.
        assert_eq!(c.try_count(&ip(1), t0), Err(Full::Busy));
        assert!(c.exhausted(&ip(1), t0));
        // One turns out fine and gives its place back; the other fails and keeps it.
        c.refund(&ip(1));
        c.settle(&ip(1));
        assert!(c.try_count(&ip(1), t0).is_ok(), "a refund frees a place");
        c.settle(&ip(1));
        assert_eq!(
            c.try_count(&ip(1), t0 + Duration::from_secs(10)),
            Err(Full::Exhausted(Duration::from_secs(50)))
        );
        assert!(c.try_count(&ip(2), t0).is_ok(), "other keys have their own");
        assert!(
            c.try_count(&ip(1), t0 + Duration::from_secs(60)).is_ok(),
            "a new window"
        );
        let uses: Counters<IpAddr> = Counters::new(1, Duration::from_secs(60), 100);
        assert!(uses.try_use(&ip(1), t0).is_ok());
        assert_eq!(uses.try_use(&ip(1), t0), Err(Duration::from_secs(60)));
    }

    #[test]
    fn counters_stay_within_their_capacity() {
        let c: Counters<u32> = Counters::new(1, Duration::from_secs(60), 32);
        let t0 = Instant::now();
        for k in 0..10_000 {
            assert!(c.try_use(&k, t0).is_ok());
        }
        let held: usize = c.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= 32, "{held} keys held");
    }

    #[test]
    fn parallel_attempts_cannot_exceed_the_per_address_limit() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        // Sixty attempts at once: only the limit is admitted before any has been checked.
        let admitted: Vec<_> = (0..60)
            .filter_map(|_| g.admit_at("alice", ip(1), t0).ok())
            .collect();
        assert_eq!(admitted.len(), FAILURES_PER_ADDRESS_AND_ACCOUNT as usize);
        // Once they fail, the rest are refused for good; had they succeeded, the rest would go on.
        for a in admitted {
            a.failed();
        }
        assert!(g.admit_at("alice", ip(1), t0).is_err());
    }

    #[tokio::test]
    async fn parallel_correct_passwords_all_get_through_and_parallel_wrong_ones_stop() {
        let g = std::sync::Arc::new(PasswordGuard::default());
        let attempt = |ok: bool, login: &'static str| {
            let g = g.clone();
            async move {
                let a = g.admit(login, ip(1)).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                if ok {
                    a.succeeded();
                } else {
                    a.failed();
                }
                Ok::<(), Refused>(())
            }
        };
        let right = futures_util::future::join_all((0..40).map(|_| attempt(true, "alice"))).await;
        assert!(right.iter().all(Result::is_ok), "{right:?}");
        let wrong = futures_util::future::join_all((0..40).map(|_| attempt(false, "bob"))).await;
        let checked = wrong.iter().filter(|r| r.is_ok()).count();
        assert!(
            checked <= FAILURES_PER_ADDRESS_AND_ACCOUNT as usize,
            "{checked} wrong passwords were checked"
        );
    }

    #[test]
    fn a_colleague_behind_the_same_address_is_not_locked_out_by_anothers_failures() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        // bob mistypes until he is refused (his account's backoff or the address's limit)...
        let mut failures = 0;
        while let Ok(a) = g.admit_at("bob", ip(1), t0) {
            a.failed();
            failures += 1;
            assert!(failures <= FAILURES_PER_ADDRESS_AND_ACCOUNT);
        }
        // ... and alice, from the same address, still gets in.
        g.admit_at("alice", ip(1), t0)
            .expect("alice is admitted")
            .succeeded();
    }

    #[test]
    fn spraying_many_accounts_from_one_address_is_capped() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        let mut admitted = 0;
        for n in 0..500 {
            if let Ok(a) = g.admit_at(&format!("user{n}"), ip(1), t0) {
                a.failed();
                admitted += 1;
            }
        }
        assert_eq!(admitted, FAILURES_PER_ADDRESS as usize);
    }

    #[test]
    fn guessing_one_account_from_many_addresses_backs_off_but_its_known_address_gets_in() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        // The owner signed in from their usual address before the attack.
        g.admit_at("alice", ip(200), t0)
            .expect("admitted")
            .succeeded();
        let mut admitted = 0;
        for n in 0..30u8 {
            for _ in 0..9 {
                if let Ok(a) = g.admit_at("alice", ip(n), t0) {
                    a.failed();
                    admitted += 1;
                }
            }
        }
        // The free failures and one slot of the backoff, not 270.
        assert_eq!(admitted, FREE_FAILURES_PER_ACCOUNT as usize + 1);
        // The owner is not locked out from their known address...
        g.admit_at("alice", ip(200), t0)
            .expect("the owner is admitted")
            .succeeded();
        // ... and a new address waits for the next slot, never longer than the cap.
        let refused = g.admit_at("alice", ip(99), t0).err().expect("refused");
        assert!(refused.retry_after <= MAX_ACCOUNT_BACKOFF);
    }

    #[test]
    fn the_backoff_grows_and_is_capped() {
        assert_eq!(backoff_after(FREE_FAILURES_PER_ACCOUNT), Duration::ZERO);
        assert_eq!(
            backoff_after(FREE_FAILURES_PER_ACCOUNT + 1),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff_after(FREE_FAILURES_PER_ACCOUNT + 2),
            Duration::from_secs(2)
        );
        assert_eq!(
            backoff_after(FREE_FAILURES_PER_ACCOUNT + 50),
            MAX_ACCOUNT_BACKOFF
        );
    }

    #[test]
    fn an_attempt_that_could_not_be_checked_is_refunded() {
        let g = PasswordGuard::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            let a = g.admit_at("carol", ip(3), t0).expect("admitted");
            drop(a);
        }
    }
}
