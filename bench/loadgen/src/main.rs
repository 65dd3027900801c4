//! The task API's load generator for `make bench`: Goose drives the connections and measures;
//! this file says what each request is, paces the fixed-rate test, and writes a summary.
//!
//! Why Goose: every request needs the bearer token of the user named in its path, the write
//! mix deletes tasks it created, and the benchmark wants percentiles per operation. Goose runs
//! one async user per connection with code deciding each request, keeps each named request's
//! times in microsecond buckets and reports percentiles per name. One-URL generators (oha, hey,
//! wrk2) send one fixed header per process, so they would need a process per user and
//! operation; wrk's Lua cannot time requests per operation.
//!
//! Two modes:
//! - closed loop (capacity): each connection sends its next request when the last one is
//!   answered, with no think time;
//! - fixed rate (`BENCH_RATE` requests/s over `BENCH_USERS` connections): every connection
//!   owns a schedule, like wrk2's: connection i sends at epoch + i/rate + k·users/rate, so the
//!   offered load is spread evenly. A connection still waiting for an answer when its next slot
//!   comes sends late, and that request's corrected time counts from its slot, not from when it
//!   was sent: coordinated omission corrected, as wrk2 and oha's `--latency-correction` do. Each request is recorded twice in Goose: as
//!   itself (the time from sending to the answer) and as a `SCHEDULED <operation>` custom
//!   request (the time from its slot to the answer).
//!
//! Environment (set by bench/run.sh; Goose's own options come on the command line):
//! - `BENCH_WORKLOAD`: `read` (40 % list, 30 % get, 15 % put, 10 % complete, 5 % create),
//!   `write` (see `WRITE_MIX`), one operation alone (`list`, `get`, `put`, `complete`,
//!   `create`, `delete`: the far-database benchmark's phases, which count each operation's
//!   database round trips), or one of the ceilings: `trivial` (no token: a 401 the worker
//!   answers before any database work), `not-found` (`GET /`: a 404 from the router alone) or
//!   `health` (`GET /health`: one pooled connection and `select 1`, no auth);
//! - `BENCH_FIXTURES`: JSON `{"users": [{"id", "token", "tasks": [uuid, …], "doomed": [uuid,
//!   …]}]}`; `doomed` (optional) are tasks the `delete` workload may delete, shared out among
//!   the user's connections;
//! - `BENCH_RATE` and `BENCH_USERS`: the fixed rate and the connections (`--users`); without
//!   `BENCH_RATE`, a closed loop;
//! - `BENCH_OUT`: where the summary JSON goes.
//!
//! A request's time is Goose's: from sending it to the response's headers (every body here
//! is a few KiB on loopback and arrives with them); each body is then read in full so the
//! connection is reused.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use goose::metrics::{GooseRequestMetricAggregate, GooseRequestMetricTimingData};
use goose::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Fixtures {
    users: Vec<FixtureUser>,
}

#[derive(Deserialize)]
struct FixtureUser {
    id: String,
    token: String,
    /// The seeded tasks, which the reads, puts and completes address (never deleted).
    tasks: Vec<String>,
    /// Tasks the `delete` workload deletes (bench/run.sh adds them before that phase).
    #[serde(default)]
    doomed: Vec<String>,
}

static FIXTURES: OnceLock<Fixtures> = OnceLock::new();

#[derive(Clone, Copy, Debug)]
enum Op {
    List,
    Get,
    Put,
    Complete,
    Create,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::Get => "get",
            Op::Put => "put",
            Op::Complete => "complete",
            Op::Create => "create",
            Op::Delete => "delete",
        }
    }
}

/// The read-heavy mix, in percent.
const READ_MIX: &[(Op, u32)] = &[
    (Op::List, 40),
    (Op::Get, 30),
    (Op::Put, 15),
    (Op::Complete, 10),
    (Op::Create, 5),
];

