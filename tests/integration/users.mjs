// The users table follows the tokens: created on first write, email kept in step, the
// identity provider's word final on who holds an email when it vouches for it (a verified
// claim), an unverified claim never touching another user's row, tasks deleted with their user.
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

  it("gives an email to the new id that presents it verified (case-insensitively), failing no request", async () => {
    const email = `moved-${crypto.randomUUID()}@example.com`;
    const before = newUser(suite.base, { email, emailVerified: true });
    await before.create({ title: "old account" });
    const after = newUser(suite.base, { email: email.toUpperCase(), emailVerified: true });
    const response = await after.request("POST", after.tasksUrl, { body: { title: "new account" } });
    assert.equal(response.status, 201);
    assert.equal((await userRow(after.id)).email, email.toUpperCase());
    assert.equal((await userRow(before.id)).email, null);
    // The old id keeps working, and takes the email back when its verified token says so.
    assert.equal((await before.request("POST", before.tasksUrl, { body: { title: "back" } })).status, 201);
    assert.equal((await userRow(before.id)).email, email);
  });

  // Both create statements sync the users row: without and with an Idempotency-Key.
  const creates = {
    plain: (user, title) => user.request("POST", user.tasksUrl, { body: { title } }),
    "with an Idempotency-Key": (user, title) =>
      user.request("POST", user.tasksUrl, { body: { title }, headers: { "Idempotency-Key": crypto.randomUUID() } }),
  };
  for (const [kind, create] of Object.entries(creates)) {
    it(`an unverified email claim never changes another user's row (${kind})`, async () => {
      const email = `held-${crypto.randomUUID()}@example.com`;
      const holder = newUser(suite.base, { email, emailVerified: true });
      await holder.create();
      // A new id claiming it unverified: created, with no email; the holder keeps it.
      for (const [claim, emailVerified] of [["no flag", undefined], ["emailVerified: false", false]]) {
        const newcomer = newUser(suite.base, { email: email.toUpperCase(), emailVerified });
        assert.equal((await create(newcomer, "unverified claim")).status, 201, claim);
        assert.deepEqual(await userRow(newcomer.id), { id: newcomer.id, email: null }, claim);
        assert.equal((await userRow(holder.id)).email, email, claim);
      }
      // An existing id with an email of its own keeps it.
      const id = `own-${crypto.randomUUID()}`;
      const own = `own-${crypto.randomUUID()}@example.com`;
      assert.equal((await create(newUser(suite.base, { id, email: own }), "first")).status, 201);
      assert.equal((await create(newUser(suite.base, { id, email }), "unverified claim")).status, 201);
      assert.equal((await userRow(id)).email, own);
      assert.equal((await userRow(holder.id)).email, email);
      // The same claim verified, in OpenID Connect's spelling, moves the email as before.
      const verified = newUser(suite.base, { id, email, extra: { email_verified: true } });
      assert.equal((await create(verified, "verified claim")).status, 201);
      assert.equal((await userRow(id)).email, email);
      assert.equal((await userRow(holder.id)).email, null);
    });

    it(`an unverified email no other user holds is stored (${kind})`, async () => {
      const id = `free-${crypto.randomUUID()}`;
      const first = `free-${crypto.randomUUID()}@example.com`;
      assert.equal((await create(newUser(suite.base, { id, email: first }), "new row")).status, 201);
      assert.equal((await userRow(id)).email, first);
      const second = `free-${crypto.randomUUID()}@Example.com`;
      assert.equal((await create(newUser(suite.base, { id, email: second, emailVerified: false }), "update")).status, 201);
      assert.equal((await userRow(id)).email, second);
    });
  }

  it("unverified claims racing for one free email: all created, exactly one row holds it", async () => {
    for (let round = 0; round < 5; round++) {
      const email = `race-${crypto.randomUUID()}@example.com`;
      const users = Array.from({ length: 4 }, () => newUser(suite.base, { email }));
      const responses = await Promise.all(users.map((user) => creates.plain(user, "race")));
      for (const response of responses) assert.equal(response.status, 201, await response.text());
      const rows = [];
      for (const user of users) rows.push(await userRow(user.id));
      assert.equal(rows.filter((row) => row.email === email).length, 1, JSON.stringify(rows));
    }
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
