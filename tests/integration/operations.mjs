// Health, routing errors, request ids, and failing closed without a usable secret.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { forHyperdrive, newUser, startProxy, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";
import { allowedMethods, fillPath, knownMethods, methodList, operations, paths, sampleBody } from "./routes.mjs";

const TASK_ID = "6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6f";

describe("health", () => {
  it("reports ok with the database reachable, without a token", async () => {
    const response = await fetch(`${suite.base}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok", database: "ok" });
  });

  describe("one isolate's calls share one database check per window", () => {
    // The worker's WINDOW_MS (src/db/health.rs): a check's result answers every call within it.
    const WINDOW_MS = 2000;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    let proxy, worker;
    before(async () => {
      proxy = await startProxy(suite.db.url);
      worker = await startWorker({ databaseUrl: forHyperdrive(suite.db.url, { port: proxy.port }) });
    });
    after(async () => {
      await worker?.dispose();
      await proxy?.close();
    });

    const health = async () => {
      const response = await fetch(`${worker.url}/health`);
      return { status: response.status, body: await response.json() };
    };

    it("500 calls, 100 at a time, open at most one connection per window begun", async () => {
      const before = proxy.connections();
      const started = performance.now();
      for (let round = 0; round < 5; round++) {
        const answers = await Promise.all(Array.from({ length: 100 }, health));
        for (const answer of answers) assert.deepEqual(answer, { status: 200, body: { status: "ok", database: "ok" } });
      }
      const elapsed = performance.now() - started;
      const opened = proxy.connections() - before;
      // Without sharing this was 500. However slow the machine, the calls span at most this many
      // windows, and each window begins with one check.
      const windows = Math.ceil(elapsed / WINDOW_MS) + 1;
      assert.ok(opened >= 1 && opened <= windows, `${opened} connections for 500 calls in ${Math.round(elapsed)} ms`);
      assert.ok(opened <= 5, `${opened} connections: more than a handful`);
    });

    it("an outage shows within the window, and so does the recovery", async () => {
      assert.equal((await health()).status, 200);
      await proxy.set("down");
      // Every result cached before the outage began is older than a window by now.
      await sleep(WINDOW_MS + 100);
      assert.deepEqual(await health(), { status: 503, body: { status: "unavailable", database: "unavailable" } });
      const during = proxy.connections();
      await proxy.set("pass");
      await sleep(WINDOW_MS + 100);
      assert.deepEqual(await health(), { status: 200, body: { status: "ok", database: "ok" } });
      assert.equal(proxy.connections(), during + 1, "one check for the recovery");
    });
  });
});

describe("routing", () => {
  it("answers unknown paths with a JSON 404", async () => {
    for (const p of ["/", "/nope", "/api", "/api/u", "/api/u/tasks/", "/api/u/tasks/x/y/z", "/health/x"]) {
      await expectError(await fetch(`${suite.base}${p}`), 404, "not_found");
    }
  });

  /** Every documented path, as a URL with test values for its parameters. */
  const urlOf = (path, values = { user_id: "u", id: TASK_ID }) => `${suite.base}${fillPath(path, values)}`;

  /** Asserts a 405 method_not_allowed whose Allow lists exactly `allow` (a HEAD has no body). */
  async function expect405(response, allow, what, method) {
    assert.deepEqual(methodList(response.headers.get("allow")), allow, `${what}: Allow`);
    // Only a HEAD answer may come without its body.
    if (method === "HEAD" && (await response.clone().text()) === "") {
      assert.equal(response.status, 405, what);
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/, what);
      return;
    }
    await expectError(response, 405, "method_not_allowed");
  }

  it("answers every method a route does not allow with a JSON 405 and an Allow header", async () => {
    let checked = 0;
    for (const path of paths()) {
      const allow = allowedMethods(path);
      for (const method of knownMethods().filter((m) => m !== "OPTIONS" && !allow.includes(m))) {
        await expect405(await fetch(urlOf(path), { method }), allow, `${method} ${path}`, method);
        checked++;
      }
      // QUERY is a method the runtime knows and no route answers.
      await expect405(await fetch(urlOf(path), { method: "QUERY" }), allow, `QUERY ${path}`);
    }
    assert.ok(checked > 0, "some route does not allow some method");
  });

  it("answers OPTIONS on every route with the allowed methods (OPTIONS itself not listed) and no token", async () => {
    for (const path of paths()) {
      const response = await fetch(urlOf(path), { method: "OPTIONS" });
      assert.equal(response.status, 204, path);
      assert.deepEqual(methodList(response.headers.get("allow")), allowedMethods(path), `${path}: Allow`);
      assert.equal(await response.text(), "", path);
    }
  });

  it("answers HEAD wherever GET is allowed, with GET's status and headers and without a body", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    const values = { user_id: user.id, id: task.id };
    const gets = operations().filter((op) => op.method === "GET");
    assert.ok(gets.some((op) => op.secured) && gets.some((op) => !op.secured), "public and protected GET routes");
    for (const { path } of gets) {
      const get = await user.request("GET", urlOf(path, values));
      assert.equal(get.status, 200, `GET ${path}: ${await get.text()}`);
      const head = await user.request("HEAD", urlOf(path, values));
      assert.equal(head.status, 200, `HEAD ${path}`);
      assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), `HEAD ${path}: Content-Type`);
      assert.equal(head.headers.get("etag"), get.headers.get("etag"), `HEAD ${path}: ETag`);
      assert.equal(await head.text(), "", `HEAD ${path}: no body`);
    }
    await expectError(await fetch(user.tasksUrl, { method: "GET" }), 401, "unauthorized");
    assert.equal((await fetch(user.tasksUrl, { method: "HEAD" })).status, 401);
  });

  it("gives every response a request id, reusing cf-ray when present", async () => {
    const plain = await fetch(`${suite.base}/nope`);
    assert.match(plain.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    const user = newUser(suite.base);
    const rayed = await user.request("GET", user.tasksUrl, { headers: { "cf-ray": "8f1c2a3b4d5e6f70-AMS" } });
    assert.equal(rayed.status, 200);
    assert.equal(rayed.headers.get("x-request-id"), "8f1c2a3b4d5e6f70-AMS");
  });

  it("marks responses as not cacheable", async () => {
    const user = newUser(suite.base);
    const response = await user.request("GET", user.tasksUrl);
    assert.equal(response.headers.get("cache-control"), "no-store");
  });
});

for (const [name, bindings] of [
  ["missing", {}],
  ["empty", { BETTER_AUTH_SECRET: "" }],
  ["shorter than 32 bytes", { BETTER_AUTH_SECRET: "x".repeat(31) }],
]) {
  describe(`with the secret ${name}`, () => {
    let worker;
    before(async () => {
      worker = await startWorker({ databaseUrl: forHyperdrive(suite.db.url), bindings });
    });
    after(() => worker.dispose());

    it("fails closed: every request to a route that needs a token is a JSON 500, even with a token", async () => {
      const user = newUser(worker.url);
      for (const op of operations().filter((o) => o.secured)) {
        const url = `${worker.url}${fillPath(op.path, { user_id: user.id, id: TASK_ID })}`;
        const response = await user.request(op.method, url, { body: sampleBody(op) });
        const error = await expectError(response, 500, "server_misconfigured");
        assert.doesNotMatch(error.message, /BETTER_AUTH_SECRET/, `${op.method} ${op.path}`);
      }
      await expectError(await fetch(user.tasksUrl), 500, "server_misconfigured");
    });

    it("still serves the health check", async () => {
      assert.equal((await fetch(`${worker.url}/health`)).status, 200);
    });
  });
}
