//! Path parameters (`src/http/path.rs`): a raw segment as the router hands it over, read as
//! the `{user_id}` the gate compares with the token's user and as a task `{id}`. Beyond not
//! panicking: decoding never lengthens a segment and leaves one without `%` as it is; the gate
//! lets a segment through only for the user it decodes to; a task id is a hyphenated UUID of
//! exactly 36 characters, and a refused one is a 400 naming `id`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use task_api::{
    auth::is_valid_user_id,
    error::ApiError,
    http::path::{decode_segment, names_user, parse_task_id},
};
use task_api_fuzz::header_text;

fuzz_target!(|data: &[u8]| {
    let raw = header_text(data);
    let decoded = decode_segment(&raw);
    if let Some(decoded) = &decoded {
        assert!(decoded.len() <= raw.len());
        if !raw.contains('%') {
            assert_eq!(decoded, &raw);
        }
    }
    for user in [raw.as_str(), "alice", decoded.as_deref().unwrap_or("alice")] {
        if names_user(Some(raw.as_str()), user) {
            assert_eq!(
                decoded.as_deref(),
                Some(user),
                "{raw:?} let {user:?} through"
            );
        }
    }
    if let Some(decoded) = decoded.as_deref().filter(|d| is_valid_user_id(d)) {
        assert!(names_user(Some(raw.as_str()), decoded));
    }
    match parse_task_id(&raw) {
        Ok(id) => {
            assert_eq!(raw.len(), 36);
            assert_eq!(id.hyphenated().to_string(), raw.to_ascii_lowercase());
        }
        Err(ApiError::Validation { field, .. }) => assert_eq!(field, "id"),
        Err(other) => panic!("a task id refused with {other:?}, not a 400"),
    }
});
