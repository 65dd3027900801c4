//! The JWKS verifier on tokens the harness signs with the published Ed25519 keys (or one it
//! never published) over whatever header and payload the fuzzer makes: `alg`, `kid`, `typ`,
//! `crit`/`b64` and every claim are the fuzzer's. Input: a flags byte, the header JSON, 0xFF,
//! the payload JSON. Flags: bit 0 expects `iss`, bit 1 expects `aud`, bit 2 signs with "ed-2"
//! instead of "ed", bit 3 with an unpublished key, bit 4 flips a signature bit.
//! Property: the worker's `auth::verify` with the key set never accepts a token the reference
//! refuses, and then names the same user, within the documented limits.
#![no_main]

use std::sync::OnceLock;

use ed25519_compact::{KeyPair, Seed};
use libfuzzer_sys::fuzz_target;
use task_api::{
    auth::{self, key_set::KeySet},
    config::Config,
};
use task_api_fuzz::{
    assert_reference_agrees, config, ed_keys, flip_signature, key_set, now, sign_ed25519, split,
};

thread_local! {
    static DEPLOYMENT: ([Config; 4], KeySet) = (
        [config(false, false), config(true, false), config(false, true), config(true, true)],
        key_set(),
    );
}

fn unpublished() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::from_seed(Seed::new([3; 32])))
}

fuzz_target!(|data: &[u8]| {
    let Some((flags, header, payload)) = split(data) else {
        return;
    };
    let (issuer, audience) = (flags & 1 != 0, flags & 2 != 0);
    let signer = if flags & 8 != 0 {
        unpublished()
    } else {
        &ed_keys()[usize::from(flags >> 2 & 1)]
    };
    let mut token = sign_ed25519(header, payload, signer);
    if flags & 16 != 0 {
        flip_signature(&mut token);
    }
    DEPLOYMENT.with(|(configs, keys)| {
        let config = &configs[usize::from(flags & 3)];
        let Ok(identity) =
            auth::parse(&token).and_then(|parsed| auth::verify(&parsed, config, Some(keys), now()))
        else {
            return;
        };
        assert_reference_agrees(&token, &identity, issuer, audience);
    });
});
