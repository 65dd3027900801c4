//! The one row reader: every statement that returns a task selects its eight columns by name,
//! and its row becomes a [`Task`] here.

use tokio_postgres::Row;
use uuid::Uuid;

use crate::{
    error::ApiError,
    tasks::{etag, Task},
};

/// A row with the task's columns, as a [`Task`].
pub fn task(row: &Row) -> Result<Task, ApiError> {
    let read =
        |err: tokio_postgres::Error| ApiError::Internal(format!("reading a task row: {err}"));
    Ok(Task {
        id: row.try_get("id").map_err(read)?,
        user_id: row.try_get("user_id").map_err(read)?,
        title: row.try_get("title").map_err(read)?,
        description: row.try_get("description").map_err(read)?,
        completed: row.try_get("completed").map_err(read)?,
        created_at: row.try_get("created_at").map_err(read)?,
        updated_at: row.try_get("updated_at").map_err(read)?,
        version: row.try_get("version").map_err(read)?,
    })
}

/// At most one task row; none is a missing task.
pub fn one_task(row: Option<Row>) -> Result<Task, ApiError> {
    row.as_ref()
        .map(task)
        .unwrap_or(Err(ApiError::TaskNotFound))
}

/// The result of a conditional write: no row is a missing task, a row whose `id` is null failed
/// `If-Match` (`current_version` is the task's version); otherwise the written row.
pub fn written(row: Option<Row>) -> Result<Row, ApiError> {
    let row = row.ok_or(ApiError::TaskNotFound)?;
    let read = |err: tokio_postgres::Error| {
        ApiError::Internal(format!("reading a conditional write's result: {err}"))
    };
    let written: Option<Uuid> = row.try_get("id").map_err(read)?;
    if written.is_some() {
        return Ok(row);
    }
    let current: i64 = row.try_get("current_version").map_err(read)?;
    Err(ApiError::PreconditionFailed {
        etag: etag(current),
    })
}
