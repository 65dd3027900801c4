//! The far-database benchmark's delay point (bench/README.md, "Far database"): a TCP proxy on
//! loopback between PgBouncer and PostgreSQL that holds every chunk, in each direction, for a
//! fixed one-way delay before passing it on, and counts the database round trips crossing it.
//!
//! usage: task-api-delay-proxy --target HOST:PORT --ready FILE [--delay-ms 20] [--port 0]
//! - `--target`: PostgreSQL;
//! - `--ready`: written once listening: `{"port": …, "control": …}`;
//! - `--delay-ms`: one way, so a round trip gains twice this (default 20: a 40 ms round trip);
//! - `--port`: where PgBouncer connects (default: any free port).
//!
//! `GET http://127.0.0.1:<control>/stats` answers the counters so far, cumulative: bench/run.sh
//! reads them before and after each phase and bench/far_report.py takes the difference.
//! `POST /delay?ms=N` changes the one-way delay from then on (bench/run.sh measures the same
//! phases at 0 ms too, through the same pooler and connections, to show the local part).
//!
//! **The delay.** Each direction of each connection has a reader thread, which stamps every
//! chunk with its due time (arrival + delay) and queues it, and a writer thread, which sleeps
//! until the chunk is due and then writes it: never early, and late only by the sleep's own
//! slack (a tenth of a millisecond or so; measured, in `lateness_us`). Sleeping threads cost no
//! CPU, and a thread's sleep is precise to microseconds where an event loop's timers (Node's,
//! tokio's) round to the millisecond: a first version in Node passed chunks on 0.9 ms late on
//! average, which put ~2 ms on every round trip. A new connection also pays a TCP handshake:
//! what PgBouncer sends is held until two one-way delays after the connection was accepted
//! (SYN, SYN-ACK), then delayed like the rest, so a new server connection costs what it would
//! across the distance.
//!
//! **The count.** The PostgreSQL protocol is parsed (never changed) in both directions. A round
//! trip is a batch of messages from PgBouncer answered by the server: it begins with the first
//! message sent while no batch is waiting, and ends when the server's next bytes arrive (the
//! delay keeps the two apart: no answer can come back within two delays of its batch). Batches
//! until the connection's first ReadyForQuery are its setup (startup, authentication); the rest
//! are statements, counted by what they hold (message types and the SQL's first words), so an
//! extra round trip says what it was. A batch of Terminate alone expects no answer and is none.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
/// Lateness is kept in buckets of this many microseconds.
const BUCKET_US: u64 = 100;

#[derive(Default)]
struct Stats {
    connections_opened: u64,
    connections_closed: u64,
    setup_round_trips: u64,
    round_trips: u64,
    round_trips_by_kind: BTreeMap<String, u64>,
    ready_for_query: u64,
    error_responses: u64,
    /// Connections the server agreed to encrypt: unreadable, so not counted (PgBouncer's
    /// `server_tls_sslmode` is `disable` by default, and bench/run.sh leaves it so).
    encrypted_connections: u64,
    bytes_to_server: u64,
    bytes_to_client: u64,
    /// How late chunks were written, past their due time: bucket start (µs) → chunks.
    lateness_us: BTreeMap<u64, u64>,
}

type Shared = Arc<Mutex<Stats>>;

/// The one-way delay in nanoseconds, changed by `POST /delay?ms=N`.
static DELAY_NS: AtomicU64 = AtomicU64::new(0);

fn delay() -> Duration {
    Duration::from_nanos(DELAY_NS.load(Ordering::Relaxed))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked holding it left counters, not broken invariants.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The batch of PgBouncer's messages waiting for the server's answer.
struct Batch {
    setup: bool,
    types: Vec<&'static str>,
    text: String,
}

/// One connection's protocol state, as read from both directions.
#[derive(Default)]
struct Conn {
    /// The next client message is untyped (StartupMessage, SSLRequest, GSSENCRequest).
    startup: bool,
    /// The server's next byte answers an SSLRequest or GSSENCRequest.
    ssl_answer: bool,
    /// The server has sent its first ReadyForQuery: setup is over.
    ready: bool,
    /// Encrypted, or not the PostgreSQL protocol: no longer parsed.
    unreadable: bool,
    batch: Option<Batch>,
    from_client: Vec<u8>,
    from_server: Vec<u8>,
}

fn type_name(byte: u8) -> &'static str {
    match byte {
        b'Q' => "Q",
        b'P' => "P",
        b'B' => "B",
        b'D' => "D",
        b'E' => "E",
        b'S' => "S",
        b'H' => "H",
        b'C' => "C",
        b'X' => "X",
        b'p' => "p",
        b'd' => "d",
        b'c' => "c",
        b'f' => "f",
        b'F' => "F",
        _ => "?",
    }
}

