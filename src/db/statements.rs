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
//!
//! Faults: a connection that fails before any statement is sent (refused, reset during the
//! handshake, no answer within [`CONNECT_TIMEOUT`]) is retried once. Once a statement may have
//! been sent nothing is retried, and every write is a single statement, so a write is applied
//! entirely or not at all; clients retry safely with `Idempotency-Key` or `If-Match`.

use std::{future::Future, time::Duration};

use futures_util::future::{self, Either};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{
    config::SslMode,
    error::SqlState,
    types::{ToSql, Type},
    Client, Config as PgConfig, NoTls, Row,
};
use uuid::Uuid;
use worker::{Delay, Env, Hyperdrive};

use crate::{
    auth::Identity,
    config::HYPERDRIVE_BINDING,
    error::ApiError,
    headers::{self, IfMatch},
    list_query::{After, ListQuery, Order},
    pg_socket::PgSocket,
    task::{Completion, NewTask, Task, TaskChanges},
    telemetry::FaultSlot,
};

/// Connects plus statements must finish within this, so a dead or stalled database turns into a
/// JSON 503 well inside two seconds instead of a hanging request.
pub const DB_DEADLINE: Duration = Duration::from_millis(1500);
/// One connection attempt (TCP, startup, authentication). Through Hyperdrive this is a local
/// handshake, normally a few milliseconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Idempotency keys are remembered this long.
const IDEMPOTENCY_WINDOW: &str = "24 hours";

/// The columns every task-returning statement selects, in one place (`concat!` needs a literal).
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at, version"
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
pub async fn with_connection<T, F, Fut>(
    env: &Env,
    faults: &FaultSlot,
    work: F,
) -> Result<T, ApiError>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let exchange = async {
        let hyperdrive = env
            .hyperdrive(HYPERDRIVE_BINDING)
            .map_err(|_| ApiError::Misconfigured("the HYPERDRIVE binding is missing"))?;
        let (client, connection) = match connect(&hyperdrive).await {
            // Nothing was sent yet, so a second connection cannot apply anything twice.
            Err(first) if is_transient(&first) => {
                let connected = connect(&hyperdrive)
                    .await
                    .map_err(|second| retried(&first, second))?;
                if let Some(cause) = first.log_cause() {
                    faults.replace(Some(("database_connect_retried", cause.to_owned())));
                }
                connected
            }
            other => other?,
        };
        // `work` owns the client and drops it when done, which makes `connection` send
        // Terminate and finish: joining the two closes the connection before we return. A
        // connection error surfaces through the work's own result (the request's log line).
        let (result, _closed) = future::join(work(client), connection).await;
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

type Connection = tokio_postgres::Connection<PgSocket, NoTlsStream>;

/// One connection attempt, bounded by [`CONNECT_TIMEOUT`].
async fn connect(hyperdrive: &Hyperdrive) -> Result<(Client, Connection), ApiError> {
    let attempt = async {
        let mut config = PgConfig::new();
        config
            .user(hyperdrive.user())
            .password(hyperdrive.password())
            .dbname(hyperdrive.database())
            // Hyperdrive speaks plain TCP to the worker and TLS to the origin.
            .ssl_mode(SslMode::Disable);
        let socket = PgSocket::connect(hyperdrive)
            .map_err(|err| ApiError::DatabaseUnavailable(format!("connect: socket: {err}")))?;
        config.connect_raw(socket, NoTls).await.map_err(|err| {
            let mut err = classify(err);
            if let ApiError::DatabaseUnavailable(cause) = &mut err {
                cause.insert_str(0, "connect: ");
            }
            err
        })
    };
    let timeout = Delay::from(CONNECT_TIMEOUT);
    match future::select(std::pin::pin!(attempt), timeout).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::DatabaseUnavailable(format!(
            "connect: no answer within {} ms",
            CONNECT_TIMEOUT.as_millis()
        ))),
    }
}

/// A failed connection attempt worth one more try: the server was unreachable or went away,
/// not a refusal such as bad credentials (SQLSTATE 28) or a missing database (3D).
fn is_transient(err: &ApiError) -> bool {
    matches!(err, ApiError::DatabaseUnavailable(_))
}

