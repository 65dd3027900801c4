// Listing: GET /api/{user_id}/tasks with completed/q filters, sort/order, limit and signed
// keyset cursors followed through `Link: <…>; rel="next"`. Data sets are inserted with SQL so
// every created_at/updated_at (and so every expected order) is known up front.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { newUser, sealCursor } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";

// --- data ------------------------------------------------------------------------------------

const BASE_MS = Date.UTC(2024, 0, 1);
const MINUTE = 60_000_000; // in microseconds

/** RFC 3339 UTC with microseconds, `us` microseconds after BASE_MS. */
function ts(us) {
  const total = BASE_MS * 1000 + us;
  const iso = new Date(Math.floor(total / 1000)).toISOString();
  return iso.replace(/\.\d{3}Z$/, `.${String(total % 1_000_000).padStart(6, "0")}Z`);
}

/** Twelve tasks: distinct titles whose first letters alone decide their order (the same in any
 *  collation), mixed completed, created/updated times in orders unrelated to the titles (two
 *  pairs only 1 µs apart), "needle" in titles and descriptions in several cases, near misses,
 *  and literal `%`, `_` and `\`. `c`/`u`: created_at/updated_at in µs after BASE_MS. */
const DATA = [
  { title: "alpha beta", description: "plain words", completed: false, c: 5 * MINUTE, u: 40 * MINUTE },
  { title: "bravo Needle in the title", description: null, completed: true, c: 2 * MINUTE, u: 9 * MINUTE },
  { title: "charlie", description: "has a NEEDLE inside", completed: false, c: 9 * MINUTE, u: 12 * MINUTE },
  { title: "delta", description: "a neEdLe, mixed case", completed: true, c: 9 * MINUTE + 1, u: 30 * MINUTE },
  { title: "echo", description: "needles and pins", completed: false, c: 1 * MINUTE, u: 50 * MINUTE },
  { title: "foxtrot", description: "nothing to see", completed: true, c: 11 * MINUTE, u: 11 * MINUTE },
  { title: "golf", description: "snake_case words", completed: false, c: 3 * MINUTE, u: 45 * MINUTE },
  { title: "hotel", description: "path C:\\temp\\x", completed: false, c: 7 * MINUTE, u: 8 * MINUTE + 1 },
  { title: "india", description: "short", completed: true, c: 4 * MINUTE, u: 20 * MINUTE },
  { title: "kilo 100% done_ok", description: null, completed: false, c: 8 * MINUTE, u: 8 * MINUTE + 2 },
  { title: "lima", description: "ALL CAPS TEXT", completed: true, c: 6 * MINUTE, u: 35 * MINUTE },
  { title: "mike nee dle", description: "needl e", completed: false, c: 10 * MINUTE, u: 25 * MINUTE },
];

/** An RFC 3339 UTC time as microseconds since the epoch (any number of fraction digits). */
function micros(text) {
  const match = text.match(/^(.*?)(?:\.(\d+))?Z$/);
  assert.ok(match, text);
  return Date.parse(`${match[1]}Z`) * 1000 + Number((match[2] ?? "").padEnd(6, "0").slice(0, 6));
}

async function ensureUser(id) {
  await suite.db.client.query("insert into users (id) values ($1) on conflict do nothing", [id]);
}

/** Inserts tasks for `userId` (fields as in DATA); returns them with their ids. */
async function insertTasks(userId, rows) {
  await ensureUser(userId);
  const out = [];
  for (const row of rows) {
    const { rows: [{ id }] } = await suite.db.client.query(
      `insert into tasks (user_id, title, description, completed, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6) returning id`,
      [userId, row.title, row.description ?? null, row.completed ?? false, ts(row.c), ts(row.u)],
    );
    out.push({ ...row, id });
  }
  return out;
}

/** A fresh user owning the DATA set. */
async function seeded() {
  const user = newUser(suite.base);
  const tasks = await insertTasks(user.id, DATA);
  return { user, tasks };
}

// --- expectations computed from the data ------------------------------------------------------

const defaultOrder = (sort) => (sort === "title" ? "asc" : "desc");

function matchesQ(task, q) {
  const needle = (q ?? "").trim().toLowerCase();
  if (needle === "") return true;
  return task.title.toLowerCase().includes(needle) || (task.description ?? "").toLowerCase().includes(needle);
}

