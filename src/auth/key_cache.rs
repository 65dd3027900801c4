//! When to fetch a remote JWKS and when to answer from the isolate's copy: a pure state
//! machine over an injected clock (milliseconds), unit-tested on the host.
//! [`super::key_source`] runs it.
//!
//! - A fetched set is fresh for the response's `Cache-Control: max-age`, clamped to
//!   [`MIN_TTL_SECS`]..=[`MAX_TTL_SECS`] ([`DEFAULT_TTL_SECS`] without one).
//! - A token whose `kid` is not in a fresh set triggers a refetch (a rotation just happened),
//!   but at most once per [`REFETCH_COOLDOWN_MS`] after any attempt, so a flood of tokens with
//!   made-up kids costs the auth server one request per cooldown per isolate.
//! - Past freshness the set is refetched; if that fails the old set keeps verifying for up to
//!   [`MAX_STALE_MS`], so a short auth-server outage does not log anyone out.
//! - Without any usable set, a failed fetch makes requests answer 503 for the rest of the
//!   cooldown instead of each waiting on a dead server.
//! - While one request fetches, others that need the result wait for it rather than fetching
//!   too (workerd does not let one request await another's I/O, so they poll the state).

use std::rc::Rc;

use super::key_set::KeySet;

pub const DEFAULT_TTL_SECS: u64 = 300;
pub const MIN_TTL_SECS: u64 = 60;
pub const MAX_TTL_SECS: u64 = 86_400;
pub const REFETCH_COOLDOWN_MS: u64 = 5_000;
pub const MAX_STALE_MS: u64 = 3_600_000;
/// How long a fetch may run; its caller answers well within 2 s either way.
pub const FETCH_TIMEOUT_MS: u64 = 1_200;
/// A fetch still marked in flight after this long belongs to a request that was cancelled.
const IN_FLIGHT_LIMIT_MS: u64 = FETCH_TIMEOUT_MS + 500;

/// What a request should do next.
#[derive(Clone)]
pub enum Plan {
    /// Verify with this set (the kid may still be missing from it: then the token is a 401).
    Use(Rc<KeySet>),
    /// Fetch the set now (after calling [`KeyCache::begin_fetch`]).
    Fetch,
    /// Another request is fetching; look again shortly.
    Wait,
    /// No usable keys and fetching is cooling down: answer 503 with this `Retry-After`.
    Unavailable { retry_after_secs: u64 },
}

/// One remote key set's state in this isolate.
#[derive(Default)]
pub struct KeyCache {
    keys: Option<Rc<KeySet>>,
    fresh_until: u64,
    fetched_at: u64,
    last_attempt: Option<u64>,
    in_flight_since: Option<u64>,
}

impl KeyCache {
    /// Decides for a token naming `kid`, at time `now`.
    pub fn plan(&self, kid: Option<&str>, now: u64) -> Plan {
        let in_flight = self
            .in_flight_since
            .is_some_and(|since| now < since.saturating_add(IN_FLIGHT_LIMIT_MS));
        let cooling = self
            .last_attempt
            .is_some_and(|at| now < at.saturating_add(REFETCH_COOLDOWN_MS));
        match self.usable(now) {
            Some(keys) => {
                let known = keys.find(kid).is_some();
                if known && (now < self.fresh_until || in_flight) {
                    Plan::Use(keys)
                } else if in_flight {
                    Plan::Wait
                } else if cooling {
                    Plan::Use(keys)
                } else {
                    Plan::Fetch
                }
            }
            None if in_flight => Plan::Wait,
            None if cooling => {
                let until = self.last_attempt.unwrap_or(now) + REFETCH_COOLDOWN_MS;
                Plan::Unavailable {
                    retry_after_secs: until.saturating_sub(now).div_ceil(1000).max(1),
                }
            }
            None => Plan::Fetch,
        }
    }

    /// Marks a fetch as started: it counts against the cooldown from now.
    pub fn begin_fetch(&mut self, now: u64) {
        self.last_attempt = Some(now);
        self.in_flight_since = Some(now);
    }

