//! The request gate every `/api` handler passes first:
//!
//! 1. a usable auth configuration (500, fail closed);
//! 2. [`identify`]: the bearer token → the [`Identity`] it carries (401; 503 without keys);
//! 3. [`check_path_user`]: the path's `{user_id}` must be that identity (403);
//! 4. the user's rate limit (429).
//!
//! Failures at 2 and 3 spend the client address's budget ([`rate_limit`]). At an address this
//! isolate remembers as refused, they are 429 without spending it (no limiter call: the flood
//! costs its token checks and a map lookup), while a request that passes 2 and 3 goes on to 4 as
//! from any other address: a valid user is never refused for what others behind the same
//! address (a NAT, a carrier's CGNAT) sent.

use std::cell::RefCell;

use uuid::Uuid;
use worker::{Date, Method, Request};

use super::{
    now, path,
    rate_limit::{self, RefusedAddresses},
    settings, Ctx,
};
use crate::{
    auth::{self, key_source, Identity, Scheme},
    config::Config,
    error::ApiError,
};

thread_local! {
    static REFUSED_ADDRESSES: RefCell<RefusedAddresses> = RefCell::new(RefusedAddresses::default());
}

/// Lets the request through as the token's user, or says why not. Runs before any body or
/// database work.
pub async fn admit(req: &Request, ctx: &Ctx) -> Result<Identity, ApiError> {
    let settings = settings::get(&ctx.env);
    let config = settings
        .auth
        .as_ref()
        .map_err(|&cause| ApiError::Misconfigured(cause))?;
    let limited = ApiError::RateLimited {
        retry_after: rate_limit::PERIOD_SECS,
    };
    let address = rate_limit::address_key(
        req.headers()
            .get("CF-Connecting-IP")?
            .as_deref()
            .unwrap_or("unknown"),
    );
    let admitted = match identify(req, ctx, config).await {
        Ok(identity) => check_path_user(ctx, identity),
        Err(err) => Err(err),
    };
    let identity = match admitted {
        Ok(identity) => identity,
        Err(err @ (ApiError::Unauthorized(_) | ApiError::Forbidden)) => {
            let now_ms = Date::now().as_millis();
            if REFUSED_ADDRESSES.with_borrow(|refused| refused.is_refused(&address, now_ms)) {
                return Err(limited);
            }
            if !within_budget(ctx, rate_limit::ADDRESS_LIMITER, address.clone()).await {
                REFUSED_ADDRESSES.with_borrow_mut(|refused| refused.remember(&address, now_ms));
                return Err(limited);
            }
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let read = matches!(req.method(), Method::Get | Method::Head);
    let key = format!("user:{}", identity.user_id);
    if !within_budget(ctx, rate_limit::user_limiter(read), key).await {
        return Err(limited);
    }
    Ok(identity)
}

/// [`admit`], then the task id from the path (400).
pub async fn admit_task(req: &Request, ctx: &Ctx) -> Result<(Identity, Uuid), ApiError> {
    let identity = admit(req, ctx).await?;
    let id = path::parse_task_id(ctx.param("id").map(String::as_str).unwrap_or_default())?;
    Ok((identity, id))
}

/// The token's identity (401), verified by the scheme its header names; 503 when the key set
/// it needs cannot be had. Everything but the key fetch is [`auth::verify`], which is pure.
async fn identify(req: &Request, ctx: &Ctx, config: &Config) -> Result<Identity, ApiError> {
    let header = req.headers().get("Authorization")?;
    let token = auth::parse(auth::bearer_token(header.as_deref())?)?;
    let keys = match (auth::scheme(&token)?, config.jwks.as_ref()) {
        (Scheme::KeySet { kid }, Some(source)) => {
            let found = key_source::keys_for(source, kid).await?;
            if let Some(cause) = found.fault {
                ctx.data.fault.replace(Some(("auth_keys_stale", cause)));
            }
            Some(found.keys)
        }
        _ => None,
    };
    auth::verify(&token, config, keys.as_deref(), now())
}

/// 403 unless the path's `{user_id}` (percent-decoded) is the token's user.
fn check_path_user(ctx: &Ctx, identity: Identity) -> Result<Identity, ApiError> {
    if path::names_user(ctx.param("user_id").map(String::as_str), &identity.user_id) {
        Ok(identity)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Spends one unit of `key`'s budget in `binding`; false when it is spent. A deployment without
/// the binding is not limited, and a failing limiter lets the request through: limits protect,
/// they must not become an outage of their own.
async fn within_budget(ctx: &Ctx, binding: &str, key: String) -> bool {
    let Ok(limiter) = ctx.env.rate_limiter(binding) else {
        return true;
    };
    !matches!(limiter.limit(key).await, Ok(outcome) if !outcome.success)
}
