#!/usr/bin/env node
// Soak test: `make soak` (or `node tests/soak/soak.mjs` after `make build`).
//
// Runs the built worker (build/) in workerd against a fresh, migrated PostgreSQL database (the
// integration harness's: TEST_DATABASE_URL, else 127.0.0.1:5432, else embedded PGlite), with a
// fault-injecting TCP proxy in front of the database, and drives it with many virtual users at
// once, no think time, for a fixed time. Then it checks from the database that no acknowledged
// write was lost, doubled, resurrected or moved to another user, and that no connection was
// left open.
//
// Settings (environment):
//   SOAK_SECONDS  how long the load runs (default 300)
//   FAULT_EVERY   seconds between injected database faults (default 20); each lasts 2 s and
//                 they cycle: down (refused), blackhole (stalled), reset (before the statement),
//                 reset-after-send (after it), slow (every answer 2.5 s late), then back to pass
//   SOAK_USERS    virtual users (default 100), each with its own user id and token
//
// Each virtual user seeds 3 tasks, then loops: 38.8 % list, 29.1 % get, 14.55 % put, 9.7 %
// complete, 4.85 % create, 3 % delete (the brief's 40/30/15/10/5 mix with deletes taken from it
// proportionally). Half the creates carry an `Idempotency-Key`; when such a create fails with
// 503 or a network error it is retried with the same key and body, after `Retry-After`, up to 3
// times: the client guarantee the API advertises. Every create has a unique title and a
// description `soak:<group>` naming its attempt group (PUTs change only the title), so the
// database shows which rows a group produced and for whom.
//
// Figures: requests, req/s, counts per status, p50/p95/p99 latency, responses slower than 2 s,
// 500s, error responses that are not JSON, network errors, unexpected statuses, and the
// integrity figures checked against the database at the end:
//   lost creates         acknowledged (201) creates missing, unless a delete of them was
//                        acknowledged or attempted (a 503 delete may have been applied)
//   duplicated creates   extra rows of one create group (a write applied twice)
//   resurrected deletes  acknowledged (204) deletes whose task exists again
//   owner changes        rows whose user_id is not the user that created them
//   stray rows           rows that belong to no create this run made
//   leaked connections   sessions on the soak database still open a few seconds after the load
// Exit status: 0 when every integrity figure, the 500 count, non-JSON errors and unexpected
// statuses are all zero, 1 otherwise, 2 when the worker is not built. Slow responses and 503s
// outside fault windows are reported only.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  forHyperdrive, newUser, startDatabase, startProxy, startWorker,
} from "../integration/harness.mjs";

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const FAULT_EVERY = Number(process.env.FAULT_EVERY ?? 20);
const USERS = Number(process.env.SOAK_USERS ?? 100);
const SEED_TASKS = 3;
const FAULT_MS = 2000;
const SLOW_MS = 2500;
const LIMIT_MS = 2000;
const KEYED_RETRIES = 3;
const FAULTS = [["down"], ["blackhole"], ["reset"], ["reset-after-send"], ["slow", SLOW_MS]];
// The operations' weights (percent), made cumulative for picking.
const MIX = [["list", 38.8], ["get", 29.1], ["put", 14.55], ["complete", 9.7], ["create", 4.85], ["delete", 3]]
  .map(([op], i, all) => [op, all.slice(0, i + 1).reduce((sum, [, weight]) => sum + weight, 0)]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (!fs.existsSync(path.resolve(import.meta.dirname, "../../build/index.js"))) {
  console.error("soak: build/index.js is missing; run `make build` first");
  process.exit(2);
}

const stats = {
  requests: 0,
  statuses: {},
  latencies: [],
  slow: 0,
  serverErrors: 0, // 500s
  calm503: 0, // 503s to requests sent and answered outside any fault (e.g. connection limits)
  nonJson: [], // error responses that are not JSON
  network: 0,
  unexpected: {}, // "op status" → count, for statuses the operation should never get
  keyedRetries: 0,
  replays: 0,
  faults: [],
};
let faultUntil = 0; // a fault (or its tail of in-flight requests) lasts until then
const groups = new Map(); // create group → user id (every create attempted)
const created = new Map(); // acknowledged creates: task id → { user, group }
const deleted = new Set(); // acknowledged deletes (204)
const maybeDeleted = new Set(); // deletes answered 503 or lost on the network: may be applied

/** Sends one request, records it, and returns { status, body, headers } (status 0: network). */
async function send(user, op, method, url, body, headers) {
  const started = performance.now();
  let response, text;
  try {
    response = await user.request(method, url, { body, headers });
    text = await response.text();
  } catch {
    stats.requests++;
    stats.network++;
    return { status: 0 };
  }
  const ms = performance.now() - started;
  stats.requests++;
  stats.latencies.push(ms);
  if (ms > LIMIT_MS) stats.slow++;
  const { status } = response;
  stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
  if (status === 500) stats.serverErrors++;
  if (status === 503 && performance.now() > faultUntil && started > faultUntil) stats.calm503++;
  let parsed;
  if (text) {
    try { parsed = JSON.parse(text); } catch { /* checked below */ }
  }
  if (status >= 400) {
    const json = (response.headers.get("content-type") ?? "").startsWith("application/json")
      && typeof parsed?.error?.code === "string";
    if (!json && stats.nonJson.length < 20) stats.nonJson.push(`${method} ${status}: ${text.slice(0, 120)}`);
  }
  const expected = { list: [200], get: [200, 404], put: [200, 404], complete: [200, 404], create: [201], delete: [204, 404] }[op];
  if (!expected.includes(status) && status !== 503) {
    const key = `${op} ${status}`;
    stats.unexpected[key] = (stats.unexpected[key] ?? 0) + 1;
  }
  return { status, body: parsed, headers: response.headers };
}

/** One create attempt group; keyed groups retry 503s and network errors with the same key. */
async function create(vu, keyed) {
  const group = crypto.randomUUID();
  groups.set(group, vu.user.id);
  const body = { title: `soak ${group}`, description: `soak:${group}` };
  const headers = keyed ? { "Idempotency-Key": `soak-${group}` } : {};
  for (let attempt = 0; ; attempt++) {
    const { status, body: task, headers: answer } = await send(vu.user, "create", "POST", vu.user.tasksUrl, body, headers);
    if (status === 201) {
      if (answer.get("idempotent-replayed") === "true") stats.replays++;
      created.set(task.id, { user: vu.user.id, group, returnedUser: task.user_id });
      vu.ids.push(task.id);
      return;
    }
    if (!keyed || attempt === KEYED_RETRIES || (status !== 503 && status !== 0)) return;
    stats.keyedRetries++;
    await sleep(1000 * (Number(answer?.get("retry-after")) || 1));
  }
}

/** A virtual user: its own identity and the ids of its live tasks, seeded with a few. */
async function virtualUser(base) {
  const vu = { user: newUser(base, { prefix: "soak" }), ids: [] };
  for (let i = 0; i < SEED_TASKS; i++) await create(vu, false);
  return vu;
}

/** A virtual user's loop of operations, with no think time, until the deadline. */
async function run(vu, deadline) {
  while (performance.now() < deadline) {
    const roll = Math.random() * 100;
    let op = MIX.find(([, upTo]) => roll < upTo)?.[0] ?? "list";
    if (op !== "list" && op !== "create" && vu.ids.length === 0) op = "create";
    const index = Math.floor(Math.random() * vu.ids.length);
    const id = vu.ids[index];
    const url = `${vu.user.tasksUrl}/${id}`;
    let result;
    switch (op) {
      case "list": await send(vu.user, op, "GET", vu.user.tasksUrl); break;
      case "get": result = await send(vu.user, op, "GET", url); break;
      case "put": result = await send(vu.user, op, "PUT", url, { title: `edited ${crypto.randomUUID()}` }); break;
      case "complete": result = await send(vu.user, op, "PATCH", `${url}/complete`); break;
      case "create": await create(vu, Math.random() < 0.5); break;
      case "delete":
        result = await send(vu.user, op, "DELETE", url);
        if (result.status === 204) deleted.add(id);
        else if (result.status === 503 || result.status === 0) maybeDeleted.add(id);
        break;
    }
    // Gone (deleted now, or by an earlier delete that was answered 503 but applied).
    if (result?.status === 204 || result?.status === 404) vu.ids.splice(index, 1);
  }
}

/** Cycles through the faults every FAULT_EVERY seconds, each for FAULT_MS, until the deadline. */
async function injectFaults(proxy, started, deadline) {
  for (let n = 0; ; n++) {
    const at = started + (n + 1) * FAULT_EVERY * 1000;
    if (at + FAULT_MS > deadline) return;
    await sleep(at - performance.now());
    const [mode, ms] = FAULTS[n % FAULTS.length];
    stats.faults.push(mode);
    faultUntil = Infinity;
    await proxy.set(mode, ms);
    await sleep(FAULT_MS);
    await proxy.set("pass");
    faultUntil = performance.now() + LIMIT_MS; // requests sent during the fault may still answer
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function verify(db) {
  const { rows } = await db.client.query("select id::text, user_id, description from tasks");
  const byId = new Map(rows.map((row) => [row.id, row]));
  const perGroup = new Map();
  let ownerChanges = 0;
  let stray = 0;
  for (const row of rows) {
    const group = row.description?.startsWith("soak:") ? row.description.slice(5) : undefined;
    if (!groups.has(group)) { stray++; continue; }
    perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
    if (groups.get(group) !== row.user_id) ownerChanges++;
  }
  let lost = 0;
  for (const [id, { user, returnedUser }] of created) {
    if (returnedUser !== user) ownerChanges++;
    if (!byId.has(id) && !deleted.has(id) && !maybeDeleted.has(id)) lost++;
  }
  const duplicated = [...perGroup.values()].reduce((sum, n) => sum + (n - 1), 0);
  const resurrected = [...deleted].filter((id) => byId.has(id)).length;

  // Every request closes its connection before it ends; allow the server a few seconds to reap.
  let leaked = 0;
  if (!db.embedded) {
    for (let i = 0; i < 50; i++) {
      const { rows: open } = await db.client.query(
        "select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
        [db.database],
      );
      leaked = open[0].n;
      if (leaked === 0) break;
      await sleep(100);
    }
  }
  return { rows: rows.length, lost, duplicated, resurrected, ownerChanges, stray, leaked };
}

function report(seconds, integrity) {
  const sorted = Float64Array.from(stats.latencies).sort();
  const ms = (p) => `${Math.round(percentile(sorted, p))}`;
  const lines = [
    ["users / seconds", `${USERS} / ${seconds.toFixed(1)}`],
    ["faults injected", stats.faults.length ? stats.faults.join(", ") : "none"],
    ["requests", `${stats.requests} (${(stats.requests / seconds).toFixed(1)} req/s)`],
    ...Object.entries(stats.statuses).sort().map(([status, n]) => [`  status ${status}`, n]),
    ["latency p50/p95/p99", `${ms(50)} / ${ms(95)} / ${ms(99)} ms`],
    ["slower than 2 s", stats.slow],
    ["503s outside faults", stats.calm503],
    ["500s", stats.serverErrors],
    ["non-JSON errors", stats.nonJson.length],
    ["network errors", stats.network],
    ["unexpected statuses", Object.keys(stats.unexpected).length ? JSON.stringify(stats.unexpected) : 0],
    ["keyed retries / replays", `${stats.keyedRetries} / ${stats.replays}`],
    ["acknowledged creates / deletes", `${created.size} / ${deleted.size}`],
    ["tasks in the database", integrity.rows],
    ["lost creates", integrity.lost],
    ["duplicated creates", integrity.duplicated],
    ["resurrected deletes", integrity.resurrected],
    ["owner changes", integrity.ownerChanges],
    ["stray rows", integrity.stray],
    ["leaked connections", integrity.leaked],
  ];
  const width = Math.max(...lines.map(([label]) => label.length));
  console.log(lines.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n"));
  for (const line of stats.nonJson) console.log(`non-JSON: ${line}`);
}

async function main() {
  const db = await startDatabase();
  let proxy, worker;
  try {
    proxy = await startProxy(db.url);
    worker = await startWorker({ databaseUrl: forHyperdrive(db.url, { port: proxy.port }) });
    console.log(`soak: ${USERS} users for ${SOAK_SECONDS} s, a fault every ${FAULT_EVERY} s, database ${db.database}`);

    // Seed first (no faults), then start every user's loop and the clock together.
    const vus = await Promise.all(Array.from({ length: USERS }, () => virtualUser(worker.url)));
    const started = performance.now();
    const deadline = started + SOAK_SECONDS * 1000;
    await Promise.all([...vus.map((vu) => run(vu, deadline)), injectFaults(proxy, started, deadline)]);
    const seconds = (performance.now() - started) / 1000;
    await proxy.set("pass");

    const integrity = await verify(db);
    report(seconds, integrity);
    // Integrity and the error contract fail the run; latency figures are reported only (a busy
    // two-core machine is not a latency benchmark).
    const failed = stats.serverErrors + integrity.lost + integrity.duplicated + integrity.resurrected
      + integrity.ownerChanges + integrity.stray + integrity.leaked
      + stats.nonJson.length + Object.keys(stats.unexpected).length;
    console.log(failed === 0 ? "soak: PASS" : "soak: FAIL");
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    await worker?.dispose();
    await proxy?.close();
    await db.stop();
  }
}

await main();
