// Rate limits through the Workers rate-limit bindings, with small budgets: per user for reads
// (GET/HEAD) and for writes, separately; per client address (CF-Connecting-IP) for requests
// that fail authentication (401, 403), and once an address is over that budget, for all its
// /api requests before their tokens are looked at. Over budget: 429 rate_limited with
// Retry-After: 60. /health and OPTIONS are never limited.
//
// Miniflare's limiter counts in fixed 60 s windows aligned to the clock (all budgets refill at
// each minute boundary), so every sequence that spends a budget runs away from a boundary, and
// is repeated with fresh users and addresses in the unlikely case it still crossed one.
//
// Under Miniflare, CF-Connecting-IP is the socket's address (127.0.0.1 here) when the request
// does not carry the header, and the request's own value when it does: tests pick addresses
// by sending the header.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SECRET, forHyperdrive, newUser, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

const ORIGIN = "https://app.example.com";
const WINDOW_MS = 60_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const windowOf = (ms) => Math.floor(ms / WINDOW_MS);

/** Runs `sequence` inside one rate-limit window: waits out a boundary closer than `marginMs`,
 *  and runs it again (it must use fresh keys each time) if a boundary passed during it anyway.
 *  With `freshKeys: false` a retry first waits for the next window. */
async function inOneWindow(sequence, { marginMs = 5000, freshKeys = true } = {}) {
  for (let attempt = 0; ; attempt++) {
    const left = WINDOW_MS - (Date.now() % WINDOW_MS);
    if (left < marginMs || (attempt > 0 && !freshKeys)) await sleep(left + 100);
    const started = windowOf(Date.now());
    try {
      return await sequence();
    } catch (err) {
      if (attempt >= 2 || windowOf(Date.now()) === started) throw err;
    }
  }
}

let addressSeq = crypto.randomInt(1, 0xffff);
/** A client address no other request in this run uses. */
const freshAddress = () => `2001:db8::${(addressSeq++).toString(16)}`;

async function drained(response) {
  await response.arrayBuffer();
  return response;
}

/** Asserts a 429 rate_limited with Retry-After: 60 (a HEAD has no body to check). */
async function expectLimited(response, what) {
  const text = await response.clone().text();
  assert.equal(response.status, 429, `${what}: ${text}`);
  assert.equal(response.headers.get("retry-after"), "60", `${what}: Retry-After`);
  if (text === "") return drained(response);
  await expectError(response, 429, "rate_limited");
  return response;
}

async function expectStatus(response, status, what) {
  const text = await response.text();
  assert.equal(response.status, status, `${what}: ${text}`);
  return text;
}

const limits = ({ read, write, address }) => Object.fromEntries([
  ["READ_RATE_LIMITER", read, "9301"], ["WRITE_RATE_LIMITER", write, "9302"], ["ADDRESS_RATE_LIMITER", address, "9303"],
].filter(([, limit]) => limit !== undefined)
  .map(([name, limit, namespace]) => [name, { namespace_id: namespace, simple: { limit, period: 60 } }]));

