// Database faults, simulated at a TCP proxy between the worker's Hyperdrive binding and
// PostgreSQL so the shared server keeps running: a database unreachable from the start, refused
// and stalled mid-life, slow answers, connections reset before and after a statement was sent,
// transient connect failures (one retry, no more), and an outage under load. Every fault must
// answer a JSON 503 `database_unavailable` with `Retry-After: 1` within 2 s, leak nothing of
// the infrastructure, never apply a write twice, and the first request after recovery succeeds.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { forHyperdrive, newUser, startProxy, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

const LIMIT_MS = 2000;

/** Sends a request and reads its whole body, timing both. */
async function timed(promise) {
  const started = performance.now();
  const response = await promise;
  await response.clone().arrayBuffer();
  return { response, ms: performance.now() - started };
}

/** Asserts the database-unavailable contract on one timed response. */
async function expectUnavailable({ response, ms }, what, proxy) {
  assert.ok(ms < LIMIT_MS, `${what} took ${Math.round(ms)} ms`);
  assert.equal(response.headers.get("retry-after"), "1", `${what}: Retry-After`);
  const error = await expectError(response, 503, "database_unavailable");
  const text = JSON.stringify(error);
  assert.doesNotMatch(text, /ECONN|EPIPE|127\.0\.0\.1|localhost|postgres|socket|tokio|sqlstate/i, `${what}: ${text}`);
  assert.ok(!text.includes(String(proxy.port)), `${what} names the port: ${text}`);
  assert.ok(!text.includes(suite.db.database), `${what} names the database: ${text}`);
  assert.doesNotMatch(error.message, /\b(08|53|57|58)[0-9A-Z]{3}\b/, `${what}: SQLSTATE in ${text}`);
}