/** The ids the API should return for these parameters, in order. */
function expectedIds(tasks, { completed, q, sort = "created_at", order } = {}) {
  const direction = (order ?? defaultOrder(sort)) === "asc" ? 1 : -1;
  const key = { created_at: (t) => t.c, updated_at: (t) => t.u, title: (t) => t.title }[sort];
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  return tasks
    .filter((t) => completed === undefined || String(t.completed) === completed)
    .filter((t) => matchesQ(t, q))
    .sort((a, b) => direction * (cmp(key(a), key(b)) || cmp(a.id, b.id)))
    .map((t) => t.id);
}

// --- requests ---------------------------------------------------------------------------------

/** `?a=b&…` from an object, leaving out undefined values. */
function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.append(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The `rel="next"` URL of a response, or null without a Link header. */
function nextLink(response) {
  const header = response.headers.get("link");
  if (header === null) return null;
  const match = header.match(/^<([^>]+)>;\s*rel="next"$/);
  assert.ok(match, `Link header: ${header}`);
  return match[1];
}

/** GETs a list page; asserts 200 and returns its ids, body and next link. */
async function page(user, url) {
  const response = await user.request("GET", url);
  const text = await response.text();
  assert.equal(response.status, 200, `${url}: ${text}`);
  const tasks = JSON.parse(text);
  assert.ok(Array.isArray(tasks), text);
  return { tasks, ids: tasks.map((t) => t.id), next: nextLink(response) };
}

/** Asserts a next link is absolute, points at the user's list and repeats the request's
 *  parameters (sort and order may be spelled out even when they were left to the defaults). */
function assertNextLink(link, user, params) {
  const url = new URL(link);
  assert.equal(`${url.origin}${url.pathname}`, user.tasksUrl, `absolute URL of the list: ${link}`);
  const repeated = Object.fromEntries([...url.searchParams]);
  assert.equal([...url.searchParams].length, Object.keys(repeated).length, `no repeated parameter: ${link}`);
  assert.ok(repeated.cursor, `has a cursor: ${link}`);
  const sort = params.sort ?? "created_at";
  const effective = { ...params, sort, order: params.order ?? defaultOrder(sort) };
  for (const [name, value] of Object.entries(repeated)) {
    if (name === "cursor") continue;
    assert.ok(name in params || name === "sort" || name === "order", `unexpected ${name} in ${link}`);
    assert.equal(value, String(effective[name]), `${name} in ${link}`);
  }
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) assert.equal(repeated[name], String(value), `${name} repeated in ${link}`);
  }
}

/** Follows the Link chain from the first page; returns every page's ids. */
async function allPages(user, params, { maxPages = 50 } = {}) {
  const pages = [];
  let url = `${user.tasksUrl}${queryString(params)}`;
  while (url) {
    assert.ok(pages.length < maxPages, "too many pages");
    const { ids, next } = await page(user, url);
    if (next) assertNextLink(next, user, params);
    pages.push(ids);
    url = next;
  }
  return pages;
}

// --- tests ------------------------------------------------------------------------------------

