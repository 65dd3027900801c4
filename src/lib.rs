//! A multi-user task API on Cloudflare Workers.
//!
//! The worker verifies Better Auth JWTs and keeps each user's tasks in PostgreSQL, reached
//! through a Hyperdrive binding. `routes`, `db::with_connection`, `pg_socket` and `key_source`
//! are the only code that touches the Workers runtime; the rest is a pure core that `cargo test`
//! runs on the host.

// Panicking calls are denied in Cargo.toml (a panic aborts the isolate); tests may assert freely.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod auth;
pub mod config;
pub mod cors;
pub mod db;
pub mod error;
pub mod headers;
pub mod jwks;
pub mod key_cache;
pub mod key_source;
pub mod list_query;
pub mod openapi;
pub mod path;
pub mod pg_socket;
pub mod rate_limit;
pub mod routes;
pub mod task;
pub mod telemetry;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    routes::handle(req, env).await
}
