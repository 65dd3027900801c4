// A flood of bad tokens from one address: N (5,000) HS256 tokens with a forged signature from an
// address the ADDRESS_RATE_LIMITER has refused, CONC (50) in flight, while a valid user at the
// same address sends a GET of its list every 25 ms. Prints the flood's rate and statuses, the
// valid user's statuses during and after, and the limiter calls the flood made.
//
// Usage: `node bench/address-flood.mjs` after `bash scripts/build.sh` (`source scripts/env.sh`
// first); not part of `make bench`.
import { forHyperdrive, newUser, startDatabase, startWorker } from "../tests/integration/harness.mjs";
const N = Number(process.env.N ?? 5000), CONC = Number(process.env.CONC ?? 50);
const db = await startDatabase();
const worker = await startWorker({ databaseUrl: forHyperdrive(db.url), limits: { ADDRESS_RATE_LIMITER: 5, READ_RATE_LIMITER: 1_000_000, WRITE_RATE_LIMITER: 1_000_000 } });
const address = "203.0.113.77";
const user = newUser(worker.url);
const forged = `Bearer ${user.token.replace(/\.[^.]+$/, ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}`;
const bad = () => fetch(user.tasksUrl, { headers: { "CF-Connecting-IP": address, Authorization: forged } }).then(async (r) => { await r.arrayBuffer(); return r.status; });
const valid = () => user.request("GET", user.tasksUrl, { headers: { "CF-Connecting-IP": address } }).then(async (r) => { await r.arrayBuffer(); return r.status; });
const count = (xs) => xs.reduce((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});
// Spend the address budget, and warm up.
const warm = []; for (let i = 0; i < 6; i++) warm.push(await bad());
console.log("budget:", JSON.stringify(count(warm)), "valid before flood:", await valid());
const callsBefore = worker.limiterCalls().length;
const statuses = []; let sent = 0;
const during = []; let flooding = true;
const prober = (async () => { while (flooding) { during.push(await valid()); await new Promise((r) => setTimeout(r, 25)); } })();
const t0 = performance.now();
await Promise.all(Array.from({ length: CONC }, async () => { while (sent < N) { sent++; statuses.push(await bad()); } }));
const ms = performance.now() - t0;
flooding = false; await prober;
const after = await valid();
await new Promise((r) => setTimeout(r, 500));
const calls = worker.limiterCalls().slice(callsBefore);
console.log(JSON.stringify({
  flood: { requests: N, concurrency: CONC, total_ms: Math.round(ms), per_s: Math.round(N / (ms / 1000)), statuses: count(statuses) },
  valid_during: count(during), valid_after: after,
  limiter_calls_during: count(calls.map((c) => `${c.binding} ${c.success}`)),
}));
await worker.dispose(); await db.stop();
