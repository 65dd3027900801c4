//! `GET /api/{user_id}/tasks` query parameters. Pure, unit-tested.
//!
//! Paging is keyset-based: a cursor ([`super::cursor`]) holds the sort key and id of the last
//! task of a page, and the next page starts strictly after it, so inserts and deletes between
//! pages never shift or repeat rows (no OFFSET). A cursor is bound to the user and to the
//! query it belongs to, so an edited, forged or transplanted cursor is a 400, and it can never
//! lead into another user's tasks (every query is scoped by the token's user anyway).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    cursor::{self, Position},
    query_params::QueryParams,
    MAX_TITLE_CHARS,
};
use crate::error::ApiError;

/// Most tasks one response returns; without `limit` a list is "all", up to this many.
pub const MAX_LIMIT: u32 = 1000;
const MAX_Q_CHARS: usize = 200;
/// PostgreSQL's earliest `timestamptz`, 4714-11-24 00:00:00 BC UTC, in microseconds since the
/// Unix epoch.
const EARLIEST_TIMESTAMPTZ_MICROS: i64 = -210_866_803_200_000_000;
/// The parameters a list accepts.
const PARAMETERS: [&str; 6] = ["completed", "q", "sort", "order", "limit", "cursor"];

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

/// `micros` as an instant a `timestamptz` column can hold and this worker can read: from
/// PostgreSQL's earliest instant to chrono's latest (year 262142, long before PostgreSQL's
/// latest, 294276). That is every instant a stored task can have, so every cursor the server
/// seals passes, and nothing PostgreSQL would refuse does. No narrower range (such as years
/// 1–9999) is safe: rows written by other means than this API may hold any of these instants,
/// and a cursor pointing at one must still continue the listing.
fn storable_time(micros: i64) -> Option<DateTime<Utc>> {
    if micros < EARLIEST_TIMESTAMPTZ_MICROS {
        return None;
    }
    DateTime::from_timestamp_micros(micros)
}

