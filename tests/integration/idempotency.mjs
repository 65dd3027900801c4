// Idempotent create: POST /api/{user_id}/tasks with an Idempotency-Key header replays the
// first response for the same user, key and request, refuses a reused key with another request,
// and forgets keys after 24 hours.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { newUser } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

const AGE_KEYS = "update idempotency_keys set created_at = now() - interval '25 hours' where user_id = $1";

const newKey = () => `key-${crypto.randomUUID()}`;

/** POST with an Idempotency-Key; `raw` sends the text as is (as JSON). */
function keyedCreate(user, key, { body, raw, headers = {} } = {}) {
  const all = { "Idempotency-Key": key, ...headers };
  if (raw !== undefined) all["Content-Type"] = "application/json";
  return user.request("POST", user.tasksUrl, { body, raw, headers: all });
}

async function taskCount(userId) {
  const { rows } = await suite.db.client.query("select count(*)::int as n from tasks where user_id = $1", [userId]);
  return rows[0].n;
}

async function keyCount(userId) {
  const { rows } = await suite.db.client.query(
    "select count(*)::int as n from idempotency_keys where user_id = $1", [userId]);
  return rows[0].n;
}

/** Asserts a 201 and whether it was a replay; returns the body. */
async function expectCreated(response, { replayed }) {
  const text = await response.text();
  assert.equal(response.status, 201, `expected 201, got ${response.status}: ${text}`);
  const header = response.headers.get("idempotent-replayed");
  if (replayed) assert.equal(header, "true", "Idempotent-Replayed: true on a replay");
  else assert.notEqual(header, "true", `no Idempotent-Replayed on a first use (got ${header})`);
  return JSON.parse(text);
}

describe("idempotent create: replays", () => {
  it("creates on first use, then replays the same response for the same request", async () => {
    const user = newUser(suite.base);
    const key = newKey();
    const body = { title: "pay rent", description: "before the 5th", completed: false };
    const first = await keyedCreate(user, key, { body });
    const location = first.headers.get("location");
    const etag = first.headers.get("etag");
    const task = await expectCreated(first, { replayed: false });
    assert.equal(task.title, "pay rent");
    assert.equal(location, `/api/${user.id}/tasks/${task.id}`);
    assert.match(etag ?? "", /^"[^"]+"$/, "first use carries a strong ETag");

    const again = await expectCreated(await keyedCreate(user, key, { body }), { replayed: true });
    assert.deepEqual(again, task, "same id and timestamps");

    // Other JSON key order and whitespace: the same parsed request.
    const reordered = '\n{ "completed" : false ,\t"description":"before the 5th",  "title": "pay rent" }\n';
    const third = await expectCreated(await keyedCreate(user, key, { raw: reordered }), { replayed: true });
    assert.deepEqual(third, task);

    assert.equal(await taskCount(user.id), 1, "exactly one task stored");
    assert.deepEqual((await (await user.request("GET", user.tasksUrl)).json()).map((t) => t.id), [task.id]);
  });

  it("replays the task as it was created after it was updated, and after it was deleted", async () => {
    const user = newUser(suite.base);
    const key = newKey();
    const body = { title: "original" };
    const task = await expectCreated(await keyedCreate(user, key, { body }), { replayed: false });

    const put = await user.request("PUT", `${user.tasksUrl}/${task.id}`, { body: { title: "changed", completed: true } });
    assert.equal(put.status, 200);
    const updated = await put.json();
    assert.notEqual(updated.updated_at, task.updated_at);

    const afterUpdate = await expectCreated(await keyedCreate(user, key, { body }), { replayed: true });
    assert.deepEqual(afterUpdate, task, "the original body, not the updated task");
    assert.equal(await taskCount(user.id), 1);
    const { rows } = await suite.db.client.query("select title, completed from tasks where id = $1", [task.id]);
    assert.deepEqual(rows, [{ title: "changed", completed: true }], "the replay changed nothing");

    assert.equal((await user.request("DELETE", `${user.tasksUrl}/${task.id}`)).status, 204);
    const afterDelete = await expectCreated(await keyedCreate(user, key, { body }), { replayed: true });
    assert.deepEqual(afterDelete, task, "the original body even though the task is gone");
    assert.equal(await taskCount(user.id), 0, "the replay did not recreate the task");
  });

  it("scopes keys per user: another user's identical key creates that user's own task", async () => {
    const a = newUser(suite.base);
    const b = newUser(suite.base);
    const key = newKey();
    const body = { title: "same everything" };
    const taskA = await expectCreated(await keyedCreate(a, key, { body }), { replayed: false });
    const taskB = await expectCreated(await keyedCreate(b, key, { body }), { replayed: false });
    assert.notEqual(taskB.id, taskA.id);
    assert.equal(taskB.user_id, b.id);
    assert.equal(await taskCount(a.id), 1);
    assert.equal(await taskCount(b.id), 1);
    // Each user still replays their own.
    assert.deepEqual(await expectCreated(await keyedCreate(a, key, { body }), { replayed: true }), taskA);
    assert.deepEqual(await expectCreated(await keyedCreate(b, key, { body }), { replayed: true }), taskB);
  });

  it("without the header, two identical POSTs create two tasks", async () => {
    const user = newUser(suite.base);
    const body = { title: "twice" };
    const first = await user.request("POST", user.tasksUrl, { body });
    const second = await user.request("POST", user.tasksUrl, { body });
    const one = await expectCreated(first, { replayed: false });
    const two = await expectCreated(second, { replayed: false });
    assert.notEqual(one.id, two.id);
    assert.equal(await taskCount(user.id), 2);
  });
});

