//! The retry rule ([`retrying`]), on a scripted server (`db::test_server`).

use super::*;
use crate::{
    db::test_server::{self, Reply},
    error::FaultSlot,
};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Runs one statement through [`retrying`] against `replies`; returns the outcome, what the
/// log line got, and how many statements reached the server.
fn retried(
    replies: Vec<Reply>,
) -> (
    Result<usize, ApiError>,
    Option<(&'static str, String)>,
    usize,
) {
    let ((result, noted), state) = test_server::run(replies, async |client| {
        let faults = FaultSlot::default();
        let session = Session::new(client, &faults);
        let result = retrying(&session, async |c| c.query_typed("select 1", &[]).await).await;
        (result.map(|rows| rows.len()), faults.take())
    });
    // The startup is the server's first request.
    let statements = state.borrow().requests - 1;
    (result, noted, statements)
}

fn answer() -> Reply {
    Reply::Send(test_server::rows(&["title"], &[&["a"]]))
}

fn refusal(sqlstate: &str, constraint: Option<&str>) -> Reply {
    Reply::Send(test_server::error(sqlstate, constraint))
}

#[test]
fn a_statement_rolled_back_by_a_concurrent_one_is_run_once_more() {
    for (code, constraint) in [
        ("40P01", None),
        ("40001", None),
        ("23505", Some("users_email_key")),
    ] {
        let (result, noted, statements) = retried(vec![refusal(code, constraint), answer()]);
        assert_eq!(result, Ok(1), "{code}");
        assert_eq!(statements, 2, "{code}");
        let expected = format!("{code} scripted failure");
        assert_eq!(
            noted,
            Some(("database_statement_retried", expected)),
            "{code}"
        );
    }
}

#[test]
fn only_once_then_503_database_conflict() {
    let (result, _, statements) = retried(vec![refusal("40P01", None), refusal("40P01", None)]);
    assert_eq!(statements, 2);
    let err = result.unwrap_err();
    assert_eq!((err.status(), err.code()), (503, "database_conflict"));
    assert_eq!(
        err.log_cause(),
        Some("40P01 scripted failure (retried after: 40P01 scripted failure)")
    );
}

#[test]
fn a_different_failure_of_the_second_run_is_classified_as_itself() {
    let (result, _, statements) = retried(vec![refusal("40001", None), refusal("57P01", None)]);
    assert_eq!(statements, 2);
    assert_eq!(
        result,
        Err(ApiError::DatabaseUnavailable(
            "57P01 scripted failure (retried after: 40001 scripted failure)".into()
        ))
    );
}

#[test]
fn other_failures_are_not_run_again() {
    for (code, constraint, status) in [
        ("08006", None, 503),
        ("57P01", None, 503),
        ("53300", None, 503),
        ("23505", Some("tasks_pkey"), 500),
        ("42P01", None, 500),
    ] {
        let (result, noted, statements) = retried(vec![refusal(code, constraint), answer()]);
        assert_eq!(statements, 1, "{code}");
        assert_eq!(result.unwrap_err().status(), status, "{code}");
        assert_eq!(noted, None, "{code}");
    }
}

/// What the scripted server answers to one bounded statement: `begin`, the timeout, then
/// `statement`, then `commit` (which an aborted transaction answers with ROLLBACK).
fn in_transaction(statement: Reply, tag: &str) -> [Reply; 4] {
    [
        Reply::Send(test_server::command("BEGIN")),
        Reply::Send(test_server::rows(&["set_config"], &[&["1234"]])),
        statement,
        Reply::Send(test_server::command(tag)),
    ]
}

/// What a bounded `select 1` came to: its outcome, the log line's note, the statements the
/// server received, and how many requests came before each answer was read.
struct BoundedRun {
    result: Result<usize, ApiError>,
    noted: Option<(&'static str, String)>,
    statements: Vec<String>,
    batches: Vec<usize>,
}

/// Runs `select 1` through [`retrying`] on a session with a statement timeout.
fn bounded_run(replies: Vec<Reply>) -> BoundedRun {
    let ((result, noted), state) = test_server::run(replies, async |client| {
        let faults = FaultSlot::default();
        let session =
            Session::new(client, &faults).with_statement_timeout(Duration::from_millis(1234));
        let result = retrying(&session, async |c| c.query_typed("select 1", &[]).await).await;
        (result.map(|rows| rows.len()), faults.take())
    });
    let state = state.borrow();
    BoundedRun {
        result,
        noted,
        statements: state.statements.clone(),
        batches: state.batches.clone(),
    }
}

#[test]
fn a_bounded_statement_runs_in_its_own_transaction_sent_in_one_go() {
    let BoundedRun {
        result,
        noted,
        statements,
        batches,
    } = bounded_run(in_transaction(answer(), "COMMIT").into());
    assert_eq!(result.unwrap(), 1);
    assert_eq!(noted, None);
    assert_eq!(
        statements,
        ["begin", SET_STATEMENT_TIMEOUT, "select 1", "commit"]
    );
    // The startup, then all four requests before the client waited for any answer: the
    // statement still costs one round trip.
    assert_eq!(batches, [1, 4]);
}

#[test]
fn a_bounded_statement_that_fails_returns_its_own_error_and_is_retried_whole() {
    // Cancelled by the timeout: 57014, a 503, not run again.
    let run = bounded_run(in_transaction(refusal("57014", None), "ROLLBACK").into());
    let err = run.result.unwrap_err();
    assert_eq!((err.status(), err.code()), (503, "database_unavailable"));
    assert!(err.log_cause().unwrap().starts_with("57014"), "{err:?}");
    assert_eq!(run.statements.len(), 4);

    // Rolled back by a concurrent statement: the whole transaction runs again.
    let mut replies = Vec::from(in_transaction(refusal("40P01", None), "ROLLBACK"));
    replies.extend(in_transaction(answer(), "COMMIT"));
    let run = bounded_run(replies);
    assert_eq!(run.result.unwrap(), 1);
    assert_eq!(run.noted.unwrap().0, "database_statement_retried");
    assert_eq!(run.statements.len(), 8);
    assert_eq!(run.batches, [1, 4, 4]);
}

#[test]
fn a_session_never_sets_a_zero_timeout_which_would_mean_none() {
    let (client, _connection, _) = test_server::connect(vec![]);
    let faults = FaultSlot::default();
    let session = Session::new(client, &faults).with_statement_timeout(Duration::ZERO);
    assert_eq!(session.statement_timeout(), Some(Duration::from_millis(1)));
}

#[test]
fn the_task_cap_is_the_one_the_migration_enforces() {
    // The trigger's literal, its message, and the API's constant are one number.
    let migration = include_str!("../../migrations/20261202000001_tasks_per_user_limit.sql");
    let cap = crate::tasks::MAX_TASKS_PER_USER.to_string();
    assert!(migration.contains(&format!("task_count < {cap};")), "{cap}");
    assert!(
        migration.contains(&format!("already has {cap} tasks")),
        "{cap}"
    );
    assert!(migration.contains("constraint = 'tasks_per_user_limit'"));
}

#[test]
fn row_frame_bytes_match_serde() {
    // What LIST_TASKS adds up per row must be what the response's JSON takes, for every
    // shape of task: the statement's byte budget is only as good as this.
    let at = DateTime::<Utc>::from_timestamp_micros(1_800_000_000_000_001).unwrap();
    for (user_id, title, description) in [
        ("u", "t", None),
        (
            "user-\"quoted\"",
            "Buy \"milk\"\t",
            Some("line\nbreak \u{1} 漢 😀"),
        ),
        ("a.b:c@d-e_f", "x", Some("")),
    ] {
        let task = Task {
            id: Uuid::new_v4(),
            title: title.into(),
            description: description.map(Into::into),
            completed: true,
            user_id: user_id.into(),
            created_at: at,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            version: 3,
        };
        let text = |value: Option<&str>| serde_json::to_string(&value).unwrap().len();
        let expected = serde_json::to_string(&task).unwrap().len() + 1; // and its comma
        let summed = row_frame_bytes(user_id) as usize + text(Some(title)) + text(description);
        // `completed: true` is a byte shorter than the frame's `false`: never under.
        assert!(summed >= expected && summed <= expected + 1, "{task:?}");
    }
}

#[test]
fn the_page_budget_is_the_documented_one() {
    // docs/api.md, the OpenAPI description of listTasks and listing.mjs say 512 KiB.
    assert_eq!(PAGE_BYTES, 512 * 1024);
}
