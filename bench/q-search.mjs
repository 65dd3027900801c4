// The worst `q` search, and what the database does after the worker has given up on it. One
// user at the task cap with the longest descriptions (TASKS × DESCRIPTION_CHARS, default
// 10,000 × 10,000: 100 million random hex digits, which compress poorly), then SEARCHES (40) concurrent `GET …/tasks?q=zzzz` (no match: every
// description is read to its end) against a worker whose database deadline is DEADLINE_MS
// (1500). Measured:
// - one search alone with the deadline lifted to 30 s (`alone_ms`): the cost of the worst search;
// - for the 40: their statuses and answer times;
// - `backends_busy_after_last_answer_ms`: how long backends of the test database kept running
//   a search after the last of the 40 answers (polled every 25 ms in pg_stat_activity);
// - another user's one-page list, timed every 100 ms during the searches and after them
//   (`other_list_ms`: median and max during, median after).
//
// Usage: `node bench/q-search.mjs` after `bash scripts/build.sh` (`source scripts/env.sh`
// first). Needs the local PostgreSQL (pg_stat_activity). Prints one JSON object.
import { forHyperdrive, newUser, SECRET, startDatabase, startWorker } from "../tests/integration/harness.mjs";

const TASKS = Number(process.env.TASKS ?? 10_000);
const DESCRIPTION_CHARS = Number(process.env.DESCRIPTION_CHARS ?? 10_000);
const SEARCHES = Number(process.env.SEARCHES ?? 40);
const DEADLINE_MS = String(process.env.DEADLINE_MS ?? 1500);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? null;
const round = (x) => (x === null ? null : Math.round(x));

const db = await startDatabase();
if (db.embedded) throw new Error("q-search needs the local PostgreSQL (pg_stat_activity)");
const workers = await Promise.all([DEADLINE_MS, "30000"].map((deadline) => startWorker({
  databaseUrl: forHyperdrive(db.url),
  bindings: { BETTER_AUTH_SECRET: SECRET, DB_CONNECT_TIMEOUT_MS: "500", DB_DEADLINE_MS: deadline },
})));
const [worker, patient] = workers;
try {
  const user = newUser(worker.url);
  await user.create({ title: "first" });
  // Random hex digits (no 'z', so `q=zzzz` matches nothing), in batches to keep each statement
  // short; `where g > 0` makes the subquery run per row.
  const seeded = Date.now();
  for (let done = 1; done < TASKS; done += 1000) {
    await db.client.query(
      `insert into tasks (user_id, title, description)
       select $1, 'seeded ' || g,
         left((select string_agg(md5(random()::text), '') from generate_series(1, $3::int / 32 + 1) where g > 0), $3::int)
       from generate_series($2::int, $2::int + 999) as g where g < $4::int`,
      [user.id, done, DESCRIPTION_CHARS, TASKS],
    );
  }
  const seedSecs = (Date.now() - seeded) / 1000;
  await db.client.query("vacuum analyze tasks");

  const searchUrl = (base) => `${base}/api/${user.id}/tasks?q=zzzz`;
  const started = performance.now();
  const alone = await user.request("GET", searchUrl(patient.url));
  const aloneMs = performance.now() - started;
  if (alone.status !== 200) throw new Error(`the search alone answered ${alone.status}`);

  const other = newUser(worker.url);
  await other.create({ title: "unrelated" });
  const timeList = async () => {
    const t = performance.now();
    const response = await other.request("GET", `${other.tasksUrl}?limit=10`);
    await response.arrayBuffer();
    return performance.now() - t;
  };
  const during = [];
  let searching = true;
  const sampler = (async () => {
    while (searching) {
      during.push(await timeList());
      await sleep(100);
    }
  })();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: SEARCHES }, async () => {
    const response = await user.request("GET", searchUrl(worker.url));
    await response.arrayBuffer();
    return { status: response.status, ms: performance.now() - t0 };
  }));
  const lastAnswer = performance.now();
  searching = false;
  await sampler;

  let busyAfter = 0;
  for (;;) {
    const { rows } = await db.client.query(
      "select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and state = 'active' and query ilike '%ilike%'",
      [db.database],
    );
    if (rows[0].n === 0) break;
    busyAfter = performance.now() - lastAnswer;
    if (busyAfter > 120_000) break;
    await sleep(25);
  }
  const afterTimes = [];
  for (let i = 0; i < 10; i++) afterTimes.push(await timeList());

  const statuses = {};
  for (const { status } of results) statuses[status] = (statuses[status] ?? 0) + 1;
  console.log(JSON.stringify({
    tasks: TASKS,
    description_chars: DESCRIPTION_CHARS,
    seed_s: seedSecs,
    deadline_ms: Number(DEADLINE_MS),
    alone_ms: round(aloneMs),
    searches: SEARCHES,
    statuses,
    answered_ms: { first: round(Math.min(...results.map((r) => r.ms))), last: round(Math.max(...results.map((r) => r.ms))) },
    backends_busy_after_last_answer_ms: round(busyAfter),
    other_list_ms: { during_median: round(median(during)), during_max: round(Math.max(...during)), after_median: round(median(afterTimes)) },
  }, null, 1));
} finally {
  await Promise.all(workers.map((w) => w.dispose()));
  await db.stop();
}