describe("per-user read and write budgets", () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      databaseUrl: forHyperdrive(suite.db.url),
      bindings: { BETTER_AUTH_SECRET: SECRET, CORS_ALLOWED_ORIGINS: ORIGIN },
      ratelimits: limits({ read: 3, write: 2, address: 1000 }),
    });
  });
  after(() => worker?.dispose());

  it("reads: three GET/HEAD answered, the fourth 429 with Retry-After 60; others and writes unaffected", async () => {
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      const other = newUser(worker.url);
      await expectStatus(await user.request("GET", user.tasksUrl), 200, "read 1");
      await expectStatus(await user.request("HEAD", user.tasksUrl), 200, "read 2 (HEAD)");
      await expectStatus(await user.request("GET", `${user.tasksUrl}?completed=true`), 200, "read 3");
      await expectLimited(await user.request("GET", user.tasksUrl), "read 4");
      await expectLimited(await user.request("HEAD", user.tasksUrl), "HEAD over budget");
      await expectLimited(await user.request("GET", `${user.tasksUrl}/${crypto.randomUUID()}`), "GET one task over budget");
      // Another user has their own budget.
      await expectStatus(await other.request("GET", other.tasksUrl), 200, "another user");
      // The write budget is separate.
      const created = await user.request("POST", user.tasksUrl, { body: { title: "still writable" } });
      await expectStatus(created, 201, "write while reads are exhausted");
    });
  });

  it("writes: two writes answered, the third 429 for every write method; reads unaffected", async () => {
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      const first = JSON.parse(await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: "one" } }), 201, "write 1"));
      await expectStatus(await user.request("PUT", `${user.tasksUrl}/${first.id}`, { body: { title: "one!" } }), 200, "write 2 (PUT)");
      await expectLimited(await user.request("POST", user.tasksUrl, { body: { title: "three" } }), "POST over budget");
      await expectLimited(await user.request("PUT", `${user.tasksUrl}/${first.id}`, { body: { title: "x" } }), "PUT over budget");
      await expectLimited(await user.request("PATCH", `${user.tasksUrl}/${first.id}/complete`, { body: { completed: true } }), "PATCH over budget");
      await expectLimited(await user.request("DELETE", `${user.tasksUrl}/${first.id}`), "DELETE over budget");
      // Nothing was written by the refused requests, and the reads budget is untouched: 3 reads.
      const list = JSON.parse(await expectStatus(await user.request("GET", user.tasksUrl), 200, "read 1"));
      assert.deepEqual(list.map((t) => [t.title, t.completed]), [["one!", false]]);
      await expectStatus(await user.request("GET", `${user.tasksUrl}/${first.id}`), 200, "read 2");
      await expectStatus(await user.request("GET", user.tasksUrl), 200, "read 3");
      await expectLimited(await user.request("GET", user.tasksUrl), "read 4");
      // Another user can still write.
      const other = newUser(worker.url);
      await expectStatus(await other.request("POST", other.tasksUrl, { body: { title: "mine" } }), 201, "another user's write");
    });
  });

  it("checks the token (401) and the path's user (403) before the user's budget, validation after it", async () => {
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      const other = newUser(worker.url);
      for (let i = 0; i < 3; i++) await expectStatus(await user.request("GET", user.tasksUrl), 200, `read ${i + 1}`);
      await expectLimited(await user.request("GET", `${user.tasksUrl}?sort=bogus`), "invalid query over budget");
      await expectLimited(await user.request("GET", `${user.tasksUrl}/not-a-uuid`), "invalid id over budget");
      const badToken = await fetch(user.tasksUrl, { headers: { Authorization: "Bearer nope" } });
      await expectError(badToken, 401);
      await expectError(await user.request("GET", other.tasksUrl), 403, "forbidden");
    });
  });

  it("a 429 carries the CORS headers for an allowed origin, not for another", async () => {
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      for (let i = 0; i < 3; i++) await drained(await user.request("GET", user.tasksUrl));
      const response = await user.request("GET", user.tasksUrl, { headers: { Origin: ORIGIN } });
      const headers = response.headers;
      await expectLimited(response, "read 4");
      assert.equal(headers.get("access-control-allow-origin"), ORIGIN);
      assert.ok((headers.get("vary") ?? "").toLowerCase().includes("origin"));
      const exposed = (headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/\s*,\s*/);
      for (const name of ["retry-after", "x-request-id", "link", "etag", "location"]) assert.ok(exposed.includes(name), name);
      const elsewhere = await drained(await user.request("GET", user.tasksUrl, { headers: { Origin: "https://evil.test" } }));
      assert.equal(elsewhere.status, 429);
      assert.equal(elsewhere.headers.get("access-control-allow-origin"), null);
    });
  });

  it("preflights and /health are never limited, for a user whose budgets are spent", async () => {
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      for (let i = 0; i < 3; i++) await drained(await user.request("GET", user.tasksUrl));
      for (let i = 0; i < 2; i++) await drained(await user.request("POST", user.tasksUrl, { body: { title: "t" } }));
      await expectLimited(await user.request("GET", user.tasksUrl), "reads spent");
      await expectLimited(await user.request("POST", user.tasksUrl, { body: { title: "t" } }), "writes spent");
      for (let i = 0; i < 6; i++) {
        for (const [url, method] of [[user.tasksUrl, "POST"], [`${user.tasksUrl}/${crypto.randomUUID()}`, "DELETE"]]) {
          // With and without the token: a browser sends none.
          for (const auth of [{}, { Authorization: `Bearer ${user.token}` }]) {
            const preflight = await drained(await fetch(url, {
              method: "OPTIONS", headers: { Origin: ORIGIN, "Access-Control-Request-Method": method, ...auth },
            }));
            assert.equal(preflight.status, 204, `preflight ${i + 1}`);
            assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
          }
        }
        assert.equal((await drained(await fetch(`${worker.url}/health`))).status, 200, `health ${i + 1}`);
      }
    });
  });
});

