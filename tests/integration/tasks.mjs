// The task endpoints' success paths, PUT/PATCH semantics, ownership and 404s.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { newUser } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";
import { fillPath, operations, sampleBody } from "./routes.mjs";

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function assertTaskShape(task, userId) {
  assert.deepEqual(Object.keys(task).sort(), ["completed", "created_at", "description", "id", "title", "updated_at", "user_id"]);
  assert.match(task.id, UUID);
  assert.equal(task.user_id, userId);
  assert.equal(typeof task.title, "string");
  assert.ok(task.description === null || typeof task.description === "string");
  assert.equal(typeof task.completed, "boolean");
  assert.match(task.created_at, RFC3339_UTC);
  assert.match(task.updated_at, RFC3339_UTC);
}

describe("POST /api/{user_id}/tasks", () => {
  it("creates a task: 201 with the stored task, defaults applied", async () => {
    const user = newUser(suite.base);
    const response = await user.request("POST", user.tasksUrl, { body: { title: "  Buy milk  " } });
    assert.equal(response.status, 201);
    assert.match(response.headers.get("content-type"), /^application\/json/);
    const task = await response.json();
    assertTaskShape(task, user.id);
    assert.equal(task.title, "Buy milk");
    assert.equal(task.description, null);
    assert.equal(task.completed, false);
    assert.equal(task.created_at, task.updated_at);
    assert.equal(response.headers.get("location"), `/api/${user.id}/tasks/${task.id}`);
    const stored = await user.request("GET", `${user.tasksUrl}/${task.id}`);
    assert.deepEqual(await stored.json(), task);
  });

  it("stores description and completed when given", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "t", description: "details\nhere", completed: true });
    assert.equal(task.description, "details\nhere");
    assert.equal(task.completed, true);
  });

  it("ignores server-owned fields: the token decides the owner, the database the id and times", async () => {
    const user = newUser(suite.base);
    const forged = {
      id: "00000000-0000-0000-0000-000000000000", user_id: "somebody-else",
      created_at: "2000-01-01T00:00:00Z", updated_at: "2000-01-01T00:00:00Z", title: "mine",
    };
    const task = await user.create(forged);
    assert.notEqual(task.id, forged.id);
    assert.equal(task.user_id, user.id);
    assert.notEqual(task.created_at, forged.created_at);
  });
});

describe("GET /api/{user_id}/tasks", () => {
  it("lists only the caller's tasks, newest first", async () => {
    const user = newUser(suite.base);
    const other = newUser(suite.base);
    await other.create({ title: "not yours" });
    assert.deepEqual(await (await user.request("GET", user.tasksUrl)).json(), []);
    const created = [];
    for (const title of ["first", "second", "third"]) created.push(await user.create({ title }));
    const response = await user.request("GET", user.tasksUrl);
    assert.equal(response.status, 200);
    const list = await response.json();
    assert.deepEqual(list.map((t) => t.title), ["third", "second", "first"]);
    assert.deepEqual(list, created.reverse());
  });
});

describe("GET /api/{user_id}/tasks/{id}", () => {
  it("returns the task", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "read me" });
    const response = await user.request("GET", `${user.tasksUrl}/${task.id}`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), task);
  });

  it("accepts the id in upper case", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    const response = await user.request("GET", `${user.tasksUrl}/${task.id.toUpperCase()}`);
    assert.equal(response.status, 200);
  });
});

