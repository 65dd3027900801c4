#!/usr/bin/env node
// Runs the built worker (build/, the release build `make dev` and production run) in workerd
// through Miniflare, as the integration harness does, with its Hyperdrive binding pointed at
// the benchmark's PgBouncer. Writes the load generator's fixtures (each seeded user's token
// and task ids) and then a ready file holding the worker's URL, and serves until SIGTERM/SIGINT.
//
// usage: node bench/worker.mjs --database URL --pooler URL --fixtures FILE --ready FILE --log FILE
//   [--no-rate-limits] [--entry miniflare|direct] [--limiter in-isolate|miniflare]
//   [--inspector-port PORT]
//   --database  the benchmark database, read directly for the seeded task ids
//   --pooler    what the HYPERDRIVE binding connects to (PgBouncer)
//   --log       where the worker's stderr (its 5xx log lines) goes; stdout (one info line per
//               request) is read and dropped, as the harness does
//   --no-rate-limits  leave the [[ratelimits]] bindings out (a diagnostic, not what `make dev`
//               and production run: the worker then skips its limiter calls)
//   --entry     `direct` (the default) serves the worker on its own socket; `miniflare` sends
//               every request through Miniflare's entry worker first (see bench/README.md)
//   --limiter   what serves the `[[ratelimits]]` bindings: `in-isolate` (the default), the
//               counter of bench/limiter.mjs in the worker's isolate, or `miniflare`, Miniflare's
//               simulation (a service and a Durable Object; see bench/limiter.mjs)
//   --inspector-port  open V8's inspector for the worker on this port (bench/profile.mjs)
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";
import pg from "pg";
import { mintToken } from "../scripts/token.mjs";
import { forHyperdrive } from "../scripts/dburl.mjs";
import { workerdVersion } from "../scripts/workerd.mjs";

const root = path.resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    database: { type: "string" },
    pooler: { type: "string" },
    fixtures: { type: "string" },
    ready: { type: "string" },
    log: { type: "string" },
    "no-rate-limits": { type: "boolean" },
    entry: { type: "string", default: "direct" },
    limiter: { type: "string", default: "in-isolate" },
    "inspector-port": { type: "string" },
  },
});
if (!["direct", "miniflare"].includes(args.entry)) {
  console.error("worker.mjs: --entry is direct or miniflare");
  process.exit(2);
}
if (!["in-isolate", "miniflare"].includes(args.limiter)) {
  console.error("worker.mjs: --limiter is in-isolate or miniflare");
  process.exit(2);
}
for (const name of ["database", "pooler", "fixtures", "ready", "log"]) {
  if (!args[name]) {
    console.error(`worker.mjs: --${name} is required`);
    process.exit(2);
  }
}

// The runtime: the workerd `make dev` runs (scripts/workerd.mjs). Besides measuring what
// `make dev` serves, it matters: Miniflare 4's own, older workerd keeps every TCP socket an
// isolate opened reachable, which grows the heap and the garbage collector's pauses with every
// request (bench/README.md); 1.20261117 does not.
fs.writeFileSync(`${args.ready}.workerd`, `${workerdVersion}\n`);

const toml = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
const compatibilityDate = toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

/** Every `[[ratelimits]]` binding of wrangler.toml, with a budget no run can reach: each
 *  request still calls the limiter (its cost is part of the figures), but 100 users at
 *  thousands of requests a second from one address would otherwise measure refusals. */
function generousRateLimits() {
  const limits = {};
  for (const block of toml.split(/^\[\[ratelimits\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[/m)[0];
    const name = body.match(/^name\s*=\s*"([^"]+)"/m)?.[1];
    const namespace = body.match(/^namespace_id\s*=\s*"([^"]+)"/m)?.[1];
    if (name) limits[name] = { namespace_id: namespace, simple: { limit: 1_000_000_000, period: 60 } };
  }
  return limits;
}

// A fresh random secret per run (32 bytes), as the brief for HS256 asks: at least 32 bytes.
// Several workers serving one run share the one bench/run.sh made (BENCH_AUTH_SECRET), so each
// accepts the same tokens; it travels in the environment, not on a command line.
const secret = process.env.BENCH_AUTH_SECRET || crypto.randomBytes(32).toString("base64url");

// The fixtures: every seeded user with a token and the ids of its seeded tasks.
const db = new pg.Client({ connectionString: args.database });
await db.connect();
const { rows } = await db.query(
  "select u.id, array_agg(t.id::text order by t.created_at desc) as tasks " +
    "from users u join tasks t on t.user_id = u.id " +
    "where t.title like 'seeded task %' group by u.id order by u.id",
);
await db.end();
if (rows.length === 0) throw new Error("no seeded users: run bench/seed.sql first");
const users = rows.map((row) => ({
  id: row.id,
  token: mintToken({ userId: row.id, secret, ttlSeconds: 4 * 3600 }),
  tasks: row.tasks,
}));
fs.writeFileSync(args.fixtures, JSON.stringify({ users }));

// Appended to: bench/run.sh starts a fresh worker per phase and scans all their lines.
const log = fs.createWriteStream(args.log, { flags: "a" });
const direct = args.entry === "direct";
const inspectorPort = args["inspector-port"] ? Number(args["inspector-port"]) : undefined;
const ratelimits = args["no-rate-limits"] ? {} : generousRateLimits();
// The rate-limit bindings: the in-isolate counter of bench/limiter.mjs (the default), or
// Miniflare's own simulation, with the same names and budgets either way.
const inIsolate = args.limiter === "in-isolate";
const limiterWorker = {
  name: "bench-rate-limiter",
  modules: [{ type: "ESModule", path: path.join(root, "bench/limiter.mjs") }],
};
const limiterBindings = inIsolate
  ? {
      wrappedBindings: Object.fromEntries(
        Object.entries(ratelimits).map(([name, { simple }]) => [
          name,
          { scriptName: limiterWorker.name, bindings: { limit: simple.limit, period: simple.period } },
        ]),
      ),
    }
  : Object.keys(ratelimits).length
    ? { ratelimits }
    : {};
const mf = new Miniflare({
  workers: [
    {
      name: "task-api",
      modules: true,
      scriptPath: path.join(root, "build/index.js"),
      modulesRoot: path.join(root, "build"),
      modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
      compatibilityDate,
      bindings: { BETTER_AUTH_SECRET: secret },
      hyperdrives: { HYPERDRIVE: forHyperdrive(args.pooler) },
      ...limiterBindings,
      // Miniflare's entry worker is development plumbing (it dispatches to the named worker,
      // adds a synthetic `cf` object, renders pretty error pages); production has nothing like
      // it. A direct socket hands each request straight to this worker, as workerd serves it in
      // production. `--entry miniflare` measures what the entry worker costs.
      ...(direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
    },
    ...(inIsolate && Object.keys(ratelimits).length ? [limiterWorker] : []),
  ],
  cf: false,
  handleRuntimeStdio(stdout, stderr) {
    stdout.resume();
    stderr.pipe(log);
  },
  host: "127.0.0.1",
  port: 0,
  ...(inspectorPort ? { inspectorPort } : {}),
});
const ready = await mf.ready;
const url = (direct ? await mf.unsafeGetDirectURL("task-api") : ready).toString().replace(/\/$/, "");
fs.writeFileSync(args.ready, `${url}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await mf.dispose().catch(() => {});
  log.end();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
