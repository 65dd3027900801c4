//! The `Authorization` header as the request gate reads it: `bearer_token`, `parse` and
//! `verify` (the pure part of `src/http/gate.rs`'s `identify`), under a deployment with both
//! verifiers and both claim checks. Beyond not panicking: an identity it lets through is within
//! the documented limits, and the reference verification accepts the same header as the same
//! user. The seeds hold valid tokens of both kinds, which the fuzzer mutates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use task_api::{
    auth::{self, key_set::KeySet},
    config::Config,
};
use task_api_fuzz::{
    assert_identity_within_limits, config, header_text, key_set, now, reference, rules,
};

thread_local! {
    static DEPLOYMENT: (Config, KeySet) = (config(true, true), key_set());
}

fuzz_target!(|data: &[u8]| {
    let header = header_text(data);
    DEPLOYMENT.with(|(config, keys)| {
        let verified = auth::bearer_token(Some(header.as_str()))
            .and_then(auth::parse)
            .and_then(|token| auth::verify(&token, config, Some(keys), now()));
        if let Ok(identity) = verified {
            assert_identity_within_limits(&identity);
            let expected = reference::authorization(&header, &rules(true, true));
            assert_eq!(
                expected.as_deref(),
                Ok(identity.user_id.as_str()),
                "the worker accepted {header:?}, the reference did not"
            );
        }
    });
});