/// The first words of a NUL-terminated statement, whitespace folded.
fn first_words(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]);
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    folded.chars().take(48).collect()
}

/// Splits `pending` into whole messages, calling `handle(type, body)` (`None` for the untyped
/// startup messages); `untyped` says whether the next one is untyped. Returns false if the bytes
/// are not the protocol's.
fn split(
    pending: &mut Vec<u8>,
    untyped: &mut dyn FnMut() -> bool,
    handle: &mut dyn FnMut(Option<u8>, &[u8]),
) -> bool {
    let mut at = 0;
    loop {
        let typed = !untyped();
        let header = if typed { 5 } else { 4 };
        let rest = &pending[at..];
        if rest.len() < header {
            break;
        }
        let start = usize::from(typed);
        let length = i32::from_be_bytes([
            rest[start],
            rest[start + 1],
            rest[start + 2],
            rest[start + 3],
        ]);
        if length < 4 {
            return false;
        }
        let total = start + length as usize;
        if rest.len() < total {
            break;
        }
        handle(typed.then_some(rest[0]), &rest[header..total]);
        at += total;
    }
    pending.drain(..at);
    true
}

fn from_client(conn: &mut Conn, stats: &mut Stats, chunk: &[u8]) {
    stats.bytes_to_server += chunk.len() as u64;
    if conn.unreadable {
        return;
    }
    let mut pending = std::mem::take(&mut conn.from_client);
    pending.extend_from_slice(chunk);
    let startup = std::cell::Cell::new(conn.startup);
    let ready = conn.ready;
    let mut ssl_answer = conn.ssl_answer;
    let mut batch = conn.batch.take();
    let readable = split(&mut pending, &mut || startup.get(), &mut |kind, body| {
        if kind.is_none() {
            let code = body
                .get(..4)
                .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            if code == SSL_REQUEST || code == GSSENC_REQUEST {
                ssl_answer = true;
            } else {
                startup.set(false);
            }
        }
        let batch = batch.get_or_insert_with(|| Batch {
            setup: !ready,
            types: Vec::new(),
            text: String::new(),
        });
        batch.types.push(kind.map_or("startup", type_name));
        if batch.text.is_empty() {
            match kind {
                Some(b'Q') => batch.text = first_words(body),
                // Parse: the statement's name (a C string), then its text.
                Some(b'P') => {
                    let name_end = body
                        .iter()
                        .position(|&b| b == 0)
                        .map_or(body.len(), |i| i + 1);
                    batch.text = first_words(&body[name_end..]);
                }
                _ => {}
            }
        }
    });
    // Terminate alone expects no answer.
    if batch
        .as_ref()
        .is_some_and(|b| b.types.iter().all(|&t| t == "X"))
    {
        batch = None;
    }
    conn.startup = startup.get();
    conn.ssl_answer = ssl_answer;
    conn.batch = batch;
    conn.from_client = pending;
    conn.unreadable |= !readable;
}

fn from_server(conn: &mut Conn, stats: &mut Stats, chunk: &[u8]) {
    stats.bytes_to_client += chunk.len() as u64;
    // The server's first bytes after a batch answer it: that round trip is done.
    if let Some(batch) = conn.batch.take() {
        if batch.setup {
            stats.setup_round_trips += 1;
        } else {
            stats.round_trips += 1;
            let mut kind = batch.types.join(" ");
            if !batch.text.is_empty() {
                kind.push_str(" | ");
                kind.push_str(&batch.text);
            }
            *stats.round_trips_by_kind.entry(kind).or_default() += 1;
        }
    }
    if conn.unreadable {
        return;
    }
    let mut pending = std::mem::take(&mut conn.from_server);
    pending.extend_from_slice(chunk);
    if conn.ssl_answer && !pending.is_empty() {
        conn.ssl_answer = false;
        let answer = pending.remove(0);
        if answer == b'S' || answer == b'G' {
            stats.encrypted_connections += 1;
            conn.unreadable = true;
            return;
        }
    }
    let mut ready = conn.ready;
    let readable = split(&mut pending, &mut || false, &mut |kind, _| match kind {
        Some(b'Z') => {
            stats.ready_for_query += 1;
            ready = true;
        }
        Some(b'E') => stats.error_responses += 1,
        _ => {}
    });
    conn.ready = ready;
    conn.from_server = pending;
    conn.unreadable |= !readable;
}

