//! The health check's database probe, shared by every `/health` call of one isolate within
//! [`WINDOW_MS`]: `/health` needs no token and is never rate limited, so without sharing each
//! anonymous call would open a database connection.
//!
//! One call (the first after the window) runs the check; calls arriving while it runs wait for
//! it, and calls within the window after its start take its result, success or failure. So an
//! outage or a recovery shows at most [`WINDOW_MS`] after it happens, and one isolate runs at
//! most one health check per window, whatever the traffic: one connection (two when its first
//! connect fails and is retried).
//!
//! Waiters look at the shared state every [`WAIT_STEP_MS`] instead of being woken by the check:
//! a Workers request must not be resumed by another request's I/O (the JWKS cache in
//! `auth::key_source` waits the same way). No borrow of the state is held across an `.await`.

use std::{cell::RefCell, time::Duration};

use worker::{Date, Delay, Env};

use super::{ping, with_connection, Scope};
use crate::error::ApiError;

/// How long one check's result answers every call: a few probe intervals of a load balancer,
/// short enough that an outage or a recovery shows within it.
pub const WINDOW_MS: u64 = 2_000;
/// A check claimed this long after its exchange deadline and not finished (its request was
/// cancelled mid-check) no longer holds the others back: one of them checks instead.
const IN_FLIGHT_MARGIN_MS: u64 = 500;
/// How often a call waiting on another's check looks again.
const WAIT_STEP_MS: u64 = 20;

thread_local! {
    static SHARED: RefCell<SharedCheck> = RefCell::new(SharedCheck::default());
}

/// What a call should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Answer with this result of a check that started within the window.
    Use(Result<(), ApiError>),
    /// Run the check now (after [`SharedCheck::begin`]).
    Check,
    /// Another call is checking; look again shortly.
    Wait,
}

/// One isolate's health-check state: the latest result, and the check in flight if any.
#[derive(Debug, Default)]
pub struct SharedCheck {
    /// When the latest finished check started (ms since the epoch), and its result.
    latest: Option<(u64, Result<(), ApiError>)>,
    /// The check in flight: when it started, and until when it holds the others back.
    in_flight: Option<(u64, u64)>,
}

impl SharedCheck {
    /// Decides for a call at `now`.
    pub fn plan(&self, now: u64) -> Plan {
        if let Some((started, result)) = &self.latest {
            if now < started.saturating_add(WINDOW_MS) {
                return Plan::Use(result.clone());
            }
        }
        let in_flight = self.in_flight.is_some_and(|(_, until)| now < until);
        if in_flight {
            Plan::Wait
        } else {
            Plan::Check
        }
    }

    /// Claims the check at `now`, so calls arriving meanwhile wait for it, for at most
    /// `limit_ms` (beyond the check's own deadline).
    pub fn begin(&mut self, now: u64, limit_ms: u64) {
        self.in_flight = Some((now, now.saturating_add(limit_ms)));
    }

    /// Records the result of the check that started at `started`. A check that outlived its
    /// claim may finish after a newer one: the newer result stays.
    pub fn finished(&mut self, started: u64, result: Result<(), ApiError>) {
        if self.in_flight.is_some_and(|(since, _)| since == started) {
            self.in_flight = None;
        }
        if self.latest.as_ref().is_none_or(|(at, _)| *at <= started) {
            self.latest = Some((started, result));
        }
    }
}

/// Whether the database answers, as the isolate's shared check says (running it when due).
pub async fn database_answers(env: &Env, request: &Scope<'_>) -> Result<(), ApiError> {
    let deadline = request.deadlines.map_err(ApiError::Misconfigured)?.exchange;
    let limit_ms = u64::try_from(deadline.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(IN_FLIGHT_MARGIN_MS);
    loop {
        let now = Date::now().as_millis();
        let plan = SHARED.with_borrow_mut(|shared| {
            let plan = shared.plan(now);
            if plan == Plan::Check {
                // Claimed before the first await, so concurrent calls see it in flight.
                shared.begin(now, limit_ms);
            }
            plan
        });
        match plan {
            Plan::Use(result) => return result,
            Plan::Wait => Delay::from(Duration::from_millis(WAIT_STEP_MS)).await,
            Plan::Check => {
                let result =
                    with_connection(env, request, |client| async move { ping(&client).await })
                        .await;
                SHARED.with_borrow_mut(|shared| shared.finished(now, result.clone()));
                return result;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 2_000;

    fn down() -> ApiError {
        ApiError::DatabaseUnavailable("refused".into())
    }

    #[test]
    fn one_check_answers_every_call_within_the_window_of_its_start() {
        let mut shared = SharedCheck::default();
        assert_eq!(shared.plan(1_000), Plan::Check);
        shared.begin(1_000, LIMIT);
        // Concurrent calls wait for it instead of checking too.
        assert_eq!(shared.plan(1_001), Plan::Wait);
        assert_eq!(shared.plan(1_900), Plan::Wait);
        shared.finished(1_000, Ok(()));
        assert_eq!(shared.plan(1_950), Plan::Use(Ok(())));
        assert_eq!(shared.plan(1_000 + WINDOW_MS - 1), Plan::Use(Ok(())));
        assert_eq!(shared.plan(1_000 + WINDOW_MS), Plan::Check);
    }

    #[test]
    fn the_window_is_the_documented_one() {
        // docs/operations.md, the OpenAPI description of /health and operations.mjs say 2 s.
        assert_eq!(WINDOW_MS, 2_000);
    }

    #[test]
    fn a_failure_is_shared_too_and_a_recovery_shows_after_the_window() {
        let mut shared = SharedCheck::default();
        shared.begin(0, LIMIT);
        shared.finished(0, Err(down()));
        assert_eq!(shared.plan(10), Plan::Use(Err(down())));
        assert_eq!(shared.plan(WINDOW_MS), Plan::Check);
        shared.begin(WINDOW_MS, LIMIT);
        shared.finished(WINDOW_MS, Ok(()));
        assert_eq!(shared.plan(WINDOW_MS + 1), Plan::Use(Ok(())));
    }

    #[test]
    fn an_abandoned_check_stops_holding_the_others_back() {
        let mut shared = SharedCheck::default();
        shared.begin(0, LIMIT);
        assert_eq!(shared.plan(LIMIT - 1), Plan::Wait);
        assert_eq!(shared.plan(LIMIT), Plan::Check);
        // The late first check finishing after a newer one does not overwrite it.
        shared.begin(LIMIT, LIMIT);
        shared.finished(LIMIT, Ok(()));
        shared.finished(0, Err(down()));
        assert_eq!(shared.plan(LIMIT + 1), Plan::Use(Ok(())));
    }
}
