//! The route table and the handlers: the worker-facing shell around the pure core.
//!
//! | Method                 | Path                                 | Success                   |
//! |------------------------|--------------------------------------|---------------------------|
//! | GET, HEAD              | `/health`                            | 200 / 503 database status |
//! | GET, HEAD, POST        | `/api/{user_id}/tasks`               | 200 list, 201 created     |
//! | GET, HEAD, PUT, DELETE | `/api/{user_id}/tasks/{id}`          | 200 task, 200 task, 204   |
//! | PATCH                  | `/api/{user_id}/tasks/{id}/complete` | 200 task                  |
//!
//! Every route also answers OPTIONS (204 with `Allow`) and other methods with a JSON 405.
//!
//! Every handler runs the cheapest rejection first: route and method, then configuration (500),
//! then an address already refused for failed authentication (429), then the token (401), then
//! the path's user (403), then the user's rate limit (429), then path and body validation
//! (400/413), and only then opens a database connection.

use std::{cell::RefCell, future::Future, rc::Rc};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use uuid::Uuid;
use worker::{Date, Env, Headers, Method, Request, Response, RouteContext, Router};

use crate::{
    auth::{self, Identity, Scheme},
    config::{self, Config},
    cors::{self, CorsPolicy},
    db,
    error::ApiError,
    headers::{self, IfMatch},
    key_source,
    list_query::{After, ListQuery, SortKey},
    openapi, path,
    rate_limit::{self, RefusedAddresses},
    task::{Completion, NewTask, Task, TaskChanges, MAX_BODY_BYTES},
    telemetry::{usable_ray, FaultSlot, RequestRecord},
};

/// A route pattern with the methods it answers (for `Allow` on 405 and OPTIONS).
#[derive(Clone, Copy)]
struct Route {
    pattern: &'static str,
    allow: &'static str,
}

const HEALTH: Route = Route {
    pattern: "/health",
    allow: "GET, HEAD",
};
const OPENAPI: Route = Route {
    pattern: "/openapi.json",
    allow: "GET, HEAD",
};
const DOCS: Route = Route {
    pattern: "/docs",
    allow: "GET, HEAD",
};
const TASKS: Route = Route {
    pattern: "/api/:user_id/tasks",
    allow: "GET, HEAD, POST",
};
const TASK: Route = Route {
    pattern: "/api/:user_id/tasks/:id",
    allow: "GET, HEAD, PUT, DELETE",
};
const COMPLETE: Route = Route {
    pattern: "/api/:user_id/tasks/:id/complete",
    allow: "PATCH",
};

/// The methods some route answers, by their exact (case-sensitive, RFC 9110) names.
const KNOWN_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Per-request state shared between the router's handlers and [`handle`], which logs it.
#[derive(Default)]
struct RequestState {
    route: RefCell<Option<&'static str>>,
    fault: FaultSlot,
}

type Ctx = RouteContext<Rc<RequestState>>;

