use tokio_postgres::types::Type;

use super::*;
use crate::db::test_server::{self, Reply};

fn server_says(sqlstate: &str, constraint: Option<&str>) -> tokio_postgres::Error {
    let (result, _) = test_server::run(
        vec![Reply::Send(test_server::error(sqlstate, constraint))],
        async |client| client.query_typed_opt("select 1", &[]).await,
    );
    result.unwrap_err()
}

#[test]
fn sqlstates_of_a_lost_or_overloaded_server_mean_unavailable() {
    for code in [
        "08000", "08003", "08006", "08001", "08004", "53000", "53100", "53200", "53300", "53400",
        "57P01", "57P02", "57P03", "57P05", "57014", "58030",
    ] {
        let err = server_says(code, None);
        assert_eq!(fault(&err), Fault::Unavailable, "{code}");
        assert!(
            matches!(classify(err), ApiError::DatabaseUnavailable(cause) if cause.starts_with(code)),
            "{code}"
        );
    }
}

#[test]
fn deadlocks_serialization_failures_and_the_email_race_were_rolled_back() {
    for (code, constraint) in [
        ("40P01", None),
        ("40001", None),
        ("23505", Some("users_email_key")),
    ] {
        let err = server_says(code, constraint);
        assert_eq!(fault(&err), Fault::RolledBack, "{code}");
        let err = classify(err);
        assert_eq!(
            (err.status(), err.code()),
            (503, "database_conflict"),
            "{code}"
        );
    }
}

#[test]
fn the_task_cap_refused_by_the_insert_trigger_is_a_409_and_not_retried() {
    let err = server_says("23514", Some("tasks_per_user_limit"));
    assert_eq!(fault(&err), Fault::TaskLimit);
    let err = classify(err);
    assert_eq!(err, ApiError::TaskLimitReached);
    assert_eq!((err.status(), err.code()), (409, "task_limit_reached"));
}

#[test]
fn statement_errors_and_protocol_violations_reported_by_the_server_are_internal() {
    for (code, constraint) in [
        ("23505", Some("tasks_pkey")),
        ("23505", None),
        ("23503", None),
        ("23514", None),
        ("23514", Some("tasks_title_check")),
        ("23505", Some("tasks_per_user_limit")),
        ("42P01", None),
        ("42703", None),
        ("22021", None),
        ("22P02", None),
        ("08P01", None),
        ("57P04", None),
        ("40003", None),
        ("58P01", None),
        ("XX000", None),
        ("28P01", None),
        ("3D000", None),
    ] {
        let err = server_says(code, constraint);
        assert_eq!(fault(&err), Fault::Internal, "{code}");
        let err = classify(err);
        assert_eq!(
            (err.status(), err.code()),
            (500, "internal_error"),
            "{code}"
        );
        assert!(
            err.log_cause().unwrap().starts_with(code),
            "{code}: {err:?}"
        );
    }
}

#[test]
fn a_connection_that_ended_or_broke_is_unavailable() {
    let (hung_up, _) = test_server::run(vec![Reply::Hangup], async |client| {
        client.query_typed_opt("select 1", &[]).await
    });
    let hung_up = hung_up.unwrap_err();
    assert!(hung_up.is_closed());
    // A socket failing during the handshake (after it, the client sees only the close).
    let broken = test_server::connect_error(Reply::Break);
    // The stream ended in the middle of a message.
    let cut = test_server::connect_error(Reply::Cut(test_server::auth_ok()[..5].to_vec()));
    for err in [hung_up, broken, cut] {
        assert_eq!(fault(&err), Fault::Unavailable, "{err:?}");
        assert_eq!(classify(err).code(), "database_unavailable");
    }
}

#[test]
fn conversions_and_protocol_misuse_are_internal_with_their_cause_for_the_log() {
    // An i64 declared as int4: the parameter cannot be encoded; nothing is sent.
    let (to_sql, state) = test_server::run(vec![], async |client| {
        client
            .query_typed_opt("select $1", &[(&1i64, Type::INT4)])
            .await
    });
    assert_eq!(
        state.borrow().requests,
        1,
        "only the startup reached the server"
    );
    // A text column read as a number.
    let (from_sql, _) = test_server::run(
        vec![Reply::Send(test_server::rows(&["title"], &[&["a"]]))],
        async |client| {
            let row = client
                .query_typed_opt("select 1", &[])
                .await
                .unwrap()
                .unwrap();
            row.try_get::<_, i64>("title")
        },
    );
    // A column the row does not have.
    let (column, _) = test_server::run(
        vec![Reply::Send(test_server::rows(&["title"], &[&["a"]]))],
        async |client| {
            let row = client
                .query_typed_opt("select 1", &[])
                .await
                .unwrap()
                .unwrap();
            row.try_get::<_, String>("id")
        },
    );
    // Two rows where at most one was asked for.
    let (row_count, _) = test_server::run(
        vec![Reply::Send(test_server::rows(
            &["title"],
            &[&["a"], &["b"]],
        ))],
        async |client| client.query_typed_opt("select 1", &[]).await,
    );
    // The server answers with a message that does not belong there.
    let (unexpected, _) = test_server::run(
        vec![Reply::Send(test_server::unexpected())],
        async |client| client.query_typed_opt("select 1", &[]).await,
    );
    // The server's bytes are not PostgreSQL messages at all, during the handshake or after.
    let garbage = test_server::connect_error(Reply::Send(test_server::garbage()));
    let (garbled, _) =
        test_server::run(vec![Reply::Send(test_server::garbage())], async |client| {
            client.query_typed_opt("select 1", &[]).await
        });
    for (err, says) in [
        (
            to_sql.unwrap_err(),
            "error serializing parameter 0: cannot convert",
        ),
        (
            from_sql.unwrap_err(),
            "error deserializing column 0: cannot convert",
        ),
        (column.unwrap_err(), "invalid column `id`"),
        (
            row_count.unwrap_err(),
            "query returned an unexpected number of rows",
        ),
        (unexpected.unwrap_err(), "unexpected message from server"),
        (
            garbage,
            "error communicating with the server: unknown message tag",
        ),
        (
            garbled.unwrap_err(),
            "error parsing response from server: unknown message tag",
        ),
    ] {
        assert!(!err.is_closed());
        assert_eq!(fault(&err), Fault::Internal, "{err:?}");
        match classify(err) {
            ApiError::Internal(cause) => assert!(cause.starts_with(says), "{cause}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_drivers_own_timeout_is_unavailable() {
    // Only tokio-postgres' `connect` with `connect_timeout` makes one; this is its constructor.
    let err = tokio_postgres::Error::__private_api_timeout();
    assert_eq!(fault(&err), Fault::Unavailable);
}
