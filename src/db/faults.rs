//! What a driver error means for the client: the database is unavailable (503), or something
//! else failed (500). The SQLSTATE and message are for the log only.

use tokio_postgres::error::SqlState;

use crate::error::ApiError;

/// Maps a driver error: connection-level faults are "database unavailable", anything else an
/// internal error.
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

/// Two users racing for one email collided on its unique index.
pub fn is_email_conflict(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("users_email_key")
    })
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
