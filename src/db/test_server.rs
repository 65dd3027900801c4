//! A scripted PostgreSQL server for host tests: a real tokio-postgres client and connection over
//! an in-memory stream, so the driver's own errors (which have no public constructors) can be
//! produced, and the connection's close stalled, without a database or the Workers runtime.
//!
//! The server answers each request of the client's, in order, with the next [`Reply`]: the
//! startup message, and each `Sync` or simple `Query` (the ends of tokio-postgres' requests).
//! Futures are run by [`poll_until_stalled`]: everything here is in memory, so a future that
//! is still pending once nothing wakes it any more never finishes.

use std::{
    cell::RefCell,
    collections::VecDeque,
    future::Future,
    io,
    pin::{pin, Pin},
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_util::future::{self, Either};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::{tls::NoTlsStream, Client, Config, Connection, NoTls};

/// What the server does when the client's next request is complete.
pub enum Reply {
    /// Sends these bytes (whole backend messages: see the builders below).
    Send(Vec<u8>),
    /// Ends the stream, as a server that hung up.
    Hangup,
    /// Sends these bytes, then ends the stream.
    Cut(Vec<u8>),
    /// Fails the client's next read with this I/O error, as a socket that broke.
    Break,
}

/// What the test can see of the stream, and how it behaves.
#[derive(Default)]
pub struct State {
    replies: VecDeque<Reply>,
    readable: Vec<u8>,
    ended: bool,
    broken: bool,
    reader: Option<Waker>,
    written: Vec<u8>,
    parsed: usize,
    started: bool,
    /// Requests the client completed (the startup message counts as one).
    pub requests: usize,
    /// The text of each simple `Query` and each `Parse`, in order.
    pub statements: Vec<String>,
    /// How many requests the client had completed each time it read an answer after sending
    /// more: `[1, 4]` is the startup, then four requests sent before waiting for any answer.
    pub batches: Vec<usize>,
    answered: usize,
    /// The client sent Terminate.
    pub terminated: bool,
    /// Shutting the stream down never finishes, as a close that stalls.
    pub stall_close: bool,
    /// The stream was dropped (the socket closed).
    pub dropped: bool,
}

pub struct Stream(Rc<RefCell<State>>);

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.borrow_mut().dropped = true;
    }
}

