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
/// The most tasks one user can have; a create beyond it is a 409 `task_limit_reached`. The
/// database enforces it (migration `tasks_per_user_limit`), so it bounds what any statement
/// reading all of a user's tasks (a `q` search) can cost: at most this many titles and
/// descriptions.
pub const MAX_TASKS_PER_USER: u32 = 10_000;
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

/// A title is 1–255 characters as sent, with at least one that is neither whitespace nor a
/// control character. Tab, line feed and carriage return may appear inside it and are stored
/// verbatim; every other ASCII control character (NUL included) is refused. Leading and trailing
/// whitespace of every kind ([`char::is_whitespace`]: spaces, tabs, line breaks, Unicode spaces)
/// is trimmed. Every part of this rule is one the OpenAPI document states as a pattern
/// ([`crate::openapi`]), and a test runs both on the same samples, so the two cannot disagree.
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
    if raw.chars().any(is_refused_control) {
        return Err(ApiError::validation(
            "title",
            "title must not contain control characters other than tab, line feed and carriage return",
        ));
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ApiError::validation("title", "title must not be empty"));
    }
    Ok(trimmed.to_owned())
}

/// The ASCII control characters a title or a description may not hold: all but tab, line feed
/// and carriage return, which a textarea or a paste brings along. NUL is among them (PostgreSQL
/// text cannot hold it); so is every character JSON must escape as `\u00XX`, six bytes on the
/// wire for one stored, which is why descriptions follow the title's rule. C1 controls
/// (U+0080–U+009F) are allowed in both, as printable text's neighbours in Unicode.
fn is_refused_control(c: char) -> bool {
    c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// A description is `null` or up to 10,000 characters, stored verbatim (not trimmed), under the
/// title's rule for control characters ([`is_refused_control`]).
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
            if text.chars().any(is_refused_control) {
                return Err(ApiError::validation(
                    "description",
                    "description must not contain control characters other than tab, line feed and carriage return",
                ));
            }
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

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