/// The write-heavy variant: 60 % writes. Deletes remove tasks the same connection created
/// earlier, so creates and deletes balance and the lists stay near their seeded 20 tasks,
/// which keeps the list's cost comparable through the run (with nothing of its own to delete
/// yet, a connection creates instead).
const WRITE_MIX: &[(Op, u32)] = &[
    (Op::List, 20),
    (Op::Get, 20),
    (Op::Put, 20),
    (Op::Complete, 10),
    (Op::Create, 15),
    (Op::Delete, 15),
];

/// One operation alone, for the far-database benchmark's phases (`BENCH_WORKLOAD` is its name).
fn single_op(workload: &str) -> Option<&'static [(Op, u32)]> {
    Some(match workload {
        "list" => &[(Op::List, 1)],
        "get" => &[(Op::Get, 1)],
        "put" => &[(Op::Put, 1)],
        "complete" => &[(Op::Complete, 1)],
        "create" => &[(Op::Create, 1)],
        "delete" => &[(Op::Delete, 1)],
        _ => return None,
    })
}

static MIX: OnceLock<&'static [(Op, u32)]> = OnceLock::new();

/// The status each operation answers when it works; anything else is an error.
fn expected_status(name: &str) -> u16 {
    match name {
        "create" => 201,
        "delete" => 204,
        "unauthorized" => 401,
        "not_found" => 404,
        "health" => 200,
        _ => 200,
    }
}

/// One connection's state: whose requests it sends, its random stream, what it created.
#[derive(Clone)]
struct Client {
    user: usize,
    rng: u64,
    created: VecDeque<String>,
    sequence: u64,
}

impl Client {
    /// xorshift64*: a fixed seed per connection makes runs repeat the same request sequence.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn pick_op(&mut self, mix: &[(Op, u32)]) -> Op {
        let total: u32 = mix.iter().map(|(_, weight)| weight).sum();
        let mut roll = (self.next() % u64::from(total)) as u32;
        for &(op, weight) in mix {
            if roll < weight {
                return op;
            }
            roll -= weight;
        }
        unreachable!("the weights add up to the total")
    }
}

/// The fixed-rate schedule: each connection's next slot.
struct Pace {
    /// Time between two slots of one connection: connections ÷ rate.
    interval: Duration,
    /// Slot 0 of connection 0, once every connection has started.
    epoch: Instant,
    users: usize,
    next: Mutex<HashMap<usize, Instant>>,
}

static PACE: OnceLock<Pace> = OnceLock::new();

/// The custom request label under which the corrected (from the slot) times are recorded.
const SCHEDULED: &str = "SCHEDULED";

/// In fixed-rate mode, waits for this connection's next slot and returns when the request
/// counts from: its slot when the connection is late (still busy with the previous request
/// when the slot came: the server's delay), else the moment the timer woke it (on time; the
/// timer's own slack, up to a millisecond, is the generator's and not counted).
async fn wait_for_slot(index: usize) -> Option<Instant> {
    let pace = PACE.get()?;
    let due = {
        let mut next = pace.next.lock().expect("not poisoned");
        let slot = next.entry(index).or_insert_with(|| {
            let phase = (index % pace.users) as f64 / pace.users as f64;
            pace.epoch + pace.interval.mul_f64(phase)
        });
        let due = *slot;
        *slot += pace.interval;
        due
    };
    if Instant::now() >= due {
        return Some(due);
    }
    tokio::time::sleep_until(due.into()).await;
    Some(Instant::now())
}

/// Sends one request named after its operation and reads the whole body; at a fixed rate,
/// in this connection's next slot, also recording the time from the slot to the answer.
async fn send(
    user: &mut GooseUser,
    name: &str,
    method: GooseMethod,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<(u16, String), Box<TransactionError>> {
    let slot = wait_for_slot(user.weighted_users_index).await;
    let outcome = exchange(user, name, method, path, token, body).await;
    if let Some(slot) = slot {
        user.record_custom_request_duration(
            SCHEDULED,
            name,
            slot.elapsed(),
            outcome.is_ok(),
            None,
            None,
        )
        .await?;
    }
    outcome
}

async fn exchange(
    user: &mut GooseUser,
    name: &str,
    method: GooseMethod,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<(u16, String), Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(expected_status(name))
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await?.response;
    let response = response.map_err(|e| Box::new(TransactionError::Reqwest(e)))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| Box::new(TransactionError::Reqwest(e)))?;
    Ok((status, text))
}

