//! Path parameters: the `{user_id}` and `{id}` segments of `/api/{user_id}/tasks/{id}`.

use percent_encoding::percent_decode_str;
use uuid::Uuid;

use crate::error::ApiError;

/// Percent-decodes one path segment (`%40` → `@`). The router hands segments over raw, and
/// clients differ in whether they encode `@` and `:` in user ids. `None` when the bytes decode
/// to something that is not UTF-8; a malformed escape stays as sent (`%zz`), which no user id
/// can contain.
pub fn decode_segment(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Whether the raw `{user_id}` segment, percent-decoded, is exactly `user_id` (the request
/// gate's 403 check). An absent or undecodable segment names no one.
pub fn names_user(raw: Option<&str>, user_id: &str) -> bool {
    raw.and_then(decode_segment).as_deref() == Some(user_id)
}

/// A task id from the path: a hyphenated UUID.
pub fn parse_task_id(raw: &str) -> Result<Uuid, ApiError> {
    // `Uuid::parse_str` also takes braced, URN and unhyphenated forms; ids are only ever
    // handed out hyphenated, so anything else is a client bug worth reporting.
    match Uuid::parse_str(raw) {
        Ok(id) if raw.len() == 36 => Ok(id),
        _ => Err(ApiError::validation("id", "task id must be a UUID")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::is_valid_user_id;

    #[test]
    fn segments_are_percent_decoded_once() {
        assert_eq!(decode_segment("user-1").as_deref(), Some("user-1"));
        assert_eq!(decode_segment("a%40b%3Ac").as_deref(), Some("a@b:c"));
        assert_eq!(decode_segment("a%2540").as_deref(), Some("a%40"));
        assert_eq!(decode_segment("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_segment("%FF"), None);
        // Malformed escapes are kept as sent, and no user id can hold them.
        for bad in ["%", "%4", "%zz", "a%4g"] {
            let decoded = decode_segment(bad);
            assert_eq!(decoded.as_deref(), Some(bad));
            assert!(!is_valid_user_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_path_user_must_decode_to_exactly_the_token_user() {
        assert!(names_user(Some("alice"), "alice"));
        assert!(names_user(Some("a%40b%3Ac"), "a@b:c"));
        // Decoded once only, compared whole and case-sensitively; absent or not UTF-8: no one.
        for (raw, user) in [
            (Some("a%2540b"), "a@b"),
            (Some("Alice"), "alice"),
            (Some("alice"), "alic"),
            (Some("alice%00"), "alice"),
            (Some("%FF"), "\u{fffd}"),
            (None, "alice"),
        ] {
            assert!(!names_user(raw, user), "{raw:?} {user:?}");
        }
    }

    #[test]
    fn task_ids_must_be_hyphenated_uuids() {
        let id = "0b5c6f5e-8a51-4e0c-9a4f-4f5c1c2d3e4f";
        assert_eq!(parse_task_id(id).unwrap().to_string(), id);
        assert!(parse_task_id(&id.to_uppercase()).is_ok());
        for bad in [
            "",
            "1",
            "not-a-uuid",
            "0b5c6f5e8a514e0c9a4f4f5c1c2d3e4f",
            "{0b5c6f5e-8a51-4e0c-9a4f-4f5c1c2d3e4f}",
        ] {
            assert!(
                matches!(parse_task_id(bad), Err(ApiError::Validation { ref field, .. }) if field == "id"),
                "{bad:?}"
            );
        }
    }
}