/// Serves one request: routes it, renders any error as JSON, adds the common headers and writes
/// the request's log line.
pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let started = Date::now().as_millis();
    let request_id = request_id(&req);
    let method = req.method();
    // workers-rs maps any method it does not know (QUERY, FOO) to GET: log the real one.
    let method_name = req.inner().method();
    let state = Rc::new(RequestState::default());

    let origin = req.headers().get("Origin").ok().flatten();
    let preflight = method == Method::Options
        && req
            .headers()
            .has("Access-Control-Request-Method")
            .unwrap_or(false);
    let settings = settings(&env);
    let cors = match &settings.cors {
        Ok(policy) => policy.as_ref(),
        Err(cause) => {
            // No CORS rather than a broken API; the log line says why.
            state
                .fault
                .replace(Some(("cors_misconfigured", cause.clone())));
            None
        }
    };
    let response = match router(state.clone(), &method).run(req, env).await {
        Ok(response) => response,
        // Only the platform itself fails here (handlers return `ApiError`s).
        Err(err) => error_response(&ApiError::from(err), &state)?,
    };
    let mut response = with_common_headers(response, &request_id)?;
    if let Some(policy) = cors {
        with_cors_headers(&mut response, policy, origin.as_deref(), preflight)?;
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

/// What the environment configures, read once per isolate: a Worker's variables and secrets
/// are fixed for an isolate's life (changing one deploys a new version, in new isolates), and
/// reading and parsing them took a dozen calls into JavaScript per request.
struct Settings {
    auth: Result<Config, &'static str>,
    cors: Result<Option<CorsPolicy>, String>,
    cursor_key: Vec<u8>,
}

thread_local! {
    static SETTINGS: std::cell::OnceCell<Rc<Settings>> = const { std::cell::OnceCell::new() };
}

fn settings(env: &Env) -> Rc<Settings> {
    SETTINGS.with(|cell| {
        cell.get_or_init(|| {
            let get = |name: &str| env.secret(name).ok().map(|value| value.to_string());
            Rc::new(Settings {
                auth: Config::from_lookup(get),
                cors: CorsPolicy::parse(get(cors::ORIGINS_VAR).as_deref()),
                cursor_key: config::cursor_key(get),
            })
        })
        .clone()
    })
}

/// The route table for one request. Each route is registered under the request's own method
/// only: workers-rs builds its router per request, and `on_async` inserts a route under all ten
/// methods it knows, sixty route-tree entries built and dropped per request. Every handler
/// answers every method itself (`serve`: OPTIONS, JSON 405 with `Allow`), so nothing is lost.
fn router(state: Rc<RequestState>, method: &Method) -> Router<'static, Rc<RequestState>> {
    let router = Router::with_data(state);
    let router = on(router, method, HEALTH, health);
    let router = on(router, method, OPENAPI, openapi_document);
    let router = on(router, method, DOCS, docs);
    let router = on(router, method, TASKS, tasks);
    let router = on(router, method, TASK, task);
    let router = on(router, method, COMPLETE, complete);
    router
        .or_else_any_method_async("/", |_, ctx| not_found(ctx))
        .or_else_any_method_async("/*path", |_, ctx| not_found(ctx))
}

/// Registers `route`'s `handler` (through [`serve`]) under `method` only (see [`router`]);
/// methods without a registration helper of their own go under all methods.
fn on<F, Fut>(
    router: Router<'static, Rc<RequestState>>,
    method: &Method,
    route: Route,
    handler: F,
) -> Router<'static, Rc<RequestState>>
where
    F: Fn(Request, Ctx, Route) -> Fut + Copy + 'static,
    Fut: Future<Output = Result<Response, ApiError>> + 'static,
{
    let pattern = route.pattern;
    let func = move |req, ctx| serve(req, ctx, route, handler);
    match method {
        Method::Get => router.get_async(pattern, func),
        Method::Head => router.head_async(pattern, func),
        Method::Post => router.post_async(pattern, func),
        Method::Put => router.put_async(pattern, func),
        Method::Patch => router.patch_async(pattern, func),
        Method::Delete => router.delete_async(pattern, func),
        Method::Options => router.options_async(pattern, func),
        _ => router.on_async(pattern, func),
    }
}

/// Runs a handler for `route`, answering OPTIONS itself and turning its error into JSON.
async fn serve<F, Fut>(req: Request, ctx: Ctx, route: Route, handler: F) -> worker::Result<Response>
where
    F: FnOnce(Request, Ctx, Route) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let state = ctx.data.clone();
    state.route.replace(Some(route.pattern));
    // Refuse what workers-rs would otherwise read as GET (see `handle`).
    if !KNOWN_METHODS.contains(&req.inner().method().as_str()) {
        return error_response(&ApiError::MethodNotAllowed { allow: route.allow }, &state);
    }
    if req.method() == Method::Options {
        let headers = Headers::new();
        headers.set("Allow", route.allow)?;
        return Ok(Response::empty()?.with_status(204).with_headers(headers));
    }
    match handler(req, ctx, route).await {
        Ok(response) => Ok(response),
        Err(err) => error_response(&err, &state),
    }
}

async fn not_found(ctx: Ctx) -> worker::Result<Response> {
    error_response(&ApiError::RouteNotFound, &ctx.data)
}

// --- handlers -------------------------------------------------------------------------------

async fn health(req: Request, ctx: Ctx, route: Route) -> Result<Response, ApiError> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return Err(ApiError::MethodNotAllowed { allow: route.allow });
    }
    #[derive(Serialize)]
    struct Health {
        status: &'static str,
        database: &'static str,
    }
    match db::with_connection(&ctx.env, &ctx.data.fault, |client| async move {
        db::ping(&client).await
    })
    .await
    {
        Ok(()) => json(
            200,
            &Health {
                status: "ok",
                database: "ok",
            },
        ),
        Err(err) => {
            // Not an error response, but the cause still belongs in the log line.
            record_fault(&ctx.data, &err);
            json(
                503,
                &Health {
                    status: "unavailable",
                    database: "unavailable",
                },
            )
        }
    }
}

