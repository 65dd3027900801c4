// Rate limits through the Workers rate-limit bindings, with small budgets: per user for reads
// (GET/HEAD) and for writes, separately; per client address (CF-Connecting-IP) for requests
// that fail authentication (401, 403), and once an address is over that budget, for its
// failures only: a valid token from a refused address is served (docs/auth.md, "Rate limits").
// Over budget: 429 rate_limited with Retry-After: 60. /health and OPTIONS are never limited.
//
// The bindings are served by the test limiter (limiter.mjs): a spent budget refills only a
// period after its first refusal, never while a test spends it. These workers use the default
// period, longer than any run; the refill tests start a worker with a short one and wait it out.
//
// Under Miniflare, CF-Connecting-IP is the socket's address (127.0.0.1 here) when the request
// does not carry the header, and the request's own value when it does: tests pick addresses
// by sending the header.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SECRET, forHyperdrive, newUser, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";
import { fillPath, operations, sampleBody } from "./routes.mjs";

const ORIGIN = "https://app.example.com";

let addressSeq = crypto.randomInt(1, 0xffff);
/** A client address in a /64 no other request in this run uses (IPv6 budgets are per /64). */
const freshAddress = () => `2001:db8:${(addressSeq++).toString(16)}::1`;
/** The address limiter's key for `address` as the worker names it: IPv6 by its /64. */
const addressKey = (address) => {
  const v6 = address.match(/^(2001:db8:[0-9a-f]+)::1$/);
  return v6 ? `ip:${v6[1]}::/64` : `ip:${address}`;
};

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

/** The limiter calls `worker` logged for `key` ("user:<id>", "ip:<address>"), once the log line
 *  of `lastResponse` (the last request that could have spent it) has arrived: a request's
 *  limiter calls come before its own line on the same stream. */
async function callsFor(worker, key, lastResponse) {
  await worker.requestLog(lastResponse.headers.get("x-request-id"));
  return worker.limiterCalls().filter((call) => call.key === key).map((call) => `${call.binding} ${call.success}`);
}

/** Every documented operation that needs a token and spends the read budget (GET, and HEAD on
 *  the same paths) or the write budget (every other method), as requests for `user` and the task
 *  `taskId` on the worker at `base`. */
function spending(base, user, taskId, { read }) {
  return operations().filter((op) => op.secured && (op.method === "GET") === read).flatMap((op) => {
    const url = `${base}${fillPath(op.path, { user_id: user.id, id: taskId })}`;
    const methods = read ? ["GET", "HEAD"] : [op.method];
    return methods.map((method) => ({ method, url, body: sampleBody(op), name: `${method} ${op.path}` }));
  });
}

/** Node's timers and workerd's clock are read separately: waits are this much longer than the
 *  period they wait out. */
const CLOCK_MARGIN_MS = 50;

/** Resolves once `ms` have passed since `since` (a performance.now() reading). */
async function untilElapsed(since, ms) {
  for (let left = ms; left > 0; left = since + ms - performance.now()) await sleep(left);
}

