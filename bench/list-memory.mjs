// The worker's peak memory while listing large tasks: one user with TASKS tasks of
// DESCRIPTION_CHARS-character descriptions (default 1000 × 10,000, the API's limits), then
// LISTINGS (20) concurrent complete listings, each following `Link` to the end; every listing
// must return every task exactly once. Measured two ways, before and during the listings:
// - the worker's isolate through workerd's V8 inspector (`Runtime.getHeapUsage`, sampled every
//   SAMPLE_MS): the JavaScript heap in use and its ArrayBuffer backing stores; and the size of
//   the worker's WebAssembly memory (found with `Runtime.queryObjects`), which only grows, so
//   its size after the listings is the Rust side's peak;
// - the peak resident set (VmHWM) of the workerd process, which runs the worker alone but also
//   counts garbage V8 has not collected yet, so it grows with the bytes sent, not only with
//   what is live.
//
// Usage: `node bench/list-memory.mjs` after `bash scripts/build.sh` (`source scripts/env.sh`
// first); DESCRIPTION=escaped fills descriptions with U+0001, which JSON escapes to six bytes.
// Prints one JSON object. Uses the integration suite's fixtures (a fresh test database on the
// local PostgreSQL, or an embedded one).
import fs from "node:fs";
import { execFileSync } from "node:child_process";
import { forHyperdrive, freePort, newUser, startDatabase, startWorker } from "../tests/integration/harness.mjs";

const TASKS = Number(process.env.TASKS ?? 1000);
const DESCRIPTION_CHARS = Number(process.env.DESCRIPTION_CHARS ?? 10_000);
const LISTINGS = Number(process.env.LISTINGS ?? 20);
const ESCAPED = process.env.DESCRIPTION === "escaped";
const SAMPLE_MS = 25;
const MiB = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** A CDP session with the inspector target `id` of the workerd listening on `port`. */
async function inspector(port, id) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.id === id);
  if (!target) throw new Error(`no inspector target ${id}: ${targets.map((t) => t.id)}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let next = 0;
  const pending = new Map();
  const contexts = [];
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.method === "Runtime.executionContextCreated") contexts.push(message.params.context.id);
    pending.get(message.id)?.(message.result ?? { error: message.error });
    pending.delete(message.id);
  };
  return {
    call: (method, params = {}) => new Promise((resolve) => {
      pending.set(++next, resolve);
      ws.send(JSON.stringify({ id: next, method, params }));
    }),
    contexts,
    close: () => ws.close(),
  };
}

/** The workerd processes started by this process (Miniflare spawns one per instance). */
function workerdPids() {
  const out = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return out.split("\n").map((line) => line.trim().split(/\s+/)).filter(([, comm]) => comm === "workerd").map(([pid]) => Number(pid));
}

/** A /proc/<pid>/status field in MiB. */
function statusMiB(pid, field) {
  const match = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return match ? Math.round(Number(match[1]) / 1024) : null;
}

async function listAll(user) {
  const ids = [];
  let pages = 0;
  let url = user.tasksUrl;
  while (url) {
    const response = await user.request("GET", url);
    if (response.status !== 200) return { ids, pages, failed: `${response.status} ${await response.text()}` };
    const tasks = await response.json();
    ids.push(...tasks.map((t) => t.id));
    pages++;
    const link = response.headers.get("link");
    url = link ? link.match(/^<([^>]+)>/)[1] : null;
  }
  return { ids, pages };
}

const db = await startDatabase();
const inspectorPort = await freePort();
const worker = await startWorker({ databaseUrl: forHyperdrive(db.url), inspectorPort });
try {
  const [pid] = workerdPids();
  if (!pid) throw new Error("no workerd child process found");
  const user = newUser(worker.url);
  await db.client.query("insert into users (id) values ($1)", [user.id]);
  await db.client.query(
    `insert into tasks (user_id, title, description)
     select $1, 'bulk ' || g, repeat($2, $3) from generate_series(1, $4::int) g`,
    [user.id, ESCAPED ? "\u0001" : "d", DESCRIPTION_CHARS, TASKS],
  );
  // Warm the isolate (compile, first connection) so the baseline is a running worker's.
  await listAll(newUser(worker.url));
  const isolate = await inspector(inspectorPort, "core:user:task-api");
  const heap = () => isolate.call("Runtime.getHeapUsage");
  const wasmMemory = async () => {
    const proto = await isolate.call("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype", contextId: isolate.contexts[0] });
    if (!proto.result) throw new Error(`inspector: ${JSON.stringify(proto)}`);
    const found = await isolate.call("Runtime.queryObjects", { prototypeObjectId: proto.result.objectId });
    const sizes = await isolate.call("Runtime.callFunctionOn", {
      objectId: found.objects.objectId, returnByValue: true,
      functionDeclaration: "function () { return this.map((memory) => memory.buffer.byteLength); }",
    });
    return sizes.result.value.reduce((a, b) => a + b, 0);
  };
  // Evaluating needs the isolate's execution context, which the inspector learns of on enable.
  await isolate.call("Runtime.enable");
  const wasmIdle = await wasmMemory();
  const idle = await heap();
  const peak = { usedSize: idle.usedSize, backingStorageSize: idle.backingStorageSize };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const now = await heap();
      peak.usedSize = Math.max(peak.usedSize, now.usedSize);
      peak.backingStorageSize = Math.max(peak.backingStorageSize, now.backingStorageSize);
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  const rssBefore = statusMiB(pid, "VmHWM");
  const started = performance.now();
  const listings = await Promise.all(Array.from({ length: LISTINGS }, () => listAll(user)));
  const seconds = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;
  const wasmAfter = await wasmMemory();
  isolate.close();
  const complete = listings.every(({ ids }) => ids.length === TASKS && new Set(ids).size === TASKS);
  const failures = listings.filter(({ failed }) => failed).map(({ failed }) => failed);
  console.log(JSON.stringify({
    tasks: TASKS, description_chars: DESCRIPTION_CHARS, escaped: ESCAPED, listings: LISTINGS,
    complete, failed_listings: failures.length, first_failure: failures[0], pages_per_listing: listings[0]?.pages,
    seconds: Number(seconds.toFixed(1)),
    wasm_memory_mib_idle: MiB(wasmIdle), wasm_memory_mib_peak: MiB(wasmAfter),
    js_heap_mib_idle: MiB(idle.usedSize), js_heap_mib_peak: MiB(peak.usedSize),
    backing_stores_mib_idle: MiB(idle.backingStorageSize), backing_stores_mib_peak: MiB(peak.backingStorageSize),
    workerd_peak_rss_mib_before: rssBefore, workerd_peak_rss_mib_after: statusMiB(pid, "VmHWM"),
  }));
  if (!complete) process.exitCode = 1;
} finally {
  await worker.dispose();
  await db.stop();
}
