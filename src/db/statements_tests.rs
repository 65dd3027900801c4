//! The retry rule ([`retrying`]), on a scripted server (`db::test_server`).

use super::*;
use crate::{
    db::test_server::{self, Reply},
    error::FaultSlot,
};
use chrono::{DateTime, Utc};

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
