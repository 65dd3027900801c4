#!/usr/bin/env node
// OpenAPI conformance (`make test`, after the build): runs schemathesis with every check, in
// positive and negative mode and through all phases (examples, coverage, fuzzing, stateful),
// against the built worker in workerd and a fresh PostgreSQL database, with a valid token for
// the user in the path. Any failure fails the run.
//
//   SCHEMATHESIS_MAX_EXAMPLES   examples per operation and phase (default 60)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SECRET, forHyperdrive, startDatabase, startWorker } from "../integration/harness.mjs";
import { mintToken } from "../../scripts/token.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const toolsDir = path.resolve(root, process.env.TOOLS_DIR || ".tools");
const schemathesis = path.join(toolsDir, "schemathesis/bin/schemathesis");
const USER_ID = "schemathesis-user";

if (!fs.existsSync(schemathesis)) {
  console.error(`schemathesis is not installed at ${schemathesis}: run scripts/setup-test.sh`);
  process.exit(2);
}

const db = await startDatabase();
let worker;
let status = 1;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "task-api-schemathesis-"));
try {
  worker = await startWorker({ databaseUrl: forHyperdrive(db.url) });
  const token = mintToken({ userId: USER_ID, secret: SECRET, email: "schemathesis@example.test", ttlSeconds: 3600 });
  // Every operation is about this user: a generated user id would only ever meet the 403.
  const config = path.join(workDir, "schemathesis.toml");
  fs.writeFileSync(config, `[parameters]\n"path.user_id" = "${USER_ID}"\n`);
  const args = [
    "--config-file", config,
    "run", `${worker.url}/openapi.json`,
    "--checks", "all",
    "--mode", "all",
    "--phases", "examples,coverage,fuzzing,stateful",
    "--max-examples", process.env.SCHEMATHESIS_MAX_EXAMPLES || "60",
    "--header", `Authorization: Bearer ${token}`,
    "--generation-deterministic",
    "--workers", "1",
    "--request-timeout", "10",
    "--no-color",
  ];
  status = await new Promise((resolve) => {
    const child = spawn(schemathesis, args, { stdio: "inherit", cwd: workDir });
    child.on("exit", (code) => resolve(code ?? 1));
  });
} finally {
  await worker?.dispose();
  await db.stop();
  fs.rmSync(workDir, { recursive: true, force: true });
}
process.exit(status);
