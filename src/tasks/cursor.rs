//! Paging cursors: the position of a page's last row, encoded and signed (HMAC-SHA256) with the
//! context it belongs to — the user and the query — so an edited, forged or transplanted cursor
//! opens to nothing. Pure, unit-tested through [`super::list_query`].

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::MAX_TITLE_CHARS;

/// Bytes of the HMAC kept in a cursor: 128 bits is ample against guessing.
const TAG_BYTES: usize = 16;
/// The longest JSON payload a [`Position`] can have: both fields at their widest (`t` at
/// `i64::MIN`; `s` a title of [`MAX_TITLE_CHARS`] characters, each taking at most six bytes in
/// JSON — four in UTF-8, or `\u001f` for a control character) and a hyphenated id.
const MAX_PAYLOAD_BYTES: usize =
    r#"{"t":-9223372036854775808,"s":"","i":"00000000-0000-0000-0000-000000000000"}"#.len()
        + 6 * MAX_TITLE_CHARS;
/// Longer cursors are refused before any decoding. Derived from the limits, so every cursor the
/// server seals fits: the payload and the tag in unpadded base64url, joined by a dot.
pub const MAX_CURSOR_BYTES: usize = base64_len(MAX_PAYLOAD_BYTES) + 1 + base64_len(TAG_BYTES);
/// Domain separation for the MAC.
const VERSION: &str = "task-api cursor v1";

/// A cursor's payload: the last row's sort value (`t` micros or `s` title) and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
    pub i: Uuid,
}

/// `payload.tag`, both base64url: the position, and its MAC over `context`.
pub fn seal(position: &Position, context: &[&str], key: &[u8]) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default());
    let full = mac(&payload, context, key).finalize().into_bytes();
    let tag = URL_SAFE_NO_PAD.encode(full.get(..TAG_BYTES).unwrap_or_default());
    format!("{payload}.{tag}")
}

/// The position in `cursor`, if it was sealed with `key` for exactly this `context`.
pub fn open(cursor: &str, context: &[&str], key: &[u8]) -> Option<Position> {
    if cursor.len() > MAX_CURSOR_BYTES {
        return None;
    }
    let (payload, tag) = cursor.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if tag.len() != TAG_BYTES {
        return None;
    }
    // Constant-time comparison of the truncated tag.
    mac(payload, context, key)
        .verify_truncated_left(&tag)
        .ok()?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Unpadded base64 length of `bytes` bytes: four characters per three bytes, rounded up.
const fn base64_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

fn mac(payload: &str, context: &[&str], key: &[u8]) -> Hmac<Sha256> {
    // `new_from_slice` accepts keys of any length for HMAC.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    for part in std::iter::once(VERSION)
        .chain(context.iter().copied())
        .chain(std::iter::once(payload))
    {
        // Length-prefixed, so no two different tuples hash the same.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}
