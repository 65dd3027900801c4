use std::{pin::pin, task::Poll};

use futures_util::future;

use super::*;
use crate::db::test_server::{self, poll_until_stalled, Reply};

/// The work as the handlers give it: it owns the client and drops it when done.
async fn one_query(client: Client) -> Result<usize, ApiError> {
    let rows = client
        .query_typed("select 1", &[])
        .await
        .map_err(classify)?;
    Ok(rows.len())
}

#[test]
fn the_answer_does_not_wait_for_the_close() {
    let answer = vec![Reply::Send(test_server::rows(&["title"], &[&["a"]]))];
    let (client, connection, state) = test_server::connect(answer);
    state.borrow_mut().stall_close = true;
    let driven = poll_until_stalled(pin!(drive(one_query(client), connection)));
    let Poll::Ready((result, Some(connection))) = driven else {
        panic!("the result waited for the close");
    };
    assert_eq!(result, Ok(1));
    assert!(
        !state.borrow().dropped,
        "the connection is handed back open"
    );

    // The close really stalls: driven on, the connection sends Terminate and never finishes.
    let mut connection = connection;
    assert!(poll_until_stalled(pin!(&mut connection)).is_pending());
    assert!(state.borrow().terminated);
    // Bounded by its own deadline, then dropped, which closes the socket.
    assert!(poll_until_stalled(pin!(close(&mut connection, future::pending()))).is_pending());
    let closed = poll_until_stalled(pin!(close(connection, future::ready(()))));
    assert_eq!(closed, Poll::Ready(false));
    assert!(state.borrow().dropped);
}

#[test]
fn a_close_that_does_not_stall_finishes_within_its_deadline() {
    let answer = vec![Reply::Send(test_server::rows(&["title"], &[&["a"]]))];
    let (client, connection, state) = test_server::connect(answer);
    let Poll::Ready((Ok(1), Some(connection))) =
        poll_until_stalled(pin!(drive(one_query(client), connection)))
    else {
        panic!("no result");
    };
    let closed = poll_until_stalled(pin!(close(connection, future::pending())));
    assert_eq!(closed, Poll::Ready(true));
    let state = state.borrow();
    assert!(state.terminated && state.dropped);
}

#[test]
fn a_connection_that_fails_first_is_the_cause_the_work_reports() {
    // The client itself only learns "connection closed".
    let (client, connection, _) = test_server::connect(vec![Reply::Break]);
    let driven = poll_until_stalled(pin!(drive(one_query(client), connection)));
    let Poll::Ready((Err(ApiError::DatabaseUnavailable(cause)), None)) = driven else {
        panic!("expected an outage without an open connection");
    };
    assert_eq!(
        cause,
        "error communicating with the server: connection reset by the test"
    );
}

#[test]
fn a_work_error_of_its_own_is_kept_when_the_connection_fails_too() {
    // A work that decides its own error after the connection broke (a 404, say) keeps it: only
    // "database unavailable" takes the connection's cause.
    let (client, connection, _) = test_server::connect(vec![Reply::Break]);
    let work = async move {
        assert!(client.query_typed("select 1", &[]).await.is_err());
        Err::<(), _>(ApiError::TaskNotFound)
    };
    let driven = poll_until_stalled(pin!(drive(work, connection)));
    assert!(matches!(
        driven,
        Poll::Ready((Err(ApiError::TaskNotFound), None))
    ));
}
