//! One database connection per request, through the Hyperdrive binding: opened only after the
//! request has passed the gate and validation, and driven alongside the work, within
//! the exchange deadline ([`super::deadlines`]), until the work's result is in hand. The answer is decided then. Closing the
//! connection (Terminate, then the socket's shutdown) is finished after the response, under the
//! request's `waitUntil` and its own [`CLOSE_DEADLINE`], after which the socket is dropped: a
//! write that committed is answered as such even if its close stalls.
//!
//! A connection belongs to the request that opened it (Workers forbid I/O objects shared across
//! requests; Hyperdrive is the pool).
//!
//! Faults: a connection that fails before any statement is sent (refused, reset during the
//! handshake, no answer within the connect timeout) is retried once. Once a statement may have
//! been sent it is never retried blindly: only a statement the server says it rolled back
//! because of a concurrent one is run again ([`super::faults`], [`super::statements`]). Every
//! write is a single statement, so a write is applied entirely or not at all; clients retry
//! safely with `Idempotency-Key` or `If-Match`.

use std::{future::Future, pin::pin, time::Duration};

use futures_util::future::{self, Either};
use tokio_postgres::{config::SslMode, tls::NoTlsStream, Client, Config as PgConfig, NoTls};
use wasm_bindgen::JsValue;
use worker::{Context, Date, Delay, Env, Hyperdrive};

use super::{deadlines::Deadlines, faults::classify, socket::PgSocket};
use crate::{
    config::HYPERDRIVE_BINDING,
    error::{ApiError, FaultSlot},
};
/// Closing a connection after the response: sending Terminate and shutting the socket's
/// writable side are local writes, normally immediate; past this the socket is dropped.
pub const CLOSE_DEADLINE: Duration = Duration::from_millis(500);

/// The request's connection as its statements see it: the client, the request's fault slot,
/// where a statement that had to be run again is noted for the log line, and how long the
/// server may spend on a statement.
pub struct Session<'r> {
    client: Client,
    faults: &'r FaultSlot,
    statement_timeout: Option<Duration>,
}

impl<'r> Session<'r> {
    pub fn new(client: Client, faults: &'r FaultSlot) -> Self {
        Session {
            client,
            faults,
            statement_timeout: None,
        }
    }

    /// Has the server give up on each statement after `timeout` (at least a millisecond: zero
    /// would mean no timeout), as [`super::statements`] runs them.
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn faults(&self) -> &FaultSlot {
        self.faults
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }
}

/// What a connection takes from the request that opens it.
pub struct Scope<'r> {
    /// Where faults the request survived are noted for its log line.
    pub faults: &'r FaultSlot,
    /// The request's `Context`, to finish the close after the response; `None` only where there
    /// is no request (host tests).
    pub context: Option<&'r Context>,
    /// The deployment's deadlines ([`super::deadlines`]), or why its variables are unusable.
    pub deadlines: Result<Deadlines, &'static str>,
}

/// Runs `work` with a fresh connection through the Hyperdrive binding, within the exchange
/// deadline; the connection's close is finished after the response (see the module's
/// documentation).
pub async fn with_connection<'r, T, F, Fut>(
    env: &Env,
    request: &Scope<'r>,
    work: F,
) -> Result<T, ApiError>
where
    F: FnOnce(Session<'r>) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let faults = request.faults;
    let deadlines = request.deadlines.map_err(ApiError::Misconfigured)?;
    let started = Date::now().as_millis();
    let exchange = async {
        let hyperdrive = env
            .hyperdrive(HYPERDRIVE_BINDING)
            .map_err(|_| ApiError::Misconfigured("the HYPERDRIVE binding is missing"))?;
        let (client, connection) = match connect(&hyperdrive, deadlines.connect).await {
            // Nothing was sent yet, so a second connection cannot apply anything twice.
            Err(first) if is_transient(&first) => {
                let connected = connect(&hyperdrive, deadlines.connect)
                    .await
                    .map_err(|second| retried(&first, second))?;
                if let Some(cause) = first.log_cause() {
                    faults.replace(Some(("database_connect_retried", cause.to_owned())));
                }
                connected
            }
            other => other?,
        };
        // The server stops a statement when this request stops waiting for it: the rest of the
        // exchange deadline, from now (the statement starts on the server a little later still).
        let spent = Duration::from_millis(Date::now().as_millis().saturating_sub(started));
        let session = Session::new(client, faults)
            .with_statement_timeout(deadlines.exchange.saturating_sub(spent));
        Ok(drive(work(session), connection).await)
    };
    let (result, open) =
        within(deadlines.exchange, "no answer from the database", exchange).await?;
    if let Some(connection) = open {
        close_after_response(request.context, connection);
    }
    result
}

