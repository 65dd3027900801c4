#!/usr/bin/env node
// `make lean-check` (part of `make test`): building, deploying and `make dev` need neither Python
// nor any test package. In a copy of the working tree (its tracked and unignored files, outside
// this checkout so that no module can be found in this checkout's node_modules), with every
// Python executable hidden from PATH and the tools directory seen without its Python
// virtualenvs:
//
//   1. scripts/setup.sh installs the npm packages with `npm ci --omit=dev`, and none of the
//      devDependencies is then present;
//   2. scripts/build.sh builds the worker;
//   3. scripts/deploy.sh --dry-run bundles staging and production (`wrangler deploy --dry-run`,
//      and for production `wrangler versions upload --dry-run`; both run the build command too);
//   4. `make dev` serves the API with its embedded database, and scripts/smoke.mjs (the
//      pipeline's smoke test) gets a healthy /health and a 200 list with the generated secret.
//
// The copy is kept between runs at $TMPDIR/task-api-lean-<hash of this checkout's path>: its
// node_modules stays while the lock file is unchanged (setup.sh's stamp), every other file is
// replaced each run. It builds into this checkout's target/ (CARGO_TARGET_DIR), so only the
// crate itself compiles again. LEAN_VERBOSE=1 shows the commands' output as they run.
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const copy = path.join(fs.realpathSync(os.tmpdir()), `task-api-lean-${crypto.createHash("sha256").update(root).digest("hex").slice(0, 12)}`);
const PYTHON = /^(python|pip|pydoc|idle|2to3|easy_install|pyenv)/;
const verbose = Boolean(process.env.LEAN_VERBOSE);

const step = (text) => console.log(`[lean] ${text}`);
class Failure extends Error {}
/** Thrown, not exited, so that the `finally`s stop what was started. */
function fail(text) {
  throw new Failure(text);
}

/** The devDependencies: what only the tests use. */
function testPackages() {
  return Object.keys(JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).devDependencies ?? {});
}

/** Replaces every file of the copy but node_modules with the working tree's current files. */
function refreshCopy() {
  for (let dir = path.dirname(copy); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "node_modules")) || fs.existsSync(path.join(dir, "package.json"))) {
      fail(`${dir} has a node_modules or package.json, which the copy would resolve modules from`);
    }
    if (dir === path.dirname(dir)) break;
  }
  fs.mkdirSync(copy, { recursive: true });
  // node_modules is kept only as setup.sh's build install left it (its stamp says so, and no
  // devDependency is in it): anything else is installed afresh.
  const stamp = fs.existsSync(path.join(copy, "node_modules/.setup-stamp")) ? fs.readFileSync(path.join(copy, "node_modules/.setup-stamp"), "utf8") : "";
  const keep = stamp.trim().endsWith(" build") && !testPackages().some((name) => fs.existsSync(path.join(copy, "node_modules", name)));
  for (const entry of fs.readdirSync(copy)) {
    if (entry !== "node_modules" || !keep) fs.rmSync(path.join(copy, entry), { recursive: true, force: true });
  }
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  if (listed.status !== 0) fail(`git ls-files: ${listed.stderr}`);
  let count = 0;
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    const from = path.join(root, file);
    if (!fs.existsSync(from) || fs.lstatSync(from).isDirectory()) continue; // deleted, or a submodule
    fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    // Timestamps kept: cargo then sees an unchanged source as unchanged.
    fs.cpSync(from, path.join(copy, file), { preserveTimestamps: true, verbatimSymlinks: true });
    count++;
  }
  return count;
}

/** PATH with every directory that holds a Python executable replaced by a folder of links to
 *  its other entries. */
function pathWithoutPython(dirs) {
  const shadow = fs.mkdtempSync(path.join(os.tmpdir(), "task-api-nopython-"));
  const out = dirs.map((dir, index) => {
    let entries;
    try {
      entries = fs.readdirSync(dir);
    } catch {
      return dir;
    }
    if (!entries.some((name) => PYTHON.test(name))) return dir;
    const replacement = path.join(shadow, String(index));
    fs.mkdirSync(replacement);
    for (const name of entries) if (!PYTHON.test(name)) fs.symlinkSync(path.join(dir, name), path.join(replacement, name));
    return replacement;
  });
  return { PATH: out.join(path.delimiter), shadow };
}