describe("idempotent create: a reused key with another request", () => {
  const base = { title: "base", description: "desc", completed: false };
  const variants = [
    ["a different title", { ...base, title: "other" }],
    ["a different description", { ...base, description: "other desc" }],
    ["a different completed", { ...base, completed: true }],
  ];
  for (const [name, changed] of variants) {
    it(`refuses ${name} with 422 idempotency_key_reused and creates nothing`, async () => {
      const user = newUser(suite.base);
      const key = newKey();
      const task = await expectCreated(await keyedCreate(user, key, { body: base }), { replayed: false });
      const response = await keyedCreate(user, key, { body: changed });
      assert.notEqual(response.headers.get("idempotent-replayed"), "true");
      await expectError(response, 422, "idempotency_key_reused");
      assert.equal(await taskCount(user.id), 1, "nothing created");
      // The original request still replays.
      assert.deepEqual(await expectCreated(await keyedCreate(user, key, { body: base }), { replayed: true }), task);
    });
  }
});

describe("idempotent create: key validation", () => {
  const invalid = [
    ["an empty key", ""],
    ["a whitespace-only key", "     "],
    ["a 256-character key", "k".repeat(256)],
    // fetch (undici) sends these bytes in a header value as they are (é as the Latin-1 byte
    // 0xE9). It refuses to send other control characters such as DEL, so they are not tested.
    ["a key with a non-ASCII character (é)", "caf\u00e9"],
    ["a key with a tab inside", "a\tb"],
  ];
  for (const [name, key] of invalid) {
    it(`refuses ${name} with 400 naming Idempotency-Key, storing nothing`, async () => {
      const user = newUser(suite.base);
      const error = await expectError(await keyedCreate(user, key, { body: { title: "t" } }), 400, "validation_error");
      assert.equal(error.field, "Idempotency-Key");
      assert.equal(await taskCount(user.id), 0, "no task created");
      assert.equal(await keyCount(user.id), 0, "no key stored");
    });
  }

  it("accepts a 255-character key of printable ASCII, spaces and symbols included", async () => {
    const user = newUser(suite.base);
    const key = "k".repeat(255);
    const task = await expectCreated(await keyedCreate(user, key, { body: { title: "long key" } }), { replayed: false });
    assert.deepEqual(
      await expectCreated(await keyedCreate(user, key, { body: { title: "long key" } }), { replayed: true }), task);
    const printable = "A z~!@#$%^&*()_+-={}[]|\\:;'<>?,./`\"0";
    const other = await expectCreated(await keyedCreate(user, printable, { body: { title: "symbols" } }), { replayed: false });
    assert.deepEqual(
      await expectCreated(await keyedCreate(user, printable, { body: { title: "symbols" } }), { replayed: true }), other);
    assert.equal(await taskCount(user.id), 2);
  });
});

