//! `GET /api/{user_id}/tasks` query parameters and the opaque paging cursor. Pure, unit-tested.
//!
//! Paging is keyset-based: a cursor holds the sort key and id of the last task of a page, and
//! the next page starts strictly after it, so inserts and deletes between pages never shift or
//! repeat rows (no OFFSET). A cursor is signed (HMAC-SHA256) together with the user and the
//! query it belongs to, so an edited, forged or transplanted cursor is a 400, and it can never
//! lead into another user's tasks (every query is scoped by the token's user anyway).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::error::ApiError;

/// Most tasks one response returns; without `limit` a list is "all", up to this many.
pub const MAX_LIMIT: u32 = 1000;
const MAX_Q_CHARS: usize = 200;
const MAX_CURSOR_BYTES: usize = 1024;
/// Bytes of the HMAC kept in a cursor: 128 bits is ample against guessing.
const TAG_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    UpdatedAt,
    Title,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::Title => "title",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Time(DateTime<Utc>, Uuid),
    Title(String, Uuid),
}

/// A validated list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub completed: Option<bool>,
    /// Case-insensitive substring of the title or the description.
    pub q: Option<String>,
    pub sort: SortKey,
    pub order: Order,
    /// `None`: all tasks, up to [`MAX_LIMIT`].
    pub limit: Option<u32>,
    pub after: Option<After>,
}

