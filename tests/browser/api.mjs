// A front end in a real browser: a page on its own origin (servers.mjs), allowed by the worker's
// CORS_ALLOWED_ORIGINS, signs up and in with Better Auth's own client (`better-auth/client` and
// its JWT plugin, against the stock server of scripts/better-auth.mjs, mounted on the page's
// origin), takes the JWT and calls the API through clients/typescript — every call below runs
// in page JavaScript, under Chromium's CORS enforcement. The counting proxy in front of the
// worker says what the browser actually sent (preflights included); the worker's log lines,
// found by the X-Request-Id the page read, say what the worker decided.
//
// No request interception on these pages: Playwright answers CORS preflights itself when a
// route is set, which would hide the worker's own answers.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { GENEROUS_LIMITS, forHyperdrive, freePort, startWorker } from "../integration/harness.mjs";
import { startBetterAuth } from "../../scripts/better-auth.mjs";
import { bundlePage, startCountingProxy, startPageServer } from "./servers.mjs";
import { settled, suite, watch } from "./context.mjs";

// A JWKS-only worker needs its own cursor key.
const CURSOR_SECRET = crypto.randomBytes(32).toString("base64url");
const decode = (token, part) => JSON.parse(Buffer.from(token.split(".")[part], "base64url").toString());

