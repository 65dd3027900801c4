//! Who a request is from: the bearer token ([`token`]), verified with the shared HS256 secret or
//! with a JWKS key ([`key_set`]) that [`key_source`] fetches and [`key_cache`] decides when to
//! refetch. Only `key_source` touches the Workers runtime.

pub mod key_cache;
pub mod key_set;
pub mod key_source;
pub mod token;

pub use token::{
    bearer_token, is_valid_user_id, parse, scheme, verify, verify_hs256, verify_with_key_set,
    Identity, Scheme,
};