/// How long a user's HTTP client keeps an idle connection for reuse. workerd drops keep-alive
/// connections idle for about 5 s, and a request sent on one as it does so meets a reset
/// ("error sending request"): a client must not reuse a connection longer than the server keeps
/// it, so this stays well under that.
const POOL_IDLE: Duration = Duration::from_secs(2);

/// The workers to spread the connections over (`BENCH_HOSTS`, comma-separated base URLs):
/// connection i talks to worker i mod n. Empty: every connection uses `--host`.
static HOSTS: OnceLock<Vec<String>> = OnceLock::new();

/// Every user's first transaction: Goose's client as the command line sets it up (no gzip, a
/// 10 s timeout), with the idle limit above, and its worker when there are several.
async fn configure_client(user: &mut GooseUser) -> TransactionResult {
    if let Some(hosts) = HOSTS.get().filter(|hosts| !hosts.is_empty()) {
        let host = &hosts[user.weighted_users_index % hosts.len()];
        user.set_base_url(host)?;
    }
    let builder = reqwest::Client::builder()
        .user_agent("goose/0.19.0")
        .gzip(false)
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(POOL_IDLE);
    user.set_client_builder(builder).await?;
    Ok(())
}

async fn run_mix(user: &mut GooseUser, mix: &[(Op, u32)]) -> TransactionResult {
    let fixtures = FIXTURES
        .get()
        .expect("fixtures are loaded before the attack");
    if user.get_session_data::<Client>().is_none() {
        let index = user.weighted_users_index;
        let users = fixtures.users.len();
        let owner = index % users;
        // The user's doomed tasks, shared out among its connections (index, index + users, …),
        // so no two connections delete the same task.
        let connections = user.config.users.unwrap_or(users).div_ceil(users).max(1);
        let created = fixtures.users[owner]
            .doomed
            .iter()
            .skip(index / users)
            .step_by(connections)
            .cloned()
            .collect();
        user.set_session_data(Client {
            user: owner,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            created,
            sequence: 0,
        });
    }
    let client = user.get_session_data_mut::<Client>().expect("set above");
    let mut op = client.pick_op(mix);
    if matches!(op, Op::Delete) && client.created.is_empty() {
        op = Op::Create;
    }
    client.sequence += 1;
    let owner = &fixtures.users[client.user];
    let task = client.pick(&owner.tasks).clone();
    let sequence = client.sequence;
    let doomed = match op {
        Op::Delete => client.created.pop_front(),
        _ => None,
    };
    let token = Some(owner.token.as_str());
    let tasks = format!("/api/{}/tasks", owner.id);
    let one = format!("{tasks}/{task}");
    match op {
        Op::List => {
            send(user, op.name(), GooseMethod::Get, &tasks, token, None).await?;
        }
        Op::Get => {
            send(user, op.name(), GooseMethod::Get, &one, token, None).await?;
        }
        Op::Put => {
            let body = json!({ "title": format!("renamed {sequence}") }).to_string();
            send(user, op.name(), GooseMethod::Put, &one, token, Some(body)).await?;
        }
        Op::Complete => {
            // An empty body toggles the flag.
            let path = format!("{one}/complete");
            send(user, op.name(), GooseMethod::Patch, &path, token, None).await?;
        }
        Op::Create => {
            let body = json!({ "title": format!("bench task {sequence}") }).to_string();
            let (status, text) = send(
                user,
                op.name(),
                GooseMethod::Post,
                &tasks,
                token,
                Some(body),
            )
            .await?;
            if status == 201 && mix.iter().any(|(op, _)| matches!(op, Op::Delete)) {
                if let Some(id) = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|task| task["id"].as_str().map(str::to_owned))
                {
                    let client = user.get_session_data_mut::<Client>().expect("set above");
                    client.created.push_back(id);
                }
            }
        }
        Op::Delete => {
            let path = format!("{tasks}/{}", doomed.expect("checked above"));
            send(user, op.name(), GooseMethod::Delete, &path, token, None).await?;
        }
    }
    Ok(())
}

