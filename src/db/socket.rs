//! The TCP stream tokio-postgres talks through: a Workers socket from the Hyperdrive binding,
//! with its stream reader and writer taken once for the connection's life.
//!
//! Why not `worker::Socket`: it takes and releases the stream's lock around every read and
//! every write and reads each result's fields by name through `Reflect`: a dozen extra
//! crossings between wasm and JavaScript per request (bench/README.md has the profile). Here a
//! read is one `reader.read()` whose bytes are copied straight into tokio's buffer, and
//! a write hands its bytes to the writer and waits for it only on flush, as a buffered stream
//! does.

use std::{
    io,
    pin::Pin,
    task::{ready, Context, Poll},
};

use futures_util::FutureExt;
use js_sys::{Promise, Uint8Array};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasm_bindgen::{
    prelude::{wasm_bindgen, Closure},
    JsCast, JsValue,
};
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// The Hyperdrive binding (only the method used here).
    type HyperdriveBinding;
    #[wasm_bindgen(method, catch)]
    fn connect(this: &HyperdriveBinding) -> Result<JsSocket, JsValue>;

    /// A socket from `connect()` (Workers TCP sockets API).
    type JsSocket;
    #[wasm_bindgen(method, getter, catch)]
    fn readable(this: &JsSocket) -> Result<JsStream, JsValue>;
    #[wasm_bindgen(method, getter, catch)]
    fn writable(this: &JsSocket) -> Result<JsStream, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &JsSocket) -> Result<Promise, JsValue>;

    /// A ReadableStream or WritableStream.
    type JsStream;
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &JsStream) -> Result<Reader, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getWriter)]
    fn get_writer(this: &JsStream) -> Result<Writer, JsValue>;

    type Reader;
    #[wasm_bindgen(method)]
    fn read(this: &Reader) -> Promise;

    /// What `reader.read()` resolves to.
    type ReadResult;
    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadResult) -> bool;
    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadResult) -> Option<Uint8Array>;

    type Writer;
    #[wasm_bindgen(method)]
    fn write(this: &Writer, chunk: &Uint8Array) -> Promise;
    #[wasm_bindgen(method)]
    fn close(this: &Writer) -> Promise;
}

/// A connected socket, read and written by tokio-postgres.
pub struct PgSocket {
    /// Kept for the connection's life and closed on drop.
    _socket: OpenSocket,
    reader: Reader,
    writer: Writer,
    /// The read in flight, if any.
    reading: Option<JsFuture>,
    /// Bytes received but not yet taken (a chunk larger than the caller's buffer).
    received: Option<(Uint8Array, u32)>,
    /// The last write handed to the writer and not yet confirmed.
    writing: Option<JsFuture>,
    closing: Option<JsFuture>,
}

impl PgSocket {
    /// Opens a socket through the Hyperdrive binding (the TCP handshake completes in the
    /// background; the first read or write waits for it).
    pub fn connect(hyperdrive: &worker::Hyperdrive) -> Result<PgSocket, String> {
        let binding: &HyperdriveBinding = hyperdrive.as_ref().unchecked_ref();
        let socket = OpenSocket(binding.connect().map_err(describe)?);
        // If a stream cannot be taken, `socket` is dropped on the way out, which closes it.
        let reader = socket.0.readable().and_then(|s| s.get_reader());
        let reader = reader.map_err(describe)?;
        let writer = socket.0.writable().and_then(|s| s.get_writer());
        let writer = writer.map_err(describe)?;
        Ok(PgSocket {
            _socket: socket,
            reader,
            writer,
            reading: None,
            received: None,
            writing: None,
            closing: None,
        })
    }

    /// Copies as much of `chunk` from `offset` as fits; keeps the rest for the next read.
    fn take(&mut self, buf: &mut ReadBuf<'_>, chunk: Uint8Array, offset: u32) {
        let available = chunk.length().saturating_sub(offset);
        let room = u32::try_from(buf.remaining()).unwrap_or(u32::MAX);
        let n = available.min(room);
        let end = offset.saturating_add(n);
        let len = usize::try_from(n).unwrap_or(0);
        chunk
            .subarray(offset, end)
            .copy_to(buf.initialize_unfilled_to(len));
        buf.advance(len);
        if end < chunk.length() {
            self.received = Some((chunk, end));
        }
    }
}

