// ETags and conditional requests: strong ETags on every single-task response, If-None-Match on
// GET/HEAD (weak comparison, 304), If-Match on PUT/PATCH/DELETE (strong comparison, 412).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { newUser } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

const STRONG_ETAG = /^"[^"]+"$/;

/** A fresh user with one task; returns the user, task, its URL and current ETag. */
async function setup(task = { title: "conditional", description: "d" }) {
  const user = newUser(suite.base);
  const created = await user.create(task);
  const url = `${user.tasksUrl}/${created.id}`;
  const etag = await currentEtag(user, url);
  return { user, task: created, url, etag };
}

async function currentEtag(user, url) {
  const response = await user.request("GET", url);
  assert.equal(response.status, 200);
  await response.arrayBuffer();
  const etag = response.headers.get("etag");
  assert.match(etag ?? "", STRONG_ETAG);
  return etag;
}

async function row(id) {
  const { rows } = await suite.db.client.query(
    "select title, description, completed, updated_at from tasks where id = $1", [id]);
  return rows[0];
}

/** Asserts a 304 with the ETag header and an empty body. */
async function expectNotModified(response, etag) {
  const text = await response.text();
  assert.equal(response.status, 304, `expected 304, got ${response.status}: ${text}`);
  assert.equal(text, "", "empty body");
  assert.equal(response.headers.get("etag"), etag);
}

/** Asserts a 412 precondition_failed carrying the task's current ETag. */
async function expectPreconditionFailed(response, etag) {
  const header = response.headers.get("etag");
  await expectError(response, 412, "precondition_failed");
  assert.equal(header, etag, "412 carries the current ETag");
}

describe("ETags", () => {
  it("GET one task has a strong ETag, stable while the task is unchanged; HEAD has the same", async () => {
    const { user, url, etag } = await setup();
    assert.doesNotMatch(etag, /^W\//);
    assert.equal(await currentEtag(user, url), etag, "same ETag on a second GET");
    const head = await user.request("HEAD", url);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("etag"), etag);
  });

  it("the list carries no ETag", async () => {
    const { user } = await setup();
    const response = await user.request("GET", user.tasksUrl);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), null);
  });

  it("POST 201, PUT 200 and PATCH 200 carry the ETag a following GET returns; it changes on each write", async () => {
    const user = newUser(suite.base);
    const post = await user.request("POST", user.tasksUrl, { body: { title: "etag" } });
    assert.equal(post.status, 201);
    const task = await post.json();
    const url = `${user.tasksUrl}/${task.id}`;
    const afterPost = post.headers.get("etag");
    assert.match(afterPost ?? "", STRONG_ETAG);
    assert.equal(await currentEtag(user, url), afterPost);

    const put = await user.request("PUT", url, { body: { title: "etag 2" } });
    assert.equal(put.status, 200);
    await put.arrayBuffer();
    const afterPut = put.headers.get("etag");
    assert.match(afterPut ?? "", STRONG_ETAG);
    assert.notEqual(afterPut, afterPost, "PUT changes the ETag");
    assert.equal(await currentEtag(user, url), afterPut);

    const patch = await user.request("PATCH", `${url}/complete`);
    assert.equal(patch.status, 200);
    await patch.arrayBuffer();
    const afterPatch = patch.headers.get("etag");
    assert.match(afterPatch ?? "", STRONG_ETAG);
    assert.notEqual(afterPatch, afterPut, "PATCH changes the ETag");
    assert.equal(await currentEtag(user, url), afterPatch);

    const again = await user.request("PATCH", `${url}/complete`, { body: { completed: true } });
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    assert.notEqual(again.headers.get("etag"), afterPatch, "every successful PATCH changes the ETag");
    assert.equal(await currentEtag(user, url), again.headers.get("etag"));
  });
});