/// Drives `work` and `connection` together until the work's result is in hand, and returns it
/// with the connection if that has not ended: the work dropped its client, so the connection's
/// remaining job is its close (Terminate, then the socket's shutdown), left to the caller.
///
/// A connection that ends first with an error is the cause of the "database unavailable" the
/// work then meets (the client only sees "connection closed"), so that error is reported.
async fn drive<T, W, C>(work: W, mut connection: C) -> (Result<T, ApiError>, Option<C>)
where
    W: Future<Output = Result<T, ApiError>>,
    C: Future<Output = Result<(), tokio_postgres::Error>> + Unpin,
{
    let work = pin!(work);
    let (ended, work) = match future::select(work, &mut connection).await {
        Either::Left((result, _)) => return (result, Some(connection)),
        Either::Right(rest) => rest,
    };
    // Dropping the ended connection ends the client's requests still waiting on it.
    drop(connection);
    let result = match (work.await, ended) {
        (Err(ApiError::DatabaseUnavailable(_)), Err(cause)) => Err(classify(cause)),
        (result, _) => result,
    };
    (result, None)
}

/// Drives `connection` until its close is done or `deadline` passes; either way it is dropped
/// then, which closes the socket. Says whether the close finished in time.
async fn close<C: Future + Unpin>(connection: C, deadline: impl Future<Output = ()>) -> bool {
    matches!(
        future::select(connection, pin!(deadline)).await,
        Either::Left(_)
    )
}

/// Finishes closing `connection` after the response, under the request's `waitUntil`, within
/// [`CLOSE_DEADLINE`]. Without a request context (host tests) the connection is dropped here,
/// which closes the socket without Terminate; PostgreSQL takes that as the end of the session.
fn close_after_response(context: Option<&Context>, connection: Connection) {
    let Some(context) = context else {
        return;
    };
    let closing = async move {
        close(connection, Delay::from(CLOSE_DEADLINE)).await;
        Ok(JsValue::UNDEFINED)
    };
    // `future_to_promise` starts the close at once; `waitUntil` keeps the request alive until it
    // is done. It throws only outside a request's life, and `Context::wait_until` would unwrap
    // that, so the raw method is called and a refusal left to the socket's own cleanup.
    let promise = wasm_bindgen_futures::future_to_promise(closing);
    let _ = AsRef::<worker::worker_sys::Context>::as_ref(context).wait_until(&promise);
}

/// `work`'s result, or "database unavailable" (`silence` and the limit, for the log) when it
/// takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    silence: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match future::select(pin!(work), Delay::from(limit)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::DatabaseUnavailable(format!(
            "{silence} within {} ms",
            limit.as_millis()
        ))),
    }
}

type Connection = tokio_postgres::Connection<PgSocket, NoTlsStream>;

/// One connection attempt, bounded by `limit`.
async fn connect(
    hyperdrive: &Hyperdrive,
    limit: Duration,
) -> Result<(Client, Connection), ApiError> {
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
    within(limit, "connect: no answer", attempt).await
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

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
