// The integration suite's fixtures: a fresh PostgreSQL database with the migrations applied,
// the built worker running in workerd (the one `make dev` runs, through Miniflare's API) with
// its Hyperdrive binding pointed at that database, and tokens for fresh users.
//
// Database, in this order: TEST_DATABASE_URL; else the local server on 127.0.0.1:5432; else an
// embedded PostgreSQL (PGlite's socket server) in a temporary folder.
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import pg from "pg";
import { mintToken } from "../../scripts/token.mjs";
import { forHyperdrive, forMigrate } from "../../scripts/dburl.mjs";
// Runs the workerd `make dev` runs, not Miniflare 4's older one.
import "../../scripts/workerd.mjs";

export { forHyperdrive };

const root = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

export const SECRET = crypto.randomBytes(32).toString("base64url");

/** A cursor as the worker seals it (src/tasks/cursor.rs `seal`, bound by list_query.rs
 *  `context`) with `key` (the worker's cursor key; by default the test deployment's), for
 *  `userId`'s list with `params`, holding the JSON `payload`: what someone holding the key could
 *  forge. The MAC is HMAC-SHA256 over the version, the context and the base64url payload, each
 *  prefixed by its byte length (u64 big endian), truncated to 16 bytes. */
export function sealCursor(userId, params, payload, key = SECRET) {
  const { sort = "created_at", order = sort === "title" ? "asc" : "desc", completed = "", q = "" } = params;
  const encoded = Buffer.from(payload).toString("base64url");
  const mac = crypto.createHmac("sha256", key);
  for (const part of ["task-api cursor v1", userId, sort, order, completed, q, encoded]) {
    const bytes = Buffer.from(part);
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(bytes.length));
    mac.update(length).update(bytes);
  }
  return `${encoded}.${mac.digest().subarray(0, 16).toString("base64url")}`;
}