describe("If-None-Match on GET/HEAD one task", () => {
  it("answers 304 with the ETag and an empty body when the current ETag matches", async () => {
    const { user, url, etag } = await setup();
    await expectNotModified(await user.request("GET", url, { headers: { "If-None-Match": etag } }), etag);
  });

  it("compares weakly: W/ plus the current tag matches", async () => {
    const { user, url, etag } = await setup();
    await expectNotModified(await user.request("GET", url, { headers: { "If-None-Match": `W/${etag}` } }), etag);
  });

  it("matches when any member of a list matches", async () => {
    const { user, url, etag } = await setup();
    for (const list of [`"nope", ${etag}`, `${etag},"nope"`, `W/"nope" , W/${etag}`]) {
      await expectNotModified(await user.request("GET", url, { headers: { "If-None-Match": list } }), etag);
    }
  });

  it("* matches an existing task", async () => {
    const { user, url, etag } = await setup();
    await expectNotModified(await user.request("GET", url, { headers: { "If-None-Match": "*" } }), etag);
  });

  it("answers 200 with the task for another tag, or an old one", async () => {
    const { user, task, url, etag } = await setup();
    for (const other of ['"something-else"', `"nope", W/"nope2"`]) {
      const response = await user.request("GET", url, { headers: { "If-None-Match": other } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("etag"), etag);
      assert.deepEqual(await response.json(), task);
    }
    const put = await user.request("PUT", url, { body: { title: "moved on" } });
    assert.equal(put.status, 200);
    const updated = await put.json();
    const stale = await user.request("GET", url, { headers: { "If-None-Match": etag } });
    assert.equal(stale.status, 200, "the old ETag no longer matches");
    assert.equal(stale.headers.get("etag"), put.headers.get("etag"));
    assert.deepEqual(await stale.json(), updated);
  });

  it("HEAD with a matching If-None-Match answers 304", async () => {
    const { user, url, etag } = await setup();
    await expectNotModified(await user.request("HEAD", url, { headers: { "If-None-Match": etag } }), etag);
  });
});

describe("If-Match on PUT", () => {
  it("applies the update when the ETag matches and the ETag changes; the old one then gets 412", async () => {
    const { user, task, url, etag } = await setup();
    const response = await user.request("PUT", url, { body: { title: "first" }, headers: { "If-Match": etag } });
    assert.equal(response.status, 200);
    const updated = await response.json();
    assert.equal(updated.title, "first");
    const next = response.headers.get("etag");
    assert.match(next ?? "", STRONG_ETAG);
    assert.notEqual(next, etag);

    const stale = await user.request("PUT", url, { body: { title: "second" }, headers: { "If-Match": etag } });
    await expectPreconditionFailed(stale, next);
    assert.equal((await row(task.id)).title, "first", "the title is unchanged");
    assert.deepEqual(await (await user.request("GET", url)).json(), updated);
    assert.equal(await currentEtag(user, url), next);
  });

  it("If-Match: * applies to any existing version", async () => {
    const { user, task, url } = await setup();
    const response = await user.request("PUT", url, { body: { title: "star" }, headers: { "If-Match": "*" } });
    assert.equal(response.status, 200);
    assert.equal((await row(task.id)).title, "star");
  });

  it("a list containing the current ETag matches", async () => {
    const { user, task, url, etag } = await setup();
    const response = await user.request("PUT", url, {
      body: { title: "listed" }, headers: { "If-Match": `"old-one", ${etag}, "another"` },
    });
    assert.equal(response.status, 200);
    assert.equal((await row(task.id)).title, "listed");
  });

  it("compares strongly: W/ plus the current tag is refused with 412", async () => {
    const { user, task, url, etag } = await setup();
    const before = await row(task.id);
    const response = await user.request("PUT", url, { body: { title: "weak" }, headers: { "If-Match": `W/${etag}` } });
    await expectPreconditionFailed(response, etag);
    assert.deepEqual(await row(task.id), before, "nothing changed");
  });

  it("a list of only other tags is refused with 412", async () => {
    const { user, task, url, etag } = await setup();
    const before = await row(task.id);
    const response = await user.request("PUT", url, { body: { title: "x" }, headers: { "If-Match": `"a", "b"` } });
    await expectPreconditionFailed(response, etag);
    assert.deepEqual(await row(task.id), before);
  });
});

describe("If-Match on PATCH …/complete and DELETE", () => {
  it("PATCH with a stale ETag is 412 and leaves completed; with the current one it applies", async () => {
    const { user, task, url, etag } = await setup();
    const put = await user.request("PUT", url, { body: { title: "bumped" } });
    assert.equal(put.status, 200);
    await put.arrayBuffer();
    const current = put.headers.get("etag");
    const before = await row(task.id);

    for (const options of [{}, { body: { completed: true } }]) {
      const stale = await user.request("PATCH", `${url}/complete`, { ...options, headers: { "If-Match": etag } });
      await expectPreconditionFailed(stale, current);
      assert.deepEqual(await row(task.id), before, "completed unchanged");
    }

    const response = await user.request("PATCH", `${url}/complete`, { headers: { "If-Match": current } });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).completed, true);
    assert.equal((await row(task.id)).completed, true);
  });

  it("DELETE with a stale ETag is 412 and keeps the task; with the current one it is 204", async () => {
    const { user, task, url, etag } = await setup();
    const patch = await user.request("PATCH", `${url}/complete`);
    assert.equal(patch.status, 200);
    await patch.arrayBuffer();
    const current = patch.headers.get("etag");

    await expectPreconditionFailed(await user.request("DELETE", url, { headers: { "If-Match": etag } }), current);
    assert.ok(await row(task.id), "the task still exists");
    assert.equal((await user.request("GET", url)).status, 200);

    const response = await user.request("DELETE", url, { headers: { "If-Match": current } });
    assert.equal(response.status, 204);
    assert.equal(await response.text(), "");
    assert.equal(await row(task.id), undefined, "the task is gone");
  });

  it("DELETE with If-Match: * deletes an existing task", async () => {
    const { user, task, url } = await setup();
    assert.equal((await user.request("DELETE", url, { headers: { "If-Match": "*" } })).status, 204);
    assert.equal(await row(task.id), undefined);
  });
});