    /// Stores a fetched set, fresh for `max_age_secs` (clamped) or the default.
    pub fn fetched(&mut self, keys: KeySet, max_age_secs: Option<u64>, now: u64) -> Rc<KeySet> {
        let ttl = max_age_secs
            .unwrap_or(DEFAULT_TTL_SECS)
            .clamp(MIN_TTL_SECS, MAX_TTL_SECS);
        let keys = Rc::new(keys);
        self.keys = Some(keys.clone());
        self.fetched_at = now;
        self.fresh_until = now.saturating_add(ttl * 1000);
        self.in_flight_since = None;
        keys
    }

    /// Records a failed fetch and returns the set to fall back on, if one is still usable.
    pub fn failed(&mut self, now: u64) -> Option<Rc<KeySet>> {
        self.in_flight_since = None;
        self.usable(now)
    }

    /// Seconds since the current set was fetched, for the log.
    pub fn age_secs(&self, now: u64) -> Option<u64> {
        self.keys
            .as_ref()
            .map(|_| now.saturating_sub(self.fetched_at) / 1000)
    }

    fn usable(&self, now: u64) -> Option<Rc<KeySet>> {
        self.keys
            .as_ref()
            .filter(|_| now < self.fresh_until.saturating_add(MAX_STALE_MS))
            .cloned()
    }
}

