//! Bearer tokens: the `Authorization` header, the choice of verifier, both verifiers and the
//! claim rules. Pure functions, unit-tested with an injected clock.
//!
//! Two verifiers, never mixed (RFC 8725 §2.1, algorithm confusion): a token whose header says
//! HS256 is checked only against the shared secret (`JWT_SECRET`, else `BETTER_AUTH_SECRET`);
//! a token naming one of [`SUPPORTED_ALGORITHMS`] is checked only against the JWKS key its
//! `kid` names, whose own algorithm must match. Anything else (`none`, HS384, ES512, ...) is
//! refused before any key is looked up.
//!
//! Explicit typing (RFC 8725 §3.11): an HS256 token must say `typ: JWT` in its header. Better
//! Auth signs its own HS256 tokens (email verification, change of email, the `jwt` cookie
//! cache) with `BETTER_AUTH_SECRET` and a header of `alg` alone, so none of them can pass for an
//! API token, whatever its claims. A JWKS token may omit `typ`, as the `jwt` plugin's do, but
//! any other type (the plugin's `better-auth.session-cache+jwt` cookie cache, signed with the
//! same keys) is refused.
//!
//! No header extensions (RFC 7515 §4.1.11): a header with `crit` is refused, whatever it lists,
//! since this API understands none, and so is `b64` other than `true` (RFC 7797's unencoded
//! payload changes what the signature covers). Both are checked by [`parse`], before the
//! verifier is chosen or any key looked up.
//!
//! Time claims outside [`TIME_CLAIM_RANGE`] are refused; `exp` is required, `nbf` honoured
//! when present, both with [`LEEWAY_SECONDS`] of clock skew; `iss` and `aud` are checked when
//! the configuration expects values.

use chrono::{DateTime, Duration, Utc};
use jwt_compact::{
    alg::{Hs256, Hs256Key},
    AlgorithmExt, Claims, Token, UntrustedToken, ValidationError,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::key_set::{KeySet, SUPPORTED_ALGORITHMS};
use crate::{
    config::{Config, Expect},
    error::ApiError,
};

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;
/// Time claims (`exp`, `nbf`, `iat`) must be NumericDates from 1970-01-01 to 9999-12-31
/// (UTC); anything outside is a 401 before any arithmetic on it.
pub const TIME_CLAIM_RANGE: std::ops::RangeInclusive<i64> = 0..=253_402_300_799;
/// Longer `Authorization` headers are refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The user id is an opaque string of at most this many characters.
pub const MAX_USER_ID_CHARS: usize = 128;
const MAX_EMAIL_CHARS: usize = 320;

/// Who the request is from, as the token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    /// The token's `email`, when it carries a usable one.
    pub email: Option<String>,
    /// Whether the token vouches for that email: `emailVerified` (Better Auth's payload) or
    /// `email_verified` (OpenID Connect's) is `true`. Only a verified email may be taken from
    /// another user's row.
    pub email_verified: bool,
}

/// The claims this API reads besides the registered time claims. Values are kept loose
/// (`Value`) so a custom payload with, say, a numeric `id` next to a string `sub` still works.
#[derive(Debug, Clone, Deserialize)]
struct UserClaims {
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    user_id: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default, rename = "emailVerified")]
    email_verified_camel: Option<Value>,
    #[serde(default)]
    email_verified: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    aud: Option<Value>,
}

/// The header parameters this API reads besides jwt-compact's own (`alg`, `kid`, `typ`, ...),
/// kept only to refuse them: `crit` in any form and `b64` other than `true`. A parameter that
/// is present with the value `null` counts as present.
#[derive(Debug, Clone, Deserialize)]
pub struct HeaderExtensions {
    #[serde(default, deserialize_with = "present")]
    crit: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    b64: Option<Value>,
}

/// `Some` for any value the parameter has, `null` included; an absent one stays `None`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A token as it arrives, its header extensions included. The verifiers take it as [`parse`]
/// returns it, after the extension check.
pub type Untrusted<'a> = UntrustedToken<'a, HeaderExtensions>;

/// Which verifier a token needs, from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// HS256 with the shared secret.
    SharedSecret,
    /// An asymmetric algorithm with the JWKS key named by `kid`.
    KeySet { kid: Option<&'a str> },
}

/// Extracts the token from an `Authorization` header value (`Bearer <token>`).
pub fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    let header = header.ok_or(ApiError::Unauthorized("missing Authorization header"))?;
    if header.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::Unauthorized("Authorization header is too large"));
    }
    let (scheme, token) = header.trim().split_once(' ').ok_or(ApiError::Unauthorized(
        "expected 'Authorization: Bearer <token>'",
    ))?;
    // Auth schemes are case-insensitive (RFC 9110 §11.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(
            "expected 'Authorization: Bearer <token>'",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::Unauthorized("the bearer token is empty"));
    }
    Ok(token)
}

