//! Typed configuration, read from the worker's environment through a lookup seam so it can be
//! unit-tested on the host.
//!
//! Two ways to accept tokens, either or both:
//! - `JWT_SECRET`, else `BETTER_AUTH_SECRET`: HS256 tokens signed with this shared secret.
//! - `BETTER_AUTH_URL` (or `BETTER_AUTH_JWKS_URL`, or an inline `BETTER_AUTH_JWKS`): tokens
//!   signed with the asymmetric keys Better Auth's `jwt` plugin publishes as a JWKS.
//!
//! Neither, or any value that is set but unusable, fails closed: every `/api` request is a 500
//! until the deployment is fixed (a half-working auth configuration is worse than none). So does
//! a JWKS whose tokens would have no expected issuer or audience: without `BETTER_AUTH_URL`,
//! `JWT_ISSUER` and `JWT_AUDIENCE` must each name a value or say [`CHECK_OFF`]; and so does a
//! deployment with no secret to sign paging cursors with (JWKS-only without `CURSOR_SECRET`).

use jwt_compact::alg::Hs256Key;
use url::Url;

/// Better Auth's own secret. It also signs Better Auth's internal HS256 tokens, which the token
/// rules tell apart by their header ([`crate::auth::token`]); [`JWT_SECRET_VAR`] wins over it.
pub const SECRET_VAR: &str = "BETTER_AUTH_SECRET";
/// A secret for HS256 tokens alone, shared with a signer that need not hold Better Auth's.
pub const JWT_SECRET_VAR: &str = "JWT_SECRET";
/// Better Auth's base URL: the JWKS is at `{url}/api/auth/jwks`, `iss`/`aud` are its origin.
pub const URL_VAR: &str = "BETTER_AUTH_URL";
/// Overrides where the JWKS is fetched from.
pub const JWKS_URL_VAR: &str = "BETTER_AUTH_JWKS_URL";
/// The JWKS document itself, for deployments that pin their keys instead of fetching them.
pub const JWKS_VAR: &str = "BETTER_AUTH_JWKS";
/// Expected `iss`; [`CHECK_OFF`] switches the check off.
pub const ISSUER_VAR: &str = "JWT_ISSUER";
/// Expected `aud` (the token's `aud` may be a string or an array holding it); [`CHECK_OFF`]
/// switches the check off.
pub const AUDIENCE_VAR: &str = "JWT_AUDIENCE";
/// The value of [`ISSUER_VAR`] or [`AUDIENCE_VAR`] that switches that check off. A word, not an
/// empty value: an empty variable is what a template with a missing value leaves behind, and it
/// must not silently disable a check, so it is refused.
pub const CHECK_OFF: &str = "off";
/// Signs list paging cursors; defaults to the HS256 secret, and is required without one.
pub const CURSOR_SECRET_VAR: &str = "CURSOR_SECRET";
/// The Hyperdrive binding in `wrangler.toml`.
pub const HYPERDRIVE_BINDING: &str = "HYPERDRIVE";
/// Shorter secrets are guessable offline from any token: refuse them.
pub const MIN_SECRET_BYTES: usize = 32;
/// Better Auth serves its JWKS here, relative to its base URL.
const JWKS_PATH: &str = "/api/auth/jwks";

/// What the `/api` routes need: how to authenticate a request, and the key of its cursors.
pub struct Config {
    /// HMAC key for HS256 tokens: [`JWT_SECRET_VAR`], else [`SECRET_VAR`], when either is set.
    pub hs256_key: Option<Hs256Key>,
    /// The claims HS256 tokens must carry: only what `JWT_ISSUER`/`JWT_AUDIENCE` ask for.
    pub hs256_expect: Expect,
    /// Where JWKS keys come from, when any JWKS variable is set.
    pub jwks: Option<KeySource>,
    /// The claims JWKS tokens must carry: the variables, else Better Auth's origin.
    pub jwks_expect: Expect,
    /// Signs list paging cursors: [`CURSOR_SECRET_VAR`], else [`JWT_SECRET_VAR`], else
    /// [`SECRET_VAR`]. The MAC's input starts with a binary length prefix, so it never equals a
    /// JWT's signing input under the same key.
    pub cursor_key: Vec<u8>,
}

