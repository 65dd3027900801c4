//! A multi-user task API on Cloudflare Workers: it verifies Better Auth JWTs and keeps each
//! user's tasks in PostgreSQL, reached through a Hyperdrive binding.
//!
//! **The rule:** only [`http`] (the shell: routes, handlers, responses), the connection part of
//! [`db`] (`db::connection`, `db::socket`, and the timers of the shared health check in
//! `db::health`) and the JWKS fetch (`auth::key_source`) touch the Workers runtime; the core
//! never depends on the shell. Everything else is a pure core that `cargo test` runs on the host:
//!
//! - where a route lives: the route table in `http::routes`, its handler in `http::tasks` or
//!   `http::operational`;
//! - a SQL statement: `db::statements`, one written-out text per statement;
//! - a token rule: `auth::token` (keys: `auth::key_set`, `auth::key_cache`);
//! - an error status: `error` (`ApiError::status`, the one mapping);
//! - task validation, list parameters and cursors: `tasks`.

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
pub mod db;
pub mod error;
pub mod http;
pub mod openapi;
pub mod tasks;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    http::handle(req, env, ctx).await
}
