// One user's footprint and what the database does for it: the cap on tasks per user (409 beyond
// it, exact under concurrency) and statements that stop when the worker stops waiting.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { SECRET, forHyperdrive, newUser, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

const MAX_TASKS_PER_USER = 10_000;

/** Inserts `n` tasks for `userId` straight into the database and counts them on the user's
 *  row, as the insert trigger would: with the trigger, 10,000 updates of one row in one
 *  transaction take seconds, so triggers are off for this one transaction of this session. */
async function seedTasks(userId, n) {
  const db = suite.db.client;
  await db.query("begin");
  try {
    await db.query("set local session_replication_role = replica");
    await db.query(
      "insert into tasks (user_id, title) select $1, 'seeded ' || g from generate_series(1, $2::int) as g",
      [userId, n],
    );
    await db.query("update users set task_count = task_count + $2 where id = $1", [userId, n]);
    await db.query("commit");
  } catch (err) {
    await db.query("rollback");
    throw err;
  }
}

const countOf = async (userId) => (await suite.db.client.query(
  "select (select count(*)::int from tasks where user_id = $1) as tasks, (select task_count::int from users where id = $1) as counted",
  [userId],
)).rows[0];

describe("the cap on tasks per user", () => {
  it("creates up to 10,000 tasks, then answers 409 task_limit_reached and stores nothing", async () => {
    const user = newUser(suite.base);
    await user.create({ title: "first, through the API" });
    await seedTasks(user.id, MAX_TASKS_PER_USER - 2);
    const keyed = { headers: { "Idempotency-Key": "the-last-one" }, body: { title: "the last one" } };
    const last = await user.request("POST", user.tasksUrl, keyed);
    assert.equal(last.status, 201);
    const created = await last.json();

    const refused = await user.request("POST", user.tasksUrl, { body: { title: "one too many" } });
    const error = await expectError(refused, 409, "task_limit_reached");
    assert.match(error.message, /10000 tasks/);
    assert.deepEqual(await countOf(user.id), { tasks: MAX_TASKS_PER_USER, counted: MAX_TASKS_PER_USER });
    // A replay creates nothing, so it still answers with its task at the cap.
    const replay = await user.request("POST", user.tasksUrl, keyed);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal((await replay.json()).id, created.id);
    // Everything else still works at the cap, and a delete makes room for one more.
    assert.equal((await user.request("PATCH", `${user.tasksUrl}/${created.id}/complete`)).status, 200);
    assert.equal((await user.request("GET", `${user.tasksUrl}?limit=1`)).status, 200);
    assert.equal((await user.request("DELETE", `${user.tasksUrl}/${created.id}`)).status, 204);
    assert.equal((await user.request("POST", user.tasksUrl, { body: { title: "room again" } })).status, 201);
    await expectError(await user.request("POST", user.tasksUrl, { body: { title: "full again" } }), 409, "task_limit_reached");
    // Another user is not affected.
    await newUser(suite.base).create({ title: "someone else" });
  });

  it("is exact under concurrent creates: of 12 racing for the last 4 places, 4 are stored", async () => {
    const user = newUser(suite.base);
    await user.create({ title: "first" });
    await seedTasks(user.id, MAX_TASKS_PER_USER - 5);
    const statuses = (await Promise.all(Array.from({ length: 12 }, (_, i) =>
      user.request("POST", user.tasksUrl, { body: { title: `racer ${i}` } })))).map((r) => r.status);
    assert.deepEqual(statuses.filter((s) => s === 201).length, 4, `${statuses}`);
    assert.deepEqual(statuses.filter((s) => s === 409).length, 8, `${statuses}`);
    assert.deepEqual(await countOf(user.id), { tasks: MAX_TASKS_PER_USER, counted: MAX_TASKS_PER_USER });
  });
});

describe("statements the worker has given up on", () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      databaseUrl: forHyperdrive(suite.db.url),
      bindings: { BETTER_AUTH_SECRET: SECRET, DB_CONNECT_TIMEOUT_MS: "500", DB_DEADLINE_MS: "1500" },
    });
  });
  after(() => worker?.dispose());

  /** The backends other than `except` that are waiting for a lock in the test database. */
  const waitingForLocks = async (except) => (await suite.db.client.query(
    "select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and pid <> $2 and wait_event_type = 'Lock'",
    [suite.db.database, except],
  )).rows;

  it("are stopped by the database at the deadline, and a 503 applies nothing even after", async (t) => {
    if (suite.db.embedded) return t.skip("PGlite has no pg_stat_activity for client sessions");
    const user = newUser(worker.url);
    const task = await user.create({ title: "locked" });
    // Another session holds the task's row lock, so the worker's update waits behind it.
    const holder = new pg.Client({ connectionString: suite.db.url });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select 1 from tasks where id = $1 for update", [task.id]);
      const holderPid = (await holder.query("select pg_backend_pid() as pid")).rows[0].pid;
      const update = await user.request("PUT", `${user.tasksUrl}/${task.id}`, { body: { title: "changed" } });
      await expectError(update, 503, "database_unavailable");
      // The worker answered at its 1.5 s deadline; the server's timeout was set to what was
      // left of it, so the waiting statement is cancelled at about the same moment. The bound
      // here is generous (a loaded machine must not decide it); before the statement timeout,
      // the statement waited for as long as the lock was held.
      let waiting;
      for (let i = 0; i < 50; i++) {
        waiting = await waitingForLocks(holderPid);
        if (waiting.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(waiting, [], "a statement the worker gave up on still waits in the database");
    } finally {
      await holder.query("commit");
      await holder.end();
    }
    // The lock is gone: a statement still queued behind it would now apply the change that
    // the client was told had failed.
    await new Promise((r) => setTimeout(r, 200));
    const stored = await user.request("GET", `${user.tasksUrl}/${task.id}`);
    assert.equal((await stored.json()).title, "locked");
  });
});