impl State {
    /// Takes the complete frontend messages written so far; answers the ends of requests.
    fn parse(&mut self) {
        loop {
            let rest = self.written.get(self.parsed..).unwrap_or_default();
            let (kind, header) = if self.started {
                (rest.first().copied(), 1)
            } else {
                (None, 0)
            };
            let Some(len) = rest.get(header..header + 4) else {
                return;
            };
            let len = i32::from_be_bytes(len.try_into().unwrap()) as usize;
            if rest.len() < header + len {
                return;
            }
            let body = rest.get(header + 4..header + len).unwrap_or_default();
            self.parsed += header + len;
            match kind {
                Some(b'Q') => self.statements.push(text(body)),
                // Parse: the statement's name, then its text, both NUL-terminated.
                Some(b'P') => {
                    let name_end = body.iter().position(|&b| b == 0).map_or(0, |i| i + 1);
                    self.statements.push(text(&body[name_end..]));
                }
                _ => {}
            }
            let request_end = match kind {
                None => {
                    self.started = true;
                    true
                }
                Some(b'S' | b'Q') => true,
                Some(b'X') => {
                    self.terminated = true;
                    false
                }
                Some(_) => false,
            };
            if request_end {
                self.requests += 1;
                match self.replies.pop_front() {
                    Some(Reply::Send(bytes)) => self.readable.extend(bytes),
                    Some(Reply::Hangup) => self.ended = true,
                    Some(Reply::Cut(bytes)) => {
                        self.readable.extend(bytes);
                        self.ended = true;
                    }
                    Some(Reply::Break) => self.broken = true,
                    None => {}
                }
                if let Some(reader) = self.reader.take() {
                    reader.wake();
                }
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.0.borrow_mut();
        if !state.readable.is_empty() {
            if state.requests > state.answered {
                let sent = state.requests - state.answered;
                state.batches.push(sent);
                state.answered = state.requests;
            }
            let n = state.readable.len().min(buf.remaining());
            buf.put_slice(&state.readable[..n]);
            state.readable.drain(..n);
            return Poll::Ready(Ok(()));
        }
        if state.broken {
            return Poll::Ready(Err(io::Error::other("connection reset by the test")));
        }
        if state.ended {
            return Poll::Ready(Ok(()));
        }
        state.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.0.borrow_mut();
        state.written.extend_from_slice(buf);
        state.parse();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.0.borrow().stall_close {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

pub type PgConnection = Connection<Stream, NoTlsStream>;

/// Connects a client to a server that accepts the startup and then gives `replies`, in order.
pub fn connect(replies: Vec<Reply>) -> (Client, PgConnection, Rc<RefCell<State>>) {
    let state = Rc::new(RefCell::new(State::default()));
    let mut script = VecDeque::from([Reply::Send([auth_ok(), ready()].concat())]);
    script.extend(replies);
    state.borrow_mut().replies = script;
    let mut config = Config::new();
    config.user("test").dbname("test");
    let connecting = pin!(config.connect_raw(Stream(state.clone()), NoTls));
    match poll_until_stalled(connecting) {
        Poll::Ready(Ok((client, connection))) => (client, connection, state),
        Poll::Ready(Err(err)) => panic!("the scripted startup failed: {err:?}"),
        Poll::Pending => panic!("the scripted startup stalled"),
    }
}

/// The error a connection attempt meets when the server's first answer is `reply`.
pub fn connect_error(reply: Reply) -> tokio_postgres::Error {
    let state = Rc::new(RefCell::new(State::default()));
    state.borrow_mut().replies = VecDeque::from([reply]);
    let mut config = Config::new();
    config.user("test").dbname("test");
    let connecting = pin!(config.connect_raw(Stream(state), NoTls));
    match poll_until_stalled(connecting) {
        Poll::Ready(Err(err)) => err,
        Poll::Ready(Ok(_)) => panic!("the connection was set up"),
        Poll::Pending => panic!("the connection attempt stalled"),
    }
}

/// Runs `work` on a scripted connection (it gets the client, as the handlers' work does),
/// driving the connection alongside, until the work is done; returns its output and the
/// connection's state.
pub fn run<T>(replies: Vec<Reply>, work: impl AsyncFnOnce(Client) -> T) -> (T, Rc<RefCell<State>>) {
    let (client, mut connection, state) = connect(replies);
    let work = pin!(work(client));
    let done = match poll_until_stalled(pin!(future::select(work, &mut connection))) {
        Poll::Ready(Either::Left((done, _))) => done,
        // The connection ended (the server hung up): the work then learns it.
        Poll::Ready(Either::Right((_, work))) => {
            drop(connection);
            match poll_until_stalled(work) {
                Poll::Ready(done) => done,
                Poll::Pending => panic!("the work stalled after the connection ended"),
            }
        }
        Poll::Pending => panic!("the work stalled"),
    };
    (done, state)
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `future` until it is ready or nothing wakes it any more (then it never will: nothing
/// here waits on time or another thread).
pub fn poll_until_stalled<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    for _ in 0..10_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Poll::Ready(output);
        }
        if !flag.0.swap(false, Ordering::SeqCst) {
            return Poll::Pending;
        }
    }
    panic!("the future kept waking itself");
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = i32::try_from(body.len() + 4).unwrap();
    [&[kind][..], &len.to_be_bytes(), body].concat()
}

fn cstr(text: &str) -> Vec<u8> {
    [text.as_bytes(), &[0]].concat()
}

pub fn auth_ok() -> Vec<u8> {
    message(b'R', &0i32.to_be_bytes())
}

pub fn ready() -> Vec<u8> {
    message(b'Z', b"I")
}

/// The answer to a simple query that returns no rows (`BEGIN`, `COMMIT`).
pub fn command(tag: &str) -> Vec<u8> {
    [message(b'C', &cstr(tag)), ready()].concat()
}

/// A NUL-terminated string of a frontend message, without its NUL.
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// An ErrorResponse with `sqlstate` (and the `constraint` it names), then ReadyForQuery.
pub fn error(sqlstate: &str, constraint: Option<&str>) -> Vec<u8> {
    let mut fields = [b"SERROR\0".as_slice(), b"VERROR\0"].concat();
    fields.extend([&[b'C'][..], &cstr(sqlstate)].concat());
    fields.extend([&[b'M'][..], &cstr("scripted failure")].concat());
    if let Some(name) = constraint {
        fields.extend([&[b'n'][..], &cstr(name)].concat());
    }
    fields.push(0);
    [message(b'E', &fields), ready()].concat()
}

/// The answer to an extended-protocol query returning text columns `names` and `rows`.
pub fn rows(names: &[&str], rows: &[&[&str]]) -> Vec<u8> {
    let columns = i16::try_from(names.len()).unwrap().to_be_bytes();
    let mut description = columns.to_vec();
    for name in names {
        description.extend(cstr(name));
        description.extend(0i32.to_be_bytes()); // table
        description.extend(0i16.to_be_bytes()); // column
        description.extend(25i32.to_be_bytes()); // text
        description.extend((-1i16).to_be_bytes());
        description.extend((-1i32).to_be_bytes());
        description.extend(1i16.to_be_bytes()); // binary
    }
    let mut reply = [
        message(b'1', &[]),
        message(b'2', &[]),
        message(b't', &0i16.to_be_bytes()),
        message(b'T', &description),
    ]
    .concat();
    for row in rows {
        let mut data = i16::try_from(row.len()).unwrap().to_be_bytes().to_vec();
        for value in *row {
            data.extend(i32::try_from(value.len()).unwrap().to_be_bytes());
            data.extend(value.as_bytes());
        }
        reply.extend(message(b'D', &data));
    }
    reply.extend(message(b'C', &cstr(&format!("SELECT {}", rows.len()))));
    reply.extend(ready());
    reply
}

/// A backend message the client does not expect where a query's answer begins
/// (AuthenticationOk), then ReadyForQuery.
pub fn unexpected() -> Vec<u8> {
    [auth_ok(), ready()].concat()
}

/// Bytes that are no backend message at all (an unknown type byte).
pub fn garbage() -> Vec<u8> {
    message(b'!', b"not postgres")
}