fn retried(first: &ApiError, second: ApiError) -> ApiError {
    match (first, second) {
        (ApiError::DatabaseUnavailable(first), ApiError::DatabaseUnavailable(second)) => {
            ApiError::DatabaseUnavailable(format!("{second} (retried after: {first})"))
        }
        (_, second) => second,
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
        version: row.try_get("version").map_err(read)?,
    })
}

fn one_task(row: Option<Row>) -> Result<Task, ApiError> {
    row.as_ref()
        .map(task_from)
        .unwrap_or(Err(ApiError::TaskNotFound))
}

/// Reads the result of a conditional write (see [`conditional_write!`]): no row is a missing
/// task, a row without the written task failed `If-Match`; otherwise the written row.
fn written_row(row: Option<Row>) -> Result<Row, ApiError> {
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
        etag: headers::etag(current),
    })
}

fn written_task(row: Option<Row>) -> Result<Task, ApiError> {
    task_from(&written_row(row)?)
}

/// Wraps a write of the task `$1` owned by `$2` so that it happens only when the task's version
/// is one of `$3` (`null` = any), in one statement that also tells the three outcomes apart:
/// no row (no such task), a row with a null `id` (the version did not match; `current_version`
/// is the task's version), or the written row. `target` locks the row first, so the version
/// checked and reported is the latest committed one even under concurrent writes.
macro_rules! conditional_write {
    ($write:expr) => {
        concat!(
            "with target as (
                select id as target_id, version as current_version from tasks
                where id = $1 and user_id = $2
                for update
            ), written as (",
            $write,
            ") select target.current_version, written.* from target left join written on true"
        )
    };
}

/// Answers the health check.
pub async fn ping(client: &Client) -> Result<(), ApiError> {
    client.simple_query("select 1").await.map_err(classify)?;
    Ok(())
}

/// One page of a list.
pub struct Page {
    pub tasks: Vec<Task>,
    /// Whether more tasks follow the last one.
    pub more: bool,
}

/// One page of the user's tasks, filtered, ordered and started after the cursor's position.
/// Only the whitelisted column and direction of `query.sort`/`query.order` are spliced into
/// the text; every value is a parameter. Each sort has an index led by `user_id` whose order
/// matches (scanned backwards for the other direction), and the keyset condition is a row
/// comparison on it, so a page costs the same wherever it starts.
pub async fn list_tasks(
    client: &Client,
    user_id: &str,
    query: &ListQuery,
) -> Result<Page, ApiError> {
    let column = query.sort.as_str();
    let (direction, comparison) = match query.order {
        Order::Asc => ("asc", ">"),
        Order::Desc => ("desc", "<"),
    };
    let keyset = match query.after {
        Some(_) => format!(" and ({column}, id) {comparison} ($5, $6)"),
        None => String::new(),
    };
    let statement = format!(
        concat!(
            "select ",
            task_columns!(),
            " from tasks
            where user_id = $1
                and ($2::bool is null or completed = $2)
                and ($3::text is null or title ilike $3 or description ilike $3){}
            order by {} {}, id {}
            limit $4"
        ),
        keyset, column, direction, direction
    );
    let pattern = query.like_pattern();
    let fetch = i64::from(query.page_size()) + 1;
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&user_id, Type::TEXT),
        (&query.completed, Type::BOOL),
        (&pattern, Type::TEXT),
        (&fetch, Type::INT8),
    ];
    match &query.after {
        Some(After::Time(at, id)) => {
            params.push((at, Type::TIMESTAMPTZ));
            params.push((id, Type::UUID));
        }
        Some(After::Title(title, id)) => {
            params.push((title, Type::TEXT));
            params.push((id, Type::UUID));
        }
        None => {}
    }
    let rows = client
        .query_typed(&statement, &params)
        .await
        .map_err(classify)?;
    let mut tasks = rows.iter().map(task_from).collect::<Result<Vec<_>, _>>()?;
    let page_size = usize::try_from(query.page_size()).unwrap_or(usize::MAX);
    let more = tasks.len() > page_size;
    tasks.truncate(page_size);
    Ok(Page { tasks, more })
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

