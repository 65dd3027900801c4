// The client's token handling, on Node's fetch API objects with a scripted `fetch` (no network):
// what a front end relies on when a JWT expires, when several calls race a refresh, and after a
// change of user. Run by `make client-check` (Node strips the TypeScript of src/index.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cachedToken, createTaskClient, withBearerToken } from "../src/index.ts";

/** A fetch that answers 401 unless the request carries one of `valid`, recording what it saw. */
function server(valid) {
  const seen = [];
  const fetch = async (request) => {
    const auth = request.headers.get("Authorization");
    seen.push({ method: request.method, auth, body: request.body ? await request.text() : null, extra: request.headers.get("X-Extra") });
    return valid.includes(auth) ? Response.json({ ok: true }, { status: 201 }) : Response.json({ error: { code: "unauthorized", message: "no" } }, { status: 401 });
  };
  return { fetch, seen };
}

describe("withBearerToken", () => {
  it("retries a 401 once with a fresh token, resending the same body", async () => {
    const { fetch, seen } = server(["Bearer new"]);
    const asked = [];
    const send = withBearerToken(async (context) => (asked.push(context), context.refresh ? "new" : "old"), fetch);
    const response = await send(new Request("https://api.test/api/u/tasks", { method: "POST", body: '{"title":"t"}' }));
    assert.equal(response.status, 201);
    assert.deepEqual(seen.map((s) => [s.auth, s.body]), [["Bearer old", '{"title":"t"}'], ["Bearer new", '{"title":"t"}']]);
    assert.deepEqual(asked, [{ refresh: false }, { refresh: true, refused: "old" }]);
  });

  it("does not retry when the fresh token is the one refused, or there is none", async () => {
    for (const fresh of ["old", null]) {
      const { fetch, seen } = server([]);
      const send = withBearerToken(({ refresh }) => (refresh ? fresh : "old"), fetch);
      assert.equal((await send(new Request("https://api.test/x"))).status, 401);
      assert.equal(seen.length, 1, String(fresh));
    }
  });

  it("signs, and retries, the request as other middleware left it", async () => {
    const { fetch, seen } = server(["Bearer new"]);
    const client = createTaskClient({ baseUrl: "https://api.test", token: ({ refresh }) => (refresh ? "new" : "old"), fetch });
    client.use({ onRequest: ({ request }) => (request.headers.set("X-Extra", "1"), request) });
    const result = await client.GET("/api/{user_id}/tasks", { params: { path: { user_id: "u" } } });
    assert.equal(result.response.status, 201);
    assert.deepEqual(seen.map((s) => [s.auth, s.extra]), [["Bearer old", "1"], ["Bearer new", "1"]]);
  });
});

describe("cachedToken", () => {
  it("fetches once for concurrent callers, and again only when its own token is refused", async () => {
    let n = 0;
    const token = cachedToken(async () => `t${++n}`);
    assert.deepEqual(await Promise.all([token({ refresh: false }), token({ refresh: false })]), ["t1", "t1"]);
    // Two calls refused with t1 race: one refresh between them.
    assert.deepEqual(await Promise.all([token({ refresh: true, refused: "t1" }), token({ refresh: true, refused: "t1" })]), ["t2", "t2"]);
    // A late 401 for t1, already replaced: the current token, no fetch.
    assert.equal(await token({ refresh: true, refused: "t1" }), "t2");
    assert.equal(n, 2);
  });

  it("clear() forgets the token, and a fetch started before it is not kept", async () => {
    let release;
    const tokens = ["first-user", "second-user"];
    const token = cachedToken(() => new Promise((resolve) => (release = () => resolve(tokens.shift()))));
    const early = token({ refresh: false });
    token.clear();
    release();
    assert.equal(await early, "first-user");
    const late = token({ refresh: false });
    release();
    assert.equal(await late, "second-user");
    assert.equal(await token({ refresh: false }), "second-user");
  });
});
