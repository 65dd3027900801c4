//! Where JWKS keys come from at run time: the inline `BETTER_AUTH_JWKS`, or the remote set
//! fetched over HTTP and kept in this isolate under the policy of [`super::key_cache`]. The
//! only part of `auth` that touches the Workers runtime.
//!
//! An isolate runs on one thread but interleaves many requests: while one awaits the fetch,
//! others run, which is why the cache has a wait plan. The caches are thread-locals and no
//! borrow of them is ever held across an `.await`, so interleaved requests never see one half
//! made.

use std::{cell::RefCell, collections::HashMap, rc::Rc, time::Duration};

use futures_util::{future, StreamExt};
use worker::{Date, Delay, Fetch, Headers, Method, Request, RequestInit};

use super::{
    key_cache::{max_age, KeyCache, Plan, FETCH_TIMEOUT_MS},
    key_set::KeySet,
};
use crate::{config::KeySource, error::ApiError};

/// A JWKS larger than this is not a key set anyone meant to publish.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How often a request waiting on another's fetch looks again.
const WAIT_STEP_MS: u64 = 20;

thread_local! {
    /// Remote key sets by URL (one, unless the configuration changes under a live isolate).
    static REMOTE: RefCell<HashMap<String, KeyCache>> = RefCell::new(HashMap::new());
    /// The parsed inline key set and the text it was parsed from.
    static INLINE: RefCell<Option<(String, Rc<KeySet>)>> = const { RefCell::new(None) };
}

/// What happened while finding keys, for the request's log line.
pub struct Outcome {
    pub keys: Rc<KeySet>,
    /// Set when the remote set could not be refreshed and an older copy was used.
    pub fault: Option<String>,
}

/// The key set to verify a token naming `kid` against.
pub async fn keys_for(source: &KeySource, kid: Option<&str>) -> Result<Outcome, ApiError> {
    match source {
        KeySource::Inline(document) => inline(document).map(|keys| Outcome { keys, fault: None }),
        KeySource::Remote(url) => remote(url, kid).await,
    }
}

fn inline(document: &str) -> Result<Rc<KeySet>, ApiError> {
    if let Some(keys) = INLINE.with_borrow(|cached| {
        cached
            .as_ref()
            .filter(|(text, _)| text == document)
            .map(|(_, keys)| keys.clone())
    }) {
        return Ok(keys);
    }
    let keys = Rc::new(KeySet::parse(document.as_bytes()).map_err(|_| {
        ApiError::Misconfigured(
            "BETTER_AUTH_JWKS holds no usable JWKS; every token needing it is refused until it is fixed",
        )
    })?);
    INLINE.set(Some((document.to_owned(), keys.clone())));
    Ok(keys)
}

async fn remote(url: &str, kid: Option<&str>) -> Result<Outcome, ApiError> {
    let started = now_ms();
    loop {
        let now = now_ms();
        let plan = REMOTE.with_borrow_mut(|caches| {
            let cache = caches.entry(url.to_owned()).or_default();
            let plan = cache.plan(kid, now);
            if let Plan::Fetch = plan {
                // Claimed before the first await, so concurrent requests see it in flight.
                cache.begin_fetch(now);
            }
            plan
        });
        match plan {
            Plan::Use(keys) => return Ok(Outcome { keys, fault: None }),
            Plan::Unavailable { retry_after_secs } => {
                return Err(ApiError::AuthUnavailable {
                    retry_after: retry_after_secs,
                    cause: format!("JWKS from {url}: an earlier fetch failed, cooling down"),
                })
            }
            Plan::Wait if now.saturating_sub(started) < FETCH_TIMEOUT_MS => {
                Delay::from(Duration::from_millis(WAIT_STEP_MS)).await;
            }
            Plan::Wait => {
                return Err(ApiError::AuthUnavailable {
                    retry_after: 1,
                    cause: format!("JWKS from {url}: gave up waiting for another request's fetch"),
                })
            }
            Plan::Fetch => return fetch_and_store(url).await,
        }
    }
}

async fn fetch_and_store(url: &str) -> Result<Outcome, ApiError> {
    let result = fetch(url).await;
    let now = now_ms();
    REMOTE.with_borrow_mut(|caches| {
        let cache = caches.entry(url.to_owned()).or_default();
        match result {
            Ok((keys, max_age)) => Ok(Outcome {
                keys: cache.fetched(keys, max_age, now),
                fault: None,
            }),
            Err(cause) => {
                let age = cache.age_secs(now);
                match cache.failed(now) {
                    Some(keys) => Ok(Outcome {
                        keys,
                        fault: Some(format!(
                            "{cause}; verifying with the copy fetched {}s ago",
                            age.unwrap_or_default()
                        )),
                    }),
                    None => {
                        let retry_after = match cache.plan(None, now) {
                            Plan::Unavailable { retry_after_secs } => retry_after_secs,
                            _ => 1,
                        };
                        Err(ApiError::AuthUnavailable { retry_after, cause })
                    }
                }
            }
        }
    })
}

/// GETs and parses the key set, within [`FETCH_TIMEOUT_MS`] for the whole exchange. Returns the
/// set and the response's `max-age`, or the cause of failure for the log.
async fn fetch(url: &str) -> Result<(KeySet, Option<u64>), String> {
    let exchange = async {
        let headers = Headers::new();
        headers
            .set("Accept", "application/json")
            .map_err(|err| err.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let request = Request::new_with_init(url, &init).map_err(|err| err.to_string())?;
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|err| format!("request failed: {err}"))?;
        let status = response.status_code();
        if status != 200 {
            return Err(format!("answered HTTP {status}"));
        }
        let cache_control = response.headers().get("Cache-Control").ok().flatten();
        let mut body = Vec::new();
        let mut stream = response.stream().map_err(|err| err.to_string())?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| format!("body failed: {err}"))?;
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("body is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let keys = KeySet::parse(&body)?;
        Ok((keys, max_age(cache_control.as_deref())))
    };
    let deadline = Delay::from(Duration::from_millis(FETCH_TIMEOUT_MS));
    let result = match future::select(std::pin::pin!(exchange), deadline).await {
        future::Either::Left((result, _)) => result,
        future::Either::Right(_) => Err(format!("timed out after {FETCH_TIMEOUT_MS} ms")),
    };
    result.map_err(|cause| format!("JWKS from {url}: {cause}"))
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}