impl ListQuery {
    /// How many rows one page holds.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(MAX_LIMIT)
    }

    /// Parses the query string (`a=b&c=d`, without `?`). Unknown or repeated parameters and bad
    /// values are 400s naming the parameter. The cursor is checked against `key` and `user_id`.
    pub fn parse(query: &str, user_id: &str, key: &[u8]) -> Result<ListQuery, ApiError> {
        let mut seen: Vec<String> = Vec::new();
        let mut raw = RawQuery::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen.iter().any(|n| *n == name) {
                return Err(ApiError::validation(
                    name.as_ref(),
                    format!("{name} is given more than once"),
                ));
            }
            seen.push(name.to_string());
            let value = value.into_owned();
            match name.as_ref() {
                "completed" => raw.completed = Some(value),
                "q" => raw.q = Some(value),
                "sort" => raw.sort = Some(value),
                "order" => raw.order = Some(value),
                "limit" => raw.limit = Some(value),
                "cursor" => raw.cursor = Some(value),
                other => {
                    return Err(ApiError::validation(
                        other,
                        format!(
                            "unknown query parameter {other}; expected completed, q, sort, order, limit or cursor"
                        ),
                    ))
                }
            }
        }
        let completed = match raw.completed.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                return Err(ApiError::validation(
                    "completed",
                    "completed must be true or false",
                ))
            }
        };
        let q = match raw.q {
            None => None,
            Some(q) if q.trim().is_empty() => None,
            Some(q) if q.chars().count() > MAX_Q_CHARS => {
                return Err(ApiError::validation(
                    "q",
                    "q must be at most 200 characters",
                ))
            }
            Some(q) if q.contains('\0') => {
                return Err(ApiError::validation(
                    "q",
                    "q must not contain the NUL character",
                ))
            }
            Some(q) => Some(q.trim().to_owned()),
        };
        let sort = match raw.sort.as_deref() {
            None | Some("created_at") => SortKey::CreatedAt,
            Some("updated_at") => SortKey::UpdatedAt,
            Some("title") => SortKey::Title,
            Some(_) => {
                return Err(ApiError::validation(
                    "sort",
                    "sort must be created_at, updated_at or title",
                ))
            }
        };
        let order = match raw.order.as_deref() {
            // Newest first for times; alphabetical for titles.
            None if sort == SortKey::Title => Order::Asc,
            None | Some("desc") => Order::Desc,
            Some("asc") => Order::Asc,
            Some(_) => return Err(ApiError::validation("order", "order must be asc or desc")),
        };
        let limit = match raw.limit.as_deref() {
            None => None,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) && !text.starts_with('+') => Some(n),
                _ => {
                    return Err(ApiError::validation(
                        "limit",
                        "limit must be an integer from 1 to 1000",
                    ))
                }
            },
        };
        let mut query = ListQuery {
            completed,
            q,
            sort,
            order,
            limit,
            after: None,
        };
        if let Some(cursor) = raw.cursor {
            query.after = Some(query.open_cursor(&cursor, user_id, key)?);
        }
        Ok(query)
    }

    /// The cursor for the page after the one ending at `last`.
    pub fn cursor_after(&self, last: &After, user_id: &str, key: &[u8]) -> String {
        let position = match last {
            After::Time(at, id) => Position {
                t: Some(at.timestamp_micros()),
                s: None,
                i: *id,
            },
            After::Title(title, id) => Position {
                t: None,
                s: Some(title.clone()),
                i: *id,
            },
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&position).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&payload, user_id, key));
        format!("{payload}.{tag}")
    }

    fn open_cursor(&self, cursor: &str, user_id: &str, key: &[u8]) -> Result<After, ApiError> {
        let invalid =
            || ApiError::validation("cursor", "cursor is invalid or belongs to another query");
        if cursor.len() > MAX_CURSOR_BYTES {
            return Err(invalid());
        }
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        if tag.len() != TAG_BYTES {
            return Err(invalid());
        }
        // Constant-time comparison of the truncated tag.
        self.mac(payload, user_id, key)
            .verify_truncated_left(&tag)
            .map_err(|_| invalid())?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let position: Position = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        match (self.sort, position.t, position.s) {
            (SortKey::Title, None, Some(title)) => Ok(After::Title(title, position.i)),
            (SortKey::CreatedAt | SortKey::UpdatedAt, Some(micros), None) => {
                DateTime::from_timestamp_micros(micros)
                    .map(|at| After::Time(at, position.i))
                    .ok_or_else(invalid)
            }
            _ => Err(invalid()),
        }
    }

    fn tag(&self, payload: &str, user_id: &str, key: &[u8]) -> Vec<u8> {
        let full = self.mac(payload, user_id, key).finalize().into_bytes();
        full.get(..TAG_BYTES).unwrap_or_default().to_vec()
    }

    /// The MAC binds the position to the user and to every parameter that shapes the order or
    /// the set of rows, so a cursor only continues the query it came from.
    fn mac(&self, payload: &str, user_id: &str, key: &[u8]) -> Hmac<Sha256> {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        let completed = match self.completed {
            None => "",
            Some(true) => "true",
            Some(false) => "false",
        };
        for part in [
            "task-api cursor v1",
            user_id,
            self.sort.as_str(),
            self.order.as_str(),
            completed,
            self.q.as_deref().unwrap_or(""),
            payload,
        ] {
            // Length-prefixed, so no two different tuples hash the same.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The query string of the next page: this query's parameters plus `cursor`.
    pub fn next_query(&self, cursor: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if let Some(completed) = self.completed {
            out.append_pair("completed", if completed { "true" } else { "false" });
        }
        if let Some(q) = &self.q {
            out.append_pair("q", q);
        }
        out.append_pair("sort", self.sort.as_str());
        out.append_pair("order", self.order.as_str());
        if let Some(limit) = self.limit {
            out.append_pair("limit", &limit.to_string());
        }
        out.append_pair("cursor", cursor);
        out.finish()
    }

    /// `q` as an ILIKE pattern: the user's text matched literally anywhere.
    pub fn like_pattern(&self) -> Option<String> {
        self.q.as_ref().map(|q| {
            let mut pattern = String::with_capacity(q.len() + 2);
            pattern.push('%');
            for c in q.chars() {
                if matches!(c, '\\' | '%' | '_') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            pattern
        })
    }
}

#[derive(Default)]
struct RawQuery {
    completed: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A cursor's payload: the last row's sort value (`t` micros or `s` title) and id.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    i: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"cursor-test-key";

    fn parse(query: &str) -> Result<ListQuery, ApiError> {
        ListQuery::parse(query, "alice", KEY)
    }

    fn field(result: Result<ListQuery, ApiError>) -> String {
        match result {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_everything_newest_first() {
        let query = parse("").unwrap();
        assert_eq!(
            (
                query.completed,
                query.q.clone(),
                query.sort,
                query.order,
                query.limit
            ),
            (None, None, SortKey::CreatedAt, Order::Desc, None)
        );
        assert_eq!(query.page_size(), 1000);
        assert_eq!(parse("sort=title").unwrap().order, Order::Asc);
        assert_eq!(parse("sort=updated_at").unwrap().order, Order::Desc);
    }

    #[test]
    fn every_parameter_is_parsed() {
        let query = parse("completed=false&q=%20Milk%25&sort=title&order=desc&limit=25").unwrap();
        assert_eq!(query.completed, Some(false));
        assert_eq!(query.q.as_deref(), Some("Milk%"));
        assert_eq!((query.sort, query.order), (SortKey::Title, Order::Desc));
        assert_eq!(query.limit, Some(25));
        assert_eq!(query.like_pattern().as_deref(), Some("%Milk\\%%"));
        assert_eq!(parse("q=").unwrap().q, None);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, expected) in [
            ("completed=yes", "completed"),
            ("completed=", "completed"),
            ("sort=id", "sort"),
            ("order=up", "order"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=-1", "limit"),
            ("limit=+5", "limit"),
            ("limit=1.5", "limit"),
            ("limit=", "limit"),
            ("cursor=abc", "cursor"),
            ("page=2", "page"),
            ("limit=5&limit=6", "limit"),
        ] {
            assert_eq!(field(parse(query)), expected, "{query}");
        }
        assert_eq!(field(parse(&format!("q={}", "x".repeat(201)))), "q");
        assert!(parse(&format!("q={}", "é".repeat(200))).is_ok());
    }

    #[test]
    fn cursors_round_trip_for_each_sort() {
        let id = Uuid::new_v4();
        let at = DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap();
        for (params, after) in [
            ("sort=created_at", After::Time(at, id)),
            ("sort=updated_at&order=asc", After::Time(at, id)),
            (
                "sort=title&q=milk&completed=true",
                After::Title("Buy \"milk\"".into(), id),
            ),
        ] {
            let query = parse(params).unwrap();
            let cursor = query.cursor_after(&after, "alice", KEY);
            let next = parse(&query.next_query(&cursor)).unwrap();
            assert_eq!(next.after, Some(after), "{params}");
            assert_eq!(
                (next.sort, next.order, next.q.clone()),
                (query.sort, query.order, query.q.clone())
            );
        }
    }

    #[test]
    fn a_cursor_only_continues_its_own_user_and_query() {
        let after = After::Time(Utc::now(), Uuid::new_v4());
        let query = parse("completed=true").unwrap();
        let cursor = query.cursor_after(&after, "alice", KEY);
        let with = |params: &str| format!("{params}&cursor={cursor}");
        assert!(parse(&with("completed=true")).is_ok());
        // Another user, another key, another filter, order or sort: all refused.
        assert_eq!(
            field(ListQuery::parse(&with("completed=true"), "bob", KEY)),
            "cursor"
        );
        assert_eq!(
            field(ListQuery::parse(&with("completed=true"), "alice", b"other")),
            "cursor"
        );
        for params in [
            "completed=false",
            "completed=true&order=asc",
            "completed=true&q=x",
            "completed=true&sort=updated_at",
        ] {
            assert_eq!(field(parse(&with(params))), "cursor", "{params}");
        }
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let query = parse("").unwrap();
        let cursor = query.cursor_after(&After::Time(Utc::now(), Uuid::new_v4()), "alice", KEY);
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"t":0,"i":"{}"}}"#, Uuid::new_v4()));
        for forged in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", &tag[..tag.len() - 2]),
            format!("{payload}."),
            payload.to_owned(),
            format!("{payload}.{tag}x"),
            "x".repeat(2000),
        ] {
            assert_eq!(
                field(parse(&format!("cursor={forged}"))),
                "cursor",
                "{forged}"
            );
        }
    }
}