/** The tools directory as a machine without Python would have it: links to every entry of
 *  `tools` but the virtualenvs (schemathesis', zizmor's), so a setup that wanted one would have
 *  to make it, and fail. */
function toolsWithoutPython(tools, shadow) {
  const view = path.join(shadow, "tools");
  fs.mkdirSync(view);
  for (const name of fs.existsSync(tools) ? fs.readdirSync(tools) : []) {
    if (!fs.existsSync(path.join(tools, name, "pyvenv.cfg"))) fs.symlinkSync(path.join(tools, name), path.join(view, name));
  }
  return view;
}

function run(command, args, env, { cwd = copy } = {}) {
  step(`${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", stdio: verbose ? "inherit" : "pipe", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    if (!verbose) process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`.slice(-20_000));
    fail(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
  }
  return result;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs `make dev` in the copy until /health answers, then the smoke test, then stops it (its
 *  whole process group, as Ctrl-C would). */
async function devAndSmoke(env) {
  const port = await freePort();
  const pglitePort = await freePort();
  const logPath = path.join(copy, "make-dev.log");
  const logFile = fs.openSync(logPath, "w");
  step(`make dev (PORT=${port}, PGLITE_PORT=${pglitePort}, embedded database)`);
  const devEnv = { ...env, PORT: String(port), PGLITE_PORT: String(pglitePort) };
  delete devEnv.DATABASE_URL;
  const child = spawn("make", ["dev"], { cwd: copy, env: devEnv, detached: true, stdio: ["ignore", logFile, logFile] });
  let exited = null;
  const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve((exited = code ?? signal))));
  const stop = async () => {
    if (exited !== null) return;
    try {
      process.kill(-child.pid, "SIGINT");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 20_000);
    await exit;
    clearTimeout(timer);
  };
  const showLog = () => process.stderr.write(fs.readFileSync(logPath, "utf8").slice(-20_000));
  try {
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (exited !== null) {
        showLog();
        fail(`make dev exited (${exited}) before serving /health`);
      }
      const status = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
      if (status === 200) break;
      if (Date.now() > deadline) {
        showLog();
        fail("make dev did not serve /health within 300 s");
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const devVars = fs.readFileSync(path.join(copy, ".dev.vars"), "utf8");
    const secret = devVars.match(/^JWT_SECRET=(.+)$/m)?.[1];
    if (!secret) fail("make dev generated no JWT_SECRET into .dev.vars");
    run("node", ["scripts/smoke.mjs", `http://127.0.0.1:${port}`], { ...env, SMOKE_JWT_SECRET: secret, SMOKE_USER_ID: "lean-check" });
  } finally {
    await stop();
    fs.closeSync(logFile);
  }
}

const started = Date.now();
let shadow;
try {
  const files = refreshCopy();
  step(`copied ${files} files to ${copy}`);
  const hidden = pathWithoutPython((process.env.PATH ?? "").split(path.delimiter).filter(Boolean));
  shadow = hidden.shadow;
  const env = {
    ...process.env,
    PATH: hidden.PATH,
    TOOLS_DIR: toolsWithoutPython(path.resolve(root, process.env.TOOLS_DIR || ".tools"), shadow),
    CARGO_TARGET_DIR: path.resolve(root, process.env.CARGO_TARGET_DIR || "target"),
  };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONPATH;
  const probe = spawnSync("sh", ["-c", "command -v python3 || command -v python || command -v pip3 || command -v pip"], { env, encoding: "utf8" });
  if (probe.stdout.trim()) fail(`Python is still on PATH: ${probe.stdout.trim()}`);
  step("Python hidden from PATH");

  run("bash", ["scripts/setup.sh"], env);
  const present = testPackages().filter((name) => fs.existsSync(path.join(copy, "node_modules", name)));
  if (present.length) fail(`the build install has test packages: ${present.join(", ")}`);
  step(`no devDependency installed (${testPackages().join(", ")})`);

  run("bash", ["scripts/build.sh"], env);
  for (const name of ["staging", "production"]) run("bash", ["scripts/deploy.sh", name, "--dry-run"], env);
  await devAndSmoke(env);
} catch (error) {
  console.error(`[lean] FAILED: ${error instanceof Failure ? error.message : error.stack}`);
  process.exitCode = 1;
} finally {
  if (shadow) fs.rmSync(shadow, { recursive: true, force: true });
}
if (!process.exitCode) step(`passed in ${Math.round((Date.now() - started) / 1000)} s`);
