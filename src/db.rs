//! All SQL lives here: one function per statement, each parameterized and scoped by owner.
//!
//! Statements go through `query_typed*`: an unnamed statement with declared parameter types,
//! sent in one round trip. That avoids prepare-then-execute (two round trips) and named
//! prepared statements, which transaction-mode poolers do not keep.
//!
//! A connection belongs to the request that opened it (Workers forbid I/O objects shared across
//! requests; Hyperdrive is the pool). [`with_connection`] opens it only when a handler has
//! passed auth and validation, drives it alongside the work, closes it before the request ends,
//! and bounds the whole exchange by [`DB_DEADLINE`].

use std::{future::Future, time::Duration};

use futures_util::future::{self, Either};
use tokio_postgres::{
    config::SslMode, error::SqlState, types::Type, Client, Config as PgConfig, NoTls, Row,
};
use uuid::Uuid;
use worker::{Delay, Env};

use crate::{
    auth::Identity,
    config::HYPERDRIVE_BINDING,
    error::ApiError,
    task::{Completion, NewTask, Task, TaskChanges},
};

/// Connect plus statements must finish within this, so a dead or stalled database turns into a
/// JSON 500 well inside two seconds instead of a hanging request.
pub const DB_DEADLINE: Duration = Duration::from_millis(1500);

/// The columns every task-returning statement selects, in one place (`concat!` needs a literal).
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at"
    };
}

/// Keeps the `users` row in step with the token inside the same statement as the write that
/// needs it (no extra round trip). The identity provider owns emails: when this user presents an
/// email another id holds, that id gives it up first. `(select count(*) from released)` forces
/// `released` to run before the upsert, so the unique index never sees both at once.
/// Parameters: `$1` user id, `$2` email (nullable).
macro_rules! with_user_sync {
    ($($statement:expr),+) => {
        concat!(
            "with released as (
                update users set email = null
                where $2::text is not null and lower(email) = lower($2::text) and id <> $1
                returning 1
            ), synced as (
                insert into users (id, email)
                select $1, $2::text from (select count(*) from released) as r
                on conflict (id) do update set email = excluded.email
                where excluded.email is not null and users.email is distinct from excluded.email
                returning 1
            ) ",
            $($statement),+
        )
    };
}

/// Runs `work` with a fresh connection through the Hyperdrive binding, within [`DB_DEADLINE`].
pub async fn with_connection<T, F, Fut>(env: &Env, work: F) -> Result<T, ApiError>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let exchange = async {
        let hyperdrive = env
            .hyperdrive(HYPERDRIVE_BINDING)
            .map_err(|_| ApiError::Misconfigured("the HYPERDRIVE binding is missing"))?;
        let mut config = PgConfig::new();
        config
            .user(hyperdrive.user())
            .password(hyperdrive.password())
            .dbname(hyperdrive.database())
            // Hyperdrive speaks plain TCP to the worker and TLS to the origin.
            .ssl_mode(SslMode::Disable);
        let socket = hyperdrive
            .connect()
            .map_err(|err| ApiError::DatabaseUnavailable(format!("socket: {err}")))?;
        let (client, connection) = config.connect_raw(socket, NoTls).await.map_err(classify)?;
        // `work` owns the client and drops it when done, which makes `connection` send
        // Terminate and finish: joining the two closes the connection before we return.
        let (result, closed) = future::join(work(client), connection).await;
        if let Err(err) = closed {
            // The work's own result already reflects a broken connection; note it for the log.
            let line = serde_json::json!({
                "level": "warn",
                "msg": "database connection error",
                "cause": describe(&err),
            });
            worker::console_warn!("{line}");
        }
        result
    };
    let deadline = Delay::from(DB_DEADLINE);
    match future::select(std::pin::pin!(exchange), deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::DatabaseUnavailable(format!(
            "no answer from the database within {} ms",
            DB_DEADLINE.as_millis()
        ))),
    }
}

/// Maps a driver error: connection-level faults are "database unavailable", anything else an
/// internal error. The text (SQLSTATE and message) is for the log only.
pub fn classify(err: tokio_postgres::Error) -> ApiError {
    let detail = describe(&err);
    match err.code() {
        Some(code) if !is_unavailable_state(code) => ApiError::Internal(detail),
        _ => ApiError::DatabaseUnavailable(detail),
    }
}

/// SQLSTATE classes that mean the server, not the statement, is the problem: connection
/// exceptions (08), insufficient resources (53), operator intervention such as an admin
/// shutdown or a cancelled statement (57), system errors (58).
fn is_unavailable_state(code: &SqlState) -> bool {
    ["08", "53", "57", "58"]
        .iter()
        .any(|class| code.code().starts_with(class))
}

fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => err.to_string(),
    }
}

fn is_email_conflict(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("users_email_key")
    })
}