describe("PUT /api/{user_id}/tasks/{id}", () => {
  it("changes only the fields given and moves updated_at, never created_at", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "old", description: "keep me", completed: false });
    const response = await user.request("PUT", `${user.tasksUrl}/${task.id}`, { body: { title: "  new  " } });
    assert.equal(response.status, 200);
    const updated = await response.json();
    assertTaskShape(updated, user.id);
    assert.equal(updated.title, "new");
    assert.equal(updated.description, "keep me");
    assert.equal(updated.completed, false);
    assert.equal(updated.created_at, task.created_at);
    // Fixed-width RFC 3339 (microseconds, Z) compares correctly as text.
    assert.ok(updated.updated_at > task.updated_at, `${updated.updated_at} after ${task.updated_at}`);
    assert.deepEqual(await (await user.request("GET", `${user.tasksUrl}/${task.id}`)).json(), updated);
  });

  it("clears the description with null and sets completed", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "t", description: "gone soon" });
    const updated = await (await user.request("PUT", `${user.tasksUrl}/${task.id}`, {
      body: { description: null, completed: true },
    })).json();
    assert.equal(updated.description, null);
    assert.equal(updated.completed, true);
    assert.equal(updated.title, "t");
  });

  it("accepts back an object it returned, server-owned fields and all", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "round trip" });
    const edited = { ...task, title: "edited", user_id: "somebody-else", id: crypto.randomUUID() };
    const response = await user.request("PUT", `${user.tasksUrl}/${task.id}`, { body: edited });
    assert.equal(response.status, 200);
    const updated = await response.json();
    assert.equal(updated.id, task.id);
    assert.equal(updated.user_id, user.id);
    assert.equal(updated.title, "edited");
  });

  it("refuses a body that changes nothing, leaving the task as it was", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "same" });
    for (const body of [{}, { id: task.id, updated_at: task.updated_at }]) {
      await expectError(await user.request("PUT", `${user.tasksUrl}/${task.id}`, { body }), 400, "validation_error");
    }
    assert.deepEqual(await (await user.request("GET", `${user.tasksUrl}/${task.id}`)).json(), task);
  });
});

describe("PATCH /api/{user_id}/tasks/{id}/complete", () => {
  it("sets completed from the body", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    const url = `${user.tasksUrl}/${task.id}/complete`;
    for (const completed of [true, true, false]) {
      const response = await user.request("PATCH", url, { body: { completed } });
      assert.equal(response.status, 200);
      const updated = await response.json();
      assert.equal(updated.completed, completed);
      assert.equal(updated.title, task.title);
    }
  });

  it("toggles with an empty body", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    const url = `${user.tasksUrl}/${task.id}/complete`;
    const first = await (await user.request("PATCH", url)).json();
    assert.equal(first.completed, true);
    assert.ok(first.updated_at > task.updated_at);
    const second = await (await user.request("PATCH", url, { raw: "" })).json();
    assert.equal(second.completed, false);
  });

  it("refuses a non-boolean", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    const url = `${user.tasksUrl}/${task.id}/complete`;
    const error = await expectError(await user.request("PATCH", url, { body: { completed: "yes" } }), 400, "validation_error");
    assert.equal(error.field, "completed");
  });
});

describe("DELETE /api/{user_id}/tasks/{id}", () => {
  it("deletes: 204 with an empty body, then the task is gone", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    const response = await user.request("DELETE", `${user.tasksUrl}/${task.id}`);
    assert.equal(response.status, 204);
    assert.equal(await response.text(), "");
    await expectError(await user.request("GET", `${user.tasksUrl}/${task.id}`), 404, "not_found");
    await expectError(await user.request("DELETE", `${user.tasksUrl}/${task.id}`), 404, "not_found");
    assert.deepEqual(await (await user.request("GET", user.tasksUrl)).json(), []);
  });
});

describe("tasks that do not exist or belong to someone else", () => {
  it("are 404 on every id route, and the owner's task is untouched", async () => {
    const owner = newUser(suite.base);
    const intruder = newUser(suite.base);
    const task = await owner.create({ title: "private", description: "secret" });
    assert.ok(operations().some((o) => o.path.includes("{id}")), "the document has id routes");
    for (const id of [task.id, crypto.randomUUID()]) {
      for (const op of operations().filter((o) => o.path.includes("{id}"))) {
        const url = fillPath(op.path, { user_id: intruder.id, id });
        const response = await intruder.request(op.method, url, { body: sampleBody(op) });
        const error = await expectError(response, 404, "not_found");
        assert.doesNotMatch(JSON.stringify(error), /private|secret/, `${op.method} ${op.path}`);
      }
    }
    assert.deepEqual(await (await owner.request("GET", `${owner.tasksUrl}/${task.id}`)).json(), task);
  });
});
