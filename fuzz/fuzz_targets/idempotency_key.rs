//! `Idempotency-Key` (`src/tasks/conditional.rs`). Beyond not panicking: an accepted key is
//! the header's value trimmed, 1 to 255 characters of printable ASCII (docs/api.md), and a
//! refused one is a 400 naming the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use task_api::{
    error::ApiError,
    tasks::conditional::{idempotency_key, MAX_IDEMPOTENCY_KEY_CHARS},
};
use task_api_fuzz::header_text;

fuzz_target!(|data: &[u8]| {
    let header = header_text(data);
    match idempotency_key(Some(header.as_str())) {
        Ok(Some(key)) => {
            assert_eq!(key, header.trim());
            assert!((1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&key.len()));
            assert!(key.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{key:?}");
        }
        Ok(None) => panic!("a present Idempotency-Key read as absent"),
        Err(ApiError::Validation { field, .. }) => assert_eq!(field, "Idempotency-Key"),
        Err(other) => panic!("Idempotency-Key refused with {other:?}, not a 400"),
    }
});
