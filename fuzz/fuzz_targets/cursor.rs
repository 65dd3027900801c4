//! Paging cursors (`src/tasks/cursor.rs`) on their own. The first byte picks the mode:
//! - even: the rest is a cursor as a client sends it; `open` must not panic, and opens only
//!   what `seal` made with this key for this context (no edited or forged cursor opens);
//! - odd: the rest is a position (time, title, id) a page can end at; `seal` must make a cursor
//!   within `MAX_CURSOR_BYTES` (the documented bound, derived from the title limit), which
//!   opens to the same position, and to nothing under another context or key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use task_api::tasks::{
    cursor::{open, seal, Position, MAX_CURSOR_BYTES},
    MAX_TITLE_CHARS,
};
use task_api_fuzz::header_text;
use uuid::Uuid;

const KEY: &[u8] = b"a-cursor-key-for-fuzzing-32-bytes!";
const CONTEXT: [&str; 5] = ["alice", "title", "asc", "", ""];
const OTHER: [&str; 5] = ["bob", "title", "asc", "", ""];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let cursor = header_text(rest);
        if let Some(position) = open(&cursor, &CONTEXT, KEY) {
            assert_eq!(
                seal(&position, &CONTEXT, KEY),
                cursor,
                "a cursor the server did not seal opened"
            );
        }
        return;
    }
    if rest.len() < 25 {
        return;
    }
    let (fixed, text) = rest.split_at(25);
    let mut id = [0; 16];
    id.copy_from_slice(&fixed[9..25]);
    let mut micros = [0; 8];
    micros.copy_from_slice(&fixed[1..9]);
    let title: String = String::from_utf8_lossy(text)
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    let position = Position {
        t: (fixed[0] & 1 != 0).then(|| i64::from_be_bytes(micros)),
        s: (fixed[0] & 2 != 0).then_some(title),
        i: Uuid::from_bytes(id),
    };
    let cursor = seal(&position, &CONTEXT, KEY);
    assert!(
        cursor.len() <= MAX_CURSOR_BYTES,
        "a sealed cursor of {} bytes",
        cursor.len()
    );
    assert_eq!(open(&cursor, &CONTEXT, KEY).as_ref(), Some(&position));
    assert_eq!(
        open(&cursor, &OTHER, KEY),
        None,
        "a cursor opened in another context"
    );
    assert_eq!(
        open(&cursor, &CONTEXT, b"another-key"),
        None,
        "a cursor opened under another key"
    );
});