/// What one of the claim variables ([`ISSUER_VAR`], [`AUDIENCE_VAR`]) says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClaimCheck {
    /// Not set: the default applies.
    Default,
    /// [`CHECK_OFF`]: no check.
    Off,
    /// This value is expected.
    Expect(String),
}

impl ClaimCheck {
    fn read(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Self, ()> {
        match get(name) {
            None => Ok(ClaimCheck::Default),
            Some(raw) => match raw.trim() {
                "" => Err(()),
                CHECK_OFF => Ok(ClaimCheck::Off),
                value => Ok(ClaimCheck::Expect(value.to_owned())),
            },
        }
    }

    /// The expected value (`Some(None)`: no check), with `default` standing in for an unset
    /// variable; `None` when the variable is unset and there is no default, so nothing says
    /// what to expect.
    fn resolve(&self, default: Option<&String>) -> Option<Option<String>> {
        match self {
            ClaimCheck::Default => default.cloned().map(Some),
            ClaimCheck::Off => Some(None),
            ClaimCheck::Expect(value) => Some(Some(value.clone())),
        }
    }
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
        // An empty variable is treated as unset, except for the two claim overrides, where an
        // empty value is refused ([`CHECK_OFF`] says why).
        let get_set = |name: &str| get(name).filter(|value| !value.trim().is_empty());

        let secret = |name: &str, short: &'static str| match get_set(name) {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => Err(short),
            other => Ok(other),
        };
        let jwt_secret = secret(
            JWT_SECRET_VAR,
            "JWT_SECRET is shorter than 32 bytes; every /api request is refused until it is replaced",
        )?;
        let better_auth_secret = secret(
            SECRET_VAR,
            "BETTER_AUTH_SECRET is shorter than 32 bytes; every /api request is refused until it is replaced",
        )?;
        let cursor_secret = secret(
            CURSOR_SECRET_VAR,
            "CURSOR_SECRET is shorter than 32 bytes; every /api request is refused until it is replaced",
        )?;
        if jwt_secret.is_some() && jwt_secret == better_auth_secret {
            return Err(
                "JWT_SECRET equals BETTER_AUTH_SECRET, which defeats its purpose (give it a secret of its own); every /api request is refused until then",
            );
        }
        // The dedicated secret wins: with it set, Better Auth's own secret verifies nothing here.
        let hs256_secret = jwt_secret.or(better_auth_secret);
        let hs256_key = hs256_secret
            .as_ref()
            .map(|secret| Hs256Key::new(secret.as_bytes()));

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
                "neither JWT_SECRET, BETTER_AUTH_SECRET nor BETTER_AUTH_URL (or BETTER_AUTH_JWKS_URL / BETTER_AUTH_JWKS) is set; every /api request is refused until one is",
            );
        }

        let issuer = ClaimCheck::read(&get, ISSUER_VAR).map_err(|()| {
            "JWT_ISSUER is empty; set it to the expected issuer, or to `off` to switch the check off; every /api request is refused until then"
        })?;
        let audience = ClaimCheck::read(&get, AUDIENCE_VAR).map_err(|()| {
            "JWT_AUDIENCE is empty; set it to the expected audience, or to `off` to switch the check off; every /api request is refused until then"
        })?;
        // Better Auth signs `iss` and `aud` as its base URL's origin.
        let origin = base.map(|base| base.origin().ascii_serialization());
        let jwks_expect = match (issuer.resolve(origin.as_ref()), audience.resolve(origin.as_ref())) {
            (Some(issuer), Some(audience)) => Expect { issuer, audience },
            // Keys without a base URL: any issuer's token for any API would pass unless the
            // deployment says what to expect, or says it expects nothing.
            _ if jwks.is_none() => Expect::default(),
            (None, None) => return Err(
                "BETTER_AUTH_JWKS_URL or BETTER_AUTH_JWKS is set without BETTER_AUTH_URL, JWT_ISSUER or JWT_AUDIENCE, so tokens of any issuer for any audience would pass; set JWT_ISSUER and JWT_AUDIENCE (`off` switches a check off); every /api request is refused until then",
            ),
            (None, Some(_)) => return Err(
                "BETTER_AUTH_JWKS_URL or BETTER_AUTH_JWKS is set without BETTER_AUTH_URL or JWT_ISSUER, so tokens of any issuer would pass; set JWT_ISSUER (`off` switches the check off); every /api request is refused until then",
            ),
            (Some(_), None) => return Err(
                "BETTER_AUTH_JWKS_URL or BETTER_AUTH_JWKS is set without BETTER_AUTH_URL or JWT_AUDIENCE, so tokens for any audience would pass; set JWT_AUDIENCE (`off` switches the check off); every /api request is refused until then",
            ),
        };
        let hs256_expect = Expect {
            issuer: issuer.resolve(None).flatten(),
            audience: audience.resolve(None).flatten(),
        };

        // Without a secret, the cursor key would be one anyone can read, and any user could
        // forge cursors. Nothing else a JWKS-only
        // deployment holds is secret to it: the database password is not the worker's to reuse
        // and rotates under it. So the operator sets one.
        let cursor_key = cursor_secret.or(hs256_secret).ok_or(
            "no CURSOR_SECRET (nor JWT_SECRET or BETTER_AUTH_SECRET) is set, so paging cursors would be signed with a key anyone can read; set CURSOR_SECRET to 32 or more random bytes; every /api request is refused until then",
        )?;

        Ok(Config {
            hs256_key,
            hs256_expect,
            jwks,
            jwks_expect,
            cursor_key: cursor_key.into_bytes(),
        })
    }
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
    /// What a deployment with keys but no HS256 secret needs beside them.
    const CURSOR_SECRET: &str = "a-cursor-secret-of-32-bytes-or-more";
    const CURSOR: (&str, &str) = (CURSOR_SECRET_VAR, CURSOR_SECRET);

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
        let config = config(&[(URL_VAR, "https://auth.example.com/"), CURSOR]).unwrap();
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
        let config = self::config(&[(URL_VAR, "http://127.0.0.1:3000/app"), CURSOR]).unwrap();
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
    fn overrides_win_and_off_switches_checks_off() {
        let config = config(&[
            (URL_VAR, "https://auth.example.com"),
            (JWKS_URL_VAR, "https://cdn.example.com/keys.json"),
            (ISSUER_VAR, " https://issuer.example "),
            (AUDIENCE_VAR, CHECK_OFF),
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

    /// What a key set without `BETTER_AUTH_URL` expects under each combination of the two
    /// claim variables (`None`: unset): a value, `off`, or a refusal to start.
    #[test]
    fn a_key_set_without_a_base_url_needs_both_checks_configured_or_switched_off() {
        let jwks_url = (JWKS_URL_VAR, "https://cdn.example.com/keys.json");
        let inline = (JWKS_VAR, r#"{"keys":[]}"#);
        let iss = "https://auth.example.com";
        let aud = "https://api.example.com";
        for keys in [jwks_url, inline] {
            for (issuer, audience, expected) in [
                (
                    None,
                    None,
                    Err("without BETTER_AUTH_URL, JWT_ISSUER or JWT_AUDIENCE"),
                ),
                (Some(iss), None, Err("set JWT_AUDIENCE")),
                (None, Some(aud), Err("set JWT_ISSUER")),
                (Some(CHECK_OFF), None, Err("set JWT_AUDIENCE")),
                (None, Some(CHECK_OFF), Err("set JWT_ISSUER")),
                (Some(iss), Some(aud), Ok((Some(iss), Some(aud)))),
                (Some(iss), Some(CHECK_OFF), Ok((Some(iss), None))),
                (Some(CHECK_OFF), Some(aud), Ok((None, Some(aud)))),
                (Some(CHECK_OFF), Some(CHECK_OFF), Ok((None, None))),
            ] {
                let mut vars = vec![keys, CURSOR];
                vars.extend(issuer.map(|value| (ISSUER_VAR, value)));
                vars.extend(audience.map(|value| (AUDIENCE_VAR, value)));
                // A secret beside the keys changes nothing: the JWKS half must be sound too.
                for with_secret in [false, true] {
                    let mut vars = vars.clone();
                    if with_secret {
                        vars.push((SECRET_VAR, SECRET));
                    }
                    let case = format!("{vars:?}");
                    match (config(&vars), expected) {
                        (Ok(config), Ok((issuer, audience))) => {
                            assert_eq!(config.jwks_expect.issuer.as_deref(), issuer, "{case}");
                            assert_eq!(config.jwks_expect.audience.as_deref(), audience, "{case}");
                        }
                        (Err(err), Err(needle)) => {
                            assert!(err.contains(needle), "{case}: {err}");
                            assert!(
                                err.contains("every /api request is refused"),
                                "{case}: {err}"
                            );
                        }
                        (got, want) => panic!("{case}: got {:?}, want {want:?}", got.err()),
                    }
                }
            }
        }
    }

    #[test]
    fn the_better_auth_url_supplies_either_check_the_variables_leave_unset() {
        let base = (URL_VAR, "https://auth.example.com");
        let origin = Some("https://auth.example.com");
        for (vars, issuer, audience) in [
            (vec![base, CURSOR], origin, origin),
            (vec![base, CURSOR, (ISSUER_VAR, CHECK_OFF)], None, origin),
            (
                vec![base, CURSOR, (AUDIENCE_VAR, "https://api.example.com")],
                origin,
                Some("https://api.example.com"),
            ),
            (
                vec![
                    base,
                    CURSOR,
                    (ISSUER_VAR, CHECK_OFF),
                    (AUDIENCE_VAR, CHECK_OFF),
                ],
                None,
                None,
            ),
        ] {
            let config = config(&vars).unwrap();
            assert_eq!(config.jwks_expect.issuer.as_deref(), issuer, "{vars:?}");
            assert_eq!(config.jwks_expect.audience.as_deref(), audience, "{vars:?}");
        }
    }

    #[test]
    fn an_empty_claim_variable_is_refused_rather_than_read_as_off() {
        for name in [ISSUER_VAR, AUDIENCE_VAR] {
            for empty in ["", "  "] {
                for base in [
                    vec![(URL_VAR, "https://auth.example.com")],
                    vec![(SECRET_VAR, SECRET)],
                ] {
                    let mut vars = base.clone();
                    vars.push((name, empty));
                    let err = config(&vars).err().unwrap();
                    assert!(
                        err.starts_with(&format!("{name} is empty")),
                        "{vars:?}: {err}"
                    );
                    assert!(err.contains("`off`"), "{err}");
                }
            }
        }
    }

    #[test]
    fn hs256_alone_has_no_claim_checks_unless_asked_and_off_means_none() {
        for vars in [
            vec![(SECRET_VAR, SECRET)],
            vec![
                (SECRET_VAR, SECRET),
                (ISSUER_VAR, CHECK_OFF),
                (AUDIENCE_VAR, CHECK_OFF),
            ],
        ] {
            let config = config(&vars).unwrap();
            assert_eq!(config.jwks, None);
            assert_eq!(config.hs256_expect, Expect::default(), "{vars:?}");
        }
        let config = config(&[
            (JWT_SECRET_VAR, SECRET),
            (AUDIENCE_VAR, "https://api.example"),
        ])
        .unwrap();
        assert_eq!(
            config.hs256_expect,
            Expect {
                issuer: None,
                audience: Some("https://api.example".into())
            }
        );
    }

    /// The key `config` verifies HS256 tokens with, told by a token it accepts.
    fn hs256_secret_of(config: &Config) -> Option<&'static str> {
        use jwt_compact::{alg::Hs256, AlgorithmExt, Claims, Header, UntrustedToken};
        let key = config.hs256_key.as_ref()?;
        [SECRET, OTHER_SECRET].into_iter().find(|candidate| {
            let signer = Hs256Key::new(candidate.as_bytes());
            let token = Hs256
                .token(
                    &Header::empty(),
                    &Claims::new(serde_json::json!({})),
                    &signer,
                )
                .unwrap();
            let token = UntrustedToken::new(&token).unwrap();
            Hs256
                .validator::<serde_json::Value>(key)
                .validate(&token)
                .is_ok()
        })
    }

    const OTHER_SECRET: &str = "another-secret-of-32-bytes-or-more!!";

    #[test]
    fn jwt_secret_wins_over_the_better_auth_secret() {
        let only = config(&[(JWT_SECRET_VAR, OTHER_SECRET)]).unwrap();
        assert_eq!(hs256_secret_of(&only), Some(OTHER_SECRET));
        let both = config(&[(JWT_SECRET_VAR, OTHER_SECRET), (SECRET_VAR, SECRET)]).unwrap();
        assert_eq!(hs256_secret_of(&both), Some(OTHER_SECRET));
        let legacy = config(&[(SECRET_VAR, SECRET), (JWT_SECRET_VAR, " ")]).unwrap();
        assert_eq!(hs256_secret_of(&legacy), Some(SECRET));
    }

    #[test]
    fn jwt_secret_must_be_long_and_not_the_better_auth_secret() {
        let short = "x".repeat(31);
        let err = config(&[(JWT_SECRET_VAR, &short), (SECRET_VAR, SECRET)])
            .err()
            .unwrap();
        assert!(
            err.starts_with("JWT_SECRET is shorter than 32 bytes"),
            "{err}"
        );
        let err = config(&[(JWT_SECRET_VAR, SECRET), (SECRET_VAR, SECRET)])
            .err()
            .unwrap();
        assert!(
            err.starts_with("JWT_SECRET equals BETTER_AUTH_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn cursors_are_keyed_by_the_cursor_secret_then_jwt_secret_then_better_auths() {
        let key = |vars: &[(&str, &str)]| config(vars).map(|config| config.cursor_key);
        let all = [CURSOR, (JWT_SECRET_VAR, OTHER_SECRET), (SECRET_VAR, SECRET)];
        assert_eq!(key(&all), Ok(CURSOR_SECRET.into()));
        assert_eq!(key(&all[1..]), Ok(OTHER_SECRET.into()));
        assert_eq!(key(&all[2..]), Ok(SECRET.into()));
        // A blank secret is unset here too, as it is for HS256: the key is the next one set.
        assert_eq!(
            key(&[(JWT_SECRET_VAR, "  "), (SECRET_VAR, SECRET)]),
            Ok(SECRET.into())
        );
        assert_eq!(
            key(&[(CURSOR_SECRET_VAR, "\t"), (JWT_SECRET_VAR, OTHER_SECRET)]),
            Ok(OTHER_SECRET.into())
        );
        // JWKS-only: CURSOR_SECRET is the key.
        assert_eq!(
            key(&[(URL_VAR, "https://auth.example.com"), CURSOR]),
            Ok(CURSOR_SECRET.into())
        );
    }

    /// No key anyone can read: a JWKS-only deployment without CURSOR_SECRET (a blank one is
    /// unset), or with a short one, is refused as a whole, like any unusable auth setting.
    #[test]
    fn without_a_cursor_secret_to_be_had_or_with_a_short_one_every_request_is_refused() {
        let jwks_only = [
            vec![(URL_VAR, "https://auth.example.com")],
            vec![
                (JWKS_VAR, r#"{"keys":[]}"#),
                (ISSUER_VAR, CHECK_OFF),
                (AUDIENCE_VAR, CHECK_OFF),
            ],
        ];
        for base in &jwks_only {
            for blank in [None, Some(""), Some("  ")] {
                let mut vars = base.clone();
                vars.extend(blank.map(|value| (CURSOR_SECRET_VAR, value)));
                let err = config(&vars).err().unwrap();
                assert!(
                    err.starts_with("no CURSOR_SECRET (nor JWT_SECRET or BETTER_AUTH_SECRET)"),
                    "{vars:?}: {err}"
                );
                assert!(err.contains("every /api request is refused"), "{err}");
            }
        }
        let short = "x".repeat(MIN_SECRET_BYTES - 1);
        for base in jwks_only.iter().chain([&vec![(SECRET_VAR, SECRET)]]) {
            let mut vars = base.clone();
            vars.push((CURSOR_SECRET_VAR, &short));
            let err = config(&vars).err().unwrap();
            assert!(
                err.starts_with("CURSOR_SECRET is shorter than 32 bytes"),
                "{vars:?}: {err}"
            );
        }
        let exactly = "x".repeat(MIN_SECRET_BYTES);
        let mut vars = jwks_only[0].clone();
        vars.push((CURSOR_SECRET_VAR, &exactly));
        assert_eq!(
            config(&vars).map(|c| c.cursor_key),
            Ok(exactly.into_bytes())
        );
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