describe("idempotent create: check order", () => {
  it("answers 401 for a bad token even with a key", async () => {
    const user = newUser(suite.base);
    const response = await fetch(user.tasksUrl, {
      method: "POST",
      headers: { Authorization: "Bearer not.a.jwt", "Content-Type": "application/json", "Idempotency-Key": "k" },
      body: JSON.stringify({ title: "t" }),
    });
    await expectError(response, 401, "unauthorized");
    // Also with an invalid key: the token comes first.
    const invalidKey = await fetch(user.tasksUrl, {
      method: "POST",
      headers: { Authorization: "Bearer not.a.jwt", "Content-Type": "application/json", "Idempotency-Key": "" },
      body: JSON.stringify({ title: "t" }),
    });
    await expectError(invalidKey, 401, "unauthorized");
    assert.equal(await taskCount(user.id), 0);
  });

  it("answers 403 for another user's path even with a key (valid or not)", async () => {
    const user = newUser(suite.base);
    const other = newUser(suite.base);
    for (const key of [newKey(), "", "k".repeat(256)]) {
      const response = await user.request("POST", other.tasksUrl, {
        body: { title: "t" }, headers: { "Idempotency-Key": key },
      });
      await expectError(response, 403, "forbidden");
    }
    assert.equal(await taskCount(user.id), 0);
    assert.equal(await taskCount(other.id), 0);
    assert.equal(await keyCount(user.id), 0);
    assert.equal(await keyCount(other.id), 0);
  });

  it("still validates the body; a refused request stores nothing under the key", async () => {
    const user = newUser(suite.base);
    const key = newKey();
    const error = await expectError(await keyedCreate(user, key, { body: { title: "" } }), 400, "validation_error");
    assert.equal(error.field, "title");
    assert.equal(await taskCount(user.id), 0);
    assert.equal(await keyCount(user.id), 0);
    // The same key with a valid body is a first use.
    const task = await expectCreated(await keyedCreate(user, key, { body: { title: "now valid" } }), { replayed: false });
    assert.equal(task.title, "now valid");
    assert.equal(await taskCount(user.id), 1);
  });
});

describe("idempotent create: concurrency", () => {
  it("20 concurrent identical keyed creates make exactly one task: every answer 201 with its id, exactly one not a replay", async () => {
    const user = newUser(suite.base);
    const key = newKey();
    const body = { title: "only once", description: "concurrent" };
    const responses = await Promise.all(Array.from({ length: 20 }, () => keyedCreate(user, key, { body })));
    const texts = await Promise.all(responses.map((r) => r.text()));
    assert.deepEqual(responses.map((r) => r.status), responses.map(() => 201), texts.join("\n"));
    const tasks = texts.map((t) => JSON.parse(t));
    assert.equal(new Set(tasks.map((t) => t.id)).size, 1, "one distinct id");
    for (const task of tasks) assert.deepEqual(task, tasks[0], "identical bodies");
    // One statement claims the key and creates the task; the others wait for its insert of the
    // key to commit, then find the key live (ON CONFLICT ... WHERE expired is false) and replay.
    const fresh = responses.filter((r) => r.headers.get("idempotent-replayed") !== "true").length;
    assert.equal(fresh, 1, `exactly one answer without Idempotent-Replayed (got ${fresh})`);
    assert.equal(await taskCount(user.id), 1, "exactly one row in tasks");
    assert.equal(await keyCount(user.id), 1, "one stored key");
  });
});

describe("idempotent create: expiry and cleanup", () => {
  it("treats a key older than 24 hours as new", async () => {
    const user = newUser(suite.base);
    const key = newKey();
    const body = { title: "expires" };
    const first = await expectCreated(await keyedCreate(user, key, { body }), { replayed: false });
    const aged = await suite.db.client.query(AGE_KEYS, [user.id]);
    assert.equal(aged.rowCount, 1, "the key was stored in idempotency_keys");

    const second = await expectCreated(await keyedCreate(user, key, { body }), { replayed: false });
    assert.notEqual(second.id, first.id, "a new task");
    assert.equal(await taskCount(user.id), 2);
    // The key now belongs to the new task.
    assert.deepEqual(await expectCreated(await keyedCreate(user, key, { body }), { replayed: true }), second);
    assert.equal(await taskCount(user.id), 2);
  });

  it("a keyed create deletes another user's expired keys", async () => {
    const x = newUser(suite.base);
    const y = newUser(suite.base);
    await expectCreated(await keyedCreate(x, newKey(), { body: { title: "x" } }), { replayed: false });
    assert.equal(await keyCount(x.id), 1);
    await suite.db.client.query(AGE_KEYS, [x.id]);
    await expectCreated(await keyedCreate(y, newKey(), { body: { title: "y" } }), { replayed: false });
    assert.equal(await keyCount(x.id), 0, "x's expired key is gone");
    assert.equal(await keyCount(y.id), 1, "y's fresh key is kept");
    assert.equal(await taskCount(x.id), 1, "x's task is untouched");
  });
});
