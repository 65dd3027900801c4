//! A second verification of bearer tokens, written from the rules docs/auth.md states and
//! sharing no code with the worker's (`src/auth/token.rs`, jwt-compact):
//!
//! - `Authorization: Bearer <token>` (scheme in any case), at most 8 KiB;
//! - three base64url parts without padding; header and payload JSON objects;
//! - a header member the rules read must not appear twice (RFC 7515 §4 lets a parser refuse
//!   duplicates; members nobody reads may repeat);
//! - no `crit` at all, `b64` absent or `true`, `cty` absent or `json`;
//! - `alg: HS256` with `typ` `JWT` or `application/jwt` (any case), HMAC-SHA256 under the
//!   secret; or `alg: EdDSA` with `typ` absent or one of those, signed by the published key the
//!   `kid` names (without `kid`, only a set of one key will do: this one has two);
//! - `exp` required; `exp`, `nbf` and `iat` numbers whose whole seconds lie from 0 to
//!   253402300799 (a NumericDate may have a fraction, RFC 7519 §2), `now <= exp + 60` and
//!   `now >= nbf - 60`;
//! - `iss` equal to the expected issuer, `aud` equal to (or an array holding) the expected
//!   audience, when the deployment expects them;
//! - the user: the first of `sub`, `user_id`, `id` that is present and not null, a string of 1
//!   to 128 characters from `[A-Za-z0-9._:@-]`.
//!
//! A JSON `null` stands for an absent member where the rules allow absence (`kid`, `typ`,
//! `cty`, `nbf`, `iat`), as the worker's deserializer reads it; `crit: null` is still a `crit`.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use sha2::Sha256;

/// What the deployment expects, and its keys.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub now: i64,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub secret: &'a [u8],
    /// The usable JWKS keys: kid and Ed25519 public key.
    pub keys: &'a [(&'a str, [u8; 32])],
}

const LEEWAY: i64 = 60;
const LATEST: i64 = 253_402_300_799;
const HEADER_MEMBERS: [&str; 6] = ["alg", "typ", "kid", "crit", "b64", "cty"];
const PAYLOAD_MEMBERS: [&str; 8] = ["exp", "nbf", "iat", "iss", "aud", "sub", "user_id", "id"];

/// The user an `Authorization` header value authenticates, or why the rules refuse it.
pub fn authorization(header: &str, rules: &Rules<'_>) -> Result<String, &'static str> {
    if header.len() > 8 * 1024 {
        return Err("header too large");
    }
    let text = header.trim();
    let scheme = text.get(..6).ok_or("no scheme")?;
    let rest = text.get(6..).ok_or("no scheme")?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(' ') {
        return Err("not a bearer token");
    }
    token(rest.trim(), rules)
}

/// The user a token authenticates, or why the rules refuse it.
pub fn token(token: &str, rules: &Rules<'_>) -> Result<String, &'static str> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not three parts");
    };
    let header = object(&decode(header_b64)?, &HEADER_MEMBERS)?;
    let signature = decode(signature_b64)?;
    let signed = token
        .rsplit_once('.')
        .map(|(signed, _)| signed)
        .ok_or("not three parts")?;

    if header.contains_key("crit") {
        return Err("crit");
    }
    if header
        .get("b64")
        .is_some_and(|b64| *b64 != Value::Bool(true))
    {
        return Err("b64");
    }
    match present(&header, "cty") {
        None => {}
        Some(Value::String(cty)) if cty.eq_ignore_ascii_case("json") => {}
        Some(_) => return Err("cty"),
    }
    let typ = match present(&header, "typ") {
        None => None,
        Some(Value::String(typ)) => Some(typ.as_str()),
        Some(_) => return Err("typ not a string"),
    };
    let is_jwt =
        |typ: &str| typ.eq_ignore_ascii_case("jwt") || typ.eq_ignore_ascii_case("application/jwt");
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => {
            if !typ.is_some_and(is_jwt) {
                return Err("HS256 without typ JWT");
            }
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(rules.secret).map_err(|_| "secret")?;
            mac.update(signed.as_bytes());
            mac.verify_slice(&signature).map_err(|_| "HMAC")?;
        }
        Some(Value::String(alg)) if alg == "EdDSA" => {
            if !typ.is_none_or(is_jwt) {
                return Err("typ");
            }
            let public = match present(&header, "kid") {
                Some(Value::String(kid)) => rules
                    .keys
                    .iter()
                    .find(|(known, _)| known == kid)
                    .map(|(_, key)| key),
                None => match rules.keys {
                    [(_, only)] => Some(only),
                    _ => None,
                },
                Some(_) => return Err("kid not a string"),
            }
            .ok_or("unknown kid")?;
            let public = ed25519_compact::PublicKey::new(*public);
            let signature =
                ed25519_compact::Signature::from_slice(&signature).map_err(|_| "Ed25519 length")?;
            public
                .verify(signed.as_bytes(), &signature)
                .map_err(|_| "Ed25519")?;
        }
        _ => return Err("alg"),
    }

    let claims = object(&decode(payload_b64)?, &PAYLOAD_MEMBERS)?;
    // A NumericDate may have a fraction (RFC 7519 §2); its whole seconds must be in range.
    let time = |name: &str| match present(&claims, name) {
        None => Ok(None),
        Some(value) => match value.as_f64() {
            Some(at) if (0.0..=LATEST as f64).contains(&at.floor()) => Ok(Some(at)),
            _ => Err("time claim out of range or not a number"),
        },
    };
    let exp = time("exp")?.ok_or("no exp")?;
    let nbf = time("nbf")?;
    time("iat")?;
    let now = rules.now as f64;
    if now > exp + LEEWAY as f64 {
        return Err("expired");
    }
    if nbf.is_some_and(|nbf| now < nbf - LEEWAY as f64) {
        return Err("not yet valid");
    }
    if let Some(issuer) = rules.issuer {
        if claims.get("iss") != Some(&Value::String(issuer.to_owned())) {
            return Err("iss");
        }
    }
    if let Some(audience) = rules.audience {
        let holds = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
            _ => false,
        };
        if !holds {
            return Err("aud");
        }
    }
    let user = ["sub", "user_id", "id"]
        .iter()
        .find_map(|name| present(&claims, name))
        .ok_or("no user")?;
    match user {
        Value::String(id)
            if (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b)) =>
        {
            Ok(id.clone())
        }
        _ => Err("user id"),
    }
}

/// A member that is there and not `null`.
fn present<'a>(object: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|value| !value.is_null())
}

/// Unpadded base64url, canonical: no padding, no stray bits.
fn decode(part: &str) -> Result<Vec<u8>, &'static str> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| "base64")
}

/// A JSON object, its first member of each name kept; a repeated member that the rules read
/// (`read`) refuses the whole object.
fn object(bytes: &[u8], read: &[&str]) -> Result<BTreeMap<String, Value>, &'static str> {
    let Members(members) = serde_json::from_slice(bytes).map_err(|_| "not a JSON object")?;
    let mut object = BTreeMap::new();
    for (name, value) in members {
        if object.contains_key(&name) {
            if read.contains(&name.as_str()) {
                return Err("a member the rules read is repeated");
            }
            continue;
        }
        object.insert(name, value);
    }
    Ok(object)
}

/// A JSON object's members in document order, repeats included.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}