describe("per-user read and write budgets", () => {
  let worker;
  before(async () => {
    worker = await startWorker({
      databaseUrl: forHyperdrive(suite.db.url),
      bindings: { BETTER_AUTH_SECRET: SECRET, CORS_ALLOWED_ORIGINS: ORIGIN },
      limits: { READ_RATE_LIMITER: 3, WRITE_RATE_LIMITER: 2, ADDRESS_RATE_LIMITER: 1000 },
    });
  });
  after(() => worker?.dispose());

  it("reads: three GET/HEAD answered, then 429 with Retry-After 60 on every read; others and writes unaffected", async () => {
    const user = newUser(worker.url);
    const other = newUser(worker.url);
    await expectStatus(await user.request("GET", user.tasksUrl), 200, "read 1");
    await expectStatus(await user.request("HEAD", user.tasksUrl), 200, "read 2 (HEAD)");
    await expectStatus(await user.request("GET", `${user.tasksUrl}?completed=true`), 200, "read 3");
    const reads = spending(worker.url, user, crypto.randomUUID(), { read: true });
    for (const { method, url, name } of reads) await expectLimited(await user.request(method, url), `${name} over budget`);
    // Another user has their own budget.
    await expectStatus(await other.request("GET", other.tasksUrl), 200, "another user");
    // The write budget is separate.
    const created = await user.request("POST", user.tasksUrl, { body: { title: "still writable" } });
    await expectStatus(created, 201, "write while reads are exhausted");
    assert.deepEqual(await callsFor(worker, `user:${user.id}`, created), [
      ...Array(3).fill("READ_RATE_LIMITER true"), ...reads.map(() => "READ_RATE_LIMITER false"), "WRITE_RATE_LIMITER true",
    ], "one call per request, to the read budget for reads and the write budget for the write");
  });

  it("writes: two writes answered, then 429 for every write method; reads unaffected", async () => {
    const user = newUser(worker.url);
    const first = JSON.parse(await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: "one" } }), 201, "write 1"));
    await expectStatus(await user.request("PUT", `${user.tasksUrl}/${first.id}`, { body: { title: "one!" } }), 200, "write 2 (PUT)");
    const writes = spending(worker.url, user, first.id, { read: false });
    assert.ok(writes.length > 0, "the document lists writes");
    for (const { method, url, body, name } of writes) {
      await expectLimited(await user.request(method, url, { body }), `${name} over budget`);
    }
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

  it("checks the token (401) and the path's user (403) before the user's budget, validation after it", async () => {
    const user = newUser(worker.url);
    const other = newUser(worker.url);
    for (let i = 0; i < 3; i++) await expectStatus(await user.request("GET", user.tasksUrl), 200, `read ${i + 1}`);
    await expectLimited(await user.request("GET", `${user.tasksUrl}?sort=bogus`), "invalid query over budget");
    await expectLimited(await user.request("GET", `${user.tasksUrl}/not-a-uuid`), "invalid id over budget");
    const badToken = await fetch(user.tasksUrl, { headers: { Authorization: "Bearer nope" } });
    await expectError(badToken, 401);
    await expectError(await user.request("GET", other.tasksUrl), 403, "forbidden");
  });

  it("a 429 carries the CORS headers for an allowed origin, not for another", async () => {
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

  it("preflights and /health are never limited, for a user whose budgets are spent", async () => {
    const user = newUser(worker.url);
    for (let i = 0; i < 3; i++) await drained(await user.request("GET", user.tasksUrl));
    for (let i = 0; i < 2; i++) await drained(await user.request("POST", user.tasksUrl, { body: { title: "t" } }));
    await expectLimited(await user.request("GET", user.tasksUrl), "reads spent");
    const spent = await expectLimited(await user.request("POST", user.tasksUrl, { body: { title: "t" } }), "writes spent");
    await worker.requestLog(spent.headers.get("x-request-id"));
    const callsBefore = worker.limiterCalls().length;
    let last;
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
      last = await drained(await fetch(`${worker.url}/health`));
      assert.equal(last.status, 200, `health ${i + 1}`);
    }
    await worker.requestLog(last.headers.get("x-request-id"));
    assert.deepEqual(worker.limiterCalls().slice(callsBefore), [], "no limiter call for preflights and /health");
  });
});

