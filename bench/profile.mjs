#!/usr/bin/env node
// Samples V8's CPU profile of the worker's isolate (through the inspector that
// `bench/worker.mjs --inspector-port` opens) while load runs, and summarizes where the time
// went: self time by function, and by area (our Rust, its JS glue, the runtime's JS, GC).
//
// usage: node bench/profile.mjs --port PORT --seconds N --out FILE.cpuprofile [--top 30]
// Prints the summary and writes it beside the profile as FILE.txt. The .cpuprofile opens in
// Chrome DevTools (Performance) or speedscope.
import fs from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    seconds: { type: "string", default: "10" },
    out: { type: "string" },
    top: { type: "string", default: "30" },
    worker: { type: "string", default: "task-api" },
  },
});
if (!args.port || !args.out) {
  console.error("profile.mjs: --port and --out are required");
  process.exit(2);
}

const socket = new WebSocket(`ws://127.0.0.1:${args.port}/core:user:${args.worker}`);
let nextId = 1;
const pending = new Map();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(event.data);
  const waiter = pending.get(message.id);
  if (!waiter) return;
  pending.delete(message.id);
  if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
  else waiter.resolve(message.result);
});
function send(method, params = {}) {
  const id = nextId++;
  socket.send(JSON.stringify({ id, method, params }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
await new Promise((resolve, reject) => {
  socket.addEventListener("open", resolve, { once: true });
  socket.addEventListener("error", () => reject(new Error("cannot reach the inspector")), {
    once: true,
  });
});

await send("Profiler.enable");
// 200 µs: fine enough for sub-millisecond requests, coarse enough not to dominate them.
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
await new Promise((resolve) => setTimeout(resolve, Number(args.seconds) * 1000));
const { profile } = await send("Profiler.stop");
socket.close();
fs.writeFileSync(args.out, JSON.stringify(profile));

// Self time per node: samples × the interval between them.
const selfUs = new Map();
const timeDeltas = profile.timeDeltas ?? [];
profile.samples.forEach((nodeId, i) => {
  selfUs.set(nodeId, (selfUs.get(nodeId) ?? 0) + (timeDeltas[i + 1] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;

function area(frame) {
  const name = frame.functionName || "(anonymous)";
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "gc";
  if (name === "(program)") return "runtime (native, outside JS)";
  if (frame.url.startsWith("wasm://")) return "wasm (the Rust worker)";
  if (frame.url.endsWith("index.js") || frame.url.includes("/build/")) return "wasm-bindgen glue (JS)";
  if (/^node:|^cloudflare:|internal/.test(frame.url)) return "workerd's JS";
  return frame.url ? `JS: ${frame.url.split("/").pop()}` : "native builtins";
}

const byFunction = new Map();
const byArea = new Map();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (!us) continue;
  const frame = node.callFrame;
  const key = `${frame.functionName || "(anonymous)"}  ${frame.url.split("/").pop() ?? ""}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const a = area(frame);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
}
const busy = total - (byArea.get("idle") ?? 0) || 1;
const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)} %`;
const lines = [
  `profile: ${(total / 1e6).toFixed(1)} s sampled, ${(100 * busy / total).toFixed(1)} % busy`,
  "",
  "by area (share of busy time)",
  ...[...byArea]
    .filter(([name]) => name !== "idle")
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `  ${pct(us, busy)}  ${name}`),
  "",
  `top ${args.top} functions by self time (share of busy time)`,
  ...[...byFunction]
    .filter(([name]) => !name.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(args.top))
    .map(([name, us]) => `  ${pct(us, busy)}  ${name}`),
];
const summary = lines.join("\n");
fs.writeFileSync(args.out.replace(/\.cpuprofile$/, "") + ".txt", summary + "\n");
console.log(summary);
