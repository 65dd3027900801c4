//! Building responses: JSON bodies, a task with its ETag, an [`ApiError`] as JSON (the only
//! place one becomes a response), and the headers every response carries.

use serde::Serialize;
use worker::{Headers, Response};

use super::RequestState;
use crate::tasks::conditional;
use crate::{error::ApiError, tasks::Task};

/// `body` as JSON with `status`.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    Ok(Response::from_json(body)?.with_status(status))
}

/// One task as JSON, with its ETag.
pub fn task(status: u16, task: &Task) -> Result<Response, ApiError> {
    let mut response = json(status, task)?;
    response
        .headers_mut()
        .set("ETag", &conditional::etag(task.version))?;
    Ok(response)
}

/// Notes a server fault's cause for the request's log line.
pub fn record_fault(state: &RequestState, err: &ApiError) {
    if let Some(cause) = err.log_cause() {
        state.fault.replace(Some((err.code(), cause.to_owned())));
    }
}

/// The only place an [`ApiError`] becomes a response: its status, its JSON body and the headers
/// its status calls for.
pub fn error(err: &ApiError, state: &RequestState) -> worker::Result<Response> {
    record_fault(state, err);
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    match err {
        ApiError::Unauthorized(_) => {
            headers.set("WWW-Authenticate", "Bearer")?;
        }
        ApiError::MethodNotAllowed { allow } => {
            headers.set("Allow", allow)?;
        }
        ApiError::AuthUnavailable { retry_after, .. } | ApiError::RateLimited { retry_after } => {
            headers.set("Retry-After", &retry_after.to_string())?;
        }
        // Transient by nature: the client may retry (safely: see docs/api.md).
        ApiError::DatabaseUnavailable(_) | ApiError::DatabaseConflict(_) => {
            headers.set("Retry-After", "1")?;
        }
        ApiError::PreconditionFailed { etag } => {
            headers.set("ETag", etag)?;
        }
        _ => {}
    }
    Ok(Response::from_bytes(err.body().to_string().into_bytes())?
        .with_status(err.status())
        .with_headers(headers))
}

/// Headers every response carries: the request id, and no caching of private data.
pub fn with_common_headers(mut response: Response, request_id: &str) -> worker::Result<Response> {
    let headers = response.headers_mut();
    headers.set("X-Request-Id", request_id)?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}