async fn openapi_document(req: Request, _ctx: Ctx, route: Route) -> Result<Response, ApiError> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return Err(ApiError::MethodNotAllowed { allow: route.allow });
    }
    thread_local! {
        static DOCUMENT: String = openapi::document().to_string();
    }
    let body = DOCUMENT.with(Clone::clone);
    let response = Response::from_bytes(body.into_bytes())?;
    response.headers().set("Content-Type", "application/json")?;
    Ok(response)
}

async fn docs(req: Request, _ctx: Ctx, route: Route) -> Result<Response, ApiError> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return Err(ApiError::MethodNotAllowed { allow: route.allow });
    }
    Ok(Response::from_html(openapi::DOCS_HTML)?)
}

/// Every route as an OpenAPI path (`{name}` for `:name`) with its methods, for the document's
/// tests.
pub fn documented_routes() -> Vec<(String, &'static str)> {
    [HEALTH, OPENAPI, DOCS, TASKS, TASK, COMPLETE]
        .iter()
        .map(|route| {
            let path = route
                .pattern
                .split('/')
                .map(|segment| match segment.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => segment.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            (path, route.allow)
        })
        .collect()
}

async fn tasks(mut req: Request, ctx: Ctx, route: Route) -> Result<Response, ApiError> {
    match req.method() {
        Method::Get | Method::Head => {
            let who = authorize(&req, &ctx).await?;
            let url = req.url()?;
            let key = &settings(&ctx.env).cursor_key;
            let query = ListQuery::parse(url.query().unwrap_or(""), &who.user_id, key)?;
            let page = db::with_connection(&ctx.env, &ctx.data.fault, |client| {
                let (user_id, query) = (&who.user_id, &query);
                async move { db::list_tasks(&client, user_id, query).await }
            })
            .await?;
            let mut response = json(200, &page.tasks)?;
            if let (true, Some(last)) = (page.more, page.tasks.last()) {
                let after = match query.sort {
                    SortKey::Title => After::Title(last.title.clone(), last.id),
                    SortKey::CreatedAt => After::Time(last.created_at, last.id),
                    SortKey::UpdatedAt => After::Time(last.updated_at, last.id),
                };
                let cursor = query.cursor_after(&after, &who.user_id, key);
                let mut next = url.clone();
                next.set_query(Some(&query.next_query(&cursor)));
                // RFC 8288: the next page's full URL.
                let link = format!("<{next}>; rel=\"next\"");
                response.headers_mut().set("Link", &link)?;
            }
            Ok(response)
        }
        Method::Post => {
            let who = authorize(&req, &ctx).await?;
            let key = headers::idempotency_key(header(&req, "Idempotency-Key")?.as_deref())?;
            let new_task = NewTask::parse(&read_body(&mut req).await?)?;
            let created = db::with_connection(&ctx.env, &ctx.data.fault, |client| async move {
                db::insert_task(&client, &who, &new_task, key.as_deref()).await
            })
            .await?;
            let task = &created.task;
            let mut response = task_response(201, task)?;
            // User ids are limited to characters that are safe in a path segment.
            let location = format!("/api/{}/tasks/{}", task.user_id, task.id);
            response.headers_mut().set("Location", &location)?;
            if created.replayed {
                response.headers_mut().set("Idempotent-Replayed", "true")?;
            }
            Ok(response)
        }
        _ => Err(ApiError::MethodNotAllowed { allow: route.allow }),
    }
}

async fn task(mut req: Request, ctx: Ctx, route: Route) -> Result<Response, ApiError> {
    match req.method() {
        Method::Get | Method::Head => {
            let (who, id) = authorize_task(&req, &ctx).await?;
            let task = db::with_connection(&ctx.env, &ctx.data.fault, |client| async move {
                db::get_task(&client, &who.user_id, id).await
            })
            .await?;
            if headers::if_none_match(header(&req, "If-None-Match")?.as_deref(), task.version) {
                let response = Response::empty()?.with_status(304);
                response
                    .headers()
                    .set("ETag", &headers::etag(task.version))?;
                return Ok(response);
            }
            task_response(200, &task)
        }
        Method::Put => {
            let (who, id) = authorize_task(&req, &ctx).await?;
            let if_match = IfMatch::parse(header(&req, "If-Match")?.as_deref())?;
            let changes = TaskChanges::parse(&read_body(&mut req).await?)?;
            let task = db::with_connection(&ctx.env, &ctx.data.fault, |client| async move {
                db::update_task(&client, &who.user_id, id, &changes, if_match.as_ref()).await
            })
            .await?;
            task_response(200, &task)
        }
        Method::Delete => {
            let (who, id) = authorize_task(&req, &ctx).await?;
            let if_match = IfMatch::parse(header(&req, "If-Match")?.as_deref())?;
            db::with_connection(&ctx.env, &ctx.data.fault, |client| async move {
                db::delete_task(&client, &who.user_id, id, if_match.as_ref()).await
            })
            .await?;
            Ok(Response::empty()?.with_status(204))
        }
        _ => Err(ApiError::MethodNotAllowed { allow: route.allow }),
    }
}

async fn complete(mut req: Request, ctx: Ctx, route: Route) -> Result<Response, ApiError> {
    if req.method() != Method::Patch {
        return Err(ApiError::MethodNotAllowed { allow: route.allow });
    }
    let (who, id) = authorize_task(&req, &ctx).await?;
    let if_match = IfMatch::parse(header(&req, "If-Match")?.as_deref())?;
    let completion = Completion::parse(&read_body(&mut req).await?)?;
    let task = db::with_connection(&ctx.env, &ctx.data.fault, |client| async move {
        db::complete_task(&client, &who.user_id, id, completion, if_match.as_ref()).await
    })
    .await?;
    task_response(200, &task)
}

// --- request helpers ------------------------------------------------------------------------

/// 500 without a usable auth configuration (fail closed), 401 without a valid token, 503 when
/// the token's JWKS cannot be fetched, 403 when the path names another user, 429 over a
/// budget (see `rate_limit`). Runs before any body or database work.
async fn authorize(req: &Request, ctx: &Ctx) -> Result<Identity, ApiError> {
    let settings = settings(&ctx.env);
    let config = settings
        .auth
        .as_ref()
        .map_err(|&cause| ApiError::Misconfigured(cause))?;
    let limited = ApiError::RateLimited {
        retry_after: rate_limit::PERIOD_SECS,
    };
    // An address refused for failed authentication is refused before any token work.
    let address = req
        .headers()
        .get("CF-Connecting-IP")?
        .unwrap_or_else(|| "unknown".into());
    let now_ms = Date::now().as_millis();
    if REFUSED_ADDRESSES.with_borrow(|refused| refused.is_refused(&address, now_ms)) {
        return Err(limited);
    }
    let identity = match authenticate(req, ctx, config).await {
        Ok(identity) => identity,
        Err(err @ (ApiError::Unauthorized(_) | ApiError::Forbidden)) => {
            let key = format!("ip:{address}");
            if !within_budget(ctx, rate_limit::ADDRESS_LIMITER, key).await {
                REFUSED_ADDRESSES.with_borrow_mut(|refused| refused.remember(&address, now_ms));
                return Err(limited);
            }
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let read = matches!(req.method(), Method::Get | Method::Head);
    let key = format!("user:{}", identity.user_id);
    if !within_budget(ctx, rate_limit::user_limiter(read), key).await {
        return Err(limited);
    }
    Ok(identity)
}

thread_local! {
    static REFUSED_ADDRESSES: RefCell<RefusedAddresses> = RefCell::new(RefusedAddresses::default());
}

/// The token (401, 503 without keys) and then the path's user (403).
async fn authenticate(req: &Request, ctx: &Ctx, config: &Config) -> Result<Identity, ApiError> {
    let header = req.headers().get("Authorization")?;
    let token = auth::parse(auth::bearer_token(header.as_deref())?)?;
    let not_accepted = ApiError::Unauthorized("the token's algorithm is not accepted");
    let identity = match auth::scheme(&token)? {
        Scheme::SharedSecret => {
            let key = config.hs256_key.as_ref().ok_or(not_accepted)?;
            auth::verify_hs256(&token, key, &config.hs256_expect, now())?
        }
        Scheme::KeySet { kid } => {
            let source = config.jwks.as_ref().ok_or(not_accepted)?;
            let found = key_source::keys_for(source, kid).await?;
            if let Some(cause) = found.fault {
                ctx.data.fault.replace(Some(("auth_keys_stale", cause)));
            }
            auth::verify_with_key_set(&token, &found.keys, &config.jwks_expect, now())?
        }
    };
    let path_user = ctx
        .param("user_id")
        .and_then(|raw| path::decode_segment(raw));
    if path_user.as_deref() != Some(identity.user_id.as_str()) {
        return Err(ApiError::Forbidden);
    }
    Ok(identity)
}

/// Spends one unit of `key`'s budget in `binding`; false when it is spent. A deployment without
/// the binding is not limited, and a failing limiter lets the request through: limits protect,
/// they must not become an outage of their own.
async fn within_budget(ctx: &Ctx, binding: &str, key: String) -> bool {
    let Ok(limiter) = ctx.env.rate_limiter(binding) else {
        return true;
    };
    !matches!(limiter.limit(key).await, Ok(outcome) if !outcome.success)
}

async fn authorize_task(req: &Request, ctx: &Ctx) -> Result<(Identity, Uuid), ApiError> {
    let identity = authorize(req, ctx).await?;
    let id = path::parse_task_id(ctx.param("id").map(String::as_str).unwrap_or_default())?;
    Ok((identity, id))
}

fn header(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    Ok(req.headers().get(name)?)
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] without buffering the excess.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    let too_large = ApiError::PayloadTooLarge {
        limit: MAX_BODY_BYTES,
    };
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|len| len.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    // With a declared length and no chunked framing (which would override it), the runtime
    // delivers exactly that many bytes, so reading the body in one call is bounded: cheaper than
    // the loop below, which takes and releases a reader per chunk.
    if declared.is_some() && req.headers().get("Transfer-Encoding")?.is_none() {
        let body = req.bytes().await?;
        return if body.len() > MAX_BODY_BYTES {
            Err(too_large)
        } else {
            Ok(body)
        };
    }
    let mut body = Vec::new();
    let mut stream = req.stream()?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn now() -> DateTime<Utc> {
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

/// Platform failures (headers, body streams) are server faults, kept out of `error.rs` so the
/// error model stays free of Workers types.
impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        ApiError::Internal(format!("worker: {err}"))
    }
}

// --- responses ------------------------------------------------------------------------------

fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    Ok(Response::from_json(body)?.with_status(status))
}

/// One task as JSON, with its ETag.
fn task_response(status: u16, task: &Task) -> Result<Response, ApiError> {
    let mut response = json(status, task)?;
    response
        .headers_mut()
        .set("ETag", &headers::etag(task.version))?;
    Ok(response)
}

fn record_fault(state: &RequestState, err: &ApiError) {
    if let Some(cause) = err.log_cause() {
        state.fault.replace(Some((err.code(), cause.to_owned())));
    }
}

/// The only place an [`ApiError`] becomes a response.
fn error_response(err: &ApiError, state: &RequestState) -> worker::Result<Response> {
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
        // Transient by nature: the client may retry (safely: see the README's guarantees).
        ApiError::DatabaseUnavailable(_) => {
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
fn with_common_headers(mut response: Response, request_id: &str) -> worker::Result<Response> {
    let headers = response.headers_mut();
    headers.set("X-Request-Id", request_id)?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}

/// CORS for an allowed `Origin`, on every response including errors; nothing for other origins.
/// `Vary: Origin` whenever CORS is on, since the answer depends on it.
fn with_cors_headers(
    response: &mut Response,
    policy: &CorsPolicy,
    origin: Option<&str>,
    preflight: bool,
) -> worker::Result<()> {
    let headers = response.headers_mut();
    headers.append("Vary", "Origin")?;
    let Some(origin) = origin.filter(|origin| policy.allows(origin)) else {
        return Ok(());
    };
    headers.set("Access-Control-Allow-Origin", origin)?;
    if preflight {
        // The route's own methods (its `Allow`), so a preflight never promises a 405.
        let allow = headers.get("Allow")?.unwrap_or_default();
        if !allow.is_empty() {
            headers.set("Access-Control-Allow-Methods", &allow)?;
        }
        headers.set("Access-Control-Allow-Headers", cors::ALLOW_HEADERS)?;
        headers.set("Access-Control-Max-Age", cors::MAX_AGE_SECS)?;
    } else {
        headers.set("Access-Control-Expose-Headers", cors::EXPOSE_HEADERS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_registers_without_conflicts() {
        // matchit refuses conflicting patterns by panicking at registration; a panic in the
        // worker would abort the isolate on every request, so prove the table is sound here,
        // under every method (each method registers the routes its own way, see `router`).
        for method in Method::all() {
            let _router = router(Rc::new(RequestState::default()), &method);
        }
    }
}
