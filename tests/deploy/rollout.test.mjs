// `make rollout-check`: scripts/rollout.sh, the pipeline's gradual production deploy, decides
// from what wrangler and the deployed Worker answer. Here both are stand-ins: a `wrangler` on
// PATH that records its calls and keeps the deployment's traffic split, and an HTTP server in
// place of the Worker that answers /health and the authenticated list, healthy or not, per
// version (the version-override header the smoke test sends). The script itself, smoke.mjs and
// check-config.mjs are the real ones, run on a copy of scripts/ and wrangler.toml whose
// production Hyperdrive id is not the placeholder.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

const root = path.resolve(import.meta.dirname, "../..");
const SECRET = crypto.randomBytes(32).toString("base64url");
const OLD = "0a0a0a0a-0000-4000-8000-000000000001";
const NEW = "0b0b0b0b-0000-4000-8000-000000000002";

/** The stand-in wrangler: appends each call to $FAKE_WRANGLER_CALLS and keeps the current split
 *  in $FAKE_WRANGLER_STATE ({ versions: [{ version_id, percentage }] }). */
const FAKE_WRANGLER = `#!/usr/bin/env node
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_WRANGLER_CALLS, JSON.stringify(args) + "\\n");
const state = JSON.parse(fs.readFileSync(process.env.FAKE_WRANGLER_STATE, "utf8"));
const [group, command] = args;
if (group === "deployments" && command === "status") {
  console.log(JSON.stringify({ id: "d1", versions: state.versions }));
} else if (group === "versions" && command === "upload") {
  fs.appendFileSync(process.env.WRANGLER_OUTPUT_FILE_PATH, JSON.stringify({ type: "version-upload", version: 1, version_id: process.env.FAKE_NEW_VERSION }) + "\\n");
} else if (group === "versions" && command === "deploy") {
  state.versions = args.filter((arg) => /@\\d+%$/.test(arg)).map((arg) => {
    const [version_id, percent] = arg.split("@");
    return { version_id, percentage: Number(percent.slice(0, -1)) };
  });
  fs.writeFileSync(process.env.FAKE_WRANGLER_STATE, JSON.stringify(state));
} else {
  console.error("fake wrangler: unexpected call " + args.join(" "));
  process.exit(1);
}
`;

let work;
let server;
let baseUrl;
let unhealthy = new Set(); // version ids whose requests the stand-in Worker fails
let seenOverrides = [];

function verifies(authorization) {
  const [header, claims, signature] = (authorization ?? "").replace(/^Bearer /, "").split(".");
  if (!signature) return false;
  const expected = crypto.createHmac("sha256", SECRET).update(`${header}.${claims}`).digest("base64url");
  return expected === signature;
}

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "task-api-rollout-"));
  fs.cpSync(path.join(root, "scripts"), path.join(work, "scripts"), { recursive: true });
  const toml = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const production = toml.indexOf("[[env.production.hyperdrive]]");
  assert.ok(production > 0, "wrangler.toml has [[env.production.hyperdrive]]");
  fs.writeFileSync(path.join(work, "wrangler.toml"),
    toml.slice(0, production) + toml.slice(production).replace(/^id = "0+"$/m, 'id = "0123456789abcdef0123456789abcdef"'));
  // The real packages (check-config.mjs reads the file with wrangler's own reader), but the
  // stand-in first on PATH as node_modules/.bin/wrangler, where scripts/env.sh looks.
  fs.mkdirSync(path.join(work, "node_modules/.bin"), { recursive: true });
  for (const name of fs.readdirSync(path.join(root, "node_modules"))) {
    if (name !== ".bin") fs.symlinkSync(path.join(root, "node_modules", name), path.join(work, "node_modules", name));
  }
  fs.writeFileSync(path.join(work, "node_modules/.bin/wrangler"), FAKE_WRANGLER, { mode: 0o755 });

  server = http.createServer((request, response) => {
    const override = request.headers["cloudflare-workers-version-overrides"];
    seenOverrides.push({ path: request.url, override });
    const version = override?.match(/="([^"]+)"$/)?.[1];
    const json = (status, body) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (version && unhealthy.has(version)) return json(503, { status: "unavailable", database: "unavailable" });
    if (request.url === "/health") return json(200, { status: "ok", database: "ok" });
    if (request.url === "/api/ci-smoke/tasks" && verifies(request.headers.authorization)) return json(200, []);
    return json(401, { error: { code: "unauthorized", message: "no" } });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(work, { recursive: true, force: true });
});