describe("a front end on another origin, in Chromium", () => {
  let front, stranger, ba, worker, api, strained, context, page, problems;
  let user; // { id, email, token } as the page signed in

  before(async () => {
    const script = await bundlePage();
    await settled(startPageServer(script).then((s) => (front = s)), startPageServer(script).then((s) => (stranger = s)));
    // Better Auth refuses sign-ups and sign-ins from origins it does not trust.
    ba = await startBetterAuth({ options: { trustedOrigins: [front.origin] } });
    front.authTarget(ba.url);
    const bindings = { BETTER_AUTH_URL: ba.url, CURSOR_SECRET, CORS_ALLOWED_ORIGINS: front.origin };
    // The API the page calls, behind the counting proxy; and a strained one for 429 and 503: a
    // read budget of one request per user, and a database that refuses connections.
    const closedPort = await freePort();
    await settled(
      startWorker({ databaseUrl: forHyperdrive(suite.db.url), bindings }).then((w) => (worker = w)),
      startWorker({
        databaseUrl: forHyperdrive(suite.db.url, { port: closedPort }),
        bindings,
        limits: { ...GENEROUS_LIMITS, READ_RATE_LIMITER: 1 },
      }).then((w) => (strained = w)),
    );
    api = await startCountingProxy(worker.url);

    context = await suite.browser.newContext();
    page = await context.newPage();
    problems = watch(page, { ignore: (text) => /Failed to load resource|blocked by CORS policy/.test(text) });
    await page.goto(`${front.origin}/`);
    await page.waitForFunction(() => window.frontEnd !== undefined);

    // Sign up, sign out, sign in, take the JWT: Better Auth's client, from the page.
    const email = `browser-${crypto.randomBytes(6).toString("hex")}@example.test`;
    user = await page.evaluate(async ({ email, baseUrl }) => {
      const { auth, createTaskClient, cachedToken, jwt } = window.frontEnd;
      const password = "correct horse battery staple";
      const signedUp = await auth.signUp.email({ email, password, name: "Browser User" });
      if (signedUp.error) throw new Error(`sign-up: ${signedUp.error.message}`);
      await auth.signOut();
      const signedIn = await auth.signIn.email({ email, password });
      if (signedIn.error) throw new Error(`sign-in: ${signedIn.error.message}`);
      const token = await jwt();
      // The app's client: the token from Better Auth, kept until the API refuses it.
      window.app = { userId: signedIn.data.user.id, baseUrl, client: createTaskClient({ baseUrl, token: cachedToken(jwt) }) };
      return { id: signedIn.data.user.id, email, token };
    }, { email, baseUrl: api.origin });
  });

  after(async () => {
    await context?.close();
    await Promise.all([worker?.dispose(), strained?.dispose()]);
    await Promise.all([api?.close(), front?.close(), stranger?.close(), ba?.close()]);
  });

  /** The worker's log line of a response the page read (by its X-Request-Id), checked against
   *  the status the page saw. */
  async function logged(seen, on = worker) {
    assert.match(seen.requestId ?? "", /\S/, `X-Request-Id readable: ${JSON.stringify(seen)}`);
    const line = await on.requestLog(seen.requestId);
    assert.equal(line.status, seen.status, JSON.stringify(line));
    return line;
  }

  it("signs up and in with Better Auth's client and takes its JWT", async () => {
    const header = decode(user.token, 0);
    const claims = decode(user.token, 1);
    assert.equal(header.alg, "EdDSA", "Better Auth's default key");
    assert.equal(claims.sub, user.id);
    assert.equal(claims.email, user.email);
    assert.equal(claims.iss, ba.url);
  });

  it("calls every route through the typed client: create, list, get, update, complete (set and toggle), delete", async () => {
    const seen = await page.evaluate(async () => {
      const { read, ok } = window.frontEnd;
      const { client, userId } = window.app;
      const user = { user_id: userId };
      const out = {};
      const created = await client.POST("/api/{user_id}/tasks", { params: { path: user }, body: { title: "from the browser", description: "via openapi-fetch" } });
      const task = ok(created);
      out.create = { ...read(created.response), task };
      const id = { ...user, id: task.id };
      const listed = await client.GET("/api/{user_id}/tasks", { params: { path: user } });
      out.list = { ...read(listed.response), ids: ok(listed).map((t) => t.id) };
      const got = await client.GET("/api/{user_id}/tasks/{id}", { params: { path: id } });
      out.get = { ...read(got.response), task: ok(got) };
      const updated = await client.PUT("/api/{user_id}/tasks/{id}", { params: { path: id }, body: { title: "renamed in the browser" } });
      out.update = { ...read(updated.response), task: ok(updated) };
      const set = await client.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path: id }, body: { completed: true } });
      out.set = { ...read(set.response), task: ok(set) };
      const toggled = await client.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path: id } });
      out.toggle = { ...read(toggled.response), task: ok(toggled) };
      const deleted = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path: id } });
      out.delete = read(deleted.response);
      const gone = await client.GET("/api/{user_id}/tasks/{id}", { params: { path: id } });
      out.gone = { ...read(gone.response), error: gone.error };
      return out;
    });
    const { task } = seen.create;
    assert.equal(seen.create.status, 201);
    assert.equal(task.title, "from the browser");
    assert.equal(task.user_id, user.id);
    assert.equal(seen.create.location, `/api/${user.id}/tasks/${task.id}`, "Location readable");
    assert.match(seen.create.etag ?? "", /^"v\d+"$/, "ETag readable");
    assert.deepEqual(seen.list.ids, [task.id]);
    assert.equal(seen.list.status, 200);
    assert.deepEqual(seen.get.task, task);
    assert.equal(seen.get.etag, seen.create.etag);
    assert.equal(seen.update.task.title, "renamed in the browser");
    assert.notEqual(seen.update.etag, seen.get.etag, "a change moves the ETag");
    assert.equal(seen.set.task.completed, true);
    assert.equal(seen.toggle.task.completed, false, "an empty PATCH toggles");
    assert.equal(seen.delete.status, 204);
    assert.equal(seen.gone.status, 404);
    assert.equal(seen.gone.error?.error?.code, "not_found");
    // What CORS lets a script see: the safelisted headers and exactly the exposed ones present.
    for (const name of ["etag", "location", "x-request-id"]) assert.ok(seen.create.names.includes(name), `${name} in ${seen.create.names}`);
    assert.ok(!seen.create.names.includes("vary") && !seen.create.names.includes("access-control-allow-origin"), `unexposed headers stay hidden: ${seen.create.names}`);
    for (const step of Object.values(seen)) await logged(step);
  });

  it("pages by following Link until it ends, and the typed client's listAllTasks gets the same", async () => {
    const titles = ["page 1", "page 2", "page 3", "page 4", "page 5"];
    const seen = await page.evaluate(async (titles) => {
      const { read, ok, listAllTasks } = window.frontEnd;
      const { client, userId } = window.app;
      const path = { user_id: userId };
      for (const title of titles) ok(await client.POST("/api/{user_id}/tasks", { params: { path }, body: { title } }));
      const query = { q: "page ", sort: "title", limit: 2 };
      // By hand, as any script would: the first page, then each Link, until there is none.
      const first = await client.GET("/api/{user_id}/tasks", { params: { path, query } });
      const pages = [{ ...read(first.response), titles: ok(first).map((t) => t.title) }];
      const token = await window.frontEnd.jwt();
      for (let link = pages[0].link; link;) {
        const next = /^<([^>]+)>; rel="next"$/.exec(link)[1];
        const response = await fetch(next, { headers: { Authorization: `Bearer ${token}` } });
        const body = await response.json();
        pages.push({ ...read(response), url: next, titles: body.map((t) => t.title) });
        link = pages.at(-1).link;
      }
      const all = (await listAllTasks(client, userId, query)).map((t) => t.title);
      return { pages, all };
    }, titles);
    assert.deepEqual(seen.pages.map((p) => p.titles), [["page 1", "page 2"], ["page 3", "page 4"], ["page 5"]]);
    assert.equal(seen.pages.at(-1).link, null, "the last page has no Link");
    assert.deepEqual(seen.all, titles);
    // Each Link led back through the API's origin, and the browser fetched exactly those URLs:
    // twice (by hand, then listAllTasks), each with the cursor the page before gave.
    const nexts = seen.pages.slice(1).map((p) => p.url);
    for (const url of nexts) {
      assert.equal(new URL(url).origin, api.origin);
      assert.match(url, /[?&]cursor=/);
    }
    const fetched = api.requests((r) => r.method === "GET" && r.path === `/api/${user.id}/tasks` && r.url.includes("cursor="))
      .map((r) => `${api.origin}${r.url}`);
    assert.deepEqual(fetched, [...nexts, ...nexts]);
    // The preflight cache is per URL: each new cursor URL cost one preflight, its second fetch none.
    const preflighted = api.requests((r) => r.method === "OPTIONS" && r.path === `/api/${user.id}/tasks` && r.url.includes("cursor="))
      .map((r) => `${api.origin}${r.url}`);
    assert.deepEqual(preflighted, nexts);
  });

  it("ETag and If-Match from the page: 304 on If-None-Match, 412 with the current ETag, and no change", async () => {
    const seen = await page.evaluate(async () => {
      const { read, ok } = window.frontEnd;
      const { client, userId } = window.app;
      const created = await client.POST("/api/{user_id}/tasks", { params: { path: { user_id: userId } }, body: { title: "versioned" } });
      const task = ok(created);
      const path = { user_id: userId, id: task.id };
      const v1 = created.response.headers.get("ETag");
      const notModified = await client.GET("/api/{user_id}/tasks/{id}", { params: { path }, headers: { "If-None-Match": v1 } });
      const updated = await client.PUT("/api/{user_id}/tasks/{id}", { params: { path }, headers: { "If-Match": v1 }, body: { title: "second version" } });
      const stale = await client.PUT("/api/{user_id}/tasks/{id}", { params: { path }, headers: { "If-Match": v1 }, body: { title: "lost update" } });
      const staleToggle = await client.PATCH("/api/{user_id}/tasks/{id}/complete", { params: { path }, headers: { "If-Match": v1 } });
      const staleDelete = await client.DELETE("/api/{user_id}/tasks/{id}", { params: { path }, headers: { "If-Match": v1 } });
      const after = await client.GET("/api/{user_id}/tasks/{id}", { params: { path } });
      return {
        v1,
        notModified: read(notModified.response),
        updated: { ...read(updated.response), task: ok(updated) },
        stale: { ...read(stale.response), error: stale.error },
        staleToggle: { ...read(staleToggle.response), error: staleToggle.error },
        staleDelete: { ...read(staleDelete.response), error: staleDelete.error },
        after: { ...read(after.response), task: ok(after) },
      };
    });
    assert.equal(seen.notModified.status, 304);
    assert.equal(seen.notModified.etag, seen.v1, "a 304 carries the ETag");
    assert.equal(seen.updated.status, 200);
    assert.notEqual(seen.updated.etag, seen.v1);
    for (const refused of [seen.stale, seen.staleToggle, seen.staleDelete]) {
      assert.equal(refused.status, 412);
      assert.equal(refused.error?.error?.code, "precondition_failed");
      assert.equal(refused.etag, seen.updated.etag, "the 412 names the current version");
      assert.match(refused.contentType ?? "", /^application\/json/);
      await logged(refused);
    }
    assert.equal(seen.after.task.title, "second version", "nothing changed after the 412s");
    assert.equal(seen.after.task.completed, false);
    assert.equal(seen.after.etag, seen.updated.etag);
  });

  it("replays a create with the same Idempotency-Key: the same task, Idempotent-Replayed readable", async () => {
    const seen = await page.evaluate(async () => {
      const { read, ok } = window.frontEnd;
      const { client, userId } = window.app;
      const path = { user_id: userId };
      const key = `browser-${crypto.randomUUID()}`;
      const send = () => client.POST("/api/{user_id}/tasks", { params: { path }, headers: { "Idempotency-Key": key }, body: { title: "exactly once" } });
      const first = await send();
      const again = await send();
      const listed = await client.GET("/api/{user_id}/tasks", { params: { path, query: { q: "exactly once" } } });
      return {
        first: { ...read(first.response), task: ok(first) },
        again: { ...read(again.response), task: ok(again) },
        count: ok(listed).length,
      };
    });
    assert.equal(seen.first.status, 201);
    assert.equal(seen.first.replayed, null);
    assert.equal(seen.again.status, 201);
    assert.equal(seen.again.replayed, "true");
    assert.deepEqual(seen.again.task, seen.first.task);
    assert.equal(seen.again.location, seen.first.location);
    assert.equal(seen.again.etag, seen.first.etag);
    assert.equal(seen.count, 1, "one task stored");
  });

  it("reads the JSON error bodies and headers of 400, 401, 403 and 404", async () => {
    const other = await ba.newUser();
    const seen = await page.evaluate(async (otherId) => {
      const { read, createTaskClient } = window.frontEnd;
      const { client, userId } = window.app;
      const path = { user_id: userId };
      const out = {};
      const invalid = await client.POST("/api/{user_id}/tasks", { params: { path }, body: { title: "   " } });
      out[400] = { ...read(invalid.response), error: invalid.error };
      const anonymous = createTaskClient({ baseUrl: window.app.baseUrl, token: () => null });
      const noToken = await anonymous.GET("/api/{user_id}/tasks", { params: { path } });
      out[401] = { ...read(noToken.response), error: noToken.error };
      const foreign = await client.GET("/api/{user_id}/tasks", { params: { path: { user_id: otherId } } });
      out[403] = { ...read(foreign.response), error: foreign.error };
      const missing = await client.GET("/api/{user_id}/tasks/{id}", { params: { path: { ...path, id: crypto.randomUUID() } } });
      out[404] = { ...read(missing.response), error: missing.error };
      return out;
    }, other.userId);
    const expected = { 400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found" };
    for (const [status, code] of Object.entries(expected)) {
      const answer = seen[status];
      assert.equal(answer.status, Number(status), JSON.stringify(answer));
      assert.match(answer.contentType ?? "", /^application\/json/);
      assert.equal(answer.error?.error?.code, code, JSON.stringify(answer));
      assert.equal(typeof answer.error.error.message, "string");
      await logged(answer);
    }
    assert.equal(seen[400].error.error.field, "title");
    assert.match(seen[401].wwwAuthenticate ?? "", /^Bearer/, "WWW-Authenticate readable");
  });

  it("reads 429 and 503 with Retry-After from a worker that is over budget and without its database", async () => {
    const seen = await page.evaluate(async (baseUrl) => {
      const { read, createTaskClient, cachedToken, jwt } = window.frontEnd;
      const { userId } = window.app;
      const client = createTaskClient({ baseUrl, token: cachedToken(jwt) });
      const path = { user_id: userId };
      // The read budget is one request: the first is let through (and meets the dead database),
      // the second is refused before it.
      const unavailable = await client.GET("/api/{user_id}/tasks", { params: { path } });
      const limited = await client.GET("/api/{user_id}/tasks", { params: { path } });
      return {
        503: { ...read(unavailable.response), error: unavailable.error },
        429: { ...read(limited.response), error: limited.error },
      };
    }, new URL(strained.url).origin);
    assert.equal(seen[503].status, 503, JSON.stringify(seen[503]));
    assert.equal(seen[503].error?.error?.code, "database_unavailable");
    assert.equal(seen[503].retryAfter, "1");
    assert.equal(seen[429].status, 429, JSON.stringify(seen[429]));
    assert.equal(seen[429].error?.error?.code, "rate_limited");
    assert.equal(seen[429].retryAfter, "60");
    for (const answer of [seen[503], seen[429]]) {
      assert.match(answer.contentType ?? "", /^application\/json/);
      await logged(answer, strained);
    }
  });

  it("a token that expired mid-session: 401, a fresh token from Better Auth, and the retry succeeds", async () => {
    // The token a tab still holds after sleeping: signed by the same Better Auth key, for the
    // same user, issued 20 minutes ago and expired 5 (beyond the worker's 60 s leeway).
    const now = Math.floor(Date.now() / 1000);
    const { token: expired } = await ba.auth.api.signJWT({
      body: { payload: { ...decode(user.token, 1), iat: now - 1200, exp: now - 300 } },
    });
    assert.equal(decode(expired, 0).kid, decode(user.token, 0).kid);
    const seen = await page.evaluate(async ({ expired, baseUrl }) => {
      const { read, ok, createTaskClient, jwt } = window.frontEnd;
      const { userId } = window.app;
      let held = expired;
      const asked = [];
      const answers = [];
      const client = createTaskClient({
        baseUrl,
        token: async ({ refresh }) => {
          asked.push(refresh);
          if (refresh) held = await jwt();
          return held;
        },
        fetch: async (request) => {
          const response = await fetch(request);
          answers.push({ ...read(response), sentToken: request.headers.get("Authorization")?.slice("Bearer ".length) });
          return response;
        },
      });
      const created = await client.POST("/api/{user_id}/tasks", { params: { path: { user_id: userId } }, body: { title: "after the refresh" } });
      return { asked, answers, status: created.response.status, task: ok(created), held };
    }, { expired, baseUrl: api.origin });
    assert.deepEqual(seen.asked, [false, true], "the token getter was asked once, then once to refresh");
    assert.deepEqual(seen.answers.map((a) => a.status), [401, 201]);
    assert.equal(seen.answers[0].sentToken, expired);
    assert.match(seen.answers[0].wwwAuthenticate ?? "", /^Bearer/);
    assert.notEqual(seen.answers[1].sentToken, expired);
    assert.equal(seen.answers[1].sentToken, seen.held);
    assert.ok(decode(seen.held, 1).exp > now, "Better Auth issued a fresh token");
    assert.equal(seen.status, 201);
    assert.equal(seen.task.title, "after the refresh");
    for (const answer of seen.answers) await logged(answer);
  });

  it("a page on an origin the API does not allow cannot read its answers", async () => {
    const strangerPage = await context.newPage();
    try {
      await strangerPage.goto(`${stranger.origin}/`);
      const seen = await strangerPage.evaluate(async ({ baseUrl, userId, token }) => {
        const attempt = async (url, init) => {
          try {
            const response = await fetch(url, init);
            return { read: true, status: response.status };
          } catch (error) {
            return { read: false, error: `${error.name}: ${error.message}` };
          }
        };
        return {
          // Needs a preflight (Authorization): the browser asks, is not allowed, and never sends it.
          tasks: await attempt(`${baseUrl}/api/${userId}/tasks`, { headers: { Authorization: `Bearer ${token}` } }),
          // A simple request: sent and answered, but the answer is withheld from the script.
          health: await attempt(`${baseUrl}/health`),
        };
      }, { baseUrl: api.origin, userId: user.id, token: user.token });
      assert.deepEqual(seen.tasks.read, false, JSON.stringify(seen.tasks));
      assert.match(seen.tasks.error, /^TypeError/);
      assert.deepEqual(seen.health.read, false, JSON.stringify(seen.health));
      const fromStranger = api.requests((r) => r.origin === stranger.origin).map((r) => `${r.method} ${r.path} ${r.status}`);
      assert.deepEqual(fromStranger, [`OPTIONS /api/${user.id}/tasks 204`, "GET /health 200"]);
      // The same reads from the allowed origin succeed.
      const allowed = await page.evaluate(async ({ baseUrl, userId, token }) => {
        const tasks = await fetch(`${baseUrl}/api/${userId}/tasks`, { headers: { Authorization: `Bearer ${token}` } });
        const health = await fetch(`${baseUrl}/health`);
        return [tasks.status, (await health.json()).status];
      }, { baseUrl: api.origin, userId: user.id, token: user.token });
      assert.deepEqual(allowed, [200, "ok"]);
    } finally {
      await strangerPage.close();
    }
  });

  it("preflights are cached for their Access-Control-Max-Age: one per URL while it lasts", async () => {
    const ids = await page.evaluate(async () => {
      const { ok } = window.frontEnd;
      const { client, userId } = window.app;
      const create = async (title) => ok(await client.POST("/api/{user_id}/tasks", { params: { path: { user_id: userId } }, body: { title } })).id;
      return [await create("cached preflight"), await create("uncached preflight")];
    });
    const [cachedPath, controlPath] = ids.map((id) => `/api/${user.id}/tasks/${id}`);
    // The control: the same requests, with the preflight answer's Max-Age rewritten to 0.
    api.maxAge(controlPath, 0);
    await page.evaluate(async (ids) => {
      const { ok } = window.frontEnd;
      const { client, userId } = window.app;
      for (const id of ids) {
        for (const title of ["first change", "second change", "third change"]) {
          ok(await client.PUT("/api/{user_id}/tasks/{id}", { params: { path: { user_id: userId, id } }, body: { title } }));
        }
      }
    }, ids);
    const to = (path) => api.requests((r) => r.path === path && r.origin === front.origin);
    const cached = to(cachedPath);
    assert.deepEqual(cached.map((r) => r.method), ["OPTIONS", "PUT", "PUT", "PUT"], "one preflight for three PUTs");
    assert.equal(cached[0].maxAge, "600", "the worker's Max-Age");
    assert.equal(cached[0].status, 204);
    assert.deepEqual(to(controlPath).map((r) => r.method), ["OPTIONS", "PUT", "OPTIONS", "PUT", "OPTIONS", "PUT"], "Max-Age 0: a preflight before each");
  });

  it("saw no script error on the page", () => {
    assert.deepEqual(problems, []);
  });
});
