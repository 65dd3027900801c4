//! Typed configuration, read from the worker's environment through a lookup seam so it can be
//! unit-tested on the host.
//!
//! Two ways to accept tokens, either or both:
//! - `BETTER_AUTH_SECRET`: HS256 tokens signed with this shared secret.
//! - `BETTER_AUTH_URL` (or `BETTER_AUTH_JWKS_URL`, or an inline `BETTER_AUTH_JWKS`): tokens
//!   signed with the asymmetric keys Better Auth's `jwt` plugin publishes as a JWKS.
//!
//! Neither, or any value that is set but unusable, fails closed: every `/api` request is a 500
//! until the deployment is fixed (a half-working auth configuration is worse than none).

use jwt_compact::alg::Hs256Key;
use url::Url;

/// The secret that signs HS256 tokens (a Worker secret; `.dev.vars` locally).
pub const SECRET_VAR: &str = "BETTER_AUTH_SECRET";
/// Better Auth's base URL: the JWKS is at `{url}/api/auth/jwks`, `iss`/`aud` are its origin.
pub const URL_VAR: &str = "BETTER_AUTH_URL";
/// Overrides where the JWKS is fetched from.
pub const JWKS_URL_VAR: &str = "BETTER_AUTH_JWKS_URL";
/// The JWKS document itself, for deployments that pin their keys instead of fetching them.
pub const JWKS_VAR: &str = "BETTER_AUTH_JWKS";
/// Expected `iss`; an empty value switches the check off.
pub const ISSUER_VAR: &str = "JWT_ISSUER";
/// Expected `aud` (the token's `aud` may be a string or an array holding it); empty = off.
pub const AUDIENCE_VAR: &str = "JWT_AUDIENCE";
/// Signs list paging cursors; defaults to `BETTER_AUTH_SECRET`.
pub const CURSOR_SECRET_VAR: &str = "CURSOR_SECRET";
/// The Hyperdrive binding in `wrangler.toml`.
pub const HYPERDRIVE_BINDING: &str = "HYPERDRIVE";
/// Shorter secrets are guessable offline from any token: refuse them.
pub const MIN_SECRET_BYTES: usize = 32;
/// Better Auth serves its JWKS here, relative to its base URL.
const JWKS_PATH: &str = "/api/auth/jwks";

/// What the `/api` routes need to authenticate a request.
pub struct Config {
    /// HMAC key for HS256 tokens, when [`SECRET_VAR`] is set.
    pub hs256_key: Option<Hs256Key>,
    /// The claims HS256 tokens must carry: only what `JWT_ISSUER`/`JWT_AUDIENCE` ask for.
    pub hs256_expect: Expect,
    /// Where JWKS keys come from, when any JWKS variable is set.
    pub jwks: Option<KeySource>,
    /// The claims JWKS tokens must carry: the variables, else Better Auth's origin.
    pub jwks_expect: Expect,
}

/// Where asymmetric verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Fetched (and cached in the isolate) from this `http(s)` URL.
    Remote(String),
    /// The JWKS document given in [`JWKS_VAR`].
    Inline(String),
}

/// Expected values of the `iss` and `aud` claims; `None` skips that check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl Config {
    /// Builds the configuration, or says (for the log, not the client) why it cannot.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, &'static str> {
        // An empty variable is treated as unset, except for the two claim overrides where
        // empty has a meaning of its own.
        let get_set = |name: &str| get(name).filter(|value| !value.trim().is_empty());

        let hs256_key = match get_set(SECRET_VAR) {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(
                    "BETTER_AUTH_SECRET is shorter than 32 bytes; every /api request is refused until it is replaced",
                )
            }
            Some(secret) => Some(Hs256Key::new(secret.as_bytes())),
            None => None,
        };

        let base = match get_set(URL_VAR) {
            Some(raw) => Some(http_url(&raw).ok_or(
                "BETTER_AUTH_URL is not an http(s) URL; every /api request is refused until it is fixed",
            )?),
            None => None,
        };
        let jwks = if let Some(document) = get_set(JWKS_VAR) {
            Some(KeySource::Inline(document))
        } else if let Some(raw) = get_set(JWKS_URL_VAR) {
            let url = http_url(&raw).ok_or(
                "BETTER_AUTH_JWKS_URL is not an http(s) URL; every /api request is refused until it is fixed",
            )?;
            Some(KeySource::Remote(url.to_string()))
        } else {
            base.as_ref().map(|base| {
                let base = base.as_str().trim_end_matches('/');
                KeySource::Remote(format!("{base}{JWKS_PATH}"))
            })
        };

        if hs256_key.is_none() && jwks.is_none() {
            return Err(
                "neither BETTER_AUTH_SECRET nor BETTER_AUTH_URL (or BETTER_AUTH_JWKS_URL / BETTER_AUTH_JWKS) is set; every /api request is refused until one is",
            );
        }

        // Better Auth signs `iss` and `aud` as its base URL's origin.
        let origin = base.map(|base| base.origin().ascii_serialization());
        let issuer = get(ISSUER_VAR);
        let audience = get(AUDIENCE_VAR);
        let explicit = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let jwks_expect = Expect {
            issuer: issuer
                .as_ref()
                .map_or(origin.clone(), |_| explicit(&issuer)),
            audience: audience.as_ref().map_or(origin, |_| explicit(&audience)),
        };
        let hs256_expect = Expect {
            issuer: explicit(&issuer),
            audience: explicit(&audience),
        };

        Ok(Config {
            hs256_key,
            hs256_expect,
            jwks,
            jwks_expect,
        })
    }
}

