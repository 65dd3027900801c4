// Health, routing errors, request ids, and failing closed without a usable secret.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { forHyperdrive, newUser, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

describe("health", () => {
  it("reports ok with the database reachable, without a token", async () => {
    const response = await fetch(`${suite.base}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok", database: "ok" });
  });
});

describe("routing", () => {
  it("answers unknown paths with a JSON 404", async () => {
    for (const p of ["/", "/nope", "/api", "/api/u", "/api/u/tasks/", "/api/u/tasks/x/y/z", "/health/x"]) {
      await expectError(await fetch(`${suite.base}${p}`), 404, "not_found");
    }
  });

  it("answers wrong methods with a JSON 405 and an Allow header", async () => {
    const cases = [
      ["DELETE", "/api/u/tasks", "GET, HEAD, POST"],
      ["PUT", "/api/u/tasks", "GET, HEAD, POST"],
      ["POST", "/api/u/tasks/6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6f", "GET, HEAD, PUT, DELETE"],
      ["PATCH", "/api/u/tasks/6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6f", "GET, HEAD, PUT, DELETE"],
      ["GET", "/api/u/tasks/6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6f/complete", "PATCH"],
      ["POST", "/health", "GET, HEAD"],
    ];
    for (const [method, p, allow] of cases) {
      const response = await fetch(`${suite.base}${p}`, { method });
      assert.equal(response.headers.get("allow"), allow, `${method} ${p}`);
      await expectError(response, 405, "method_not_allowed");
    }
  });

  it("answers OPTIONS with the allowed methods and no token", async () => {
    const response = await fetch(`${suite.base}/api/u/tasks`, { method: "OPTIONS" });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("allow"), "GET, HEAD, POST");
  });

  it("answers HEAD wherever GET is allowed, without a body", async () => {
    const user = newUser(suite.base);
    for (const url of [`${suite.base}/health`, user.tasksUrl]) {
      const response = await user.request("HEAD", url);
      assert.equal(response.status, 200, url);
      assert.equal(await response.text(), "");
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

    it("fails closed: every /api request is a JSON 500, even with a token", async () => {
      const user = newUser(worker.url);
      for (const [method, p] of [["GET", user.tasksUrl], ["POST", user.tasksUrl], ["GET", `${user.tasksUrl}/6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6f`]]) {
        const response = await user.request(method, p, { body: method === "POST" ? { title: "t" } : undefined });
        const error = await expectError(response, 500, "server_misconfigured");
        assert.doesNotMatch(error.message, /BETTER_AUTH_SECRET/);
      }
      await expectError(await fetch(user.tasksUrl), 500, "server_misconfigured");
    });

    it("still serves the health check", async () => {
      assert.equal((await fetch(`${worker.url}/health`)).status, 200);
    });
  });
}