describe("list filters and ordering", () => {
  it("every completed × sort × order combination returns exactly the expected tasks in order", async () => {
    const { user, tasks } = await seeded();
    for (const completed of [undefined, "true", "false"]) {
      for (const sort of [undefined, "created_at", "updated_at", "title"]) {
        for (const order of [undefined, "asc", "desc"]) {
          const params = { completed, sort, order };
          const { ids, next } = await page(user, `${user.tasksUrl}${queryString(params)}`);
          const expected = expectedIds(tasks, params);
          assert.deepEqual(ids, expected, `ids for ${queryString(params) || "(no query)"}`);
          assert.equal(next, null, "everything fits one page: no Link");
        }
      }
    }
    // The data set really discriminates: the defaults differ from one another.
    assert.notDeepEqual(expectedIds(tasks, { sort: "created_at" }), expectedIds(tasks, { sort: "updated_at" }));
  });

  it("returns the stored tasks themselves", async () => {
    const { user, tasks } = await seeded();
    const { tasks: listed } = await page(user, `${user.tasksUrl}?sort=title`);
    assert.deepEqual(listed.map((t) => [t.title, t.description, t.completed, t.user_id]),
      [...DATA].sort((a, b) => (a.title < b.title ? -1 : 1)).map((t) => [t.title, t.description, t.completed, user.id]));
    const hotel = listed.find((t) => t.title === "hotel");
    assert.equal(hotel.id, tasks.find((t) => t.title === "hotel").id);
    assert.equal(micros(hotel.created_at), micros(ts(7 * MINUTE)));
    assert.equal(micros(hotel.updated_at), micros(ts(8 * MINUTE + 1)));
  });

  // [q, titles it must match, whether LIKE wildcards would have matched something else]
  const searches = [
    ["needle", ["bravo Needle in the title", "charlie", "delta", "echo"]],
    ["NEEDLE", ["bravo Needle in the title", "charlie", "delta", "echo"]],
    ["  needle  ", ["bravo Needle in the title", "charlie", "delta", "echo"]],
    ["nEeDlE", ["bravo Needle in the title", "charlie", "delta", "echo"]],
    ["in the", ["bravo Needle in the title"]],
    ["all caps", ["lima"]],
    ["nee dle", ["mike nee dle"]],
    ["%", ["kilo 100% done_ok"], true],
    ["_", ["golf", "kilo 100% done_ok"], true],
    ["0% d", ["kilo 100% done_ok"]],
    ["a%b", [], true],
    ["e_d", [], true],
    ["e_o", ["kilo 100% done_ok"]],
    ["\\", ["hotel"]],
    ["C:\\temp", ["hotel"]],
    ["zzz", []],
    ["", DATA.map((t) => t.title)],
    ["   ", DATA.map((t) => t.title)],
  ];
  const wildcard = (q) => new RegExp(q.trim().replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/%/g, ".*").replace(/_/g, "."), "i");

  it("q matches title or description, case-insensitively, with %, _ and \\ taken literally", async () => {
    const { user, tasks } = await seeded();
    for (const [q, titles, wildcardDiffers] of searches) {
      const { ids } = await page(user, `${user.tasksUrl}${queryString({ q })}`);
      const expected = expectedIds(tasks, { q });
      assert.deepEqual(ids, expected, `q=${JSON.stringify(q)}`);
      const byId = new Map(tasks.map((t) => [t.id, t.title]));
      assert.deepEqual(ids.map((id) => byId.get(id)).sort(), [...titles].sort(), `titles for q=${JSON.stringify(q)}`);
      if (wildcardDiffers) {
        // Sanity check of the data: as a LIKE pattern, q would have found other tasks.
        const asPattern = tasks.filter((t) => wildcard(q).test(t.title) || wildcard(q).test(t.description ?? ""));
        assert.notDeepEqual(asPattern.map((t) => t.title).sort(), [...titles].sort(), `q=${q} discriminates`);
      }
    }
  });

  it("q of 200 characters is accepted", async () => {
    const { user } = await seeded();
    const { ids } = await page(user, `${user.tasksUrl}${queryString({ q: "n".repeat(200) })}`);
    assert.deepEqual(ids, []);
  });

  it("combines completed and q with any sort and order", async () => {
    const { user, tasks } = await seeded();
    for (const completed of ["true", "false"]) {
      for (const [sort, order] of [[undefined, undefined], ["title", "desc"], ["updated_at", "asc"], ["title", undefined]]) {
        for (const q of ["needle", "E", "_"]) {
          const params = { completed, q, sort, order };
          const { ids } = await page(user, `${user.tasksUrl}${queryString(params)}`);
          assert.deepEqual(ids, expectedIds(tasks, params), queryString(params));
        }
      }
    }
    // Sanity: both filters matter for "needle".
    assert.equal(expectedIds(tasks, { completed: "true", q: "needle" }).length, 2);
    assert.equal(expectedIds(tasks, { completed: "false", q: "needle" }).length, 2);
  });

  it("breaks ties by id in the sort's direction", async () => {
    const user = newUser(suite.base);
    // Same title, and the same updated_at, for five tasks; created_at distinct.
    const rows = [1, 2, 3, 4, 5].map((n) => ({ title: "same", description: null, completed: false, c: n * MINUTE, u: 99 * MINUTE }));
    const tasks = await insertTasks(user.id, rows);
    const ascending = tasks.map((t) => t.id).sort();
    for (const [params, expected] of [
      [{ sort: "title" }, ascending],
      [{ sort: "title", order: "desc" }, [...ascending].reverse()],
      [{ sort: "updated_at", order: "asc" }, ascending],
      [{ sort: "updated_at" }, [...ascending].reverse()],
    ]) {
      assert.deepEqual((await page(user, `${user.tasksUrl}${queryString(params)}`)).ids, expected, queryString(params));
      // Paging through the ties one at a time keeps the same order.
      const pages = await allPages(user, { ...params, limit: 2 });
      assert.deepEqual(pages.flat(), expected, `paged ${queryString(params)}`);
    }
  });
});

