// Shared between the suites: filled in by main.test.mjs's `before` hook.
import assert from "node:assert/strict";

export const suite = { db: undefined, worker: undefined, base: undefined };

/** Asserts the API's JSON error envelope and returns the error object. */
export async function expectError(response, status, code) {
  const text = await response.text();
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${text}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const body = JSON.parse(text);
  assert.equal(typeof body.error?.message, "string", text);
  if (code) assert.equal(body.error.code, code, text);
  return body.error;
}