/// What a create returned: the task, and whether it is the replay of an earlier create with the
/// same `Idempotency-Key`.
pub struct Created {
    pub task: Task,
    pub replayed: bool,
}

/// Creates a task, creating or updating the owner's `users` row in the same statement. With an
/// idempotency key, a live key of this user returns the task it created instead (or
/// [`ApiError::IdempotencyKeyReused`] when the request differs).
pub async fn insert_task(
    client: &Client,
    who: &Identity,
    task: &NewTask,
    idempotency_key: Option<&str>,
) -> Result<Created, ApiError> {
    let Some(key) = idempotency_key else {
        let statement = with_user_sync!(
            "insert into tasks (user_id, title, description, completed)
             select $1, $3, $4, $5 from (select count(*) from synced) as s
             returning ",
            task_columns!()
        );
        let params: [(&(dyn ToSql + Sync), Type); 5] = [
            (&who.user_id, Type::TEXT),
            (&who.email, Type::TEXT),
            (&task.title, Type::TEXT),
            (&task.description, Type::TEXT),
            (&task.completed, Type::BOOL),
        ];
        let row = query_retrying_email_race(client, statement, &params).await?;
        let task = one_task(row)?;
        return Ok(Created {
            task,
            replayed: false,
        });
    };

    // Claims the key and inserts the task in one statement; when the key is live (a replay, or
    // a concurrent duplicate that committed first) nothing is inserted and no row comes back.
    // Expired keys are reclaimed in place, and up to 100 expired keys of any user are swept.
    let statement = with_user_sync!(
        ", swept as (
            delete from idempotency_keys where ctid in (
                select ctid from idempotency_keys
                where created_at < now() - $7::interval and not (user_id = $1 and key = $6)
                limit 100
                for update skip locked
            )
        ), claimed as (
            insert into idempotency_keys (user_id, key, title, description, completed, task_id)
            select $1, $6, $3, $4, $5, gen_random_uuid() from (select count(*) from synced) as s
            on conflict (user_id, key) do update set
                title = excluded.title, description = excluded.description,
                completed = excluded.completed, task_id = excluded.task_id, created_at = now()
            where idempotency_keys.created_at < now() - $7::interval
            returning task_id
        ) insert into tasks (id, user_id, title, description, completed)
        select task_id, $1, $3, $4, $5 from claimed
        returning ",
        task_columns!()
    );
    let params: [(&(dyn ToSql + Sync), Type); 7] = [
        (&who.user_id, Type::TEXT),
        (&who.email, Type::TEXT),
        (&task.title, Type::TEXT),
        (&task.description, Type::TEXT),
        (&task.completed, Type::BOOL),
        (&key, Type::TEXT),
        (&IDEMPOTENCY_WINDOW, Type::TEXT),
    ];
    if let Some(row) = query_retrying_email_race(client, statement, &params).await? {
        return Ok(Created {
            task: task_from(&row)?,
            replayed: false,
        });
    }
    let stored = client
        .query_typed_opt(
            "select task_id, user_id, title, description, completed, created_at
             from idempotency_keys where user_id = $1 and key = $2",
            &[(&who.user_id, Type::TEXT), (&key, Type::TEXT)],
        )
        .await
        .map_err(classify)?
        // The live key vanished between the two statements: it had just expired and been
        // swept. Rare enough to ask the client to retry, which then creates.
        .ok_or_else(|| {
            ApiError::DatabaseUnavailable("idempotency key expired during a replay".into())
        })?;
    replay(&stored, task)
}