/// A chunk (or, `None`, the end of the stream) and when it is due on the other side.
type Item = (Instant, Option<Vec<u8>>);

/// Reads `from` until it ends, noting each chunk (`note`) and queueing it due one delay after
/// it arrived, or after `not_before` if that is later. (When the delay is shortened, a chunk
/// may be due before the one queued ahead of it; it waits for that one: the order holds.)
fn read_side(
    mut from: TcpStream,
    queue: mpsc::Sender<Item>,
    not_before: Instant,
    mut note: impl FnMut(&[u8]),
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = from.read(&mut buffer);
        let due = Instant::now().max(not_before) + delay();
        match read {
            Ok(0) | Err(_) => {
                let _ = queue.send((due, None));
                return;
            }
            Ok(n) => {
                note(&buffer[..n]);
                if queue.send((due, Some(buffer[..n].to_vec()))).is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes each queued chunk to `to` once it is due; at the end of the stream, shuts `to`'s
/// writing side. A failed write closes both sockets, which ends both readers.
fn write_side(mut to: TcpStream, other: TcpStream, queue: mpsc::Receiver<Item>, stats: Shared) {
    for (due, item) in queue {
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let late = Instant::now().saturating_duration_since(due).as_micros() as u64;
        *lock(&stats)
            .lateness_us
            .entry(late / BUCKET_US * BUCKET_US)
            .or_default() += 1;
        match item {
            Some(chunk) => {
                if to.write_all(&chunk).is_err() {
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = other.shutdown(Shutdown::Both);
                    return;
                }
            }
            None => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

fn serve(client: TcpStream, target: &str, stats: Shared) -> std::io::Result<()> {
    let accepted = Instant::now();
    lock(&stats).connections_opened += 1;
    let server = TcpStream::connect(target)?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let conn = Arc::new(Mutex::new(Conn {
        startup: true,
        ..Conn::default()
    }));
    let (to_server, server_queue) = mpsc::channel();
    let (to_client, client_queue) = mpsc::channel();
    let mut threads = Vec::new();
    {
        let (from, conn, stats) = (client.try_clone()?, conn.clone(), stats.clone());
        // PgBouncer's bytes wait for the simulated handshake: SYN out, SYN-ACK back.
        let handshake = accepted + 2 * delay();
        threads.push(thread::spawn(move || {
            read_side(from, to_server, handshake, |chunk| {
                from_client(&mut lock(&conn), &mut lock(&stats), chunk)
            })
        }));
    }
    {
        let (from, conn, stats) = (server.try_clone()?, conn.clone(), stats.clone());
        threads.push(thread::spawn(move || {
            read_side(from, to_client, accepted, |chunk| {
                from_server(&mut lock(&conn), &mut lock(&stats), chunk)
            })
        }));
    }
    {
        let (to, other, stats) = (server.try_clone()?, client.try_clone()?, stats.clone());
        threads.push(thread::spawn(move || {
            write_side(to, other, server_queue, stats)
        }));
    }
    {
        let (to, other, stats) = (client.try_clone()?, server.try_clone()?, stats.clone());
        threads.push(thread::spawn(move || {
            write_side(to, other, client_queue, stats)
        }));
    }
    for thread in threads {
        let _ = thread.join();
    }
    lock(&stats).connections_closed += 1;
    Ok(())
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_map<K: ToString>(map: &BTreeMap<K, u64>) -> String {
    let fields: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{v}", json_string(&k.to_string())))
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn stats_json(stats: &Stats, started: Instant) -> String {
    format!(
        concat!(
            "{{\"delay_ms\":{},\"connections_opened\":{},\"connections_closed\":{},",
            "\"setup_round_trips\":{},\"round_trips\":{},\"round_trips_by_kind\":{},",
            "\"ready_for_query\":{},\"error_responses\":{},\"encrypted_connections\":{},",
            "\"bytes_to_server\":{},\"bytes_to_client\":{},\"lateness_us\":{},\"at_ms\":{}}}"
        ),
        delay().as_secs_f64() * 1000.0,
        stats.connections_opened,
        stats.connections_closed,
        stats.setup_round_trips,
        stats.round_trips,
        json_map(&stats.round_trips_by_kind),
        stats.ready_for_query,
        stats.error_responses,
        stats.encrypted_connections,
        stats.bytes_to_server,
        stats.bytes_to_client,
        json_map(&stats.lateness_us),
        started.elapsed().as_secs_f64() * 1000.0,
    )
}

/// The delay a `POST /delay?ms=N` request line asks for.
fn asked_delay(request: &[u8]) -> Option<Duration> {
    let line = std::str::from_utf8(request).ok()?.lines().next()?;
    let ms: f64 = line
        .strip_prefix("POST /delay?ms=")?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
}

fn set_delay(delay: Duration) {
    DELAY_NS.store(
        u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// Answers `GET /stats` and `POST /delay?ms=N` on `listener`, one connection at a time.
fn control(listener: TcpListener, stats: Shared, started: Instant) {
    for stream in listener.incoming().flatten() {
        let mut stream = stream;
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        let changed = asked_delay(&request);
        if let Some(delay) = changed {
            set_delay(delay);
        }
        let response = if request.starts_with(b"GET /stats ") || changed.is_some() {
            let body = stats_json(&lock(&stats), started);
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        } else {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
        };
        let _ = stream.write_all(response.as_bytes());
    }
}

extern "C" {
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}
const PR_SET_TIMERSLACK: std::ffi::c_int = 29;

/// Linux lets a sleeping thread wake up to 50 µs late by default (its timer slack) so wake-ups
/// can be batched; the delay should be as exact as the machine allows. Threads inherit it.
fn tighten_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK, ns) only sets this thread's slack; on failure (not
    // Linux, a sandbox refusing it) the default slack stays, which only makes the delay less
    // exact: `lateness_us` shows it either way.
    let _ = unsafe { prctl(PR_SET_TIMERSLACK, 1 as std::ffi::c_ulong) };
}

fn usage(problem: &str) -> ! {
    eprintln!("task-api-delay-proxy: {problem}");
    eprintln!(
        "usage: task-api-delay-proxy --target HOST:PORT --ready FILE [--delay-ms 20] [--port 0]"
    );
    std::process::exit(2);
}

fn main() {
    let (mut target, mut ready, mut delay_ms, mut port) = (None, None, 20.0_f64, 0_u16);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--target" => target = Some(value),
            "--ready" => ready = Some(value),
            "--delay-ms" => {
                delay_ms = value
                    .parse()
                    .unwrap_or_else(|_| usage("--delay-ms is a number of milliseconds"))
            }
            "--port" => {
                port = value
                    .parse()
                    .unwrap_or_else(|_| usage("--port is a port number"))
            }
            other => usage(&format!("unknown option {other}")),
        }
    }
    let target = target.unwrap_or_else(|| usage("--target is required"));
    let ready = ready.unwrap_or_else(|| usage("--ready is required"));
    if !(delay_ms.is_finite() && delay_ms >= 0.0) {
        usage("--delay-ms is a number of milliseconds");
    }
    set_delay(Duration::from_secs_f64(delay_ms / 1000.0));
    tighten_timer_slack();
    let started = Instant::now();
    let stats: Shared = Arc::default();

    let proxy =
        TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| usage(&format!("listen: {e}")));
    let panel =
        TcpListener::bind(("127.0.0.1", 0)).unwrap_or_else(|e| usage(&format!("listen: {e}")));
    let (proxy_port, control_port) = match (proxy.local_addr(), panel.local_addr()) {
        (Ok(a), Ok(b)) => (a.port(), b.port()),
        _ => usage("no local address"),
    };
    {
        let stats = stats.clone();
        thread::spawn(move || control(panel, stats, started));
    }
    let written = std::fs::write(
        format!("{ready}.tmp"),
        format!("{{\"port\":{proxy_port},\"control\":{control_port}}}"),
    )
    .and_then(|()| std::fs::rename(format!("{ready}.tmp"), &ready));
    if let Err(e) = written {
        usage(&format!("writing {ready}: {e}"));
    }
    for client in proxy.incoming() {
        let Ok(client) = client else { continue };
        let (target, stats) = (target.clone(), stats.clone());
        thread::spawn(move || {
            if let Err(e) = serve(client, &target, stats) {
                eprintln!("task-api-delay-proxy: connection to {target}: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed protocol message.
    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// An untyped startup-phase message with this code (protocol version or request code).
    fn untyped(code: i32, rest: &[u8]) -> Vec<u8> {
        let mut out = (rest.len() as i32 + 8).to_be_bytes().to_vec();
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(rest);
        out
    }

    fn startup() -> Vec<u8> {
        untyped(196_608, b"user\0postgres\0database\0bench\0\0")
    }

    fn ready() -> Vec<u8> {
        msg(b'Z', b"I")
    }

    /// Parse/Bind/Describe/Execute/Sync of one unnamed statement: what `query_typed` sends.
    fn extended(sql: &str) -> Vec<u8> {
        let mut parse = vec![0u8];
        parse.extend_from_slice(sql.as_bytes());
        parse.extend_from_slice(&[0, 0, 0]);
        [
            msg(b'P', &parse),
            msg(b'B', &[0; 8]),
            msg(b'D', b"P\0"),
            msg(b'E', &[0; 5]),
            msg(b'S', b""),
        ]
        .concat()
    }

    fn connection() -> (Conn, Stats) {
        (
            Conn {
                startup: true,
                ..Conn::default()
            },
            Stats::default(),
        )
    }

    #[test]
    fn startup_then_one_statement_is_one_setup_and_one_round_trip() {
        let (mut conn, mut stats) = connection();
        from_client(&mut conn, &mut stats, &startup());
        let welcome = [
            msg(b'R', &[0; 4]),
            msg(b'S', b"client_encoding\0UTF8\0"),
            msg(b'K', &[0; 8]),
            ready(),
        ];
        from_server(&mut conn, &mut stats, &welcome.concat());
        from_client(
            &mut conn,
            &mut stats,
            &extended("select id\n   from tasks where id = $1"),
        );
        from_server(
            &mut conn,
            &mut stats,
            &[
                msg(b'1', b""),
                msg(b'2', b""),
                msg(b'C', b"SELECT 1\0"),
                ready(),
            ]
            .concat(),
        );
        // Terminate alone: no answer is due, no round trip, even if the server says something.
        from_client(&mut conn, &mut stats, &msg(b'X', b""));
        from_server(&mut conn, &mut stats, &msg(b'N', b"SNOTICE\0\0"));
        assert_eq!(stats.setup_round_trips, 1);
        assert_eq!(stats.round_trips, 1);
        assert_eq!(stats.ready_for_query, 2);
        let kinds: Vec<_> = stats.round_trips_by_kind.iter().collect();
        assert_eq!(
            kinds,
            [(
                &"P B D E S | select id from tasks where id = $1".to_owned(),
                &1
            )]
        );
    }

    #[test]
    fn a_batch_split_over_chunks_is_one_round_trip_and_each_answered_batch_counts() {
        let (mut conn, mut stats) = connection();
        from_client(&mut conn, &mut stats, &startup());
        from_server(&mut conn, &mut stats, &ready());
        // A check query the pooler puts first, then the statement: two round trips.
        from_client(&mut conn, &mut stats, &msg(b'Q', b"select 1\0"));
        from_server(
            &mut conn,
            &mut stats,
            &[msg(b'C', b"SELECT 1\0"), ready()].concat(),
        );
        let batch = extended("insert into tasks");
        let (head, tail) = batch.split_at(7); // the split falls inside a message's header
        from_client(&mut conn, &mut stats, head);
        from_client(&mut conn, &mut stats, tail);
        let answer = [msg(b'C', b"INSERT 0 1\0"), ready()].concat();
        let (a, b) = answer.split_at(3);
        from_server(&mut conn, &mut stats, a);
        from_server(&mut conn, &mut stats, b);
        assert_eq!(stats.round_trips, 2);
        assert_eq!(stats.round_trips_by_kind.get("Q | select 1"), Some(&1));
        assert_eq!(
            stats
                .round_trips_by_kind
                .get("P B D E S | insert into tasks"),
            Some(&1)
        );
        assert_eq!(stats.ready_for_query, 3);
    }

    #[test]
    fn an_ssl_refusal_is_read_past_and_an_accepted_one_stops_the_count() {
        let (mut conn, mut stats) = connection();
        from_client(&mut conn, &mut stats, &untyped(SSL_REQUEST, b""));
        from_server(&mut conn, &mut stats, b"N");
        from_client(&mut conn, &mut stats, &startup());
        from_server(
            &mut conn,
            &mut stats,
            &[msg(b'E', b"SFATAL\0\0"), ready()].concat(),
        );
        assert_eq!(stats.setup_round_trips, 2);
        assert_eq!((stats.error_responses, stats.ready_for_query), (1, 1));
        assert!(conn.ready && !conn.unreadable);

        let (mut conn, mut stats) = connection();
        from_client(&mut conn, &mut stats, &untyped(SSL_REQUEST, b""));
        from_server(&mut conn, &mut stats, b"S");
        assert_eq!(stats.encrypted_connections, 1);
        from_client(&mut conn, &mut stats, b"\x16\x03\x01 a TLS ClientHello");
        from_server(&mut conn, &mut stats, b"\x16\x03\x03 a TLS ServerHello");
        assert!(conn.unreadable);
        assert_eq!(stats.ready_for_query, 0);
    }

    #[test]
    fn a_round_trip_through_the_proxy_takes_twice_the_delay_and_is_counted() {
        // A stand-in server: answers the startup and each Sync with ReadyForQuery.
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let target = server.local_addr().expect("address").to_string();
        thread::spawn(move || {
            let (mut socket, _) = server.accept().expect("accept");
            let mut buffer = [0u8; 4096];
            while let Ok(n) = socket.read(&mut buffer) {
                if n == 0 || socket.write_all(&ready()).is_err() {
                    break;
                }
            }
        });
        let proxy = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = proxy.local_addr().expect("address");
        let stats: Shared = Arc::default();
        set_delay(Duration::from_millis(15));
        {
            let stats = stats.clone();
            thread::spawn(move || {
                let (client, _) = proxy.accept().expect("accept");
                let _ = serve(client, &target, stats);
            });
        }
        let mut client = TcpStream::connect(address).expect("connect");
        let mut answer = [0u8; 6];
        let started = Instant::now();
        client.write_all(&startup()).expect("write");
        client.read_exact(&mut answer).expect("read");
        // The handshake (two delays), then the startup's round trip (two more).
        let setup = started.elapsed();
        let sent = Instant::now();
        client.write_all(&extended("select 1")).expect("write");
        client.read_exact(&mut answer).expect("read");
        let round_trip = sent.elapsed();
        assert!(setup >= Duration::from_millis(60), "setup took {setup:?}");
        assert!(
            round_trip >= Duration::from_millis(30),
            "round trip took {round_trip:?}"
        );
        // Generous: the test must not fail because the machine is busy.
        assert!(
            round_trip < Duration::from_millis(1000),
            "round trip took {round_trip:?}"
        );
        let stats = lock(&stats);
        assert_eq!((stats.setup_round_trips, stats.round_trips), (1, 1));
        assert_eq!(stats.connections_opened, 1);
    }

    #[test]
    fn the_delay_is_set_by_the_control_request() {
        assert_eq!(
            asked_delay(b"POST /delay?ms=0 HTTP/1.1\r\n\r\n"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            asked_delay(b"POST /delay?ms=2.5 HTTP/1.1\r\n"),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(asked_delay(b"POST /delay?ms=-1 HTTP/1.1\r\n"), None);
        assert_eq!(asked_delay(b"GET /stats HTTP/1.1\r\n"), None);
    }

    #[test]
    fn stats_are_valid_json() {
        let mut stats = Stats::default();
        stats
            .round_trips_by_kind
            .insert("Q | select \"a\\b\"\n".into(), 2);
        stats.lateness_us.insert(100, 3);
        let json = stats_json(&stats, Instant::now());
        assert!(
            json.contains(r#""round_trips_by_kind":{"Q | select \"a\\b\"\u000a":2}"#),
            "{json}"
        );
        assert!(json.contains(r#""lateness_us":{"100":3}"#), "{json}");
    }
}
