#!/usr/bin/env node
// Samples V8's CPU profile of the worker's isolate (through the inspector that
// `bench/worker.mjs --inspector-port` opens) while load runs, and summarizes where the time
// went: self time by function, and by area (our Rust, its JS glue, the runtime's JS, GC).
//
// usage: node bench/profile.mjs --port PORT --seconds N --out FILE.cpuprofile [--top 30]
//   [--url WORKER_URL] [--settle S] [--heap-snapshot]  seconds to wait after sampling (for the load to end) before measuring what
//                 the heap retains after a full GC
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
    settle: { type: "string", default: "3" },
    url: { type: "string" },
    "heap-snapshot": { type: "boolean" },
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
// The isolate's JavaScript heap while the load runs: growth means something is retained per
// request; a large heap means long major GC pauses (the latency tail).
const heap = [];
const sampler = setInterval(() => {
  send("Runtime.getHeapUsage").then((usage) => usage && heap.push(usage.usedSize), () => {});
}, 500);
await new Promise((resolve) => setTimeout(resolve, Number(args.seconds) * 1000));
clearInterval(sampler);
// workerd answers the inspector when the isolate next runs: once the load is over, requests
// (the router's 404, every 200 ms) keep waking it until the answer comes.
async function awake(promise) {
  if (!args.url) return promise;
  const poke = setInterval(() => fetch(`${args.url}/`).then((r) => r.arrayBuffer(), () => {}), 200);
  try {
    return await promise;
  } finally {
    clearInterval(poke);
  }
}
const { profile } = await awake(send("Profiler.stop"));
// What stays reachable once the load is over: a leak shows as a heap that stays large.
await new Promise((resolve) => setTimeout(resolve, Number(args.settle) * 1000));
const retained = args.url
  ? (await awake(send("HeapProfiler.collectGarbage")), (await awake(send("Runtime.getHeapUsage")))?.usedSize)
  : undefined;

// What the retained heap is made of: a snapshot, summed by constructor (or kind) and name.
let retainedBy = [];
if (args.url && args["heap-snapshot"]) {
  const chunks = [];
  const onChunk = (event) => {
    const message = JSON.parse(event.data);
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params.chunk);
  };
  socket.addEventListener("message", onChunk);
  await awake(send("HeapProfiler.takeHeapSnapshot", { reportProgress: false }));
  socket.removeEventListener("message", onChunk);
  // BENCH_HEAP_SNAPSHOT=FILE keeps the snapshot (it opens in Chrome DevTools, Memory).
  if (process.env.BENCH_HEAP_SNAPSHOT) fs.writeFileSync(process.env.BENCH_HEAP_SNAPSHOT, chunks.join(""));
  const snapshot = JSON.parse(chunks.join(""));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const sums = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const key = `${types[snapshot.nodes[i + typeAt]]}: ${snapshot.strings[snapshot.nodes[i + nameAt]].slice(0, 60)}`;
    const entry = sums.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += snapshot.nodes[i + sizeAt];
    sums.set(key, entry);
  }
  retainedBy = [...sums].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 20);
}
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
// The longest uninterrupted stretches of garbage collection: pauses every request waits out.
const pauses = [];
let stretch = 0;
profile.samples.forEach((nodeId, i) => {
  const gc = profile.nodes.find((node) => node.id === nodeId)?.callFrame.functionName === "(garbage collector)";
  if (gc) stretch += timeDeltas[i + 1] ?? 0;
  else if (stretch) pauses.push(stretch), (stretch = 0);
});
pauses.sort((a, b) => b - a);
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
const lines = [
  `profile: ${(total / 1e6).toFixed(1)} s sampled, ${(100 * busy / total).toFixed(1)} % busy`,
  `JS heap used: ${heap.length ? `${mib(Math.min(...heap))} to ${mib(Math.max(...heap))}, ${mib(heap.at(-1))} at the end` : "not sampled"}`,
  `JS heap after the load and a full GC: ${retained ? mib(retained) : "not measured (no --url)"}`,
  `longest GC pauses: ${pauses.slice(0, 5).map((us) => `${(us / 1000).toFixed(1)} ms`).join(", ") || "none"}`,
  ...(retainedBy.length
    ? ["", "retained after the load, by kind and name (heap snapshot)",
      ...retainedBy.map(([key, { count, bytes }]) => `  ${mib(bytes).padStart(9)}  ${String(count).padStart(8)} ×  ${key}`)]
    : []),
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