async fn read_mix(user: &mut GooseUser) -> TransactionResult {
    run_mix(user, READ_MIX).await
}

async fn write_mix(user: &mut GooseUser) -> TransactionResult {
    run_mix(user, WRITE_MIX).await
}

async fn one_op(user: &mut GooseUser) -> TransactionResult {
    run_mix(user, MIX.get().expect("set before the attack")).await
}

/// No token: the worker answers 401 from the route and header alone, before any database work.
async fn unauthorized(user: &mut GooseUser) -> TransactionResult {
    send(
        user,
        "unauthorized",
        GooseMethod::Get,
        "/api/nobody/tasks",
        None,
        None,
    )
    .await?;
    Ok(())
}

/// An unknown path: the worker's router answers 404 before auth, rate limits or the database.
async fn not_found(user: &mut GooseUser) -> TransactionResult {
    send(user, "not_found", GooseMethod::Get, "/", None, None).await?;
    Ok(())
}

/// `GET /health`: no token and no rate limit, one connection through the pooler and `select 1`:
/// what a database round trip costs the worker, without the API's own work.
async fn health(user: &mut GooseUser) -> TransactionResult {
    send(user, "health", GooseMethod::Get, "/health", None, None).await?;
    Ok(())
}

/// Adds `other`'s times to `into` (same microsecond buckets, so percentiles stay exact to them).
fn merge(into: &mut GooseRequestMetricTimingData, other: &GooseRequestMetricTimingData) {
    for (&bucket, &count) in other.times_us.iter() {
        let before = into.times_us.get(&bucket).copied().unwrap_or(0);
        into.times_us.insert(bucket, before + count);
    }
    if other.counter > 0 {
        if into.counter == 0 || other.minimum_time_us < into.minimum_time_us {
            into.minimum_time_us = other.minimum_time_us;
        }
        into.maximum_time_us = into.maximum_time_us.max(other.maximum_time_us);
    }
    into.total_time_us += other.total_time_us;
    into.counter += other.counter;
}

fn latency(data: &GooseRequestMetricTimingData) -> Value {
    let ms = |us: u64| (us as f64 / 10.0).round() / 100.0;
    let mean = if data.counter == 0 {
        0.0
    } else {
        data.total_time_us as f64 / data.counter as f64
    };
    json!({
        "p50": ms(data.percentile_us(0.50)),
        "p95": ms(data.percentile_us(0.95)),
        "p99": ms(data.percentile_us(0.99)),
        "max": ms(data.maximum_time_us),
        "mean": ms(mean.round() as u64),
    })
}

/// Whether an aggregate holds the fixed-rate test's corrected times (see `send`).
fn is_scheduled(aggregate: &GooseRequestMetricAggregate) -> bool {
    aggregate.custom_method == SCHEDULED
}

/// Counts, status codes and percentiles of a set of requests (one operation, or all). An
/// aggregate's `path` is the request's name: here, its operation.
fn describe(aggregates: &[&GooseRequestMetricAggregate], seconds: f64) -> Value {
    let mut raw = GooseRequestMetricTimingData::default();
    let mut corrected = GooseRequestMetricTimingData::default();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut errors = 0;
    for aggregate in aggregates {
        if is_scheduled(aggregate) {
            merge(&mut corrected, &aggregate.raw_data);
            continue;
        }
        merge(&mut raw, &aggregate.raw_data);
        let expected = expected_status(&aggregate.path);
        for (&status, timing) in &aggregate.status_code_timings {
            *statuses.entry(status).or_default() += timing.count;
            if status != expected {
                errors += timing.count;
            }
        }
    }
    let requests = raw.counter;
    let mut summary = json!({
        "requests": requests,
        "errors": errors,
        "rps": ((requests as f64 / seconds) * 10.0).round() / 10.0,
        "statuses": statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "latency_ms": latency(&raw),
    });
    // Closed loop: there is no schedule to fall behind, the times are the corrected times.
    summary["corrected_latency_ms"] = latency(if corrected.counter > 0 {
        &corrected
    } else {
        &raw
    });
    summary
}