describe("list paging", () => {
  for (const sort of ["created_at", "updated_at", "title"]) {
    for (const order of ["asc", "desc"]) {
      it(`limit=5 pages through all 12 tasks by ${sort} ${order}: 5, 5, 2, then no Link`, async () => {
        const { user, tasks } = await seeded();
        const params = { sort, order, limit: "5" };
        const pages = await allPages(user, params);
        assert.deepEqual(pages.map((p) => p.length), [5, 5, 2]);
        const all = pages.flat();
        assert.equal(new Set(all).size, all.length, "no duplicates");
        assert.deepEqual(all, expectedIds(tasks, { sort, order }));
      });
    }
  }

  it("with the default sort and order, and with filters, the Link repeats what was asked", async () => {
    const { user, tasks } = await seeded();
    const plain = await allPages(user, { limit: "5" });
    assert.deepEqual(plain.flat(), expectedIds(tasks, {}));
    const filtered = { completed: "false", q: "E", sort: "title", limit: "2" };
    const pages = await allPages(user, filtered);
    assert.ok(pages.length > 2, "several pages");
    assert.deepEqual(pages.flat(), expectedIds(tasks, filtered));
    const titleDefault = { sort: "title", limit: "4" };
    assert.deepEqual((await allPages(user, titleDefault)).flat(), expectedIds(tasks, titleDefault));
  });

  it("limit=1 steps over every neighbour, including times 1 µs apart", async () => {
    const { user, tasks } = await seeded();
    for (const params of [{ sort: "created_at", order: "desc" }, { sort: "updated_at", order: "asc" }]) {
      const pages = await allPages(user, { ...params, limit: "1" });
      assert.deepEqual(pages.map((p) => p.length), Array(12).fill(1));
      assert.deepEqual(pages.flat(), expectedIds(tasks, params), queryString(params));
    }
  });

  // A title cursor carries the title: 255 characters of 4 UTF-8 bytes each make the longest
  // cursor the server can issue, and it must take every one of them back.
  for (const [kind, char, others] of [["four-byte", "😀", ["😁", "😂"]], ["three-byte", "漢", ["字", "語"]]]) {
    it(`follows Link to the end with 255-character titles of ${kind} characters, every sort and order`, async () => {
      const user = newUser(suite.base);
      const created = [];
      for (const last of [char, ...others]) {
        const title = char.repeat(254) + last;
        assert.equal([...title].length, 255);
        created.push((await user.create({ title })).id);
      }
      for (const sort of ["created_at", "updated_at", "title"]) {
        for (const order of ["asc", "desc"]) {
          const pages = await allPages(user, { sort, order, limit: "1" });
          assert.deepEqual(pages.map((p) => p.length), [1, 1, 1], `${sort} ${order}`);
          assert.deepEqual(pages.flat().sort(), [...created].sort(), `${sort} ${order}: every task exactly once`);
        }
      }
    });
  }

  it("a page that ends exactly at the last task has no Link", async () => {
    const { user, tasks } = await seeded();
    const exact = await page(user, `${user.tasksUrl}?limit=12`);
    assert.equal(exact.ids.length, 12);
    assert.equal(exact.next, null);
    const done = await page(user, `${user.tasksUrl}?completed=true&limit=5`);
    assert.deepEqual(done.ids, expectedIds(tasks, { completed: "true" }));
    assert.equal(done.next, null, "5 completed tasks, limit 5: no Link");
    const almost = await page(user, `${user.tasksUrl}?limit=11`);
    assert.equal(almost.ids.length, 11);
    assert.ok(almost.next, "one more task follows: Link");
    const last = await page(user, almost.next);
    assert.deepEqual([...almost.ids, ...last.ids], expectedIds(tasks, {}));
    assert.equal(last.next, null);
  });

  it("without limit, returns at most 1000 tasks and a Link to the rest", async () => {
    const user = newUser(suite.base);
    await ensureUser(user.id);
    await suite.db.client.query(
      `insert into tasks (user_id, title, created_at, updated_at)
       select $1, 'bulk ' || g, $2::timestamptz + g * interval '1 second', $2::timestamptz + g * interval '1 second'
       from generate_series(1, 1001) g`,
      [user.id, ts(0)],
    );
    const first = await page(user, user.tasksUrl);
    assert.equal(first.tasks.length, 1000);
    assert.equal(first.tasks[0].title, "bulk 1001", "newest first");
    assert.equal(first.tasks[999].title, "bulk 2");
    assert.ok(first.next, "a Link to the rest");
    assertNextLink(first.next, user, {});
    assert.equal(new URL(first.next).searchParams.has("limit"), false, "no limit was asked for");
    const rest = await page(user, first.next);
    assert.deepEqual(rest.tasks.map((t) => t.title), ["bulk 1"]);
    assert.equal(rest.next, null);
    const explicit = await page(user, `${user.tasksUrl}?limit=1000&order=asc`);
    assert.equal(explicit.tasks.length, 1000);
    assert.equal(explicit.tasks[0].title, "bulk 1");
    assert.ok(explicit.next);
  });
});

