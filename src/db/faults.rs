//! What a driver error means for the client. Three classes ([`Fault`]):
//!
//! - **the connection failed** — closed, an I/O error on the socket, or a SQLSTATE that says the
//!   server cannot serve this session (classes 08 and 53, 57P01–57P03, 57P05, a statement timeout
//!   57014; 58030, the server's own I/O): 503 `database_unavailable`;
//! - **a concurrent statement made the server roll this one back** — a deadlock (40P01), a
//!   serialization failure (40001), or two users racing for one email on its unique index
//!   (23505 on `users_email_key`): nothing of the statement was applied, so it is run once more
//!   ([`super::statements`]), and if that fails the same way, 503 `database_conflict`;
//! - **the database refused the request for a rule it keeps** — the user's task count at its
//!   cap (23514 on `tasks_per_user_limit`, raised by the insert trigger): 409
//!   `task_limit_reached`, nothing applied, and nothing to retry;
//! - **anything else is a bug, not an outage** — a SQL error in the statement, a type
//!   conversion, the driver or the server misusing the protocol (an unexpected or malformed
//!   message, 08P01): 500 `internal_error`.
//!
//! The SQLSTATE, message and driver error are for the log line only.
//!
//! tokio-postgres keeps its error kinds private; what it exposes is enough to tell the classes
//! apart: `as_db_error()` (the server's ErrorResponse, with its SQLSTATE), `is_closed()` (the
//! connection ended), and the cause behind `source()`. An `io::Error` cause is either the
//! socket's (this crate's socket reports JavaScript errors as `ErrorKind::Other`; a stream cut
//! mid-message is "bytes remaining on stream", also `Other`) or a message that could not be
//! encoded or decoded (`InvalidInput`, `InvalidData`, `UnexpectedEof` from postgres-protocol).
//! Conversions (`ToSql`, `FromSql`), column lookups, row counts, authentication and
//! configuration errors carry other causes or none. tokio-postgres' own `Timeout` kind, which
//! has neither, is told by its text; it comes only from the driver's `connect` with a
//! `connect_timeout`, which this crate does not use (it connects with `connect_raw` under its
//! own deadlines, which answer `database_unavailable` themselves).

use std::{error::Error as _, io};

use tokio_postgres::error::SqlState;

use crate::error::ApiError;

/// The unique index two users racing for one email can collide on.
const EMAIL_INDEX: &str = "users_email_key";
/// The constraint the tasks insert trigger names when the user is at the cap.
const TASK_LIMIT: &str = "tasks_per_user_limit";
/// How tokio-postgres' `Timeout` error displays (pinned by a test against the driver's own).
const DRIVER_TIMEOUT: &str = "timeout waiting for server";

/// What a failed statement means; see the module's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 `database_unavailable`.
    Unavailable,
    /// Rolled back because of a concurrent statement: worth running once more.
    RolledBack,
    /// 409 `task_limit_reached`.
    TaskLimit,
    /// 500 `internal_error`.
    Internal,
}

/// The class of a driver error.
pub fn fault(err: &tokio_postgres::Error) -> Fault {
    if let Some(db) = err.as_db_error() {
        return state_fault(db.code(), db.constraint());
    }
    if err.is_closed() {
        return Fault::Unavailable;
    }
    match err.source() {
        None if err.to_string() == DRIVER_TIMEOUT => Fault::Unavailable,
        Some(cause) => match cause.downcast_ref::<io::Error>() {
            Some(cause) if !is_malformed(cause.kind()) => Fault::Unavailable,
            _ => Fault::Internal,
        },
        None => Fault::Internal,
    }
}

/// Maps a driver error to what the client sees (a [`Fault::RolledBack`] that reaches this is
/// one that was already run again, or that nobody retried).
pub fn classify(err: tokio_postgres::Error) -> ApiError {
    let detail = describe(&err);
    match fault(&err) {
        Fault::Unavailable => ApiError::DatabaseUnavailable(detail),
        Fault::RolledBack => ApiError::DatabaseConflict(detail),
        Fault::TaskLimit => ApiError::TaskLimitReached,
        Fault::Internal => ApiError::Internal(detail),
    }
}

/// The class of a server error, by its SQLSTATE (and, for a unique or check violation, the
/// constraint).
fn state_fault(code: &SqlState, constraint: Option<&str>) -> Fault {
    let code = code.code();
    // 08P01 is the server saying the client broke the protocol: a driver bug, not an outage.
    let connection_lost = code.starts_with("08") && code != "08P01";
    // 57P01–03: admin or crash shutdown, or the server is starting; 57P05: it closed an idle
    // session; 57014: the statement was cancelled (a statement timeout, or an operator).
    let operator = matches!(code, "57P01" | "57P02" | "57P03" | "57P05" | "57014");
    // 53: out of disk, memory or connection slots; 58030: the server's own storage failed.
    let resources = code.starts_with("53") || code == "58030";
    if connection_lost || operator || resources {
        return Fault::Unavailable;
    }
    let concurrent = matches!(code, "40P01" | "40001")
        || (code == SqlState::UNIQUE_VIOLATION.code() && constraint == Some(EMAIL_INDEX));
    if concurrent {
        Fault::RolledBack
    } else if code == SqlState::CHECK_VIOLATION.code() && constraint == Some(TASK_LIMIT) {
        Fault::TaskLimit
    } else {
        Fault::Internal
    }
}

/// `io::Error` kinds postgres-protocol uses for a message it could not encode or decode.
fn is_malformed(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    )
}

/// The error for the log: the SQLSTATE and the server's message, or the driver's error and its
/// cause (tokio-postgres' `Display` names only the kind).
pub fn describe(err: &tokio_postgres::Error) -> String {
    match (err.as_db_error(), err.source()) {
        (Some(db), _) => format!("{} {}", db.code().code(), db.message()),
        (None, Some(cause)) => format!("{err}: {cause}"),
        (None, None) => err.to_string(),
    }
}

#[cfg(test)]
#[path = "faults_tests.rs"]
mod tests;