/// What the `title` column can hold (its check constraint: 1 to [`MAX_TITLE_CHARS`]
/// characters; PostgreSQL text: no NUL). Not the whole rule for new titles: a stored title may
/// predate a rule (control characters, trimming) and its cursor must still work.
fn is_storable_title(title: &str) -> bool {
    !title.is_empty() && title.chars().count() <= MAX_TITLE_CHARS && !title.contains('\0')
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
        let mut params = QueryParams::parse(query, &PARAMETERS)?;
        let completed = params.take_bool("completed")?;
        let q = match params.take("q") {
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
        let sort = match params.take("sort").as_deref() {
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
        let order = match params.take("order").as_deref() {
            // Newest first for times; alphabetical for titles.
            None if sort == SortKey::Title => Order::Asc,
            None | Some("desc") => Order::Desc,
            Some("asc") => Order::Asc,
            Some(_) => return Err(ApiError::validation("order", "order must be asc or desc")),
        };
        let limit = match params.take("limit").as_deref() {
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
        if let Some(cursor) = params.take("cursor") {
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
        cursor::seal(&position, &self.context(user_id), key)
    }

    fn open_cursor(&self, cursor: &str, user_id: &str, key: &[u8]) -> Result<After, ApiError> {
        let invalid =
            || ApiError::validation("cursor", "cursor is invalid or belongs to another query");
        let position = cursor::open(cursor, &self.context(user_id), key).ok_or_else(invalid)?;
        // A signature proves who sealed a cursor, not that its position is one the database
        // can compare with: a leaked key, or a sealing bug, would otherwise reach PostgreSQL
        // with a value it refuses (a 500). So the position must be what the tasks table can
        // hold, as any input must.
        match (self.sort, position.t, position.s) {
            (SortKey::Title, None, Some(title)) if is_storable_title(&title) => {
                Ok(After::Title(title, position.i))
            }
            (SortKey::CreatedAt | SortKey::UpdatedAt, Some(micros), None) => storable_time(micros)
                .map(|at| After::Time(at, position.i))
                .ok_or_else(invalid),
            _ => Err(invalid()),
        }
    }

    /// What a cursor is bound to: the user and every parameter that shapes the order or the
    /// set of rows, so a cursor only continues the query it came from.
    fn context<'a>(&'a self, user_id: &'a str) -> [&'a str; 5] {
        let completed = match self.completed {
            None => "",
            Some(true) => "true",
            Some(false) => "false",
        };
        [
            user_id,
            self.sort.as_str(),
            self.order.as_str(),
            completed,
            self.q.as_deref().unwrap_or(""),
        ]
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

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
    fn the_longest_titles_make_cursors_that_are_accepted() {
        // Four UTF-8 bytes each, six in JSON each, and the two-byte escapes a title may hold.
        let widest =
            ["😀", "\u{1f}", "\"", "\t", "漢"].map(|c| c.repeat(crate::tasks::MAX_TITLE_CHARS));
        for title in widest {
            let query = parse("sort=title").unwrap();
            let after = After::Title(title.clone(), Uuid::new_v4());
            let cursor = query.cursor_after(&after, "alice", KEY);
            assert!(cursor.len() <= cursor::MAX_CURSOR_BYTES, "{title}");
            let next = parse(&query.next_query(&cursor)).unwrap();
            assert_eq!(next.after, Some(after));
        }
        assert_eq!(
            cursor::MAX_CURSOR_BYTES,
            2165,
            "docs/api.md states the bound"
        );
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

    /// A cursor sealed with the right key for the right query, holding `position`: what a
    /// client holding the key could forge, or a server bug could seal.
    fn sealed(params: &str, position: &Position) -> String {
        let query = parse(params).unwrap();
        format!(
            "{params}&cursor={}",
            cursor::seal(position, &query.context("alice"), KEY)
        )
    }

    #[test]
    fn a_signed_cursor_whose_position_the_database_cannot_hold_is_refused() {
        let i = Uuid::new_v4();
        let time = |t: i64| Position {
            t: Some(t),
            s: None,
            i,
        };
        let title = |s: &str| Position {
            t: None,
            s: Some(s.to_owned()),
            i,
        };
        // Year -5000: inside chrono's range, before PostgreSQL's first instant; one microsecond
        // before that first instant; i64's extremes.
        let year_minus_5000 = chrono::NaiveDate::from_ymd_opt(-5000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        for t in [
            year_minus_5000,
            EARLIEST_TIMESTAMPTZ_MICROS - 1,
            i64::MIN,
            i64::MAX,
        ] {
            for params in ["sort=created_at", "sort=updated_at&order=asc"] {
                assert_eq!(field(parse(&sealed(params, &time(t)))), "cursor", "{t}");
            }
        }
        let too_long = "x".repeat(crate::tasks::MAX_TITLE_CHARS + 1);
        for s in ["", "a\0b", "\0", too_long.as_str()] {
            assert_eq!(
                field(parse(&sealed("sort=title", &title(s)))),
                "cursor",
                "{s:?}"
            );
        }
        // The edges of what the tasks table holds are accepted.
        let earliest = parse(&sealed("", &time(EARLIEST_TIMESTAMPTZ_MICROS))).unwrap();
        assert_eq!(
            earliest.after,
            Some(After::Time(
                DateTime::from_timestamp_micros(EARLIEST_TIMESTAMPTZ_MICROS).unwrap(),
                i
            ))
        );
        assert!(parse(&sealed(
            "",
            &time(DateTime::<Utc>::MAX_UTC.timestamp_micros())
        ))
        .is_ok());
        // `storable_time` leaves the upper bound to chrono because it lies below PostgreSQL's.
        assert!(chrono::Datelike::year(&DateTime::<Utc>::MAX_UTC) < 294_276);
        let longest = "\u{1}".repeat(crate::tasks::MAX_TITLE_CHARS);
        assert!(parse(&sealed("sort=title", &title(&longest))).is_ok());
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
