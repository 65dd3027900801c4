//! Reading a request body within [`MAX_BODY_BYTES`] and [`BODY_DEADLINE_SECS`], without
//! buffering the excess. A body that stops early is the client's doing (400), not a server
//! fault.

use std::time::Duration;

use futures_util::{
    future::{self, Either},
    StreamExt,
};
use worker::{Delay, Request};

use crate::{error::ApiError, tasks::MAX_BODY_BYTES};

/// A body (at most 64 KiB) must arrive within this: a client trickling bytes must not hold a
/// request open for minutes.
pub const BODY_DEADLINE_SECS: u64 = 10;

/// Reads the body: 413 over [`MAX_BODY_BYTES`], 408 past [`BODY_DEADLINE_SECS`], 400 when it
/// ends before it is complete.
pub async fn read(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    let deadline = Delay::from(Duration::from_secs(BODY_DEADLINE_SECS));
    match future::select(std::pin::pin!(read_bounded(req)), deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(ApiError::RequestTimeout {
            limit_secs: BODY_DEADLINE_SECS,
        }),
    }
}

async fn read_bounded(req: &mut Request) -> Result<Vec<u8>, ApiError> {
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
        let body = req.bytes().await.map_err(incomplete)?;
        return if body.len() > MAX_BODY_BYTES {
            Err(too_large)
        } else {
            Ok(body)
        };
    }
    let mut body = Vec::new();
    let mut stream = req.stream()?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(incomplete)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed body read: the client's doing as far as the status goes; the runtime's words are
/// kept for the log line.
fn incomplete(err: worker::Error) -> ApiError {
    ApiError::BodyIncomplete(format!("reading the body: {err}"))
}
