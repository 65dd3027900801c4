//! JWKS documents (`src/auth/key_set.rs`), as a key server or `BETTER_AUTH_JWKS` supplies
//! them. Beyond not panicking, a parsed set is then used, and must keep to the rules:
//! - a token signed by the harness's Ed25519 key verifies only through an entry that
//!   publishes exactly that key for signing (`kty` OKP, `crv` Ed25519, `use` absent or `sig`,
//!   `alg` absent or EdDSA), under the kid the token names (or, without a kid, a one-key set);
//! - a token naming another algorithm over that same signature never verifies;
//! - an HS256 token keyed with any `k` the document holds (an `oct` key) never verifies:
//!   symmetric keys are never taken from a key set.
#![no_main]

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use task_api::{
    auth::{self, key_set::KeySet},
    config::Expect,
};
use task_api_fuzz::{b64, ed_keys, now, sign_ed25519, sign_hs256, NOW};

const MAX_KIDS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Ok(keys) = KeySet::parse(data) else {
        return;
    };
    let Ok(document) = serde_json::from_slice::<Value>(data) else {
        panic!("the key set parsed a document that is not JSON");
    };
    let entries: Vec<&Value> = document
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().collect())
        .unwrap_or_default();
    assert!(!entries.is_empty(), "a key set without entries parsed");
    let text =
        |entry: &Value, name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
    let payload = json!({ "sub": "user-1", "exp": NOW + 600 }).to_string();
    let ours = &ed_keys()[0];
    let our_x = b64(&ours.pk[..]);
    let publishes_ours = |entry: &&Value| {
        text(entry, "kty").as_deref() == Some("OKP")
            && text(entry, "crv").as_deref() == Some("Ed25519")
            && text(entry, "x").as_deref() == Some(our_x.as_str())
            && entry.get("use").is_none_or(|usage| usage == "sig")
            && entry.get("alg").is_none_or(|alg| alg == "EdDSA")
    };
    let verifies = |token: &str| {
        auth::parse(token)
            .and_then(|token| auth::verify_with_key_set(&token, &keys, &Expect::default(), now()))
            .is_ok()
    };
    let mut kids: Vec<Option<String>> = entries
        .iter()
        .filter_map(|entry| text(entry, "kid"))
        .take(MAX_KIDS)
        .map(Some)
        .collect();
    kids.push(None);
    for kid in &kids {
        let mut header = json!({ "alg": "EdDSA" });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let token = sign_ed25519(header.to_string().as_bytes(), payload.as_bytes(), ours);
        if verifies(&token) {
            let named = entries
                .iter()
                .filter(|entry| kid.is_none() || text(entry, "kid") == *kid)
                .any(|entry| publishes_ours(entry));
            assert!(
                named,
                "verified with a key the document does not publish under {kid:?}"
            );
        }
        for alg in ["ES256", "RS256", "PS256", "HS256", "none"] {
            header["alg"] = json!(alg);
            let token = sign_ed25519(header.to_string().as_bytes(), payload.as_bytes(), ours);
            assert!(!verifies(&token), "an EdDSA signature passed as {alg}");
        }
    }
    for entry in entries.iter().take(MAX_KIDS) {
        let Some(secret) = text(entry, "k").and_then(|k| URL_SAFE_NO_PAD.decode(k).ok()) else {
            continue;
        };
        let mut header = json!({ "alg": "HS256", "typ": "JWT" });
        if let Some(kid) = text(entry, "kid") {
            header["kid"] = json!(kid);
        }
        let token = sign_hs256(header.to_string().as_bytes(), payload.as_bytes(), &secret);
        assert!(
            !verifies(&token),
            "an HS256 token keyed with a published oct key verified"
        );
    }
});
