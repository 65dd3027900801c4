//! What the fuzz targets share: a fixed clock, the deployment they verify tokens under (an
//! HS256 secret and a JWKS of two Ed25519 keys whose private halves the harness holds, so it can
//! sign whatever header and payload the fuzzer makes), and [`reference`], a second verification
//! of tokens written from the documented rules (docs/auth.md) with `hmac`, `sha2`,
//! `ed25519-compact` and `serde_json` alone: no jwt-compact, no code of the worker.
//!
//! Each target asserts properties beyond "no panic": what a parser accepts is within the limits
//! the API documents, and the worker never accepts a token the reference refuses.

use std::sync::OnceLock;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use ed25519_compact::{KeyPair, Seed};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use task_api::{auth::key_set::KeySet, auth::Identity, config::Config};

pub mod reference;

/// The fuzzed requests' "now": 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
/// The HS256 secret (`JWT_SECRET`).
pub const SECRET: &str = "fuzzing-secret-of-more-than-32-bytes!";
/// `JWT_ISSUER` and `JWT_AUDIENCE` when a target's flags ask for them.
pub const ISSUER: &str = "https://auth.example";
pub const AUDIENCE: &str = "https://api.example";
/// The usable keys of [`jwks_document`], by kid.
pub const KIDS: [&str; 2] = ["ed", "ed-2"];

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap_or_default()
}

/// The two Ed25519 key pairs, from fixed seeds (these keys sign nothing outside the fuzzer).
pub fn ed_keys() -> &'static [KeyPair; 2] {
    static KEYS: OnceLock<[KeyPair; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            KeyPair::from_seed(Seed::new([7; 32])),
            KeyPair::from_seed(Seed::new([9; 32])),
        ]
    })
}

/// The JWKS the deployment publishes: "ed" (EdDSA), "ed-2" (no `alg`: bound by its type), and
/// "ed" again under the kid "ed-es" claiming ES256, which contradicts its type and so is
/// skipped by the worker's parser (the reference knows only the two usable keys).
pub fn jwks_document() -> String {
    let [ed, ed2] = ed_keys();
    let x = |pair: &KeyPair| b64(&pair.pk[..]);
    format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"ed","alg":"EdDSA","use":"sig"}},{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"ed-2"}},{{"kty":"OKP","crv":"Ed25519","x":"{}","kid":"ed-es","alg":"ES256"}}]}}"#,
        x(ed),
        x(ed2),
        x(ed)
    )
}

/// The worker's own parse of [`jwks_document`].
pub fn key_set() -> KeySet {
    KeySet::parse(jwks_document().as_bytes()).unwrap_or_else(|err| panic!("fixture JWKS: {err}"))
}

/// The deployment, through the worker's own configuration reader: both verifiers, with
/// `JWT_ISSUER`/`JWT_AUDIENCE` set to [`ISSUER`]/[`AUDIENCE`] or `off`.
pub fn config(issuer: bool, audience: bool) -> Config {
    let jwks = jwks_document();
    let vars = [
        ("JWT_SECRET", SECRET),
        ("BETTER_AUTH_JWKS", jwks.as_str()),
        ("JWT_ISSUER", if issuer { ISSUER } else { "off" }),
        ("JWT_AUDIENCE", if audience { AUDIENCE } else { "off" }),
    ];
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .unwrap_or_else(|err| panic!("fixture configuration: {err}"))
}

/// What the reference expects of `iss` and `aud` under [`config`]`(issuer, audience)`.
pub fn rules(issuer: bool, audience: bool) -> reference::Rules<'static> {
    reference::Rules {
        now: NOW,
        issuer: issuer.then_some(ISSUER),
        audience: audience.then_some(AUDIENCE),
        secret: SECRET.as_bytes(),
        keys: reference_keys(),
    }
}

/// The usable keys as the reference sees them: kid and raw public key.
pub fn reference_keys() -> &'static [(&'static str, [u8; 32]); 2] {
    static KEYS: OnceLock<[(&'static str, [u8; 32]); 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let [ed, ed2] = ed_keys();
        [(KIDS[0], *ed.pk), (KIDS[1], *ed2.pk)]
    })
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload.signature` with an HMAC-SHA256 signature under `secret`.
pub fn sign_hs256(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

/// `header.payload.signature` with an Ed25519 signature by `pair`.
pub fn sign_ed25519(header: &[u8], payload: &[u8], pair: &KeyPair) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = pair.sk.sign(input.as_bytes(), None);
    format!("{input}.{}", b64(&signature[..]))
}

/// A header value as the runtime hands it over: the bytes as UTF-8 when they are, else each
/// byte as the character of that code point (HTTP field values are byte strings, and
/// JavaScript reads them as Latin-1).
pub fn header_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => data.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Splits a structured input: a flags byte, then two parts separated by the first 0xFF (a byte
/// that never occurs in UTF-8, so JSON on either side stays intact).
pub fn split(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&flags, rest) = data.split_first()?;
    let at = rest.iter().position(|&b| b == 0xff)?;
    Some((flags, rest.get(..at)?, rest.get(at + 1..)?))
}

/// The limits docs/auth.md states for an identity the worker lets through.
pub fn assert_identity_within_limits(identity: &Identity) {
    let id = &identity.user_id;
    assert!(
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_:@".contains(&b)),
        "user id outside the documented rule: {id:?}"
    );
    if let Some(email) = &identity.email {
        assert!(
            !email.is_empty()
                && email.chars().count() <= 320
                && !email.chars().any(char::is_control),
            "email outside the documented rule: {email:?}"
        );
    } else {
        assert!(!identity.email_verified, "a verified email that is absent");
    }
}

/// Changes the signature's first character: a different signature (or invalid base64).
pub fn flip_signature(token: &mut String) {
    let at = token.rfind('.').map_or(0, |dot| dot + 1);
    let flipped = if token.get(at..=at) == Some("A") {
        "B"
    } else {
        "A"
    };
    token.replace_range(at..=at, flipped);
}

/// The property both token targets check once the worker accepted `token` as `identity`: the
/// identity is within the documented limits, and the reference accepts the token too, for the
/// same user, under the same issuer and audience rules.
pub fn assert_reference_agrees(token: &str, identity: &Identity, issuer: bool, audience: bool) {
    assert_identity_within_limits(identity);
    assert_eq!(
        reference::token(token, &rules(issuer, audience)).as_deref(),
        Ok(identity.user_id.as_str()),
        "the worker accepted {token}, the reference did not"
    );
}
