// Entry point of the integration suite (`make test`, or `npm run test:integration` after a
// build): one database and one worker for every suite, a fresh user per test.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { forHyperdrive, startDatabase, startWorker } from "./harness.mjs";
import { suite } from "./context.mjs";
// Static imports, not top-level `await import(...)`: with the suites registered after an await,
// a run filtered by --test-name-pattern printed its results and then never ended (Node 22.23:
// the root `after` hook never ran, so the database client and workerd kept the process alive).
import "./operations.mjs";
import "./docs.mjs";
import "./auth.mjs";
import "./better-auth.mjs";
import "./tasks.mjs";
import "./idempotency.mjs";
import "./conditional.mjs";
import "./listing.mjs";
import "./cors.mjs";
import "./rate-limits.mjs";
import "./validation.mjs";
import "./users.mjs";
import "./concurrency.mjs";
import "./faults.mjs";
import "./limits.mjs";

before(async () => {
  suite.db = await startDatabase();
  suite.worker = await startWorker({ databaseUrl: forHyperdrive(suite.db.url) });
  suite.base = suite.worker.url;
  // The worker's own description of its routes, methods and error codes (routes.mjs).
  const document = await fetch(`${suite.base}/openapi.json`);
  assert.equal(document.status, 200, "GET /openapi.json");
  suite.openapi = await document.json();
});

after(async () => {
  await suite.worker?.dispose();
  await suite.db?.stop();
});

describe("connections", () => {
  it("leaves no PostgreSQL connection open once requests are answered", async (t) => {
    if (suite.db.embedded) return t.skip("PGlite has no pg_stat_activity for client sessions");
    // Every request closes its connection before it ends; give the server a moment to reap.
    let open;
    for (let i = 0; i < 50; i++) {
      const { rows } = await suite.db.client.query(
        "select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
        [suite.db.database],
      );
      open = rows[0].n;
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(open, 0, "connections to the test database still open");
  });
});
