//! Rate-limit policy: which `[[ratelimits]]` binding a request spends, and the isolate's memory
//! of client addresses that ran out of their budget for failed authentication.
//!
//! - Per user (after authentication): `READ_RATE_LIMITER` for GET/HEAD, `WRITE_RATE_LIMITER`
//!   for the rest. One limiter call per authenticated request.
//! - Per client address: `ADDRESS_RATE_LIMITER` is spent by requests that fail authentication
//!   or authorization (401, 403). Once it refuses an address, this isolate answers that
//!   address's failures with 429 for a whole period *without calling the binding again*, so a
//!   flood of bad tokens costs its token check (an HMAC, or a signature against the cached key
//!   set) and one map lookup per request. Requests that authenticate never call it, refused
//!   address or not: they are limited per user, so a valid user behind an address others flood
//!   (a NAT, a carrier's CGNAT) is served, and a busy office is not throttled by its own good
//!   traffic.
//!
//! The memory is per isolate and soft, like the JWKS cache: another isolate learns the same
//! refusal from the binding on its first bad request from that address.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
};

/// Binding for reads (GET, HEAD), keyed by user.
pub const READ_LIMITER: &str = "READ_RATE_LIMITER";
/// Binding for writes (POST, PUT, PATCH, DELETE), keyed by user.
pub const WRITE_LIMITER: &str = "WRITE_RATE_LIMITER";
/// Binding for failed authentication, keyed by client address.
pub const ADDRESS_LIMITER: &str = "ADDRESS_RATE_LIMITER";
/// The budgets' period in wrangler.toml: a client over budget may try again after it.
pub const PERIOD_SECS: u64 = 60;
/// More refused addresses than this are not remembered (the binding still refuses them, at the
/// cost of the token work and a limiter call each): the memory stays small under any flood.
const MAX_REMEMBERED: usize = 10_000;

/// Client addresses refused by the address limiter, with when the refusal ends (ms since the
/// epoch).
#[derive(Debug, Default)]
pub struct RefusedAddresses {
    until: HashMap<String, u64>,
}

impl RefusedAddresses {
    /// Whether `address` is still refused at `now_ms`.
    pub fn is_refused(&self, address: &str, now_ms: u64) -> bool {
        self.until.get(address).is_some_and(|&until| now_ms < until)
    }

    /// Remembers that the limiter refused `address` at `now_ms`, for one period.
    pub fn remember(&mut self, address: &str, now_ms: u64) {
        if self.until.len() >= MAX_REMEMBERED {
            self.until.retain(|_, until| now_ms < *until);
            if self.until.len() >= MAX_REMEMBERED {
                return;
            }
        }
        self.until.insert(
            address.to_owned(),
            now_ms.saturating_add(PERIOD_SECS * 1000),
        );
    }
}

/// The budget key of a client address (`CF-Connecting-IP`): an IPv4 address as itself, an IPv6
/// address by its /64 prefix (`ip:2001:db8:1:2::/64`), since a client picks freely among the
/// 2^64 addresses of its subnet and would otherwise get a fresh budget with each. An IPv4-mapped
/// IPv6 address counts as its IPv4 address; anything unparseable is keyed as given.
pub fn address_key(address: &str) -> String {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let prefix = Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX));
                format!("ip:{prefix}/64")
            }
        },
        Err(_) => format!("ip:{address}"),
    }
}

/// The per-user binding a request with this method spends.
pub fn user_limiter(read: bool) -> &'static str {
    if read {
        READ_LIMITER
    } else {
        WRITE_LIMITER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_their_64_prefix_and_ipv4_ones_are_their_own() {
        let key = address_key;
        assert_eq!(key("2001:db8:1:2::1"), "ip:2001:db8:1:2::/64");
        for same in [
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:0DB8:0001:0002:0:0:0:9",
            " 2001:db8:1:2::abcd ",
        ] {
            assert_eq!(key(same), key("2001:db8:1:2::1"), "{same}");
        }
        for other in ["2001:db8:1:3::1", "2001:db8:2:2::1", "2001:db9:1:2::1"] {
            assert_ne!(key(other), key("2001:db8:1:2::1"), "{other}");
        }
        assert_eq!(key("203.0.113.9"), "ip:203.0.113.9");
        assert_ne!(key("203.0.113.10"), key("203.0.113.9"));
        assert_eq!(key("::ffff:203.0.113.9"), "ip:203.0.113.9");
        assert_eq!(key("unknown"), "ip:unknown");
    }

    #[test]
    fn a_refused_address_is_refused_for_one_period_only() {
        let mut refused = RefusedAddresses::default();
        assert!(!refused.is_refused("203.0.113.9", 1_000));
        refused.remember("203.0.113.9", 1_000);
        assert!(refused.is_refused("203.0.113.9", 1_000));
        assert!(refused.is_refused("203.0.113.9", 60_999));
        assert!(!refused.is_refused("203.0.113.9", 61_000));
        assert!(!refused.is_refused("203.0.113.10", 1_000));
    }

    #[test]
    fn the_memory_is_bounded_and_makes_room_by_forgetting_expired_refusals() {
        let mut refused = RefusedAddresses::default();
        for i in 0..MAX_REMEMBERED {
            refused.remember(&format!("a{i}"), 0);
        }
        // Full, nothing expired: a new address is not remembered, the old ones stay.
        refused.remember("late", 1);
        assert!(!refused.is_refused("late", 2));
        assert!(refused.is_refused("a0", 2));
        // Once they have expired, they make room.
        refused.remember("later", 60_000);
        assert!(refused.is_refused("later", 60_001));
        assert!(!refused.is_refused("a0", 60_001));
        assert_eq!(refused.until.len(), 1);
    }
}
