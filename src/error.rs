//! The API's one error type and its one status mapping.
//!
//! Every failure a handler can meet becomes an [`ApiError`]; [`ApiError::status`] and
//! [`ApiError::code`] decide what the client sees, and [`ApiError::body`] renders the JSON
//! `{"error": {"code", "message"}}` envelope. Causes of server faults are kept for the log
//! ([`ApiError::log_cause`]) and never reach the client.

use std::cell::RefCell;

use serde_json::json;

/// Where a request notes a fault for its log line: the error code and the cause. A fault the
/// request recovered from (a retried connection) is noted too; a later error replaces it, and
/// its cause already mentions the retry.
pub type FaultSlot = RefCell<Option<(&'static str, String)>>;

/// Why a request failed. Each variant documents its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401: the bearer token is missing, malformed, forged, expired or names no valid user.
    Unauthorized(&'static str),
    /// 403: the token is valid, but the path names another user.
    Forbidden,
    /// 404: no such task for this user (also for another user's task: no existence leak).
    TaskNotFound,
    /// 404: no route matches the path.
    RouteNotFound,
    /// 405: the path exists but not for this method; `allow` lists the methods it has.
    MethodNotAllowed { allow: String },
    /// 400: the body is not JSON, or not a JSON object.
    InvalidJson(String),
    /// 400: a field (or path parameter) has a bad value. `field` is named in the body.
    Validation { field: String, message: String },
    /// 412: `If-Match` names another version of the task; `etag` is the current one.
    PreconditionFailed { etag: String },
    /// 422: the `Idempotency-Key` was already used by this user for a different request.
    IdempotencyKeyReused,
    /// 409: the user already has [`crate::tasks::MAX_TASKS_PER_USER`] tasks; the database
    /// refused the create (migration `tasks_per_user_limit`).
    TaskLimitReached,
    /// 429: over a rate-limit budget; `retry_after` (seconds) goes into `Retry-After`.
    RateLimited { retry_after: u64 },
    /// 413: the body is larger than the limit.
    PayloadTooLarge { limit: usize },
    /// 400: reading the body failed: it stopped before its end (the client closed or reset its
    /// side). The client's fault, not a server error; the runtime's reason goes to the log line.
    BodyIncomplete(String),
    /// 408: the body did not arrive within `limit_secs`.
    RequestTimeout { limit_secs: u64 },
    /// 500: the worker is deployed without a usable configuration (e.g. no secret).
    Misconfigured(&'static str),
    /// 503: the token needs a JWKS key, and the key set could neither be fetched nor taken from
    /// the isolate's cache. `retry_after` (seconds) goes into `Retry-After`.
    AuthUnavailable { retry_after: u64, cause: String },
    /// 503: the database could not be reached, timed out, or dropped the connection.
    DatabaseUnavailable(String),
    /// 500: any other server fault (an unexpected SQL error, a platform error).
    Internal(String),
    /// 503: a concurrent statement made the database roll the statement back (a deadlock, a
    /// serialization failure) again when it was run a second time; nothing of it was applied.
    DatabaseConflict(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidJson(_)
            | ApiError::Validation { .. }
            | ApiError::BodyIncomplete(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden => 403,
            ApiError::TaskNotFound | ApiError::RouteNotFound => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::RequestTimeout { .. } => 408,
            ApiError::PreconditionFailed { .. } => 412,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::TaskLimitReached => 409,
            ApiError::IdempotencyKeyReused => 422,
            ApiError::RateLimited { .. } => 429,
            ApiError::Misconfigured(_) | ApiError::Internal(_) => 500,
            ApiError::AuthUnavailable { .. } | ApiError::DatabaseUnavailable(_) => 503,
            ApiError::DatabaseConflict(_) => 503,
        }
    }

    /// The stable, machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::TaskNotFound | ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Validation { .. } => "validation_error",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyIncomplete(_) => "body_incomplete",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::PreconditionFailed { .. } => "precondition_failed",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::TaskLimitReached => "task_limit_reached",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Misconfigured(_) => "server_misconfigured",
            ApiError::AuthUnavailable { .. } => "auth_unavailable",
            ApiError::DatabaseUnavailable(_) => "database_unavailable",
            ApiError::Internal(_) => "internal_error",
            ApiError::DatabaseConflict(_) => "database_conflict",
        }
    }

    /// The human-readable `error.message`. For 5xx it is fixed text, never the cause.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized(reason) => (*reason).to_string(),
            ApiError::Forbidden => "the token does not grant access to this user's tasks".into(),
            ApiError::TaskNotFound => "task not found".into(),
            ApiError::RouteNotFound => "no such route".into(),
            ApiError::MethodNotAllowed { allow } => {
                format!("method not allowed; this route allows {allow}")
            }
            ApiError::InvalidJson(detail) => format!("request body is not valid JSON: {detail}"),
            ApiError::Validation { message, .. } => message.clone(),
            ApiError::PayloadTooLarge { limit } => {
                format!("request body is larger than {limit} bytes")
            }
            ApiError::BodyIncomplete(_) => "the request body ended before it was complete".into(),
            ApiError::RequestTimeout { limit_secs } => {
                format!("the request body did not arrive within {limit_secs} s")
            }
            ApiError::PreconditionFailed { .. } => {
                "the task has changed since the version named in If-Match".into()
            }
            ApiError::IdempotencyKeyReused => {
                "this Idempotency-Key was already used with a different request".into()
            }
            ApiError::TaskLimitReached => format!(
                "this user already has {} tasks, the most one user can have; delete some to create more",
                crate::tasks::MAX_TASKS_PER_USER
            ),
            ApiError::RateLimited { .. } => "too many requests; try again later".into(),
            ApiError::Misconfigured(_) => "the server is not configured correctly".into(),
            ApiError::AuthUnavailable { .. } => {
                "the keys that verify this token could not be fetched; try again shortly".into()
            }
            ApiError::DatabaseUnavailable(_) => "the database is unavailable; try again".into(),
            ApiError::Internal(_) => "internal server error".into(),
            ApiError::DatabaseConflict(_) => {
                "the request collided with concurrent ones and was not applied; try again".into()
            }
        }
    }

    /// The JSON body sent to the client.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if let (ApiError::Validation { field, .. }, Some(map)) = (self, error.as_object_mut()) {
            map.insert("field".into(), json!(field));
        }
        json!({ "error": error })
    }

    /// What the log gets for a server fault, or for a body whose read failed (so a runtime
    /// fault there stays visible, at the 400's info level); `None` for other client errors,
    /// which are not logged beyond the request line.
    pub fn log_cause(&self) -> Option<&str> {
        match self {
            ApiError::Misconfigured(cause) => Some(cause),
            ApiError::BodyIncomplete(cause) => Some(cause),
            ApiError::AuthUnavailable { cause, .. }
            | ApiError::DatabaseUnavailable(cause)
            | ApiError::DatabaseConflict(cause)
            | ApiError::Internal(cause) => Some(cause),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_documented_status_and_code() {
        let cases = [
            (ApiError::Unauthorized("x"), 401, "unauthorized"),
            (ApiError::Forbidden, 403, "forbidden"),
            (ApiError::TaskNotFound, 404, "not_found"),
            (ApiError::RouteNotFound, 404, "not_found"),
            (
                ApiError::MethodNotAllowed {
                    allow: "GET".into(),
                },
                405,
                "method_not_allowed",
            ),
            (ApiError::InvalidJson("eof".into()), 400, "invalid_json"),
            (
                ApiError::validation("title", "bad"),
                400,
                "validation_error",
            ),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
            (ApiError::BodyIncomplete("x".into()), 400, "body_incomplete"),
            (
                ApiError::RequestTimeout { limit_secs: 10 },
                408,
                "request_timeout",
            ),
            (ApiError::Misconfigured("x"), 500, "server_misconfigured"),
            (
                ApiError::DatabaseUnavailable("x".into()),
                503,
                "database_unavailable",
            ),
            (
                ApiError::PreconditionFailed {
                    etag: "\"v1\"".into(),
                },
                412,
                "precondition_failed",
            ),
            (
                ApiError::IdempotencyKeyReused,
                422,
                "idempotency_key_reused",
            ),
            (ApiError::TaskLimitReached, 409, "task_limit_reached"),
            (ApiError::Internal("x".into()), 500, "internal_error"),
            (
                ApiError::DatabaseConflict("x".into()),
                503,
                "database_conflict",
            ),
            (
                ApiError::AuthUnavailable {
                    retry_after: 5,
                    cause: "x".into(),
                },
                503,
                "auth_unavailable",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.code(), code, "{err:?}");
        }
    }

    #[test]
    fn server_faults_never_put_their_cause_in_the_body() {
        for err in [
            ApiError::Internal("relation \"tasks\" does not exist".into()),
            ApiError::DatabaseUnavailable("connection refused 10.0.0.1:5432".into()),
            ApiError::DatabaseConflict("40P01 deadlock detected".into()),
            ApiError::Misconfigured("BETTER_AUTH_SECRET is missing"),
            ApiError::AuthUnavailable {
                retry_after: 5,
                cause: "JWKS fetch from http://10.0.0.2/api/auth/jwks timed out".into(),
            },
        ] {
            let body = err.body().to_string();
            let cause = err.log_cause().unwrap_or_default();
            assert!(!body.contains(cause), "{body} leaks {cause}");
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let body = ApiError::validation("title", "title must not be empty").body();
        assert_eq!(body["error"]["field"], "title");
        assert_eq!(body["error"]["code"], "validation_error");
        assert_eq!(body["error"]["message"], "title must not be empty");
    }

    #[test]
    fn client_errors_have_nothing_to_log() {
        assert_eq!(ApiError::Forbidden.log_cause(), None);
        assert_eq!(ApiError::validation("title", "x").log_cause(), None);
    }
}
