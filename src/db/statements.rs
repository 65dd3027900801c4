//! Every SQL statement, written out whole, and one function per statement taking the request's
//! [`Session`] (its client). Every value is a parameter and every statement is scoped by the
//! owner's user id. Each statement runs through `retrying`: once more if the database rolled
//! it back because of a concurrent one, never otherwise.
//!
//! Statements go through `query_typed*`: an unnamed statement with declared parameter types,
//! sent in one round trip. That avoids prepare-then-execute (two round trips) and named
//! prepared statements, which transaction-mode poolers do not keep.
//!
//! The server gives up on a statement when the request stops waiting for it ([`bounded`]): each
//! runs in a transaction of its own whose `statement_timeout` is what is left of the request's
//! database deadline. A request that answered 503 at its deadline leaves nothing running.

use futures_util::future;
use tokio_postgres::{
    types::{ToSql, Type},
    Client,
};
use uuid::Uuid;

use super::{
    connection::Session,
    faults::{classify, describe, fault, Fault},
    rows,
};
use crate::{
    auth::Identity,
    error::ApiError,
    tasks::{conditional::IfMatch, After, ListQuery, NewTask, Order, Task, TaskChanges},
};

/// Idempotency keys are remembered this long.
const IDEMPOTENCY_WINDOW: &str = "24 hours";

type Params<'a> = [(&'a (dyn ToSql + Sync), Type)];

/// Answers the health check.
pub async fn ping(client: &Session<'_>) -> Result<(), ApiError> {
    retrying(client, async |c| c.simple_query("select 1").await).await?;
    Ok(())
}

/// One page of a list.
pub struct Page {
    pub tasks: Vec<Task>,
    /// Whether more tasks follow the last one.
    pub more: bool,
}

/// One page of the user's tasks, filtered and ordered, and cut at [`PAGE_BYTES`] of JSON.
///
/// `{column}` and `{direction}` are the whitelisted sort column and direction of the query
/// ([`ListQuery`] admits no other values); `{after}` is empty on the first page and the keyset
/// condition on later ones. Each sort has an index led by `user_id` whose order matches (scanned
/// backwards for the other direction), and the keyset condition is a row comparison on it, so a
/// page costs the same wherever it starts.
///
/// `candidates` are the page's rows plus one, to tell whether another page follows. Then the
/// bytes each row takes in the response's JSON are added up in page order: its title and
/// description as PostgreSQL encodes them in JSON (the same escapes as serde_json's), plus `$6`
/// for the rest of the row ([`row_frame_bytes`]). Only rows within the budget `$5` leave the
/// database (the first one always does), so neither the rows, nor the tasks, nor the response
/// the worker holds grow with the page size or with how badly the text escapes.
///
/// Encoding every candidate would cost the database a page's worth of JSON (up to 60 MB of
/// escapes) to send a fraction of it, so the sum runs twice: first over the text's stored
/// lengths, which PostgreSQL knows without reading the text and which escaping only lengthens,
/// to drop the rows that cannot fit; then over the exact JSON of the rows that might.
const LIST_TASKS: &str = "
with candidates as (
    select id, user_id, title, description, completed, created_at, updated_at, version,
        octet_length(title) + coalesce(octet_length(description), 0) + $6 as least_bytes
    from tasks
    where user_id = $1
        and ($2::bool is null or completed = $2)
        and ($3::text is null or title ilike $3 or description ilike $3)
        {after}
    order by {column} {direction}, id {direction}
    limit $4
), counted as (
    select *,
        row_number() over page as position,
        sum(least_bytes) over page as least_running,
        count(*) over () as candidate_count
    from candidates
    window page as (order by {column} {direction}, id {direction}
        rows between unbounded preceding and current row)
), plausible as (
    select *,
        octet_length(to_json(title)::text)
            + coalesce(octet_length(to_json(description)::text), 4) + $6 as json_bytes
    from counted
    where position = 1 or least_running <= $5
), sized as (
    select *, sum(json_bytes) over page as running_bytes
    from plausible
    window page as (order by {column} {direction}, id {direction}
        rows between unbounded preceding and current row)
)
select id, user_id, title, description, completed, created_at, updated_at, version,
    candidate_count
