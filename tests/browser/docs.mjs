// /docs in a real browser: Chromium opens the built worker's /docs with every request to another
// origin blocked (and recorded), and the suite fails unless Scalar renders the document under
// the page's Content-Security-Policy with no violation, no script error and no request elsewhere.
// It asserts on the rendered text (innerText: what a person can read, not the HTML), saves
// screenshots to tests/browser/artifacts/ (docs.png, docs-client.png), then uses the page's
// request client as a user would: pastes a token, lists that user's tasks, sees the task.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { forHyperdrive, newUser, startWorker } from "../integration/harness.mjs";
import { ARTIFACTS, suite, watch } from "./context.mjs";

export const SCREENSHOT = path.join(ARTIFACTS, "docs.png");
const CLIENT_SCREENSHOT = path.join(ARTIFACTS, "docs-client.png");
const TITLE = "listed through the docs page";

describe("/docs in Chromium", () => {
  let worker, origin, openapi, context, page, problems;
  const sameOrigin = [];
  const elsewhere = [];
  const violations = [];

  before(async () => {
    worker = await startWorker({ databaseUrl: forHyperdrive(suite.db.url) });
    origin = new URL(worker.url).origin;
    openapi = await (await fetch(`${origin}/openapi.json`)).json();
    context = await suite.browser.newContext({ viewport: { width: 1400, height: 900 } });
    // Every request the page makes, whatever asks for it (script, style, font, image, fetch,
    // prefetch); one to another origin is recorded and never sent.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) {
        sameOrigin.push(`${route.request().method()} ${new URL(url).pathname}`);
        return route.continue();
      }
      elsewhere.push(url);
      return route.abort("blockedbyclient");
    });
    page = await context.newPage();
    await page.exposeFunction("reportViolation", (v) => violations.push(v));
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        window.reportViolation(`${e.effectiveDirective}: ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber}) ${e.sample}`);
      });
    });
    problems = watch(page);
    page.on("console", (msg) => {
      if (msg.type() !== "error" && /Content Security Policy/i.test(msg.text())) problems.push(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on("requestfailed", (request) => {
      if (!elsewhere.includes(request.url())) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
    });
  });

  after(async () => {
    await context?.close();
    await worker?.dispose();
  });

  it("renders the document's title and every operation, as text a person reads", async () => {
    const response = await page.goto(`${origin}/docs`, { waitUntil: "load" });
    assert.equal(response.status(), 200);
    assert.match(response.headers()["content-security-policy"] ?? "", /script-src 'self'/);
    await page.getByRole("heading", { name: openapi.info.title }).first().waitFor({ timeout: 30_000 });
    await page.getByText("List the user's tasks").first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: SCREENSHOT });
    const text = await page.locator("body").innerText();
    assert.ok(text.includes(openapi.info.title), `the title ${openapi.info.title}`);
    assert.ok(text.includes(openapi.info.version), `the version ${openapi.info.version}`);
    // Every operation's summary, from the worker's own document (its route table).
    const summaries = Object.values(openapi.paths).flatMap((item) =>
      Object.entries(item).filter(([method]) => method !== "parameters").map(([, operation]) => operation.summary));
    assert.ok(summaries.length >= 9, `operations in the document: ${summaries.length}`);
    const missing = summaries.filter((summary) => !text.includes(summary));
    assert.deepEqual(missing, [], "every operation's summary is rendered");
    assert.ok(sameOrigin.some((request) => request.startsWith("GET /openapi.json")), `the page read /openapi.json: ${sameOrigin}`);
  });

  it("lists a user's tasks through the page's request client, on its own origin", async () => {
    const user = newUser(worker.url);
    await user.create({ title: TITLE });
    const loaded = sameOrigin.length;
    await page.getByRole("button", { name: "Test Request (get /api/{user_id}/tasks)" }).click();
    const client = page.getByRole("dialog");
    const tokenField = client.locator('input[placeholder="Token"]');
    await tokenField.fill(user.token);
    await tokenField.press("Enter"); // the field sits in a <form>: submitting it must go nowhere
    await client.locator('tr#user_id [contenteditable][data-placeholder="Value"]').fill(user.id);
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/${user.id}/tasks`, { timeout: 30_000 });
    await client.getByRole("button", { name: /^Send get request/ }).click();
    const listed = await answered;
    assert.equal(listed.status(), 200, "the client's GET /api/{user_id}/tasks");
    assert.equal(new URL(listed.url()).origin, origin, "the client called the page's own origin");
    assert.equal(await listed.request().headerValue("authorization"), `Bearer ${user.token}`);
    await client.getByText(TITLE).first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: CLIENT_SCREENSHOT });
    assert.ok((await client.innerText()).includes(TITLE), "the task is shown in the client's response");
    assert.ok(sameOrigin.slice(loaded).some((request) => request === `GET /api/${user.id}/tasks`));
  });

  it("made no request to another origin, met no CSP violation and no script error", () => {
    assert.deepEqual(elsewhere, [], "requests to other origins");
    assert.deepEqual(violations, [], "CSP violations");
    assert.deepEqual(problems, [], "script errors");
  });
});
