// The users table follows the tokens: created on first write, email kept in step, the
// identity provider's word final on who holds an email, tasks deleted with their user.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { newUser } from "./harness.mjs";
import { suite } from "./context.mjs";

async function userRow(id) {
  const { rows } = await suite.db.client.query("select id, email from users where id = $1", [id]);
  return rows[0];
}

describe("users", () => {
  it("a brand-new user can list (empty) and create with no setup; the row appears on create", async () => {
    const user = newUser(suite.base, { email: `new-${crypto.randomUUID()}@example.com` });
    assert.deepEqual(await (await user.request("GET", user.tasksUrl)).json(), []);
    await user.create();
    assert.equal((await userRow(user.id)).id, user.id);
  });

  it("keeps the email in step with the token", async () => {
    const id = `email-${crypto.randomUUID()}`;
    const as = (email) => newUser(suite.base, { id, email });
    await as("First@Example.com").create();
    assert.equal((await userRow(id)).email, "First@Example.com");
    await as("second@example.com").create();
    assert.equal((await userRow(id)).email, "second@example.com");
    await as(undefined).create(); // no email claim: keep what we have
    assert.equal((await userRow(id)).email, "second@example.com");
  });

  it("gives an email to the new id that presents it (case-insensitively), failing no request", async () => {
    const email = `moved-${crypto.randomUUID()}@example.com`;
    const before = newUser(suite.base, { email });
    await before.create({ title: "old account" });
    const after = newUser(suite.base, { email: email.toUpperCase() });
    const response = await after.request("POST", after.tasksUrl, { body: { title: "new account" } });
    assert.equal(response.status, 201);
    assert.equal((await userRow(after.id)).email, email.toUpperCase());
    assert.equal((await userRow(before.id)).email, null);
    // The old id keeps working, and takes the email back when its token says so.
    assert.equal((await before.request("POST", before.tasksUrl, { body: { title: "back" } })).status, 201);
    assert.equal((await userRow(before.id)).email, email);
  });

  it("deleting a user deletes their tasks", async () => {
    const user = newUser(suite.base);
    await user.create();
    await user.create();
    await suite.db.client.query("delete from users where id = $1", [user.id]);
    const { rows } = await suite.db.client.query("select count(*)::int as n from tasks where user_id = $1", [user.id]);
    assert.equal(rows[0].n, 0);
    assert.deepEqual(await (await user.request("GET", user.tasksUrl)).json(), []);
  });

  it("the database refuses what the API refuses (constraints as a second line of defence)", async () => {
    const user = newUser(suite.base);
    await user.create();
    for (const [sql, params] of [
      ["insert into tasks (user_id, title) values ($1, '')", [user.id]],
      ["insert into tasks (user_id, title) values ($1, repeat('a', 256))", [user.id]],
      ["insert into tasks (user_id, title) values ($1, ' padded ')", [user.id]],
      ["insert into tasks (user_id, title, description) values ($1, 't', repeat('d', 10001))", [user.id]],
      ["insert into tasks (user_id, title) values ('no-such-user', 't')", []],
      ["insert into users (id) values ('bad id')", []],
    ]) {
      await assert.rejects(suite.db.client.query(sql, params), undefined, sql);
    }
  });
});
