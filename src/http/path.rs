//! Path parameters: the `{user_id}` and `{id}` segments of `/api/{user_id}/tasks/{id}`.

use uuid::Uuid;

use crate::error::ApiError;

/// Percent-decodes one path segment (`%40` → `@`). The router hands segments over raw, and
/// clients differ in whether they encode `@` and `:` in user ids. `None` when the escapes are
/// malformed or decode to something that is not UTF-8.
pub fn decode_segment(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes().iter();
    while let Some(&byte) = rest.next() {
        if byte == b'%' {
            let hi = rest.next().and_then(|b| char::from(*b).to_digit(16))?;
            let lo = rest.next().and_then(|b| char::from(*b).to_digit(16))?;
            bytes.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            bytes.push(byte);
        }
    }
    String::from_utf8(bytes).ok()
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

    #[test]
    fn segments_are_percent_decoded_once() {
        assert_eq!(decode_segment("user-1").as_deref(), Some("user-1"));
        assert_eq!(decode_segment("a%40b%3Ac").as_deref(), Some("a@b:c"));
        assert_eq!(decode_segment("a%2540").as_deref(), Some("a%40"));
        assert_eq!(decode_segment("%C3%A9").as_deref(), Some("é"));
        for bad in ["%", "%4", "%zz", "%FF"] {
            assert_eq!(decode_segment(bad), None, "{bad}");
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
