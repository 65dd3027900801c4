#!/usr/bin/env node
// The pipeline's smoke test of a deployed environment (and `make test`'s of `make dev`, in
// tests/lean/check.mjs): `GET /health` must answer 200 with the database ok, and one
// authenticated request, `GET /api/<user>/tasks` with an HS256 token, 200 with a JSON array. It
// is a read: it writes no row (a user's row is made by their first write).
//
//   node scripts/smoke.mjs BASE_URL [--version WORKER=VERSION_ID]
//
//   SMOKE_JWT_SECRET          the HS256 secret the environment accepts (its JWT_SECRET); required
//   SMOKE_USER_ID             the user the token is for (ci-smoke)
//   SMOKE_TIMEOUT_SECONDS     how long the first check may keep failing while a deploy spreads (60)
// --version pins every request to one version of the Worker (Cloudflare's
// Cloudflare-Workers-Version-Overrides header): a gradual rollout's new version is checked
// whatever share of traffic it has.
import { fileURLToPath } from "node:url";
import { mintToken } from "./token.mjs";

const REQUEST_TIMEOUT_MS = 10_000;

/** Runs the checks against `base`; resolves to the list of problems (empty: passed). */
export async function smoke(base, { secret, userId = "ci-smoke", version, timeoutSeconds = 60, log = console.log } = {}) {
  const headers = {};
  if (version) {
    const [worker, id] = version.split("=");
    headers["Cloudflare-Workers-Version-Overrides"] = `${worker}="${id}"`;
  }
  const get = async (path, extra = {}) => {
    const response = await fetch(new URL(path, base), {
      headers: { ...headers, ...extra },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  };

  // /health first, retried while the deploy spreads; then the authenticated request once.
  const deadline = Date.now() + timeoutSeconds * 1000;
  let health;
  for (;;) {
    health = await get("/health").catch((error) => ({ status: 0, text: String(error) }));
    if (health.status === 200 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  const problems = [];
  if (health.status !== 200 || health.body?.status !== "ok" || health.body?.database !== "ok") {
    problems.push(`GET /health: ${health.status} ${health.text.slice(0, 200)}`);
  } else {
    log("GET /health: 200, database ok");
  }
  if (!secret) {
    problems.push("no SMOKE_JWT_SECRET: the authenticated request cannot be made");
    return problems;
  }
  const token = mintToken({ userId, secret, ttlSeconds: 300 });
  const path = `/api/${encodeURIComponent(userId)}/tasks`;
  const list = await get(path, { Authorization: `Bearer ${token}` }).catch((error) => ({ status: 0, text: String(error) }));
  if (list.status !== 200 || !Array.isArray(list.body)) {
    problems.push(`GET ${path}: ${list.status} ${list.text.slice(0, 200)}`);
  } else {
    log(`GET ${path}: 200, ${list.body.length} task(s)`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [base, flag, version] = process.argv.slice(2);
  if (!base || (flag && flag !== "--version") || (flag && !/^[^=]+=[^=]+$/.test(version ?? ""))) {
    console.error("usage: smoke.mjs BASE_URL [--version WORKER=VERSION_ID]");
    process.exit(2);
  }
  const problems = await smoke(base, {
    secret: process.env.SMOKE_JWT_SECRET || undefined,
    userId: process.env.SMOKE_USER_ID || undefined,
    version,
    timeoutSeconds: Number(process.env.SMOKE_TIMEOUT_SECONDS || 60),
  });
  for (const problem of problems) console.error(`smoke: ${problem}`);
  process.exit(problems.length ? 1 : 0);
}
