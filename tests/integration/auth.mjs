// Authentication (401) and authorization (403) on every route.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SECRET, forHyperdrive, newUser, startWorker } from "./harness.mjs";
import { expectError, logLineOf, suite } from "./context.mjs";
import { mintToken, signToken } from "../../scripts/token.mjs";
import { fillPath, operations, sampleBody } from "./routes.mjs";

const TASK_ID = "6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6f";
const now = () => Math.floor(Date.now() / 1000);

/** Every operation the OpenAPI document says needs a token, as [method, path, body] for a user
 *  id (a valid body where the operation takes one, so only the token can be refused). */
function routes(userId) {
  const secured = operations().filter((op) => op.secured);
  assert.ok(secured.length > 0, "the document has routes that need a token");
  return secured.map((op) => [op.method, fillPath(op.path, { user_id: userId, id: TASK_ID }), sampleBody(op)]);
}

async function callWith(authorization, method, p, body) {
  const headers = authorization === undefined ? {} : { Authorization: authorization };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(`${suite.base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function expect401(response) {
  // The status first, so a token accepted by mistake fails as "got 200".
  const error = await expectError(response, 401, "unauthorized");
  assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
  return error;
}

describe("authentication", () => {
  it("refuses every route that needs a token without one", async () => {
    for (const [method, p, body] of routes("someone")) await expect401(await callWith(undefined, method, p, body));
  });

  it("serves every route whose operation needs no token without one", async () => {
    const open = operations().filter((op) => !op.secured);
    assert.ok(open.some((op) => op.path === "/health"), "/health is public");
    for (const op of open) {
      const response = await fetch(`${suite.base}${fillPath(op.path, {})}`, { method: op.method });
      assert.equal(response.status, 200, `${op.method} ${op.path}: ${await response.text()}`);
      assert.equal(response.headers.get("www-authenticate"), null, `${op.method} ${op.path}`);
    }
  });

  const userId = "auth-user-1";
  const valid = { sub: userId, exp: now() + 600 };
  const cases = [
    ["an empty header", ""],
    ["a non-Bearer scheme", `Basic ${Buffer.from("a:b").toString("base64")}`],
    ["a bare token without scheme", signToken(valid, SECRET)],
    ["an empty bearer token", "Bearer "],
    ["a malformed token", "Bearer not.a.jwt"],
    ["a token of garbage", "Bearer %%%%"],
    ["a token signed with another secret", `Bearer ${signToken(valid, "another-secret-of-at-least-32-bytes!!")}`],
    ["an expired token", `Bearer ${signToken({ ...valid, exp: now() - 120 }, SECRET)}`],
    ["a token without exp", `Bearer ${signToken({ sub: userId }, SECRET)}`],
    ["a token not valid yet (nbf)", `Bearer ${signToken({ ...valid, nbf: now() + 300 }, SECRET)}`],
    ["alg none", `Bearer ${signToken(valid, SECRET, { alg: "none" }).replace(/[^.]+$/, "")}`],
    ["alg NoNe", `Bearer ${signToken(valid, SECRET, { alg: "NoNe" })}`],
    ["alg HS512 in the header", `Bearer ${signToken(valid, SECRET, { alg: "HS512" })}`],
    ["alg RS256 in the header", `Bearer ${signToken(valid, SECRET, { alg: "RS256" })}`],
    // Explicit typing: Better Auth signs its own HS256 tokens with a header of alg alone.
    ["an HS256 header without typ", `Bearer ${signToken(valid, SECRET, { alg: "HS256" })}`],
    ["an HS256 header with another typ", `Bearer ${signToken(valid, SECRET, { alg: "HS256", typ: "at+jwt" })}`],
    ["a token without sub, user_id or id", `Bearer ${signToken({ exp: now() + 600 }, SECRET)}`],
    ["an empty sub", `Bearer ${signToken({ sub: "", exp: now() + 600 }, SECRET)}`],
    ["a sub with forbidden characters", `Bearer ${signToken({ sub: "a/b", exp: now() + 600 }, SECRET)}`],
    ["a sub of 129 characters", `Bearer ${signToken({ sub: "a".repeat(129), exp: now() + 600 }, SECRET)}`],
    ["a numeric sub", `Bearer ${signToken({ sub: 12, exp: now() + 600 }, SECRET)}`],
    ["a tampered payload", (() => {
      const [h, , s] = signToken(valid, SECRET).split(".");
      return `Bearer ${h}.${Buffer.from(JSON.stringify({ sub: "admin", exp: now() + 600 })).toString("base64url")}.${s}`;
    })()],
  ];
  for (const [name, authorization] of cases) {
    it(`refuses ${name} with 401`, async () => {
      await expect401(await callWith(authorization, "GET", `/api/${userId}/tasks`));
    });
  }

  // A signed nbf at chrono's earliest instant once overflowed in the verifier and panicked,
  // aborting the isolate: the requests in flight beside it never got an answer (the test then
  // times out).
  it("refuses signed time claims at the extremes with 401 while other requests on the isolate finish", { timeout: 30_000 }, async () => {
    const user = newUser(suite.base);
    const extremes = [
      { nbf: -8334601228800 }, { nbf: -9223372036854775808n }, { exp: 9223372036854775807n },
      { iat: -8334601228800 }, { exp: 8210298412799 }, { nbf: 1e300 }, { exp: -1 },
    ];
    const tokenFor = (extra) => {
      // BigInt keeps i64's bounds exact in the JSON text.
      const claims = JSON.stringify({ sub: user.id, exp: now() + 600, ...extra }, (_, v) =>
        typeof v === "bigint" ? `@@${v}@@` : v).replace(/"@@(-?\d+)@@"/g, "$1");
      const b64 = (text) => Buffer.from(text).toString("base64url");
      const input = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64(claims)}`;
      return `${input}.${crypto.createHmac("sha256", SECRET).update(input).digest("base64url")}`;
    };
    const valid = Array.from({ length: 20 }, () => user.request("GET", `/api/${user.id}/tasks`));
    const hostile = extremes.map((extra) =>
      callWith(`Bearer ${tokenFor(extra)}`, "GET", `/api/${user.id}/tasks`));
    const [answers, refusals] = await Promise.all([Promise.all(valid), Promise.all(hostile)]);
    for (const response of answers) assert.equal(response.status, 200);
    for (const response of refusals) await expect401(response);
  });

  // RFC 7515 §4.1.11: a recipient must reject a token whose `crit` lists an extension it does
  // not understand, and the worker understands none; RFC 7797's `b64: false` changes what the
  // signature covers. Each token below is correctly signed with the secret over its header.
  it("refuses a correctly signed HS256 token whose header has crit or b64 false with 401", async () => {
    const user = newUser(suite.base);
    const claims = { sub: user.id, exp: now() + 600 };
    const headers = [
      [{ alg: "HS256", typ: "JWT", crit: ["x-unknown"], "x-unknown": 1 }, /crit/],
      [{ alg: "HS256", typ: "JWT", crit: ["b64"], b64: false }, /crit/],
      [{ alg: "HS256", typ: "JWT", crit: [] }, /crit/],
      [{ alg: "HS256", typ: "JWT", b64: false }, /b64/],
    ];
    for (const [header, reason] of headers) {
      const response = await callWith(`Bearer ${signToken(claims, SECRET, header)}`, "GET", `/api/${user.id}/tasks`);
      const error = await expect401(response);
      assert.match(error.message, reason, JSON.stringify(header));
    }
    // `b64: true` is the default encoding: the same token is accepted with it.
    const plain = signToken(claims, SECRET, { alg: "HS256", typ: "JWT", b64: true });
    assert.equal((await callWith(`Bearer ${plain}`, "GET", `/api/${user.id}/tasks`)).status, 200);
  });

  it("accepts a token within the 60 s leeway and a nbf in the past", async () => {
    const token = signToken({ sub: userId, exp: now() - 30, nbf: now() - 10 }, SECRET);
    assert.equal((await callWith(`Bearer ${token}`, "GET", `/api/${userId}/tasks`)).status, 200);
  });

  it("falls back from sub to user_id to id", async () => {
    for (const claims of [{ user_id: "fallback-a" }, { id: "fallback-b" }]) {
      const id = claims.user_id ?? claims.id;
      const token = signToken({ ...claims, exp: now() + 600 }, SECRET);
      assert.equal((await callWith(`Bearer ${token}`, "GET", `/api/${id}/tasks`)).status, 200, id);
    }
  });

  it("accepts Better Auth's 32-character ids and UUIDs", async () => {
    for (const id of [crypto.randomBytes(24).toString("base64url").slice(0, 32), crypto.randomUUID()]) {
      const token = signToken({ sub: id, exp: now() + 600 }, SECRET);
      assert.equal((await callWith(`Bearer ${token}`, "GET", `/api/${id}/tasks`)).status, 200, id);
    }
  });

  it("matches a percent-encoded user id in the path", async () => {
    const id = `oauth:${crypto.randomUUID()}@example`;
    const token = signToken({ sub: id, exp: now() + 600 }, SECRET);
    const response = await callWith(`Bearer ${token}`, "GET", `/api/${encodeURIComponent(id)}/tasks`);
    assert.equal(response.status, 200);
  });
});