describe("budgets refill after the limiter's period", () => {
  const PERIOD_SECS = 2;
  let worker;
  before(async () => {
    worker = await startWorker({
      databaseUrl: forHyperdrive(suite.db.url),
      limits: { READ_RATE_LIMITER: 3, WRITE_RATE_LIMITER: 2, ADDRESS_RATE_LIMITER: 5 },
      limitPeriod: PERIOD_SECS,
    });
  });
  after(() => worker?.dispose());

  it("once the limiter refills a spent budget the user is served again: the worker keeps no memory of a refused user", async () => {
    const user = newUser(worker.url);
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 3; i++) await expectStatus(await user.request("GET", user.tasksUrl), 200, `round ${round}, read ${i + 1}`);
      await expectLimited(await user.request("GET", user.tasksUrl), `round ${round}, read 4`);
      for (let i = 0; i < 2; i++) await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: "t" } }), 201, `round ${round}, write ${i + 1}`);
      await expectLimited(await user.request("POST", user.tasksUrl, { body: { title: "t" } }), `round ${round}, write 3`);
      // Both budgets were refused by now: a period from here, the limiter has refilled them.
      if (round === 1) await untilElapsed(performance.now(), PERIOD_SECS * 1000 + CLOCK_MARGIN_MS);
    }
  });

  it("a refused address stays refused after the limiter refills (the worker's own memory), with no limiter call", async () => {
    const address = freshAddress();
    const from = { "CF-Connecting-IP": address };
    const user = newUser(worker.url);
    for (let i = 0; i < 5; i++) await expectError(await fetch(user.tasksUrl, { headers: from }), 401);
    const refused = await expectLimited(await fetch(user.tasksUrl, { headers: from }), "6th failure");
    const refusedBy = performance.now();
    const calls = await callsFor(worker, addressKey(address), refused);
    assert.deepEqual(calls, [...Array(5).fill("ADDRESS_RATE_LIMITER true"), "ADDRESS_RATE_LIMITER false"]);
    await untilElapsed(refusedBy, PERIOD_SECS * 1000 + CLOCK_MARGIN_MS);
    // The limiter would allow the address again; the worker refuses its failures for its own
    // 60 s without asking the limiter (expiry after 60 s: src/http/rate_limit.rs's unit test).
    // A valid token from it is served all along.
    await expectLimited(await fetch(user.tasksUrl, { headers: from }), "bad token after the refill");
    const last = await user.request("GET", user.tasksUrl, { headers: from });
    await expectStatus(last, 200, "valid token after the refill");
    assert.deepEqual(await callsFor(worker, addressKey(address), last), calls, "no limiter call for the refused address");
    // Another address, with the same bad tokens, is only 401.
    await expectError(await fetch(user.tasksUrl, { headers: { "CF-Connecting-IP": freshAddress() } }), 401);
  });
});

