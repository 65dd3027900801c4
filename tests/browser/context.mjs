// Shared between the browser suites: filled in by main.test.mjs's `before` hook.
import fs from "node:fs";
import path from "node:path";

/** `db`: one fresh, migrated database (tests/integration/harness.mjs); `browser`: one headless
 *  Chromium, each suite in its own context. */
export const suite = { db: undefined, browser: undefined };

/** Where the suites save what a person would look at (git-ignored). */
export const ARTIFACTS = path.join(import.meta.dirname, "artifacts");
fs.mkdirSync(ARTIFACTS, { recursive: true });

/** The Chromium the suite drives: CHROMIUM, else Debian's package (scripts/setup-test.sh). */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Collects a page's script errors and failed requests, for a suite to assert none at its end. */
export function watch(page, { ignore = () => false } = {}) {
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.stack ?? err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !ignore(msg.text())) problems.push(`console.error: ${msg.text()}`);
  });
  return problems;
}

/**
 * Waits for every start-up step, even when one fails, then throws the first failure: each step
 * stores what it started as soon as it has it (`.then((x) => (holder = x))`), so the `after`
 * hooks stop everything that did start (a bare `Promise.all` rejects early, and what was still
 * starting is never assigned, so never stopped).
 */
export async function settled(...steps) {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}
