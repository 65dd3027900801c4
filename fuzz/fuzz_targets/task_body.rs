//! Task bodies (`src/tasks/model.rs`): the same bytes as a create (`NewTask::parse`), an update
//! (`TaskChanges::parse`) and a completion (`Completion::parse`), up to the 64 KiB the body
//! reader lets through. Beyond not panicking, whatever parses keeps to the documented rules
//! (docs/api.md): a title of 1 to 255 characters, trimmed, not blank, without control
//! characters other than tab, line feed and carriage return; a description of at most 10,000
//! characters under the same rule for controls; an update that changes something. And a
//! parsed create, written back as JSON, parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use task_api::tasks::{
    Completion, NewTask, TaskChanges, MAX_BODY_BYTES, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS,
};

fn refused_control(c: char) -> bool {
    c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r')
}

fn check_title(title: &str) {
    let chars = title.chars().count();
    assert!(
        (1..=MAX_TITLE_CHARS).contains(&chars),
        "title of {chars} characters"
    );
    assert_eq!(title, title.trim(), "an untrimmed title");
    assert!(
        !title.chars().any(refused_control),
        "a control character in {title:?}"
    );
}

fn check_description(description: &str) {
    let chars = description.chars().count();
    assert!(
        chars <= MAX_DESCRIPTION_CHARS,
        "description of {chars} characters"
    );
    assert!(
        !description.chars().any(refused_control),
        "a control character in the description"
    );
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    if let Ok(task) = NewTask::parse(data) {
        check_title(&task.title);
        if let Some(description) = &task.description {
            check_description(description);
        }
        let again = json!({
            "title": task.title,
            "description": task.description,
            "completed": task.completed,
        });
        assert_eq!(
            NewTask::parse(again.to_string().as_bytes()).as_ref(),
            Ok(&task),
            "a parsed task does not parse back to itself"
        );
    }
    if let Ok(changes) = TaskChanges::parse(data) {
        assert_ne!(
            changes,
            TaskChanges::default(),
            "an update that changes nothing"
        );
        assert!(!changes.toggle_completed, "a PUT that toggles");
        if let Some(title) = &changes.title {
            check_title(title);
        }
        if let Some(Some(description)) = &changes.description {
            check_description(description);
        }
    }
    if let Ok(completion) = Completion::parse(data) {
        let changes = TaskChanges::from(completion);
        assert!(changes.title.is_none() && changes.description.is_none());
        assert!(changes.completed.is_some() != changes.toggle_completed);
    }
});
