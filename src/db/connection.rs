//! One database connection per request, through the Hyperdrive binding: opened only after the
//! request has passed the gate and validation, driven alongside the work, closed before the
//! request ends, and bounded by [`DB_DEADLINE`].
//!
//! A connection belongs to the request that opened it (Workers forbid I/O objects shared across
//! requests; Hyperdrive is the pool).
//!
//! Faults: a connection that fails before any statement is sent (refused, reset during the
//! handshake, no answer within [`CONNECT_TIMEOUT`]) is retried once. Once a statement may have
//! been sent it is never retried blindly: only a statement the server says it rolled back
//! because of a concurrent one is run again ([`super::faults`], [`super::statements`]). Every
//! write is a single statement, so a write is applied entirely or not at all; clients retry
//! safely with `Idempotency-Key` or `If-Match`.

use std::{future::Future, time::Duration};

use futures_util::future::{self, Either};
use tokio_postgres::{config::SslMode, tls::NoTlsStream, Client, Config as PgConfig, NoTls};
use worker::{Delay, Env, Hyperdrive};

use super::{faults::classify, socket::PgSocket};
use crate::{
    config::HYPERDRIVE_BINDING,
    error::{ApiError, FaultSlot},
};

/// Connects plus statements must finish within this, so a dead or stalled database turns into a
/// JSON 503 instead of a hanging request.
pub const DB_DEADLINE: Duration = Duration::from_millis(1500);
/// One connection attempt (TCP, startup, authentication). Through Hyperdrive this is a local
/// handshake, normally a few milliseconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The request's connection as its statements see it: the client, and the request's fault
/// slot, where a statement that had to be run again is noted for the log line.
pub struct Session<'r> {
    client: Client,
    faults: &'r FaultSlot,
}

impl<'r> Session<'r> {
    pub fn new(client: Client, faults: &'r FaultSlot) -> Self {
        Session { client, faults }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn faults(&self) -> &FaultSlot {
        self.faults
    }
}

/// Runs `work` with a fresh connection through the Hyperdrive binding, within [`DB_DEADLINE`].
pub async fn with_connection<'r, T, F, Fut>(
    env: &Env,
    faults: &'r FaultSlot,
    work: F,
) -> Result<T, ApiError>
where
    F: FnOnce(Session<'r>) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let exchange = async {
        let hyperdrive = env
            .hyperdrive(HYPERDRIVE_BINDING)
            .map_err(|_| ApiError::Misconfigured("the HYPERDRIVE binding is missing"))?;
        let (client, connection) = match connect(&hyperdrive).await {
            // Nothing was sent yet, so a second connection cannot apply anything twice.
            Err(first) if is_transient(&first) => {
                let connected = connect(&hyperdrive)
                    .await
                    .map_err(|second| retried(&first, second))?;
                if let Some(cause) = first.log_cause() {
                    faults.replace(Some(("database_connect_retried", cause.to_owned())));
                }
                connected
            }
            other => other?,
        };
        // `work` owns the client and drops it when done, which makes `connection` send
        // Terminate and finish: joining the two closes the connection before we return. A
        // connection error surfaces through the work's own result (the request's log line).
        let (result, _closed) = future::join(work(Session::new(client, faults)), connection).await;
        result
    };
    within(DB_DEADLINE, "no answer from the database", exchange).await
}

/// `work`'s result, or "database unavailable" (`silence` and the limit, for the log) when it
/// takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    silence: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match future::select(std::pin::pin!(work), Delay::from(limit)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::DatabaseUnavailable(format!(
            "{silence} within {} ms",
            limit.as_millis()
        ))),
    }
}

type Connection = tokio_postgres::Connection<PgSocket, NoTlsStream>;

/// One connection attempt, bounded by [`CONNECT_TIMEOUT`].
async fn connect(hyperdrive: &Hyperdrive) -> Result<(Client, Connection), ApiError> {
    let attempt = async {
        let mut config = PgConfig::new();
        config
            .user(hyperdrive.user())
            .password(hyperdrive.password())
            .dbname(hyperdrive.database())
            // Hyperdrive speaks plain TCP to the worker and TLS to the origin.
            .ssl_mode(SslMode::Disable);
        let socket = PgSocket::connect(hyperdrive)
            .map_err(|err| ApiError::DatabaseUnavailable(format!("connect: socket: {err}")))?;
        config.connect_raw(socket, NoTls).await.map_err(|err| {
            let mut err = classify(err);
            if let ApiError::DatabaseUnavailable(cause) = &mut err {
                cause.insert_str(0, "connect: ");
            }
            err
        })
    };
    within(CONNECT_TIMEOUT, "connect: no answer", attempt).await
}

/// A failed connection attempt worth one more try: the server was unreachable or went away,
/// not a refusal such as bad credentials (SQLSTATE 28) or a missing database (3D).
fn is_transient(err: &ApiError) -> bool {
    matches!(err, ApiError::DatabaseUnavailable(_))
}

fn retried(first: &ApiError, second: ApiError) -> ApiError {
    match (first, second) {
        (ApiError::DatabaseUnavailable(first), ApiError::DatabaseUnavailable(second)) => {
            ApiError::DatabaseUnavailable(format!("{second} (retried after: {first})"))
        }
        (_, second) => second,
    }
}
