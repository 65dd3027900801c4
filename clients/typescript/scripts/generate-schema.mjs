#!/usr/bin/env node
// Generates clients/typescript/src/schema.d.ts with openapi-typescript from the OpenAPI document
// the built worker serves: build/ run in workerd (the integration harness's startWorker), its
// GET /openapi.json read over HTTP. The document is built from the route table at run time
// (src/openapi.rs), so the worker itself is the one source; no copy of it is committed.
//
//   node clients/typescript/scripts/generate-schema.mjs          write src/schema.d.ts
//   node clients/typescript/scripts/generate-schema.mjs --check  exit 1 when it is stale (make client-check)
//
// Needs `bash scripts/build.sh` first, and the test tools (`make setup-test`).
import fs from "node:fs";
import path from "node:path";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import { startWorker } from "../../../tests/integration/harness.mjs";

const target = path.resolve(import.meta.dirname, "../src/schema.d.ts");
const check = process.argv.includes("--check");

// /openapi.json opens no database connection; the binding needs a URL all the same, and this
// one would be refused (port 9, discard) if anything did connect.
const worker = await startWorker({ databaseUrl: "postgres://postgres:postgres@127.0.0.1:9/none" });
let document;
try {
  const response = await fetch(`${worker.url}/openapi.json`);
  if (response.status !== 200) throw new Error(`GET /openapi.json: ${response.status} ${await response.text()}`);
  document = await response.json();
} finally {
  await worker.dispose();
}

const generated = COMMENT_HEADER.replace(" */", ` *\n * From the worker's GET /openapi.json (${document.info?.title} ${document.info?.version}):\n * node clients/typescript/scripts/generate-schema.mjs\n */`)
  + astToString(await openapiTS(document, { silent: true }));

const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : null;
if (check) {
  if (current !== generated) {
    console.error(`${path.relative(process.cwd(), target)} is stale: the worker's /openapi.json has changed since it was generated.
Regenerate it and commit the result:  node clients/typescript/scripts/generate-schema.mjs`);
    process.exit(1);
  }
  console.log(`${path.relative(process.cwd(), target)}: up to date with the worker's /openapi.json`);
} else {
  fs.writeFileSync(target, generated);
  console.log(`wrote ${path.relative(process.cwd(), target)} (${generated.length} bytes)`);
}
