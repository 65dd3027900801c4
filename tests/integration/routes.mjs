// The API's routes, methods, error codes and response headers, as the worker itself documents
// them in GET /openapi.json (fetched once, by main.test.mjs's `before`, into `suite.openapi`): the
// one list the tests take them from, so a route or method added to the worker is tested without
// editing a list here. What the document does not say is stated once below: HEAD is answered
// wherever GET is, and OPTIONS everywhere, without being listed in `Allow`.
import assert from "node:assert/strict";
import { suite } from "./context.mjs";

/** The keys of an OpenAPI path item that are operations (OpenAPI 3.1). */
const OPERATION_KEYS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const doc = () => {
  assert.ok(suite.openapi?.paths, "the OpenAPI document is fetched in main.test.mjs's before hook");
  return suite.openapi;
};

/** Follows a local `$ref` ("#/components/..."). */
function resolve(value) {
  if (typeof value?.$ref !== "string") return value;
  return resolve(value.$ref.replace(/^#\//, "").split("/").reduce((node, key) => node?.[key], doc()));
}

/** Every documented operation: `{ path, method, operationId, secured, requestBody }`, with
 *  `method` in upper case and `secured` true when it needs a token (a non-empty `security`, its
 *  own or the document's). */
export function operations() {
  const { paths, security: global = [] } = doc();
  return Object.entries(paths).flatMap(([path, item]) =>
    OPERATION_KEYS.filter((key) => item[key]).map((key) => ({
      path,
      method: key.toUpperCase(),
      operationId: item[key].operationId,
      secured: (item[key].security ?? global).length > 0,
      requestBody: resolve(item[key].requestBody),
    })));
}

/** Every documented path. */
export const paths = () => Object.keys(doc().paths);

/** The methods `path` answers other than OPTIONS, as `Allow` must list them: its documented
 *  methods, and HEAD wherever GET is. Sorted. */
export function allowedMethods(path) {
  const methods = new Set(operations().filter((op) => op.path === path).map((op) => op.method));
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/** The methods some route answers, OPTIONS included (a method outside it is one no route
 *  knows). */
export function knownMethods() {
  return [...new Set([...paths().flatMap(allowedMethods), "OPTIONS"])].sort();
}

/** An `Allow` (or `Access-Control-Allow-Methods`) value as a sorted list of methods. Duplicates
 *  stay, so comparing with `allowedMethods` also catches a method listed twice. */
export const methodList = (value) =>
  (value ?? "").split(",").map((s) => s.trim()).filter(Boolean).sort();

/** `template` ("/api/{user_id}/tasks/{id}") with each `{name}` replaced by `values[name]`
 *  (encoded); a parameter without a value is an error, so a new path parameter needs one. */
export function fillPath(template, values) {
  return template.replace(/\{([^}]+)\}/g, (_, name) => {
    assert.ok(name in values, `no test value for the path parameter {${name}} of ${template}`);
    return encodeURIComponent(values[name]);
  });
}

/** A small valid body for `operation`, from its request schema (each required property, or the
 *  first alternative of an `anyOf`, with a plain value of its type); undefined when it takes
 *  none or none is required. */
export function sampleBody(operation) {
  const body = operation.requestBody;
  if (!body?.required) return undefined;
  const schema = resolve(body.content?.["application/json"]?.schema);
  assert.ok(schema?.type === "object", `${operation.operationId}: a JSON object body`);
  const required = schema.required ?? resolve(schema.anyOf?.[0])?.required ?? [];
  const valueOf = (property) => {
    const types = [resolve(property)?.type].flat();
    if (types.includes("string")) return "t";
    if (types.includes("boolean")) return true;
    if (types.includes("integer") || types.includes("number")) return 1;
    assert.fail(`${operation.operationId}: no sample value for a property of type ${types}`);
  };
  return Object.fromEntries(required.map((name) => [name, valueOf(schema.properties?.[name])]));
}

/** Every `error.code` the document lists. */
export function errorCodes() {
  const codes = resolve(doc().components?.schemas?.Error)?.properties?.error?.properties?.code?.enum;
  assert.ok(Array.isArray(codes) && codes.length > 0, "the document lists the error codes");
  return codes;
}

/** Every response header the document describes (ETag, Location, Link, Retry-After…). */
export function responseHeaders() {
  const responses = [
    ...Object.values(doc().components?.responses ?? {}),
    ...Object.values(doc().paths).flatMap((item) =>
      OPERATION_KEYS.filter((key) => item[key]).flatMap((key) => Object.values(item[key].responses ?? {}))),
  ].map(resolve);
  const names = new Set(responses.flatMap((response) => Object.keys(response?.headers ?? {})));
  assert.ok(names.size > 0, "the document describes response headers");
  return [...names].sort();
}
