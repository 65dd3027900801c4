//! The OpenAPI 3.1 document served at `/openapi.json`, and the `/docs` page that renders it.
//!
//! Its paths are the route table's ([`ROUTES`]: methods, summaries, bodies, statuses); its
//! schemas use the same constants and field lists the handlers validate with (`tasks`,
//! `tasks::conditional`, `error`), and the unit tests below compare it with the Rust types
//! themselves (a serialized `Task`, every `ApiError` code, the title parser), so it cannot
//! drift from the code. `make test` also runs schemathesis against it.
//!
//! Three request headers are described in prose rather than as parameters: `Idempotency-Key`,
//! `If-Match` and `If-None-Match` (and the `cursor` query parameter, which only ever comes from
//! a `Link` header). Their valid values depend on server state — an earlier request's body, the
//! task's current version, a cursor the server signed — which a schema cannot express.

use serde_json::{json, Map, Value};

use crate::{
    http::{
        body::BODY_DEADLINE_SECS,
        routes::{openapi_path, Doc, Success, ROUTES},
    },
    tasks::{
        conditional::MAX_IDEMPOTENCY_KEY_CHARS, MAX_BODY_BYTES, MAX_DESCRIPTION_CHARS, MAX_LIMIT,
        MAX_TASKS_PER_USER, MAX_TITLE_CHARS, SERVER_OWNED,
    },
};

/// Every `error.code` the API can answer with (checked against `ApiError` in the tests).
pub const ERROR_CODES: [&str; 18] = [
    "invalid_json",
    "validation_error",
    "body_incomplete",
    "request_timeout",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "precondition_failed",
    "payload_too_large",
    "idempotency_key_reused",
    "task_limit_reached",
    "rate_limited",
    "server_misconfigured",
    "internal_error",
    "auth_unavailable",
    "database_unavailable",
    "database_conflict",
];

/// A title: 1–255 characters as sent; no ASCII control character but tab, line feed and
/// carriage return; at least one character that is neither a control character nor whitespace.
/// The whitespace is spelled out (Rust's `char::is_whitespace`, what the parser trims) rather
/// than `\s`, whose set differs between regex dialects (ECMAScript's holds U+FEFF, not U+0085).
const TITLE_PATTERN: &str = concat!(
    r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*",
    r"[^\x00-\x20\x7F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
);
/// A description: no ASCII control character but tab, line feed and carriage return (the
/// title's rule, without the trimming).
const DESCRIPTION_PATTERN: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$";
/// No NUL anywhere (PostgreSQL cannot store it).
const NO_NUL_PATTERN: &str = r"^[^\x00]*$";
const USER_ID_PATTERN: &str = r"^[A-Za-z0-9._:@-]{1,128}$";

/// The document, as served.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Task API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": concat!(
                "A multi-user todo API on Cloudflare Workers. Every `/api` route needs ",
                "`Authorization: Bearer <JWT>` (Better Auth JWKS-signed or HS256) and the path's ",
                "`{user_id}` must be the token's user. Errors are JSON: ",
                "`{\"error\": {\"code\", \"message\", \"field\"?}}`.\n\n",
                "**Retries.** `POST` accepts `Idempotency-Key` (1-255 printable ASCII characters): ",
                "the same key and body within 24 h replays the original 201 ",
                "(`Idempotent-Replayed: true`); the same key with another body is a 422. ",
                "**Conditional requests.** Single-task responses carry a strong `ETag`; `GET` honours ",
                "`If-None-Match` (304) and `PUT`, `PATCH .../complete` and `DELETE` honour `If-Match` ",
                "(412 with the current `ETag` on a mismatch, 400 if malformed). ",
                "**Paging.** Lists return at most `limit` (default and maximum 1000) tasks and at ",
                "most 512 KiB of JSON (a page always holds one task), so a page may hold fewer than ",
                "`limit` while more follow; when more follow, `Link: <url>; rel=\"next\"` gives the ",
                "next page's URL, whose opaque, signed `cursor` parameter must be used as given."
            )
        },
        "security": [{ "bearer": [] }],
        "paths": paths(),
        "components": {
            "parameters": parameters(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            },
            "headers": {
                "ETag": { "required": true, "description": "The task's version, a strong entity tag",
                          "schema": { "type": "string" } },
                "RetryAfter": { "required": true, "description": "Seconds to wait before retrying",
                                "schema": { "type": "string", "pattern": "^[0-9]+$" } }
            },
            "schemas": {
                "Task": task_schema(),
                "NewTask": input_schema(true),
                "TaskChanges": input_schema(false),
                "Completion": {
                    "type": "object", "additionalProperties": false,
                    "properties": with_server_owned(json!({ "completed": { "type": "boolean" } }))
                },
                "Health": {
                    "type": "object", "required": ["status", "database"], "additionalProperties": false,
                    "properties": {
                        "status": { "type": "string", "enum": ["ok", "unavailable"] },
                        "database": { "type": "string", "enum": ["ok", "unavailable"] }
                    }
                },
                "Error": {
                    "type": "object", "required": ["error"], "additionalProperties": false,
                    "properties": { "error": {
                        "type": "object", "required": ["code", "message"], "additionalProperties": false,
                        "properties": {
                            "code": { "type": "string", "enum": ERROR_CODES },
                            "message": { "type": "string" },
                            "field": { "type": "string", "description": "The invalid field, parameter or header (validation_error)" }
                        }
                    } }
                }
            },
            "responses": {
                "E400": error_response("Malformed input: invalid JSON, a field, parameter or header that breaks its rule, or a body the client cut off", None),
                "E401": error_response("Token missing, malformed, forged, expired or of a refused kind", Some(json!({
                    "WWW-Authenticate": { "required": true, "schema": { "type": "string" } }
                }))),
                "E403": error_response("The path names another user than the token's", None),
                "E404": error_response("No such task for this user", None),
                "E412": error_response("`If-Match` names another version; `ETag` is the current one", Some(json!({
                    "ETag": { "$ref": "#/components/headers/ETag" }
                }))),
                "E408": error_response(&format!("The body did not arrive within {BODY_DEADLINE_SECS} s"), None),
                "E409": error_response(&format!("The user already has {MAX_TASKS_PER_USER} tasks, the most one user can have (`task_limit_reached`)"), None),
                "E413": error_response(&format!("The body is over {MAX_BODY_BYTES} bytes"), None),
                "E422": error_response("The Idempotency-Key was used for a different request", None),
                "E429": error_response("Over a rate-limit budget", Some(json!({
                    "Retry-After": { "$ref": "#/components/headers/RetryAfter" }
                }))),
                "E500": error_response("The server is misconfigured or failed", None),
                "E503": error_response("The database or the token's key set is unavailable, or the request collided with concurrent ones; retry later", Some(json!({
                    "Retry-After": { "$ref": "#/components/headers/RetryAfter" }
                })))
            }
        }
    })
}