fn task_from(row: &Row) -> Result<Task, ApiError> {
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
    })
}

fn one_task(row: Option<Row>) -> Result<Task, ApiError> {
    row.as_ref()
        .map(task_from)
        .unwrap_or(Err(ApiError::TaskNotFound))
}

/// Answers the health check.
pub async fn ping(client: &Client) -> Result<(), ApiError> {
    client.simple_query("select 1").await.map_err(classify)?;
    Ok(())
}

/// The user's tasks, newest first.
pub async fn list_tasks(client: &Client, user_id: &str) -> Result<Vec<Task>, ApiError> {
    let rows = client
        .query_typed(
            concat!(
                "select ",
                task_columns!(),
                " from tasks where user_id = $1 order by created_at desc, id desc"
            ),
            &[(&user_id, Type::TEXT)],
        )
        .await
        .map_err(classify)?;
    rows.iter().map(task_from).collect()
}

pub async fn get_task(client: &Client, user_id: &str, id: Uuid) -> Result<Task, ApiError> {
    let row = client
        .query_typed_opt(
            concat!(
                "select ",
                task_columns!(),
                " from tasks where id = $1 and user_id = $2"
            ),
            &[(&id, Type::UUID), (&user_id, Type::TEXT)],
        )
        .await
        .map_err(classify)?;
    one_task(row)
}

/// Creates a task, creating or updating the owner's `users` row in the same statement.
pub async fn insert_task(
    client: &Client,
    who: &Identity,
    task: &NewTask,
) -> Result<Task, ApiError> {
    let statement = with_user_sync!(
        "insert into tasks (user_id, title, description, completed)
         select $1, $3, $4, $5 from (select count(*) from synced) as s
         returning ",
        task_columns!()
    );
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 5] = [
        (&who.user_id, Type::TEXT),
        (&who.email, Type::TEXT),
        (&task.title, Type::TEXT),
        (&task.description, Type::TEXT),
        (&task.completed, Type::BOOL),
    ];
    // Two users racing for one email can still collide on the unique index; the statement
    // failed as a whole, so running it once more is safe and then sees the winner's row.
    let row = match client.query_typed_one(statement, &params).await {
        Err(err) if is_email_conflict(&err) => client.query_typed_one(statement, &params).await,
        other => other,
    }
    .map_err(classify)?;
    task_from(&row)
}

/// Applies a PUT. Absent fields keep their value; `updated_at` is moved by the trigger.
pub async fn update_task(
    client: &Client,
    user_id: &str,
    id: Uuid,
    changes: &TaskChanges,
) -> Result<Task, ApiError> {
    let (set_description, description) = match &changes.description {
        Some(value) => (true, value.as_deref()),
        None => (false, None),
    };
    let row = client
        .query_typed_opt(
            concat!(
                "update tasks set
                 title = coalesce($3, title),
                 description = case when $4 then $5 else description end,
                 completed = coalesce($6, completed)
             where id = $1 and user_id = $2
             returning ",
                task_columns!()
            ),
            &[
                (&id, Type::UUID),
                (&user_id, Type::TEXT),
                (&changes.title, Type::TEXT),
                (&set_description, Type::BOOL),
                (&description, Type::TEXT),
                (&changes.completed, Type::BOOL),
            ],
        )
        .await
        .map_err(classify)?;
    one_task(row)
}

/// Sets or toggles `completed`.
pub async fn complete_task(
    client: &Client,
    user_id: &str,
    id: Uuid,
    completion: Completion,
) -> Result<Task, ApiError> {
    let row = client
        .query_typed_opt(
            concat!(
                "update tasks set completed = coalesce($3, not completed)
             where id = $1 and user_id = $2
             returning ",
                task_columns!()
            ),
            &[
                (&id, Type::UUID),
                (&user_id, Type::TEXT),
                (&completion.as_option(), Type::BOOL),
            ],
        )
        .await
        .map_err(classify)?;
    one_task(row)
}

pub async fn delete_task(client: &Client, user_id: &str, id: Uuid) -> Result<(), ApiError> {
    let deleted = client
        .execute_typed(
            "delete from tasks where id = $1 and user_id = $2",
            &[(&id, Type::UUID), (&user_id, Type::TEXT)],
        )
        .await
        .map_err(classify)?;
    if deleted == 0 {
        return Err(ApiError::TaskNotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_sqlstates_mean_unavailable_and_statement_errors_do_not() {
        for code in ["08006", "08001", "53300", "57P01", "57014", "58000"] {
            assert!(is_unavailable_state(&SqlState::from_code(code)), "{code}");
        }
        for code in ["23505", "23514", "42P01", "22021", "40001"] {
            assert!(!is_unavailable_state(&SqlState::from_code(code)), "{code}");
        }
    }
}
