// The /docs page in a real browser: headless Chromium (playwright-core, with a system Chromium)
// opens the built worker's /docs, and the check fails unless Scalar renders the document under the
// page's Content-Security-Policy with no violation, no script error, and no request to any origin
// but the worker's. It then uses the page's request client the way a user would: pastes a token
// into it, lists that user's tasks, and expects the task shown, still without leaving the origin.
//
//   bash scripts/build.sh && source scripts/env.sh && node tests/browser/docs.mjs
//
// CHROMIUM (default /usr/bin/chromium; Debian: `apt-get install chromium`) picks the browser,
// SCREENSHOT (default docs.png in the system's temporary folder) where the screenshot goes.
// Not part of `make test`: a clean machine has no Chromium (tests/integration/docs.mjs runs the
// static checks there).
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { forHyperdrive, newUser, startDatabase, startWorker } from "../integration/harness.mjs";

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshot = process.env.SCREENSHOT ?? path.join(os.tmpdir(), "docs.png");

const db = await startDatabase();
const worker = await startWorker({ databaseUrl: forHyperdrive(db.url) });
const origin = new URL(worker.url).origin;
const user = newUser(worker.url);
const TITLE = "listed through the docs page";
await user.create({ title: TITLE });
const browser = await chromium.launch({ executablePath });
const failures = [];
const sameOrigin = [];
const elsewhere = [];
const violations = [];
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
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
  await page.exposeFunction("reportViolation", (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.reportViolation(`${e.effectiveDirective}: ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber}) ${e.sample}`);
    });
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" || /Content Security Policy/i.test(msg.text())) errors.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on("requestfailed", (request) => {
    if (!elsewhere.includes(request.url())) errors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });

  const response = await page.goto(`${origin}/docs`, { waitUntil: "load" });
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"] ?? "", /script-src 'self'/);
  // Rendered: the document's title and an operation's summary, from /openapi.json.
  await page.getByRole("heading", { name: "Task API" }).first().waitFor({ timeout: 30_000 });
  await page.getByText("List the user's tasks").first().waitFor({ timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: screenshot, fullPage: false });
  const loaded = [...sameOrigin];

  // The request client, as a user would use it: paste a token, name the user, send.
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
  await page.screenshot({ path: screenshot.replace(/(\.png)?$/, "-client.png") });

  console.log(`requests to ${origin}, page load:\n  ${loaded.join("\n  ")}`);
  console.log(`requests to ${origin}, request client:\n  ${sameOrigin.slice(loaded.length).join("\n  ")}`);
  console.log(`screenshots: ${screenshot}, ${screenshot.replace(/(\.png)?$/, "-client.png")}`);
} catch (err) {
  failures.push(err.stack ?? String(err));
} finally {
  await browser.close();
  await worker.dispose();
  await db.stop();
}
console.log(`requests to other origins: ${elsewhere.length}`);
for (const url of elsewhere) failures.push(`request to another origin: ${url}`);
for (const v of violations) failures.push(`CSP violation: ${v}`);
failures.push(...errors);
if (failures.length > 0) {
  console.error(`FAIL /docs in Chromium:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("PASS /docs in Chromium: rendered, no CSP violation, no script error, no request to another origin");