/// Splits a token into its parts without trusting any of them yet, and refuses header
/// extensions: any `crit` (RFC 7515 §4.1.11: a recipient must reject a token listing an
/// extension it does not understand, and this API understands none; an empty or non-array
/// `crit` is invalid in itself), and `b64` other than `true` (RFC 7797: `false` would mean the
/// signature covers the raw payload, not the encoded one). `b64: true` is the default meaning,
/// so it is accepted.
pub fn parse(token: &str) -> Result<Untrusted<'_>, ApiError> {
    let token =
        Untrusted::try_from(token).map_err(|_| ApiError::Unauthorized("the token is malformed"))?;
    let extensions = &token.header().other_fields;
    if extensions.crit.is_some() {
        return Err(ApiError::Unauthorized(
            "the token's header lists critical extensions (crit), which are not accepted",
        ));
    }
    if extensions
        .b64
        .as_ref()
        .is_some_and(|b64| *b64 != Value::Bool(true))
    {
        return Err(ApiError::Unauthorized(
            "the token's header asks for an unencoded payload (b64), which is not accepted",
        ));
    }
    Ok(token)
}

/// Which verifier the token's header asks for; algorithms this API never accepts are refused
/// here, before any key is fetched for them.
pub fn scheme<'a>(token: &'a Untrusted<'_>) -> Result<Scheme<'a>, ApiError> {
    match token.algorithm() {
        "HS256" => Ok(Scheme::SharedSecret),
        alg if SUPPORTED_ALGORITHMS.contains(&alg) => Ok(Scheme::KeySet {
            kid: token.header().key_id.as_deref(),
        }),
        _ => Err(ApiError::Unauthorized(
            "the token's algorithm is not accepted",
        )),
    }
}

/// Verifies a parsed token with the verifier its header names ([`scheme`]), as the request
/// gate does: HS256 with the configured secret, an asymmetric algorithm with `keys` (the set
/// [`super::key_source`] found for the token's `kid`). A scheme the configuration does not
/// enable is refused, as is a key-set token without `keys`. Pure, so the whole path from the
/// `Authorization` header to the identity can be tested and fuzzed on the host.
pub fn verify(
    token: &Untrusted<'_>,
    config: &Config,
    keys: Option<&KeySet>,
    now: DateTime<Utc>,
) -> Result<Identity, ApiError> {
    let not_accepted = || ApiError::Unauthorized("the token's algorithm is not accepted");
    match scheme(token)? {
        Scheme::SharedSecret => {
            let key = config.hs256_key.as_ref().ok_or_else(not_accepted)?;
            verify_hs256(token, key, &config.hs256_expect, now)
        }
        Scheme::KeySet { .. } => {
            let keys = keys
                .filter(|_| config.jwks.is_some())
                .ok_or_else(not_accepted)?;
            verify_with_key_set(token, keys, &config.jwks_expect, now)
        }
    }
}

/// Verifies an HS256 token at time `now` and returns the identity it carries. Its header must
/// say `typ: JWT`: that is what tells an API token from Better Auth's own HS256 tokens, which
/// are signed with the same `BETTER_AUTH_SECRET` and never carry a `typ`.
pub fn verify_hs256(
    token: &Untrusted<'_>,
    key: &Hs256Key,
    expect: &Expect,
    now: DateTime<Utc>,
) -> Result<Identity, ApiError> {
    if !token
        .header()
        .token_type
        .as_deref()
        .is_some_and(is_jwt_type)
    {
        return Err(ApiError::Unauthorized(
            "the token's type is not accepted: an HS256 token needs typ JWT in its header",
        ));
    }
    let token = Hs256
        .validator::<UserClaims>(key)
        .validate(token)
        .map_err(signature_error)?;
    check_claims(&token, expect, now)
}

/// Verifies a token signed with a JWKS key at time `now` and returns the identity it carries.
pub fn verify_with_key_set(
    token: &Untrusted<'_>,
    keys: &KeySet,
    expect: &Expect,
    now: DateTime<Utc>,
) -> Result<Identity, ApiError> {
    // Absent is fine (the `jwt` plugin's tokens have none); any other type is another kind of
    // token signed with the same keys, such as the plugin's session cookie cache.
    if !token.header().token_type.as_deref().is_none_or(is_jwt_type) {
        return Err(ApiError::Unauthorized("the token's type is not accepted"));
    }
    let key = keys
        .find(token.header().key_id.as_deref())
        .ok_or(ApiError::Unauthorized(
            "the token's signing key is not known",
        ))?;
    let token = key
        .verify::<UserClaims, _>(token)
        .map_err(signature_error)?;
    check_claims(&token, expect, now)
}

