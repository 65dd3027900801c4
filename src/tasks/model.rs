//! Tasks: the JSON the API returns, its ETag, and the validated inputs it accepts (pure,
//! host-tested).
//!
//! Bodies are parsed to a `serde_json` object first and then field by field, so every error can
//! name the field it is about and unknown fields are reported by name. The server-owned fields
//! (`id`, `user_id`, `created_at`, `updated_at`) are accepted and ignored, so a client can PUT
//! back an object it read.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;

pub const MAX_TITLE_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Larger request bodies are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub const SERVER_OWNED: [&str; 4] = ["id", "user_id", "created_at", "updated_at"];

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub user_id: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// The row version, bumped on every update: the ETag, not part of the JSON.
    #[serde(skip)]
    pub version: i64,
}

/// The strong ETag of a task at `version` (`tasks.version`, bumped by a trigger on every
/// update): it changes whenever any byte of the task's JSON can.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// RFC 3339 in UTC with microseconds (PostgreSQL's precision), e.g. `2026-01-02T03:04:05.123456Z`.
fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// A validated `POST` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
}

/// A validated change of a task: a `PUT` body, where `None` keeps a field and `Some` sets it
/// (`Some(None)` clears the description), or a `PATCH …/complete` ([`Completion`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    /// Flip `completed` (a `PATCH …/complete` without a value; never set by a `PUT`).
    pub toggle_completed: bool,
}

/// What `PATCH …/complete` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Set(bool),
    Toggle,
}

impl Completion {
    /// `{"completed": bool}` sets the flag; an empty body (or `{}`) toggles it.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Completion::Toggle);
        }
        let fields = parse_object(body)?;
        check_fields(&fields, &["completed"])?;
        Ok(match fields.get("completed") {
            Some(value) => Completion::Set(completed(value)?),
            None => Completion::Toggle,
        })
    }
}

impl From<Completion> for TaskChanges {
    fn from(completion: Completion) -> Self {
        match completion {
            Completion::Set(value) => TaskChanges {
                completed: Some(value),
                ..TaskChanges::default()
            },
            Completion::Toggle => TaskChanges {
                toggle_completed: true,
                ..TaskChanges::default()
            },
        }
    }
}

impl NewTask {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let fields = parse_object(body)?;
        check_fields(&fields, &["title", "description", "completed"])?;
        let title = match fields.get("title") {
            Some(value) => title(value)?,
            None => return Err(ApiError::validation("title", "title is required")),
        };
        Ok(NewTask {
            title,
            description: fields
                .get("description")
                .map(description)
                .transpose()?
                .flatten(),
            completed: fields
                .get("completed")
                .map(completed)
                .transpose()?
                .unwrap_or(false),
        })
    }
}

impl TaskChanges {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let fields = parse_object(body)?;
        check_fields(&fields, &["title", "description", "completed"])?;
        let changes = TaskChanges {
            title: fields.get("title").map(title).transpose()?,
            description: fields.get("description").map(description).transpose()?,
            completed: fields.get("completed").map(completed).transpose()?,
            toggle_completed: false,
        };
        if changes == TaskChanges::default() {
            return Err(ApiError::validation(
                "body",
                "the body changes nothing: give at least one of title, description, completed",
            ));
        }
        Ok(changes)
    }
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson(
            "the body is empty; send a JSON object".into(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::InvalidJson(
            "the body must be a JSON object".into(),
        )),
        Err(err) => Err(ApiError::InvalidJson(err.to_string())),
    }
}

/// Refuses any field that is neither `allowed` nor server-owned, naming it.
fn check_fields(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match fields
        .keys()
        .find(|key| !allowed.contains(&key.as_str()) && !SERVER_OWNED.contains(&key.as_str()))
    {
        Some(unknown) => {
            let shown: String = unknown.chars().take(64).collect();
            Err(ApiError::validation(
                shown.clone(),
                format!("unknown field `{shown}`"),
            ))
        }
        None => Ok(()),
    }
}

/// A title is 1–255 characters as sent, on one line (no control characters), with at least one
/// that is not whitespace; it is stored trimmed. Every part of this rule is one the OpenAPI
/// document can state ([`crate::openapi`]), so the two cannot disagree.
fn title(value: &Value) -> Result<String, ApiError> {
    let raw = value
        .as_str()
        .ok_or_else(|| ApiError::validation("title", "title must be a string"))?;
    if raw.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::validation(
            "title",
            format!("title must be at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    if raw.chars().any(|c| c.is_ascii_control()) {
        return Err(ApiError::validation(
            "title",
            "title must be a single line without control characters",
        ));
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ApiError::validation("title", "title must not be empty"));
    }
    Ok(trimmed.to_owned())
}

fn description(value: &Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => {
            if text.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(ApiError::validation(
                    "description",
                    format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
                ));
            }
            no_nul("description", text)?;
            Ok(Some(text.clone()))
        }
        _ => Err(ApiError::validation(
            "description",
            "description must be a string or null",
        )),
    }
}

fn completed(value: &Value) -> Result<bool, ApiError> {
    value
        .as_bool()
        .ok_or_else(|| ApiError::validation("completed", "completed must be a boolean"))
}

/// PostgreSQL text cannot hold U+0000; refuse it here rather than fail in the database.
fn no_nul(field: &'static str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::validation(
            field,
            format!("{field} must not contain NUL characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
    fn titles_are_one_line_without_control_characters() {
        for bad in ["a\nb", "tab\there", "bell\u{7}", "del\u{7f}", "\u{1c}"] {
            assert_eq!(
                field_of(NewTask::parse(&body(json!({ "title": bad })))),
                "title",
                "{bad:?}"
            );
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
        let parsed =
            NewTask::parse(&body(json!({ "title": "t", "description": at_limit }))).unwrap();
        assert_eq!(parsed.description.map(|d| d.len()), Some(10_000));
        let null = NewTask::parse(&body(json!({ "title": "t", "description": null }))).unwrap();
        assert_eq!(null.description, None);
        for bad in [json!("d".repeat(10_001)), json!(1), json!(false), json!({})] {
            let result = NewTask::parse(&body(json!({ "title": "t", "description": bad })));
            assert_eq!(field_of(result), "description");
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
        let changes =
            TaskChanges::parse(&body(json!({ "title": " x ", "completed": true }))).unwrap();
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
}