/// The original response of a create, rebuilt from its idempotency key, if `task` is the same
/// request.
fn replay(stored: &Row, task: &NewTask) -> Result<Created, ApiError> {
    let read = |err: tokio_postgres::Error| {
        ApiError::Internal(format!("reading an idempotency key: {err}"))
    };
    let original = NewTask {
        title: stored.try_get("title").map_err(read)?,
        description: stored.try_get("description").map_err(read)?,
        completed: stored.try_get("completed").map_err(read)?,
    };
    if &original != task {
        return Err(ApiError::IdempotencyKeyReused);
    }
    let created_at = stored.try_get("created_at").map_err(read)?;
    Ok(Created {
        task: Task {
            id: stored.try_get("task_id").map_err(read)?,
            user_id: stored.try_get("user_id").map_err(read)?,
            title: original.title,
            description: original.description,
            completed: original.completed,
            created_at,
            // The task and its key were written by one statement: same `now()`, version 1.
            updated_at: created_at,
            version: 1,
        },
        replayed: true,
    })
}

/// Two users racing for one email can still collide on the unique index; the statement failed
/// as a whole, so running it once more is safe and then sees the winner's row.
async fn query_retrying_email_race(
    client: &Client,
    statement: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Option<Row>, ApiError> {
    match client.query_typed_opt(statement, params).await {
        Err(err) if is_email_conflict(&err) => client.query_typed_opt(statement, params).await,
        other => other,
    }
    .map_err(classify)
}

/// Applies a PUT if the version matches. Absent fields keep their value; `updated_at` and
/// `version` are moved by triggers.
pub async fn update_task(
    client: &Client,
    user_id: &str,
    id: Uuid,
    changes: &TaskChanges,
    if_match: Option<&IfMatch>,
) -> Result<Task, ApiError> {
    let (set_description, description) = match &changes.description {
        Some(value) => (true, value.as_deref()),
        None => (false, None),
    };
    let versions = if_match.and_then(IfMatch::versions);
    let row = client
        .query_typed_opt(
            conditional_write!(concat!(
                "update tasks set
                    title = coalesce($4, title),
                    description = case when $5 then $6 else description end,
                    completed = coalesce($7, completed)
                from target
                where tasks.id = target.target_id
                    and ($3::int8[] is null or tasks.version = any($3::int8[]))
                returning ",
                task_columns!()
            )),
            &[
                (&id, Type::UUID),
                (&user_id, Type::TEXT),
                (&versions, Type::INT8_ARRAY),
                (&changes.title, Type::TEXT),
                (&set_description, Type::BOOL),
                (&description, Type::TEXT),
                (&changes.completed, Type::BOOL),
            ],
        )
        .await
        .map_err(classify)?;
    written_task(row)
}

/// Sets or toggles `completed` if the version matches.
pub async fn complete_task(
    client: &Client,
    user_id: &str,
    id: Uuid,
    completion: Completion,
    if_match: Option<&IfMatch>,
) -> Result<Task, ApiError> {
    let versions = if_match.and_then(IfMatch::versions);
    let row = client
        .query_typed_opt(
            conditional_write!(concat!(
                "update tasks set completed = coalesce($4, not completed)
                from target
                where tasks.id = target.target_id
                    and ($3::int8[] is null or tasks.version = any($3::int8[]))
                returning ",
                task_columns!()
            )),
            &[
                (&id, Type::UUID),
                (&user_id, Type::TEXT),
                (&versions, Type::INT8_ARRAY),
                (&completion.as_option(), Type::BOOL),
            ],
        )
        .await
        .map_err(classify)?;
    written_task(row)
}

/// Deletes the task if the version matches.
pub async fn delete_task(
    client: &Client,
    user_id: &str,
    id: Uuid,
    if_match: Option<&IfMatch>,
) -> Result<(), ApiError> {
    let versions = if_match.and_then(IfMatch::versions);
    let row = client
        .query_typed_opt(
            conditional_write!(
                "delete from tasks using target
                where tasks.id = target.target_id
                    and ($3::int8[] is null or tasks.version = any($3::int8[]))
                returning tasks.id"
            ),
            &[
                (&id, Type::UUID),
                (&user_id, Type::TEXT),
                (&versions, Type::INT8_ARRAY),
            ],
        )
        .await
        .map_err(classify)?;
    written_row(row).map(|_| ())
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