/// The `max-age` of a `Cache-Control` header, if it has one (`no-store`/`no-cache` count as 0,
/// which the clamp turns into the minimum TTL).
pub fn max_age(cache_control: Option<&str>) -> Option<u64> {
    let header = cache_control?;
    let mut max_age = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(value) = lower.strip_prefix("max-age=") {
            max_age = value.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::key_set::fixtures::jwks;

    const T0: u64 = 1_800_000_000_000;

    fn set(kids: &[&str]) -> KeySet {
        KeySet::parse(&jwks(kids)).unwrap()
    }

    fn kind(plan: Plan) -> String {
        match plan {
            Plan::Use(keys) => {
                let held = ["ed", "ed-2"]
                    .iter()
                    .filter(|kid| keys.find(Some(kid)).is_some());
                format!("use {}", held.count())
            }
            Plan::Fetch => "fetch".into(),
            Plan::Wait => "wait".into(),
            Plan::Unavailable { retry_after_secs } => format!("503 {retry_after_secs}"),
        }
    }

    fn warm(max_age: Option<u64>) -> KeyCache {
        let mut cache = KeyCache::default();
        cache.begin_fetch(T0);
        cache.fetched(set(&["ed"]), max_age, T0);
        cache
    }

    #[test]
    fn a_cold_cache_fetches_and_concurrent_requests_wait_for_that_fetch() {
        let mut cache = KeyCache::default();
        assert_eq!(kind(cache.plan(Some("ed"), T0)), "fetch");
        cache.begin_fetch(T0);
        assert_eq!(kind(cache.plan(Some("ed"), T0 + 10)), "wait");
        cache.fetched(set(&["ed"]), None, T0 + 100);
        assert_eq!(kind(cache.plan(Some("ed"), T0 + 110)), "use 1");
    }

    #[test]
    fn a_known_kid_uses_the_fresh_set_without_fetching() {
        let cache = warm(None);
        let fresh_for = DEFAULT_TTL_SECS * 1000;
        assert_eq!(kind(cache.plan(Some("ed"), T0 + fresh_for - 1)), "use 1");
        assert_eq!(kind(cache.plan(Some("ed"), T0 + fresh_for)), "fetch");
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_per_cooldown() {
        let mut cache = warm(None);
        // Within the cooldown of the first fetch: verify with what we have (a 401).
        assert_eq!(kind(cache.plan(Some("new"), T0 + 1_000)), "use 1");
        let after = T0 + REFETCH_COOLDOWN_MS;
        assert_eq!(kind(cache.plan(Some("new"), after)), "fetch");
        cache.begin_fetch(after);
        // A flood during and after that fetch causes no second one until the cooldown ends.
        assert_eq!(kind(cache.plan(Some("other"), after + 1)), "wait");
        cache.fetched(set(&["ed", "ed-2"]), None, after + 50);
        for offset in [60, 1_000, REFETCH_COOLDOWN_MS - 1] {
            assert_eq!(kind(cache.plan(Some("other"), after + offset)), "use 2");
        }
        assert_eq!(
            kind(cache.plan(Some("other"), after + REFETCH_COOLDOWN_MS)),
            "fetch"
        );
        // Known kids never wait on those refetches.
        cache.begin_fetch(after + REFETCH_COOLDOWN_MS);
        assert_eq!(
            kind(cache.plan(Some("ed-2"), after + REFETCH_COOLDOWN_MS + 1)),
            "use 2"
        );
    }

    #[test]
    fn a_failed_cold_fetch_answers_503_until_the_cooldown_ends() {
        let mut cache = KeyCache::default();
        cache.begin_fetch(T0);
        assert!(cache.failed(T0 + FETCH_TIMEOUT_MS).is_none());
        assert_eq!(kind(cache.plan(Some("ed"), T0 + FETCH_TIMEOUT_MS)), "503 4");
        assert_eq!(kind(cache.plan(Some("ed"), T0 + 4_001)), "503 1");
        assert_eq!(
            kind(cache.plan(Some("ed"), T0 + REFETCH_COOLDOWN_MS)),
            "fetch"
        );
    }

    #[test]
    fn a_stale_set_keeps_verifying_while_the_server_is_down() {
        let mut cache = warm(Some(60));
        let expired = T0 + 60_000;
        assert_eq!(kind(cache.plan(Some("ed"), expired)), "fetch");
        cache.begin_fetch(expired);
        // Requests for known kids keep going while the refresh runs.
        assert_eq!(kind(cache.plan(Some("ed"), expired + 1)), "use 1");
        assert!(cache.failed(expired + FETCH_TIMEOUT_MS).is_some());
        assert_eq!(
            kind(cache.plan(Some("ed"), expired + FETCH_TIMEOUT_MS)),
            "use 1"
        );
        // Until MAX_STALE_MS past freshness; then the set is no longer trusted.
        let too_old = expired + MAX_STALE_MS;
        cache.begin_fetch(too_old);
        assert!(cache.failed(too_old + 1).is_none());
        assert_eq!(kind(cache.plan(Some("ed"), too_old + 2)), "503 5");
    }

    #[test]
    fn an_abandoned_fetch_does_not_block_others_forever() {
        let mut cache = KeyCache::default();
        cache.begin_fetch(T0);
        assert_eq!(kind(cache.plan(None, T0 + IN_FLIGHT_LIMIT_MS - 1)), "wait");
        // The fetching request vanished: the cooldown then decides.
        assert_eq!(kind(cache.plan(None, T0 + IN_FLIGHT_LIMIT_MS)), "503 4");
        assert_eq!(kind(cache.plan(None, T0 + REFETCH_COOLDOWN_MS)), "fetch");
    }

    #[test]
    fn cache_control_max_age_is_honoured_within_bounds() {
        assert_eq!(max_age(None), None);
        assert_eq!(max_age(Some("public, max-age=600")), Some(600));
        assert_eq!(max_age(Some("Max-Age=\"120\", must-revalidate")), Some(120));
        assert_eq!(max_age(Some("no-store")), Some(0));
        assert_eq!(max_age(Some("private")), None);
        assert_eq!(max_age(Some("max-age=abc")), None);

        let ttl = |max_age: Option<u64>| {
            let cache = warm(max_age);
            (cache.fresh_until - T0) / 1000
        };
        assert_eq!(ttl(None), DEFAULT_TTL_SECS);
        assert_eq!(ttl(Some(0)), MIN_TTL_SECS);
        assert_eq!(ttl(Some(600)), 600);
        assert_eq!(ttl(Some(10_000_000)), MAX_TTL_SECS);
    }
}
