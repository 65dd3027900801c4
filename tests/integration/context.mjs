// Shared between the suites: filled in by main.test.mjs's `before` hook.
import assert from "node:assert/strict";
import { errorCodes } from "./routes.mjs";

/** `openapi`: the worker's GET /openapi.json (see routes.mjs). */
export const suite = { db: undefined, worker: undefined, base: undefined, openapi: undefined };

/** Asserts the API's JSON error envelope, with a code the OpenAPI document lists, and returns
 *  the error object. */
export async function expectError(response, status, code) {
  const text = await response.text();
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${text}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const body = JSON.parse(text);
  assert.equal(typeof body.error?.message, "string", text);
  assert.ok(errorCodes().includes(body.error.code), `error code ${body.error.code} is not in the OpenAPI document`);
  if (code) assert.equal(body.error.code, code, text);
  return body.error;
}
