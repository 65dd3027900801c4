#!/usr/bin/env node
// One request in flight at a time against a running worker: the latency of each request kind
// when nothing else competes for the CPU (bench/README.md, "Against the offered rate"). Reads
// the fixtures bench/worker.mjs writes (each seeded user's token and task ids).
//
// usage: node bench/sequential.mjs --url WORKER_URL --fixtures FILE [--requests N]
import fs from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    fixtures: { type: "string" },
    requests: { type: "string", default: "300" },
  },
});
if (!args.url || !args.fixtures) {
  console.error("sequential.mjs: --url and --fixtures are required");
  process.exit(2);
}
const [user] = JSON.parse(fs.readFileSync(args.fixtures, "utf8")).users;
const auth = { authorization: `Bearer ${user.token}` };
const kinds = {
  // Never reaches the database: the token is checked first.
  "401 (no token)": () => fetch(`${args.url}/api/${user.id}/tasks`),
  get: () => fetch(`${args.url}/api/${user.id}/tasks/${user.tasks[0]}`, { headers: auth }),
  list: () => fetch(`${args.url}/api/${user.id}/tasks`, { headers: auth }),
};
const n = Number(args.requests);
for (const [kind, send] of Object.entries(kinds)) {
  const times = [];
  const statuses = {};
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const response = await send();
    await response.arrayBuffer();
    times.push(performance.now() - started);
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(n - 1, Math.floor(q * n))].toFixed(2);
  console.log(`${kind.padEnd(15)} ${n} requests, statuses ${JSON.stringify(statuses)}: p10 ${at(0.1)} ms, p50 ${at(0.5)} ms, p90 ${at(0.9)} ms`);
}