from sized
where position = 1 or running_bytes <= $5
order by {column} {direction}, id {direction}";

/// The keyset condition of [`LIST_TASKS`]: strictly after the previous page's last row.
const AFTER: &str = "and ({column}, id) {comparison} ($7, $8)";

/// A list page's JSON is cut after the task that would take it past this many bytes (a page
/// always holds at least one task, of at most ~62 KB). Requests share one isolate's 128 MB, and
/// a page is held a few times over (rows, tasks, JSON, the runtime's copy); clients that follow
/// `Link` still get every task.
pub const PAGE_BYTES: i64 = 512 * 1024;

/// What one task of `user_id` takes in a list's JSON besides its title and description: the
/// field names, punctuation, id, flag, timestamps, the user id, and the comma after it.
/// `row_frame_bytes_match_serde` checks it against serde_json.
pub fn row_frame_bytes(user_id: &str) -> i64 {
    const FRAME: usize = r#"{"id":"00000000-0000-0000-0000-000000000000","title":,"description":,"completed":false,"user_id":,"created_at":"2026-01-02T03:04:05.123456Z","updated_at":"2026-01-02T03:04:05.123456Z"},"#.len();
    let user_json = serde_json::to_string(user_id).map_or(0, |json| json.len());
    i64::try_from(FRAME + user_json).unwrap_or(i64::MAX)
}

pub async fn list_tasks(
    client: &Session<'_>,
    user_id: &str,
    query: &ListQuery,
) -> Result<Page, ApiError> {
    let column = query.sort.as_str();
    let (direction, comparison) = match query.order {
        Order::Asc => ("asc", ">"),
        Order::Desc => ("desc", "<"),
    };
    let after = match query.after {
        Some(_) => AFTER
            .replace("{column}", column)
            .replace("{comparison}", comparison),
        None => String::new(),
    };
    let statement = LIST_TASKS
        .replace("{after}", &after)
        .replace("{column}", column)
        .replace("{direction}", direction);
    let pattern = query.like_pattern();
    let fetch = i64::from(query.page_size()) + 1;
    let frame = row_frame_bytes(user_id);
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&user_id, Type::TEXT),
        (&query.completed, Type::BOOL),
        (&pattern, Type::TEXT),
        (&fetch, Type::INT8),
        (&PAGE_BYTES, Type::INT8),
        (&frame, Type::INT8),
    ];
    match &query.after {
        Some(After::Time(at, id)) => params.extend([
            (at as &(dyn ToSql + Sync), Type::TIMESTAMPTZ),
            (id, Type::UUID),
        ]),
        Some(After::Title(title, id)) => {
            params.extend([(title as &(dyn ToSql + Sync), Type::TEXT), (id, Type::UUID)])
        }
        None => {}
    }
    let rows = retrying(client, async |c| c.query_typed(&statement, &params).await).await?;
    let candidates = match rows.first() {
        Some(row) => row
            .try_get::<_, i64>("candidate_count")
            .map_err(|err| ApiError::Internal(format!("reading a list's row count: {err}")))?,
        None => 0,
    };
    let mut tasks = rows.iter().map(rows::task).collect::<Result<Vec<_>, _>>()?;
    drop(rows);
    tasks.truncate(usize::try_from(query.page_size()).unwrap_or(usize::MAX));
    // Rows left out — the one past the page, or those past the byte budget — follow.
    let more = i64::try_from(tasks.len()).unwrap_or(i64::MAX) < candidates;
    Ok(Page { tasks, more })
}

/// One task of the user's.
const GET_TASK: &str = "
select id, user_id, title, description, completed, created_at, updated_at, version
from tasks
where id = $1 and user_id = $2";

pub async fn get_task(client: &Session<'_>, user_id: &str, id: Uuid) -> Result<Task, ApiError> {
    let params: &Params = &[(&id, Type::UUID), (&user_id, Type::TEXT)];
    let row = retrying(client, async |c| c.query_typed_opt(GET_TASK, params).await).await?;
    rows::one_task(row)
}

