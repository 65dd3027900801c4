//! Cross-origin access for browser front ends: which origins may call the API, and the headers
//! that say so. The policy is pure and unit-tested; [`add_headers`] applies it to every
//! response, errors included.
//!
//! `CORS_ALLOWED_ORIGINS` is a comma-separated list of exact origins (`https://app.example.com`,
//! `http://localhost:3000`) and leading-wildcard patterns (`https://*.example.app`, which
//! matches any subdomain at any depth but not `https://example.app` itself). Unset or empty: no
//! CORS headers at all. Credentials (cookies) are never allowed: the API reads only the bearer
//! token, so it never needs them.

use worker::Response;

/// The worker variable.
pub const ORIGINS_VAR: &str = "CORS_ALLOWED_ORIGINS";
/// Request headers a browser may send: everything this API reads.
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match";
/// Response headers a browser script may read.
pub const EXPOSE_HEADERS: &str =
    "ETag, Link, Location, Retry-After, X-Request-Id, Idempotent-Replayed, WWW-Authenticate";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE_SECS: &str = "600";

/// The allowed origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    exact: Vec<String>,
    /// `(scheme + "://", "." + host suffix + optional ":port")` for `scheme://*.suffix`.
    wildcards: Vec<(String, String)>,
}

impl CorsPolicy {
    /// Parses the variable; `Ok(None)` when CORS is off. Entries that are not origins are an
    /// error (listing them), so a typo is not silently a locked-out front end.
    pub fn parse(raw: Option<&str>) -> Result<Option<CorsPolicy>, String> {
        let Some(raw) = raw.filter(|raw| !raw.trim().is_empty()) else {
            return Ok(None);
        };
        let mut policy = CorsPolicy::default();
        let mut bad = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let entry = entry.to_ascii_lowercase();
            let Some((scheme, rest)) = entry.split_once("://") else {
                bad.push(entry);
                continue;
            };
            let well_formed = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains('/')
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'*'));
            match rest.strip_prefix("*.") {
                Some(suffix) if well_formed && !suffix.is_empty() && !suffix.contains('*') => {
                    policy
                        .wildcards
                        .push((format!("{scheme}://"), format!(".{suffix}")));
                }
                None if well_formed && !rest.contains('*') => policy.exact.push(entry.clone()),
                _ => bad.push(entry),
            }
        }
        if !bad.is_empty() {
            return Err(format!(
                "CORS_ALLOWED_ORIGINS has entries that are not origins: {}",
                bad.join(", ")
            ));
        }
        Ok(Some(policy))
    }

    /// Whether a request's `Origin` header is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        if self.exact.contains(&origin) {
            return true;
        }
        self.wildcards.iter().any(|(scheme, suffix)| {
            origin.strip_prefix(scheme.as_str()).is_some_and(|host| {
                host.strip_suffix(suffix.as_str()).is_some_and(|sub| {
                    // One or more DNS labels in front of the suffix.
                    !sub.is_empty()
                        && sub
                            .split('.')
                            .all(|label| !label.is_empty() && is_label(label))
                })
            })
        })
    }
}

fn is_label(label: &str) -> bool {
    label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// CORS for an allowed `Origin`, on every response including errors; nothing for other origins.
/// `Vary: Origin` whenever CORS is on, since the answer depends on it.
pub fn add_headers(
    response: &mut Response,
    policy: &CorsPolicy,
    origin: Option<&str>,
    preflight: bool,
) -> worker::Result<()> {
    let headers = response.headers_mut();
    headers.append("Vary", "Origin")?;
    let Some(origin) = origin.filter(|origin| policy.allows(origin)) else {
        return Ok(());
    };
    headers.set("Access-Control-Allow-Origin", origin)?;
    if preflight {
        // The route's own methods (its `Allow`), so a preflight never promises a 405.
        let allow = headers.get("Allow")?.unwrap_or_default();
        if !allow.is_empty() {
            headers.set("Access-Control-Allow-Methods", &allow)?;
        }
        headers.set("Access-Control-Allow-Headers", ALLOW_HEADERS)?;
        headers.set("Access-Control-Max-Age", MAX_AGE_SECS)?;
    } else {
        headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(raw: &str) -> CorsPolicy {
        CorsPolicy::parse(Some(raw)).unwrap().unwrap()
    }

    #[test]
    fn unset_or_empty_means_no_cors() {
        assert_eq!(CorsPolicy::parse(None).unwrap(), None);
        assert_eq!(CorsPolicy::parse(Some(" ")).unwrap(), None);
    }

    #[test]
    fn exact_origins_match_exactly() {
        let p = policy("https://app.example.com, http://localhost:3000");
        assert!(p.allows("https://app.example.com"));
        assert!(p.allows("HTTPS://APP.EXAMPLE.COM"));
        assert!(p.allows("http://localhost:3000"));
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil-app.example.com",
            "https://app.example.com.evil.test",
            "http://localhost:3001",
            "null",
            "",
        ] {
            assert!(!p.allows(other), "{other}");
        }
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = policy("https://*.example.app");
        assert!(p.allows("https://preview-42.example.app"));
        assert!(p.allows("https://a.b.example.app"));
        for other in [
            "https://example.app",
            "http://x.example.app",
            "https://x.example.app:444",
            "https://xexample.app",
            "https://x.example.app.evil.test",
            "https://.example.app",
            "https://x..example.app",
            "https://x_y.example.app",
        ] {
            assert!(!p.allows(other), "{other}");
        }
        let with_port = policy("http://*.localhost:3000");
        assert!(with_port.allows("http://web.localhost:3000"));
        assert!(!with_port.allows("http://web.localhost:3001"));
    }

    #[test]
    fn entries_that_are_not_origins_are_reported() {
        for bad in [
            "example.com",
            "https://example.com/",
            "https://example.com/app",
            "ftp://example.com",
            "https://*",
            "https://a.*.example.com",
            "*",
        ] {
            let err = CorsPolicy::parse(Some(&format!("https://ok.example, {bad}"))).unwrap_err();
            assert!(err.contains(&bad.to_ascii_lowercase()), "{bad}: {err}");
        }
    }
}
