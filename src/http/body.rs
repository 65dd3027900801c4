//! Reading a request body within [`MAX_BODY_BYTES`], without buffering the excess.

use futures_util::StreamExt;
use worker::Request;

use crate::{error::ApiError, tasks::MAX_BODY_BYTES};

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] with 413.
pub async fn read(req: &mut Request) -> Result<Vec<u8>, ApiError> {
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