/// Creates a task for `$1` in one statement that also keeps the owner's `users` row in step
/// with the token. The identity provider owns emails, but only a claim it vouches for (`$6`,
/// the token's verified flag) may take an email from another user: then that id gives it up
/// first (`released`). An unverified email (`$6` false) is stored only while no other id
/// holds it (`presented`); otherwise a new row's email stays null and an existing row keeps
/// its own. `(select count(*) from released)` forces `released` to run before the upsert
/// (`synced`), so the unique index never sees both at once; two unverified claims racing for
/// a free email collide on it, and the retry then sees the winner. A create without
/// `Idempotency-Key` never touches `idempotency_keys` (no locks there: its maintenance cannot
/// stall these creates).
const INSERT_TASK: &str = "
with released as (
    update users set email = null
    where $6::bool and $2::text is not null and lower(email) = lower($2::text) and id <> $1
    returning 1
), presented as (
    select case when $6::bool or not exists (
        select 1 from users where lower(email) = lower($2::text) and id <> $1
    ) then $2::text end as email
    from (select count(*) from released) as r
), synced as (
    insert into users (id, email)
    select $1, email from presented
    on conflict (id) do update set email = excluded.email
    where excluded.email is not null and users.email is distinct from excluded.email
    returning 1
)
insert into tasks (user_id, title, description, completed)
select $1, $3, $4, $5 from (select count(*) from synced) as s
returning id, user_id, title, description, completed, created_at, updated_at, version";

/// [`INSERT_TASK`] with an idempotency key (`$7`), claimed in the same statement: up to 100
/// expired keys of any user are swept (`swept`); the key is claimed, or reclaimed in place when
/// expired (`claimed`). When it is live (a replay, or a concurrent duplicate that committed
/// first) `claimed` is empty and nothing is inserted; the task takes the claimed key's id.
const INSERT_TASK_WITH_KEY: &str = "
with released as (
    update users set email = null
    where $6::bool and $2::text is not null and lower(email) = lower($2::text) and id <> $1
    returning 1
), presented as (
    select case when $6::bool or not exists (
        select 1 from users where lower(email) = lower($2::text) and id <> $1
    ) then $2::text end as email
    from (select count(*) from released) as r
), synced as (
    insert into users (id, email)
    select $1, email from presented
    on conflict (id) do update set email = excluded.email
    where excluded.email is not null and users.email is distinct from excluded.email
    returning 1
), swept as (
    delete from idempotency_keys where ctid in (
        select ctid from idempotency_keys
        where created_at < now() - $8::interval and not (user_id = $1 and key = $7)
        limit 100
        for update skip locked
    )
), claimed as (
    insert into idempotency_keys (user_id, key, title, description, completed, task_id)
    select $1, $7, $3, $4, $5, gen_random_uuid() from (select count(*) from synced) as s
    on conflict (user_id, key) do update set
        title = excluded.title, description = excluded.description,
        completed = excluded.completed, task_id = excluded.task_id, created_at = now()
    where idempotency_keys.created_at < now() - $8::interval
    returning task_id
)
insert into tasks (id, user_id, title, description, completed)
select task_id, $1, $3, $4, $5 from claimed
returning id, user_id, title, description, completed, created_at, updated_at, version";

/// The task a live idempotency key created, in the task's columns. The task and its key were
/// written by one statement: the same `now()`, version 1.
const CREATED_BY_KEY: &str = "
select task_id as id, user_id, title, description, completed, created_at,
    created_at as updated_at, 1::int8 as version
from idempotency_keys
where user_id = $1 and key = $2";

/// What a create returned: the task, and whether it is the replay of an earlier create with the
/// same `Idempotency-Key`.
pub struct Created {
    pub task: Task,
    pub replayed: bool,
}

