// Database faults, simulated at a TCP proxy between the worker's Hyperdrive binding and
// PostgreSQL so the shared server keeps running: refused connections, a stalled database,
// and recovery.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { forHyperdrive, newUser, startProxy, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

const LIMIT_MS = 2000;

async function timed(promise) {
  const started = performance.now();
  const response = await promise;
  await response.clone().arrayBuffer();
  return { response, ms: performance.now() - started };
}

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

  for (const mode of ["down", "blackhole"]) {
    it(`database ${mode === "down" ? "unreachable" : "stalled"}: JSON 500 within 2 s, then recovery`, async () => {
      const user = newUser(worker.url);
      const task = await user.create({ title: "before the outage" });
      await proxy.set(mode);

      for (const [method, url, body] of [
        ["GET", user.tasksUrl], ["POST", user.tasksUrl, { title: "during the outage" }],
        ["PATCH", `${user.tasksUrl}/${task.id}/complete`],
      ]) {
        const { response, ms } = await timed(user.request(method, url, { body }));
        assert.ok(ms < LIMIT_MS, `${method} took ${Math.round(ms)} ms`);
        const error = await expectError(response, 500, "database_unavailable");
        assert.doesNotMatch(JSON.stringify(error), /ECONN|127\.0\.0\.1|postgres|socket/i);
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
      const titles = (await recovered.json()).map((t) => t.title);
      assert.deepEqual(titles, ["before the outage"], "nothing was written during the outage");
      assert.equal((await fetch(`${worker.url}/health`)).status, 200);
    });
  }
});
