//! The request headers this API reads besides `Authorization` — `Idempotency-Key`, `If-Match`,
//! `If-None-Match` — judged against a task's ETag ([`etag`], its row version). Pure,
//! unit-tested on the host.

pub use super::etag;
use crate::error::ApiError;

/// `Idempotency-Key` values are 1–255 printable ASCII characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// A validated `Idempotency-Key`, or `None` when the request has none.
pub fn idempotency_key(header: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = header else {
        return Ok(None);
    };
    let key = raw.trim();
    let invalid = |message: &str| ApiError::validation("Idempotency-Key", message);
    if key.is_empty() {
        return Err(invalid("Idempotency-Key must not be empty"));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(invalid("Idempotency-Key must be at most 255 characters"));
    }
    if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(invalid(
            "Idempotency-Key must contain only printable ASCII characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// What an `If-Match` header allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// These versions only (tags that are not ours, or weak, match nothing: strong comparison).
    Versions(Vec<i64>),
}

impl IfMatch {
    /// Parses `If-Match`; `None` when absent. A malformed header is a 400 rather than being
    /// ignored: ignoring it would turn a conditional write into an unconditional one.
    pub fn parse(header: Option<&str>) -> Result<Option<IfMatch>, ApiError> {
        let Some(raw) = header else {
            return Ok(None);
        };
        if raw.trim() == "*" {
            return Ok(Some(IfMatch::Any));
        }
        let tags = entity_tags(raw).ok_or_else(|| {
            ApiError::validation(
                "If-Match",
                "If-Match must be * or a comma-separated list of quoted entity tags",
            )
        })?;
        let versions = tags
            .into_iter()
            .filter(|tag| !tag.weak)
            .filter_map(|tag| version_of(tag.opaque))
            .collect();
        Ok(Some(IfMatch::Versions(versions)))
    }

    /// The versions to pass to SQL (`None` = any).
    pub fn versions(&self) -> Option<&[i64]> {
        match self {
            IfMatch::Any => None,
            IfMatch::Versions(versions) => Some(versions),
        }
    }
}

/// Whether `If-None-Match` matches a task at `version` (weak comparison, RFC 9110 §13.1.2).
/// A malformed header matches nothing, so the client simply gets the full response.
pub fn if_none_match(header: Option<&str>, version: i64) -> bool {
    let Some(raw) = header else {
        return false;
    };
    if raw.trim() == "*" {
        return true;
    }
    entity_tags(raw).is_some_and(|tags| {
        tags.iter()
            .any(|tag| version_of(tag.opaque) == Some(version))
    })
}

struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// Splits `"a", W/"b"` into entity tags; `None` if any member is malformed.
fn entity_tags(raw: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    for member in raw.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let (weak, quoted) = match member.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, member),
        };
        let opaque = quoted.strip_prefix('"')?.strip_suffix('"')?;
        // etagc = %x21 / %x23-7E / obs-text: no quotes, spaces or controls inside.
        if opaque.bytes().any(|b| b == b'"' || b <= 0x20 || b == 0x7f) {
            return None;
        }
        tags.push(EntityTag { weak, opaque });
    }
    (!tags.is_empty()).then_some(tags)
}

fn version_of(opaque: &str) -> Option<i64> {
    opaque.strip_prefix('v')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_1_to_255_printable_ascii_chars() {
        assert_eq!(idempotency_key(None).unwrap(), None);
        assert_eq!(
            idempotency_key(Some(" order-7 ")).unwrap().as_deref(),
            Some("order-7")
        );
        let longest = "k".repeat(255);
        assert_eq!(
            idempotency_key(Some(&longest)).unwrap(),
            Some(longest.clone())
        );
        for bad in [
            "",
            "   ",
            &"k".repeat(256),
            "tab\there",
            "caf\u{e9}",
            "nul\0",
        ] {
            match idempotency_key(Some(bad)) {
                Err(ApiError::Validation { field, .. }) => assert_eq!(field, "Idempotency-Key"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn if_match_parses_star_lists_and_refuses_garbage() {
        assert_eq!(IfMatch::parse(None).unwrap(), None);
        assert_eq!(IfMatch::parse(Some(" * ")).unwrap(), Some(IfMatch::Any));
        assert_eq!(
            IfMatch::parse(Some(r#""v3", "v5""#)).unwrap(),
            Some(IfMatch::Versions(vec![3, 5]))
        );
        // Weak and foreign tags never match under strong comparison.
        assert_eq!(
            IfMatch::parse(Some(r#"W/"v3", "abc", "v""#)).unwrap(),
            Some(IfMatch::Versions(vec![]))
        );
        for bad in ["v3", "\"v3", "\"v 3\"", "", ",", "*, \"v1\"", "W/v3"] {
            assert!(IfMatch::parse(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert!(if_none_match(Some("\"v2\""), 2));
        assert!(if_none_match(Some("W/\"v2\""), 2));
        assert!(if_none_match(Some("\"v1\", \"v2\""), 2));
        assert!(if_none_match(Some("*"), 2));
        assert!(!if_none_match(Some("\"v1\""), 2));
        assert!(!if_none_match(Some("garbage"), 2));
        assert!(!if_none_match(None, 2));
    }
}