describe("list pages are cut at a byte budget", () => {
  // PAGE_BYTES in src/db/statements.rs: a page's JSON stops at the task that would take it past
  // this (a page always holds at least one task), and Link continues after it.
  const PAGE_BYTES = 512 * 1024;

  /** Inserts `count` tasks for a fresh user, each described by `description`. */
  async function bulk(count, description) {
    const user = newUser(suite.base);
    await ensureUser(user.id);
    await suite.db.client.query(
      `insert into tasks (user_id, title, description, created_at, updated_at)
       select $1, 'bulk ' || g, $3, $2::timestamptz + g * interval '1 second', $2::timestamptz + g * interval '1 second'
       from generate_series(1, $4::int) g`,
      [user.id, ts(0), description, count],
    );
    return user;
  }

  /** Follows Link from the first page; every page's byte length and task count, and all ids. */
  async function walk(user, params = {}) {
    const pages = [];
    const ids = [];
    let url = `${user.tasksUrl}${queryString(params)}`;
    while (url) {
      assert.ok(pages.length < 200, "too many pages");
      const response = await user.request("GET", url);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, `${url}: ${bytes.toString().slice(0, 200)}`);
      const tasks = JSON.parse(bytes.toString("utf8"));
      pages.push({ bytes: bytes.length, count: tasks.length });
      ids.push(...tasks.map((t) => t.id));
      url = nextLink(response);
    }
    return { pages, ids };
  }

  function assertWithinBudget(pages, what) {
    for (const [i, page] of pages.entries()) {
      assert.ok(page.count >= 1, `${what}: page ${i} is empty`);
      if (page.count > 1) assert.ok(page.bytes <= PAGE_BYTES + 1, `${what}: page ${i} has ${page.bytes} bytes in ${page.count} tasks`);
    }
  }

  it("1000 tasks of 10,000-character descriptions: 20 concurrent complete listings all get every task", { timeout: 300_000 }, async () => {
    const user = await bulk(1000, "d".repeat(10_000));
    const { rows } = await suite.db.client.query("select id from tasks where user_id = $1", [user.id]);
    const all = rows.map((r) => r.id).sort();
    const listings = await Promise.all(Array.from({ length: 20 }, () => walk(user)));
    for (const [i, { pages, ids }] of listings.entries()) {
      assert.deepEqual([...ids].sort(), all, `listing ${i}: every task exactly once`);
      assertWithinBudget(pages, `listing ${i}`);
      assert.ok(pages.length >= 19, `listing ${i}: ${pages.length} pages for 10 MB of JSON`);
    }
  });

  it("the budget counts the JSON as sent: descriptions of control characters (six bytes each) make smaller pages", async () => {
    const user = await bulk(100, "\u0001".repeat(10_000));
    const { pages, ids } = await walk(user, { limit: "1000" });
    assert.equal(new Set(ids).size, 100, "every task exactly once");
    assertWithinBudget(pages, "escaped");
    // 60,000 bytes of description a task: eight fit the budget.
    assert.ok(pages.every((page, i) => page.count === 8 || i === pages.length - 1), JSON.stringify(pages));
  });

  it("small tasks still come 1000 to a page", async () => {
    const user = await bulk(1001, "short");
    const { pages } = await walk(user);
    assert.deepEqual(pages.map((p) => p.count), [1000, 1]);
  });
});

