//! `If-Match` and `If-None-Match` (`src/tasks/conditional.rs`) on the same header value.
//! Beyond not panicking: a malformed `If-Match` is a 400 naming the header (never ignored,
//! which would make a conditional write unconditional); `*` matches any version for both;
//! every version `If-Match` allows also matches `If-None-Match` (strong implies weak); each
//! allowed version's own ETag parses to exactly that version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use task_api::{
    error::ApiError,
    tasks::conditional::{etag, if_none_match, IfMatch},
};
use task_api_fuzz::header_text;

fuzz_target!(|data: &[u8]| {
    let header = header_text(data);
    match IfMatch::parse(Some(header.as_str())) {
        Ok(Some(IfMatch::Any)) => {
            assert_eq!(header.trim(), "*");
            assert!(if_none_match(Some(header.as_str()), 42));
        }
        Ok(Some(IfMatch::Versions(versions))) => {
            for &version in &versions {
                assert!(
                    if_none_match(Some(header.as_str()), version),
                    "v{version} strong but not weak"
                );
                assert_eq!(
                    IfMatch::parse(Some(etag(version).as_str())),
                    Ok(Some(IfMatch::Versions(vec![version])))
                );
            }
        }
        Ok(None) => panic!("a present If-Match read as absent"),
        Err(ApiError::Validation { field, .. }) => assert_eq!(field, "If-Match"),
        Err(other) => panic!("If-Match refused with {other:?}, not a 400"),
    }
});