/// Creates a task. With an idempotency key, a live key of this user returns the task it
/// created instead (or [`ApiError::IdempotencyKeyReused`] when the request differs).
pub async fn insert_task(
    client: &Session<'_>,
    who: &Identity,
    task: &NewTask,
    idempotency_key: Option<&str>,
) -> Result<Created, ApiError> {
    let common: [(&(dyn ToSql + Sync), Type); 6] = [
        (&who.user_id, Type::TEXT),
        (&who.email, Type::TEXT),
        (&task.title, Type::TEXT),
        (&task.description, Type::TEXT),
        (&task.completed, Type::BOOL),
        (&who.email_verified, Type::BOOL),
    ];
    let Some(key) = idempotency_key else {
        let row = retrying(client, async |c| {
            c.query_typed_opt(INSERT_TASK, &common).await
        })
        .await?;
        return Ok(Created {
            task: rows::one_task(row)?,
            replayed: false,
        });
    };
    let mut params = common.to_vec();
    params.extend([
        (&key as &(dyn ToSql + Sync), Type::TEXT),
        (&IDEMPOTENCY_WINDOW, Type::TEXT),
    ]);
    let claimed = async |c: &Client| c.query_typed_opt(INSERT_TASK_WITH_KEY, &params).await;
    if let Some(row) = retrying(client, claimed).await? {
        return Ok(Created {
            task: rows::task(&row)?,
            replayed: false,
        });
    }
    // No row: the key is live.
    let by_key: &Params = &[(&who.user_id, Type::TEXT), (&key, Type::TEXT)];
    let row = retrying(client, async |c| {
        c.query_typed_opt(CREATED_BY_KEY, by_key).await
    })
    .await?
    // The live key vanished between the two statements: it had just expired and been
    // swept. Rare enough to ask the client to retry, which then creates.
    .ok_or_else(|| {
        ApiError::DatabaseUnavailable("idempotency key expired during a replay".into())
    })?;
    let original = rows::task(&row)?;
    let same_request = original.title == task.title
        && original.description == task.description
        && original.completed == task.completed;
    if !same_request {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Ok(Created {
        task: original,
        replayed: true,
    })
}

/// Runs one statement (`run`), and once more if the server rolled it back because of a
/// concurrent statement ([`Fault::RolledBack`]: a deadlock, a serialization failure, or two
/// users racing for one email on its unique index). A statement that failed so was not applied
/// at all, so running it again is safe, and the second run sees what the other one committed.
/// Only once: a second such failure is a 503 `database_conflict`. A retry is noted for the log
/// line, as `database_statement_retried` when the second run succeeds, in the cause otherwise.
async fn retrying<T>(
    client: &Session<'_>,
    run: impl AsyncFn(&Client) -> Result<T, tokio_postgres::Error>,
) -> Result<T, ApiError> {
    let first = match bounded(client, &run).await {
        Err(err) if fault(&err) == Fault::RolledBack => describe(&err),
        other => return other.map_err(classify),
    };
    match bounded(client, &run).await {
        Ok(value) => {
            client
                .faults()
                .replace(Some(("database_statement_retried", first)));
            Ok(value)
        }
        Err(second) => {
            let mut err = classify(second);
            if let ApiError::DatabaseUnavailable(cause)
            | ApiError::DatabaseConflict(cause)
            | ApiError::Internal(cause) = &mut err
            {
                cause.push_str(&format!(" (retried after: {first})"));
            }
            Err(err)
        }
    }
}

/// Sets, for the rest of the transaction it runs in, the statement timeout and how long the
/// transaction may sit idle: should the rest of it never arrive (an isolate that died while
/// sending), the server ends the session instead of holding its locks and its connection.
const SET_STATEMENT_TIMEOUT: &str = "select set_config('statement_timeout', $1, true), \
    set_config('idle_in_transaction_session_timeout', $1, true)";

/// Runs `run` so that the server stops it once the session's statement timeout has passed:
/// `begin`, the timeout set for this transaction alone, the statement, `commit`. Poolers in
/// transaction mode (Hyperdrive, PgBouncer) keep a transaction on one server connection and
/// reset it after, so the setting can neither miss the statement nor outlive it, which a
/// session-level `set` would do either way. The four are sent together (tokio-postgres
/// pipelines requests polled together, in order), so they cost one round trip, as the
/// statement alone did. A statement that fails leaves the transaction aborted, and `commit`
/// then rolls it back; the statement's own error is the one returned.
async fn bounded<T>(
    session: &Session<'_>,
    run: &impl AsyncFn(&Client) -> Result<T, tokio_postgres::Error>,
) -> Result<T, tokio_postgres::Error> {
    let client = session.client();
    let Some(timeout) = session.statement_timeout() else {
        return run(client).await;
    };
    let millis = timeout.as_millis().to_string();
    let limit: &Params = &[(&millis, Type::TEXT)];
    let (begun, limited, result, committed) = future::join4(
        client.batch_execute("begin"),
        client.query_typed(SET_STATEMENT_TIMEOUT, limit),
        run(client),
        client.batch_execute("commit"),
    )
    .await;
    begun?;
    limited?;
    let value = result?;
    committed?;
    Ok(value)
}

/// Changes the task `$1` of user `$2` if its version is one of `$3` (`null` = any), in one
/// statement that tells the three outcomes apart ([`rows::written`]): no row (no such task), a
/// row with a null `id` (the version did not match; `current_version` is the task's version),
/// or the written row. `target` locks the row first, so the version checked and reported is
/// the latest committed one even under concurrent writes. Absent fields keep their value
/// (`$5` says whether to set the description); `$8` toggles `completed`. `updated_at` and
/// `version` are moved by triggers.
const UPDATE_TASK: &str = "
with target as (
    select id as target_id, version as current_version
    from tasks where id = $1 and user_id = $2 for update
), written as (
    update tasks set
        title = coalesce($4, title),
        description = case when $5 then $6 else description end,
        completed = case when $8 then not completed else coalesce($7, completed) end
    from target
    where tasks.id = target.target_id
        and ($3::int8[] is null or tasks.version = any($3::int8[]))
    returning id, user_id, title, description, completed, created_at, updated_at, version
)
select target.current_version, written.* from target left join written on true";

/// Applies a PUT or a PATCH …/complete if the version matches.
pub async fn update_task(
    client: &Session<'_>,
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
    let params: &Params = &[
        (&id, Type::UUID),
        (&user_id, Type::TEXT),
        (&versions, Type::INT8_ARRAY),
        (&changes.title, Type::TEXT),
        (&set_description, Type::BOOL),
        (&description, Type::TEXT),
        (&changes.completed, Type::BOOL),
        (&changes.toggle_completed, Type::BOOL),
    ];
    let row = retrying(client, async |c| {
        c.query_typed_opt(UPDATE_TASK, params).await
    })
    .await?;
    rows::task(&rows::written(row)?)
}

/// Deletes the task `$1` of user `$2` if its version is one of `$3`; the outcomes are told
/// apart as for [`UPDATE_TASK`].
const DELETE_TASK: &str = "
with target as (
    select id as target_id, version as current_version
    from tasks where id = $1 and user_id = $2 for update
), deleted as (
    delete from tasks using target
    where tasks.id = target.target_id
        and ($3::int8[] is null or tasks.version = any($3::int8[]))
    returning tasks.id
)
select target.current_version, deleted.id from target left join deleted on true";

/// Deletes the task if the version matches.
pub async fn delete_task(
    client: &Session<'_>,
    user_id: &str,
    id: Uuid,
    if_match: Option<&IfMatch>,
) -> Result<(), ApiError> {
    let versions = if_match.and_then(IfMatch::versions);
    let params: &Params = &[
        (&id, Type::UUID),
        (&user_id, Type::TEXT),
        (&versions, Type::INT8_ARRAY),
    ];
    let row = retrying(client, async |c| {
        c.query_typed_opt(DELETE_TASK, params).await
    })
    .await?;
    rows::written(row).map(drop)
}

#[cfg(test)]
#[path = "statements_tests.rs"]
mod tests;