describe("If-Match on tasks that do not exist or belong to someone else", () => {
  it("answers 404 whatever If-Match says, and the owner's task is untouched", async () => {
    const { user: owner, task, etag } = await setup();
    const intruder = newUser(suite.base);
    const before = await row(task.id);
    const targets = [
      [intruder, `${intruder.tasksUrl}/${task.id}`], // another user's task
      [owner, `${owner.tasksUrl}/${crypto.randomUUID()}`], // missing
      [intruder, `${intruder.tasksUrl}/${crypto.randomUUID()}`], // missing
    ];
    for (const [user, url] of targets) {
      for (const ifMatch of [etag, "*", `"x", ${etag}`]) {
        for (const [method, target, body] of [
          ["PUT", url, { title: "hijacked" }], ["PATCH", `${url}/complete`, { completed: true }], ["DELETE", url],
        ]) {
          const response = await user.request(method, target, { body, headers: { "If-Match": ifMatch } });
          await expectError(response, 404, "not_found");
        }
      }
    }
    assert.deepEqual(await row(task.id), before);
  });
});

describe("malformed If-Match", () => {
  const malformed = ["abc", '"unterminated', 'abc, "ok"', "W/abc"];
  for (const value of malformed) {
    it(`refuses If-Match: ${value} with 400 naming If-Match on PUT, PATCH and DELETE`, async () => {
      const { user, task, url } = await setup();
      const before = await row(task.id);
      for (const [method, target, body] of [
        ["PUT", url, { title: "changed" }], ["PATCH", `${url}/complete`, undefined], ["DELETE", url],
      ]) {
        const error = await expectError(
          await user.request(method, target, { body, headers: { "If-Match": value } }), 400, "validation_error");
        assert.equal(error.field, "If-Match", `${method}`);
      }
      assert.deepEqual(await row(task.id), before, "nothing changed");
      // Headers are validated before the database: a missing task gets the same 400.
      const missing = `${user.tasksUrl}/${crypto.randomUUID()}`;
      const error = await expectError(
        await user.request("PUT", missing, { body: { title: "t" }, headers: { "If-Match": value } }), 400, "validation_error");
      assert.equal(error.field, "If-Match");
    });
  }
});

describe("lost updates", () => {
  it("two clients with the same ETag PUT concurrently: exactly one 200, one 412", async () => {
    for (let round = 0; round < 5; round++) {
      const { user, task, url } = await setup({ title: "contended" });
      // Two clients read the same version.
      const [etagA, etagB] = await Promise.all([currentEtag(user, url), currentEtag(user, url)]);
      assert.equal(etagA, etagB);
      const [a, b] = await Promise.all([
        user.request("PUT", url, { body: { title: "from A" }, headers: { "If-Match": etagA } }),
        user.request("PUT", url, { body: { title: "from B" }, headers: { "If-Match": etagB } }),
      ]);
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [200, 412], `round ${round}: ${a.status} ${b.status}`);
      const [winner, loser, title] = a.status === 200 ? [a, b, "from A"] : [b, a, "from B"];
      const winnerEtag = winner.headers.get("etag");
      assert.equal((await winner.json()).title, title);
      await expectPreconditionFailed(loser, winnerEtag);
      assert.equal((await row(task.id)).title, title, "the winner's write stands");
      assert.equal(await currentEtag(user, url), winnerEtag);
    }
  });

  it("without If-Match, a PUT after another PUT still succeeds (last write wins)", async () => {
    const { user, task, url } = await setup();
    for (const title of ["one", "two"]) {
      const response = await user.request("PUT", url, { body: { title } });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    assert.equal((await row(task.id)).title, "two");
    const get = await user.request("GET", url);
    assert.equal(get.status, 200, "a GET without If-None-Match is a normal 200");
    assert.equal((await get.json()).title, "two");
  });
});