describe("keyset cursors", () => {
  it("created_at: inserts before and after the position and deletes never repeat or skip a task", async () => {
    const user = newUser(suite.base);
    // t1 … t9, created a minute apart; the default order is newest first.
    const tasks = await insertTasks(user.id, [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({
      title: `t${n}`, description: null, completed: false, c: n * MINUTE, u: n * MINUTE,
    })));
    const added = [];
    const id = (title) => [...tasks, ...added].find((t) => t.title === title).id;
    const first = await page(user, `${user.tasksUrl}?limit=3`);
    assert.deepEqual(first.ids, ["t9", "t8", "t7"].map(id));
    assert.ok(first.next);

    // Newer than everything (sorts before the position: not shown), between t7 and t6 and
    // between t2 and t1 (after the position: shown); t5 deleted (on a later page), t7 too (the
    // page's last task, where the cursor points).
    added.push(...await insertTasks(user.id, [
      { title: "newest", c: 20 * MINUTE, u: 20 * MINUTE },
      { title: "t6.5", c: 6 * MINUTE + MINUTE / 2, u: 6 * MINUTE + MINUTE / 2 },
      { title: "t1.5", c: MINUTE + MINUTE / 2, u: MINUTE + MINUTE / 2 },
    ]));
    await suite.db.client.query("delete from tasks where id = any($1::uuid[])", [[id("t5"), id("t7")]]);

    const second = await page(user, first.next);
    assert.deepEqual(second.ids, ["t6.5", "t6", "t4"].map(id));
    assert.ok(second.next);
    const third = await page(user, second.next);
    assert.deepEqual(third.ids, ["t3", "t2", "t1.5"].map(id));
    const fourth = await page(user, third.next);
    assert.deepEqual(fourth.ids, [id("t1")]);
    assert.equal(fourth.next, null);
    const seen = [...first.ids, ...second.ids, ...third.ids, ...fourth.ids];
    assert.equal(new Set(seen).size, seen.length, "nothing repeated");
    assert.ok(!seen.includes(id("newest")), "a task that sorts before the position is not shown");
  });

  it("title: the next page continues right after the last title, whatever changed before it", async () => {
    const user = newUser(suite.base);
    const tasks = await insertTasks(user.id, ["b", "d", "f", "h", "j", "l"].map((title, n) => ({
      title: `${title} task`, description: null, completed: false, c: n * MINUTE, u: n * MINUTE,
    })));
    const added = [];
    const id = (title) => [...tasks, ...added].find((t) => t.title === title).id;
    const first = await page(user, `${user.tasksUrl}?sort=title&limit=3`);
    assert.deepEqual(first.ids, ["b task", "d task", "f task"].map(id));
    added.push(...await insertTasks(user.id, [
      { title: "a task", c: 10 * MINUTE, u: 10 * MINUTE }, // before the position
      { title: "e task", c: 11 * MINUTE, u: 11 * MINUTE }, // before the position
      { title: "g task", c: 12 * MINUTE, u: 12 * MINUTE }, // right after it
    ]));
    await suite.db.client.query("delete from tasks where id = $1", [id("j task")]);
    const second = await page(user, first.next);
    assert.deepEqual(second.ids, ["g task", "h task", "l task"].map(id));
    assert.equal(second.next, null);
  });

  it("refuses an edited or made-up cursor with 400, field cursor", async () => {
    const { user } = await seeded();
    const first = await page(user, `${user.tasksUrl}?limit=2`);
    const link = new URL(first.next);
    const cursor = link.searchParams.get("cursor");
    const withCursor = (value) => {
      const url = new URL(link);
      url.searchParams.set("cursor", value);
      return url.toString();
    };
    const flip = (text, at) => {
      const i = (at + text.length) % text.length;
      const replacement = text[i] === "A" ? "B" : "A";
      return text.slice(0, i) + replacement + text.slice(i + 1);
    };
    const forged = [
      "", "x", "abc.def", "....", "null", cursor.slice(0, -1), `${cursor}A`, `${cursor}.`,
      flip(cursor, 0), flip(cursor, Math.floor(cursor.length / 3)), flip(cursor, -1),
      "A".repeat(2000),
    ];
    // A well-formed position (the opaque format, seen from outside) under the original tag.
    const dot = cursor.indexOf(".");
    if (dot > 0) {
      const payload = JSON.parse(Buffer.from(cursor.slice(0, dot), "base64url").toString());
      const moved = { ...payload, i: crypto.randomUUID() };
      forged.push(`${Buffer.from(JSON.stringify(moved)).toString("base64url")}${cursor.slice(dot)}`);
      if (typeof payload.t === "number") {
        forged.push(`${Buffer.from(JSON.stringify({ ...payload, t: payload.t - 1 })).toString("base64url")}${cursor.slice(dot)}`);
      }
      forged.push(`${cursor.slice(0, dot)}.${crypto.randomBytes(16).toString("base64url")}`);
    }
    for (const value of forged) {
      const error = await expectError(await user.request("GET", withCursor(value)), 400, "validation_error");
      assert.equal(error.field, "cursor", `cursor ${JSON.stringify(value.slice(0, 40))}`);
    }
    // The genuine one still works.
    assert.equal((await page(user, link.toString())).ids.length, 2);
  });

  it("refuses a correctly signed cursor whose position the database cannot hold with 400 cursor, never 500", async () => {
    const { user, tasks } = await seeded();
    const list = (params, cursor) => user.request("GET", `${user.tasksUrl}${queryString({ ...params, cursor })}`);
    const id = crypto.randomUUID();
    // Microseconds as JSON number text, in BigInt: they are beyond 2^53.
    const micros = (year) => String(BigInt(Date.UTC(year, 0, 1)) * 1000n);
    const time = (t) => `{"t":${t},"i":"${id}"}`;
    const title = (s) => JSON.stringify({ s, i: id });
    // PostgreSQL's earliest timestamptz, 4714-11-24 00:00:00 BC UTC.
    const EARLIEST = -210_866_803_200_000_000n;
    for (const [name, t] of [
      ["year -5000", micros(-5000)],
      ["one microsecond before PostgreSQL's first instant", String(EARLIEST - 1n)],
      ["i64::MIN", "-9223372036854775808"],
      ["i64::MAX", "9223372036854775807"],
    ]) {
      const error = await expectError(await list({}, sealCursor(user.id, {}, time(t))), 400, "validation_error");
      assert.equal(error.field, "cursor", name);
    }
    for (const [name, s] of [["a NUL", "a\u0000b"], ["256 characters", "x".repeat(256)], ["nothing", ""]]) {
      const error = await expectError(await list({ sort: "title" }, sealCursor(user.id, { sort: "title" }, title(s))), 400, "validation_error");
      assert.equal(error.field, "cursor", `a title of ${name}`);
    }
    // The same sealing with positions the table can hold works, so the refusals above are about
    // the positions, not the signature: the third-newest task's time, PostgreSQL's first
    // instant (nothing is older) and a title (the tasks after it).
    const byCreated = expectedIds(tasks, {});
    const third = tasks.find((t) => t.id === byCreated[2]);
    const at = String(BigInt(BASE_MS) * 1000n + BigInt(third.c));
    const next = await page(user, `${user.tasksUrl}${queryString({ cursor: sealCursor(user.id, {}, `{"t":${at},"i":"${third.id}"}`) })}`);
    assert.deepEqual(next.ids, byCreated.slice(3));
    assert.deepEqual((await page(user, `${user.tasksUrl}?cursor=${sealCursor(user.id, {}, time(String(EARLIEST)))}`)).ids, []);
    const byTitle = expectedIds(tasks, { sort: "title" });
    const first = tasks.find((t) => t.id === byTitle[0]);
    const afterFirst = sealCursor(user.id, { sort: "title" }, JSON.stringify({ s: first.title, i: first.id }));
    assert.deepEqual((await page(user, `${user.tasksUrl}?sort=title&cursor=${afterFirst}`)).ids, byTitle.slice(1));
  });

  it("refuses another user's cursor, even for their own list", async () => {
    const a = await seeded();
    const b = await seeded();
    const aFirst = await page(a.user, `${a.user.tasksUrl}?limit=3`);
    const aLink = new URL(aFirst.next);
    // B follows A's link, with B's path and token.
    const error = await expectError(await b.user.request("GET", `${b.user.tasksUrl}${aLink.search}`), 400, "validation_error");
    assert.equal(error.field, "cursor");
    // A's link as is, with B's token: B is not A (403), never A's tasks.
    await expectError(await b.user.request("GET", aLink.toString()), 403);
    // B's own first page and link work for B.
    const bFirst = await page(b.user, `${b.user.tasksUrl}?limit=3`);
    assert.deepEqual((await page(b.user, bFirst.next)).ids, expectedIds(b.tasks, {}).slice(3, 6));
  });

  it("refuses a cursor reused with other completed/q/sort/order; accepts another limit", async () => {
    const { user, tasks } = await seeded();
    const params = { completed: "false", q: "e", sort: "created_at", order: "desc", limit: "2" };
    const first = await page(user, `${user.tasksUrl}${queryString(params)}`);
    const expected = expectedIds(tasks, params);
    assert.deepEqual(first.ids, expected.slice(0, 2));
    const cursor = new URL(first.next).searchParams.get("cursor");
    const withCursor = (changed) => `${user.tasksUrl}${queryString({ ...params, ...changed, cursor })}`;

    for (const changed of [
      { completed: "true" }, { completed: undefined },
      { q: "ee" }, { q: undefined },
      { sort: "updated_at" }, { sort: "title" },
      { order: "asc" },
    ]) {
      const error = await expectError(await user.request("GET", withCursor(changed)), 400, "validation_error");
      assert.equal(error.field, "cursor", JSON.stringify(changed));
    }
    // A different limit (or none) continues from the same position.
    assert.deepEqual((await page(user, withCursor({ limit: "1" }))).ids, expected.slice(2, 3));
    assert.deepEqual((await page(user, withCursor({ limit: "1000" }))).ids, expected.slice(2));
    assert.deepEqual((await page(user, withCursor({ limit: undefined }))).ids, expected.slice(2));
    // The defaults left out are the same query: sort=created_at and order=desc.
    assert.deepEqual((await page(user, withCursor({ sort: undefined, order: undefined }))).ids, expected.slice(2, 4));
  });
});

