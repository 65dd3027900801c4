//! Typed configuration, read from the worker's environment through a lookup seam so it can be
//! unit-tested on the host.

use jwt_compact::alg::Hs256Key;

/// The secret that signs HS256 tokens (a Worker secret; `.dev.vars` locally).
pub const SECRET_VAR: &str = "BETTER_AUTH_SECRET";
/// The Hyperdrive binding in `wrangler.toml`.
pub const HYPERDRIVE_BINDING: &str = "HYPERDRIVE";
/// Shorter secrets are guessable offline from any token: refuse them.
pub const MIN_SECRET_BYTES: usize = 32;

/// What the `/api` routes need to authenticate a request.
pub struct Config {
    /// HMAC key for HS256 tokens, derived from [`SECRET_VAR`].
    pub hs256_key: Hs256Key,
}

impl Config {
    /// Builds the configuration, or says (for the log, not the client) why it cannot.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, &'static str> {
        let secret = get(SECRET_VAR).unwrap_or_default();
        if secret.is_empty() {
            return Err("BETTER_AUTH_SECRET is not set; every /api request is refused until it is");
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(
                "BETTER_AUTH_SECRET is shorter than 32 bytes; every /api request is refused until it is replaced",
            );
        }
        Ok(Config {
            hs256_key: Hs256Key::new(secret.as_bytes()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(value: Option<&str>) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| {
            (name == SECRET_VAR)
                .then(|| value.map(str::to_owned))
                .flatten()
        }
    }

    #[test]
    fn a_missing_or_empty_secret_fails_closed() {
        assert!(Config::from_lookup(lookup(None)).is_err());
        assert!(Config::from_lookup(lookup(Some(""))).is_err());
    }

    #[test]
    fn a_secret_under_32_bytes_fails_closed() {
        let err = Config::from_lookup(lookup(Some(&"x".repeat(31))));
        assert!(err.is_err_and(|e| e.contains("shorter than 32 bytes")));
    }

    #[test]
    fn a_32_byte_secret_is_accepted() {
        assert!(Config::from_lookup(lookup(Some(&"x".repeat(32)))).is_ok());
    }
}
