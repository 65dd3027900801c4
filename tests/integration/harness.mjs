// The integration suite's fixtures: a fresh PostgreSQL database with the migrations applied,
// the built worker running in workerd (Miniflare) with its Hyperdrive binding pointed at that
// database, and tokens for fresh users.
//
// Database, in this order: TEST_DATABASE_URL; else the local server on 127.0.0.1:5432; else an
// embedded PostgreSQL (PGlite's socket server) in a temporary folder.
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import pg from "pg";
import { mintToken } from "../../scripts/token.mjs";
import { forHyperdrive, forMigrate } from "../../scripts/dburl.mjs";

export { forHyperdrive };

const root = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

export const SECRET = crypto.randomBytes(32).toString("base64url");

/** Applies migrations/ with dbmate, the same tool and files as `make dev` and production. */
export async function migrate(databaseUrl) {
  await run(path.join(root, "node_modules/.bin/dbmate"), [
    "--url", forMigrate(databaseUrl), "--migrations-dir", path.join(root, "migrations"),
    "--no-dump-schema", "--wait", "--wait-timeout", "20s", "up",
  ]);
}

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function canConnect(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startEmbedded() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "task-api-pglite-"));
  const port = await freePort();
  const child = spawn(
    path.join(root, "node_modules/.bin/pglite-server"),
    ["-d", dataDir, "-p", String(port), "-h", "127.0.0.1", "-m", "100"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
  for (let i = 0; i < 100 && !(await canConnect(url)); i++) await new Promise((r) => setTimeout(r, 200));
  return {
    url,
    embedded: true,
    async stop() {
      child.kill("SIGTERM");
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a fresh, migrated database and returns its URL and a way to drop it. */
export async function startDatabase() {
  const server = process.env.TEST_DATABASE_URL
    ? { url: process.env.TEST_DATABASE_URL, stop: async () => {} }
    : (await canConnect("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
      ? { url: "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable", stop: async () => {} }
      : await startEmbedded();
  let url = server.url;
  let drop = async () => {};
  if (!server.embedded) {
    const name = `task_api_test_${Date.now()}_${crypto.randomBytes(3).toString("hex")}`;
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    url = withDatabase(server.url, name);
    drop = async () => {
      const again = new pg.Client({ connectionString: server.url });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    };
  }
  await migrate(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    url,
    client,
    embedded: Boolean(server.embedded),
    database: new URL(url).pathname.slice(1),
    async stop() {
      await client.end().catch(() => {});
      await drop();
      await server.stop();
    },
  };
}

/** Runs the built worker (build/) in workerd. `bindings` replaces the default secret. */
export async function startWorker({ databaseUrl, bindings = { BETTER_AUTH_SECRET: SECRET } }) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(root, "build/index.js"),
    modulesRoot: path.join(root, "build"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: readCompatibilityDate(),
    bindings,
    hyperdrives: { HYPERDRIVE: databaseUrl },
    cf: false,
    // The worker's request log lines are useful when debugging (TEST_VERBOSE=1), noise otherwise.
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        if (process.env.TEST_VERBOSE) stream.pipe(process.stderr);
        else stream.resume();
      }
    },
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, dispose: () => mf.dispose() };
}

function readCompatibilityDate() {
  const toml = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
  return toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];
}

/** A fresh user with a valid token, and fetch helpers bound to the worker at `base`. */
export function newUser(base, { id, email, prefix = "user" } = {}) {
  id ??= `${prefix}-${crypto.randomBytes(12).toString("hex")}`;
  const token = mintToken({ userId: id, secret: SECRET, email });
  return {
    id,
    token,
    tasksUrl: `${base}/api/${id}/tasks`,
    request(method, urlPath, { body, headers = {}, raw } = {}) {
      const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
      if (raw !== undefined) init.body = raw;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers["Content-Type"] = "application/json";
      }
      return fetch(urlPath.startsWith("http") ? urlPath : `${base}${urlPath}`, init);
    },
    async create(task = { title: "a task" }) {
      const response = await this.request("POST", this.tasksUrl, { body: task });
      if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
}

/** A TCP proxy the tests can cut, so the database can "go away" without stopping it. */
export async function startProxy(targetUrl) {
  const target = new URL(targetUrl);
  const port = await freePort();
  const sockets = new Set();
  let mode = "pass";
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    if (mode === "blackhole") return; // accept, then never answer
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  const listen = () => new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const unlisten = () => new Promise((resolve) => server.close(() => resolve()));
  await listen();
  return {
    port,
    /** "pass" forwards; "down" refuses connections (nothing listens); "blackhole" accepts
     *  connections and never answers. Open connections are cut on every change. */
    async set(next) {
      for (const socket of sockets) socket.destroy();
      if (next === "down" && server.listening) await unlisten();
      if (next !== "down" && !server.listening) await listen();
      mode = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await unlisten();
    },
  };
}