describe("list query validation", () => {
  // [query string, field named]
  const invalid = [
    ["completed=", "completed"], ["completed", "completed"], ["completed=yes", "completed"],
    ["completed=TRUE", "completed"], ["completed=1", "completed"], ["completed=0", "completed"],
    ["completed=true%20", "completed"],
    [`q=${"x".repeat(201)}`, "q"], [`q=${"é".repeat(201)}`, "q"],
    ["sort=", "sort"], ["sort=id", "sort"], ["sort=CREATED_AT", "sort"], ["sort=title%20", "sort"],
    ["sort=-created_at", "sort"], ["sort=completed", "sort"],
    ["order=", "order"], ["order=ASC", "order"], ["order=ascending", "order"], ["order=up", "order"],
    ["limit=0", "limit"], ["limit=1001", "limit"], ["limit=-1", "limit"], ["limit=1.5", "limit"],
    ["limit=", "limit"], ["limit=%2B5", "limit"], ["limit=abc", "limit"], ["limit=1e2", "limit"],
    ["limit=99999999999", "limit"], ["limit=%205", "limit"],
    ["cursor=", "cursor"], ["cursor=nonsense", "cursor"],
    ["foo=1", "foo"], ["page=2", "page"], ["offset=5", "offset"], ["Sort=title", "Sort"],
    ["user_id=x", "user_id"], ["completed=true&search=x", "search"], ["per_page=10&limit=5", "per_page"],
    ["completed=true&completed=true", "completed"], ["completed=true&completed=false", "completed"],
    ["q=a&q=a", "q"], ["sort=title&sort=title", "sort"], ["order=asc&order=desc", "order"],
    ["limit=5&limit=5", "limit"], ["cursor=a&cursor=a", "cursor"], ["foo=1&foo=1", "foo"],
  ];
  it("refuses invalid values, unknown and repeated parameters with 400 naming the parameter", async () => {
    const user = newUser(suite.base);
    await user.create({ title: "present" });
    for (const [query, field] of invalid) {
      const error = await expectError(await user.request("GET", `${user.tasksUrl}?${query}`), 400, "validation_error");
      assert.equal(error.field, field, `?${query}: ${JSON.stringify(error)}`);
    }
  });

  it("accepts the boundary values", async () => {
    const user = newUser(suite.base);
    await user.create({ title: "present" });
    for (const query of ["limit=1", "limit=1000", `q=${"x".repeat(200)}`, "completed=true", "completed=false",
      "sort=created_at&order=asc", "sort=updated_at&order=desc", "sort=title", "q=", "q=%20%20"]) {
      const response = await user.request("GET", `${user.tasksUrl}?${query}`);
      assert.equal(response.status, 200, `?${query}: ${await response.text()}`);
    }
  });
});