describe("per-address budget", () => {
  let worker;
  before(async () => {
    // Only the address binding: no per-user budget at all.
    worker = await startWorker({
      databaseUrl: forHyperdrive(suite.db.url),
      ratelimits: limits({ address: 5 }),
    });
  });
  after(() => worker?.dispose());

  const from = (address, headers = {}) => ({ "CF-Connecting-IP": address, ...headers });

  it("five 401s spend it; then 429 before the token for bad and valid tokens alike", async () => {
    await inOneWindow(async () => {
      const address = freshAddress();
      const user = newUser(worker.url);
      const bad = [
        {}, { Authorization: "Bearer not-a-token" }, { Authorization: "Basic dXNlcjpwYXNz" },
        { Authorization: `Bearer ${user.token}x` }, { Authorization: "Bearer a.b.c" },
      ];
      for (const [i, headers] of bad.entries()) {
        await expectError(await fetch(user.tasksUrl, { headers: from(address, headers) }), 401);
        assert.ok(i < 5);
      }
      await expectLimited(await fetch(user.tasksUrl, { headers: from(address, { Authorization: "Bearer nope" }) }), "6th bad token");
      await expectLimited(await user.request("GET", user.tasksUrl, { headers: from(address) }), "valid token from the address");
      await expectLimited(await user.request("POST", user.tasksUrl, { body: { title: "t" }, headers: from(address) }), "valid write");
      // Another user from the same address: the same budget.
      const other = newUser(worker.url);
      await expectLimited(await other.request("GET", other.tasksUrl, { headers: from(address) }), "another user, same address");
      // The same user from another address is served.
      await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(freshAddress()) }), 200, "another address");
    });
  });

  it("is spent by 401s and 403s only: authenticated requests from the address are never counted", async () => {
    await inOneWindow(async () => {
      const address = freshAddress();
      const user = newUser(worker.url);
      const other = newUser(worker.url);
      // Ten authenticated requests (twice the budget), including 400s and 404s after auth.
      for (let i = 0; i < 2; i++) {
        await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(address) }), 200, `list ${i}`);
        await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: "t" }, headers: from(address) }), 201, `create ${i}`);
        await expectError(await user.request("GET", `${user.tasksUrl}?sort=bogus`, { headers: from(address) }), 400);
        await expectError(await user.request("GET", `${user.tasksUrl}/${crypto.randomUUID()}`, { headers: from(address) }), 404);
        await expectError(await user.request("POST", user.tasksUrl, { body: { title: "" }, headers: from(address) }), 400);
      }
      // Five failures spend the budget: 403s (another user's path) and 401s.
      for (let i = 0; i < 3; i++) await expectError(await user.request("GET", other.tasksUrl, { headers: from(address) }), 403);
      for (let i = 0; i < 2; i++) await expectError(await fetch(user.tasksUrl, { headers: from(address) }), 401);
      await expectLimited(await user.request("GET", other.tasksUrl, { headers: from(address) }), "6th failure, a 403");
      // From then on the address is refused before its token is looked at, valid or not.
      await expectLimited(await user.request("GET", user.tasksUrl, { headers: from(address) }), "valid token after the refusal");
    });
  });

  it("is never spent or enforced by /health and OPTIONS", async () => {
    await inOneWindow(async () => {
      const address = freshAddress();
      const user = newUser(worker.url);
      const noLimit = async () => {
        for (let i = 0; i < 7; i++) {
          assert.equal((await drained(await fetch(`${worker.url}/health`, { headers: from(address) }))).status, 200, `health ${i + 1}`);
          const preflight = await drained(await fetch(user.tasksUrl, {
            method: "OPTIONS", headers: from(address, { Origin: ORIGIN, "Access-Control-Request-Method": "GET" }),
          }));
          assert.equal(preflight.status, 204, `preflight ${i + 1}`);
          const options = await drained(await fetch(`${user.tasksUrl}/${crypto.randomUUID()}`, { method: "OPTIONS", headers: from(address) }));
          assert.equal(options.status, 204, `OPTIONS ${i + 1}`);
        }
      };
      await noLimit();
      // The whole budget is still there…
      for (let i = 0; i < 5; i++) await expectError(await fetch(user.tasksUrl, { headers: from(address) }), 401);
      await expectLimited(await fetch(user.tasksUrl, { headers: from(address) }), "6th");
      // …and once spent, /health and OPTIONS still answer.
      await noLimit();
    });
  });

  it("without per-user bindings, a user is not limited", async () => {
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      for (let i = 0; i < 8; i++) {
        await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(freshAddress()) }), 200, `read ${i + 1}`);
      }
      for (let i = 0; i < 4; i++) {
        await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: `t${i}` }, headers: from(freshAddress()) }), 201, `write ${i + 1}`);
      }
    });
  });

  it("under Miniflare, a request without CF-Connecting-IP counts as its socket address, 127.0.0.1", async () => {
    // The only test here without the header: it spends the 127.0.0.1 budget. A retry waits for a
    // fresh window rather than using other keys.
    await inOneWindow(async () => {
      const user = newUser(worker.url);
      for (let i = 0; i < 5; i++) await expectError(await fetch(user.tasksUrl), 401);
      await expectLimited(await fetch(user.tasksUrl), "6th without the header");
      await expectLimited(await user.request("GET", user.tasksUrl, { headers: from("127.0.0.1") }), "the header naming 127.0.0.1");
      await expectStatus(await user.request("GET", user.tasksUrl, { headers: from("unknown") }), 200, "CF-Connecting-IP: unknown is another address");
    }, { freshKeys: false });
  });
});