fn signature_error(err: ValidationError) -> ApiError {
    match err {
        ValidationError::AlgorithmMismatch { .. } => {
            ApiError::Unauthorized("the token's algorithm is not accepted")
        }
        ValidationError::InvalidSignature
        | ValidationError::InvalidSignatureLen { .. }
        | ValidationError::MalformedSignature(_) => {
            ApiError::Unauthorized("the token's signature is invalid")
        }
        _ => ApiError::Unauthorized("the token's claims are malformed"),
    }
}

/// The checks that follow a valid signature: time, issuer, audience, then the user.
fn check_claims(
    token: &Token<UserClaims, HeaderExtensions>,
    expect: &Expect,
    now: DateTime<Utc>,
) -> Result<Identity, ApiError> {
    let claims: &Claims<UserClaims> = token.claims();
    check_times(claims, now)?;
    let custom = &claims.custom;
    if let Some(issuer) = &expect.issuer {
        if !matches!(&custom.iss, Some(Value::String(iss)) if iss == issuer) {
            return Err(ApiError::Unauthorized("the token's issuer is not accepted"));
        }
    }
    if let Some(audience) = &expect.audience {
        // RFC 7519 §4.1.3: a single string, or an array of which one must match.
        let matches = match &custom.aud {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
            _ => false,
        };
        if !matches {
            return Err(ApiError::Unauthorized(
                "the token's audience is not accepted",
            ));
        }
    }
    identity_from(custom)
}

/// Checks `exp` (required) and `nbf` (when present) against `now`, with [`LEEWAY_SECONDS`] of
/// skew. Every time claim, `iat` included, must first lie within [`TIME_CLAIM_RANGE`]: the
/// library's own maturity check computes `nbf - leeway` unchecked, and a signed `nbf` near the
/// earliest instant chrono holds made that overflow and panic, aborting the isolate and every
/// request on it. Bounded values and checked arithmetic cannot.
fn check_times(claims: &Claims<UserClaims>, now: DateTime<Utc>) -> Result<(), ApiError> {
    let in_range = |claim: &Option<DateTime<Utc>>| {
        claim.is_none_or(|at| TIME_CLAIM_RANGE.contains(&at.timestamp()))
    };
    if ![claims.expiration, claims.not_before, claims.issued_at]
        .iter()
        .all(in_range)
    {
        return Err(ApiError::Unauthorized(
            "the token's time claims are out of range",
        ));
    }
    let leeway = Duration::seconds(LEEWAY_SECONDS);
    let expiration = claims
        .expiration
        .ok_or(ApiError::Unauthorized("the token has no exp claim"))?;
    if expiration
        .checked_add_signed(leeway)
        .is_none_or(|last| now > last)
    {
        return Err(ApiError::Unauthorized("the token has expired"));
    }
    if let Some(not_before) = claims.not_before {
        if not_before
            .checked_sub_signed(leeway)
            .is_none_or(|first| now < first)
        {
            return Err(ApiError::Unauthorized("the token is not valid yet"));
        }
    }
    Ok(())
}

/// `JWT`, or its full media type `application/jwt`, in any case (RFC 7515 §4.1.9, RFC 7519
/// §5.1).
fn is_jwt_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("jwt") || typ.eq_ignore_ascii_case("application/jwt")
}

/// Applies the claim fallbacks: `sub`, else `user_id`, else `id`. A present but invalid claim
/// is an error, not a reason to fall back (that would let a token pick its own identity).
fn identity_from(claims: &UserClaims) -> Result<Identity, ApiError> {
    let present = |claim: &Option<Value>| claim.as_ref().filter(|value| !value.is_null()).cloned();
    let raw = present(&claims.sub)
        .or_else(|| present(&claims.user_id))
        .or_else(|| present(&claims.id))
        .ok_or(ApiError::Unauthorized("the token names no user (sub)"))?;
    let user_id = match raw {
        Value::String(id) if is_valid_user_id(&id) => id,
        _ => return Err(ApiError::Unauthorized("the token's user id is invalid")),
    };
    let email = match &claims.email {
        Some(Value::String(email)) if is_usable_email(email) => Some(email.clone()),
        _ => None,
    };
    let vouched = |claim: &Option<Value>| matches!(claim, Some(Value::Bool(true)));
    let email_verified = email.is_some()
        && (vouched(&claims.email_verified_camel) || vouched(&claims.email_verified));
    Ok(Identity {
        user_id,
        email,
        email_verified,
    })
}

/// 1–128 characters from `[A-Za-z0-9._:@-]`.
pub fn is_valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_USER_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
}

/// The identity provider owns emails; this only keeps out values the database would refuse.
fn is_usable_email(email: &str) -> bool {
    !email.is_empty()
        && email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(char::is_control)
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
