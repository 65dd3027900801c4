//! The Workers-facing shell: everything that reads a `worker::Request` or builds a
//! `worker::Response`. [`handle`] is one request's life: route it ([`routes`]), render any error
//! as JSON ([`response`]), add the common and CORS headers, and write its log line
//! ([`request_log`]).
//!
//! Every handler runs the cheapest rejection first: route and method ([`routes`]), then
//! configuration (500), then an address already refused for failed authentication (429), then
//! the token (401), then the path's user (403), then the user's rate limit (429) — the gate,
//! [`gate`] — then path and body validation (400/413), and only then opens a database
//! connection.

pub mod body;
pub mod cors;
pub mod gate;
pub mod operational;
pub mod path;
pub mod rate_limit;
pub mod request_log;
pub mod response;
pub mod routes;
pub mod settings;
pub mod tasks;

use std::{cell::RefCell, rc::Rc};

use chrono::{DateTime, Utc};
use uuid::Uuid;
use worker::{Context, Date, Env, Method, Request, Response, RouteContext};

use crate::error::{ApiError, FaultSlot};
use request_log::{usable_ray, RequestRecord};

/// Per-request state shared between the router's handlers and [`handle`], which logs it.
#[derive(Default)]
pub struct RequestState {
    /// The matched route's pattern, for the log line.
    pub route: RefCell<Option<&'static str>>,
    pub fault: FaultSlot,
    /// The request's `Context`, for work that finishes after the response (closing the database
    /// connection, [`crate::db::connection`]); `None` only where there is no request (host
    /// tests).
    pub context: Option<Context>,
}

impl RequestState {
    /// What this request's database connection takes from it.
    pub fn db(&self, env: &Env) -> crate::db::Scope<'_> {
        crate::db::Scope {
            faults: &self.fault,
            context: self.context.as_ref(),
            deadlines: settings::get(env).db_deadlines,
        }
    }
}

/// What every handler receives besides the request.
pub type Ctx = RouteContext<Rc<RequestState>>;

/// Serves one request: routes it, renders any error as JSON, adds the common headers and writes
/// the request's log line.
pub async fn handle(req: Request, env: Env, context: Context) -> worker::Result<Response> {
    let started = Date::now().as_millis();
    let request_id = request_id(&req);
    // workers-rs maps any method it does not know (QUERY, FOO) to GET: log the real one.
    let method_name = req.inner().method();
    let state = Rc::new(RequestState {
        context: Some(context),
        ..RequestState::default()
    });

    let origin = req.headers().get("Origin").ok().flatten();
    let preflight = req.method() == Method::Options
        && req
            .headers()
            .has("Access-Control-Request-Method")
            .unwrap_or(false);
    let settings = settings::get(&env);
    let cors = match &settings.cors {
        Ok(policy) => policy.as_ref(),
        Err(cause) => {
            // No CORS rather than a broken API; the log line says why (unless a later fault of
            // this request takes the slot).
            state
                .fault
                .replace(Some(("cors_misconfigured", cause.clone())));
            None
        }
    };
    let response = match routes::router(state.clone(), &req.method())
        .run(req, env)
        .await
    {
        Ok(response) => response,
        // Only the platform itself fails here (handlers return `ApiError`s).
        Err(err) => response::error(&ApiError::from(err), &state)?,
    };
    let mut response = response::with_common_headers(response, &request_id)?;
    if let Some(policy) = cors {
        cors::add_headers(&mut response, policy, origin.as_deref(), preflight)?;
    }

    let fault = state.fault.borrow();
    let record = RequestRecord {
        request_id: &request_id,
        method: &method_name,
        route: state.route.borrow().unwrap_or("(unmatched)"),
        status: response.status_code(),
        duration_ms: Date::now().as_millis().saturating_sub(started),
        fault: fault.as_ref().map(|(code, cause)| (*code, cause.as_str())),
    };
    let line = record.to_line();
    if record.status >= 500 {
        worker::console_error!("{line}");
    } else {
        worker::console_log!("{line}");
    }
    Ok(response)
}

/// The current time, for token checks.
pub fn now() -> DateTime<Utc> {
    let millis = i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX);
    DateTime::from_timestamp_millis(millis).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn request_id(req: &Request) -> String {
    let ray = req.headers().get("cf-ray").ok().flatten();
    match usable_ray(ray.as_deref()) {
        Some(ray) => ray.to_owned(),
        None => Uuid::new_v4().to_string(),
    }
}

/// A request header's value, if present.
pub fn header(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    Ok(req.headers().get(name)?)
}

/// Platform failures (headers, body streams) are server faults, kept out of `error.rs` so the
/// error model stays free of Workers types.
impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        ApiError::Internal(format!("worker: {err}"))
    }
}