/// A socket `connect()` returned, closed when dropped: whatever fails after the connect, or
/// however the connection ends, the socket is not left open.
struct OpenSocket(JsSocket);

impl Drop for OpenSocket {
    /// Closes both directions: workerd keeps every socket object an isolate opened reachable,
    /// and closing only the writable side, as tokio-postgres's shutdown does, leaves more of it
    /// behind (bench/README.md has the measurements).
    fn drop(&mut self) {
        if let Ok(closed) = self.0.close() {
            // Its outcome does not matter; an unobserved rejection would only be logged noise.
            IGNORE.with(|ignore| {
                let _ = closed.catch(ignore);
            });
        }
    }
}

thread_local! {
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

fn describe(value: JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|err| String::from(err.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

fn io_error(value: JsValue) -> io::Error {
    io::Error::other(describe(value))
}

/// Waits for the JavaScript promise in `slot`, if any, and empties the slot once it settles.
fn settle(slot: &mut Option<JsFuture>, cx: &mut Context<'_>) -> Poll<io::Result<JsValue>> {
    let Some(future) = slot.as_mut() else {
        return Poll::Ready(Ok(JsValue::UNDEFINED));
    };
    let result = ready!(future.poll_unpin(cx));
    *slot = None;
    Poll::Ready(result.map_err(io_error))
}

impl AsyncRead for PgSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some((chunk, offset)) = this.received.take() {
            this.take(buf, chunk, offset);
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.reading.is_none() {
                this.reading = Some(JsFuture::from(this.reader.read()));
            }
            let result: ReadResult = ready!(settle(&mut this.reading, cx))?.unchecked_into();
            let chunk = result.value();
            match outcome(result.done(), chunk.as_ref().map(Uint8Array::length)) {
                // tokio takes a read that fills nothing as the end of the stream.
                Outcome::End => return Poll::Ready(Ok(())),
                Outcome::Bytes => {
                    if let Some(chunk) = chunk {
                        this.take(buf, chunk, 0);
                    }
                    return Poll::Ready(Ok(()));
                }
                Outcome::Nothing => {}
            }
        }
    }
}

/// What one `reader.read()` result means for a reader of the stream.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The stream has ended.
    End,
    /// Bytes to hand over.
    Bytes,
    /// A chunk without bytes, which is not the end of the stream: read again. (Passing it on
    /// as a read that fills nothing would tell tokio-postgres the server hung up.)
    Nothing,
}

/// The meaning of a read result: `done`, and the length of its chunk if it has one.
fn outcome(done: bool, chunk_len: Option<u32>) -> Outcome {
    match (done, chunk_len) {
        (true, _) => Outcome::End,
        (false, Some(len)) if len > 0 => Outcome::Bytes,
        (false, _) => Outcome::Nothing,
    }
}

impl AsyncWrite for PgSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // One write in flight at a time bounds what is buffered on the JavaScript side.
        ready!(settle(&mut this.writing, cx))?;
        let chunk = Uint8Array::from(buf);
        this.writing = Some(JsFuture::from(this.writer.write(&chunk)));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        settle(&mut self.get_mut().writing, cx).map_ok(drop)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closing.is_none() {
            ready!(settle(&mut this.writing, cx))?;
            this.closing = Some(JsFuture::from(this.writer.close()));
        }
        settle(&mut this.closing, cx).map_ok(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_done_read_ends_the_stream_and_an_empty_chunk_is_read_again() {
        assert_eq!(outcome(true, None), Outcome::End);
        assert_eq!(outcome(true, Some(0)), Outcome::End);
        assert_eq!(outcome(false, Some(1)), Outcome::Bytes);
        assert_eq!(outcome(false, Some(0)), Outcome::Nothing);
        assert_eq!(outcome(false, None), Outcome::Nothing);
    }
}