fn summarize(metrics: &GooseMetrics, workload: &str) -> Value {
    let seconds = metrics.duration.max(1) as f64;
    let all: Vec<&GooseRequestMetricAggregate> = metrics.requests.values().collect();
    let mut operations = serde_json::Map::new();
    let mut names: Vec<&str> = all.iter().map(|a| a.path.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let of_op: Vec<_> = all.iter().copied().filter(|a| a.path == name).collect();
        operations.insert(name.to_owned(), describe(&of_op, seconds));
    }
    let mut error_messages: Vec<(String, usize)> = metrics
        .errors
        .values()
        // A failed request's corrected twin repeats its error.
        .filter(|e| e.custom_method != SCHEDULED)
        .map(|e| {
            (
                format!("{} {}: {}", e.method, e.name, e.error),
                e.occurrences,
            )
        })
        .collect();
    error_messages.sort_by_key(|e| std::cmp::Reverse(e.1));
    error_messages.truncate(10);
    json!({
        "workload": workload,
        "duration_s": metrics.duration,
        "users": metrics.maximum_users,
        "overall": describe(&all, seconds),
        "operations": operations,
        "error_messages": error_messages,
        "offered_rps": PACE.get().map(|p| p.users as f64 / p.interval.as_secs_f64()),
    })
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("{name} must be set (bench/run.sh sets it)");
        std::process::exit(2);
    })
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let workload = required_env("BENCH_WORKLOAD");
    let out = required_env("BENCH_OUT");
    let scenario = match workload.as_str() {
        "trivial" => scenario!("trivial").register_transaction(transaction!(unauthorized)),
        "not-found" => scenario!("notfound").register_transaction(transaction!(not_found)),
        "health" => scenario!("health").register_transaction(transaction!(health)),
        "read" | "write" | "list" | "get" | "put" | "complete" | "create" | "delete" => {
            let path = required_env("BENCH_FIXTURES");
            let text = std::fs::read_to_string(&path).expect("read BENCH_FIXTURES");
            let fixtures: Fixtures = serde_json::from_str(&text).expect("parse BENCH_FIXTURES");
            assert!(
                fixtures.users.iter().all(|u| !u.tasks.is_empty()),
                "every user needs tasks"
            );
            let _ = FIXTURES.set(fixtures);
            if let Some(mix) = single_op(&workload) {
                let _ = MIX.set(mix);
                scenario!("single").register_transaction(transaction!(one_op))
            } else if workload == "read" {
                scenario!("read").register_transaction(transaction!(read_mix))
            } else {
                scenario!("write").register_transaction(transaction!(write_mix))
            }
        }
        other => {
            eprintln!(
                "BENCH_WORKLOAD must be read, write, list, get, put, complete, create, delete, \
                 trivial, not-found or health, not {other:?}"
            );
            std::process::exit(2);
        }
    };
    let scenario = scenario.register_transaction(transaction!(configure_client).set_on_start());
    let hosts = std::env::var("BENCH_HOSTS").unwrap_or_default();
    let _ = HOSTS.set(
        hosts
            .split(',')
            .map(str::trim)
            .filter(|host| !host.is_empty())
            .map(str::to_owned)
            .collect(),
    );
    if let Ok(rate) = std::env::var("BENCH_RATE") {
        let rate: f64 = rate.parse().expect("BENCH_RATE is requests per second");
        let users: usize = required_env("BENCH_USERS")
            .parse()
            .expect("BENCH_USERS is a count");
        let _ = PACE.set(Pace {
            interval: Duration::from_secs_f64(users as f64 / rate),
            // Goose starts the users over the first second (run.sh: --increase-rate = users).
            epoch: Instant::now() + Duration::from_millis(1200),
            users,
            next: Mutex::new(HashMap::new()),
        });
    }
    let metrics = GooseAttack::initialize()?
        .register_scenario(scenario)
        .execute()
        .await?;
    let summary = summarize(&metrics, &workload);
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&summary).expect("serialize"),
    )
    .expect("write BENCH_OUT");
    Ok(())
}
