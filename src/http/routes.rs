//! The route table: every route, the methods it answers, their handlers and how each is
//! documented. Everything that depends on a route's methods — dispatch, `405` with `Allow`,
//! `OPTIONS`, the OpenAPI document's paths ([`crate::openapi`]) — is derived from [`ROUTES`].
//!
//! | Method    | Path                                 | Success                   |
//! |-----------|--------------------------------------|---------------------------|
//! | GET, HEAD | `/health`                            | 200 / 503 database status |
//! | GET, HEAD | `/openapi.json`, `/docs`             | 200                       |
//! | GET, HEAD | `/api/{user_id}/tasks`               | 200 list                  |
//! | POST      | `/api/{user_id}/tasks`               | 201 created               |
//! | GET, HEAD | `/api/{user_id}/tasks/{id}`          | 200 task (304)            |
//! | PUT       | `/api/{user_id}/tasks/{id}`          | 200 task                  |
//! | DELETE    | `/api/{user_id}/tasks/{id}`          | 204                       |
//! | PATCH     | `/api/{user_id}/tasks/{id}/complete` | 200 task                  |
//!
//! HEAD is answered wherever GET is, by the GET handler; OPTIONS everywhere (204 with `Allow`);
//! any other method is a JSON 405 with `Allow`.

use std::{future::Future, pin::Pin, rc::Rc};

use worker::{Headers, Method, Request, Response, Router};

use super::{operational, response, tasks, Ctx, RequestState};
use crate::error::ApiError;

/// What a handler returns; [`dispatch`] turns the error into JSON.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>>>>;
pub type Handler = fn(Request, Ctx) -> HandlerFuture;

/// A path pattern (matchit syntax, `:name` for a parameter) and what it answers.
pub struct Route {
    pub pattern: &'static str,
    pub operations: &'static [Operation],
}

/// One method of a route.
pub struct Operation {
    pub method: Method,
    pub handler: Handler,
    pub doc: Doc,
}

/// How an operation appears in `/openapi.json` (rendered by [`crate::openapi`]).
pub struct Doc {
    pub id: &'static str,
    pub summary: &'static str,
    pub description: Option<&'static str>,
    /// No token needed (the document's `security: []`).
    pub public: bool,
    /// Query parameters, by name in the document's `components/parameters`.
    pub query: &'static [&'static str],
    /// The request body: its schema in `components/schemas` and whether it is required.
    pub body: Option<(&'static str, bool)>,
    pub success: Success,
    /// The error statuses it can answer (an unknown path's 404 and 405 go for every route).
    pub errors: &'static [u16],
}

/// The kinds of successful answer, each documented once by [`crate::openapi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// 200 or 503 with the health object.
    Health,
    /// 200 with the OpenAPI document.
    OpenApi,
    /// 200 with an HTML page.
    Html,
    /// 200 with a page of tasks, `Link` when more follow.
    TaskPage,
    /// 201 with the task, `ETag` and `Location`.
    Created,
    /// 200 with the task and `ETag`; 304 when `If-None-Match` matches.
    Task,
    /// 200 with the changed task and `ETag`.
    Changed,
    /// 204 without a body.
    NoContent,
}

/// Wraps an `async fn(Request, Ctx)` as a [`Handler`].
macro_rules! handler {
    ($f:path) => {
        |req, ctx| Box::pin($f(req, ctx))
    };
}