/** Runs the copied rollout.sh for `env` with the deployment currently split as `versions`. */
async function rollout({ versions, env = "production", cwd = work }) {
  const state = path.join(cwd, "state.json");
  const calls = path.join(cwd, "calls.jsonl");
  fs.writeFileSync(state, JSON.stringify({ versions }));
  fs.writeFileSync(calls, "");
  seenOverrides = [];
  const child = spawn("bash", [path.join(cwd, "scripts/rollout.sh"), env], {
    cwd,
    env: {
      ...process.env,
      FAKE_WRANGLER_STATE: state,
      FAKE_WRANGLER_CALLS: calls,
      FAKE_NEW_VERSION: NEW,
      BASE_URL: baseUrl,
      SMOKE_JWT_SECRET: SECRET,
      SMOKE_TIMEOUT_SECONDS: "0",
      ROLLOUT_WAIT_SECONDS: "0",
      GITHUB_SHA: "0123abcd",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  const recorded = fs.readFileSync(calls, "utf8").split("\n").filter(Boolean).map(JSON.parse);
  return {
    code,
    output,
    // Each call without its flags (and the values of --env and --message).
    calls: recorded.map((args) => args.filter((arg, i) => !arg.startsWith("--") && !["--env", "--message"].includes(args[i - 1])).join(" ")),
    raw: recorded,
    final: JSON.parse(fs.readFileSync(state, "utf8")).versions,
  };
}

test("a healthy new version goes to 10 %, is checked pinned, then takes all traffic", async () => {
  unhealthy = new Set();
  const result = await rollout({ versions: [{ version_id: OLD, percentage: 100 }] });
  assert.equal(result.code, 0, result.output);
  assert.deepEqual(result.calls, [
    "deployments status",
    "versions upload",
    `versions deploy ${NEW}@10% ${OLD}@90%`,
    `versions deploy ${NEW}@100%`,
  ]);
  for (const args of result.raw) assert.equal(args[args.indexOf("--env") + 1], "production", `every call names the environment: ${args}`);
  assert.deepEqual(result.final, [{ version_id: NEW, percentage: 100 }]);
  // Two pinned checks (before and after the wait), each /health and the list, then one unpinned.
  const pinned = seenOverrides.filter(({ override }) => override === `task-api-production="${NEW}"`);
  assert.deepEqual(pinned.map(({ path }) => path), ["/health", "/api/ci-smoke/tasks", "/health", "/api/ci-smoke/tasks"]);
  assert.equal(seenOverrides.length, 6);
});

test("a new version that fails its check gives the old one all traffic back, and the run fails", async () => {
  unhealthy = new Set([NEW]);
  const result = await rollout({ versions: [{ version_id: OLD, percentage: 100 }] });
  assert.notEqual(result.code, 0);
  assert.deepEqual(result.calls, [
    "deployments status",
    "versions upload",
    `versions deploy ${NEW}@10% ${OLD}@90%`,
    `versions deploy ${OLD}@100%`,
  ]);
  assert.deepEqual(result.final, [{ version_id: OLD, percentage: 100 }]);
  assert.match(result.output, /GET \/health: 503/);
});

test("a deployment already split is left alone: nothing is uploaded", async () => {
  unhealthy = new Set();
  const split = [{ version_id: OLD, percentage: 90 }, { version_id: "0c0c0c0c-0000-4000-8000-000000000003", percentage: 10 }];
  const result = await rollout({ versions: split });
  assert.notEqual(result.code, 0);
  assert.deepEqual(result.calls, ["deployments status"]);
  assert.deepEqual(result.final, split);
  assert.match(result.output, /splits traffic/);
});

test("an environment whose Hyperdrive id is still the placeholder is refused before wrangler runs", async () => {
  unhealthy = new Set();
  // staging keeps the placeholder in the copy.
  const result = await rollout({ versions: [{ version_id: OLD, percentage: 100 }], env: "staging" });
  assert.notEqual(result.code, 0);
  assert.deepEqual(result.calls, []);
  assert.match(result.output, /placeholder/);
});
