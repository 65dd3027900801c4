// CORS: with CORS_ALLOWED_ORIGINS set, every response (errors included) varies on Origin and
// names an allowed origin back with the headers a browser script may read; preflights on every
// route answer without a token. The default worker (no variable) and a worker whose variable is
// malformed send no CORS headers at all.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { SECRET, forHyperdrive, newUser, startProxy, startWorker } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";
import { allowedMethods, fillPath, methodList, paths, responseHeaders } from "./routes.mjs";

const ORIGINS = "https://app.example.com, https://*.example.app";
const ALLOWED = ["https://app.example.com", "https://preview-42.example.app", "https://a.b.example.app"];
const DISALLOWED = ["https://example.app", "https://evil.test", "null", "http://app.example.com"];
const EXPOSED = ["ETag", "Link", "Location", "Retry-After", "X-Request-Id", "Idempotent-Replayed", "WWW-Authenticate"];
const ALLOWED_REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match"];

const tokens = (value) => (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
const accessControlHeaders = (response) => [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));

/** Asserts the CORS headers of a non-preflight response to an allowed `origin`. */
function expectCors(response, origin, what) {
  assert.equal(response.headers.get("access-control-allow-origin"), origin, `${what}: Allow-Origin`);
  assert.ok(tokens(response.headers.get("vary")).includes("origin"), `${what}: Vary ${response.headers.get("vary")}`);
  const exposed = tokens(response.headers.get("access-control-expose-headers"));
  // The ones the OpenAPI document describes, and those it does not (X-Request-Id, Idempotent-Replayed).
  for (const name of new Set([...responseHeaders(), ...EXPOSED])) {
    assert.ok(exposed.includes(name.toLowerCase()), `${what}: exposes ${name} (${exposed})`);
  }
  assert.equal(response.headers.get("access-control-allow-credentials"), null, `${what}: no credentials`);
}

/** Asserts no Access-Control-* header; `vary` says whether `Vary: Origin` must be there. */
function expectNoCors(response, { vary }, what) {
  assert.deepEqual(accessControlHeaders(response), [], `${what}: no Access-Control-* headers`);
  assert.equal(tokens(response.headers.get("vary")).includes("origin"), vary, `${what}: Vary ${response.headers.get("vary")}`);
}

/** Reads the body (so the connection is released) and returns the response. */
async function drained(response) {
  await response.arrayBuffer();
  return response;
}

/** POSTs to the user's tasks over a raw connection with `Content-Length: length` and no body,
 *  and returns the answer as a fetch `Response`. */
