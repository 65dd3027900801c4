//! The task model's tests: every input rule at its boundaries, and the JSON a task becomes.
use super::*;
use serde_json::json;

fn field_of(result: Result<impl std::fmt::Debug, ApiError>) -> String {
    match result {
        Err(ApiError::Validation { field, .. }) => field,
        other => format!("not a validation error: {other:?}"),
    }
}

fn body(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[test]
fn create_trims_the_title_and_defaults_the_rest() {
    let task = NewTask::parse(&body(json!({ "title": "  Buy milk \u{3000}" }))).unwrap();
    assert_eq!(
        task,
        NewTask {
            title: "Buy milk".into(),
            description: None,
            completed: false
        }
    );
}

#[test]
fn title_length_counts_characters_not_bytes() {
    let ok = "é".repeat(255);
    assert_eq!(
        NewTask::parse(&body(json!({ "title": ok }))).unwrap().title,
        ok
    );
    let long = "é".repeat(256);
    assert_eq!(
        field_of(NewTask::parse(&body(json!({ "title": long })))),
        "title"
    );
    // The limit applies to the title as sent, before trimming, as the OpenAPI document says.
    let padded = format!("  {}  ", "a".repeat(251));
    assert_eq!(
        NewTask::parse(&body(json!({ "title": padded })))
            .unwrap()
            .title
            .len(),
        251
    );
    let over = format!(" {} ", "a".repeat(254));
    assert_eq!(
        field_of(NewTask::parse(&body(json!({ "title": over })))),
        "title"
    );
}

#[test]
fn titles_keep_tab_and_line_breaks_inside_and_trim_every_whitespace_around() {
    for (sent, stored) in [
        ("Buy milk\n", "Buy milk"),
        ("\tBuy milk", "Buy milk"),
        (
            "\r\n Buy milk \u{a0}\u{2003}\u{3000}\u{2028}\u{85}",
            "Buy milk",
        ),
        ("Buy\tmilk", "Buy\tmilk"),
        ("line1\nline2", "line1\nline2"),
        ("line1\r\nline2\n\n", "line1\r\nline2"),
    ] {
        let task = NewTask::parse(&body(json!({ "title": sent }))).unwrap();
        assert_eq!(task.title, stored, "{sent:?}");
    }
}

#[test]
fn titles_refuse_the_other_control_characters() {
    let refused = (0u8..0x20)
        .chain([0x7f])
        .map(char::from)
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'));
    for c in refused {
        for bad in [format!("{c}"), format!("a{c}b"), format!("Buy milk{c}")] {
            assert_eq!(
                field_of(NewTask::parse(&body(json!({ "title": bad })))),
                "title",
                "{bad:?}"
            );
        }
    }
    // Descriptions may span lines.
    assert!(NewTask::parse(&body(json!({ "title": "t", "description": "a\nb\tc" }))).is_ok());
}

#[test]
fn create_rejects_bad_titles_naming_the_field() {
    for bad in [
        json!({}),
        json!({ "title": "" }),
        json!({ "title": " \t\n " }),
        json!({ "title": null }),
        json!({ "title": 5 }),
        json!({ "title": ["a"] }),
        json!({ "title": "a\u{0}b" }),
    ] {
        assert_eq!(
            field_of(NewTask::parse(&body(bad.clone()))),
            "title",
            "{bad}"
        );
    }
}

#[test]
fn description_is_an_optional_string_of_at_most_10000_characters() {
    let at_limit = "d".repeat(10_000);
    let parsed = NewTask::parse(&body(json!({ "title": "t", "description": at_limit }))).unwrap();
    assert_eq!(parsed.description.map(|d| d.len()), Some(10_000));
    let null = NewTask::parse(&body(json!({ "title": "t", "description": null }))).unwrap();
    assert_eq!(null.description, None);
    for bad in [json!("d".repeat(10_001)), json!(1), json!(false), json!({})] {
        let result = NewTask::parse(&body(json!({ "title": "t", "description": bad })));
        assert_eq!(field_of(result), "description");
    }
}

#[test]
fn descriptions_follow_the_titles_rule_for_control_characters() {
    // Every C0 control but tab, line feed and carriage return, and DEL: each one costs six
    // bytes in a JSON response (`\u0001`), and NUL cannot be stored at all.
    let refused = ('\0'..='\u{1f}')
        .chain(['\u{7f}'])
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'));
    for c in refused {
        for bad in [
            format!("{c}"),
            format!("a{c}b"),
            c.to_string().repeat(10_000),
        ] {
            let create = NewTask::parse(&body(json!({ "title": "t", "description": bad })));
            assert_eq!(field_of(create), "description", "{c:?}");
            let put = TaskChanges::parse(&body(json!({ "description": bad })));
            assert_eq!(field_of(put), "description", "PUT {c:?}");
        }
    }
    // Kept verbatim, not trimmed: the three a textarea brings, C1 controls, Unicode spaces.
    for kept in ["\tline1\r\nline2\n", "a\u{85}b\u{9f}", "\u{a0}\u{2028} x "] {
        let parsed = NewTask::parse(&body(json!({ "title": "t", "description": kept }))).unwrap();
        assert_eq!(parsed.description.as_deref(), Some(kept));
    }
}

#[test]
fn completed_must_be_a_boolean() {
    for bad in [json!("true"), json!(1), json!(null)] {
        let result = NewTask::parse(&body(json!({ "title": "t", "completed": bad })));
        assert_eq!(field_of(result), "completed");
    }
}

#[test]
fn unknown_fields_are_named_and_server_owned_ones_ignored() {
    let result = NewTask::parse(&body(json!({ "title": "t", "priority": 1 })));
    assert_eq!(field_of(result), "priority");
    let read_back = json!({
        "id": "x", "user_id": "someone-else", "created_at": 1, "updated_at": null,
        "title": "t", "description": null, "completed": true
    });
    assert!(NewTask::parse(&body(read_back.clone())).is_ok());
    assert!(TaskChanges::parse(&body(read_back)).is_ok());
}

#[test]
fn bodies_that_are_not_json_objects_are_invalid_json() {
    for raw in [
        "",
        "   ",
        "not json",
        "[]",
        "[{\"title\":\"t\"}]",
        "\"t\"",
        "null",
        "1",
        "{\"title\":",
    ] {
        assert!(
            matches!(
                NewTask::parse(raw.as_bytes()),
                Err(ApiError::InvalidJson(_))
            ),
            "{raw:?}"
        );
    }
}

#[test]
fn put_keeps_absent_fields_and_clears_a_null_description() {
    let changes = TaskChanges::parse(&body(json!({ "description": null }))).unwrap();
    assert_eq!(
        changes,
        TaskChanges {
            description: Some(None),
            ..Default::default()
        }
    );
    let changes = TaskChanges::parse(&body(json!({ "title": " x ", "completed": true }))).unwrap();
    assert_eq!(
        changes,
        TaskChanges {
            title: Some("x".into()),
            completed: Some(true),
            ..Default::default()
        }
    );
}

#[test]
fn put_that_changes_nothing_is_refused() {
    for empty in [json!({}), json!({ "id": "x", "updated_at": "y" })] {
        assert_eq!(field_of(TaskChanges::parse(&body(empty))), "body");
    }
    assert_eq!(
        field_of(TaskChanges::parse(&body(json!({ "title": "" })))),
        "title"
    );
}

#[test]
fn complete_sets_or_toggles() {
    assert_eq!(Completion::parse(b"").unwrap(), Completion::Toggle);
    assert_eq!(Completion::parse(b" \n").unwrap(), Completion::Toggle);
    assert_eq!(Completion::parse(b"{}").unwrap(), Completion::Toggle);
    assert_eq!(
        Completion::parse(br#"{"completed":true}"#).unwrap(),
        Completion::Set(true)
    );
    assert_eq!(
        Completion::parse(br#"{"completed":false}"#).unwrap(),
        Completion::Set(false)
    );
    assert_eq!(
        field_of(Completion::parse(br#"{"completed":"yes"}"#)),
        "completed"
    );
    assert_eq!(field_of(Completion::parse(br#"{"title":"x"}"#)), "title");
    assert!(matches!(
        Completion::parse(b"[true]"),
        Err(ApiError::InvalidJson(_))
    ));
}

#[test]
fn a_completion_is_a_change_of_completed_only() {
    assert_eq!(
        TaskChanges::from(Completion::Set(false)),
        TaskChanges {
            completed: Some(false),
            ..Default::default()
        }
    );
    assert_eq!(
        TaskChanges::from(Completion::Toggle),
        TaskChanges {
            toggle_completed: true,
            ..Default::default()
        }
    );
}

#[test]
fn etags_are_strong_quoted_versions() {
    assert_eq!(etag(1), "\"v1\"");
    assert_eq!(etag(42), "\"v42\"");
}

#[test]
fn tasks_serialize_with_rfc3339_utc_timestamps() {
    let at = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
    let task = Task {
        id: Uuid::nil(),
        title: "t".into(),
        description: None,
        completed: false,
        user_id: "u".into(),
        created_at: at,
        updated_at: at,
        version: 7,
    };
    let json = serde_json::to_value(&task).unwrap();
    assert!(
        json.get("version").is_none(),
        "the version travels as the ETag only"
    );
    assert_eq!(json["created_at"], "2023-11-14T22:13:20.123456Z");
    assert_eq!(json["description"], Value::Null);
    assert_eq!(json["id"], "00000000-0000-0000-0000-000000000000");
}
