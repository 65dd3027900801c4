//! List query strings (`src/tasks/list_query.rs`, `query_params.rs`), cursors included, as
//! `ListQuery::parse` receives them from the URL. Beyond not panicking, a parsed query keeps to
//! docs/api.md: `limit` 1 to 1,000; `q` trimmed, not blank, at most 200 characters, no NUL; a
//! cursor position the tasks table can hold and of the kind its sort needs. And paging works
//! from any parsed query: the next page's query string parses back to the same query with the
//! cursor's position, and that cursor means nothing to another user.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use task_api::{
    error::ApiError,
    tasks::{After, ListQuery, SortKey, MAX_LIMIT, MAX_TITLE_CHARS},
};
use task_api_fuzz::header_text;
use uuid::Uuid;

const KEY: &[u8] = b"a-cursor-key-for-fuzzing-32-bytes!";

fuzz_target!(|data: &[u8]| {
    let raw = header_text(data);
    let query = match ListQuery::parse(&raw, "alice", KEY) {
        Ok(query) => query,
        Err(ApiError::Validation { .. }) => return,
        Err(other) => panic!("a query string refused with {other:?}, not a 400"),
    };
    assert!((1..=MAX_LIMIT).contains(&query.page_size()));
    if let Some(q) = &query.q {
        assert!(
            !q.is_empty() && q == q.trim() && !q.contains('\0'),
            "q {q:?}"
        );
        assert!(
            q.chars().count() <= 200,
            "q of {} characters",
            q.chars().count()
        );
        let pattern = query.like_pattern().unwrap_or_default();
        assert!(pattern.starts_with('%') && pattern.ends_with('%'));
    }
    match (&query.after, query.sort) {
        (None, _) => {}
        (Some(After::Title(title, _)), SortKey::Title) => {
            let chars = title.chars().count();
            assert!((1..=MAX_TITLE_CHARS).contains(&chars) && !title.contains('\0'));
        }
        (Some(After::Time(at, _)), SortKey::CreatedAt | SortKey::UpdatedAt) => {
            // PostgreSQL's earliest timestamptz.
            assert!(at.timestamp_micros() >= -210_866_803_200_000_000);
        }
        (Some(after), sort) => panic!("a cursor {after:?} opened for sort {sort:?}"),
    }
    let id = Uuid::from_bytes([7; 16]);
    // A position like one a page can end at: a title of 1 to 255 characters (from the input,
    // so cursors carry every kind of character), or a time.
    let after = match query.sort {
        SortKey::Title => {
            let title = raw.chars().filter(|c| *c != '\0').take(MAX_TITLE_CHARS - 1);
            After::Title(title.chain(['t']).collect(), id)
        }
        _ => After::Time(
            DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap_or_default(),
            id,
        ),
    };
    let cursor = query.cursor_after(&after, "alice", KEY);
    let next = query.next_query(&cursor);
    let mut expected = query.clone();
    expected.after = Some(after);
    assert_eq!(
        ListQuery::parse(&next, "alice", KEY).as_ref(),
        Ok(&expected),
        "next page {next}"
    );
    assert!(
        matches!(ListQuery::parse(&next, "bob", KEY), Err(ApiError::Validation { ref field, .. }) if field == "cursor"),
        "another user's cursor opened"
    );
});