/// Every route of the API.
pub static ROUTES: [Route; 6] = [
    Route {
        pattern: "/health",
        operations: &[Operation {
            method: Method::Get,
            handler: handler!(operational::health),
            doc: Doc {
                id: "health",
                summary: "Liveness and database reachability",
                description: Some(
                    "Needs no token and is never rate limited. One database check answers every call an isolate receives for 2 s from its start (`WINDOW_MS`; calls arriving while it runs wait for it), so an outage or a recovery shows within about 2 s and anonymous calls cannot multiply database connections.",
                ),
                public: true,
                query: &[],
                body: None,
                success: Success::Health,
                errors: &[],
            },
        }],
    },
    Route {
        pattern: "/openapi.json",
        operations: &[Operation {
            method: Method::Get,
            handler: handler!(operational::openapi_document),
            doc: Doc {
                id: "openapi",
                summary: "This document",
                description: None,
                public: true,
                query: &[],
                body: None,
                success: Success::OpenApi,
                errors: &[],
            },
        }],
    },
    Route {
        pattern: "/docs",
        operations: &[Operation {
            method: Method::Get,
            handler: handler!(operational::docs),
            doc: Doc {
                id: "docs",
                summary: "This document, rendered for people",
                description: None,
                public: true,
                query: &[],
                body: None,
                success: Success::Html,
                errors: &[],
            },
        }],
    },
    Route {
        pattern: "/api/:user_id/tasks",
        operations: &[
            Operation {
                method: Method::Get,
                handler: handler!(tasks::list),
                doc: Doc {
                    id: "listTasks",
                    summary: "List the user's tasks",
                    description: Some(
                        "Filtered, sorted and paged by keyset. Without `limit`, all matching tasks up to 1000. A page also ends at 512 KiB of JSON (at least one task), so it may hold fewer than `limit` tasks while more follow: follow `Link` until there is none.",
                    ),
                    public: false,
                    query: &["completed", "q", "sort", "order", "limit"],
                    body: None,
                    success: Success::TaskPage,
                    errors: &[400, 401, 403, 429, 500, 503],
                },
            },
            Operation {
                method: Method::Post,
                handler: handler!(tasks::create),
                doc: Doc {
                    id: "createTask",
                    summary: "Create a task",
                    description: None,
                    public: false,
                    query: &[],
                    body: Some(("NewTask", true)),
                    success: Success::Created,
                    errors: &[400, 401, 403, 408, 409, 413, 422, 429, 500, 503],
                },
            },
        ],
    },
    Route {
        pattern: "/api/:user_id/tasks/:id",
        operations: &[
            Operation {
                method: Method::Get,
                handler: handler!(tasks::get),
                doc: Doc {
                    id: "getTask",
                    summary: "Get a task",
                    description: None,
                    public: false,
                    query: &[],
                    body: None,
                    success: Success::Task,
                    errors: &[400, 401, 403, 404, 429, 500, 503],
                },
            },
            Operation {
                method: Method::Put,
                handler: handler!(tasks::update),
                doc: Doc {
                    id: "updateTask",
                    summary: "Change some fields of a task",
                    description: None,
                    public: false,
                    query: &[],
                    body: Some(("TaskChanges", true)),
                    success: Success::Changed,
                    errors: &[400, 401, 403, 404, 408, 412, 413, 429, 500, 503],
                },
            },
            Operation {
                method: Method::Delete,
                handler: handler!(tasks::delete),
                doc: Doc {
                    id: "deleteTask",
                    summary: "Delete a task",
                    description: None,
                    public: false,
                    query: &[],
                    body: None,
                    success: Success::NoContent,
                    errors: &[400, 401, 403, 404, 412, 429, 500, 503],
                },
            },
        ],
    },
    Route {
        pattern: "/api/:user_id/tasks/:id/complete",
        operations: &[Operation {
            method: Method::Patch,
            handler: handler!(tasks::complete),
            doc: Doc {
                id: "completeTask",
                summary: "Set or toggle completion",
                description: Some(
                    "`{\"completed\": true|false}` sets the flag; an empty body or `{}` toggles it.",
                ),
                public: false,
                query: &[],
                body: Some(("Completion", false)),
                success: Success::Changed,
                errors: &[400, 401, 403, 404, 408, 412, 413, 429, 500, 503],
            },
        }],
    },
];

impl Route {
    /// The methods this route answers, for `Allow`: each operation's, with HEAD after GET.
    pub fn allow(&self) -> String {
        let mut methods = Vec::new();
        for operation in self.operations {
            methods.push(operation.method.as_ref());
            if operation.method == Method::Get {
                methods.push(Method::Head.as_ref());
            }
        }
        methods.join(", ")
    }

