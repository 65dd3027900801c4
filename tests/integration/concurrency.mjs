// Concurrent writes from many users: nothing lost, duplicated, or visible to another user.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newUser } from "./harness.mjs";
import { suite } from "./context.mjs";

describe("concurrency", () => {
  it("50 concurrent creates across 10 users all land once, each with its owner only", async () => {
    const users = Array.from({ length: 10 }, (_, i) => newUser(suite.base, { prefix: `conc${i}` }));
    const jobs = users.flatMap((user) =>
      Array.from({ length: 5 }, (_, n) => ({ user, title: `${user.id} #${n}` })));
    const responses = await Promise.all(jobs.map(({ user, title }) =>
      user.request("POST", user.tasksUrl, { body: { title } })));
    assert.deepEqual(responses.map((r) => r.status), jobs.map(() => 201));
    const created = await Promise.all(responses.map((r) => r.json()));
    assert.equal(new Set(created.map((t) => t.id)).size, 50, "50 distinct ids");

    for (const user of users) {
      const list = await (await user.request("GET", user.tasksUrl)).json();
      assert.deepEqual(
        list.map((t) => t.title).sort(),
        jobs.filter((j) => j.user === user).map((j) => j.title).sort(),
        `${user.id} sees exactly its own five tasks`,
      );
      assert.ok(list.every((t) => t.user_id === user.id));
    }
    const { rows } = await suite.db.client.query(
      "select count(*)::int as n from tasks where user_id = any($1)", [users.map((u) => u.id)]);
    assert.equal(rows[0].n, 50, "exactly 50 rows stored");
  });
});
