//! The routes that need no token: `/health`, `/openapi.json` and `/docs`.

use serde::Serialize;
use worker::{Request, Response};

use super::{response, Ctx};
use crate::{db, error::ApiError, openapi};

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
}

/// 200 when the database answers, 503 when it does not; the cause goes to the log line. The
/// answer is the isolate's shared check of the last couple of seconds ([`db::health`]), so
/// anonymous traffic here cannot become database connections.
pub async fn health(_req: Request, ctx: Ctx) -> Result<Response, ApiError> {
    let checked = db::health::database_answers(&ctx.env, &ctx.data.db(&ctx.env)).await;
    match checked {
        Ok(()) => response::json(
            200,
            &Health {
                status: "ok",
                database: "ok",
            },
        ),
        Err(err) => {
            // Not an error response, but the cause still belongs in the log line.
            response::record_fault(&ctx.data, &err);
            response::json(
                503,
                &Health {
                    status: "unavailable",
                    database: "unavailable",
                },
            )
        }
    }
}

/// The OpenAPI document, rendered once per isolate.
pub async fn openapi_document(_req: Request, _ctx: Ctx) -> Result<Response, ApiError> {
    thread_local! {
        static DOCUMENT: String = openapi::document().to_string();
    }
    let body = DOCUMENT.with(Clone::clone);
    let response = Response::from_bytes(body.into_bytes())?;
    response.headers().set("Content-Type", "application/json")?;
    Ok(response)
}

/// The reference page that renders the document, under a policy that lets it load and call
/// nothing but this origin (Cache-Control and nosniff come with every response).
pub async fn docs(_req: Request, _ctx: Ctx) -> Result<Response, ApiError> {
    let response = Response::from_html(openapi::DOCS_HTML)?;
    let headers = response.headers();
    headers.set("Content-Security-Policy", openapi::DOCS_CSP)?;
    headers.set("Referrer-Policy", "no-referrer")?;
    Ok(response)
}
