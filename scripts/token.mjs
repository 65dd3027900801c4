#!/usr/bin/env node
// Mints an HS256 token the worker accepts, signed with JWT_SECRET, else BETTER_AUTH_SECRET
// (environment, else .dev.vars), as the worker picks its key. Used by `make token USER_ID=…`, by
// `make dev`'s ready-to-paste curl and by the integration tests. `--auth-env` prints the
// worker's auth variables for `make dev`.
import crypto from "node:crypto";
import fs from "node:fs";
import { fileURLToPath } from "node:url";

const b64url = (value) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** Signs `claims` with `secret`; `header` may override the JOSE header (tests forge with it).
 *  The default header's `typ: "JWT"` is what the worker requires of an HS256 token: Better
 *  Auth's own HS256 tokens never carry it (docs/auth.md, "HS256"). */
export function signToken(claims, secret, header = { alg: "HS256", typ: "JWT" }) {
  const signingInput = `${b64url(header)}.${b64url(claims)}`;
  const signature = crypto.createHmac("sha256", secret).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}

/** A token for `userId` valid for `ttlSeconds`, with Better Auth's usual claims. `emailVerified`
 *  (true or false) adds Better Auth's `emailVerified` claim: only a verified email may be taken
 *  from another user's row (docs/auth.md, "Users"). */
export function mintToken({ userId, secret, email, emailVerified, ttlSeconds = 3600, extra = {} }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: userId, iat: now, exp: now + ttlSeconds, ...extra };
  if (email) claims.email = email;
  if (emailVerified !== undefined) claims.emailVerified = emailVerified;
  return signToken(claims, secret);
}

/** The worker variables `make dev` passes through (see docs/operations.md, "Configuration"). */
export const AUTH_VARS = [
  "JWT_SECRET",
  "BETTER_AUTH_SECRET",
  "BETTER_AUTH_URL",
  "BETTER_AUTH_JWKS_URL",
  "BETTER_AUTH_JWKS",
  "JWT_ISSUER",
  "JWT_AUDIENCE",
  "CURSOR_SECRET",
  "CORS_ALLOWED_ORIGINS",
];

/** A variable from the environment (even when empty, so that the worker sees, and refuses, an
 *  empty `JWT_ISSUER=`), else from .dev.vars in the working directory; undefined when neither
 *  has it. */
export function readDevVar(name, devVarsPath = ".dev.vars") {
  if (process.env[name] !== undefined) return process.env[name];
  if (!fs.existsSync(devVarsPath)) return undefined;
  for (const line of fs.readFileSync(devVarsPath, "utf8").split(/\r?\n/)) {
    const match = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (match && match[1] === name) return match[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return undefined;
}

/** The HS256 secret the worker verifies with, if one is configured: JWT_SECRET wins. */
export function readSecret(devVarsPath = ".dev.vars") {
  // A blank value is unset, as the worker reads it.
  const set = (value) => (value?.trim() ? value : undefined);
  return set(readDevVar("JWT_SECRET", devVarsPath)) ?? set(readDevVar("BETTER_AUTH_SECRET", devVarsPath));
}

const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (isMain && process.argv[2] === "--auth-env") {
  // For scripts/dev.sh: every configured auth variable as a dotenv line for wrangler's
  // --env-file. Single quotes keep inline JWKS JSON literal.
  for (const name of AUTH_VARS) {
    const value = readDevVar(name);
    if (value === undefined) continue;
    if (/['\n]/.test(value)) {
      console.error(`${name} contains a quote or newline; put it on one line without single quotes`);
      process.exit(2);
    }
    console.log(`${name}='${value}'`);
  }
} else if (isMain && process.argv[2] === "--print-secret") {
  // For scripts/dev.sh: the secret the dev server will use, if one is configured.
  const secret = readSecret();
  if (!secret) process.exit(1);
  console.log(secret);
} else if (isMain) {
  const userId = process.env.USER_ID || process.argv[2];
  const secret = readSecret();
  if (!userId || !secret) {
    console.error("usage: USER_ID=<id> [EMAIL=<email> [EMAIL_VERIFIED=1]] [TTL=<seconds>] make token");
    console.error("needs JWT_SECRET or BETTER_AUTH_SECRET in the environment or .dev.vars (make dev writes one)");
    process.exit(2);
  }
  const ttlSeconds = Number(process.env.TTL || 3600);
  const emailVerified = ["1", "true"].includes(process.env.EMAIL_VERIFIED ?? "") ? true : undefined;
  console.log(mintToken({ userId, secret, email: process.env.EMAIL, emailVerified, ttlSeconds }));
}