/// The key that signs paging cursors: `CURSOR_SECRET`, else `BETTER_AUTH_SECRET`, else a fixed
/// key. Cursors only ever address the requesting user's own rows and are bound to that user, so
/// the fixed key (JWKS-only deployments without `CURSOR_SECRET`) still refuses edited or
/// transplanted cursors; a secret key also makes them unforgeable.
pub fn cursor_key(get: impl Fn(&str) -> Option<String>) -> Vec<u8> {
    [CURSOR_SECRET_VAR, SECRET_VAR]
        .iter()
        .find_map(|name| get(name).filter(|value| !value.is_empty()))
        .map(String::into_bytes)
        .unwrap_or_else(|| b"task-api: unkeyed cursor integrity".to_vec())
}

fn http_url(raw: &str) -> Option<Url> {
    Url::parse(raw.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(vars: &[(&str, &str)]) -> Result<Config, &'static str> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn nothing_configured_fails_closed() {
        assert!(config(&[]).is_err());
        assert!(config(&[(SECRET_VAR, ""), (URL_VAR, " ")]).is_err());
    }

    #[test]
    fn a_secret_under_32_bytes_fails_closed_even_beside_a_jwks() {
        let short = "x".repeat(31);
        let err = config(&[(SECRET_VAR, &short)]).err().unwrap();
        assert!(err.contains("shorter than 32 bytes"));
        assert!(config(&[(SECRET_VAR, &short), (URL_VAR, "https://a.example")]).is_err());
    }

    #[test]
    fn a_secret_alone_accepts_hs256_without_claim_checks() {
        let config = config(&[(SECRET_VAR, SECRET)]).unwrap();
        assert!(config.hs256_key.is_some());
        assert_eq!(config.jwks, None);
        assert_eq!(config.hs256_expect, Expect::default());
    }

    #[test]
    fn the_better_auth_url_gives_the_jwks_location_and_expected_origin() {
        let config = config(&[(URL_VAR, "https://auth.example.com/")]).unwrap();
        assert!(config.hs256_key.is_none());
        assert_eq!(
            config.jwks,
            Some(KeySource::Remote(
                "https://auth.example.com/api/auth/jwks".into()
            ))
        );
        let origin = Some("https://auth.example.com".to_owned());
        assert_eq!(
            config.jwks_expect,
            Expect {
                issuer: origin.clone(),
                audience: origin
            }
        );
        // A base URL with a path and a port: the JWKS sits under the path, iss is the origin.
        let config = self::config(&[(URL_VAR, "http://127.0.0.1:3000/app")]).unwrap();
        assert_eq!(
            config.jwks,
            Some(KeySource::Remote(
                "http://127.0.0.1:3000/app/api/auth/jwks".into()
            ))
        );
        assert_eq!(
            config.jwks_expect.issuer.as_deref(),
            Some("http://127.0.0.1:3000")
        );
    }

    #[test]
    fn overrides_win_and_empty_overrides_switch_checks_off() {
        let config = config(&[
            (URL_VAR, "https://auth.example.com"),
            (JWKS_URL_VAR, "https://cdn.example.com/keys.json"),
            (ISSUER_VAR, "https://issuer.example"),
            (AUDIENCE_VAR, ""),
            (SECRET_VAR, SECRET),
        ])
        .unwrap();
        assert_eq!(
            config.jwks,
            Some(KeySource::Remote(
                "https://cdn.example.com/keys.json".into()
            ))
        );
        let expect = Expect {
            issuer: Some("https://issuer.example".into()),
            audience: None,
        };
        assert_eq!(config.jwks_expect, expect);
        // Explicit expectations apply to HS256 tokens too; the Better Auth origin does not.
        assert_eq!(config.hs256_expect, expect);
    }

    #[test]
    fn an_inline_key_set_needs_no_url() {
        let config = config(&[(JWKS_VAR, r#"{"keys":[]}"#)]).unwrap();
        assert_eq!(
            config.jwks,
            Some(KeySource::Inline(r#"{"keys":[]}"#.into()))
        );
        assert_eq!(config.jwks_expect, Expect::default());
    }

    #[test]
    fn urls_must_be_http_or_https() {
        for bad in [
            "auth.example.com",
            "ftp://auth.example.com",
            "http://",
            "::",
        ] {
            assert!(config(&[(URL_VAR, bad)]).is_err(), "{bad}");
            assert!(config(&[(JWKS_URL_VAR, bad)]).is_err(), "{bad}");
        }
    }
}