describe("per-address budget", () => {
  let worker;
  before(async () => {
    // Only the address binding: no per-user budget at all.
    worker = await startWorker({
      databaseUrl: forHyperdrive(suite.db.url),
      limits: { ADDRESS_RATE_LIMITER: 5 },
    });
  });
  after(() => worker?.dispose());

  const from = (address, headers = {}) => ({ "CF-Connecting-IP": address, ...headers });

  it("five 401s spend it; then 429 for bad tokens, while valid ones are served", async () => {
    const address = freshAddress();
    const user = newUser(worker.url);
    const bad = [
      {}, { Authorization: "Bearer not-a-token" }, { Authorization: "Basic dXNlcjpwYXNz" },
      { Authorization: `Bearer ${user.token}x` }, { Authorization: "Bearer a.b.c" },
    ];
    for (const headers of bad) await expectError(await fetch(user.tasksUrl, { headers: from(address, headers) }), 401);
    await expectLimited(await fetch(user.tasksUrl, { headers: from(address, { Authorization: "Bearer nope" }) }), "6th bad token");
    for (const headers of bad) await expectLimited(await fetch(user.tasksUrl, { headers: from(address, headers) }), "bad token, refused address");
    await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(address) }), 200, "valid token from the address");
    await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: "t" }, headers: from(address) }), 201, "valid write");
    // Another user from the same address: served too, and refused on the first user's path.
    const other = newUser(worker.url);
    await expectStatus(await other.request("GET", other.tasksUrl, { headers: from(address) }), 200, "another user, same address");
    await expectLimited(await other.request("GET", user.tasksUrl, { headers: from(address) }), "another user's path, same address");
    // Another address with the same bad token is only 401.
    await expectError(await fetch(user.tasksUrl, { headers: from(freshAddress(), bad[1]) }), 401);
  });

  // Issue 15.4: behind one address (a NAT, a campus, a carrier's CGNAT) one client's flood of
  // bad tokens once locked every user of that address out with 429 for 60 s.
  it("a flood of bad tokens from an address does not lock out a valid user behind it", async () => {
    const address = freshAddress();
    const user = newUser(worker.url);
    const other = newUser(worker.url);
    const forged = [
      {}, { Authorization: "Bearer not-a-token" }, { Authorization: `Bearer ${user.token}x` },
      { Authorization: `Bearer ${user.token.replace(/\.[^.]+$/, ".AAAA")}` },
    ];
    const badRequest = (i) => fetch(user.tasksUrl, { headers: from(address, forged[i % forged.length]) });
    // Until the address is refused: five 401s, then 429.
    let i = 0;
    for (; i < 5; i++) await expectError(await badRequest(i), 401);
    const refused = await expectLimited(await badRequest(i++), "the 6th bad token");
    const calls = await callsFor(worker, addressKey(address), refused);
    // During the flood: 200 bad tokens in flight at once beside the user's requests.
    const flood = Array.from({ length: 200 }, (_, n) => badRequest(n));
    const during = Array.from({ length: 10 }, () => user.request("GET", user.tasksUrl, { headers: from(address) }));
    for (const response of await Promise.all(during)) await expectStatus(response, 200, "valid token during the flood");
    for (const response of await Promise.all(flood)) await expectLimited(response, "bad token during the flood");
    // After it: the user's task operations work at once from the refused address.
    const created = JSON.parse(await expectStatus(
      await user.request("POST", user.tasksUrl, { body: { title: "behind the NAT" }, headers: from(address) }), 201, "create"));
    await expectStatus(await user.request("PATCH", `${user.tasksUrl}/${created.id}/complete`, { headers: from(address) }), 200, "complete");
    const list = JSON.parse(await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(address) }), 200, "list"));
    assert.deepEqual(list.map((t) => [t.title, t.completed]), [["behind the NAT", true]]);
    await expectStatus(await user.request("DELETE", `${user.tasksUrl}/${created.id}`, { headers: from(address) }), 204, "delete");
    // Its failures are still refused: bad tokens, and a valid token on another user's path.
    await expectLimited(await badRequest(0), "bad token after the flood");
    const foreign = await user.request("GET", other.tasksUrl, { headers: from(address) });
    await expectLimited(foreign, "a valid token on another user's path");
    // None of the refused requests asked the limiter again: the flood stays cheap.
    assert.deepEqual(await callsFor(worker, addressKey(address), foreign), calls, "no limiter call once refused");
    // Another address is unaffected: its bad token is a 401, its valid one a 200.
    const elsewhere = freshAddress();
    await expectError(await fetch(user.tasksUrl, { headers: from(elsewhere) }), 401);
    await expectStatus(await other.request("GET", other.tasksUrl, { headers: from(elsewhere) }), 200, "another address");
  });

  it("is spent by 401s and 403s only: authenticated requests from the address are never counted", async () => {
    const address = freshAddress();
    const user = newUser(worker.url);
    const other = newUser(worker.url);
    // Ten authenticated requests (twice the budget), including 400s and 404s after auth.
    let last;
    for (let i = 0; i < 2; i++) {
      await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(address) }), 200, `list ${i}`);
      await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: "t" }, headers: from(address) }), 201, `create ${i}`);
      await expectError(await user.request("GET", `${user.tasksUrl}?sort=bogus`, { headers: from(address) }), 400);
      await expectError(await user.request("GET", `${user.tasksUrl}/${crypto.randomUUID()}`, { headers: from(address) }), 404);
      last = await user.request("POST", user.tasksUrl, { body: { title: "" }, headers: from(address) });
      await expectError(last, 400);
    }
    assert.deepEqual(await callsFor(worker, addressKey(address), last), [], "authenticated requests never call the address limiter");
    // Five failures spend the budget: 403s (another user's path) and 401s.
    for (let i = 0; i < 3; i++) await expectError(await user.request("GET", other.tasksUrl, { headers: from(address) }), 403);
    for (let i = 0; i < 2; i++) await expectError(await fetch(user.tasksUrl, { headers: from(address) }), 401);
    await expectLimited(await user.request("GET", other.tasksUrl, { headers: from(address) }), "6th failure, a 403");
    // From then on the address's failures are refused; its valid tokens are not.
    await expectLimited(await fetch(user.tasksUrl, { headers: from(address) }), "a 401 after the refusal");
    await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(address) }), 200, "valid token after the refusal");
  });

  it("is never spent or enforced by /health and OPTIONS", async () => {
    const address = freshAddress();
    const user = newUser(worker.url);
    const noLimit = async () => {
      let last;
      for (let i = 0; i < 7; i++) {
        assert.equal((await drained(await fetch(`${worker.url}/health`, { headers: from(address) }))).status, 200, `health ${i + 1}`);
        const preflight = await drained(await fetch(user.tasksUrl, {
          method: "OPTIONS", headers: from(address, { Origin: ORIGIN, "Access-Control-Request-Method": "GET" }),
        }));
        assert.equal(preflight.status, 204, `preflight ${i + 1}`);
        last = await drained(await fetch(`${user.tasksUrl}/${crypto.randomUUID()}`, { method: "OPTIONS", headers: from(address) }));
        assert.equal(last.status, 204, `OPTIONS ${i + 1}`);
      }
      return last;
    };
    assert.deepEqual(await callsFor(worker, addressKey(address), await noLimit()), [], "no limiter call");
    // The whole budget is still there…
    for (let i = 0; i < 5; i++) await expectError(await fetch(user.tasksUrl, { headers: from(address) }), 401);
    const refused = await expectLimited(await fetch(user.tasksUrl, { headers: from(address) }), "6th");
    const calls = await callsFor(worker, addressKey(address), refused);
    // …and once spent, /health and OPTIONS still answer, without asking the limiter.
    assert.deepEqual(await callsFor(worker, addressKey(address), await noLimit()), calls, "no limiter call once spent");
  });

  it("keys IPv6 clients by their /64: other addresses of the subnet share the budget, the next subnet does not", async () => {
    const user = newUser(worker.url);
    const subnet = freshAddress().replace(/::1$/, "");
    const neighbour = freshAddress();
    // `subnet` is three groups, so `${subnet}:0:…` spells out the fourth: all within one /64.
    const inSubnet = [`${subnet}::1`, `${subnet}:0:ffff:ffff:ffff:ffff`, `${subnet}:0:1:2:3:4`, `${subnet}::abcd`, `${subnet}:0:dead:beef:0:1`];
    for (const address of inSubnet) await expectError(await fetch(user.tasksUrl, { headers: from(address) }), 401);
    await expectLimited(await fetch(user.tasksUrl, { headers: from(`${subnet}:0:5:6:7:8`) }), "a sixth address of the same /64");
    await expectLimited(await fetch(user.tasksUrl, { headers: from(`${subnet}:0:8:9:a:b`) }), "a seventh address of the same /64");
    await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(`${subnet}:0:8:9:a:b`) }), 200, "a valid token from the /64");
    await expectError(await fetch(user.tasksUrl, { headers: from(neighbour) }), 401);
  });

  it("keys IPv4 clients by the exact address", async () => {
    const user = newUser(worker.url);
    const base = `198.51.${crypto.randomInt(0, 256)}`;
    for (let i = 0; i < 5; i++) await expectError(await fetch(user.tasksUrl, { headers: from(`${base}.7`) }), 401);
    await expectLimited(await fetch(user.tasksUrl, { headers: from(`${base}.7`) }), "the sixth failure of the address");
    await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(`${base}.8`) }), 200, "the next address");
  });

  it("without per-user bindings, a user is not limited", async () => {
    const user = newUser(worker.url);
    for (let i = 0; i < 8; i++) {
      await expectStatus(await user.request("GET", user.tasksUrl, { headers: from(freshAddress()) }), 200, `read ${i + 1}`);
    }
    for (let i = 0; i < 4; i++) {
      await expectStatus(await user.request("POST", user.tasksUrl, { body: { title: `t${i}` }, headers: from(freshAddress()) }), 201, `write ${i + 1}`);
    }
  });

  it("under Miniflare, a request without CF-Connecting-IP counts as its socket address, 127.0.0.1", async () => {
    // The only test here without the header: it alone spends this worker's 127.0.0.1 budget.
    const user = newUser(worker.url);
    for (let i = 0; i < 5; i++) await expectError(await fetch(user.tasksUrl), 401);
    await expectLimited(await fetch(user.tasksUrl), "6th without the header");
    await expectLimited(await fetch(user.tasksUrl, { headers: from("127.0.0.1") }), "the header naming 127.0.0.1");
    // CF-Connecting-IP: unknown is another address: a bad token from it is only a 401.
    await expectError(await fetch(user.tasksUrl, { headers: from("unknown") }), 401);
  });
});