/// Every route of the table, with its path parameters and its operations.
fn paths() -> Value {
    let mut paths = Map::new();
    for route in &ROUTES {
        let mut item = Map::new();
        let path_parameters: Vec<Value> = route
            .pattern
            .split('/')
            .filter_map(|segment| segment.strip_prefix(':'))
            .map(|name| json!({ "$ref": format!("#/components/parameters/{name}") }))
            .collect();
        if !path_parameters.is_empty() {
            item.insert("parameters".into(), json!(path_parameters));
        }
        for operation in route.operations {
            item.insert(
                operation.method.as_ref().to_ascii_lowercase(),
                self::operation(&operation.doc),
            );
        }
        paths.insert(openapi_path(route.pattern), Value::Object(item));
    }
    Value::Object(paths)
}

fn operation(doc: &Doc) -> Value {
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(doc.id));
    operation.insert("summary".into(), json!(doc.summary));
    if let Some(description) = doc.description {
        operation.insert("description".into(), json!(description));
    }
    if doc.public {
        operation.insert("security".into(), json!([]));
    }
    if !doc.query.is_empty() {
        let refs: Vec<Value> = doc
            .query
            .iter()
            .map(|name| json!({ "$ref": format!("#/components/parameters/{name}") }))
            .collect();
        operation.insert("parameters".into(), json!(refs));
    }
    if let Some((schema, required)) = doc.body {
        operation.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
            }),
        );
    }
    let mut responses = success(doc.success);
    for code in doc.errors {
        responses.insert(
            code.to_string(),
            json!({ "$ref": format!("#/components/responses/E{code}") }),
        );
    }
    operation.insert("responses".into(), Value::Object(responses));
    Value::Object(operation)
}