/** Applies migrations/ with dbmate, the same tool and files as `make dev` and production. */
export async function migrate(databaseUrl) {
  await run(path.join(root, "node_modules/.bin/dbmate"), [
    "--url", forMigrate(databaseUrl), "--migrations-dir", path.join(root, "migrations"),
    "--no-dump-schema", "--wait", "--wait-timeout", "20s", "up",
  ]);
}

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function canConnect(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startEmbedded() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "task-api-pglite-"));
  const port = await freePort();
  const child = spawn(
    path.join(root, "node_modules/.bin/pglite-server"),
    ["-d", dataDir, "-p", String(port), "-h", "127.0.0.1", "-m", "100"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
  for (let i = 0; i < 100 && !(await canConnect(url)); i++) await new Promise((r) => setTimeout(r, 200));
  return {
    url,
    embedded: true,
    async stop() {
      child.kill("SIGTERM");
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a fresh, migrated database and returns its URL and a way to drop it. */
export async function startDatabase() {
  const server = process.env.TEST_DATABASE_URL
    ? { url: process.env.TEST_DATABASE_URL, stop: async () => {} }
    : (await canConnect("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
      ? { url: "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable", stop: async () => {} }
      : await startEmbedded();
  let url = server.url;
  let drop = async () => {};
  if (!server.embedded) {
    const name = `task_api_test_${Date.now()}_${crypto.randomBytes(3).toString("hex")}`;
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    url = withDatabase(server.url, name);
    drop = async () => {
      const again = new pg.Client({ connectionString: server.url });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    };
  }
  await migrate(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    url,
    client,
    embedded: Boolean(server.embedded),
    database: new URL(url).pathname.slice(1),
    async stop() {
      await client.end().catch(() => {});
      await drop();
      await server.stop();
    },
  };
}

/** The names of wrangler.toml's `[[ratelimits]]` bindings: the one list the tests use. */
export const RATE_LIMIT_BINDINGS = readWranglerToml().split(/^\[\[ratelimits\]\]\s*$/m).slice(1)
  .map((block) => block.match(/^name\s*=\s*"([^"]+)"/m)[1]);

/** Budgets so large that no test meets them unless it asks for small ones: every request
 *  still goes through the rate-limit bindings, as in production. */
export const GENEROUS_LIMITS = Object.fromEntries(RATE_LIMIT_BINDINGS.map((name) => [name, 1_000_000]));

/** The test limiter's default period (tests/integration/limiter.mjs): a spent budget refills this
 *  many seconds after its first refusal, longer than any run, so within a test it never does. */
export const NO_REFILL_SECS = 24 * 3600;

const limiterWorker = {
  name: "test-rate-limiter",
  modules: [{ type: "ESModule", path: path.join(root, "tests/integration/limiter.mjs") }],
};

/** Runs the built worker (build/) in workerd. `bindings` replaces the default secret.
 *  `inspectorPort` opens workerd's V8 inspector there.
 *  `limits` (binding name → calls per key; a binding left out is not bound at all) replaces the
 *  generous default budgets, served by the test limiter (tests/integration/limiter.mjs) in the
 *  worker's isolate; `limitPeriod` is the seconds from a budget's first refusal to its refill.
 *  The returned worker also collects its log lines: `requestLog(id)` (the request's line, by
 *  its X-Request-Id) and `limiterCalls()` (the limiter's calls so far, in order). */
export async function startWorker({
  databaseUrl,
  bindings = { BETTER_AUTH_SECRET: SECRET },
  limits = GENEROUS_LIMITS,
  limitPeriod = NO_REFILL_SECS,
  inspectorPort,
}) {
  for (const name of Object.keys(limits)) {
    if (!RATE_LIMIT_BINDINGS.includes(name)) throw new Error(`startWorker: ${name} is not a [[ratelimits]] binding of wrangler.toml`);
  }
  const log = workerLog();
  const mf = new Miniflare({
    workers: [
      {
        name: "task-api",
        modules: true,
        scriptPath: path.join(root, "build/index.js"),
        modulesRoot: path.join(root, "build"),
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
        compatibilityDate: readCompatibilityDate(),
        bindings,
        hyperdrives: { HYPERDRIVE: databaseUrl },
        assets: staticAssets(),
        wrappedBindings: Object.fromEntries(Object.entries(limits).map(([name, limit]) => [
          name, { scriptName: limiterWorker.name, bindings: { name, limit, period: limitPeriod } },
        ])),
      },
      limiterWorker,
    ],
    cf: false,
    // The V8 inspector, for measurements (bench/list-memory.mjs); off unless asked for.
    ...(inspectorPort ? { inspectorPort } : {}),
    handleRuntimeStdio(stdout, stderr) {
      log.read(stdout, stderr);
    },
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, dispose: () => mf.dispose(), requestLog: log.request, limiterCalls: log.limiterCalls };
}

/** The worker's JSON log lines: its request lines (by request id) and the test limiter's calls,
 *  the latest KEPT_LINES of each (a soak run writes millions). Everything is echoed to stderr
 *  with TEST_VERBOSE=1 (useful when debugging, noise otherwise). */
const KEPT_LINES = 50_000;
function workerLog() {
  const requests = new Map(); // request_id → line
  const calls = [];
  const waiting = new Map(); // request_id → resolve
  const take = (text) => {
    if (process.env.TEST_VERBOSE) process.stderr.write(`${text}\n`);
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    if (line?.msg === "rate_limit") {
      calls.push(line);
      if (calls.length > 2 * KEPT_LINES) calls.splice(0, calls.length - KEPT_LINES);
    }
    if (line?.msg === "request" && typeof line.request_id === "string") {
      requests.set(line.request_id, line);
      if (requests.size > KEPT_LINES) requests.delete(requests.keys().next().value);
      waiting.get(line.request_id)?.(line);
    }
  };
  return {
    read(...streams) {
      for (const stream of streams) readline.createInterface({ input: stream, crlfDelay: Infinity }).on("line", take);
    },
    /** The log line of the request whose X-Request-Id is `id`, once workerd has written it (it
     *  is written before the response is sent, but reaches this process on its own pipe). */
    request(id, { timeoutMs = 30_000 } = {}) {
      if (requests.has(id)) return Promise.resolve(requests.get(id));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`no log line for request ${id} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, (line) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(line);
        });
      });
    },
    /** The limiter calls logged so far; a request's calls precede its own line on stdout. */
    limiterCalls: () => [...calls],
  };
}

function readWranglerToml() {
  return fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
}

/** wrangler.toml's `[assets]` as Miniflare takes them (what wrangler hands it for `wrangler dev`):
 *  the folder scripts/build.sh fills, and `run_worker_first` split into the paths the asset server
 *  answers (`!/…`) and the ones the worker answers. Miniflare reads the folder's `_headers`. */
function staticAssets() {
  const block = readWranglerToml().split(/^\[assets\]\s*$/m)[1]?.split(/^\[/m)[0];
  if (!block) throw new Error("wrangler.toml has no [assets] section");
  const directory = block.match(/^directory\s*=\s*"([^"]+)"/m)?.[1];
  const rules = JSON.parse(block.match(/^run_worker_first\s*=\s*(\[.*\])\s*$/m)?.[1] ?? "[]");
  const asset_worker = rules.filter((rule) => rule.startsWith("!/")).map((rule) => rule.slice(1));
  const user_worker = rules.filter((rule) => rule.startsWith("/"));
  return {
    directory: path.join(root, directory),
    routerConfig: { has_user_worker: true, static_routing: { user_worker, asset_worker } },
  };
}

function readCompatibilityDate() {
  return readWranglerToml().match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];
}

/** A fresh user with a valid token, and fetch helpers bound to the worker at `base`.
 *  `emailVerified` and `extra` go to mintToken (scripts/token.mjs). */
export function newUser(base, { id, email, emailVerified, extra, prefix = "user" } = {}) {
  id ??= `${prefix}-${crypto.randomBytes(12).toString("hex")}`;
  const token = mintToken({ userId: id, secret: SECRET, email, emailVerified, extra });
  return {
    id,
    token,
    tasksUrl: `${base}/api/${id}/tasks`,
    request(method, urlPath, { body, headers = {}, raw, signal } = {}) {
      const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers }, signal };
      if (raw !== undefined) init.body = raw;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers["Content-Type"] = "application/json";
      }
      return fetch(urlPath.startsWith("http") ? urlPath : `${base}${urlPath}`, init);
    },
    async create(task = { title: "a task" }) {
      const response = await this.request("POST", this.tasksUrl, { body: task });
      if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
}

/** Watches one connection's client→server bytes for the start of its first query message.
 *  PostgreSQL framing: the startup message is untyped (int32 length counting itself, int32
 *  protocol code); every later message is typed (1 type byte, then an int32 big-endian length
 *  counting itself but not the type). Returns a function that takes each chunk in order and says
 *  whether a 'P' (Parse) or 'Q' (Query) message starts in it. */
function queryDetector() {
  let typed = false; // past the startup message?
  let header = []; // the current message's header bytes seen so far (they may span chunks)
  let rest = 0; // body bytes of the current message still to skip
  return (chunk) => {
    for (let i = 0; i < chunk.length;) {
      if (rest > 0) { // inside a message body: skip as much of it as this chunk holds
        const n = Math.min(rest, chunk.length - i);
        rest -= n;
        i += n;
        continue;
      }
      if (typed && header.length === 0 && (chunk[i] === 0x50 || chunk[i] === 0x51)) return true;
      header.push(chunk[i++]);
      if (header.length < (typed ? 5 : 8)) continue;
      const bytes = Buffer.from(header);
      header = [];
      rest = typed ? bytes.readInt32BE(1) - 4 : bytes.readInt32BE(0) - 8;
      // An SSLRequest (code 80877103) is answered with one byte and followed by a real startup.
      if (!typed) typed = bytes.readInt32BE(4) !== 80877103;
    }
    return false;
  };
}

/** Splits one direction of a PostgreSQL connection into message segments, so the proxy can
 *  drop or stop at message boundaries. Returns a function that takes each chunk in order and
 *  returns its pieces: `{ type, start, end, bytes }`, `type` being the message's type byte
 *  (null for the untyped startup message, or an SSLRequest), `start`/`end` whether the piece
 *  begins/ends its message. `untypedFirst`: the client's side, whose first message is untyped. */
function messageSegments({ untypedFirst }) {
  let typed = !untypedFirst;
  let header = []; // the current message's header bytes seen so far
  let type = null;
  let rest = 0; // body bytes of the current message still to come
  return (chunk) => {
    const pieces = [];
    let piece = null; // the piece being collected: { type, start, end, from }
    const close = (to, end) => {
      if (piece && to > piece.from) pieces.push({ type: piece.type, start: piece.start, end, bytes: chunk.subarray(piece.from, to) });
      piece = null;
    };
    for (let i = 0; i < chunk.length;) {
      if (!piece) piece = { type, start: header.length === 0 && rest === 0, from: i };
      if (rest > 0) {
        const n = Math.min(rest, chunk.length - i);
        rest -= n;
        i += n;
        if (rest === 0) close(i, true);
        continue;
      }
      if (header.length === 0) piece.type = type = typed ? chunk[i] : null;
      header.push(chunk[i++]);
      if (header.length < (typed ? 5 : 8)) continue;
      const bytes = Buffer.from(header);
      header = [];
      rest = typed ? bytes.readInt32BE(1) - 4 : bytes.readInt32BE(0) - 8;
      if (!typed) typed = bytes.readInt32BE(4) !== 80877103; // an SSLRequest precedes a real startup
      if (rest === 0) close(i, true);
    }
    close(chunk.length, false);
    return pieces;
  };
}

const backendMessage = (type, body) => {
  const header = Buffer.alloc(5);
  header[0] = type.charCodeAt(0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
};
const READY_FOR_QUERY = backendMessage("Z", Buffer.from("I"));
const cString = (text) => Buffer.from(`${text}\0`);
/** The server's answers to what surrounds a statement (`bounded` in src/db/statements.rs):
 *  `begin`; the two `set_config` of the statement timeout and the idle-in-transaction timeout
 *  (two text columns, sent in binary, as tokio-postgres asks); and `commit` of a transaction
 *  the statement's failure aborted. */
const BEGIN_DONE = Buffer.concat([backendMessage("C", cString("BEGIN")), backendMessage("Z", Buffer.from("T"))]);
const TIMEOUT_SET = (() => {
  const field = Buffer.concat([cString("set_config"), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1])]);
  const value = Buffer.concat([Buffer.from([0, 0, 0, 4]), Buffer.from("1500")]);
  const row = Buffer.concat([Buffer.from([0, 2]), value, value]);
  return Buffer.concat([
    backendMessage("1", Buffer.alloc(0)), backendMessage("2", Buffer.alloc(0)),
    backendMessage("T", Buffer.concat([Buffer.from([0, 2]), field, field])), backendMessage("D", row),
    backendMessage("C", cString("SELECT 1")), backendMessage("Z", Buffer.from("T")),
  ]);
})();
const ROLLED_BACK = Buffer.concat([backendMessage("C", cString("ROLLBACK")), READY_FOR_QUERY]);
/** How many requests a query that begins with `piece` (its first message's first piece) holds:
 *  four when it opens a transaction, else one. */
const requestsOf = (piece) =>
  (piece.type === 0x51 && piece.bytes.subarray(5, 10).toString() === "begin" ? 4 : 1);

/** A PostgreSQL ErrorResponse carrying `sqlstate` (and the `constraint` it names), followed by
 *  ReadyForQuery: how the server refuses a statement. For `startProxy`'s `answerQueries`. */
export function errorResponse(sqlstate, { constraint, message = "refused by the test proxy" } = {}) {
  const fields = [["S", "ERROR"], ["V", "ERROR"], ["C", sqlstate], ["M", message]];
  if (constraint) fields.push(["n", constraint]);
  const body = Buffer.concat([...fields.map(([k, v]) => Buffer.from(`${k}${v}\0`)), Buffer.from([0])]);
  return Buffer.concat([backendMessage("E", body), READY_FOR_QUERY]);
}

/** An answer to a query that breaks the protocol: AuthenticationOk, a message that belongs to
 *  the startup, where the query's own answer should begin; then ReadyForQuery. */
export const UNEXPECTED_MESSAGE = Buffer.concat([backendMessage("R", Buffer.alloc(4)), READY_FOR_QUERY]);

/** A TCP proxy between the worker's Hyperdrive binding and PostgreSQL, so tests can make the
 *  database misbehave without touching the shared server. Modes (`set(mode, ms)`):
 *  - "pass": forwards both ways;
 *  - "down": refuses connections (nothing listens);
 *  - "blackhole": accepts connections and never answers;
 *  - "reset": sets connections up normally, then at the client's first query message ('P' or
 *    'Q') destroys both sockets without forwarding it, so nothing reaches the server;
 *  - "reset-after-send": forwards the first query message (and the rest of its chunk) to the
 *    server, then destroys the client's socket before any reply reaches it; the server still
 *    gets the whole chunk and a clean end of stream, so the statement may be applied
 *    (`finished()` says when the server is done with it);
 *  - "slow": forwards, delaying every server→client chunk by `ms`;
 *  - "hold-after-reply": forwards until the server's reply to the client's first query has
 *    reached the client (through its last ReadyForQuery), then holds everything else: what the client
 *    sends (its Terminate) never reaches the server and nothing more reaches the client, as a
 *    close that never completes. When the client closes its socket, the server connection is
 *    cut (so nothing is left open); `held()` counts the client bytes held back.
 *  Open connections are cut on every change. `failNextConnections(n)` destroys the next n
 *  accepted connections at once (a transient connect failure), whatever the mode;
 *  `connections()` counts accepted connections, `openClients()` those still open.
 *  `wakeOnNextConnection(ms)` makes the next connections wait out a wake-up of `ms`.
 *  `answerQueries(reply, n)` answers the next n queries (on any connection, in "pass" mode)
 *  itself with `reply` — e.g. `errorResponse("40P01")` — instead of sending them to the server.
 *  A query is what the worker sends for one statement: `begin`, the statement timeout, the
 *  statement and `commit`, four requests sent together (src/db/statements.rs, `bounded`); a
 *  request is a simple Query message or an extended-protocol one (Parse … Sync). The proxy
 *  answers the whole query once it has arrived, as the server would if the statement met
 *  `reply`: `begin` and the timeout succeed, the statement gets `reply`, and `commit` answers
 *  ROLLBACK. None of it reaches the server, so no reply of the server's can interleave (the
 *  worker waits for each query's answers before its next one). `queries()` counts the queries
 *  seen, answered or forwarded. */
export async function startProxy(targetUrl) {
  const target = new URL(targetUrl);
  const port = await freePort();
  const sockets = new Set();
  let mode = "pass";
  let delayMs = 0;
  let failing = 0;
  let accepted = 0;
  const finishing = []; // reset-after-send: one promise per server connection left to finish
  const clients = new Set(); // accepted client sockets still open
  let answers = { reply: null, left: 0 }; // answerQueries
  let queriesSeen = 0;
  let heldBytes = 0; // hold-after-reply
  const wake = { pendingMs: 0, until: 0, held: 0 }; // wakeOnNextConnection
  const track = (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };
  const server = net.createServer((client) => {
    accepted++;
    track(client);
    clients.add(client);
    client.on("close", () => clients.delete(client));
    if (failing > 0) {
      failing--;
      client.destroy();
      return;
    }
    if (mode === "blackhole") return; // accept, then never answer
    // A database waking up: connections wait, unanswered, until the wake-up is over.
    if (wake.pendingMs > 0) {
      wake.until = Date.now() + wake.pendingMs;
      wake.pendingMs = 0;
    }
    const asleepMs = wake.until - Date.now();
    if (asleepMs > 0) {
      wake.held++;
      client.pause();
      setTimeout(() => {
        if (client.destroyed) return;
        bridge(client);
        client.resume();
      }, asleepMs);
      return;
    }
    bridge(client);
  });
  /** Connects `client` to the server and forwards between them as the mode says. */
  function bridge(client) {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    track(upstream);
    const startsQuery = queryDetector();
    let queried = false; // the first query message has gone by
    let detached = false; // reset-after-send: upstream left to finish on its own
    const fromClient = messageSegments({ untypedFirst: true });
    const fromServer = messageSegments({ untypedFirst: false });
    // The query under way: its requests still to end, and whether the proxy answers it.
    let query = null;
    let firstQueryRequests = 0; // hold-after-reply: the first query's requests (its answers)
    let replied = false; // hold-after-reply: the first query's reply has reached the client
    let holding = false; // hold-after-reply: nothing more goes either way
    let answersSeen = 0; // hold-after-reply: ReadyForQuery messages after the first query

    /** The pieces of `chunk` that go on to the server; answers the queries answerQueries takes. */
    const forwarded = (pieces) => pieces.filter((piece) => {
      if (query === null && piece.start && (piece.type === 0x50 || piece.type === 0x51)) {
        queriesSeen++;
        const requests = requestsOf(piece);
        query = { left: requests, grouped: requests === 4, answered: answers.left > 0 };
        if (query.answered) answers.left--;
      }
      if (query === null) return true;
      const { answered, grouped } = query;
      // A simple query is one message; an extended request ends with its Sync.
      if (piece.end && (piece.type === 0x51 || piece.type === 0x53) && --query.left === 0) {
        query = null;
        if (answered) {
          client.write(grouped ? Buffer.concat([BEGIN_DONE, TIMEOUT_SET, answers.reply, ROLLED_BACK]) : answers.reply);
        }
      }
      return !answered;
    });

    client.on("data", (chunk) => {
      const pieces = fromClient(chunk);
      if (holding) {
        heldBytes += chunk.length;
        return;
      }
      if (!queried && startsQuery(chunk)) {
        queried = true;
        const first = pieces.find((piece) => piece.start && (piece.type === 0x50 || piece.type === 0x51));
        firstQueryRequests = first ? requestsOf(first) : 1;
        if (mode === "reset") {
          client.destroy();
          upstream.destroy();
          return;
        }
        if (mode === "reset-after-send") {
          // Hand the server the chunk and a clean end (not a reset, which could discard it),
          // and let it run; only the client is cut off.
          detached = true;
          sockets.delete(upstream);
          finishing.push(new Promise((resolve) => upstream.once("close", resolve)));
          upstream.end(chunk);
          setTimeout(() => upstream.destroy(), 60_000).unref(); // only if the server never ends it
          client.destroy();
          return;
        }
      }
      const kept = mode === "pass" ? forwarded(pieces) : pieces;
      const out = kept.length === pieces.length ? chunk : Buffer.concat(kept.map((piece) => piece.bytes));
      if (out.length > 0 && !upstream.write(out)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    });
    // Server→client: in "slow" mode every chunk (and the end) waits `delayMs`, in order.
    const toClient = (forward) => (mode === "slow" ? setTimeout(forward, delayMs) : forward());
    upstream.on("data", (chunk) => {
      if (detached || holding) return;
      if (mode === "hold-after-reply") {
        // Up to the end of the first query's last ReadyForQuery (one per request), then nothing.
        const kept = [];
        for (const piece of fromServer(chunk)) {
          if (replied) break;
          kept.push(piece.bytes);
          if (queried && piece.type === 0x5a && piece.end && ++answersSeen === firstQueryRequests) replied = true;
        }
        holding = replied;
        client.write(Buffer.concat(kept));
        return;
      }
      toClient(() => client.destroyed || client.write(chunk));
    });
    upstream.on("end", () => holding || toClient(() => client.end()));
    upstream.on("error", () => detached || toClient(() => client.destroy()));
    client.on("end", () => detached || (holding ? upstream.destroy() : upstream.end()));
    client.on("error", () => detached || upstream.destroy());
    client.on("close", () => holding && upstream.destroy());
  }
  const listen = () => new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const unlisten = () => new Promise((resolve) => server.close(() => resolve()));
  await listen();
  return {
    port,
    /** Switches mode ("pass", "down", "blackhole", "reset", "reset-after-send", "slow" with
     *  `ms`, "hold-after-reply"), cutting every open connection. */
    async set(next, ms = 0) {
      mode = next;
      delayMs = ms;
      answers = { reply: null, left: 0 };
      for (const socket of sockets) socket.destroy();
      if (next === "down" && server.listening) await unlisten();
      if (next !== "down" && !server.listening) await listen();
    },
    /** A wake-up, as of a database scaled to zero: the next accepted connection starts one of
     *  `ms`, and it and every connection accepted before the wake-up is over get no answer (no
     *  byte is forwarded either way) until then; later ones are served at once. */
    wakeOnNextConnection(ms) {
      wake.pendingMs = ms;
    },
    /** How many connections have waited for a wake-up. */
    heldByWake: () => wake.held,
    /** The next `n` accepted connections are destroyed on accept. */
    failNextConnections(n) {
      failing = n;
    },
    /** How many connections the proxy has accepted so far. */
    connections: () => accepted,
    /** How many accepted client connections are still open. */
    openClients: () => clients.size,
    /** The next `n` queries are answered with `reply` instead of reaching the server ("pass";
     *  a change of mode forgets what is left). */
    answerQueries(reply, n = 1) {
      answers = { reply, left: n };
    },
    /** How many queries the proxy has seen in "pass" mode (answered or forwarded). */
    queries: () => queriesSeen,
    /** hold-after-reply: the client bytes held back so far. */
    held: () => heldBytes,
    /** Resolves once the server has closed every connection "reset-after-send" left to it: it
     *  closes one at the end of stream, after running (and committing) what it received. */
    finished: () => Promise.all(finishing),
    async close() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await unlisten();
    },
  };
}