describe("authorization", () => {
  it("answers 403 on every route when the path names another user", async () => {
    const user = newUser(suite.base);
    for (const [method, p, body] of routes("somebody-else")) {
      await expectError(await callWith(`Bearer ${user.token}`, method, p, body), 403, "forbidden");
    }
  });

  it("decides 403 before validating the task id or body", async () => {
    const user = newUser(suite.base);
    const response = await user.request("PUT", "/api/somebody-else/tasks/not-a-uuid", { raw: "{" });
    await expectError(response, 403, "forbidden");
  });
});

describe("JWT_SECRET, the HS256 secret of its own", () => {
  const JWT_SECRET = crypto.randomBytes(32).toString("base64url");
  const configs = {
    alone: { JWT_SECRET },
    // Better Auth's secret still set beside it (a migration): it verifies nothing any more.
    beside: { JWT_SECRET, BETTER_AUTH_SECRET: SECRET },
    same: { JWT_SECRET: SECRET, BETTER_AUTH_SECRET: SECRET },
    short: { JWT_SECRET: "x".repeat(31), BETTER_AUTH_SECRET: SECRET },
  };
  const workers = {};
  before(async () => {
    await Promise.all(Object.entries(configs).map(async ([name, bindings]) => {
      workers[name] = await startWorker({ databaseUrl: forHyperdrive(suite.db.url), bindings });
    }));
  });
  after(async () => {
    await Promise.all(Object.values(workers).map((worker) => worker.dispose()));
  });

  const call = (worker, secret, userId) => fetch(`${worker.url}/api/${userId}/tasks`, {
    headers: { Authorization: `Bearer ${mintToken({ userId, secret })}` },
  });

  it("verifies HS256 tokens with JWT_SECRET, and no longer with BETTER_AUTH_SECRET beside it", async () => {
    const userId = `jwt-secret-${crypto.randomUUID()}`;
    for (const name of ["alone", "beside"]) {
      assert.equal((await call(workers[name], JWT_SECRET, userId)).status, 200, name);
      const error = await expect401(await call(workers[name], SECRET, userId));
      assert.equal(error.message, "the token's signature is invalid", name);
    }
  });

  it("fails closed when JWT_SECRET equals BETTER_AUTH_SECRET or is shorter than 32 bytes", async () => {
    const userId = `jwt-secret-${crypto.randomUUID()}`;
    for (const [name, cause] of [["same", /^JWT_SECRET equals BETTER_AUTH_SECRET/], ["short", /^JWT_SECRET is shorter than 32 bytes/]]) {
      const response = await call(workers[name], SECRET, userId);
      const line = await logLineOf(workers[name], response);
      const error = await expectError(response, 500, "server_misconfigured");
      assert.doesNotMatch(error.message, /SECRET/, name);
      assert.match(line.cause, cause, name);
      assert.equal((await fetch(`${workers[name].url}/health`)).status, 200, name);
    }
  });
});