    /// The operation answering the method named `method` (case-sensitive, RFC 9110); HEAD is
    /// answered by GET's.
    fn operation(&self, method: &str) -> Option<&Operation> {
        let method = if method == "HEAD" { "GET" } else { method };
        self.operations
            .iter()
            .find(|operation| operation.method.as_ref() == method)
    }
}

/// The router for one request. workers-rs builds its router per request, and `on_async` inserts
/// a route under all ten methods it knows; so each route is registered under the request's own
/// method only, and [`dispatch`] decides what that method gets.
pub fn router(state: Rc<RequestState>, method: &Method) -> Router<'static, Rc<RequestState>> {
    let mut router = Router::with_data(state);
    for route in &ROUTES {
        let serve = move |req, ctx| dispatch(req, ctx, route);
        router = match method {
            Method::Get => router.get_async(route.pattern, serve),
            Method::Head => router.head_async(route.pattern, serve),
            Method::Post => router.post_async(route.pattern, serve),
            Method::Put => router.put_async(route.pattern, serve),
            Method::Patch => router.patch_async(route.pattern, serve),
            Method::Delete => router.delete_async(route.pattern, serve),
            Method::Options => router.options_async(route.pattern, serve),
            _ => router.on_async(route.pattern, serve),
        };
    }
    router
        .or_else_any_method_async("/", |_, ctx| not_found(ctx))
        .or_else_any_method_async("/*path", |_, ctx| not_found(ctx))
}

/// Answers OPTIONS and methods the route lacks itself, runs the operation's handler otherwise,
/// and turns its error into JSON.
async fn dispatch(req: Request, ctx: Ctx, route: &'static Route) -> worker::Result<Response> {
    let state = ctx.data.clone();
    state.route.replace(Some(route.pattern));
    // The method as sent: workers-rs reads methods it does not know (QUERY, FOO) as GET.
    let method = req.inner().method();
    if method == "OPTIONS" {
        let headers = Headers::new();
        headers.set("Allow", &route.allow())?;
        return Ok(Response::empty()?.with_status(204).with_headers(headers));
    }
    let Some(operation) = route.operation(&method) else {
        let allow = route.allow();
        return response::error(&ApiError::MethodNotAllowed { allow }, &state);
    };
    match (operation.handler)(req, ctx).await {
        Ok(response) => Ok(response),
        Err(err) => response::error(&err, &state),
    }
}

async fn not_found(ctx: Ctx) -> worker::Result<Response> {
    response::error(&ApiError::RouteNotFound, &ctx.data)
}

/// A route's pattern as an OpenAPI path: `{name}` for `:name`.
pub fn openapi_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
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

    #[test]
    fn allow_lists_each_operation_in_order_with_head_after_get() {
        let allow: Vec<String> = ROUTES.iter().map(Route::allow).collect();
        assert_eq!(
            allow,
            [
                "GET, HEAD",
                "GET, HEAD",
                "GET, HEAD",
                "GET, HEAD, POST",
                "GET, HEAD, PUT, DELETE",
                "PATCH"
            ]
        );
    }

    #[test]
    fn methods_are_matched_exactly_and_head_goes_to_get() {
        let tasks = &ROUTES[3];
        assert_eq!(
            tasks.operation("HEAD").map(|op| op.doc.id),
            Some("listTasks")
        );
        assert_eq!(
            tasks.operation("POST").map(|op| op.doc.id),
            Some("createTask")
        );
        for other in ["get", "PUT", "DELETE", "QUERY", "OPTIONS", ""] {
            assert!(tasks.operation(other).is_none(), "{other}");
        }
    }

    #[test]
    fn patterns_become_openapi_paths() {
        assert_eq!(
            openapi_path("/api/:user_id/tasks/:id/complete"),
            "/api/{user_id}/tasks/{id}/complete"
        );
        assert_eq!(openapi_path("/health"), "/health");
    }
}