const titleCount = async (title) => (await suite.db.client.query(
  "select count(*)::int as n from tasks where title = $1", [title])).rows[0].n;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe("database faults", () => {
  let proxy, worker;
  before(async () => {
    proxy = await startProxy(suite.db.url);
    worker = await startWorker({ databaseUrl: forHyperdrive(suite.db.url, { port: proxy.port }) });
  });
  after(async () => {
    await worker?.dispose();
    await proxy?.close();
  });

  it("database unreachable from the start: a fresh worker's first requests are 503, then recover", async () => {
    const downProxy = await startProxy(suite.db.url);
    await downProxy.set("down");
    const fresh = await startWorker({ databaseUrl: forHyperdrive(suite.db.url, { port: downProxy.port }) });
    try {
      const user = newUser(fresh.url);
      await expectUnavailable(await timed(user.request("GET", user.tasksUrl)), "first GET", downProxy);
      const title = `at startup ${crypto.randomUUID()}`;
      await expectUnavailable(
        await timed(user.request("POST", user.tasksUrl, { body: { title } })), "first POST", downProxy);

      await downProxy.set("pass");
      const list = await user.request("GET", user.tasksUrl);
      assert.equal(list.status, 200, "the first request after recovery succeeds");
      assert.deepEqual(await list.json(), []);
      const created = await user.request("POST", user.tasksUrl, { body: { title } });
      assert.equal(created.status, 201);
      assert.equal(await titleCount(title), 1);
    } finally {
      await fresh.dispose();
      await downProxy.close();
    }
  });

  for (const mode of ["down", "blackhole"]) {
    it(`database ${mode === "down" ? "refusing connections" : "stalled"} mid-life: JSON 503 within 2 s, then recovery`, async () => {
      const user = newUser(worker.url);
      const task = await user.create({ title: "before the outage" });
      await proxy.set(mode);

      for (const [method, url, body] of [
        ["GET", user.tasksUrl], ["POST", user.tasksUrl, { title: "during the outage" }],
        ["PATCH", `${user.tasksUrl}/${task.id}/complete`],
      ]) {
        await expectUnavailable(await timed(user.request(method, url, { body })), method, proxy);
      }
      const { response: health, ms } = await timed(fetch(`${worker.url}/health`));
      assert.ok(ms < LIMIT_MS, `health took ${Math.round(ms)} ms`);
      assert.equal(health.status, 503);
      assert.deepEqual(await health.json(), { status: "unavailable", database: "unavailable" });

      // Auth failures never wait for the database.
      const { response: denied } = await timed(fetch(user.tasksUrl));
      assert.equal(denied.status, 401);

      await proxy.set("pass");
      const recovered = await user.request("GET", user.tasksUrl);
      assert.equal(recovered.status, 200, "the first request after recovery succeeds");
      const tasks = await recovered.json();
      assert.deepEqual(tasks.map((t) => t.title), ["before the outage"], "nothing was written during the outage");
      assert.equal(tasks[0].completed, false);
      assert.equal((await fetch(`${worker.url}/health`)).status, 200);
    });
  }

  it("database answering after 2.5 s: JSON 503 within 2 s, then recovery", async () => {
    const user = newUser(worker.url);
    await proxy.set("slow", 2500);
    await expectUnavailable(await timed(user.request("GET", user.tasksUrl)), "slow GET", proxy);
    const title = `slow ${crypto.randomUUID()}`;
    await expectUnavailable(await timed(user.request("POST", user.tasksUrl, { body: { title } })), "slow POST", proxy);
    await proxy.set("pass");
    assert.equal((await user.request("GET", user.tasksUrl)).status, 200, "the first request after recovery succeeds");
    // The connection never got past startup within the deadline, so nothing was sent.
    assert.equal(await titleCount(title), 0);
  });

  it("connection reset before the statement reaches the server: 503 and nothing changes", async () => {
    const user = newUser(worker.url);
    const task = await user.create({ title: "unchanged" });
    await proxy.set("reset");

    const title = `reset ${crypto.randomUUID()}`;
    await expectUnavailable(await timed(user.request("POST", user.tasksUrl, { body: { title } })), "POST", proxy);
    await expectUnavailable(
      await timed(user.request("PUT", `${user.tasksUrl}/${task.id}`, { body: { title: "changed" } })), "PUT", proxy);

    await proxy.set("pass");
    const recovered = await user.request("GET", `${user.tasksUrl}/${task.id}`);
    assert.equal(recovered.status, 200, "the first request after recovery succeeds");
    assert.equal((await recovered.json()).title, "unchanged");
    assert.equal(await titleCount(title), 0, "the create never reached the server");
    const { rows } = await suite.db.client.query("select title from tasks where id = $1", [task.id]);
    assert.deepEqual(rows, [{ title: "unchanged" }]);
  });

  it("connection reset after the statement was sent: 503, and the write is applied once at most (no blind retry)", async () => {
    const user = newUser(worker.url);
    await proxy.set("reset-after-send");
    const before = proxy.connections();
    const title = `sent ${crypto.randomUUID()}`;
    await expectUnavailable(await timed(user.request("POST", user.tasksUrl, { body: { title } })), "POST", proxy);
    assert.equal(proxy.connections() - before, 1, "no second connection once the statement was sent");

    // The proxy hands the server the whole statement and a clean end of stream, so the server
    // runs and commits it; give it a moment. Never twice: that would be a retried write.
    let count = await titleCount(title);
    for (let waited = 0; count === 0 && waited < 1000; waited += 50) {
      await sleep(50);
      count = await titleCount(title);
    }
    assert.equal(count, 1, "the statement the server received was applied exactly once");

    await proxy.set("pass");
    const recovered = await user.request("GET", user.tasksUrl);
    assert.equal(recovered.status, 200, "the first request after recovery succeeds");
    assert.deepEqual((await recovered.json()).map((t) => t.title), [title]);
  });

  it("a failed connect is retried once on a fresh connection, and only once", async () => {
    const user = newUser(worker.url);
    await proxy.set("pass");

    let before = proxy.connections();
    proxy.failNextConnections(1);
    const { response, ms } = await timed(user.request("GET", user.tasksUrl));
    assert.equal(response.status, 200, "one failed connect is absorbed by the retry");
    assert.ok(ms < LIMIT_MS, `took ${Math.round(ms)} ms`);
    assert.equal(proxy.connections() - before, 2, "the failed connection and its retry");

    before = proxy.connections();
    proxy.failNextConnections(2);
    await expectUnavailable(await timed(user.request("GET", user.tasksUrl)), "GET after two failed connects", proxy);
    assert.equal(proxy.connections() - before, 2, "exactly one retry");

    assert.equal((await user.request("GET", user.tasksUrl)).status, 200, "the next request succeeds");
  });

  it("database going away and coming back under load: only 200/201 or JSON 503, nothing lost or doubled", async (t) => {
    await proxy.set("pass");
    const CLIENTS = 40;
    const RUN_MS = 4000;
    const started = performance.now();
    const acknowledged = []; // { id, title } of every 201
    const attempted = []; // every title sent
    const problems = [];
    const statuses = {};

    async function client(n) {
      const user = newUser(worker.url, { prefix: `load${n}` });
      for (let i = 0; performance.now() - started < RUN_MS; i++) {
        const create = i % 2 === 0;
        const title = `load ${n}.${i} ${crypto.randomUUID()}`;
        if (create) attempted.push(title);
        const t0 = performance.now();
        let status, text, retryAfter, type;
        try {
          const response = await (create
            ? user.request("POST", user.tasksUrl, { body: { title } })
            : user.request("GET", user.tasksUrl));
          status = response.status;
          retryAfter = response.headers.get("retry-after");
          type = response.headers.get("content-type") ?? "";
          text = await response.text();
        } catch (err) {
          problems.push(`${create ? "POST" : "GET"}: network error ${err.message}`);
          continue;
        }
        const ms = performance.now() - t0;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (ms >= LIMIT_MS) problems.push(`${create ? "POST" : "GET"} ${status} took ${Math.round(ms)} ms`);
        if (status === (create ? 201 : 200)) {
          if (create) acknowledged.push({ id: JSON.parse(text).id, title });
        } else if (status === 503) {
          let code;
          try { code = JSON.parse(text).error?.code; } catch { /* not JSON */ }
          if (!type.startsWith("application/json") || code !== "database_unavailable" || retryAfter !== "1") {
            problems.push(`503 without the contract: ${type} Retry-After=${retryAfter} ${text.slice(0, 200)}`);
          }
        } else {
          problems.push(`${create ? "POST" : "GET"} got ${status}: ${text.slice(0, 200)}`);
        }
      }
    }

    const flips = (async () => {
      await sleep(1500);
      await proxy.set("down");
      await sleep(1000);
      await proxy.set("pass");
    })();
    await Promise.all([flips, ...Array.from({ length: CLIENTS }, (_, n) => client(n))]);

    t.diagnostic(`statuses ${JSON.stringify(statuses)}, ${acknowledged.length} creates acknowledged`);
    assert.deepEqual(problems, [], `statuses ${JSON.stringify(statuses)}`);
    assert.ok(statuses[503] > 0, `the outage was seen: ${JSON.stringify(statuses)}`);
    assert.ok(acknowledged.length > 0, "creates succeeded around the outage");

    const { rows } = await suite.db.client.query(
      "select id::text, title from tasks where title = any($1)", [attempted]);
    const byTitle = Map.groupBy(rows, (row) => row.title);
    const doubled = [...byTitle].filter(([, found]) => found.length > 1).map(([title]) => title);
    assert.deepEqual(doubled, [], "no create was applied twice");
    const stored = new Set(rows.map((row) => row.id));
    const lost = acknowledged.filter(({ id, title }) => !stored.has(id) || byTitle.get(title)?.[0].id !== id);
    assert.deepEqual(lost, [], "every acknowledged create is stored, once, under its id");

    const user = newUser(worker.url);
    assert.equal((await user.request("GET", user.tasksUrl)).status, 200, "requests succeed again");
  });
});