/// The successful responses of each kind.
fn success(kind: Success) -> Map<String, Value> {
    let task_content =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Task" } } });
    let etag = json!({ "ETag": { "$ref": "#/components/headers/ETag" } });
    let health =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } });
    let responses = match kind {
        Success::Health => json!({
            "200": { "description": "Up, database reachable", "content": health },
            "503": { "description": "Database unreachable", "content": health }
        }),
        Success::OpenApi => json!({
            "200": { "description": "The OpenAPI document",
                     "content": { "application/json": { "schema": { "type": "object" } } } }
        }),
        Success::Html => json!({
            "200": { "description": "An HTML page",
                     "content": { "text/html": { "schema": { "type": "string" } } } }
        }),
        Success::TaskPage => json!({
            "200": {
                "description": "The page of tasks",
                "headers": { "Link": { "description": "`<url>; rel=\"next\"` when more tasks follow", "schema": { "type": "string" } } },
                "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Task" } } } }
            }
        }),
        Success::Created => json!({
            "201": {
                "description": "Created (or replayed for a repeated Idempotency-Key)",
                "headers": {
                    "ETag": { "$ref": "#/components/headers/ETag" },
                    "Location": { "required": true, "description": "The task's URL path", "schema": { "type": "string" } }
                },
                "content": task_content
            }
        }),
        Success::Task => json!({
            "200": { "description": "The task", "headers": etag, "content": task_content },
            "304": { "description": "Not modified (`If-None-Match` matched)", "headers": etag }
        }),
        Success::Changed => json!({
            "200": { "description": "The updated task", "headers": etag, "content": task_content }
        }),
        Success::NoContent => json!({ "204": { "description": "Deleted; no body" } }),
    };
    match responses {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Path parameters (named as in the route patterns) and the list's query parameters.
fn parameters() -> Value {
    json!({
        "user_id": {
            "name": "user_id", "in": "path", "required": true,
            "description": "The token's user id (its `sub`). Any other value is a 403.",
            "schema": { "type": "string", "pattern": USER_ID_PATTERN }
        },
        "id": {
            "name": "id", "in": "path", "required": true,
            "description": "The task's id: a hyphenated UUID.",
            "schema": { "type": "string", "format": "uuid" }
        },
        "completed": {
            "name": "completed", "in": "query", "schema": { "type": "boolean" },
            "description": "Only completed (true) or open (false) tasks."
        },
        "q": {
            "name": "q", "in": "query",
            "schema": { "type": "string", "maxLength": 200, "pattern": NO_NUL_PATTERN },
            "description": "Case-insensitive substring of the title or the description; blank = no filter."
        },
        "sort": {
            "name": "sort", "in": "query",
            "schema": { "type": "string", "enum": ["created_at", "updated_at", "title"], "default": "created_at" }
        },
        "order": {
            "name": "order", "in": "query",
            "schema": { "type": "string", "enum": ["asc", "desc"] },
            "description": "Default: `desc` for the timestamps, `asc` for `title`. Ties are broken by `id` in the same direction."
        },
        "limit": {
            "name": "limit", "in": "query",
            "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT }
        }
    })
}

fn error_response(description: &str, headers: Option<Value>) -> Value {
    let mut response = json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    });
    if let (Some(headers), Some(map)) = (headers, response.as_object_mut()) {
        map.insert("headers".into(), headers);
    }
    response
}

fn task_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "title", "description", "completed", "user_id", "created_at", "updated_at"],
        "additionalProperties": false,
        "properties": {
            "id": { "type": "string", "format": "uuid" },
            "title": { "type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS },
            "description": { "type": ["string", "null"], "maxLength": MAX_DESCRIPTION_CHARS },
            "completed": { "type": "boolean" },
            "user_id": { "type": "string", "pattern": USER_ID_PATTERN },
            "created_at": { "type": "string", "format": "date-time" },
            "updated_at": { "type": "string", "format": "date-time" }
        }
    })
}

/// The body of a create (`title` required) or of a PUT (at least one field).
fn input_schema(create: bool) -> Value {
    let properties = with_server_owned(json!({
        "title": {
            "type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": TITLE_PATTERN,
            "description": "Stored with leading and trailing whitespace (spaces, tabs, line breaks, Unicode spaces) trimmed; tab, line feed and carriage return inside are kept, other control characters refused."
        },
        "description": {
            "type": ["string", "null"], "maxLength": MAX_DESCRIPTION_CHARS, "pattern": DESCRIPTION_PATTERN,
            "description": "Stored verbatim; tab, line feed and carriage return are allowed, other control characters refused. `null` clears it."
        },
        "completed": { "type": "boolean" }
    }));
    let mut schema =
        json!({ "type": "object", "additionalProperties": false, "properties": properties });
    if let Some(map) = schema.as_object_mut() {
        if create {
            map.insert("required".into(), json!(["title"]));
        } else {
            map.insert(
                "anyOf".into(),
                json!([{ "required": ["title"] }, { "required": ["description"] }, { "required": ["completed"] }]),
            );
        }
    }
    schema
}

/// `properties` plus the server-owned fields a body may carry (so a client can send back what
/// it read); any value is accepted and ignored.
fn with_server_owned(mut properties: Value) -> Value {
    if let Some(map) = properties.as_object_mut() {
        for field in SERVER_OWNED {
            map.insert(
                field.to_owned(),
                json!({ "description": "Server-owned: accepted and ignored" }),
            );
        }
    }
    properties
}

/// The `/docs` page: the document rendered by Scalar's API reference. Its script is the worker's
/// own static asset (`scripts/build.sh` copies it from the pinned npm package), so the page
/// loads nothing from another origin and [`DOCS_CSP`] can say so. The configuration keeps
/// Scalar's own services out: no font CDN, no request proxy (the API is same-origin), no agent
/// chat, no telemetry.
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Task API reference</title>
    <link rel="icon" href="data:,">
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json" data-configuration='{"withDefaultFonts":false,"proxyUrl":"","telemetry":false,"agent":{"disabled":true},"showDeveloperTools":"never","hideClientButton":true}'></script>
    <script src="/docs/assets/scalar-setup.js"></script>
    <script src="/docs/assets/scalar-api-reference.js"></script>
  </body>
</html>
"#;

/// The `/docs` page's Content-Security-Policy: scripts, fetches and images from the API's own
/// origin only, so a token pasted into the page's request client can reach no other. Styles may
/// also be inline (the bundle injects its CSS); with every fetch directive at 'self' they can
/// load nothing from elsewhere.
pub const DOCS_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `MAX_IDEMPOTENCY_KEY_CHARS` is stated in the description; kept here so a change shows up.
const _: () = assert!(MAX_IDEMPOTENCY_KEY_CHARS == 255);

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
