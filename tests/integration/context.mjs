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

/** How long a test waits for an answer the worker's own deadlines bound to under 2 s before it
 *  calls the request hung: far above the contract, so machine load cannot reach it; only a
 *  worker waiting on a stalled peer (which the tests' stalls never end) can. */
export const NO_HANG_MS = 30_000;

/** `worker`'s log line for `response` (by its X-Request-Id), which must agree on the status. */
export async function logLineOf(worker, response) {
  const id = response.headers.get("x-request-id");
  assert.ok(id, "the response has an X-Request-Id");
  const line = await worker.requestLog(id);
  assert.equal(line.status, response.status, `the log line's status: ${JSON.stringify(line)}`);
  return line;
}

/** The deadlines of the worker's own timers that ended the waits of a request, as its log line's
 *  cause names them ("no answer within 500 ms", "timed out after 1200 ms"), in ms. */
export const timersIn = (cause) => [...(cause ?? "").matchAll(/\b(?:within|after) (\d+) ms\b/g)].map((m) => Number(m[1]));