function declaredOnly(user, headers, length) {
  const { hostname, port } = new URL(user.tasksUrl);
  const socket = net.connect({ host: hostname, port: Number(port) });
  const lines = Object.entries({ ...headers, Authorization: `Bearer ${user.token}` })
    .map(([name, value]) => `${name}: ${value}\r\n`).join("");
  socket.write(`POST ${new URL(user.tasksUrl).pathname} HTTP/1.1\r\nHost: ${hostname}\r\n${lines}` +
    `Content-Length: ${length}\r\nConnection: close\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let data = "";
    socket.setEncoding("latin1");
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      data += chunk;
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...fields] = data.slice(0, end).split("\r\n");
      const head = new Headers();
      for (const field of fields) {
        const colon = field.indexOf(":");
        head.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
      }
      const length = Number(head.get("content-length") ?? -1);
      const body = data.slice(end + 4);
      if (length >= 0 && body.length < length) return;
      socket.destroy();
      resolve(new Response(body, { status: Number(statusLine.split(" ")[1]), headers: head }));
    });
  });
}

const corsBindings = { BETTER_AUTH_SECRET: SECRET, CORS_ALLOWED_ORIGINS: ORIGINS };

describe("CORS with CORS_ALLOWED_ORIGINS set", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ databaseUrl: forHyperdrive(suite.db.url), bindings: corsBindings });
  });
  after(() => worker?.dispose());

  /** One request per status, each sent with `Origin: origin`. */
  function statusCases(origin) {
    const user = newUser(worker.url);
    const other = newUser(worker.url);
    const h = (extra = {}) => ({ Origin: origin, ...extra });
    const created = () => user.create({ title: "cors" });
    return [
      [200, "GET list", () => user.request("GET", user.tasksUrl, { headers: h() })],
      [200, "GET /health", () => fetch(`${worker.url}/health`, { headers: h() })],
      [201, "POST", () => user.request("POST", user.tasksUrl, { body: { title: "new" }, headers: h() })],
      [204, "DELETE", async () => user.request("DELETE", `${user.tasksUrl}/${(await created()).id}`, { headers: h() })],
      [304, "GET If-None-Match", async () => {
        const url = `${user.tasksUrl}/${(await created()).id}`;
        const etag = (await drained(await user.request("GET", url))).headers.get("etag");
        return user.request("GET", url, { headers: h({ "If-None-Match": etag }) });
      }],
      [400, "bad query", () => user.request("GET", `${user.tasksUrl}?sort=bogus`, { headers: h() })],
      [401, "bad token", () => fetch(user.tasksUrl, { headers: h({ Authorization: "Bearer not-a-token" }) })],
      [401, "no token", () => fetch(user.tasksUrl, { headers: h() })],
      [403, "another user's path", () => user.request("GET", other.tasksUrl, { headers: h() })],
      [404, "unknown task", () => user.request("GET", `${user.tasksUrl}/${crypto.randomUUID()}`, { headers: h() })],
      [404, "unknown route", () => fetch(`${worker.url}/nowhere`, { headers: h() })],
      [405, "PATCH on the list", () => user.request("PATCH", user.tasksUrl, { body: {}, headers: h() })],
      [412, "stale If-Match", async () => user.request("PUT", `${user.tasksUrl}/${(await created()).id}`, {
        body: { title: "x" }, headers: h({ "If-Match": '"not-the-current-one"' }),
      })],
      // Declared over 64 KiB, with the body never sent: the worker answers from the declared
      // length. (Sending the body races the early answer: the worker replies and closes with
      // bytes unread, and the reset can take the response with it.)
      [413, "body over 64 KiB", () => declaredOnly(user, h({ "Content-Type": "application/json" }), 64 * 1024 + 1)],
      [422, "Idempotency-Key reused", async () => {
        const key = crypto.randomUUID();
        const first = await user.request("POST", user.tasksUrl, { body: { title: "one" }, headers: { "Idempotency-Key": key } });
        assert.equal((await drained(first)).status, 201);
        return user.request("POST", user.tasksUrl, { body: { title: "two" }, headers: h({ "Idempotency-Key": key }) });
      }],
    ];
  }

  for (const origin of ALLOWED) {
    it(`names ${origin} back on every status, with Vary and Expose-Headers`, async () => {
      for (const [status, what, send] of statusCases(origin)) {
        const response = await drained(await send());
        assert.equal(response.status, status, `${what}: status`);
        expectCors(response, origin, `${what} (${status})`);
        assert.notEqual(response.headers.get("access-control-allow-origin"), "*");
      }
    });
  }

  it("the Link of a paged list is readable from an allowed origin", async () => {
    const user = newUser(worker.url);
    for (const title of ["a", "b"]) await user.create({ title });
    const response = await drained(await user.request("GET", `${user.tasksUrl}?limit=1`, { headers: { Origin: ALLOWED[0] } }));
    assert.match(response.headers.get("link") ?? "", /rel="next"/);
    expectCors(response, ALLOWED[0], "paged list");
  });

  it("sends no Access-Control-* headers to other origins or without Origin, but still Vary: Origin", async () => {
    const user = newUser(worker.url);
    const task = await user.create();
    for (const origin of [...DISALLOWED, undefined]) {
      const headers = origin === undefined ? {} : { Origin: origin };
      const what = origin ?? "no Origin";
      const cases = [
        [200, user.request("GET", user.tasksUrl, { headers })],
        [200, user.request("GET", `${user.tasksUrl}/${task.id}`, { headers })],
        [201, user.request("POST", user.tasksUrl, { body: { title: "t" }, headers })],
        [401, fetch(user.tasksUrl, { headers })],
        [404, fetch(`${worker.url}/nowhere`, { headers })],
        [200, fetch(`${worker.url}/health`, { headers })],
      ];
      for (const [status, pending] of cases) {
        const response = await drained(await pending);
        assert.equal(response.status, status, what);
        expectNoCors(response, { vary: true }, `${what} (${status})`);
      }
    }
  });

  /** Every documented path, with a URL for `user` and the methods `Allow` must list. */
  const routes = (user) => paths().map((path) => [
    path, `${worker.url}${fillPath(path, { user_id: user.id, id: crypto.randomUUID() })}`, allowedMethods(path),
  ]);

  it("answers preflights on every route without a token: 204, Allow and the Access-Control-Allow-* set", async () => {
    const user = newUser(worker.url);
    for (const origin of ALLOWED.slice(0, 2)) {
      for (const [name, url, allow] of routes(user)) {
        const response = await drained(await fetch(url, {
          method: "OPTIONS",
          headers: {
            Origin: origin, "Access-Control-Request-Method": allow.at(-1),
            "Access-Control-Request-Headers": "authorization, content-type",
          },
        }));
        const what = `preflight ${name} from ${origin}`;
        assert.equal(response.status, 204, what);
        assert.deepEqual(methodList(response.headers.get("allow")), allow, `${what}: Allow`);
        assert.equal(response.headers.get("access-control-allow-origin"), origin, `${what}: Allow-Origin`);
        assert.equal(response.headers.get("access-control-allow-methods"), response.headers.get("allow"), `${what}: Allow-Methods = Allow`);
        const allowedHeaders = tokens(response.headers.get("access-control-allow-headers"));
        for (const header of ALLOWED_REQUEST_HEADERS) assert.ok(allowedHeaders.includes(header.toLowerCase()), `${what}: allows ${header}`);
        assert.equal(response.headers.get("access-control-max-age"), "600", `${what}: Max-Age`);
        assert.ok(tokens(response.headers.get("vary")).includes("origin"), `${what}: Vary`);
        assert.equal(response.headers.get("access-control-allow-credentials"), null);
      }
    }
  });

  it("answers preflights from other origins with 204 and Allow, without Access-Control-* headers", async () => {
    const user = newUser(worker.url);
    for (const origin of DISALLOWED) {
      for (const [name, url, allow] of routes(user)) {
        const response = await drained(await fetch(url, {
          method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": allow[0] },
        }));
        const what = `preflight ${name} from ${origin}`;
        assert.equal(response.status, 204, what);
        assert.deepEqual(methodList(response.headers.get("allow")), allow, `${what}: Allow`);
        expectNoCors(response, { vary: true }, what);
      }
    }
  });
});

describe("CORS on server-side failures", () => {
  let proxy, downWorker, unconfigured;
  before(async () => {
    proxy = await startProxy(suite.db.url);
    await proxy.set("down");
    [downWorker, unconfigured] = await Promise.all([
      // The database unreachable, and a read budget of one request per user.
      startWorker({
        databaseUrl: forHyperdrive(suite.db.url, { port: proxy.port }),
        bindings: corsBindings,
        limits: { READ_RATE_LIMITER: 1, WRITE_RATE_LIMITER: 1000, ADDRESS_RATE_LIMITER: 1000 },
      }),
      // CORS configured, authentication not.
      startWorker({ databaseUrl: forHyperdrive(suite.db.url), bindings: { CORS_ALLOWED_ORIGINS: ORIGINS } }),
    ]);
  });
  after(async () => {
    await downWorker?.dispose();
    await unconfigured?.dispose();
    await proxy?.close();
  });

  it("503 database_unavailable (and the 503 health check) carry the CORS headers", async () => {
    for (const origin of ALLOWED.slice(0, 2)) {
      const user = newUser(downWorker.url);
      const response = await user.request("POST", user.tasksUrl, { body: { title: "t" }, headers: { Origin: origin } });
      const cors = response.clone();
      await expectError(response, 503, "database_unavailable");
      expectCors(cors, origin, "503");
      const health = await drained(await fetch(`${downWorker.url}/health`, { headers: { Origin: origin } }));
      assert.equal(health.status, 503);
      expectCors(health, origin, "503 health");
    }
  });

  it("429 rate_limited carries the CORS headers", async () => {
    for (const origin of ALLOWED.slice(0, 2)) {
      const user = newUser(downWorker.url);
      // The one read of the budget reaches the (unreachable) database…
      assert.equal((await drained(await user.request("GET", user.tasksUrl, { headers: { Origin: origin } }))).status, 503);
      // …the next is over budget.
      const response = await user.request("GET", user.tasksUrl, { headers: { Origin: origin } });
      const cors = response.clone();
      await expectError(response, 429, "rate_limited");
      expectCors(cors, origin, "429");
      assert.equal(cors.headers.get("retry-after"), "60");
      const elsewhere = await drained(await user.request("GET", user.tasksUrl, { headers: { Origin: "https://evil.test" } }));
      assert.equal(elsewhere.status, 429);
      expectNoCors(elsewhere, { vary: true }, "429 to another origin");
    }
  });

  it("500 server_misconfigured carries the CORS headers", async () => {
    for (const origin of ALLOWED.slice(0, 2)) {
      const user = newUser(unconfigured.url);
      const response = await user.request("GET", user.tasksUrl, { headers: { Origin: origin } });
      const cors = response.clone();
      await expectError(response, 500, "server_misconfigured");
      expectCors(cors, origin, "500");
    }
    const other = await drained(await fetch(`${unconfigured.url}/api/someone/tasks`, { headers: { Origin: "https://evil.test" } }));
    assert.equal(other.status, 500);
    expectNoCors(other, { vary: true }, "500 to another origin");
  });
});

describe("CORS off", () => {
  it("the default worker (no CORS_ALLOWED_ORIGINS) sends no CORS headers and no Vary: Origin", async () => {
    const user = newUser(suite.base);
    const task = await user.create();
    for (const origin of [ALLOWED[0], ALLOWED[1], "https://evil.test", undefined]) {
      const headers = origin === undefined ? {} : { Origin: origin };
      for (const pending of [
        user.request("GET", user.tasksUrl, { headers }),
        user.request("GET", `${user.tasksUrl}/${task.id}`, { headers }),
        fetch(user.tasksUrl, { headers }),
        fetch(`${suite.base}/health`, { headers }),
        fetch(user.tasksUrl, { method: "OPTIONS", headers: { ...headers, "Access-Control-Request-Method": "POST" } }),
      ]) {
        const response = await drained(await pending);
        assert.ok([200, 204, 401].includes(response.status), `status ${response.status}`);
        expectNoCors(response, { vary: false }, `${origin ?? "no Origin"} ${response.status}`);
      }
    }
  });

  for (const value of ["example.com", "https://app.example.com, example.com"]) {
    it(`a malformed CORS_ALLOWED_ORIGINS (${JSON.stringify(value)}) turns CORS off; the API still works`, async () => {
      const worker = await startWorker({
        databaseUrl: forHyperdrive(suite.db.url),
        bindings: { BETTER_AUTH_SECRET: SECRET, CORS_ALLOWED_ORIGINS: value },
      });
      try {
        const user = newUser(worker.url);
        const created = await user.request("POST", user.tasksUrl, { body: { title: "still up" }, headers: { Origin: ALLOWED[0] } });
        assert.equal(created.status, 201);
        expectNoCors(await drained(created), { vary: false }, "201");
        const list = await user.request("GET", user.tasksUrl, { headers: { Origin: ALLOWED[0] } });
        assert.equal(list.status, 200);
        assert.deepEqual((await list.json()).map((t) => t.title), ["still up"]);
        expectNoCors(list, { vary: false }, "200");
        const preflight = await drained(await fetch(user.tasksUrl, {
          method: "OPTIONS", headers: { Origin: ALLOWED[0], "Access-Control-Request-Method": "GET" },
        }));
        assert.equal(preflight.status, 204);
        expectNoCors(preflight, { vary: false }, "preflight");
        assert.equal((await drained(await fetch(`${worker.url}/health`))).status, 200);
      } finally {
        await worker.dispose();
      }
    });
  }
});
