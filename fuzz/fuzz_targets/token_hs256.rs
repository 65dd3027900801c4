//! The HS256 verifier on tokens the harness signs with the deployment's secret over whatever
//! header and payload the fuzzer makes, so the claim rules (not the MAC) are what is explored.
//! Input: a flags byte, the header JSON, 0xFF, the payload JSON. Flags: bit 0 expects `iss`,
//! bit 1 expects `aud`, bit 2 signs with another secret, bit 3 flips a signature bit.
//! Property: the worker's `auth::verify` never accepts a token the reference refuses, and then
//! names the same user, within the documented limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use task_api::{auth, config::Config};
use task_api_fuzz::{
    assert_reference_agrees, config, flip_signature, now, sign_hs256, split, SECRET,
};

thread_local! {
    static CONFIGS: [Config; 4] = [
        config(false, false),
        config(true, false),
        config(false, true),
        config(true, true),
    ];
}

fuzz_target!(|data: &[u8]| {
    let Some((flags, header, payload)) = split(data) else {
        return;
    };
    let (issuer, audience) = (flags & 1 != 0, flags & 2 != 0);
    let secret = if flags & 4 != 0 {
        b"another-secret-of-more-than-32-bytes".as_slice()
    } else {
        SECRET.as_bytes()
    };
    let mut token = sign_hs256(header, payload, secret);
    if flags & 8 != 0 {
        flip_signature(&mut token);
    }
    CONFIGS.with(|configs| {
        let config = &configs[usize::from(flags & 3)];
        let Ok(identity) =
            auth::parse(&token).and_then(|parsed| auth::verify(&parsed, config, None, now()))
        else {
            return;
        };
        assert_reference_agrees(&token, &identity, issuer, audience);
    });
});
